#include "tap/core/base64.hpp"

#include <cstdint>

namespace tap::base64 {
namespace {

constexpr std::string_view kStandard = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kUrl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void append_with(std::string& out, std::string_view bytes, std::string_view alphabet, bool pad) {
  const auto at = [&bytes](std::size_t k) {
    return static_cast<std::uint32_t>(static_cast<std::uint8_t>(bytes[k]));
  };
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = (at(i) << 16) | (at(i + 1) << 8) | at(i + 2);
    for (int s = 18; s >= 0; s -= 6) out.push_back(alphabet[(v >> s) & 63]);
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 0) return;
  const std::uint32_t v = (at(i) << 16) | (rest == 2 ? at(i + 1) << 8 : 0);
  out.push_back(alphabet[(v >> 18) & 63]);
  out.push_back(alphabet[(v >> 12) & 63]);
  if (rest == 2) out.push_back(alphabet[(v >> 6) & 63]);
  if (pad) out.append(rest == 2 ? "=" : "==");
}

// The unpadded text of `alphabet` -> bytes. A final group of 1 character is never produced; the bits a
// short group leaves over must be zero.
std::optional<std::string> decode_with(std::string_view text, std::string_view alphabet) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  std::uint32_t v = 0;
  int bits = 0;
  for (const char c : text) {
    const auto found = alphabet.find(c);
    if (found == std::string_view::npos) return std::nullopt;
    v = (v << 6) | static_cast<std::uint32_t>(found);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((v >> bits) & 0xff));
    }
  }
  if ((v & ((1U << bits) - 1)) != 0) return std::nullopt;
  return out;
}

}  // namespace

void append(std::string& out, std::string_view bytes) { append_with(out, bytes, kStandard, true); }

std::string encode(std::string_view bytes) {
  std::string out;
  append(out, bytes);
  return out;
}

std::optional<std::string> decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  return decode_with(text.substr(0, text.size() - pad), kStandard);
}

std::string encode_url(std::string_view bytes) {
  std::string out;
  append_with(out, bytes, kUrl, false);
  return out;
}

std::optional<std::string> decode_url(std::string_view text) { return decode_with(text, kUrl); }

}  // namespace tap::base64
