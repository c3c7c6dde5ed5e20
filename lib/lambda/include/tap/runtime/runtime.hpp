// Lambda custom-runtime client: the Runtime API loop (next / response / error / init error).
// Shape in the spirit of awslabs/aws-lambda-cpp: plain request/response structs and one run_handler() entry.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "tap/core/deadline.hpp"
#include "tap/core/result.hpp"

namespace tap::runtime {

struct InvocationRequest {
  std::string payload;
  std::string request_id;        // Lambda-Runtime-Aws-Request-Id
  std::string function_arn;      // Lambda-Runtime-Invoked-Function-Arn
  std::string trace_id;          // Lambda-Runtime-Trace-Id (also exported as _X_AMZN_TRACE_ID)
  std::string client_context;    // Lambda-Runtime-Client-Context
  std::string cognito_identity;  // Lambda-Runtime-Cognito-Identity
  // Lambda-Runtime-Deadline-Ms as wall-clock time, and the same instant on the steady clock (taken when the
  // invocation arrived) so that remaining_time() is immune to wall-clock adjustments.
  std::chrono::system_clock::time_point deadline{};
  Deadline steady_deadline{};

  // Time left before Lambda kills the invocation (negative once it has passed).
  [[nodiscard]] std::chrono::milliseconds remaining_time() const;
};

struct InvocationResponse {
  std::string payload;
  std::string content_type = "application/json";
  bool is_error = false;
  std::string error_type;
  std::string error_message;

  static InvocationResponse success(std::string payload, std::string content_type = "application/json");
  static InvocationResponse failure(std::string error_message, std::string error_type);
};

// Must not throw; run_handler() still catches anything that escapes and reports it as an invocation error.
using Handler = std::function<InvocationResponse(const InvocationRequest&)>;

struct RunOptions {
  std::string endpoint;  // host:port of the Runtime API; empty = the AWS_LAMBDA_RUNTIME_API variable
  int max_attempts = 3;  // per Runtime API call, for transport failures
  std::chrono::milliseconds retry_delay{100};
  std::chrono::milliseconds post_timeout{
      10000};  // /response, /error, /init/error (the /next call never times out)
};

// The body Lambda expects on /error and /init/error: {"errorMessage","errorType","stackTrace":[]}.
std::string error_body(std::string_view error_type, std::string_view error_message);

// Loops on /next forever. Returns non-zero (the process should exit with it) when the Runtime API is
// unreachable after brief retries, answers /next with an error status, or no endpoint is configured.
int run_handler(const Handler& handler, const RunOptions& options = {});

// POST /runtime/init/error. Lambda then stops the environment; the caller should exit non-zero.
Result<bool> report_init_error(std::string_view error_type, std::string_view error_message,
                               const RunOptions& options = {});

}  // namespace tap::runtime
