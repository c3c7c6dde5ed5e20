#include "tap/core/rule_index.hpp"

#include <algorithm>
#include <limits>
#include <span>

#include "tap/core/rule_engine.hpp"

namespace tap {
namespace {

constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
constexpr std::uint32_t kNotIndexed = std::numeric_limits<std::uint32_t>::max();
constexpr Condition kLevel[] = {Condition::price_above, Condition::price_below, Condition::spread_above,
                                Condition::volume_above};
constexpr Condition kCrossing[] = {Condition::crosses_above, Condition::crosses_below};

constexpr std::size_t slot(Condition c) { return static_cast<std::size_t>(c); }

// The first position of the sorted thresholds at which `in_prefix` (true on a prefix) turns false.
template <typename Pred>
std::uint32_t partition_at(std::span<const double> thresholds, Pred in_prefix) {
  return static_cast<std::uint32_t>(std::partition_point(thresholds.begin(), thresholds.end(), in_prefix) -
                                    thresholds.begin());
}

// Exponential then binary search for the first position >= `from` where `in_prefix` (true on a prefix) is
// false: O(log d) in the distance d from `from`.
template <typename Pred>
std::uint32_t gallop(std::span<const double> list, std::uint32_t from, Pred in_prefix) {
  const auto n = static_cast<std::uint32_t>(list.size());
  std::uint32_t step = 1, lo = from;
  while (lo + step <= n && in_prefix(list[lo + step - 1])) {
    lo += step;
    step *= 2;
  }
  return partition_at(list.subspan(lo, std::min(n, lo + step) - lo), in_prefix) + lo;
}

// The first threshold >= x (or > x): by binary search, or by galloping from `from` (all before it are below
// x).
std::uint32_t first_at_or_above(std::span<const double> list, double x) {
  return partition_at(list, [x](double t) { return t < x; });
}
std::uint32_t first_above(std::span<const double> list, double x) {
  return partition_at(list, [x](double t) { return t <= x; });
}
std::uint32_t first_at_or_above(std::span<const double> list, double x, std::uint32_t from) {
  return gallop(list, from, [x](double t) { return t < x; });
}
std::uint32_t first_above(std::span<const double> list, double x, std::uint32_t from) {
  return gallop(list, from, [x](double t) { return t <= x; });
}

}  // namespace

std::int64_t next_eligible(const Rule& rule, std::int64_t at) {
  switch (rule.mode) {
    case TriggerMode::every:
      return at + rule.cooldown_seconds * kMicrosPerSecond;
    case TriggerMode::once_per_bar: {
      const std::int64_t bar = rule.bar_seconds * kMicrosPerSecond;
      return (at / bar + 1) * bar;  // tick times are positive (timestamp.hpp): no floor adjustment
    }
    case TriggerMode::once:
      break;
  }
  return std::numeric_limits<std::int64_t>::max();
}

bool level_condition_holds(const Rule& rule, const Tick& tick) { return condition_holds(rule, tick); }

// ---- eligibility tree ----

void RuleIndex::EligibilityTree::note(std::uint32_t pos, std::uint32_t size, std::int64_t at,
                                      const Rule& rule) {
  if (nodes_.empty()) nodes_.resize(1);  // the absent-child sentinel
  note_at(nodes_.size() > 1 ? 1 : 0, 0, size, pos, at, rule);
}

std::uint32_t RuleIndex::EligibilityTree::note_at(std::uint32_t node, std::uint32_t nl, std::uint32_t nr,
                                                  std::uint32_t pos, std::int64_t at, const Rule& rule) {
  if (node == 0) {
    node = static_cast<std::uint32_t>(nodes_.size());
    nodes_.push_back(Node{kMin, kMin, 0, 0});
  }
  if (nr - nl == 1) {
    Node& leaf = nodes_[node];
    leaf.max_at = std::max(leaf.max_at, at);
    leaf.min_next = next_eligible(rule, leaf.max_at);
    return node;
  }
  const std::uint32_t mid = nl + (nr - nl) / 2;
  if (pos < mid) {
    const std::uint32_t child = note_at(nodes_[node].left, nl, mid, pos, at, rule);
    nodes_[node].left = child;
  } else {
    const std::uint32_t child = note_at(nodes_[node].right, mid, nr, pos, at, rule);
    nodes_[node].right = child;
  }
  // An absent child holds positions without a noted fire: always eligible (next_eligible = -inf).
  Node& n = nodes_[node];
  const auto next_of = [&](std::uint32_t c) { return c == 0 ? kMin : nodes_[c].min_next; };
  const auto at_of = [&](std::uint32_t c) { return c == 0 ? kMin : nodes_[c].max_at; };
  n.min_next = std::min(next_of(n.left), next_of(n.right));
  n.max_at = std::max(at_of(n.left), at_of(n.right));
  return node;
}

template <typename Emit>
void RuleIndex::EligibilityTree::visit(std::uint32_t size, std::uint32_t lo, std::uint32_t hi,
                                       std::int64_t ts, Emit& emit) const {
  if (lo < hi) walk(nodes_.empty() ? 0 : 1, 0, size, lo, hi, ts, emit);
}

template <typename Emit>
void RuleIndex::EligibilityTree::walk(std::uint32_t node, std::uint32_t nl, std::uint32_t nr,
                                      std::uint32_t lo, std::uint32_t hi, std::int64_t ts, Emit& emit) const {
  // [nl, nr) overlaps [lo, hi)
  if (node == 0) {  // no noted fire below: every position is eligible
    for (std::uint32_t pos = std::max(nl, lo); pos < std::min(nr, hi); ++pos) emit(pos);
    return;
  }
  const Node& n = nodes_[node];
  if (n.min_next > ts && n.max_at < ts) return;  // every position below is suppressed at ts
  if (nr - nl == 1) {
    emit(nl);
    return;
  }
  const std::uint32_t mid = nl + (nr - nl) / 2;
  if (lo < mid) walk(n.left, nl, mid, lo, hi, ts, emit);
  if (mid < hi) walk(n.right, mid, nr, lo, hi, ts, emit);
}

// ---- build ----

RuleIndex::RuleIndex(const RuleSet& rules) : rules_(rules), position_(rules.rules().size(), kNotIndexed) {
  const std::vector<Rule>& all = rules.rules();
  // Group ids: one per symbol, one for "*".
  std::vector<std::uint32_t> group(all.size(), kNoGroup);
  std::uint32_t groups = 0;
  for (std::size_t i = 0; i < all.size(); ++i) {
    const Rule& r = all[i];
    if (!r.enabled) continue;
    if (r.symbol == "*") {
      if (wildcard_ == kNoGroup) wildcard_ = groups++;
      group[i] = wildcard_;
    } else {
      group[i] = group_by_symbol_.try_emplace(r.symbol, groups).first->second;
      if (group[i] == groups) ++groups;
    }
  }
  // Counting sort by (group, condition), then each list by threshold.
  std::vector<std::uint32_t> begin(std::size_t{groups} * kConditions + 1, 0);
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (group[i] != kNoGroup) ++begin[group[i] * kConditions + slot(all[i].condition) + 1];
  }
  for (std::size_t l = 1; l < begin.size(); ++l) begin[l] += begin[l - 1];
  std::vector<std::pair<double, std::uint32_t>> entries(begin.back());
  std::vector<std::uint32_t> fill(begin.begin(), begin.end() - 1);
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (group[i] != kNoGroup) {
      entries[fill[group[i] * kConditions + slot(all[i].condition)]++] = {all[i].threshold,
                                                                          static_cast<std::uint32_t>(i)};
    }
  }
  groups_.resize(groups);
  thresholds_.reserve(entries.size());
  versions_.reserve(entries.size());
  for (std::uint32_t g = 0; g < groups; ++g) {
    for (std::size_t c = 0; c <= kConditions; ++c) groups_[g].begin[c] = begin[g * kConditions + c];
    for (std::size_t c = 0; c < kConditions; ++c) {
      const auto first = entries.begin() + begin[g * kConditions + c];
      const auto last = entries.begin() + begin[g * kConditions + c + 1];
      std::sort(first, last);
      for (auto it = first; it != last; ++it) {
        position_[it->second] = static_cast<std::uint32_t>(it - first);
        thresholds_.push_back(it->first);
        versions_.push_back(it->second);
      }
    }
  }
}

// ---- queries ----

std::uint32_t RuleIndex::group_of(std::string_view symbol) const {
  const auto it = group_by_symbol_.find(symbol);
  return it == group_by_symbol_.end() ? kNoGroup : it->second;
}

void RuleIndex::level(std::string_view symbol, const Tick& tick, Visitor f) const {
  if (const std::uint32_t g = group_of(symbol); g != kNoGroup)
    level_in(groups_[g], groups_[g].trees.get(), tick, f);
  if (wildcard_ == kNoGroup) return;
  const auto overlay = overlays_.find(symbol);
  level_in(groups_[wildcard_], overlay == overlays_.end() ? nullptr : overlay->second.get(), tick, f);
}

void RuleIndex::level_in(const Group& group, const Trees* trees, const Tick& tick, Visitor f) const {
  const std::int64_t ts = tick.ts.micros;
  for (const Condition c : kLevel) {
    const std::uint32_t base = group.begin[slot(c)];
    const std::uint32_t size = group.begin[slot(c) + 1] - base;
    if (size == 0) continue;
    const std::span<const double> list(thresholds_.data() + base, size);
    // The versions that hold: a prefix of the thresholds (price_below: a suffix), by F3's comparisons; the
    // spread by the condition itself (its rounding tolerance), threshold by threshold.
    std::uint32_t lo = 0, hi = 0;
    switch (c) {
      case Condition::price_below:
        lo = first_above(list, tick.price);
        hi = size;
        break;
      case Condition::spread_above:
        if (tick.bid && tick.ask) {
          Rule probe;
          probe.condition = c;
          hi = partition_at(list, [&](double t) {
            probe.threshold = t;
            return level_condition_holds(probe, tick);
          });
        }
        break;
      case Condition::volume_above:
        hi = tick.volume ? first_at_or_above(list, static_cast<double>(*tick.volume)) : 0;
        break;
      default:  // price_above
        hi = first_at_or_above(list, tick.price);
        break;
    }
    auto emit = [&](std::uint32_t pos) {
      const std::uint32_t i = versions_[base + pos];
      if (rules_.rule(i).applies_at(ts)) f(i);
    };
    if (trees != nullptr) {
      (*trees)[slot(c)].visit(size, lo, hi, ts, emit);
    } else {
      for (std::uint32_t pos = lo; pos < hi; ++pos) emit(pos);
    }
  }
}

void RuleIndex::crossed(std::string_view symbol, double from_price, double to_price, std::int64_t ts,
                        Visitor f) const {
  const double low = std::min(from_price, to_price), high = std::max(from_price, to_price);
  if (const std::uint32_t g = group_of(symbol); g != kNoGroup) crossed_in(groups_[g], low, high, ts, f);
  if (wildcard_ != kNoGroup) crossed_in(groups_[wildcard_], low, high, ts, f);
}

void RuleIndex::crossed_in(const Group& group, double low, double high, std::int64_t ts, Visitor f) const {
  for (const Condition c : kCrossing) {
    const std::uint32_t base = group.begin[slot(c)];
    const std::span<const double> list(thresholds_.data() + base, group.begin[slot(c) + 1] - base);
    // side_of: crosses_above splits at price > threshold, crosses_below at price < threshold. The prices lie
    // on different sides exactly for the thresholds in [low, high) (above) or (low, high] (below); `high`'s
    // end is searched from `low`'s (a tick moves the price little).
    const bool above = c == Condition::crosses_above;
    const std::uint32_t lo = above ? first_at_or_above(list, low) : first_above(list, low);
    const std::uint32_t hi = above ? first_at_or_above(list, high, lo) : first_above(list, high, lo);
    for (std::uint32_t pos = lo; pos < hi; ++pos) {
      const std::uint32_t i = versions_[base + pos];
      if (rules_.rule(i).applies_at(ts)) f(i);
    }
  }
}

void RuleIndex::note_fire(std::size_t rule_index, std::string_view symbol, std::int64_t at_micros) {
  if (rule_index >= position_.size() || position_[rule_index] == kNotIndexed) return;  // disabled
  const Rule& r = rules_.rule(rule_index);
  if (is_crossing(r.condition)) return;  // crossing answers do not depend on fires
  std::unique_ptr<Trees>* trees = nullptr;
  const Group* group = nullptr;
  if (r.symbol == "*") {
    group = &groups_[wildcard_];
    auto it = overlays_.find(symbol);
    if (it == overlays_.end()) it = overlays_.try_emplace(std::string(symbol)).first;
    trees = &it->second;
  } else {
    if (symbol != r.symbol) return;  // never returned for another symbol
    Group& own = groups_[group_of(symbol)];
    group = &own;
    trees = &own.trees;
  }
  if (!*trees) *trees = std::make_unique<Trees>();
  const std::size_t c = slot(r.condition);
  (**trees)[c].note(position_[rule_index], group->begin[c + 1] - group->begin[c], at_micros, r);
}

}  // namespace tap
