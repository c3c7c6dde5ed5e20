#include "tap/app/function_config.hpp"

#include <array>
#include <cstdint>
#include <optional>

#include "tap/app/function_settings_table.hpp"
#include "tap/core/alert.hpp"

namespace tap {
namespace {

// The table's entry for `name`; a name the table lacks makes the constant expression (and the build) fail.
consteval const settings::EnumSetting& enum_setting(std::string_view name) {
  std::size_t i = 0;
  while (i < settings::kEnumSettings.size() && settings::kEnumSettings[i].name != name) ++i;
  return settings::kEnumSettings[i];
}

consteval const settings::IntegerSetting& integer_setting(std::string_view name) {
  std::size_t i = 0;
  while (i < settings::kIntegerSettings.size() && settings::kIntegerSettings[i].name != name) ++i;
  return settings::kIntegerSettings[i];
}

constexpr const settings::EnumSetting& kLogLevel = enum_setting("LOG_LEVEL");
constexpr const settings::IntegerSetting& kReorderWindow = integer_setting("REORDER_WINDOW_SECONDS");
constexpr const settings::IntegerSetting& kMaxNotifyAge = integer_setting("MAX_NOTIFY_AGE_SECONDS");
constexpr const settings::IntegerSetting& kRulesShards = integer_setting("RULES_SHARDS");
// A shard index is a std::uint32_t (rules_dynamodb.hpp): the table's bound must fit it.
static_assert(kRulesShards.minimum >= 1 && kRulesShards.maximum <= UINT32_MAX);
// The core's default (a caller that passes no age) is the table's: one value.
static_assert(kMaxNotifyAge.default_value == kDefaultMaxNotifyAgeSeconds);

// The setting's value in `env` (its default when unset), or why the function refuses the text.
Result<std::int64_t> integer_from_env(const settings::IntegerSetting& setting, const EnvLookup& env) {
  const auto text = env(setting.name);
  if (!text) return setting.default_value;
  if (const auto value = setting.parse(*text)) return *value;
  return Error{"invalid_configuration",
               std::string(setting.name) + " must be " + setting.allowed() + ", not " + *text};
}

// The logger's level of that name. The table decides what is allowed; a unit test checks that every value
// it allows is a level.
std::optional<obs::Level> level_named(std::string_view name) {
  for (const auto level : {obs::Level::kDebug, obs::Level::kInfo, obs::Level::kWarn, obs::Level::kError}) {
    if (obs::level_name(level) == name) return level;
  }
  return std::nullopt;
}

}  // namespace

Result<FunctionConfig> load_function_config(const EnvLookup& env) {
  FunctionConfig cfg;
  std::string problems;
  const auto problem = [&](const std::string& text) {
    problems += problems.empty() ? "" : "; ";
    problems += text;
  };
  const auto require = [&](const char* name, std::string& out) {
    if (auto v = env(name)) {
      out = *v;
    } else {
      problem(std::string(name) + " is not set");
    }
  };
  require("ALERTS_TABLE", cfg.alerts_table);
  require("STATE_TABLE", cfg.state_table);
  require("TOPIC_ARN", cfg.topic_arn);
  require("DLQ_URL", cfg.dlq_url);
  cfg.rules_table = env("RULES_TABLE").value_or("");
  cfg.rules_path = env("RULES_PATH").value_or("");
  if (cfg.rules_table.empty() && cfg.rules_path.empty()) problem("RULES_TABLE is not set");
  const std::string level = env(kLogLevel.name).value_or(std::string(kLogLevel.default_value));
  const auto parsed = level_named(level);
  if (parsed && kLogLevel.allows(level)) {
    cfg.log_level = *parsed;
  } else {
    problem("LOG_LEVEL must be " + kLogLevel.allowed() + ", not " + level);
  }
  const auto integer = [&](const settings::IntegerSetting& setting, std::int64_t& out) {
    auto value = integer_from_env(setting, env);
    if (value) {
      out = value.value();
    } else {
      problem(value.error().message);
    }
  };
  integer(kReorderWindow, cfg.reorder_window_seconds);
  integer(kMaxNotifyAge, cfg.max_notify_age_seconds);
  if (auto shards = rules_shards_from_env(env)) {
    cfg.rules_shards = shards.value();
  } else {
    problem(shards.error().message);
  }
  cfg.metrics_namespace = env("METRICS_NAMESPACE").value_or("MarketAlerts");
  cfg.function_name = env("AWS_LAMBDA_FUNCTION_NAME").value_or("data-processor");
  if (!problems.empty()) return Error{"invalid_configuration", problems};
  return cfg;
}

Result<std::uint32_t> rules_shards_from_env(const EnvLookup& env) {
  auto shards = integer_from_env(kRulesShards, env);
  if (!shards) return shards.error();
  return static_cast<std::uint32_t>(shards.value());
}

EngineLimits engine_limits(const FunctionConfig& config) {
  EngineLimits limits;
  limits.reorder_window_micros = config.reorder_window_seconds * kMicrosPerSecond;
  return limits;
}

}  // namespace tap
