#include "tap/app/handler.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include "fake_ports.hpp"
#include "tap/core/json_text.hpp"

namespace tap {
namespace {

using test_support::FakeDeadLetters;
using test_support::FakeLedger;
using test_support::FakeNotifier;
using test_support::FakeStateStore;
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

class HandlerTest : public ::testing::Test {
 protected:
  HandlerTest()
      : rules(load_rules(kRules).value()),
        state(tables, rules),
        ledger(tables),
        log([this](std::string_view line) { lines.emplace_back(line); }),
        handler(rules, {state, ledger, notifier, dead_letters}, log,
                [] { return std::chrono::system_clock::time_point(std::chrono::seconds(1795617100)); }) {}

  BatchReport run(const std::vector<Message>& messages) {
    auto report = handler.handle(event(messages), far());
    EXPECT_TRUE(report.ok());
    return report.value();
  }

  bool logged(std::string_view fragment) const {
    for (const std::string& l : lines) {
      if (l.find(fragment) != std::string::npos) return true;
    }
    return false;
  }

  RuleSet rules;
  FakeTables tables;
  FakeStateStore state;
  FakeLedger ledger;
  FakeNotifier notifier;
  FakeDeadLetters dead_letters;
  std::vector<std::string> lines;
  obs::Logger log;
  BatchHandler handler;
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
  // The first tick's side needs no write of its own (the fire persists it); one more write advances side_ts
  // to the newest tick (14:30:02), so that an older tick delivered later is late. Two writes, three ticks.
  EXPECT_EQ(r.state_writes, 2u);
  EXPECT_EQ((tables.state[{"AAPL", "up"}].side_ts), 1795617002000000LL);
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
  EXPECT_GT(ledger.pending_checks, 0);  // redelivered messages look for notifications left pending
}

TEST_F(HandlerTest, LevelRuleCooldownSkipsWritesFromTheCache) {
  run({{"m1", tick("MSFT", 451, "2026-11-25T14:30:00Z")}});
  const int applies = state.applies;
  const BatchReport r = run({{"m2", tick("MSFT", 452, "2026-11-25T14:30:30Z")}});
  EXPECT_EQ(r.alerts, 0u);
  EXPECT_EQ(state.applies, applies);  // within the cooldown: no write attempted
  const BatchReport later = run({{"m3", tick("MSFT", 452, "2026-11-25T14:31:00Z")}});
  EXPECT_EQ(later.alerts, 1u);  // exactly at the cooldown boundary
  EXPECT_EQ(state.loads, 0);    // level rules never read state
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
  state.fail_applies = 1;
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

TEST_F(HandlerTest, StateReadFailureFailsCrossingMessagesButNotLevelOnes) {
  state.fail_loads = 1;
  const BatchReport r = run(
      {{"m1", tick("AAPL", 199, "2026-11-25T14:30:00Z")}, {"m2", tick("MSFT", 451, "2026-11-25T14:30:00Z")}});
  EXPECT_EQ(r.failed_message_ids, std::vector<std::string>{"m1"});
  EXPECT_EQ(r.alerts, 1u);
  EXPECT_TRUE(logged("state read failed"));
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
  EXPECT_EQ(ledger.pending_checks, 0);
  EXPECT_EQ(notifier.published.size(), 2u);
}

TEST_F(HandlerTest, LateTicksAfterTheLastFireNeedNoPendingCheck) {
  run({{"m1", "[" + tick("AAPL", 199, "2026-11-25T14:30:00Z") + "," +
                  tick("AAPL", 201, "2026-11-25T14:30:01Z") + "," +
                  tick("AAPL", 202, "2026-11-25T14:30:03Z") + "]"}});
  // Delivered late (older than side_ts 14:30:03) but after the fire at 14:30:01: no alert can exist for it.
  const BatchReport r = run({{"m2", tick("AAPL", 201.5, "2026-11-25T14:30:02Z")}});
  EXPECT_EQ(r.late_ticks, 1u);
  EXPECT_EQ(ledger.pending_checks, 0);
  // The fired tick itself, delivered again: its alert is looked up (and found sent).
  const BatchReport again = run({{"m3", tick("AAPL", 201, "2026-11-25T14:30:01Z")}});
  EXPECT_EQ(again.late_ticks, 1u);
  EXPECT_EQ(ledger.pending_checks, 1);
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
  EXPECT_EQ(ledger.pending_checks, 1);
  EXPECT_EQ(notifier.published.size(), 1u);
}

TEST_F(HandlerTest, RecoveryFailuresRetryTheMessage) {
  notifier.fail_publishes = 1;
  const std::string body = tick("MSFT", 451, "2026-11-25T14:30:00Z");
  run({{"m1", body}});
  ledger.fail_pending = 1;
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
}

TEST_F(HandlerTest, ConcurrentWriterIsDetectedAndTheBatchReplanned) {
  run({{"m0", tick("AAPL", 199, "2026-11-25T14:30:00Z")}});
  // Another invocation applies a newer crossing tick between our read and our write.
  bool raced = false;
  state.before_apply = [&](const StateKey& key, const Step&) {
    if (raced) return;
    raced = true;
    RuleState& s = tables.state[{key.symbol, "up"}];
    s.side = Side::above;
    s.side_ts = 1795617005000000LL;  // 14:30:05
    s.last_fire_ts = s.side_ts;
  };
  const BatchReport r = run(
      {{"m1", tick("AAPL", 201, "2026-11-25T14:30:01Z")}, {"m2", tick("AAPL", 199, "2026-11-25T14:30:06Z")}});
  EXPECT_TRUE(r.failed_message_ids.empty());
  EXPECT_EQ(r.state_conflicts, 1u);
  EXPECT_EQ(r.alerts, 0u);      // the other invocation fired this crossing; we do not fire it again
  EXPECT_EQ(r.late_ticks, 1u);  // 14:30:01 is older than the stored 14:30:05
  EXPECT_EQ((tables.state[{"AAPL", "up"}].side), Side::at_or_below);  // 14:30:06 applied on top
}

TEST_F(HandlerTest, EndlessConflictsGiveUpAndRetryThroughTheQueue) {
  run({{"m0", tick("AAPL", 199, "2026-11-25T14:30:00Z")}});
  std::int64_t bump = 0;
  state.before_apply = [&](const StateKey& key, const Step&) {
    RuleState& s = tables.state[{key.symbol, "up"}];
    s.side_ts = *s.side_ts + (++bump);  // always someone else first
  };
  const BatchReport r = run({{"m1", tick("AAPL", 201, "2026-11-25T14:30:01Z")}});
  EXPECT_EQ(r.failed_message_ids, std::vector<std::string>{"m1"});
  EXPECT_TRUE(logged("too many compare-and-swap conflicts"));
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

TEST(BatchMetrics, EmfRecordCarriesEveryCounter) {
  BatchReport r;
  r.messages = 25;
  r.ticks = 100;
  r.late_ticks = 2;
  r.alerts = 3;
  r.failed_message_ids = {"a", "b"};
  const std::string json =
      batch_metrics(r, "MarketAlerts", "data-processor-dev", 7, std::chrono::microseconds(1500))
          .to_json(std::chrono::system_clock::time_point(std::chrono::seconds(1)));
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
  const auto num = [&doc](const char* name) {
    double v = -1;
    EXPECT_EQ(doc[name].get(v), simdjson::SUCCESS) << name;
    return v;
  };
  EXPECT_EQ(num("Messages"), 25);
  EXPECT_EQ(num("Ticks"), 100);
  EXPECT_EQ(num("LateTicks"), 2);
  EXPECT_EQ(num("Alerts"), 3);
  EXPECT_EQ(num("FailedMessages"), 2);
  EXPECT_EQ(num("Retries"), 7);
  EXPECT_EQ(num("Duration"), 1.5);
  std::string_view fn;
  ASSERT_EQ(doc["FunctionName"].get(fn), simdjson::SUCCESS);
  EXPECT_EQ(fn, "data-processor-dev");
}

}  // namespace
}  // namespace tap
