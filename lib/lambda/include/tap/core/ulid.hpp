// ULIDs (https://github.com/ulid/spec): 128-bit identifiers that sort by creation time, here the `stored_id`
// an alert takes when it is stored (F4, A4: the by-owner index's sort key).
//
// Layout: 48 bits of Unix milliseconds, then 80 random bits; text is 26 characters of Crockford base32
// (0-9 A-Z without I, L, O, U), most significant first, so text order is numeric order. The first character
// is 0-7 (48 + 80 = 128 bits in 130). Pure: the time and the randomness come from the caller.
//
// UlidGenerator is monotonic within one generator: a ULID is always greater than the one before it. In a
// millisecond already used (or one earlier: a wall clock stepped back) it takes the previous ULID plus one in
// the random part; when those 80 bits are exhausted it moves on to the next millisecond instead of failing
// (the spec fails there; an alert must still be stored, and order is what readers rely on).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace tap {

struct Ulid {
  std::uint64_t millis = 0;       // < 2^48
  std::uint16_t random_high = 0;  // the 80 random bits: high 16 ...
  std::uint64_t random_low = 0;   // ... and low 64
  friend auto operator<=>(const Ulid&, const Ulid&) = default;
};

inline constexpr std::uint64_t kMaxUlidMillis = (std::uint64_t{1} << 48) - 1;
inline constexpr std::size_t kUlidLength = 26;

std::string to_string(const Ulid& id);               // 26 characters, upper case
std::optional<Ulid> parse_ulid(std::string_view s);  // case-insensitive; nothing for anything invalid

class UlidGenerator {
 public:
  using Random64 = std::function<std::uint64_t()>;  // uniformly random 64-bit words
  explicit UlidGenerator(Random64 random) : random_(std::move(random)) {}

  // The next ULID at `unix_millis` (clamped to [0, 2^48 - 1]).
  Ulid next(std::int64_t unix_millis);

 private:
  Random64 random_;
  std::optional<Ulid> last_;
};

}  // namespace tap
