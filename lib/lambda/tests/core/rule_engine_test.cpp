#include "tap/core/rule_engine.hpp"

#include <gtest/gtest.h>

namespace tap {
namespace {

constexpr std::int64_t kT0 = 1795617000000000LL;  // 2026-11-25T14:30:00Z
constexpr std::int64_t kSec = 1'000'000;

Rule rule(Condition c, double threshold, std::int64_t cooldown = 60, std::string symbol = "AAPL") {
  Rule r;
  r.id = "r";
  r.symbol = std::move(symbol);
  r.condition = c;
  r.threshold = threshold;
  r.cooldown_seconds = cooldown;
  return r;
}

Tick tick(double price, std::int64_t ts, std::string symbol = "AAPL") {
  Tick t;
  t.symbol = std::move(symbol);
  t.price = price;
  t.ts = {ts};
  return t;
}

RuleState fired_at(std::int64_t ts) { return {true, std::nullopt, std::nullopt, ts}; }
RuleState side(Side s, std::int64_t ts, std::optional<std::int64_t> fire = std::nullopt) {
  return {true, s, ts, fire};
}

TEST(Evaluate, LevelRulesEqualityIsNotAbove) {
  const Rule above = rule(Condition::price_above, 100);
  const Rule below = rule(Condition::price_below, 100);
  EXPECT_EQ(evaluate(above, tick(100, kT0), {}).outcome, Outcome::no_match);
  EXPECT_EQ(evaluate(below, tick(100, kT0), {}).outcome, Outcome::no_match);
  EXPECT_EQ(evaluate(above, tick(100.01, kT0), {}), (Decision{Outcome::fired, fired_at(kT0), true}));
  EXPECT_EQ(evaluate(below, tick(99.99, kT0), {}).outcome, Outcome::fired);
}

TEST(Evaluate, LevelCooldownBoundaryAndLate) {
  const Rule r = rule(Condition::price_above, 100, 60);
  const RuleState s = fired_at(kT0);
  EXPECT_EQ(evaluate(r, tick(101, kT0 + 60 * kSec - 1), s),
            (Decision{Outcome::suppressed_by_cooldown, s, false}));
  EXPECT_EQ(evaluate(r, tick(101, kT0 + 60 * kSec), s).outcome, Outcome::fired);
  EXPECT_EQ(evaluate(r, tick(101, kT0), s), (Decision{Outcome::late, s, false}));      // equal: redelivery
  EXPECT_EQ(evaluate(r, tick(101, kT0 - 1), s), (Decision{Outcome::late, s, false}));  // older
  EXPECT_EQ(evaluate(r, tick(99, kT0 + 1), s), (Decision{Outcome::no_match, s, false}));
  const Rule zero = rule(Condition::price_above, 100, 0);
  EXPECT_EQ(evaluate(zero, tick(101, kT0 + 1), s).outcome, Outcome::fired);
}

TEST(Evaluate, SpreadAndVolume) {
  const Rule spread = rule(Condition::spread_above, 0.5);
  Tick t = tick(189.5, kT0);
  EXPECT_EQ(evaluate(spread, t, {}).outcome, Outcome::no_match);  // no quote
  t.bid = 189.24;
  t.ask = 189.74;  // 0.5000000000000284 in binary: equal in decimal, not above
  EXPECT_EQ(evaluate(spread, t, {}).outcome, Outcome::no_match);
  t.ask = 189.75;
  EXPECT_EQ(evaluate(spread, t, {}).outcome, Outcome::fired);
  t.bid = 190;  // crossed quote: negative spread
  EXPECT_EQ(evaluate(spread, t, {}).outcome, Outcome::no_match);
  const Rule vol = rule(Condition::volume_above, 1000);
  Tick v = tick(1, kT0);
  EXPECT_EQ(evaluate(vol, v, {}).outcome, Outcome::no_match);
  v.volume = 1000;
  EXPECT_EQ(evaluate(vol, v, {}).outcome, Outcome::no_match);
  v.volume = 1001;
  EXPECT_EQ(evaluate(vol, v, {}).outcome, Outcome::fired);
}

TEST(Evaluate, CrossingAbove) {
  const Rule r = rule(Condition::crosses_above, 200, 300);
  // First tick ever: only records the side, even when above.
  EXPECT_EQ(evaluate(r, tick(250, kT0), {}), (Decision{Outcome::first_seen, side(Side::above, kT0), true}));
  EXPECT_EQ(evaluate(r, tick(200, kT0), {}).next.side, Side::at_or_below);  // equal is at_or_below
  const RuleState below = side(Side::at_or_below, kT0);
  EXPECT_EQ(evaluate(r, tick(200, kT0 + 1), below), (Decision{Outcome::no_match, below, false}));
  EXPECT_EQ(evaluate(r, tick(201, kT0 + 1), below),
            (Decision{Outcome::fired, side(Side::above, kT0 + 1, kT0 + 1), true}));
  EXPECT_EQ(evaluate(r, tick(201, kT0), below), (Decision{Outcome::late, below, false}));
  EXPECT_EQ(evaluate(r, tick(201, kT0 - 1), below).outcome, Outcome::late);
  const RuleState above = side(Side::above, kT0, kT0);
  EXPECT_EQ(evaluate(r, tick(199, kT0 + 1), above),
            (Decision{Outcome::side_changed, side(Side::at_or_below, kT0 + 1, kT0), true}));
  // Crossing inside the cooldown: no fire, the side still advances.
  const RuleState back = side(Side::at_or_below, kT0 + 1, kT0);
  EXPECT_EQ(evaluate(r, tick(201, kT0 + 299 * kSec), back),
            (Decision{Outcome::suppressed_by_cooldown, side(Side::above, kT0 + 299 * kSec, kT0), true}));
  EXPECT_EQ(evaluate(r, tick(201, kT0 + 300 * kSec), back).outcome, Outcome::fired);  // exactly at cooldown
  // A state item without a side (e.g. written by a level rule) counts as first seen.
  EXPECT_EQ(evaluate(r, tick(201, kT0), fired_at(kT0 - 1)).outcome, Outcome::first_seen);
}

TEST(Evaluate, CrossingBelowMirrors) {
  const Rule r = rule(Condition::crosses_below, 180);
  const RuleState above = side(Side::at_or_above, kT0);
  EXPECT_EQ(evaluate(r, tick(180, kT0 + 1), above).outcome, Outcome::no_match);  // equal is not below
  EXPECT_EQ(evaluate(r, tick(179.99, kT0 + 1), above).outcome, Outcome::fired);
  EXPECT_EQ(evaluate(r, tick(179.99, kT0 + 1), {}).next.side, Side::below);
  EXPECT_EQ(evaluate(r, tick(181, kT0 + 1), side(Side::below, kT0)).outcome, Outcome::side_changed);
}

TEST(Evaluate, DisabledNeverEvaluated) {
  Rule r = rule(Condition::price_above, 1);
  r.enabled = false;
  EXPECT_EQ(evaluate(r, tick(5, kT0), {}), (Decision{Outcome::disabled, {}, false}));
}

TEST(Sides, Names) {
  for (const Side s : {Side::above, Side::at_or_below, Side::below, Side::at_or_above}) {
    EXPECT_EQ(parse_side(to_string(s)), s);
  }
  EXPECT_EQ(parse_side("sideways"), std::nullopt);
  EXPECT_EQ(to_string(Outcome::no_match), "no_match");
  EXPECT_EQ(to_string(Outcome::fired), "fired");
  EXPECT_EQ(to_string(Outcome::late), "late");
  EXPECT_EQ(to_string(Outcome::first_seen), "first_seen");
  EXPECT_EQ(to_string(Outcome::side_changed), "side_changed");
  EXPECT_EQ(to_string(Outcome::suppressed_by_cooldown), "suppressed_by_cooldown");
  EXPECT_EQ(to_string(Outcome::disabled), "disabled");
}

RuleSet rules_for_planning() {
  Rule up = rule(Condition::crosses_above, 200, 300);
  up.id = "up";
  Rule lvl = rule(Condition::price_above, 200, 60);
  lvl.id = "lvl";
  Rule wild = rule(Condition::price_above, 0.5, 60, "*");
  wild.id = "any";
  Rule off = rule(Condition::price_above, 1);
  off.id = "off";
  off.enabled = false;
  Rule other = rule(Condition::crosses_above, 1, 60, "MSFT");
  other.id = "msft";
  return RuleSet({up, lvl, wild, off, other});
}

TEST(Plan, SortsByTimestampCollapsesSideWritesAndCountsLate) {
  const RuleSet rules = rules_for_planning();
  // Arrival order differs from time order; two ticks share a timestamp (ties keep arrival order).
  std::vector<Tick> ticks = {tick(199, kT0 + 3 * kSec), tick(201, kT0 + 1 * kSec), tick(198, kT0 + 2 * kSec),
                             tick(202, kT0 + 4 * kSec), tick(203, kT0 + 4 * kSec), tick(150, kT0 - kSec)};
  std::vector<BatchTick> batch;
  for (std::size_t i = 0; i < ticks.size(); ++i) batch.push_back({&ticks[i], i / 2});
  StateMap known;
  known[{0, "AAPL"}] = side(Side::at_or_below, kT0 - kSec);  // read from the store
  const auto plans = plan_batch(rules, batch, known).keys;
  ASSERT_EQ(plans.size(), 3u);  // up, lvl, any (disabled rule and other symbols not touched)
  const KeyPlan& up = plans[0];
  EXPECT_EQ(up.key, (StateKey{0, "AAPL"}));
  std::vector<std::size_t> order;
  for (const auto& pt : up.ticks) order.push_back(pt.batch_index);
  EXPECT_EQ(order, (std::vector<std::size_t>{5, 1, 2, 0, 3, 4}));
  EXPECT_EQ(up.late_count, 2u);  // 150 at T0-1s == side_ts; 203 has the timestamp 202 just wrote
  EXPECT_EQ(up.ticks[0].outcome, Outcome::late);
  EXPECT_EQ(up.ticks[1].outcome, Outcome::fired);
  EXPECT_EQ(up.ticks[2].outcome, Outcome::side_changed);
  EXPECT_EQ(up.ticks[3].outcome, Outcome::no_match);
  EXPECT_EQ(up.ticks[4].outcome, Outcome::suppressed_by_cooldown);
  EXPECT_EQ(up.ticks[5].outcome, Outcome::late);  // same timestamp as the previous applied tick
  ASSERT_EQ(up.steps.size(), 2u);
  EXPECT_EQ(up.steps[0].kind, Step::Kind::fire);
  EXPECT_EQ(up.steps[0].expected, known[(StateKey{0, "AAPL"})]);
  EXPECT_EQ(up.steps[0].next, side(Side::above, kT0 + kSec, kT0 + kSec));
  EXPECT_EQ(up.steps[0].cooldown_cutoff, kT0 + kSec - 300 * kSec);
  // 198 (side change) and 202 (crossing inside cooldown) collapse into one side write.
  EXPECT_EQ(up.steps[1].kind, Step::Kind::write_side);
  EXPECT_EQ(up.steps[1].first_pos, 2u);
  EXPECT_EQ(up.steps[1].pos, 4u);
  EXPECT_EQ(up.steps[1].expected, up.steps[0].next);
  EXPECT_EQ(up.steps[1].next, side(Side::above, kT0 + 4 * kSec, kT0 + kSec));
  EXPECT_EQ(up.final_state, up.steps[1].next);
  EXPECT_EQ(messages_to_fail(up, 0), (std::vector<std::size_t>{0, 1, 2}));
  EXPECT_EQ(messages_to_fail(up, 1), (std::vector<std::size_t>{0, 1, 2}));
  // Level rule: fires at T0+1s (201), then 202/203 inside cooldown; unknown state = absent.
  const KeyPlan& lvl = plans[1];
  ASSERT_EQ(lvl.steps.size(), 1u);
  EXPECT_EQ(lvl.steps[0].pos, 1u);
  EXPECT_EQ(lvl.steps[0].expected, RuleState{});
  EXPECT_EQ(plans[2].key, (StateKey{2, "AAPL"}));
}

TEST(Plan, SideWriteFollowedByFireMergesIntoTheFire) {
  const RuleSet rules = rules_for_planning();
  std::vector<Tick> ticks = {tick(199, kT0), tick(201, kT0 + kSec)};
  std::vector<BatchTick> batch = {{&ticks[0], 0}, {&ticks[1], 1}};
  const auto plans = plan_batch(rules, batch, {}).keys;
  const KeyPlan& up = plans[0];
  ASSERT_EQ(up.steps.size(), 1u);  // first_seen's side write merges into the following fire
  EXPECT_EQ(up.steps[0].kind, Step::Kind::fire);
  EXPECT_EQ(up.steps[0].first_pos, 0u);
  EXPECT_EQ(up.steps[0].expected, RuleState{});
  EXPECT_EQ(up.steps[0].next, side(Side::above, kT0 + kSec, kT0 + kSec));
  EXPECT_EQ(messages_to_fail(up, 0), (std::vector<std::size_t>{0, 1}));
}

TEST(Plan, SingleKeyForReevaluationAfterACasFailure) {
  const RuleSet rules = rules_for_planning();
  std::vector<Tick> ticks = {tick(201, kT0 + 2 * kSec), tick(199, kT0 + kSec)};
  std::vector<BatchTick> batch = {{&ticks[0], 0}, {&ticks[1], 1}};
  // Re-read state says another container already applied T0+1s (side at_or_below).
  const KeyPlan p = plan_key(rules.rule(0), {0, "AAPL"}, batch, {0, 1}, side(Side::at_or_below, kT0 + kSec));
  ASSERT_EQ(p.ticks.size(), 2u);
  EXPECT_EQ(p.ticks[0].batch_index, 1u);
  EXPECT_EQ(p.ticks[0].outcome, Outcome::late);
  EXPECT_EQ(p.ticks[1].outcome, Outcome::fired);
  EXPECT_EQ(p.late_count, 1u);
  ASSERT_EQ(p.steps.size(), 1u);
  EXPECT_EQ(messages_to_fail(p, 0), (std::vector<std::size_t>{0}));
}

TEST(Plan, KeysWithoutWritesAreLeftOutButLateTicksCounted) {
  const RuleSet rules = rules_for_planning();
  std::vector<Tick> ticks = {tick(150, kT0)};
  std::vector<BatchTick> batch = {{&ticks[0], 0}};
  StateMap known;
  known[{0, "AAPL"}] = side(Side::at_or_below, kT0);
  const BatchPlan plan = plan_batch(rules, batch, known);
  EXPECT_EQ(plan.late_count, 1u);
  EXPECT_EQ(plan.settled_late, (std::vector<LateEvaluation>{{0, 0, false}}));  // tick 0, rule "up", no fire
  ASSERT_EQ(plan.keys.size(), 1u);  // only the wildcard rule (price > 0.5) writes
  EXPECT_EQ(plan.keys[0].key, (StateKey{2, "AAPL"}));
}

TEST(Plan, SameSideTicksAdvanceSideTsOncePerBatch) {
  // F3: the state advances with every applied tick, or a tick older than an applied one would not be
  // late.
  const RuleSet rules = rules_for_planning();
  std::vector<Tick> ticks = {tick(150, kT0), tick(150, kT0 + kSec), tick(151, kT0 + 2 * kSec)};
  std::vector<BatchTick> batch = {{&ticks[0], 0}, {&ticks[1], 0}, {&ticks[2], 1}};
  const KeyPlan p = plan_key(rules.rule(0), {0, "AAPL"}, batch, {0, 1, 2}, side(Side::at_or_below, kT0));
  EXPECT_EQ(p.late_count, 1u);
  ASSERT_EQ(p.steps.size(), 1u);
  EXPECT_EQ(p.steps[0].kind, Step::Kind::write_side);
  EXPECT_EQ(p.steps[0].first_pos, 0u);
  EXPECT_EQ(p.steps[0].pos, 2u);
  EXPECT_EQ(p.steps[0].expected, side(Side::at_or_below, kT0));
  EXPECT_EQ(p.steps[0].next, side(Side::at_or_below, kT0 + 2 * kSec));
  EXPECT_EQ(p.final_state, side(Side::at_or_below, kT0 + 2 * kSec));
  EXPECT_EQ(messages_to_fail(p, 0), (std::vector<std::size_t>{0, 1}));

  // After a fire, later same-side ticks are persisted by one more write, conditioned on the fire's state.
  std::vector<Tick> up = {tick(201, kT0 + kSec), tick(202, kT0 + 2 * kSec)};
  std::vector<BatchTick> upb = {{&up[0], 0}, {&up[1], 1}};
  const KeyPlan f = plan_key(rules.rule(0), {0, "AAPL"}, upb, {0, 1}, side(Side::at_or_below, kT0));
  ASSERT_EQ(f.steps.size(), 2u);
  EXPECT_EQ(f.steps[0].kind, Step::Kind::fire);
  EXPECT_EQ(f.steps[1].kind, Step::Kind::write_side);
  EXPECT_EQ(f.steps[1].first_pos, 1u);
  EXPECT_EQ(f.steps[1].expected, side(Side::above, kT0 + kSec, kT0 + kSec));
  EXPECT_EQ(f.steps[1].next, side(Side::above, kT0 + 2 * kSec, kT0 + kSec));
  EXPECT_EQ(messages_to_fail(f, 1), (std::vector<std::size_t>{1}));

  // A side change followed by same-side ticks: the one side write carries the newest timestamp.
  std::vector<Tick> down = {tick(199, kT0 + kSec), tick(198, kT0 + 2 * kSec)};
  std::vector<BatchTick> db = {{&down[0], 0}, {&down[1], 0}};
  const KeyPlan d = plan_key(rules.rule(0), {0, "AAPL"}, db, {0, 1}, side(Side::above, kT0));
  ASSERT_EQ(d.steps.size(), 1u);
  EXPECT_EQ(d.steps[0].kind, Step::Kind::write_side);
  EXPECT_EQ(d.steps[0].pos, 1u);
  EXPECT_EQ(d.steps[0].next, side(Side::at_or_below, kT0 + 2 * kSec));
}

TEST(Plan, TouchedKeys) {
  const RuleSet rules = rules_for_planning();
  std::vector<Tick> ticks = {tick(201, kT0), tick(2, kT0, "MSFT"), tick(202, kT0 + 1)};
  std::vector<BatchTick> batch = {{&ticks[0], 0}, {&ticks[1], 0}, {&ticks[2], 1}};
  EXPECT_EQ(touched_keys(rules, batch, true), (std::vector<StateKey>{{0, "AAPL"}, {4, "MSFT"}}));
  EXPECT_EQ(touched_keys(rules, batch, false).size(), 5u);
}

TEST(Recovery, CandidatesAreLateEvaluationsWhoseConditionHolds) {
  const RuleSet rules = rules_for_planning();
  // 201 is above "up" (200), "lvl" (200) and "any" (0.5); 150 only above "any".
  std::vector<Tick> ticks = {tick(150, kT0), tick(201, kT0 + kSec), tick(201, kT0 + kSec)};
  std::vector<BatchTick> batch = {{&ticks[0], 0}, {&ticks[1], 1}, {&ticks[2], 2}};
  const std::vector<LateEvaluation> late = {{2, 1, true}, {1, 0, true}, {0, 0, true}, {0, 2, true},
                                            {2, 0, true}, {1, 2, true}, {1, 1, false}};
  EXPECT_EQ(
      recovery_candidates(rules, batch, late),
      (std::vector<RecoveryCandidate>{
          {{"AAPL", kT0, "any"}, 2, 0},  // 150 is not above "up": no candidate
          {{"AAPL", kT0 + kSec, "up"}, 0, 1},
          {{"AAPL", kT0 + kSec, "any"}, 2, 1},
          {{"AAPL", kT0 + kSec, "lvl"}, 1, 2},  // the same tick twice: each alert once, first carrier
                                                // wins (tick 1 for "lvl": no fire at or after it, no alert)
      }));
  EXPECT_TRUE(recovery_candidates(rules, batch, {}).empty());
}

TEST(Recovery, OnlyLateTicksAtOrBeforeTheLastFireMayHaveAnAlert) {
  // A crossing fired at T0+2s and its side has advanced to T0+5s: of the late ticks, only those at or
  // before the last fire can have an alert (last_fire_ts only grows); the others need no look-up.
  const RuleSet rules = rules_for_planning();
  std::vector<Tick> ticks = {tick(201, kT0 + 3 * kSec), tick(201, kT0 + 2 * kSec), tick(201, kT0 + kSec)};
  std::vector<BatchTick> batch = {{&ticks[0], 0}, {&ticks[1], 1}, {&ticks[2], 2}};
  const KeyPlan p = plan_key(rules.rule(0), {0, "AAPL"}, batch, {0, 1, 2},
                             side(Side::above, kT0 + 5 * kSec, kT0 + 2 * kSec));
  ASSERT_EQ(p.ticks.size(), 3u);
  EXPECT_EQ(p.late_count, 3u);
  EXPECT_EQ(p.ticks[0].batch_index, 2u);  // time order: T0+1s, T0+2s, T0+3s
  EXPECT_TRUE(p.ticks[0].may_have_alert);
  EXPECT_TRUE(p.ticks[1].may_have_alert);
  EXPECT_FALSE(p.ticks[2].may_have_alert);
  // Never fired: no late tick may have an alert.
  const KeyPlan never = plan_key(rules.rule(0), {0, "AAPL"}, batch, {0}, side(Side::above, kT0 + 5 * kSec));
  EXPECT_FALSE(never.ticks[0].may_have_alert);
}

TEST(Recovery, AStoredAlertMakesEveryLaterDeliveryOfItsTickLate) {
  // The property recovery relies on (whatever the receive count): after the fire of T, T is late.
  const RuleSet rules = rules_for_planning();
  std::vector<Tick> ticks = {tick(201, kT0 + kSec)};
  std::vector<BatchTick> batch = {{&ticks[0], 0}};
  StateMap known;
  known[{0, "AAPL"}] = side(Side::at_or_below, kT0);
  const BatchPlan first = plan_batch(rules, batch, known);
  StateMap after;
  for (const KeyPlan& k : first.keys) {
    ASSERT_EQ(k.steps.front().kind, Step::Kind::fire) << k.key.rule_index;
    after[k.key] = k.final_state;
  }
  const BatchPlan again = plan_batch(rules, batch, after);
  EXPECT_TRUE(again.keys.empty());
  EXPECT_EQ(again.settled_late, (std::vector<LateEvaluation>{{0, 0, true}, {0, 1, true}, {0, 2, true}}));
  EXPECT_EQ(recovery_candidates(rules, batch, again.settled_late).size(), 3u);
}

}  // namespace
}  // namespace tap
