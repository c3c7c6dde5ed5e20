// The function's own configuration, from the environment the stack sets (F9); AWS settings (region,
// endpoints, credentials, CA bundle) come from aws_config.hpp with the SDK conventions.
#pragma once

#include <cstdint>
#include <string>

#include "tap/aws/aws_config.hpp"
#include "tap/core/symbol_engine.hpp"
#include "tap/runtime/log.hpp"

namespace tap {

struct FunctionConfig {
  std::string alerts_table;  // ALERTS_TABLE
  std::string state_table;   // STATE_TABLE
  std::string topic_arn;     // TOPIC_ARN
  std::string dlq_url;       // DLQ_URL
  // RULES_TABLE: the rules storage (I13), what the stack sets. RULES_PATH: a rules document instead, for the
  // bootstrap's own black-box and golden tests (R7); the zip carries none. One of them is required; when both
  // are set the table wins.
  std::string rules_table;
  std::string rules_path;
  // RULES_SHARDS: the rules table's change heads, one setting for every reader and writer (rules_shards).
  std::uint32_t rules_shards = 1;
  obs::Level log_level = obs::Level::kInfo;  // LOG_LEVEL: DEBUG, INFO, WARN, ERROR
  // REORDER_WINDOW_SECONDS: W by event time (F3), within the bounds of config/function-settings.json; when
  // unset, the table's default (load_function_config sets it either way).
  std::int64_t reorder_window_seconds = 0;
  // MAX_NOTIFY_AGE_SECONDS (F5): a notification whose tick is older than this at publish is `delayed`.
  std::int64_t max_notify_age_seconds = 0;
  std::string metrics_namespace;  // METRICS_NAMESPACE, default "MarketAlerts"
  std::string function_name;      // AWS_LAMBDA_FUNCTION_NAME (a metric dimension)
};

// Every missing or invalid variable is named in the error, all at once.
Result<FunctionConfig> load_function_config(const EnvLookup& env);

// RULES_SHARDS by the table's rule (config/function-settings.json), its default when unset: the one reading
// of the shard count, shared by the function, tap_rules and the API (error code "invalid_configuration").
Result<std::uint32_t> rules_shards_from_env(const EnvLookup& env);

// The API function's configuration (_HANDLER=api, issue 16): the same zip and bootstrap, its own settings.
struct ApiConfig {
  std::string rules_table;         // RULES_TABLE
  std::string alerts_table;        // ALERTS_TABLE
  std::string state_table;         // STATE_TABLE (the `once` markers, R2)
  std::string operator_group;      // OPERATOR_GROUP (config/function-settings.json): operators' group (A1)
  std::uint32_t rules_shards = 1;  // RULES_SHARDS: the change heads, as every writer and reader
  std::int64_t rule_quota = 0;     // RULE_QUOTA (config/function-settings.json)
  std::int64_t alerts_visible_after_seconds = 0;  // ALERTS_VISIBLE_AFTER_SECONDS: D (A2)
  std::int64_t max_notify_age_seconds = 0;        // MAX_NOTIFY_AGE_SECONDS: a listed alert's `delayed` (F5)
  // KMS_KEY_ARN (optional): the stack's key, under which the cursor MAC keys are made (docs/design.md 13.2);
  // without it every list call that needs a cursor key answers 502.
  std::string kms_key_arn;
  obs::Level log_level = obs::Level::kInfo;  // LOG_LEVEL
};
Result<ApiConfig> load_api_config(const EnvLookup& env);

// The engine's limits with the configured W; the count bounds stay the engine's own (they size the item).
EngineLimits engine_limits(const FunctionConfig& config);

}  // namespace tap
