// The SymbolStore and AlertLedger ports on DynamoDB: the only place that knows how state and alerts are
// stored -- table keys, attribute names, item shapes, the notification state -- and the exact conditional
// expressions of the exactly-once protocol.
//
// alert-state table (key attributes symbol (S) + rule_id (S)) holds three kinds of item:
//  - the symbol's state (SymbolStore, I2b): symbol = the symbol, rule_id = "#state" (kStateSortKey; rule ids
//    are [A-Za-z0-9_.-], so no rule id and no marker key can be it). Attributes: revision (N, the
//    compare-and-swap), ticks (B), fires (B), fires_complete_from (N, absent when the log is complete from
//    the start), ticks_trimmed (N 1; absent until a held tick has been trimmed). Integers are LEB128 varints;
//    a timestamp is the zigzag varint of its delta to the previous one of the same list (the first: to 0).
//    ticks: version byte 1, count, then per tick timestamp, seq and price (8 bytes, IEEE-754 little-endian);
//    positions strictly increase. fires: version byte 1, the count of distinct rule ids and each (length +
//    bytes), the count of fires and per fire the index of its rule id, the version, timestamp, seq, one flag
//    byte (1: crossing, 2: stored, 4: a once arming follows, 8: reach_until is "never", 16: its notification
//    is not confirmed, 32: the fire is unvouched), then unless 8 the zigzag delta of reach_until to the
//    fire's timestamp, and with 4 the arming. Anything else (a byte left over, a tick out of order, a price
//    that is not finite and > 0) is a malformed item: an error for that symbol alone.
//  - a `once` marker (R2): symbol = "#once#<rule id>", rule_id = "#arming#<arming>" (a symbol never holds a
//    '#'); attributes rule (S), arming (N), alert_symbol (S), alert_key (S: the alert's sort key),
//    created_at (S). The API reads it to derive `triggered`.
//  - items of the first version's per-(rule, symbol) state (rule_id = a rule id) are no longer read.
// market-alerts table: key symbol (S) + timestamp (S) = "<normalised tick ts>#<rule id>" (F4); the
//   alert's attributes, its rule version (N) and owner (S; absent for a rule without owner), stored_id (S: a
//   ULID taken at store, tap/core/ulid.hpp; the by-owner index is owner + stored_id, A4), its id as text
//   (alert_id), created_at, and
//   notification_state "pending" until mark_sent sets "sent" with notified_at and sns_message_id, and
//   publish_by (S, when known: the storing invocation's deadline, AlertRecord::publish_by_micros),
//   unvouched (BOOL true, only when the fire is unvouched: Alert::unvouched; absent means vouched). A
//   recovery claim (AlertLedger::claim) sets claimed_by (S, the claimant) and claim_until (S). Timestamps
//   are normalised text (27 characters, UTC), so the conditions compare them as text.
// by-owner index of the alerts table (kByOwnerIndex, lib/stack/tables.py): owner + stored_id, all
//   attributes projected; DynamoDbAlertLog reads an owner's alerts through it (A4).
#pragma once

#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>

#include "tap/app/alert_log.hpp"
#include "tap/app/ports.hpp"
#include "tap/app/rules_store.hpp"
#include "tap/aws/dynamodb.hpp"
#include "tap/core/rules.hpp"
#include "tap/core/ulid.hpp"

namespace tap {

inline constexpr std::string_view kStateSortKey = "#state";

// The symbol state item (DynamoDB JSON) and back. decode: an error for anything but a well-formed item.
std::string state_item(std::string_view symbol, const SymbolState& state);
Result<SymbolState> parse_symbol_state(std::string_view item_json);
// The bytes DynamoDB counts for the item (attribute names + values; binary values unencoded).
std::size_t state_item_bytes(std::string_view symbol, const SymbolState& state);

// The key of a `once` marker and its item (DynamoDB JSON).
std::string marker_key_json(const std::string& rule_id, std::uint32_t arming);
std::string marker_item(const OnceMarker& marker, std::int64_t created_at_micros);

// The state item's conditional put of a commit: `next` if the stored revision is still `read`'s (absent when
// !read.exists), the stored item handed back on refusal (ALL_OLD). Alone it is the commit of a plan that
// writes no alert and no marker (a quiet batch); else the first item of commit_request.
dynamodb::PutItem state_put_request(const std::string& state_table, std::string_view symbol,
                                    const SymbolState& read, const SymbolState& next);
// The TransactWriteItems of one commit with alerts or markers (exposed for tests: the conditions are the
// protocol).
dynamodb::TransactWrite commit_request(const std::string& state_table, const std::string& alerts_table,
                                       std::string_view symbol, const SymbolState& read,
                                       const SymbolState& next, std::span<const AlertRecord> alerts,
                                       std::span<const OnceMarker> markers, std::int64_t now_micros,
                                       UlidGenerator& stored_ids);

// The alert item in DynamoDB JSON ({"symbol":{"S":"AAPL"},...}), ready for a PutItem "Item"; its
// notification_state is "pending".
std::string alert_item(const AlertRecord& record, std::string_view stored_id);
// An alert item's attributes (UpdateItem ALL_NEW) read back: an error when symbol, price or tick_timestamp
// is missing or any attribute read has an unexpected type or value.
Result<PendingAlert> parse_pending_alert(std::string_view attributes_json);

// Thread-safe: the handler commits different symbols concurrently (one client, one pooled HttpClient).
class DynamoDbSymbolStore final : public SymbolStore {
 public:
  using TokenSource = std::function<std::string()>;  // TransactWriteItems ClientRequestToken per call
  DynamoDbSymbolStore(dynamodb::Client& client, std::string state_table, std::string alerts_table,
                      std::function<std::int64_t()> now_micros, TokenSource tokens);

  Result<LoadedStates, AwsError> load(std::span<const std::string> symbols, Deadline deadline) override;
  Result<WriteOutcome, AwsError> commit(std::string_view symbol, const SymbolState& read,
                                        const SymbolState& next, std::span<const AlertRecord> alerts,
                                        std::span<const OnceMarker> markers, Deadline deadline) override;

 private:
  // A commit without alerts or markers: state_put_request alone (a PutItem, no transaction).
  Result<WriteOutcome, AwsError> commit_state(std::string_view symbol, const SymbolState& read,
                                              const SymbolState& next, Deadline deadline);
  // The conflict of a refused state put: `old_item` (ALL_OLD) read, or the state read when there is none.
  Result<WriteOutcome, AwsError> conflict(std::string_view symbol, const std::string& old_item,
                                          Deadline deadline);

  dynamodb::Client& client_;
  std::string state_table_;
  std::string alerts_table_;
  std::function<std::int64_t()> now_micros_;
  TokenSource tokens_;
  std::mutex ids_mutex_;      // guards stored_ids_ and the calls of tokens_ (concurrent commits)
  UlidGenerator stored_ids_;  // monotonic within this process
};

// The `once` markers as the API reads them (R2): one strongly consistent read of marker_key_json's item.
class DynamoDbOnceMarkers final : public OnceMarkerReader {
 public:
  DynamoDbOnceMarkers(dynamodb::Client& client, std::string state_table)
      : client_(client), state_table_(std::move(state_table)) {}
  Result<bool, AwsError> marker_exists(std::string_view rule_id, std::uint32_t arming,
                                       Deadline deadline) override;

 private:
  dynamodb::Client& client_;
  std::string state_table_;
};

inline constexpr std::string_view kByOwnerIndex = "by-owner";

// An alert item (as the by-owner index returns it) for the API: an error for an item without owner,
// stored_id, rule_id, rule_version, symbol, price or tick_timestamp, or with an attribute of the wrong type.
Result<FiredAlert> parse_fired_alert(std::string_view item_json);
// The by-owner Query of one page (exposed for tests: the key condition and the filters are the contract).
Result<dynamodb::Query> alert_log_query(const std::string& alerts_table, const AlertQuery& query);

class DynamoDbAlertLog final : public AlertLog {
 public:
  DynamoDbAlertLog(dynamodb::Client& client, std::string alerts_table);
  Result<AlertPage, AwsError> list(const AlertQuery& query, Deadline deadline) override;

 private:
  dynamodb::Client& client_;
  std::string table_;
};

class DynamoDbAlertLedger final : public AlertLedger {
 public:
  DynamoDbAlertLedger(dynamodb::Client& client, std::string alerts_table);
  Result<ClaimOutcome, AwsError> claim(const AlertId& id, const RecoveryClaim& claim,
                                       Deadline deadline) override;
  Result<bool, AwsError> mark_sent(const AlertId& id, const std::string& sns_message_id,
                                   std::int64_t notified_at_micros, Deadline deadline) override;

 private:
  dynamodb::Client& client_;
  std::string table_;
};

}  // namespace tap
