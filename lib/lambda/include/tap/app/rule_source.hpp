// The handler's port to its rule versions and symbol controls (R3/R4): a source that may change between
// batches. Before a batch is planned the handler asks it to cover the batch's newest tick; the versions and
// controls it then shows are complete for every tick with ts < covered_until (rules_cache.hpp's contract).
//
// Contract:
//  - cover(newest, deadline): an error when the source could not make itself valid (the handler then
//    evaluates nothing: never ticks against an incomplete rule set); else the coverage after the call. A tick
//    at or after covered_until is not covered yet (its message is retried later: a delay, never a miss).
//  - generation() grows whenever versions() or controls() changed; equal generations mean equal contents.
//  - horizon_micros(): R4's retention horizon H when the source drops versions older than it (ticks older
//    than now - H are then not evaluated), or none when it holds every version for every time.
// Implementations: DocumentRuleSource (the rules document: always covered, one generation) and
// CachedRuleSource (the rules cache over the rules storage).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tap/app/rules_cache.hpp"
#include "tap/app/rules_store.hpp"
#include "tap/core/rules.hpp"

namespace tap {

struct RuleCoverage {
  std::int64_t covered_until = 0;          // ticks with ts below it are covered
  bool refreshed = false;                  // a request was sent (RuleRefreshes)
  std::size_t invalid = 0;                 // items skipped by this call (InvalidRules)
  std::vector<std::string> invalid_items;  // one line per skipped item, for the log
};

class RuleSource {
 public:
  virtual ~RuleSource() = default;
  virtual Result<RuleCoverage, AwsError> cover(std::int64_t newest_tick_micros, Deadline deadline) = 0;
  virtual const std::vector<Rule>& versions() const = 0;
  virtual const std::vector<SymbolControlRecord>& controls() const = 0;
  virtual std::uint64_t generation() const = 0;
  virtual std::int64_t age_micros() const = 0;  // RuleSetAgeMs
  virtual std::optional<std::int64_t> horizon_micros() const = 0;
  // What changed from generation `from` to generation() (rules_cache.hpp's VersionChanges), or nullptr when
  // that is not known: versions() is then read whole.
  virtual const VersionChanges* changes_since(std::uint64_t /*from*/) const { return nullptr; }
};

// The rules document shipped with the function: every version for every time, never refreshed.
class DocumentRuleSource final : public RuleSource {
 public:
  DocumentRuleSource(std::vector<Rule> versions, std::vector<SymbolControlRecord> controls);

  Result<RuleCoverage, AwsError> cover(std::int64_t newest_tick_micros, Deadline deadline) override;
  const std::vector<Rule>& versions() const override { return versions_; }
  const std::vector<SymbolControlRecord>& controls() const override { return controls_; }
  std::uint64_t generation() const override { return 1; }
  std::int64_t age_micros() const override { return 0; }
  std::optional<std::int64_t> horizon_micros() const override { return std::nullopt; }

 private:
  std::vector<Rule> versions_;
  std::vector<SymbolControlRecord> controls_;
};

// The rules storage through the rules cache (which the caller owns, loaded or not).
class CachedRuleSource final : public RuleSource {
 public:
  CachedRuleSource(RulesCache& cache, std::int64_t horizon_micros);

  Result<RuleCoverage, AwsError> cover(std::int64_t newest_tick_micros, Deadline deadline) override;
  const std::vector<Rule>& versions() const override { return cache_.versions(); }
  const std::vector<SymbolControlRecord>& controls() const override { return cache_.controls(); }
  std::uint64_t generation() const override { return cache_.generation(); }
  std::int64_t age_micros() const override { return cache_.age_micros(); }
  std::optional<std::int64_t> horizon_micros() const override { return horizon_micros_; }
  const VersionChanges* changes_since(std::uint64_t from) const override {
    return cache_.changes_since(from);
  }

 private:
  RulesCache& cache_;
  std::int64_t horizon_micros_;
};

}  // namespace tap
