// The handler's rule sources (tap/app/rule_source.hpp): the document's, and the one over the rules cache.
#include "tap/app/rule_source.hpp"

#include <gtest/gtest.h>

#include <limits>
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
using test_support::record_with;
using test_support::SimTime;

TEST(DocumentRuleSource, CoversEveryTickWithOneGenerationAndNoHorizon) {
  Rule up;
  up.id = "up";
  up.symbol = "AAPL";
  DocumentRuleSource source({up}, {{"MSFT", {}}});
  auto coverage = source.cover(std::numeric_limits<std::int64_t>::max() - 1, far_deadline());
  ASSERT_TRUE(coverage.ok());
  EXPECT_EQ(coverage->covered_until, std::numeric_limits<std::int64_t>::max());
  EXPECT_FALSE(coverage->refreshed);
  EXPECT_EQ(coverage->invalid, 0U);
  ASSERT_EQ(source.versions().size(), 1U);
  EXPECT_EQ(source.versions()[0].id, "up");
  ASSERT_EQ(source.controls().size(), 1U);
  EXPECT_EQ(source.controls()[0].symbol, "MSFT");
  EXPECT_EQ(source.generation(), 1U);
  EXPECT_EQ(source.age_micros(), 0);
  EXPECT_FALSE(source.horizon_micros().has_value());
}

struct CachedSourceTest : ::testing::Test {
  SimTime time;
  std::int64_t offset = 0;
  FakeRulesTables tables{2};
  FakeRulesStore store{tables};
  RulesCache cache{store, test_support::offset_clock(time, offset), RulesCacheSettings{}};
  CachedRuleSource source{cache, 3600 * kSecond};
};

TEST_F(CachedSourceTest, ReportsTheCachesCoverageRefreshesAndSkippedItems) {
  tables.seed(record_with("good", "alice", {EffectiveWindow{}}));
  tables.seed(record_with("bad", "bob", {EffectiveWindow{}}));
  tables.corrupt("bad", "threshold: not a number");
  auto cold = source.cover(time.now_micros, far_deadline());  // not loaded: loads
  ASSERT_TRUE(cold.ok());
  EXPECT_TRUE(cold->refreshed);
  EXPECT_EQ(cold->covered_until, time.now_micros + RulesCacheSettings{}.fence_lead_micros);
  EXPECT_EQ(cold->covered_until, cache.covered_until());
  EXPECT_EQ(cold->invalid, 1U);
  EXPECT_EQ(cold->invalid_items, (std::vector<std::string>{"rule bad: threshold: not a number"}));
  ASSERT_EQ(source.versions().size(), 1U);
  EXPECT_EQ(source.versions()[0].id, "good");
  EXPECT_EQ(source.generation(), cache.generation());
  EXPECT_EQ(source.horizon_micros(), 3600 * kSecond);

  time.advance(kSecond / 2);
  auto warm = source.cover(time.now_micros, far_deadline());  // covered and fresh: no request
  ASSERT_TRUE(warm.ok());
  EXPECT_FALSE(warm->refreshed);
  EXPECT_EQ(warm->invalid, 0U);
  EXPECT_EQ(source.age_micros(), kSecond / 2);
  EXPECT_TRUE(source.controls().empty());
}

TEST_F(CachedSourceTest, AFailedRefreshIsAnError) {
  store.fail_requests = 1;
  auto r = source.cover(time.now_micros, far_deadline());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "ThrottlingException");
}

}  // namespace
}  // namespace tap
