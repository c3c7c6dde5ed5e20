// The event-time engine (F3, R2, R3, R5): one symbol's ticks of a batch, merged into the symbol's state,
// give the state to commit and the fires that commit records. Pure: no I/O, no clock.
//
// Contract (the algorithm and its argument: docs/design.md, section 5):
//  - Position order. Ticks are placed by Position (timestamp, seq). A tick at a position already held, or
//    already delivered earlier in the input, is a duplicate (the first applied wins, whatever its price).
//  - Reorder window W. A tick newer than the oldest held tick takes its place among the held ticks as if it
//    had arrived in order; one at or before the oldest held tick is beyond W: it changes no crossing
//    state and fires no crossing (TicksBeyondWindow), a level version may still fire on it. After the
//    merge the held ticks are trimmed to EngineLimits (event time behind the newest, and count).
//  - Crossings. For each crossing version, the held ticks form excursions (maximal runs on the fire side).
//    An excursion whose first tick's predecessor is inside the version's continuity (its window, or that of
//    an earlier version with the same condition and threshold) is a crossing keyed by its first tick. An
//    excursion that already holds a fire of the rule (a FireRecord at one of its ticks) is matched: it never
//    fires again (a moved crossing keeps its key). An unmatched one fires at its first tick, if the mode
//    allows (below), keyed by that tick -- or, when a fire of the same rule already holds that key, by the
//    replay's key left free. A stored fire is never retracted.
//  - Modes count in event time on both sides: `every` -- no fire within cooldown of another fire of the
//    rule for the symbol; `once_per_bar` -- no second fire in the same (symbol, bar); `once` -- none once the
//    (rule, arming) is triggered (OnceMarkers) or fired in this plan. Choices made between fires discovered
//    out of order are counted (mode_choices).
//  - Controls: ticks inside a suspension window are not applied and fire nothing; ticks outside the
//    symbol's price band in force at their timestamp are rejected (OutOfBand), never applied.
//  - Fires derive only from the committed transition: each new fire is recorded in `next.fires` (stored =
//    false when the plan's fires exceed kMaxFiresPerCommit) and returned in `fires`. The fires recorded for
//    a duplicate tick are returned in `to_complete` (informative: notifications are completed through
//    `to_confirm`, below, whatever ticks the batch holds).
//  - Fire log and its horizon. A candidate fire whose tick is older than `fires_complete_from` fires
//    nothing (the fires around it may be pruned). Within one plan candidates are decided in position
//    order, each against the log (both sides) and the plan's earlier fires: with a batch delivered in order
//    the plan is the in-order replay.
//  - Pending fires (stored = false) of the read state are completed first: up to kMaxFiresPerCommit of
//    them are recorded stored by this commit (`completing`; the handler writes their alerts, and markers
//    for `once`, in the commit's transaction), then the new fires take the room left. A plan with no
//    ticks completes the next pending fires: the handler calls it until `next` holds none.
//  - Notification (F5): every new fire is recorded `notified = false`. The stored fires of the read state
//    not notified are either in `confirmed` (the handler knows their notification sent: they are recorded
//    notified in `next`) or listed in `to_confirm` (left unconfirmed). A fire not notified is never pruned
//    (by reach or by count), so every later plan of the symbol lists it until one confirms it.
//  - Unvouched (F4, F5): a new fire is `unvouched` when, as it is planned, the engine knows the in-order
//    replay of the same ticks might not store it: (1) a level fire at a tick beyond W; (2) a fire decided
//    beside a fire that conflicts with it in the replay's view (a counted mode choice); (3) every fire of a
//    `once` rule on "*" (the replay orders all symbols' ticks, a plan sees one symbol). Decided once, here,
//    and recorded in the fire (a pending one keeps it); a later tick that overtakes a vouched fire does not
//    flag it (docs/design.md, section 5.3).
//  - Once markers: `once` is checked against OnceMarkers (stored fires, any symbol), the log's pending fires
//    and this plan's fires. For a "*" rule the handler passes the markers of fires planned for the batch's
//    other symbols too.
//  - write_needed is false only when `next` equals the read state apart from the revision and the plan has
//    no fire and nothing to complete (every tick a duplicate, suspended, out of band, or beyond W without a
//    fire): the commit would change no alert and no decision a later plan takes. Otherwise the commit must
//    be made (it is the compare-and-swap that orders concurrent invocations) before any fire is acted on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tap/core/rule_index.hpp"
#include "tap/core/rules.hpp"
#include "tap/core/symbol_state.hpp"
#include "tap/core/tick.hpp"

namespace tap {

struct EngineLimits {
  std::int64_t reorder_window_micros = 60 * kMicrosPerSecond;  // W by event time
  std::size_t max_held_ticks = 256;                            // W by count (keeps the state item small)
  // Stored fires kept at most (pending ones are never dropped): dropping one advances fires_complete_from
  // past its reach and drops the held ticks up to it, so nothing it decided is evaluated again.
  std::size_t max_fire_records = 512;
};

// Operator controls of one symbol (F3), each an R3 change with its own event-time window.
struct PriceBand {
  EffectiveWindow window;
  double low = 0;
  double high = 0;  // ticks with price < low or > high are OutOfBand
};
struct SymbolControls {
  std::vector<EffectiveWindow> suspensions;
  std::vector<PriceBand> bands;
};

// The (rule id, arming) pairs of `once` versions known to be triggered (their marker exists).
using OnceMarkers = std::set<std::pair<std::string, std::uint32_t>>;

// Fires whose notification the handler knows sent, by (rule id, tick position).
using ConfirmedFires = std::set<std::pair<std::string, Position>>;

// One of the symbol's ticks of this batch, in delivery order.
struct SymbolTick {
  const Tick* tick = nullptr;
  std::size_t message_index = 0;  // the SQS record the tick came from
};

enum class TickFate { applied, duplicate, beyond_window, suspended, out_of_band };
std::string_view to_string(TickFate f);

struct NewFire {
  std::size_t rule_index = 0;  // the version that fires (index in the RuleSet)
  HeldTick at;                 // the alert's tick (a crossing may be keyed by a tick of an earlier batch)
  std::optional<std::size_t> input_tick;  // index into the input when `at` is one of this batch's ticks
  std::size_t cause = 0;                  // index into the input of the tick whose arrival produced it
  bool stored = true;      // false: recorded pending (beyond kMaxFiresPerCommit), a later commit stores it
  bool unvouched = false;  // see the contract's `unvouched` item
};

struct SymbolPlan {
  SymbolState next;            // the state to commit, revision = the read revision + 1
  bool write_needed = false;   // false only where skipping it changes no alert (docs/design.md, section 5.6)
  std::vector<NewFire> fires;  // in position order of their ticks
  // Stored fires recorded at the positions of duplicate (or beyond-W) input ticks: their alerts exist. Their
  // notifications are completed through `to_confirm`; pending ones are stored through `completing`.
  std::vector<FireRecord> to_complete;
  std::vector<FireRecord> completing;  // pending fires of the read state this commit records stored
  // Stored fires of the read state whose notification is not confirmed and not in `confirmed`: the handler
  // confirms them (notifying those still pending) before a later plan records them notified.
  std::vector<FireRecord> to_confirm;
  std::vector<TickFate> fates;  // one per input tick
  // Decisions between fires discovered out of order where the in-order replay may decide otherwise
  // (docs/design.md, section 5.3): zero means this plan kept the stored set the replay's.
  std::size_t mode_choices = 0;
};

inline constexpr std::size_t kMaxFiresPerCommit = 98;  // 100 transaction items: the state, fires, markers

SymbolPlan plan_symbol(const RuleIndex& index, std::string_view symbol, const SymbolState& state,
                       std::span<const SymbolTick> ticks, const SymbolControls& controls,
                       const OnceMarkers& once, const EngineLimits& limits,
                       const ConfirmedFires& confirmed = {});

}  // namespace tap
