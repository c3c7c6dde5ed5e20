// The StateStore and AlertLedger ports on DynamoDB: the only place that knows how state and alerts are
// stored -- table keys, attribute names, item shapes, the notification state -- and the exact conditional
// expressions of the exactly-once protocol.
//
// alert-state table: key symbol (S) + rule_id (S); side (S), side_ts and last_fire_ts (N, microseconds since
//   the epoch, so that conditions compare numbers), updated_at (S).
// market-alerts table: key symbol (S) + timestamp (S) = "<normalised tick ts>#<rule id>" (F4); the
//   alert's attributes, its id as text (alert_id), created_at, and notification_state "pending" until
//   mark_sent sets "sent" with notified_at and sns_message_id.
#pragma once

#include <functional>
#include <string>
#include <unordered_map>

#include "tap/app/ports.hpp"
#include "tap/aws/dynamodb.hpp"
#include "tap/core/rules.hpp"

namespace tap {

// State item attributes.
inline constexpr const char* kAttrSide = "side";
inline constexpr const char* kAttrSideTs = "side_ts";
inline constexpr const char* kAttrLastFireTs = "last_fire_ts";

// A state item (DynamoDB JSON) as stored by DynamoDbStateStore. Unknown attributes are ignored; the key
// attributes are empty when the item JSON has none (ALL_OLD images carry them).
struct StateItem {
  std::string symbol;
  std::string rule_id;
  RuleState state;
};
Result<StateItem> parse_state_item(std::string_view item_json);

// The alert item in DynamoDB JSON ({"symbol":{"S":"AAPL"},...}), ready for a PutItem "Item"; its
// notification_state is "pending".
std::string alert_item(const AlertRecord& record);

// The UpdateItem that persists one planned step (exposed for tests: the condition is the protocol).
dynamodb::UpdateItem state_update(const std::string& table, const Rule& rule, const StateKey& key,
                                  const Step& step, std::int64_t now_micros);

class DynamoDbStateStore final : public StateStore {
 public:
  using TokenSource = std::function<std::string()>;  // TransactWriteItems ClientRequestToken per call
  DynamoDbStateStore(dynamodb::Client& client, std::string state_table, std::string alerts_table,
                     const RuleSet& rules, std::function<std::int64_t()> now_micros, TokenSource tokens);

  Result<StateMap, AwsError> load(const std::vector<StateKey>& keys, Deadline deadline) override;
  Result<WriteResult, AwsError> apply(const StateKey& key, const Step& step, const AlertRecord* alert,
                                      Deadline deadline) override;

 private:
  Result<RuleState, AwsError> load_one(const StateKey& key, Deadline deadline);

  dynamodb::Client& client_;
  std::string state_table_;
  std::string alerts_table_;
  const RuleSet& rules_;
  std::unordered_map<std::string, std::size_t> rule_by_id_;
  std::function<std::int64_t()> now_micros_;
  TokenSource tokens_;
};

class DynamoDbAlertLedger final : public AlertLedger {
 public:
  DynamoDbAlertLedger(dynamodb::Client& client, std::string alerts_table);
  Result<bool, AwsError> pending(const AlertId& id, Deadline deadline) override;
  Result<bool, AwsError> mark_sent(const AlertId& id, const std::string& sns_message_id,
                                   std::int64_t notified_at_micros, Deadline deadline) override;

 private:
  dynamodb::Client& client_;
  std::string table_;
};

}  // namespace tap
