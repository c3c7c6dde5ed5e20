// HTTP messages and the client interface the AWS layer sends through. The interface lets tests and the
// handler use fakes; HttplibClient is the real one (cpp-httplib over OpenSSL, persistent connections).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tap/core/deadline.hpp"
#include "tap/core/result.hpp"

namespace tap {

// Headers keep their order and repeats (SigV4 joins repeated values in order).
using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string endpoint;  // scheme://host[:port], e.g. "https://dynamodb.us-east-1.amazonaws.com"
  std::string method = "POST";
  std::string path = "/";  // as sent on the wire (already percent-encoded where needed)
  std::string query;       // as sent on the wire, without '?'
  HeaderList headers;
  std::string body;

  // First value of a header (case-insensitive), or nullptr.
  [[nodiscard]] const std::string* header(std::string_view name) const;
  // Replaces every value of a header by one value (case-insensitive name match).
  void set_header(std::string_view name, std::string value);
  void remove_header(std::string_view name);
};

struct HttpResponse {
  int status = 0;
  HeaderList headers;
  std::string body;
  [[nodiscard]] const std::string* header(std::string_view name) const;
};

struct Endpoint {
  bool tls = true;
  std::string host;
  int port = 443;
  // The Host header value: the port only when it is not the scheme's default.
  [[nodiscard]] std::string host_header() const;
  [[nodiscard]] std::string origin() const;  // scheme://host:port
};
Result<Endpoint> parse_endpoint(std::string_view url);

// Transport error codes (tap::Error::code) returned by HttpClient::send.
inline constexpr const char* kNetworkError = "NetworkError";          // connect/read/write failed: retryable
inline constexpr const char* kNetworkTimeout = "NetworkTimeout";      // timed out: retryable
inline constexpr const char* kDeadlineExceeded = "DeadlineExceeded";  // no time left to even try
inline constexpr const char* kTlsVerificationFailed = "TlsVerificationFailed";  // not retryable
inline constexpr const char* kInvalidEndpoint = "InvalidEndpoint";              // not retryable

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // Sends the request; every timeout is bounded by the deadline. HTTP error statuses are responses, not
  // errors: only transport failures are errors.
  virtual Result<HttpResponse> send(const HttpRequest& request, Deadline deadline) = 0;
};

struct HttpClientOptions {
  std::string ca_bundle;  // PEM file with the trusted CAs for https:// endpoints (empty: OpenSSL defaults)
  std::chrono::milliseconds connect_timeout{3000};  // upper bound; the deadline may shorten it
};

// The real client: a pool of persistent (keep-alive) connections per endpoint, reused across invocations.
// Thread-safe: concurrent sends each take an idle connection of the endpoint or open one, and give it back
// after a response; a connection whose send failed is closed, never reused.
class HttplibClient final : public HttpClient {
 public:
  explicit HttplibClient(HttpClientOptions options);
  ~HttplibClient() override;
  HttplibClient(const HttplibClient&) = delete;
  HttplibClient& operator=(const HttplibClient&) = delete;

  Result<HttpResponse> send(const HttpRequest& request, Deadline deadline) override;
  [[nodiscard]] std::size_t open_endpoints() const;    // endpoints with an idle connection
  [[nodiscard]] std::size_t idle_connections() const;  // over all endpoints

 private:
  struct Impl;
  HttpClientOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tap
