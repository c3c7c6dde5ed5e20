#include "tap/app/handler.hpp"

#include <algorithm>
#include <deque>
#include <map>
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
// Alerts this instance published, remembered so that a later plan of their symbol confirms them without
// I/O (F5); the oldest are forgotten first, then the ledger answers for them.
constexpr std::size_t kMaxRemembered = 4096;
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

// An alert that awaits its notification: stored by this invocation, or found recorded for a redelivered
// tick (then only if still pending).
struct BatchHandler::Pending {
  const Rule* rule = nullptr;
  const Tick* tick = nullptr;
  std::size_t message_index = 0;
  bool recovered = false;
};

struct BatchHandler::SymbolWork {
  std::string symbol;
  std::vector<SymbolTick> ticks;  // this batch's valid ticks of the symbol, in delivery order
};

// A fire whose alert a commit writes (a new fire of the plan, or a pending fire of the read state the
// commit records stored).
struct BatchHandler::CommitFire {
  const Rule* rule = nullptr;
  const Tick* tick = nullptr;
  std::size_t message_index = 0;
  Position pos;
};

struct BatchHandler::Batch {
  struct Message {
    const SqsRecord* record = nullptr;
    std::vector<Tick> ticks;
    std::string reject_reason;  // empty: nothing to dead-letter
    bool failed = false;
  };

  SqsEvent event;
  std::vector<Message> messages;
  std::deque<Tick> held_ticks;  // alert ticks rebuilt from a state's held ticks (stable addresses)
  std::vector<Pending> to_notify;
  std::set<AlertId> to_notify_ids;
  BatchReport report;
  std::int64_t publish_by_micros = 0;  // this invocation's deadline on the wall clock

  void notify_later(const Rule& rule, const Tick& tick, std::size_t message_index, bool recovered) {
    if (to_notify_ids.insert(alert_id(rule, tick)).second) {
      to_notify.push_back({&rule, &tick, message_index, recovered});
    }
  }
  std::string_view message_id(std::size_t m) const { return messages[m].record->message_id; }
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
  count("TicksBeyondWindow", report.beyond_window);
  count("OutOfBand", report.out_of_band);
  count("SuspendedTicks", report.suspended);
  count("FutureTicks", report.future_ticks);
  count("ModeChoices", report.mode_choices);
  count("StateWrites", report.state_writes);
  count("StateConflicts", report.state_conflicts);
  count("StateBytesWritten", report.state_bytes_written);
  count("FailedMessages", report.failed_message_ids.size());
  count("Retries", retries);
  (void)record.put("Duration", static_cast<double>(duration.count()) / 1000.0, obs::Unit::kMilliseconds);
  return record;
}

BatchHandler::BatchHandler(const RuleSet& rules, HandlerPorts ports, const obs::Logger& log,
                           WallClock wall_clock, EngineLimits limits, Controls controls)
    : rules_(rules),
      ports_(ports),
      log_(log),
      wall_clock_(std::move(wall_clock)),
      limits_(limits),
      controls_(std::move(controls)),
      index_(rules) {
  for (std::size_t i = 0; i < rules_.rules().size(); ++i) {
    by_version_[{rules_.rule(i).id, rules_.rule(i).version}] = i;
  }
}

std::int64_t BatchHandler::now_micros() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(wall_clock_().time_since_epoch()).count();
}

Result<BatchReport> BatchHandler::handle(std::string_view event_json, Deadline deadline) {
  auto event = parse_sqs_event(event_json);
  if (!event) return event.error();
  Batch batch;
  batch.event = std::move(event).value();
  batch.publish_by_micros =
      now_micros() +
      std::chrono::duration_cast<std::chrono::microseconds>(deadline - SteadyClock::now()).count();
  batch.messages.resize(batch.event.records.size());
  // R3: ticks more than F ahead of this clock are rejected, never applied.
  const std::int64_t future_from = now_micros() + kMaxFutureMicros;
  for (std::size_t i = 0; i < batch.event.records.size(); ++i) {
    Batch::Message& m = batch.messages[i];
    m.record = &batch.event.records[i];
    auto parsed = parse_record_ticks(*m.record);  // an undecodable body (F2) is rejected like a bad one
    if (!parsed) {
      m.reject_reason = parsed.error().message;
      ++batch.report.rejected_ticks;
    } else {
      std::vector<Reject> rejects = std::move(parsed->rejects);
      std::set<std::size_t> rejected;
      for (const Reject& r : rejects) rejected.insert(r.index);
      std::size_t body_index = 0;
      for (Tick& t : parsed->ticks) {
        while (rejected.contains(body_index)) ++body_index;
        if (t.ts.micros > future_from) {
          ++batch.report.future_ticks;
          rejects.push_back({body_index, "tick[" + std::to_string(body_index) + "].timestamp: " +
                                             std::string(kFutureTimestampReason) + " (more than " +
                                             std::to_string(kMaxFutureMicros / kMicrosPerSecond) +
                                             " s ahead of the function's clock)"});
        } else {
          m.ticks.push_back(std::move(t));
        }
        ++body_index;
      }
      std::stable_sort(rejects.begin(), rejects.end(),
                       [](const Reject& a, const Reject& b) { return a.index < b.index; });
      m.reject_reason = join_rejects(rejects);
      batch.report.rejected_ticks += rejects.size();
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

  // The valid ticks grouped by symbol, symbols in first-seen order, ticks in delivery order (pointers into
  // the messages' tick vectors: stable from here on).
  std::vector<SymbolWork> works;
  std::map<std::string_view, std::size_t> work_of;
  for (std::size_t i = 0; i < batch.messages.size(); ++i) {
    for (const Tick& t : batch.messages[i].ticks) {
      const auto [it, added] = work_of.try_emplace(t.symbol, works.size());
      if (added) works.push_back({t.symbol, {}});
      works[it->second].ticks.push_back({&t, i});
    }
  }
  if (!works.empty()) {
    std::vector<std::string> symbols;
    for (const SymbolWork& w : works) symbols.push_back(w.symbol);
    auto loaded = ports_.state.load(symbols, deadline);
    for (SymbolWork& w : works) {
      if (!loaded) {
        fail_symbol(batch, w, "state read failed, message will be retried",
                    loaded.error().code + ": " + loaded.error().message);
      } else {
        process_symbol(batch, w, loaded->at(w.symbol), deadline);
      }
    }
  }
  notify_all(batch, deadline);
  dead_letter_rejects(batch, deadline);

  for (const Batch::Message& m : batch.messages) {
    if (m.failed) batch.report.failed_message_ids.emplace_back(m.record->message_id);
  }
  return std::move(batch.report);
}

void BatchHandler::fail_symbol(Batch& batch, const SymbolWork& work, std::string_view message,
                               std::string_view reason) {
  std::set<std::size_t> failed;
  for (const SymbolTick& t : work.ticks) failed.insert(t.message_index);
  for (const std::size_t m : failed) {
    batch.messages[m].failed = true;
    log_.log({.level = obs::Level::kWarn,
              .message = std::string(message),
              .message_id = batch.message_id(m),
              .symbol = work.symbol,
              .reason = std::string(reason)});
  }
}

// The tick an alert is keyed by: one of this batch's ticks, or a held tick of an earlier batch (a crossing
// revealed by a late tick), rebuilt from what the state holds of it.
const Tick* BatchHandler::alert_tick(Batch& batch, const SymbolWork& work, const SymbolState& state,
                                     const Position& pos, std::size_t& message_index) const {
  // The tick at that position in this batch (its own delivery), else the state's held tick rebuilt.
  for (const SymbolTick& t : work.ticks) {
    if (Position{t.tick->ts.micros, t.tick->seq} == pos) {
      message_index = t.message_index;
      return t.tick;
    }
  }
  message_index = work.ticks.front().message_index;
  const auto held = std::find_if(state.ticks.begin(), state.ticks.end(),
                                 [&pos](const HeldTick& h) { return h.pos == pos; });
  if (held == state.ticks.end()) return nullptr;
  return &batch.held_ticks.emplace_back(Tick{.symbol = work.symbol,
                                             .price = held->price,
                                             .ts = {pos.ts_micros},
                                             .volume = {},
                                             .bid = {},
                                             .ask = {},
                                             .seq = pos.seq});
}

const Rule* BatchHandler::version_of(const FireRecord& r) const {
  const auto found = by_version_.find({r.rule_id, r.version});
  return found == by_version_.end() ? nullptr : &rules_.rule(found->second);
}

void BatchHandler::count_fates(Batch& batch, const SymbolPlan& plan) {
  for (const TickFate fate : plan.fates) {
    switch (fate) {
      case TickFate::applied:
        break;
      case TickFate::beyond_window:
        ++batch.report.beyond_window;
        ++batch.report.late_ticks;
        break;
      case TickFate::duplicate:
        ++batch.report.late_ticks;
        break;
      case TickFate::suspended:
        ++batch.report.suspended;
        break;
      case TickFate::out_of_band:
        ++batch.report.out_of_band;
        break;
    }
  }
  batch.report.mode_choices += plan.mode_choices;
}

void BatchHandler::process_symbol(Batch& batch, SymbolWork& work, const LoadedState& loaded,
                                  Deadline deadline) {
  if (loaded.error) {
    fail_symbol(batch, work, "state item unreadable, message will be retried",
                loaded.error->code + ": " + loaded.error->message);
    return;
  }
  SymbolState state = loaded.state;
  static const SymbolControls kNone;
  const auto found_controls = controls_.find(work.symbol);
  const SymbolControls& controls = found_controls == controls_.end() ? kNone : found_controls->second;
  std::set<AlertId> existing;  // alerts found stored already: recorded stored, not written again
  std::span<const SymbolTick> ticks = work.ticks;  // the first commit applies them; later ones complete
  ConfirmedFires confirmed;
  int retries = 0;
  while (true) {
    confirm_fires(batch, work, state, confirmed, deadline);
    SymbolPlan plan = plan_symbol(index_, work.symbol, state, ticks, controls, once_, limits_, confirmed);
    // The commit's transaction: the state, then the alerts (and `once` markers) of the fires it records
    // stored -- pending fires of the read state first, then new ones -- as many as one transaction holds.
    // A fire that does not fit stays recorded pending: a later commit stores it.
    std::vector<AlertRecord> alerts;
    std::vector<OnceMarker> markers;
    std::vector<CommitFire> written;
    std::vector<CommitFire> found;  // recorded stored whose alert exists already
    std::size_t items = 1;
    // `record`: the fire as the plan records it (rule id, version, position, arming); `rule` its version when
    // loaded. A fire the plan recorded pending is left to a later commit.
    const auto add = [&](const FireRecord& fire, const Rule* rule, const Tick* tick,
                         std::size_t message_index) {
      if (!fire.stored) return;
      const auto leave_pending = [&] {
        // The plan holds it: a fire not notified is never pruned (symbol_engine.hpp), and this one is new
        // or pending.
        const auto at =
            std::find_if(plan.next.fires.begin(), plan.next.fires.end(), [&](const FireRecord& r) {
              return r.rule_id == fire.rule_id && r.version == fire.version && r.tick == fire.tick;
            });
        at->stored = false;
      };
      if (rule == nullptr || tick == nullptr) {
        leave_pending();  // no version or tick to build its alert from here
        return;
      }
      const AlertId id = alert_id(*rule, *tick);
      if (existing.contains(id)) {
        found.push_back({rule, tick, message_index, fire.tick});
        return;
      }
      const bool once = rule->mode == TriggerMode::once;
      if (items + (once ? 2 : 1) > kMaxCommitItems) {
        leave_pending();
        return;
      }
      items += once ? 2 : 1;
      alerts.push_back(
          {{rule, tick, batch.message_id(message_index)}, now_micros(), batch.publish_by_micros});
      // The arming the fire consumed (a pending fire keeps it in its record; a new one: its version's).
      if (once) markers.push_back({rule->id, fire.once_arming.value_or(rule->arming), id});
      written.push_back({rule, tick, message_index, fire.tick});
    };
    for (const FireRecord& r : plan.completing) {
      std::size_t message_index = 0;
      // Held by the state planned on, or by the one first read (later commits may have trimmed it).
      const Tick* tick = alert_tick(batch, work, state, r.tick, message_index);
      if (tick == nullptr) tick = alert_tick(batch, work, loaded.state, r.tick, message_index);
      add(r, version_of(r), tick, message_index);
    }
    for (const NewFire& f : plan.fires) {
      const Rule& rule = rules_.rule(f.rule_index);
      std::size_t message_index = work.ticks[f.cause].message_index;
      const Tick* tick = nullptr;
      if (f.input_tick) {
        tick = work.ticks[*f.input_tick].tick;
        message_index = work.ticks[*f.input_tick].message_index;
      } else {
        tick = &batch.held_ticks.emplace_back(Tick{.symbol = work.symbol,
                                                   .price = f.at.price,
                                                   .ts = {f.at.pos.ts_micros},
                                                   .volume = {},
                                                   .bid = {},
                                                   .ask = {},
                                                   .seq = f.at.pos.seq});
      }
      FireRecord record;
      record.rule_id = rule.id;
      record.version = rule.version;
      record.tick = f.at.pos;
      record.crossing = is_crossing(rule.condition);
      record.stored = f.stored;
      if (rule.mode == TriggerMode::once) record.once_arming = rule.arming;
      add(record, &rule, tick, message_index);
    }
    if (plan.write_needed || !plan.fires.empty() || !plan.completing.empty()) {
      auto outcome = ports_.state.commit(work.symbol, state, plan.next, alerts, markers, deadline);
      if (!outcome) {
        fail_symbol(batch, work, "state write failed, message will be retried",
                    outcome.error().code + ": " + outcome.error().message);
        return;
      }
      if (outcome->status != WriteOutcome::Status::applied) {
        if (outcome->status == WriteOutcome::Status::conflict) {
          ++batch.report.state_conflicts;
          state = std::move(outcome->current);
        }
        // A taken `once` arming is learnt for good (markers are never removed); an alert that exists is
        // recorded stored without writing it again. Both re-plan on the same state.
        for (const std::size_t m : outcome->markers_taken)
          once_.insert({markers[m].rule_id, markers[m].arming});
        for (const std::size_t a : outcome->alerts_existing)
          existing.insert(alert_id(*alerts[a].alert.rule, *alerts[a].alert.tick));
        if (++retries > kMaxReplans) break;
        continue;
      }
      ++batch.report.state_writes;
      batch.report.state_bytes_written += outcome->bytes_written;
      state = std::move(plan.next);
      state.exists = true;
    }
    for (const NewFire& f : plan.fires) index_.note_fire(f.rule_index, work.symbol, f.at.pos.ts_micros);
    for (const CommitFire& c : written) {
      ++batch.report.alerts;
      batch.notify_later(*c.rule, *c.tick, c.message_index, false);
      log_.log({.level = obs::Level::kInfo,
                .message = "alert stored",
                .message_id = batch.message_id(c.message_index),
                .symbol = work.symbol,
                .rule = c.rule->id,
                .fields = {{"tick_timestamp", c.tick->ts.text()}, {"price", c.tick->price}}});
    }
    for (const CommitFire& c : found) batch.notify_later(*c.rule, *c.tick, c.message_index, true);
    if (!ticks.empty()) {
      count_fates(batch, plan);
      ticks = {};
    }
    // A burst: the fires still pending are stored by further commits, each its own transaction. Stop when
    // none is left or a commit stored none (then a later commit of the symbol completes them).
    const bool pending =
        std::any_of(state.fires.begin(), state.fires.end(), [](const FireRecord& r) { return !r.stored; });
    if (!pending || written.empty()) return;
  }
  fail_symbol(batch, work, "state kept changing under concurrent writers, message will be retried",
              "too many compare-and-swap conflicts");
}

void BatchHandler::remember(const AlertId& id) {
  if (!published_.insert(id).second) return;
  published_order_.push_back(id);
  if (published_order_.size() > kMaxRemembered) {
    published_.erase(published_order_.front());
    published_order_.pop_front();
  }
}

void BatchHandler::confirm_fires(Batch& batch, const SymbolWork& work, const SymbolState& state,
                                 ConfirmedFires& confirmed, Deadline deadline) {
  for (const FireRecord& f : state.fires) {
    if (!awaits_confirmation(f) || confirmed.contains({f.rule_id, f.tick})) continue;
    const AlertId id{work.symbol, f.tick.ts_micros, f.rule_id};
    if (batch.to_notify_ids.contains(id)) continue;  // stored by this batch: notified after its commits
    if (published_.contains(id)) {
      confirmed.insert({f.rule_id, f.tick});
      continue;
    }
    auto pending = ports_.ledger.pending(id, deadline);
    if (!pending) {
      fail_symbol(batch, work, "pending-notification check failed, message will be retried",
                  pending.error().code + ": " + pending.error().message);
      return;
    }
    if (!pending->has_value()) {  // notified (by whoever): nothing is left to do for it
      confirmed.insert({f.rule_id, f.tick});
      continue;
    }
    PendingAlert& stored = *pending.value();
    const Rule* rule = version_of(f);
    // The invocation that stored it may still publish it until its deadline: then it is left to that one
    // -- unless this batch holds the message that stored it or a tick at its position (a redelivery or a
    // redrive: SQS hands a message out again only once the invocation holding it has ended). A version
    // not loaded here: left to a container that has it.
    const bool storer_ended = std::any_of(work.ticks.begin(), work.ticks.end(), [&](const SymbolTick& t) {
      return batch.message_id(t.message_index) == stored.message_id ||
             Position{t.tick->ts.micros, t.tick->seq} == f.tick;
    });
    if (rule == nullptr || (!storer_ended && stored.publish_by_micros > now_micros())) continue;
    stored.tick.seq = f.tick.seq;
    const Alert alert{rule, &stored.tick, stored.message_id};
    auto published = ports_.notifier.publish(sns_notification(alert, now_micros()), deadline);
    if (!published) {
      fail_symbol(batch, work, "notification failed, message will be retried",
                  published.error().code + ": " + published.error().message);
      return;
    }
    ++batch.report.notifications;
    ++batch.report.recovered;
    log_.log({.level = obs::Level::kInfo,
              .message = "pending notification recovered",
              .message_id = stored.message_id,
              .symbol = work.symbol,
              .rule = rule->id,
              .fields = {{"receive_count",
                          static_cast<std::int64_t>(
                              batch.messages[work.ticks.front().message_index].record->receive_count)}}});
    auto marked = ports_.ledger.mark_sent(id, published.value(), now_micros(), deadline);
    if (!marked) {
      log_.log({.level = obs::Level::kError,
                .message = "notification sent but not recorded",
                .message_id = stored.message_id,
                .symbol = work.symbol,
                .rule = rule->id,
                .reason = marked.error().code + ": " + marked.error().message});
    }
    remember(id);
    confirmed.insert({f.rule_id, f.tick});
  }
}

bool BatchHandler::notify(Batch& batch, const Pending& alert, Deadline deadline) {
  Batch::Message& m = batch.messages[alert.message_index];
  const Rule& rule = *alert.rule;
  const Tick& tick = *alert.tick;
  const AlertId id = alert_id(rule, tick);
  if (alert.recovered) {
    auto pending = ports_.ledger.pending(id, deadline);
    if (!pending) {
      m.failed = true;
      log_.log({.level = obs::Level::kWarn,
                .message = "pending-notification check failed, message will be retried",
                .message_id = m.record->message_id,
                .symbol = tick.symbol,
                .rule = rule.id,
                .reason = pending.error().code + ": " + pending.error().message});
      return false;
    }
    // Notified already, or its storing invocation may still publish it (the fire's record confirms it).
    if (!pending->has_value() || pending.value()->publish_by_micros > now_micros()) return false;
  }
  const Alert a{&rule, &tick, m.record->message_id};
  auto published = ports_.notifier.publish(sns_notification(a, now_micros()), deadline);
  if (!published) {
    // The alert stays pending; the redelivered message finds its fire recorded and notifies (to_complete).
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
  remember(id);
  if (alert.recovered) {
    ++batch.report.recovered;
    log_.log({.level = obs::Level::kInfo,
              .message = "pending notification recovered",
              .message_id = m.record->message_id,
              .symbol = tick.symbol,
              .rule = rule.id,
              .fields = {{"receive_count", static_cast<std::int64_t>(m.record->receive_count)}}});
  }
  auto marked = ports_.ledger.mark_sent(id, published.value(), now_micros(), deadline);
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

void BatchHandler::notify_all(Batch& batch, Deadline deadline) {
  // Store before publish (every alert here is stored), publish before mark (notify).
  for (const Pending& p : batch.to_notify) (void)notify(batch, p, deadline);
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
