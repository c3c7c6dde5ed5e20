#include "tap/core/rule_index.hpp"

#include <algorithm>
#include <limits>

#include "tap/core/rule_engine.hpp"

namespace tap {
namespace {

std::string fire_key(std::size_t rule_index, std::string_view symbol) {
  std::string key = std::to_string(rule_index);
  key += '|';
  key += symbol;
  return key;
}

// The first instant after a fire at `at` at which the version may fire again.
std::int64_t next_eligible(const Rule& rule, std::int64_t at) {
  switch (rule.mode) {
    case TriggerMode::every:
      return at + rule.cooldown_seconds * kMicrosPerSecond;
    case TriggerMode::once_per_bar: {
      const std::int64_t bar = rule.bar_seconds * kMicrosPerSecond;
      return (at / bar + 1) * bar;  // tick times are positive (timestamp.hpp): no floor adjustment
    }
    case TriggerMode::once:
      break;
  }
  return std::numeric_limits<std::int64_t>::max();
}

}  // namespace

bool level_condition_holds(const Rule& rule, const Tick& tick) { return condition_holds(rule, tick); }

// Reference implementation: a scan of the symbol's versions and the wildcard ones. It defines the answers
// the fast index must give (rule_index_test compares them on random rule sets).
RuleIndex::RuleIndex(const RuleSet& rules) : rules_(rules) {}

void RuleIndex::for_each_level(std::string_view symbol, const Tick& tick,
                               const std::function<void(std::size_t)>& f) const {
  const std::int64_t ts = tick.ts.micros;
  rules_.for_each_rule(symbol, [&](std::size_t i, const Rule& r) {
    if (is_crossing(r.condition) || !r.applies_at(ts) || !level_condition_holds(r, tick)) return;
    if (const auto it = last_fire_.find(fire_key(i, symbol)); it != last_fire_.end()) {
      if (ts > it->second && ts < next_eligible(r, it->second)) return;
    }
    f(i);
  });
}

void RuleIndex::for_each_crossed(std::string_view symbol, double from_price, double to_price, std::int64_t ts,
                                 const std::function<void(std::size_t)>& f) const {
  rules_.for_each_rule(symbol, [&](std::size_t i, const Rule& r) {
    if (!is_crossing(r.condition) || !r.applies_at(ts)) return;
    if (side_of(r, from_price) != side_of(r, to_price)) f(i);
  });
}

void RuleIndex::note_fire(std::size_t rule_index, std::string_view symbol, std::int64_t at_micros) {
  std::int64_t& known = last_fire_.try_emplace(fire_key(rule_index, symbol), at_micros).first->second;
  known = std::max(known, at_micros);
}

}  // namespace tap
