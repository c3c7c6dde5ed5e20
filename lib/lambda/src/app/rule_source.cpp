// The handler's rule sources (contract in tap/app/rule_source.hpp).
#include "tap/app/rule_source.hpp"

#include <limits>
#include <utility>

namespace tap {

DocumentRuleSource::DocumentRuleSource(std::vector<Rule> versions, std::vector<SymbolControlRecord> controls)
    : versions_(std::move(versions)), controls_(std::move(controls)) {}

Result<RuleCoverage, AwsError> DocumentRuleSource::cover(std::int64_t /*newest_tick_micros*/,
                                                         Deadline /*deadline*/) {
  RuleCoverage everything;
  everything.covered_until = std::numeric_limits<std::int64_t>::max();
  return everything;
}

CachedRuleSource::CachedRuleSource(RulesCache& cache, std::int64_t horizon_micros)
    : cache_(cache), horizon_micros_(horizon_micros) {}

Result<RuleCoverage, AwsError> CachedRuleSource::cover(std::int64_t newest_tick_micros, Deadline deadline) {
  auto report = cache_.cover(newest_tick_micros, deadline);
  if (!report) return report.error();
  return RuleCoverage{.covered_until = cache_.covered_until(),
                      .refreshed = report->requested,
                      .invalid = report->invalid,
                      .invalid_items = std::move(report->invalid_items)};
}

}  // namespace tap
