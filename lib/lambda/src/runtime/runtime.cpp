#include "tap/runtime/runtime.hpp"

#include <httplib.h>

#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <thread>

#include "tap/core/json_text.hpp"
#include "tap/runtime/log.hpp"

namespace tap::runtime {
namespace {

constexpr std::string_view kApiPrefix = "/2018-06-01/runtime";
constexpr std::string_view kErrorTypeHeader = "Lambda-Runtime-Function-Error-Type";
// "Don't set a timeout on the GET request" (Runtime API docs): the environment may be frozen between
// invocations. httplib waits with poll(), whose timeout is an int of milliseconds, so this is ~20 days.
constexpr auto kNoReadTimeout = std::chrono::hours(24 * 20);

const obs::Logger& logger() {
  static const obs::Logger instance(obs::stderr_sink());
  return instance;
}

void log_error(std::string message, std::string reason = {}) {
  logger().log({.level = obs::Level::kError, .message = std::move(message), .reason = std::move(reason)});
}

std::string resolve_endpoint(const RunOptions& options) {
  if (!options.endpoint.empty()) return options.endpoint;
  const char* env = std::getenv("AWS_LAMBDA_RUNTIME_API");
  return env == nullptr ? std::string() : std::string(env);
}

struct HostPort {
  std::string host;
  int port = 0;
};

// AWS_LAMBDA_RUNTIME_API is "host:port" (e.g. 127.0.0.1:9001). Parsed here rather than by httplib's
// scheme://host:port constructor, which throws on some malformed input.
bool parse_endpoint(const std::string& endpoint, HostPort& out) {
  const auto colon = endpoint.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  const std::string port = endpoint.substr(colon + 1);
  const char* end = port.data() + port.size();
  const auto [ptr, ec] = std::from_chars(port.data(), end, out.port);
  out.host = endpoint.substr(0, colon);
  return ec == std::errc() && ptr == end && out.port > 0 && out.port <= 65535;
}

// One keep-alive connection to the Runtime API, with brief retries of transport failures.
class Connection {
 public:
  Connection(const HostPort& endpoint, const RunOptions& options)
      : client_(endpoint.host, endpoint.port), options_(options) {
    client_.set_keep_alive(true);
    // Request line/headers and body are separate writes: Nagle + delayed ACK would add ~40 ms per POST.
    client_.set_tcp_nodelay(true);
    client_.set_connection_timeout(std::chrono::seconds(2));
  }

  httplib::Result get_next() {
    client_.set_read_timeout(kNoReadTimeout);
    return with_retries("GET next", [&] { return client_.Get(path("/invocation/next")); });
  }

  httplib::Result post(const std::string& target, const httplib::Headers& headers, const std::string& body,
                       const std::string& content_type) {
    client_.set_read_timeout(options_.post_timeout);
    return with_retries("POST " + target,
                        [&] { return client_.Post(path(target), headers, body, content_type); });
  }

 private:
  static std::string path(std::string_view suffix) { return std::string(kApiPrefix) + std::string(suffix); }

  template <typename Call>
  httplib::Result with_retries(const std::string& what, Call call) {
    for (int attempt = 1;; ++attempt) {
      httplib::Result res = call();
      if (res || attempt >= options_.max_attempts) return res;
      log_error("Runtime API call failed, retrying", what + ": " + httplib::to_string(res.error()));
      std::this_thread::sleep_for(options_.retry_delay);
    }
  }

  httplib::Client client_;
  const RunOptions& options_;
};

bool parse_int64(const std::string& text, std::int64_t& out) {
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end && !text.empty();
}

InvocationResponse call_handler(const Handler& handler, const InvocationRequest& request) {
  // Never let an exception cross the runtime boundary: it becomes an invocation error, the loop goes on.
  try {
    return handler(request);
  } catch (const std::exception& e) {
    return InvocationResponse::failure(e.what(), "Runtime.UnhandledException");
  } catch (...) {
    return InvocationResponse::failure("unknown exception", "Runtime.UnhandledException");
  }
}

void export_trace_id(const std::string& trace_id) {
  // X-Ray SDKs read the current invocation's trace header from this variable.
  if (trace_id.empty()) {
    unsetenv("_X_AMZN_TRACE_ID");
  } else {
    setenv("_X_AMZN_TRACE_ID", trace_id.c_str(), 1);
  }
}

}  // namespace

std::chrono::milliseconds InvocationRequest::remaining_time() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(steady_deadline -
                                                               std::chrono::steady_clock::now());
}

InvocationResponse InvocationResponse::success(std::string payload, std::string content_type) {
  InvocationResponse r;
  r.payload = std::move(payload);
  r.content_type = std::move(content_type);
  return r;
}

InvocationResponse InvocationResponse::failure(std::string error_message, std::string error_type) {
  InvocationResponse r;
  r.is_error = true;
  r.error_type = std::move(error_type);
  r.error_message = std::move(error_message);
  return r;
}

std::string error_body(std::string_view error_type, std::string_view error_message) {
  std::string out = "{\"errorMessage\":";
  json::append_string(out, error_message);
  out.append(",\"errorType\":");
  json::append_string(out, error_type);
  out.append(",\"stackTrace\":[]}");
  return out;
}  // LCOV_EXCL_LINE: gcov puts only the bad_alloc unwind of the NRVO result here

int run_handler(const Handler& handler, const RunOptions& options) {
  const std::string endpoint = resolve_endpoint(options);
  if (endpoint.empty()) {
    log_error("AWS_LAMBDA_RUNTIME_API is not set: not running inside Lambda");
    return 1;
  }
  HostPort host_port;
  if (!parse_endpoint(endpoint, host_port)) {
    log_error("invalid Runtime API endpoint (expected host:port)", endpoint);
    return 1;
  }
  Connection conn(host_port, options);
  for (;;) {
    httplib::Result next = conn.get_next();
    if (!next) {
      log_error("Runtime API unreachable, exiting", httplib::to_string(next.error()));
      return 1;
    }
    if (next->status != 200) {
      // 403/500 on /next: the environment is in a non-recoverable state, the runtime must exit.
      log_error("Runtime API refused the next invocation, exiting",
                std::to_string(next->status) + " " + next->body);
      return 1;
    }
    InvocationRequest request;
    request.payload = std::move(next->body);  // up to 6 MB: not copied
    request.request_id = next->get_header_value("Lambda-Runtime-Aws-Request-Id");
    request.function_arn = next->get_header_value("Lambda-Runtime-Invoked-Function-Arn");
    request.trace_id = next->get_header_value("Lambda-Runtime-Trace-Id");
    request.client_context = next->get_header_value("Lambda-Runtime-Client-Context");
    request.cognito_identity = next->get_header_value("Lambda-Runtime-Cognito-Identity");
    if (request.request_id.empty()) {
      log_error("Runtime API sent an invocation without a request id, exiting");
      return 1;
    }
    std::int64_t deadline_ms = 0;
    InvocationResponse response;
    if (parse_int64(next->get_header_value("Lambda-Runtime-Deadline-Ms"), deadline_ms)) {
      request.deadline = std::chrono::system_clock::time_point(std::chrono::milliseconds(deadline_ms));
      request.steady_deadline =
          std::chrono::steady_clock::now() + (request.deadline - std::chrono::system_clock::now());
      export_trace_id(request.trace_id);
      response = call_handler(handler, request);
    } else {
      // Without a deadline the handler could not bound its retries (F1); refuse the invocation visibly.
      response = InvocationResponse::failure("invocation without a valid Lambda-Runtime-Deadline-Ms header",
                                             "Runtime.InvalidDeadline");
    }

    const std::string target =
        "/invocation/" + request.request_id + (response.is_error ? "/error" : "/response");
    httplib::Headers headers;
    std::string body = response.payload;
    std::string content_type = response.content_type;
    if (response.is_error) {
      headers.emplace(kErrorTypeHeader, response.error_type);
      body = error_body(response.error_type, response.error_message);
      content_type = "application/json";
    }
    const httplib::Result posted = conn.post(target, headers, body, content_type);
    if (!posted) {
      log_error("Runtime API unreachable, exiting", httplib::to_string(posted.error()));
      return 1;
    }
    if (posted->status >= 500) {
      log_error("Runtime API failed, exiting", std::to_string(posted->status) + " " + posted->body);
      return 1;
    }
    if (posted->status != 202) {
      // 400 (unknown request id), 403 (already answered), 413 (response too large): Lambda records the
      // invocation as failed; the environment itself is fine, so take the next one.
      log_error("Runtime API rejected the result of " + request.request_id,
                std::to_string(posted->status) + " " + posted->body);
    }
  }
}

Result<bool> report_init_error(std::string_view error_type, std::string_view error_message,
                               const RunOptions& options) {
  log_error("initialisation failed: " + std::string(error_message), std::string(error_type));
  const std::string endpoint = resolve_endpoint(options);
  if (endpoint.empty()) return Error{"no_runtime_api", "AWS_LAMBDA_RUNTIME_API is not set"};
  HostPort host_port;
  if (!parse_endpoint(endpoint, host_port)) {
    return Error{"no_runtime_api", "invalid Runtime API endpoint (expected host:port): " + endpoint};
  }
  Connection conn(host_port, options);
  httplib::Headers headers{{std::string(kErrorTypeHeader), std::string(error_type)}};
  const httplib::Result res =
      conn.post("/init/error", headers, error_body(error_type, error_message), "application/json");
  if (!res) return Error{"runtime_api_unreachable", httplib::to_string(res.error())};
  if (res->status != 202) {
    return Error{"runtime_api_status",
                 "init/error answered " + std::to_string(res->status) + ": " + res->body};
  }
  return true;
}

}  // namespace tap::runtime
