// The real ports: the handler's state, ledger, notifier and dead-letter queue on DynamoDB, SNS and SQS.
// Attribute names and the exact conditional expressions of the exactly-once protocol live here.
#pragma once

#include <functional>
#include <string>
#include <unordered_map>

#include "tap/app/ports.hpp"
#include "tap/aws/dynamodb.hpp"
#include "tap/aws/sns.hpp"
#include "tap/aws/sqs.hpp"
#include "tap/core/rules.hpp"

namespace tap {

// State item attributes (alert-state table, key symbol + rule_id). Timestamps are microseconds since the
// epoch (N), so that conditions compare numbers.
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

// The UpdateItem that persists one planned step (exposed for tests: the condition is the protocol).
dynamodb::UpdateItem state_update(const std::string& table, const Rule& rule, const StateKey& key,
                                  const Step& step, std::int64_t now_micros);

class DynamoDbStateStore final : public StateStore {
 public:
  using TokenSource = std::function<std::string()>;  // TransactWriteItems ClientRequestToken per call
  DynamoDbStateStore(dynamodb::Client& client, std::string state_table, std::string alerts_table,
                     const RuleSet& rules, std::function<std::int64_t()> now_micros, TokenSource tokens);

  Result<StateMap, AwsError> load(const std::vector<StateKey>& keys, Deadline deadline) override;
  Result<WriteResult, AwsError> apply(const StateKey& key, const Step& step, const std::string* alert_item,
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
  Result<bool, AwsError> pending(const AlertKey& key, Deadline deadline) override;
  Result<bool, AwsError> mark_sent(const AlertKey& key, const std::string& sns_message_id,
                                   std::int64_t notified_at_micros, Deadline deadline) override;

 private:
  dynamodb::Client& client_;
  std::string table_;
};

class SnsNotifier final : public Notifier {
 public:
  SnsNotifier(sns::Client& client, std::string topic_arn);
  Result<std::string, AwsError> publish(const SnsNotification& notification, Deadline deadline) override;

 private:
  sns::Client& client_;
  std::string topic_arn_;
};

class SqsDeadLetters final : public DeadLetters {
 public:
  SqsDeadLetters(sqs::Client& client, std::string queue_url);
  Result<std::string, AwsError> send(const std::string& body, const std::string& reason,
                                     const std::string& source_message_id, Deadline deadline) override;

 private:
  sqs::Client& client_;
  std::string queue_url_;
};

}  // namespace tap
