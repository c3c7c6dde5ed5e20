// The handler's I/O, behind small interfaces so that tests use fakes and the function the real thing
// (src/app/dynamodb_store.cpp, sns_notifier.cpp, sqs_dead_letters.cpp). Every call takes the invocation
// deadline; retries happen inside (the AWS layer's RetryPolicy), so an error here is final for this
// invocation.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tap/aws/aws_error.hpp"
#include "tap/core/alert.hpp"
#include "tap/core/deadline.hpp"
#include "tap/core/rule_engine.hpp"

namespace tap {

// The result of a conditional state write: applied, or refused because the stored state is not the one the
// write was planned on (another invocation got there first); `current` is then what is stored now.
struct WriteResult {
  bool applied = false;
  RuleState current;
};

// alert-state table: one item per (symbol, rule id), compare-and-swap writes (notes in design, README).
class StateStore {
 public:
  virtual ~StateStore() = default;
  // Strongly consistent read of the given keys; absent keys are missing from the map.
  virtual Result<StateMap, AwsError> load(const std::vector<StateKey>& keys, Deadline deadline) = 0;
  // Persists step.next if the stored state is still step.expected (crossing) or the cooldown cutoff
  // allows it (level fire); a fire also stores the alert item, atomically, if it does not exist yet.
  virtual Result<WriteResult, AwsError> apply(const StateKey& key, const Step& step,
                                              const std::string* alert_item, Deadline deadline) = 0;
};

// market-alerts table: the notification state of stored alerts (F5).
class AlertLedger {
 public:
  virtual ~AlertLedger() = default;
  // True when the alert exists and is still waiting for its notification (a crash or a failed publish
  // after it was stored); false when it does not exist or was notified.
  virtual Result<bool, AwsError> pending(const AlertKey& key, Deadline deadline) = 0;
  virtual Result<bool, AwsError> mark_sent(const AlertKey& key, const std::string& sns_message_id,
                                           std::int64_t notified_at_micros, Deadline deadline) = 0;
};

class Notifier {
 public:
  virtual ~Notifier() = default;
  virtual Result<std::string, AwsError> publish(const SnsNotification& notification, Deadline deadline) = 0;
};

class DeadLetters {
 public:
  virtual ~DeadLetters() = default;
  virtual Result<std::string, AwsError> send(const std::string& body, const std::string& reason,
                                             const std::string& source_message_id, Deadline deadline) = 0;
};

}  // namespace tap
