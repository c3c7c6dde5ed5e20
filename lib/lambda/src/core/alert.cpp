#include "tap/core/alert.hpp"

#include <charconv>
#include <cmath>

#include "tap/core/json_text.hpp"
#include "tap/core/message_template.hpp"

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

// A price or threshold for people: at least two decimals ("200.00", "201.5" -> "201.50"), never fewer
// digits than the number has ("0.00125").
std::string amount(double v) {
  std::string s;
  json::append_number(s, v);
  if (s.find_first_of("eE") != std::string::npos) return s;
  const std::size_t dot = s.find('.');
  if (dot == std::string::npos) return s + ".00";
  if (s.size() - dot == 2) s += '0';
  return s;
}

// The value the condition watches: the price, the spread or the volume.
std::string watched_value(const Rule& r, const Tick& t) {
  std::string s;
  if (r.condition == Condition::spread_above) {
    // A difference of two prices carries binary noise (200.15 - 200.05 = 0.0999...943): nine decimals.
    s = amount(std::round((*t.ask - *t.bid) * 1e9) / 1e9);
  } else if (r.condition == Condition::volume_above) {
    json::append_number(s, *t.volume);
  } else {
    s = amount(t.price);
  }
  return s;
}

// A sentence per condition kind, in the placeholder syntax: one wording for templates and defaults.
std::string_view default_template(Condition c) {
  switch (c) {
    case Condition::price_above:
    case Condition::price_below:
      return "{symbol} at {price}, {condition} {threshold} at {time} -- rule '{rule}'";
    case Condition::crosses_above:
    case Condition::crosses_below:
      return "{symbol} {condition} {threshold} at {time} ({price}) -- rule '{rule}'";
    case Condition::spread_above:
      return "{symbol} spread {value} above {threshold} at {time} ({price}) -- rule '{rule}'";
    case Condition::volume_above:
      break;
  }
  return "{symbol} volume {value} above {threshold} at {time} ({price}) -- rule '{rule}'";
}

}  // namespace

std::string alert_text(const Rule& r, const Tick& t) {
  const std::string ts = t.ts.text();  // "2026-11-25T14:30:00.123000Z"
  const std::string_view text =
      r.message_template.empty() ? default_template(r.condition) : r.message_template;
  return render_template(text, [&](Placeholder p) -> std::string {
    switch (p) {
      case Placeholder::symbol:
        return t.symbol;
      case Placeholder::price:
        return amount(t.price);
      case Placeholder::threshold:
        if (r.condition == Condition::volume_above) {  // a count: no decimals
          std::string v;
          json::append_number(v, r.threshold);
          return v;
        }
        return amount(r.threshold);
      case Placeholder::condition:
        return std::string(condition_phrase(r.condition));
      case Placeholder::value:
        return watched_value(r, t);
      case Placeholder::time:
        return ts.substr(11, 12) + " UTC";
      case Placeholder::date:
        return ts.substr(0, 10);
      case Placeholder::rule:
        return r.id;
      case Placeholder::severity:
        break;
    }
    return std::string(to_string(r.severity));
  });
}

std::string truncate_utf8(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  constexpr std::string_view kMark = "...";
  std::size_t cut = max_bytes < kMark.size() ? 0 : max_bytes - kMark.size();
  // Back off to a sequence's first byte: the cut never splits a character.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  std::string out(text.substr(0, cut));
  out += kMark.substr(0, max_bytes - cut);
  return out;
}

std::string sns_message_structure(const SnsNotification& n) {
  std::string out;
  out.reserve(n.message.size() * 2 + n.email.size() + n.sms.size() + 64);
  out += "{\"default\":";
  json::append_string(out, n.message);
  out += ",\"email\":";
  json::append_string(out, n.email);
  out += ",\"sms\":";
  json::append_string(out, n.sms);
  out += '}';
  return out;
}

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

SnsNotification sns_notification(const Alert& a, std::int64_t publish_time_micros,
                                 std::int64_t max_notify_age_seconds) {
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
  field(m, "rule_version", static_cast<std::uint64_t>(r.version));
  m += ",\"owner\":";
  json::append_string(m, r.owner);
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
  const bool delayed = age_ms > max_notify_age_seconds * 1000;
  m += delayed ? ",\"delayed\":true" : ",\"delayed\":false";
  m += a.unvouched ? ",\"unvouched\":true" : ",\"unvouched\":false";
  m += ",\"severity\":";
  json::append_string(m, to_string(r.severity));
  if (!r.description.empty()) {
    m += ",\"description\":";
    json::append_string(m, r.description);
  }
  m += ",\"message_id\":";
  json::append_string(m, a.message_id);
  m += '}';

  const std::string text = alert_text(r, t);
  n.sms = truncate_utf8(text, kMaxSmsBytes);
  n.email = text;
  n.email += delayed ? "\n\nDelayed: notified " : "\n\nNotified ";
  n.email += std::to_string(age_ms);
  n.email += " ms after the tick.\nSeverity: ";
  n.email += to_string(r.severity);
  if (!r.description.empty()) {
    n.email += "\nDescription: ";
    n.email += r.description;
  }
  if (a.unvouched) {
    n.email +=
        "\nUnvouched: an in-order replay of the feed might not have raised this alert (ticks out of order, "
        "or a once rule on every symbol).";
  }
  n.email += "\nAlert id: ";
  n.email += to_string(alert_id(r, t));
  n.email += '\n';

  if (!r.owner.empty()) n.attributes.emplace_back("owner", r.owner);  // SNS refuses an empty value
  n.attributes.emplace_back("symbol", t.symbol);
  n.attributes.emplace_back("rule", r.id);
  n.attributes.emplace_back("severity", std::string(to_string(r.severity)));
  return n;
}

}  // namespace tap
