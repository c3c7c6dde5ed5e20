#include "tap/app/function_config.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "tap/app/function_settings_table.hpp"
#include "tap/core/alert.hpp"

namespace tap {
namespace {

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    const auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

const std::map<std::string, std::string> kComplete = {
    {"ALERTS_TABLE", "market-alerts-dev"},
    {"STATE_TABLE", "alert-state-dev"},
    {"TOPIC_ARN", "arn:aws:sns:us-east-1:1:trading-alerts-dev"},
    {"DLQ_URL", "https://sqs/1/market-data-dlq-dev"},
    {"RULES_TABLE", "alert-rules-dev"}};

TEST(FunctionConfig, ReadsTheStackVariablesWithDefaults) {
  auto cfg = load_function_config(env_of(kComplete));
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(cfg->alerts_table, "market-alerts-dev");
  EXPECT_EQ(cfg->state_table, "alert-state-dev");
  EXPECT_EQ(cfg->rules_table, "alert-rules-dev");
  EXPECT_EQ(cfg->rules_path, "") << "the zip carries no rules document: no default path";
  EXPECT_EQ(cfg->rules_shards, 1U);
  EXPECT_EQ(cfg->log_level, obs::Level::kInfo);
  EXPECT_EQ(cfg->metrics_namespace, "MarketAlerts");
  EXPECT_EQ(cfg->function_name, "data-processor");
}

TEST(FunctionConfig, TheRulesComeFromTheTableOrFromADocumentForTests) {
  auto vars = kComplete;
  vars.erase("RULES_TABLE");
  auto neither = load_function_config(env_of(vars));
  ASSERT_FALSE(neither.ok());
  EXPECT_EQ(neither.error().message, "RULES_TABLE is not set");
  vars["RULES_PATH"] = "/tmp/golden-rules.json";
  auto document = load_function_config(env_of(vars));
  ASSERT_TRUE(document.ok());
  EXPECT_EQ(document->rules_path, "/tmp/golden-rules.json");
  EXPECT_EQ(document->rules_table, "");
}

// One shard count for every reader and writer of the rules table: the table's setting, read once.
TEST(FunctionConfig, RulesShardsFollowTheSettingsTable) {
  auto vars = kComplete;
  vars["RULES_SHARDS"] = "8";
  EXPECT_EQ(load_function_config(env_of(vars))->rules_shards, 8U);
  EXPECT_EQ(rules_shards_from_env(env_of(vars)).value(), 8U);
  vars["RULES_SHARDS"] = "0";
  auto refused = load_function_config(env_of(vars));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message, "RULES_SHARDS must be an integer from 1 to 1024, not 0");
  EXPECT_EQ(rules_shards_from_env(env_of(vars)).error().message, refused.error().message);
}

TEST(FunctionConfig, ExplicitSettingsWin) {
  auto vars = kComplete;
  vars["LOG_LEVEL"] = "DEBUG";
  vars["AWS_LAMBDA_FUNCTION_NAME"] = "data-processor-pr7";
  EXPECT_EQ(load_function_config(env_of(vars))->log_level, obs::Level::kDebug);
  EXPECT_EQ(load_function_config(env_of(vars))->function_name, "data-processor-pr7");
  vars["RULES_PATH"] = "/tmp/rules.json";
  vars["LOG_LEVEL"] = "WARN";
  EXPECT_EQ(load_function_config(env_of(vars))->rules_path, "/tmp/rules.json");
  EXPECT_EQ(load_function_config(env_of(vars))->log_level, obs::Level::kWarn);
  vars["LOG_LEVEL"] = "ERROR";
  EXPECT_EQ(load_function_config(env_of(vars))->log_level, obs::Level::kError);
}

// The settings table (config/function-settings.json) is the contract: every value it allows starts the
// function, with the logger level of that name; its default is the default.
TEST(FunctionConfig, EveryLogLevelOfTheTableIsALoggerLevel) {
  const auto& table = settings::kEnumSettings;
  ASSERT_EQ(table.size(), 1u);
  EXPECT_EQ(table[0].name, "LOG_LEVEL");
  EXPECT_EQ(table[0].default_value, obs::level_name(load_function_config(env_of(kComplete))->log_level));
  for (const std::string_view value : table[0].values) {
    auto vars = kComplete;
    vars["LOG_LEVEL"] = std::string(value);
    const auto cfg = load_function_config(env_of(vars));
    ASSERT_TRUE(cfg.ok()) << value;
    EXPECT_EQ(obs::level_name(cfg->log_level), value);
  }
}

TEST(FunctionConfig, ValuesOutsideTheTableAreRefused) {
  for (const char* value : {"TRACE", "info", "INFO\n", " INFO", ""}) {
    auto vars = kComplete;
    vars["LOG_LEVEL"] = value;
    const auto cfg = load_function_config(env_of(vars));
    ASSERT_FALSE(cfg.ok()) << value;
    EXPECT_EQ(cfg.error().message, "LOG_LEVEL must be DEBUG, INFO, WARN or ERROR, not " + std::string(value));
  }
}

// The operators' group (A1): the table's text setting, read by the API function's configuration.
TEST(FunctionConfig, TheOperatorGroupIsTheTablesTextSetting) {
  ASSERT_EQ(settings::kTextSettings.size(), 1u);
  const settings::TextSetting& group = settings::kTextSettings[0];
  EXPECT_EQ(group.name, "OPERATOR_GROUP");
  const auto defaults = load_api_config(env_of(kComplete));
  ASSERT_TRUE(defaults.ok()) << defaults.error().message;
  EXPECT_EQ(defaults->operator_group, "operators");
  EXPECT_EQ(defaults->operator_group, group.default_value);
  for (const std::string& value :
       std::vector<std::string>{"desk-ops", "a", "x_.:@+=-", std::string(128, 'g')}) {
    auto vars = kComplete;
    vars["OPERATOR_GROUP"] = value;
    const auto cfg = load_api_config(env_of(vars));
    ASSERT_TRUE(cfg.ok()) << value;
    EXPECT_EQ(cfg->operator_group, value);
  }
  for (const std::string& value : std::vector<std::string>{
           "", "ops team", "[ops]", "ops/desk", "op\xc3\xa9rateurs", "ops\n", std::string(129, 'g')}) {
    auto vars = kComplete;
    vars["OPERATOR_GROUP"] = value;
    const auto cfg = load_api_config(env_of(vars));
    ASSERT_FALSE(cfg.ok()) << value;
    EXPECT_EQ(cfg.error().message,
              "OPERATOR_GROUP must be 1 to 128 ASCII letters, digits or _.:@+=-, not " + value);
  }
}

// W by event time (F3: configurable, default 60 s), bounded by config/function-settings.json.
TEST(FunctionConfig, TheReorderWindowDefaultsToTheTablesSixtySeconds) {
  ASSERT_EQ(settings::kIntegerSettings.size(),
            5u);  // W, F5's age, RULES_SHARDS, the API's quota (R1), D (A2)
  const settings::IntegerSetting& window = settings::kIntegerSettings[0];
  EXPECT_EQ(window.name, "REORDER_WINDOW_SECONDS");
  EXPECT_EQ(window.default_value, 60);
  const auto cfg = load_function_config(env_of(kComplete));
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(cfg->reorder_window_seconds, window.default_value);
  EXPECT_EQ(engine_limits(cfg.value()).reorder_window_micros, 60 * kMicrosPerSecond);
}

TEST(FunctionConfig, TheConfiguredReorderWindowReachesTheEngineLimits) {
  const settings::IntegerSetting& window = settings::kIntegerSettings[0];
  for (const std::int64_t seconds : {window.minimum, std::int64_t{90}, window.maximum}) {
    auto vars = kComplete;
    vars["REORDER_WINDOW_SECONDS"] = std::to_string(seconds);
    const auto cfg = load_function_config(env_of(vars));
    ASSERT_TRUE(cfg.ok()) << seconds;
    EXPECT_EQ(cfg->reorder_window_seconds, seconds);
    const EngineLimits limits = engine_limits(cfg.value());
    EXPECT_EQ(limits.reorder_window_micros, seconds * kMicrosPerSecond);
    // Only W is configured: the count bounds that size the state item stay the engine's.
    EXPECT_EQ(limits.max_held_ticks, EngineLimits{}.max_held_ticks);
    EXPECT_EQ(limits.max_fire_records, EngineLimits{}.max_fire_records);
  }
  auto vars = kComplete;
  vars["REORDER_WINDOW_SECONDS"] = "0090";  // leading zeros are digits too (lib/config.py reads them so)
  EXPECT_EQ(load_function_config(env_of(vars))->reorder_window_seconds, 90);
}

// F5: how old a tick may be at publish before its notification says `delayed` (default 60 s).
TEST(FunctionConfig, TheMaximumNotifyAgeComesFromTheTable) {
  const settings::IntegerSetting& age = settings::kIntegerSettings[1];
  EXPECT_EQ(age.name, "MAX_NOTIFY_AGE_SECONDS");
  EXPECT_EQ(age.default_value, kDefaultMaxNotifyAgeSeconds);
  EXPECT_EQ(load_function_config(env_of(kComplete))->max_notify_age_seconds, 60);
  auto vars = kComplete;
  vars["MAX_NOTIFY_AGE_SECONDS"] = "86400";
  EXPECT_EQ(load_function_config(env_of(vars))->max_notify_age_seconds, 86400);
  for (const std::string& value :
       {std::string("0"), std::string("86401"), std::string("1e3"), std::string(" 5")}) {
    vars["MAX_NOTIFY_AGE_SECONDS"] = value;
    const auto cfg = load_function_config(env_of(vars));
    ASSERT_FALSE(cfg.ok()) << value;
    EXPECT_EQ(cfg.error().message, "MAX_NOTIFY_AGE_SECONDS must be an integer from 1 to 86400, not " + value);
  }
}

TEST(FunctionConfig, HostileReorderWindowsStopTheStart) {
  const settings::IntegerSetting& window = settings::kIntegerSettings[0];
  for (const std::string& value :
       {std::string(), std::string("-1"), std::string("1e3"), std::string("999999999999999999999"),
        std::string(" 60"), std::string("60 "), std::string("60\n"), std::string("+60"), std::string("0x3c"),
        std::string("60.0"), std::string("\xef\xbc\x96\xef\xbc\x90"),  // fullwidth 60
        std::to_string(window.minimum - 1), std::to_string(window.maximum + 1)}) {
    auto vars = kComplete;
    vars["REORDER_WINDOW_SECONDS"] = value;
    const auto cfg = load_function_config(env_of(vars));
    ASSERT_FALSE(cfg.ok()) << value;
    EXPECT_EQ(cfg.error().code, "invalid_configuration");
    EXPECT_EQ(cfg.error().message, "REORDER_WINDOW_SECONDS must be an integer from 1 to 3600, not " + value);
  }
}

TEST(FunctionConfig, EveryProblemIsNamed) {
  auto cfg = load_function_config(env_of({{"LOG_LEVEL", "LOUD"}}));
  ASSERT_FALSE(cfg.ok());
  EXPECT_EQ(cfg.error().code, "invalid_configuration");
  EXPECT_EQ(cfg.error().message,
            "ALERTS_TABLE is not set; STATE_TABLE is not set; TOPIC_ARN is not set; DLQ_URL is not set; "
            "RULES_TABLE is not set; LOG_LEVEL must be DEBUG, INFO, WARN or ERROR, not LOUD");
}

}  // namespace
}  // namespace tap
