#include "tap/core/rules.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <unordered_set>

#include "json_support.hpp"

namespace tap {
namespace {

using simdjson::ondemand::json_type;

constexpr std::size_t kMaxRules = 10000;
constexpr std::size_t kMaxRulesDepth = 8;
constexpr double kMaxThreshold = 1e15;
constexpr std::int64_t kMaxCooldown = 86400;

bool valid_rule_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (const char c : id) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::size_t utf8_length(std::string_view s) {  // code points (input is valid UTF-8: simdjson checked it)
  std::size_t n = 0;
  for (const char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return n;
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

// Collects every problem; a JSON syntax error stops the load (nothing after it can be trusted).
class Loader {
 public:
  std::vector<std::string> problems;
  std::optional<simdjson::error_code> fatal;

  std::nullopt_t fail(simdjson::error_code e) {
    fatal = e;
    return std::nullopt;
  }

  void problem(const std::string& path, std::string_view why) {
    problems.push_back(path + ": " + std::string(why));
  }

  // Reads a value's type; false (fatal) on a JSON error.
  bool type_of(simdjson::ondemand::value v, json_type& t) {
    if (auto e = v.type().get(t)) {
      fatal = e;
      return false;
    }
    return true;
  }
  // Validates a value we do not use (wrong type / unknown property) so that syntax errors are still found.
  void consume(simdjson::ondemand::value v, std::size_t depth) {
    simdjson::error_code e{};
    std::string detail;
    switch (json::walk_value(v, depth, kMaxRulesDepth, e, detail)) {
      case json::WalkStatus::ok:
        break;
      case json::WalkStatus::invalid:
        fatal = e;
        break;
      case json::WalkStatus::too_deep:
        fatal = simdjson::DEPTH_ERROR;
        break;
      case json::WalkStatus::duplicate_key:
        problems.push_back("duplicate key \"" + detail + "\"");
        break;
    }
  }
  std::optional<std::string_view> string(simdjson::ondemand::value v, const std::string& path,
                                         std::size_t depth) {
    json_type t{};
    if (!type_of(v, t)) return std::nullopt;
    if (t != json_type::string) {
      problem(path, "must be a string");
      consume(v, depth);
      return std::nullopt;
    }
    std::string_view s;
    if (auto e = v.get_string().get(s)) return fail(e);
    return s;
  }
  std::optional<double> number(simdjson::ondemand::value v, const std::string& path, std::size_t depth) {
    json_type t{};
    if (!type_of(v, t)) return std::nullopt;
    if (t != json_type::number) {
      problem(path, "must be a number");
      consume(v, depth);
      return std::nullopt;
    }
    double d = 0;
    if (v.get_double().get(d) != simdjson::SUCCESS) {
      problem(path, "number out of range");
      return std::nullopt;
    }
    return d;
  }
  std::optional<std::int64_t> integer(simdjson::ondemand::value v, const std::string& path,
                                      std::size_t depth) {
    auto d = number(v, path, depth);
    if (!d) return std::nullopt;
    if (std::trunc(*d) != *d || std::fabs(*d) > 1e15) {
      problem(path, "must be an integer");
      return std::nullopt;
    }
    return static_cast<std::int64_t>(*d);
  }
  std::optional<bool> boolean(simdjson::ondemand::value v, const std::string& path, std::size_t depth) {
    json_type t{};
    if (!type_of(v, t)) return std::nullopt;
    if (t != json_type::boolean) {
      problem(path, "must be a boolean");
      consume(v, depth);
      return std::nullopt;
    }
    bool b = false;
    if (auto e = v.get_bool().get(b)) return fail(e);
    return b;
  }

  std::optional<Rule> rule(simdjson::ondemand::value v, const std::string& path) {
    json_type t{};
    if (!type_of(v, t)) return std::nullopt;
    if (t != json_type::object) {
      problem(path, "must be an object");
      consume(v, 2);
      return std::nullopt;
    }
    simdjson::ondemand::object obj;
    if (auto e = v.get_object().get(obj)) return fail(e);
    Rule r;
    r.cooldown_seconds = -1;  // unset
    json::KeySet keys;
    bool seen_condition = false, seen_threshold = false;
    bool has_id = false, has_symbol = false, has_condition = false, has_threshold = false,
         has_severity = false;
    const std::size_t before = problems.size();
    for (auto field : obj) {
      std::string_view key;
      simdjson::ondemand::value fv;
      if (auto e = field.unescaped_key().get(key)) return fail(e);
      if (auto e = field.value().get(fv)) return fail(e);
      const std::string fpath = path + "." + std::string(key);
      if (!keys.insert(key)) problem(fpath, "duplicate key");
      if (key == "id") {
        has_id = true;
        if (auto s = string(fv, fpath, 3)) {
          if (!valid_rule_id(*s)) problem(fpath, "must be 1..64 chars of A-Z a-z 0-9 _ . -");
          r.id.assign(*s);
        }
      } else if (key == "symbol") {
        has_symbol = true;
        if (auto s = string(fv, fpath, 3)) {
          bool ok = *s == "*";
          if (!ok) {
            ok = !s->empty() && s->size() <= 16;
            for (const char c : *s) {
              ok = ok && ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
                          c == '/' || c == ':');
            }
          }
          if (!ok) problem(fpath, "must be \"*\" or 1..16 chars of A-Z 0-9 . - / :");
          r.symbol.assign(*s);
        }
      } else if (key == "condition") {
        seen_condition = true;
        has_condition = true;
        if (auto s = string(fv, fpath, 3)) {
          if (auto c = parse_condition(*s)) {
            r.condition = *c;
          } else {
            has_condition = false;
            problem(fpath,
                    "must be one of price_above, price_below, crosses_above, crosses_below, "
                    "spread_above, volume_above");
          }
        } else {
          has_condition = false;
        }
      } else if (key == "threshold") {
        seen_threshold = true;
        has_threshold = true;
        if (auto d = number(fv, fpath, 3)) {
          if (*d < 0 || *d > kMaxThreshold) problem(fpath, "must be between 0 and 1e15");
          r.threshold = *d;
        } else {
          has_threshold = false;
        }
      } else if (key == "severity") {
        has_severity = true;
        if (auto s = string(fv, fpath, 3)) {
          if (auto sev = parse_severity(*s)) {
            r.severity = *sev;
          } else {
            problem(fpath, "must be one of info, warning, critical");
          }
        }
      } else if (key == "cooldown_seconds") {
        if (auto i = integer(fv, fpath, 3)) {
          if (*i < 0 || *i > kMaxCooldown) problem(fpath, "must be between 0 and 86400");
          r.cooldown_seconds = *i;
        }
      } else if (key == "enabled") {
        if (auto b = boolean(fv, fpath, 3)) r.enabled = *b;
      } else if (key == "description") {
        if (auto s = string(fv, fpath, 3)) {
          if (utf8_length(*s) > 256) problem(fpath, "must be at most 256 characters");
          r.description.assign(*s);
        }
      } else {
        problem(fpath, "unknown property");
        consume(fv, 3);
      }
      if (fatal) return std::nullopt;
    }
    if (!has_id) problem(path + ".id", "required");
    if (!has_symbol) problem(path + ".symbol", "required");
    if (!seen_condition) problem(path + ".condition", "required");
    if (!seen_threshold) problem(path + ".threshold", "required");
    if (!has_severity) problem(path + ".severity", "required");
    if (has_condition && has_threshold) {
      const bool positive = r.condition != Condition::spread_above && r.condition != Condition::volume_above;
      if (positive && r.threshold <= 0) problem(path + ".threshold", "must be > 0 for this condition");
      if (r.condition == Condition::volume_above && std::trunc(r.threshold) != r.threshold) {
        problem(path + ".threshold", "must be an integer for volume_above");
      }
    }
    if (problems.size() != before) return std::nullopt;
    return r;
  }
};

}  // namespace

std::string_view to_string(Condition c) {
  switch (c) {
    case Condition::price_above:
      return "price_above";
    case Condition::price_below:
      return "price_below";
    case Condition::crosses_above:
      return "crosses_above";
    case Condition::crosses_below:
      return "crosses_below";
    case Condition::spread_above:
      return "spread_above";
    case Condition::volume_above:
      break;
  }
  return "volume_above";
}

std::string_view to_string(Severity s) {
  switch (s) {
    case Severity::info:
      return "info";
    case Severity::warning:
      return "warning";
    case Severity::critical:
      break;
  }
  return "critical";
}

std::string_view to_string(TriggerMode m) {
  switch (m) {
    case TriggerMode::once:
      return "once";
    case TriggerMode::every:
      return "every";
    case TriggerMode::once_per_bar:
      break;
  }
  return "once_per_bar";
}

RuleSet::RuleSet(std::vector<Rule> rules) : rules_(std::move(rules)) {
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    const Rule& r = rules_[i];
    if (!r.enabled) continue;
    if (r.symbol == "*") {
      wildcard_.push_back(i);
    } else {
      by_symbol_[r.symbol].push_back(i);
    }
  }
}

std::span<const std::size_t> RuleSet::rules_for_symbol(std::string_view symbol) const {
  const auto it = by_symbol_.find(symbol);
  if (it == by_symbol_.end()) return {};
  return it->second;
}

namespace {

// The one definition of a valid rules document: every problem with its path, or the rules it defines.
struct Parsed {
  std::vector<Rule> rules;
  std::vector<std::string> problems;  // empty: the document is valid
};

Parsed parse_document(std::string_view text) {
  simdjson::ondemand::parser parser;
  const simdjson::padded_string padded(text);
  simdjson::ondemand::document doc;
  Loader L;
  std::vector<Rule> rules;
  std::vector<std::size_t> positions;  // each loaded rule's index in the document
  std::optional<std::int64_t> default_cooldown;
  bool has_version = false, has_rules = false;
  auto run = [&]() {
    if (auto e = parser.iterate(padded).get(doc)) return L.fatal = e, void();
    simdjson::ondemand::object root;
    if (auto e = doc.get_object().get(root)) {
      if (e == simdjson::INCORRECT_TYPE) return L.problem("(document)", "must be an object"), void();
      return L.fatal = e, void();
    }
    json::KeySet keys;
    for (auto field : root) {
      std::string_view key;
      simdjson::ondemand::value fv;
      if (auto e = field.unescaped_key().get(key)) return L.fatal = e, void();
      if (auto e = field.value().get(fv)) return L.fatal = e, void();
      const std::string path(key);
      if (!keys.insert(key)) L.problem(path, "duplicate key");
      if (key == "version") {
        has_version = true;
        if (auto i = L.integer(fv, path, 1); i && *i != 1) L.problem(path, "must be 1");
      } else if (key == "default_cooldown_seconds") {
        if (auto i = L.integer(fv, path, 1)) {
          if (*i < 1 || *i > kMaxCooldown) L.problem(path, "must be between 1 and 86400");
          default_cooldown = *i;
        }
      } else if (key == "rules") {
        has_rules = true;
        json_type t{};
        if (!L.type_of(fv, t)) return;
        if (t != json_type::array) {
          L.problem(path, "must be an array");
          L.consume(fv, 1);
        } else {
          simdjson::ondemand::array arr;
          if (auto e = fv.get_array().get(arr)) return L.fatal = e, void();
          std::size_t i = 0;
          for (auto element : arr) {
            simdjson::ondemand::value rv;
            if (auto e = element.get(rv)) return L.fatal = e, void();
            if (auto r = L.rule(rv, "rules[" + std::to_string(i) + "]")) {
              rules.push_back(std::move(*r));
              positions.push_back(i);
            }
            if (L.fatal) return;
            ++i;
          }
          if (i > kMaxRules) L.problem(path, "at most 10000 rules");
        }
      } else {
        L.problem(path, "unknown property");
        L.consume(fv, 1);
      }
      if (L.fatal) return;
    }
    if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) L.fatal = simdjson::TRAILING_CONTENT;
  };
  run();
  if (L.fatal) return {{}, {std::string("invalid JSON: ") + simdjson::error_message(*L.fatal)}};
  if (!has_version) L.problem("version", "required");
  if (!has_rules) L.problem("rules", "required");
  std::unordered_set<std::string_view> ids;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    if (!ids.insert(rules[i].id).second) {
      L.problem("rules[" + std::to_string(positions[i]) + "].id",
                "duplicate rule id \"" + rules[i].id + "\"");
    }
  }
  for (Rule& r : rules) {
    // A file-seeded rule is version 1 of its id, effective from the epoch, in mode `every` with the
    // document's cooldown, 0 becoming 1 (R2: every needs >= 1 s; R6).
    if (r.cooldown_seconds < 0) r.cooldown_seconds = default_cooldown.value_or(kDefaultCooldownSeconds);
    r.cooldown_seconds = std::max<std::int64_t>(r.cooldown_seconds, 1);
    r.version = 1;
    r.mode = TriggerMode::every;
    r.window = EffectiveWindow{};
  }
  return {std::move(rules), std::move(L.problems)};
}

}  // namespace

std::vector<std::string> validate_rules(std::string_view document) {
  return parse_document(document).problems;
}

Result<RuleSet> load_rules(std::string_view text) {
  Parsed parsed = parse_document(text);
  if (!parsed.problems.empty()) {
    std::string msg;
    for (const auto& p : parsed.problems) {
      if (!msg.empty()) msg += '\n';
      msg += p;
    }
    return Error{"invalid_rules", std::move(msg)};
  }
  return RuleSet(std::move(parsed.rules));
}

}  // namespace tap
