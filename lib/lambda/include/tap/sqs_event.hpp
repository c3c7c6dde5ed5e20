// The Lambda SQS event (from the Runtime API's /next response body, up to ~6 MB): Records[] with the fields
// the handler needs. Unknown fields are ignored; messageAttributes are not kept.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tap/result.hpp"

namespace tap {

struct SqsRecord {
  std::string message_id;              // required
  std::string receipt_handle;          // "" when absent
  std::string body;                    // unescaped: the tick JSON as sent
  std::uint32_t receive_count = 0;     // attributes.ApproximateReceiveCount (0 when absent)
  std::int64_t sent_timestamp_ms = 0;  // attributes.SentTimestamp (0 when absent)
  std::string event_source_arn;
  std::string aws_region;
  friend bool operator==(const SqsRecord&, const SqsRecord&) = default;
};

struct SqsEvent {
  std::vector<SqsRecord> records;
};

// Error code "invalid_event"; the message names the record and field ("Records[3].body: missing").
Result<SqsEvent> parse_sqs_event(std::string_view json);

}  // namespace tap
