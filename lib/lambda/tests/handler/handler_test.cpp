#include "tap/app/handler.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <future>
#include <limits>
#include <mutex>
#include <optional>
#include <utility>

#include "../core/engine_driver.hpp"
#include "fake_ports.hpp"
#include "fake_rules_store.hpp"
#include "rule_records.hpp"
#include "tap/app/rule_source.hpp"
#include "tap/app/rules_cache.hpp"
#include "tap/core/json_text.hpp"

namespace tap {
namespace {

using test_support::FakeDeadLetters;
using test_support::FakeLedger;
using test_support::FakeNotifier;
using test_support::FakeSymbolStore;
using test_support::FakeTables;

constexpr const char* kRules = R"({"version":1,"rules":[
  {"id":"up","symbol":"AAPL","condition":"crosses_above","threshold":200,"severity":"critical","cooldown_seconds":300},
  {"id":"hi","symbol":"MSFT","condition":"price_above","threshold":450,"severity":"warning","cooldown_seconds":60},
  {"id":"off","symbol":"MSFT","condition":"price_above","threshold":1,"severity":"info","enabled":false}
]})";

std::string tick(const std::string& symbol, double price, const std::string& ts) {
  std::string out = R"({"symbol":")" + symbol + R"(","price":)";
  json::append_number(out, price);
  return out + R"(,"timestamp":")" + ts + R"("})";
}

struct Message {
  std::string id;
  std::string body;
  int receive_count = 1;
};

std::string event(const std::vector<Message>& messages) {
  std::string out = R"({"Records":[)";
  for (std::size_t i = 0; i < messages.size(); ++i) {
    if (i > 0) out += ',';
    out += R"({"messageId":)";
    json::append_string(out, messages[i].id);
    out += R"(,"receiptHandle":"rh","body":)";
    json::append_string(out, messages[i].body);
    out += R"(,"attributes":{"ApproximateReceiveCount":")" + std::to_string(messages[i].receive_count) +
           R"(","SentTimestamp":"1795617000000"},"eventSource":"aws:sqs",)"
           R"("eventSourceARN":"arn:aws:sqs:us-east-1:123456789012:q","awsRegion":"us-east-1"})";
  }
  return out + "]}";
}

Deadline far() { return SteadyClock::now() + std::chrono::seconds(60); }

constexpr std::int64_t kNowSeconds = 1795617100;  // the handler's wall clock: 2026-11-25T14:31:40Z
constexpr std::int64_t kBatchSeconds = 61;        // the wall clock advances by this per batch run

// One function container over shared fake tables: the handler and its ports. Several harnesses over the same
// tables are concurrent invocations (or a container replaced after a kill).
struct Harness {
  Harness(const RuleSet& rules, FakeTables& tables, BatchHandler::Controls controls = {})
      : state(tables),
        ledger(tables),
        log([this](std::string_view line) { lines.emplace_back(line); }),
        handler(
            rules, {state, ledger, notifier, dead_letters}, log, [this] { return clock(); }, {},
            std::move(controls)) {
    notifier.tables = &tables;
    dead_letters.tables = &tables;
  }
  Harness(RuleSource& source, FakeTables& tables,
          std::int64_t max_notify_age_seconds = kDefaultMaxNotifyAgeSeconds)
      : state(tables),
        ledger(tables),
        log([this](std::string_view line) { lines.emplace_back(line); }),
        handler(
            source, {state, ledger, notifier, dead_letters}, log, [this] { return clock(); }, {},
            max_notify_age_seconds) {
    notifier.tables = &tables;
    dead_letters.tables = &tables;
  }
  // Each batch a deadline (far()) after the one before: a redelivery comes after the deadline of the
  // invocation it repeats (the visibility timeout is at least the function's timeout).
  std::chrono::system_clock::time_point clock() const {
    return std::chrono::system_clock::time_point(
        std::chrono::seconds(kNowSeconds + kBatchSeconds * runs + offset_seconds));
  }
  BatchReport run(const std::vector<Message>& messages) {
    auto report = handler.handle(event(messages), far());
    ++runs;
    EXPECT_TRUE(report.ok());
    return report.value();
  }
  bool logged(std::string_view fragment) const {
    for (const std::string& l : lines) {
      if (l.find(fragment) != std::string::npos) return true;
    }
    return false;
  }

  std::int64_t runs = 0;            // batches run so far (the clock)
  std::int64_t offset_seconds = 0;  // added to the clock: an invocation started between two batch steps
  FakeSymbolStore state;
  FakeLedger ledger;
  FakeNotifier notifier;
  FakeDeadLetters dead_letters;
  std::vector<std::string> lines;
  obs::Logger log;
  BatchHandler handler;
};

class HandlerTest : public ::testing::Test {
 protected:
  HandlerTest()
      : rules(load_rules(kRules).value()),
        fx(rules, tables),
        state(fx.state),
        ledger(fx.ledger),
        notifier(fx.notifier),
        dead_letters(fx.dead_letters),
        handler(fx.handler) {}

  BatchReport run(const std::vector<Message>& messages) { return fx.run(messages); }
  bool logged(std::string_view fragment) const { return fx.logged(fragment); }

  RuleSet rules;
  FakeTables tables;
  Harness fx;
  FakeSymbolStore& state;
  FakeLedger& ledger;
  FakeNotifier& notifier;
  FakeDeadLetters& dead_letters;
  BatchHandler& handler;
};

TEST_F(HandlerTest, CrossingFiresOnceStoresAndNotifies) {
  const BatchReport r = run({{"m1", "[" + tick("AAPL", 199.5, "2026-11-25T14:30:00Z") + "," +
                                        tick("AAPL", 200.5, "2026-11-25T14:30:01Z") + "]"},
                             {"m2", tick("AAPL", 201, "2026-11-25T14:30:02Z")}});
  EXPECT_TRUE(r.failed_message_ids.empty());
  EXPECT_EQ(r.messages, 2u);
  EXPECT_EQ(r.ticks, 3u);
  EXPECT_EQ(r.alerts, 1u);
  EXPECT_EQ(r.notifications, 1u);
  ASSERT_EQ(tables.alerts.size(), 1u);
  const auto& [id, alert] = *tables.alerts.begin();
  EXPECT_EQ(id, (AlertId{"AAPL", 1795617001000000LL, "up"}));  // 2026-11-25T14:30:01Z
  EXPECT_EQ(alert.message_id, "m1");
  EXPECT_EQ(alert.created_at_micros, 1795617100000000LL);  // the handler's wall clock
  EXPECT_FALSE(alert.pending);
  EXPECT_EQ(alert.sns_message_id, "sns-1");
  ASSERT_EQ(notifier.published.size(), 1u);
  EXPECT_NE(notifier.published[0].message.find("2026-11-25T14:30:01.000000Z#up"), std::string::npos);
  EXPECT_TRUE(logged(R"("message":"alert stored")"));
  // One state write for the symbol (R5): its three ticks held in position order, the fire recorded.
  EXPECT_EQ(r.state_writes, 1u);
  EXPECT_GT(r.state_bytes_written, 0u);
  const SymbolState& aapl = tables.symbols.at("AAPL");
  EXPECT_EQ(aapl.revision, 1u);
  ASSERT_EQ(aapl.ticks.size(), 3u);
  EXPECT_EQ(aapl.ticks.back().pos, (Position{1795617002000000LL, 0}));
  ASSERT_EQ(aapl.fires.size(), 1u);
  EXPECT_EQ(aapl.fires[0].rule_id, "up");
  EXPECT_EQ(aapl.fires[0].tick, (Position{1795617001000000LL, 0}));
  EXPECT_TRUE(aapl.fires[0].stored);
  EXPECT_EQ(batch_response(r), R"({"batchItemFailures":[]})");
}

TEST_F(HandlerTest, RedeliveredBatchCreatesNoSecondAlertNorNotification) {
  const std::vector<Message> batch = {{"m1", tick("AAPL", 199, "2026-11-25T14:30:00Z")},
                                      {"m2", tick("AAPL", 201, "2026-11-25T14:30:01Z")},
                                      {"m3", tick("MSFT", 451, "2026-11-25T14:30:01Z")}};
  run(batch);
  ASSERT_EQ(tables.alerts.size(), 2u);
  std::vector<Message> again = batch;
  for (Message& m : again) m.receive_count = 2;
  const BatchReport r = run(again);
  EXPECT_TRUE(r.failed_message_ids.empty());
  EXPECT_EQ(r.alerts, 0u);
  EXPECT_EQ(r.notifications, 0u);
  EXPECT_EQ(r.late_ticks, 3u);  // every tick is older than or equal to the stored state
  EXPECT_EQ(tables.alerts.size(), 2u);
  EXPECT_EQ(notifier.published.size(), 2u);
  // F5: the fires' notifications are confirmed by the next plan of their symbol; this container published
  // them itself, so it confirms them without asking the ledger.
  EXPECT_EQ(ledger.claims, 0);
  for (const FireRecord& f : tables.symbols.at("AAPL").fires) EXPECT_TRUE(f.notified) << f.rule_id;
}

TEST_F(HandlerTest, LevelRuleCooldownCountsInEventTime) {
  run({{"m1", tick("MSFT", 451, "2026-11-25T14:30:00Z")}});
  const BatchReport r = run({{"m2", tick("MSFT", 452, "2026-11-25T14:30:30Z")}});
  EXPECT_EQ(r.alerts, 0u);
  const BatchReport later = run({{"m3", tick("MSFT", 452, "2026-11-25T14:31:00Z")}});
  EXPECT_EQ(later.alerts, 1u);  // exactly at the cooldown boundary
  // One read round and at most one state write per batch, whatever the rules (R5).
  EXPECT_EQ(state.loads, 3);
  EXPECT_EQ(state.commits, 3);
}

TEST_F(HandlerTest, MalformedBodyIsDeadLetteredWithItsReasonAndAcknowledged) {
  const BatchReport r = run({{"bad", "{not json"}, {"ok", tick("MSFT", 451, "2026-11-25T14:30:00Z")}});
  EXPECT_TRUE(r.failed_message_ids.empty());
  ASSERT_EQ(dead_letters.sent.size(), 1u);
  EXPECT_EQ(dead_letters.sent[0].body, "{not json");
  EXPECT_EQ(dead_letters.sent[0].source, "bad");
  EXPECT_FALSE(dead_letters.sent[0].reason.empty());
  EXPECT_EQ(r.dead_lettered, 1u);
  EXPECT_EQ(r.rejected_ticks, 1u);
  EXPECT_EQ(r.alerts, 1u);
  EXPECT_TRUE(logged(R"("message":"message dead-lettered")"));
}

TEST_F(HandlerTest, MixedBodyProcessesValidTicksAndDeadLettersTheRest) {
  const std::string body =
      "[" + tick("MSFT", 451, "2026-11-25T14:30:00Z") + "," + tick("MSFT", -1, "2026-11-25T14:30:01Z") + "]";
  const BatchReport r = run({{"mixed", body}});
  EXPECT_EQ(r.alerts, 1u);
  EXPECT_EQ(r.rejected_ticks, 1u);
  ASSERT_EQ(dead_letters.sent.size(), 1u);
  EXPECT_NE(dead_letters.sent[0].reason.find("tick[1].price"), std::string::npos)
      << dead_letters.sent[0].reason;
}

TEST_F(HandlerTest, LongRejectionReasonsAreCutToAReadableLength) {
  std::string body = "[";
  for (int i = 0; i < 200; ++i) body += (i ? "," : "") + tick("MSFT", -1, "2026-11-25T14:30:00Z");
  body += "]";
  const BatchReport r = run({{"bad", body}});
  EXPECT_EQ(r.rejected_ticks, 200u);
  ASSERT_EQ(dead_letters.sent.size(), 1u);
  const std::string& reason = dead_letters.sent[0].reason;
  EXPECT_EQ(reason.size(), 4096u);
  EXPECT_EQ(reason.substr(0, 15), "tick[0].price: ");
  EXPECT_EQ(reason.substr(reason.size() - 3), "...");
}

TEST_F(HandlerTest, FailedDeadLetterSendIsRetriedThroughTheQueue) {
  dead_letters.fail_sends = 1;
  const BatchReport r = run({{"bad", "[]x"}});
  EXPECT_EQ(r.failed_message_ids, std::vector<std::string>{"bad"});
  EXPECT_EQ(batch_response(r), R"({"batchItemFailures":[{"itemIdentifier":"bad"}]})");
}

TEST_F(HandlerTest, StateWriteFailureFailsOnlyTheMessagesFromThatTickOn) {
  run({{"m0", tick("AAPL", 199, "2026-11-25T14:30:00Z")}});  // records the side
  state.fail_commits = 1;
  const BatchReport r = run(
      {{"m1", tick("AAPL", 201, "2026-11-25T14:30:01Z")}, {"m2", tick("MSFT", 451, "2026-11-25T14:30:01Z")}});
  EXPECT_EQ(r.failed_message_ids, std::vector<std::string>{"m1"});
  EXPECT_EQ(r.alerts, 1u);  // MSFT still fired
  EXPECT_TRUE(logged("state write failed"));
  // SQS redelivers m1: the crossing fires then, exactly once.
  const BatchReport again = run({{"m1", tick("AAPL", 201, "2026-11-25T14:30:01Z"), 2}});
  EXPECT_TRUE(again.failed_message_ids.empty());
  EXPECT_EQ(again.alerts, 1u);
  EXPECT_EQ(tables.alerts.size(), 2u);
  EXPECT_EQ(notifier.published.size(), 2u);
}

TEST_F(HandlerTest, StateReadFailureFailsEveryMessageWithTicks) {
  state.fail_loads = 1;
  const BatchReport r = run({{"m1", tick("AAPL", 199, "2026-11-25T14:30:00Z")},
                             {"m2", tick("MSFT", 451, "2026-11-25T14:30:00Z")},
                             {"bad", "{"}});
  // One read round for every symbol: without it no symbol can be planned. The rejected body needs no state.
  EXPECT_EQ(r.failed_message_ids, (std::vector<std::string>{"m1", "m2"}));
  EXPECT_EQ(r.alerts, 0u);
  EXPECT_EQ(r.dead_lettered, 1u);
  EXPECT_TRUE(logged("state read failed"));
}

TEST_F(HandlerTest, MalformedStateItemFailsOnlyItsSymbolsMessages) {
  tables.malformed.insert("AAPL");
  const BatchReport r = run({{"m1", tick("AAPL", 199, "2026-11-25T14:30:00Z")},
                             {"m2", "[" + tick("MSFT", 451, "2026-11-25T14:30:00Z") + "," +
                                        tick("AAPL", 201, "2026-11-25T14:30:01Z") + "]"},
                             {"m3", tick("MSFT", 452, "2026-11-25T14:31:00Z")}});
  EXPECT_EQ(r.failed_message_ids, (std::vector<std::string>{"m1", "m2"}));
  EXPECT_EQ(r.alerts, 2u);  // MSFT went on: both its fires stored
  EXPECT_TRUE(logged("state item unreadable"));
  EXPECT_FALSE(tables.symbols.contains("AAPL"));
}

TEST_F(HandlerTest, FailedPublishLeavesAlertPendingAndRedeliveryNotifiesOnce) {
  notifier.fail_publishes = 1;
  const std::vector<Message> batch = {{"m1", tick("MSFT", 451, "2026-11-25T14:30:00Z")}};
  const BatchReport r = run(batch);
  EXPECT_EQ(r.failed_message_ids, std::vector<std::string>{"m1"});
  ASSERT_EQ(tables.alerts.size(), 1u);
  EXPECT_TRUE(tables.alerts.begin()->second.pending);
  EXPECT_TRUE(notifier.published.empty());

  const BatchReport again = run({{"m1", batch[0].body, 2}});
  EXPECT_TRUE(again.failed_message_ids.empty());
  EXPECT_EQ(again.alerts, 0u);
  EXPECT_EQ(again.recovered, 1u);
  ASSERT_EQ(notifier.published.size(), 1u);
  EXPECT_FALSE(tables.alerts.begin()->second.pending);
  EXPECT_TRUE(logged("pending notification recovered"));

  const BatchReport third = run({{"m1", batch[0].body, 3}});
  EXPECT_EQ(third.notifications, 0u);
  EXPECT_EQ(notifier.published.size(), 1u);
}

TEST_F(HandlerTest, MessageSentBackFromTheDeadLetterQueueRecoversPendingNotifications) {
  // A redrive from the DLQ is a new message: new id, receive count 1. Its ticks are late for the keys whose
  // alerts were stored, and that is what triggers the recovery -- not the receive count.
  notifier.fail_publishes = 2;
  const std::string body = "[" + tick("AAPL", 199, "2026-11-25T14:30:00Z") + "," +
                           tick("AAPL", 201, "2026-11-25T14:30:01Z") + "," +
                           tick("MSFT", 451, "2026-11-25T14:30:01Z") + "]";
  const BatchReport first = run({{"m1", body}});
  EXPECT_EQ(first.alerts, 2u);
  EXPECT_EQ(first.failed_message_ids, std::vector<std::string>{"m1"});
  EXPECT_TRUE(notifier.published.empty());

  const BatchReport redriven = run({{"m1-redriven", body, 1}});
  EXPECT_TRUE(redriven.failed_message_ids.empty());
  EXPECT_EQ(redriven.alerts, 0u);
  EXPECT_EQ(redriven.recovered, 2u);
  EXPECT_EQ(redriven.late_ticks, 3u);
  ASSERT_EQ(notifier.published.size(), 2u);
  for (const auto& [id, alert] : tables.alerts) EXPECT_FALSE(alert.pending) << to_string(id);
  EXPECT_TRUE(logged(R"("receive_count":1)"));
}

TEST_F(HandlerTest, InOrderTicksNeedNoPendingChecks) {
  run({{"m1", "[" + tick("AAPL", 199, "2026-11-25T14:30:00Z") + "," +
                  tick("AAPL", 201, "2026-11-25T14:30:01Z") + "]"},
       {"m2", tick("MSFT", 451, "2026-11-25T14:30:01Z")}});
  run({{"m3", tick("AAPL", 202, "2026-11-25T14:30:02Z")}, {"m4", tick("MSFT", 452, "2026-11-25T14:30:02Z")}});
  EXPECT_EQ(ledger.claims, 0);
  EXPECT_EQ(notifier.published.size(), 2u);
}

TEST_F(HandlerTest, LateTicksAfterTheLastFireNeedNoPendingCheck) {
  run({{"m1", "[" + tick("AAPL", 199, "2026-11-25T14:30:00Z") + "," +
                  tick("AAPL", 201, "2026-11-25T14:30:01Z") + "," +
                  tick("AAPL", 202, "2026-11-25T14:30:03Z") + "]"}});
  // Delivered out of order but within the reorder window: it takes its place in the same excursion (F3),
  // so it is no late tick, fires nothing and no alert can exist for it.
  const BatchReport r = run({{"m2", tick("AAPL", 201.5, "2026-11-25T14:30:02Z")}});
  EXPECT_EQ(r.late_ticks, 0u);
  EXPECT_EQ(r.alerts, 0u);
  EXPECT_EQ(ledger.claims, 0);
  // The fired tick itself, delivered again: its fire was confirmed by the batch before (this container
  // published it), so nothing is looked up.
  const BatchReport again = run({{"m3", tick("AAPL", 201, "2026-11-25T14:30:01Z")}});
  EXPECT_EQ(again.late_ticks, 1u);
  EXPECT_EQ(ledger.claims, 0);
  EXPECT_EQ(again.recovered, 0u);
  EXPECT_EQ(notifier.published.size(), 1u);
}

TEST_F(HandlerTest, DuplicateDeliveriesInOneBatchRecoverOnceAndCountOneLateTickEach) {
  notifier.fail_publishes = 1;
  const std::string body = tick("MSFT", 451, "2026-11-25T14:30:00Z");
  run({{"m1", body}});
  const BatchReport r = run({{"m1", body, 2}, {"m1-copy", body, 1}});
  EXPECT_TRUE(r.failed_message_ids.empty());
  EXPECT_EQ(r.recovered, 1u);
  EXPECT_EQ(r.late_ticks, 2u);  // two deliveries, each late for its one rule
  EXPECT_EQ(ledger.claims, 1);
  EXPECT_EQ(notifier.published.size(), 1u);
}

TEST_F(HandlerTest, RecoveryFailuresRetryTheMessage) {
  notifier.fail_publishes = 1;
  const std::string body = tick("MSFT", 451, "2026-11-25T14:30:00Z");
  run({{"m1", body}});
  ledger.fail_claims = 1;
  EXPECT_EQ(run({{"m1", body, 2}}).failed_message_ids, std::vector<std::string>{"m1"});
  notifier.fail_publishes = 1;
  EXPECT_EQ(run({{"m1", body, 3}}).failed_message_ids, std::vector<std::string>{"m1"});
  ledger.fail_marks = 1;
  const BatchReport r = run({{"m1", body, 4}});
  EXPECT_TRUE(r.failed_message_ids.empty());
  EXPECT_EQ(r.recovered, 1u);
  EXPECT_TRUE(logged("notification sent but not recorded"));
}

TEST_F(HandlerTest, UnrecordedNotificationIsNotRetried) {
  ledger.fail_marks = 1;
  const BatchReport r = run({{"m1", tick("MSFT", 451, "2026-11-25T14:30:00Z")}});
  EXPECT_TRUE(r.failed_message_ids.empty());
  EXPECT_EQ(notifier.published.size(), 1u);
  EXPECT_TRUE(logged("notification sent but not recorded"));
  // Named, so that a repeat by a later recovery can be told from one nothing explains (the chaos judge).
  EXPECT_TRUE(logged(R"("alert_id":"MSFT|2026-11-25T14:30:00.000000Z#hi")"));
}

TEST_F(HandlerTest, APublishUnansweredBeforeTheDeadlineIsRetriedAndNamedAsPerhapsSent) {
  notifier.unanswered_publishes = 1;
  const std::string body = tick("MSFT", 451, "2026-11-25T14:30:00Z");
  EXPECT_EQ(run({{"m1", body}}).failed_message_ids, std::vector<std::string>{"m1"});
  EXPECT_TRUE(logged(R"("message":"notification outcome unknown")"));
  EXPECT_TRUE(logged(R"("alert_id":"MSFT|2026-11-25T14:30:00.000000Z#hi")"));
  // The redelivery cannot know SNS sent it: it publishes again, the repeat the log above announced.
  EXPECT_TRUE(run({{"m1", body, 2}}).failed_message_ids.empty());
  EXPECT_EQ(notifier.published.size(), 2u);
}

TEST_F(HandlerTest, APublishRefusedIsNotNamedAsPerhapsSent) {
  notifier.fail_publishes = 1;
  EXPECT_EQ(run({{"m1", tick("MSFT", 451, "2026-11-25T14:30:00Z")}}).failed_message_ids,
            std::vector<std::string>{"m1"});
  EXPECT_TRUE(logged("notification failed, message will be retried"));
  EXPECT_FALSE(logged("notification outcome unknown"));
}

TEST_F(HandlerTest, ConcurrentWriterIsDetectedAndTheBatchReplanned) {
  run({{"m0", tick("AAPL", 199, "2026-11-25T14:30:00Z")}});
  // Another invocation (another container over the same tables) commits a crossing at 14:30:05 between our
  // read and our write.
  Harness other(rules, tables);
  bool raced = false;
  state.before_commit = [&](std::string_view) {
    if (raced) return;
    raced = true;
    EXPECT_EQ(other.run({{"o1", tick("AAPL", 201, "2026-11-25T14:30:05Z")}}).alerts, 1u);
  };
  const BatchReport r = run(
      {{"m1", tick("AAPL", 201, "2026-11-25T14:30:01Z")}, {"m2", tick("AAPL", 199, "2026-11-25T14:30:06Z")}});
  EXPECT_TRUE(r.failed_message_ids.empty());
  EXPECT_EQ(r.state_conflicts, 1u);
  // 14:30:01 moves the other invocation's crossing to an earlier tick of the same excursion: it does not
  // fire again, and the alert keeps the key it was stored under (F3).
  EXPECT_EQ(r.alerts, 0u);
  ASSERT_EQ(tables.alerts.size(), 1u);
  EXPECT_EQ(tables.alerts.begin()->first.tick_micros, 1795617005000000LL);
  const SymbolState& aapl = tables.symbols.at("AAPL");
  EXPECT_EQ(aapl.revision, 3u);
  EXPECT_EQ(aapl.ticks.size(), 4u);  // 14:30:06 applied on top
}

TEST_F(HandlerTest, EndlessConflictsGiveUpAndRetryThroughTheQueue) {
  run({{"m0", tick("AAPL", 199, "2026-11-25T14:30:00Z")}});
  state.before_commit = [&](std::string_view symbol) {
    ++tables.symbols.at(std::string(symbol)).revision;  // always someone else first
  };
  const BatchReport r = run({{"m1", tick("AAPL", 201, "2026-11-25T14:30:01Z")}});
  EXPECT_EQ(r.failed_message_ids, std::vector<std::string>{"m1"});
  EXPECT_EQ(r.state_conflicts, 5u);
  EXPECT_TRUE(logged("too many compare-and-swap conflicts"));
  EXPECT_TRUE(tables.alerts.empty());
}

TEST_F(HandlerTest, AQuietCommitWhoseAnswerWasLostMeetsItsOwnWriteAndAppliesNothingTwice) {
  run({{"m0", tick("AAPL", 199, "2026-11-25T14:30:00Z")}});
  // m1's commit writes no alert: a PutItem without request token. It is applied, its answer lost, and its
  // retry refused on the revision it wrote itself, which comes back as the state stored now.
  state.lose_answers = 1;
  const BatchReport r = run({{"m1", "[" + tick("AAPL", 199.5, "2026-11-25T14:30:01Z") + "," +
                                        tick("AAPL", 198, "2026-11-25T14:30:02Z") + "]"}});
  EXPECT_TRUE(r.failed_message_ids.empty());
  EXPECT_EQ(r.state_conflicts, 1u);
  // The re-plan on that state finds m1's ticks held (duplicates): nothing is written a second time.
  EXPECT_EQ(state.commits, 2);
  EXPECT_EQ(r.late_ticks, 2u);
  const SymbolState& aapl = tables.symbols.at("AAPL");
  EXPECT_EQ(aapl.revision, 2u);
  ASSERT_EQ(aapl.ticks.size(), 3u);
  EXPECT_EQ(aapl.ticks.back().pos, (Position{1795617002000000LL, 0}));
  // The next crossing is planned on that state and fires once.
  const BatchReport next = run({{"m2", tick("AAPL", 201, "2026-11-25T14:30:03Z")}});
  EXPECT_EQ(next.alerts, 1u);
  EXPECT_EQ(tables.alerts.size(), 1u);
  EXPECT_EQ(notifier.published.size(), 1u);
}

// A warm container keeping its symbols' states (BatchHandler::cache_states, as the function does).
class KeptStateTest : public HandlerTest {
 protected:
  KeptStateTest() { handler.cache_states(std::size_t{1} << 20); }
};

TEST_F(KeptStateTest, AQuietBatchPlansOnTheKeptStateAndReadsOnlyTheSymbolsNotKept) {
  run({{"m0", "[" + tick("AAPL", 199, "2026-11-25T14:30:00Z") + "," +
                  tick("MSFT", 440, "2026-11-25T14:30:00Z") + "]"}});
  EXPECT_EQ(state.loads, 1);
  const BatchReport r = run({{"m1", "[" + tick("AAPL", 199.5, "2026-11-25T14:30:01Z") + "," +
                                        tick("IBM", 120, "2026-11-25T14:30:01Z") + "]"}});
  EXPECT_TRUE(r.failed_message_ids.empty());
  EXPECT_EQ(state.loads, 2);
  EXPECT_EQ(state.last_load, std::vector<std::string>{"IBM"});
  EXPECT_EQ(r.state_writes, 2u);
  EXPECT_EQ(r.state_conflicts, 0u);
  const SymbolState& aapl = tables.symbols.at("AAPL");
  EXPECT_EQ(aapl.revision, 2u);
  EXPECT_EQ(aapl.ticks.size(), 2u);
  // The next batch of both reads nothing; a crossing on the kept state fires as on a read one.
  const BatchReport cross = run({{"m2", "[" + tick("AAPL", 201, "2026-11-25T14:30:02Z") + "," +
                                            tick("IBM", 121, "2026-11-25T14:30:02Z") + "]"}});
  EXPECT_EQ(state.loads, 2);
  EXPECT_EQ(cross.alerts, 1u);
  EXPECT_EQ(notifier.published.size(), 1u);
  // Its fire awaits confirmation, but this container published it: confirmed by the next commit, unread.
  run({{"m3", tick("AAPL", 202, "2026-11-25T14:30:03Z")}});
  EXPECT_EQ(state.loads, 2);
  EXPECT_EQ(ledger.claims, 0);
  EXPECT_TRUE(tables.symbols.at("AAPL").fires.at(0).notified);
}

TEST_F(KeptStateTest, AKeptStateOvertakenByAnotherContainerIsRefusedAndItsPendingAlertRecovered) {
  run({{"m0", tick("MSFT", 440, "2026-11-25T14:30:00Z")}});
  // Another container stores an alert on top of the kept revision and fails to publish it.
  Harness other(rules, tables);
  other.notifier.fail_publishes = 1;
  EXPECT_EQ(other.run({{"o1", tick("MSFT", 451, "2026-11-25T14:30:05Z")}}).failed_message_ids,
            std::vector<std::string>{"o1"});
  ASSERT_EQ(tables.alerts.size(), 1u);
  EXPECT_TRUE(tables.alerts.begin()->second.pending);
  // A quiet tick here, planned on the kept revision 1: the put is refused and hands back revision 2, which
  // shows the other's fire unconfirmed; past its storer's publish_by it is recovered, as from a read.
  const BatchReport r = run({{"m1", tick("MSFT", 441, "2026-11-25T14:30:06Z")}});
  EXPECT_TRUE(r.failed_message_ids.empty());
  EXPECT_EQ(state.loads, 1);
  EXPECT_EQ(r.state_conflicts, 1u);
  EXPECT_EQ(r.recovered, 1u);
  EXPECT_EQ(notifier.published.size(), 1u);
  EXPECT_FALSE(tables.alerts.begin()->second.pending);
  const SymbolState& msft = tables.symbols.at("MSFT");
  EXPECT_EQ(msft.revision, 3u);
  EXPECT_EQ(msft.ticks.size(), 3u);
  EXPECT_TRUE(msft.fires.at(0).notified);
}

TEST_F(KeptStateTest, AKeptStateWithNothingToCommitIsReadAndPlannedAgain) {
  const std::vector<Message> batch = {{"m0", tick("AAPL", 199, "2026-11-25T14:30:00Z")}};
  run(batch);
  // Only duplicates: no compare-and-swap would prove the kept state current, so it is read.
  const BatchReport r = run({{"m0", batch[0].body, 2}});
  EXPECT_TRUE(r.failed_message_ids.empty());
  EXPECT_EQ(r.late_ticks, 1u);
  EXPECT_EQ(state.loads, 2);
  EXPECT_EQ(state.commits, 1);
  EXPECT_EQ(state.last_load, std::vector<std::string>{"AAPL"});
  // That read failing, or its item unreadable, fails the symbol's messages.
  state.fail_loads = 1;
  EXPECT_EQ(run({{"m0", batch[0].body, 3}}).failed_message_ids, std::vector<std::string>{"m0"});
  EXPECT_TRUE(logged("state read failed, message will be retried"));
  run({{"m1", tick("AAPL", 199.5, "2026-11-25T14:30:01Z")}});  // kept again
  tables.malformed.insert("AAPL");
  EXPECT_EQ(run({{"m1", tick("AAPL", 199.5, "2026-11-25T14:30:01Z"), 2}}).failed_message_ids,
            std::vector<std::string>{"m1"});
  EXPECT_TRUE(logged("state item unreadable, message will be retried"));
}

TEST_F(KeptStateTest, AKeptStateShowingAnAlertThisContainerDidNotNotifyIsRead) {
  notifier.fail_publishes = 1;
  EXPECT_EQ(run({{"m1", tick("MSFT", 451, "2026-11-25T14:30:00Z")}}).failed_message_ids,
            std::vector<std::string>{"m1"});
  EXPECT_EQ(state.loads, 1);
  // Its fire awaits confirmation and this container did not publish it: read, and recovered from the read.
  const BatchReport again = run({{"m1", tick("MSFT", 451, "2026-11-25T14:30:00Z"), 2}});
  EXPECT_EQ(state.loads, 2);
  EXPECT_EQ(again.recovered, 1u);
  EXPECT_EQ(notifier.published.size(), 1u);
}

TEST_F(KeptStateTest, AFailedReadFailsOnlyTheSymbolsNotKept) {
  run({{"m0", tick("AAPL", 199, "2026-11-25T14:30:00Z")}});
  state.fail_loads = 1;
  const BatchReport r = run({{"m1", tick("AAPL", 199.5, "2026-11-25T14:30:01Z")},
                             {"m2", tick("MSFT", 440, "2026-11-25T14:30:01Z")}});
  EXPECT_EQ(r.failed_message_ids, std::vector<std::string>{"m2"});
  EXPECT_EQ(tables.symbols.at("AAPL").revision, 2u);
  EXPECT_FALSE(tables.symbols.contains("MSFT"));
}

TEST_F(HandlerTest, KeptStatesStayWithinTheirBoundLeastRecentlyUsedFirst) {
  run({{"m0", tick("AAPL", 199, "2026-11-25T14:30:00Z")}, {"m1", tick("MSFT", 440, "2026-11-25T14:30:00Z")}});
  EXPECT_EQ(state.loads, 1);  // none kept by default
  const std::size_t one = kept_state_bytes("AAPL", tables.symbols.at("AAPL"));
  ASSERT_EQ(kept_state_bytes("MSFT", tables.symbols.at("MSFT")), one);
  // Room for one state of a few ticks, not for two.
  handler.cache_states(one + one / 2);
  run({{"m2", tick("AAPL", 199, "2026-11-25T14:30:00Z")}});  // read, kept
  EXPECT_EQ(state.loads, 2);
  run({{"m3", tick("MSFT", 441, "2026-11-25T14:30:01Z")}});  // read, kept: AAPL dropped
  EXPECT_EQ(state.loads, 3);
  run({{"m4", tick("MSFT", 442, "2026-11-25T14:30:02Z")}});  // kept: not read
  EXPECT_EQ(state.loads, 3);
  run({{"m5", tick("AAPL", 199.5, "2026-11-25T14:30:01Z")}});  // dropped: read
  EXPECT_EQ(state.loads, 4);
  EXPECT_EQ(state.last_load, std::vector<std::string>{"AAPL"});
  // A bound smaller than any state keeps none: the state kept before is used once, then read each time.
  handler.cache_states(1);
  run({{"m6", tick("AAPL", 199.6, "2026-11-25T14:30:02Z")}});
  EXPECT_EQ(state.loads, 4);
  run({{"m7", tick("AAPL", 199.7, "2026-11-25T14:30:03Z")}});
  run({{"m8", tick("AAPL", 199.8, "2026-11-25T14:30:04Z")}});
  EXPECT_EQ(state.loads, 6);
}

TEST_F(HandlerTest, FutureTimestampIsDeadLetteredAfterTheOtherTicksAreProcessed) {
  // The clock is 14:31:40: 14:31:50 is exactly F ahead (accepted), 14:31:50.000001 beyond it (R3).
  const std::string body = "[" + tick("MSFT", 451, "2026-11-25T14:31:50Z") + "," +
                           tick("MSFT", 900, "2026-11-25T14:31:50.000001Z") + "]";
  const BatchReport r = run({{"m1", body}});
  EXPECT_TRUE(r.failed_message_ids.empty());
  EXPECT_EQ(r.ticks, 1u);
  EXPECT_EQ(r.future_ticks, 1u);
  EXPECT_EQ(r.rejected_ticks, 1u);
  EXPECT_EQ(r.alerts, 1u);  // the tick exactly F ahead is applied
  ASSERT_EQ(dead_letters.sent.size(), 1u);
  EXPECT_EQ(dead_letters.sent[0].reason,
            "tick[1].timestamp: future-timestamp (more than 10 s ahead of the function's clock)");
  for (const HeldTick& h : tables.symbols.at("MSFT").ticks) EXPECT_NE(h.price, 900);  // never applied
}

TEST_F(HandlerTest, FutureTickKeepsTheBodyIndexAmongRejectedTicks) {
  const std::string body =
      "[" + tick("MSFT", -1, "2026-11-25T14:30:00Z") + "," + tick("MSFT", 451, "2026-11-25T14:32:00Z") + "]";
  const BatchReport r = run({{"m1", body}});
  EXPECT_EQ(r.rejected_ticks, 2u);
  ASSERT_EQ(dead_letters.sent.size(), 1u);
  EXPECT_EQ(dead_letters.sent[0].reason.find("tick[0].price"), 0u) << dead_letters.sent[0].reason;
  EXPECT_NE(dead_letters.sent[0].reason.find("; tick[1].timestamp: future-timestamp"), std::string::npos);
  EXPECT_EQ(state.loads, 0);  // no valid tick: nothing to read
}

// Defect 4a (F3): two ticks of one symbol at the same position, the first not changing the side: the second
// is a duplicate (the first applied wins), fires nothing and counts as late.
TEST_F(HandlerTest, SecondTickAtTheSamePositionInOneBodyIsADuplicate) {
  run({{"m0", tick("AAPL", 199, "2026-11-25T14:30:00Z")}});
  const BatchReport r = run({{"m1", "[" + tick("AAPL", 199.5, "2026-11-25T14:30:01Z") + "," +
                                        tick("AAPL", 201, "2026-11-25T14:30:01Z") + "]"}});
  EXPECT_EQ(r.alerts, 0u);
  EXPECT_EQ(r.late_ticks, 1u);
  EXPECT_TRUE(tables.alerts.empty());
  EXPECT_EQ(tables.symbols.at("AAPL").ticks.back().price, 199.5);
}

TEST_F(HandlerTest, SecondTickAtTheSamePositionInAnotherRecordIsADuplicate) {
  run({{"m0", tick("AAPL", 199, "2026-11-25T14:30:00Z")}});
  const BatchReport r = run({{"m1", tick("AAPL", 199.5, "2026-11-25T14:30:01Z")},
                             {"m2", tick("AAPL", 201, "2026-11-25T14:30:01Z")}});
  EXPECT_EQ(r.alerts, 0u);
  EXPECT_EQ(r.late_ticks, 1u);
  EXPECT_TRUE(r.failed_message_ids.empty());
  EXPECT_TRUE(tables.alerts.empty());
}

Rule version(std::string id, std::string symbol, Condition c, double threshold, TriggerMode mode) {
  Rule r = testing::make_version(std::move(id), std::move(symbol), c, threshold, mode, 1, 0);
  r.arming = 1;
  r.owner = "trader-1";
  return r;
}

TEST(HandlerRevealedCrossing, LateTickRevealsACrossingKeyedByAnEarlierBatchsTick) {
  // F3's second example (crosses_above 200, every, cooldown 1 s, ticks 10 s apart): 199@t1, 202@t2,
  // 198@t3, 201@t4 delivered t1, t4, t2, t3 -> two alerts keyed t4 and t2; t2's tick came in an earlier
  // batch than the tick that revealed it, so its alert is built from the state's held tick.
  const RuleSet rules({version("x", "AAPL", Condition::crosses_above, 200, TriggerMode::every)});
  FakeTables tables;
  Harness fx(rules, tables);
  fx.run({{"m1", tick("AAPL", 199, "2026-11-25T14:30:10Z")}});
  EXPECT_EQ(fx.run({{"m4", tick("AAPL", 201, "2026-11-25T14:30:40Z")}}).alerts, 1u);
  EXPECT_EQ(fx.run({{"m2", tick("AAPL", 202, "2026-11-25T14:30:20Z")}}).alerts, 0u);
  const BatchReport r = fx.run({{"m3", tick("AAPL", 198, "2026-11-25T14:30:30Z")}});
  EXPECT_EQ(r.alerts, 1u);
  ASSERT_EQ(tables.alerts.size(), 2u);
  const AlertId t2{"AAPL", 1795617020000000LL, "x"};
  ASSERT_TRUE(tables.alerts.contains(t2));
  EXPECT_EQ(tables.alerts.at(t2).message_id, "m3");  // the message whose tick revealed it
  EXPECT_TRUE(tables.alerts.contains(AlertId{"AAPL", 1795617040000000LL, "x"}));
  ASSERT_EQ(fx.notifier.published.size(), 2u);
  EXPECT_NE(fx.notifier.published[1].message.find(R"("price":202)"), std::string::npos)
      << fx.notifier.published[1].message;
}

TEST(HandlerOnce, OnceRuleFiresOnceAndWritesItsMarkerWithTheAlert) {
  const RuleSet rules({version("any-up", "*", Condition::price_above, 100, TriggerMode::once)});
  FakeTables tables;
  Harness fx(rules, tables);
  const BatchReport r = fx.run(
      {{"m1", tick("AAPL", 150, "2026-11-25T14:30:00Z")}, {"m2", tick("MSFT", 150, "2026-11-25T14:30:01Z")}});
  EXPECT_EQ(r.alerts, 1u);  // a "*" once rule fires once in total, not per symbol (R2)
  ASSERT_EQ(tables.markers.size(), 1u);
  EXPECT_EQ(tables.markers.begin()->first, (std::pair<std::string, std::uint32_t>{"any-up", 1}));
  EXPECT_EQ(tables.markers.begin()->second, (AlertId{"AAPL", 1795617000000000LL, "any-up"}));
  EXPECT_EQ(fx.run({{"m3", tick("TSLA", 150, "2026-11-25T14:30:02Z")}}).alerts, 0u);
  EXPECT_EQ(tables.alerts.size(), 1u);
}

TEST(HandlerOnce, MarkerTakenElsewhereIsLearntAndReplanned) {
  const RuleSet rules({version("any-up", "*", Condition::price_above, 100, TriggerMode::once)});
  FakeTables tables;
  // Another container took the arming (its alert on TSLA) after this one last looked.
  tables.markers[{"any-up", 1}] = AlertId{"TSLA", 1795617000000000LL, "any-up"};
  Harness fx(rules, tables);
  const BatchReport r = fx.run({{"m1", tick("AAPL", 150, "2026-11-25T14:30:00Z")}});
  EXPECT_TRUE(r.failed_message_ids.empty());
  EXPECT_EQ(r.alerts, 0u);
  EXPECT_TRUE(tables.alerts.empty());
  EXPECT_EQ(fx.state.commits, 2);  // refused, then the re-plan without the fire
  EXPECT_TRUE(tables.symbols.contains("AAPL"));
  // Learnt for good: the next batch plans no fire and needs one commit.
  fx.run({{"m2", tick("AAPL", 151, "2026-11-25T14:30:01Z")}});
  EXPECT_EQ(fx.state.commits, 3);
}

// A pending alert of rule "up" at 14:30:00 stored by message "old", before its fire was recorded.
void seed_old_alert(FakeTables& tables) {
  const Tick at{
      .symbol = "AAPL", .price = 150, .ts = {1795617000000000LL}, .volume = {}, .bid = {}, .ask = {}};
  tables.alerts[AlertId{"AAPL", 1795617000000000LL, "up"}] = {"old", 1, true, "", at, 0, "", 0};
}

TEST(HandlerOnce, AlertFoundStoredIsRecordedWithoutWritingItAgain) {
  const RuleSet rules({version("up", "AAPL", Condition::price_above, 100, TriggerMode::every)});
  FakeTables tables;
  // An alert with the key this fire takes exists already (stored before its fire was recorded: e.g. by the
  // first version's schema); it is pending, so it is notified once.
  seed_old_alert(tables);
  Harness fx(rules, tables);
  const BatchReport r = fx.run({{"m1", tick("AAPL", 150, "2026-11-25T14:30:00Z")}});
  EXPECT_TRUE(r.failed_message_ids.empty());
  EXPECT_EQ(r.alerts, 0u);
  EXPECT_EQ(r.recovered, 1u);
  EXPECT_EQ(fx.notifier.published.size(), 1u);
  ASSERT_EQ(tables.symbols.at("AAPL").fires.size(), 1u);
  EXPECT_TRUE(tables.symbols.at("AAPL").fires[0].stored);
}

TEST(HandlerOnce, AlertFoundStoredWhoseCheckFailsFailsItsMessage) {
  const RuleSet rules({version("up", "AAPL", Condition::price_above, 100, TriggerMode::every)});
  FakeTables tables;
  seed_old_alert(tables);
  Harness fx(rules, tables);
  fx.ledger.fail_claims = 1;
  const BatchReport r = fx.run({{"m1", tick("AAPL", 150, "2026-11-25T14:30:00Z")}});
  EXPECT_EQ(r.failed_message_ids, std::vector<std::string>{"m1"});
  EXPECT_TRUE(fx.notifier.published.empty());
  EXPECT_TRUE(fx.logged("pending-notification check failed"));
  // Its fire is recorded (not notified): the redelivery, or any later batch of the symbol, notifies it.
  EXPECT_EQ(fx.run({{"m1", tick("AAPL", 150, "2026-11-25T14:30:00Z"), 2}}).recovered, 1u);
  EXPECT_EQ(fx.notifier.published.size(), 1u);
}

// A tick firing more alerts than one transaction holds (R5): 150 level rules on one symbol.
RuleSet burst_rules(std::size_t n) {
  std::vector<Rule> v;
  for (std::size_t i = 0; i < n; ++i) {
    v.push_back(version("hot-" + std::to_string(i), "HOT", Condition::price_above, static_cast<double>(i + 1),
                        TriggerMode::every));
  }
  return RuleSet(std::move(v));
}

TEST(HandlerBurst, FiresBeyondOneTransactionAreStoredByFurtherCommits) {
  const RuleSet rules = burst_rules(150);
  FakeTables tables;
  Harness fx(rules, tables);
  const BatchReport r = fx.run({{"m1", tick("HOT", 1000, "2026-11-25T14:30:00Z")}});
  EXPECT_TRUE(r.failed_message_ids.empty());
  EXPECT_EQ(r.alerts, 150u);
  EXPECT_EQ(r.notifications, 150u);
  EXPECT_EQ(r.state_writes, 2u);  // 98 alerts with the state, then the 52 left with the next commit
  EXPECT_EQ(tables.alerts.size(), 150u);
  for (const FireRecord& f : tables.symbols.at("HOT").fires) EXPECT_TRUE(f.stored) << f.rule_id;
  for (const auto& [id, a] : tables.alerts) EXPECT_FALSE(a.pending) << to_string(id);
}

// The fires' `unvouched` flag (symbol_engine.hpp) on the stored alert and its notification: a `once` rule on
// "*" is unvouched, a rule of one symbol in order is not.
bool says_unvouched(const SnsNotification& n) {
  return n.message.find(R"("unvouched":true)") != std::string::npos;
}

TEST(HandlerUnvouched, TheAlertAndItsNotificationCarryTheFiresFlagAndARecoveryReadsItBack) {
  const RuleSet rules({version("any-up", "*", Condition::price_above, 100, TriggerMode::once),
                       version("aapl-up", "AAPL", Condition::price_above, 100, TriggerMode::every)});
  FakeTables tables;
  Harness fx(rules, tables);
  fx.notifier.fail_publishes = 2;  // both stay pending: the redelivery recovers them from the store
  const std::vector<Message> batch = {{"m1", tick("AAPL", 150, "2026-11-25T14:30:00Z")}};
  EXPECT_EQ(fx.run(batch).alerts, 2u);
  EXPECT_TRUE(tables.alerts.at(AlertId{"AAPL", 1795617000000000LL, "any-up"}).unvouched);
  EXPECT_FALSE(tables.alerts.at(AlertId{"AAPL", 1795617000000000LL, "aapl-up"}).unvouched);
  EXPECT_TRUE(fx.notifier.published.empty());
  EXPECT_EQ(fx.run({{"m1", batch[0].body, 2}}).recovered, 2u);
  ASSERT_EQ(fx.notifier.published.size(), 2u);
  for (const SnsNotification& n : fx.notifier.published) {
    EXPECT_EQ(says_unvouched(n), n.message.find(R"("rule_id":"any-up")") != std::string::npos) << n.message;
  }
  // Published by the storer itself: the same flags.
  FakeTables fresh;
  Harness storer(rules, fresh);
  storer.run(batch);
  ASSERT_EQ(storer.notifier.published.size(), 2u);
  EXPECT_EQ(says_unvouched(storer.notifier.published[0]) + says_unvouched(storer.notifier.published[1]), 1);
}

TEST(HandlerUnvouched, PendingFiresStoredByALaterCommitKeepTheirFlag) {
  std::vector<Rule> v;
  for (int i = 0; i < 60; ++i) {  // 49 `once` fires (alert and marker) fit the first commit, 11 the next
    v.push_back(version("any-" + std::to_string(i), "*", Condition::price_above, 100, TriggerMode::once));
  }
  const RuleSet rules(std::move(v));
  FakeTables tables;
  Harness fx(rules, tables);
  const BatchReport r = fx.run({{"m1", tick("HOT", 150, "2026-11-25T14:30:00Z")}});
  EXPECT_EQ(r.alerts, 60u);
  EXPECT_EQ(r.state_writes, 2u);
  for (const auto& [id, a] : tables.alerts) EXPECT_TRUE(a.unvouched) << to_string(id);
  for (const SnsNotification& n : fx.notifier.published) EXPECT_TRUE(says_unvouched(n));
}

TEST(HandlerBurst, KillBetweenTheCommitsIsCompletedByTheRedelivery) {
  const RuleSet rules = burst_rules(150);
  FakeTables tables;
  const std::vector<Message> batch = {{"m1", tick("HOT", 1000, "2026-11-25T14:30:00Z")}};
  {
    Harness doomed(rules, tables);
    doomed.state.after_commit = [&tables](std::string_view) { tables.killed = true; };
    const BatchReport r = doomed.run(batch);
    EXPECT_EQ(r.failed_message_ids, std::vector<std::string>{"m1"});
    EXPECT_TRUE(doomed.notifier.published.empty());
  }
  // What the kill left: the state with 98 fires stored and 52 recorded pending, 98 alerts, none notified.
  EXPECT_EQ(tables.alerts.size(), 98u);
  const auto& fires = tables.symbols.at("HOT").fires;
  EXPECT_EQ(std::count_if(fires.begin(), fires.end(), [](const FireRecord& f) { return !f.stored; }), 52);
  tables.killed = false;

  Harness next(rules, tables);  // a new container; SQS redelivers the message
  next.runs = 1;                // after the visibility timeout, so after the killed invocation's deadline
  const std::vector<Message> again = {{"m1", batch[0].body, 2}};
  const BatchReport r = next.run(again);
  EXPECT_TRUE(r.failed_message_ids.empty());
  EXPECT_EQ(r.alerts, 52u);
  EXPECT_EQ(r.late_ticks, 1u);
  EXPECT_EQ(tables.alerts.size(), 150u);
  EXPECT_EQ(next.notifier.published.size(), 150u);  // each exactly once
  for (const auto& [id, a] : tables.alerts) EXPECT_FALSE(a.pending) << to_string(id);
  for (const FireRecord& f : tables.symbols.at("HOT").fires) EXPECT_TRUE(f.stored) << f.rule_id;
  // A third delivery changes nothing and notifies nothing.
  const BatchReport third = next.run({{"m1", batch[0].body, 3}});
  EXPECT_EQ(third.alerts + third.notifications, 0u);
  EXPECT_EQ(tables.alerts.size(), 150u);
}

TEST_F(HandlerTest, FireWhoseRecordThePlanPrunesIsStoredAllTheSame) {
  // In one batch 14:31:10 moves the window past 14:30:00: the plan drops the fire's record from the log (its
  // cooldown ends before the oldest held tick), but the fire is this commit's and its alert is written.
  const BatchReport r = run({{"m1", "[" + tick("MSFT", 451, "2026-11-25T14:30:00Z") + "," +
                                        tick("MSFT", 440, "2026-11-25T14:31:05Z") + "," +
                                        tick("MSFT", 441, "2026-11-25T14:31:10Z") + "]"}});
  EXPECT_EQ(r.alerts, 1u);
  EXPECT_TRUE(tables.alerts.contains(AlertId{"MSFT", 1795617000000000LL, "hi"}));
  // F5: kept (unconfirmed) until a later plan records its notification confirmed, then pruned.
  ASSERT_EQ(tables.symbols.at("MSFT").fires.size(), 1u);
  EXPECT_FALSE(tables.symbols.at("MSFT").fires[0].notified);
  EXPECT_EQ(notifier.published.size(), 1u);
  run({{"m2", tick("MSFT", 442, "2026-11-25T14:31:11Z")}});
  EXPECT_TRUE(tables.symbols.at("MSFT").fires.empty());
  EXPECT_EQ(notifier.published.size(), 1u);
}

TEST(HandlerBurst, OnceMarkersThatDoNotFitLeaveTheirFiresPendingEvenWhenPruned) {
  // 60 once rules fire on one tick: with their markers 121 items, more than a transaction holds. A once
  // fire reaches no further than its tick, now behind the held ticks, but the plan keeps the records of
  // fires not notified (F5): those that do not fit are recorded pending and stored by the next commit.
  std::vector<Rule> v;
  for (int i = 0; i < 60; ++i) {
    v.push_back(
        version("once-" + std::to_string(i), "HOT", Condition::price_above, 100 + i, TriggerMode::once));
  }
  const RuleSet rules(std::move(v));
  FakeTables tables;
  Harness fx(rules, tables);
  const BatchReport r = fx.run({{"m1", "[" + tick("HOT", 1000, "2026-11-25T14:30:00Z") + "," +
                                           tick("HOT", 1, "2026-11-25T14:31:30Z") + "]"}});
  EXPECT_TRUE(r.failed_message_ids.empty());
  EXPECT_EQ(r.alerts, 60u);
  EXPECT_EQ(r.state_writes, 2u);
  EXPECT_EQ(tables.markers.size(), 60u);
  EXPECT_EQ(fx.notifier.published.size(), 60u);
  for (const FireRecord& f : tables.symbols.at("HOT").fires) EXPECT_TRUE(f.stored) << f.rule_id;
}

TEST_F(HandlerTest, TickBeyondTheWindowIsLateAndCounted) {
  run({{"m1", tick("MSFT", 440, "2026-11-25T14:30:00Z")}});
  run({{"m2", tick("MSFT", 440, "2026-11-25T14:31:30Z")}});  // the window moves past 14:30:00
  const BatchReport r = run({{"m3", tick("MSFT", 440, "2026-11-25T14:30:30Z")}});
  EXPECT_EQ(r.beyond_window, 1u);
  EXPECT_EQ(r.late_ticks, 1u);
  EXPECT_TRUE(r.failed_message_ids.empty());
}

TEST(HandlerControls, SuspendedAndOutOfBandTicksAreCountedAndNeverApplied) {
  const RuleSet rules({version("lvl", "*", Condition::price_above, 100, TriggerMode::every)});
  FakeTables tables;
  BatchHandler::Controls controls;
  controls["AAPL"].suspensions.push_back({1795617000000000LL, 1795617010000000LL});  // 14:30:00-14:30:10
  controls["MSFT"].bands.push_back({{}, 300, 500});
  Harness fx(rules, tables, std::move(controls));
  const BatchReport r = fx.run({{"m1", tick("AAPL", 150, "2026-11-25T14:30:05Z")},
                                {"m2", tick("MSFT", 9000, "2026-11-25T14:30:05Z")},
                                {"m3", tick("MSFT", 450, "2026-11-25T14:30:06Z")}});
  EXPECT_TRUE(r.failed_message_ids.empty());
  EXPECT_EQ(r.suspended, 1u);
  EXPECT_EQ(r.out_of_band, 1u);
  EXPECT_EQ(r.alerts, 1u);  // MSFT 450 only
  ASSERT_EQ(tables.symbols.at("MSFT").ticks.size(), 1u);
  EXPECT_EQ(tables.symbols.at("MSFT").ticks[0].price, 450);
}

TEST(HandlerBurst, PendingFiresWithoutAVersionOrATickStayPending) {
  // A state left by another container: two pending fires, one of a version this one does not load, one
  // whose tick the state no longer holds. Neither alert can be built here: both stay pending, the batch
  // goes on.
  const RuleSet rules = burst_rules(1);
  FakeTables tables;
  SymbolState s;
  s.exists = true;
  s.revision = 3;
  s.ticks = {{{1795617000000000LL, 0}, 1000}};
  FireRecord gone;
  gone.rule_id = "gone";
  gone.version = 1;
  gone.tick = {1795617000000000LL, 0};
  gone.stored = false;
  FireRecord trimmed = gone;
  trimmed.rule_id = "hot-0";
  trimmed.tick = {1795616990000000LL, 0};
  s.fires = {trimmed, gone};
  tables.symbols["HOT"] = s;
  Harness fx(rules, tables);
  const BatchReport r = fx.run({{"m1", tick("HOT", 0.5, "2026-11-25T14:30:01Z")}});
  EXPECT_TRUE(r.failed_message_ids.empty());
  EXPECT_EQ(r.alerts, 0u);
  EXPECT_TRUE(tables.alerts.empty());
  const auto& fires = tables.symbols.at("HOT").fires;
  EXPECT_EQ(std::count_if(fires.begin(), fires.end(), [](const FireRecord& f) { return !f.stored; }), 2);
}

TEST(HandlerBurst, FailedCompletionCommitFailsTheMessageAndTheNextDeliveryFinishes) {
  const RuleSet rules = burst_rules(150);
  FakeTables tables;
  Harness fx(rules, tables);
  int commits = 0;
  fx.state.before_commit = [&](std::string_view) {
    if (++commits == 2) fx.state.fail_commits = 1;
  };
  const BatchReport r = fx.run({{"m1", tick("HOT", 1000, "2026-11-25T14:30:00Z")}});
  EXPECT_EQ(r.failed_message_ids, std::vector<std::string>{"m1"});
  EXPECT_EQ(r.alerts, 98u);
  EXPECT_EQ(fx.notifier.published.size(), 98u);  // stored ones are notified all the same
  const BatchReport again = fx.run({{"m1", tick("HOT", 1000, "2026-11-25T14:30:00Z"), 2}});
  EXPECT_TRUE(again.failed_message_ids.empty());
  EXPECT_EQ(again.alerts, 52u);
  EXPECT_EQ(fx.notifier.published.size(), 150u);
}

// ---- the invocation's deadline (issue 14: a burst ran into the function's timeout) ----

// Every notification the burst's deliveries published, by alert id: each must be there once.
std::map<std::string, int> notified_ids(const std::vector<SnsNotification>& published) {
  std::map<std::string, int> out;
  for (const SnsNotification& n : published) {
    simdjson::dom::parser parser;
    std::string_view id;
    EXPECT_EQ(parser.parse(n.message)["alert_id"].get(id), simdjson::SUCCESS) << n.message;
    ++out[std::string(id)];
  }
  return out;
}

TEST(HandlerDeadline, PublishesStopAMarginBeforeTheDeadlineAndTheRedeliveryNotifiesTheRest) {
  const RuleSet rules = burst_rules(150);
  FakeTables tables;
  Harness fx(rules, tables);
  fx.notifier.before_publish = [&fx] { ++fx.offset_seconds; };  // each publish takes a second
  const std::vector<Message> batch = {{"m1", tick("HOT", 1000, "2026-11-25T14:30:00Z")}};
  const BatchReport r = fx.run(batch);
  // A 60 s deadline less its 1 s margin: PublishBatch requests of 10 start at 0, 10, ..., 50 s, the seventh
  // would start after the margin: 60 publishes, then the message is reported failed, in time.
  EXPECT_EQ(r.failed_message_ids, std::vector<std::string>{"m1"});
  EXPECT_EQ(r.alerts, 150u);
  EXPECT_EQ(r.notifications, 60u);
  EXPECT_TRUE(fx.logged("deadline near, message will be retried"));
  fx.notifier.before_publish = nullptr;
  const BatchReport again = fx.run({{"m1", batch[0].body, 2}});
  EXPECT_TRUE(again.failed_message_ids.empty());
  EXPECT_EQ(again.alerts, 0u);
  EXPECT_EQ(again.recovered, 90u);
  const auto ids = notified_ids(fx.notifier.published);
  EXPECT_EQ(ids.size(), 150u);
  for (const auto& [id, n] : ids) EXPECT_EQ(n, 1) << id;
  for (const auto& [id, a] : tables.alerts) EXPECT_FALSE(a.pending) << to_string(id);
}

TEST(HandlerDeadline, CompletingCommitsStopAMarginBeforeTheDeadlineAndTheRedeliveryFinishes) {
  // 250 fires: three commits of a burst. Each commit takes 40 s: the third would start after the margin.
  const RuleSet rules = burst_rules(250);
  FakeTables tables;
  Harness fx(rules, tables);
  fx.state.before_commit = [&fx](std::string_view) { fx.offset_seconds += 40; };
  const std::vector<Message> batch = {{"m1", tick("HOT", 1000, "2026-11-25T14:30:00Z")}};
  const BatchReport r = fx.run(batch);
  EXPECT_EQ(r.failed_message_ids, std::vector<std::string>{"m1"});
  EXPECT_EQ(fx.state.commits, 2);
  EXPECT_EQ(r.alerts, 196u);
  EXPECT_EQ(r.notifications, 0u);  // out of time after the second commit: all left to the redelivery
  const auto& fires = tables.symbols.at("HOT").fires;
  EXPECT_EQ(std::count_if(fires.begin(), fires.end(), [](const FireRecord& f) { return !f.stored; }), 54);
  fx.state.before_commit = nullptr;
  const BatchReport again = fx.run({{"m1", batch[0].body, 2}});
  EXPECT_TRUE(again.failed_message_ids.empty());
  EXPECT_EQ(again.alerts, 54u);
  EXPECT_EQ(again.recovered, 196u);
  EXPECT_EQ(tables.alerts.size(), 250u);
  const auto ids = notified_ids(fx.notifier.published);
  EXPECT_EQ(ids.size(), 250u);
  for (const auto& [id, n] : ids) EXPECT_EQ(n, 1) << id;
}

TEST(HandlerDeadline, RecoveriesStopAMarginBeforeTheDeadline) {
  // 150 stored alerts left unpublished by a killed invocation; the next delivery recovers them a second
  // each until the margin, then leaves the rest (unconfirmed) to the delivery after it.
  const RuleSet rules = burst_rules(150);
  FakeTables tables;
  const std::vector<Message> batch = {{"m1", tick("HOT", 1000, "2026-11-25T14:30:00Z")}};
  {
    Harness doomed(rules, tables);
    doomed.notifier.before_publish = [&tables] { tables.killed = true; };
    EXPECT_EQ(doomed.run(batch).failed_message_ids, std::vector<std::string>{"m1"});
  }
  tables.killed = false;
  Harness fx(rules, tables);
  fx.runs = 1;
  fx.notifier.before_publish = [&fx] { ++fx.offset_seconds; };
  const BatchReport r = fx.run({{"m1", batch[0].body, 2}});
  EXPECT_EQ(r.failed_message_ids, std::vector<std::string>{"m1"});
  EXPECT_EQ(r.recovered, 59u);
  EXPECT_EQ(fx.state.commits, 0);  // nothing committed after the margin
  fx.notifier.before_publish = nullptr;
  EXPECT_EQ(fx.run({{"m1", batch[0].body, 3}}).recovered, 91u);
  const auto ids = notified_ids(fx.notifier.published);
  EXPECT_EQ(ids.size(), 150u);
  for (const auto& [id, n] : ids) EXPECT_EQ(n, 1) << id;
}

TEST_F(HandlerTest, InvalidEventIsAnInvocationError) {
  auto r = handler.handle(R"({"Records":5})", far());
  ASSERT_FALSE(r.ok());
  EXPECT_FALSE(r.error().message.empty());
}

TEST_F(HandlerTest, EmptyBatchDoesNothing) {
  const BatchReport r = run({});
  EXPECT_EQ(r.messages, 0u);
  EXPECT_EQ(state.loads, 0);
}

// A metric of an EMF record (-1 and a failure when it is missing).
double metric_value(const simdjson::dom::element& doc, const char* name) {
  double v = -1;
  EXPECT_EQ(doc[name].get(v), simdjson::SUCCESS) << name;
  return v;
}

TEST(BatchMetrics, EmfRecordCarriesEveryCounter) {
  BatchReport r;
  r.messages = 25;
  r.ticks = 100;
  r.late_ticks = 2;
  r.alerts = 3;
  r.beyond_window = 4;
  r.out_of_band = 5;
  r.suspended = 6;
  r.future_ticks = 8;
  r.mode_choices = 9;
  r.state_writes = 10;
  r.state_conflicts = 11;
  r.state_bytes_written = 12345;
  r.failed_message_ids = {"a", "b"};
  const std::string json =
      batch_metrics(r, "MarketAlerts", "data-processor-dev", 7, std::chrono::microseconds(1500))
          .to_json(std::chrono::system_clock::time_point(std::chrono::seconds(1)));
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
  const auto num = [&doc](const char* name) { return metric_value(doc, name); };
  EXPECT_EQ(num("Messages"), 25);
  EXPECT_EQ(num("Ticks"), 100);
  EXPECT_EQ(num("LateTicks"), 2);
  EXPECT_EQ(num("Alerts"), 3);
  EXPECT_EQ(num("TicksBeyondWindow"), 4);
  EXPECT_EQ(num("OutOfBand"), 5);
  EXPECT_EQ(num("SuspendedTicks"), 6);
  EXPECT_EQ(num("FutureTicks"), 8);
  EXPECT_EQ(num("ModeChoices"), 9);
  EXPECT_EQ(num("StateWrites"), 10);
  EXPECT_EQ(num("StateConflicts"), 11);
  EXPECT_EQ(num("StateBytesWritten"), 12345);
  EXPECT_EQ(num("FailedMessages"), 2);
  EXPECT_EQ(num("Retries"), 7);
  EXPECT_EQ(num("Duration"), 1.5);
  std::string_view fn;
  ASSERT_EQ(doc["FunctionName"].get(fn), simdjson::SUCCESS);
  EXPECT_EQ(fn, "data-processor-dev");
}

}  // namespace
}  // namespace tap

// ---- F5: a crash between store and notify never loses the notification ----

namespace tap {
namespace {

const RuleSet& recovery_rules() {
  static const RuleSet rules({version("x", "AAPL", Condition::crosses_above, 200, TriggerMode::every),
                              version("spread", "AAPL", Condition::spread_above, 1, TriggerMode::every)});
  return rules;
}

TEST(HandlerRecovery, CrashBeforeThePublishIsNotifiedByTheNextBatchOfTheSymbol) {
  FakeTables tables;
  {
    Harness doomed(recovery_rules(), tables);
    doomed.state.after_commit = [&tables](std::string_view) { tables.killed = true; };
    EXPECT_EQ(doomed
                  .run({{"m1", R"({"symbol":"AAPL","price":201,"bid":200,"ask":202,)"
                               R"("timestamp":"2026-11-25T14:30:00Z"})"}})
                  .failed_message_ids,
              std::vector<std::string>{"m1"});
  }
  tables.killed = false;
  ASSERT_EQ(tables.alerts.size(), 1u);  // the spread alert, stored pending and never published
  // A new container, a later batch of the symbol that does not hold the fire's tick (not the redelivery).
  Harness next(recovery_rules(), tables);
  next.runs = 1;
  const BatchReport r = next.run({{"m9", tick("AAPL", 150, "2026-11-25T14:31:00Z")}});
  EXPECT_TRUE(r.failed_message_ids.empty());
  EXPECT_EQ(r.recovered, 1u);
  ASSERT_EQ(next.notifier.published.size(), 1u);
  // Built from the stored alert: its bid and ask, its message.
  const std::string& m = next.notifier.published[0].message;
  EXPECT_NE(m.find(R"("bid":200,"ask":202)"), std::string::npos) << m;
  EXPECT_NE(m.find(R"("message_id":"m1")"), std::string::npos) << m;
  EXPECT_FALSE(tables.alerts.begin()->second.pending);
  ASSERT_EQ(tables.symbols.at("AAPL").fires.size(), 1u);
  EXPECT_TRUE(tables.symbols.at("AAPL").fires[0].notified);  // recorded by that batch's commit
  // The redelivery of m1 afterwards finds it confirmed: nothing more.
  const BatchReport again = next.run({{"m1",
                                       R"({"symbol":"AAPL","price":201,"bid":200,"ask":202,)"
                                       R"("timestamp":"2026-11-25T14:30:00Z"})",
                                       2}});
  EXPECT_EQ(again.notifications, 0u);
  EXPECT_EQ(next.notifier.published.size(), 1u);
}

// The crossing at t2 is revealed by m3 (t3) and keyed at t2, a tick held from an earlier batch; the publish
// of its alert fails. Returns m3's body and the report of its batch.
std::pair<std::string, BatchReport> reveal_crossing_whose_publish_fails(Harness& fx) {
  fx.run({{"m1", tick("AAPL", 199, "2026-11-25T14:30:10Z")}});
  fx.run({{"m4", tick("AAPL", 201, "2026-11-25T14:30:40Z")}});
  fx.run({{"m2", tick("AAPL", 202, "2026-11-25T14:30:20Z")}});
  fx.notifier.fail_publishes = 1;
  std::string m3 = tick("AAPL", 198, "2026-11-25T14:30:30Z");
  BatchReport r = fx.run({{"m3", m3}});
  return {std::move(m3), std::move(r)};
}

TEST(HandlerRecovery, RevealedCrossingWhosePublishFailedIsRecoveredByItsCauseMessage) {
  // The redelivery of m3 holds no tick at t2, and still notifies it.
  FakeTables tables;
  Harness fx(recovery_rules(), tables);
  const auto [m3, r] = reveal_crossing_whose_publish_fails(fx);
  EXPECT_EQ(r.alerts, 1u);
  EXPECT_EQ(r.failed_message_ids, std::vector<std::string>{"m3"});
  const AlertId t2{"AAPL", 1795617020000000LL, "x"};
  EXPECT_TRUE(tables.alerts.at(t2).pending);
  const BatchReport again = fx.run({{"m3", m3, 2}});
  EXPECT_TRUE(again.failed_message_ids.empty());
  EXPECT_EQ(again.recovered, 1u);
  EXPECT_FALSE(tables.alerts.at(t2).pending);
  EXPECT_EQ(fx.notifier.published.size(), 2u);  // t4's, then t2's once
  EXPECT_NE(fx.notifier.published[1].message.find(R"("price":202)"), std::string::npos);
}

TEST(HandlerRecovery, FireNotifiedByAnotherContainerIsConfirmedNotPublishedAgain) {
  FakeTables tables;
  Harness first(recovery_rules(), tables);
  first.run(
      {{"m1", tick("AAPL", 199, "2026-11-25T14:30:00Z")}, {"m2", tick("AAPL", 201, "2026-11-25T14:30:01Z")}});
  ASSERT_EQ(first.notifier.published.size(), 1u);
  Harness other(recovery_rules(), tables);  // another container: it never saw the publish
  other.runs = 1;
  const BatchReport r = other.run({{"m3", tick("AAPL", 202, "2026-11-25T14:30:02Z")}});
  EXPECT_EQ(other.ledger.claims, 1);  // asked once: marked sent
  EXPECT_EQ(r.notifications, 0u);
  EXPECT_TRUE(other.notifier.published.empty());
  EXPECT_TRUE(tables.symbols.at("AAPL").fires[0].notified);
}

// An invocation stores x's crossing at 14:30:01 (m2) and is killed right after its commit.
void crash_after_commit(FakeTables& tables) {
  Harness doomed(recovery_rules(), tables);
  doomed.state.after_commit = [&tables](std::string_view) { tables.killed = true; };
  doomed.run(
      {{"m1", tick("AAPL", 199, "2026-11-25T14:30:00Z")}, {"m2", tick("AAPL", 201, "2026-11-25T14:30:01Z")}});
  tables.killed = false;
}

TEST(HandlerRecovery, FireAnotherInvocationMayStillPublishIsLeftToIt) {
  FakeTables tables;
  crash_after_commit(tables);
  // Before the storing invocation's deadline (the same instant here): not published, not confirmed.
  Harness early(recovery_rules(), tables);
  const BatchReport r = early.run({{"m3", tick("AAPL", 202, "2026-11-25T14:30:02Z")}});
  EXPECT_TRUE(r.failed_message_ids.empty());
  EXPECT_TRUE(early.notifier.published.empty());
  EXPECT_FALSE(tables.symbols.at("AAPL").fires[0].notified);
  // Still before that deadline, a copy of its tick in another message (a duplicate of the feed: a new id)
  // proves nothing about the storer, which may still be about to publish: left as well.
  early.runs = 0;
  EXPECT_EQ(early.run({{"m2-copy", tick("AAPL", 201, "2026-11-25T14:30:01Z"), 1}}).recovered, 0u);
  EXPECT_TRUE(early.notifier.published.empty());
  // A batch after the deadline recovers it, and the next finds it confirmed.
  EXPECT_EQ(early.run({{"m5", tick("AAPL", 203, "2026-11-25T14:30:05Z")}}).recovered, 1u);
  EXPECT_EQ(early.notifier.published.size(), 1u);
  early.run({{"m6", tick("AAPL", 204, "2026-11-25T14:30:06Z")}});
  EXPECT_TRUE(tables.symbols.at("AAPL").fires[0].notified);
  EXPECT_EQ(early.notifier.published.size(), 1u);
}

// A duplicate of the storing tick in another message, processed while the storer sits between its commit
// and its publish: the duplicate's batch must not publish too (it cannot tell that the storer has ended).
TEST(HandlerRecovery, DuplicateTickInAnotherMessageDuringTheStorersPublishIsNotPublishedAgain) {
  FakeTables tables;
  Harness storer(recovery_rules(), tables);
  storer.run({{"m1", tick("AAPL", 199, "2026-11-25T14:30:00Z")}});
  Harness duplicate(recovery_rules(), tables);
  duplicate.runs = storer.runs;  // the same instant: before the storer's publish_by
  BatchReport during;
  bool ran = false;
  storer.notifier.before_publish = [&] {
    if (std::exchange(ran, true)) return;
    during = duplicate.run({{"m2-copy", tick("AAPL", 201, "2026-11-25T14:30:01Z")}});
  };
  const BatchReport stored = storer.run({{"m2", tick("AAPL", 201, "2026-11-25T14:30:01Z")}});
  ASSERT_TRUE(ran);
  EXPECT_EQ(stored.alerts, 1u);
  EXPECT_EQ(during.recovered, 0u);
  EXPECT_TRUE(during.failed_message_ids.empty());
  EXPECT_TRUE(duplicate.notifier.published.empty());
  EXPECT_EQ(storer.notifier.published.size(), 1u);
  EXPECT_FALSE(tables.alerts.begin()->second.pending);
}

// The race of issue 14: two invocations recover the same pending alert at once, one because its storer's
// publish_by has passed, the other exempt from it (its batch holds the storing message, redelivered). The
// second to claim is refused while the first publishes: one notification, whichever claims first.
TEST(HandlerRecovery, TwoRecoverersOfOnePendingAlertPublishItOnce) {
  for (const bool late_first : {true, false}) {
    SCOPED_TRACE(late_first ? "past publish_by first" : "exempt first");
    FakeTables tables;
    crash_after_commit(tables);  // stored at T with publish_by T + 60 s, never published
    Harness late(recovery_rules(), tables);
    late.runs = 1;  // T + 61 s: past publish_by
    Harness redriven(recovery_rules(), tables);
    redriven.offset_seconds = 30;  // T + 30 s: before publish_by, exempt by the storing message it holds
    const std::vector<Message> later_batch = {{"m3", tick("AAPL", 202, "2026-11-25T14:30:02Z")}};
    const std::vector<Message> redrive = {{"m2", tick("AAPL", 201, "2026-11-25T14:30:01Z"), 2}};
    Harness& first = late_first ? late : redriven;
    Harness& second = late_first ? redriven : late;
    const std::vector<Message>& first_batch = late_first ? later_batch : redrive;
    const std::vector<Message>& second_batch = late_first ? redrive : later_batch;
    BatchReport during;
    bool ran = false;
    first.notifier.before_publish = [&] {  // the first has its claim and is about to publish
      if (std::exchange(ran, true)) return;
      during = second.run(second_batch);
    };
    const BatchReport r = first.run(first_batch);
    ASSERT_TRUE(ran);
    EXPECT_TRUE(r.failed_message_ids.empty());
    EXPECT_EQ(r.recovered, 1u);
    EXPECT_TRUE(during.failed_message_ids.empty());
    EXPECT_EQ(during.recovered, 0u);  // refused: claimed by the first, left
    // The redelivery asks a second time, exempt, when the answer names its message; refused all the same.
    EXPECT_EQ(second.ledger.claims, late_first ? 2 : 1);
    EXPECT_TRUE(second.notifier.published.empty());
    ASSERT_EQ(first.notifier.published.size(), 1u);
    EXPECT_NE(first.notifier.published[0].message.find(R"("message_id":"m2")"), std::string::npos);
    EXPECT_FALSE(tables.alerts.begin()->second.pending);
    EXPECT_TRUE(tables.symbols.at("AAPL").fires[0].notified);
  }
}

TEST(HandlerRecovery, ClaimOfACrashedRecovererExpiresAtItsDeadlineAndIsThenTaken) {
  FakeTables tables;
  crash_after_commit(tables);
  {
    // Recovers it at T + 61 s (claim until T + 121 s) and is killed before its publish goes out.
    Harness doomed(recovery_rules(), tables);
    doomed.runs = 1;
    doomed.notifier.before_publish = [&tables] { tables.killed = true; };
    EXPECT_EQ(doomed.run({{"m3", tick("AAPL", 202, "2026-11-25T14:30:02Z")}}).failed_message_ids,
              std::vector<std::string>{"m3"});
    EXPECT_TRUE(doomed.notifier.published.empty());
  }
  tables.killed = false;
  Harness next(recovery_rules(), tables);
  next.runs = 1;
  next.offset_seconds = 59;  // T + 120 s: the claim still holds (it expires after its until, ~T + 121 s)
  const std::vector<Message> batch = {{"m4", tick("AAPL", 203, "2026-11-25T14:30:03Z")}};
  const BatchReport held = next.run(batch);
  EXPECT_TRUE(held.failed_message_ids.empty());
  EXPECT_EQ(held.recovered, 0u);
  EXPECT_TRUE(next.notifier.published.empty());
  EXPECT_FALSE(tables.symbols.at("AAPL").fires[0].notified);  // left unconfirmed: a later batch asks again
  next.offset_seconds = 1;                                    // T + 123 s: expired
  const BatchReport taken = next.run(batch);
  EXPECT_EQ(taken.recovered, 1u);
  EXPECT_EQ(next.ledger.claims, 2);
  ASSERT_EQ(next.notifier.published.size(), 1u);
  EXPECT_FALSE(tables.alerts.begin()->second.pending);
  EXPECT_TRUE(tables.symbols.at("AAPL").fires[0].notified);
}

TEST(HandlerRecovery, BatchHoldingTheStoringMessageIsExemptFromItsPublishBy) {
  // The revealed crossing at t2 is stored by m3, whose publish fails; m3 comes back before its storer's
  // publish_by (no tick at t2 in it). The claim's answer names m3 as the storing message: this batch holds
  // it, so its storer has ended, and the second claim (exempt) takes it.
  FakeTables tables;
  Harness fx(recovery_rules(), tables);
  const auto [m3, stored] = reveal_crossing_whose_publish_fails(fx);
  EXPECT_EQ(stored.failed_message_ids, std::vector<std::string>{"m3"});
  fx.runs -= 1;  // the same instant: before publish_by
  const BatchReport again = fx.run({{"m3", m3, 2}});
  EXPECT_TRUE(again.failed_message_ids.empty());
  EXPECT_EQ(again.recovered, 1u);
  EXPECT_EQ(fx.ledger.claims, 2);  // held (publish_by), then claimed exempt
  EXPECT_FALSE(tables.alerts.at(AlertId{"AAPL", 1795617020000000LL, "x"}).pending);
  // A batch that does not hold it is refused on the first claim and asks no second time.
  FakeTables other_tables;
  Harness storer(recovery_rules(), other_tables);
  storer.notifier.fail_publishes = 1;
  storer.run(
      {{"s1", tick("AAPL", 199, "2026-11-25T14:30:00Z")}, {"s2", tick("AAPL", 201, "2026-11-25T14:30:01Z")}});
  Harness early(recovery_rules(), other_tables);
  early.run({{"s3", tick("AAPL", 202, "2026-11-25T14:30:02Z")}});
  EXPECT_EQ(early.ledger.claims, 1);
  EXPECT_TRUE(early.notifier.published.empty());
}

TEST(HandlerRecovery, FailedCheckOrPublishFailsTheSymbolsMessagesAndAnUnknownVersionIsLeft) {
  FakeTables tables;
  crash_after_commit(tables);
  Harness next(recovery_rules(), tables);
  next.runs = 1;
  next.ledger.fail_claims = 1;
  const std::vector<Message> batch = {{"m3", tick("AAPL", 202, "2026-11-25T14:30:02Z")},
                                      {"m4", tick("MSFT", 10, "2026-11-25T14:30:02Z")}};
  EXPECT_EQ(next.run(batch).failed_message_ids, std::vector<std::string>{"m3"});  // MSFT goes on
  EXPECT_TRUE(next.logged("pending-notification check failed"));
  next.notifier.fail_publishes = 1;
  EXPECT_EQ(next.run(batch).failed_message_ids, std::vector<std::string>{"m3"});
  EXPECT_FALSE(tables.symbols.at("AAPL").fires[0].notified);
  // A container whose rules do not hold the fire's version cannot build its notification: left as is.
  const RuleSet newer({version("y", "AAPL", Condition::price_above, 1000, TriggerMode::every)});
  Harness stale(newer, tables);
  stale.runs = 3;
  EXPECT_TRUE(stale.run(batch).failed_message_ids.empty());
  EXPECT_TRUE(stale.notifier.published.empty());
  EXPECT_FALSE(tables.symbols.at("AAPL").fires[0].notified);
  // Then a container that has it: notified once, marked, confirmed.
  next.runs = 4;
  next.ledger.fail_marks = 1;  // sent but not recorded: confirmed all the same (it went out)
  EXPECT_EQ(next.run(batch).recovered, 1u);
  EXPECT_TRUE(next.logged("notification sent but not recorded"));
  EXPECT_TRUE(tables.symbols.at("AAPL").fires[0].notified);
  EXPECT_EQ(next.notifier.published.size(), 1u);
}

TEST(HandlerRecovery, TheContainerRemembersABoundedNumberOfItsPublishes) {
  // 4100 level fires on one tick, all published by this container; it remembers the last 4096, so the
  // next batch confirms those without I/O and asks the ledger for the four it forgot.
  const RuleSet rules = burst_rules(4100);
  FakeTables tables;
  Harness fx(rules, tables);
  fx.run({{"m1", tick("HOT", 5000, "2026-11-25T14:30:00Z")}});
  ASSERT_EQ(fx.notifier.published.size(), 4100u);
  fx.run({{"m2", tick("HOT", 1, "2026-11-25T14:30:01Z")}});
  EXPECT_EQ(fx.ledger.claims, 4);
  EXPECT_EQ(fx.notifier.published.size(), 4100u);
}

// ---- the rule source (R3/R4): versions that change between batches ----

constexpr std::int64_t kSec = kMicrosPerSecond;
constexpr std::int64_t k1430 = 1795617000 * kSec;  // 2026-11-25T14:30:00Z

// A source the test changes between batches: what it shows, how far it covers, or that it fails.
class FakeRuleSource final : public RuleSource {
 public:
  Result<RuleCoverage, AwsError> cover(std::int64_t newest_tick_micros, Deadline /*deadline*/) override {
    covered_ticks.push_back(newest_tick_micros);
    if (error) return *error;
    return RuleCoverage{.covered_until = covered_until,
                        .refreshed = true,
                        .invalid = invalid.size(),
                        .invalid_items = invalid};
  }
  const std::vector<Rule>& versions() const override { return rules; }
  const std::vector<SymbolControlRecord>& controls() const override { return symbol_controls; }
  std::uint64_t generation() const override { return gen; }
  std::int64_t age_micros() const override { return 1500 * 1000; }
  std::optional<std::int64_t> horizon_micros() const override { return horizon; }
  const VersionChanges* changes_since(std::uint64_t from) const override {
    return changes && from + 1 == gen ? &*changes : nullptr;
  }

  std::vector<Rule> rules;
  std::optional<VersionChanges> changes;  // from generation gen - 1 to gen, when set
  std::vector<SymbolControlRecord> symbol_controls;
  std::uint64_t gen = 1;
  std::int64_t covered_until = std::numeric_limits<std::int64_t>::max();
  std::optional<AwsError> error;
  std::vector<std::string> invalid;
  std::optional<std::int64_t> horizon;
  std::vector<std::int64_t> covered_ticks;  // the newest tick of each cover() call
};

// The document's rule `id` (kRules), applying from `from_micros`.
Rule version_of_rule(const std::string& id, std::int64_t from_micros) {
  const RuleSet all = load_rules(kRules).value();
  const auto at =
      std::find_if(all.rules().begin(), all.rules().end(), [&](const Rule& r) { return r.id == id; });
  Rule rule = *at;
  rule.window.from_micros = from_micros;
  return rule;
}

struct RuleSourceTest : ::testing::Test {
  FakeRuleSource source;
  FakeTables tables;
  Harness fx{source, tables};
};

TEST_F(RuleSourceTest, AVersionAddedBetweenBatchesAppliesFromItsWindow) {
  // No version yet: MSFT above 450 fires nothing.
  BatchReport first = fx.run({{"m1", tick("MSFT", 460, "2026-11-25T14:30:00Z")}});
  EXPECT_EQ(first.alerts, 0U);
  EXPECT_EQ(first.rules, 0U);
  EXPECT_EQ(first.index_rebuilds, 0U) << "the index was built for generation 1 at construction";
  EXPECT_EQ(first.ticks_before_rules, 0U) << "no version: no tick is before them";

  source.rules = {version_of_rule("hi", k1430 + 10 * kSec)};
  ++source.gen;
  BatchReport second = fx.run({{"m2", "[" + tick("MSFT", 461, "2026-11-25T14:30:05Z") + "," +
                                          tick("MSFT", 462, "2026-11-25T14:30:20Z") + "]"}});
  EXPECT_TRUE(second.failed_message_ids.empty());
  EXPECT_EQ(second.index_rebuilds, 1U);
  EXPECT_EQ(second.rules, 1U);
  EXPECT_EQ(second.ticks_before_rules, 1U);  // 14:30:05, before the version's window
  EXPECT_EQ(second.alerts, 1U);
  ASSERT_EQ(tables.alerts.size(), 1U);
  EXPECT_EQ(tables.alerts.begin()->first, (AlertId{"MSFT", k1430 + 20 * kSec, "hi"}));
  EXPECT_EQ(source.covered_ticks, (std::vector<std::int64_t>{k1430, k1430 + 20 * kSec}));
  // The clock of the second batch (kNowSeconds + kBatchSeconds) minus the newest tick.
  EXPECT_EQ(second.feed_clock_offset_ms, ((kNowSeconds + kBatchSeconds) * kSec - (k1430 + 20 * kSec)) / 1000);
  EXPECT_EQ(second.rule_refreshes, 1U);
  EXPECT_EQ(second.rule_set_age_ms, 1500);
}

TEST_F(RuleSourceTest, ANotificationIsDelayedWhenItsTickIsOlderThanTheConfiguredAge) {
  // The first batch runs at 14:31:40 on the handler's clock: the tick at 14:30:00 is 100 s old.
  source.rules = {version_of_rule("hi", EffectiveWindow::kOpenStart)};
  ++source.gen;
  FakeTables patient_tables;
  Harness patient{source, patient_tables, 101};
  EXPECT_EQ(patient.run({{"m1", tick("MSFT", 460, "2026-11-25T14:30:00Z")}}).alerts, 1U);
  ASSERT_EQ(patient.notifier.published.size(), 1U);
  EXPECT_NE(patient.notifier.published[0].message.find(R"("delayed":false)"), std::string::npos)
      << patient.notifier.published[0].message;

  EXPECT_EQ(fx.run({{"m1", tick("MSFT", 460, "2026-11-25T14:30:00Z")}}).alerts, 1U);  // the default 60 s
  ASSERT_EQ(fx.notifier.published.size(), 1U);
  EXPECT_NE(fx.notifier.published[0].message.find(R"("delayed":true)"), std::string::npos)
      << fx.notifier.published[0].message;
}

TEST_F(RuleSourceTest, AnUnchangedGenerationKeepsTheIndex) {
  source.rules = {version_of_rule("hi", EffectiveWindow::kOpenStart)};
  ++source.gen;
  EXPECT_EQ(fx.run({{"m1", tick("MSFT", 440, "2026-11-25T14:30:00Z")}}).index_rebuilds, 1U);
  const BatchReport again = fx.run({{"m2", tick("MSFT", 460, "2026-11-25T14:30:01Z")}});
  EXPECT_EQ(again.index_rebuilds, 0U);
  EXPECT_EQ(again.alerts, 1U);
}

TEST_F(RuleSourceTest, ChangesBetweenGenerationsUpdateTheIndexInPlace) {
  source.rules = {version_of_rule("hi", EffectiveWindow::kOpenStart)};
  ++source.gen;  // no changes known: built from versions()
  EXPECT_EQ(fx.run({{"m1", tick("MSFT", 460, "2026-11-25T14:30:00Z")}}).alerts, 1U);

  // A new version: indexed beside the kept one.
  source.changes = VersionChanges{{}, {version_of_rule("up", k1430 + 5 * kSec)}};
  ++source.gen;
  const BatchReport added = fx.run({{"m2", "[" + tick("AAPL", 199, "2026-11-25T14:30:06Z") + "," +
                                               tick("AAPL", 201, "2026-11-25T14:30:07Z") + "]"}});
  EXPECT_EQ(added.index_rebuilds, 1U);
  EXPECT_EQ(added.rules, 2U);
  EXPECT_EQ(added.alerts, 1U) << "up crossed 200";
  EXPECT_EQ(added.ticks_before_rules, 0U);

  // The earliest version leaves: the first window is the next one's.
  source.changes = VersionChanges{{{"hi", 1}}, {}};
  ++source.gen;
  const BatchReport removed = fx.run({{"m3", "[" + tick("MSFT", 470, "2026-11-25T14:30:01Z") + "," +
                                                 tick("MSFT", 480, "2026-11-25T14:31:30Z") + "]"}});
  EXPECT_EQ(removed.rules, 1U);
  EXPECT_EQ(removed.alerts, 0U) << "hi is gone";
  EXPECT_EQ(removed.ticks_before_rules, 1U) << "14:30:01 is before up's window";

  source.changes = VersionChanges{{{"up", 1}}, {}};
  ++source.gen;
  const BatchReport none = fx.run({{"m4", tick("AAPL", 199, "2026-11-25T14:30:01Z")}});
  EXPECT_EQ(none.rules, 0U);
  EXPECT_EQ(none.ticks_before_rules, 0U) << "no version: no tick is before them";
}

TEST_F(RuleSourceTest, ATickTheSourceDoesNotCoverFailsOnlyItsMessage) {
  source.rules = {version_of_rule("hi", EffectiveWindow::kOpenStart)};
  ++source.gen;
  source.covered_until = k1430 + 10 * kSec;
  const BatchReport r = fx.run({{"m1", tick("MSFT", 460, "2026-11-25T14:30:05Z")},
                                {"m2", "[" + tick("MSFT", 470, "2026-11-25T14:30:06Z") + "," +
                                           tick("MSFT", 480, "2026-11-25T14:30:10Z") + "]"}});
  EXPECT_EQ(r.failed_message_ids, (std::vector<std::string>{"m2"}));
  EXPECT_EQ(r.alerts, 1U);
  ASSERT_EQ(tables.alerts.size(), 1U);
  EXPECT_EQ(tables.alerts.begin()->first, (AlertId{"MSFT", k1430 + 5 * kSec, "hi"}));
  EXPECT_TRUE(fx.logged("rules not yet covering the tick, message will be retried"));
  EXPECT_EQ(source.covered_ticks, (std::vector<std::int64_t>{k1430 + 10 * kSec}));
}

TEST_F(RuleSourceTest, ASourceErrorFailsEveryMessageWithTicksAndEvaluatesNothing) {
  source.rules = {version_of_rule("hi", EffectiveWindow::kOpenStart)};
  ++source.gen;
  AwsError throttled;
  throttled.code = "ThrottlingException";
  throttled.message = "slow down";
  source.error = throttled;
  const BatchReport r = fx.run({{"m1", tick("MSFT", 460, "2026-11-25T14:30:05Z")},
                                {"m2", tick("MSFT", 470, "2026-11-25T14:30:06Z")},
                                {"bad", R"({"symbol":"MSFT"})"}});
  EXPECT_EQ(r.failed_message_ids, (std::vector<std::string>{"m1", "m2"}));
  EXPECT_EQ(r.alerts, 0U);
  EXPECT_EQ(r.state_writes, 0U);
  EXPECT_EQ(r.index_rebuilds, 0U) << "a failed source is not read";
  EXPECT_EQ(r.dead_lettered, 1U) << "a message without valid ticks needs no rules";
  EXPECT_TRUE(fx.logged("rules unavailable, message will be retried"));
  EXPECT_TRUE(fx.logged("ThrottlingException: slow down"));
}

TEST(ColdLoadBesideTheFirstBatch,
     ABatchTheLoadOutlastsIsRetriedUnevaluatedThenEvaluatedOnceTheLoadIsAdopted) {
  test_support::FakeRulesTables rules{1};
  rules.seed(test_support::record_with("up", "alice", {EffectiveWindow{}}));  // AAPL above 100, always
  test_support::FakeRulesStore store{rules};
  test_support::FakeRulesStore loader{rules};  // the load's own client: its scans wait at the gate
  std::promise<void> opened;
  std::shared_future<void> gate = opened.get_future().share();
  loader.on_request = [gate](std::string_view name) {
    if (name == "scan") gate.wait();
  };
  RulesCache cache(
      store, [] { return kNowSeconds * kSec; }, RulesCacheSettings{});
  CachedRuleSource source(cache, RulesCacheSettings{}.horizon_micros);
  FakeTables tables;
  Harness fx{source, tables};
  cache.start_load(loader, far());

  // A short invocation: its cover() gives up waiting for the load in flight (the gate is still closed).
  auto first = fx.handler.handle(event({{"m1", tick("AAPL", 150, "2026-11-25T14:31:39Z")}}),
                                 SteadyClock::now() + std::chrono::milliseconds(50));
  opened.set_value();
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->failed_message_ids, (std::vector<std::string>{"m1"}));
  EXPECT_EQ(first->alerts, 0U);
  EXPECT_EQ(first->state_writes, 0U);
  EXPECT_TRUE(fx.logged("rules unavailable, message will be retried"));
  EXPECT_TRUE(fx.logged("RulesLoadInProgress"));
  EXPECT_EQ(store.requests(), 0);

  const BatchReport again = fx.run({{"m1", tick("AAPL", 150, "2026-11-25T14:31:39Z")}});
  EXPECT_TRUE(again.failed_message_ids.empty());
  EXPECT_EQ(again.alerts, 1U);
  EXPECT_EQ(again.rules, 1U);
  EXPECT_EQ(again.rule_refreshes, 1U) << "the load adopted";
}

TEST_F(RuleSourceTest, TicksBeyondTheHorizonAreCountedAndNotEvaluated) {
  source.rules = {version_of_rule("hi", EffectiveWindow::kOpenStart)};
  ++source.gen;
  source.horizon = 3600 * kSec;  // the clock is 14:31:40: 13:31:40 is the horizon
  source.invalid = {"rule bad: threshold: not a number"};
  const BatchReport r = fx.run({{"m1", "[" + tick("MSFT", 460, "2026-11-25T13:31:39Z") + "," +
                                           tick("MSFT", 470, "2026-11-25T13:31:40Z") + "]"}});
  EXPECT_TRUE(r.failed_message_ids.empty()) << "acknowledged: beyond the retention horizon";
  EXPECT_EQ(r.stale_ticks, 1U);
  EXPECT_EQ(r.alerts, 1U);
  EXPECT_EQ(tables.alerts.begin()->first, (AlertId{"MSFT", k1430 - 3600 * kSec + 100 * kSec, "hi"}));
  EXPECT_EQ(r.invalid_rules, 1U);
  EXPECT_TRUE(fx.logged("rule bad: threshold: not a number"));
}

TEST_F(RuleSourceTest, ControlsComeFromTheSource) {
  source.rules = {version_of_rule("hi", EffectiveWindow::kOpenStart)};
  source.symbol_controls = {{"MSFT", {{{EffectiveWindow::kOpenStart, EffectiveWindow::kOpenEnd}}, {}}}};
  ++source.gen;
  const BatchReport r = fx.run({{"m1", tick("MSFT", 460, "2026-11-25T14:30:05Z")}});
  EXPECT_EQ(r.suspended, 1U);
  EXPECT_EQ(r.alerts, 0U);
}

TEST(BatchMetrics, EmfRecordCarriesTheRuleMetrics) {
  BatchReport r;
  r.rules = 3;
  r.rule_set_age_ms = 1200;
  r.rule_refreshes = 1;
  r.invalid_rules = 2;
  r.stale_ticks = 4;
  r.ticks_before_rules = 5;
  r.feed_clock_offset_ms = -250;  // the feed ahead of this clock
  const auto to_doc = [](const BatchReport& report, simdjson::dom::parser& parser) {
    return parser.parse(batch_metrics(report, "MarketAlerts", "fn", 0, std::chrono::microseconds(1))
                            .to_json(std::chrono::system_clock::time_point(std::chrono::seconds(1))));
  };
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(to_doc(r, parser).get(doc), simdjson::SUCCESS);
  const auto num = [&doc](const char* name) { return metric_value(doc, name); };
  EXPECT_EQ(num("Rules"), 3);
  EXPECT_EQ(num("RuleSetAgeMs"), 1200);
  EXPECT_EQ(num("RuleRefreshes"), 1);
  EXPECT_EQ(num("InvalidRules"), 2);
  EXPECT_EQ(num("StaleTicks"), 4);
  EXPECT_EQ(num("TicksBeforeRules"), 5);
  EXPECT_EQ(num("FeedClockOffsetMs"), -250);

  r.feed_clock_offset_ms.reset();  // a batch without ticks measures no offset
  simdjson::dom::parser again;
  ASSERT_EQ(to_doc(r, again).get(doc), simdjson::SUCCESS);
  EXPECT_EQ(doc["FeedClockOffsetMs"].error(), simdjson::NO_SUCH_FIELD);
}

// ---- overlapped calls (issue 17 item 2; docs/design.md section 6a) ----

// Calls of one kind in flight at once: the first calls wait (at most 10 s, a safety net, not a measure)
// until `want` of them are in flight together; after that, or after the wait gave up, none waits.
class InFlight {
 public:
  explicit InFlight(int want) : want_(want) {}
  void enter() {
    std::unique_lock lock(mutex_);
    most_ = std::max(most_, ++inside_);
    cv_.notify_all();
    if (!done_) {
      cv_.wait_for(lock, std::chrono::seconds(10), [this] { return inside_ >= want_ || done_; });
      done_ = true;
      cv_.notify_all();
    }
  }
  void leave() {
    const std::scoped_lock lock(mutex_);
    --inside_;
  }
  int most() {
    const std::scoped_lock lock(mutex_);
    return most_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int want_;
  int inside_ = 0;
  int most_ = 0;
  bool done_ = false;
};

// The fakes made safe to call from several threads: each call is serialised on `serial` after it has
// entered its kind's InFlight, and logged in `calls` ("commit S3", "publish 10", "mark").
struct Overlapped {
  Overlapped(int want_commits, int want_publishes, int want_marks)
      : commits(want_commits), publishes(want_publishes), marks(want_marks) {}
  std::mutex serial;
  std::vector<std::string> calls;
  InFlight commits;
  InFlight publishes;
  InFlight marks;

  template <class Call>
  auto call(InFlight* in, std::string what, Call&& c) {
    if (in != nullptr) in->enter();
    auto out = [&] {
      const std::scoped_lock lock(serial);
      calls.push_back(std::move(what));
      return c();
    }();
    if (in != nullptr) in->leave();
    return out;
  }
};

class OverlappedStore final : public SymbolStore {
 public:
  OverlappedStore(SymbolStore& inner, Overlapped& o) : inner_(inner), o_(o) {}
  Result<LoadedStates, AwsError> load(std::span<const std::string> symbols, Deadline d) override {
    return o_.call(nullptr, "load", [&] { return inner_.load(symbols, d); });
  }
  Result<WriteOutcome, AwsError> commit(std::string_view symbol, const SymbolState& read,
                                        const SymbolState& next, std::span<const AlertRecord> alerts,
                                        std::span<const OnceMarker> markers, Deadline d) override {
    return o_.call(&o_.commits, "commit " + std::string(symbol),
                   [&] { return inner_.commit(symbol, read, next, alerts, markers, d); });
  }

 private:
  SymbolStore& inner_;
  Overlapped& o_;
};

class OverlappedLedger final : public AlertLedger {
 public:
  OverlappedLedger(AlertLedger& inner, Overlapped& o) : inner_(inner), o_(o) {}
  Result<ClaimOutcome, AwsError> claim(const AlertId& id, const RecoveryClaim& c, Deadline d) override {
    return o_.call(nullptr, "claim", [&] { return inner_.claim(id, c, d); });
  }
  Result<bool, AwsError> mark_sent(const AlertId& id, const std::string& sns_message_id, std::int64_t at,
                                   Deadline d) override {
    return o_.call(&o_.marks, "mark", [&] { return inner_.mark_sent(id, sns_message_id, at, d); });
  }

 private:
  AlertLedger& inner_;
  Overlapped& o_;
};

class OverlappedNotifier final : public Notifier {
 public:
  OverlappedNotifier(Notifier& inner, Overlapped& o) : inner_(inner), o_(o) {}
  Result<std::string, AwsError> publish(const SnsNotification& n, Deadline d) override {
    return o_.call(nullptr, "publish 1", [&] { return inner_.publish(n, d); });
  }
  std::vector<Result<std::string, AwsError>> publish_batch(std::span<const SnsNotification> notifications,
                                                           Deadline d) override {
    return o_.call(&o_.publishes, "publish " + std::to_string(notifications.size()), [&] {
      std::vector<Result<std::string, AwsError>> out;
      for (const SnsNotification& n : notifications) {
        const bool fails = !fail_containing.empty() && n.message.find(fail_containing) != std::string::npos;
        out.push_back(fails ? Result<std::string, AwsError>(test_support::throttled())
                            : inner_.publish(n, d));
      }
      return out;
    });
  }
  std::string fail_containing;  // an entry whose message holds it fails

 private:
  Notifier& inner_;
  Overlapped& o_;
};

// One rule per symbol S0 .. S<n-1> that fires on any price above 100.
RuleSet symbol_rules(std::size_t n) {
  std::vector<Rule> v;
  for (std::size_t i = 0; i < n; ++i) {
    v.push_back(version("r" + std::to_string(i), "S" + std::to_string(i), Condition::price_above, 100.0,
                        TriggerMode::every));
  }
  return RuleSet(std::move(v));
}

TEST(HandlerOverlap, SymbolsCommitTogetherNotificationsGoOutTenToARequestThenTheMarksTogether) {
  const RuleSet rules = symbol_rules(12);
  FakeTables tables;
  FakeSymbolStore state(tables);
  FakeLedger ledger(tables);
  FakeNotifier notifier;
  FakeDeadLetters dead_letters;
  Overlapped o(3, 2, 3);
  OverlappedStore overlapped_state(state, o);
  OverlappedLedger overlapped_ledger(ledger, o);
  OverlappedNotifier overlapped_notifier(notifier, o);
  std::vector<std::string> lines;
  const obs::Logger log([&lines](std::string_view line) { lines.emplace_back(line); });
  BatchHandler handler(
      rules, {overlapped_state, overlapped_ledger, overlapped_notifier, dead_letters}, log,
      [] { return std::chrono::system_clock::time_point(std::chrono::seconds(kNowSeconds)); });
  handler.overlap_calls(4);
  std::vector<Message> batch;
  for (int i = 0; i < 12; ++i) {
    batch.push_back({"m" + std::to_string(i), tick("S" + std::to_string(i), 101, "2026-11-25T14:30:00Z")});
  }
  const auto report = handler.handle(event(batch), far());
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->failed_message_ids.empty());
  EXPECT_EQ(report->alerts, 12u);
  EXPECT_EQ(report->notifications, 12u);
  // The round trips overlapped: at least 3 commits, both PublishBatch requests and at least 3 marks were in
  // flight at once, and never more than the 4 workers (a fourth may enter before the first three leave).
  EXPECT_GE(o.commits.most(), 3);
  EXPECT_LE(o.commits.most(), 4);
  EXPECT_EQ(o.publishes.most(), 2);
  EXPECT_GE(o.marks.most(), 3);
  EXPECT_LE(o.marks.most(), 4);
  // Store before publish before mark: the phases do not mix; two requests of 10 and 2 notifications.
  ASSERT_EQ(o.calls.size(), 1u + 12u + 2u + 12u);
  EXPECT_EQ(o.calls[0], "load");
  std::vector<std::string> commits(o.calls.begin() + 1, o.calls.begin() + 13);
  std::sort(commits.begin(), commits.end());
  for (int i = 0; i < 12; ++i)
    EXPECT_NE(std::find(commits.begin(), commits.end(), "commit S" + std::to_string(i)), commits.end());
  std::vector<std::string> publishes(o.calls.begin() + 13, o.calls.begin() + 15);
  std::sort(publishes.begin(), publishes.end());
  EXPECT_EQ(publishes, (std::vector<std::string>{"publish 10", "publish 2"}));
  EXPECT_TRUE(
      std::all_of(o.calls.begin() + 15, o.calls.end(), [](const std::string& c) { return c == "mark"; }));
  EXPECT_EQ(notifier.published.size(), 12u);
  for (const auto& [id, a] : tables.alerts) EXPECT_FALSE(a.pending) << to_string(id);
}

TEST(HandlerOverlap, AFailedEntryFailsItsMessageAloneAndAnAlertFoundStoredIsRecoveredInATaskOfItsOwn) {
  const RuleSet rules = symbol_rules(3);
  FakeTables tables;
  // S1's alert is stored already (by a delivery whose state write did not happen here): found, then
  // recovered under a claim.
  constexpr std::int64_t kTickMicros = (kNowSeconds - 100) * 1'000'000;  // 2026-11-25T14:30:00Z
  tables.alerts[AlertId{"S1", kTickMicros, "r1"}] = {
      "m1",
      1,
      true,
      "",
      Tick{.symbol = "S1", .price = 101, .ts = {kTickMicros}, .volume = {}, .bid = {}, .ask = {}, .seq = 0},
      0,
      "",
      0};
  FakeSymbolStore state(tables);
  FakeLedger ledger(tables);
  FakeNotifier notifier;
  FakeDeadLetters dead_letters;
  Overlapped o(1, 1, 1);  // no waits: this test is about the outcome
  OverlappedStore overlapped_state(state, o);
  OverlappedLedger overlapped_ledger(ledger, o);
  OverlappedNotifier overlapped_notifier(notifier, o);
  const obs::Logger log([](std::string_view) {});
  BatchHandler handler(
      rules, {overlapped_state, overlapped_ledger, overlapped_notifier, dead_letters}, log,
      [] { return std::chrono::system_clock::time_point(std::chrono::seconds(kNowSeconds)); });
  handler.overlap_calls(8);
  const std::vector<Message> batch = {{"m0", tick("S0", 101, "2026-11-25T14:30:00Z")},
                                      {"m1", tick("S1", 101, "2026-11-25T14:30:00Z")},
                                      {"m2", tick("S2", 101, "2026-11-25T14:30:00Z")}};
  overlapped_notifier.fail_containing = R"("symbol":"S0")";  // S0's entry, alone before the recovery
  const auto report = handler.handle(event(batch), far());
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->alerts, 2u);
  EXPECT_EQ(report->recovered, 1u);
  EXPECT_EQ(report->failed_message_ids, std::vector<std::string>{"m0"});
  // The symbols' order is kept: S0's request, S1's recovery (claim, publish, mark), S2's request.
  const auto publish_1 = std::count(o.calls.begin(), o.calls.end(), "publish 1");
  EXPECT_EQ(publish_1, 3);  // S0 and S2 alone in a request each (one entry: a Publish), S1 recovered
  EXPECT_EQ(std::count(o.calls.begin(), o.calls.end(), "claim"), 1);
  EXPECT_EQ(notifier.published.size(), 2u);
  EXPECT_TRUE(tables.alerts.at(AlertId{"S0", kTickMicros, "r0"}).pending);
  EXPECT_FALSE(tables.alerts.at(AlertId{"S1", kTickMicros, "r1"}).pending);
  EXPECT_FALSE(tables.alerts.at(AlertId{"S2", kTickMicros, "r2"}).pending);
}

}  // namespace
}  // namespace tap
