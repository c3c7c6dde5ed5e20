// R3/R4: the processor's view of the rules storage. It loads every rule version cold (parallel scan
// segments), then keeps itself valid for the ticks a batch needs by advancing the fences of
// rules_store.hpp and applying the changed records. It never writes rules.
//
// Contract: after cover(t) succeeds, `versions()` holds every version of every rule (within the retention
// horizon) whose change was committed before the fence passed t: so evaluating a tick with ts <
// covered_until() against versions() is exactly what an instance that knew every change would do (R3).
// cover() sends no request when covered_until() > t already and the last refresh is less than
// `refresh_interval` old; when nothing changed a refresh costs one request per shard (the fence write returns
// the head: seq unchanged). The fence target is now + fence_lead (< P, so writers' effective_from = now + P
// stays ahead of it); a tick at or after the target cannot be covered yet (its message is retried). Invalid
// items are skipped and counted; they never fail a load.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tap/app/rules_store.hpp"

namespace tap {

struct RulesCacheSettings {
  std::uint32_t scan_segments = 16;                            // parallel cold-load segments
  std::int64_t fence_lead_micros = 3 * kMicrosPerSecond;       // < P
  std::int64_t refresh_interval_micros = kMicrosPerSecond;     // at most one refresh per second when idle
  std::int64_t horizon_micros = 4 * 86400 * kMicrosPerSecond;  // R4 retention horizon H
};

struct RefreshReport {
  bool requested = false;           // a request was sent
  std::size_t records_changed = 0;  // records re-read and applied
  std::size_t invalid = 0;          // items skipped (InvalidRules)
};

class RulesCache {
 public:
  using Clock = std::function<std::int64_t()>;  // wall clock, micros since the epoch
  RulesCache(RulesStore& store, Clock clock, RulesCacheSettings settings);

  Result<RefreshReport, AwsError> load(Deadline deadline);                             // cold
  Result<RefreshReport, AwsError> cover(std::int64_t tick_micros, Deadline deadline);  // warm
  std::int64_t covered_until() const;  // min over shards of the fence this view is complete for
  const std::vector<Rule>& versions() const;
  const std::vector<SymbolControlRecord>& controls() const;
  std::uint64_t generation() const;  // grows whenever versions() or controls() changed (index rebuild)
  std::int64_t age_micros() const;   // now - the last successful refresh (RuleSetAgeMs)

 private:
  RulesStore& store_;
  Clock clock_;
  RulesCacheSettings settings_;
  std::vector<RulesHead> heads_;  // per shard, as of the last refresh
  std::vector<RuleRecord> records_;
  std::vector<Rule> versions_;
  std::vector<SymbolControlRecord> controls_;
  std::uint64_t generation_ = 0;
  std::int64_t refreshed_at_micros_ = 0;
};

}  // namespace tap
