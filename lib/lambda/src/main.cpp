// bootstrap: the Lambda custom-runtime entry point. Wires configuration, rules, the AWS layer and the
// handler, then serves invocations until Lambda stops the environment. One zip, two functions: _HANDLER
// (the Lambda handler setting) `api` runs the traders' API (issue 16), anything else the data processor.
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include "tap/api/alert_routes.hpp"
#include "tap/api/api_function.hpp"
#include "tap/api/rule_routes.hpp"
#include "tap/api/symbol_routes.hpp"
#include "tap/app/change_service.hpp"
#include "tap/app/dynamodb_store.hpp"
#include "tap/app/function_config.hpp"
#include "tap/app/handler.hpp"
#include "tap/app/rule_source.hpp"
#include "tap/app/rules_cache.hpp"
#include "tap/app/rules_dynamodb.hpp"
#include "tap/app/sns_notifier.hpp"
#include "tap/app/sqs_dead_letters.hpp"
#include "tap/aws/aws_layer.hpp"
#include "tap/core/clock_spec.hpp"
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

// The cold load's parallel scans: one connection (and thread) each (rules_cache.hpp).
constexpr int kScanConnections = 8;
// The cold load runs beside the invocations (docs/design.md 12.6), within the function's timeout
// (lib/config.py FUNCTION_TIMEOUT_SECONDS; tests/contract/test_settings_contract.py holds the two equal),
// not the 10 s init phase: each invocation waits for it no longer than its own deadline.
constexpr auto kColdLoadBudget = std::chrono::seconds(60);
// The processor's independent AWS calls of a batch (the symbols' commits, the publishes, the marks) overlap
// on this many threads, each on a pooled keep-alive connection (docs/design.md section 6a). A batch has at
// most 25 symbols; beyond 16 connections moto (and a 1-vCPU function) gains little.
constexpr std::size_t kOverlapWorkers = 16;
// The symbols' states kept between batches, planned on without a read (docs/design.md section 6a): a state
// is a few KB (at most max_held_ticks ticks and max_fire_records fires), so this keeps thousands of symbols
// in a small share of the function's memory (lib/stack/function.py: 3072 MB).
constexpr std::size_t kStateCacheBytes = std::size_t{64} << 20;

// The cold load's outcome, logged on its thread: `rules loaded` with the count (what the benchmark's
// "process start to rules loaded" waits for), or why it failed.
void log_load(const tap::obs::Logger& log, const tap::Result<tap::LoadSummary, tap::AwsError>& loaded) {
  tap::obs::LogEvent event{.level = tap::obs::Level::kWarn,
                           .message = "rules not loaded at init, an invocation loads them again"};
  if (!loaded) {
    event.reason = loaded.error().code + ": " + loaded.error().message;
  } else {
    event.level = tap::obs::Level::kInfo;
    event.message = "rules loaded";
    event.fields.emplace_back("rules", static_cast<std::int64_t>(loaded->versions));
    event.fields.emplace_back("invalid", static_cast<std::int64_t>(loaded->invalid));
    event.fields.emplace_back("load_ms", static_cast<double>(loaded->took_micros) / 1000.0);
  }
  log.log(event);
}

std::int64_t real_micros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

using WallMicros = std::function<std::int64_t()>;

// R7: every read of "now" that decides behaviour goes through the clock (TAP_CLOCK, clock_spec.hpp), in both
// functions; the invocation deadline stays on the steady clock and log and metric records keep real time.
tap::Result<WallMicros> wall_clock_from(const tap::EnvLookup& env) {
  const auto spec = tap::parse_clock_spec(env(tap::kClockVariable).value_or(""));
  if (!spec)
    return tap::Error{"invalid_clock", std::string(tap::kClockVariable) + ": " + spec.error().message};
  return WallMicros([spec = spec.value()] { return spec.now(real_micros()); });
}

// The API function: rule and symbol routes over the change library on the rules table, markers from the
// state table, fired alerts from the alerts table's by-owner index, cursor keys made with KMS.
int run_api(const tap::EnvLookup& env) {
  auto config = tap::load_api_config(env);
  if (!config) return init_error("Runtime.InvalidConfiguration", config.error().message);
  const auto clock = wall_clock_from(env);
  if (!clock) return init_error("Runtime.InvalidConfiguration", clock.error().message);
  const WallMicros wall_micros = clock.value();
  auto aws = tap::AwsLayer::from_env(env);
  if (!aws) return init_error("Runtime.InvalidConfiguration", aws.error().message);
  tap::obs::Logger log(tap::obs::stdout_sink(), std::chrono::system_clock::now, config->log_level);
  tap::AwsLayer& layer = *aws.value();
  tap::DynamoDbRulesStore store(
      layer.dynamodb, {.table = config->rules_table, .shards = config->rules_shards}, tap::random_rule_id);
  tap::DynamoDbOnceMarkers markers(layer.dynamodb, config->state_table);
  tap::DynamoDbIdempotency idempotency(layer.dynamodb, config->rules_table);
  tap::ChangeService changes(
      store, wall_micros,
      [](std::int64_t micros) { std::this_thread::sleep_for(std::chrono::microseconds(micros)); },
      tap::random_rule_id, {.quota = static_cast<std::uint32_t>(config->rule_quota)});
  tap::DynamoDbCursorKeyStore key_store(layer.dynamodb, config->rules_table);
  tap::KmsDataKeys data_keys(layer.kms, config->kms_key_arn);
  tap::api::CursorKeySource cursor_keys(key_store, data_keys);
  tap::api::RuleRoutes rules(store, changes, markers, idempotency, cursor_keys, wall_micros);
  tap::api::Router router;
  rules.add_to(router);
  tap::DynamoDbAlertLog alert_log(layer.dynamodb, config->alerts_table);
  tap::api::AlertRoutesContext alerts{alert_log,
                                      store,
                                      cursor_keys,
                                      wall_micros,
                                      config->alerts_visible_after_seconds,
                                      config->max_notify_age_seconds};
  tap::api::add_alert_routes(router, alerts);
  tap::api::SymbolRoutesContext symbols{store, changes};
  tap::api::add_symbol_routes(router, symbols);
  const tap::api::ApiFunction api(router, config->operator_group);
  log.info("API initialised");
  return tap::runtime::run_handler([&](const tap::runtime::InvocationRequest& request) {
    log.set_request_id(request.request_id);
    const tap::api::ApiResponse response = api.handle(request.payload, request.steady_deadline);
    if (response.status >= 500) {
      log.log({.level = tap::obs::Level::kError, .message = "API error", .reason = response.body});
    }
    return tap::runtime::InvocationResponse::success(tap::api::to_payload(response));
  });
}

}  // namespace

int main() {
#ifdef TAP_GCOV_DUMP_ON_SIGTERM
  std::signal(SIGTERM, dump_coverage_and_exit);
#endif
  const tap::EnvLookup env = tap::process_env();
  if (env("_HANDLER") == std::optional<std::string>("api")) return run_api(env);
  auto config = tap::load_function_config(env);
  if (!config) return init_error("Runtime.InvalidConfiguration", config.error().message);
  auto aws = tap::AwsLayer::from_env(env);
  if (!aws) return init_error("Runtime.InvalidConfiguration", aws.error().message);
  const auto clock = wall_clock_from(env);
  if (!clock) return init_error("Runtime.InvalidConfiguration", clock.error().message);
  const WallMicros wall_micros = clock.value();
  const auto wall_clock = [wall_micros] {
    return std::chrono::system_clock::time_point(std::chrono::microseconds(wall_micros()));
  };
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

  // The rules: the rules storage through the cache (RULES_TABLE, what the stack sets), else a document
  // (RULES_PATH: the black-box and golden tests' fixtures).
  std::unique_ptr<tap::RuleSource> source;
  std::optional<tap::DynamoDbRulesStore> rules_store;
  std::vector<std::unique_ptr<tap::AwsLayer>> scan_layers;
  std::vector<tap::DynamoDbRulesStore> scan_stores;
  // The cold load's thread logs through this one (declared before the cache, whose end joins that thread).
  const tap::obs::Logger load_log(tap::obs::stdout_sink(), std::chrono::system_clock::now, config->log_level);
  std::optional<tap::RulesCache> cache;
  const tap::RulesCacheSettings cache_settings;
  if (!config->rules_table.empty()) {
    const tap::RulesTableSettings table{.table = config->rules_table, .shards = config->rules_shards};
    rules_store.emplace(layer.dynamodb, table, tokens);
    for (int i = 0; i < kScanConnections; ++i) {
      auto scan_layer = tap::AwsLayer::from_env(env);  // succeeded above: the same environment
      scan_stores.emplace_back(scan_layer.value()->dynamodb, table, tokens);
      scan_layers.push_back(std::move(scan_layer).value());
    }
    std::vector<tap::RulesStore*> scanners;
    for (tap::DynamoDbRulesStore& s : scan_stores) scanners.push_back(&s);
    cache.emplace(*rules_store, wall_micros, cache_settings, std::move(scanners));
    source = std::make_unique<tap::CachedRuleSource>(*cache, cache_settings.horizon_micros);
  } else {
    auto document = read_file(config->rules_path);
    if (!document) return init_error("Runtime.InvalidRules", document.error().message);
    auto rules = tap::load_rules(document.value());
    if (!rules) return init_error("Runtime.InvalidRules", rules.error().message);
    source =
        std::make_unique<tap::DocumentRuleSource>(rules->rules(), std::vector<tap::SymbolControlRecord>{});
  }
  tap::BatchHandler handler(*source, {state, ledger, notifier, dead_letters}, log, wall_clock,
                            tap::engine_limits(config.value()), config->max_notify_age_seconds);
  handler.overlap_calls(kOverlapWorkers);
  handler.cache_states(kStateCacheBytes);
  if (!cache) {
    log.info("initialised with " + std::to_string(source->versions().size()) + " rules");
  } else {
    // The last init step: the load starts beside the first /next; its thread logs through a logger of its
    // own (no request id to share), one write per line.
    cache->start_load(scan_stores.front(), std::chrono::steady_clock::now() + kColdLoadBudget,
                      [&load_log](const tap::Result<tap::LoadSummary, tap::AwsError>& loaded) {
                        log_load(load_log, loaded);
                      });
    log.info("initialised, the rules table loading beside the first invocation");
  }

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
