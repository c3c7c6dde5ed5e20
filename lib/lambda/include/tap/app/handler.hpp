// The flow of one invocation: SQS event -> ticks -> per-symbol plans -> one commit per symbol -> alerts ->
// notify -> response. Modelled on Powertools' batch processor: a partial failure is a first-class result
// (batchItemFailures). Pure decisions come from the core (symbol_engine.hpp); all I/O goes through the
// ports (ports.hpp).
//
// Per symbol touched: the states of the symbols not kept from an earlier batch (cache_states) are read in
// one round; each symbol's ticks are planned (plan_symbol) and committed in ONE conditional write (a
// transaction of state + the alerts of the fires it records stored + their `once` markers; the state's put
// alone when there are none); a conflict re-plans on the state stored now, a taken marker is learnt and
// re-planned, an alert found existing is recorded without writing it (bounded, then the symbol's messages
// are retried). Fires one transaction cannot hold (a burst) are recorded pending in the state and stored by
// further commits, each its own transaction recording them stored; a crash in between leaves them pending
// in the state, and the next plan of the symbol -- the redelivery's -- stores them first. Fires recorded for
// a redelivered tick or of any earlier batch whose notification is not confirmed (to_confirm) are confirmed
// before the symbol is planned: remembered, or claimed in the ledger and notified under the claim if still
// pending (two recovering invocations never both publish; docs/design.md section 6). Store before publish,
// publish before mark. A failed commit fails exactly the messages holding that symbol's ticks of this batch.
// The rule versions and symbol controls come from a RuleSource (rule_source.hpp), asked before planning to
// cover the batch's newest tick: a message holding a tick it does not cover yet fails (retried: a delay,
// never a miss), a source error fails every message holding ticks (nothing is evaluated against an incomplete
// rule set), ticks older than now - H (R4) are acknowledged unevaluated (StaleTicks). The rule index is
// rebuilt only when the source's generation changed. The work stops a margin before the invocation's deadline
// (no commit, claim or publish is started within it; calls end before the deadline with time left for the
// response): what is unfinished fails its messages, reported before the deadline.
//
// Overlapped calls (overlap_calls, docs/design.md section 6a): the symbols' work (their confirmations,
// claims and commits, each symbol's in order) runs as one task per symbol, the notifications as one task per
// PublishBatch of up to kMaxNotifyBatch new alerts or per recovered alert, then the "sent" marks one task
// each, on up to `workers` threads. A task holds the handler's gate except during a port call, so the
// decisions are made one at a time and only the round trips overlap. The phases keep store before publish
// (every notification task starts after every commit has answered) and publish before mark.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "tap/app/ports.hpp"
#include "tap/app/rule_source.hpp"
#include "tap/core/rule_index.hpp"
#include "tap/core/rules.hpp"
#include "tap/core/symbol_engine.hpp"
#include "tap/runtime/log.hpp"
#include "tap/runtime/metrics.hpp"

namespace tap {

// R3: a tick timestamped more than this ahead of the function's clock is never applied; its message is
// dead-lettered with the reason `future-timestamp`.
inline constexpr std::int64_t kMaxFutureMicros = 10 * kMicrosPerSecond;
inline constexpr std::string_view kFutureTimestampReason = "future-timestamp";

struct HandlerPorts {
  SymbolStore& state;
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
  std::uint64_t late_ticks = 0;      // duplicates and ticks beyond the reorder window (F3)
  std::uint64_t beyond_window = 0;   // ticks at or before the oldest held tick of their symbol
  std::uint64_t out_of_band = 0;     // ticks outside their symbol's price band (never applied)
  std::uint64_t suspended = 0;       // ticks inside a suspension of their symbol (not applied)
  std::uint64_t future_ticks = 0;    // ticks more than kMaxFutureMicros ahead of the clock (dead-lettered)
  std::uint64_t mode_choices = 0;    // fires withheld by a choice between fires discovered out of order
  std::uint64_t alerts = 0;          // alerts stored by this invocation
  std::uint64_t notifications = 0;   // SNS publishes (new alerts and recovered ones)
  std::uint64_t recovered = 0;       // notifications of alerts stored by an earlier, interrupted delivery
  std::uint64_t state_writes = 0;
  std::uint64_t state_conflicts = 0;      // compare-and-swap refusals (another invocation was first)
  std::uint64_t state_bytes_written = 0;  // bytes of the state items written
  // The rules (R4): the versions loaded, the age of the view, whether it was refreshed, the items it
  // skipped, ticks older than the retention horizon (not evaluated), ticks before every version's window.
  std::uint64_t rules = 0;
  std::int64_t rule_set_age_ms = 0;
  std::uint64_t rule_refreshes = 0;
  std::uint64_t invalid_rules = 0;
  std::uint64_t stale_ticks = 0;
  std::uint64_t ticks_before_rules = 0;
  std::uint64_t index_rebuilds = 0;  // the rule index rebuilt for a new generation (not a metric)
  // The function's clock minus the newest valid tick's timestamp (none without ticks).
  std::optional<std::int64_t> feed_clock_offset_ms;
};

// {"batchItemFailures":[{"itemIdentifier":"<message id>"},...]}
std::string batch_response(const BatchReport& report);

// The invocation's CloudWatch EMF record (F8): the report's counters, the AWS calls retried, the duration.
obs::MetricsRecord batch_metrics(const BatchReport& report, const std::string& metrics_namespace,
                                 const std::string& function_name, std::uint64_t retries,
                                 std::chrono::microseconds duration);

// What BatchHandler::cache_states counts for a kept state: about its size in memory (its vectors, the
// fires' rule ids, the symbol as key and in the use order).
std::size_t kept_state_bytes(const std::string& symbol, const SymbolState& state);

class BatchHandler {
 public:
  using WallClock = std::function<std::chrono::system_clock::time_point()>;

  // Operator controls per symbol (F3: suspensions, price bands); none until the rules storage brings them.
  using Controls = std::map<std::string, SymbolControls, std::less<>>;

  // `source` outlives the handler. A notification whose tick is older than max_notify_age_seconds at publish
  // time carries delayed=true (MAX_NOTIFY_AGE_SECONDS).
  BatchHandler(RuleSource& source, HandlerPorts ports, const obs::Logger& log,
               WallClock wall_clock = std::chrono::system_clock::now, EngineLimits limits = {},
               std::int64_t max_notify_age_seconds = kDefaultMaxNotifyAgeSeconds);
  // The rules document's convenience: a DocumentRuleSource over a copy of `rules` and `controls`.
  BatchHandler(const RuleSet& rules, HandlerPorts ports, const obs::Logger& log,
               WallClock wall_clock = std::chrono::system_clock::now, EngineLimits limits = {},
               Controls controls = {});

  // An error only when the event itself is not an SQS event (then nothing can be attributed to a message and
  // the whole invocation fails, so that every message is retried).
  Result<BatchReport> handle(std::string_view event_json, Deadline deadline);

  // The independent calls of a batch overlap on up to `workers` threads (0 or 1: one after another, the
  // default). The ports must then be safe to call from several threads at once (ports.hpp).
  void overlap_calls(std::size_t workers) { workers_ = workers; }

  // Keeps the state each symbol's last commit (or read) left, up to about `max_bytes` of memory (least
  // recently used dropped first; 0: none kept, the default), and plans a batch's symbol on it instead of
  // reading it: the commit's compare-and-swap refuses a stale one and hands back the state stored now
  // (docs/design.md section 6a). Only the symbols not kept are read.
  void cache_states(std::size_t max_bytes) { max_cached_bytes_ = max_bytes; }

 private:
  // `source`, or the owned one when null.
  BatchHandler(std::unique_ptr<RuleSource> owned, RuleSource* source, HandlerPorts ports,
               const obs::Logger& log, WallClock wall_clock, EngineLimits limits,
               std::int64_t max_notify_age_seconds);
  struct Batch;
  // R3/R4: has the source cover the batch's newest tick, rebuilds the index for a new generation and keeps
  // in the messages only the ticks to evaluate (failing the messages it cannot evaluate yet).
  void select_ticks(Batch& batch, Deadline deadline);
  void rebuild_rules();
  void update_rules(const VersionChanges& changes);  // R4: the index updated in O(changes), not rebuilt
  struct SymbolWork;
  struct Pending;
  struct CommitFire;
  // `cached`: `loaded` is the state this container kept (cache_states), not one read for this batch.
  void process_symbol(Batch& batch, SymbolWork& work, const LoadedState& loaded, bool cached,
                      Deadline deadline);
  // The kept state of `symbol` when a batch may plan on it: kept, and every stored fire it shows awaiting
  // confirmation was published by this container (confirmed without I/O), so that nothing is decided on it
  // before its compare-and-swap proves it current. Null otherwise.
  const SymbolState* kept_state(std::string_view symbol);
  void keep_state(const std::string& symbol, const SymbolState& state);
  void forget_state(std::string_view symbol);
  const Tick* alert_tick(Batch& batch, const SymbolWork& work, const SymbolState& state, const Position& pos,
                         std::size_t& message_index) const;
  const Rule* version_of(const FireRecord& record) const;
  static void count_fates(Batch& batch, const SymbolPlan& plan);
  struct Answerable;
  enum class Recovery { published, settled, left, failed };
  // The new alerts of this batch published; those found stored already recovered (recover).
  void notify_all(Batch& batch, Deadline deadline);
  // The one publish path (F5): publishes an alert's notification, counts it, records it as sent and
  // remembers it; false (and `who` failed) when the publish failed. A failed record keeps the message
  // acknowledged: the notification went out.
  bool publish(Batch& batch, const Alert& alert, bool recovered, const Answerable& who, Deadline deadline);
  // A publish's answer counted: false (and `who` failed) when it failed, else counted and remembered.
  bool published(Batch& batch, const Alert& alert, const Result<std::string, AwsError>& answer,
                 bool recovered, const Answerable& who);
  // Records a published notification as sent; a failure is logged (the notification went out).
  void mark(const Alert& alert, std::string_view symbol, const std::string& sns_message_id,
            Deadline deadline);
  // Runs task(0) .. task(tasks - 1) on up to workers_ threads, each holding gate_ except in a port call
  // (sequentially on this thread when workers_ <= 1); returns when all have ended.
  void fan_out(std::size_t tasks, const std::function<void(std::size_t)>& task);
  // An alert stored by another (or an earlier) invocation: claimed in the ledger and, under the claim,
  // published from the alert as stored. settled: notified already; left: pending but claimed elsewhere or
  // its storer may still publish it (a later batch asks again); failed: `who` failed. Exempt from the
  // storer's publish_by (RecoveryClaim::storer_ended) only when the claim's answer names a message of this
  // batch as the storing one: SQS hands a message out again only once its invocation has ended.
  Recovery recover(Batch& batch, const AlertId& id, const Rule& rule, std::uint32_t seq,
                   const Answerable& who, Deadline deadline);
  // F5: the stored fires of `state` whose notification is not confirmed: remembered ones are confirmed
  // without I/O, the others recovered. A failed claim or publish fails the messages holding the symbol's
  // ticks (their redelivery confirms it) and stops there; the batch's ticks are planned all the same.
  void confirm_fires(Batch& batch, const SymbolWork& work, const SymbolState& state,
                     ConfirmedFires& confirmed, Deadline deadline);
  void remember(const AlertId& id);
  static Answerable answerable(const SymbolWork& work);
  void fail(Batch& batch, const Answerable& who, std::string_view rule, std::string_view message,
            std::string_view reason);
  void fail_symbol(Batch& batch, const SymbolWork& work, std::string_view message, std::string_view reason);
  std::string claimant_token();  // a fresh random token per invocation
  void dead_letter_rejects(Batch& batch, Deadline deadline);
  std::int64_t now_micros() const;
  // The wall clock has reached the batch's work deadline (its deadline minus the report margin).
  bool out_of_time(const Batch& batch) const;

  std::unique_ptr<RuleSource> owned_source_;  // the document's source (the RuleSet constructor) only
  RuleSource& source_;
  HandlerPorts ports_;
  const obs::Logger& log_;
  WallClock wall_clock_;
  EngineLimits limits_;
  std::int64_t max_notify_age_seconds_;
  // The source's generation `rules_`, `index_`, `controls_` and `by_version_` show.
  std::uint64_t generation_ = 0;
  RuleSet rules_;
  Controls controls_;
  std::int64_t first_window_micros_ = 0;  // the earliest start of a loaded version's window
  // This container's knowledge, valid across invocations because it only grows: the last fires noted in the
  // index (a cached fire only suppresses ticks newer than it; a rebuilt index starts without), and the `once`
  // armings known to be taken.
  std::unique_ptr<RuleIndex> index_;
  OnceMarkers once_;
  std::map<std::pair<std::string, std::uint32_t>, std::size_t> by_version_;  // (rule id, version) -> index
  // Alerts this instance published (bounded, oldest forgotten first): confirmed without I/O.
  std::set<AlertId> published_;
  std::deque<AlertId> published_order_;
  std::mt19937_64 claim_tokens_{std::random_device{}()};
  std::size_t workers_ = 1;
  // The states kept (cache_states): a state as stored at its revision, by symbol, with its estimated size in
  // memory and its place in the use order (least recently used first).
  struct KeptState {
    SymbolState state;
    std::size_t bytes = 0;
    std::list<std::string>::iterator used;
  };
  std::map<std::string, KeptState, std::less<>> kept_;
  std::list<std::string> kept_order_;
  std::size_t kept_bytes_ = 0;
  std::size_t max_cached_bytes_ = 0;
  std::mutex gate_;  // held by a task of fan_out except during its port calls
};

}  // namespace tap
