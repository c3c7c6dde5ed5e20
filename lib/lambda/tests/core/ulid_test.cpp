#include "tap/core/ulid.hpp"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace tap {
namespace {

UlidGenerator fixed(std::vector<std::uint64_t> words) {
  return UlidGenerator(
      [words = std::move(words), i = std::size_t{0}]() mutable { return words[i++ % words.size()]; });
}

TEST(Ulid, EncodesTheSpecExample) {
  // The spec's example time 1469922850259 ms is "01ARZ3NDEK"; an all-ones random part is sixteen Z.
  EXPECT_EQ(to_string(Ulid{1469922850259ULL, 0xFFFF, ~0ULL}), "01ARZ3NDEKZZZZZZZZZZZZZZZZ");
  EXPECT_EQ(to_string(Ulid{}), "00000000000000000000000000");
  EXPECT_EQ(to_string(Ulid{kMaxUlidMillis, 0xFFFF, ~0ULL}), "7ZZZZZZZZZZZZZZZZZZZZZZZZZ");
  // The digit that straddles the two 64-bit words (bits 60..64): bit 64 is random_high's lowest bit.
  EXPECT_EQ(to_string(Ulid{0, 1, 0}), "0000000000000G000000000000");
  EXPECT_EQ(to_string(Ulid{0, 0, 1ULL << 60}), "00000000000001000000000000");
}

TEST(Ulid, ParsesWhatItPrintsAndRefusesTheRest) {
  std::mt19937_64 random(7);
  for (int i = 0; i < 1000; ++i) {
    const Ulid id{random() & kMaxUlidMillis, static_cast<std::uint16_t>(random()), random()};
    EXPECT_EQ(parse_ulid(to_string(id)), id);
  }
  EXPECT_EQ(parse_ulid("01ARZ3NDEKTSV4RRFFQ69G5FAV")->millis, 1469922850259ULL);  // the spec's example
  EXPECT_EQ(parse_ulid("01arz3ndekzzzzzzzzzzzzzzzz"), (Ulid{1469922850259ULL, 0xFFFF, ~0ULL}));
  EXPECT_EQ(parse_ulid("8ZZZZZZZZZZZZZZZZZZZZZZZZZ"), std::nullopt);   // beyond 128 bits
  EXPECT_EQ(parse_ulid("01ARYZ6S41ZZZZZZZZZZZZZZZ"), std::nullopt);    // 25 characters
  EXPECT_EQ(parse_ulid("01ARZ3NDEKZZZZZZZZZZZZZZZZZ"), std::nullopt);  // 27
  EXPECT_EQ(parse_ulid("01ARYZ6S41ZZZZZZZZZZZZZZZU"), std::nullopt);   // U is not Crockford
  EXPECT_EQ(parse_ulid("01ARYZ6S41ZZZZZZZZZZZZZZZ-"), std::nullopt);
}

TEST(Ulid, TextOrderIsNumericOrder) {
  std::mt19937_64 random(11);
  for (int i = 0; i < 1000; ++i) {
    const Ulid a{random() & kMaxUlidMillis, static_cast<std::uint16_t>(random()), random()};
    Ulid b = a;
    switch (i % 3) {
      case 0:
        b.millis = random() & kMaxUlidMillis;
        break;
      case 1:
        b.random_high = static_cast<std::uint16_t>(random());
        break;
      default:
        b.random_low = random();
    }
    EXPECT_EQ(a <=> b, to_string(a) <=> to_string(b));
  }
}

TEST(UlidGenerator, TakesTheTimeAndFreshRandomnessInANewMillisecond) {
  UlidGenerator gen = fixed({0x1234, 0xABCDEF});
  EXPECT_EQ(gen.next(1000), (Ulid{1000, 0x1234, 0xABCDEF}));
  EXPECT_EQ(gen.next(1001), (Ulid{1001, 0x1234, 0xABCDEF}));
  // Clamped into the 48 bits.
  EXPECT_EQ(fixed({1, 2}).next(-5), (Ulid{0, 1, 2}));
  EXPECT_EQ(fixed({1, 2}).next(INT64_MAX), (Ulid{kMaxUlidMillis, 1, 2}));
}

TEST(UlidGenerator, IsMonotonicInOneMillisecondAndWhenTheClockStepsBack) {
  UlidGenerator gen = fixed({5, 9});
  const Ulid first = gen.next(2000);
  EXPECT_EQ(gen.next(2000), (Ulid{2000, 5, 10}));
  EXPECT_EQ(gen.next(1999), (Ulid{2000, 5, 11}));  // stepped back: still after the last one
  EXPECT_LT(first, gen.next(2000));
  // Carry from the low word into the high one.
  UlidGenerator carry = fixed({5, ~0ULL});
  carry.next(3000);
  EXPECT_EQ(carry.next(3000), (Ulid{3000, 6, 0}));
}

TEST(UlidGenerator, MovesToTheNextMillisecondWhenTheRandomPartIsExhausted) {
  UlidGenerator gen = fixed({0xFFFF, ~0ULL, 0x77, 0x88});
  EXPECT_EQ(gen.next(4000), (Ulid{4000, 0xFFFF, ~0ULL}));
  const Ulid next = gen.next(4000);
  EXPECT_EQ(next.millis, 4001u);
  EXPECT_EQ(next, (Ulid{4001, 0x88, 0x77}));
}

TEST(UlidGenerator, ManyInARowSortAsTextInTheOrderMade) {
  std::mt19937_64 random(3);
  UlidGenerator gen([&random] { return random(); });
  std::string previous;
  for (int i = 0; i < 10000; ++i) {
    const std::string id = to_string(gen.next(1795617000123 + i / 100 - (i % 7 == 0 ? 1 : 0)));
    EXPECT_LT(previous, id);
    previous = id;
  }
}

}  // namespace
}  // namespace tap
