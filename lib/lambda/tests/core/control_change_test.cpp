// plan_controls (tap/core/control_change.hpp): operators' suspensions and price bands as R3 changes.
#include "tap/core/control_change.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace tap {
namespace {

constexpr std::int64_t kOpen = EffectiveWindow::kOpenEnd;

ControlChange change(ControlChange::Kind kind, double low = 0, double high = 0) {
  return {kind, "MSFT", low, high, std::nullopt, std::nullopt};
}

TEST(PlanControls, ASuspensionOpensAtEffectiveFromAndAResumeClosesItThere) {
  auto suspended = plan_controls({}, change(ControlChange::Kind::suspend), 100);
  ASSERT_TRUE(suspended.ok());
  EXPECT_EQ(suspended->suspensions, (std::vector<EffectiveWindow>{{100, kOpen}}));

  auto twice = plan_controls(suspended.value(), change(ControlChange::Kind::suspend), 200);
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().kind, ChangeError::Kind::conflict);
  EXPECT_EQ(twice.error().message, "MSFT is suspended already");

  auto resumed = plan_controls(suspended.value(), change(ControlChange::Kind::resume), 300);
  ASSERT_TRUE(resumed.ok());
  EXPECT_EQ(resumed->suspensions, (std::vector<EffectiveWindow>{{100, 300}}));

  // Suspended again later: the closed window stays as it was (what applied to a tick stays applied).
  auto again = plan_controls(resumed.value(), change(ControlChange::Kind::suspend), 400);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->suspensions, (std::vector<EffectiveWindow>{{100, 300}, {400, kOpen}}));

  auto not_suspended = plan_controls(resumed.value(), change(ControlChange::Kind::resume), 500);
  ASSERT_FALSE(not_suspended.ok());
  EXPECT_EQ(not_suspended.error().message, "MSFT is not suspended");
}

TEST(PlanControls, ASuspensionWithAWindowStartsNotBeforeEffectiveFromAndRefusesOverlaps) {
  ControlChange windowed = change(ControlChange::Kind::suspend);
  windowed.from_micros = 50;  // before effective_from: the change never reaches back
  windowed.until_micros = 400;
  auto early = plan_controls({}, windowed, 100);
  ASSERT_TRUE(early.ok());
  EXPECT_EQ(early->suspensions, (std::vector<EffectiveWindow>{{100, 400}}));

  windowed.from_micros = 600;  // a later start is kept: scheduled
  windowed.until_micros = 700;
  auto later = plan_controls(early.value(), windowed, 200);
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later->suspensions, (std::vector<EffectiveWindow>{{100, 400}, {600, 700}}));

  windowed.from_micros = 300;  // overlaps [100, 400)
  windowed.until_micros = 500;
  auto overlapping = plan_controls(early.value(), windowed, 200);
  ASSERT_FALSE(overlapping.ok());
  EXPECT_EQ(overlapping.error().kind, ChangeError::Kind::conflict);

  windowed.from_micros.reset();
  windowed.until_micros = 100;  // ends at its start
  auto empty = plan_controls({}, windowed, 100);
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().kind, ChangeError::Kind::invalid);
  EXPECT_EQ(empty.error().fields,
            (std::vector<FieldError>{{"until", "must be after the suspension's start"}}));
}

TEST(PlanControls, AResumeAtTheEndOfAWindowedSuspensionFindsNothingSuspended) {
  const SymbolControls windowed{{{100, 400}}, {}};
  auto at_end = plan_controls(windowed, change(ControlChange::Kind::resume), 400);  // half-open: over
  ASSERT_FALSE(at_end.ok());
  EXPECT_EQ(at_end.error().message, "MSFT is not suspended");
  auto before_end = plan_controls(windowed, change(ControlChange::Kind::resume), 399);
  ASSERT_TRUE(before_end.ok());
  EXPECT_EQ(before_end->suspensions, (std::vector<EffectiveWindow>{{100, 399}}));
}

TEST(PlanControls, AResumeBeforeASuspensionStartsDropsTheEmptyWindow) {
  auto resumed = plan_controls({{{500, kOpen}}, {}}, change(ControlChange::Kind::resume), 300);
  ASSERT_TRUE(resumed.ok());
  EXPECT_TRUE(resumed->suspensions.empty());
}

TEST(PlanControls, ANewBandClosesTheOpenOneAndAClearClosesIt) {
  auto first = plan_controls({}, change(ControlChange::Kind::set_band, 10, 20), 100);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->bands.size(), 1U);
  EXPECT_EQ(first->bands[0].window, (EffectiveWindow{100, kOpen}));

  auto second = plan_controls(first.value(), change(ControlChange::Kind::set_band, 15, 25), 200);
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->bands.size(), 2U);
  EXPECT_EQ(second->bands[0].window, (EffectiveWindow{100, 200}));
  EXPECT_EQ(second->bands[1].window, (EffectiveWindow{200, kOpen}));
  EXPECT_EQ(second->bands[1].low, 15);
  EXPECT_EQ(second->bands[1].high, 25);

  auto cleared = plan_controls(second.value(), change(ControlChange::Kind::clear_band), 300);
  ASSERT_TRUE(cleared.ok());
  EXPECT_EQ(cleared->bands[1].window, (EffectiveWindow{200, 300}));

  auto none = plan_controls(cleared.value(), change(ControlChange::Kind::clear_band), 400);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().kind, ChangeError::Kind::conflict);
  EXPECT_EQ(none.error().message, "MSFT has no price band");
}

TEST(PlanControls, ABandNeedsFiniteLowNotAboveHigh) {
  for (const auto& [low, high] :
       std::vector<std::pair<double, double>>{{20, 10},
                                              {std::numeric_limits<double>::quiet_NaN(), 10},
                                              {0, std::numeric_limits<double>::infinity()}}) {
    auto r = plan_controls({}, change(ControlChange::Kind::set_band, low, high), 100);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, ChangeError::Kind::invalid);
    EXPECT_EQ(r.error().fields, (std::vector<FieldError>{{"low", "must be finite and <= high"}}));
  }
  EXPECT_TRUE(plan_controls({}, change(ControlChange::Kind::set_band, 10, 10), 100).ok());
}

TEST(SameControls, ComparesSuspensionsAndBandsWindowsAndPrices) {
  const SymbolControls a{{{1, 2}}, {{{3, 4}, 10, 20}}};
  SymbolControls b = a;
  EXPECT_TRUE(same_controls(a, b));
  b.bands[0].high = 21;
  EXPECT_FALSE(same_controls(a, b));
  b = a;
  b.bands[0].low = 9;
  EXPECT_FALSE(same_controls(a, b));
  b = a;
  b.bands[0].window.until_micros = 5;
  EXPECT_FALSE(same_controls(a, b));
  b = a;
  b.suspensions.clear();
  EXPECT_FALSE(same_controls(a, b));
  b = a;
  b.bands.push_back(a.bands[0]);
  EXPECT_FALSE(same_controls(a, b));
}

}  // namespace
}  // namespace tap
