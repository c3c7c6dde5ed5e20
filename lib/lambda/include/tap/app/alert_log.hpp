// The fired alerts as the API reads them (A2, A4): one owner's alerts in store order (stored_id, a ULID
// taken at store), through the alerts table's by-owner index, never a scan. The DynamoDB adapter
// (dynamodb_store.hpp, the owner of the alert item's format) implements it; handler tests use a fake.
//
// Page positions are the store's (attribute name, text value) pairs, opaque to the caller, which MACs them
// into the API's cursor (tap/api/cursor.hpp). A page's `position` is where the next one starts: the last
// item DynamoDB evaluated, else the last alert returned, else the position the page started from -- so a
// client that polls with it resumes exactly after what it has seen, even from the end of the list.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tap/aws/aws_error.hpp"
#include "tap/core/deadline.hpp"
#include "tap/core/result.hpp"
#include "tap/core/tick.hpp"

namespace tap {

using AlertPosition = std::vector<std::pair<std::string, std::string>>;

struct FiredAlert {
  std::string owner;
  std::string rule_id;
  std::uint32_t rule_version = 0;
  std::string stored_id;  // the ULID taken at store
  Tick tick;              // symbol, price, bid, ask, volume, timestamp (seq is not stored)
  std::string severity;
  bool notified = false;                           // the notification is confirmed sent
  std::optional<std::int64_t> notified_at_micros;  // when it was confirmed
  bool unvouched = false;                          // Alert::unvouched, as stored
};

struct AlertQuery {
  std::string owner;
  std::int64_t stored_before_micros = 0;  // only alerts whose stored_id time is earlier (now - D, A2)
  std::optional<std::string> symbol;
  std::optional<std::string> rule_id;
  std::optional<std::int64_t> tick_from_micros;   // tick time >= this
  std::optional<std::int64_t> tick_until_micros;  // tick time < this
  std::uint32_t limit = 50;                       // items evaluated per page (DynamoDB's Limit)
  AlertPosition after;                            // empty: from the first alert
};

struct AlertPage {
  std::vector<FiredAlert> alerts;
  AlertPosition position;  // where the next page starts (see above)
  bool more = false;       // the index holds more items before stored_before now
};

class AlertLog {
 public:
  virtual ~AlertLog() = default;
  // An `after` that is not a position of this owner's list is an error with code "invalid_position".
  virtual Result<AlertPage, AwsError> list(const AlertQuery& query, Deadline deadline) = 0;
};

}  // namespace tap
