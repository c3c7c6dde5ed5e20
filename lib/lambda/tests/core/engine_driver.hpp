// Test support: drives plan_symbol as a handler does (one plan per symbol per batch, each on the state
// the previous one committed, pending fires completed by plans without ticks, every stored fire notified
// after its commit and so confirmed to the next plan) and records the alerts that would be stored. Pure:
// the store is a map.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <ostream>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "tap/core/rule_index.hpp"
#include "tap/core/symbol_engine.hpp"

namespace tap::testing {

inline constexpr std::int64_t kT0 = 1'767'225'600LL * kMicrosPerSecond;  // 2026-01-01T00:00:00Z
constexpr std::int64_t at_s(double seconds) {
  return kT0 + static_cast<std::int64_t>(seconds * static_cast<double>(kMicrosPerSecond));
}

// A rule version with the fields the tests vary; the others keep Rule's defaults.
inline Rule make_version(std::string id, std::string symbol, Condition condition, double threshold,
                         TriggerMode mode, std::int64_t cooldown_seconds, std::int64_t bar_seconds) {
  Rule r;
  r.id = std::move(id);
  r.symbol = std::move(symbol);
  r.condition = condition;
  r.threshold = threshold;
  r.mode = mode;
  r.cooldown_seconds = cooldown_seconds;
  r.bar_seconds = bar_seconds;
  return r;
}

inline Tick tick_at(std::string symbol, double price, std::int64_t ts, std::uint64_t seq = 0) {
  Tick t;
  t.symbol = std::move(symbol);
  t.price = price;
  t.ts.micros = ts;
  t.seq = seq;
  return t;
}

struct StoredAlert {
  std::string symbol;
  Position pos;
  std::string rule_id;
  std::uint32_t version = 0;
  friend auto operator<=>(const StoredAlert&, const StoredAlert&) = default;
  friend void PrintTo(const StoredAlert& a, std::ostream* os) {  // gtest's printer: seconds after kT0
    *os << a.symbol << "@" << static_cast<double>(a.pos.ts_micros - kT0) / kMicrosPerSecond << "#"
        << a.pos.seq << " " << a.rule_id << " v" << a.version;
  }
};

class EngineDriver {
 public:
  explicit EngineDriver(std::vector<Rule> versions, EngineLimits limits = {})
      : rules_(std::move(versions)), index_(rules_), limits_(limits) {}
  EngineDriver(const EngineDriver&) = delete;
  EngineDriver& operator=(const EngineDriver&) = delete;

  std::map<std::string, SymbolControls> controls;
  OnceMarkers once;
  std::size_t mode_choices = 0;

  // One batch: the ticks of each symbol (first-seen order) planned and committed.
  std::vector<SymbolPlan> deliver(const std::vector<Tick>& batch) {
    std::vector<std::string> order;
    std::map<std::string, std::vector<SymbolTick>> by_symbol;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      auto [it, fresh] = by_symbol.try_emplace(batch[i].symbol);
      if (fresh) order.push_back(batch[i].symbol);
      it->second.push_back({&batch[i], i});
    }
    std::vector<SymbolPlan> plans;
    for (const std::string& symbol : order) {
      plans.push_back(plan_and_commit(symbol, by_symbol[symbol]));
      while (std::any_of(states_[symbol].fires.begin(), states_[symbol].fires.end(),
                         [](const FireRecord& f) { return !f.stored; })) {
        const SymbolPlan drain = plan_and_commit(symbol, {});
        EXPECT_TRUE(drain.write_needed);
        EXPECT_FALSE(drain.completing.empty());
      }
    }
    return plans;
  }

  SymbolPlan plan_and_commit(const std::string& symbol, const std::vector<SymbolTick>& ticks) {
    SymbolState& state = states_[symbol];
    static const SymbolControls kNone;
    const auto c = controls.find(symbol);
    ConfirmedFires confirmed;  // every stored fire's notification went out after its commit
    for (const FireRecord& f : state.fires) {
      if (awaits_confirmation(f)) confirmed.insert({f.rule_id, f.tick});
    }
    SymbolPlan plan = plan_symbol(index_, symbol, state, ticks, c == controls.end() ? kNone : c->second, once,
                                  limits_, confirmed);
    EXPECT_TRUE(plan.to_confirm.empty());
    EXPECT_EQ(plan.next.revision, state.revision + 1);
    mode_choices += plan.mode_choices;
    if (!plan.write_needed) {
      EXPECT_TRUE(plan.fires.empty());
      EXPECT_TRUE(plan.completing.empty());
      return plan;
    }
    for (const NewFire& f : plan.fires) {
      if (f.stored) store(symbol, f.at.pos, rules_.rule(f.rule_index).id, rules_.rule(f.rule_index).version);
      const Rule& r = rules_.rule(f.rule_index);
      if (f.stored && r.mode == TriggerMode::once) once.insert({r.id, r.arming});
    }
    for (const FireRecord& f : plan.completing) {
      store(symbol, f.tick, f.rule_id, f.version);
      if (f.once_arming) once.insert({f.rule_id, *f.once_arming});
    }
    state = plan.next;
    return plan;
  }

  const std::set<StoredAlert>& stored() const { return stored_; }
  const SymbolState& state(const std::string& symbol) { return states_[symbol]; }
  const RuleSet& rules() const { return rules_; }

 private:
  void store(const std::string& symbol, Position pos, const std::string& id, std::uint32_t version) {
    // F4: one alert per (symbol, tick time, rule id): a second fire with the same key is a double alert.
    for (const StoredAlert& a : stored_) {
      EXPECT_FALSE(a.symbol == symbol && a.pos.ts_micros == pos.ts_micros && a.rule_id == id)
          << "alert stored twice: " << symbol << " " << pos.ts_micros << " " << id;
    }
    stored_.insert({symbol, pos, id, version});
  }

  RuleSet rules_;
  RuleIndex index_;
  EngineLimits limits_;
  std::map<std::string, SymbolState> states_;
  std::set<StoredAlert> stored_;
};

}  // namespace tap::testing
