// The rule index (R5): which rule versions a tick can fire, found without looking at the others.
//
// Contract (n: the enabled versions of the symbol and of "*"; k: the versions returned):
//  - for_each_level(symbol, tick, f): every LEVEL version (price_above, price_below, spread_above,
//    volume_above) of `symbol` or "*" that applies at tick.ts (Rule::applies_at) and whose condition holds
//    on the tick, EXCEPT those a known fire suppresses for a tick newer than that fire: after
//    note_fire(r, symbol, at), a tick with at < ts < next_eligible(r, at) is skipped. A tick at or before the
//    noted fire is still returned: cooldowns count on both sides, so the engine checks it against the fires
//    around it. A fire's time only grows (note_fire keeps the newest). A wildcard version's fires are known
//    per symbol: a fire on one symbol suppresses nothing on another.
//  - for_each_crossed(symbol, from_price, to_price, ts, f): every CROSSING version of `symbol` or "*" that
//    applies at ts and for which the two prices lie on different sides of the line (conditions.hpp's
//    on_fire_side: crosses_above: price > threshold or not; crosses_below: price < threshold or not), in
//    either direction. A price on the line is not on the fire side.
//  - note_fire of a crossing version, of a disabled one or of a specific version for another symbol changes
//    no answer (the queries never return those versions for that symbol).
//  - update(removed, added) (R4 refresh): the index then answers exactly as an index built over its versions
//    less `removed` plus the enabled ones of `added`, on which the note_fire calls made so far for the
//    versions it keeps were made again (a removed version's fires are forgotten; a version removed and added
//    in one update is a new one). Indices are the RuleSet's: it may have grown since (RuleSet::append), and a
//    removed index's Rule must still read as it did when it was indexed (a RuleSet never rewrites an index).
//    Removing an index that is not indexed, or adding one that is, changes nothing.
// f is called as f(rule_index) with the version's index in the RuleSet, each version at most once per call,
// in no particular order. The RuleSet must outlive the index and change only by appending between calls.
// Queries only read (they may run concurrently); note_fire and update need the index to themselves.
//
// Cost (R5: only log n may grow with the rules):
//  - Build: the enabled versions grouped by (symbol, condition), each list sorted by (threshold, RuleSet
//    index): O(n log n), 16 bytes per version (threshold, RuleSet index, position), plus per symbol its
//    six lists' headers and its map entry (about 400 bytes: a cost where symbols hold few versions each).
//  - Update: the k changed versions grouped by list; each changed list is merged once with its additions
//    (O(L + a log a) for a list of L versions and a additions) and the positions of its versions rewritten
//    (O(L)); its eligibility trees, where fires were noted, are rebuilt from the fires they hold (O(fires log
//    L); for a "*" list, in every symbol's overlay that has one). So an update costs O(k log k) plus the
//    sizes of the lists it touches (the symbols' fan-out), never the n versions of the other lists.
//  - Query: per condition, the versions of a (symbol or "*", condition) list are sorted by threshold, and
//    the condition is monotone in the threshold, so the versions that hold (or that a price pair crosses)
//    are one contiguous range, found by binary search with F3's comparisons (the spread's end settled by
//    the condition itself, which has a rounding tolerance): O(log n). Windows and expiry are then checked
//    per version of the range that is eligible (k).
//  - Eligibility: each list gets, on its first noted fire, a sparse 16-ary segment tree over its positions
//    whose entries keep min(next_eligible) and max(fire time) of their subtree, a position without a noted
//    fire counting as next_eligible = -inf. A version in the range is returned iff ts >= next_eligible or
//    ts <= fire time, so an entry with min(next_eligible) > ts and max(fire time) < ts holds only suppressed
//    versions and is skipped whole. A level range is a prefix or a suffix of its list, so in every node the
//    walk enters, the entries wholly inside the range are a prefix or a suffix of the node's entries, and
//    the node's prefix / suffix aggregates skip them at once when all are suppressed. The walk thus enters
//    the nodes straddling a range end (root-to-leaf paths of log16 n nodes, O(1) each) and, below those,
//    only entries holding a returned version (each returned version pays for its ancestors): a query costs
//    O(log n + k log n), and suppressed versions cost nothing per tick. An absent subtree holds no noted
//    fire: its versions are all eligible and are listed directly.
//  - Wildcard versions: their lists are shared by all symbols; their eligibility trees are per symbol, an
//    overlay created on the symbol's first noted wildcard fire, so a symbol's suppressed wildcard versions
//    cost nothing either. The trees are sparse: a noted fire adds at most one root-to-leaf path (832 bytes a
//    node; on a busy list the paths share nodes: rules_scale reports the bytes per noted fire), so their
//    memory grows with the fires noted, never with symbols x wildcard versions.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tap/core/rules.hpp"
#include "tap/core/tick.hpp"

namespace tap {

// The first instant after a fire at `at` at which the version may fire again (R2): at + cooldown (every),
// the end of at's bar (once_per_bar), never (once: INT64_MAX).
std::int64_t next_eligible(const Rule& rule, std::int64_t at);

class RuleIndex {
 public:
  explicit RuleIndex(const RuleSet& rules);

  template <typename F>
  void for_each_level(std::string_view symbol, const Tick& tick, F&& f) const {
    level(symbol, tick, Visitor::of(f));
  }
  template <typename F>
  void for_each_crossed(std::string_view symbol, double from_price, double to_price, std::int64_t ts,
                        F&& f) const {
    crossed(symbol, from_price, to_price, ts, Visitor::of(f));
  }
  void note_fire(std::size_t rule_index, std::string_view symbol, std::int64_t at_micros);
  void update(std::span<const std::uint32_t> removed, std::span<const std::uint32_t> added);

  const RuleSet& rules() const { return rules_; }

  // The same queries on one symbol's lists, looked up once (a plan asks about one symbol many times: one
  // hash of the symbol instead of one per query). Valid until the next note_fire (which may create the
  // symbol's eligibility trees) or update; the index must outlive it.
  class SymbolLists;
  SymbolLists lists_of(std::string_view symbol) const;

 private:
  // A non-owning callable reference: the traversal lives in rule_index.cpp, the callback at the caller.
  struct Visitor {
    void* target = nullptr;
    void (*call)(void*, std::size_t) = nullptr;
    template <typename F>
    static Visitor of(F& f) {
      return {const_cast<void*>(static_cast<const void*>(std::addressof(f))),
              [](void* t, std::size_t i) { (*static_cast<F*>(t))(i); }};
    }
    void operator()(std::size_t i) const { call(target, i); }
  };

  // Sparse 16-ary segment tree over the positions of one list (see the contract above).
  class EligibilityTree {
   public:
    // Records a fire of the version at `pos` (of a list of `size`), keeping the newest.
    void note(std::uint32_t pos, std::uint32_t size, std::int64_t at, const Rule& rule);
    // Calls f(pos, at) for every position with a noted fire, `at` its newest, in increasing position order.
    template <typename F>
    void for_each_noted(F&& f) const;
    // The tree anew over a list of `size` holding exactly these fires (positions distinct): each node's
    // aggregates computed once, not once per fire as note() does.
    struct Noted {
      std::uint32_t pos;
      std::int64_t at;
      std::int64_t next;  // next_eligible(the version, at)
    };
    void assign(std::uint32_t size, std::span<const Noted> noted);
    bool empty() const { return nodes_.empty(); }
    // Calls emit(pos) for every position in [lo, hi) that is eligible at ts.
    template <typename Emit>
    void visit(std::uint32_t lo, std::uint32_t hi, std::int64_t ts, Emit& emit) const;

   private:
    static constexpr std::uint32_t kFan = 16;
    // Entry j of a node covering [nl, nl + 16 << shift) covers 1 << shift positions from nl + (j << shift).
    struct Node {
      std::array<std::int64_t, kFan> min_next;  // -inf where a position has no noted fire, +inf past the list
      std::array<std::int64_t, kFan> max_at;    // the newest noted fire
      std::array<std::uint32_t, kFan> child;    // 0: absent (no noted fire below); unused where shift is 0
      // Aggregates of entries [0, j] and [j, 16): a query's entries inside its range form a prefix or a
      // suffix of a node's (level ranges are a prefix or a suffix of the list), checked at once.
      std::array<std::int64_t, kFan> prefix_next, prefix_at, suffix_next, suffix_at;
    };
    std::uint32_t add_node(std::uint32_t nl, std::uint32_t span, std::uint32_t size);
    void plant(std::uint32_t size);  // the root over a list of `size`
    // Down from the root to the entry of `pos`, creating the missing nodes; at_level(node, entry) at each
    // node on the way. Returns the leaf's (node, entry).
    template <typename AtLevel>
    std::pair<std::uint32_t, std::uint32_t> descend(std::uint32_t pos, std::uint32_t size,
                                                    AtLevel&& at_level);
    void aggregate(Node& n);
    template <typename Emit>
    void walk(std::uint32_t node, std::uint32_t nl, int shift, std::uint32_t lo, std::uint32_t hi,
              std::int64_t ts, Emit& emit) const;
    template <typename F>
    void noted_below(std::uint32_t node, std::uint32_t nl, int shift, F& f) const;
    void finish(std::uint32_t node, int shift);  // the aggregates below `node`, bottom up
    std::vector<Node> nodes_;                    // nodes_[0] is the root once a fire is noted
    std::uint32_t span_ = 0;                     // the root's: the smallest power of 16 >= the list's size
    std::uint32_t size_ = 0;                     // the list's
  };

  static constexpr std::size_t kConditions = 6;  // the values of Condition
  using Trees = std::array<EligibilityTree, kConditions>;
  struct List {  // one (symbol or "*", condition): sorted by (threshold, RuleSet index)
    std::vector<double> thresholds;
    std::vector<std::uint32_t> versions;  // the RuleSet index at the same place
    std::uint32_t counted = 0;            // the build's first pass: its size, to allocate it once
  };
  struct Group {  // one symbol, or "*"
    std::array<List, kConditions> lists;
    std::unique_ptr<Trees> trees;  // created on the group's first noted fire (never for "*": see overlays_)
    bool empty() const;
  };
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  void level(std::string_view symbol, const Tick& tick, Visitor f) const;
  void crossed(std::string_view symbol, double from_price, double to_price, std::int64_t ts, Visitor f) const;
  void level_in(const Group& group, const Trees* trees, const Tick& tick, Visitor f) const;
  void crossed_in(const Group& group, double low, double high, std::int64_t ts, Visitor f) const;
  struct Edit;  // one list's removals and additions in an update
  void rewrite(Group& group, std::size_t condition, Edit& edit);

  const RuleSet& rules_;
  std::vector<std::uint32_t> position_;  // per RuleSet index: its place in its list (UINT32_MAX: not indexed)
  // Unordered_map nodes stay put: a group's address survives other symbols' groups coming and going.
  std::unordered_map<std::string, Group, Hash, std::equal_to<>> groups_;  // every symbol with a version
  Group wildcard_;                                                        // the "*" versions
  std::unordered_map<std::string, std::unique_ptr<Trees>, Hash, std::equal_to<>> overlays_;  // "*" per symbol

 public:
  class SymbolLists {
   public:
    template <typename F>
    void for_each_level(const Tick& tick, F&& f) const {
      index_->level(*this, tick, Visitor::of(f));
    }
    template <typename F>
    void for_each_crossed(double from_price, double to_price, std::int64_t ts, F&& f) const {
      index_->crossed(*this, from_price, to_price, ts, Visitor::of(f));
    }

   private:
    friend class RuleIndex;
    const RuleIndex* index_ = nullptr;
    const Group* own_ = nullptr;  // the symbol's own versions (nullptr: none)
    const Trees* own_trees_ = nullptr;
    const Group* wildcard_ = nullptr;  // the "*" versions (nullptr: none)
    const Trees* overlay_ = nullptr;   // their eligibility trees for this symbol
  };

 private:
  void level(const SymbolLists& lists, const Tick& tick, Visitor f) const;
  void crossed(const SymbolLists& lists, double from_price, double to_price, std::int64_t ts,
               Visitor f) const;
};

}  // namespace tap
