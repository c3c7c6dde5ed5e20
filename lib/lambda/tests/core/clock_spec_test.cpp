#include "tap/core/clock_spec.hpp"

#include <gtest/gtest.h>

#include <string>

namespace tap {
namespace {

// 2026-01-05T14:30:00Z and an anchor a year later, in micros since the epoch.
constexpr std::int64_t kStart = 1'767'623'400LL * kMicrosPerSecond;
constexpr std::int64_t kAnchor = 1'800'000'000LL * kMicrosPerSecond;

std::string message_of(std::string_view text) {
  const auto spec = parse_clock_spec(text);
  EXPECT_FALSE(spec.ok()) << text;
  return spec ? "" : spec.error().code + ": " + spec.error().message;
}

TEST(ClockSpec, UnsetEmptyOrRealIsRealTime) {
  for (const std::string_view text : {"", "real"}) {
    const auto spec = parse_clock_spec(text);
    ASSERT_TRUE(spec.ok()) << text;
    EXPECT_FALSE(spec->is_virtual);
    EXPECT_EQ(spec->now(kAnchor), kAnchor);
    EXPECT_EQ(spec->now(-5), -5);  // real time is never clamped
  }
}

TEST(ClockSpec, AVirtualClockRunsFromItsStartAtItsSpeed) {
  const auto spec = parse_clock_spec("virtual:start=2026-01-05T14:30:00Z,anchor=1800000000000000,speed=10");
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec.value(),
            (ClockSpec{.is_virtual = true, .start_micros = kStart, .anchor_micros = kAnchor, .speed = 10}));
  EXPECT_EQ(spec->now(kAnchor), kStart);
  EXPECT_EQ(spec->now(kAnchor + 1'500'000), kStart + 15'000'000);  // 1.5 real seconds, 15 in the clock
  EXPECT_EQ(spec->now(kAnchor - 7), kStart - 70);                  // before the anchor too
}

TEST(ClockSpec, SpeedOneIsAnOffsetClock) {
  // The adversarial tests' skew: the clock shows the real time plus (start - anchor).
  const auto ahead =
      parse_clock_spec("virtual:start=2027-01-15T08:00:05.25Z,anchor=1800000000000000,speed=1");
  ASSERT_TRUE(ahead.ok());
  EXPECT_EQ(ahead->now(kAnchor + 42), kAnchor + 5'250'000 + 42);
}

TEST(ClockSpec, TheRealInstantIsClampedIntoTheTimestampRange) {
  const auto spec = parse_clock_spec("virtual:start=2000-01-01T00:00:00Z,anchor=946684800000000,speed=1000");
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->now(INT64_MIN), kMinTimestampMicros);
  EXPECT_EQ(spec->now(INT64_MAX), kMinTimestampMicros + (kEndTimestampMicros - kMinTimestampMicros) * 1000);
}

TEST(ClockSpec, FractionsAndLeadingZerosAreRead) {
  const auto spec =
      parse_clock_spec("virtual:start=2026-01-05T14:30:00.000001Z,anchor=0001800000000000000,speed=007");
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->start_micros, kStart + 1);
  EXPECT_EQ(spec->anchor_micros, kAnchor);
  EXPECT_EQ(spec->speed, 7);
}

TEST(ClockSpec, RefusesWhatIsNotTheGrammar) {
  const std::string shape = "invalid_clock: expected real or virtual:start=<UTC>,anchor=<micros>,speed=<n>";
  for (const std::string_view text : {"REAL", "real ", "virtual", "virtual:",
                                      "Virtual:start=2026-01-05T14:30:00Z,anchor=1800000000000000,speed=1",
                                      "virtual:anchor=1800000000000000,start=2026-01-05T14:30:00Z,speed=1",
                                      "virtual:start=2026-01-05T14:30:00Z,anchor=1800000000000000",
                                      "virtual:start=2026-01-05T14:30:00Z;anchor=1800000000000000;speed=1",
                                      "virtual:start=2026-01-05T14:30:00Z,anchor=1800000000000000,speed=1,"
                                      "speed=2" /* speed is "1,speed=2" */}) {
    const std::string expected =
        text.ends_with("speed=2") ? "invalid_clock: speed must be an integer from 1 to 1000" : shape;
    EXPECT_EQ(message_of(text), expected) << text;
  }
}

TEST(ClockSpec, RefusesABadStart) {
  const std::string message = "invalid_clock: start must be YYYY-MM-DDTHH:MM:SS[.ffffff]Z from 2000 to 2100";
  for (const std::string_view start :
       {"2026-01-05T14:30:00", "2026-01-05T14:30:00+00:00", "2026-01-05 14:30:00Z", "2026-01-05T14:30:00z",
        "2026-01-05T14:30:00.Z", "2026-01-05T14:30:00.1234567Z", "2026-02-29T00:00:00Z",
        "2026-01-05T24:00:00Z", "2026-01-05T14:30:60Z", "1999-12-31T23:59:59Z", "2101-01-01T00:00:00Z",
        "\xef\xbc\x92"
        "026-01-05T14:30:00Z",
        "2026-01-05T14:30:00.12a4Z", "20260105T143000Z", ""}) {
    EXPECT_EQ(message_of("virtual:start=" + std::string(start) + ",anchor=1800000000000000,speed=1"), message)
        << start;
  }
}

TEST(ClockSpec, RefusesABadAnchorOrSpeed) {
  const std::string anchor = "invalid_clock: anchor must be microseconds since the epoch from 2000 to 2100";
  for (const std::string_view value :
       {"", "-1800000000000000", "+1800000000000000", "1.8e15", "946684799999999", "4133980800000000",
        "99999999999999999999999", " 1800000000000000"}) {
    EXPECT_EQ(message_of("virtual:start=2026-01-05T14:30:00Z,anchor=" + std::string(value) + ",speed=1"),
              anchor)
        << value;
  }
  const std::string speed = "invalid_clock: speed must be an integer from 1 to 1000";
  for (const std::string_view value : {"", "0", "1001", "1.5", "-1", "10x", "99999999999999999999"}) {
    EXPECT_EQ(
        message_of("virtual:start=2026-01-05T14:30:00Z,anchor=1800000000000000,speed=" + std::string(value)),
        speed)
        << value;
  }
  // The start is judged before the anchor, the anchor before the speed.
  EXPECT_EQ(message_of("virtual:start=x,anchor=x,speed=x"),
            "invalid_clock: start must be YYYY-MM-DDTHH:MM:SS[.ffffff]Z from 2000 to 2100");
}

}  // namespace
}  // namespace tap
