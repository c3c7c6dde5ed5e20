#include "tap/aws/aws_client.hpp"

#include <thread>

namespace tap {

ServiceClient::ServiceClient(AwsTransport& transport, std::string endpoint, std::string region,
                             std::string service, Protocol protocol)
    : transport_(transport),
      endpoint_(std::move(endpoint)),
      signer_(std::move(region), std::move(service)),
      protocol_(protocol) {}

HttpRequest ServiceClient::json_request(std::string_view target, std::string body,
                                        std::string_view content_type) const {
  HttpRequest request;
  request.endpoint = endpoint_;
  request.headers = {{"Content-Type", std::string(content_type)}, {"X-Amz-Target", std::string(target)}};
  request.body = std::move(body);
  return request;
}

HttpRequest ServiceClient::query_request(std::string body) const {
  HttpRequest request;
  request.endpoint = endpoint_;
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
  request.body = std::move(body);
  return request;
}

bool ServiceClient::backoff(const AwsError& reason, int attempt, Deadline deadline) {
  auto delay = transport_.retry->next(reason, attempt, deadline);
  if (!delay) return false;
  if (transport_.sleep) {
    transport_.sleep(*delay);
  } else {
    std::this_thread::sleep_for(*delay);
  }
  return true;
}

Result<HttpResponse, AwsError> ServiceClient::call(const HttpRequest& request, Deadline deadline) {
  for (int attempt = 1;; ++attempt) {
    HttpRequest signed_request = request;  // signed afresh each attempt (new X-Amz-Date)
    signer_.sign(signed_request, transport_.credentials, transport_.wall_clock());
    auto response = transport_.http->send(signed_request, deadline);
    AwsError error;
    if (!response.ok()) {
      error = transport_error(response.error());
    } else if (response->status >= 200 && response->status < 300) {
      return std::move(response).value();
    } else {
      error = protocol_ == Protocol::kJson ? parse_json_error(response.value())
                                           : parse_xml_error(response.value());
    }
    error.attempts = attempt;
    if (!backoff(error, attempt, deadline)) return error;
  }
}

}  // namespace tap
