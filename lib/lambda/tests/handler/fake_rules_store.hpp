// An in-memory RulesStore with the semantics of include/tap/app/rules_store.hpp, written from that contract
// (not from the DynamoDB adapter): one head per shard (seq, fence), the fence advanced by a conditional
// write that returns the head either way, the writers' one transaction (fence < effective_from, the record's
// revision, the owner's name and quota, seq += 1, a log entry keyed by effective_from), strongly consistent
// reads, scan segments with the retention horizon, and invalid items that readers skip.
//
// FakeRulesTables is the database: shared by every client and thread-safe, like DynamoDB. FakeRulesStore is
// one caller's client (a writer, a reader, one scan thread): it counts its requests and carries the fault
// hooks of the adversarial tests:
//  - before_commit: runs when the transaction is sent, before it is applied (time passes, readers refresh:
//    "the commit lands after time passed");
//  - timeout_after_apply: the transaction is applied but the caller gets a timeout (a timed-out write that
//    still committed);
//  - defer_commits: the transaction is held and the caller gets a timeout; land_deferred() applies it later
//    with its conditions evaluated then, as DynamoDB does;
//  - fail_requests: the next requests fail with throttling; fail_once: the next request of one name fails
//    with fail_with;
//  - on_request: runs before each request is served (to observe the order, or to fail one kind).
// Clocks are not the store's (DynamoDB has no server-time condition): SimTime and offset_clock give each
// caller its own view of one simulated time, so tests set per-caller offsets and pause a reader.
// FakeRulesTables::drop_fence_condition is the test-only broken protocol: commits ignore the fence.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tap/app/rules_store.hpp"

namespace tap::test_support {

// One simulated time; each caller reads it through its own offset_clock.
struct SimTime {
  std::int64_t now_micros = 1'700'000'000 * kMicrosPerSecond;
  void advance(std::int64_t micros) { now_micros += micros; }
};
inline std::function<std::int64_t()> offset_clock(const SimTime& time, const std::int64_t& offset_micros) {
  return [&time, &offset_micros] { return time.now_micros + offset_micros; };
}

// Stable across runs and platforms (std::hash is neither).
inline std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 1469598103934665603ULL;
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

class FakeRulesTables {
 public:
  explicit FakeRulesTables(std::uint32_t shards = 1) : heads_(shards) {
    for (std::uint32_t s = 0; s < shards; ++s) heads_[s].shard = s;
  }

  std::uint32_t shards() const { return static_cast<std::uint32_t>(heads_.size()); }
  std::uint32_t shard_of(std::string_view key) const {
    return static_cast<std::uint32_t>(fnv1a(key) % heads_.size());
  }

  RulesHead head(std::uint32_t shard) const {
    const std::scoped_lock lock(mutex_);
    return heads_.at(shard);
  }
  RulesHead advance_fence(std::uint32_t shard, std::int64_t target) {
    const std::scoped_lock lock(mutex_);
    RulesHead& h = heads_.at(shard);
    if (h.fence_micros < target) h.fence_micros = target;
    return h;
  }

  // Every record, every log entry, as committed: what an omniscient reader knows.
  std::vector<RuleRecord> all_records() const {
    const std::scoped_lock lock(mutex_);
    std::vector<RuleRecord> out;
    for (const auto& [id, r] : records_) out.push_back(r);
    return out;
  }
  std::vector<ChangeEntry> log(std::uint32_t shard) const {
    const std::scoped_lock lock(mutex_);
    std::vector<ChangeEntry> out;
    for (const auto& [key, e] : log_) {
      if (key.first == shard) out.push_back(e);
    }
    return out;
  }
  std::vector<SymbolControlRecord> all_controls() const {
    const std::scoped_lock lock(mutex_);
    std::vector<SymbolControlRecord> out;
    for (const auto& [symbol, c] : controls_) out.push_back(c);
    return out;
  }

  // An item that cannot be decoded replaces the rule's record (a hand edit, a bad migration).
  void corrupt(const std::string& rule_id, std::string why) {
    const std::scoped_lock lock(mutex_);
    records_.erase(rule_id);
    invalid_[rule_id] = std::move(why);
  }
  // Seeds a record as if committed long ago (a cold load's input), without a log entry.
  void seed(const RuleRecord& record) {
    const std::scoped_lock lock(mutex_);
    records_[record.id] = record;
  }

  Result<RulesRead, AwsError> scan(std::uint32_t segment, std::uint32_t segments,
                                   std::int64_t horizon) const {
    const std::scoped_lock lock(mutex_);
    RulesRead out;
    for (const auto& [id, r] : records_) {
      if (fnv1a(id) % segments != segment) continue;
      const bool current = std::any_of(r.versions.begin(), r.versions.end(),
                                       [&](const Rule& v) { return v.window.until_micros > horizon; });
      if (current) out.records.push_back(r);
    }
    for (const auto& [id, why] : invalid_) {
      if (fnv1a(id) % segments == segment) out.invalid.push_back("rule " + id + ": " + why);
    }
    return out;
  }
  std::vector<ChangeEntry> changes_from(std::uint32_t shard, std::int64_t from) const {
    const std::scoped_lock lock(mutex_);
    std::vector<ChangeEntry> out;
    for (auto it = log_.lower_bound({shard, from, 0}); it != log_.end() && it->first.first == shard; ++it) {
      out.push_back(it->second);
    }
    return out;
  }
  RulesRead records(const std::vector<ChangeEntry>& entries) const {
    const std::scoped_lock lock(mutex_);
    RulesRead out;
    std::vector<std::string> seen;
    for (const ChangeEntry& e : entries) {
      if (e.rule_id.empty() || std::find(seen.begin(), seen.end(), e.rule_id) != seen.end()) continue;
      seen.push_back(e.rule_id);
      if (const auto it = records_.find(e.rule_id); it != records_.end()) out.records.push_back(it->second);
      if (const auto it = invalid_.find(e.rule_id); it != invalid_.end()) {
        out.invalid.push_back("rule " + e.rule_id + ": " + it->second);
      }
    }
    return out;
  }
  std::optional<RuleRecord> get(std::string_view owner, std::string_view rule_id) const {
    const std::scoped_lock lock(mutex_);
    const auto it = records_.find(std::string(rule_id));
    if (it == records_.end() || it->second.owner != owner) return std::nullopt;
    return it->second;
  }
  std::vector<RuleRecord> list(std::string_view owner, bool include_deleted) const {
    const std::scoped_lock lock(mutex_);
    std::vector<RuleRecord> out;
    for (const auto& [id, r] : records_) {
      if (r.owner == owner && (include_deleted || r.state != RuleState::deleted)) out.push_back(r);
    }
    return out;
  }

  // One page in rule id order, as a Query with Limit reads it: `next` is the last id read when the limit
  // was reached (DynamoDB's LastEvaluatedKey, even when nothing follows).
  RulesStore::Page list_page(std::string_view owner, bool include_deleted, std::uint32_t limit,
                             std::string_view after) const {
    const std::scoped_lock lock(mutex_);
    RulesStore::Page out;
    std::uint32_t read = 0;
    for (auto it = records_.upper_bound(std::string(after)); it != records_.end() && read < limit; ++it) {
      if (it->second.owner != owner) continue;
      if (++read == limit) out.next = it->first;
      if (include_deleted || it->second.state != RuleState::deleted) out.records.push_back(it->second);
    }
    return out;
  }

  // The writers' transaction: every condition is evaluated against the state when it is applied.
  CommitResult commit(const RulesHead& head, const std::optional<RuleRecord>& read, const ChangePlan& plan,
                      std::int64_t effective_from, std::uint32_t quota) {
    const std::scoped_lock lock(mutex_);
    RulesHead& h = heads_.at(head.shard);
    EXPECT_EQ(head.shard, shard_of(plan.next.owner)) << "a rule's changes go through its owner's shard";
    if (!drop_fence_condition && h.fence_micros >= effective_from)
      return {CommitResult::Status::fence_passed, h};
    const auto it = records_.find(plan.next.id);
    const bool same =
        it == records_.end() ? !read.has_value() : read.has_value() && it->second.revision == read->revision;
    if (!same) return {CommitResult::Status::stale, h};
    const bool live = plan.next.state != RuleState::deleted;
    for (const auto& [id, r] : records_) {
      if (live && id != plan.next.id && r.owner == plan.next.owner && r.state != RuleState::deleted &&
          r.spec.name == plan.next.spec.name) {
        return {CommitResult::Status::name_taken, h};
      }
    }
    if (plan.quota_delta > 0 && live_count(plan.next.owner) >= quota) {
      return {CommitResult::Status::quota_exceeded, h};
    }
    h.seq += 1;
    records_[plan.next.id] = plan.next;
    log_[{h.shard, effective_from, h.seq}] = {plan.next.owner, plan.next.id, "", effective_from, h.seq};
    return {CommitResult::Status::committed, h};
  }
  CommitResult commit_controls(const RulesHead& head, const SymbolControlRecord& next,
                               std::int64_t effective_from) {
    const std::scoped_lock lock(mutex_);
    RulesHead& h = heads_.at(head.shard);
    EXPECT_EQ(head.shard, shard_of(next.symbol)) << "a symbol's controls go through its symbol's shard";
    if (!drop_fence_condition && h.fence_micros >= effective_from)
      return {CommitResult::Status::fence_passed, h};
    h.seq += 1;
    controls_[next.symbol] = next;
    log_[{h.shard, effective_from, h.seq}] = {"", "", next.symbol, effective_from, h.seq};
    return {CommitResult::Status::committed, h};
  }

  bool drop_fence_condition = false;  // the deliberately broken protocol

 private:
  std::size_t live_count(std::string_view owner) const {
    return static_cast<std::size_t>(std::count_if(records_.begin(), records_.end(), [&](const auto& kv) {
      return kv.second.owner == owner && kv.second.state != RuleState::deleted;
    }));
  }

  struct LogKey {
    std::uint32_t first;  // shard
    std::int64_t effective_from;
    std::uint64_t seq;
    auto operator<=>(const LogKey&) const = default;
  };

  mutable std::mutex mutex_;
  std::vector<RulesHead> heads_;
  std::map<std::string, RuleRecord, std::less<>> records_;   // by rule id
  std::map<std::string, std::string, std::less<>> invalid_;  // rule id -> why it cannot be read
  std::map<LogKey, ChangeEntry> log_;                        // by (shard, effective_from, seq)
  std::map<std::string, SymbolControlRecord, std::less<>> controls_;
};

inline AwsError rules_throttled() {
  return make_aws_error("ThrottlingException", "Rate exceeded", 400, true);
}
inline AwsError rules_timeout() { return make_aws_error("RequestTimeout", "the request timed out", 0, true); }

// One caller's client of the tables.
class FakeRulesStore final : public RulesStore {
 public:
  explicit FakeRulesStore(FakeRulesTables& tables) : tables_(tables) {}

  std::uint32_t shards() const override { return tables_.shards(); }
  std::uint32_t shard_of(std::string_view owner) const override { return tables_.shard_of(owner); }

  Result<RulesHead, AwsError> advance_fence(std::uint32_t shard, std::int64_t target, Deadline) override {
    if (auto e = request(fence_writes, "advance_fence")) return *e;
    return tables_.advance_fence(shard, target);
  }
  Result<RulesRead, AwsError> scan(std::uint32_t segment, std::uint32_t segments, std::int64_t horizon,
                                   Deadline) override {
    if (auto e = request(scans, "scan")) return *e;
    return tables_.scan(segment, segments, horizon);
  }
  Result<std::vector<ChangeEntry>, AwsError> changes_from(std::uint32_t shard, std::int64_t from,
                                                          Deadline) override {
    if (auto e = request(log_reads, "changes_from")) return *e;
    return tables_.changes_from(shard, from);
  }
  Result<RulesRead, AwsError> records(const std::vector<ChangeEntry>& entries, Deadline) override {
    if (auto e = request(record_reads, "records")) return *e;
    return tables_.records(entries);
  }
  Result<std::vector<SymbolControlRecord>, AwsError> controls(Deadline) override {
    if (auto e = request(control_reads, "controls")) return *e;
    return tables_.all_controls();
  }
  Result<RulesHead, AwsError> head(std::uint32_t shard, Deadline) override {
    if (auto e = request(head_reads, "head")) return *e;
    return tables_.head(shard);
  }
  Result<std::optional<RuleRecord>, AwsError> get(std::string_view owner, std::string_view rule_id,
                                                  Deadline) override {
    if (auto e = request(gets, "get")) return *e;
    return tables_.get(owner, rule_id);
  }
  Result<std::vector<RuleRecord>, AwsError> list(std::string_view owner, bool include_deleted,
                                                 Deadline) override {
    if (auto e = request(lists, "list")) return *e;
    return tables_.list(owner, include_deleted);
  }
  Result<Page, AwsError> list_page(std::string_view owner, bool include_deleted, std::uint32_t limit,
                                   std::string_view after, Deadline) override {
    if (auto e = request(lists, "list_page")) return *e;
    return tables_.list_page(owner, include_deleted, limit, after);
  }
  Result<CommitResult, AwsError> commit(const RulesHead& head, const std::optional<RuleRecord>& read,
                                        const ChangePlan& plan, std::int64_t effective_from,
                                        std::uint32_t quota, Deadline) override {
    if (auto e = request(commits, "commit")) return *e;
    return send([this, head, read, plan, effective_from, quota] {
      return tables_.commit(head, read, plan, effective_from, quota);
    });
  }
  Result<CommitResult, AwsError> commit_controls(const RulesHead& head, const SymbolControlRecord& next,
                                                 std::int64_t effective_from, Deadline) override {
    if (auto e = request(commits, "commit_controls")) return *e;
    return send(
        [this, head, next, effective_from] { return tables_.commit_controls(head, next, effective_from); });
  }

  // Applies the held transactions now (their conditions evaluated now); returns their outcomes.
  std::vector<CommitResult> land_deferred() {
    std::vector<CommitResult> out;
    for (auto& t : deferred_) out.push_back(t());
    deferred_.clear();
    return out;
  }

  int requests() const {
    return fence_writes + scans + log_reads + record_reads + control_reads + head_reads + gets + lists +
           commits;
  }

  // Fault hooks (see the header comment).
  std::function<void(std::string_view)> on_request;  // before each request is served (its name)
  std::function<void()> before_commit;
  int timeout_after_apply = 0;
  int defer_commits = 0;
  int fail_requests = 0;
  std::string fail_once;  // the next request of this name fails with fail_with
  AwsError fail_with = rules_throttled();

  int fence_writes = 0, scans = 0, log_reads = 0, record_reads = 0, control_reads = 0, head_reads = 0,
      gets = 0, lists = 0, commits = 0;

 private:
  std::optional<AwsError> request(int& counter, std::string_view name) {
    ++counter;
    if (on_request) {
      const auto hook = on_request;
      hook(name);
    }
    if (fail_once == name) {
      fail_once.clear();
      return fail_with;
    }
    if (fail_requests > 0) {
      --fail_requests;
      return rules_throttled();
    }
    return std::nullopt;
  }
  Result<CommitResult, AwsError> send(std::function<CommitResult()> transaction) {
    if (before_commit) {
      const auto hook = before_commit;  // a copy: the hook may reset itself
      hook();
    }
    if (defer_commits > 0) {
      --defer_commits;
      deferred_.push_back(std::move(transaction));
      return rules_timeout();
    }
    CommitResult r = transaction();
    if (timeout_after_apply > 0) {
      --timeout_after_apply;
      return rules_timeout();
    }
    return r;
  }

  FakeRulesTables& tables_;
  std::vector<std::function<CommitResult()>> deferred_;
};

}  // namespace tap::test_support
