#include "tap/core/rule_engine.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <utility>

namespace tap {
namespace {

Side fire_side(Condition c) { return c == Condition::crosses_above ? Side::above : Side::below; }

bool cooldown_allows(const Rule& rule, const RuleState& state, std::int64_t ts) {
  return !state.last_fire_ts || *state.last_fire_ts <= subtract_seconds(ts, rule.cooldown_seconds);
}

}  // namespace

std::string_view to_string(Side s) {
  switch (s) {
    case Side::above:
      return "above";
    case Side::at_or_below:
      return "at_or_below";
    case Side::below:
      return "below";
    case Side::at_or_above:
      break;
  }
  return "at_or_above";
}

std::optional<Side> parse_side(std::string_view text) {
  for (const Side s : {Side::above, Side::at_or_below, Side::below, Side::at_or_above}) {
    if (to_string(s) == text) return s;
  }
  return std::nullopt;
}

Side side_of(const Rule& rule, double price) {
  if (rule.condition == Condition::crosses_below)
    return price < rule.threshold ? Side::below : Side::at_or_above;
  return price > rule.threshold ? Side::above : Side::at_or_below;
}

std::string_view to_string(Outcome o) {
  switch (o) {
    case Outcome::no_match:
      return "no_match";
    case Outcome::fired:
      return "fired";
    case Outcome::late:
      return "late";
    case Outcome::first_seen:
      return "first_seen";
    case Outcome::side_changed:
      return "side_changed";
    case Outcome::suppressed_by_cooldown:
      return "suppressed_by_cooldown";
    case Outcome::disabled:
      break;
  }
  return "disabled";
}

namespace {

// The decision without materialising the next state: `next` is written only when a write is needed (the
// batch planner's hot loop; copying a RuleState per (tick, rule) costs more than the evaluation itself).
Outcome decide(const Rule& rule, const Tick& tick, const RuleState& state, RuleState& next) {
  const std::int64_t ts = tick.ts.micros;
  if (!rule.enabled) return Outcome::disabled;
  if (!is_crossing(rule.condition)) {
    if (state.last_fire_ts && ts <= *state.last_fire_ts) return Outcome::late;
    if (!condition_holds(rule, tick)) return Outcome::no_match;
    if (!cooldown_allows(rule, state, ts)) return Outcome::suppressed_by_cooldown;
    next = state;
    next.exists = true;
    next.last_fire_ts = ts;
    return Outcome::fired;
  }
  const Side side = side_of(rule, tick.price);
  Outcome outcome = Outcome::fired;
  if (!state.exists || !state.side) {
    outcome = Outcome::first_seen;
  } else if (state.side_ts && ts <= *state.side_ts) {
    return Outcome::late;
  } else if (*state.side == side) {
    return Outcome::no_match;
  } else if (side != fire_side(rule.condition)) {
    outcome = Outcome::side_changed;
  } else if (!cooldown_allows(rule, state, ts)) {
    outcome = Outcome::suppressed_by_cooldown;
  }
  next = state;
  if (outcome == Outcome::fired) next.last_fire_ts = ts;
  next.exists = true;
  next.side = side;
  next.side_ts = ts;
  return outcome;
}

constexpr bool writes(Outcome o) {
  return o == Outcome::fired || o == Outcome::first_seen || o == Outcome::side_changed ||
         o == Outcome::suppressed_by_cooldown;
}

}  // namespace

Decision evaluate(const Rule& rule, const Tick& tick, const RuleState& state) {
  Decision d{Outcome::no_match, state, false};
  d.outcome = decide(rule, tick, state, d.next);
  // Level rules: a suppressed fire writes nothing (their state is last_fire_ts only).
  d.state_write_needed = writes(d.outcome) && (is_crossing(rule.condition) || d.outcome == Outcome::fired);
  return d;
}

namespace {

// Tick indices grouped by symbol (first-seen order), each group sorted by timestamp (stable: ties keep
// arrival order). One hash lookup per tick instead of one per (tick, rule).
struct SymbolGroups {
  std::vector<std::string_view> symbols;
  std::vector<std::vector<std::size_t>> members;
};

SymbolGroups group_by_symbol(std::span<const BatchTick> batch) {
  SymbolGroups g;
  std::unordered_map<std::string_view, std::size_t> index;
  index.reserve(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const auto [it, inserted] = index.try_emplace(batch[i].tick->symbol, g.symbols.size());
    if (inserted) {
      g.symbols.push_back(batch[i].tick->symbol);
      g.members.emplace_back();
    }
    g.members[it->second].push_back(i);
  }
  // Members are in ascending index order: ordering ties by index is a stable sort without its buffer.
  for (auto& m : g.members) {
    std::sort(m.begin(), m.end(), [&](std::size_t a, std::size_t b) {
      return std::pair(batch[a].tick->ts.micros, a) < std::pair(batch[b].tick->ts.micros, b);
    });
  }
  return g;
}

// Plans one key over ticks already in timestamp order, into `plan` (reused: no allocation once warm).
void plan_sorted(const Rule& rule, std::span<const BatchTick> batch, std::span<const std::size_t> sorted,
                 const RuleState& initial, KeyPlan& plan) {
  plan.initial = initial;
  plan.ticks.clear();
  plan.steps.clear();
  plan.late_count = 0;
  // Work on the plan's own final_state in place: a local copy assembled field by field and stored back at
  // the end costs store-forwarding stalls that dominate this loop.
  plan.final_state = initial;
  RuleState& state = plan.final_state;
  RuleState next;
  const bool crossing = is_crossing(rule.condition);
  bool pending_side = false;          // the last step is a side write that a later side change may replace
  std::optional<std::size_t> newest;  // crossing rules: the newest tick applied (not late)
  for (const std::size_t bi : sorted) {
    const Outcome outcome = decide(rule, *batch[bi].tick, state, next);
    const std::size_t pos = plan.ticks.size();
    plan.ticks.push_back({bi, batch[bi].message_index, outcome});
    if (outcome == Outcome::late) {
      ++plan.late_count;
      plan.ticks.back().may_have_alert =
          state.last_fire_ts && batch[bi].tick->ts.micros <= *state.last_fire_ts;
    } else if (outcome != Outcome::disabled) {
      newest = pos;
    }
    if (!writes(outcome) || (!crossing && outcome != Outcome::fired)) continue;
    if (outcome == Outcome::fired) {
      Step s{Step::Kind::fire,
             pos,
             pos,
             state,
             next,
             subtract_seconds(batch[bi].tick->ts.micros, rule.cooldown_seconds)};
      if (pending_side) {  // the fire's state write supersedes the pending side write
        s.first_pos = plan.steps.back().first_pos;
        s.expected = plan.steps.back().expected;
        plan.steps.pop_back();
      }
      plan.steps.push_back(s);
      pending_side = false;
    } else if (pending_side) {
      plan.steps.back().pos = pos;
      plan.steps.back().next = next;
    } else {
      plan.steps.push_back({Step::Kind::write_side, pos, pos, state, next, 0});
      pending_side = true;
    }
    state = next;
  }
  // F3: the state advances with every applied tick, so that an older tick delivered later is late.
  // Ticks that keep the side need no write of their own: one write per key and batch persists the newest.
  if (!crossing || !newest || !state.side_ts) return;
  const std::int64_t newest_ts = batch[plan.ticks[*newest].batch_index].tick->ts.micros;
  if (newest_ts <= *state.side_ts) return;
  if (pending_side) {
    plan.steps.back().pos = *newest;
    plan.steps.back().next.side_ts = newest_ts;
  } else {
    const std::size_t first = plan.steps.empty() ? 0 : plan.steps.back().pos + 1;
    RuleState advanced = state;
    advanced.side_ts = newest_ts;
    plan.steps.push_back({Step::Kind::write_side, first, *newest, state, advanced, 0});
  }
  state.side_ts = newest_ts;
}

}  // namespace

std::vector<StateKey> touched_keys(const RuleSet& rules, std::span<const BatchTick> ticks,
                                   bool crossing_only) {
  std::vector<StateKey> keys;
  const SymbolGroups g = group_by_symbol(ticks);
  for (const std::string_view symbol : g.symbols) {
    rules.for_each_rule(symbol, [&](std::size_t i, const Rule& r) {
      if (!crossing_only || is_crossing(r.condition)) keys.push_back({i, std::string(symbol)});
    });
  }
  return keys;
}

KeyPlan plan_key(const Rule& rule, StateKey key, std::span<const BatchTick> batch,
                 std::vector<std::size_t> tick_indices, const RuleState& initial) {
  std::stable_sort(tick_indices.begin(), tick_indices.end(), [&](std::size_t a, std::size_t b) {
    return batch[a].tick->ts.micros < batch[b].tick->ts.micros;
  });
  KeyPlan plan;
  plan.key = std::move(key);
  plan_sorted(rule, batch, tick_indices, initial, plan);
  return plan;
}

BatchPlan plan_batch(const RuleSet& rules, std::span<const BatchTick> ticks, const StateMap& known) {
  BatchPlan out;
  const SymbolGroups g = group_by_symbol(ticks);
  KeyPlan scratch;
  const RuleState absent;
  for (std::size_t s = 0; s < g.symbols.size(); ++s) {
    rules.for_each_rule(g.symbols[s], [&](std::size_t ri, const Rule& rule) {
      const auto it = known.find(StateKeyView{ri, g.symbols[s]});
      plan_sorted(rule, ticks, g.members[s], it == known.end() ? absent : it->second, scratch);
      out.late_count += scratch.late_count;
      if (scratch.steps.empty()) {
        for (const PlannedTick& t : scratch.ticks) {
          if (t.outcome == Outcome::late) out.settled_late.push_back({t.batch_index, ri, t.may_have_alert});
        }
        return;
      }
      scratch.key = StateKey{ri, std::string(g.symbols[s])};
      out.keys.push_back(scratch);
    });
  }
  return out;
}

std::vector<std::size_t> messages_to_fail(const KeyPlan& plan, std::size_t failed_step) {
  std::vector<std::size_t> out;
  for (std::size_t p = plan.steps[failed_step].first_pos; p < plan.ticks.size(); ++p) {
    out.push_back(plan.ticks[p].message_index);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<RecoveryCandidate> recovery_candidates(const RuleSet& rules, std::span<const BatchTick> ticks,
                                                   std::span<const LateEvaluation> late) {
  std::vector<LateEvaluation> ordered(late.begin(), late.end());
  std::sort(ordered.begin(), ordered.end(), [](const LateEvaluation& a, const LateEvaluation& b) {
    return std::pair(a.batch_index, a.rule_index) < std::pair(b.batch_index, b.rule_index);
  });
  std::vector<RecoveryCandidate> out;
  std::set<AlertId> seen;
  for (const LateEvaluation& e : ordered) {
    if (!e.may_have_alert) continue;
    const Tick& tick = *ticks[e.batch_index].tick;
    const Rule& rule = rules.rule(e.rule_index);
    if (!condition_holds(rule, tick)) continue;
    AlertId id = alert_id(rule, tick);
    if (!seen.insert(id).second) continue;
    out.push_back({std::move(id), e.rule_index, e.batch_index});
  }
  return out;
}

}  // namespace tap
