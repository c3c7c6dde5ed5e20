// The rule engine (F3, docs/design.md): a pure evaluation of one rule against one tick given the
// stored state of (rule, symbol), and a batch planner that turns a batch's valid ticks into the ordered
// writes the handler must execute (so that the handler only does I/O).
//
// Sides. crosses_above: side(price) = price > threshold ? above : at_or_below.
//        crosses_below (its mirror, F3): side(price) = price < threshold ? below : at_or_above.
// A crossing fires when the side changes INTO the rule's direction (above / below) and the cooldown allows;
// price == threshold is on neither fire side.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tap/core/alert.hpp"
#include "tap/core/rules.hpp"
#include "tap/core/tick.hpp"

namespace tap {

enum class Side { above, at_or_below, below, at_or_above };
std::string_view to_string(Side s);                     // the stored attribute value
std::optional<Side> parse_side(std::string_view text);  // inverse of to_string
Side side_of(const Rule& rule, double price);           // crossing rules only

struct RuleState {
  bool exists = false;                       // the state item exists
  std::optional<Side> side;                  // crossing rules
  std::optional<std::int64_t> side_ts;       // micros of the tick that last wrote the side
  std::optional<std::int64_t> last_fire_ts;  // micros of the tick that last fired
  friend bool operator==(const RuleState&, const RuleState&) = default;
};

enum class Outcome {
  no_match,  // level: condition false; crossing: side unchanged
  fired,
  late,                    // ts <= side_ts (crossing) or ts <= last_fire_ts (level): nothing changes
  first_seen,              // crossing: no state yet, the side is recorded
  side_changed,            // crossing: side changed away from the rule's direction (no fire)
  suppressed_by_cooldown,  // would fire but the last fire is less than cooldown_seconds before
  disabled,                // disabled rules are never evaluated
};
std::string_view to_string(Outcome o);

struct Decision {
  Outcome outcome = Outcome::no_match;
  RuleState next;
  bool state_write_needed = false;
  friend bool operator==(const Decision&, const Decision&) = default;
};

// The rule's condition on this tick alone (level rules: the condition; crossing rules: the price is on the
// fire side). No state involved.
bool condition_holds(const Rule& rule, const Tick& tick);

Decision evaluate(const Rule& rule, const Tick& tick, const RuleState& state);

// ---- batch planning ----

struct StateKey {
  std::size_t rule_index = 0;
  std::string symbol;
  friend bool operator==(const StateKey&, const StateKey&) = default;
};
struct StateKeyView {  // for lookups without building a string
  std::size_t rule_index = 0;
  std::string_view symbol;
};
struct StateKeyHash {
  using is_transparent = void;
  std::size_t operator()(const StateKeyView& k) const {
    return std::hash<std::string_view>{}(k.symbol) * 31 + k.rule_index;
  }
  std::size_t operator()(const StateKey& k) const { return (*this)(StateKeyView{k.rule_index, k.symbol}); }
};
struct StateKeyEq {
  using is_transparent = void;
  static StateKeyView view(const StateKey& k) { return {k.rule_index, k.symbol}; }
  static StateKeyView view(const StateKeyView& k) { return k; }
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return view(a).rule_index == view(b).rule_index && view(a).symbol == view(b).symbol;
  }
};
using StateMap = std::unordered_map<StateKey, RuleState, StateKeyHash, StateKeyEq>;

struct BatchTick {
  const Tick* tick = nullptr;
  std::size_t message_index = 0;  // the SQS record the tick came from
};

struct PlannedTick {
  std::size_t batch_index = 0;  // index into the planner's input
  std::size_t message_index = 0;
  Outcome outcome = Outcome::no_match;
  // Late ticks: the state had fired at or after this tick, so an alert for it may be stored (last_fire_ts
  // only grows, and a fire stores its alert and last_fire_ts together).
  bool may_have_alert = false;
};

struct Step {
  enum class Kind { fire, write_side };
  Kind kind = Kind::fire;
  std::size_t first_pos = 0;  // first tick (position in KeyPlan::ticks) whose effect this step persists
  std::size_t pos = 0;        // the tick that produced it (fires: the alert's tick)
  RuleState expected;         // the state the write is conditioned on (what was read / last written)
  RuleState next;             // the state to write
  // Level rules: the fire is allowed iff the stored last_fire_ts <= cutoff (= tick ts - cooldown).
  std::int64_t cooldown_cutoff = 0;
};

struct KeyPlan {
  StateKey key;
  RuleState initial;
  std::vector<PlannedTick> ticks;  // sorted by tick timestamp, ties by arrival
  std::vector<Step> steps;         // to execute in order; stop at the first failure
  std::size_t late_count = 0;
  RuleState final_state;
};

// The (rule, symbol) keys a batch touches, in first-seen order; `crossing_only` for the state read.
std::vector<StateKey> touched_keys(const RuleSet& rules, std::span<const BatchTick> ticks,
                                   bool crossing_only);

// Plans one key: `ticks` are the key's ticks (any order; sorted here, stable).
KeyPlan plan_key(const Rule& rule, StateKey key, std::span<const BatchTick> batch,
                 std::vector<std::size_t> tick_indices, const RuleState& initial);

// One (rule, tick) evaluation whose tick was not newer than the state of (rule, symbol).
struct LateEvaluation {
  std::size_t batch_index = 0;  // index into the planner's input
  std::size_t rule_index = 0;
  bool may_have_alert = false;  // see PlannedTick
  friend bool operator==(const LateEvaluation&, const LateEvaluation&) = default;
};

struct BatchPlan {
  // One KeyPlan per touched (enabled rule, symbol) that has something to write (keys without steps need
  // no I/O and cannot fail), grouped by symbol in first-seen order.
  std::vector<KeyPlan> keys;
  std::size_t late_count = 0;  // over all keys, written or not
  // The late evaluations of the keys left out: settled now (those of `keys` settle as their steps run).
  std::vector<LateEvaluation> settled_late;
};

// Plans the whole batch. States not in `known` are taken as absent.
BatchPlan plan_batch(const RuleSet& rules, std::span<const BatchTick> ticks, const StateMap& known);

// The messages to report as failed when step `failed_step` of `plan` could not be executed: those holding a
// tick from that step's first contributing tick onwards (sorted, unique).
std::vector<std::size_t> messages_to_fail(const KeyPlan& plan, std::size_t failed_step);

// Redelivery recovery (docs/design.md, section 6). An alert stored for tick T moved the state of its key to T
// or later (side_ts and last_fire_ts >= T), so any later delivery of T -- a retry, a duplicate, a message
// sent back from the DLQ -- is late for that key, whatever its receive count. The alerts that may still
// await their notification are those of late evaluations that may have an alert and whose stateless
// condition holds: one per alert id, the first delivery in the batch carrying it, in batch order.
struct RecoveryCandidate {
  AlertId id;
  std::size_t rule_index = 0;
  std::size_t batch_index = 0;  // the tick (and so the message) that carries it
  friend bool operator==(const RecoveryCandidate&, const RecoveryCandidate&) = default;
};
std::vector<RecoveryCandidate> recovery_candidates(const RuleSet& rules, std::span<const BatchTick> ticks,
                                                   std::span<const LateEvaluation> late);

}  // namespace tap
