// The conditions of F3 on one tick alone: no state, no window, no mode (the rule index finds the versions
// whose condition holds, the event-time engine decides what fires).
//
// Contract:
//  - Level conditions compare strictly: price_above holds for price > threshold, price_below for
//    price < threshold, volume_above for volume > threshold (false without a volume), spread_above for
//    ask - bid > threshold (false without both bid and ask), where a spread within 1e-12 relative of the
//    threshold counts as equal, hence not above (prices arrive as decimal text; 1.1 - 1.0 is
//    0.10000000000000009 in binary floating point).
//  - Crossing lines: a crossing version splits prices into its fire side and the rest -- crosses_above:
//    price > threshold; crosses_below (its mirror): price < threshold. A price on the line is on neither
//    fire side. condition_holds of a crossing version is "the tick's price is on the fire side".
#pragma once

#include "tap/core/rules.hpp"
#include "tap/core/tick.hpp"

namespace tap {

// The quoted spread ask - bid is above `threshold`, with the rounding tolerance above.
bool spread_above(double ask, double bid, double threshold);

// Crossing versions: the price lies on the side of the line the version fires on.
constexpr bool on_fire_side(const Rule& rule, double price) {
  return rule.condition == Condition::crosses_below ? price < rule.threshold : price > rule.threshold;
}

// The version's condition on this tick alone (crossing versions: the price is on the fire side).
bool condition_holds(const Rule& rule, const Tick& tick);

}  // namespace tap
