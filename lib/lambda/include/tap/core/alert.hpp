// Alerts (F4/F5) as pure values: an alert's identity and its SNS notification.
//
// An alert is one (rule, tick) that fired; at most one alert exists per AlertId (symbol, tick time, rule),
// whatever the deliveries. Its id as text, "<symbol>|<normalised tick ts>#<rule id>" ('|' occurs in neither a
// symbol nor a rule id), travels in the notification so that subscribers can drop a repeated publish by it.
// How an alert is stored (table keys, attributes, notification state) is the store adapter's business.
#pragma once

#include <compare>
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

struct AlertId {
  std::string symbol;
  std::int64_t tick_micros = 0;  // the tick's timestamp (UTC microseconds)
  std::string rule_id;
  friend auto operator<=>(const AlertId&, const AlertId&) = default;
};
AlertId alert_id(const Rule& rule, const Tick& tick);
std::string to_string(const AlertId& id);  // "<symbol>|<normalised tick ts>#<rule id>"

struct SnsNotification {
  std::string subject;                                          // ASCII, <= 100 chars
  std::string message;                                          // JSON
  std::vector<std::pair<std::string, std::string>> attributes;  // name -> String value
};
SnsNotification sns_notification(const Alert& alert, std::int64_t publish_time_micros);

}  // namespace tap
