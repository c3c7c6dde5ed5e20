// What every service call shares: sign with SigV4, send through HttpClient, map error responses to
// AwsError, and retry retryable ones under the RetryPolicy and the invocation deadline.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "tap/aws/aws_error.hpp"
#include "tap/aws/credentials.hpp"
#include "tap/aws/http_client.hpp"
#include "tap/aws/retry_policy.hpp"
#include "tap/aws/sigv4.hpp"

namespace tap {

struct AwsTransport {
  HttpClient* http = nullptr;
  Credentials credentials;
  RetryPolicy* retry = nullptr;
  std::function<std::chrono::system_clock::time_point()> wall_clock = [] {
    return std::chrono::system_clock::now();
  };
  std::function<void(std::chrono::microseconds)> sleep;  // default: std::this_thread::sleep_for
};

enum class Protocol { kJson, kQuery };

class ServiceClient {
 public:
  ServiceClient(AwsTransport& transport, std::string endpoint, std::string region, std::string service,
                Protocol protocol);

  // A JSON-protocol request (POST /, X-Amz-Target, Content-Type application/x-amz-json-1.0 unless the
  // service speaks another version, e.g. KMS's 1.1).
  [[nodiscard]] HttpRequest json_request(std::string_view target, std::string body,
                                         std::string_view content_type = "application/x-amz-json-1.0") const;
  // A query-protocol request (POST /, form-encoded body).
  [[nodiscard]] HttpRequest query_request(std::string body) const;

  // Sends with retries; a 2xx response is returned, anything else becomes an AwsError (its `attempts`
  // says how many were made).
  Result<HttpResponse, AwsError> call(const HttpRequest& request, Deadline deadline);

  // Waits before another attempt of a logical retry the caller drives (e.g. UnprocessedKeys); false when
  // the policy gives up (deadline or attempts).
  bool backoff(const AwsError& reason, int attempt, Deadline deadline);

  [[nodiscard]] const std::string& endpoint() const { return endpoint_; }

 private:
  AwsTransport& transport_;
  std::string endpoint_;
  sigv4::Signer signer_;
  Protocol protocol_;
};

}  // namespace tap
