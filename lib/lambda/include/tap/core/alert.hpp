// Alert records (SPEC F4/F5) as pure functions: the DynamoDB item and the SNS notification of one alert.
//
// Table key: symbol (S) + timestamp (S) = "<normalised tick ts>#<rule id>". The alert id carried in the
// notification is "<symbol>|<timestamp>" ('|' occurs in neither a symbol nor a rule id), so the id names
// the table key exactly and subscribers can drop a repeated publish by it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tap/core/rules.hpp"
#include "tap/core/tick.hpp"

namespace tap {

struct Alert {
  const Rule* rule = nullptr;
  const Tick* tick = nullptr;
  std::string_view message_id;  // the SQS message the tick came from (a view into the batch's event)
};

std::string alert_sort_key(const Rule& rule, const Tick& tick);  // "<ts>#<rule id>"
std::string alert_id(const Rule& rule, const Tick& tick);        // "<symbol>|<ts>#<rule id>"

// The item in DynamoDB JSON ({"symbol":{"S":"AAPL"},...}), ready for a PutItem "Item". created_at_micros is
// the wall clock when the handler builds it. notification_state is "pending".
std::string dynamodb_item(const Alert& alert, std::int64_t created_at_micros);

struct SnsNotification {
  std::string subject;                                          // ASCII, <= 100 chars
  std::string message;                                          // JSON
  std::vector<std::pair<std::string, std::string>> attributes;  // name -> String value
};
SnsNotification sns_notification(const Alert& alert, std::int64_t publish_time_micros);

}  // namespace tap
