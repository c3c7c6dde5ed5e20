#include "tap/app/function_config.hpp"

namespace tap {

Result<FunctionConfig> load_function_config(const EnvLookup& env) {
  FunctionConfig cfg;
  std::string problems;
  const auto require = [&](const char* name, std::string& out) {
    if (auto v = env(name)) {
      out = *v;
    } else {
      problems += problems.empty() ? "" : "; ";
      problems += std::string(name) + " is not set";
    }
  };
  require("ALERTS_TABLE", cfg.alerts_table);
  require("STATE_TABLE", cfg.state_table);
  require("TOPIC_ARN", cfg.topic_arn);
  require("DLQ_URL", cfg.dlq_url);
  if (auto v = env("RULES_PATH")) {
    cfg.rules_path = *v;
  } else {
    cfg.rules_path = env("LAMBDA_TASK_ROOT").value_or("/var/task") + "/alert-rules.json";
  }
  const std::string level = env("LOG_LEVEL").value_or("INFO");
  if (level == "DEBUG") {
    cfg.log_level = obs::Level::kDebug;
  } else if (level == "INFO") {
    cfg.log_level = obs::Level::kInfo;
  } else if (level == "WARN") {
    cfg.log_level = obs::Level::kWarn;
  } else if (level == "ERROR") {
    cfg.log_level = obs::Level::kError;
  } else {
    problems += problems.empty() ? "" : "; ";
    problems += "LOG_LEVEL must be DEBUG, INFO, WARN or ERROR, not " + level;
  }
  cfg.metrics_namespace = env("METRICS_NAMESPACE").value_or("MarketAlerts");
  cfg.function_name = env("AWS_LAMBDA_FUNCTION_NAME").value_or("data-processor");
  if (!problems.empty()) return Error{"invalid_configuration", problems};
  return cfg;
}

}  // namespace tap
