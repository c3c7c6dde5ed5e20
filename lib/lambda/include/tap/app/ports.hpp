// The handler's I/O, behind small interfaces so that tests use fakes and the function the real thing
// (dynamodb_store.hpp, sns_notifier.hpp, sqs_dead_letters.hpp). Ports take and return domain values (keys,
// states, alerts, alert ids); how they are stored -- table keys, attribute names, item shapes, the
// notification state -- is each adapter's own. Every call takes the invocation deadline; retries happen
// inside (the AWS layer's RetryPolicy), so an error here is final for this invocation.
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

// An alert to store with the fire that produced it.
struct AlertRecord {
  Alert alert;
  std::int64_t created_at_micros = 0;  // the wall clock when the handler detected it
};

// The state of each (rule, symbol), written with compare-and-swap, and the alerts the fires produce.
class StateStore {
 public:
  virtual ~StateStore() = default;
  // Strongly consistent read of the given keys; absent keys are missing from the map.
  virtual Result<StateMap, AwsError> load(const std::vector<StateKey>& keys, Deadline deadline) = 0;
  // Persists step.next if the stored state is still step.expected (crossing) or the cooldown cutoff
  // allows it (level fire); a fire also stores its alert (pending notification), atomically, if no alert
  // with its id exists yet.
  virtual Result<WriteResult, AwsError> apply(const StateKey& key, const Step& step, const AlertRecord* alert,
                                              Deadline deadline) = 0;
};

// The notification state of stored alerts (F5): pending until its notification is recorded as sent.
class AlertLedger {
 public:
  virtual ~AlertLedger() = default;
  // True when the alert exists and is still waiting for its notification (a crash or a failed publish
  // after it was stored); false when it does not exist or was notified.
  virtual Result<bool, AwsError> pending(const AlertId& id, Deadline deadline) = 0;
  // Records the notification as sent (with the SNS message id and when).
  virtual Result<bool, AwsError> mark_sent(const AlertId& id, const std::string& sns_message_id,
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
