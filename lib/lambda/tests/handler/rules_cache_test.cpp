// RulesCache (tap/app/rules_cache.hpp) against the fake rules store: cold load, the refresh policy, the
// horizon, invalid items and failures.
#include "tap/app/rules_cache.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "fake_rules_store.hpp"
#include "rule_records.hpp"
#include "tap/core/rule_index.hpp"

namespace tap {
namespace {

using test_support::applying_at;
using test_support::FakeRulesStore;
using test_support::FakeRulesTables;
using test_support::far_deadline;
using test_support::kSecond;
using test_support::record_with;
using test_support::SimTime;
using test_support::VersionKey;

constexpr EffectiveWindow kAlways{};

RulesCacheSettings settings(std::uint32_t segments = 4) {
  RulesCacheSettings s;
  s.scan_segments = segments;
  return s;
}

// A change committed through the tables as a writer would (fence condition, seq, log entry).
CommitResult commit(FakeRulesTables& tables, const RuleRecord& next, std::int64_t effective_from,
                    const std::optional<RuleRecord>& read = std::nullopt) {
  ChangePlan plan;
  plan.next = next;
  plan.quota_delta = read ? 0 : 1;
  return tables.commit(tables.head(tables.shard_of(next.owner)), read, plan, effective_from, 1000);
}

std::vector<std::string> ids(const std::vector<Rule>& versions) {
  std::vector<std::string> out;
  for (const Rule& v : versions) out.push_back(v.id + "#" + std::to_string(v.version));
  return out;
}

struct CacheTest : ::testing::Test {
  SimTime time;
  std::int64_t offset = 0;
  FakeRulesTables tables{3};
  FakeRulesStore store{tables};
  RulesCache make_cache(std::uint32_t segments = 4, std::vector<RulesStore*> scan_stores = {}) {
    return RulesCache(store, test_support::offset_clock(time, offset), settings(segments),
                      std::move(scan_stores));
  }
  // Loads `cache` over rule r1 (alice's), then commits r1's close just after the fence; returns that instant.
  std::int64_t load_then_close_r1(RulesCache& cache) {
    tables.seed(record_with("r1", "alice", {kAlways}));
    EXPECT_TRUE(cache.load(far_deadline()).ok());
    const std::int64_t at = cache.covered_until() + 1;
    EXPECT_EQ(commit(tables, record_with("r1", "alice", {{EffectiveWindow::kOpenStart, at}}), at,
                     record_with("r1", "alice", {kAlways}))
                  .status,
              CommitResult::Status::committed);
    return at;
  }
  // A refresh that fails at the second shard's fence: the first shard's changes are read, the rest are not.
  void refresh_failing_at_the_second_fence(RulesCache& cache) {
    int fences = 0;
    store.on_request = [&](std::string_view name) {
      if (name == "advance_fence" && ++fences == 2) store.fail_once = "advance_fence";
    };
    EXPECT_FALSE(cache.cover(time.now_micros, far_deadline()).ok());
    store.on_request = nullptr;
  }
};

TEST_F(CacheTest, LoadAdvancesEveryFenceBeforeScanningAndLoadsEveryRecordAndControl) {
  tables.seed(record_with("r1", "alice", {kAlways}));
  tables.seed(record_with("r2", "bob", {{0, time.now_micros}, {time.now_micros, EffectiveWindow::kOpenEnd}}));
  ASSERT_EQ(
      commit(tables, record_with("r3", "carol", {{time.now_micros + 5 * kSecond, EffectiveWindow::kOpenEnd}}),
             time.now_micros + 5 * kSecond)
          .status,
      CommitResult::Status::committed);
  SymbolControlRecord halted{"MSFT", {{{time.now_micros, EffectiveWindow::kOpenEnd}}, {}}};
  ASSERT_EQ(
      tables.commit_controls(tables.head(tables.shard_of("MSFT")), halted, time.now_micros + kSecond).status,
      CommitResult::Status::committed);
  SymbolControlRecord banded{"AAPL", {{}, {{{time.now_micros, EffectiveWindow::kOpenEnd}, 10, 20}}}};
  ASSERT_EQ(
      tables.commit_controls(tables.head(tables.shard_of("AAPL")), banded, time.now_micros + kSecond).status,
      CommitResult::Status::committed);
  std::vector<std::string> order;
  store.on_request = [&](std::string_view name) { order.emplace_back(name); };

  RulesCache cache = make_cache();
  EXPECT_EQ(cache.covered_until(), std::numeric_limits<std::int64_t>::min()) << "nothing before the load";
  auto report = cache.load(far_deadline());

  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->requested);
  EXPECT_TRUE(report->covered);
  EXPECT_EQ(report->records_changed, 3U);
  EXPECT_EQ(report->invalid, 0U);
  EXPECT_EQ(ids(cache.versions()), (std::vector<std::string>{"r1#1", "r2#1", "r2#2", "r3#1"}));
  ASSERT_EQ(cache.controls().size(), 2U);
  EXPECT_EQ(cache.controls()[0].symbol, "AAPL");
  EXPECT_EQ(cache.controls()[1].symbol, "MSFT");
  EXPECT_EQ(cache.covered_until(), time.now_micros + 3 * kSecond);
  for (std::uint32_t s = 0; s < 3; ++s) EXPECT_EQ(tables.head(s).fence_micros, time.now_micros + 3 * kSecond);
  EXPECT_EQ(cache.generation(), 1U);
  EXPECT_EQ(cache.age_micros(), 0);
  // Fences first (so the scan sees every change committed before them), then the segments, then controls.
  EXPECT_EQ(order, (std::vector<std::string>{"advance_fence", "advance_fence", "advance_fence", "scan",
                                             "scan", "scan", "scan", "controls"}));
}

TEST_F(CacheTest, ParallelScanStoresReadEverySegmentOnceAndLoadTheSameVersions) {
  for (int i = 0; i < 40; ++i)
    tables.seed(record_with("r" + std::to_string(i), "o" + std::to_string(i % 7), {kAlways}));
  RulesCache sequential = make_cache(16);
  ASSERT_TRUE(sequential.load(far_deadline()).ok());

  std::vector<FakeRulesStore> clients(4, FakeRulesStore(tables));
  std::vector<RulesStore*> scan_stores;
  for (FakeRulesStore& c : clients) scan_stores.push_back(&c);
  FakeRulesStore main_store(tables);
  RulesCache parallel(main_store, test_support::offset_clock(time, offset), settings(16), scan_stores);
  ASSERT_TRUE(parallel.load(far_deadline()).ok());

  EXPECT_EQ(ids(parallel.versions()), ids(sequential.versions()));
  EXPECT_EQ(parallel.versions().size(), 40U);
  int scans = 0;
  for (const FakeRulesStore& c : clients) scans += c.scans;
  EXPECT_EQ(scans, 16) << "every segment scanned exactly once";
  EXPECT_EQ(main_store.scans, 0) << "the scan stores scan; the main store writes fences";
  EXPECT_EQ(main_store.fence_writes, 3);
}

TEST_F(CacheTest, TheHorizonLeavesOutVersionsThatEndedBeforeIt) {
  const std::int64_t h = settings().horizon_micros;
  tables.seed(record_with("gone", "alice", {{0, time.now_micros - h - 1}}));
  tables.seed(record_with("kept", "alice", {{0, time.now_micros - h + 10 * kSecond}}));
  tables.seed(record_with(
      "mixed", "bob", {{0, time.now_micros - h - 1}, {time.now_micros - h - 1, EffectiveWindow::kOpenEnd}}));
  RulesCache cache = make_cache();
  ASSERT_TRUE(cache.load(far_deadline()).ok());
  EXPECT_EQ(ids(cache.versions()), (std::vector<std::string>{"kept#1", "mixed#2"}));

  // Twenty seconds later "kept" has ended before the horizon too: the next rebuild drops it.
  time.advance(20 * kSecond);
  ASSERT_EQ(commit(tables,
                   record_with("new", "carol", {{time.now_micros + 5 * kSecond, EffectiveWindow::kOpenEnd}}),
                   time.now_micros + 5 * kSecond)
                .status,
            CommitResult::Status::committed);
  ASSERT_TRUE(cache.cover(time.now_micros, far_deadline()).ok());
  EXPECT_EQ(ids(cache.versions()), (std::vector<std::string>{"mixed#2", "new#1"}));
}

TEST_F(CacheTest, CoverSendsNothingWhileCoveredAndFreshAndOneFenceWritePerShardWhenIdle) {
  tables.seed(record_with("r1", "alice", {kAlways}));
  RulesCache cache = make_cache();
  ASSERT_TRUE(cache.load(far_deadline()).ok());
  const int after_load = store.requests();

  time.advance(kSecond / 2);
  auto fresh = cache.cover(time.now_micros, far_deadline());
  ASSERT_TRUE(fresh.ok());
  EXPECT_FALSE(fresh->requested);
  EXPECT_TRUE(fresh->covered);
  EXPECT_EQ(store.requests(), after_load);
  EXPECT_EQ(cache.age_micros(), kSecond / 2);

  time.advance(kSecond / 2);  // the view is refresh_interval old: one fence write per shard, nothing read
  auto idle = cache.cover(time.now_micros, far_deadline());
  ASSERT_TRUE(idle.ok());
  EXPECT_TRUE(idle->requested);
  EXPECT_EQ(idle->records_changed, 0U);
  EXPECT_EQ(store.requests(), after_load + 3);
  EXPECT_EQ(store.fence_writes, 6);
  EXPECT_EQ(cache.generation(), 1U) << "nothing changed: no index rebuild";
  EXPECT_EQ(cache.age_micros(), 0);
  EXPECT_EQ(cache.covered_until(), time.now_micros + 3 * kSecond);
}

TEST_F(CacheTest, ATickBeyondTheViewIsCoveredByARefreshEvenWhenTheViewIsFresh) {
  RulesCache cache = make_cache();
  ASSERT_TRUE(cache.load(far_deadline()).ok());
  time.advance(kSecond / 10);
  const int before = store.fence_writes;
  auto r = cache.cover(time.now_micros + 3 * kSecond - 1, far_deadline());  // >= covered_until, < now + lead
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->requested);
  EXPECT_TRUE(r->covered);
  EXPECT_EQ(store.fence_writes, before + 3);
  EXPECT_GT(cache.covered_until(), time.now_micros + 3 * kSecond - 1);
}

TEST_F(CacheTest, ATickBelowAFenceAnotherReaderSetIsCoveredWhateverThisReadersClock) {
  RulesCache cache = make_cache();
  ASSERT_TRUE(cache.load(far_deadline()).ok());
  const std::int64_t other = time.now_micros + 20 * kSecond;  // a reader whose clock is ahead
  for (std::uint32_t s = 0; s < 3; ++s) (void)tables.advance_fence(s, other);
  time.advance(kSecond);
  EXPECT_FALSE(cache.cover(time.now_micros + 10 * kSecond, far_deadline())->covered) << "not known yet";
  auto r = cache.cover(time.now_micros, far_deadline());  // the fence writes return the other's fences
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->requested);
  EXPECT_EQ(cache.covered_until(), other);
  auto ahead = cache.cover(time.now_micros + 10 * kSecond, far_deadline());
  ASSERT_TRUE(ahead.ok());
  EXPECT_TRUE(ahead->covered);
  EXPECT_FALSE(ahead->requested);
}

TEST_F(CacheTest, ATickAtOrAfterNowPlusTheLeadIsNotCoveredAndSendsNothing) {
  RulesCache cache = make_cache();
  ASSERT_TRUE(cache.load(far_deadline()).ok());
  time.advance(2 * kSecond);
  const int before = store.requests();
  auto r = cache.cover(time.now_micros + 3 * kSecond, far_deadline());
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->covered);
  EXPECT_FALSE(r->requested);
  EXPECT_EQ(store.requests(), before);
}

TEST_F(CacheTest, ASeqThatMovedReadsTheLogFromThePreviousFenceAndTheRecordsItNames) {
  tables.seed(record_with("r1", "alice", {kAlways}));
  RulesCache cache = make_cache();
  ASSERT_TRUE(cache.load(far_deadline()).ok());

  // Right after the fence write: an edit of r1 effective just after the fence (a writer whose clock is
  // behind), and a new rule of alice. The next fence passes `at`: only a log read from the previous fence
  // finds them.
  const std::int64_t at = cache.covered_until() + 1;
  RuleRecord edited =
      record_with("r1", "alice", {{EffectiveWindow::kOpenStart, at}, {at, EffectiveWindow::kOpenEnd}});
  ASSERT_EQ(commit(tables, edited, at, record_with("r1", "alice", {kAlways})).status,
            CommitResult::Status::committed);
  ASSERT_EQ(commit(tables, record_with("r2", "alice", {{at, EffectiveWindow::kOpenEnd}}), at).status,
            CommitResult::Status::committed);
  time.advance(kSecond);
  auto r = cache.cover(time.now_micros, far_deadline());
  ASSERT_TRUE(r.ok());
  EXPECT_GT(cache.covered_until(), at);
  EXPECT_EQ(r->records_changed, 2U);
  EXPECT_EQ(store.log_reads, 1) << "only alice's shard moved";
  EXPECT_EQ(store.record_reads, 1);
  EXPECT_EQ(store.control_reads, 1) << "no control changed: controls are not re-read";
  EXPECT_EQ(ids(cache.versions()), (std::vector<std::string>{"r1#1", "r1#2", "r2#1"}));
  EXPECT_EQ(cache.generation(), 2U);
  EXPECT_EQ(applying_at(cache.versions(), at - 1), (std::vector<VersionKey>{{"r1", 1, 100}}));
  EXPECT_EQ(applying_at(cache.versions(), at), (std::vector<VersionKey>{{"r1", 2, 100}, {"r2", 1, 100}}));
}

TEST_F(CacheTest, AControlChangeReReadsTheControls) {
  RulesCache cache = make_cache();
  ASSERT_TRUE(cache.load(far_deadline()).ok());
  const std::int64_t at = time.now_micros + 5 * kSecond;
  SymbolControlRecord halted{"MSFT", {{{at, EffectiveWindow::kOpenEnd}}, {}}};
  ASSERT_EQ(tables.commit_controls(tables.head(tables.shard_of("MSFT")), halted, at).status,
            CommitResult::Status::committed);
  time.advance(kSecond);
  auto r = cache.cover(time.now_micros, far_deadline());
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(cache.controls().size(), 1U);
  EXPECT_EQ(cache.controls()[0].controls.suspensions,
            (std::vector<EffectiveWindow>{{at, EffectiveWindow::kOpenEnd}}));
  EXPECT_EQ(cache.generation(), 2U);
}

TEST_F(CacheTest, InvalidItemsAreSkippedCountedAndListedAndAnItemThatTurnedInvalidKeepsItsLastRecord) {
  tables.seed(record_with("good", "alice", {kAlways}));
  tables.seed(record_with("bad", "alice", {kAlways}));
  tables.corrupt("bad", "threshold: not a number");
  tables.seed(record_with("later", "bob", {kAlways}));
  RulesCache cache = make_cache();
  auto load = cache.load(far_deadline());
  ASSERT_TRUE(load.ok());
  EXPECT_EQ(load->invalid, 1U);
  EXPECT_EQ(load->invalid_items, (std::vector<std::string>{"rule bad: threshold: not a number"}));
  EXPECT_EQ(ids(cache.versions()), (std::vector<std::string>{"good#1", "later#1"}));

  // "later" is changed, then its item turns invalid before the refresh reads it.
  const std::int64_t at = time.now_micros + 5 * kSecond;
  ASSERT_EQ(commit(tables, record_with("later", "bob", {{EffectiveWindow::kOpenStart, at}}), at,
                   record_with("later", "bob", {kAlways}))
                .status,
            CommitResult::Status::committed);
  tables.corrupt("later", "mode: unknown");
  time.advance(kSecond);
  auto r = cache.cover(time.now_micros, far_deadline());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->invalid, 1U);
  EXPECT_EQ(r->records_changed, 0U);
  EXPECT_EQ(ids(cache.versions()), (std::vector<std::string>{"good#1", "later#1"}));
  EXPECT_EQ(cache.generation(), 1U);
}

TEST_F(CacheTest, CoverBeforeAnyLoadLoads) {
  tables.seed(record_with("r1", "alice", {kAlways}));
  RulesCache cache = make_cache();
  auto r = cache.cover(time.now_micros, far_deadline());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->records_changed, 1U);
  EXPECT_EQ(store.scans, 4);
  EXPECT_EQ(cache.generation(), 1U);
}

TEST_F(CacheTest, AViewNotRefreshedForTheHorizonLoadsAgain) {
  RulesCache cache = make_cache();
  ASSERT_TRUE(cache.load(far_deadline()).ok());
  tables.seed(record_with("r1", "alice", {kAlways}));  // written without a log entry (expired, say)
  time.advance(settings().horizon_micros - 1);
  ASSERT_TRUE(cache.cover(time.now_micros, far_deadline()).ok());
  EXPECT_TRUE(cache.versions().empty()) << "a refresh: seq did not move";
  EXPECT_EQ(store.scans, 4);
  time.advance(settings().horizon_micros);
  auto r = cache.cover(time.now_micros, far_deadline());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(store.scans, 8);
  EXPECT_EQ(r->records_changed, 1U);
  EXPECT_EQ(ids(cache.versions()), (std::vector<std::string>{"r1#1"}));
}

TEST_F(CacheTest, ChangesReadBeforeALaterShardFailedAreInTheViewAfterTheNextRefresh) {
  ASSERT_EQ(tables.shard_of("alice"), 0U);  // refreshed first
  RulesCache cache = make_cache();
  const std::int64_t at = load_then_close_r1(cache);
  time.advance(kSecond);
  refresh_failing_at_the_second_fence(cache);
  EXPECT_LT(cache.covered_until(), at) << "shard 1 still has its old fence";

  time.advance(kSecond);  // nothing new in any shard now
  auto r = cache.cover(time.now_micros, far_deadline());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->records_changed, 0U);
  EXPECT_GT(cache.covered_until(), at);
  ASSERT_EQ(cache.versions().size(), 1U);
  EXPECT_EQ(cache.versions()[0].window.until_micros, at);
}

// Every request a load makes can fail; the load then fails and changes nothing.
class LoadFailure : public CacheTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(LoadFailure, FailsTheLoadAndLeavesTheCacheEmpty) {
  tables.seed(record_with("r1", "alice", {kAlways}));
  FakeRulesStore scanner(tables);
  scanner.fail_once = GetParam();
  store.fail_once = GetParam();
  RulesCache sequential = make_cache();
  auto r = sequential.load(far_deadline());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "ThrottlingException");
  EXPECT_EQ(sequential.generation(), 0U);
  EXPECT_TRUE(sequential.versions().empty());
  EXPECT_EQ(sequential.covered_until(), std::numeric_limits<std::int64_t>::min());
  if (GetParam() == "scan") {
    RulesCache parallel = make_cache(4, {&scanner});
    EXPECT_FALSE(parallel.load(far_deadline()).ok());
    EXPECT_EQ(scanner.scans, 1) << "after a failed segment no further segment is scanned";
  }
}

INSTANTIATE_TEST_SUITE_P(EachRequest, LoadFailure, ::testing::Values("advance_fence", "scan", "controls"));

// Every request a refresh makes can fail; the refresh then fails, and the next one still finds the change.
class RefreshFailure : public CacheTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(RefreshFailure, FailsTheRefreshAndTheNextOneReadsTheChange) {
  RulesCache cache = make_cache();
  const std::int64_t at = load_then_close_r1(cache);
  SymbolControlRecord halted{"alice",
                             {{{at, EffectiveWindow::kOpenEnd}}, {}}};  // same shard as alice's rules
  ASSERT_EQ(tables.commit_controls(tables.head(tables.shard_of("alice")), halted, at).status,
            CommitResult::Status::committed);
  time.advance(kSecond);
  store.fail_once = GetParam();
  auto failed = cache.cover(time.now_micros, far_deadline());
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(ids(cache.versions()), (std::vector<std::string>{"r1#1"}));
  EXPECT_EQ(cache.versions()[0].window.until_micros, EffectiveWindow::kOpenEnd);

  time.advance(kSecond);  // the fence moved on meanwhile: the log is still read from the old one
  auto r = cache.cover(time.now_micros, far_deadline());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(cache.versions()[0].window.until_micros, at);
  ASSERT_EQ(cache.controls().size(), 1U);
  EXPECT_EQ(cache.controls()[0].symbol, "alice");
}

INSTANTIATE_TEST_SUITE_P(EachRequest, RefreshFailure,
                         ::testing::Values("advance_fence", "changes_from", "records", "controls"));

TEST_F(CacheTest, IdleRefreshCostIsOneRequestPerShardPerSecond) {
  for (int i = 0; i < 100; ++i)
    tables.seed(record_with("r" + std::to_string(i), "o" + std::to_string(i), {kAlways}));
  RulesCache cache = make_cache();
  ASSERT_TRUE(cache.load(far_deadline()).ok());
  const int after_load = store.requests();
  // Ten seconds of ticks every 10 ms, nothing changing.
  for (int i = 0; i < 1000; ++i) {
    time.advance(10'000);
    auto r = cache.cover(time.now_micros - 200'000, far_deadline());
    ASSERT_TRUE(r.ok());
    ASSERT_TRUE(r->covered);
  }
  EXPECT_EQ(store.requests() - after_load, 3 * 10) << "shards x seconds";
  EXPECT_EQ(cache.generation(), 1U);
}

// ---- R4 incremental refresh: the changes a consumer applies instead of reading versions() whole ----

using Key = std::pair<std::string, std::uint32_t>;

std::vector<std::string> keys(const std::vector<Key>& removed) {
  std::vector<std::string> out;
  for (const auto& [id, version] : removed) out.push_back(id + "#" + std::to_string(version));
  return out;
}

TEST_F(CacheTest, ARefreshListsTheVersionsThatLeftAndEnteredTheView) {
  RulesCache cache = make_cache();
  const std::int64_t at = load_then_close_r1(cache);
  EXPECT_EQ(cache.changes_since(0), nullptr) << "a load: no changes known";
  ASSERT_TRUE(commit(tables, record_with("r2", "bob", {kAlways}), at).status ==
              CommitResult::Status::committed);
  time.advance(kSecond);
  ASSERT_TRUE(cache.cover(time.now_micros, far_deadline()).ok());
  ASSERT_EQ(cache.generation(), 2U);
  EXPECT_EQ(cache.changes_since(0), nullptr) << "two generations behind";
  const VersionChanges* changes = cache.changes_since(1);
  ASSERT_NE(changes, nullptr);
  EXPECT_EQ(keys(changes->removed), (std::vector<std::string>{"r1#1"}));  // its window closed: new content
  std::vector<std::string> added = ids(changes->added);
  std::sort(added.begin(), added.end());
  EXPECT_EQ(added, (std::vector<std::string>{"r1#1", "r2#1"}));  // r1#1 closed at `at`
  EXPECT_EQ(changes->added[changes->added[0].id == "r1" ? 0 : 1].window.until_micros, at);
  EXPECT_EQ(ids(cache.versions()), (std::vector<std::string>{"r1#1", "r2#1"}));
}

TEST_F(CacheTest, AVersionTheHorizonPassedLeavesWithTheNextChange) {
  RulesCache cache = make_cache();
  const std::int64_t at = load_then_close_r1(cache);  // r1#1 ends at `at`
  // Refreshed every third of the horizon (no load again), nothing else changing: the view stays.
  for (int i = 0; i < 4; ++i) {
    time.advance(settings().horizon_micros / 3);
    ASSERT_TRUE(cache.cover(time.now_micros, far_deadline()).ok());
  }
  ASSERT_GT(time.now_micros - settings().horizon_micros, at);
  EXPECT_EQ(ids(cache.versions()), (std::vector<std::string>{"r1#1"})) << "closed, within the last rebuild's";
  const std::int64_t later = time.now_micros + 5 * kSecond;
  ASSERT_EQ(commit(tables, record_with("r2", "bob", {kAlways}), later).status,
            CommitResult::Status::committed);
  time.advance(kSecond);
  const std::uint64_t before = cache.generation();
  ASSERT_TRUE(cache.cover(time.now_micros, far_deadline()).ok());
  const VersionChanges* changes = cache.changes_since(before);
  ASSERT_NE(changes, nullptr);
  EXPECT_EQ(keys(changes->removed), (std::vector<std::string>{"r1#1"}));
  EXPECT_EQ(ids(changes->added), (std::vector<std::string>{"r2#1"}));
  EXPECT_EQ(ids(cache.versions()), (std::vector<std::string>{"r2#1"}));
}

TEST_F(CacheTest, VersionsShowTheLastRebuildWhileAFailedRefreshLeftChangesPending) {
  ASSERT_EQ(tables.shard_of("alice"), 0U);  // refreshed first
  RulesCache cache = make_cache();
  load_then_close_r1(cache);
  time.advance(kSecond);
  refresh_failing_at_the_second_fence(cache);
  ASSERT_EQ(cache.versions().size(), 1U);
  EXPECT_EQ(cache.versions()[0].window.until_micros, EffectiveWindow::kOpenEnd) << "applied, not rebuilt";
}

// A consumer of the changes, as the handler is: an append-only RuleSet, its index updated with the changes,
// the current versions by (id, version).
struct Consumer {
  RuleSet rules;
  std::unique_ptr<RuleIndex> index;
  std::map<Key, std::uint32_t> current;
  std::uint64_t generation = 0;

  void follow(const RulesCache& cache) {
    if (cache.generation() == generation) return;
    const VersionChanges* changes = cache.changes_since(generation);
    generation = cache.generation();
    if (changes == nullptr) {
      index.reset();
      rules = RuleSet(cache.versions());
      index = std::make_unique<RuleIndex>(rules);
      current.clear();
      for (std::uint32_t i = 0; i < rules.rules().size(); ++i)
        current[{rules.rule(i).id, rules.rule(i).version}] = i;
      return;
    }
    std::vector<std::uint32_t> removed, added;
    for (const Key& k : changes->removed) {
      const auto it = current.find(k);
      ASSERT_NE(it, current.end()) << k.first << "#" << k.second << " left but was not in the view";
      removed.push_back(it->second);
      current.erase(it);
    }
    for (const Rule& v : changes->added) {
      ASSERT_FALSE(current.contains({v.id, v.version})) << v.id << " entered twice";
      const std::uint32_t i = rules.append(v);
      current[{v.id, v.version}] = i;
      added.push_back(i);
    }
    index->update(removed, added);
  }
  std::vector<Rule> versions() const {
    std::vector<Rule> out;
    for (const auto& [key, i] : current) out.push_back(rules.rule(i));
    return out;
  }
};

// Level answers as (id, version) keys: the consumer's indices differ from a fresh build's.
std::vector<Key> answers(const RuleIndex& index, const std::string& symbol, double price, std::int64_t ts) {
  Tick t;
  t.symbol = symbol;
  t.price = price;
  t.ts.micros = ts;
  std::vector<Key> out;
  index.for_each_level(symbol, t, [&](std::size_t i) {
    out.emplace_back(index.rules().rule(i).id, index.rules().rule(i).version);
  });
  index.for_each_crossed(symbol, price - 7, price + 7, ts, [&](std::size_t i) {
    out.emplace_back(index.rules().rule(i).id + "/x", index.rules().rule(i).version);
  });
  std::sort(out.begin(), out.end());
  return out;
}

// Random changes of random rules (created, edited: the open window closed and a new version opened, with
// another symbol, condition or threshold; paused; time running past the horizon) committed between
// refreshes: after each refresh the consumer that applied the changes holds exactly versions(), and its
// updated index answers every query as an index built over versions() from scratch.
TEST_F(CacheTest, AConsumerApplyingTheChangesHoldsTheViewAndItsIndexAnswersAsAFreshOne) {
  const char* const symbols[] = {"AAPL", "MSFT", "*"};
  for (unsigned seed = 1; seed <= 40; ++seed) {
    std::mt19937 rng(seed);
    const auto below = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
    FakeRulesTables seeded{3};
    FakeRulesStore seeded_store{seeded};
    SimTime clock;
    RulesCache cache(seeded_store, test_support::offset_clock(clock, offset), settings(2));
    std::map<std::string, RuleRecord> stored;
    Consumer consumer;
    for (int step = 0; step < 30; ++step) {
      for (int c = below(4); c > 0; --c) {
        const std::string id = "r" + std::to_string(below(12));
        const std::int64_t at = clock.now_micros + 5 * kSecond;
        const auto old = stored.find(id);
        RuleRecord next = old == stored.end() ? record_with(id, "o" + id, {}) : old->second;
        if (!next.versions.empty() && next.versions.back().window.until_micros == EffectiveWindow::kOpenEnd)
          next.versions.back().window.until_micros = at;  // closed (paused or edited)
        if (old == stored.end() || below(3) > 0) {        // a new version from `at`
          Rule v = record_with(id, next.owner, {{at, EffectiveWindow::kOpenEnd}}).versions[0];
          v.version = static_cast<std::uint32_t>(next.versions.size() + 1);
          v.symbol = symbols[below(3)];
          v.condition = static_cast<Condition>(below(6));
          v.threshold = 90 + below(20);
          next.versions.push_back(v);
        }
        next.revision = static_cast<std::uint32_t>(next.versions.size());
        ChangePlan plan;
        plan.next = next;
        plan.quota_delta = old == stored.end() ? 1 : 0;
        const std::optional<RuleRecord> read =
            old == stored.end() ? std::nullopt : std::optional<RuleRecord>(old->second);
        ASSERT_EQ(seeded.commit(seeded.head(seeded.shard_of(next.owner)), read, plan, at, 1000).status,
                  CommitResult::Status::committed);
        stored[id] = next;
      }
      clock.advance(below(5) == 0 ? settings().horizon_micros / 3 : kSecond);
      ASSERT_TRUE(cache.cover(clock.now_micros, far_deadline()).ok());
      consumer.follow(cache);
      ASSERT_EQ(consumer.versions(), cache.versions()) << "seed " << seed << " step " << step;
      const RuleSet fresh_rules(cache.versions());
      const RuleIndex fresh(fresh_rules);
      for (int q = 0; q < 20; ++q) {
        const std::string symbol = below(2) ? "AAPL" : "MSFT";
        const double price = 85 + below(30);
        const std::int64_t ts = clock.now_micros + (below(40) - 20) * kSecond;
        ASSERT_EQ(answers(*consumer.index, symbol, price, ts), answers(fresh, symbol, price, ts))
            << "seed " << seed << " step " << step;
      }
    }
  }
}

// ---- start_load: the cold load on a thread of its own, adopted whole by the first cover() ----

// The load's own client of the tables (`loader`, used by its thread only); its scans wait at the gate once
// `through` of them went past.
struct ColdLoadTest : CacheTest {
  FakeRulesStore loader{tables};
  std::promise<void> opened;
  std::shared_future<void> gate = opened.get_future().share();
  bool open = false;
  std::optional<Result<LoadSummary, AwsError>> summary;  // what `done` heard (read after the thread joined)
  std::promise<void> finished;

  int scans_seen = 0;  // by the load's thread only (the store calls a copy of its hook: no count in it)
  void gate_scans_after(int through) {
    loader.on_request = [this, through](std::string_view name) {
      if (name == "scan" && ++scans_seen > through) gate.wait();
    };
  }
  void open_gate() {
    if (!open) opened.set_value();
    open = true;
  }
  RulesCache::LoadDone heard() {
    return [this](const Result<LoadSummary, AwsError>& s) {
      summary.emplace(s);
      finished.set_value();
    };
  }
  struct OpenAtExit {  // a test that ends early still lets the load's thread end (the cache joins it)
    ColdLoadTest* test;
    ~OpenAtExit() { test->open_gate(); }
  };
  void seed_two() {
    tables.seed(record_with("r1", "alice", {kAlways}));
    tables.seed(record_with("r2", "bob", {kAlways}));
  }
};

TEST_F(ColdLoadTest, TheFirstCoverWaitsForTheLoadInFlightAndAdoptsItsWholeView) {
  seed_two();
  gate_scans_after(0);
  bool covering = false;
  // The gate opens only once cover() has read its clock: the load is still in flight when cover() starts.
  RulesCache cache(
      store,
      [&] {
        if (covering) open_gate();
        return time.now_micros;
      },
      settings(4));
  const OpenAtExit at_exit{this};
  cache.start_load(loader, far_deadline(), heard());
  covering = true;
  auto report = cache.cover(time.now_micros, far_deadline());

  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->requested);
  EXPECT_TRUE(report->covered);
  EXPECT_EQ(report->records_changed, 2U);
  EXPECT_EQ(ids(cache.versions()), (std::vector<std::string>{"r1#1", "r2#1"}));
  EXPECT_EQ(cache.covered_until(), time.now_micros + 3 * kSecond);
  EXPECT_EQ(cache.generation(), 1U);
  EXPECT_EQ(cache.changes_since(0), nullptr) << "a load: read versions() whole";
  EXPECT_EQ((std::pair{loader.fence_writes, loader.scans}), (std::pair{3, 4}));
  EXPECT_EQ((std::pair{store.fence_writes, store.scans}), (std::pair{0, 0})) << "no second load, no refresh";
  ASSERT_TRUE(summary.has_value() && summary->ok());
  EXPECT_EQ((*summary)->versions, 2U);
}

TEST_F(ColdLoadTest, ALoadOutlastingTheDeadlineFailsTheCoverWithNoPartialViewAndTheNextCoverWaitsAgain) {
  seed_two();
  gate_scans_after(2);  // two of the four segments are read, the others wait
  RulesCache cache = make_cache(4);
  const OpenAtExit at_exit{this};
  cache.start_load(loader, far_deadline());

  auto late = cache.cover(time.now_micros, SteadyClock::now());  // its deadline is reached
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, "RulesLoadInProgress");
  EXPECT_TRUE(late.error().retryable);
  EXPECT_TRUE(cache.versions().empty()) << "nothing of the segments read so far";
  EXPECT_EQ(cache.covered_until(), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(cache.generation(), 0U);
  EXPECT_EQ(store.requests(), 0) << "no load of its own beside the one in flight";

  open_gate();
  auto next = cache.cover(time.now_micros, far_deadline());
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(ids(cache.versions()), (std::vector<std::string>{"r1#1", "r2#1"}));
  EXPECT_EQ(store.requests(), 0) << "the load in flight, adopted";
}

TEST_F(ColdLoadTest, ATickBeyondAnyFenceIsNotCoveredWithoutWaitingForTheLoad) {
  seed_two();
  gate_scans_after(0);
  RulesCache cache = make_cache(4);
  const OpenAtExit at_exit{this};
  cache.start_load(loader, far_deadline());

  auto report = cache.cover(time.now_micros + 3 * kSecond, far_deadline());  // the gate stays closed
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->covered);
  EXPECT_FALSE(report->requested);
  EXPECT_TRUE(cache.versions().empty());
}

TEST_F(ColdLoadTest, AFinishedLoadIsUsedWithoutWaitingAndItsSkippedItemsAreReported) {
  seed_two();
  tables.seed(record_with("bad", "carol", {kAlways}));
  tables.corrupt("bad", "threshold: not a number");
  RulesCache cache = make_cache(4);
  cache.start_load(loader, far_deadline(), heard());
  finished.get_future().wait();  // `done` runs once the result is ready

  auto report = cache.cover(time.now_micros, SteadyClock::now());  // no time to wait: none needed
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(ids(cache.versions()), (std::vector<std::string>{"r1#1", "r2#1"}));
  EXPECT_EQ(report->invalid, 1U);
  EXPECT_EQ(report->invalid_items, (std::vector<std::string>{"rule bad: threshold: not a number"}));
  ASSERT_TRUE(summary->ok());
  EXPECT_EQ((*summary)->versions, 2U);
  EXPECT_EQ((*summary)->invalid, 1U);
  EXPECT_GE((*summary)->took_micros, 0);
}

TEST_F(ColdLoadTest, AFailedLoadFailsTheFirstCoverAndTheNextCoverLoadsAgain) {
  seed_two();
  loader.fail_once = "scan";
  RulesCache cache = make_cache(4);
  cache.start_load(loader, far_deadline(), heard());

  auto failed = cache.cover(time.now_micros, far_deadline());
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, "ThrottlingException");
  EXPECT_TRUE(cache.versions().empty());
  ASSERT_TRUE(summary.has_value());
  EXPECT_FALSE(summary->ok());
  EXPECT_EQ(store.requests(), 0);

  auto again = cache.cover(time.now_micros, far_deadline());  // synchronous, on the cache's own client
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->requested);
  EXPECT_EQ(ids(cache.versions()), (std::vector<std::string>{"r1#1", "r2#1"}));
  EXPECT_EQ((std::pair{store.fence_writes, store.scans}), (std::pair{3, 4}));
}

TEST_F(ColdLoadTest, ATickBeyondTheLoadsFencesIsRefreshedByTheAdoptingCoverAndItsFailureKeepsTheView) {
  seed_two();
  RulesCache cache = make_cache(4);
  cache.start_load(loader, far_deadline(), heard());
  finished.get_future().wait();
  time.advance(10 * kSecond);  // the first invocation comes later than the load's fences reach

  store.fail_once = "advance_fence";
  auto failed = cache.cover(time.now_micros, far_deadline());
  ASSERT_FALSE(failed.ok()) << "the refresh failed";
  EXPECT_EQ(ids(cache.versions()), (std::vector<std::string>{"r1#1", "r2#1"})) << "the load is adopted whole";
  EXPECT_LE(cache.covered_until(), time.now_micros) << "the load's fences";

  auto refreshed = cache.cover(time.now_micros, far_deadline());
  ASSERT_TRUE(refreshed.ok());
  EXPECT_GT(cache.covered_until(), time.now_micros);
}

TEST_F(ColdLoadTest, AnAdoptingCoverRefreshesATickBeyondTheLoadsFencesInTheSameCall) {
  seed_two();
  RulesCache cache = make_cache(4);
  cache.start_load(loader, far_deadline(), heard());
  finished.get_future().wait();
  time.advance(10 * kSecond);

  auto report = cache.cover(time.now_micros, far_deadline());
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->covered);
  EXPECT_EQ(report->records_changed, 2U) << "the load's";
  EXPECT_GT(cache.covered_until(), time.now_micros);
  EXPECT_EQ(store.fence_writes, 3) << "one refresh";
}

}  // namespace
}  // namespace tap
