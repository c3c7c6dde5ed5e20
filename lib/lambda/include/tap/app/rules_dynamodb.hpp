// The RulesStore port (rules_store.hpp) on DynamoDB: the only place that knows how rules are stored -- the
// table's keys, attribute names, item shapes -- and the exact conditions of the change protocol
// (docs/design.md, "Rules as live data: the change protocol").
//
// One table `alert-rules-<suffix>` (I13), key attributes pk (S) + sk (S), TTL attribute `ttl` (N, epoch
// seconds; set on log items only). Item kinds:
//  - rule record: pk "owner#<owner>", sk "rule#<id>". The definition (name, symbol, condition, threshold N,
//    severity, mode, cooldown N, bar N, optional description, expires_at N, template), state
//    ("active" | "paused" | "deleted"), arming N, revision N (the commit's compare-and-swap and `If-Match`),
//    created N and updated N (micros), and `versions`: L of M, one per version in version order, each
//    {v N, from N, until N (absent: open), symbol, condition, threshold N, severity, mode, cooldown N,
//    bar N, arming N, optional expires_at N, description, enabled BOOL (absent: true)}. Windows never
//    overlap and every window is non-empty. A record carries its versions: a refresh re-reads a changed
//    rule with one key in a BatchGetItem (100 per request) and the commit replaces it with one conditional
//    Put. A version is ~200 bytes, so the 400 KB item limit holds ~1,900 versions of one rule.
//  - name item: pk "owner#<owner>", sk "name#<name>", rule_id S. Put if absent on create and rename: the
//    owner's names are unique (R1); deleted with the rule's removal or rename.
//  - quota item: pk "owner#<owner>", sk "quota", count N (rules not deleted). +1 on create under the
//    condition count < quota, -1 on delete: the quota holds under concurrent creates (R1).
//  - head item: pk "head#<shard>", sk "head", seq N (changes committed), fence N (micros).
//  - log item: pk "log#<shard>", sk "<effective_from, 19 digits>#rule#<id>#<revision>" or
//    "<effective_from>#symbol#<symbol>#<token>"; owner, rule_id or symbol, seq N (the head's seq read by
//    the writer + 1: a lower bound, readers do not rely on it), ttl (effective_from + log_ttl).
//  - idempotency record (the API's, A2): pk "owner#<owner>", sk "idem#<Idempotency-Key>"; fp S (the
//    request's fingerprint), done BOOL, status N, headers S, body S (done), expires N and lease N (micros),
//    ttl (expires, epoch seconds). Never read by the processor (its scan reads "rule#" items only).
//  - symbol controls: pk "controls", sk "symbol#<SYM>"; suspensions L of M {from N, until N (absent: open)},
//    bands L of M {from, until, low N, high N}. One partition: controls() is one consistent Query.
//  - cursor key (the API's, docs/design.md section 13): pk "apikeys", sk "cursor#<key id>"; blob B (the
//    data key encrypted under the stack's KMS key), ttl N (the key's expiry: DynamoDB removes it once no
//    cursor it made can be valid). Put if absent: instances racing to create one key agree on the winner's.
// Rule ids are 128 random bits in lowercase base32 (26 characters, [0-9a-z]): globally unique without
// coordination, valid in every key of both tables ([A-Za-z0-9_.-]), and revealing nothing (no creation
// time, unlike a ULID); rules are addressed by owner partition, so time-ordered ids buy no locality.
// Every read is strongly consistent and goes to the table (the client's Query and Scan have no IndexName).
// An item that cannot be decoded, or whose windows are absurd, is skipped and reported (RulesRead::invalid).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "tap/app/cursor_key_ports.hpp"
#include "tap/app/rules_store.hpp"
#include "tap/aws/dynamodb.hpp"

namespace tap {

// The rule record item (DynamoDB JSON) and back; parse: an error naming the first problem.
std::string rule_item(const RuleRecord& record);
Result<RuleRecord> parse_rule_item(std::string_view item_json);
Result<RulesHead> parse_head_item(std::uint32_t shard, std::string_view item_json);
std::string controls_item(const SymbolControlRecord& controls);
Result<SymbolControlRecord> parse_controls_item(std::string_view item_json);
Result<ChangeEntry> parse_log_item(std::string_view item_json);
std::string cursor_key_item(const StoredCursorKey& key);
Result<StoredCursorKey> parse_cursor_key_item(std::string_view item_json);

// A rule id from 128 random bits (lowercase base32, 26 characters).
std::string rule_id_from_bits(const std::array<std::uint8_t, 16>& bits);
// A fresh rule id (or transaction token) from the OS's entropy: unguessable, unique across processes.
std::string random_rule_id();
// The stable shard of an owner or symbol (FNV-1a 64, modulo shards).
std::uint32_t shard_for(std::string_view key, std::uint32_t shards);

struct RulesTableSettings {
  std::string table;
  std::uint32_t shards = 1;
  std::int64_t log_ttl_seconds = 5 * 86400;  // > the retention horizon H (R4): a log entry outlives its use
};

// The requests of the protocol (exposed for tests: the conditions are the protocol). Item order of the
// commit: head, record, log entry, then the name items and the quota counter when they change.
dynamodb::TransactWrite rules_commit_request(const RulesTableSettings& settings, const RulesHead& head,
                                             const std::optional<RuleRecord>& read, const ChangePlan& plan,
                                             std::int64_t effective_from_micros, std::uint32_t quota);
dynamodb::TransactWrite controls_commit_request(const RulesTableSettings& settings, const RulesHead& head,
                                                const SymbolControlRecord& next,
                                                std::int64_t effective_from_micros, std::string_view token);
dynamodb::UpdateItem fence_request(const std::string& table, std::uint32_t shard, std::int64_t target_micros);

class DynamoDbRulesStore final : public RulesStore {
 public:
  using TokenSource = std::function<std::string()>;  // TransactWriteItems ClientRequestToken per call
  DynamoDbRulesStore(dynamodb::Client& client, RulesTableSettings settings, TokenSource tokens);

  std::uint32_t shards() const override { return settings_.shards; }
  Result<RulesHead, AwsError> advance_fence(std::uint32_t shard, std::int64_t target_micros,
                                            Deadline deadline) override;
  Result<RulesRead, AwsError> scan(std::uint32_t segment, std::uint32_t segments, std::int64_t horizon_micros,
                                   Deadline deadline) override;
  Result<std::vector<ChangeEntry>, AwsError> changes_from(std::uint32_t shard, std::int64_t from_micros,
                                                          Deadline deadline) override;
  Result<RulesRead, AwsError> records(const std::vector<ChangeEntry>& entries, Deadline deadline) override;
  Result<std::vector<SymbolControlRecord>, AwsError> controls(Deadline deadline) override;

  Result<RulesHead, AwsError> head(std::uint32_t shard, Deadline deadline) override;
  std::uint32_t shard_of(std::string_view owner) const override { return shard_for(owner, settings_.shards); }
  Result<std::optional<RuleRecord>, AwsError> get(std::string_view owner, std::string_view rule_id,
                                                  Deadline deadline) override;
  Result<std::vector<RuleRecord>, AwsError> list(std::string_view owner, bool include_deleted,
                                                 Deadline deadline) override;
  Result<Page, AwsError> list_page(std::string_view owner, bool include_deleted, std::uint32_t limit,
                                   std::string_view after, Deadline deadline) override;
  Result<CommitResult, AwsError> commit(const RulesHead& head, const std::optional<RuleRecord>& read,
                                        const ChangePlan& plan, std::int64_t effective_from_micros,
                                        std::uint32_t quota, Deadline deadline) override;
  Result<CommitResult, AwsError> commit_controls(const RulesHead& head, const SymbolControlRecord& next,
                                                 std::int64_t effective_from_micros,
                                                 Deadline deadline) override;

 private:
  Result<std::vector<std::string>, AwsError> query_all(dynamodb::Query query, Deadline deadline);
  Result<CommitResult, AwsError> run_commit(dynamodb::TransactWrite tx, const RulesHead& head,
                                            std::size_t name_put, std::size_t quota_update,
                                            Deadline deadline);

  dynamodb::Client& client_;
  RulesTableSettings settings_;
  TokenSource tokens_;
};

// The idempotency records on the rules table (the item kind above).
std::string idempotency_item(std::string_view owner, std::string_view key, const IdempotencyRecord& record);
Result<IdempotencyRecord> parse_idempotency_item(std::string_view item_json);

class DynamoDbIdempotency final : public IdempotencyStore {
 public:
  DynamoDbIdempotency(dynamodb::Client& client, std::string table)
      : client_(client), table_(std::move(table)) {}
  Result<std::optional<IdempotencyRecord>, AwsError> take(std::string_view owner, std::string_view key,
                                                          const IdempotencyRecord& taken,
                                                          std::int64_t now_micros,
                                                          Deadline deadline) override;
  Result<bool, AwsError> complete(std::string_view owner, std::string_view key, const IdempotencyRecord& done,
                                  Deadline deadline) override;
  Result<bool, AwsError> release(std::string_view owner, std::string_view key, Deadline deadline) override;

 private:
  dynamodb::Client& client_;
  std::string table_;
};

// The API's cursor keys in the rules table (the cursor key items above).
class DynamoDbCursorKeyStore final : public CursorKeyStore {
 public:
  DynamoDbCursorKeyStore(dynamodb::Client& client, std::string table);
  Result<std::vector<StoredCursorKey>, AwsError> list(Deadline deadline) override;
  Result<bool, AwsError> add(const StoredCursorKey& key, Deadline deadline) override;

 private:
  dynamodb::Client& client_;
  std::string table_;
};

}  // namespace tap
