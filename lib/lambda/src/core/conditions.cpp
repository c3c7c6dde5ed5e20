#include "tap/core/conditions.hpp"

#include <algorithm>
#include <cmath>

namespace tap {

bool spread_above(double ask, double bid, double threshold) {
  return (ask - bid) - threshold > 1e-12 * std::max(1.0, std::fabs(ask));
}

bool condition_holds(const Rule& rule, const Tick& tick) {
  switch (rule.condition) {
    case Condition::price_above:
      return tick.price > rule.threshold;
    case Condition::price_below:
      return tick.price < rule.threshold;
    case Condition::spread_above:
      return tick.bid && tick.ask && spread_above(*tick.ask, *tick.bid, rule.threshold);
    case Condition::volume_above:
      return tick.volume && static_cast<double>(*tick.volume) > rule.threshold;
    case Condition::crosses_above:
    case Condition::crosses_below:
      break;
  }
  return on_fire_side(rule, tick.price);
}

}  // namespace tap
