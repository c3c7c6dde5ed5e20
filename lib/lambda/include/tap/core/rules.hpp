// Alert rules (F3): the traders' rules document (config/alert-rules.json, constraints identical to
// config/alert-rules.schema.json, plus unique ids), loaded into a RuleSet indexed by symbol.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tap/core/result.hpp"

namespace tap {

enum class Condition { price_above, price_below, crosses_above, crosses_below, spread_above, volume_above };
enum class Severity { info, warning, critical };

std::string_view to_string(Condition c);
std::string_view to_string(Severity s);
constexpr bool is_crossing(Condition c) {
  return c == Condition::crosses_above || c == Condition::crosses_below;
}

inline constexpr std::int64_t kDefaultCooldownSeconds =
    60;  // when neither the rule nor the document sets one

struct Rule {
  std::string id;
  std::string symbol;  // a symbol, or "*" for every symbol
  Condition condition = Condition::price_above;
  double threshold = 0;
  Severity severity = Severity::info;
  std::int64_t cooldown_seconds = kDefaultCooldownSeconds;  // resolved (rule, else document, else 60)
  bool enabled = true;
  std::string description;
};

class RuleSet {
 public:
  RuleSet() = default;
  explicit RuleSet(std::vector<Rule> rules);

  const std::vector<Rule>& rules() const { return rules_; }
  const Rule& rule(std::size_t index) const { return rules_[index]; }

  // Indices of the ENABLED rules for exactly `symbol` (for_each_rule adds the wildcard rules). O(1) in the
  // number of rules of other symbols. Disabled rules are loaded but never returned.
  std::span<const std::size_t> rules_for_symbol(std::string_view symbol) const;
  std::span<const std::size_t> wildcard_rules() const { return wildcard_; }

  template <typename F>
  void for_each_rule(std::string_view symbol, F&& f) const {
    for (const std::size_t i : rules_for_symbol(symbol)) f(i, rules_[i]);
    for (const std::size_t i : wildcard_) f(i, rules_[i]);
  }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::vector<Rule> rules_;
  std::unordered_map<std::string, std::vector<std::size_t>, Hash, std::equal_to<>> by_symbol_;
  std::vector<std::size_t> wildcard_;
};

// THE definition of a valid rules document (the package step and the contract tests run it through
// tap_validate): every problem, one per entry, each naming its field ("rules[3].symbol: ..."); empty means
// the document is valid.
std::vector<std::string> validate_rules(std::string_view document);

// Parses and validates a rules document. On failure the error (code "invalid_rules") lists every problem,
// one per line, each with its JSON path ("rules[2].threshold: must be > 0").
Result<RuleSet> load_rules(std::string_view json);

}  // namespace tap
