// The Lambda SQS event (from the Runtime API's /next response body, up to ~6 MB): Records[] with the fields
// the handler needs. Unknown fields are ignored; messageAttributes are not kept.
//
// Ownership: a record's strings are views into one buffer owned by its SqsEvent (no allocation per record
// or field). They stay valid as long as the event lives, also after the event is moved (the buffer does not
// move); an event cannot be copied. Each body is followed in that buffer by kJsonPadding zero bytes, so
// parse_ticks(record.body, kJsonPadding) parses it where it is.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "tap/core/result.hpp"

namespace tap {

struct SqsRecord {
  std::string_view message_id;         // required, not empty
  std::string_view receipt_handle;     // "" when absent
  std::string_view body;               // unescaped: the tick JSON as sent
  std::uint32_t receive_count = 0;     // attributes.ApproximateReceiveCount (0 when absent)
  std::int64_t sent_timestamp_ms = 0;  // attributes.SentTimestamp (0 when absent)
  std::string_view event_source_arn;
  std::string_view aws_region;
  friend bool operator==(const SqsRecord&, const SqsRecord&) = default;  // compares the text, not addresses
};

struct SqsEvent {
  std::vector<SqsRecord> records;
  std::unique_ptr<char[]> text;  // the records' strings (see the top of this header)
};

// Error code "invalid_event"; the message names the record and field ("Records[3].body: missing").
Result<SqsEvent> parse_sqs_event(std::string_view json);

}  // namespace tap
