// Alert rules (F3, R1-R3, R7): rule VERSIONS as the engine's input, and the traders' rules document
// (config/alert-rules.json, constraints identical to config/alert-rules.schema.json, plus unique ids).
//
// A `Rule` is one version of a trader's rule: what it watches (symbol or "*", condition, threshold), how it
// fires (trigger mode, R2) and the event-time window in which it applies (R3). A version applies to exactly
// the ticks whose timestamp lies in [window.from, window.until) and, when set, before expires_at (R1); a
// paused or deleted rule is one whose last window is closed. Several versions of one rule id may be loaded
// at once; their windows never overlap. Where the versions come from (a file here, the rules storage later)
// is not the engine's business. A file-seeded rule (load_rules) is version 1 of its id, effective from the
// epoch, in mode `every` with the document's cooldown (0 becomes 1); `enabled: false` loads no window.
#pragma once

#include <cstdint>
#include <optional>
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

// R2. `once`: at most one fire per arming (a "*" rule: once in total, not per symbol); `every`: no two fires
// of the rule for one symbol closer than cooldown_seconds (>= 1) in event time, on both sides;
// `once_per_bar`: at most one fire per (symbol, bar), bars aligned to multiples of bar_seconds since the
// Unix epoch (UTC).
enum class TriggerMode { once, every, once_per_bar };
std::string_view to_string(TriggerMode m);

// Half-open event-time window [from, until) in microseconds since the epoch.
struct EffectiveWindow {
  static constexpr std::int64_t kOpenStart = INT64_MIN;
  static constexpr std::int64_t kOpenEnd = INT64_MAX;
  std::int64_t from_micros = kOpenStart;
  std::int64_t until_micros = kOpenEnd;
  constexpr bool contains(std::int64_t ts) const { return from_micros <= ts && ts < until_micros; }
  constexpr bool empty() const { return from_micros >= until_micros; }
  friend bool operator==(const EffectiveWindow&, const EffectiveWindow&) = default;
};

struct Rule {                 // one version of a rule
  std::string id;             // the rule's id (R1: globally unique; every version shares it)
  std::uint32_t version = 1;  // 1, 2, ... per rule id
  std::string owner;          // the trader (empty for a file-seeded rule)
  std::string symbol;         // a symbol, or "*" for every symbol
  Condition condition = Condition::price_above;
  double threshold = 0;
  Severity severity = Severity::info;
  TriggerMode mode = TriggerMode::every;
  std::int64_t cooldown_seconds = kDefaultCooldownSeconds;  // mode every: >= 1
  std::int64_t bar_seconds = 0;                             // mode once_per_bar: 60, 300, 900, 3600, 86400
  std::uint32_t arming = 0;                                 // mode once: the arming the marker belongs to
  EffectiveWindow window;                                   // R3
  std::optional<std::int64_t> expires_at_micros;            // R1: applies to ticks with ts < expires_at
  bool enabled = true;  // false: loaded (and validated) but applies to no tick
  std::string description;
  std::string message_template;  // F5: the notification's text for people (tap/core/message_template.hpp)

  // This version applies to a tick at `ts` (window, expiry, enabled).
  constexpr bool applies_at(std::int64_t ts) const {
    return enabled && window.contains(ts) && (!expires_at_micros || ts < *expires_at_micros);
  }
  friend bool operator==(const Rule&, const Rule&) = default;  // a stored version compares field by field
};

class RuleSet {
 public:
  RuleSet() = default;
  explicit RuleSet(std::vector<Rule> rules);

  const std::vector<Rule>& rules() const { return rules_; }
  const Rule& rule(std::size_t index) const { return rules_[index]; }
  // Adds a version at the next index and returns it (R4's incremental refresh: an index never changes its
  // Rule; which indices are current is the RuleIndex's business, see RuleIndex::update).
  std::uint32_t append(Rule rule);

  // Indices of the ENABLED rules for exactly `symbol` (for_each_rule adds the wildcard rules). O(1) in the
  // number of rules of other symbols. Disabled rules are loaded but never returned.
  // Indices are 32-bit (a RuleSet holds fewer than 2^32 versions): 4 bytes per version at a million.
  std::span<const std::uint32_t> rules_for_symbol(std::string_view symbol) const;
  std::span<const std::uint32_t> wildcard_rules() const { return wildcard_; }

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
  std::unordered_map<std::string, std::vector<std::uint32_t>, Hash, std::equal_to<>> by_symbol_;
  std::vector<std::uint32_t> wildcard_;
};

// THE definition of a valid rules document (the package step and the contract tests run it through
// tap_validate): every problem, one per entry, each naming its field ("rules[3].symbol: ..."); empty means
// the document is valid.
std::vector<std::string> validate_rules(std::string_view document);

// Parses and validates a rules document. On failure the error (code "invalid_rules") lists every problem,
// one per line, each with its JSON path ("rules[2].threshold: must be > 0").
Result<RuleSet> load_rules(std::string_view json);

}  // namespace tap
