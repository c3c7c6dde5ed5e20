#include "tap/core/alert.hpp"

#include <charconv>

#include "tap/core/json_text.hpp"

namespace tap {
namespace {

std::string_view severity_tag(Severity s) {
  switch (s) {
    case Severity::info:
      return "INFO";
    case Severity::warning:
      return "WARNING";
    case Severity::critical:
      break;
  }
  return "CRITICAL";
}

std::string_view condition_phrase(Condition c) {
  switch (c) {
    case Condition::price_above:
      return "above";
    case Condition::price_below:
      return "below";
    case Condition::crosses_above:
      return "crossed above";
    case Condition::crosses_below:
      return "crossed below";
    case Condition::spread_above:
      return "spread above";
    case Condition::volume_above:
      break;
  }
  return "volume above";
}

template <typename T>
void field(std::string& out, std::string_view name, T value) {
  out += ',';
  json::append_string(out, name);
  out += ':';
  json::append_number(out, value);
}

}  // namespace

AlertId alert_id(const Rule& rule, const Tick& tick) { return {tick.symbol, tick.ts.micros, rule.id}; }

std::string to_string(const AlertId& id) {
  std::string s;
  s.reserve(id.symbol.size() + 1 + kNormalisedTimestampLength + 1 + id.rule_id.size());
  s += id.symbol;
  s += '|';
  s.resize(s.size() + kNormalisedTimestampLength);
  format_timestamp_to(id.tick_micros, s.data() + id.symbol.size() + 1);
  s += '#';
  s += id.rule_id;
  return s;
}

SnsNotification sns_notification(const Alert& a, std::int64_t publish_time_micros) {
  const Rule& r = *a.rule;
  const Tick& t = *a.tick;
  SnsNotification n;
  // "[CRITICAL] AAPL crossed above 200 at 200.5 (aapl-breakout-200)": every part is ASCII by validation.
  std::string subject;
  subject.reserve(100);
  subject += '[';
  subject += severity_tag(r.severity);
  subject += "] ";
  subject += t.symbol;
  subject += ' ';
  subject += condition_phrase(r.condition);
  subject += ' ';
  json::append_number(subject, r.threshold);
  subject += ": ";
  if (r.condition == Condition::spread_above) {
    json::append_number(subject, *t.ask - *t.bid);
  } else if (r.condition == Condition::volume_above) {
    json::append_number(subject, *t.volume);
  } else {
    json::append_number(subject, t.price);
  }
  subject += " (";
  subject += r.id;
  subject += ')';
  if (subject.size() > 100) subject.resize(100);  // long rule ids: the id is in the body
  n.subject = std::move(subject);

  std::string& m = n.message;
  m.reserve(768);
  m += "{\"alert_id\":";
  json::append_string(m, to_string(alert_id(r, t)));
  m += ",\"symbol\":";
  json::append_string(m, t.symbol);
  m += ",\"rule_id\":";
  json::append_string(m, r.id);
  m += ",\"condition\":";
  json::append_string(m, to_string(r.condition));
  field(m, "threshold", r.threshold);
  field(m, "price", t.price);
  if (t.bid) field(m, "bid", *t.bid);
  if (t.ask) field(m, "ask", *t.ask);
  if (t.volume) field(m, "volume", *t.volume);
  m += ",\"tick_time\":";
  json::append_string(m, t.ts.text());
  m += ",\"age_ms\":";
  const std::int64_t age_ms = (publish_time_micros - t.ts.micros) / 1000;
  m += std::to_string(age_ms);
  m += ",\"severity\":";
  json::append_string(m, to_string(r.severity));
  if (!r.description.empty()) {
    m += ",\"description\":";
    json::append_string(m, r.description);
  }
  m += ",\"message_id\":";
  json::append_string(m, a.message_id);
  m += '}';

  n.attributes = {{"symbol", t.symbol}, {"rule", r.id}, {"severity", std::string(to_string(r.severity))}};
  return n;
}

}  // namespace tap
