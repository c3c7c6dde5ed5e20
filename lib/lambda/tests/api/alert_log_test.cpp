// The API's read of fired alerts (DynamoDbAlertLog, dynamodb_store.hpp) over a scripted HTTP transport: the
// by-owner Query with its bound and filters, the item as the processor writes it read back, and the page
// positions a client polls from.
#include <gtest/gtest.h>

#include "scripted_http.hpp"
#include "tap/app/dynamodb_store.hpp"
#include "tap/core/ulid.hpp"

namespace tap {
namespace {

constexpr std::int64_t kNow = 1795617000000000LL;  // 2026-11-25T14:30:00Z

class AlertLogTest : public ::testing::Test {
 protected:
  AlertLogTest()
      : retry(
            RetryConfig{.max_attempts = 1}, [] { return 0.0; }, [] { return SteadyClock::now(); }),
        transport(scripted_transport(http, retry)),
        ddb(transport, "http://127.0.0.1:1", "us-east-1"),
        log(ddb, "alerts") {
    rule.id = "r1";
    rule.owner = "alice";
    rule.version = 3;
    rule.symbol = "AAPL";
    rule.condition = Condition::price_above;
    rule.threshold = 200;
    rule.severity = Severity::critical;
  }

  static Deadline far() { return SteadyClock::now() + std::chrono::seconds(30); }

  // The item the processor stores for `tick` (alert_item: the one definition of the format).
  std::string stored(const Tick& t, std::string_view stored_id) const {
    return alert_item(AlertRecord{{&rule, &t, "m-1"}, kNow}, stored_id);
  }

  ScriptedHttp http;
  RetryPolicy retry;
  AwsTransport transport;
  dynamodb::Client ddb;
  DynamoDbAlertLog log;
  Rule rule;
  const Tick tick{
      .symbol = "AAPL", .price = 201.5, .ts = {kNow - 90'000'000}, .volume = 300, .bid = 201.25, .ask = {}};
};

TEST_F(AlertLogTest, ReadsTheItemTheProcessorWrites) {
  const std::string id = to_string(Ulid{1795616910000ULL, 1, 2});
  const auto alert = parse_fired_alert(stored(tick, id));
  ASSERT_TRUE(alert.ok()) << alert.error().message;
  EXPECT_EQ(alert->owner, "alice");
  EXPECT_EQ(alert->rule_id, "r1");
  EXPECT_EQ(alert->rule_version, 3U);
  EXPECT_EQ(alert->stored_id, id);
  EXPECT_EQ(alert->tick.symbol, "AAPL");
  EXPECT_EQ(alert->tick.price, 201.5);
  EXPECT_EQ(alert->tick.ts.micros, tick.ts.micros);
  EXPECT_EQ(alert->tick.volume, 300U);
  EXPECT_EQ(alert->tick.bid, 201.25);
  EXPECT_EQ(alert->tick.ask, std::nullopt);
  EXPECT_EQ(alert->severity, "critical");
  EXPECT_FALSE(alert->notified);  // stored "pending"
  EXPECT_EQ(alert->notified_at_micros, std::nullopt);
  EXPECT_FALSE(alert->unvouched);  // no attribute: vouched
}

TEST_F(AlertLogTest, ReadsTheUnvouchedFlagTheProcessorWritesAndRefusesAnotherType) {
  const auto unvouched = parse_fired_alert(
      alert_item(AlertRecord{{&rule, &tick, "m-1", true}, kNow}, "01JD0000000000000000000000"));
  ASSERT_TRUE(unvouched.ok()) << unvouched.error().message;
  EXPECT_TRUE(unvouched->unvouched);
  std::string item = stored(tick, "01JD0000000000000000000000");
  item.pop_back();
  EXPECT_EQ(parse_fired_alert(item + R"(,"unvouched":{"S":"yes"}})").error().message,
            "alert item: unvouched: not a BOOL");
}

TEST_F(AlertLogTest, ReadsTheNotificationStateAndRefusesBrokenItems) {
  std::string item = stored(tick, "01JD0000000000000000000000");
  item.pop_back();
  // As mark_sent leaves it: notification_state "sent" (in place of "pending") and notified_at.
  std::string sent_item = item;
  const std::string pending = R"("notification_state":{"S":"pending"})";
  ASSERT_NE(sent_item.find(pending), std::string::npos);
  sent_item.replace(sent_item.find(pending), pending.size(), R"("notification_state":{"S":"sent"})");
  const auto sent = parse_fired_alert(sent_item + R"(,"notified_at":{"S":"2026-11-25T14:30:00.500000Z"}})");
  ASSERT_TRUE(sent.ok());
  EXPECT_TRUE(sent->notified);
  EXPECT_EQ(sent->notified_at_micros, kNow + 500'000);
  EXPECT_EQ(parse_fired_alert(item + R"(,"notified_at":{"S":"yesterday"}})").error().code, "invalid_alert");
  EXPECT_EQ(parse_fired_alert(item + R"(,"ask":{"N":"lots"}})").error().code, "invalid_alert");
  EXPECT_EQ(parse_fired_alert("[]").error().code, "invalid_alert");
  EXPECT_EQ(parse_fired_alert(R"({"owner":{"S":"alice"}})").error().code, "invalid_alert");
  // A tick time that does not parse.
  std::string bad_time = stored(tick, "01JD0000000000000000000000");
  const std::string good_time = R"("tick_timestamp":{"S":")" + tick.ts.text();
  ASSERT_NE(bad_time.find(good_time), std::string::npos);
  bad_time.replace(bad_time.find(good_time), good_time.size(),
                   R"("tick_timestamp":{"S":"2026-13-45T00:00:00Z)");
  EXPECT_EQ(parse_fired_alert(bad_time).error().code, "invalid_alert");
}

TEST_F(AlertLogTest, QueriesTheIndexBelowTheVisibilityBound) {
  AlertQuery q;
  q.owner = "alice";
  q.stored_before_micros = kNow;
  q.limit = 25;
  const auto request = alert_log_query("alerts", q);
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(
      dynamodb::render(request.value()),
      R"({"TableName":"alerts","IndexName":"by-owner","KeyConditionExpression":"#o = :o AND #sid < :before",)"
      R"("ExpressionAttributeNames":{"#o":"owner","#sid":"stored_id"},"ExpressionAttributeValues":)"
      R"({":o":{"S":"alice"},":before":{"S":")" +
          to_string(Ulid{static_cast<std::uint64_t>(kNow / 1000), 0, 0}) +
          R"("}},"ConsistentRead":false,"Limit":25})");
  // Every filter, each name and value once.
  q.symbol = "AAPL";
  q.rule_id = "r1";
  q.tick_from_micros = kNow - 3'600'000'000;
  q.tick_until_micros = kNow;
  const auto filtered = alert_log_query("alerts", q);
  ASSERT_TRUE(filtered.ok());
  EXPECT_EQ(filtered->filter_expression, "#sym = :sym AND #rid = :rid AND #tt >= :from AND #tt < :until");
  EXPECT_EQ(filtered->names_json,
            R"({"#o":"owner","#sid":"stored_id","#sym":"symbol","#rid":"rule_id","#tt":"tick_timestamp"})");
  EXPECT_NE(filtered->values_json.find(R"(":from":{"S":"2026-11-25T13:30:00.000000Z"})"), std::string::npos);
  EXPECT_NE(filtered->values_json.find(R"(":until":{"S":"2026-11-25T14:30:00.000000Z"})"), std::string::npos);
  // A bound before the epoch reads nothing rather than wrapping.
  q.stored_before_micros = -5;
  EXPECT_NE(alert_log_query("alerts", q)->values_json.find(R"(":before":{"S":"00000000000000000000000000"})"),
            std::string::npos);
}

TEST_F(AlertLogTest, RefusesAPositionOfAnotherOwnerOrShape) {
  AlertQuery q;
  q.owner = "alice";
  q.stored_before_micros = kNow;
  const AlertPosition good = {{"owner", "alice"},
                              {"stored_id", "01JD0000000000000000000000"},
                              {"symbol", "AAPL"},
                              {"timestamp", "t#r1"}};
  q.after = good;
  EXPECT_EQ(alert_log_query("alerts", q)->exclusive_start_key_json,
            R"({"owner":{"S":"alice"},"stored_id":{"S":"01JD0000000000000000000000"},"symbol":{"S":"AAPL"},)"
            R"("timestamp":{"S":"t#r1"}})");
  for (const auto& [index, value] :
       std::vector<std::pair<std::size_t, std::string>>{{0, "bob"}, {1, "not-a-ulid"}}) {
    q.after = good;
    q.after[index].second = value;
    EXPECT_EQ(alert_log_query("alerts", q).error().code, "invalid_position");
  }
  q.after = good;
  q.after.pop_back();
  EXPECT_EQ(alert_log_query("alerts", q).error().code, "invalid_position");
  q.after = good;
  q.after[3].first = "sk";
  EXPECT_EQ(alert_log_query("alerts", q).error().code, "invalid_position");
  EXPECT_EQ(log.list(q, far()).error().code, "invalid_position");
  EXPECT_TRUE(http.requests.empty());
}

TEST_F(AlertLogTest, PagesCarryThePositionToResumeFrom) {
  AlertQuery q;
  q.owner = "alice";
  q.stored_before_micros = kNow;
  const std::string id1 = "01JD0000000000000000000001";
  const std::string id2 = "01JD0000000000000000000002";
  // A full page: the position is DynamoDB's LastEvaluatedKey; an unreadable item is passed over.
  http.reply(
      200,
      R"({"Items":[)" + stored(tick, id1) + R"(,{"owner":{"S":"alice"},"stored_id":{"S":")" + id2 +
          R"("},"symbol":{"S":"AAPL"},"timestamp":{"S":"x#r9"}}],"LastEvaluatedKey":{"owner":{"S":"alice"},)"
          R"("stored_id":{"S":")" +
          id2 + R"("},"symbol":{"S":"AAPL"},"timestamp":{"S":"x#r9"}}})");
  const auto page = log.list(q, far());
  ASSERT_TRUE(page.ok()) << page.error().message;
  ASSERT_EQ(page->alerts.size(), 1U);
  EXPECT_EQ(page->alerts[0].stored_id, id1);
  EXPECT_TRUE(page->more);
  EXPECT_EQ(
      page->position,
      (AlertPosition{{"owner", "alice"}, {"stored_id", id2}, {"symbol", "AAPL"}, {"timestamp", "x#r9"}}));
  EXPECT_NE(http.body(0).find(R"("IndexName":"by-owner")"), std::string::npos);
  // The end of the list: the position is the last alert listed, so a poll resumes after it.
  http.reply(200, R"({"Items":[)" + stored(tick, id1) + "]}");
  const auto end = log.list(q, far());
  ASSERT_TRUE(end.ok());
  EXPECT_FALSE(end->more);
  EXPECT_EQ(end->position[1], (std::pair<std::string, std::string>{"stored_id", id1}));
  EXPECT_NE(stored(tick, id1).find(R"("timestamp":{"S":")" + end->position[3].second + "\""),
            std::string::npos);
  // Nothing new: the position stays where the poll started.
  q.after = end->position;
  http.reply(200, R"({"Items":[]})");
  const auto nothing = log.list(q, far());
  ASSERT_TRUE(nothing.ok());
  EXPECT_TRUE(nothing->alerts.empty());
  EXPECT_EQ(nothing->position, end->position);
  // Failures: the store's error, and a LastEvaluatedKey that is not an object.
  http.reply(400,
             R"({"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"no"})");
  EXPECT_EQ(log.list(q, far()).error().code, "ResourceNotFoundException");
  http.reply(200, R"({"Items":[],"LastEvaluatedKey":"x"})");
  EXPECT_FALSE(log.list(q, far()).ok());
  // An object whose inside is not JSON: the client takes its text as it stands, the adapter reads it and
  // refuses the page rather than resume from a position it cannot read.
  http.reply(200, R"({"Items":[],"LastEvaluatedKey":{"owner":{"S":"alice"},"stored_id" {"S":"x"}}})");
  const auto garbled = log.list(q, far());
  ASSERT_FALSE(garbled.ok());
  EXPECT_EQ(garbled.error().code, "InvalidResponse");
  EXPECT_EQ(garbled.error().message, "LastEvaluatedKey is not an object");
}

}  // namespace
}  // namespace tap
