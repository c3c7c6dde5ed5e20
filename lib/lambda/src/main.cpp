// bootstrap: the Lambda custom-runtime entry point. Wires configuration, rules, the AWS layer and the
// handler, then serves invocations until Lambda stops the environment.
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

#include "tap/app/dynamodb_store.hpp"
#include "tap/app/function_config.hpp"
#include "tap/app/handler.hpp"
#include "tap/app/sns_notifier.hpp"
#include "tap/app/sqs_dead_letters.hpp"
#include "tap/aws/aws_layer.hpp"
#include "tap/runtime/runtime.hpp"

#ifdef TAP_GCOV_DUMP_ON_SIGTERM
extern "C" void __gcov_dump(void);
#endif

namespace {

#ifdef TAP_GCOV_DUMP_ON_SIGTERM
// Coverage builds only: Lambda and the local emulator end an environment with a signal, and gcov writes its
// counters only at a normal exit. On SIGTERM, dump them and exit (not async-signal-safe: test builds only).
extern "C" void dump_coverage_and_exit(int /*signal*/) {
  __gcov_dump();
  std::_Exit(0);  // LCOV_EXCL_LINE: runs after the counters were written, so never counted
}
#endif

tap::Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return tap::Error{"rules_unreadable", "cannot read the rules document " + path};
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

int init_error(const char* type, const std::string& message) {
  // Best effort: report_init_error has already logged the error to stderr, and the process exits either way.
  (void)tap::runtime::report_init_error(type, message);
  return 1;
}

std::int64_t wall_micros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

int main() {
#ifdef TAP_GCOV_DUMP_ON_SIGTERM
  std::signal(SIGTERM, dump_coverage_and_exit);
#endif
  const tap::EnvLookup env = tap::process_env();
  auto config = tap::load_function_config(env);
  if (!config) return init_error("Runtime.InvalidConfiguration", config.error().message);
  auto aws = tap::AwsLayer::from_env(env);
  if (!aws) return init_error("Runtime.InvalidConfiguration", aws.error().message);
  auto document = read_file(config->rules_path);
  if (!document) return init_error("Runtime.InvalidRules", document.error().message);
  auto rules = tap::load_rules(document.value());
  if (!rules) return init_error("Runtime.InvalidRules", rules.error().message);

  tap::obs::Logger log(tap::obs::stdout_sink(), std::chrono::system_clock::now, config->log_level);
  tap::AwsLayer& layer = *aws.value();
  std::mt19937_64 token_random{std::random_device{}()};
  const auto tokens = [&token_random] {
    char token[33];
    std::snprintf(token, sizeof token, "%016llx%016llx", static_cast<unsigned long long>(token_random()),
                  static_cast<unsigned long long>(token_random()));
    return std::string(token);
  };
  tap::DynamoDbSymbolStore state(layer.dynamodb, config->state_table, config->alerts_table, wall_micros,
                                 tokens);
  tap::DynamoDbAlertLedger ledger(layer.dynamodb, config->alerts_table);
  tap::SnsNotifier notifier(layer.sns, config->topic_arn);
  tap::SqsDeadLetters dead_letters(layer.sqs, config->dlq_url);
  tap::BatchHandler handler(rules.value(), {state, ledger, notifier, dead_letters}, log,
                            std::chrono::system_clock::now, tap::engine_limits(config.value()));
  log.info("initialised with " + std::to_string(rules->rules().size()) + " rules");

  return tap::runtime::run_handler([&](const tap::runtime::InvocationRequest& request) {
    log.set_request_id(request.request_id);
    const auto started = std::chrono::steady_clock::now();
    const std::uint64_t retries_before = layer.retry.retries();
    auto report = handler.handle(request.payload, request.steady_deadline);
    if (!report) {
      log.log(
          {.level = tap::obs::Level::kError, .message = "invalid event", .reason = report.error().message});
      return tap::runtime::InvocationResponse::failure(report.error().message, "InvalidEvent");
    }
    const auto duration =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
    const auto metrics = tap::batch_metrics(report.value(), config->metrics_namespace, config->function_name,
                                            layer.retry.retries() - retries_before, duration);
    tap::obs::stdout_sink()(metrics.to_json(std::chrono::system_clock::now()));
    return tap::runtime::InvocationResponse::success(tap::batch_response(report.value()));
  });
}
