// libFuzzer target: the input is fed to the tick-body parser and to the SQS event parser (whose record
// bodies go through the tick parser again). Beyond "no crash", it checks the parsers' output invariants.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tap/core/sqs_event.hpp"
#include "tap/core/tick.hpp"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

// `padding`: readable bytes after the body (a record's body is parsed in place, see sqs_event.hpp).
void check_body(std::string_view body, std::size_t padding = 0) {
  auto parsed = tap::parse_ticks(body, padding);
  if (padding >= tap::kJsonPadding) {  // in place: the same result as a padded copy
    auto copied = tap::parse_ticks(std::string(body));
    check(bool(parsed) == bool(copied));
    if (!copied) {
      check(parsed.error().code == copied.error().code && parsed.error().message == copied.error().message);
    } else {
      check(parsed->ticks == copied->ticks && parsed->rejects == copied->rejects);
    }
  }
  if (!parsed) {
    check(parsed.error().message.rfind("body: ", 0) == 0);
    return;
  }
  for (const tap::Tick& t : parsed->ticks) {
    check(tap::is_valid_symbol(t.symbol));
    check(t.price > 0);
    check(t.ts.text().size() == tap::kNormalisedTimestampLength);
    auto again = tap::parse_timestamp(t.ts.text());  // the normalised form parses back to the same instant
    check(again && again->micros == t.ts.micros && again->text() == t.ts.text());
  }
  for (const tap::Reject& r : parsed->rejects) check(!r.reason.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check_body(input);
  auto event = tap::parse_sqs_event(input);
  if (event) {
    for (const auto& rec : event->records) {
      check(!rec.message_id.empty());
      check_body(rec.body, tap::kJsonPadding);  // also the escaped text of an undecodable body
      // An undecodable body is a body-level rejection of its record alone (sqs_event.hpp).
      auto ticks = tap::parse_record_ticks(rec);
      check(rec.body_error.empty() ? ticks || ticks.error().code != "undecodable_body"
                                   : !ticks && ticks.error().message == rec.body_error &&
                                         rec.body_error.rfind("body: ", 0) == 0);
    }
  }
  return 0;
}
