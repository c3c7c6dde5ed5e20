#include "tap/core/rule_index.hpp"

#include <algorithm>
#include <bit>
#include <limits>
#include <map>
#include <span>

#include "tap/core/conditions.hpp"

namespace tap {
namespace {

constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::uint32_t kNotIndexed = std::numeric_limits<std::uint32_t>::max();
constexpr std::uint32_t kAdding = kNotIndexed - 1;  // in an update: added, its place not known yet
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
  return kMax;
}

// ---- eligibility tree ----

std::uint32_t RuleIndex::EligibilityTree::add_node(std::uint32_t nl, std::uint32_t span, std::uint32_t size) {
  Node n{};
  const std::uint32_t step = span / kFan;
  for (std::uint32_t j = 0; j < kFan; ++j) {
    // Positions without a fire are eligible (-inf); past the list there is nothing to return (+inf).
    n.min_next[j] = nl + j * step < size ? kMin : kMax;
    n.max_at[j] = kMin;
  }
  aggregate(n);
  nodes_.push_back(n);
  return static_cast<std::uint32_t>(nodes_.size() - 1);
}

void RuleIndex::EligibilityTree::aggregate(Node& n) {
  n.prefix_next[0] = n.min_next[0];
  n.prefix_at[0] = n.max_at[0];
  for (std::uint32_t j = 1; j < kFan; ++j) {
    n.prefix_next[j] = std::min(n.prefix_next[j - 1], n.min_next[j]);
    n.prefix_at[j] = std::max(n.prefix_at[j - 1], n.max_at[j]);
  }
  n.suffix_next[kFan - 1] = n.min_next[kFan - 1];
  n.suffix_at[kFan - 1] = n.max_at[kFan - 1];
  for (std::uint32_t j = kFan - 1; j > 0; --j) {
    n.suffix_next[j - 1] = std::min(n.suffix_next[j], n.min_next[j - 1]);
    n.suffix_at[j - 1] = std::max(n.suffix_at[j], n.max_at[j - 1]);
  }
}

void RuleIndex::EligibilityTree::plant(std::uint32_t size) {
  size_ = size;
  span_ = kFan;  // lists hold at most 16^7 versions (the RuleSet's indices are 32-bit)
  while (span_ < size) span_ *= kFan;
  add_node(0, span_, size);
}

template <typename AtLevel>
std::pair<std::uint32_t, std::uint32_t> RuleIndex::EligibilityTree::descend(std::uint32_t pos,
                                                                            std::uint32_t size,
                                                                            AtLevel&& at_level) {
  std::uint32_t node = 0, nl = 0, span = span_;
  for (;;) {
    const std::uint32_t step = span / kFan, j = (pos - nl) / step;
    at_level(node, j);
    if (step == 1) return {node, j};
    if (nodes_[node].child[j] == 0) {
      const std::uint32_t child = add_node(nl + j * step, step, size);
      nodes_[node].child[j] = child;
    }
    node = nodes_[node].child[j];
    nl += j * step;
    span = step;
  }
}

void RuleIndex::EligibilityTree::note(std::uint32_t pos, std::uint32_t size, std::int64_t at,
                                      const Rule& rule) {
  if (nodes_.empty()) plant(size);
  // Down to the entry of `pos`; then the aggregates back up the path.
  std::array<std::pair<std::uint32_t, std::uint32_t>, 8> path{};  // (node, entry)
  std::size_t depth = 0;
  const auto [leaf_node, j] = descend(pos, size, [&](std::uint32_t node, std::uint32_t entry) {
    path[depth++] = {node, entry};
  });
  Node& leaf = nodes_[leaf_node];
  leaf.max_at[j] = std::max(leaf.max_at[j], at);
  leaf.min_next[j] = next_eligible(rule, leaf.max_at[j]);
  aggregate(leaf);
  for (std::size_t d = depth - 1; d > 0; --d) {
    const Node& child = nodes_[path[d].first];
    Node& parent = nodes_[path[d - 1].first];
    const std::uint32_t e = path[d - 1].second;
    parent.min_next[e] = child.prefix_next[kFan - 1];
    parent.max_at[e] = child.prefix_at[kFan - 1];
    aggregate(parent);
  }
}

template <typename Emit>
void RuleIndex::EligibilityTree::visit(std::uint32_t lo, std::uint32_t hi, std::int64_t ts,
                                       Emit& emit) const {
  if (nodes_.empty()) {
    for (std::uint32_t pos = lo; pos < hi; ++pos) emit(pos);
  } else if (lo < hi) {
    // Past the list every entry is +inf: a range up to the list's end extends to the root's.
    walk(0, 0, std::countr_zero(span_) - 4, lo, hi == size_ ? span_ : hi, ts, emit);
  }
}

template <typename Emit>
void RuleIndex::EligibilityTree::walk(std::uint32_t node, std::uint32_t nl, int shift, std::uint32_t lo,
                                      std::uint32_t hi, std::int64_t ts, Emit& emit) const {
  // The node overlaps [lo, hi). Its entries first..last overlap the range; those wholly inside it form a
  // prefix or a suffix of the node's entries, skipped at once when every position below is suppressed.
  const Node& n = nodes_[node];
  const std::uint32_t first = (std::max(lo, nl) - nl) >> shift;
  const std::uint32_t last = std::min<std::uint32_t>((hi - 1 - nl) >> shift, kFan - 1);
  // [inner_first, inner_end): the entries wholly inside [lo, hi)
  const std::uint32_t inner_first = lo <= nl + (first << shift) ? first : first + 1;
  const std::uint32_t inner_end = hi >= nl + ((last + 1) << shift) ? last + 1 : last;
  const auto suppressed = [ts](std::int64_t next, std::int64_t at) { return next > ts && at < ts; };
  const bool inner_skipped =
      inner_first >= inner_end ||
      (inner_first == 0 && suppressed(n.prefix_next[inner_end - 1], n.prefix_at[inner_end - 1])) ||
      (inner_end == kFan && suppressed(n.suffix_next[inner_first], n.suffix_at[inner_first]));
  const auto entry = [&](std::uint32_t j) {
    if (suppressed(n.min_next[j], n.max_at[j])) return;  // every position below is suppressed at ts
    const std::uint32_t start = nl + (j << shift);
    if (shift == 0) {
      emit(start);
    } else if (n.child[j] == 0) {  // no noted fire below: every position is eligible
      const std::uint32_t end = std::min({start + (1U << shift), hi, size_});
      for (std::uint32_t pos = std::max(start, lo); pos < end; ++pos) emit(pos);
    } else {
      walk(n.child[j], start, shift - 4, lo, hi, ts, emit);
    }
  };
  if (!inner_skipped) {
    for (std::uint32_t j = first; j <= last; ++j) entry(j);
    return;
  }
  for (std::uint32_t j = first; j < inner_first; ++j) entry(j);  // at most the one straddling lo
  for (std::uint32_t j = inner_end; j <= last; ++j) entry(j);    // at most the one straddling hi
}

void RuleIndex::EligibilityTree::assign(std::uint32_t size, std::span<const Noted> noted) {
  nodes_.clear();
  if (noted.empty()) return;
  plant(size);
  for (const Noted& n : noted) {
    const auto [leaf, j] = descend(n.pos, size, [](std::uint32_t, std::uint32_t) {});
    nodes_[leaf].max_at[j] = n.at;
    nodes_[leaf].min_next[j] = n.next;
  }
  finish(0, std::countr_zero(span_) - 4);
}

void RuleIndex::EligibilityTree::finish(std::uint32_t node, int shift) {
  if (shift > 0) {
    for (std::uint32_t j = 0; j < kFan; ++j) {
      const std::uint32_t child = nodes_[node].child[j];
      if (child == 0) continue;
      finish(child, shift - 4);
      nodes_[node].min_next[j] = nodes_[child].prefix_next[kFan - 1];
      nodes_[node].max_at[j] = nodes_[child].prefix_at[kFan - 1];
    }
  }
  aggregate(nodes_[node]);
}

template <typename F>
void RuleIndex::EligibilityTree::for_each_noted(F&& f) const {
  if (!nodes_.empty()) noted_below(0, 0, std::countr_zero(span_) - 4, f);
}

template <typename F>
void RuleIndex::EligibilityTree::noted_below(std::uint32_t node, std::uint32_t nl, int shift, F& f) const {
  const Node& n = nodes_[node];
  for (std::uint32_t j = 0; j < kFan; ++j) {
    if (n.max_at[j] == kMin) continue;  // no noted fire below
    if (shift == 0) {
      f(nl + j, n.max_at[j]);
    } else {
      noted_below(n.child[j], nl + (j << shift), shift - 4, f);
    }
  }
}

// ---- build ----

bool RuleIndex::Group::empty() const {
  return std::all_of(lists.begin(), lists.end(), [](const List& l) { return l.versions.empty(); });
}

RuleIndex::RuleIndex(const RuleSet& rules) : rules_(rules), position_(rules.rules().size(), kNotIndexed) {
  const std::vector<Rule>& all = rules.rules();
  // Each version's list (one hash of its symbol), counted so that every list is allocated once.
  std::vector<List*> list_of(all.size(), nullptr);
  for (std::size_t i = 0; i < all.size(); ++i) {
    const Rule& r = all[i];
    if (!r.enabled) continue;
    Group& group = r.symbol == "*" ? wildcard_ : groups_.try_emplace(r.symbol).first->second;
    list_of[i] = &group.lists[slot(r.condition)];
    ++list_of[i]->counted;
  }
  const auto each_list = [&](auto&& f) {
    for (List& list : wildcard_.lists) f(list);
    for (auto& [symbol, group] : groups_) {
      for (List& list : group.lists) f(list);
    }
  };
  each_list([](List& list) {
    list.thresholds.reserve(list.counted);
    list.versions.reserve(list.counted);
  });
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (list_of[i] == nullptr) continue;
    list_of[i]->thresholds.push_back(all[i].threshold);
    list_of[i]->versions.push_back(static_cast<std::uint32_t>(i));
  }
  // Each list sorted by (threshold, index), in place.
  std::vector<std::pair<double, std::uint32_t>> entries;
  each_list([&](List& list) {
    entries.clear();
    for (std::size_t p = 0; p < list.versions.size(); ++p) {
      entries.emplace_back(list.thresholds[p], list.versions[p]);
    }
    std::sort(entries.begin(), entries.end());
    for (std::size_t p = 0; p < entries.size(); ++p) {
      list.thresholds[p] = entries[p].first;
      list.versions[p] = entries[p].second;
      position_[entries[p].second] = static_cast<std::uint32_t>(p);
    }
  });
}

// ---- update ----

struct RuleIndex::Edit {
  std::vector<std::uint32_t> removed;                   // positions in the list
  std::vector<std::pair<double, std::uint32_t>> added;  // (threshold, RuleSet index)
};

void RuleIndex::update(std::span<const std::uint32_t> removed, std::span<const std::uint32_t> added) {
  position_.resize(rules_.rules().size(), kNotIndexed);  // the RuleSet may have grown
  std::map<std::pair<Group*, std::size_t>, Edit> edits;  // by list: each changed list is rewritten once
  std::vector<std::string_view> emptied;                 // symbols that lost versions
  for (const std::uint32_t i : removed) {
    if (i >= position_.size() || position_[i] == kNotIndexed) continue;  // not indexed (or named twice)
    const Rule& r = rules_.rule(i);
    Group& group = r.symbol == "*" ? wildcard_ : groups_.find(r.symbol)->second;
    edits[{&group, slot(r.condition)}].removed.push_back(position_[i]);
    position_[i] = kNotIndexed;  // added again below: a new version, without the old one's fires
    if (&group != &wildcard_) emptied.push_back(r.symbol);
  }
  for (const std::uint32_t i : added) {
    const Rule& r = rules_.rule(i);
    if (!r.enabled || position_[i] != kNotIndexed) continue;  // disabled, indexed, or named twice
    Group& group = r.symbol == "*" ? wildcard_ : groups_.try_emplace(r.symbol).first->second;
    edits[{&group, slot(r.condition)}].added.emplace_back(r.threshold, i);
    position_[i] = kAdding;
  }
  for (auto& [list, edit] : edits) rewrite(*list.first, list.second, edit);
  for (const std::string_view symbol : emptied) {
    if (const auto it = groups_.find(symbol); it != groups_.end() && it->second.empty()) groups_.erase(it);
  }
}

// One list's edit: the kept versions merged with the added ones (both in (threshold, index) order), every
// position rewritten, and the list's eligibility trees rebuilt from the fires of the versions kept.
void RuleIndex::rewrite(Group& group, std::size_t condition, Edit& edit) {
  List& list = group.lists[condition];
  std::sort(edit.removed.begin(), edit.removed.end());
  std::sort(edit.added.begin(), edit.added.end());
  const auto old_size = static_cast<std::uint32_t>(list.versions.size());
  std::vector<std::uint32_t> moved_to(old_size, kNotIndexed);  // old position -> new one (kept versions)
  std::vector<double> thresholds;
  std::vector<std::uint32_t> versions;
  const std::size_t size = old_size - edit.removed.size() + edit.added.size();
  thresholds.reserve(size);
  versions.reserve(size);
  const auto push = [&](double threshold, std::uint32_t i) {
    position_[i] = static_cast<std::uint32_t>(versions.size());
    thresholds.push_back(threshold);
    versions.push_back(i);
  };
  auto gone = edit.removed.begin();
  auto add = edit.added.begin();
  for (std::uint32_t p = 0; p < old_size; ++p) {
    if (gone != edit.removed.end() && *gone == p) {
      ++gone;
      continue;
    }
    const std::pair<double, std::uint32_t> kept{list.thresholds[p], list.versions[p]};
    for (; add != edit.added.end() && *add < kept; ++add) push(add->first, add->second);
    moved_to[p] = static_cast<std::uint32_t>(versions.size());
    push(kept.first, kept.second);
  }
  for (; add != edit.added.end(); ++add) push(add->first, add->second);
  list.thresholds = std::move(thresholds);
  list.versions = std::move(versions);

  std::vector<EligibilityTree::Noted> noted;
  const auto rebuild = [&](EligibilityTree& tree) {
    if (tree.empty()) return;
    noted.clear();  // the fires of the versions kept, at their new positions
    tree.for_each_noted([&](std::uint32_t p, std::int64_t at) {
      if (moved_to[p] == kNotIndexed) return;
      const std::uint32_t to = moved_to[p];
      noted.push_back({to, at, next_eligible(rules_.rule(list.versions[to]), at)});
    });
    tree.assign(static_cast<std::uint32_t>(list.versions.size()), noted);
  };
  if (&group == &wildcard_) {
    for (auto& [symbol, trees] : overlays_) rebuild((*trees)[condition]);
  } else if (group.trees) {
    rebuild((*group.trees)[condition]);
  }
}

// ---- queries ----

RuleIndex::SymbolLists RuleIndex::lists_of(std::string_view symbol) const {
  SymbolLists lists;
  lists.index_ = this;
  if (const auto own = groups_.find(symbol); own != groups_.end()) {
    lists.own_ = &own->second;
    lists.own_trees_ = own->second.trees.get();
  }
  if (!wildcard_.empty()) {
    lists.wildcard_ = &wildcard_;
    const auto overlay = overlays_.find(symbol);
    lists.overlay_ = overlay == overlays_.end() ? nullptr : overlay->second.get();
  }
  return lists;
}

void RuleIndex::level(std::string_view symbol, const Tick& tick, Visitor f) const {
  level(lists_of(symbol), tick, f);
}

void RuleIndex::level(const SymbolLists& lists, const Tick& tick, Visitor f) const {
  if (lists.own_ != nullptr) level_in(*lists.own_, lists.own_trees_, tick, f);
  if (lists.wildcard_ != nullptr) level_in(*lists.wildcard_, lists.overlay_, tick, f);
}

void RuleIndex::level_in(const Group& group, const Trees* trees, const Tick& tick, Visitor f) const {
  const std::int64_t ts = tick.ts.micros;
  for (const Condition c : kLevel) {
    const List& l = group.lists[slot(c)];
    const auto size = static_cast<std::uint32_t>(l.versions.size());
    if (size == 0) continue;
    const std::span<const double> list(l.thresholds);
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
          // Near the thresholds below ask - bid; the condition settles the exact end (a step or two).
          hi = first_at_or_above(list, *tick.ask - *tick.bid);
          // it holds only below ask - bid (by a tolerance)
          while (hi > 0 && !spread_above(*tick.ask, *tick.bid, list[hi - 1])) --hi;
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
      const std::uint32_t i = l.versions[pos];
      if (rules_.rule(i).applies_at(ts)) f(i);
    };
    if (trees != nullptr) {
      (*trees)[slot(c)].visit(lo, hi, ts, emit);
    } else {
      for (std::uint32_t pos = lo; pos < hi; ++pos) emit(pos);
    }
  }
}

void RuleIndex::crossed(std::string_view symbol, double from_price, double to_price, std::int64_t ts,
                        Visitor f) const {
  crossed(lists_of(symbol), from_price, to_price, ts, f);
}

void RuleIndex::crossed(const SymbolLists& lists, double from_price, double to_price, std::int64_t ts,
                        Visitor f) const {
  const double low = std::min(from_price, to_price), high = std::max(from_price, to_price);
  if (lists.own_ != nullptr) crossed_in(*lists.own_, low, high, ts, f);
  if (lists.wildcard_ != nullptr) crossed_in(*lists.wildcard_, low, high, ts, f);
}

void RuleIndex::crossed_in(const Group& group, double low, double high, std::int64_t ts, Visitor f) const {
  for (const Condition c : kCrossing) {
    const List& l = group.lists[slot(c)];
    if (l.versions.empty()) continue;
    const std::span<const double> list(l.thresholds);
    // side_of: crosses_above splits at price > threshold, crosses_below at price < threshold. The prices lie
    // on different sides exactly for the thresholds in [low, high) (above) or (low, high] (below); `high`'s
    // end is searched from `low`'s (a tick moves the price little).
    const bool above = c == Condition::crosses_above;
    const std::uint32_t lo = above ? first_at_or_above(list, low) : first_above(list, low);
    const std::uint32_t hi = above ? first_at_or_above(list, high, lo) : first_above(list, high, lo);
    for (std::uint32_t pos = lo; pos < hi; ++pos) {
      const std::uint32_t i = l.versions[pos];
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
    group = &wildcard_;
    auto it = overlays_.find(symbol);
    if (it == overlays_.end()) it = overlays_.try_emplace(std::string(symbol)).first;
    trees = &it->second;
  } else {
    if (symbol != r.symbol) return;  // never returned for another symbol
    Group& own = groups_.find(symbol)->second;
    group = &own;
    trees = &own.trees;
  }
  if (!*trees) *trees = std::make_unique<Trees>();
  const std::size_t c = slot(r.condition);
  (**trees)[c].note(position_[rule_index], static_cast<std::uint32_t>(group->lists[c].versions.size()),
                    at_micros, r);
}

}  // namespace tap
