#include "tap/core/ulid.hpp"

#include <algorithm>
#include <array>

namespace tap {
namespace {

constexpr std::string_view kAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

// The value of one Crockford character (either case), or -1.
int digit(char c) {
  if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  const auto at = kAlphabet.find(c);
  return at == std::string_view::npos ? -1 : static_cast<int>(at);
}

}  // namespace

std::string to_string(const Ulid& id) {
  // 130 bits, 5 per character, from the top: bits 129..128 are zero padding.
  std::string out(kUlidLength, '0');
  // Work on the 128-bit value as two words: hi = millis(48) | random_high(16), lo = random_low(64).
  const std::uint64_t hi = (id.millis << 16) | id.random_high;
  const std::uint64_t lo = id.random_low;
  for (std::size_t i = 0; i < kUlidLength; ++i) {
    const int shift = static_cast<int>(5 * (kUlidLength - 1 - i));  // bit position of this digit's lsb
    std::uint64_t v = 0;
    if (shift >= 64) {
      v = hi >> (shift - 64);
    } else if (shift > 59) {  // straddles the two words
      v = (lo >> shift) | (hi << (64 - shift));
    } else {
      v = lo >> shift;
    }
    out[i] = kAlphabet[v & 31];
  }
  return out;
}

std::optional<Ulid> parse_ulid(std::string_view s) {
  if (s.size() != kUlidLength) return std::nullopt;
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;
  for (std::size_t i = 0; i < kUlidLength; ++i) {
    const int d = digit(s[i]);
    if (d < 0 || (i == 0 && d > 7)) return std::nullopt;  // the first digit holds 3 bits
    hi = (hi << 5) | (lo >> 59);
    lo = (lo << 5) | static_cast<std::uint64_t>(d);
  }
  return Ulid{hi >> 16, static_cast<std::uint16_t>(hi & 0xFFFF), lo};
}

Ulid UlidGenerator::next(std::int64_t unix_millis) {
  const auto millis = static_cast<std::uint64_t>(
      std::clamp<std::int64_t>(unix_millis, 0, static_cast<std::int64_t>(kMaxUlidMillis)));
  if (last_ && millis <= last_->millis) {
    Ulid id = *last_;
    if (++id.random_low == 0 && ++id.random_high == 0) {
      // 2^80 ULIDs in one millisecond: go on in the next one (at the end of time: wrap, as nothing is left).
      id.millis = (id.millis + 1) & kMaxUlidMillis;
      id.random_low = random_();
      id.random_high = static_cast<std::uint16_t>(random_());
    }
    last_ = id;
    return id;
  }
  last_ = Ulid{millis, static_cast<std::uint16_t>(random_()), random_()};
  return *last_;
}

}  // namespace tap
