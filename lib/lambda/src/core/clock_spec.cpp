#include "tap/core/clock_spec.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>
#include <string>
#include <system_error>

namespace tap {
namespace {

constexpr std::string_view kVirtualPrefix = "virtual:";
// The messages local/clock.py gives too, word for word (the differential test compares them).
constexpr std::string_view kShapeMessage = "expected real or virtual:start=<UTC>,anchor=<micros>,speed=<n>";
constexpr std::string_view kStartMessage = "start must be YYYY-MM-DDTHH:MM:SS[.ffffff]Z from 2000 to 2100";
constexpr std::string_view kAnchorMessage = "anchor must be microseconds since the epoch from 2000 to 2100";
constexpr std::string_view kSpeedMessage = "speed must be an integer from 1 to 1000";

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// ASCII digits only (leading zeros allowed), as an int64; nothing when empty, not digits or too large.
std::optional<std::int64_t> digits_value(std::string_view text) {
  if (text.empty() || !std::ranges::all_of(text, is_digit)) return std::nullopt;
  std::int64_t value = 0;
  if (std::from_chars(text.data(), text.data() + text.size(), value).ec != std::errc{}) return std::nullopt;
  return value;
}

// The start's shape: parse_timestamp accepts more (offsets, long fractions), a spec only this.
bool start_shape(std::string_view text) {
  constexpr std::string_view kPattern = "dddd-dd-ddTdd:dd:dd";
  if (text.size() < kPattern.size() + 1 || text.size() > kPattern.size() + 8 || text.back() != 'Z') {
    return false;
  }
  for (std::size_t i = 0; i < kPattern.size(); ++i) {
    if (kPattern[i] == 'd' ? !is_digit(text[i]) : text[i] != kPattern[i]) return false;
  }
  const std::string_view fraction = text.substr(kPattern.size(), text.size() - kPattern.size() - 1);
  return fraction.empty() || (fraction.size() >= 2 && fraction.front() == '.' &&
                              std::ranges::all_of(fraction.substr(1), is_digit));
}

Error invalid(std::string_view message) { return Error{"invalid_clock", std::string(message)}; }

}  // namespace

std::int64_t ClockSpec::now(std::int64_t real_micros) const {
  if (!is_virtual) return real_micros;
  const std::int64_t real = std::clamp(real_micros, kMinTimestampMicros, kEndTimestampMicros);
  return start_micros + (real - anchor_micros) * speed;
}

Result<ClockSpec> parse_clock_spec(std::string_view text) {
  if (text.empty() || text == "real") return ClockSpec{};
  if (!text.starts_with(kVirtualPrefix)) return invalid(kShapeMessage);
  std::string_view rest = text.substr(kVirtualPrefix.size());
  constexpr std::array<std::string_view, 3> kKeys = {"start=", "anchor=", "speed="};
  std::array<std::string_view, 3> values{};
  for (std::size_t i = 0; i < kKeys.size(); ++i) {
    const std::size_t comma = i + 1 < kKeys.size() ? rest.find(',') : std::string_view::npos;
    const std::string_view field = rest.substr(0, comma);
    if ((i + 1 < kKeys.size() && comma == std::string_view::npos) || !field.starts_with(kKeys[i])) {
      return invalid(kShapeMessage);
    }
    values[i] = field.substr(kKeys[i].size());
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
  }
  ClockSpec spec{.is_virtual = true};
  const auto start = start_shape(values[0]) ? parse_timestamp(values[0]) : Result<Timestamp>(Error{});
  if (!start) return invalid(kStartMessage);
  spec.start_micros = start->micros;
  const auto anchor = digits_value(values[1]);
  if (!anchor || *anchor < kMinTimestampMicros || *anchor >= kEndTimestampMicros)
    return invalid(kAnchorMessage);
  spec.anchor_micros = *anchor;
  const auto speed = digits_value(values[2]);
  if (!speed || *speed < 1 || *speed > kMaxClockSpeed) return invalid(kSpeedMessage);
  spec.speed = *speed;
  return spec;
}

}  // namespace tap
