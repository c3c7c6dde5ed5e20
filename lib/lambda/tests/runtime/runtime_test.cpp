// The runtime client against an in-process fake of the Lambda Runtime API.
#include "tap/runtime/runtime.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <tuple>

namespace tap::runtime {
namespace {

using namespace std::chrono_literals;

struct Queued {
  std::string id;
  std::string payload;
  httplib::Headers headers;  // besides the request id
};

struct Posted {
  std::string request_id;
  std::string kind;  // "response" or "error"
  std::string body;
  std::string content_type;
  std::string error_type;
};

class FakeRuntimeApi {
 public:
  FakeRuntimeApi() {
    server_.Get("/2018-06-01/runtime/invocation/next",
                [this](const httplib::Request& req, httplib::Response& res) {
                  std::this_thread::sleep_for(next_delay);
                  std::lock_guard lock(mu_);
                  remote_ports_.insert(req.remote_port);
                  ++next_calls_;
                  if (queue_.empty()) {
                    // What Lambda answers when the environment is shutting down: the runtime must exit.
                    res.status = 500;
                    res.set_content(R"({"errorMessage":"no more invocations","errorType":"Test.Done"})",
                                    "application/json");
                    return;
                  }
                  Queued q = queue_.front();
                  queue_.pop_front();
                  res.status = next_status;
                  res.set_content(q.payload, "application/json");
                  if (!q.id.empty()) res.set_header("Lambda-Runtime-Aws-Request-Id", q.id);
                  for (const auto& [k, v] : q.headers) res.set_header(k, v);
                });
    server_.Post(R"(/2018-06-01/runtime/invocation/([^/]+)/(response|error))",
                 [this](const httplib::Request& req, httplib::Response& res) {
                   std::this_thread::sleep_for(post_delay);
                   std::lock_guard lock(mu_);
                   remote_ports_.insert(req.remote_port);
                   posted_.push_back(Posted{req.matches[1], req.matches[2], req.body,
                                            req.get_header_value("Content-Type"),
                                            req.get_header_value("Lambda-Runtime-Function-Error-Type")});
                   posted_changed_.notify_all();
                   res.status = post_status;
                   res.set_content(R"({"status":"OK"})", "application/json");
                 });
    server_.Post("/2018-06-01/runtime/init/error",
                 [this](const httplib::Request& req, httplib::Response& res) {
                   std::lock_guard lock(mu_);
                   posted_.push_back(Posted{"", "init", req.body, req.get_header_value("Content-Type"),
                                            req.get_header_value("Lambda-Runtime-Function-Error-Type")});
                   posted_changed_.notify_all();
                   res.status = post_status;
                 });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~FakeRuntimeApi() {
    server_.stop();
    thread_.join();
  }
  FakeRuntimeApi(const FakeRuntimeApi&) = delete;
  FakeRuntimeApi& operator=(const FakeRuntimeApi&) = delete;

  void enqueue(std::string id, std::string payload, httplib::Headers headers = {}) {
    if (headers.find("Lambda-Runtime-Deadline-Ms") == headers.end()) {
      const auto deadline = std::chrono::system_clock::now() + 30s;
      headers.emplace(
          "Lambda-Runtime-Deadline-Ms",
          std::to_string(
              std::chrono::duration_cast<std::chrono::milliseconds>(deadline.time_since_epoch()).count()));
    }
    std::lock_guard lock(mu_);
    queue_.push_back(Queued{std::move(id), std::move(payload), std::move(headers)});
  }

  [[nodiscard]] std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] RunOptions options() const {
    RunOptions o;
    o.endpoint = endpoint();
    o.max_attempts = 2;
    o.retry_delay = 10ms;
    o.post_timeout = 1000ms;
    return o;
  }
  std::vector<Posted> posted() {
    std::lock_guard lock(mu_);
    return posted_;
  }
  // The posts once at least `count` are recorded: the server may still be handling posts that the client
  // has already given up on. Returns what is recorded when `timeout` passes first.
  std::vector<Posted> wait_for_posts(std::size_t count, std::chrono::milliseconds timeout = 5000ms) {
    std::unique_lock lock(mu_);
    posted_changed_.wait_for(lock, timeout, [&] { return posted_.size() >= count; });
    return posted_;
  }
  std::set<int> remote_ports() {
    std::lock_guard lock(mu_);
    return remote_ports_;
  }
  int next_calls() {
    std::lock_guard lock(mu_);
    return next_calls_;
  }

  int post_status = 202;
  int next_status = 200;  // of an answer that carries an invocation
  std::chrono::milliseconds next_delay{0};
  std::chrono::milliseconds post_delay{0};

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable posted_changed_;
  std::deque<Queued> queue_;
  std::vector<Posted> posted_;
  std::set<int> remote_ports_;
  int next_calls_ = 0;
};

// A loopback port with no listener: bound (so the kernel picks a free one) and closed without listen().
int unused_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

InvocationResponse echo(const InvocationRequest& req) {
  return InvocationResponse::success(req.payload, "text/plain");
}

TEST(Runtime, EchoesOverOneKeepAliveConnectionAndExitsWhenNextFails) {
  FakeRuntimeApi api;
  api.enqueue("id-1", "first");
  api.enqueue("id-2", R"({"second":2})");
  EXPECT_EQ(run_handler(echo, api.options()), 1);  // the fake answers 500 once the queue is empty
  const auto posted = api.posted();
  ASSERT_EQ(posted.size(), 2U);
  EXPECT_EQ(posted[0].request_id, "id-1");
  EXPECT_EQ(posted[0].kind, "response");
  EXPECT_EQ(posted[0].body, "first");
  EXPECT_EQ(posted[0].content_type, "text/plain");
  EXPECT_EQ(posted[1].request_id, "id-2");
  EXPECT_EQ(posted[1].body, R"({"second":2})");
  EXPECT_EQ(api.next_calls(), 3);
  EXPECT_EQ(api.remote_ports().size(), 1U) << "every call must reuse one connection";
}

TEST(Runtime, PropagatesHeadersDeadlineAndTraceId) {
  FakeRuntimeApi api;
  const auto deadline = std::chrono::system_clock::now() + 5s;
  const auto deadline_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline.time_since_epoch()).count();
  api.enqueue("req-7", "{}",
              {{"Lambda-Runtime-Deadline-Ms", std::to_string(deadline_ms)},
               {"Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:f"},
               {"Lambda-Runtime-Trace-Id",
                "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1"},
               {"Lambda-Runtime-Client-Context", R"({"client":{}})"},
               {"Lambda-Runtime-Cognito-Identity", R"({"cognitoIdentityId":"x"})"}});
  api.enqueue("req-8", "{}");  // no trace id: the variable must not leak from the previous invocation
  std::vector<InvocationRequest> seen;
  std::vector<std::string> trace_env;
  std::vector<long long> remaining;
  const auto handler = [&](const InvocationRequest& req) {
    seen.push_back(req);
    const char* env = std::getenv("_X_AMZN_TRACE_ID");
    trace_env.emplace_back(env == nullptr ? "<unset>" : env);
    remaining.push_back(req.remaining_time().count());
    return InvocationResponse::success("ok");
  };
  EXPECT_EQ(run_handler(handler, api.options()), 1);
  ASSERT_EQ(seen.size(), 2U);
  EXPECT_EQ(seen[0].request_id, "req-7");
  EXPECT_EQ(seen[0].function_arn, "arn:aws:lambda:us-east-1:123456789012:function:f");
  EXPECT_EQ(seen[0].trace_id, "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1");
  EXPECT_EQ(seen[0].client_context, R"({"client":{}})");
  EXPECT_EQ(seen[0].cognito_identity, R"({"cognitoIdentityId":"x"})");
  EXPECT_EQ(
      std::chrono::duration_cast<std::chrono::milliseconds>(seen[0].deadline.time_since_epoch()).count(),
      deadline_ms);
  EXPECT_GT(remaining[0], 4000);
  EXPECT_LE(remaining[0], 5000);
  EXPECT_EQ(trace_env[0], seen[0].trace_id);
  EXPECT_EQ(trace_env[1], "<unset>");
  EXPECT_EQ(api.posted()[0].content_type, "application/json");
}

TEST(Runtime, HandlerFailureIsPostedAsErrorWithTypeHeaderAndBody) {
  FakeRuntimeApi api;
  api.enqueue("id-e", "{}");
  const auto handler = [](const InvocationRequest&) {
    return InvocationResponse::failure("bad \"tick\"\n", "Tap.Invalid");
  };
  EXPECT_EQ(run_handler(handler, api.options()), 1);
  const auto posted = api.posted();
  ASSERT_EQ(posted.size(), 1U);
  EXPECT_EQ(posted[0].kind, "error");
  EXPECT_EQ(posted[0].error_type, "Tap.Invalid");
  EXPECT_EQ(posted[0].content_type, "application/json");
  EXPECT_EQ(posted[0].body, R"({"errorMessage":"bad \"tick\"\n","errorType":"Tap.Invalid","stackTrace":[]})");
}

TEST(Runtime, ExceptionsEscapingTheHandlerBecomeInvocationErrors) {
  FakeRuntimeApi api;
  api.enqueue("std", "std");
  api.enqueue("other", "other");
  api.enqueue("fine", "fine");
  const auto handler = [](const InvocationRequest& req) -> InvocationResponse {
    if (req.payload == "std") throw std::runtime_error("boom");
    if (req.payload == "other") throw 42;
    return InvocationResponse::success("fine");
  };
  EXPECT_EQ(run_handler(handler, api.options()), 1);
  const auto posted = api.posted();
  ASSERT_EQ(posted.size(), 3U);
  EXPECT_EQ(posted[0].kind, "error");
  EXPECT_EQ(posted[0].error_type, "Runtime.UnhandledException");
  EXPECT_EQ(posted[0].body,
            R"({"errorMessage":"boom","errorType":"Runtime.UnhandledException","stackTrace":[]})");
  EXPECT_EQ(posted[1].kind, "error");
  EXPECT_NE(posted[1].body.find("unknown exception"), std::string::npos);
  EXPECT_EQ(posted[2].kind, "response");
}

TEST(Runtime, InvocationWithoutValidDeadlineIsRefusedVisibly) {
  FakeRuntimeApi api;
  api.enqueue("no-deadline", "{}", {{"Lambda-Runtime-Deadline-Ms", "soon"}});
  bool called = false;
  const auto handler = [&](const InvocationRequest&) {
    called = true;
    return InvocationResponse::success("");
  };
  EXPECT_EQ(run_handler(handler, api.options()), 1);
  EXPECT_FALSE(called);
  ASSERT_EQ(api.posted().size(), 1U);
  EXPECT_EQ(api.posted()[0].error_type, "Runtime.InvalidDeadline");
}

TEST(Runtime, InvocationWithoutRequestIdStopsTheRuntime) {
  FakeRuntimeApi api;
  api.enqueue("", "{}");
  api.enqueue("never", "{}");
  EXPECT_EQ(run_handler(echo, api.options()), 1);
  EXPECT_TRUE(api.posted().empty());
  EXPECT_EQ(api.next_calls(), 1);
}

TEST(Runtime, RejectedResultIsLoggedAndTheLoopGoesOn) {
  FakeRuntimeApi api;
  api.post_status = 413;  // e.g. response larger than 6 MB
  api.enqueue("a", "a");
  api.enqueue("b", "b");
  EXPECT_EQ(run_handler(echo, api.options()), 1);
  EXPECT_EQ(api.posted().size(), 2U);
  EXPECT_EQ(api.next_calls(), 3);
}

TEST(Runtime, ServerErrorOnPostStopsTheRuntime) {
  FakeRuntimeApi api;
  api.post_status = 500;
  api.enqueue("a", "a");
  api.enqueue("b", "b");
  EXPECT_EQ(run_handler(echo, api.options()), 1);
  EXPECT_EQ(api.posted().size(), 1U);
  EXPECT_EQ(api.next_calls(), 1);
}

TEST(Runtime, NextCallHasNoReadTimeout) {
  FakeRuntimeApi api;
  api.next_delay =
      1500ms;  // longer than the POST timeout (1 s) and httplib's default read timeout would allow
  RunOptions options = api.options();
  api.enqueue("slow", "slow");
  EXPECT_EQ(run_handler(echo, options), 1);
  ASSERT_EQ(api.posted().size(), 1U);
  EXPECT_EQ(api.posted()[0].body, "slow");
}

TEST(Runtime, PostTransportFailureIsRetriedThenTheRuntimeExits) {
  FakeRuntimeApi api;
  api.post_delay = 400ms;
  RunOptions options = api.options();
  options.post_timeout = 100ms;  // every POST times out on the client side
  api.enqueue("a", "a");
  EXPECT_EQ(run_handler(echo, options), 1);
  EXPECT_EQ(api.wait_for_posts(2).size(), 2U) << "one attempt plus one retry";
}

TEST(Runtime, UnreachableApiIsRetriedBrieflyThenExitsNonZero) {
  RunOptions options;
  options.endpoint = "127.0.0.1:" + std::to_string(unused_port());
  options.retry_delay = 20ms;
  options.max_attempts = 3;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(run_handler(echo, options), 1);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GE(elapsed, 40ms);  // two waits between three attempts
  EXPECT_LT(elapsed, 5s);
}

TEST(Runtime, EndpointFromEnvironmentOrExitWithoutIt) {
  unsetenv("AWS_LAMBDA_RUNTIME_API");
  EXPECT_EQ(run_handler(echo), 1);
  EXPECT_FALSE(report_init_error("T", "m").ok());
  FakeRuntimeApi api;
  api.enqueue("env", "via env");
  setenv("AWS_LAMBDA_RUNTIME_API", api.endpoint().c_str(), 1);
  EXPECT_EQ(run_handler(echo), 1);
  unsetenv("AWS_LAMBDA_RUNTIME_API");
  ASSERT_EQ(api.posted().size(), 1U);
  EXPECT_EQ(api.posted()[0].body, "via env");
}

TEST(Runtime, InvalidEndpointIsRejected) {
  for (const std::string endpoint : {"no-port", ":9001", "127.0.0.1:", "127.0.0.1:http", "127.0.0.1:0",
                                     "127.0.0.1:65536", "127.0.0.1:99999999999", "ftp://127.0.0.1:x"}) {
    RunOptions options;
    options.endpoint = endpoint;
    EXPECT_EQ(run_handler(echo, options), 1) << endpoint;
    const auto r = report_init_error("T", "m", options);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, "no_runtime_api") << endpoint;
  }
}

TEST(Runtime, InitErrorIsPostedWithTypeHeaderAndBody) {
  FakeRuntimeApi api;
  const auto r = report_init_error("Runtime.ConfigError", "rules file: missing \"id\"", api.options());
  ASSERT_TRUE(r.ok());
  const auto posted = api.posted();
  ASSERT_EQ(posted.size(), 1U);
  EXPECT_EQ(posted[0].kind, "init");
  EXPECT_EQ(posted[0].error_type, "Runtime.ConfigError");
  EXPECT_EQ(posted[0].content_type, "application/json");
  EXPECT_EQ(
      posted[0].body,
      R"({"errorMessage":"rules file: missing \"id\"","errorType":"Runtime.ConfigError","stackTrace":[]})");
}

TEST(Runtime, InitErrorRefusedOrUnreachableIsAnError) {
  FakeRuntimeApi api;
  api.post_status = 403;
  const auto refused = report_init_error("T", "m", api.options());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "runtime_api_status");
  EXPECT_NE(refused.error().message.find("403"), std::string::npos);

  RunOptions options;
  options.endpoint = "127.0.0.1:" + std::to_string(unused_port());
  options.retry_delay = 1ms;
  const auto unreachable = report_init_error("T", "m", options);
  ASSERT_FALSE(unreachable.ok());
  EXPECT_EQ(unreachable.error().code, "runtime_api_unreachable");
}

TEST(Runtime, RemainingTimeIsNegativeAfterTheDeadline) {
  InvocationRequest req;
  req.steady_deadline = std::chrono::steady_clock::now() - 10ms;
  EXPECT_LT(req.remaining_time().count(), 0);
  EXPECT_EQ(InvocationResponse::success("x").content_type, "application/json");
  const auto f = InvocationResponse::failure("m", "T");
  EXPECT_TRUE(f.is_error);
  EXPECT_EQ(f.error_type, "T");
  EXPECT_EQ(f.error_message, "m");
}

// A refusal must be honoured on its own, not only because the fake's refusal also lacks a request id.
TEST(Runtime, ANon200AnswerToNextWithARequestIdStopsTheRuntimeWithoutCallingTheHandler) {
  for (int status : {201, 403, 500}) {
    FakeRuntimeApi api;
    api.next_status = status;
    api.enqueue("id-refused", "{}");
    bool called = false;
    const auto handler = [&](const InvocationRequest&) {
      called = true;
      return InvocationResponse::success("");
    };
    EXPECT_EQ(run_handler(handler, api.options()), 1) << status;
    EXPECT_FALSE(called) << status;
    EXPECT_TRUE(api.posted().empty()) << status;
    EXPECT_EQ(api.next_calls(), 1) << status;
  }
}

// The POST sets a short read timeout; the next long poll must lift it again, not inherit it.
TEST(Runtime, ALongPollAfterAPostHasNoReadTimeout) {
  FakeRuntimeApi api;
  api.next_delay = 1500ms;  // longer than the POST timeout
  RunOptions options = api.options();
  options.post_timeout = 1000ms;
  api.enqueue("first", "1");
  api.enqueue("second", "2");
  EXPECT_EQ(run_handler(echo, options), 1);
  const auto posted = api.posted();
  ASSERT_EQ(posted.size(), 2U);
  EXPECT_EQ(posted[1].request_id, "second");
  EXPECT_EQ(api.next_calls(), 3);
}

TEST(Runtime, EachInvocationExportsItsOwnTraceId) {
  FakeRuntimeApi api;
  api.enqueue("t1", "{}", {{"Lambda-Runtime-Trace-Id", "Root=1-a"}});
  api.enqueue("t2", "{}", {{"Lambda-Runtime-Trace-Id", "Root=1-b"}});
  std::vector<std::string> seen;
  const auto handler = [&](const InvocationRequest&) {
    const char* env = std::getenv("_X_AMZN_TRACE_ID");
    seen.emplace_back(env == nullptr ? "<unset>" : env);
    return InvocationResponse::success("ok");
  };
  EXPECT_EQ(run_handler(handler, api.options()), 1);
  EXPECT_EQ(seen, (std::vector<std::string>{"Root=1-a", "Root=1-b"}));
  unsetenv("_X_AMZN_TRACE_ID");
}

TEST(Runtime, AStatusBelow500OnPostIsLoggedAndOneFrom500OnStopsTheRuntime) {
  for (const auto& [status, posts, nexts] : {std::tuple{499, 2U, 3}, std::tuple{599, 1U, 1}}) {
    FakeRuntimeApi api;
    api.post_status = status;
    api.enqueue("a", "a");
    api.enqueue("b", "b");
    EXPECT_EQ(run_handler(echo, api.options()), 1) << status;
    EXPECT_EQ(api.posted().size(), posts) << status;
    EXPECT_EQ(api.next_calls(), nexts) << status;
  }
}

TEST(Runtime, Ports1And65535AreValidEndpoints) {
  for (const std::string endpoint : {"127.0.0.1:1", "127.0.0.1:65535", "localhost:65535"}) {
    RunOptions options;
    options.endpoint = endpoint;
    options.max_attempts = 1;
    const auto r = report_init_error("T", "m", options);
    ASSERT_FALSE(r.ok()) << endpoint;  // nothing listens there: unreachable, but a valid endpoint
    EXPECT_EQ(r.error().code, "runtime_api_unreachable") << endpoint;
  }
}

TEST(Runtime, WhyTheRuntimeExitsIsLoggedAsAnErrorWithTheAnswer) {
  FakeRuntimeApi refusing;
  refusing.next_status = 403;
  refusing.enqueue("id-refused", "{}");
  testing::internal::CaptureStderr();
  EXPECT_EQ(run_handler(echo, refusing.options()), 1);
  const std::string refused = testing::internal::GetCapturedStderr();
  EXPECT_NE(refused.find(R"("level":"ERROR")"), std::string::npos) << refused;
  EXPECT_NE(refused.find("Runtime API refused the next invocation, exiting"), std::string::npos) << refused;
  EXPECT_NE(refused.find(R"("reason":"403 {}")"), std::string::npos) << refused;

  FakeRuntimeApi failing;
  failing.post_status = 503;
  failing.enqueue("a", "a");
  testing::internal::CaptureStderr();
  EXPECT_EQ(run_handler(echo, failing.options()), 1);
  const std::string failed = testing::internal::GetCapturedStderr();
  EXPECT_NE(failed.find("Runtime API failed, exiting"), std::string::npos) << failed;
  EXPECT_NE(failed.find("503"), std::string::npos) << failed;
}

TEST(Runtime, AnInvocationErrorIsPostedAsJsonWhateverContentTypeTheHandlerSet) {
  FakeRuntimeApi api;
  api.enqueue("e", "{}");
  const auto handler = [](const InvocationRequest&) {
    InvocationResponse r = InvocationResponse::failure("m", "T");
    r.content_type = "text/plain";
    r.payload = "not sent";
    return r;
  };
  EXPECT_EQ(run_handler(handler, api.options()), 1);
  const auto posted = api.posted();
  ASSERT_EQ(posted.size(), 1U);
  EXPECT_EQ(posted[0].content_type, "application/json");
  EXPECT_EQ(posted[0].body, R"({"errorMessage":"m","errorType":"T","stackTrace":[]})");
}

std::size_t count(const std::string& text, std::string_view what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(Runtime, ATransportFailureIsLoggedAtEachRetryAndWhenTheRuntimeGivesUp) {
  RunOptions unreachable;
  unreachable.endpoint = "127.0.0.1:" + std::to_string(unused_port());
  unreachable.retry_delay = 1ms;
  unreachable.max_attempts = 3;
  testing::internal::CaptureStderr();
  EXPECT_EQ(run_handler(echo, unreachable), 1);
  const std::string next = testing::internal::GetCapturedStderr();
  EXPECT_EQ(count(next, "Runtime API call failed, retrying"), 2U) << next;
  EXPECT_EQ(count(next, "GET next: "), 2U) << next;
  EXPECT_EQ(count(next, "Runtime API unreachable, exiting"), 1U) << next;

  FakeRuntimeApi api;
  api.post_delay = 400ms;
  RunOptions options = api.options();
  options.post_timeout = 100ms;  // every POST times out on the client side
  api.enqueue("a", "a");
  testing::internal::CaptureStderr();
  EXPECT_EQ(run_handler(echo, options), 1);
  const std::string post = testing::internal::GetCapturedStderr();
  std::this_thread::sleep_for(500ms);  // let the server finish the timed-out posts before it stops
  EXPECT_EQ(count(post, "POST /invocation/a/response: "), 1U) << post;
  EXPECT_EQ(count(post, "Runtime API unreachable, exiting"), 1U) << post;
}

TEST(Runtime, EveryOtherExitAndRejectionIsLoggedWithItsReason) {
  const auto logged = [](const auto& run) {
    testing::internal::CaptureStderr();
    run();
    return testing::internal::GetCapturedStderr();
  };
  unsetenv("AWS_LAMBDA_RUNTIME_API");
  EXPECT_NE(logged([] {
              EXPECT_EQ(run_handler(echo), 1);
            }).find("AWS_LAMBDA_RUNTIME_API is not set: not running inside Lambda"),
            std::string::npos);
  RunOptions invalid;
  invalid.endpoint = "no-port";
  EXPECT_NE(logged([&] {
              EXPECT_EQ(run_handler(echo, invalid), 1);
            }).find(R"x("reason":"no-port","message":"invalid Runtime API endpoint (expected host:port)")x"),
            std::string::npos);
  EXPECT_NE(logged([&] {
              EXPECT_FALSE(report_init_error("Runtime.Bad", "rules", invalid).ok());
            }).find(R"("reason":"Runtime.Bad","message":"initialisation failed: rules")"),
            std::string::npos);
  FakeRuntimeApi api;
  api.post_status = 413;
  api.enqueue("big", "x");
  api.enqueue("", "{}");
  const std::string run = logged([&] { EXPECT_EQ(run_handler(echo, api.options()), 1); });
  EXPECT_NE(
      run.find(R"x("reason":"413 {\"status\":\"OK\"}","message":"Runtime API rejected the result of big")x"),
      std::string::npos)
      << run;
  EXPECT_NE(run.find("Runtime API sent an invocation without a request id, exiting"), std::string::npos)
      << run;
}

TEST(Runtime, AnAcceptedResultIsNotLoggedAsRejected) {
  FakeRuntimeApi api;
  api.enqueue("ok", "ok");
  testing::internal::CaptureStderr();
  EXPECT_EQ(run_handler(echo, api.options()), 1);  // exits when the fake has no more invocations
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_EQ(log.find("rejected the result"), std::string::npos) << log;
  EXPECT_EQ(count(log, R"("level":"ERROR")"), 1U) << log;  // only the refusal of the last /next
}

}  // namespace
}  // namespace tap::runtime
