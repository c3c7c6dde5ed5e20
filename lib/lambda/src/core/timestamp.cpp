#include "tap/core/timestamp.hpp"

#include <array>

namespace tap {
namespace {

// Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian, exact integer arithmetic).
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct Civil {
  std::int64_t y;
  unsigned m;
  unsigned d;
};

constexpr Civil civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {y + (m <= 2 ? 1 : 0), m, d};
}

constexpr bool is_leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

constexpr unsigned days_in_month(std::int64_t y, unsigned m) {
  constexpr std::array<unsigned, 12> kDays{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Reads `n` digits at s[pos..]; false if any is not a digit.
bool read_digits(std::string_view s, std::size_t pos, std::size_t n, unsigned& out) {
  if (pos + n > s.size()) return false;
  unsigned v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (!is_digit(c)) return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  out = v;
  return true;
}

Error bad(std::string message) { return Error{"invalid_timestamp", std::move(message)}; }

void put2(char* out, unsigned v) {
  out[0] = static_cast<char>('0' + v / 10);
  out[1] = static_cast<char>('0' + v % 10);
}

}  // namespace

Result<Timestamp> parse_timestamp(std::string_view s) {
  static constexpr std::string_view kFormat = "expected YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)";
  unsigned year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!read_digits(s, 0, 4, year) || s.size() < 19 || s[4] != '-' || !read_digits(s, 5, 2, month) ||
      s[7] != '-' || !read_digits(s, 8, 2, day) || s[10] != 'T' || !read_digits(s, 11, 2, hour) ||
      s[13] != ':' || !read_digits(s, 14, 2, minute) || s[16] != ':' || !read_digits(s, 17, 2, second)) {
    return bad(std::string(kFormat));
  }
  std::size_t pos = 19;
  std::int64_t fraction_micros = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    std::size_t digits = 0;
    while (pos < s.size() && is_digit(s[pos])) {
      if (digits < 6) fraction_micros = fraction_micros * 10 + (s[pos] - '0');
      ++digits;
      ++pos;
    }
    // Any number of digits (F2): those past the sixth are read and dropped, never rounded in.
    if (digits == 0) return bad("fraction must have at least 1 digit");
    for (std::size_t i = digits; i < 6; ++i) fraction_micros *= 10;
  }
  std::int64_t offset_seconds = 0;
  if (pos < s.size() && s[pos] == 'Z') {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    unsigned oh = 0, om = 0;
    if (!read_digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !read_digits(s, pos + 4, 2, om)) {
      return bad("offset must be +HH:MM or -HH:MM");
    }
    if (oh > 23 || om > 59) return bad("offset out of range");
    offset_seconds = (s[pos] == '-' ? -1 : 1) * static_cast<std::int64_t>(oh * 3600 + om * 60);
    pos += 6;
  } else {
    return bad("missing time zone (Z or +HH:MM / -HH:MM)");
  }
  if (pos != s.size()) return bad(std::string(kFormat));
  if (month < 1 || month > 12) return bad("month out of range");
  if (day < 1 || day > days_in_month(year, month)) return bad("day out of range for the month");
  if (hour > 23) return bad("hour out of range");
  if (minute > 59) return bad("minute out of range");
  if (second > 59) return bad("second out of range (leap seconds are not accepted)");

  const std::int64_t days = days_from_civil(year, month, day);
  const std::int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_seconds;
  const std::int64_t micros = secs * kMicrosPerSecond + fraction_micros;
  if (micros < kMinTimestampMicros || micros >= kEndTimestampMicros) {
    return bad("outside the accepted range 2000-01-01T00:00:00Z .. 2100-12-31T23:59:59.999999Z");
  }
  return Timestamp{micros};
}

void format_timestamp_to(std::int64_t micros, char* out) {
  std::int64_t secs = micros / kMicrosPerSecond;
  std::int64_t frac = micros % kMicrosPerSecond;
  if (frac < 0) {  // floor division for instants before the epoch
    frac += kMicrosPerSecond;
    --secs;
  }
  std::int64_t days = secs / 86400;
  std::int64_t sod = secs % 86400;
  if (sod < 0) {
    sod += 86400;
    --days;
  }
  const Civil c = civil_from_days(days);
  const auto y = static_cast<unsigned>(c.y);
  put2(out, y / 100 % 100);
  put2(out + 2, y % 100);
  out[4] = '-';
  put2(out + 5, c.m);
  out[7] = '-';
  put2(out + 8, c.d);
  out[10] = 'T';
  put2(out + 11, static_cast<unsigned>(sod / 3600));
  out[13] = ':';
  put2(out + 14, static_cast<unsigned>(sod / 60 % 60));
  out[16] = ':';
  put2(out + 17, static_cast<unsigned>(sod % 60));
  out[19] = '.';
  auto f = static_cast<unsigned>(frac);
  for (int i = 25; i >= 20; --i) {
    out[i] = static_cast<char>('0' + f % 10);
    f /= 10;
  }
  out[26] = 'Z';
}

std::string Timestamp::text() const { return format_timestamp(micros); }

std::string format_timestamp(std::int64_t micros) {
  std::string s(kNormalisedTimestampLength, '\0');
  format_timestamp_to(micros, s.data());
  return s;
}

}  // namespace tap
