// The rule index's test oracle: the contract of tap/core/rule_index.hpp as a plain scan of the symbol's
// versions and the wildcard ones (O(n) per query). rule_index_test compares the fast index with it.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tap/core/conditions.hpp"
#include "tap/core/rule_index.hpp"
#include "tap/core/rules.hpp"
#include "tap/core/tick.hpp"

namespace tap::testing {

class ReferenceIndex {
 public:
  explicit ReferenceIndex(const RuleSet& rules) : rules_(rules) {}

  std::vector<std::size_t> level(std::string_view symbol, const Tick& tick) const {
    std::vector<std::size_t> out;
    const std::int64_t ts = tick.ts.micros;
    rules_.for_each_rule(symbol, [&](std::size_t i, const Rule& r) {
      if (is_crossing(r.condition) || !r.applies_at(ts) || !condition_holds(r, tick)) return;
      if (const auto it = last_fire_.find({i, std::string(symbol)}); it != last_fire_.end()) {
        if (ts > it->second && ts < next_eligible(r, it->second)) return;
      }
      out.push_back(i);
    });
    return out;
  }

  std::vector<std::size_t> crossed(std::string_view symbol, double from, double to, std::int64_t ts) const {
    std::vector<std::size_t> out;
    rules_.for_each_rule(symbol, [&](std::size_t i, const Rule& r) {
      if (is_crossing(r.condition) && r.applies_at(ts) && on_fire_side(r, from) != on_fire_side(r, to))
        out.push_back(i);
    });
    return out;
  }

  void note_fire(std::size_t rule_index, std::string_view symbol, std::int64_t at) {
    std::int64_t& known = last_fire_.try_emplace({rule_index, std::string(symbol)}, at).first->second;
    known = std::max(known, at);
  }

 private:
  const RuleSet& rules_;
  std::map<std::pair<std::size_t, std::string>, std::int64_t> last_fire_;  // (version, symbol) -> newest fire
};

}  // namespace tap::testing
