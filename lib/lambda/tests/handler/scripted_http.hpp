// An HttpClient that answers from a script, one response per request, and keeps the requests it was sent:
// the AWS adapters' tests read the exact requests and feed AWS's answers.
#pragma once

#include <deque>
#include <string>
#include <vector>

#include "tap/aws/aws_client.hpp"
#include "tap/aws/http_client.hpp"

namespace tap {

class ScriptedHttp final : public HttpClient {
 public:
  Result<HttpResponse> send(const HttpRequest& request, Deadline) override {
    requests.push_back(request);
    if (responses.empty()) return Error{kNetworkError, "no scripted response"};
    HttpResponse r = responses.front();
    responses.pop_front();
    return r;
  }
  void reply(int status, std::string body) { responses.push_back({status, {}, std::move(body)}); }
  [[nodiscard]] std::string target(std::size_t i) const {
    const std::string* t = requests.at(i).header("X-Amz-Target");
    return t ? *t : "";
  }
  [[nodiscard]] const std::string& body(std::size_t i) const { return requests.at(i).body; }
  std::vector<HttpRequest> requests;
  std::deque<HttpResponse> responses;
};

// A transport over `http` with a fixed wall clock (1795617000 s: the tests' signing time) that never sleeps.
inline AwsTransport scripted_transport(HttpClient& http, RetryPolicy& retry) {
  return AwsTransport{
      .http = &http,
      .credentials = {"AKID", "SECRET", ""},
      .retry = &retry,
      .wall_clock = [] { return std::chrono::system_clock::time_point(std::chrono::seconds(1795617000)); },
      .sleep = [](std::chrono::microseconds) {}};
}

}  // namespace tap
