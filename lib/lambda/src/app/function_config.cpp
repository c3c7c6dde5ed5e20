#include "tap/app/function_config.hpp"

#include <algorithm>
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

consteval const settings::TextSetting& text_setting(std::string_view name) {
  std::size_t i = 0;
  while (i < settings::kTextSettings.size() && settings::kTextSettings[i].name != name) ++i;
  return settings::kTextSettings[i];
}

constexpr const settings::EnumSetting& kLogLevel = enum_setting("LOG_LEVEL");
constexpr const settings::IntegerSetting& kReorderWindow = integer_setting("REORDER_WINDOW_SECONDS");
constexpr const settings::IntegerSetting& kMaxNotifyAge = integer_setting("MAX_NOTIFY_AGE_SECONDS");
constexpr const settings::IntegerSetting& kRulesShards = integer_setting("RULES_SHARDS");
// A shard index is a std::uint32_t (rules_dynamodb.hpp): the table's bound must fit it.
static_assert(kRulesShards.minimum >= 1 && kRulesShards.maximum <= UINT32_MAX);
constexpr const settings::IntegerSetting& kRuleQuota = integer_setting("RULE_QUOTA");
constexpr const settings::IntegerSetting& kAlertsVisibleAfter =
    integer_setting("ALERTS_VISIBLE_AFTER_SECONDS");
constexpr const settings::TextSetting& kOperatorGroup = text_setting("OPERATOR_GROUP");
// A text setting's default obeys its own rule (lib/config.py checks the same when it loads the table).
static_assert(std::ranges::all_of(settings::kTextSettings,
                                  [](const settings::TextSetting& s) { return s.accepts(s.default_value); }));
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

// Reads variables, collecting every problem (one message, all at once).
class EnvReader {
 public:
  explicit EnvReader(const EnvLookup& env) : env_(env) {}
  std::optional<std::string> operator()(std::string_view name) const { return env_(name); }
  void problem(const std::string& text) {
    problems_ += problems_.empty() ? "" : "; ";
    problems_ += text;
  }
  void require(const char* name, std::string& out) {
    if (auto v = env_(name)) {
      out = *v;
    } else {
      problem(std::string(name) + " is not set");
    }
  }
  void level(obs::Level& out) {
    const std::string text = env_(kLogLevel.name).value_or(std::string(kLogLevel.default_value));
    const auto parsed = level_named(text);
    if (parsed && kLogLevel.allows(text)) {
      out = *parsed;
    } else {
      problem("LOG_LEVEL must be " + kLogLevel.allowed() + ", not " + text);
    }
  }
  void integer(const settings::IntegerSetting& setting, std::int64_t& out) {
    if (auto value = integer_from_env(setting, env_)) {
      out = value.value();
    } else {
      problem(value.error().message);
    }
  }
  void text(const settings::TextSetting& setting, std::string& out) {
    const std::string text = env_(setting.name).value_or(std::string(setting.default_value));
    if (setting.accepts(text)) {
      out = text;
    } else {
      problem(std::string(setting.name) + " must be " + setting.allowed() + ", not " + text);
    }
  }
  void shards(std::uint32_t& out) {
    if (auto value = rules_shards_from_env(env_)) {
      out = value.value();
    } else {
      problem(value.error().message);
    }
  }
  const std::string& problems() const { return problems_; }

 private:
  const EnvLookup& env_;
  std::string problems_;
};

}  // namespace

Result<FunctionConfig> load_function_config(const EnvLookup& env_lookup) {
  FunctionConfig cfg;
  EnvReader env(env_lookup);
  const auto require = [&](const char* name, std::string& out) { env.require(name, out); };
  require("ALERTS_TABLE", cfg.alerts_table);
  require("STATE_TABLE", cfg.state_table);
  require("TOPIC_ARN", cfg.topic_arn);
  require("DLQ_URL", cfg.dlq_url);
  cfg.rules_table = env("RULES_TABLE").value_or("");
  cfg.rules_path = env("RULES_PATH").value_or("");
  if (cfg.rules_table.empty() && cfg.rules_path.empty()) env.problem("RULES_TABLE is not set");
  env.level(cfg.log_level);
  env.integer(kReorderWindow, cfg.reorder_window_seconds);
  env.integer(kMaxNotifyAge, cfg.max_notify_age_seconds);
  env.shards(cfg.rules_shards);
  cfg.metrics_namespace = env("METRICS_NAMESPACE").value_or("MarketAlerts");
  cfg.function_name = env("AWS_LAMBDA_FUNCTION_NAME").value_or("data-processor");
  if (!env.problems().empty()) return Error{"invalid_configuration", env.problems()};
  return cfg;
}

Result<ApiConfig> load_api_config(const EnvLookup& env_lookup) {
  ApiConfig cfg;
  EnvReader env(env_lookup);
  env.require("RULES_TABLE", cfg.rules_table);
  env.require("ALERTS_TABLE", cfg.alerts_table);
  env.require("STATE_TABLE", cfg.state_table);
  env.text(kOperatorGroup, cfg.operator_group);
  env.shards(cfg.rules_shards);
  env.integer(kRuleQuota, cfg.rule_quota);
  env.integer(kAlertsVisibleAfter, cfg.alerts_visible_after_seconds);
  env.integer(kMaxNotifyAge, cfg.max_notify_age_seconds);
  cfg.kms_key_arn = env("KMS_KEY_ARN").value_or("");
  env.level(cfg.log_level);
  if (!env.problems().empty()) return Error{"invalid_configuration", env.problems()};
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
