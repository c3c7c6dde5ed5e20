// Tick timestamps: ISO-8601 text in, UTC microseconds out; a fixed-width sortable string on demand.
//
// Accepted input (RFC 3339 profile, strict): YYYY-MM-DDTHH:MM:SS[.f+](Z|+HH:MM|-HH:MM)
//  - upper-case 'T' and 'Z' only; the offset needs its colon (+HHMM, lower-case z, a missing offset,
//    a space instead of 'T' are rejected: ambiguous inputs are better rejected than guessed);
//  - the fraction (1 or more digits, any number: F2) is TRUNCATED to microseconds (a tick is never moved
//    later in time); the digits past the sixth are only checked to be digits, so a long fraction costs one
//    pass over the text and no arithmetic can overflow;
//  - calendar checked (leap years, days per month), hour 0-23, minute 0-59, second 0-59 (a leap second
//    "60" is rejected: the epoch arithmetic has no place for it), offset up to +-23:59;
//  - the UTC instant must lie in [2000-01-01T00:00:00Z, 2101-01-01T00:00:00Z): anything else is an absurd
//    timestamp for a live market feed.
// Normalised form: "YYYY-MM-DDTHH:MM:SS.ffffffZ" (UTC, 27 chars), so string order == time order.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tap/core/result.hpp"

namespace tap {

inline constexpr std::size_t kNormalisedTimestampLength = 27;
inline constexpr std::int64_t kMicrosPerSecond = 1'000'000;
// 2000-01-01T00:00:00Z and 2101-01-01T00:00:00Z in microseconds since the Unix epoch.
inline constexpr std::int64_t kMinTimestampMicros = 946'684'800LL * kMicrosPerSecond;
inline constexpr std::int64_t kEndTimestampMicros = 4'133'980'800LL * kMicrosPerSecond;

struct Timestamp {
  std::int64_t micros = 0;  // since the Unix epoch, UTC
  // The normalised form (27 chars), formatted on each call: only alert keys, items and logs need it, so
  // parsing a tick does not pay for it.
  std::string text() const;
  friend bool operator==(const Timestamp&, const Timestamp&) = default;
};

// Parses and validates; the error message says what is wrong (without a field prefix).
Result<Timestamp> parse_timestamp(std::string_view text);

// Renders micros (must be within the accepted range) in the normalised form.
std::string format_timestamp(std::int64_t micros);
// Writes the 27 chars into out (no allocation; the hot path of alert building).
void format_timestamp_to(std::int64_t micros, char* out);

// The instant `seconds` before ts (cooldown cut-off: a last fire at or before it allows a new fire).
constexpr std::int64_t subtract_seconds(std::int64_t ts_micros, std::int64_t seconds) {
  return ts_micros - seconds * kMicrosPerSecond;
}

}  // namespace tap
