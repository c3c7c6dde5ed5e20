#include "tap/rule_engine.hpp"

#include <algorithm>
#include <cmath>

namespace tap {
namespace {

// Prices arrive as decimal text; ask - bid in binary floating point can land a few ulps above a decimal
// threshold (189.74 - 189.24 = 0.5000000000000284). A spread within 1e-12 relative of the threshold counts
// as equal, hence not above.
bool spread_above(double ask, double bid, double threshold) {
  return (ask - bid) - threshold > 1e-12 * std::max(1.0, std::fabs(ask));
}

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

bool condition_holds(const Rule& rule, const Tick& tick) {
  switch (rule.condition) {
    case Condition::price_above:
      return tick.price > rule.threshold;
    case Condition::price_below:
      return tick.price < rule.threshold;
    case Condition::spread_above:
      return tick.bid && tick.ask && spread_above(*tick.ask, *tick.bid, rule.threshold);
    case Condition::volume_above:
      return tick.volume && static_cast<double>(*tick.volume) > rule.threshold;
    case Condition::crosses_above:
    case Condition::crosses_below:
      break;
  }
  return side_of(rule, tick.price) == fire_side(rule.condition);
}

Decision evaluate(const Rule& rule, const Tick& tick, const RuleState& state) {
  Decision d{Outcome::no_match, state, false};
  const std::int64_t ts = tick.ts.micros;
  if (!rule.enabled) {
    d.outcome = Outcome::disabled;
    return d;
  }
  if (!is_crossing(rule.condition)) {
    if (state.last_fire_ts && ts <= *state.last_fire_ts) {
      d.outcome = Outcome::late;
    } else if (!condition_holds(rule, tick)) {
      d.outcome = Outcome::no_match;
    } else if (!cooldown_allows(rule, state, ts)) {
      d.outcome = Outcome::suppressed_by_cooldown;
    } else {
      d.outcome = Outcome::fired;
      d.next.exists = true;
      d.next.last_fire_ts = ts;
      d.state_write_needed = true;
    }
    return d;
  }
  const Side side = side_of(rule, tick.price);
  if (!state.exists || !state.side) {
    d.outcome = Outcome::first_seen;
  } else if (state.side_ts && ts <= *state.side_ts) {
    d.outcome = Outcome::late;
    return d;
  } else if (*state.side == side) {
    d.outcome = Outcome::no_match;
    return d;
  } else if (side != fire_side(rule.condition)) {
    d.outcome = Outcome::side_changed;
  } else if (!cooldown_allows(rule, state, ts)) {
    d.outcome = Outcome::suppressed_by_cooldown;
  } else {
    d.outcome = Outcome::fired;
    d.next.last_fire_ts = ts;
  }
  d.next.exists = true;
  d.next.side = side;
  d.next.side_ts = ts;
  d.state_write_needed = true;
  return d;
}

std::vector<StateKey> touched_keys(const RuleSet& rules, std::span<const BatchTick> ticks,
                                   bool crossing_only) {
  std::vector<StateKey> keys;
  std::unordered_map<StateKey, bool, StateKeyHash> seen;
  for (const BatchTick& bt : ticks) {
    rules.for_each_rule(bt.tick->symbol, [&](std::size_t i, const Rule& r) {
      if (crossing_only && !is_crossing(r.condition)) return;
      StateKey k{i, bt.tick->symbol};
      if (seen.emplace(k, true).second) keys.push_back(std::move(k));
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
  plan.initial = initial;
  plan.ticks.reserve(tick_indices.size());
  RuleState state = initial;
  RuleState written = initial;  // what the store holds once the steps so far succeeded
  bool pending_side = false;    // the last step is a side write that a later side change may replace
  for (const std::size_t bi : tick_indices) {
    const Decision d = evaluate(rule, *batch[bi].tick, state);
    const std::size_t pos = plan.ticks.size();
    plan.ticks.push_back({bi, batch[bi].message_index, d.outcome});
    if (d.outcome == Outcome::late) ++plan.late_count;
    if (!d.state_write_needed) continue;
    if (d.outcome == Outcome::fired) {
      Step s{Step::Kind::fire, pos,    pos,
             written,          d.next, subtract_seconds(batch[bi].tick->ts.micros, rule.cooldown_seconds)};
      if (pending_side) {  // the fire's state write supersedes the pending side write
        s.first_pos = plan.steps.back().first_pos;
        s.expected = plan.steps.back().expected;
        plan.steps.pop_back();
      }
      plan.steps.push_back(s);
      pending_side = false;
    } else if (pending_side) {
      plan.steps.back().pos = pos;
      plan.steps.back().next = d.next;
    } else {
      plan.steps.push_back({Step::Kind::write_side, pos, pos, written, d.next, 0});
      pending_side = true;
    }
    written = d.next;
    state = d.next;
  }
  plan.final_state = state;
  return plan;
}

std::vector<KeyPlan> plan_batch(const RuleSet& rules, std::span<const BatchTick> ticks,
                                const StateMap& known) {
  std::vector<StateKey> keys;
  std::unordered_map<StateKey, std::vector<std::size_t>, StateKeyHash> members;
  for (std::size_t i = 0; i < ticks.size(); ++i) {
    rules.for_each_rule(ticks[i].tick->symbol, [&](std::size_t ri, const Rule&) {
      StateKey k{ri, ticks[i].tick->symbol};
      auto [it, inserted] = members.try_emplace(k);
      if (inserted) keys.push_back(std::move(k));
      it->second.push_back(i);
    });
  }
  std::vector<KeyPlan> plans;
  plans.reserve(keys.size());
  for (StateKey& k : keys) {
    const auto st = known.find(k);
    const RuleState initial = st == known.end() ? RuleState{} : st->second;
    auto& idx = members[k];
    const Rule& rule = rules.rule(k.rule_index);
    plans.push_back(plan_key(rule, std::move(k), ticks, std::move(idx), initial));
  }
  return plans;
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

std::vector<AlertKey> candidate_alert_keys(const RuleSet& rules, const Tick& tick) {
  std::vector<AlertKey> out;
  rules.for_each_rule(tick.symbol, [&](std::size_t i, const Rule& r) {
    if (!condition_holds(r, tick)) return;
    out.push_back({tick.symbol, tick.ts.text + "#" + r.id, i});
  });
  return out;
}

}  // namespace tap
