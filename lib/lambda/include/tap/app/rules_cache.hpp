// R3/R4: the processor's view of the rules storage. It loads every rule version cold (parallel scan
// segments), then keeps itself valid for the ticks a batch needs by advancing the fences of
// rules_store.hpp and applying the changed records. It never writes rules.
//
// Contract: after cover(t) succeeds with `covered`, `versions()` holds every version of every rule (within
// the retention horizon) whose change was committed before the fence passed t: so evaluating a tick with
// ts < covered_until() against versions() is exactly what an instance that knew every change would do (R3).
// Coverage is decided by the fences only, never by the clock or the age of the view.
// cover() sends no request when covered_until() > t already and the last refresh is less than
// `refresh_interval` old; when nothing changed a refresh costs one request per shard (the fence write returns
// the head: seq unchanged). When a shard's seq moved, the refresh reads that shard's log entries with
// effective_from >= its previous fence and the records they name (plus the symbol controls when a control
// changed). The fence target is now + fence_lead (< P, so writers' effective_from = now + P stays ahead of
// it); a tick at or after both covered_until() and the target cannot be covered yet: cover() then sends
// nothing and answers `covered = false` (the handler retries that message). A tick below covered_until() is
// covered whatever the reader's clock says (another reader may have moved the fence further). Invalid items
// are skipped (a rule whose item turned invalid keeps its last valid record), counted and listed for the log;
// they never fail a load.
//
// The first cover() loads when load() was not called; so does a cover() on a view not refreshed for the
// retention horizon (the log keeps entries longer than that, not forever).
//
// Cold load beside the first invocation (docs/design.md 12.6): start_load() runs the load on a thread of its
// own, which builds a view apart from the cache's (its own result, nothing shared). The first cover() waits
// for it, up to that cover's deadline, and adopts the view whole, then covers the tick as a warm cover does;
// a load that failed, or had not finished by that deadline, makes cover() fail (the view stays empty: no
// batch sees part of a load). A tick at or after now + fence_lead is `covered = false` at once (no load
// could cover it yet). A load in flight is waited for again by the next cover(); a failed one is
// loaded again, synchronously, by the next cover().
//
// Incremental (R4): a refresh that applies k changed records costs O(k) (plus the versions of those records
// and the horizon's expiries, O(log n) each), never n: changes_since(generation() - 1) lists what left and
// what entered versions() (a consumer holding the previous generation applies just that: the handler's rule
// index does, RuleIndex::update), and versions() itself is assembled only when asked for (O(n log n): a
// cold start, the tools and the tests).
//
// Threads: load() scans its segments on `scan_stores` (one std::jthread per store, each store used by its
// thread only: the DynamoDB adapter's HTTP connection is not shared) or, with none, on `store` in turn. The
// cache itself is used by one thread at a time. start_load's thread reads only what it was handed (a copy of
// the settings, the store given, the scan stores) and writes only its own result, which the caller's thread
// takes through a future (the happens-before edge) and joins the thread before adopting it.
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <optional>
#include <queue>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tap/app/rules_store.hpp"

namespace tap {

struct RulesCacheSettings {
  std::uint32_t scan_segments = 16;                            // parallel cold-load segments
  std::int64_t fence_lead_micros = 3 * kMicrosPerSecond;       // < P
  std::int64_t refresh_interval_micros = kMicrosPerSecond;     // at most one refresh per second when idle
  std::int64_t horizon_micros = 4 * 86400 * kMicrosPerSecond;  // R4 retention horizon H
};

// What one rebuild changed in versions(): the versions that left it (by rule id and version) and those that
// entered it. A version whose content changed (a window closed, say) leaves and enters again.
struct VersionChanges {
  std::vector<std::pair<std::string, std::uint32_t>> removed;
  std::vector<Rule> added;
};

struct RefreshReport {
  bool requested = false;           // a request was sent
  bool covered = true;              // false: the tick is at or after now + fence_lead; retry its message
  std::size_t records_changed = 0;  // records re-read and applied
  std::size_t invalid = 0;          // items skipped (InvalidRules)
  std::vector<std::string> invalid_items;  // one line per skipped item, for the log
};

// What start_load's `done` hears, on the load's thread, once the load finished (its result is then ready
// for cover()): the versions loaded, the items skipped and how long it took.
struct LoadSummary {
  std::size_t versions = 0;
  std::size_t invalid = 0;
  std::int64_t took_micros = 0;
};

class RulesCache {
 public:
  using Clock = std::function<std::int64_t()>;  // wall clock, micros since the epoch
  RulesCache(RulesStore& store, Clock clock, RulesCacheSettings settings,
             std::vector<RulesStore*> scan_stores = {});

  Result<RefreshReport, AwsError> load(Deadline deadline);  // cold
  // The cold load on a thread of its own: fences and controls through `store`, the scans through the scan
  // stores (or `store`); neither may be used by another thread until cover() adopted the load (or the cache
  // is gone: its destruction joins the thread, which `deadline` bounds). Once only, before any cover().
  // The adopting cover()'s report lists the load's invalid items, as a synchronous load's does.
  using LoadDone = std::function<void(const Result<LoadSummary, AwsError>&)>;
  void start_load(RulesStore& store, Deadline deadline, LoadDone done = {});
  Result<RefreshReport, AwsError> cover(std::int64_t tick_micros, Deadline deadline);  // warm
  std::int64_t covered_until() const;  // min over shards of the fence this view is complete for
  const std::vector<Rule>& versions() const;
  const std::vector<SymbolControlRecord>& controls() const;
  std::uint64_t generation() const;  // grows whenever versions() or controls() changed (index rebuild)
  // The changes from generation `from` to generation(); nullptr when they are not known (`from` is not the
  // generation just before, or this one is a cold load): read versions() whole then.
  const VersionChanges* changes_since(std::uint64_t from) const;
  std::int64_t age_micros() const;  // now - the last successful refresh (RuleSetAgeMs)

 private:
  using Ends = std::priority_queue<std::pair<std::int64_t, std::string>,
                                   std::vector<std::pair<std::int64_t, std::string>>, std::greater<>>;
  // A cold load's whole result, built apart from the cache (on start_load's thread, or by load()).
  struct View {
    std::int64_t now = 0;
    std::vector<RulesHead> heads;
    std::unordered_map<std::string, RuleRecord> records;  // those with a version ending after the horizon
    Ends ends;
    std::vector<SymbolControlRecord> controls;
    RefreshReport report;
    std::size_t versions = 0;
  };
  static Result<View, AwsError> read_view(RulesStore& store, const std::vector<RulesStore*>& scan_stores,
                                          const RulesCacheSettings& settings, std::int64_t now,
                                          Deadline deadline);
  RefreshReport adopt(View view);
  Result<RefreshReport, AwsError> warm(std::int64_t tick_micros, Deadline deadline);
  Result<RefreshReport, AwsError> refresh(Deadline deadline);
  void rebuild(std::int64_t now, bool cold);  // cold: after a load (no changes known)
  void apply(RuleRecord record);              // a changed record, for the next rebuild

  RulesStore& store_;
  Clock clock_;
  RulesCacheSettings settings_;
  std::vector<RulesStore*> scan_stores_;
  std::vector<RulesHead> heads_;                         // per shard, as of the last refresh
  std::unordered_map<std::string, RuleRecord> records_;  // by rule id
  // versions() is every record's versions ending after horizon_ (the horizon of the last rebuild).
  std::int64_t horizon_ = 0;
  // Records applied since the last rebuild: by rule id, the versions the view held of it then.
  std::unordered_map<std::string, std::vector<Rule>> pending_;
  // The ends of the versions' windows (until < open end), soonest first: the horizon's next expiries. An
  // entry of a record changed since is checked against the record and dropped.
  Ends ends_;
  VersionChanges changes_;                     // the last rebuild's
  std::optional<std::uint64_t> changes_from_;  // the generation they apply to (none: a load)
  mutable std::vector<Rule> versions_;         // assembled on demand
  mutable bool versions_current_ = false;
  std::vector<SymbolControlRecord> controls_;
  std::uint64_t generation_ = 0;
  bool rebuild_pending_ = false;  // records applied that versions() does not show yet
  std::int64_t refreshed_at_micros_ = 0;
  std::optional<std::future<Result<View, AwsError>>> loading_;  // start_load's, until a cover() takes it
  std::jthread loader_;  // last: destroyed (joined) before the members its load might name
};

}  // namespace tap
