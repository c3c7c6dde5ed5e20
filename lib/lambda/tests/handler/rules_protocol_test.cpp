// The change protocol end to end over the fake rules store (issue 15's adversarial cases at this level):
// writers (ChangeService) and readers (RulesCache) with their own clocks on one simulated time, commits that
// land late or time out after applying, readers paused, clocks off by +/- P.
//
// The invariant: for every tick a reader evaluates, the versions it uses equal the versions an omniscient
// reader would use at the tick's timestamp -- the versions of every record as finally committed (a change
// never touches a window before its effective_from, so later changes do not alter that answer).
// Each case also runs against a deliberately broken protocol (the fake's commit without the fence condition,
// a reader that trusts a fresh view instead of its fence, a writer that re-plans a timed-out commit) and
// asserts that the check catches it, so a passing case is evidence, not luck.
#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fake_rules_store.hpp"
#include "rule_records.hpp"
#include "tap/app/change_service.hpp"
#include "tap/app/rules_cache.hpp"

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

constexpr std::int64_t kP = 5 * kSecond;
constexpr EffectiveWindow kAlways{};

struct World {
  SimTime time;
  FakeRulesTables tables{2};
};

// A processor instance. Its clock is the world's time plus its offset, or a frozen reading (a process
// stopped between reading its clock and evaluating).
class Reader {
 public:
  Reader(World& world, std::int64_t offset)
      : world_(world), offset_(offset), store_(world.tables), cache_(store_, [this] { return now(); }, {}) {
    EXPECT_TRUE(cache_.load(far_deadline()).ok());
  }

  std::int64_t now() const { return frozen_.value_or(world_.time.now_micros + offset_); }
  void freeze() { frozen_ = now(); }
  void thaw() { frozen_.reset(); }

  // Evaluates a tick (or leaves its message for a retry when it cannot be covered yet). The broken reader
  // takes a view younger than the refresh interval as covering any tick.
  void tick(std::int64_t ts) {
    const bool trusted =
        trust_fresh_view && cache_.age_micros() < RulesCacheSettings{}.refresh_interval_micros;
    if (!trusted) {
      auto r = cache_.cover(ts, far_deadline());
      ASSERT_TRUE(r.ok());
      if (!r->covered) {
        ++not_covered;
        return;
      }
    }
    evaluated.push_back({ts, applying_at(cache_.versions(), ts)});
  }

  struct Evaluated {
    std::int64_t ts;
    std::vector<VersionKey> used;
  };
  std::vector<Evaluated> evaluated;
  int not_covered = 0;
  bool trust_fresh_view = false;  // the broken reader

 private:
  World& world_;
  std::int64_t offset_;
  std::optional<std::int64_t> frozen_;
  FakeRulesStore store_;
  RulesCache cache_;
};

// A writer (the import command or the API) with its own clock.
struct Writer {
  Writer(World& w, std::int64_t clock_offset)
      : world(w),
        offset(clock_offset),
        store(w.tables),
        service(
            store, [this] { return world.time.now_micros + offset; },
            [this](std::int64_t micros) { world.time.advance(micros); }, [] { return std::string("unused"); },
            {}) {}

  Result<ChangeOutcome, ChangeFailure> set_threshold(const std::string& rule_id, const std::string& owner,
                                                     double threshold) {
    const std::optional<RuleRecord> read = world.tables.get(owner, rule_id);
    ChangeRequest r;
    r.kind = ChangeKind::edit;
    r.owner = owner;
    r.rule_id = rule_id;
    r.spec = read->spec;
    r.spec->threshold = threshold;
    r.if_match = read->revision;
    return service.apply(r, far_deadline());
  }

  World& world;
  std::int64_t offset;
  FakeRulesStore store;
  ChangeService service;
};

// Every evaluated tick whose versions differ from the omniscient reader's, described.
std::vector<std::string> violations(const World& world, const std::vector<const Reader*>& readers) {
  std::vector<Rule> all;
  for (const RuleRecord& r : world.tables.all_records()) {
    for (Rule& v : engine_versions(r)) all.push_back(std::move(v));
  }
  std::vector<std::string> out;
  for (const Reader* reader : readers) {
    for (const Reader::Evaluated& e : reader->evaluated) {
      const std::vector<VersionKey> expected = applying_at(all, e.ts);
      if (expected != e.used) {
        out.push_back("tick at " + std::to_string(e.ts) + ": used " + std::to_string(e.used.size()) +
                      " versions, " +
                      (e.used.empty() ? "" : "threshold " + std::to_string(e.used[0].threshold)) +
                      "; omniscient: " + std::to_string(expected.size()));
      }
    }
  }
  return out;
}

// What one run of a case came to.
struct CaseRun {
  std::vector<std::string> violations;
  int attempts = 0;     // the writer's commits for its change
  int not_covered = 0;  // ticks left for a retry
  std::size_t evaluated = 0;
};

// --- a writer's commit delayed past its effective_from ---

CaseRun delayed_commit(bool drop_fence_condition) {
  World world;
  world.tables.drop_fence_condition = drop_fence_condition;
  world.tables.seed(record_with("r1", "alice", {kAlways}));
  Reader reader(world, 0);
  Writer writer(world, 0);
  const std::int64_t t0 = world.time.now_micros;
  // The commit is sent with effective_from t0 + P and lands 2.5 s later; meanwhile the reader covers ticks
  // up to t0 + 5.5 s (ahead of its clock, within F) and evaluates two of them after t0 + P.
  writer.store.before_commit = [&] {
    writer.store.before_commit = nullptr;
    world.time.advance(2'500'000);
    reader.tick(t0 + kP);
    reader.tick(t0 + kP + 400'000);
  };
  auto outcome = writer.set_threshold("r1", "alice", 150);
  EXPECT_TRUE(outcome.ok());
  world.time.advance(6 * kSecond);
  reader.tick(world.time.now_micros);  // later ticks see the change
  return {violations(world, {&reader}), outcome ? outcome->attempts : 0, reader.not_covered,
          reader.evaluated.size()};
}

TEST(RulesProtocol, ACommitDelayedPastItsEffectiveFromIsRefusedByTheFenceAndRetriedLater) {
  const CaseRun run = delayed_commit(false);
  EXPECT_EQ(run.violations, std::vector<std::string>{});
  EXPECT_EQ(run.attempts, 2) << "the late commit failed its fence condition; the retry took a later one";
  EXPECT_EQ(run.evaluated, 3U);

  const CaseRun broken = delayed_commit(true);
  EXPECT_EQ(broken.attempts, 1);
  // Without the fence condition both ticks miss the edit, and so does the later one: the edit's log entry
  // lies behind the fence the reader reads the log from, so it never learns of it.
  EXPECT_EQ(broken.violations.size(), 3U);
}

// --- a reader paused for longer than P, then given ticks newer than its last refresh ---

CaseRun paused_reader(bool trust_fresh_view) {
  World world;
  world.tables.seed(record_with("r1", "alice", {kAlways}));
  Reader reader(world, 0);
  reader.trust_fresh_view = trust_fresh_view;
  Writer writer(world, 0);
  const std::int64_t t0 = world.time.now_micros;
  reader.tick(t0 + kSecond / 2);
  reader.freeze();  // SIGSTOP: its clock reading stays at t0 while the world goes on for 3 P
  world.time.advance(kSecond);
  EXPECT_TRUE(writer.set_threshold("r1", "alice", 150).ok());  // effective t0 + 6 s
  world.time.advance(7 * kSecond);
  EXPECT_TRUE(writer.set_threshold("r1", "alice", 175).ok());  // effective t0 + 13 s
  world.time.advance(7 * kSecond);
  // Resumed, still on its stale reading: ticks newer than its last refresh.
  reader.tick(t0 + 7 * kSecond);
  reader.tick(t0 + 14 * kSecond);
  // Its clock jumps to the present; the retried messages come back.
  reader.thaw();
  reader.tick(t0 + 7 * kSecond);
  reader.tick(t0 + 14 * kSecond);
  return {violations(world, {&reader}), 0, reader.not_covered, reader.evaluated.size()};
}

TEST(RulesProtocol, APausedReaderCoversNewerTicksOnlyAfterARefreshAndNeverByItsStaleView) {
  const CaseRun run = paused_reader(false);
  EXPECT_EQ(run.violations, std::vector<std::string>{});
  EXPECT_EQ(run.not_covered, 2) << "on its stale clock the newer ticks are beyond any fence it can set";
  EXPECT_EQ(run.evaluated, 3U);

  const CaseRun broken = paused_reader(true);
  EXPECT_EQ(broken.violations.size(), 2U) << "a view trusted by its age misses both edits";
}

// --- clock offsets of +/- P for readers and writers ---

struct Offsets {
  std::vector<std::string> violations;
  std::vector<int> not_covered;        // per reader: +P, 0, -P
  std::vector<std::size_t> evaluated;  // per reader
  int committed = 0;
};

Offsets clock_offsets(bool drop_fence_condition, const std::vector<std::int64_t>& reader_offsets) {
  World world;
  world.tables.drop_fence_condition = drop_fence_condition;
  const std::vector<std::pair<std::string, std::string>> rules{
      {"r1", "alice"}, {"r2", "bob"}, {"r3", "carol"}};
  for (const auto& [id, owner] : rules) world.tables.seed(record_with(id, owner, {kAlways}));
  std::deque<Reader> readers;
  for (const std::int64_t offset : reader_offsets) readers.emplace_back(world, offset);
  std::deque<Writer> writers;
  for (const std::int64_t offset : {kP, -kP}) writers.emplace_back(world, offset);

  // A burst of ticks: every 100 ms each reader gets ticks from the feed's clock (the true time, within S),
  // and one old tick (a redelivery).
  const auto burst = [&](int steps) {
    for (int i = 0; i < steps; ++i) {
      world.time.advance(100'000);
      for (Reader& r : readers) {
        for (const std::int64_t skew : {-2'500'000, -1'000'000, 0, 1'500'000})
          r.tick(world.time.now_micros + skew);
      }
    }
  };
  Offsets out;
  for (int cycle = 0; cycle < 6; ++cycle) {
    world.time.advance(10 * kSecond);  // quiet: no tick, no refresh; the fences stay where they were
    Writer& w = writers[cycle % 2];
    w.store.before_commit = [&] {  // the readers' next burst starts while the commit is on its way
      w.store.before_commit = nullptr;
      burst(10);
    };
    const auto& [id, owner] = rules[cycle % 3];
    auto r = w.set_threshold(id, owner, 100 + cycle + 1);
    out.committed += r.ok() ? 1 : 0;
    burst(20);
  }
  std::vector<const Reader*> all;
  for (const Reader& r : readers) {
    all.push_back(&r);
    out.not_covered.push_back(r.not_covered);
    out.evaluated.push_back(r.evaluated.size());
  }
  out.violations = violations(world, all);
  return out;
}

TEST(RulesProtocol, ClockOffsetsOfPlusMinusPDelayChangesButNeverHideOne) {
  const Offsets run = clock_offsets(false, {kP, 0, -kP});
  EXPECT_EQ(run.violations, std::vector<std::string>{});
  EXPECT_EQ(run.committed, 6);
  // The reader P ahead drives the fences; the others are covered by the fences it set (each fence write
  // returns the head), so every tick is evaluated.
  EXPECT_EQ(run.evaluated, (std::vector<std::size_t>{720, 720, 720}));
  EXPECT_EQ(run.not_covered, (std::vector<int>{0, 0, 0}));

  // Alone, the reader P behind covers only ticks older than its clock + lead: the others are retried (a
  // delay, which FeedClockOffsetMs makes visible), none is evaluated wrongly.
  const Offsets behind = clock_offsets(false, {-kP});
  EXPECT_EQ(behind.violations, std::vector<std::string>{});
  EXPECT_EQ(behind.committed, 6);
  EXPECT_GT(behind.evaluated[0], 0U);
  EXPECT_GT(behind.not_covered[0], 0);

  const Offsets broken = clock_offsets(true, {kP, 0, -kP});
  EXPECT_FALSE(broken.violations.empty()) << "a writer P behind commits behind a fence a reader P ahead set";
  // The figures, in the XML report (--gtest_output=xml).
  RecordProperty("behind_alone", std::to_string(behind.evaluated[0]) + " evaluated, " +
                                     std::to_string(behind.not_covered[0]) + " retried");
  RecordProperty("broken_violations", std::to_string(broken.violations.size()));
}

// --- a timed-out write that committed ---

TEST(RulesProtocol, ATimedOutWriteThatCommittedIsAnsweredWithTheEffectiveFromInForce) {
  World world;
  world.tables.seed(record_with("r1", "alice", {kAlways}));
  Reader reader(world, 0);
  Writer writer(world, 0);
  writer.store.timeout_after_apply = 1;
  auto outcome = writer.set_threshold("r1", "alice", 150);
  ASSERT_TRUE(outcome.ok());
  for (int i = 0; i < 80; ++i) {
    world.time.advance(100'000);
    reader.tick(world.time.now_micros);
  }
  EXPECT_EQ(violations(world, {&reader}), std::vector<std::string>{});
  const auto stored = world.tables.get("alice", "r1");
  EXPECT_EQ(stored->revision, 2U) << "applied once";
  EXPECT_EQ(stored->versions.back().window.from_micros, outcome->effective_from_micros);
  EXPECT_EQ(applying_at(engine_versions(*stored), outcome->effective_from_micros).at(0).threshold, 150);
  EXPECT_EQ(applying_at(engine_versions(*stored), outcome->effective_from_micros - 1).at(0).threshold, 100);

  // The broken writer: after the timeout it plans the caller's request again on what it reads. Its own
  // commit made the caller's If-Match stale, so it answers 412 for an edit that is in force.
  writer.store.timeout_after_apply = 1;
  ChangeRequest again;
  again.kind = ChangeKind::edit;
  again.owner = "alice";
  again.rule_id = "r1";
  again.spec = stored->spec;
  again.spec->threshold = 175;
  again.if_match = stored->revision;
  FakeRulesStore& s = writer.store;
  std::optional<ChangeError> answer;
  for (int attempt = 0; attempt < 2 && !answer; ++attempt) {
    const RulesHead head = s.head(s.shard_of("alice"), far_deadline()).value();
    const std::optional<RuleRecord> current = s.get("alice", "r1", far_deadline()).value();
    const std::int64_t now = world.time.now_micros;
    const std::int64_t ef = effective_from_for(now, head.fence_micros, kP, *current);
    auto plan = plan_change(current, again, ef, "", now);
    if (!plan) answer = plan.error();
    if (plan) (void)s.commit(head, current, plan.value(), ef, 1000, far_deadline());
  }
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->kind, ChangeError::Kind::precondition_failed);
  EXPECT_EQ(world.tables.get("alice", "r1")->spec.threshold, 175) << "while the edit is in the store";
}

}  // namespace
}  // namespace tap
