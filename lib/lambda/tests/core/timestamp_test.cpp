#include "tap/core/timestamp.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

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
  EXPECT_EQ(err("2026-11-25T14:30:00.Z"), "fraction must have at least 1 digit");
  EXPECT_EQ(err("2026-11-25T14:30:00.+01:00"), "fraction must have at least 1 digit");
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

// The test's own calendar (month lengths by the Gregorian rule), walked day by day over the accepted range.
struct Day {
  int y = 2000, m = 1, d = 1;
  static int length(int y, int m) {
    static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : kDays[m - 1];
  }
  void next() {
    if (++d > length(y, m)) {
      d = 1;
      if (++m > 12) {
        m = 1;
        ++y;
      }
    }
  }
  std::string text(const char* time) const {
    char buf[64];  // room for any int the compiler cannot bound (-Wformat-truncation at -O2)
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%sZ", y, m, d, time);
    return buf;
  }
};

TEST(Timestamp, EveryDayOfTheAcceptedRangeParsesAndFormatsToItsOwnInstant) {
  constexpr std::int64_t kDay = 86'400LL * kMicrosPerSecond;
  std::int64_t expected = kMinTimestampMicros;
  int days = 0;
  for (Day day; day.y <= 2100; day.next(), expected += kDay, ++days) {
    auto r = parse_timestamp(day.text("12:34:56.5"));
    ASSERT_TRUE(r) << day.text("12:34:56.5");
    ASSERT_EQ(r->micros, expected + (12 * 3600 + 34 * 60 + 56) * kMicrosPerSecond + 500'000) << day.text("");
    ASSERT_EQ(r->text(), day.text("12:34:56.500000"));
    ASSERT_EQ(format_timestamp(expected), day.text("00:00:00.000000"));
  }
  EXPECT_EQ(days, 36'890);  // 2000-01-01 .. 2100-12-31
  EXPECT_EQ(expected, kEndTimestampMicros);
}

TEST(Timestamp, TheLastDayOfEveryMonthIsAcceptedAndTheDayAfterIsNot) {
  for (int y = 2000; y <= 2100; ++y) {
    for (int m = 1; m <= 12; ++m) {
      Day last{y, m, Day::length(y, m)};
      EXPECT_EQ(err(last.text("00:00:00")), "ok") << last.text("");
      Day after{y, m, Day::length(y, m) + 1};
      EXPECT_EQ(err(after.text("00:00:00")), "day out of range for the month") << after.text("");
    }
  }
  EXPECT_EQ(err("2024-02-30T00:00:00Z"), "day out of range for the month");  // February 30 in a leap year
}

TEST(Timestamp, FormatsDaysBeforeTheEpochBackToTheYear1600) {
  // Formatting has no range (subtract_seconds can move an instant before 2000): walk back day by day.
  constexpr std::int64_t kDay = 86'400LL * kMicrosPerSecond;
  std::int64_t micros = 0;
  std::vector<std::string> texts;
  for (Day day{1600, 1, 1}; day.y < 1970; day.next()) texts.push_back(day.text("23:59:59.999999"));
  for (auto it = texts.rbegin(); it != texts.rend(); ++it) {
    ASSERT_EQ(format_timestamp(micros - 1), *it);
    micros -= kDay;
  }
}

TEST(Timestamp, UpperBoundsOfEachFieldAreAccepted) {
  EXPECT_EQ(parse_timestamp("2026-12-31T23:59:59Z")->text(), "2026-12-31T23:59:59.000000Z");
  EXPECT_EQ(parse_timestamp("2026-11-25T23:59:00+23:59")->text(), "2026-11-25T00:00:00.000000Z");
  EXPECT_EQ(parse_timestamp("2026-11-25T00:00:00-23:59")->text(), "2026-11-25T23:59:00.000000Z");
  EXPECT_EQ(err("2026-11-25T14:30:00+23:60"), "offset out of range");
}

TEST(Timestamp, AnOffsetWithMinutesShiftsByHoursAndMinutes) {
  EXPECT_EQ(parse_timestamp("2026-11-25T20:00:00+05:30")->text(), "2026-11-25T14:30:00.000000Z");
  EXPECT_EQ(parse_timestamp("2026-11-25T10:15:00-04:15")->text(), "2026-11-25T14:30:00.000000Z");
}

TEST(Timestamp, FractionsOfOneToNineDigitsKeepTheirFirstSixDigits) {
  const char* const expected[] = {"",        ".100000", ".120000", ".123000", ".123400",
                                  ".123450", ".123456", ".123456", ".123456", ".123456"};
  const std::string digits = "123456789";
  for (std::size_t n = 1; n <= 9; ++n) {
    EXPECT_EQ(parse_timestamp("2026-11-25T14:30:00." + digits.substr(0, n) + "Z")->text(),
              std::string("2026-11-25T14:30:00") + expected[n] + "Z")
        << n << " digits";
  }
}

// F2: any number of fraction digits, truncated to microseconds (issue 14 item 4 (b): more than 9 were
// refused).
TEST(Timestamp, FractionsOfAnyLengthAreTruncatedToMicroseconds) {
  for (const std::size_t n : {10, 30, 1000}) {
    const std::string text = "2026-11-25T14:30:00." + std::string(n, '7') + "Z";
    EXPECT_EQ(parse_timestamp(text)->text(), "2026-11-25T14:30:00.777777Z") << n << " digits";
  }
  // Never rounded: nines stay in their second, whatever follows them.
  EXPECT_EQ(parse_timestamp("2026-12-31T23:59:59." + std::string(40, '9') + "Z")->text(),
            "2026-12-31T23:59:59.999999Z");
  EXPECT_EQ(parse_timestamp("2026-11-25T14:30:00.1234569999999999+01:00")->text(),
            "2026-11-25T13:30:00.123456Z");
  // The range check sees the truncated instant: the last microsecond of 2100 is still inside.
  EXPECT_EQ(parse_timestamp("2100-12-31T23:59:59.99999999999Z")->text(), "2100-12-31T23:59:59.999999Z");
}

TEST(Timestamp, ALongFractionFollowedByGarbageIsStillRefused) {
  const std::string digits(1000, '5');
  EXPECT_EQ(err("2026-11-25T14:30:00." + digits + "x"), "missing time zone (Z or +HH:MM / -HH:MM)");
  EXPECT_EQ(err("2026-11-25T14:30:00." + digits + "xZ"), "missing time zone (Z or +HH:MM / -HH:MM)");
  EXPECT_EQ(err("2026-11-25T14:30:00." + digits + "Z" + digits),
            "expected YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)");
  EXPECT_EQ(err("2026-11-25T14:30:00." + digits + ".5Z"), "missing time zone (Z or +HH:MM / -HH:MM)");
  EXPECT_EQ(err("2026-11-25T14:30:00." + digits), "missing time zone (Z or +HH:MM / -HH:MM)");
  EXPECT_EQ(err("2026-11-25T14:30:00." + digits + "+01"), "offset must be +HH:MM or -HH:MM");
}

// A fraction as long as a whole body may be (F2: 262,144 bytes): one pass, no overflow, same instant.
TEST(Timestamp, AFractionFillingABodyIsTruncatedLikeAShortOne) {
  std::string text = "2026-11-25T14:30:00.";
  text.append(262'144 - text.size() - 1, '8');
  text += 'Z';
  EXPECT_EQ(parse_timestamp(text)->text(), "2026-11-25T14:30:00.888888Z");
}

TEST(Timestamp, AnOffsetCutShortIsAFormatErrorNotARead) {
  EXPECT_EQ(err("2026-11-25T14:30:00+01:"), "offset must be +HH:MM or -HH:MM");
  EXPECT_EQ(err("2026-11-25T14:30:00+01:0"), "offset must be +HH:MM or -HH:MM");
  EXPECT_EQ(err("2026-11-25T14:30:00+01"), "offset must be +HH:MM or -HH:MM");
  EXPECT_EQ(err("2026-11-25T14:30:00+01-00"), "offset must be +HH:MM or -HH:MM");
}

TEST(Timestamp, EachSeparatorIsChecked) {
  const std::string good = "2026-11-25T14:30:00Z";
  for (std::size_t pos : {4, 7, 10, 13, 16}) {
    std::string bad = good;
    bad[pos] = '_';
    EXPECT_EQ(err(bad), "expected YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)") << bad;
  }
  for (std::size_t pos : {0, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18}) {
    std::string bad = good;
    bad[pos] = 'x';
    EXPECT_EQ(err(bad), "expected YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)") << bad;
  }
}

// A timestamp is judged by its own view: what follows it in a longer text is never read.
TEST(Timestamp, ATimestampCutFromALongerTextIsJudgedByItsOwnView) {
  const std::string_view text = "2026-11-25T14:30:00Z+01:00";
  EXPECT_EQ(err(text.substr(0, 19)), "missing time zone (Z or +HH:MM / -HH:MM)");
  EXPECT_EQ(err(text.substr(0, 20)), "ok");
  EXPECT_EQ(err(text.substr(0, 21)), "expected YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)");
  const std::string_view offset = "2026-11-25T14:30:00+01:00";
  EXPECT_EQ(err(offset.substr(0, 24)), "offset must be +HH:MM or -HH:MM");
  EXPECT_EQ(err(offset.substr(0, 22)), "offset must be +HH:MM or -HH:MM");
  const std::string_view fraction = "2026-11-25T14:30:00.5Z";
  EXPECT_EQ(err(fraction.substr(0, 20)), "fraction must have at least 1 digit");
  EXPECT_EQ(err(fraction.substr(0, 21)), "missing time zone (Z or +HH:MM / -HH:MM)");
}

// The first four-digit year: its January and February lie before the era of 0000-03-01 (negative days).
TEST(Timestamp, FormatsTheYearZeroOnBothSidesOfItsFirstEra) {
  constexpr std::int64_t kDay = 86'400LL * kMicrosPerSecond;
  constexpr std::int64_t kMarch1Year0 = -719'468;  // days from 1970-01-01
  EXPECT_EQ(format_timestamp(kMarch1Year0 * kDay), "0000-03-01T00:00:00.000000Z");
  EXPECT_EQ(format_timestamp(kMarch1Year0 * kDay - 1), "0000-02-29T23:59:59.999999Z");
  EXPECT_EQ(format_timestamp((kMarch1Year0 - 60) * kDay), "0000-01-01T00:00:00.000000Z");
  EXPECT_EQ(format_timestamp((kMarch1Year0 + 306) * kDay), "0001-01-01T00:00:00.000000Z");
}

TEST(Timestamp, FormatsTheLastFourDigitYear) {
  constexpr std::int64_t kYear10000 = 253'402'300'800LL * kMicrosPerSecond;  // 10000-01-01T00:00:00Z
  EXPECT_EQ(format_timestamp(kYear10000 - 1), "9999-12-31T23:59:59.999999Z");
  EXPECT_EQ(format_timestamp(kYear10000 - 365LL * 86'400 * kMicrosPerSecond), "9999-01-01T00:00:00.000000Z");
  EXPECT_EQ(format_timestamp(kYear10000 - 36'524LL * 86'400 * kMicrosPerSecond),
            "9900-01-01T00:00:00.000000Z");
}

}  // namespace
}  // namespace tap
