// The Lambda SQS event (from the Runtime API's /next response body, up to ~6 MB): Records[] with the fields
// the handler needs. Unknown fields are ignored; messageAttributes are not kept.
//
// Ownership: a record's strings are views into one buffer owned by its SqsEvent (no allocation per record
// or field). They stay valid as long as the event lives, also after the event is moved (the buffer does not
// move); an event cannot be copied. Each body is followed in that buffer by kJsonPadding zero bytes, so
// parse_ticks(record.body, kJsonPadding) parses it where it is.
//
// A body string the event's JSON cannot decode (a lone surrogate escape such as \ud800, an invalid escape
// such as \x: bytes SQS itself refuses, so only a broken or hostile event source sends them) fails that
// record alone (F2: nothing fails its neighbours): it can never be decoded, so retrying cannot help, and
// the record is rejected like an invalid body. Its `body` is then the string's escaped text as the event
// carries it (without the quotes) and `body_error` says which escape is undecodable and where. The dead
// letter carries that escaped text: it is what arrived, byte for byte (the original cannot be
// reconstructed: it has no UTF-8 form), and valid UTF-8 made of characters SQS accepts. Any other field
// that cannot be decoded still invalidates the whole event (a record whose messageId cannot be read
// cannot even be named in batchItemFailures).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tap/core/result.hpp"
#include "tap/core/tick.hpp"

namespace tap {

struct SqsRecord {
  std::string_view message_id;         // required, not empty
  std::string_view receipt_handle;     // "" when absent
  std::string_view body;               // unescaped: the tick JSON as sent (escaped if body_error is set)
  std::uint32_t receive_count = 0;     // attributes.ApproximateReceiveCount (0 when absent)
  std::int64_t sent_timestamp_ms = 0;  // attributes.SentTimestamp (0 when absent)
  std::string_view event_source_arn;
  std::string_view aws_region;
  std::string body_error;  // empty: the body was decoded; else why not (the record's rejection reason)
  friend bool operator==(const SqsRecord&, const SqsRecord&) = default;  // compares the text, not addresses
};

struct SqsEvent {
  std::vector<SqsRecord> records;
  std::unique_ptr<char[]> text;  // the records' strings (see the top of this header)
};

// Error code "invalid_event"; the message names the record and field ("Records[3].body: missing").
Result<SqsEvent> parse_sqs_event(std::string_view json);

// A record's ticks: parse_ticks on its body in place, or, for a body the event could not decode, its
// body_error as a body-level error (code "undecodable_body"), so that a caller treats both alike.
Result<ParsedBody> parse_record_ticks(const SqsRecord& record);

}  // namespace tap
