#include "tap/app/handler.hpp"

#include <algorithm>
#include <cstdio>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <thread>
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
// Retired versions (kept in rules_ until the next full build) allowed beyond the current ones.
constexpr std::size_t kMinRetiredBeforeRebuild = 1024;
// Kept free before the invocation's deadline: no commit, claim or publish is started within it (at most a
// tenth of the invocation's time, so that a short timeout still leaves work time). A call started before it
// may run through four fifths of it -- a publish cut short may have gone out, and a retry would repeat it --
// and the last fifth is left for failing what is unfinished and the response.
constexpr std::chrono::microseconds kReportMargin = std::chrono::seconds(1);
constexpr int kReplyShareOfMargin = 5;  // the response's share of the margin: 1/5
constexpr std::string_view kDeadlineNear = "deadline near, message will be retried";
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

// The gate of the fan_out task running on this thread; null on a thread that runs no task (the calling
// thread, and every call without overlap).
thread_local std::unique_lock<std::mutex>* t_gate = nullptr;

// The task's gate let go for a scope (a class, not inside the template below, so that its lines are one
// function's for coverage).
class GateReleased {
 public:
  GateReleased() : gate_(t_gate) {
    if (gate_ != nullptr) gate_->unlock();
  }
  ~GateReleased() {
    if (gate_ != nullptr) gate_->lock();
  }
  GateReleased(const GateReleased&) = delete;
  GateReleased& operator=(const GateReleased&) = delete;

 private:
  std::unique_lock<std::mutex>* gate_;
};

// A port call: the task's gate is let go for the round trip, so that other tasks decide meanwhile. What the
// call reads is the task's own (built under the gate before, read under it after).
template <class Call>
auto unlocked(Call&& call) {
  const GateReleased released;
  return call();
}

}  // namespace

// An alert that awaits its notification: stored by this invocation, or found recorded for a redelivered
// tick (then only if still pending).
struct BatchHandler::Pending {
  const Rule* rule = nullptr;
  const Tick* tick = nullptr;
  std::size_t message_index = 0;
  bool recovered = false;
  bool unvouched = false;  // the fire's flag (a recovered alert's is read back from its item)
  std::size_t order = 0;   // its symbol's SymbolWork::order: notifications go out in the symbols' order
};

struct BatchHandler::SymbolWork {
  std::size_t order = 0;  // first-seen order in the batch
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
  bool unvouched = false;
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
  // Published notifications of new alerts, marked sent together after the publishes (publish before mark).
  struct Mark {
    Alert alert;
    std::string sns_message_id;
  };
  std::vector<Mark> marks;
  BatchReport report;
  std::int64_t publish_by_micros = 0;  // this invocation's deadline on the wall clock
  std::int64_t work_by_micros = 0;     // the deadline minus the report margin, on the wall clock
  std::string claimant;                // this invocation's token in recovery claims (F5)

  void notify_later(const Rule& rule, const Tick& tick, std::size_t message_index, bool recovered,
                    bool unvouched, std::size_t order) {
    if (to_notify_ids.insert(alert_id(rule, tick)).second) {
      to_notify.push_back({&rule, &tick, message_index, recovered, unvouched, order});
    }
  }
  std::string_view message_id(std::size_t m) const { return messages[m].record->message_id; }
  bool holds_message(std::string_view id) const {
    return std::any_of(messages.begin(), messages.end(),
                       [id](const Message& m) { return m.record->message_id == id; });
  }
};

// The messages a notification answers for: failed when its check or publish fails; the first one's receive
// count is logged with a recovery.
struct BatchHandler::Answerable {
  std::set<std::size_t> messages;
  std::string_view symbol;
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
  count("Rules", report.rules);
  count("RuleRefreshes", report.rule_refreshes);
  count("InvalidRules", report.invalid_rules);
  count("StaleTicks", report.stale_ticks);
  count("TicksBeforeRules", report.ticks_before_rules);
  (void)record.put("RuleSetAgeMs", static_cast<double>(report.rule_set_age_ms), obs::Unit::kMilliseconds);
  if (report.feed_clock_offset_ms) {
    (void)record.put("FeedClockOffsetMs", static_cast<double>(*report.feed_clock_offset_ms),
                     obs::Unit::kMilliseconds);
  }
  count("Retries", retries);
  (void)record.put("Duration", static_cast<double>(duration.count()) / 1000.0, obs::Unit::kMilliseconds);
  return record;
}

namespace {

std::vector<SymbolControlRecord> control_records(const BatchHandler::Controls& controls) {
  std::vector<SymbolControlRecord> out;
  for (const auto& [symbol, c] : controls) out.push_back({symbol, c});
  return out;
}

}  // namespace

BatchHandler::BatchHandler(std::unique_ptr<RuleSource> owned, RuleSource* source, HandlerPorts ports,
                           const obs::Logger& log, WallClock wall_clock, EngineLimits limits,
                           std::int64_t max_notify_age_seconds)
    : owned_source_(std::move(owned)),
      source_(source != nullptr ? *source : *owned_source_),
      ports_(ports),
      log_(log),
      wall_clock_(std::move(wall_clock)),
      limits_(limits),
      max_notify_age_seconds_(max_notify_age_seconds) {
  rebuild_rules();  // what the source shows now (a cache loaded at init: its index is built at init too)
}

BatchHandler::BatchHandler(RuleSource& source, HandlerPorts ports, const obs::Logger& log,
                           WallClock wall_clock, EngineLimits limits, std::int64_t max_notify_age_seconds)
    : BatchHandler(nullptr, &source, ports, log, std::move(wall_clock), limits, max_notify_age_seconds) {}

BatchHandler::BatchHandler(const RuleSet& rules, HandlerPorts ports, const obs::Logger& log,
                           WallClock wall_clock, EngineLimits limits, Controls controls)
    : BatchHandler(std::make_unique<DocumentRuleSource>(rules.rules(), control_records(controls)), nullptr,
                   ports, log, std::move(wall_clock), limits, kDefaultMaxNotifyAgeSeconds) {}

void BatchHandler::rebuild_rules() {
  // A refresh's changes update the index in place, between batches (nothing reads it then), keeping the
  // fires it noted; once retired versions outnumber the current ones, the index is built anew (so the slots
  // retired versions keep cost O(1) per change, amortised).
  if (const VersionChanges* changes = source_.changes_since(generation_);
      changes != nullptr && rules_.rules().size() <= 2 * by_version_.size() + kMinRetiredBeforeRebuild) {
    update_rules(*changes);
    return;
  }
  index_.reset();  // it refers to rules_
  rules_ = RuleSet(source_.versions());
  index_ = std::make_unique<RuleIndex>(rules_);
  by_version_.clear();
  first_window_micros_ = std::numeric_limits<std::int64_t>::min();  // no version: no tick is before them
  for (std::size_t i = 0; i < rules_.rules().size(); ++i) {
    const Rule& r = rules_.rule(i);
    by_version_[{r.id, r.version}] = i;
    first_window_micros_ =
        i == 0 ? r.window.from_micros : std::min(first_window_micros_, r.window.from_micros);
  }
  controls_.clear();
  for (const SymbolControlRecord& c : source_.controls()) controls_[c.symbol] = c.controls;
  generation_ = source_.generation();
}

void BatchHandler::update_rules(const VersionChanges& changes) {
  std::vector<std::uint32_t> removed, added;
  bool first_removed = false;  // the earliest window start may have left: found again (O(n), rare)
  for (const auto& key : changes.removed) {
    const auto it = by_version_.find(key);  // held: the changes are from the generation this shows
    removed.push_back(static_cast<std::uint32_t>(it->second));
    first_removed = first_removed || rules_.rule(it->second).window.from_micros == first_window_micros_;
    by_version_.erase(it);
  }
  for (const Rule& r : changes.added) {
    const std::uint32_t i = rules_.append(r);
    by_version_[{r.id, r.version}] = i;
    added.push_back(i);
  }
  index_->update(removed, added);
  if (first_removed || by_version_.empty()) {
    first_window_micros_ = std::numeric_limits<std::int64_t>::min();  // no version: no tick is before them
    bool any = false;
    for (const auto& [key, i] : by_version_) {
      const std::int64_t from = rules_.rule(i).window.from_micros;
      first_window_micros_ = any ? std::min(first_window_micros_, from) : from;
      any = true;
    }
  } else {
    for (const Rule& r : changes.added)
      first_window_micros_ = std::min(first_window_micros_, r.window.from_micros);
  }
  controls_.clear();
  for (const SymbolControlRecord& c : source_.controls()) controls_[c.symbol] = c.controls;
  generation_ = source_.generation();
}

std::int64_t BatchHandler::now_micros() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(wall_clock_().time_since_epoch()).count();
}

bool BatchHandler::out_of_time(const Batch& batch) const { return now_micros() >= batch.work_by_micros; }

Result<BatchReport> BatchHandler::handle(std::string_view event_json, Deadline deadline) {
  auto event = parse_sqs_event(event_json);
  if (!event) return event.error();
  Batch batch;
  batch.event = std::move(event).value();
  batch.claimant = claimant_token();
  const auto budget = std::chrono::duration_cast<std::chrono::microseconds>(deadline - SteadyClock::now());
  const auto margin = std::min(kReportMargin, budget / 10);
  batch.publish_by_micros = now_micros() + budget.count();
  batch.work_by_micros = batch.publish_by_micros - margin.count();
  // Every call ends by then, so that the unfinished messages are reported before the deadline.
  const Deadline calls_by = deadline - margin / kReplyShareOfMargin;
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
  select_ticks(batch, calls_by);

  // The valid ticks grouped by symbol, symbols in first-seen order, ticks in delivery order (pointers into
  // the messages' tick vectors: stable from here on).
  std::vector<SymbolWork> works;
  std::map<std::string_view, std::size_t> work_of;
  for (std::size_t i = 0; i < batch.messages.size(); ++i) {
    for (const Tick& t : batch.messages[i].ticks) {
      const auto [it, added] = work_of.try_emplace(t.symbol, works.size());
      if (added) works.push_back({works.size(), t.symbol, {}});
      works[it->second].ticks.push_back({&t, i});
    }
  }
  if (!works.empty()) {
    // Planned on the state kept from this container's last commit of the symbol when there is one (its
    // compare-and-swap refuses it if stale); the others read in one round.
    LoadedStates states;
    std::set<std::string_view> kept;
    std::vector<std::string> symbols;
    for (const SymbolWork& w : works) {
      if (const SymbolState* k = kept_state(w.symbol)) {
        states[w.symbol].state = *k;
        kept.insert(w.symbol);
      } else {
        symbols.push_back(w.symbol);
      }
    }
    if (!symbols.empty()) {
      auto loaded = ports_.state.load(symbols, calls_by);
      if (!loaded) {
        for (SymbolWork& w : works) {
          if (kept.contains(w.symbol)) continue;
          fail_symbol(batch, w, "state read failed, message will be retried",
                      loaded.error().code + ": " + loaded.error().message);
        }
      } else {
        states.merge(loaded.value());
      }
    }
    // The symbols' work overlaps; each symbol's compare-and-swap commits stay in order in its task.
    fan_out(works.size(), [&](std::size_t i) {
      const auto found = states.find(works[i].symbol);
      if (found == states.end()) return;  // its read failed
      process_symbol(batch, works[i], found->second, kept.contains(works[i].symbol), calls_by);
    });
  }
  notify_all(batch, calls_by);
  dead_letter_rejects(batch, calls_by);

  for (const Batch::Message& m : batch.messages) {
    if (m.failed) batch.report.failed_message_ids.emplace_back(m.record->message_id);
  }
  return std::move(batch.report);
}

void BatchHandler::select_ticks(Batch& batch, Deadline deadline) {
  std::optional<std::int64_t> newest;
  for (const Batch::Message& m : batch.messages) {
    for (const Tick& t : m.ticks) newest = std::max(newest.value_or(t.ts.micros), t.ts.micros);
  }
  const std::int64_t now = now_micros();
  if (newest) {
    // Never refuses ticks (that is F's job): it measures the feed's lag, or this clock's offset (F8).
    batch.report.feed_clock_offset_ms = (now - *newest) / 1000;
    auto coverage = source_.cover(*newest, deadline);
    if (!coverage) {
      // Never evaluated against a rule set that may lack a change: every message with ticks is retried.
      for (Batch::Message& m : batch.messages) {
        if (m.ticks.empty()) continue;
        m.failed = true;
        m.ticks.clear();
        log_.log({.level = obs::Level::kWarn,
                  .message = "rules unavailable, message will be retried",
                  .message_id = m.record->message_id,
                  .reason = coverage.error().code + ": " + coverage.error().message});
      }
    } else {
      batch.report.rule_refreshes = coverage->refreshed ? 1 : 0;
      batch.report.invalid_rules = coverage->invalid;
      for (const std::string& item : coverage->invalid_items) {
        log_.log({.level = obs::Level::kWarn, .message = "invalid rule skipped", .reason = item});
      }
      if (source_.generation() != generation_) {
        rebuild_rules();
        ++batch.report.index_rebuilds;
      }
      const std::int64_t stale_before = source_.horizon_micros() ? now - *source_.horizon_micros()
                                                                 : std::numeric_limits<std::int64_t>::min();
      for (Batch::Message& m : batch.messages) {
        const auto uncovered = std::find_if(m.ticks.begin(), m.ticks.end(), [&](const Tick& t) {
          return t.ts.micros >= coverage->covered_until;
        });
        if (uncovered != m.ticks.end()) {
          // A change may still take effect at this tick: evaluated once the source covers it.
          m.failed = true;
          log_.log({.level = obs::Level::kWarn,
                    .message = "rules not yet covering the tick, message will be retried",
                    .message_id = m.record->message_id,
                    .symbol = uncovered->symbol,
                    .fields = {{"tick_timestamp", uncovered->ts.text()},
                               {"covered_until", Timestamp{coverage->covered_until}.text()}}});
          m.ticks.clear();
          continue;
        }
        // R4: beyond the retention horizon, the versions that applied may be gone: acknowledged unevaluated.
        batch.report.stale_ticks +=
            std::erase_if(m.ticks, [&](const Tick& t) { return t.ts.micros < stale_before; });
        batch.report.ticks_before_rules +=
            static_cast<std::uint64_t>(std::count_if(m.ticks.begin(), m.ticks.end(), [this](const Tick& t) {
              return t.ts.micros < first_window_micros_;
            }));
      }
    }
  }
  batch.report.rules = by_version_.size();
  batch.report.rule_set_age_ms = source_.age_micros() / 1000;
}

BatchHandler::Answerable BatchHandler::answerable(const SymbolWork& work) {
  Answerable out{{}, work.symbol};
  for (const SymbolTick& t : work.ticks) out.messages.insert(t.message_index);
  return out;
}

void BatchHandler::fail(Batch& batch, const Answerable& who, std::string_view rule, std::string_view message,
                        std::string_view reason) {
  for (const std::size_t m : who.messages) {
    batch.messages[m].failed = true;
    log_.log({.level = obs::Level::kWarn,
              .message = std::string(message),
              .message_id = batch.message_id(m),
              .symbol = std::string(who.symbol),
              .rule = std::string(rule),
              .reason = std::string(reason)});
  }
}

void BatchHandler::fail_symbol(Batch& batch, const SymbolWork& work, std::string_view message,
                               std::string_view reason) {
  fail(batch, answerable(work), {}, message, reason);
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

void BatchHandler::process_symbol(Batch& batch, SymbolWork& work, const LoadedState& loaded, bool cached,
                                  Deadline deadline) {
  // Kept again only where the symbol's work ends normally, with the state it stored or was handed.
  forget_state(work.symbol);
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
    // Out of time: nothing more is started for the symbol. Its messages come back and their delivery goes
    // on where this one stopped: ticks applied stay applied, fires recorded pending are stored first,
    // stored alerts not confirmed are recovered.
    if (out_of_time(batch)) {
      fail_symbol(batch, work, kDeadlineNear, "the invocation's deadline is less than its margin away");
      return;
    }
    SymbolPlan plan = plan_symbol(*index_, work.symbol, state, ticks, controls, once_, limits_, confirmed);
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
        found.push_back({rule, tick, message_index, fire.tick, fire.unvouched});
        return;
      }
      const bool once = rule->mode == TriggerMode::once;
      if (items + (once ? 2 : 1) > kMaxCommitItems) {
        leave_pending();
        return;
      }
      items += once ? 2 : 1;
      alerts.push_back({{rule, tick, batch.message_id(message_index), fire.unvouched},
                        now_micros(),
                        batch.publish_by_micros});
      // The arming the fire consumed (a pending fire keeps it in its record; a new one: its version's).
      if (once) markers.push_back({rule->id, fire.once_arming.value_or(rule->arming), id});
      written.push_back({rule, tick, message_index, fire.tick, fire.unvouched});
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
      record.unvouched = f.unvouched;
      if (rule.mode == TriggerMode::once) record.once_arming = rule.arming;
      add(record, &rule, tick, message_index);
    }
    if (cached && !plan.write_needed && plan.fires.empty() && plan.completing.empty()) {
      // Nothing to commit: no compare-and-swap proves the kept state current, so it is read and the symbol
      // planned again on what is stored (every decision stands on a state read or proven current).
      cached = false;
      const std::string symbols[] = {work.symbol};
      auto fresh = unlocked([&] { return ports_.state.load(symbols, deadline); });
      if (!fresh) {
        fail_symbol(batch, work, "state read failed, message will be retried",
                    fresh.error().code + ": " + fresh.error().message);
        return;
      }
      LoadedState& now = fresh->begin()->second;
      if (now.error) {
        fail_symbol(batch, work, "state item unreadable, message will be retried",
                    now.error->code + ": " + now.error->message);
        return;
      }
      state = std::move(now.state);
      continue;
    }
    if (plan.write_needed || !plan.fires.empty() || !plan.completing.empty()) {
      auto outcome = unlocked(
          [&] { return ports_.state.commit(work.symbol, state, plan.next, alerts, markers, deadline); });
      // Any answer proves what the state is: the one planned on (applied, or refused for an alert or a
      // marker: its revision held) or the one handed back.
      cached = false;
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
    for (const NewFire& f : plan.fires) index_->note_fire(f.rule_index, work.symbol, f.at.pos.ts_micros);
    for (const CommitFire& c : written) {
      ++batch.report.alerts;
      batch.notify_later(*c.rule, *c.tick, c.message_index, false, c.unvouched, work.order);
      log_.log({.level = obs::Level::kInfo,
                .message = "alert stored",
                .message_id = batch.message_id(c.message_index),
                .symbol = work.symbol,
                .rule = c.rule->id,
                .fields = {{"tick_timestamp", c.tick->ts.text()}, {"price", c.tick->price}}});
    }
    for (const CommitFire& c : found)
      batch.notify_later(*c.rule, *c.tick, c.message_index, true, c.unvouched, work.order);
    if (!ticks.empty()) {
      count_fates(batch, plan);
      ticks = {};
    }
    // A burst: the fires still pending are stored by further commits, each its own transaction. Stop when
    // none is left or a commit stored none (then a later commit of the symbol completes them).
    const bool pending =
        std::any_of(state.fires.begin(), state.fires.end(), [](const FireRecord& r) { return !r.stored; });
    if (!pending || written.empty()) {
      keep_state(work.symbol, state);
      return;
    }
  }
  fail_symbol(batch, work, "state kept changing under concurrent writers, message will be retried",
              "too many compare-and-swap conflicts");
}

std::size_t kept_state_bytes(const std::string& symbol, const SymbolState& s) {
  std::size_t n = sizeof(SymbolState) + 2 * symbol.capacity() + s.ticks.capacity() * sizeof(HeldTick) +
                  s.fires.capacity() * sizeof(FireRecord);
  for (const FireRecord& f : s.fires) n += f.rule_id.capacity();
  return n;
}

const SymbolState* BatchHandler::kept_state(std::string_view symbol) {
  const auto found = kept_.find(symbol);
  if (found == kept_.end()) return nullptr;
  for (const FireRecord& f : found->second.state.fires) {
    // Another container's alert (or one whose publish failed here) is recovered from a state read, as
    // before: the kept state may show it unconfirmed long after it was confirmed.
    if (awaits_confirmation(f) && !published_.contains({std::string(symbol), f.tick.ts_micros, f.rule_id})) {
      return nullptr;
    }
  }
  kept_order_.splice(kept_order_.end(), kept_order_, found->second.used);
  return &found->second.state;
}

void BatchHandler::keep_state(const std::string& symbol, const SymbolState& state) {
  forget_state(symbol);
  if (max_cached_bytes_ == 0) return;
  KeptState kept{state, 0, {}};  // a copy: its vectors hold no spare capacity
  kept.bytes = kept_state_bytes(symbol, kept.state);
  if (kept.bytes > max_cached_bytes_) return;  // larger than the bound: not kept
  while (kept_bytes_ + kept.bytes > max_cached_bytes_) forget_state(kept_order_.front());
  kept_bytes_ += kept.bytes;
  kept.used = kept_order_.insert(kept_order_.end(), symbol);
  kept_.emplace(symbol, std::move(kept));
}

void BatchHandler::forget_state(std::string_view symbol) {
  const auto found = kept_.find(symbol);
  if (found == kept_.end()) return;
  kept_bytes_ -= found->second.bytes;
  const auto used = found->second.used;  // `symbol` may be its text: erased last
  kept_.erase(found);
  kept_order_.erase(used);
}

void BatchHandler::remember(const AlertId& id) {
  if (!published_.insert(id).second) return;
  published_order_.push_back(id);
  if (published_order_.size() > kMaxRemembered) {
    published_.erase(published_order_.front());
    published_order_.pop_front();
  }
}

std::string BatchHandler::claimant_token() {
  char token[33];
  std::snprintf(token, sizeof token, "%016llx%016llx", static_cast<unsigned long long>(claim_tokens_()),
                static_cast<unsigned long long>(claim_tokens_()));
  return token;
}

void BatchHandler::confirm_fires(Batch& batch, const SymbolWork& work, const SymbolState& state,
                                 ConfirmedFires& confirmed, Deadline deadline) {
  const Answerable who = answerable(work);
  for (const FireRecord& f : state.fires) {
    if (!awaits_confirmation(f) || confirmed.contains({f.rule_id, f.tick})) continue;
    const AlertId id{work.symbol, f.tick.ts_micros, f.rule_id};
    if (batch.to_notify_ids.contains(id)) continue;  // stored by this batch: notified after its commits
    if (out_of_time(batch)) return;  // left unconfirmed: the symbol's messages fail (process_symbol)
    const Rule* rule = version_of(f);
    // Remembered: confirmed without I/O. A version not loaded here: its notification cannot be built, so it
    // is left to a container that has it (a claim would only keep that one waiting).
    if (!published_.contains(id)) {
      if (rule == nullptr) continue;
      // Not exempt from the storer's publish_by by a tick at the alert's position: that tick may be a
      // duplicate in another message while the storer still runs (section 6 of docs/design.md). Only the
      // storing message itself proves its storer ended (recover asks again when the claim names it).
      const Recovery r = recover(batch, id, *rule, f.tick.seq, who, deadline);
      if (r == Recovery::failed) return;  // the symbol's messages fail: their redelivery confirms it
      if (r == Recovery::left) continue;
    }
    confirmed.insert({f.rule_id, f.tick});
  }
}

BatchHandler::Recovery BatchHandler::recover(Batch& batch, const AlertId& id, const Rule& rule,
                                             std::uint32_t seq, const Answerable& who, Deadline deadline) {
  RecoveryClaim claim{batch.claimant, now_micros(), batch.publish_by_micros, false};
  auto outcome = unlocked([&] { return ports_.ledger.claim(id, claim, deadline); });
  // Held, but this batch holds the message that stored it: SQS hands a message out again only once the
  // invocation holding it has ended, so its storer can no longer publish it.
  if (outcome && outcome->status == ClaimOutcome::Status::held &&
      batch.holds_message(outcome->alert.message_id)) {
    claim.storer_ended = true;
    claim.now_micros = now_micros();
    outcome = unlocked([&] { return ports_.ledger.claim(id, claim, deadline); });
  }
  if (!outcome) {
    fail(batch, who, rule.id, "pending-notification check failed, message will be retried",
         outcome.error().code + ": " + outcome.error().message);
    return Recovery::failed;
  }
  switch (outcome->status) {
    case ClaimOutcome::Status::settled:
      return Recovery::settled;  // notified (by whoever): nothing is left to do for it
    case ClaimOutcome::Status::held:
      return Recovery::left;  // another invocation may still publish it; a later batch asks again
    case ClaimOutcome::Status::claimed:
      break;
  }
  // Built from the alert as stored (a fire record holds no price, a held tick no bid or ask).
  PendingAlert& stored = outcome->alert;
  stored.tick.seq = seq;
  return publish(batch, {&rule, &stored.tick, stored.message_id, stored.unvouched}, true, who, deadline)
             ? Recovery::published
             : Recovery::failed;
}

bool BatchHandler::publish(Batch& batch, const Alert& alert, bool recovered, const Answerable& who,
                           Deadline deadline) {
  const SnsNotification notification = sns_notification(alert, now_micros(), max_notify_age_seconds_);
  auto answer = unlocked([&] { return ports_.notifier.publish(notification, deadline); });
  if (!published(batch, alert, answer, recovered, who)) return false;
  mark(alert, who.symbol, answer.value(), deadline);
  return true;
}

bool BatchHandler::published(Batch& batch, const Alert& alert, const Result<std::string, AwsError>& answer,
                             bool recovered, const Answerable& who) {
  if (!answer) {
    // The alert stays pending and its fire unconfirmed: the redelivery, or a later batch of the symbol,
    // notifies it.
    fail(batch, who, alert.rule->id, "notification failed, message will be retried",
         answer.error().code + ": " + answer.error().message);
    if (answer.error().code == kNetworkTimeout) {
      // No answer before the deadline: SNS may have sent it, and the recovery would send it again.
      log_.log({.level = obs::Level::kWarn,
                .message = "notification outcome unknown",
                .message_id = std::string(alert.message_id),
                .symbol = std::string(who.symbol),
                .rule = alert.rule->id,
                .fields = {{"alert_id", to_string(alert_id(*alert.rule, *alert.tick))}}});
    }
    return false;
  }
  ++batch.report.notifications;
  remember(alert_id(*alert.rule, *alert.tick));
  if (recovered) {
    ++batch.report.recovered;
    log_.log(
        {.level = obs::Level::kInfo,
         .message = "pending notification recovered",
         .message_id = std::string(alert.message_id),
         .symbol = std::string(who.symbol),
         .rule = alert.rule->id,
         .fields = {{"receive_count", static_cast<std::int64_t>(
                                          batch.messages[*who.messages.begin()].record->receive_count)}}});
  }
  return true;
}

void BatchHandler::mark(const Alert& alert, std::string_view symbol, const std::string& sns_message_id,
                        Deadline deadline) {
  const AlertId id = alert_id(*alert.rule, *alert.tick);
  const std::int64_t at = now_micros();
  auto marked = unlocked([&] { return ports_.ledger.mark_sent(id, sns_message_id, at, deadline); });
  if (!marked) {
    // The notification went out: retrying the message would notify twice. Keep it acknowledged.
    log_.log({.level = obs::Level::kError,
              .message = "notification sent but not recorded",
              .message_id = std::string(alert.message_id),
              .symbol = std::string(symbol),
              .rule = alert.rule->id,
              .reason = marked.error().code + ": " + marked.error().message,
              .fields = {{"alert_id", to_string(id)}}});
  }
}

void BatchHandler::fan_out(std::size_t tasks, const std::function<void(std::size_t)>& task) {
  const std::size_t workers = std::min(workers_, tasks);
  if (workers <= 1) {
    for (std::size_t i = 0; i < tasks; ++i) task(i);
    return;
  }
  std::size_t next = 0;  // the next task to start, under the gate
  std::vector<std::jthread> threads;
  threads.reserve(workers);
  for (std::size_t w = 0; w < workers; ++w) {
    threads.emplace_back([&] {
      std::unique_lock<std::mutex> gate(gate_);
      t_gate = &gate;
      while (next < tasks) task(next++);
      t_gate = nullptr;
    });
  }
  // The jthreads join here, before `next` and the tasks go out of scope.
}

void BatchHandler::notify_all(Batch& batch, Deadline deadline) {
  // Store before publish: every alert here is stored (its commit answered before this phase began). An alert
  // found stored already was stored by another delivery: recovered under a claim like any other, in a task
  // of its own (claim -> publish -> mark). The new alerts go out kMaxNotifyBatch to a request, in the
  // symbols' order; their marks are written together once every publish has answered (publish before mark).
  std::stable_sort(batch.to_notify.begin(), batch.to_notify.end(),
                   [](const Pending& a, const Pending& b) { return a.order < b.order; });
  std::vector<std::vector<const Pending*>> tasks;
  std::vector<const Pending*> fresh;
  for (const Pending& p : batch.to_notify) {
    if (p.recovered) {
      if (!fresh.empty()) tasks.push_back(std::exchange(fresh, {}));  // the order kept
      tasks.push_back({&p});
    } else {
      if (fresh.size() == kMaxNotifyBatch) tasks.push_back(std::exchange(fresh, {}));
      fresh.push_back(&p);
    }
  }
  if (!fresh.empty()) tasks.push_back(std::move(fresh));
  std::map<std::size_t, std::string_view> left;  // message -> symbol: alerts left pending near the deadline
  fan_out(tasks.size(), [&](std::size_t t) {
    const std::vector<const Pending*>& task = tasks[t];
    if (out_of_time(batch)) {
      // The alerts left stay pending: their messages come back and recover them (one log per message).
      for (const Pending* p : task) left.try_emplace(p->message_index, p->tick->symbol);
      return;
    }
    if (task.front()->recovered) {
      const Pending& p = *task.front();
      (void)recover(batch, alert_id(*p.rule, *p.tick), *p.rule, p.tick->seq,
                    {{p.message_index}, p.tick->symbol}, deadline);
      return;
    }
    std::vector<SnsNotification> notifications;
    for (const Pending* p : task) {
      notifications.push_back(
          sns_notification({p->rule, p->tick, batch.message_id(p->message_index), p->unvouched}, now_micros(),
                           max_notify_age_seconds_));
    }
    const auto answers = unlocked([&] { return ports_.notifier.publish_batch(notifications, deadline); });
    for (std::size_t i = 0; i < task.size(); ++i) {
      const Pending& p = *task[i];
      const Alert alert{p.rule, p.tick, batch.message_id(p.message_index), p.unvouched};
      if (published(batch, alert, answers[i], false, {{p.message_index}, p.tick->symbol})) {
        batch.marks.push_back({alert, answers[i].value()});
      }
    }
  });
  for (const auto& [m, symbol] : left) {
    fail(batch, {{m}, symbol}, {}, kDeadlineNear, "alerts stored, notifications not yet sent");
  }
  // Publish before mark: each mark only updates its alert's notification attributes.
  fan_out(batch.marks.size(), [&](std::size_t i) {
    const Batch::Mark& m = batch.marks[i];
    mark(m.alert, m.alert.tick->symbol, m.sns_message_id, deadline);
  });
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
