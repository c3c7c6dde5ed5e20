// The conditions of F3 on one tick (tap/core/conditions.hpp). Moved from the first version's planner
// tests: the same facts, asked of the conditions directly.
#include "tap/core/conditions.hpp"

#include <gtest/gtest.h>

namespace tap {
namespace {

Rule rule(Condition c, double threshold) {
  Rule r;
  r.id = "r";
  r.symbol = "AAPL";
  r.condition = c;
  r.threshold = threshold;
  return r;
}

Tick tick(double price) {
  Tick t;
  t.symbol = "AAPL";
  t.price = price;
  t.ts = {1795617000000000LL};  // 2026-11-25T14:30:00Z
  return t;
}

TEST(Conditions, LevelEqualityIsNeitherAboveNorBelow) {
  const Rule above = rule(Condition::price_above, 100);
  const Rule below = rule(Condition::price_below, 100);
  EXPECT_FALSE(condition_holds(above, tick(100)));
  EXPECT_FALSE(condition_holds(below, tick(100)));
  EXPECT_TRUE(condition_holds(above, tick(100.01)));
  EXPECT_TRUE(condition_holds(below, tick(99.99)));
  EXPECT_FALSE(condition_holds(above, tick(99.99)));
  EXPECT_FALSE(condition_holds(below, tick(100.01)));
}

TEST(Conditions, ASpreadIsAboveOnlyBeyondTheToleranceOfOneTrillionthOfTheAskOrOfOne) {
  EXPECT_FALSE(spread_above(1e-12, 0, 0));  // over by exactly the tolerance (1e-12 below an ask of 1)
  EXPECT_FALSE(spread_above(1.0, 0.0, 1.0 - 5e-13));       // over by 5e-13: rounding noise
  EXPECT_TRUE(spread_above(1.0, 0.0, 1.0 - 5e-12));        // over by 5e-12
  EXPECT_FALSE(spread_above(1000.0, 999.0, 1.0 - 5e-10));  // the tolerance grows with the ask: 1e-9 here
  EXPECT_TRUE(spread_above(1000.0, 999.0, 1.0 - 5e-9));
}

TEST(Conditions, SpreadWithItsRoundingToleranceAndVolume) {
  const Rule spread = rule(Condition::spread_above, 0.5);
  Tick t = tick(189.5);
  EXPECT_FALSE(condition_holds(spread, t));  // no quote
  t.bid = 189.24;
  EXPECT_FALSE(condition_holds(spread, t));  // half a quote
  t.ask = 189.74;                            // equal is not above
  EXPECT_FALSE(condition_holds(spread, t));
  // 1.1 - 1.0 is 0.10000000000000009 in binary: equal in decimal, so not above (the rounding tolerance).
  EXPECT_GT(1.1 - 1.0, 0.1);
  EXPECT_FALSE(spread_above(1.1, 1.0, 0.1));
  EXPECT_TRUE(spread_above(1.1, 1.0, 0.0999));
  t.ask = 189.75;
  EXPECT_TRUE(condition_holds(spread, t));
  EXPECT_TRUE(spread_above(189.75, 189.24, 0.5));
  t.bid = 190;  // crossed quote: negative spread
  EXPECT_FALSE(condition_holds(spread, t));
  const Rule vol = rule(Condition::volume_above, 1000);
  Tick v = tick(1);
  EXPECT_FALSE(condition_holds(vol, v));  // no volume
  v.volume = 1000;
  EXPECT_FALSE(condition_holds(vol, v));
  v.volume = 1001;
  EXPECT_TRUE(condition_holds(vol, v));
}

TEST(Conditions, CrossingFireSidesMirrorAndTheLineIsOnNeither) {
  const Rule up = rule(Condition::crosses_above, 200);
  EXPECT_TRUE(on_fire_side(up, 200.01));
  EXPECT_FALSE(on_fire_side(up, 200));  // equal is at or below
  EXPECT_FALSE(on_fire_side(up, 199.99));
  EXPECT_TRUE(condition_holds(up, tick(201)));
  EXPECT_FALSE(condition_holds(up, tick(200)));
  const Rule down = rule(Condition::crosses_below, 180);
  EXPECT_TRUE(on_fire_side(down, 179.99));
  EXPECT_FALSE(on_fire_side(down, 180));  // equal is not below
  EXPECT_FALSE(on_fire_side(down, 181));
  EXPECT_TRUE(condition_holds(down, tick(179.99)));
  EXPECT_FALSE(condition_holds(down, tick(180)));
}

}  // namespace
}  // namespace tap
