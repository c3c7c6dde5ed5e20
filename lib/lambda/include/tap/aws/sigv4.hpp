// AWS Signature Version 4 for header-based signing (not S3, not presigned URLs). Pure: no I/O, the time
// is passed in. Matches botocore.auth.SigV4Auth (proven by AWS's test suite and a differential test).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "tap/aws/credentials.hpp"
#include "tap/aws/http_client.hpp"

namespace tap::sigv4 {

std::string sha256_hex(std::string_view data);
std::string hmac_sha256(std::string_view key, std::string_view data);  // raw 32 bytes
std::string hex(std::string_view bytes);

// RFC 3986 percent-encoding as AWS wants it: A-Z a-z 0-9 - _ . ~ kept, the rest %XX (upper case);
// '/' kept when keep_slash.
std::string uri_encode(std::string_view s, bool keep_slash);
std::string uri_decode(std::string_view s);  // %XX -> byte; anything else (incl. '+') literal
// Dot segments removed and empty segments dropped (RFC 3986 5.2.4 plus AWS's double-slash rule).
std::string normalize_path(std::string_view path);
std::string canonical_uri(std::string_view wire_path);  // normalised, then encoded (again): non-S3 rule
std::string canonical_query(std::string_view wire_query);
// "20150830T123600Z" for a UTC time point.
std::string amz_date(std::chrono::system_clock::time_point t);
// Trimall: surrounding whitespace removed, inner runs of whitespace (incl. folded lines) -> one space.
std::string trim_all(std::string_view value);
bool is_unsigned_header(std::string_view lower_name);  // hop-by-hop / agent headers botocore skips

struct SignOptions {
  bool add_content_sha256_header = false;  // x-amz-content-sha256 (S3 style, optional elsewhere)
};

struct Signature {
  std::string canonical_request;
  std::string string_to_sign;
  std::string authorization;
};

class Signer {
 public:
  Signer(std::string region, std::string service);

  // Adds Host (if absent), X-Amz-Date, X-Amz-Security-Token (when the credentials carry one), optionally
  // x-amz-content-sha256, and Authorization; returns the intermediate strings for diagnostics and tests.
  Signature sign(HttpRequest& request, const Credentials& credentials,
                 std::chrono::system_clock::time_point now, SignOptions options = {}) const;

  [[nodiscard]] const std::string& region() const { return region_; }
  [[nodiscard]] const std::string& service() const { return service_; }
  [[nodiscard]] std::uint64_t key_derivations() const {
    const std::scoped_lock lock(*mutex_);
    return derivations_;
  }

 private:
  std::string signing_key(const Credentials& credentials, const std::string& date) const;

  std::string region_;
  std::string service_;
  // The derived key changes once a day: cache the last one (per secret and date), under the mutex: one
  // signer signs the concurrent calls of a batch (a copy shares the mutex, not the cache).
  std::shared_ptr<std::mutex> mutex_ = std::make_shared<std::mutex>();
  mutable std::string cached_secret_;
  mutable std::string cached_date_;
  mutable std::string cached_key_;
  mutable std::uint64_t derivations_ = 0;
};

}  // namespace tap::sigv4
