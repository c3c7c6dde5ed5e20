#include "tap/core/rules.hpp"

#include <algorithm>
#include <optional>
#include <unordered_set>

#include "json_support.hpp"
#include "rule_fields.hpp"

namespace tap {
namespace {

using simdjson::ondemand::json_type;
namespace fields = rule_fields;

constexpr std::size_t kMaxRules = 10000;

// Collects every problem of a document; a JSON syntax error stops the load (nothing after it can be
// trusted). The per-field checks are rule_fields' (the one definition the change library shares).
class Loader : public fields::Reader {
 public:
  Loader() : Reader(/*locate_nested=*/false) {}

  std::optional<Rule> rule(simdjson::ondemand::value v, const std::string& path) {
    json_type t{};
    if (!type_of(v, t)) return std::nullopt;
    if (t != json_type::object) {
      problem(path, "must be an object");
      consume(v, 2, path);
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
          if (auto p = fields::name_problem(*s)) problem(fpath, *p);
          r.id.assign(*s);
        }
      } else if (key == "symbol") {
        has_symbol = true;
        if (auto s = string(fv, fpath, 3)) {
          if (auto p = fields::symbol_problem(*s)) problem(fpath, *p);
          r.symbol.assign(*s);
        }
      } else if (key == "condition") {
        seen_condition = true;
        has_condition = true;
        if (auto s = string(fv, fpath, 3)) {
          if (auto c = fields::parse_condition(*s)) {
            r.condition = *c;
          } else {
            has_condition = false;
            problem(fpath, fields::kConditionChoices);
          }
        } else {
          has_condition = false;
        }
      } else if (key == "threshold") {
        seen_threshold = true;
        has_threshold = true;
        if (auto d = number(fv, fpath, 3)) {
          if (auto p = fields::threshold_problem(*d)) problem(fpath, *p);
          r.threshold = *d;
        } else {
          has_threshold = false;
        }
      } else if (key == "severity") {
        has_severity = true;
        if (auto s = string(fv, fpath, 3)) {
          if (auto sev = fields::parse_severity(*s)) {
            r.severity = *sev;
          } else {
            problem(fpath, fields::kSeverityChoices);
          }
        }
      } else if (key == "cooldown_seconds") {
        if (auto i = integer(fv, fpath, 3)) {
          if (auto p = fields::cooldown_problem(*i, 0)) problem(fpath, *p);  // 0 becomes 1 (R6)
          r.cooldown_seconds = *i;
        }
      } else if (key == "enabled") {
        if (auto b = boolean(fv, fpath, 3)) r.enabled = *b;
      } else if (key == "description") {
        if (auto s = string(fv, fpath, 3)) {
          if (auto p = fields::text_problem(*s, fields::kMaxDescriptionChars)) problem(fpath, *p);
          r.description.assign(*s);
        }
      } else {
        problem(fpath, "unknown property");
        consume(fv, 3, fpath);
      }
      if (fatal) return std::nullopt;
    }
    if (!has_id) problem(path + ".id", "required");
    if (!has_symbol) problem(path + ".symbol", "required");
    if (!seen_condition) problem(path + ".condition", "required");
    if (!seen_threshold) problem(path + ".threshold", "required");
    if (!has_severity) problem(path + ".severity", "required");
    if (has_condition && has_threshold) {
      if (auto p = fields::threshold_for_condition_problem(r.condition, r.threshold)) {
        problem(path + ".threshold", *p);
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
      wildcard_.push_back(static_cast<std::uint32_t>(i));
    } else {
      by_symbol_[r.symbol].push_back(static_cast<std::uint32_t>(i));
    }
  }
  for (auto& [symbol, indices] : by_symbol_) indices.shrink_to_fit();  // no growth slack at a cold load
}

std::uint32_t RuleSet::append(Rule rule) {
  const auto i = static_cast<std::uint32_t>(rules_.size());
  if (rule.enabled) (rule.symbol == "*" ? wildcard_ : by_symbol_[rule.symbol]).push_back(i);
  rules_.push_back(std::move(rule));
  return i;
}

std::span<const std::uint32_t> RuleSet::rules_for_symbol(std::string_view symbol) const {
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
          if (auto p = fields::cooldown_problem(*i, 1)) L.problem(path, *p);
          default_cooldown = *i;
        }
      } else if (key == "rules") {
        has_rules = true;
        json_type t{};
        if (!L.type_of(fv, t)) return;
        if (t != json_type::array) {
          L.problem(path, "must be an array");
          L.consume(fv, 1, path);
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
        L.consume(fv, 1, path);
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
  std::vector<std::string> problems;
  problems.reserve(L.problems.size());
  for (const FieldError& p : L.problems) {  // "path: why"; a nested duplicate key stands alone
    problems.push_back(p.field.empty() ? p.message : p.field + ": " + p.message);
  }
  return {std::move(rules), std::move(problems)};
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
