#include "tap/core/symbol_engine.hpp"

#include <algorithm>
#include <limits>
#include <numeric>
#include <unordered_map>

#include "tap/core/conditions.hpp"
#include "tap/core/timestamp.hpp"

// The algorithm and the argument for it: docs/design.md (section 5).
namespace tap {
namespace {

constexpr std::int64_t kMaxReachMicros = 86'400 * kMicrosPerSecond;  // the longest cooldown and bar (R2)

std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
  return a > std::numeric_limits<std::int64_t>::max() - b ? std::numeric_limits<std::int64_t>::max() : a + b;
}
std::int64_t saturating_sub(std::int64_t a, std::int64_t b) {
  return a < std::numeric_limits<std::int64_t>::min() + b ? std::numeric_limits<std::int64_t>::min() : a - b;
}

std::int64_t cooldown_micros(const Rule& r) {
  return std::max<std::int64_t>(r.cooldown_seconds, 1) * kMicrosPerSecond;  // R2: >= 1 s
}
std::int64_t bar_micros(const Rule& r) { return std::max<std::int64_t>(r.bar_seconds, 1) * kMicrosPerSecond; }
std::int64_t bar_of(std::int64_t ts, std::int64_t bar) {  // epoch-aligned (floor division)
  return ts / bar - (ts % bar < 0 ? 1 : 0);
}

// The first instant at which a fire of `r` at `ts` no longer suppresses anything (FireRecord contract).
std::int64_t reach_until(const Rule& r, std::int64_t ts) {
  switch (r.mode) {
    case TriggerMode::every:
      return saturating_add(ts, cooldown_micros(r));
    case TriggerMode::once_per_bar:
      return (bar_of(ts, bar_micros(r)) + 1) * bar_micros(r);
    case TriggerMode::once:
      break;
  }
  return ts;
}
// A record's reach as the pruning uses it: an adapter that does not encode it keeps the default (never),
// bounded by the longest reach a mode can have.
std::int64_t effective_reach(const FireRecord& f) {
  return std::min(f.reach_until_micros, saturating_add(f.tick.ts_micros, kMaxReachMicros));
}

// One tick of the merged sequence: a held tick, or an input tick applied by this plan.
struct Entry {
  HeldTick tick;
  std::optional<std::size_t> input;
};

struct Candidate {
  Position pos;
  double price = 0;
  std::size_t rule_index = 0;
  bool crossing = false;
  std::optional<std::size_t> input_tick;
  std::size_t cause = 0;
};

class Planner {
 public:
  Planner(const RuleIndex& index, std::string_view symbol, const SymbolState& state,
          std::span<const SymbolTick> ticks, const SymbolControls& controls, const OnceMarkers& once,
          const EngineLimits& limits, const ConfirmedFires& confirmed)
      : lists_(index.lists_of(symbol)),
        rules_(index.rules()),
        state_(state),
        ticks_(ticks),
        controls_(controls),
        once_(once),
        limits_(limits),
        confirmed_(confirmed) {}

  SymbolPlan run() {
    plan_.next = state_;
    plan_.next.exists = true;
    plan_.next.revision = state_.revision + 1;
    confirm();
    for (const FireRecord& f : state_.fires) by_rule_[f.rule_id].push_back(&f);
    place();
    collect_crossings();
    decide();
    record();
    trim();
    plan_.write_needed = !plan_.fires.empty() || !plan_.completing.empty() ||
                         plan_.next.ticks != state_.ticks || plan_.next.fires != state_.fires ||
                         plan_.next.fires_complete_from != state_.fires_complete_from;
    return std::move(plan_);
  }

 private:
  const Tick& input(std::size_t i) const { return *ticks_[i].tick; }
  static Position position_of(const Tick& t) { return {t.ts.micros, t.seq}; }

  bool suspended(std::int64_t ts) const {
    return std::any_of(controls_.suspensions.begin(), controls_.suspensions.end(),
                       [&](const EffectiveWindow& w) { return w.contains(ts); });
  }
  bool out_of_band(const Tick& t) const {
    for (const PriceBand& b : controls_.bands) {
      if (b.window.contains(t.ts.micros)) return t.price < b.low || t.price > b.high;
    }
    return false;
  }
  // Before the oldest held tick: beyond W once a tick has been trimmed (its side is no longer known), or
  // when older than W behind the newest held tick; otherwise it takes its place at the front.
  bool beyond_window(Position p) const {
    if (state_.ticks.empty() || state_.ticks.front().pos < p) return false;
    return state_.ticks_trimmed || p.ts_micros < window_start(state_.ticks.back());
  }
  // W by event time: the oldest instant a tick may have and still be placed, behind the newest held tick.
  std::int64_t window_start(const HeldTick& newest) const {
    return saturating_sub(newest.pos.ts_micros, limits_.reorder_window_micros);
  }
  bool held_at(Position p) const {
    if (state_.ticks.empty() || state_.ticks.back().pos < p) return false;  // newer than all: no search
    const auto it = std::lower_bound(state_.ticks.begin(), state_.ticks.end(), p,
                                     [](const HeldTick& h, Position q) { return h.pos < q; });
    return it != state_.ticks.end() && it->pos == p;
  }

  // Item 1 of the contract: each input tick's fate, in position order (ties: delivery order, so the first
  // delivered of a position wins); the merged sequence of held and applied ticks.
  void place() {
    const std::size_t n = ticks_.size();
    plan_.fates.assign(n, TickFate::applied);
    // A symbol's ticks mostly arrive in order: the sort (and its index) only when they do not.
    const bool in_order = std::is_sorted(
        ticks_.begin(), ticks_.end(),
        [](const SymbolTick& a, const SymbolTick& b) { return position_of(*a.tick) < position_of(*b.tick); });
    std::vector<std::size_t> order;
    if (!in_order) {
      order.resize(n);
      std::iota(order.begin(), order.end(), std::size_t{0});
      std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return position_of(input(a)) < position_of(input(b));
      });
    }
    std::optional<Position> last_placed;
    std::vector<Entry> applied;
    applied.reserve(n);
    level_ticks_.reserve(n);
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t i = in_order ? k : order[k];
      const Tick& t = input(i);
      const Position p = position_of(t);
      TickFate fate = TickFate::applied;
      if (held_at(p) || last_placed == p) {
        fate = TickFate::duplicate;
        redelivered_.push_back(p);
      } else if (suspended(t.ts.micros)) {
        fate = TickFate::suspended;
      } else if (out_of_band(t)) {
        fate = TickFate::out_of_band;
      } else if (beyond_window(p)) {
        fate = TickFate::beyond_window;
        redelivered_.push_back(p);  // a tick applied earlier and trimmed since: its fires are completed
      }
      plan_.fates[i] = fate;
      if (fate == TickFate::applied || fate == TickFate::beyond_window) {
        last_placed = p;
        level_ticks_.push_back(i);
      }
      if (fate == TickFate::applied) {
        Entry& e = applied.emplace_back();
        e.tick.pos = p;
        e.tick.price = t.price;
        e.input = i;
      }
    }
    merged_.reserve(state_.ticks.size() + applied.size());
    merged_ticks_.reserve(state_.ticks.size() + applied.size());
    // Field by field into place: an Entry assembled on the stack and copied stalls on store forwarding.
    static constexpr std::optional<std::size_t> kHeld;  // by reference, like the applied entries' inputs
    const auto append = [&](const HeldTick& t, const std::optional<std::size_t>& in) {
      Entry& e = merged_.emplace_back();
      e.tick = t;
      e.input = in;
      merged_ticks_.push_back(t);
    };
    auto a = applied.begin();
    for (const HeldTick& h : state_.ticks) {
      for (; a != applied.end() && a->tick.pos < h.pos; ++a) append(a->tick, a->input);
      append(h, kHeld);
    }
    for (; a != applied.end(); ++a) append(a->tick, a->input);
    for (const std::size_t i : level_ticks_) {
      lists_.for_each_level(input(i), [&](std::size_t r) {
        const Tick& t = input(i);
        candidates_.push_back({position_of(t), t.price, r, false, i, i});
      });
    }
  }

  // Item 2: the crossing versions whose side differs across a changed adjacent pair, then their
  // unmatched excursions as candidates.
  void collect_crossings() {
    std::vector<std::size_t> crossed;
    const auto query = [&](std::size_t from, std::size_t to) {
      lists_.for_each_crossed(merged_[from].tick.price, merged_[to].tick.price,
                              merged_[to].tick.pos.ts_micros, [&](std::size_t r) { crossed.push_back(r); });
    };
    const std::size_t m = merged_.size();
    for (std::size_t s = 0; s < m;) {
      if (!merged_[s].input) {
        ++s;
        continue;
      }
      std::size_t e = s;
      while (e + 1 < m && merged_[e + 1].input) ++e;
      for (std::size_t k = std::max<std::size_t>(s, 1); k <= e + 1 && k < m; ++k) query(k - 1, k);
      if (s >= 1 && e + 1 < m) query(s - 1, e + 1);  // the pair the run separated
      s = e + 1;
    }
    std::sort(crossed.begin(), crossed.end());
    crossed.erase(std::unique(crossed.begin(), crossed.end()), crossed.end());
    for (const std::size_t r : crossed) excursions_of(r);
    count_moved_conflicts(crossed);
  }

  // The version of rule `id` applying at `ts` whose line separates `from` and `to`, if any.
  std::optional<std::size_t> same_rule_crossed(const std::string& id, double from, double to,
                                               std::int64_t ts) const {
    std::optional<std::size_t> found;
    lists_.for_each_crossed(from, to, ts, [&](std::size_t j) {
      if (rules_.rule(j).id == id) found = j;
    });
    return found;
  }
  static bool same_line(const Rule& a, const Rule& b) {
    return a.condition == b.condition && a.threshold == b.threshold;
  }

  // F3 continuity: the crossing's previous tick lies in v's window or in the window of an earlier version
  // of the rule with the same condition and threshold.
  bool in_continuity(const Rule& v, const HeldTick& pred, const HeldTick& first) const {
    if (v.window.contains(pred.pos.ts_micros)) return true;
    const auto j = same_rule_crossed(v.id, pred.price, first.price, pred.pos.ts_micros);
    return j && rules_.rule(*j).version < v.version && same_line(rules_.rule(*j), v);
  }

  // A crossing fire of v's rule at a tick of the excursion [first, last], of v's line (a moved crossing).
  bool matched(const Rule& v, const HeldTick& pred, const HeldTick& first, Position last,
               std::span<const FireRecord* const> fires) const {
    for (const FireRecord* f : fires) {
      if (!f->crossing || f->tick < first.pos || last < f->tick) continue;
      if (f->version == v.version) return true;
      const auto j = same_rule_crossed(v.id, pred.price, first.price, f->tick.ts_micros);
      if (j && rules_.rule(*j).version == f->version && same_line(rules_.rule(*j), v)) return true;
    }
    return false;
  }

  std::span<const FireRecord* const> log_of(const std::string& id) const {
    const auto it = by_rule_.find(id);
    if (it == by_rule_.end()) return {};
    return it->second;
  }

  // The crossings of v's line over the held ticks that this input changed (a new tick is the run's first
  // tick, its predecessor, inside it or right after it). A run no input tick touches was decided when it
  // last changed and nothing that decided it can have changed since: its fire stays in it (runs never
  // merge), blockers are never pruned while they reach a held tick, markers and fires_complete_from only
  // grow. A run is owned by the version of v's rule applying at its first tick (v, or another version of
  // the same line: a fire moved across an edit may leave an earlier version's run unmatched when a late
  // tick splits it).
  void excursions_of(std::size_t r) {
    const Rule& v = rules_.rule(r);
    const std::size_t m = merged_.size();
    for (std::size_t a = 1; a < m; ++a) {
      if (!on_fire_side(v, merged_[a].tick.price) || on_fire_side(v, merged_[a - 1].tick.price)) continue;
      std::size_t b = a;
      while (b + 1 < m && on_fire_side(v, merged_[b + 1].tick.price)) ++b;
      std::optional<std::size_t> cause = merged_[a].input ? merged_[a].input : merged_[a - 1].input;
      for (std::size_t k = a + 1; k <= std::min(b + 1, m - 1) && !cause; ++k) cause = merged_[k].input;
      const HeldTick& pred = merged_[a - 1].tick;
      const HeldTick& first = merged_[a].tick;
      std::optional<std::size_t> owner;
      if (cause && v.applies_at(first.pos.ts_micros)) {
        owner = r;
      } else if (const auto j = cause ? same_rule_crossed(v.id, pred.price, first.price, first.pos.ts_micros)
                                      : std::nullopt;
                 j && same_line(rules_.rule(*j), v)) {
        owner = j;
      }
      if (owner && in_continuity(rules_.rule(*owner), pred, first) &&
          !matched(rules_.rule(*owner), pred, first, merged_[b].tick.pos, log_of(v.id))) {
        candidates_.push_back({first.pos, first.price, *owner, true, merged_[a].input, *cause});
      }
      a = b;
    }
  }

  // Where the in-order replay over `ticks` has fire f of r's rule: a crossing at the first tick of the
  // excursion now holding it, on the line of the version that made it (r's, or found through the index one
  // pair at a time: only a fire moved across an edit of its rule needs that).
  Position replay_position(const Rule& r, const FireRecord& f, const std::vector<HeldTick>& ticks) const {
    if (!f.crossing) return f.tick;
    auto it = std::lower_bound(ticks.begin(), ticks.end(), f.tick,
                               [](const HeldTick& h, Position p) { return h.pos < p; });
    if (it == ticks.end() || it->pos != f.tick) return f.tick;
    for (; it != ticks.begin(); --it) {
      const double before = std::prev(it)->price;
      if (r.version == f.version) {
        if (!on_fire_side(r, before)) break;
      } else if (const auto j = same_rule_crossed(f.rule_id, before, it->price, f.tick.ts_micros);
                 j && rules_.rule(*j).version == f.version) {
        break;
      }
    }
    return it->pos;
  }

  // Would two fires of r's rule, placed at these positions, exclude each other (R2)?
  static bool exclude(const Rule& r, Position a, const FireRecord& g, Position at) {
    FireRecord placed = g;
    placed.tick = at;
    return suppresses(r, Candidate{a, 0, 0, false, std::nullopt, 0}, placed);
  }

  // A late tick that moves a stored crossing to an earlier tick (its key stays) changes what the fire
  // withholds in the replay's view: counted where that can differ from the engine's decisions.
  void count_moved_conflicts(const std::vector<std::size_t>& crossed) {
    std::vector<std::string_view> seen;
    for (const std::size_t v : crossed) {
      const Rule& r = rules_.rule(v);
      if (std::find(seen.begin(), seen.end(), r.id) != seen.end()) continue;
      seen.push_back(r.id);
      const auto fires = log_of(r.id);
      std::vector<Position> before, after;
      for (const FireRecord* f : fires) {
        before.push_back(replay_position(r, *f, state_.ticks));
        after.push_back(replay_position(r, *f, merged_ticks_));
      }
      for (std::size_t i = 0; i < fires.size(); ++i) {
        for (std::size_t k = i + 1; k < fires.size(); ++k) {
          if (before[i] == after[i] && before[k] == after[k]) continue;
          if (exclude(r, after[i], *fires[k], after[k]) && !exclude(r, before[i], *fires[k], before[k])) {
            ++plan_.mode_choices;
          }
        }
      }
      // A moved fire withholds other ticks at its key than the replay's fire would: a tick decided against
      // it (withheld, or fired beside it) may be decided otherwise by the replay.
      for (std::size_t i = 0; i < fires.size(); ++i) {
        if (before[i] == after[i]) continue;
        const FireRecord& f = *fires[i];
        const bool differs = std::any_of(merged_ticks_.begin(), merged_ticks_.end(), [&](const HeldTick& y) {
          const bool own = after[i] <= y.pos && y.pos <= f.tick;  // the fire's own excursion
          return !own && exclude(r, y.pos, f, f.tick) != exclude(r, y.pos, f, after[i]);
        });
        if (differs) ++plan_.mode_choices;
      }
    }
  }

  // Does fire f of the candidate's rule suppress the candidate (R2, in event time, both sides)?
  static bool suppresses(const Rule& r, const Candidate& c, const FireRecord& f) {
    if (f.tick == c.pos) return true;  // the rule already fired on this tick
    switch (r.mode) {
      case TriggerMode::every: {
        const std::int64_t d = c.pos.ts_micros - f.tick.ts_micros;
        return (d < 0 ? -d : d) < cooldown_micros(r);
      }
      case TriggerMode::once_per_bar:
        return bar_of(c.pos.ts_micros, bar_micros(r)) == bar_of(f.tick.ts_micros, bar_micros(r));
      case TriggerMode::once:
        break;
    }
    return f.once_arming == r.arming;
  }

  // Items 3 and 4: candidates in position order, each against the log and the plan's earlier fires.
  void decide() {
    std::stable_sort(candidates_.begin(), candidates_.end(), [](const Candidate& a, const Candidate& b) {
      return a.pos < b.pos || (a.pos == b.pos && a.rule_index < b.rule_index);
    });
    // A run found through two crossed versions of its rule is one candidate.
    candidates_.erase(std::unique(candidates_.begin(), candidates_.end(),
                                  [](const Candidate& a, const Candidate& b) {
                                    return a.pos == b.pos && a.rule_index == b.rule_index;
                                  }),
                      candidates_.end());
    new_records_.reserve(candidates_.size());  // at most one record per candidate: addresses stay put
    for (const Candidate& c : candidates_) {
      const Rule& r = rules_.rule(c.rule_index);
      if (c.pos.ts_micros < state_.fires_complete_from) continue;  // the fires around it may be pruned
      std::vector<const FireRecord*>& mine = planned_[r.id];
      // The decision in the key view (each fire at its key) and in the replay's view (each crossing fire at
      // the first tick of its excursion now). Where they differ, fires discovered out of order made the
      // engine choose (mode_choices): withheld where no fire at or before it withholds it in the replay (a
      // fire at its own position is the replay's too: a redelivered tick beyond W), or fired beside a fire
      // the replay could not have had with it.
      bool blocked = false, replay_blocks = false, replay_conflict = false;
      const auto check = [&](std::span<const FireRecord* const> fires) {
        for (const FireRecord* f : fires) {
          FireRecord in_replay = *f;
          in_replay.tick = replay_position(r, *f, merged_ticks_);
          const bool conflict = suppresses(r, c, in_replay);
          replay_conflict = replay_conflict || conflict;
          replay_blocks = replay_blocks || (conflict && in_replay.tick <= c.pos);
          blocked = blocked || suppresses(r, c, *f);
        }
      };
      check(log_of(r.id));
      check(mine);
      // A marker alone: a fire of another symbol or one pruned from the log, its position unknown here.
      const bool marked = r.mode == TriggerMode::once && once_.contains({r.id, r.arming});
      if (blocked || marked) {
        if (blocked && !replay_blocks) ++plan_.mode_choices;
        continue;
      }
      if (replay_conflict) ++plan_.mode_choices;
      // Unvouched (the contract's three cases): beyond W, a counted choice, a `once` rule on "*".
      const bool beyond_w = !c.crossing && plan_.fates[*c.input_tick] == TickFate::beyond_window;
      const bool unvouched = beyond_w || replay_conflict || (r.mode == TriggerMode::once && r.symbol == "*");
      FireRecord rec{r.id,
                     r.version,
                     c.pos,
                     c.crossing,
                     true,
                     false,
                     reach_until(r, c.pos.ts_micros),
                     r.mode == TriggerMode::once ? std::optional<std::uint32_t>(r.arming) : std::nullopt,
                     unvouched};
      new_records_.push_back(std::move(rec));
      mine.push_back(&new_records_.back());
      plan_.fires.push_back({c.rule_index, HeldTick{c.pos, c.price}, c.input_tick, c.cause, true, unvouched});
    }
  }

  // F5: the stored fires of the read state whose notification the handler confirmed are recorded
  // notified; the others are listed (to_confirm) and kept, whatever their reach, until one is.
  void confirm() {
    for (FireRecord& f : plan_.next.fires) {
      if (!awaits_confirmation(f)) continue;
      if (confirmed_.contains({f.rule_id, f.tick})) {
        f.notified = true;
      } else {
        plan_.to_confirm.push_back(f);
      }
    }
  }

  // Item 5: pending fires first, then the new ones, kMaxFiresPerCommit stored per commit; to_complete.
  void record() {
    std::size_t room = kMaxFiresPerCommit;
    for (FireRecord& f : plan_.next.fires) {
      if (f.stored || room == 0) continue;
      f.stored = true;
      plan_.completing.push_back(f);
      --room;
    }
    for (std::size_t i = 0; i < new_records_.size(); ++i) {
      const bool stored = i < room;
      new_records_[i].stored = stored;
      plan_.fires[i].stored = stored;
    }
    std::vector<FireRecord> all;
    all.reserve(plan_.next.fires.size() + new_records_.size());
    std::merge(std::make_move_iterator(plan_.next.fires.begin()),
               std::make_move_iterator(plan_.next.fires.end()), new_records_.begin(), new_records_.end(),
               std::back_inserter(all),
               [](const FireRecord& a, const FireRecord& b) { return a.tick < b.tick; });
    plan_.next.fires = std::move(all);
    std::sort(redelivered_.begin(), redelivered_.end());
    redelivered_.erase(std::unique(redelivered_.begin(), redelivered_.end()), redelivered_.end());
    for (const FireRecord& f : state_.fires) {
      if (f.stored && std::binary_search(redelivered_.begin(), redelivered_.end(), f.tick)) {
        plan_.to_complete.push_back(f);
      }
    }
  }

  // Item 5: held ticks to the limits, then the fire log to what a tick still evaluable can need.
  void trim() {
    std::vector<HeldTick>& held = plan_.next.ticks;
    held = std::move(merged_ticks_);  // trim is the plan's last step: nothing reads them after it
    if (held.empty()) return;
    const std::int64_t horizon = window_start(held.back());
    std::size_t drop = 0;
    while (drop + 1 < held.size() &&
           (held[drop].pos.ts_micros < horizon ||
            held.size() - drop > std::max<std::size_t>(limits_.max_held_ticks, 1))) {
      ++drop;
    }
    held.erase(held.begin(), held.begin() + static_cast<std::ptrdiff_t>(drop));
    if (drop > 0) plan_.next.ticks_trimmed = true;
    const Position oldest = held.front().pos;
    std::int64_t& complete_from = plan_.next.fires_complete_from;
    std::vector<FireRecord>& fires = plan_.next.fires;
    // A stored fire before the oldest held tick whose reach ends by it suppresses no tick at or after the
    // oldest held one: dropping it keeps the log complete from its reach on.
    std::erase_if(fires, [&](const FireRecord& f) {
      const bool prune = f.stored && f.notified && f.tick < oldest && effective_reach(f) <= oldest.ts_micros;
      if (prune) complete_from = std::max(complete_from, effective_reach(f));
      return prune;
    });
    // The count bound: drop the stored and notified fires that reach least far first.
    const auto prunable = [](const FireRecord& f) { return f.stored && f.notified; };
    const auto stored = static_cast<std::size_t>(std::count_if(fires.begin(), fires.end(), prunable));
    if (stored <= limits_.max_fire_records) return;
    std::vector<std::size_t> by_reach;
    for (std::size_t i = 0; i < fires.size(); ++i) {
      if (prunable(fires[i])) by_reach.push_back(i);
    }
    std::stable_sort(by_reach.begin(), by_reach.end(), [&](std::size_t a, std::size_t b) {
      return effective_reach(fires[a]) < effective_reach(fires[b]);
    });
    std::vector<bool> dropped(fires.size(), false);
    for (std::size_t k = 0; k < stored - limits_.max_fire_records; ++k) {
      const FireRecord& f = fires[by_reach[k]];
      dropped[by_reach[k]] = true;
      complete_from = std::max({complete_from, effective_reach(f), saturating_add(f.tick.ts_micros, 1)});
    }
    std::size_t i = 0;
    std::erase_if(fires, [&](const FireRecord&) { return dropped[i++]; });
  }

  RuleIndex::SymbolLists lists_;  // the index's lists of the plan's symbol, looked up once per plan
  const RuleSet& rules_;
  const SymbolState& state_;
  std::span<const SymbolTick> ticks_;
  const SymbolControls& controls_;
  const OnceMarkers& once_;
  const EngineLimits& limits_;
  const ConfirmedFires& confirmed_;

  SymbolPlan plan_;
  std::vector<Entry> merged_;
  std::vector<HeldTick> merged_ticks_;    // the same ticks alone
  std::vector<std::size_t> level_ticks_;  // input ticks evaluated for level versions, in position order
  std::vector<Position> redelivered_;     // positions of duplicate and beyond-window input ticks
  std::vector<Candidate> candidates_;
  std::unordered_map<std::string, std::vector<const FireRecord*>> by_rule_;  // the read log, per rule id
  std::unordered_map<std::string, std::vector<const FireRecord*>> planned_;  // this plan's fires
  std::vector<FireRecord> new_records_;  // reserved before the first: stable addresses (planned_ points in)
};

}  // namespace

std::string_view to_string(TickFate f) {
  switch (f) {
    case TickFate::applied:
      return "applied";
    case TickFate::duplicate:
      return "duplicate";
    case TickFate::beyond_window:
      return "beyond_window";
    case TickFate::suspended:
      return "suspended";
    case TickFate::out_of_band:
      break;
  }
  return "out_of_band";
}

SymbolPlan plan_symbol(const RuleIndex& index, std::string_view symbol, const SymbolState& state,
                       std::span<const SymbolTick> ticks, const SymbolControls& controls,
                       const OnceMarkers& once, const EngineLimits& limits, const ConfirmedFires& confirmed) {
  return Planner(index, symbol, state, ticks, controls, once, limits, confirmed).run();
}

}  // namespace tap
