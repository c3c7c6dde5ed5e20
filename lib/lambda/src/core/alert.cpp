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

void attr_s(std::string& out, std::string_view name, std::string_view value) {
  out += ',';
  json::append_string(out, name);
  out += ":{\"S\":";
  json::append_string(out, value);
  out += '}';
}

template <typename T>
void attr_n(std::string& out, std::string_view name, T value) {
  out += ',';
  json::append_string(out, name);
  out += ":{\"N\":\"";
  json::append_number(out, value);
  out += "\"}";
}

template <typename T>
void field(std::string& out, std::string_view name, T value) {
  out += ',';
  json::append_string(out, name);
  out += ':';
  json::append_number(out, value);
}

}  // namespace

std::string alert_sort_key(const Rule& rule, const Tick& tick) {
  std::string s;
  s.reserve(kNormalisedTimestampLength + 1 + rule.id.size());
  s.resize(kNormalisedTimestampLength);
  format_timestamp_to(tick.ts.micros, s.data());
  s += '#';
  s += rule.id;
  return s;
}

std::string alert_id(const Rule& rule, const Tick& tick) {
  return tick.symbol + "|" + alert_sort_key(rule, tick);
}

std::string dynamodb_item(const Alert& a, std::int64_t created_at_micros) {
  const Rule& r = *a.rule;
  const Tick& t = *a.tick;
  std::string out;
  out.reserve(1024);  // a typical item is ~650 bytes: one allocation
  out += "{\"symbol\":{\"S\":";
  json::append_string(out, t.symbol);
  out += '}';
  attr_s(out, "timestamp", alert_sort_key(r, t));
  attr_s(out, "alert_id", alert_id(r, t));
  attr_s(out, "rule_id", r.id);
  attr_s(out, "condition", to_string(r.condition));
  attr_n(out, "threshold", r.threshold);
  attr_n(out, "price", t.price);
  if (t.bid) attr_n(out, "bid", *t.bid);
  if (t.ask) attr_n(out, "ask", *t.ask);
  if (t.volume) attr_n(out, "volume", *t.volume);
  attr_s(out, "severity", to_string(r.severity));
  attr_s(out, "tick_timestamp", t.ts.text());
  attr_s(out, "message_id", a.message_id);
  attr_s(out, "created_at", format_timestamp(created_at_micros));
  attr_s(out, "notification_state", "pending");
  out += '}';
  return out;
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
  json::append_string(m, alert_id(r, t));
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
