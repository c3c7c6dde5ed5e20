// The flow of one invocation: SQS event -> ticks -> rules -> state -> alerts -> store -> notify -> response.
// Modelled on Powertools' batch processor: a partial failure is a first-class result (batchItemFailures).
// Pure decisions come from the core (rule_engine.hpp); all I/O goes through the ports (ports.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "tap/app/ports.hpp"
#include "tap/core/rules.hpp"
#include "tap/runtime/log.hpp"
#include "tap/runtime/metrics.hpp"

namespace tap {

struct HandlerPorts {
  StateStore& state;
  AlertLedger& ledger;
  Notifier& notifier;
  DeadLetters& dead_letters;
};

// What one batch did; the metrics of the invocation and the response are derived from it.
struct BatchReport {
  std::vector<std::string> failed_message_ids;  // transient failures: SQS redelivers them
  std::uint64_t messages = 0;
  std::uint64_t ticks = 0;           // valid ticks
  std::uint64_t rejected_ticks = 0;  // invalid ticks (and whole bodies that could not be parsed)
  std::uint64_t dead_lettered = 0;   // messages sent to the DLQ with their reasons
  std::uint64_t late_ticks = 0;      // ticks older than the stored state of at least one of their rules
  std::uint64_t alerts = 0;          // alerts stored by this invocation
  std::uint64_t notifications = 0;   // SNS publishes (new alerts and recovered ones)
  std::uint64_t recovered = 0;       // notifications of alerts stored by an earlier, interrupted delivery
  std::uint64_t state_writes = 0;
  std::uint64_t state_conflicts = 0;  // compare-and-swap refusals (another invocation was first)
};

// {"batchItemFailures":[{"itemIdentifier":"<message id>"},...]}
std::string batch_response(const BatchReport& report);

// The invocation's CloudWatch EMF record (F8): the report's counters, the AWS calls retried, the duration.
obs::MetricsRecord batch_metrics(const BatchReport& report, const std::string& metrics_namespace,
                                 const std::string& function_name, std::uint64_t retries,
                                 std::chrono::microseconds duration);

class BatchHandler {
 public:
  using WallClock = std::function<std::chrono::system_clock::time_point()>;

  BatchHandler(const RuleSet& rules, HandlerPorts ports, const obs::Logger& log,
               WallClock wall_clock = std::chrono::system_clock::now);

  // An error only when the event itself is not an SQS event (then nothing can be attributed to a message and
  // the whole invocation fails, so that every message is retried).
  Result<BatchReport> handle(std::string_view event_json, Deadline deadline);

 private:
  struct Batch;
  void process_ticks(Batch& batch, Deadline deadline);
  void execute_plan(Batch& batch, KeyPlan plan, Deadline deadline);
  void notify_new_alerts(Batch& batch, Deadline deadline);
  // Publishes one alert's notification and records it as sent; false (and the message failed) when the
  // publish failed.
  bool notify(Batch& batch, std::size_t message_index, std::size_t rule_index, const Tick& tick,
              Deadline deadline);
  void recover_pending(Batch& batch, Deadline deadline);
  void dead_letter_rejects(Batch& batch, Deadline deadline);
  std::int64_t now_micros() const;

  const RuleSet& rules_;
  HandlerPorts ports_;
  const obs::Logger& log_;
  WallClock wall_clock_;
  // Level rules only: the last fire per (rule, symbol) seen by this container. last_fire only grows, so a
  // cached value is a safe lower bound and lets the handler skip writes that the cooldown would refuse.
  StateMap level_cache_;
};

}  // namespace tap
