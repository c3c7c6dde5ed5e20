// The rules storage (I13, R3, R4): where rule records, their versions and the change log live, and the
// change protocol's I/O. Item shapes, key formats and attribute names are the DynamoDB adapter's own
// (rules_dynamodb.hpp); callers see domain values only.
//
// The change protocol (docs/design.md, "Rules as live data"): one HEAD item per shard holds `seq` (how many
// changes were committed) and `fence` (event time: readers evaluate ticks before it with what they read).
//  - A writer reads the head, picks effective_from = effective_from_for(now, fence, P) and commits ONE
//    transaction: the head's fence is still < effective_from (condition) and seq += 1; the rule record and
//    its changed versions; a change-log entry keyed by effective_from; the owner's quota counter and name
//    item when they change. If the fence moved past effective_from the transaction fails and the writer
//    retries with a later one; it gives up after P (the API answers 503 Retry-After).
//  - A reader (the processor; it never writes rules) advances the fence to a target T with one conditional
//    write that returns the head either way. Afterwards every change committed later has effective_from >
//    T, and every change committed earlier is counted in the returned seq and readable in the log with a
//    strongly consistent read. So a reader that has applied every log entry with effective_from < T,
//    committed up to that seq, may evaluate ticks before T. Clocks only choose T and effective_from: a
//    wrong clock delays a change (writer retries, reader refreshes), never hides one.
// Strongly consistent reads only, never an index (index lag must not reach the processor).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tap/aws/aws_error.hpp"
#include "tap/core/deadline.hpp"
#include "tap/core/result.hpp"
#include "tap/core/rule_change.hpp"
#include "tap/core/symbol_engine.hpp"

namespace tap {

// Rule ids are the store's own (26 characters, rules_dynamodb.hpp): a longer path id names no rule, and the
// API answers 404 without a request -- DynamoDB refuses a key over its size limit (ValidationException, a
// 5xx to the caller) where moto simply finds nothing. Also the bound of the alert list's rule_id filter.
inline constexpr std::size_t kMaxRuleIdBytes = 128;

struct RulesHead {
  std::uint32_t shard = 0;
  std::uint64_t seq = 0;          // changes committed to this shard
  std::int64_t fence_micros = 0;  // readers evaluate ticks before it
  friend bool operator==(const RulesHead&, const RulesHead&) = default;
};

// One change-log entry: which rule changed, effective when, committed as the shard's seq-th change.
struct ChangeEntry {
  std::string owner;
  std::string rule_id;  // empty for a symbol-control change
  std::string symbol;   // a symbol-control change: its symbol
  std::int64_t effective_from_micros = 0;
  // At least the change's position: a transaction cannot read the seq it increments, so a writer records
  // the seq it read + 1. Readers rely on the fence and the log, never on this number.
  std::uint64_t seq = 0;
  friend bool operator==(const ChangeEntry&, const ChangeEntry&) = default;
};

// What a scan segment or a refresh read: valid records, and the items that could not be decoded or failed
// validation (skipped, logged and counted as InvalidRules: never a failed init or batch, R4).
struct RulesRead {
  std::vector<RuleRecord> records;
  std::vector<std::string> invalid;  // one line per skipped item: its key and why
};

// Operator controls of one symbol (F3), as stored.
struct SymbolControlRecord {
  std::string symbol;
  SymbolControls controls;
};

// The outcome of a writer's commit.
struct CommitResult {
  enum class Status {
    committed,       // everything written
    fence_passed,    // a reader's fence is at or after effective_from: retry with a later one
    stale,           // the record changed since it was read (its revision): re-read and re-plan
    name_taken,      // another rule of the owner has the name
    quota_exceeded,  // the owner's count of rules not deleted is at the quota
  };
  Status status = Status::committed;
  // committed: the head after the change as far as the writer knows (seq read + 1, the fence it read);
  // fence_passed: the head that refused it, when the store returned its image.
  RulesHead head;
};

class RulesStore {
 public:
  virtual ~RulesStore() = default;

  // --- readers (processor) ---
  virtual std::uint32_t shards() const = 0;
  // Advances the shard's fence to target when it is lower (one conditional write); returns the head after.
  virtual Result<RulesHead, AwsError> advance_fence(std::uint32_t shard, std::int64_t target_micros,
                                                    Deadline deadline) = 0;
  // Cold load: one of `segments` parallel scan segments of every rule record (consistent reads). Records
  // whose versions all ended before `horizon_micros` are left out (R4 retention horizon).
  virtual Result<RulesRead, AwsError> scan(std::uint32_t segment, std::uint32_t segments,
                                           std::int64_t horizon_micros, Deadline deadline) = 0;
  // The shard's log entries with effective_from >= from_micros (consistent query, every page).
  virtual Result<std::vector<ChangeEntry>, AwsError> changes_from(std::uint32_t shard,
                                                                  std::int64_t from_micros,
                                                                  Deadline deadline) = 0;
  // The current records of the rules named (consistent reads); a rule not found is absent from the answer.
  virtual Result<RulesRead, AwsError> records(const std::vector<ChangeEntry>& entries, Deadline deadline) = 0;
  virtual Result<std::vector<SymbolControlRecord>, AwsError> controls(Deadline deadline) = 0;

  // --- writers (change library callers: import, API) ---
  virtual Result<RulesHead, AwsError> head(std::uint32_t shard, Deadline deadline) = 0;
  virtual std::uint32_t shard_of(std::string_view owner) const = 0;
  virtual Result<std::optional<RuleRecord>, AwsError> get(std::string_view owner, std::string_view rule_id,
                                                          Deadline deadline) = 0;
  // One owner's records (consistent query), deleted ones included when asked.
  virtual Result<std::vector<RuleRecord>, AwsError> list(std::string_view owner, bool include_deleted,
                                                         Deadline deadline) = 0;
  // One page of them in rule id order: at most `limit` records read (deleted ones are read and left out
  // unless asked for, so a page may hold fewer), starting after the rule id `after` (empty: the first page).
  // `next` is where the following page starts, empty when nothing follows (consistent query).
  struct Page {
    std::vector<RuleRecord> records;
    std::string next;
  };
  virtual Result<Page, AwsError> list_page(std::string_view owner, bool include_deleted, std::uint32_t limit,
                                           std::string_view after, Deadline deadline) = 0;
  // The transaction of the protocol above. `read` is the record the plan was made on (nullopt for create;
  // its revision is the condition), `head` the head effective_from was chosen against.
  virtual Result<CommitResult, AwsError> commit(const RulesHead& head, const std::optional<RuleRecord>& read,
                                                const ChangePlan& plan, std::int64_t effective_from_micros,
                                                std::uint32_t quota, Deadline deadline) = 0;
  // An operator's change of one symbol's controls (suspensions, price bands; each with its own window that
  // starts at or after effective_from), through the same head and log as rule changes (shard_of(symbol)).
  virtual Result<CommitResult, AwsError> commit_controls(const RulesHead& head,
                                                         const SymbolControlRecord& next,
                                                         std::int64_t effective_from_micros,
                                                         Deadline deadline) = 0;
};

// The API's idempotency records (A2): per owner and Idempotency-Key, kept 24 h, stored in the rules table
// (rules_dynamodb.hpp). A record is taken before the request runs (`in flight`, leased for a while so that a
// crashed request does not hold its key for 24 h) and completed with the answer; a replay answers it.
struct IdempotencyRecord {
  std::string fingerprint{};            // what the request was (method, path and body, digested)
  bool complete = false;                // false: the first request is still in flight
  int status = 0;                       // complete: the answer
  std::string headers{};                // complete: the answer's headers, "Name: value" lines
  std::string body{};                   // complete: the answer's body
  std::int64_t expires_at_micros = 0;   // the record is forgotten after it (24 h after it was taken)
  std::int64_t lease_until_micros = 0;  // in flight: another request may take the key after it
  friend bool operator==(const IdempotencyRecord&, const IdempotencyRecord&) = default;
};

class IdempotencyStore {
 public:
  virtual ~IdempotencyStore() = default;
  // Takes the key with `taken` (in flight) when it is free: absent, expired, or in flight past its lease
  // (one conditional write, so two requests never both take it). Answers nullopt when taken, else the
  // record that holds the key.
  virtual Result<std::optional<IdempotencyRecord>, AwsError> take(std::string_view owner,
                                                                  std::string_view key,
                                                                  const IdempotencyRecord& taken,
                                                                  std::int64_t now_micros,
                                                                  Deadline deadline) = 0;
  // Stores the answer of the request that took the key.
  virtual Result<bool, AwsError> complete(std::string_view owner, std::string_view key,
                                          const IdempotencyRecord& done, Deadline deadline) = 0;
  // Frees a key whose request ended without an answer worth replaying (the storage failed), so that the
  // client's retry runs.
  virtual Result<bool, AwsError> release(std::string_view owner, std::string_view key, Deadline deadline) = 0;
};

// The state table's `once` markers (R2), read by the API to derive `triggered` and to accept a re-arm. The
// processor writes them (dynamodb_store.hpp holds their key); the API only reads, strongly consistent.
class OnceMarkerReader {
 public:
  virtual ~OnceMarkerReader() = default;
  virtual Result<bool, AwsError> marker_exists(std::string_view rule_id, std::uint32_t arming,
                                               Deadline deadline) = 0;
};

}  // namespace tap
