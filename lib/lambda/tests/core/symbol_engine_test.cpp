// The event-time engine (plan_symbol): placement, crossings matched per excursion, modes, versions,
// controls, the reorder window, the fire log and its horizon, commit sizes (F3, R1-R3, R5).
#include "tap/core/symbol_engine.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "engine_driver.hpp"

namespace tap {
namespace {

using testing::at_s;
using testing::EngineDriver;
using testing::StoredAlert;
using testing::tick_at;

Rule version(std::string id, Condition condition, double threshold, TriggerMode mode = TriggerMode::every,
             std::string symbol = "AAPL") {
  return testing::make_version(std::move(id), std::move(symbol), condition, threshold, mode, 1, 60);
}
Rule cross_above_200() { return version("r1", Condition::crosses_above, 200); }

Tick aapl(double price, double seconds, std::uint64_t seq = 0) {
  return tick_at("AAPL", price, at_s(seconds), seq);
}

StoredAlert alert(double seconds, std::string rule = "r1", std::uint32_t v = 1, std::uint64_t seq = 0,
                  std::string symbol = "AAPL") {
  return {std::move(symbol), {at_s(seconds), seq}, std::move(rule), v};
}
std::set<StoredAlert> alerts(std::initializer_list<StoredAlert> list) { return list; }

// ---- the two examples of the issue (crosses_above 200, every, cooldown 1 s, ticks 10 s apart) ----

TEST(SymbolEngine, MovedCrossingKeepsTheKeyItWasStoredUnder) {
  EngineDriver d({cross_above_200()});
  d.deliver({aapl(199, 10)});
  d.deliver({aapl(201, 30)});
  EXPECT_EQ(d.stored(), alerts({alert(30)}));
  const auto plans = d.deliver({aapl(202, 20)});  // moves the crossing to t2: no second alert
  EXPECT_TRUE(plans[0].fires.empty());
  EXPECT_EQ(plans[0].fates[0], TickFate::applied);
  EXPECT_EQ(d.stored(), alerts({alert(30)}));
  EXPECT_EQ(d.state("AAPL").ticks.size(), 3u);
}

TEST(SymbolEngine, RevealedCrossingTakesTheReplayKeyLeftFree) {
  EngineDriver d({cross_above_200()});
  for (const Tick& t : {aapl(199, 10), aapl(201, 40), aapl(202, 20), aapl(198, 30)}) d.deliver({t});
  EXPECT_EQ(d.stored(), alerts({alert(40), alert(20)}));
  EXPECT_EQ(d.mode_choices, 0u);
}

TEST(SymbolEngine, ABatchIsAppliedInPositionOrderAsTheReplay) {
  EngineDriver d({cross_above_200()});
  const auto plans = d.deliver({aapl(199, 10), aapl(201, 30), aapl(202, 20)});
  EXPECT_EQ(d.stored(), alerts({alert(20)}));
  ASSERT_EQ(plans[0].fires.size(), 1u);
  EXPECT_EQ(plans[0].fires[0].input_tick, 2u);
  EXPECT_EQ(plans[0].fires[0].cause, 2u);
}

TEST(SymbolEngine, TheFirstTickOnlyEstablishesThePrice) {
  EngineDriver d({cross_above_200(), version("lvl", Condition::price_above, 100)});
  const auto plans = d.deliver({aapl(201, 10)});
  EXPECT_EQ(d.stored(), alerts({alert(10, "lvl")}));  // a level condition needs no history
  EXPECT_TRUE(plans[0].write_needed);
  EXPECT_TRUE(d.state("AAPL").exists);
  EXPECT_EQ(d.state("AAPL").revision, 1u);
}

TEST(SymbolEngine, CrossesBelowMirrorsAndThePriceOnTheLineFiresNeither) {
  EngineDriver d({version("dn", Condition::crosses_below, 200), cross_above_200()});
  for (const Tick& t : {aapl(201, 10), aapl(200, 20), aapl(199, 30), aapl(200, 40), aapl(201, 50)})
    d.deliver({t});
  EXPECT_EQ(d.stored(), alerts({alert(30, "dn"), alert(50, "r1")}));
}

// ---- placement: duplicates, seq, controls, the reorder window ----

TEST(SymbolEngine, SecondTickAtTheSamePositionIsADuplicateWhateverItsPrice) {  // defect 4a
  EngineDriver d({cross_above_200()});
  d.deliver({aapl(199, 10)});
  const auto plans = d.deliver({aapl(198, 20), aapl(202, 20)});
  EXPECT_EQ(plans[0].fates, (std::vector<TickFate>{TickFate::applied, TickFate::duplicate}));
  EXPECT_TRUE(d.stored().empty());
  ASSERT_EQ(d.state("AAPL").ticks.size(), 2u);
  EXPECT_EQ(d.state("AAPL").ticks[1].price, 198);
}

TEST(SymbolEngine, DuplicateAcrossTwoRecordsOfOneBatchAndAgainstAHeldTick) {
  EngineDriver d({cross_above_200()});
  d.deliver({aapl(199, 10)});
  const std::vector<Tick> batch{aapl(198, 20), aapl(202, 20)};
  RuleSet rules({cross_above_200()});
  RuleIndex index(rules);
  const std::vector<SymbolTick> two_records{{&batch[0], 0}, {&batch[1], 1}};
  const SymbolPlan p = plan_symbol(index, "AAPL", d.state("AAPL"), two_records, {}, {}, {});
  EXPECT_EQ(p.fates[1], TickFate::duplicate);
  EXPECT_TRUE(p.fires.empty());
  d.deliver(batch);
  const auto again = d.deliver({aapl(250, 10)});  // the held tick's position, another price
  EXPECT_EQ(again[0].fates[0], TickFate::duplicate);
  EXPECT_FALSE(again[0].write_needed);
  EXPECT_TRUE(d.stored().empty());
}

TEST(SymbolEngine, SeqOrdersTicksOfEqualTimestamp) {
  EngineDriver d({cross_above_200()});
  d.deliver({aapl(199, 10)});
  d.deliver({aapl(201, 20, 2)});
  const auto plans = d.deliver({aapl(198, 20, 1)});  // before seq 2: the crossing is at seq 2 still
  EXPECT_EQ(plans[0].fates[0], TickFate::applied);
  EXPECT_EQ(d.stored(), alerts({alert(20, "r1", 1, 2)}));
  EXPECT_EQ(d.state("AAPL").ticks.size(), 3u);
}

TEST(SymbolEngine, RedeliveredTickIsADuplicateAndReturnsItsFiresToComplete) {
  EngineDriver d({cross_above_200(), version("lvl", Condition::price_above, 100)});
  d.deliver({aapl(199, 10)});
  d.deliver({aapl(201, 20)});
  d.plan_and_commit("AAPL", {});  // the fires' notifications confirmed (F5): that plan writes
  const auto plans = d.deliver({aapl(201, 20), aapl(201, 20)});
  EXPECT_EQ(plans[0].fates, (std::vector<TickFate>{TickFate::duplicate, TickFate::duplicate}));
  EXPECT_FALSE(plans[0].write_needed);  // nothing changes: the commit may be skipped
  ASSERT_EQ(plans[0].to_complete.size(), 2u);
  EXPECT_EQ(plans[0].to_complete[0].tick, (Position{at_s(20), 0}));
  EXPECT_EQ(d.stored().size(), 3u);  // lvl at t1 and t2, r1 at t2
}

TEST(SymbolEngine, SuspendedTicksAreNotAppliedAndFireNothing) {
  EngineDriver d({cross_above_200(), version("lvl", Condition::price_above, 100)});
  d.controls["AAPL"].suspensions.push_back({at_s(15), at_s(25)});
  d.deliver({aapl(199, 10)});
  d.plan_and_commit("AAPL", {});  // the fires' notifications confirmed (F5): that plan writes
  const auto plans = d.deliver({aapl(205, 20)});
  EXPECT_EQ(plans[0].fates[0], TickFate::suspended);
  EXPECT_FALSE(plans[0].write_needed);
  d.deliver({aapl(203, 25)});  // the suspension ends at 25 (half-open)
  EXPECT_EQ(d.stored(), alerts({alert(10, "lvl"), alert(25, "lvl"), alert(25)}));
}

TEST(SymbolEngine, ATickOutsideTheBandInForceIsRejected) {
  EngineDriver d({cross_above_200()});
  auto& bands = d.controls["AAPL"].bands;
  bands.push_back({{EffectiveWindow::kOpenStart, at_s(100)}, 150, 250});
  bands.push_back({{at_s(100), EffectiveWindow::kOpenEnd}, 150, 300});
  d.deliver({aapl(199, 10)});
  auto plans = d.deliver({aapl(9999, 20), aapl(100, 30)});
  EXPECT_EQ(plans[0].fates, (std::vector<TickFate>{TickFate::out_of_band, TickFate::out_of_band}));
  EXPECT_TRUE(d.stored().empty());
  plans = d.deliver({aapl(260, 40), aapl(260, 110)});  // out of the first band, inside the second
  EXPECT_EQ(plans[0].fates, (std::vector<TickFate>{TickFate::out_of_band, TickFate::applied}));
  EXPECT_EQ(d.stored(), alerts({alert(110)}));
}

TEST(SymbolEngine, AnOutOfBandPrintDoesNotHideALaterTickAtItsPosition) {
  EngineDriver d({cross_above_200()});
  d.controls["AAPL"].bands.push_back({{}, 150, 250});
  d.deliver({aapl(199, 10)});
  const auto plans = d.deliver({aapl(9999, 20), aapl(201, 20)});
  EXPECT_EQ(plans[0].fates, (std::vector<TickFate>{TickFate::out_of_band, TickFate::applied}));
  EXPECT_EQ(d.stored(), alerts({alert(20)}));
}

TEST(SymbolEngine, BeyondTheWindowNoCrossingButALevelVersionMayFire) {
  Rule lvl = version("lvl", Condition::price_above, 300);
  lvl.cooldown_seconds = 10;  // its fire at 15 reaches past the oldest held tick (20): it is kept
  EngineDriver d({cross_above_200(), lvl},
                 {.reorder_window_micros = 30 * kMicrosPerSecond, .max_held_ticks = 256});
  for (double s : {10.0, 20.0, 30.0, 40.0, 50.0}) d.deliver({aapl(199, s)});
  ASSERT_EQ(d.state("AAPL").ticks.front().pos.ts_micros, at_s(20));  // 50 - 30 s
  const auto plans = d.deliver({aapl(301, 15), aapl(301, 20, 0)});
  EXPECT_EQ(plans[0].fates, (std::vector<TickFate>{TickFate::beyond_window, TickFate::duplicate}));
  EXPECT_EQ(d.stored(), alerts({alert(15, "lvl")}));
  EXPECT_EQ(d.state("AAPL").ticks.size(), 4u);    // nothing placed
  EXPECT_EQ(d.state("AAPL").fires.size(), 1u);    // recorded like any fire
  d.plan_and_commit("AAPL", {});                  // the fires' notifications confirmed (F5): that plan writes
  const auto again = d.deliver({aapl(301, 15)});  // redelivered: completes, never fires twice
  EXPECT_EQ(again[0].fates[0], TickFate::beyond_window);
  ASSERT_EQ(again[0].to_complete.size(), 1u);
  EXPECT_EQ(again[0].to_complete[0].rule_id, "lvl");
  EXPECT_FALSE(again[0].write_needed);
}

TEST(SymbolEngine, ARedeliveredTickItsRuleFiredOnIsNoChoice) {
  // Beyond W a redelivered tick is a candidate again, withheld by its own fire: that fire is at the
  // candidate's position in the key view and in the replay's, so the two agree and the engine chose nothing.
  Rule lvl = version("lvl", Condition::price_above, 300);
  lvl.cooldown_seconds = 10;  // its fire at 15 reaches past the oldest held tick (20): it is kept
  EngineDriver d({lvl}, {.reorder_window_micros = 30 * kMicrosPerSecond, .max_held_ticks = 256});
  for (double s : {10.0, 20.0, 30.0, 40.0, 50.0}) d.deliver({aapl(199, s)});
  d.deliver({aapl(301, 15)});
  ASSERT_EQ(d.stored(), alerts({alert(15, "lvl")}));
  const auto again = d.deliver({aapl(301, 15)});
  EXPECT_EQ(again[0].fates[0], TickFate::beyond_window);
  EXPECT_TRUE(again[0].fires.empty());
  EXPECT_EQ(again[0].mode_choices, 0u);
  EXPECT_EQ(d.mode_choices, 0u);
}

TEST(SymbolEngine, ACrossingThatPersistsPastTheWindowFiresAtTheNextAppliedTick) {
  EngineDriver d({cross_above_200()},
                 {.reorder_window_micros = 20 * kMicrosPerSecond, .max_held_ticks = 256});
  d.deliver({aapl(199, 10)});
  d.deliver({aapl(199, 40)});  // trims t=10
  d.deliver({aapl(205, 5)});   // beyond W: no crossing
  d.deliver({aapl(203, 50)});
  EXPECT_EQ(d.stored(), alerts({alert(50)}));
}

TEST(SymbolEngine, AYoungSymbolTakesAnOlderTickAtTheFrontAndItsCrossingFires) {
  // Nothing trimmed yet: the held ticks are all the symbol ever applied, so a tick older than all of them
  // (within W by event time) is placed at the front, and the crossing it reveals fires.
  EngineDriver d({cross_above_200()});
  d.deliver({aapl(201, 30)});  // the symbol's first tick: only establishes the price
  EXPECT_TRUE(d.stored().empty());
  const auto plans = d.deliver({aapl(199, 10)});
  EXPECT_EQ(plans[0].fates[0], TickFate::applied);
  EXPECT_EQ(d.stored(), alerts({alert(30)}));
  EXPECT_FALSE(d.state("AAPL").ticks_trimmed);
  EXPECT_EQ(d.state("AAPL").ticks.front().pos.ts_micros, at_s(10));
}

TEST(SymbolEngine, AnOlderTickIsBeyondTheWindowOnceATickWasTrimmedOrOlderThanW) {
  EngineDriver trimmed({cross_above_200()},
                       {.reorder_window_micros = 3600 * kMicrosPerSecond, .max_held_ticks = 2});
  trimmed.deliver({aapl(199, 20), aapl(199, 30), aapl(201, 40)});  // 20 is trimmed by count
  EXPECT_TRUE(trimmed.state("AAPL").ticks_trimmed);
  EXPECT_EQ(trimmed.deliver({aapl(205, 25)})[0].fates[0], TickFate::beyond_window);  // before the oldest
  EngineDriver young({cross_above_200()},
                     {.reorder_window_micros = 30 * kMicrosPerSecond, .max_held_ticks = 256});
  young.deliver({aapl(201, 100)});
  EXPECT_FALSE(young.state("AAPL").ticks_trimmed);
  EXPECT_EQ(young.deliver({aapl(199, 69)})[0].fates[0], TickFate::beyond_window);  // 100 - 30 s = 70
  EXPECT_EQ(young.deliver({aapl(199, 70)})[0].fates[0], TickFate::applied);        // the bound itself
  EXPECT_EQ(young.stored(), alerts({alert(100)}));
}

TEST(SymbolEngine, HeldTicksAreTrimmedByEventTimeAndByCount) {
  EngineDriver by_time({cross_above_200()},
                       {.reorder_window_micros = 25 * kMicrosPerSecond, .max_held_ticks = 256});
  std::vector<Tick> ticks;
  for (int i = 1; i <= 6; ++i) ticks.push_back(aapl(190 + i, 10 * i));
  by_time.deliver(ticks);
  const auto& held = by_time.state("AAPL").ticks;
  ASSERT_EQ(held.size(), 3u);  // 40, 50, 60: 60 - 25 s = 35
  EXPECT_EQ(held.front().pos.ts_micros, at_s(40));
  EngineDriver by_count({cross_above_200()},
                        {.reorder_window_micros = 3600 * kMicrosPerSecond, .max_held_ticks = 2});
  by_count.deliver(ticks);
  ASSERT_EQ(by_count.state("AAPL").ticks.size(), 2u);
  EXPECT_EQ(by_count.state("AAPL").ticks.front().pos.ts_micros, at_s(50));
  EXPECT_EQ(by_count.deliver({aapl(250, 45)})[0].fates[0], TickFate::beyond_window);
}

// ---- modes (R2), in event time on both sides ----

TEST(SymbolEngine, EveryCooldownCountsOnBothSidesAndCountsTheChoice) {
  Rule r = version("lvl", Condition::price_above, 100);
  r.cooldown_seconds = 5;
  EngineDriver d({r});
  d.deliver({aapl(101, 100)});
  auto plans = d.deliver({aapl(101, 97)});  // 3 s before the stored fire: the replay would fire here
  EXPECT_TRUE(plans[0].fires.empty());
  EXPECT_EQ(plans[0].mode_choices, 1u);
  plans = d.deliver({aapl(101, 103)});  // 3 s after it: the replay suppresses it too, not a choice
  EXPECT_EQ(plans[0].mode_choices, 0u);
  d.deliver({aapl(101, 95), aapl(101, 105)});  // exactly the cooldown apart: allowed both sides
  EXPECT_EQ(d.stored(), alerts({alert(95, "lvl"), alert(100, "lvl"), alert(105, "lvl")}));
}

TEST(SymbolEngine, EveryCooldownWithinOneBatchIsTheReplay) {
  Rule r = version("lvl", Condition::price_above, 100);
  r.cooldown_seconds = 5;
  EngineDriver d({r});
  const auto plans = d.deliver({aapl(101, 103), aapl(101, 100), aapl(101, 106)});
  EXPECT_EQ(d.stored(), alerts({alert(100, "lvl"), alert(106, "lvl")}));
  EXPECT_EQ(plans[0].mode_choices, 0u);
}

TEST(SymbolEngine, CrossingFiresObeyTheCooldownToo) {
  Rule r = cross_above_200();
  r.cooldown_seconds = 30;
  EngineDriver d({r});
  for (const Tick& t :
       {aapl(199, 10), aapl(201, 20), aapl(199, 30), aapl(201, 40), aapl(199, 50), aapl(201, 60)}) {
    d.deliver({t});
  }
  EXPECT_EQ(d.stored(), alerts({alert(20), alert(60)}));
  EXPECT_EQ(d.mode_choices, 0u);
}

TEST(SymbolEngine, FiresAtOneTickArePlannedInRuleSetOrder) {
  // The crossing is found after the level version (levels are collected while placing ticks), yet its
  // version comes first in the rule set: so does its fire (the order in which a burst is stored).
  EngineDriver d({cross_above_200(), version("lvl", Condition::price_above, 100)});
  d.deliver({aapl(199, 10)});
  const auto plans = d.deliver({aapl(201, 20)});
  ASSERT_EQ(plans[0].fires.size(), 2u);
  EXPECT_EQ(plans[0].fires[0].rule_index, 0u);
  EXPECT_EQ(plans[0].fires[1].rule_index, 1u);
}

TEST(SymbolEngine, OncePerBarAllowsOneFirePerEpochAlignedBar) {
  EngineDriver d({version("bar", Condition::price_above, 100, TriggerMode::once_per_bar)});
  // kT0 is a multiple of 60 s: bars [0, 60), [60, 120) after it.
  d.deliver({aapl(101, 10), aapl(101, 50), aapl(101, 60)});
  const auto plans = d.deliver({aapl(101, 5)});  // earlier in the first bar: the replay fires here instead
  EXPECT_EQ(plans[0].mode_choices, 1u);
  EXPECT_EQ(d.stored(), alerts({alert(10, "bar"), alert(60, "bar")}));
}

TEST(SymbolEngine, AZeroCooldownOrBarCountsAsOneSecond) {  // R2: >= 1 s, whatever the version carries
  Rule every = version("every", Condition::price_above, 100);
  every.cooldown_seconds = 0;
  Rule bar = version("bar", Condition::price_above, 100, TriggerMode::once_per_bar);
  bar.bar_seconds = 0;
  EngineDriver d({every, bar});
  d.deliver({aapl(101, 10), aapl(101, 10.5), aapl(101, 11)});
  EXPECT_EQ(d.stored(), alerts({alert(10, "every"), alert(11, "every"), alert(10, "bar"), alert(11, "bar")}));
}

TEST(SymbolEngine, AMovedCrossingKeepsItsKeyAndTheChoicesItCausesAreCounted) {
  Rule bar = cross_above_200();
  bar.mode = TriggerMode::once_per_bar;  // bars of 60 s: [0, 60), [60, 120) after kT0
  EngineDriver d({bar}, {.reorder_window_micros = 3600 * kMicrosPerSecond, .max_held_ticks = 256});
  d.deliver({aapl(199, 5)});
  d.deliver({aapl(201, 70)});  // fires, keyed 70: bar 1
  auto plans = d.deliver({aapl(201, 50)});
  // The crossing moves to 50 (bar 0) and keeps its key: it withholds bar 1 at its key, bar 0 in the replay.
  EXPECT_EQ(plans[0].mode_choices, 1u);
  d.deliver({aapl(199, 30)});
  plans = d.deliver({aapl(201, 20)});  // a crossing at 20, bar 0: the key (70) allows it, the replay not
  EXPECT_EQ(plans[0].fires.size(), 1u);
  EXPECT_EQ(plans[0].mode_choices, 1u);
  EXPECT_EQ(d.stored(), alerts({alert(70), alert(20)}));  // the replay stores 20 alone
}

TEST(SymbolEngine, AMovedCrossingThatSharesABarWithAnotherFireIsAChoice) {
  Rule bar = cross_above_200();
  bar.mode = TriggerMode::once_per_bar;  // bars of 60 s: [0, 60), [60, 120), [120, 180) after kT0
  EngineDriver d({bar}, {.reorder_window_micros = 3600 * kMicrosPerSecond, .max_held_ticks = 256});
  for (const Tick& t : {aapl(199, 5), aapl(201, 70), aapl(199, 100), aapl(201, 130)}) d.deliver({t});
  EXPECT_EQ(d.stored(), alerts({alert(70), alert(130)}));  // bars 1 and 2
  const auto plans = d.deliver({aapl(201, 110)});          // moves the crossing keyed 130 to 110: bar 1
  EXPECT_TRUE(plans[0].fires.empty());
  // Two choices: the moved fire shares bar 1 with the fire at 70 (a pair the replay cannot have), and it
  // withholds the tick at 70 in the replay's view, not at its key.
  EXPECT_EQ(plans[0].mode_choices, 2u);
}

TEST(SymbolEngine, AMovedFireIsCountedOnceWhenTwoVersionsOfItsRuleAreCrossed) {
  Rule v1 = cross_above_200();
  v1.mode = TriggerMode::once_per_bar;  // bars of 60 s after kT0
  v1.window.until_micros = at_s(60);
  Rule v2 = v1;
  v2.version = 2;
  v2.window = {at_s(60), EffectiveWindow::kOpenEnd};
  EngineDriver d({v1, v2}, {.reorder_window_micros = 3600 * kMicrosPerSecond, .max_held_ticks = 256});
  d.deliver({aapl(199, 5)});
  d.deliver({aapl(201, 70)});  // v2's crossing, keyed 70: bar 1
  // v1 is crossed at 50 (the fire moves there: bar 0), v2 at 80 and 90.
  const auto plans = d.deliver({aapl(201, 50), aapl(199, 80), aapl(201, 90)});
  EXPECT_EQ(d.stored(), alerts({alert(70, "r1", 2)}));
  // Two choices: the moved fire withholds bar 0 in the replay's view (counted once for the rule, not once
  // per crossed version), and the crossing at 90 is withheld by the key 70 (bar 1) though not by the
  // replay's fire at 50.
  EXPECT_EQ(plans[0].mode_choices, 2u);
}

TEST(SymbolEngine, AMovedFireIsCountedWithTheParametersOfItsRulesFirstCrossedVersionInTheRuleSet) {
  // The example above with the versions listed v2 first and with bars that differ: the moved fire's
  // choice is judged with v2's bars (the first crossed version in the rule set), although the late ticks
  // cross v1 first in position order.
  Rule v1 = cross_above_200();
  v1.mode = TriggerMode::once_per_bar;
  v1.bar_seconds = 120;  // one bar [0, 120) after kT0 holds every tick: a move inside it changes nothing
  v1.window.until_micros = at_s(60);
  Rule v2 = v1;
  v2.version = 2;
  v2.bar_seconds = 60;  // bars [0, 60), [60, 120): the move from 70 to 50 changes the bar it withholds
  v2.window = {at_s(60), EffectiveWindow::kOpenEnd};
  EngineDriver d({v2, v1}, {.reorder_window_micros = 3600 * kMicrosPerSecond, .max_held_ticks = 256});
  d.deliver({aapl(199, 5)});
  d.deliver({aapl(201, 70)});
  const auto plans = d.deliver({aapl(201, 50), aapl(199, 80), aapl(201, 90)});
  EXPECT_EQ(d.stored(), alerts({alert(70, "r1", 2)}));
  // With v2's bars: the moved fire withholds bar 0 in the replay's view (1), and the crossing at 90 is
  // withheld by the key 70 though not by the replay's fire at 50 (1). With v1's the first would be none.
  EXPECT_EQ(plans[0].mode_choices, 2u);
}

TEST(SymbolEngine, AFireMovedInsideItsVersionsWindowIsPlacedOnThatVersionsLineNotTheCandidates) {
  // v1 (200) fires at 50 and a late tick moves its crossing to 30; v2 (210, from 60) then crosses at 80.
  // In the replay the fire sits at 30 -- the excursion above v1's line, 200 -- not at 50, where the walk
  // would stop on v2's line (205 is below 210). 80 - 50 < 40 s of cooldown but 80 - 30 is not: the key
  // view withholds the crossing at 80 and the replay would not, one choice.
  Rule v1 = cross_above_200();
  v1.cooldown_seconds = 40;
  v1.window.until_micros = at_s(60);
  Rule v2 = version("r1", Condition::crosses_above, 210);
  v2.version = 2;
  v2.cooldown_seconds = 40;
  v2.window = {at_s(60), EffectiveWindow::kOpenEnd};
  EngineDriver d({v1, v2}, {.reorder_window_micros = 3600 * kMicrosPerSecond, .max_held_ticks = 256});
  d.deliver({aapl(199, 5)});
  d.deliver({aapl(206, 50)});  // v1's crossing, keyed 50
  d.deliver({aapl(205, 30)});  // moves the crossing to 30: the same excursion, no alert
  d.deliver({aapl(209, 70)});
  const auto plans = d.deliver({aapl(211, 80)});  // v2's crossing, within the cooldown of the key only
  EXPECT_TRUE(plans[0].fires.empty());
  EXPECT_EQ(plans[0].mode_choices, 1u);
  EXPECT_EQ(d.stored(), alerts({alert(50)}));
}

// ---- unvouched (F4, F5): decided when the fire is planned, carried by its record ----

// The record of rule `id`'s fire at `seconds` in the symbol's state.
const FireRecord& record_at(EngineDriver& d, const std::string& id, double seconds) {
  const auto& fires = d.state("AAPL").fires;
  const auto it = std::find_if(fires.begin(), fires.end(), [&](const FireRecord& f) {
    return f.rule_id == id && f.tick.ts_micros == at_s(seconds);
  });
  EXPECT_NE(it, fires.end()) << id << " at " << seconds;
  return *it;
}

TEST(SymbolEngine, FiresOfAnInOrderFeedAreVouched) {
  EngineDriver d({cross_above_200(), version("lvl", Condition::price_above, 100)});
  const auto plans = d.deliver({aapl(199, 10), aapl(201, 20)});
  ASSERT_EQ(plans[0].fires.size(), 3u);  // lvl at 10 and 20, r1 at 20
  for (const NewFire& f : plans[0].fires) EXPECT_FALSE(f.unvouched);
  for (const FireRecord& f : d.state("AAPL").fires) EXPECT_FALSE(f.unvouched);
}

TEST(SymbolEngine, ALevelFireOnATickBeyondWIsUnvouchedOneWithinWIsNot) {
  EngineDriver d({version("lvl", Condition::price_above, 100), cross_above_200()},
                 {.reorder_window_micros = 3600 * kMicrosPerSecond, .max_held_ticks = 2});
  d.deliver({aapl(90, 10), aapl(90, 20), aapl(90, 30)});  // held: 20 and 30, 10 trimmed
  auto plans = d.deliver({aapl(201, 15)});                // beyond W: only the level version fires
  EXPECT_EQ(plans[0].fates[0], TickFate::beyond_window);
  ASSERT_EQ(plans[0].fires.size(), 1u);
  EXPECT_TRUE(plans[0].fires[0].unvouched);
  EXPECT_TRUE(record_at(d, "lvl", 15).unvouched);  // the state keeps it with the fire
  plans = d.deliver({aapl(101, 25)});              // late but within W (after the oldest held tick)
  EXPECT_EQ(plans[0].fates[0], TickFate::applied);
  ASSERT_EQ(plans[0].fires.size(), 1u);
  EXPECT_FALSE(plans[0].fires[0].unvouched);
  EXPECT_EQ(plans[0].mode_choices, 0u);
}

TEST(SymbolEngine, AFireBesideAFireThatExcludesItInTheReplaysViewIsUnvouched) {
  Rule bar = cross_above_200();
  bar.mode = TriggerMode::once_per_bar;  // bars of 60 s: [0, 60), [60, 120) after kT0
  EngineDriver d({bar}, {.reorder_window_micros = 3600 * kMicrosPerSecond, .max_held_ticks = 256});
  d.deliver({aapl(199, 5)});
  d.deliver({aapl(201, 70)});
  d.deliver({aapl(201, 50)});  // the crossing keyed 70 moves to 50 (bar 0)
  d.deliver({aapl(199, 30)});
  const auto plans = d.deliver({aapl(201, 20)});  // bar 0 beside the replay's fire at 50: a choice
  ASSERT_EQ(plans[0].fires.size(), 1u);
  EXPECT_EQ(plans[0].mode_choices, 1u);
  EXPECT_TRUE(plans[0].fires[0].unvouched);
  EXPECT_TRUE(record_at(d, "r1", 20).unvouched);
  EXPECT_FALSE(record_at(d, "r1", 70).unvouched);  // fired in order; its move does not flag it later
}

TEST(SymbolEngine, AVouchedFireOvertakenByALateTickStaysVouched) {
  // The flag's limit (docs/design.md 5.3): decided once. The replay fires at 97 and not at 100; the choice
  // is counted in the later plan, which withholds 97, and the stored fire at 100 stays vouched.
  Rule r = version("lvl", Condition::price_above, 100);
  r.cooldown_seconds = 5;
  EngineDriver d({r});
  d.deliver({aapl(101, 100)});
  const auto plans = d.deliver({aapl(101, 97)});
  EXPECT_TRUE(plans[0].fires.empty());
  EXPECT_EQ(plans[0].mode_choices, 1u);
  EXPECT_FALSE(record_at(d, "lvl", 100).unvouched);
}

TEST(SymbolEngine, EveryFireOfAOnceRuleOnEverySymbolIsUnvouched) {
  // The replay orders all symbols' ticks; a plan sees one symbol, even when each symbol's feed is in order.
  EngineDriver d({version("any", Condition::price_above, 100, TriggerMode::once, "*"),
                  version("mine", Condition::price_above, 100, TriggerMode::once),
                  version("every", Condition::price_above, 100, TriggerMode::every, "*")});
  const auto plans = d.deliver({aapl(101, 10)});
  ASSERT_EQ(plans[0].fires.size(), 3u);
  EXPECT_TRUE(plans[0].fires[0].unvouched);   // once on "*"
  EXPECT_FALSE(plans[0].fires[1].unvouched);  // once on its symbol
  EXPECT_FALSE(plans[0].fires[2].unvouched);  // every on "*"
  EXPECT_TRUE(record_at(d, "any", 10).unvouched);
}

TEST(SymbolEngine, APendingFireKeepsItsFlagUntilACommitStoresIt) {
  std::vector<Rule> versions;
  for (std::size_t i = 0; i <= kMaxFiresPerCommit; ++i) {
    versions.push_back(
        version("any" + std::to_string(1000 + i), Condition::price_above, 100, TriggerMode::once, "*"));
  }
  RuleSet rules(versions);
  RuleIndex index(rules);
  const Tick t = aapl(101, 10);
  const std::vector<SymbolTick> ticks{{&t, 0}};
  const SymbolPlan burst = plan_symbol(index, "AAPL", SymbolState{}, ticks, {}, {}, {});
  ASSERT_EQ(burst.fires.size(), kMaxFiresPerCommit + 1);
  EXPECT_FALSE(burst.fires.back().stored);
  EXPECT_TRUE(burst.fires.back().unvouched);
  const SymbolPlan drain = plan_symbol(index, "AAPL", burst.next, {}, {}, {}, {});
  ASSERT_EQ(drain.completing.size(), 1u);
  EXPECT_TRUE(drain.completing[0].unvouched);  // the handler builds its alert from this record
}

TEST(SymbolEngine, OnceFiresOncePerArmingAndMarkersTellOtherInvocations) {
  Rule once = version("o", Condition::price_above, 100, TriggerMode::once);
  once.arming = 3;
  EngineDriver d({once});
  d.deliver({aapl(101, 10), aapl(101, 20)});
  EXPECT_EQ(d.stored(), alerts({alert(10, "o")}));
  EXPECT_TRUE(d.once.contains({"o", 3}));
  ASSERT_EQ(d.state("AAPL").fires.size(), 1u);
  EXPECT_EQ(d.state("AAPL").fires[0].once_arming, std::optional<std::uint32_t>(3));
  // Another invocation whose state does not hold the fire learns it from the marker.
  RuleSet rules({once});
  RuleIndex index(rules);
  const Tick t = aapl(150, 30);
  const std::vector<SymbolTick> in{{&t, 0}};
  EXPECT_TRUE(plan_symbol(index, "AAPL", {}, in, {}, d.once, {}).fires.empty());
  EXPECT_EQ(plan_symbol(index, "AAPL", {}, in, {}, {}, {}).fires.size(), 1u);
  // A re-arm (a new version, a new arming) fires again.
  Rule rearmed = once;
  rearmed.version = 2;
  rearmed.arming = 4;
  once.window.until_micros = at_s(25);
  rearmed.window.from_micros = at_s(25);
  EngineDriver e({once, rearmed});
  e.deliver({aapl(101, 10), aapl(101, 20), aapl(101, 30), aapl(101, 40)});
  EXPECT_EQ(e.stored(), alerts({alert(10, "o"), alert(30, "o", 2)}));
}

TEST(SymbolEngine, AWildcardOnceRuleFiresOnceInTotal) {
  EngineDriver d({version("w", Condition::price_above, 100, TriggerMode::once, "*")});
  d.deliver({tick_at("MSFT", 101, at_s(10)), tick_at("AAPL", 101, at_s(5))});
  EXPECT_EQ(d.stored(), alerts({alert(10, "w", 1, 0, "MSFT")}));
}

TEST(SymbolEngine, WildcardVersionsApplyToEverySymbol) {
  EngineDriver d({version("w", Condition::crosses_above, 200, TriggerMode::every, "*"), cross_above_200()});
  d.deliver({tick_at("MSFT", 199, at_s(10)), aapl(199, 10)});
  d.deliver({tick_at("MSFT", 201, at_s(20)), aapl(201, 20)});
  EXPECT_EQ(d.stored(), alerts({alert(20, "w", 1, 0, "MSFT"), alert(20, "w"), alert(20, "r1")}));
}

// ---- versions by event time (R1, R3, F3 continuity) ----

TEST(SymbolEngine, VersionsApplyToTheTicksOfTheirWindow) {
  Rule v1 = version("lvl", Condition::price_above, 100);
  v1.window = {EffectiveWindow::kOpenStart, at_s(30)};
  Rule v2 = v1;
  v2.version = 2;
  v2.threshold = 150;
  v2.window = {at_s(30), at_s(50)};
  EngineDriver d({v1, v2});
  d.deliver({aapl(120, 50), aapl(120, 40), aapl(120, 10), aapl(160, 30), aapl(120, 20)});
  EXPECT_EQ(d.stored(), alerts({alert(10, "lvl"), alert(20, "lvl"), alert(30, "lvl", 2)}));
}

// cross_above_200 edited at t=25: version 1 until then, version 2 (with `threshold`) from then on.
std::vector<Rule> edited_at_25(double threshold) {
  Rule v1 = cross_above_200();
  v1.window.until_micros = at_s(25);
  Rule v2 = v1;
  v2.version = 2;
  v2.threshold = threshold;
  v2.severity = Severity::critical;
  v2.window = {at_s(25), EffectiveWindow::kOpenEnd};
  return {v1, v2};
}

TEST(SymbolEngine, ContinuityAcrossAnEditWithTheSameConditionAndThreshold) {
  EngineDriver d(edited_at_25(200));  // an edit of the severity: same condition and threshold
  d.deliver({aapl(199, 20)});
  d.deliver({aapl(201, 30)});  // previous tick in v1's window: same line, continuity
  EXPECT_EQ(d.stored(), alerts({alert(30, "r1", 2)}));
}

TEST(SymbolEngine, ANewThresholdFirstNeedsOneAppliedTick) {
  EngineDriver d(edited_at_25(210));
  for (const Tick& t : {aapl(199, 20), aapl(211, 30), aapl(205, 40), aapl(212, 50)}) d.deliver({t});
  EXPECT_EQ(d.stored(), alerts({alert(50, "r1", 2)}));
}

TEST(SymbolEngine, AMovedCrossingAcrossAnEditKeepsItsKey) {
  EngineDriver d(edited_at_25(200));
  d.deliver({aapl(199, 10)});
  d.deliver({aapl(201, 30)});  // v2's crossing
  d.deliver({aapl(202, 20)});  // moves it into v1's window: the same excursion, no second alert
  EXPECT_EQ(d.stored(), alerts({alert(30, "r1", 2)}));
}

TEST(SymbolEngine, AnotherLineInsideAnExcursionIsAnotherCrossing) {
  EngineDriver d(edited_at_25(210));
  d.deliver({aapl(199, 10)});
  d.deliver({aapl(205, 30)});
  d.deliver({aapl(215, 40)});  // v2: 205 -> 215 crosses 210 with the previous tick in v2's window
  d.deliver({aapl(202, 20)});  // v1's crossing at 20, an excursion above 200 that holds v2's fire at 40
  EXPECT_EQ(d.stored(), alerts({alert(40, "r1", 2), alert(20, "r1", 1)}));
}

TEST(SymbolEngine, ExpiryByEventTime) {
  Rule r = version("lvl", Condition::price_above, 100);
  r.expires_at_micros = at_s(30);
  EngineDriver d({r});
  d.deliver({aapl(101, 40), aapl(101, 30), aapl(101, 20)});
  EXPECT_EQ(d.stored(), alerts({alert(20, "lvl")}));
}

TEST(SymbolEngine, ADisabledVersionNeverFires) {
  Rule r = cross_above_200();
  r.enabled = false;
  EngineDriver d({r});
  d.deliver({aapl(199, 10), aapl(201, 20)});
  EXPECT_TRUE(d.stored().empty());
}

// ---- the fire log, its horizon, commit sizes ----

TEST(SymbolEngine, FiresAreKeptWhileATickCanNeedThemThenPrunedWithTheHorizon) {
  Rule r = version("lvl", Condition::price_above, 200);
  r.cooldown_seconds = 15;
  EngineDriver d({r, cross_above_200()},
                 {.reorder_window_micros = 20 * kMicrosPerSecond, .max_held_ticks = 256});
  d.deliver({aapl(199, 10)});
  d.deliver({aapl(201, 20)});  // lvl and r1 fire
  ASSERT_EQ(d.state("AAPL").fires.size(), 2u);
  EXPECT_EQ(d.state("AAPL").fires[0].reach_until_micros, at_s(35));  // lvl: cooldown 15 s
  EXPECT_EQ(d.state("AAPL").fires[1].reach_until_micros, at_s(21));  // r1: cooldown 1 s
  d.deliver({aapl(99, 40)});  // oldest held 20: both kept (r1 at a held tick, lvl reaches 35)
  EXPECT_EQ(d.state("AAPL").fires.size(), 2u);
  EXPECT_EQ(d.state("AAPL").fires_complete_from, INT64_MIN);
  d.deliver({aapl(99, 45)});  // oldest held 40: both pruned, the log is complete from lvl's reach
  EXPECT_TRUE(d.state("AAPL").fires.empty());
  EXPECT_EQ(d.state("AAPL").fires_complete_from, at_s(35));
  const auto plans = d.deliver({aapl(250, 30)});  // beyond W and before the horizon: fires nothing
  EXPECT_EQ(plans[0].fates[0], TickFate::beyond_window);
  EXPECT_TRUE(plans[0].fires.empty());
  EXPECT_EQ(plans[0].mode_choices, 0u);
  d.deliver({aapl(250, 36)});  // beyond W, after the horizon: evaluated against a complete log
  EXPECT_EQ(d.stored(), alerts({alert(20, "lvl"), alert(20), alert(36, "lvl")}));
}

// F5: a fire whose notification is not confirmed is listed by every plan and never pruned; once the
// handler confirms it, the plan records it notified and it is pruned like any other.
TEST(SymbolEngine, AFireWhoseReachEndsAtTheOldestHeldTickIsPruned) {
  Rule r = version("lvl", Condition::price_above, 100);
  r.cooldown_seconds = 5;
  EngineDriver d({r}, {.reorder_window_micros = 5 * kMicrosPerSecond, .max_held_ticks = 256});
  d.deliver({aapl(101, 10)});  // fires: reaches 15
  d.deliver({aapl(99, 15)});
  EXPECT_EQ(d.state("AAPL").fires.size(), 1u);  // the oldest held tick is 10: a tick there needs it
  d.deliver({aapl(99, 20)});                    // the horizon 15 drops 10: the oldest held tick is 15
  EXPECT_TRUE(d.state("AAPL").fires.empty());   // no tick at or after 15 is within its cooldown
  EXPECT_EQ(d.state("AAPL").fires_complete_from, at_s(15));
}

TEST(SymbolEngine, UnconfirmedFiresAreListedAndNeverPrunedUntilConfirmed) {
  const RuleSet rules({cross_above_200()});
  const RuleIndex index(rules);
  const EngineLimits limits{
      .reorder_window_micros = 20 * kMicrosPerSecond, .max_held_ticks = 256, .max_fire_records = 0};
  const auto plan = [&](const SymbolState& state, const std::vector<Tick>& ticks,
                        const ConfirmedFires& confirmed) {
    std::vector<SymbolTick> in;
    for (std::size_t i = 0; i < ticks.size(); ++i) in.push_back({&ticks[i], i});
    return plan_symbol(index, "AAPL", state, in, {}, {}, limits, confirmed);
  };
  SymbolPlan p = plan({}, {aapl(199, 10), aapl(201, 20)}, {});
  ASSERT_EQ(p.next.fires.size(), 1u);
  EXPECT_FALSE(p.next.fires[0].notified);  // every new fire
  EXPECT_TRUE(p.to_confirm.empty());       // the read state had none
  const FireRecord fire = p.next.fires[0];
  // Far later ticks: the fire's reach and the count bound (0) would both prune it.
  p = plan(p.next, {aapl(199, 100)}, {});
  ASSERT_EQ(p.to_confirm.size(), 1u);
  EXPECT_EQ(p.to_confirm[0], fire);
  EXPECT_EQ(p.next.fires, std::vector<FireRecord>{fire});
  EXPECT_EQ(p.next.fires_complete_from, INT64_MIN);
  // A plan with no tick at all lists it too (any batch of the symbol completes it).
  EXPECT_EQ(plan(p.next, {}, {}).to_confirm.size(), 1u);
  // A confirmation of another fire changes nothing; its own records it notified, and it is pruned.
  const SymbolPlan other = plan(p.next, {aapl(199, 110)}, {{"r1", Position{at_s(21), 0}}});
  EXPECT_EQ(other.next.fires.size(), 1u);
  const SymbolPlan done = plan(p.next, {aapl(199, 110)}, {{"r1", fire.tick}});
  EXPECT_TRUE(done.to_confirm.empty());
  EXPECT_TRUE(done.next.fires.empty());
  EXPECT_EQ(done.next.fires_complete_from, fire.reach_until_micros);
  EXPECT_TRUE(done.write_needed);
}

TEST(SymbolEngine, TheFireLogIsBoundedByCount) {
  std::vector<Rule> rules;
  for (int i = 0; i < 6; ++i)
    rules.push_back(version("l" + std::to_string(i), Condition::price_above, 100 + i));
  rules[0].cooldown_seconds = 100;
  EngineDriver d(
      rules,
      {.reorder_window_micros = 3600 * kMicrosPerSecond, .max_held_ticks = 256, .max_fire_records = 4});
  d.deliver({aapl(110, 10)});  // six fires, none prunable until its notification is confirmed (F5)
  EXPECT_EQ(d.state("AAPL").fires.size(), 6u);
  d.plan_and_commit("AAPL", {});  // confirmed: the log keeps four, the two of least reach go
  EXPECT_EQ(d.state("AAPL").fires.size(), 4u);
  EXPECT_EQ(d.state("AAPL").fires_complete_from, at_s(11));
  const auto plans = d.deliver({aapl(110, 10.5)});  // before the horizon: nothing decided twice
  EXPECT_TRUE(plans[0].fires.empty());
  d.deliver({aapl(110, 12)});
  EXPECT_EQ(d.stored().size(), 11u);  // six at 10, five at 12 (l0 in its cooldown)
}

TEST(SymbolEngine, ALogCutByCountAfterAOnceFireIsCompleteOnlyAfterThatFiresTick) {
  std::vector<Rule> rules;
  for (int i = 0; i < 6; ++i)
    rules.push_back(version("o" + std::to_string(i), Condition::price_above, 100 + i, TriggerMode::once));
  EngineDriver d(
      rules,
      {.reorder_window_micros = 3600 * kMicrosPerSecond, .max_held_ticks = 256, .max_fire_records = 4});
  d.deliver({aapl(110, 10)});
  ASSERT_EQ(d.state("AAPL").fires.size(), 6u);
  d.plan_and_commit("AAPL", {});  // confirmed: two once fires go, each reaching only its own tick
  EXPECT_EQ(d.state("AAPL").fires.size(), 4u);
  EXPECT_EQ(d.state("AAPL").fires_complete_from, at_s(10) + 1);
}

// `n` level versions that all hold on a tick above 100 (a burst).
std::vector<Rule> burst_of(int n) {
  std::vector<Rule> rules;
  for (int i = 0; i < n; ++i) rules.push_back(version("l" + std::to_string(i), Condition::price_above, 100));
  return rules;
}

TEST(SymbolEngine, ABurstBeyondOneTransactionIsRecordedPendingAndCompleted) {
  const std::vector<Rule> rules = burst_of(150);
  RuleSet set(rules);
  RuleIndex index(set);
  const Tick t = aapl(101, 10);
  const std::vector<SymbolTick> in{{&t, 0}};
  const SymbolPlan first = plan_symbol(index, "AAPL", {}, in, {}, {}, {});
  ASSERT_EQ(first.fires.size(), 150u);
  EXPECT_EQ(std::count_if(first.fires.begin(), first.fires.end(), [](const NewFire& f) { return f.stored; }),
            static_cast<std::ptrdiff_t>(kMaxFiresPerCommit));
  EXPECT_EQ(std::count_if(first.next.fires.begin(), first.next.fires.end(),
                          [](const FireRecord& f) { return !f.stored; }),
            150 - static_cast<std::ptrdiff_t>(kMaxFiresPerCommit));
  const SymbolPlan second = plan_symbol(index, "AAPL", first.next, {}, {}, {}, {});  // no ticks: completes
  EXPECT_TRUE(second.write_needed);
  EXPECT_EQ(second.completing.size(), 150 - kMaxFiresPerCommit);
  EXPECT_TRUE(second.fires.empty());
  const auto redelivered = plan_symbol(index, "AAPL", second.next, in, {}, {}, {});
  EXPECT_EQ(redelivered.to_complete.size(), 150u);
  EXPECT_FALSE(redelivered.write_needed);
  // Through the driver: every alert exactly once.
  EngineDriver d(rules);
  d.deliver({t});
  EXPECT_EQ(d.stored().size(), 150u);
}

TEST(SymbolEngine, AtMostOneCommitOfPendingFiresIsCompletedPerPlan) {
  RuleSet set(burst_of(2 * static_cast<int>(kMaxFiresPerCommit) + 5));
  RuleIndex index(set);
  const Tick t = aapl(101, 10);
  const std::vector<SymbolTick> in{{&t, 0}};
  const SymbolPlan first = plan_symbol(index, "AAPL", {}, in, {}, {}, {});
  const SymbolPlan second = plan_symbol(index, "AAPL", first.next, {}, {}, {}, {});
  EXPECT_EQ(second.completing.size(), kMaxFiresPerCommit);  // a full commit of the pending ones
  const SymbolPlan third = plan_symbol(index, "AAPL", second.next, {}, {}, {}, {});
  EXPECT_EQ(third.completing.size(), 5u);  // the rest
}

TEST(SymbolEngine, PendingFiresAreCompletedBeforeNewOnes) {
  RuleSet set(burst_of(120));
  RuleIndex index(set);
  const Tick t1 = aapl(101, 10), t2 = aapl(101, 20);
  const std::vector<SymbolTick> in1{{&t1, 0}}, in2{{&t2, 0}};
  const SymbolPlan first = plan_symbol(index, "AAPL", {}, in1, {}, {}, {});
  const SymbolPlan second = plan_symbol(index, "AAPL", first.next, in2, {}, {}, {});
  EXPECT_EQ(second.completing.size(), 120 - kMaxFiresPerCommit);
  EXPECT_EQ(
      std::count_if(second.fires.begin(), second.fires.end(), [](const NewFire& f) { return f.stored; }),
      static_cast<std::ptrdiff_t>(2 * kMaxFiresPerCommit - 120));
}

TEST(SymbolEngine, NothingToWriteWhenNoTickChangesTheState) {
  RuleSet set({cross_above_200()});
  RuleIndex index(set);
  const SymbolPlan p = plan_symbol(index, "AAPL", {}, {}, {}, {}, {});
  EXPECT_FALSE(p.write_needed);
  EXPECT_TRUE(p.fates.empty());
}

TEST(SymbolEngine, TickFatesHaveNames) {
  EXPECT_EQ(to_string(TickFate::applied), "applied");
  EXPECT_EQ(to_string(TickFate::duplicate), "duplicate");
  EXPECT_EQ(to_string(TickFate::beyond_window), "beyond_window");
  EXPECT_EQ(to_string(TickFate::suspended), "suspended");
  EXPECT_EQ(to_string(TickFate::out_of_band), "out_of_band");
}

}  // namespace
}  // namespace tap
