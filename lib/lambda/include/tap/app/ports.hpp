// The handler's I/O, behind small interfaces so that tests use fakes and the function the real thing
// (dynamodb_store.hpp, sns_notifier.hpp, sqs_dead_letters.hpp). Ports take and return domain values (keys,
// states, alerts, alert ids); how they are stored -- table keys, attribute names, item shapes, the
// notification state -- is each adapter's own. Every call takes the invocation deadline; retries happen
// inside (the AWS layer's RetryPolicy), so an error here is final for this invocation. A handler that
// overlaps its calls (BatchHandler::overlap_calls) calls the ports from several threads at once: the
// function's adapters are thread-safe; the tests' fakes need to be only when a test overlaps.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tap/aws/aws_error.hpp"
#include "tap/core/alert.hpp"
#include "tap/core/deadline.hpp"
#include "tap/core/symbol_state.hpp"
#include "tap/core/tick.hpp"

namespace tap {

// An alert to store with the fire that produced it.
struct AlertRecord {
  Alert alert;
  std::int64_t created_at_micros = 0;  // the wall clock when the handler detected it
  // The wall-clock instant after which the invocation that stores it can no longer publish it (its
  // deadline); 0: unknown. Until then it is the storer's implicit claim: another invocation claims the alert
  // only when exempt (RecoveryClaim::storer_ended), so the storer's own publish needs no claim (F5).
  std::int64_t publish_by_micros = 0;
};

// A stored alert still waiting for its notification, as stored: what its notification is built from.
struct PendingAlert {
  Tick tick;               // symbol, price, bid, ask, volume, timestamp (seq is not stored)
  std::string message_id;  // the SQS message whose tick fired it
  bool unvouched = false;  // Alert::unvouched, as stored
};

// A recovering invocation's request for the sole right to publish a pending alert (F5), until its deadline.
struct RecoveryClaim {
  std::string claimant;           // this invocation's token; a claim of the same claimant is renewed
  std::int64_t now_micros = 0;    // the wall clock now
  std::int64_t until_micros = 0;  // the claimant's deadline on the wall clock: the claim expires after it
  // The invocation that stored the alert is known to have ended (this batch holds its message: SQS hands a
  // message out again only once its invocation has ended), so its publish_by no longer holds the alert
  // back. A tick at the alert's position in another message proves nothing (a duplicate of the feed).
  bool storer_ended = false;
};

// The outcome of AlertLedger::claim.
struct ClaimOutcome {
  enum class Status {
    claimed,  // the claimant alone may publish it until its until_micros: `alert` is the alert as stored
    settled,  // absent or notified already: nothing is left to do for it
    held,     // pending, but claimed by another claimant or its storer may still publish it: leave it
  };
  Status status = Status::settled;
  // claimed: the alert as stored. held: the same as far as the refusal tells it (its message_id, empty when
  // unknown, lets a batch that holds the storing message ask again, exempt). settled: empty.
  PendingAlert alert;
};

// A `once` marker (R2): one per (rule id, arming); whoever writes it first holds the arming. `alert` is the
// alert written in the same transaction (kept in the marker, so that the API and a completion can tell whose
// it is).
struct OnceMarker {
  std::string rule_id;
  std::uint32_t arming = 0;
  AlertId alert;
  friend bool operator==(const OnceMarker&, const OnceMarker&) = default;
};

// One symbol's state as read: `error` set when its stored item cannot be decoded (that symbol's ticks fail
// and are retried; the other symbols go on).
struct LoadedState {
  SymbolState state;
  std::optional<Error> error;
};
using LoadedStates = std::map<std::string, LoadedState, std::less<>>;

// The outcome of SymbolStore::commit.
struct WriteOutcome {
  enum class Status {
    applied,   // everything was written
    conflict,  // the state is no longer the one the plan was made on; `current` is what is stored now
    refused,   // nothing was written: the alerts and markers listed below exist already
  };
  Status status = Status::applied;
  SymbolState current;
  std::vector<std::size_t> alerts_existing;  // indices into the alerts passed
  std::vector<std::size_t> markers_taken;    // indices into the markers passed
  std::size_t bytes_written = 0;             // applied: the bytes of the state item written
};

// The per-symbol state of the event-time engine (symbol_state.hpp) and the alerts its fires produce.
class SymbolStore {
 public:
  virtual ~SymbolStore() = default;
  // Strongly consistent read of the symbols' states; a symbol without an item gets the empty state
  // (exists = false). Every symbol asked for is in the answer.
  virtual Result<LoadedStates, AwsError> load(std::span<const std::string> symbols, Deadline deadline) = 0;
  // One atomic write: `next` replaces the state if the stored one is still `read` (its revision; an absent
  // item when !read.exists), each alert is stored (pending notification) and each marker written, both only
  // if absent. Applied; conflict (the state moved: nothing written, `current` is what is stored); refused
  // (an alert or a marker exists: nothing written, which ones listed). At most kMaxCommitItems items.
  virtual Result<WriteOutcome, AwsError> commit(std::string_view symbol, const SymbolState& read,
                                                const SymbolState& next, std::span<const AlertRecord> alerts,
                                                std::span<const OnceMarker> markers, Deadline deadline) = 0;
};

// A DynamoDB transaction holds at most 100 items.
inline constexpr std::size_t kMaxCommitItems = 100;

// The notification state of stored alerts (F5): pending until its notification is recorded as sent.
class AlertLedger {
 public:
  virtual ~AlertLedger() = default;
  // One atomic conditional write: the claim is taken (claimed, with the alert as stored) only if the alert
  // exists, its notification is pending, no claim of another claimant is unexpired (an unexpired claim has
  // until_micros >= claim.now_micros), and its storer can no longer publish it (its publish_by is unknown
  // or before claim.now_micros, or claim.storer_ended). Otherwise nothing is written and the outcome tells
  // settled (absent or notified) from held (still pending). Two claims of one pending alert by different
  // claimants whose intervals [now, until] overlap never both succeed.
  virtual Result<ClaimOutcome, AwsError> claim(const AlertId& id, const RecoveryClaim& claim,
                                               Deadline deadline) = 0;
  // Records the notification as sent (with the SNS message id and when).
  virtual Result<bool, AwsError> mark_sent(const AlertId& id, const std::string& sns_message_id,
                                           std::int64_t notified_at_micros, Deadline deadline) = 0;
};

// Notifications one publish_batch sends (SNS PublishBatch takes 10 entries).
inline constexpr std::size_t kMaxNotifyBatch = 10;

class Notifier {
 public:
  virtual ~Notifier() = default;
  virtual Result<std::string, AwsError> publish(const SnsNotification& notification, Deadline deadline) = 0;
  // At most kMaxNotifyBatch notifications in one request where the service has one; each entry succeeds or
  // fails on its own: one outcome per notification, in order. This default publishes them one by one.
  virtual std::vector<Result<std::string, AwsError>> publish_batch(
      std::span<const SnsNotification> notifications, Deadline deadline) {
    std::vector<Result<std::string, AwsError>> out;
    for (const SnsNotification& n : notifications) out.push_back(publish(n, deadline));
    return out;
  }
};

class DeadLetters {
 public:
  virtual ~DeadLetters() = default;
  virtual Result<std::string, AwsError> send(const std::string& body, const std::string& reason,
                                             const std::string& source_message_id, Deadline deadline) = 0;
};

}  // namespace tap
