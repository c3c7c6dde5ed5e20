// The rule index (R5): which rule versions a tick can fire, found without looking at the others.
//
// Contract (each query: O(log n + k) in the versions n of the symbol and of "*", k the versions returned,
// once the fast index is built; the reference implementation below the class is the test oracle):
//  - for_each_level(symbol, tick, f): every LEVEL version (price_above, price_below, spread_above,
//    volume_above) of `symbol` or "*" that applies at tick.ts (Rule::applies_at) and whose condition holds
//    on the tick, EXCEPT those a known fire suppresses for a tick newer than that fire: after
//    note_fire(r, symbol, at), a tick with at < ts < next_eligible is skipped, where next_eligible is
//    at + cooldown (every), the end of at's bar (once_per_bar) or never (once). A tick at or before the
//    noted fire is still returned: cooldowns count on both sides, so the engine checks it against the fires
//    around it. A fire's time only grows (note_fire keeps the newest).
//  - for_each_crossed(symbol, from_price, to_price, ts, f): every CROSSING version of `symbol` or "*" that
//    applies at ts and for which the two prices lie on different sides of the line (rule_engine's side_of:
//    crosses_above: price > threshold or not; crosses_below: price < threshold or not), in either direction.
// f is called as f(rule_index) with the version's index in the RuleSet, each version at most once per call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tap/core/rules.hpp"
#include "tap/core/tick.hpp"

namespace tap {

class RuleIndex {
 public:
  explicit RuleIndex(const RuleSet& rules);

  void for_each_level(std::string_view symbol, const Tick& tick,
                      const std::function<void(std::size_t)>& f) const;
  void for_each_crossed(std::string_view symbol, double from_price, double to_price, std::int64_t ts,
                        const std::function<void(std::size_t)>& f) const;
  void note_fire(std::size_t rule_index, std::string_view symbol, std::int64_t at_micros);

  const RuleSet& rules() const { return rules_; }

 private:
  const RuleSet& rules_;
  // (rule index, symbol) -> newest known fire
  std::unordered_map<std::string, std::int64_t> last_fire_;
};

// The level condition of `rule` on `tick` alone (no state, no window).
bool level_condition_holds(const Rule& rule, const Tick& tick);

}  // namespace tap
