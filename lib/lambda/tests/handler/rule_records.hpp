// Rule records built in code for the rules cache and change protocol tests: a valid spec and a stored
// record with explicit versions (what a store holds after the changes that made them).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "tap/core/deadline.hpp"
#include "tap/core/rule_change.hpp"
#include "tap/core/timestamp.hpp"

namespace tap::test_support {

inline constexpr std::int64_t kSecond = kMicrosPerSecond;
// A deadline no test call reaches (the fakes answer at once; simulated time is not the steady clock).
inline Deadline far_deadline() { return SteadyClock::now() + std::chrono::seconds(60); }

inline RuleSpec spec_named(std::string name, std::string symbol = "AAPL", double threshold = 100) {
  RuleSpec s;
  s.name = std::move(name);
  s.symbol = std::move(symbol);
  s.condition = Condition::price_above;
  s.threshold = threshold;
  s.mode = TriggerMode::every;
  s.cooldown_seconds = 1;
  return s;
}

// A record whose versions have the windows given, in order (version 1, 2, ...).
inline RuleRecord record_with(const std::string& id, const std::string& owner,
                              const std::vector<EffectiveWindow>& windows) {
  RuleRecord r;
  r.id = id;
  r.owner = owner;
  r.spec = spec_named(id);
  r.revision = static_cast<std::uint32_t>(windows.size());
  std::uint32_t n = 0;
  for (const EffectiveWindow& w : windows) {
    Rule v;
    v.id = id;
    v.version = ++n;
    v.owner = owner;
    v.symbol = r.spec.symbol;
    v.condition = r.spec.condition;
    v.threshold = r.spec.threshold;
    v.mode = r.spec.mode;
    v.cooldown_seconds = r.spec.cooldown_seconds;
    v.window = w;
    r.versions.push_back(v);
  }
  return r;
}

// A version as a tick's evaluation sees it: which version of which rule, with what threshold. (Its window's
// end is not part of it: a later change closes the window after the tick, the evaluation is the same.)
struct VersionKey {
  std::string id;
  std::uint32_t version = 0;
  double threshold = 0;
  auto operator<=>(const VersionKey&) const = default;
};

// The versions of `versions` that apply to a tick at ts, sorted.
inline std::vector<VersionKey> applying_at(const std::vector<Rule>& versions, std::int64_t ts) {
  std::vector<VersionKey> out;
  for (const Rule& v : versions) {
    if (v.applies_at(ts)) out.push_back({v.id, v.version, v.threshold});
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace tap::test_support
