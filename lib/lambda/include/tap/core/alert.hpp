// Alerts (F4/F5) as pure values: an alert's identity and its SNS notification.
//
// An alert is one (rule, tick) that fired; at most one alert exists per AlertId (symbol, tick time, rule),
// whatever the deliveries. Its id as text, "<symbol>|<normalised tick ts>#<rule id>" ('|' occurs in neither a
// symbol nor a rule id), travels in the notification so that subscribers can drop a repeated publish by it.
// Its notification (F5) carries three texts for SNS MessageStructure=json: `message`, the JSON for machines
// (the `default` every SQS/HTTPS subscriber receives), and `email` and `sms`, read by people: the rule's
// message_template when it has one (tap/core/message_template.hpp), else a sentence per condition kind, e.g.
// "AAPL crossed above 200.00 at 14:30:01.123 UTC (201.02) -- rule 'breakout'". The SMS text is at most
// kMaxSmsBytes bytes, cut on a UTF-8 boundary. `delayed` is true when the tick is older than the maximum
// notify age at publish time; `unvouched` is the alert's own flag (Alert::unvouched), the same on every
// repeat, and the e-mail text says it in a sentence. Message attributes: owner (when the rule has one: SNS
// refuses an empty value), symbol, rule, severity -- what filter policies route by (I5). How an alert is
// stored (table keys, attributes, notification state) is the store adapter's business.
#pragma once

#include <compare>
#include <cstddef>
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
  // The engine could not vouch that the in-order replay stores it (FireRecord::unvouched, symbol_engine.hpp).
  bool unvouched = false;
};

struct AlertId {
  std::string symbol;
  std::int64_t tick_micros = 0;  // the tick's timestamp (UTC microseconds)
  std::string rule_id;
  friend auto operator<=>(const AlertId&, const AlertId&) = default;
};
AlertId alert_id(const Rule& rule, const Tick& tick);
std::string to_string(const AlertId& id);  // "<symbol>|<normalised tick ts>#<rule id>"

inline constexpr std::size_t kMaxSmsBytes = 140;
inline constexpr std::int64_t kDefaultMaxNotifyAgeSeconds = 60;  // MAX_NOTIFY_AGE_SECONDS's default

struct SnsNotification {
  std::string subject;                                          // ASCII, <= 100 chars
  std::string message;                                          // JSON (the `default`)
  std::vector<std::pair<std::string, std::string>> attributes;  // name -> String value
  std::string email;                                            // text for people
  std::string sms;                                              // the same sentence, <= kMaxSmsBytes bytes
};
SnsNotification sns_notification(const Alert& alert, std::int64_t publish_time_micros,
                                 std::int64_t max_notify_age_seconds = kDefaultMaxNotifyAgeSeconds);
// The SNS Message for MessageStructure=json: {"default":message,"email":email,"sms":sms}.
std::string sns_message_structure(const SnsNotification& notification);
// The sentence people read (the template's or the condition's), before any SMS cut.
std::string alert_text(const Rule& rule, const Tick& tick);
// `text` cut to at most max_bytes bytes without splitting a UTF-8 sequence ("..." marks a cut).
std::string truncate_utf8(std::string_view text, std::size_t max_bytes);

}  // namespace tap
