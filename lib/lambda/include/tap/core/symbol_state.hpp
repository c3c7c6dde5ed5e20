// The per-symbol state of the event-time engine (F3, I2b, R5): what one symbol's state item holds, as a
// pure value. How it is encoded and stored is the DynamoDB adapter's business (src/app/dynamodb_store.cpp).
//
// Contract:
//  - `ticks` are the symbol's recently APPLIED ticks in strictly increasing position order (newest last),
//    bounded twice (the reorder window W, EngineLimits in symbol_engine.hpp): by event time (no tick older
//    than the newest minus W) and by count. Once a tick has been trimmed the oldest held tick is the
//    boundary of W: a tick at or before its position is beyond W. Only the price is held: crossings depend on
//    nothing else, level conditions only on the tick being evaluated.
//  - `fires` are the fires the engine must still know, in position order of their ticks: every fire whose
//    tick lies at or after `fires_complete_from` (so that an excursion is matched with the alert already
//    stored for it, and cooldowns and bars are checked on both sides), and a fire whose alert may not be
//    stored yet (`stored == false`: a burst larger than one transaction) is kept until a later commit
//    records it stored (SymbolPlan::completing), and pruned (fires_complete_from advances past its
//    reach) only when no tick the engine can still evaluate could be suppressed by it. The log is also
//    bounded by count (EngineLimits::max_fire_records). A fire whose notification is not confirmed
//    (`notified == false`) is never pruned either, so any later plan of the symbol lists it (to_confirm).
//  - `revision` increases by one with every committed write: the compare-and-swap of the store is on it,
//    so every commit is planned on the state it replaces.
// Fires derive only from transitions committed here: a fire is recorded in the same commit that applies
// the tick that caused it, so a redelivery after a crash finds it (a duplicate tick's fires) and completes
// it, and never plans it twice.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tap {

// A tick's place in event time (F3): timestamp, then the feed's sequence number (0 when absent).
struct Position {
  std::int64_t ts_micros = 0;
  std::uint64_t seq = 0;
  friend auto operator<=>(const Position&, const Position&) = default;
};

struct HeldTick {
  Position pos;
  double price = 0;
  friend bool operator==(const HeldTick&, const HeldTick&) = default;
};

struct FireRecord {
  std::string rule_id;
  std::uint32_t version = 0;  // the rule version that fired
  Position tick;              // the tick whose alert this is (the alert's key timestamp is tick.ts_micros)
  bool crossing = false;      // a crossing fire (matched per excursion) or a level fire
  bool stored = true;         // false: the alert may not be stored yet (completed by a later commit)
  // false: its notification is not known to be sent (F5). Every new fire is recorded false; a later plan
  // records it true once the handler has confirmed it (plan_symbol's `confirmed`). Never pruned while false.
  bool notified = true;
  // The fire suppresses fires of its rule at ticks before this instant (mode every: tick + cooldown;
  // once_per_bar: the end of its bar; once: its own tick, the once marker carries the rest). The pruning
  // of the log needs nothing else; the default (never) only keeps the record longer.
  std::int64_t reach_until_micros = INT64_MAX;
  // Mode once: the arming the fire consumed (a pending fire's marker is not written yet, so a second fire
  // of the same arming is refused from the log). Empty for the other modes.
  std::optional<std::uint32_t> once_arming;
  // The engine could not vouch, when it planned the fire, that the in-order replay stores it too (SymbolPlan
  // contract, docs/design.md section 5.3): carried to the alert and its notification, kept while pending.
  bool unvouched = false;
  friend bool operator==(const FireRecord&, const FireRecord&) = default;
};

// A fire whose alert is stored and whose notification is not confirmed yet (F5): what a plan lists in
// to_confirm and the handler confirms.
inline bool awaits_confirmation(const FireRecord& f) { return f.stored && !f.notified; }

struct SymbolState {
  bool exists = false;  // the item exists (revision 0 and no item: nothing applied yet)
  std::uint64_t revision = 0;
  std::vector<HeldTick> ticks;
  std::vector<FireRecord> fires;
  // The fire log is complete for fires whose tick is at or after this instant; a tick older than it cannot
  // be checked against the fires around it, so it fires nothing (counted).
  std::int64_t fires_complete_from = INT64_MIN;
  // True once a held tick has ever been dropped (trimmed). Until then the held ticks are every tick the
  // symbol ever applied, so a tick older than all of them (but within W by event time) still takes its
  // place at the front: a young symbol's first batch must not put the ticks delivered after it beyond W.
  bool ticks_trimmed = false;
  friend bool operator==(const SymbolState&, const SymbolState&) = default;
};

}  // namespace tap
