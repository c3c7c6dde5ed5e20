#include "rule_fields.hpp"

#include <cmath>

#include "json_support.hpp"

namespace tap::rule_fields {

using simdjson::ondemand::json_type;

namespace {

// RFC 8259 section 6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?, nothing else. simdjson's
// On Demand reader starts a number at any '-' and refuses "-Infinity", "1." or "01" with the same
// NUMBER_ERROR as 1e400: only the grammar tells a malformed body (400) from a number out of range (422).
bool json_number_grammar(std::string_view s) {
  std::size_t i = 0;
  const auto digits = [&] {
    const std::size_t from = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i > from;
  };
  const auto take = [&](std::string_view chars) {
    const bool taken = i < s.size() && chars.find(s[i]) != std::string_view::npos;
    i += taken ? 1 : 0;
    return taken;
  };
  take("-");
  if (!take("0") && !digits()) return false;
  if (take(".") && !digits()) return false;
  if (take("eE")) {
    take("+-");
    if (!digits()) return false;
  }
  return i == s.size();
}

}  // namespace

std::optional<std::string> name_problem(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 64;
  for (const char c : name) {
    ok = ok && ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                c == '.' || c == '-');
  }
  if (ok) return std::nullopt;
  return "must be 1..64 chars of A-Z a-z 0-9 _ . -";
}

std::optional<std::string> symbol_problem(std::string_view symbol) {
  bool ok = symbol == "*";
  if (!ok) {
    ok = !symbol.empty() && symbol.size() <= 16;
    for (const char c : symbol) {
      ok = ok &&
           ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '/' || c == ':');
    }
  }
  if (ok) return std::nullopt;
  return "must be \"*\" or 1..16 chars of A-Z 0-9 . - / :";
}

std::optional<std::string> threshold_problem(double threshold) {
  if (threshold >= 0 && threshold <= kMaxThreshold) return std::nullopt;  // false for NaN
  return "must be between 0 and 1e15";
}

std::optional<std::string> threshold_for_condition_problem(Condition condition, double threshold) {
  const bool positive = condition != Condition::spread_above && condition != Condition::volume_above;
  if (positive && threshold <= 0) return "must be > 0 for this condition";
  if (condition == Condition::volume_above && std::trunc(threshold) != threshold) {
    return "must be an integer for volume_above";
  }
  return std::nullopt;
}

std::optional<std::string> text_problem(std::string_view text, std::size_t max_chars) {
  if (!simdjson::validate_utf8(text.data(), text.size())) return "must be valid UTF-8";
  std::size_t chars = 0;  // code points: every byte that is not a continuation byte starts one
  for (const char c : text) chars += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  if (chars <= max_chars) return std::nullopt;
  return "must be at most " + std::to_string(max_chars) + " characters";
}

std::optional<std::string> cooldown_problem(std::int64_t seconds, std::int64_t min_seconds) {
  if (seconds >= min_seconds && seconds <= kMaxCooldownSeconds) return std::nullopt;
  return "must be between " + std::to_string(min_seconds) + " and " + std::to_string(kMaxCooldownSeconds);
}

std::optional<Condition> parse_condition(std::string_view s) {
  if (s == "price_above") return Condition::price_above;
  if (s == "price_below") return Condition::price_below;
  if (s == "crosses_above") return Condition::crosses_above;
  if (s == "crosses_below") return Condition::crosses_below;
  if (s == "spread_above") return Condition::spread_above;
  if (s == "volume_above") return Condition::volume_above;
  return std::nullopt;
}

std::optional<Severity> parse_severity(std::string_view s) {
  if (s == "info") return Severity::info;
  if (s == "warning") return Severity::warning;
  if (s == "critical") return Severity::critical;
  return std::nullopt;
}

std::optional<TriggerMode> parse_mode(std::string_view s) {
  if (s == "once") return TriggerMode::once;
  if (s == "every") return TriggerMode::every;
  if (s == "once_per_bar") return TriggerMode::once_per_bar;
  return std::nullopt;
}

bool Reader::type_of(simdjson::ondemand::value v, json_type& t) {
  if (auto e = v.type().get(t)) {
    fatal = e;
    return false;
  }
  return true;
}

void Reader::consume(simdjson::ondemand::value v, std::size_t depth, const std::string& path) {
  simdjson::error_code e{};
  std::string detail;
  switch (json::walk_value(v, depth, kMaxDepth, e, detail)) {
    case json::WalkStatus::ok:
      break;
    case json::WalkStatus::invalid:
      fatal = e;
      break;
    case json::WalkStatus::too_deep:
      fatal = simdjson::DEPTH_ERROR;
      break;
    case json::WalkStatus::duplicate_key:
      problems.push_back({locate_nested_ ? path : std::string(), "duplicate key \"" + detail + "\""});
      break;
  }
}

std::optional<std::string_view> Reader::string(simdjson::ondemand::value v, const std::string& path,
                                               std::size_t depth) {
  json_type t{};
  if (!type_of(v, t)) return std::nullopt;
  if (t != json_type::string) {
    problem(path, "must be a string");
    consume(v, depth, path);
    return std::nullopt;
  }
  std::string_view s;
  if (auto e = v.get_string().get(s)) return fail(e);
  return s;
}

std::optional<double> Reader::number(simdjson::ondemand::value v, const std::string& path,
                                     std::size_t depth) {
  json_type t{};
  if (!type_of(v, t)) return std::nullopt;
  if (t != json_type::number) {
    problem(path, "must be a number");
    consume(v, depth, path);
    return std::nullopt;
  }
  // The token as written, without the whitespace On Demand keeps after it.
  const std::string_view raw = v.raw_json_token();
  if (!json_number_grammar(raw.substr(0, raw.find_last_not_of(" \t\n\r") + 1))) {
    return fail(simdjson::NUMBER_ERROR);
  }
  double d = 0;
  if (v.get_double().get(d) != simdjson::SUCCESS) {
    problem(path, "number out of range");
    return std::nullopt;
  }
  return d;
}

std::optional<std::int64_t> Reader::integer(simdjson::ondemand::value v, const std::string& path,
                                            std::size_t depth) {
  auto d = number(v, path, depth);
  if (!d) return std::nullopt;
  if (std::trunc(*d) != *d || std::fabs(*d) > 1e15) {
    problem(path, "must be an integer");
    return std::nullopt;
  }
  return static_cast<std::int64_t>(*d);
}

std::optional<bool> Reader::boolean(simdjson::ondemand::value v, const std::string& path, std::size_t depth) {
  json_type t{};
  if (!type_of(v, t)) return std::nullopt;
  if (t != json_type::boolean) {
    problem(path, "must be a boolean");
    consume(v, depth, path);
    return std::nullopt;
  }
  bool b = false;
  if (auto e = v.get_bool().get(b)) return fail(e);
  return b;
}

}  // namespace tap::rule_fields
