// R7: the one clock of the local system. Every actor (the function, the rules tool, the feed sender, the
// event source) reads "now" through a clock spec taken from the environment variable TAP_CLOCK, so that a
// recorded feed, whose ticks carry fixed past timestamps, plays at its own timestamps against rules imported
// in the same clock. local/clock.py is the Python reader of the same spec;
// tests/contract/test_clock_contract.py holds the two to the same answers.
//
// Grammar (whole string, ASCII, case-sensitive):
//   unset, "" or "real"                         real time: now = the real instant read
//   virtual:start=<UTC>,anchor=<micros>,speed=<n>
//     start   YYYY-MM-DDTHH:MM:SS[.f{1,6}]Z, within the timestamps a tick may carry (timestamp.hpp):
//             the event-time instant the clock shows at the anchor
//     anchor  ASCII digits: the real instant (micros since the epoch) the clock was started at, within the
//             same range
//     speed   ASCII digits, 1 to kMaxClockSpeed: event-time seconds per real second
//   the three fields in that order, each once; nothing else.
// now(real) = start + (real - anchor) * speed, with `real` clamped into the timestamp range first (so that
// the arithmetic stays within 64 bits whatever the caller passes: |real - anchor| < 2^52, speed < 2^10).
// A clock with speed 1 and start = anchor + d is a real clock offset by d (the adversarial tests' skew).
//
// Pure: no I/O; reading the real clock is the caller's (so that tests pass real instants).
#pragma once

#include <cstdint>
#include <string_view>

#include "tap/core/result.hpp"
#include "tap/core/timestamp.hpp"

namespace tap {

inline constexpr std::string_view kClockVariable = "TAP_CLOCK";
inline constexpr std::int64_t kMaxClockSpeed = 1000;

struct ClockSpec {
  bool is_virtual = false;  // false: real time (the other fields unused)
  std::int64_t start_micros = 0;
  std::int64_t anchor_micros = 0;
  std::int64_t speed = 1;

  // The clock's instant at the real instant `real_micros`.
  [[nodiscard]] std::int64_t now(std::int64_t real_micros) const;
  friend bool operator==(const ClockSpec&, const ClockSpec&) = default;
};

// The spec `text` stands for; the error's message says what is wrong (code "invalid_clock").
Result<ClockSpec> parse_clock_spec(std::string_view text);

}  // namespace tap
