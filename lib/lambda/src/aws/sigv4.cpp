#include "tap/aws/sigv4.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <ctime>
#include <map>
#include <vector>

namespace tap::sigv4 {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.' || c == '~';
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); });
  return out;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

}  // namespace

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0x0f]);
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  // EVP_Digest cannot fail for SHA-256 on valid input buffers; a failure would leave len == 0.
  EVP_Digest(data.data(), data.size(), md.data(), &len, EVP_sha256(), nullptr);
  return hex(std::string_view(reinterpret_cast<const char*>(md.data()), len));
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md.data(), &len);
  return {reinterpret_cast<const char*>(md.data()), len};
}

std::string uri_encode(std::string_view s, bool keep_slash) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (is_unreserved(c) || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 0x0f]);
    }
  }
  return out;
}

std::string normalize_path(std::string_view path) {
  if (path.empty()) return "/";
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view seg = path.substr(start, end - start);
    if (seg == "..") {
      if (!out.empty()) out.pop_back();
    } else if (!seg.empty() && seg != ".") {
      out.push_back(seg);
    }
    start = end + 1;
  }
  std::string result = path.front() == '/' ? "/" : "";
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (i > 0) result.push_back('/');
    result.append(out[i]);
  }
  if (path.back() == '/' && !out.empty()) result.push_back('/');
  return result;
}

std::string canonical_uri(std::string_view wire_path) { return uri_encode(normalize_path(wire_path), true); }

std::string uri_decode(std::string_view s) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && nibble(s[i + 1]) >= 0 && nibble(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(nibble(s[i + 1]) * 16 + nibble(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);  // a '%' not followed by two hex digits stays literal (and gets encoded)
    }
  }
  return out;
}

// Pairs split at '&' and the first '=', each name and value brought to the canonical encoding (decoded,
// then uri_encode: so raw UTF-8 and lower-case escapes are accepted), sorted by name then value; repeated
// names keep all their values.
std::string canonical_query(std::string_view wire_query) {
  if (wire_query.empty()) return "";
  std::vector<std::pair<std::string, std::string>> pairs;
  std::size_t start = 0;
  while (start <= wire_query.size()) {
    std::size_t end = wire_query.find('&', start);
    if (end == std::string_view::npos) end = wire_query.size();
    std::string_view pair = wire_query.substr(start, end - start);
    std::size_t eq = pair.find('=');
    std::string_view name = pair.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    pairs.emplace_back(uri_encode(uri_decode(name), false), uri_encode(uri_decode(value), false));
    start = end + 1;
  }
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  for (const auto& [key, value] : pairs) {
    if (!out.empty()) out.push_back('&');
    out.append(key).append("=").append(value);
  }
  return out;
}

std::string amz_date(std::chrono::system_clock::time_point t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  std::array<char, 17> buf{};
  std::strftime(buf.data(), buf.size(), "%Y%m%dT%H%M%SZ", &tm);
  return {buf.data(), 16};
}

std::string trim_all(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  bool pending_space = false;
  for (char c : value) {
    if (is_space(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

bool is_unsigned_header(std::string_view lower_name) {
  static constexpr std::array<std::string_view, 15> kSkipped = {"authorization",
                                                                "baggage",
                                                                "connection",
                                                                "expect",
                                                                "keep-alive",
                                                                "proxy-authenticate",
                                                                "proxy-authorization",
                                                                "te",
                                                                "traceparent",
                                                                "tracestate",
                                                                "trailer",
                                                                "transfer-encoding",
                                                                "upgrade",
                                                                "user-agent",
                                                                "x-amzn-trace-id"};
  return std::find(kSkipped.begin(), kSkipped.end(), lower_name) != kSkipped.end();
}

Signer::Signer(std::string region, std::string service)
    : region_(std::move(region)), service_(std::move(service)) {}

std::string Signer::signing_key(const Credentials& credentials, const std::string& date) const {
  const std::scoped_lock lock(*mutex_);
  if (date != cached_date_ || credentials.secret_access_key != cached_secret_) {
    std::string k = hmac_sha256("AWS4" + credentials.secret_access_key, date);
    k = hmac_sha256(k, region_);
    k = hmac_sha256(k, service_);
    cached_key_ = hmac_sha256(k, "aws4_request");
    cached_date_ = date;
    cached_secret_ = credentials.secret_access_key;
    ++derivations_;
  }
  return cached_key_;
}

Signature Signer::sign(HttpRequest& request, const Credentials& credentials,
                       std::chrono::system_clock::time_point now, SignOptions options) const {
  const std::string timestamp = amz_date(now);
  const std::string date = timestamp.substr(0, 8);
  request.remove_header("Authorization");
  request.set_header("X-Amz-Date", timestamp);
  if (!credentials.session_token.empty())
    request.set_header("X-Amz-Security-Token", credentials.session_token);
  const std::string payload_hash = sha256_hex(request.body);
  if (options.add_content_sha256_header) request.set_header("X-Amz-Content-SHA256", payload_hash);
  if (request.header("Host") == nullptr) {
    auto endpoint = parse_endpoint(request.endpoint);
    if (endpoint.ok()) request.headers.emplace_back("Host", endpoint->host_header());
  }

  // Lower-cased names in sorted order, values trimmed and joined by ',' in their order of appearance.
  std::map<std::string, std::string> canonical;
  for (const auto& [name, value] : request.headers) {
    std::string key = lower(trim_all(name));
    if (is_unsigned_header(key)) continue;
    auto [it, inserted] = canonical.try_emplace(key, trim_all(value));
    if (!inserted) it->second.append(",").append(trim_all(value));
  }
  std::string headers_block;
  std::string signed_headers;
  for (const auto& [name, value] : canonical) {
    headers_block.append(name).append(":").append(value).append("\n");
    if (!signed_headers.empty()) signed_headers.push_back(';');
    signed_headers.append(name);
  }

  Signature sig;
  sig.canonical_request = request.method + "\n" + canonical_uri(request.path) + "\n" +
                          canonical_query(request.query) + "\n" + headers_block + "\n" + signed_headers +
                          "\n" + payload_hash;
  const std::string scope = date + "/" + region_ + "/" + service_ + "/aws4_request";
  sig.string_to_sign =
      std::string(kAlgorithm) + "\n" + timestamp + "\n" + scope + "\n" + sha256_hex(sig.canonical_request);
  const std::string signature = hex(hmac_sha256(signing_key(credentials, date), sig.string_to_sign));
  sig.authorization = std::string(kAlgorithm) + " Credential=" + credentials.access_key_id + "/" + scope +
                      ", SignedHeaders=" + signed_headers + ", Signature=" + signature;
  request.headers.emplace_back("Authorization", sig.authorization);
  return sig;
}

}  // namespace tap::sigv4
