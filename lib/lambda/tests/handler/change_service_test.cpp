// ChangeService (tap/app/change_service.hpp) against the fake rules store: the writer's loop, its retries,
// its refusals, ambiguous commits, and operators' symbol controls.
#include "tap/app/change_service.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fake_rules_store.hpp"
#include "rule_records.hpp"

namespace tap {
namespace {

using test_support::FakeRulesStore;
using test_support::FakeRulesTables;
using test_support::far_deadline;
using test_support::kSecond;
using test_support::SimTime;
using test_support::spec_named;

constexpr std::int64_t kP = 5 * kSecond;

ChangeRequest create(std::string name, double threshold = 100) {
  ChangeRequest r;
  r.kind = ChangeKind::create;
  r.owner = "alice";
  r.spec = spec_named(std::move(name), "AAPL", threshold);
  return r;
}
ChangeRequest edit(const RuleRecord& read, double threshold) {
  ChangeRequest r;
  r.kind = ChangeKind::edit;
  r.owner = read.owner;
  r.rule_id = read.id;
  r.spec = read.spec;
  r.spec->threshold = threshold;
  r.if_match = read.revision;
  return r;
}
ChangeRequest pause(const RuleRecord& read) {
  ChangeRequest r;
  r.kind = ChangeKind::pause;
  r.owner = read.owner;
  r.rule_id = read.id;
  return r;
}

struct ServiceTest : ::testing::Test {
  SimTime time;
  std::int64_t offset = 0;
  FakeRulesTables tables{2};
  FakeRulesStore store{tables};
  int next_id = 0;
  std::vector<std::int64_t> sleeps;
  ChangeServiceSettings settings;
  ChangeService service() {
    return ChangeService(
        store, test_support::offset_clock(time, offset),
        [this](std::int64_t micros) {
          sleeps.push_back(micros);
          time.advance(micros);
        },
        [this] { return "rule-" + std::to_string(++next_id); }, settings);
  }
  RuleRecord created(const std::string& name) {
    auto r = service().apply(create(name), far_deadline());
    EXPECT_TRUE(r.ok());
    return *r->record;
  }
  RulesHead head_of(std::string_view key) const { return tables.head(tables.shard_of(key)); }
};

TEST_F(ServiceTest, ACreateCommitsOnceEffectiveAtNowPlusPAndLogsTheChange) {
  auto r = service().apply(create("breakout"), far_deadline());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->effective_from_micros, time.now_micros + kP);
  EXPECT_EQ(r->attempts, 1);
  ASSERT_TRUE(r->record);
  EXPECT_EQ(r->record->id, "rule-1");
  const auto stored = tables.get("alice", "rule-1");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->revision, 1U);
  ASSERT_EQ(stored->versions.size(), 1U);
  EXPECT_EQ(stored->versions[0].window.from_micros, r->effective_from_micros);
  EXPECT_EQ(head_of("alice").seq, 1U);
  const auto log = tables.log(tables.shard_of("alice"));
  ASSERT_EQ(log.size(), 1U);
  EXPECT_EQ(log[0], (ChangeEntry{"alice", "rule-1", "", r->effective_from_micros, 1}));
  EXPECT_EQ(store.gets, 0) << "a fresh id names nothing: a create reads no record";
}

TEST_F(ServiceTest, EffectiveFromIsAfterTheFenceWhenReadersAreAhead) {
  const std::int64_t fence = time.now_micros + 9 * kSecond;  // a reader whose clock is ahead
  (void)tables.advance_fence(tables.shard_of("alice"), fence);
  auto r = service().apply(create("breakout"), far_deadline());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->effective_from_micros, fence + 1);
}

TEST_F(ServiceTest, AFenceThatPassedEffectiveFromBeforeTheCommitLandedMeansALaterOne) {
  store.before_commit = [&] {
    store.before_commit = nullptr;
    time.advance(3 * kSecond);  // the commit lands late; a reader's fence passed its effective_from
    (void)tables.advance_fence(tables.shard_of("alice"), time.now_micros + 3 * kSecond);
  };
  const std::int64_t first = time.now_micros + kP;
  auto r = service().apply(create("breakout"), far_deadline());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->attempts, 2);
  EXPECT_EQ(r->effective_from_micros, time.now_micros + kP);
  EXPECT_GT(r->effective_from_micros, first);
  EXPECT_GT(r->effective_from_micros, head_of("alice").fence_micros);
  EXPECT_EQ(head_of("alice").seq, 1U);
}

TEST_F(ServiceTest, AStaleRecordIsReReadAndThePlanMadeAgainOnIt) {
  const RuleRecord rule = created("breakout");
  time.advance(10 * kSecond);
  store.before_commit = [&] {  // another writer edits the rule between our read and our commit
    store.before_commit = nullptr;
    FakeRulesStore other(tables);
    auto e = service().apply(edit(rule, 150), far_deadline());
    ASSERT_TRUE(e.ok());
  };
  auto r = service().apply(pause(rule), far_deadline());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->attempts, 2);
  const auto stored = tables.get("alice", rule.id);
  EXPECT_EQ(stored->state, RuleState::paused);
  EXPECT_EQ(stored->spec.threshold, 150) << "the pause applied on top of the edit";
  EXPECT_EQ(stored->revision, 3U);
}

TEST_F(ServiceTest, AnEditOnAStaleRevisionIsAPreconditionFailure) {
  const RuleRecord rule = created("breakout");
  time.advance(10 * kSecond);
  ASSERT_TRUE(service().apply(edit(rule, 150), far_deadline()).ok());
  auto r = service().apply(edit(rule, 175), far_deadline());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ChangeFailure::Kind::rejected);
  EXPECT_EQ(r.error().error.kind, ChangeError::Kind::precondition_failed);
}

TEST_F(ServiceTest, ATakenNameAndAFullQuotaAreRefused) {
  (void)created("breakout");
  auto taken = service().apply(create("breakout"), far_deadline());
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.error().error.kind, ChangeError::Kind::conflict);
  EXPECT_EQ(taken.error().error.fields, (std::vector<FieldError>{{"name", "is taken by another rule"}}));

  settings.quota = 1;
  auto full = service().apply(create("second"), far_deadline());
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().kind, ChangeFailure::Kind::rejected);
  EXPECT_EQ(full.error().error.kind, ChangeError::Kind::quota_exceeded);
  EXPECT_EQ(head_of("alice").seq, 1U);
}

TEST_F(ServiceTest, AnInvalidChangeIsRefusedWithoutACommit) {
  ChangeRequest bad = create("breakout");
  bad.spec->threshold = -1;
  auto r = service().apply(bad, far_deadline());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ChangeFailure::Kind::rejected);
  EXPECT_EQ(r.error().error.kind, ChangeError::Kind::invalid);
  EXPECT_EQ(store.commits, 0);
}

TEST_F(ServiceTest, ThrottledRequestsAreRetriedAfterTheBackoffUntilPThenRetryLater) {
  store.fail_once = "get";
  const RuleRecord rule = created("breakout");  // the create reads no record: fail_once stays armed
  auto paused = service().apply(pause(rule), far_deadline());
  ASSERT_TRUE(paused.ok());
  EXPECT_EQ(sleeps, (std::vector<std::int64_t>{settings.backoff_micros}));

  store.fail_requests = 1000;
  const std::int64_t start = time.now_micros;
  auto r = service().apply(create("second"), far_deadline());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ChangeFailure::Kind::retry_later);
  EXPECT_GE(time.now_micros - start, kP);
  EXPECT_LT(time.now_micros - start, kP + settings.backoff_micros + 1);
}

TEST_F(ServiceTest, ARequestThatCannotSucceedFailsAtOnce) {
  store.fail_once = "head";
  store.fail_with = make_aws_error("AccessDeniedException", "not allowed", 400, false);
  auto r = service().apply(create("breakout"), far_deadline());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ChangeFailure::Kind::failed);
  EXPECT_EQ(r.error().aws.code, "AccessDeniedException");
  EXPECT_TRUE(sleeps.empty());
}

TEST_F(ServiceTest, ATimedOutCommitThatLandedIsRecognisedAndNotAppliedTwice) {
  store.timeout_after_apply = 1;
  auto c = service().apply(create("breakout"), far_deadline());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->attempts, 1);
  EXPECT_EQ(tables.list("alice", true).size(), 1U) << "one rule, not two";
  EXPECT_EQ(c->effective_from_micros, tables.get("alice", "rule-1")->versions[0].window.from_micros);

  time.advance(10 * kSecond);
  store.timeout_after_apply = 1;
  auto e = service().apply(edit(*c->record, 150), far_deadline());
  ASSERT_TRUE(e.ok()) << "its own commit does not make the edit stale";
  EXPECT_EQ(e->attempts, 1);
  const auto stored = tables.get("alice", "rule-1");
  EXPECT_EQ(stored->revision, 2U);
  EXPECT_EQ(stored->versions.back().window.from_micros, e->effective_from_micros);
  EXPECT_EQ(head_of("alice").seq, 2U);
}

TEST_F(ServiceTest, ATimedOutCommitLandingLateLosesToTheRetryOrIsRecognisedByIt) {
  const RuleRecord rule = created("breakout");
  time.advance(10 * kSecond);

  // It lands after the retry committed: its revision condition fails; the answer is the retry's.
  store.defer_commits = 1;
  auto late = service().apply(edit(rule, 150), far_deadline());
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(late->attempts, 2);
  const auto outcomes = store.land_deferred();
  ASSERT_EQ(outcomes.size(), 1U);
  EXPECT_EQ(outcomes[0].status, CommitResult::Status::stale);
  auto stored = tables.get("alice", rule.id);
  EXPECT_EQ(stored->revision, 2U);
  EXPECT_EQ(stored->versions.back().window.from_micros, late->effective_from_micros);

  // It lands between the retry's read and the retry's commit: the retry is stale, the re-read finds the
  // first attempt's record, and its effective_from is the answer.
  time.advance(10 * kSecond);
  store.defer_commits = 1;
  const std::int64_t first = time.now_micros + kP;
  const int sent = store.commits;
  store.before_commit = [&] {
    if (store.commits == sent + 2) {
      EXPECT_EQ(store.land_deferred().at(0).status, CommitResult::Status::committed);
    }
  };
  auto landed = service().apply(edit(*stored, 175), far_deadline());
  store.before_commit = nullptr;
  ASSERT_TRUE(landed.ok());
  EXPECT_EQ(landed->effective_from_micros, first);
  stored = tables.get("alice", rule.id);
  EXPECT_EQ(stored->revision, 3U);
  EXPECT_EQ(stored->spec.threshold, 175);
  EXPECT_EQ(stored->versions.back().window.from_micros, first);
}

// --- operators' symbol controls ---

ControlChange control(ControlChange::Kind kind, double low = 0, double high = 0) {
  return {kind, "MSFT", low, high, std::nullopt, std::nullopt};
}

TEST_F(ServiceTest, ControlsAreChangedThroughTheSymbolsShardEffectiveAfterP) {
  auto s = service().set_controls(control(ControlChange::Kind::suspend), far_deadline());
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->effective_from_micros, time.now_micros + kP);
  EXPECT_FALSE(s->record);
  EXPECT_EQ(head_of("MSFT").seq, 1U);
  auto stored = tables.all_controls();
  ASSERT_EQ(stored.size(), 1U);
  EXPECT_EQ(stored[0].controls.suspensions,
            (std::vector<EffectiveWindow>{{s->effective_from_micros, EffectiveWindow::kOpenEnd}}));
  EXPECT_EQ(tables.log(tables.shard_of("MSFT")).back(),
            (ChangeEntry{"", "", "MSFT", s->effective_from_micros, 1}));

  time.advance(10 * kSecond);
  auto resumed = service().set_controls(control(ControlChange::Kind::resume), far_deadline());
  ASSERT_TRUE(resumed.ok());
  stored = tables.all_controls();
  EXPECT_EQ(stored[0].controls.suspensions,
            (std::vector<EffectiveWindow>{{s->effective_from_micros, resumed->effective_from_micros}}));

  auto again = service().set_controls(control(ControlChange::Kind::resume), far_deadline());
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().error.kind, ChangeError::Kind::conflict);
}

TEST_F(ServiceTest, AControlChangeRetriesAfterAFencePassedAndRecognisesItsTimedOutCommit) {
  store.before_commit = [&] {
    store.before_commit = nullptr;
    time.advance(3 * kSecond);
    (void)tables.advance_fence(tables.shard_of("MSFT"), time.now_micros + 3 * kSecond);
  };
  auto band = service().set_controls(control(ControlChange::Kind::set_band, 10, 20), far_deadline());
  ASSERT_TRUE(band.ok());
  EXPECT_EQ(band->attempts, 2);
  EXPECT_GT(band->effective_from_micros, head_of("MSFT").fence_micros);

  time.advance(10 * kSecond);
  store.timeout_after_apply = 1;
  auto cleared = service().set_controls(control(ControlChange::Kind::clear_band), far_deadline());
  ASSERT_TRUE(cleared.ok());
  EXPECT_EQ(cleared->attempts, 1);
  EXPECT_EQ(head_of("MSFT").seq, 2U) << "applied once";
  const auto stored = tables.all_controls();
  ASSERT_EQ(stored[0].controls.bands.size(), 1U);
  EXPECT_EQ(stored[0].controls.bands[0].window.until_micros, cleared->effective_from_micros);
}

TEST_F(ServiceTest, AControlChangeRetriesAThrottledReadAndRefusesAnInvalidBand) {
  store.fail_once = "controls";
  auto s = service().set_controls(control(ControlChange::Kind::suspend), far_deadline());
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(sleeps.size(), 1U);

  auto bad = service().set_controls(control(ControlChange::Kind::set_band, 20, 10), far_deadline());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().error.kind, ChangeError::Kind::invalid);
}

}  // namespace
}  // namespace tap
