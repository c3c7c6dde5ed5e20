// Base64 (RFC 4648) in its two alphabets: standard, padded (section 4: DynamoDB's binary attributes, KMS's
// blobs) and URL-safe, unpadded (section 5: the API's cursors, which travel in query strings). Pure.
// Decoding is strict: a character outside the alphabet, misplaced or missing padding (standard), padding
// (url), a length no encoding produces, or non-zero bits after the last byte are refused, so that every
// byte string has exactly one text.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tap::base64 {

void append(std::string& out, std::string_view bytes);
std::string encode(std::string_view bytes);
std::optional<std::string> decode(std::string_view text);

std::string encode_url(std::string_view bytes);
std::optional<std::string> decode_url(std::string_view text);

}  // namespace tap::base64
