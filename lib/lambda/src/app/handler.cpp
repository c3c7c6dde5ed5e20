#include "tap/app/handler.hpp"

#include <algorithm>
#include <optional>
#include <set>
#include <utility>

#include "tap/core/json_text.hpp"
#include "tap/core/sqs_event.hpp"
#include "tap/core/tick.hpp"

namespace tap {
namespace {

// A refused compare-and-swap means another invocation advanced the same (rule, symbol); re-planning on the
// state it wrote converges quickly. Beyond this many rounds the messages are retried by SQS instead.
constexpr int kMaxReplans = 4;
// Rejection reasons travel as an SQS message attribute and in logs: long enough for every reason of a body
// with many bad ticks, short enough to stay readable.
constexpr std::size_t kMaxReasonLength = 4096;

std::string join_rejects(const std::vector<Reject>& rejects) {
  std::string out;
  for (const Reject& r : rejects) {
    if (!out.empty()) out += "; ";
    out += r.reason;
  }
  if (out.size() > kMaxReasonLength) {
    out.resize(kMaxReasonLength - 3);
    out += "...";
  }
  return out;
}

}  // namespace

struct BatchHandler::Batch {
  struct Message {
    const SqsRecord* record = nullptr;
    std::vector<Tick> ticks;
    std::string reject_reason;  // empty: nothing to dead-letter
    bool failed = false;
  };
  struct NewAlert {
    std::size_t rule_index = 0;
    const Tick* tick = nullptr;
    std::size_t message_index = 0;
  };

  SqsEvent event;
  std::vector<Message> messages;
  std::vector<BatchTick> ticks;
  std::vector<NewAlert> new_alerts;
  std::set<AlertId> new_alert_ids;
  std::vector<LateEvaluation> late;  // settled: nothing re-plans them
  BatchReport report;
};

std::string batch_response(const BatchReport& report) {
  std::string out = R"({"batchItemFailures":[)";
  bool first = true;
  for (const std::string& id : report.failed_message_ids) {
    if (!first) out += ',';
    first = false;
    out += R"({"itemIdentifier":)";
    json::append_string(out, id);
    out += '}';
  }
  out += "]}";
  return out;
}

obs::MetricsRecord batch_metrics(const BatchReport& report, const std::string& metrics_namespace,
                                 const std::string& function_name, std::uint64_t retries,
                                 std::chrono::microseconds duration) {
  obs::MetricsRecord record(metrics_namespace);
  // MetricsRecord refuses only non-finite values and a 31st dimension: one dimension, counts and a duration
  // cannot be refused, so the Results below are ignored on purpose.
  (void)record.add_dimension("FunctionName", function_name);
  const auto count = [&record](std::string_view name, std::uint64_t value) {
    (void)record.put(name, static_cast<double>(value), obs::Unit::kCount);
  };
  count("Messages", report.messages);
  count("Ticks", report.ticks);
  count("LateTicks", report.late_ticks);
  count("RejectedTicks", report.rejected_ticks);
  count("DeadLettered", report.dead_lettered);
  count("Alerts", report.alerts);
  count("Notifications", report.notifications);
  count("RecoveredNotifications", report.recovered);
  count("StateWrites", report.state_writes);
  count("StateConflicts", report.state_conflicts);
  count("FailedMessages", report.failed_message_ids.size());
  count("Retries", retries);
  (void)record.put("Duration", static_cast<double>(duration.count()) / 1000.0, obs::Unit::kMilliseconds);
  return record;
}

BatchHandler::BatchHandler(const RuleSet& rules, HandlerPorts ports, const obs::Logger& log,
                           WallClock wall_clock)
    : rules_(rules), ports_(ports), log_(log), wall_clock_(std::move(wall_clock)) {}

std::int64_t BatchHandler::now_micros() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(wall_clock_().time_since_epoch()).count();
}

Result<BatchReport> BatchHandler::handle(std::string_view event_json, Deadline deadline) {
  auto event = parse_sqs_event(event_json);
  if (!event) return event.error();
  Batch batch;
  batch.event = std::move(event).value();
  batch.messages.resize(batch.event.records.size());
  for (std::size_t i = 0; i < batch.event.records.size(); ++i) {
    Batch::Message& m = batch.messages[i];
    m.record = &batch.event.records[i];
    auto parsed = parse_record_ticks(*m.record);  // an undecodable body (F2) is rejected like a bad one
    if (!parsed) {
      m.reject_reason = parsed.error().message;
      ++batch.report.rejected_ticks;
    } else {
      m.ticks = std::move(parsed->ticks);
      m.reject_reason = join_rejects(parsed->rejects);
      batch.report.rejected_ticks += parsed->rejects.size();
    }
    batch.report.ticks += m.ticks.size();
    if (!m.reject_reason.empty()) {
      log_.log({.level = obs::Level::kWarn,
                .message = "rejected input",
                .message_id = m.record->message_id,
                .reason = m.reject_reason});
    }
  }
  batch.report.messages = batch.messages.size();
  // Pointers into the messages' tick vectors: stable from here on.
  for (std::size_t i = 0; i < batch.messages.size(); ++i) {
    for (const Tick& t : batch.messages[i].ticks) batch.ticks.push_back({&t, i});
  }

  process_ticks(batch, deadline);
  notify_new_alerts(batch, deadline);
  recover_pending(batch, deadline);
  dead_letter_rejects(batch, deadline);

  std::set<std::size_t> late_ticks;
  for (const LateEvaluation& e : batch.late) late_ticks.insert(e.batch_index);
  batch.report.late_ticks = late_ticks.size();

  for (const Batch::Message& m : batch.messages) {
    if (m.failed) batch.report.failed_message_ids.emplace_back(m.record->message_id);
  }
  return std::move(batch.report);
}

void BatchHandler::process_ticks(Batch& batch, Deadline deadline) {
  if (batch.ticks.empty()) return;
  StateMap known = level_cache_;
  bool crossing_state_loaded = true;
  const std::vector<StateKey> crossing_keys = touched_keys(rules_, batch.ticks, /*crossing_only=*/true);
  if (!crossing_keys.empty()) {
    auto loaded = ports_.state.load(crossing_keys, deadline);
    if (loaded) {
      for (auto& [key, state] : loaded.value()) known[key] = state;
    } else {
      crossing_state_loaded = false;
      log_.log(
          {.level = obs::Level::kError, .message = "state read failed", .reason = loaded.error().message});
    }
  }
  BatchPlan planned = plan_batch(rules_, batch.ticks, known);
  // Keys with writes record their late ticks as they settle (a conflict re-plans them); the others now.
  batch.late = std::move(planned.settled_late);
  for (KeyPlan& plan : planned.keys) {
    if (!crossing_state_loaded && is_crossing(rules_.rule(plan.key.rule_index).condition)) {
      for (const PlannedTick& t : plan.ticks) batch.messages[t.message_index].failed = true;
      continue;
    }
    execute_plan(batch, std::move(plan), deadline);
  }
}

void BatchHandler::execute_plan(Batch& batch, KeyPlan plan, Deadline deadline) {
  const Rule& rule = rules_.rule(plan.key.rule_index);
  for (int round = 0; round <= kMaxReplans; ++round) {
    std::optional<std::size_t> last_applied_pos;
    std::optional<RuleState> conflict_state;
    for (std::size_t i = 0; i < plan.steps.size(); ++i) {
      const Step& step = plan.steps[i];
      const PlannedTick& planned = plan.ticks[step.pos];
      const Tick& tick = *batch.ticks[planned.batch_index].tick;
      std::optional<AlertRecord> alert;
      if (step.kind == Step::Kind::fire) {
        alert = AlertRecord{{&rule, &tick, batch.messages[planned.message_index].record->message_id},
                            now_micros()};
      }
      auto written = ports_.state.apply(plan.key, step, alert ? &*alert : nullptr, deadline);
      if (!written) {
        for (const std::size_t m : messages_to_fail(plan, i)) {
          batch.messages[m].failed = true;
          log_.log({.level = obs::Level::kWarn,
                    .message = "state write failed, message will be retried",
                    .message_id = batch.messages[m].record->message_id,
                    .symbol = plan.key.symbol,
                    .rule = rule.id,
                    .reason = written.error().code + ": " + written.error().message});
        }
        return;
      }
      if (!written->applied) {
        conflict_state = written->current;
        break;
      }
      ++batch.report.state_writes;
      last_applied_pos = step.pos;
      if (step.kind == Step::Kind::fire) {
        ++batch.report.alerts;
        batch.new_alerts.push_back({plan.key.rule_index, &tick, planned.message_index});
        batch.new_alert_ids.insert(alert_id(rule, tick));
        log_.log({.level = obs::Level::kInfo,
                  .message = "alert stored",
                  .message_id = batch.messages[planned.message_index].record->message_id,
                  .symbol = tick.symbol,
                  .rule = rule.id,
                  .fields = {{"tick_timestamp", tick.ts.text()}, {"price", tick.price}}});
      }
    }
    // Late ticks among those this plan has settled (all of them, unless a conflict interrupted it).
    const std::size_t settled =
        conflict_state ? (last_applied_pos ? *last_applied_pos + 1 : 0) : plan.ticks.size();
    for (std::size_t p = 0; p < settled; ++p) {
      const PlannedTick& t = plan.ticks[p];
      if (t.outcome == Outcome::late)
        batch.late.push_back({t.batch_index, plan.key.rule_index, t.may_have_alert});
    }
    if (!conflict_state) {
      if (!is_crossing(rule.condition)) level_cache_[plan.key] = plan.final_state;
      return;
    }
    ++batch.report.state_conflicts;
    // Re-plan the ticks this plan had not settled on the state that is stored now.
    std::vector<std::size_t> remaining;
    for (std::size_t p = settled; p < plan.ticks.size(); ++p) remaining.push_back(plan.ticks[p].batch_index);
    plan = plan_key(rule, plan.key, batch.ticks, std::move(remaining), *conflict_state);
  }
  for (const PlannedTick& t : plan.ticks) {
    batch.messages[t.message_index].failed = true;
    log_.log({.level = obs::Level::kWarn,
              .message = "state kept changing under concurrent writers, message will be retried",
              .message_id = batch.messages[t.message_index].record->message_id,
              .symbol = plan.key.symbol,
              .rule = rule.id,
              .reason = "too many compare-and-swap conflicts"});
  }
}

bool BatchHandler::notify(Batch& batch, std::size_t message_index, std::size_t rule_index, const Tick& tick,
                          Deadline deadline) {
  Batch::Message& m = batch.messages[message_index];
  const Rule& rule = rules_.rule(rule_index);
  const Alert alert{&rule, &tick, m.record->message_id};
  auto published = ports_.notifier.publish(sns_notification(alert, now_micros()), deadline);
  if (!published) {
    // The alert stays pending; the redelivered message finds it and notifies (recover_pending).
    m.failed = true;
    log_.log({.level = obs::Level::kWarn,
              .message = "notification failed, message will be retried",
              .message_id = m.record->message_id,
              .symbol = tick.symbol,
              .rule = rule.id,
              .reason = published.error().code + ": " + published.error().message});
    return false;
  }
  ++batch.report.notifications;
  auto marked = ports_.ledger.mark_sent(alert_id(rule, tick), published.value(), now_micros(), deadline);
  if (!marked) {
    // The notification went out: retrying the message would notify twice. Keep it acknowledged.
    log_.log({.level = obs::Level::kError,
              .message = "notification sent but not recorded",
              .message_id = m.record->message_id,
              .symbol = tick.symbol,
              .rule = rule.id,
              .reason = marked.error().code + ": " + marked.error().message});
  }
  return true;
}

void BatchHandler::notify_new_alerts(Batch& batch, Deadline deadline) {
  for (const Batch::NewAlert& a : batch.new_alerts) {
    (void)notify(batch, a.message_index, a.rule_index, *a.tick, deadline);
  }
}

void BatchHandler::recover_pending(Batch& batch, Deadline deadline) {
  for (const RecoveryCandidate& c : recovery_candidates(rules_, batch.ticks, batch.late)) {
    const BatchTick& carrier = batch.ticks[c.batch_index];
    Batch::Message& m = batch.messages[carrier.message_index];
    if (m.failed || batch.new_alert_ids.contains(c.id)) continue;
    auto pending = ports_.ledger.pending(c.id, deadline);
    if (!pending) {
      m.failed = true;
      log_.log({.level = obs::Level::kWarn,
                .message = "pending-notification check failed, message will be retried",
                .message_id = m.record->message_id,
                .symbol = c.id.symbol,
                .reason = pending.error().code + ": " + pending.error().message});
      continue;
    }
    if (!pending.value() || !notify(batch, carrier.message_index, c.rule_index, *carrier.tick, deadline)) {
      continue;
    }
    ++batch.report.recovered;
    log_.log({.level = obs::Level::kInfo,
              .message = "pending notification recovered",
              .message_id = m.record->message_id,
              .symbol = c.id.symbol,
              .rule = rules_.rule(c.rule_index).id,
              .fields = {{"receive_count", static_cast<std::int64_t>(m.record->receive_count)}}});
  }
}

void BatchHandler::dead_letter_rejects(Batch& batch, Deadline deadline) {
  for (Batch::Message& m : batch.messages) {
    if (m.failed || m.reject_reason.empty()) continue;
    auto sent = ports_.dead_letters.send(std::string(m.record->body), m.reject_reason,
                                         std::string(m.record->message_id), deadline);
    if (!sent) {
      // Retried by SQS instead; after maxReceiveCount the redrive policy moves it to the DLQ anyway.
      m.failed = true;
      log_.log({.level = obs::Level::kWarn,
                .message = "dead-letter send failed, message will be retried",
                .message_id = m.record->message_id,
                .reason = sent.error().code + ": " + sent.error().message});
      continue;
    }
    ++batch.report.dead_lettered;
    log_.log({.level = obs::Level::kWarn,
              .message = "message dead-lettered",
              .message_id = m.record->message_id,
              .reason = m.reject_reason,
              .fields = {{"dlq_message_id", sent.value()}}});
  }
}

}  // namespace tap
