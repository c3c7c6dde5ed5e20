#include "tap/core/timestamp.hpp"

#include <gtest/gtest.h>

namespace tap {
namespace {

std::string err(std::string_view s) {
  auto r = parse_timestamp(s);
  return r ? "ok" : r.error().message;
}

TEST(Timestamp, ParsesZuluWithMillis) {
  auto r = parse_timestamp("2026-11-25T14:30:00.123Z");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->text(), "2026-11-25T14:30:00.123000Z");
  EXPECT_EQ(r->micros, 1795617000123000LL);
}

TEST(Timestamp, NoFractionAndNineDigitsTruncated) {
  EXPECT_EQ(parse_timestamp("2026-11-25T14:30:00Z")->text(), "2026-11-25T14:30:00.000000Z");
  EXPECT_EQ(parse_timestamp("2026-11-25T14:30:00.123456789Z")->text(), "2026-11-25T14:30:00.123456Z");
  EXPECT_EQ(parse_timestamp("2026-11-25T14:30:00.1Z")->text(), "2026-11-25T14:30:00.100000Z");
}

TEST(Timestamp, OffsetsConvertToUtc) {
  EXPECT_EQ(parse_timestamp("2026-11-25T09:30:00-05:00")->text(), "2026-11-25T14:30:00.000000Z");
  EXPECT_EQ(parse_timestamp("2026-01-01T00:30:00+01:00")->text(), "2025-12-31T23:30:00.000000Z");
  EXPECT_EQ(parse_timestamp("2024-02-29T23:59:59.999999-00:00")->text(), "2024-02-29T23:59:59.999999Z");
}

TEST(Timestamp, CalendarChecks) {
  EXPECT_EQ(err("2024-02-29T00:00:00Z"), "ok");
  EXPECT_EQ(err("2023-02-29T00:00:00Z"), "day out of range for the month");
  EXPECT_EQ(err("2000-02-29T00:00:00Z"), "ok");
  EXPECT_EQ(err("2100-02-29T00:00:00Z"), "day out of range for the month");
  EXPECT_EQ(err("2026-04-31T00:00:00Z"), "day out of range for the month");
  EXPECT_EQ(err("2026-04-00T00:00:00Z"), "day out of range for the month");
  EXPECT_EQ(err("2026-13-01T00:00:00Z"), "month out of range");
  EXPECT_EQ(err("2026-00-01T00:00:00Z"), "month out of range");
  EXPECT_EQ(err("2026-01-01T24:00:00Z"), "hour out of range");
  EXPECT_EQ(err("2026-01-01T23:60:00Z"), "minute out of range");
  EXPECT_EQ(err("2026-12-31T23:59:60Z"), "second out of range (leap seconds are not accepted)");
}

TEST(Timestamp, FormatErrors) {
  const std::string fmt = "expected YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)";
  EXPECT_EQ(err(""), fmt);
  EXPECT_EQ(err("2026-11-25 14:30:00Z"), fmt);
  EXPECT_EQ(err("2026-11-25T14:30Z"), fmt);
  EXPECT_EQ(err("2026/11/25T14:30:00Z"), fmt);
  EXPECT_EQ(err("2026-11-25T14:30:00.Z"), "fraction must have 1 to 9 digits");
  EXPECT_EQ(err("2026-11-25T14:30:00.1234567890Z"), "fraction must have 1 to 9 digits");
  EXPECT_EQ(err("2026-11-25T14:30:00"), "missing time zone (Z or +HH:MM / -HH:MM)");
  EXPECT_EQ(err("2026-11-25T14:30:00z"), "missing time zone (Z or +HH:MM / -HH:MM)");
  EXPECT_EQ(err("2026-11-25T14:30:00+0100"), "offset must be +HH:MM or -HH:MM");
  EXPECT_EQ(err("2026-11-25T14:30:00+01"), "offset must be +HH:MM or -HH:MM");
  EXPECT_EQ(err("2026-11-25T14:30:00+24:00"), "offset out of range");
  EXPECT_EQ(err("2026-11-25T14:30:00+01:60"), "offset out of range");
  EXPECT_EQ(err("2026-11-25T14:30:00Zjunk"), fmt);
}

TEST(Timestamp, AbsurdYearsRejected) {
  const std::string range = "outside the accepted range 2000-01-01T00:00:00Z .. 2100-12-31T23:59:59.999999Z";
  EXPECT_EQ(err("1999-12-31T23:59:59.999999Z"), range);
  EXPECT_EQ(err("2000-01-01T00:30:00+01:00"), range);
  EXPECT_EQ(err("2000-01-01T00:00:00Z"), "ok");
  EXPECT_EQ(err("2100-12-31T23:59:59.999999Z"), "ok");
  EXPECT_EQ(err("2101-01-01T00:00:00Z"), range);
  EXPECT_EQ(err("9999-01-01T00:00:00Z"), range);
}

TEST(Timestamp, FormatAndSubtract) {
  EXPECT_EQ(format_timestamp(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(format_timestamp(-1), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(format_timestamp(-86'400'000'000LL), "1969-12-31T00:00:00.000000Z");
  EXPECT_EQ(format_timestamp(kMinTimestampMicros), "2000-01-01T00:00:00.000000Z");
  EXPECT_EQ(subtract_seconds(60'000'000, 60), 0);
  // String order == time order for the normalised form.
  EXPECT_LT(format_timestamp(1795617000123000LL), format_timestamp(1795617000123001LL));
}

}  // namespace
}  // namespace tap
