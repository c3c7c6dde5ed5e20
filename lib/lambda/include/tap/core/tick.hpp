// Market ticks (F2): parse and validate an SQS message body holding one tick object or an array of
// tick objects.
//
// Fields: symbol, price, timestamp (required); volume, bid, ask, seq (optional; volume and seq are integers
// in [0, 2^64-1] written as such, seq 0 when absent).
//
// Body-level problems reject the whole body (the Result's error): size over 262,144 bytes, invalid UTF-8,
// invalid JSON anywhere in the body, nesting deeper than kMaxBodyDepth, a top level that is neither an
// object nor an array, an empty array, a duplicate key (the reason names the tick). Tick-level problems
// (wrong type, missing/invalid field) reject only that tick; the other ticks of the body stay valid.
// Unknown fields are ignored (but still validated as JSON and checked for duplicate keys).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tap/core/result.hpp"
#include "tap/core/timestamp.hpp"

namespace tap {

inline constexpr std::size_t kMaxBodyBytes = 262'144;
// Maximum nesting of arrays/objects: array of ticks (1) -> tick (2) -> unknown field values 2 levels more.
inline constexpr std::size_t kMaxBodyDepth = 4;
inline constexpr std::size_t kMaxSymbolLength = 16;
// Prices, bids and asks must fit DynamoDB's number range (magnitude 1E-130 .. 9.99...9E+125, 38 digits): a
// tick beyond it could never be stored with its alert, so it is invalid, not a transient failure.
// (double(9.99...9E+125) rounds to 1E+126 itself: the upper bound is exclusive.)
inline constexpr double kMinStorableNumber = 1e-130;
inline constexpr double kMaxStorableNumberExclusive = 1e126;

struct Tick {
  std::string symbol;
  double price = 0;
  Timestamp ts;
  std::optional<std::uint64_t> volume;
  std::optional<double> bid;
  std::optional<double> ask;
  // `seq` (F2): the feed's sequence number for the symbol (0 when absent), ordering equal timestamps.
  std::uint64_t seq = 0;
  friend bool operator==(const Tick&, const Tick&) = default;
};

struct Reject {
  std::size_t index = 0;  // position of the tick in the body (0 for a single-object body)
  std::string reason;     // e.g. "tick[2].price: must be a finite number > 0"
  friend bool operator==(const Reject&, const Reject&) = default;
};

struct ParsedBody {
  std::vector<Tick> ticks;  // the valid ticks, in body order
  std::vector<Reject> rejects;
};

// `symbol`: 1..16 chars of A-Z 0-9 . - / :
bool is_valid_symbol(std::string_view symbol);

// Bytes readable after a body that let parse_ticks parse it where it is (simdjson's padding). SqsRecord::body
// has them (sqs_event.hpp).
inline constexpr std::size_t kJsonPadding = 64;

// Error codes: "body_too_large", "invalid_utf8", "invalid_json", "too_deep", "invalid_body".
// `padding`: how many zero bytes follow the body. With at least kJsonPadding the body is parsed in place,
// otherwise it is first copied into a zero-padded buffer: the same result either way (for a truncated body
// simdjson's error can depend on the bytes after it, hence zeros). The ticks own their data (they do not
// point into the body).
Result<ParsedBody> parse_ticks(std::string_view body, std::size_t padding = 0);

}  // namespace tap
