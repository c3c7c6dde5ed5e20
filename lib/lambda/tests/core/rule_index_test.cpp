#include "tap/core/rule_index.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "engine_driver.hpp"
#include "rule_index_reference.hpp"

namespace tap {
namespace {

constexpr std::int64_t kT0 = 1795617000000000LL;  // 2026-11-25T14:30:00Z
constexpr std::int64_t kSec = 1'000'000;

Rule version(std::string symbol, Condition c, double threshold, TriggerMode mode = TriggerMode::every) {
  return testing::make_version("r-" + std::to_string(threshold), std::move(symbol), c, threshold, mode, 60,
                               300);
}

Tick tick(double price, std::int64_t ts) { return testing::tick_at("AAPL", price, ts); }

std::vector<std::size_t> sorted_unique(std::vector<std::size_t> v) {
  std::sort(v.begin(), v.end());
  EXPECT_EQ(std::adjacent_find(v.begin(), v.end()), v.end()) << "a version returned twice";
  return v;
}

std::vector<std::size_t> level(const RuleIndex& index, std::string_view symbol, const Tick& t) {
  std::vector<std::size_t> out;
  index.for_each_level(symbol, t, [&](std::size_t i) { out.push_back(i); });
  return sorted_unique(std::move(out));
}

std::vector<std::size_t> crossed(const RuleIndex& index, std::string_view symbol, double from, double to,
                                 std::int64_t ts) {
  std::vector<std::size_t> out;
  index.for_each_crossed(symbol, from, to, ts, [&](std::size_t i) { out.push_back(i); });
  return sorted_unique(std::move(out));
}

// The same queries through the symbol's lists looked up once (RuleIndex::lists_of).
std::vector<std::size_t> level_of_lists(const RuleIndex& index, std::string_view symbol, const Tick& t) {
  std::vector<std::size_t> out;
  index.lists_of(symbol).for_each_level(t, [&](std::size_t i) { out.push_back(i); });
  return sorted_unique(std::move(out));
}

std::vector<std::size_t> crossed_of_lists(const RuleIndex& index, std::string_view symbol, double from,
                                          double to, std::int64_t ts) {
  std::vector<std::size_t> out;
  index.lists_of(symbol).for_each_crossed(from, to, ts, [&](std::size_t i) { out.push_back(i); });
  return sorted_unique(std::move(out));
}

using Ids = std::vector<std::size_t>;

TEST(NextEligible, PerMode) {
  Rule r = version("AAPL", Condition::price_above, 1);
  r.cooldown_seconds = 5;
  EXPECT_EQ(next_eligible(r, kT0 + 7), kT0 + 7 + 5 * kSec);
  r.mode = TriggerMode::once_per_bar;
  r.bar_seconds = 60;  // kT0 is a multiple of 60 s
  EXPECT_EQ(next_eligible(r, kT0), kT0 + 60 * kSec);
  EXPECT_EQ(next_eligible(r, kT0 + 59 * kSec), kT0 + 60 * kSec);
  r.mode = TriggerMode::once;
  EXPECT_EQ(next_eligible(r, kT0), std::numeric_limits<std::int64_t>::max());
}

TEST(RuleIndex, PriceLevelsAreStrictAndPickTheHoldingThresholds) {
  const RuleSet rules(
      {version("AAPL", Condition::price_above, 90), version("AAPL", Condition::price_above, 100),
       version("AAPL", Condition::price_above, 100), version("AAPL", Condition::price_above, 110),
       version("AAPL", Condition::price_below, 100), version("AAPL", Condition::price_below, 110)});
  const RuleIndex index(rules);
  EXPECT_EQ(level(index, "AAPL", tick(100, kT0)), (Ids{0, 5}));  // on the line: neither above nor below
  EXPECT_EQ(level(index, "AAPL", tick(100.5, kT0)), (Ids{0, 1, 2, 5}));
  EXPECT_EQ(level(index, "AAPL", tick(80, kT0)), (Ids{4, 5}));
  EXPECT_EQ(level(index, "AAPL", tick(120, kT0)), (Ids{0, 1, 2, 3}));
  EXPECT_EQ(level(index, "MSFT", tick(120, kT0)), Ids{});
}

TEST(RuleIndex, SpreadAndVolumeNeedTheirFields) {
  const RuleSet rules({version("AAPL", Condition::spread_above, 0.5),
                       version("AAPL", Condition::spread_above, 0.4),
                       version("AAPL", Condition::volume_above, 1000)});
  const RuleIndex index(rules);
  Tick t = tick(189.5, kT0);
  EXPECT_EQ(level(index, "AAPL", t), Ids{});  // no quote, no volume
  t.bid = 189.24;
  t.ask = 189.74;  // 0.5000000000000284: equal within rounding, so not above 0.5
  t.volume = 1000;
  EXPECT_EQ(level(index, "AAPL", t), (Ids{1}));
  t.ask = 189.75;
  t.volume = 1001;
  EXPECT_EQ(level(index, "AAPL", t), (Ids{0, 1, 2}));
}

TEST(RuleIndex, ASpreadNeedsBothSidesOfTheQuote) {
  // The tick parser accepts a bid without an ask and the reverse: one side is no spread.
  const RuleSet rules({version("AAPL", Condition::spread_above, 0.5)});
  const RuleIndex index(rules);
  Tick bid_only = tick(189.5, kT0);
  bid_only.bid = 189.0;
  EXPECT_EQ(level(index, "AAPL", bid_only), Ids{});
  Tick ask_only = tick(189.5, kT0);
  ask_only.ask = 190.0;
  EXPECT_EQ(level(index, "AAPL", ask_only), Ids{});
}

TEST(RuleIndex, CrossingsInEitherDirectionAndTheLineIsNotTheFireSide) {
  const RuleSet rules(
      {version("AAPL", Condition::crosses_above, 100), version("AAPL", Condition::crosses_below, 100),
       version("AAPL", Condition::crosses_above, 105), version("AAPL", Condition::price_above, 1)});
  const RuleIndex index(rules);
  // 100 is at_or_below, as 99 is (crosses_above 100), but not below (crosses_below 100): either direction
  EXPECT_EQ(crossed(index, "AAPL", 99, 100, kT0), (Ids{1}));
  EXPECT_EQ(crossed(index, "AAPL", 100, 101, kT0), (Ids{0}));
  EXPECT_EQ(crossed(index, "AAPL", 101, 100, kT0), (Ids{0}));
  EXPECT_EQ(crossed(index, "AAPL", 100, 99, kT0), (Ids{1}));
  EXPECT_EQ(crossed(index, "AAPL", 101, 100.5, kT0), Ids{});
  EXPECT_EQ(crossed(index, "AAPL", 99, 106, kT0), (Ids{0, 1, 2}));
  EXPECT_EQ(crossed(index, "AAPL", 106, 105, kT0), (Ids{2}));
  EXPECT_EQ(crossed(index, "AAPL", 101, 101, kT0), Ids{});
}

TEST(RuleIndex, WindowsExpiryAndDisabledVersions) {
  Rule windowed = version("AAPL", Condition::price_above, 1);
  windowed.window = {kT0, kT0 + 10 * kSec};
  Rule expiring = version("AAPL", Condition::crosses_above, 100);
  expiring.expires_at_micros = kT0 + 5 * kSec;
  Rule disabled = version("AAPL", Condition::price_above, 1);
  disabled.enabled = false;
  const RuleSet rules({windowed, expiring, disabled});
  RuleIndex index(rules);
  EXPECT_EQ(level(index, "AAPL", tick(2, kT0 - 1)), Ids{});
  EXPECT_EQ(level(index, "AAPL", tick(2, kT0)), (Ids{0}));
  EXPECT_EQ(level(index, "AAPL", tick(2, kT0 + 10 * kSec - 1)), (Ids{0}));
  EXPECT_EQ(level(index, "AAPL", tick(2, kT0 + 10 * kSec)), Ids{});
  EXPECT_EQ(crossed(index, "AAPL", 99, 101, kT0 + 5 * kSec - 1), (Ids{1}));
  EXPECT_EQ(crossed(index, "AAPL", 99, 101, kT0 + 5 * kSec), Ids{});
  index.note_fire(2, "AAPL", kT0);   // disabled: nothing to note
  index.note_fire(99, "AAPL", kT0);  // not a version of the set
  EXPECT_EQ(level(index, "AAPL", tick(2, kT0 + 1)), (Ids{0}));
}

TEST(RuleIndex, EveryIsSuppressedInsideTheCooldownAfterTheFireOnly) {
  const RuleSet rules(
      {version("AAPL", Condition::price_above, 1), version("AAPL", Condition::price_above, 2)});
  RuleIndex index(rules);
  index.note_fire(0, "AAPL", kT0);
  EXPECT_EQ(level(index, "AAPL", tick(3, kT0 - 1)), (Ids{0, 1}));  // before the fire: both sides count
  EXPECT_EQ(level(index, "AAPL", tick(3, kT0)), (Ids{0, 1}));      // at the fire: the engine decides
  EXPECT_EQ(level(index, "AAPL", tick(3, kT0 + 1)), (Ids{1}));
  EXPECT_EQ(level(index, "AAPL", tick(3, kT0 + 60 * kSec - 1)), (Ids{1}));
  EXPECT_EQ(level(index, "AAPL", tick(3, kT0 + 60 * kSec)), (Ids{0, 1}));
}

TEST(RuleIndex, OnceForeverAndOncePerBarUntilTheBarEnds) {
  const RuleSet rules({version("AAPL", Condition::price_below, 10, TriggerMode::once),
                       version("AAPL", Condition::price_below, 10, TriggerMode::once_per_bar)});
  RuleIndex index(rules);
  index.note_fire(0, "AAPL", kT0 + kSec);
  index.note_fire(1, "AAPL", kT0 + kSec);  // bar [kT0, kT0 + 300 s)
  EXPECT_EQ(level(index, "AAPL", tick(5, kT0 + 2 * kSec)), Ids{});
  EXPECT_EQ(level(index, "AAPL", tick(5, kT0 + 300 * kSec - 1)), Ids{});
  EXPECT_EQ(level(index, "AAPL", tick(5, kT0 + 300 * kSec)), (Ids{1}));
  EXPECT_EQ(level(index, "AAPL", tick(5, kT0 + 1000 * kSec)), (Ids{1}));
}

TEST(RuleIndex, ANoteKeepsTheNewestFire) {
  const RuleSet rules({version("AAPL", Condition::price_above, 1)});
  RuleIndex index(rules);
  index.note_fire(0, "AAPL", kT0 + 100 * kSec);
  index.note_fire(0, "AAPL", kT0);                                      // older: ignored
  EXPECT_EQ(level(index, "AAPL", tick(2, kT0 + 30 * kSec)), (Ids{0}));  // before the newest fire
  EXPECT_EQ(level(index, "AAPL", tick(2, kT0 + 101 * kSec)), Ids{});
  EXPECT_EQ(level(index, "AAPL", tick(2, kT0 + 160 * kSec)), (Ids{0}));
}

// `n` versions of one condition with thresholds 1..n: version i is at position i of the list.
std::vector<Rule> ladder(Condition c, int n) {
  std::vector<Rule> out;
  for (int i = 1; i <= n; ++i) out.push_back(version("AAPL", c, i));
  return out;
}

Ids positions(std::size_t from, std::size_t to) {
  Ids out;
  for (std::size_t i = from; i < to; ++i) out.push_back(i);
  return out;
}

TEST(RuleIndex, AFireNewerThanTheTickSkipsNoEntryOfAPrefix) {
  const RuleSet rules(ladder(Condition::price_above, 16));  // one node of 16 entries
  RuleIndex index(rules);
  testing::ReferenceIndex ref(rules);
  for (std::size_t i = 0; i < 15; ++i) {  // every entry of the prefix in its cooldown, one fired later
    const std::int64_t at = i == 3 ? kT0 + 100 * kSec : kT0;
    index.note_fire(i, "AAPL", at);
    ref.note_fire(i, "AAPL", at);
  }
  const Tick t = tick(15.5, kT0 + 50 * kSec);    // thresholds 1..15 hold: the prefix [0, 15)
  EXPECT_EQ(level(index, "AAPL", t), (Ids{3}));  // the fire after the tick is the engine's to weigh
  EXPECT_EQ(level(index, "AAPL", t), sorted_unique(ref.level("AAPL", t)));
}

TEST(RuleIndex, AFireNewerThanTheTickInTheLastEntrySkipsNoEntryOfASuffix) {
  const RuleSet rules(ladder(Condition::price_below, 16));
  RuleIndex index(rules);
  testing::ReferenceIndex ref(rules);
  for (std::size_t i = 10; i < 16; ++i) {  // the suffix [10, 16) in its cooldown, the last entry fired later
    const std::int64_t at = i == 15 ? kT0 + 100 * kSec : kT0;
    index.note_fire(i, "AAPL", at);
    ref.note_fire(i, "AAPL", at);
  }
  const Tick t = tick(10.5, kT0 + 50 * kSec);  // thresholds 11..16 hold
  EXPECT_EQ(level(index, "AAPL", t), (Ids{15}));
  EXPECT_EQ(level(index, "AAPL", t), sorted_unique(ref.level("AAPL", t)));
}

TEST(RuleIndex, ANoteBelowARootEntryUpdatesThatEntryOnly) {
  const RuleSet rules(ladder(Condition::price_above, 32));  // two levels: root entries of 16 positions
  RuleIndex index(rules);
  for (std::size_t i = 31; i >= 16; --i) index.note_fire(i, "AAPL", kT0);  // root entry 1, ending at 16
  EXPECT_EQ(level(index, "AAPL", tick(100, kT0 + 30 * kSec)), positions(0, 16));
  EXPECT_EQ(level(index, "AAPL", tick(100, kT0 + 60 * kSec)), positions(0, 32));
}

TEST(RuleIndex, WildcardFiresAreKnownPerSymbol) {
  const RuleSet rules({version("*", Condition::price_above, 1), version("AAPL", Condition::price_above, 1),
                       version("*", Condition::crosses_above, 5)});
  RuleIndex index(rules);
  index.note_fire(0, "AAPL", kT0);
  EXPECT_EQ(level(index, "AAPL", tick(2, kT0 + kSec)), (Ids{1}));
  EXPECT_EQ(level(index, "MSFT", tick(2, kT0 + kSec)), (Ids{0}));
  EXPECT_EQ(crossed(index, "MSFT", 4, 6, kT0), (Ids{2}));
  EXPECT_EQ(crossed(index, "AAPL", 4, 6, kT0), (Ids{2}));
  index.note_fire(0, "MSFT", kT0);
  EXPECT_EQ(level(index, "MSFT", tick(2, kT0 + kSec)), Ids{});
}

TEST(RuleIndex, NotesThatCannotMatterChangeNothing) {
  const RuleSet rules(
      {version("AAPL", Condition::price_above, 1), version("AAPL", Condition::crosses_above, 5)});
  RuleIndex index(rules);
  index.note_fire(0, "MSFT", kT0);  // a specific version is never returned for another symbol
  index.note_fire(1, "AAPL", kT0);  // crossing answers do not depend on fires
  EXPECT_EQ(level(index, "AAPL", tick(6, kT0 + kSec)), (Ids{0}));
  EXPECT_EQ(crossed(index, "AAPL", 4, 6, kT0 + kSec), (Ids{1}));
}

TEST(RuleIndex, TakesAStdFunctionCallback) {
  const RuleSet rules(
      {version("AAPL", Condition::price_above, 1), version("AAPL", Condition::crosses_above, 5)});
  const RuleIndex index(rules);
  std::vector<std::size_t> seen;
  const std::function<void(std::size_t)> f = [&](std::size_t i) { seen.push_back(i); };
  index.for_each_level("AAPL", tick(6, kT0), f);
  index.for_each_crossed("AAPL", 4, 6, kT0, f);
  EXPECT_EQ(seen, (Ids{0, 1}));
  EXPECT_EQ(&index.rules(), &rules);
}

// ---- differential: the fast index against the reference scan ----

class Random {
 public:
  explicit Random(unsigned seed) : gen_(seed) {}
  int below(int n) { return std::uniform_int_distribution<int>(0, n - 1)(gen_); }
  bool chance(int percent) { return below(100) < percent; }
  double grid(int steps, double step) { return 1 + below(steps) * step; }  // shared grid: many equal values

 private:
  std::mt19937 gen_;
};

const char* const kSymbols[] = {"AAA", "BBB", "CCC"};

std::vector<Rule> random_versions(Random& rnd, int count) {
  std::vector<Rule> out;
  for (int i = 0; i < count; ++i) {
    const int s = rnd.below(4);
    Rule r = version(s == 3 ? "*" : kSymbols[s % 2], static_cast<Condition>(rnd.below(6)), rnd.grid(20, 0.5));
    if (r.condition == Condition::spread_above) r.threshold = rnd.grid(6, 0.05) - 1;
    if (r.condition == Condition::volume_above) r.threshold = rnd.below(10) * 100;
    r.mode = static_cast<TriggerMode>(rnd.below(3));
    r.cooldown_seconds = 1 + rnd.below(120);
    r.bar_seconds = rnd.chance(50) ? 60 : 300;
    if (rnd.chance(30)) r.window = {kT0 + rnd.below(300) * kSec, kT0 + (300 + rnd.below(600)) * kSec};
    if (rnd.chance(20)) r.expires_at_micros = kT0 + rnd.below(900) * kSec;
    r.enabled = !rnd.chance(10);
    out.push_back(std::move(r));
  }
  return out;
}

Tick random_tick(Random& rnd) {
  Tick t = tick(rnd.grid(24, 0.5) - 1, kT0 + (rnd.below(1000) - 100) * kSec);
  if (rnd.chance(70)) t.volume = rnd.below(11) * 100;
  if (rnd.chance(70)) {
    t.bid = t.price - rnd.below(4) * 0.05;
    t.ask = t.price + rnd.below(4) * 0.05;
  }
  return t;
}

void run_differential(unsigned seed, int versions, int steps) {
  Random rnd(seed);
  const RuleSet rules(random_versions(rnd, versions));
  RuleIndex fast(rules);
  testing::ReferenceIndex ref(rules);
  for (int step = 0; step < steps; ++step) {
    const std::string symbol = kSymbols[rnd.below(3)];
    const int what = rnd.below(10);
    if (what < 3) {
      const auto r = static_cast<std::size_t>(rnd.below(versions));
      const std::int64_t at = kT0 + rnd.below(900) * kSec;
      fast.note_fire(r, symbol, at);
      ref.note_fire(r, symbol, at);
    } else if (what < 7) {
      const Tick t = random_tick(rnd);
      ASSERT_EQ(level(fast, symbol, t), sorted_unique(ref.level(symbol, t)))
          << "seed " << seed << " step " << step << " price " << t.price << " ts " << t.ts.micros;
      ASSERT_EQ(level_of_lists(fast, symbol, t), level(fast, symbol, t))
          << "seed " << seed << " step " << step;
    } else {
      const double from = rnd.grid(24, 0.5) - 1, to = rnd.grid(24, 0.5) - 1;
      const std::int64_t ts = kT0 + rnd.below(1000) * kSec;
      ASSERT_EQ(crossed(fast, symbol, from, to, ts), sorted_unique(ref.crossed(symbol, from, to, ts)))
          << "seed " << seed << " step " << step << " " << from << " -> " << to;
      ASSERT_EQ(crossed_of_lists(fast, symbol, from, to, ts), crossed(fast, symbol, from, to, ts))
          << "seed " << seed << " step " << step;
    }
  }
}

TEST(RuleIndexDifferential, SmallRandomSets) {
  for (unsigned seed = 1; seed <= 200; ++seed) run_differential(seed, 1 + static_cast<int>(seed % 40), 300);
}

TEST(RuleIndexDifferential, LargeRandomSetsWithManyNotes) {
  for (unsigned seed = 1000; seed < 1004; ++seed) run_differential(seed, 3000, 3000);
}

// ---- update (R4 refresh): the updated index against one built from scratch over the same versions ----

using Indices = std::vector<std::uint32_t>;

// An index built over `rules` with only the `live` indices enabled (so the indices agree with the updated
// index's), on which the noted fires of live versions are made again.
struct Scratch {
  RuleSet rules;
  RuleIndex index;
  Scratch(const RuleSet& all, const std::vector<bool>& live,
          const std::vector<std::tuple<std::size_t, std::string, std::int64_t>>& fires)
      : rules(only(all, live)), index(rules) {
    for (const auto& [i, symbol, at] : fires) index.note_fire(i, symbol, at);
  }
  static RuleSet only(const RuleSet& all, const std::vector<bool>& live) {
    std::vector<Rule> versions = all.rules();
    for (std::size_t i = 0; i < versions.size(); ++i) versions[i].enabled = versions[i].enabled && live[i];
    return RuleSet(std::move(versions));
  }
};

TEST(RuleIndexUpdate, AnEmptyIndexTakesVersionsAndGivesThemBack) {
  RuleSet rules;
  RuleIndex index(rules);
  index.update({}, {});
  EXPECT_EQ(level(index, "AAPL", tick(2, kT0)), Ids{});
  const Indices added{rules.append(version("AAPL", Condition::price_above, 1)),
                      rules.append(version("*", Condition::crosses_above, 5))};
  index.update({}, added);
  EXPECT_EQ(level(index, "AAPL", tick(2, kT0)), (Ids{0}));
  EXPECT_EQ(crossed(index, "MSFT", 4, 6, kT0), (Ids{1}));
  index.update(added, {});
  EXPECT_EQ(level(index, "AAPL", tick(2, kT0)), Ids{});
  EXPECT_EQ(crossed(index, "MSFT", 4, 6, kT0), Ids{});
  EXPECT_EQ(level_of_lists(index, "AAPL", tick(2, kT0)), Ids{});
}

TEST(RuleIndexUpdate, DeletingTheLastVersionOfASymbolLeavesItNone) {
  RuleSet rules({version("AAPL", Condition::price_above, 1), version("MSFT", Condition::price_above, 1)});
  RuleIndex index(rules);
  index.note_fire(0, "AAPL", kT0);
  index.update(Indices{0}, {});
  EXPECT_EQ(level(index, "AAPL", tick(2, kT0 - 1)), Ids{});
  EXPECT_EQ(level(index, "MSFT", tick(2, kT0)), (Ids{1}));
  index.note_fire(0, "AAPL", kT0);  // no longer indexed: nothing to note
  // The symbol comes back with a new version: no fire of the old one suppresses it.
  const Indices back{rules.append(version("AAPL", Condition::price_above, 1))};
  index.update({}, back);
  EXPECT_EQ(level(index, "AAPL", tick(2, kT0 + kSec)), (Ids{2}));
}

TEST(RuleIndexUpdate, AVersionMovingToAnotherSymbolIsAnsweredThereOnly) {
  RuleSet rules({version("AAPL", Condition::price_above, 1), version("AAPL", Condition::price_above, 2)});
  RuleIndex index(rules);
  Rule moved = rules.rule(0);
  moved.symbol = "MSFT";
  const Indices added{rules.append(std::move(moved))};
  index.update(Indices{0}, added);
  EXPECT_EQ(level(index, "AAPL", tick(3, kT0)), (Ids{1}));
  EXPECT_EQ(level(index, "MSFT", tick(3, kT0)), (Ids{2}));
}

TEST(RuleIndexUpdate, TheSameVersionTwiceCountsOnce) {
  RuleSet rules({version("AAPL", Condition::price_above, 1)});
  RuleIndex index(rules);
  const std::uint32_t fresh = rules.append(version("AAPL", Condition::price_above, 2));
  index.update({}, Indices{fresh, fresh, 0});  // 0 is indexed already
  EXPECT_EQ(level(index, "AAPL", tick(3, kT0)), (Ids{0, 1}));
  index.update(Indices{fresh, fresh, 7}, {});  // 7: not a version of the set
  EXPECT_EQ(level(index, "AAPL", tick(3, kT0)), (Ids{0}));
}

TEST(RuleIndexUpdate, KeptVersionsKeepTheirFiresAndARemovedOneLosesThem) {
  RuleSet rules({version("AAPL", Condition::price_above, 1), version("AAPL", Condition::price_above, 3),
                 version("*", Condition::price_above, 1), version("*", Condition::price_above, 3)});
  RuleIndex index(rules);
  for (std::size_t i = 0; i < 4; ++i) index.note_fire(i, "AAPL", kT0);
  const Tick t = tick(5, kT0 + kSec);
  EXPECT_EQ(level(index, "AAPL", t), Ids{});
  // New versions below the fired ones shift their places in both lists: the fires move with them.
  const Indices added{rules.append(version("AAPL", Condition::price_above, 0.5)),
                      rules.append(version("*", Condition::price_above, 0.5))};
  index.update({}, added);
  EXPECT_EQ(level(index, "AAPL", t), (Ids{4, 5}));
  // Removed and added back in one update: a new version, without the fires.
  index.update(Indices{1, 3}, Indices{1, 3});
  EXPECT_EQ(level(index, "AAPL", t), (Ids{1, 3, 4, 5}));
  EXPECT_EQ(level(index, "MSFT", t), (Ids{2, 3, 5}));
}

TEST(RuleIndexUpdate, ADisabledVersionIsNotIndexed) {
  RuleSet rules;
  RuleIndex index(rules);
  Rule off = version("AAPL", Condition::price_above, 1);
  off.enabled = false;
  index.update({}, Indices{rules.append(std::move(off))});
  EXPECT_EQ(level(index, "AAPL", tick(2, kT0)), Ids{});
}

const char* const kMovingSymbols[] = {"AAA", "BBB", "CCC", "DDD"};

// `rounds` random updates over a set of `initial` versions (removals, new versions, versions moving to
// another symbol or condition, indices named twice, removed-and-added), with fires noted in between; after
// each update every query answers as an index built from scratch over the same versions and fires.
void run_update_differential(unsigned seed, int initial, int rounds, int changes) {
  Random rnd(seed);
  RuleSet rules(random_versions(rnd, initial));
  RuleIndex updated(rules);
  std::vector<bool> live(rules.rules().size(), true);
  std::vector<std::tuple<std::size_t, std::string, std::int64_t>> fires;
  const auto note = [&](std::size_t i, const std::string& symbol, std::int64_t at) {
    updated.note_fire(i, symbol, at);
    if (i < live.size() && live[i]) fires.emplace_back(i, symbol, at);
  };
  for (int round = 0; round < rounds; ++round) {
    for (int n = rnd.below(20); n > 0; --n) {
      const auto i = static_cast<std::size_t>(rnd.below(static_cast<int>(rules.rules().size()) + 1));
      const Rule* r = i < rules.rules().size() ? &rules.rule(i) : nullptr;
      const std::string symbol =
          r != nullptr && r->symbol != "*" && rnd.chance(70) ? r->symbol : kMovingSymbols[rnd.below(4)];
      note(i, symbol, kT0 + rnd.below(900) * kSec);
    }
    Indices removed, added;
    for (int c = 1 + rnd.below(changes); c > 0; --c) {
      const auto i = static_cast<std::uint32_t>(rnd.below(static_cast<int>(rules.rules().size()) + 2));
      const int what = rnd.below(10);
      if (what < 3) {  // a new version
        Rule r = random_versions(rnd, 1).front();
        if (rnd.chance(25)) r.symbol = "DDD";
        added.push_back(rules.append(std::move(r)));
      } else if (what < 5 && i < rules.rules().size()) {  // a version changed: moves symbol or condition
        Rule r = rules.rule(i);
        if (rnd.chance(50)) {
          r.symbol = kMovingSymbols[rnd.below(4)];
        } else {
          r.condition = static_cast<Condition>(rnd.below(6));
        }
        removed.push_back(i);
        added.push_back(rules.append(std::move(r)));
      } else if (what < 8) {  // removed (perhaps not indexed, perhaps named twice)
        removed.push_back(i);
        if (rnd.chance(10)) removed.push_back(i);
      } else if (i < rules.rules().size()) {  // added (perhaps indexed already, or removed earlier)
        added.push_back(i);
        if (rnd.chance(20)) removed.push_back(i);  // removed and added in one update: a new version
      }
    }
    updated.update(removed, added);
    live.resize(rules.rules().size(), false);
    for (const std::uint32_t i : removed) {
      if (i < live.size()) live[i] = false;
    }
    std::erase_if(fires, [&](const auto& f) { return !live[std::get<0>(f)]; });
    for (const std::uint32_t i : added) live[i] = true;
    const Scratch scratch(rules, live, fires);
    for (int q = 0; q < 40; ++q) {
      const std::string symbol = kMovingSymbols[rnd.below(4)];
      const Tick t = random_tick(rnd);
      ASSERT_EQ(level(updated, symbol, t), level(scratch.index, symbol, t))
          << "seed " << seed << " round " << round << " " << symbol << " price " << t.price << " ts "
          << t.ts.micros;
      ASSERT_EQ(level_of_lists(updated, symbol, t), level(scratch.index, symbol, t));
      const double from = rnd.grid(24, 0.5) - 1, to = rnd.grid(24, 0.5) - 1;
      const std::int64_t ts = kT0 + rnd.below(1000) * kSec;
      ASSERT_EQ(crossed(updated, symbol, from, to, ts), crossed(scratch.index, symbol, from, to, ts))
          << "seed " << seed << " round " << round;
    }
  }
}

TEST(RuleIndexUpdateDifferential, SmallSetsFewChanges) {
  for (unsigned seed = 1; seed <= 300; ++seed) {
    run_update_differential(seed, static_cast<int>(seed % 30), 20, 4);
  }
}

TEST(RuleIndexUpdateDifferential, LargerSetsManyChangesAndNotes) {
  for (unsigned seed = 5000; seed < 5020; ++seed) run_update_differential(seed, 600, 30, 60);
}

}  // namespace
}  // namespace tap
