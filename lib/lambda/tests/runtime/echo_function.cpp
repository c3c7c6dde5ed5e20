// Test function for the local Runtime API emulator: exercises every path of the runtime client end to end.
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "tap/core/json_text.hpp"
#include "tap/runtime/runtime.hpp"

using tap::runtime::InvocationRequest;
using tap::runtime::InvocationResponse;

namespace {

// Deliberately naive field lookup: the payloads are the test's own.
long sleep_ms(const std::string& payload) {
  const auto pos = payload.find("\"sleep_ms\":");
  return pos == std::string::npos ? 0 : std::strtol(payload.c_str() + pos + 11, nullptr, 10);
}

InvocationResponse handle(const InvocationRequest& req) {
  if (req.payload.find("\"fail\":true") != std::string::npos) {
    return InvocationResponse::failure("asked to fail", "EchoFailure");
  }
  if (req.payload.find("\"throw\":true") != std::string::npos) throw std::runtime_error("thrown on request");
  std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms(req.payload)));
  // Echo plus what the runtime received, so that the test can check header propagation.
  const char* trace_env = std::getenv("_X_AMZN_TRACE_ID");
  std::string out = "{\"payload\":";
  tap::json::append_string(out, req.payload);
  out.append(",\"request_id\":");
  tap::json::append_string(out, req.request_id);
  out.append(",\"function_arn\":");
  tap::json::append_string(out, req.function_arn);
  out.append(",\"trace_id\":");
  tap::json::append_string(out, req.trace_id);
  out.append(",\"trace_env\":");
  tap::json::append_string(out, trace_env == nullptr ? "" : trace_env);
  out.append(",\"deadline_ms\":");
  tap::json::append_number(
      out,
      static_cast<std::int64_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(req.deadline.time_since_epoch()).count()));
  out.append(",\"remaining_ms\":");
  tap::json::append_number(out, static_cast<std::int64_t>(req.remaining_time().count()));
  out.push_back('}');
  return InvocationResponse::success(out);
}

}  // namespace

int main() {
  if (const char* init_error = std::getenv("ECHO_INIT_ERROR"); init_error != nullptr) {
    const auto reported = tap::runtime::report_init_error("Runtime.EchoInitError", init_error);
    return reported.ok() ? 2 : 3;
  }
  return tap::runtime::run_handler(handle);
}
