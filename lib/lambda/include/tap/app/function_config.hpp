// The function's own configuration, from the environment the stack sets (F9); AWS settings (region,
// endpoints, credentials, CA bundle) come from aws_config.hpp with the SDK conventions.
#pragma once

#include <string>

#include "tap/aws/aws_config.hpp"
#include "tap/runtime/log.hpp"

namespace tap {

struct FunctionConfig {
  std::string alerts_table;                  // ALERTS_TABLE
  std::string state_table;                   // STATE_TABLE
  std::string topic_arn;                     // TOPIC_ARN
  std::string dlq_url;                       // DLQ_URL
  std::string rules_path;                    // RULES_PATH, default $LAMBDA_TASK_ROOT/alert-rules.json
  obs::Level log_level = obs::Level::kInfo;  // LOG_LEVEL: DEBUG, INFO, WARN, ERROR
  std::string metrics_namespace;             // METRICS_NAMESPACE, default "MarketAlerts"
  std::string function_name;                 // AWS_LAMBDA_FUNCTION_NAME (a metric dimension)
};

// Every missing or invalid variable is named in the error, all at once.
Result<FunctionConfig> load_function_config(const EnvLookup& env);

}  // namespace tap
