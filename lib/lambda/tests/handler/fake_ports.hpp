// In-memory ports with DynamoDB's conditional-write semantics, for the handler tests. They hold domain
// values (states by (symbol, rule id), alerts by AlertId): no storage format of the real adapter.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "tap/app/ports.hpp"
#include "tap/core/rules.hpp"

namespace tap::test_support {

inline AwsError throttled() { return make_aws_error("ThrottlingException", "Rate exceeded", 400, true); }

struct StoredAlert {
  std::string message_id;  // the SQS message whose tick fired it
  std::int64_t created_at_micros = 0;
  bool pending = true;
  std::string sns_message_id;
  Tick tick;                           // as stored (the notification is rebuilt from it)
  std::int64_t publish_by_micros = 0;  // AlertRecord::publish_by_micros
  std::string claimed_by;              // the last recovery claim (empty: none)
  std::int64_t claim_until_micros = 0;
  bool unvouched = false;  // Alert::unvouched, as stored
};

// Tables shared by the fakes, like the real tables are shared by concurrent invocations.
struct FakeTables {
  std::map<std::string, SymbolState, std::less<>> symbols;           // the per-symbol state items
  std::set<std::string, std::less<>> malformed;                      // symbols whose state item is unreadable
  std::map<std::pair<std::string, std::uint32_t>, AlertId> markers;  // (rule id, arming) -> its alert
  std::map<AlertId, StoredAlert> alerts;
  // A kill: from the moment it is set, every call of every fake fails (the invocation is gone; what it wrote
  // before stays written).
  bool killed = false;
};

inline AwsError killed_error() { return make_aws_error("Killed", "the invocation was killed"); }

// Writes alerts and markers if none of them exists (one transaction), else lists those that do.
inline WriteOutcome write_if_absent(FakeTables& tables, std::span<const AlertRecord> alerts,
                                    std::span<const OnceMarker> markers) {
  WriteOutcome out;
  for (std::size_t i = 0; i < alerts.size(); ++i) {
    if (tables.alerts.contains(alert_id(*alerts[i].alert.rule, *alerts[i].alert.tick))) {
      out.alerts_existing.push_back(i);
    }
  }
  for (std::size_t i = 0; i < markers.size(); ++i) {
    if (tables.markers.contains({markers[i].rule_id, markers[i].arming})) out.markers_taken.push_back(i);
  }
  if (!out.alerts_existing.empty() || !out.markers_taken.empty()) {
    out.status = WriteOutcome::Status::refused;
    return out;
  }
  for (const AlertRecord& a : alerts) {
    Tick tick = *a.alert.tick;
    tick.seq = 0;  // not stored
    tables.alerts[alert_id(*a.alert.rule, *a.alert.tick)] = {std::string(a.alert.message_id),
                                                             a.created_at_micros,
                                                             true,
                                                             "",
                                                             tick,
                                                             a.publish_by_micros,
                                                             "",
                                                             0,
                                                             a.alert.unvouched};
  }
  for (const OnceMarker& m : markers) tables.markers[{m.rule_id, m.arming}] = m.alert;
  return out;
}

// The per-symbol store with DynamoDB's transaction semantics: all or nothing, conditions on the revision
// and on absence.
class FakeSymbolStore final : public SymbolStore {
 public:
  explicit FakeSymbolStore(FakeTables& tables) : tables_(tables) {}

  Result<LoadedStates, AwsError> load(std::span<const std::string> symbols, Deadline) override {
    ++loads;
    last_load.assign(symbols.begin(), symbols.end());
    if (tables_.killed) return killed_error();
    if (fail_loads > 0) {
      --fail_loads;
      return throttled();
    }
    LoadedStates out;
    for (const std::string& s : symbols) {
      LoadedState& l = out[s];
      if (tables_.malformed.contains(s)) {
        l.error = Error{"invalid_state", "state item: fires: trailing bytes"};
      } else if (const auto it = tables_.symbols.find(s); it != tables_.symbols.end()) {
        l.state = it->second;
      }
    }
    return out;
  }

  Result<WriteOutcome, AwsError> commit(std::string_view symbol, const SymbolState& read,
                                        const SymbolState& next, std::span<const AlertRecord> alerts,
                                        std::span<const OnceMarker> markers, Deadline) override {
    ++commits;
    if (before_commit) before_commit(symbol);
    if (tables_.killed) return killed_error();
    if (fail_commits > 0) {
      --fail_commits;
      return throttled();
    }
    EXPECT_LE(1 + alerts.size() + markers.size(), kMaxCommitItems);
    const auto it = tables_.symbols.find(symbol);
    const bool same =
        it == tables_.symbols.end() ? !read.exists : read.exists && it->second.revision == read.revision;
    if (!same) {
      WriteOutcome out;
      out.status = WriteOutcome::Status::conflict;
      if (it != tables_.symbols.end()) out.current = it->second;
      return out;
    }
    WriteOutcome out = write_if_absent(tables_, alerts, markers);
    if (out.status != WriteOutcome::Status::applied) return out;
    SymbolState stored = next;
    stored.exists = true;
    tables_.symbols[std::string(symbol)] = stored;
    out.bytes_written = 100 + 12 * next.ticks.size() + 10 * next.fires.size();
    if (after_commit) after_commit(symbol);
    if (lose_answers > 0 && alerts.empty() && markers.empty()) {
      // The state put (a PutItem, no request token) applied, its answer lost: the retry policy sends it
      // again and DynamoDB refuses it on the revision it wrote, handing that state back (ALL_OLD).
      --lose_answers;
      WriteOutcome again;
      again.status = WriteOutcome::Status::conflict;
      again.current = stored;
      return again;
    }
    return out;
  }

  std::function<void(std::string_view)> before_commit;  // e.g. a concurrent writer
  std::function<void(std::string_view)> after_commit;   // e.g. a kill
  int fail_loads = 0;
  int fail_commits = 0;
  int lose_answers = 0;  // state-only commits applied whose answer is lost (then retried: a conflict)
  int loads = 0;
  int commits = 0;
  std::vector<std::string> last_load;  // the symbols the last load asked for

 private:
  FakeTables& tables_;
};

class FakeLedger final : public AlertLedger {
 public:
  explicit FakeLedger(FakeTables& tables) : tables_(tables) {}
  // AlertLedger::claim as its contract states it.
  Result<ClaimOutcome, AwsError> claim(const AlertId& id, const RecoveryClaim& claim, Deadline) override {
    ++claims;
    if (tables_.killed) return killed_error();
    if (fail_claims > 0) {
      --fail_claims;
      return throttled();
    }
    const auto it = tables_.alerts.find(id);
    if (it == tables_.alerts.end() || !it->second.pending) return ClaimOutcome{};
    StoredAlert& a = it->second;
    ClaimOutcome out{.status = ClaimOutcome::Status::held, .alert = {a.tick, a.message_id, a.unvouched}};
    const bool unclaimed =
        a.claimed_by.empty() || a.claimed_by == claim.claimant || a.claim_until_micros < claim.now_micros;
    const bool storer_done =
        claim.storer_ended || a.publish_by_micros == 0 || a.publish_by_micros < claim.now_micros;
    if (unclaimed && storer_done) {
      a.claimed_by = claim.claimant;
      a.claim_until_micros = claim.until_micros;
      out.status = ClaimOutcome::Status::claimed;
    }
    return out;
  }
  Result<bool, AwsError> mark_sent(const AlertId& id, const std::string& sns_message_id, std::int64_t,
                                   Deadline) override {
    if (tables_.killed) return killed_error();
    if (fail_marks > 0) {
      --fail_marks;
      return throttled();
    }
    StoredAlert& a = tables_.alerts.at(id);
    a.pending = false;
    a.sns_message_id = sns_message_id;
    return true;
  }
  int fail_claims = 0;
  int fail_marks = 0;
  int claims = 0;

 private:
  FakeTables& tables_;
};

class FakeNotifier final : public Notifier {
 public:
  Result<std::string, AwsError> publish(const SnsNotification& n, Deadline) override {
    if (before_publish) before_publish();
    if (tables != nullptr && tables->killed) return killed_error();
    if (fail_publishes > 0) {
      --fail_publishes;
      return throttled();
    }
    if (unanswered_publishes > 0) {  // sent, but its answer did not come before the deadline
      --unanswered_publishes;
      published.push_back(n);
      return make_aws_error(kNetworkTimeout, "read timed out", 0, true);
    }
    published.push_back(n);
    return "sns-" + std::to_string(published.size());
  }
  std::vector<SnsNotification> published;
  std::function<void()> before_publish;  // e.g. a concurrent invocation, or a kill
  int fail_publishes = 0;
  int unanswered_publishes = 0;
  const FakeTables* tables = nullptr;  // set: fails once the tables are killed
};

class FakeDeadLetters final : public DeadLetters {
 public:
  struct Sent {
    std::string body, reason, source;
  };
  Result<std::string, AwsError> send(const std::string& body, const std::string& reason,
                                     const std::string& source, Deadline) override {
    if (tables != nullptr && tables->killed) return killed_error();
    if (fail_sends > 0) {
      --fail_sends;
      return throttled();
    }
    sent.push_back({body, reason, source});
    return "dlq-" + std::to_string(sent.size());
  }
  std::vector<Sent> sent;
  int fail_sends = 0;
  const FakeTables* tables = nullptr;  // set: fails once the tables are killed
};

}  // namespace tap::test_support
