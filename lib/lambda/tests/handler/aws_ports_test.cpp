// The real ports over a scripted HTTP transport: the exact DynamoDB conditions of the exactly-once
// protocol, and how each AWS answer (success, refused condition, cancelled transaction) is read.
#include <gtest/gtest.h>

#include <deque>

#include "tap/app/dynamodb_store.hpp"
#include "tap/app/sns_notifier.hpp"
#include "tap/app/sqs_dead_letters.hpp"

namespace tap {
namespace {

constexpr const char* kRules = R"({"version":1,"rules":[
  {"id":"up","symbol":"AAPL","condition":"crosses_above","threshold":200,"severity":"critical","cooldown_seconds":300},
  {"id":"hi","symbol":"MSFT","condition":"price_above","threshold":450,"severity":"warning","cooldown_seconds":60}
]})";
constexpr std::int64_t kNow = 1795617000000000LL;

class ScriptedHttp final : public HttpClient {
 public:
  Result<HttpResponse> send(const HttpRequest& request, Deadline) override {
    requests.push_back(request);
    if (responses.empty()) return Error{kNetworkError, "no scripted response"};
    HttpResponse r = responses.front();
    responses.pop_front();
    return r;
  }
  void reply(int status, std::string body) { responses.push_back({status, {}, std::move(body)}); }
  [[nodiscard]] std::string target(std::size_t i) const {
    const std::string* t = requests.at(i).header("X-Amz-Target");
    return t ? *t : "";
  }
  std::vector<HttpRequest> requests;
  std::deque<HttpResponse> responses;
};

std::string ddb_error(const std::string& type, const std::string& extra = "") {
  return R"({"__type":"com.amazonaws.dynamodb.v20120810#)" + type + R"(","message":"refused")" + extra + "}";
}

class PortsTest : public ::testing::Test {
 protected:
  PortsTest()
      : rules(load_rules(kRules).value()),
        retry(
            RetryConfig{.max_attempts = 1}, [] { return 0.0; }, [] { return SteadyClock::now(); }),
        transport{.http = &http,
                  .credentials = {"AKID", "SECRET", ""},
                  .retry = &retry,
                  .wall_clock =
                      [] { return std::chrono::system_clock::time_point(std::chrono::seconds(1795617000)); },
                  .sleep = [](std::chrono::microseconds) {}},
        ddb(transport, "http://127.0.0.1:1", "us-east-1"),
        sns_client(transport, "http://127.0.0.1:1", "us-east-1"),
        sqs_client(transport, "http://127.0.0.1:1", "us-east-1"),
        store(
            ddb, "state", "alerts", rules, [] { return kNow; }, [] { return std::string("token-1"); }),
        ledger(ddb, "alerts") {}

  static Deadline far() { return SteadyClock::now() + std::chrono::seconds(30); }

  // A tick of AAPL at kNow crossing above "up", its alert and the item the store must write for it.
  [[nodiscard]] AlertRecord fire_alert() const { return {{&rules.rule(0), &fire_tick, "m-1"}, kNow + 5000}; }

  Step crossing_fire() const {
    Step s;
    s.kind = Step::Kind::fire;
    s.expected = {true, Side::at_or_below, kNow - 5'000'000, std::nullopt};
    s.next = {true, Side::above, kNow, kNow};
    return s;
  }

  RuleSet rules;
  ScriptedHttp http;
  RetryPolicy retry;
  AwsTransport transport;
  dynamodb::Client ddb;
  sns::Client sns_client;
  sqs::Client sqs_client;
  DynamoDbStateStore store;
  DynamoDbAlertLedger ledger;
  const StateKey aapl{0, "AAPL"};
  const Tick fire_tick{.symbol = "AAPL", .price = 200.5, .ts = {kNow}, .volume = {}, .bid = {}, .ask = {}};
  const StateKey msft{1, "MSFT"};
};

TEST_F(PortsTest, CrossingWriteIsCompareAndSwapOnSideTs) {
  const dynamodb::UpdateItem u = state_update("state", rules.rule(0), aapl, crossing_fire(), kNow);
  EXPECT_EQ(u.key_json, R"({"symbol":{"S":"AAPL"},"rule_id":{"S":"up"}})");
  EXPECT_EQ(u.update_expression, "SET #s = :side, #st = :side_ts, #u = :now, #lf = :fire");
  EXPECT_EQ(u.names_json, R"({"#u":"updated_at","#s":"side","#st":"side_ts","#lf":"last_fire_ts"})");
  EXPECT_EQ(u.condition_expression, "#st = :expected");
  EXPECT_EQ(u.names_json, R"({"#u":"updated_at","#s":"side","#st":"side_ts","#lf":"last_fire_ts"})");
  EXPECT_EQ(u.values_json, R"({":now":{"S":"2026-11-25T14:30:00.000000Z"},":side":{"S":"above"},)"
                           R"(":side_ts":{"N":"1795617000000000"},":expected":{"N":"1795616995000000"},)"
                           R"(":fire":{"N":"1795617000000000"}})");
  EXPECT_TRUE(u.return_old_on_condition_failure);

  Step first;
  first.kind = Step::Kind::write_side;
  first.next = {true, Side::at_or_below, kNow, std::nullopt};
  const dynamodb::UpdateItem f = state_update("state", rules.rule(0), aapl, first, kNow);
  EXPECT_EQ(f.condition_expression, "attribute_not_exists(#st)");
  EXPECT_EQ(f.update_expression, "SET #s = :side, #st = :side_ts, #u = :now");
  // Only names the expressions use: DynamoDB rejects a request declaring an unused one (ValidationException).
  EXPECT_EQ(f.names_json, R"({"#u":"updated_at","#s":"side","#st":"side_ts"})");
}

TEST_F(PortsTest, LevelFireIsConditionedOnTheCooldownCutoff) {
  Step s;
  s.kind = Step::Kind::fire;
  s.next = {true, std::nullopt, std::nullopt, kNow};
  s.cooldown_cutoff = kNow - 60'000'000;
  const dynamodb::UpdateItem u = state_update("state", rules.rule(1), msft, s, kNow);
  EXPECT_EQ(u.update_expression, "SET #lf = :fire, #u = :now");
  EXPECT_EQ(u.condition_expression, "attribute_not_exists(#lf) OR #lf <= :cutoff");
  EXPECT_EQ(u.names_json, R"({"#u":"updated_at","#lf":"last_fire_ts"})");
  EXPECT_NE(u.values_json.find(R"(":cutoff":{"N":"1795616940000000"})"), std::string::npos) << u.values_json;
}

TEST_F(PortsTest, ParsesStateItems) {
  auto item = parse_state_item(R"({"symbol":{"S":"AAPL"},"rule_id":{"S":"up"},"side":{"S":"above"},)"
                               R"("side_ts":{"N":"5"},"last_fire_ts":{"N":"4"},"updated_at":{"S":"x"}})");
  ASSERT_TRUE(item.ok());
  EXPECT_EQ(item->symbol, "AAPL");
  EXPECT_EQ(item->rule_id, "up");
  EXPECT_EQ(item->state, (RuleState{true, Side::above, 5, 4}));
  EXPECT_EQ(parse_state_item("[]").error().code, "invalid_state");
  EXPECT_EQ(parse_state_item(R"({"side":{"S":"sideways"}})").error().message, "side: unknown value sideways");
  EXPECT_EQ(parse_state_item(R"({"side":{"N":"1"}})").error().message, "side: expected a string");
  EXPECT_EQ(parse_state_item(R"({"side_ts":{"S":"1"}})").error().message,
            "side_ts: expected a number attribute");
  EXPECT_EQ(parse_state_item(R"({"side_ts":{"N":"1.5"}})").error().message, "side_ts: not an integer: 1.5");
  EXPECT_EQ(parse_state_item(R"({"symbol":{"N":"1"}})").error().message, "symbol: expected a string");
  EXPECT_EQ(parse_state_item(R"({"symbol":)").error().code, "invalid_state");
  EXPECT_EQ(parse_state_item(R"({"side" {"S":"above"}})").error().message, "state item is not valid JSON");
}

TEST_F(PortsTest, LoadReadsConsistentlyAndMapsItemsToKeys) {
  http.reply(200, R"({"Responses":{"state":[)"
                  R"({"symbol":{"S":"AAPL"},"rule_id":{"S":"up"},"side":{"S":"above"},"side_ts":{"N":"7"}},)"
                  R"({"symbol":{"S":"AAPL"},"rule_id":{"S":"removed-rule"},"side_ts":{"N":"1"}}]},)"
                  R"("UnprocessedKeys":{}})");
  auto loaded = store.load({aapl, msft}, far());
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ(loaded->at(aapl), (RuleState{true, Side::above, 7, std::nullopt}));
  EXPECT_EQ(http.target(0), "DynamoDB_20120810.BatchGetItem");
  EXPECT_NE(http.requests[0].body.find(R"("ConsistentRead":true)"), std::string::npos);

  http.reply(200, R"({"Responses":{"state":[{"side":{"S":"bogus"}}]},"UnprocessedKeys":{}})");
  EXPECT_EQ(store.load({aapl}, far()).error().code, "invalid_state");
  http.reply(400, ddb_error("ValidationException"));
  EXPECT_EQ(store.load({aapl}, far()).error().code, "ValidationException");
}

TEST_F(PortsTest, SideWriteAppliedOrRefusedWithTheStoredState) {
  Step side;
  side.kind = Step::Kind::write_side;
  side.expected = {true, Side::above, 1, std::nullopt};
  side.next = {true, Side::at_or_below, 2, std::nullopt};
  http.reply(200, "{}");
  auto applied = store.apply(aapl, side, nullptr, far());
  ASSERT_TRUE(applied.ok());
  EXPECT_TRUE(applied->applied);
  EXPECT_EQ(http.target(0), "DynamoDB_20120810.UpdateItem");
  EXPECT_NE(http.requests[0].body.find(R"("ReturnValuesOnConditionCheckFailure":"ALL_OLD")"),
            std::string::npos);

  http.reply(400, ddb_error("ConditionalCheckFailedException",
                            R"(,"Item":{"side":{"S":"above"},"side_ts":{"N":"9"}})"));
  auto refused = store.apply(aapl, side, nullptr, far());
  ASSERT_TRUE(refused.ok());
  EXPECT_FALSE(refused->applied);
  EXPECT_EQ(refused->current, (RuleState{true, Side::above, 9, std::nullopt}));

  // No old image returned: the store reads the key.
  http.reply(400, ddb_error("ConditionalCheckFailedException"));
  http.reply(200, R"({"Responses":{"state":[]},"UnprocessedKeys":{}})");
  auto reread = store.apply(aapl, side, nullptr, far());
  ASSERT_TRUE(reread.ok());
  EXPECT_FALSE(reread->applied);
  EXPECT_EQ(reread->current, RuleState{});

  http.reply(400, ddb_error("ConditionalCheckFailedException"));
  http.reply(400, ddb_error("AccessDeniedException"));
  EXPECT_EQ(store.apply(aapl, side, nullptr, far()).error().code, "AccessDeniedException");
  http.reply(400, ddb_error("ConditionalCheckFailedException", R"(,"Item":{"side":{"S":"?"}})"));
  EXPECT_EQ(store.apply(aapl, side, nullptr, far()).error().code, "invalid_state");
  http.reply(400, ddb_error("ValidationException"));
  EXPECT_EQ(store.apply(aapl, side, nullptr, far()).error().code, "ValidationException");
}

TEST_F(PortsTest, AlertItemIsKeyedBySymbolAndTickTimeWithRuleAndStartsPending) {
  Rule r = rules.rule(0);
  r.id = "aapl-breakout-200";
  r.description = "AAPL breaks 200";
  constexpr std::int64_t kT0 = 1795617000123000LL;  // 2026-11-25T14:30:00.123Z
  const Tick t{.symbol = "AAPL", .price = 200.1, .ts = {kT0}, .volume = 1200, .bid = 200.05, .ask = 200.15};
  EXPECT_EQ(
      alert_item({{&r, &t, "m-1"}, kT0 + 5000}),
      R"({"symbol":{"S":"AAPL"},"timestamp":{"S":"2026-11-25T14:30:00.123000Z#aapl-breakout-200"},)"
      R"("alert_id":{"S":"AAPL|2026-11-25T14:30:00.123000Z#aapl-breakout-200"},)"
      R"("rule_id":{"S":"aapl-breakout-200"},"condition":{"S":"crosses_above"},"threshold":{"N":"200"},)"
      R"("price":{"N":"200.1"},"bid":{"N":"200.05"},"ask":{"N":"200.15"},"volume":{"N":"1200"},)"
      R"("severity":{"S":"critical"},"tick_timestamp":{"S":"2026-11-25T14:30:00.123000Z"},)"
      R"("message_id":{"S":"m-1"},"created_at":{"S":"2026-11-25T14:30:00.128000Z"},)"
      R"("notification_state":{"S":"pending"}})");
  Tick bare = t;
  bare.bid.reset();
  bare.ask.reset();
  bare.volume.reset();
  EXPECT_EQ(alert_item({{&r, &bare, "m"}, kT0}).find("\"bid\""), std::string::npos);
}

TEST_F(PortsTest, FireIsOneTransactionOfStateAndAlert) {
  const AlertRecord alert = fire_alert();
  http.reply(200, "{}");
  auto fired = store.apply(aapl, crossing_fire(), &alert, far());
  ASSERT_TRUE(fired.ok());
  EXPECT_TRUE(fired->applied);
  EXPECT_EQ(http.target(0), "DynamoDB_20120810.TransactWriteItems");
  const std::string& body = http.requests[0].body;
  EXPECT_NE(body.find(R"("ClientRequestToken":"token-1")"), std::string::npos) << body;
  EXPECT_NE(body.find("attribute_not_exists(#k)"), std::string::npos);
  EXPECT_NE(body.find("#st = :expected"), std::string::npos);
  // The alert item as rendered, conditioned on no alert with its key yet.
  EXPECT_NE(body.find(R"("Item":)" + alert_item(alert)), std::string::npos) << body;
}

TEST_F(PortsTest, CancelledTransactionsAreReadByReason) {
  const AlertRecord alert = fire_alert();
  const auto cancelled = [](const std::string& reasons) {
    return ddb_error("TransactionCanceledException", R"(,"CancellationReasons":)" + reasons);
  };
  http.reply(400, cancelled(R"([{"Code":"ConditionalCheckFailed","Message":"x",)"
                            R"("Item":{"side":{"S":"above"},"side_ts":{"N":"11"}}},{"Code":"None"}])"));
  auto refused = store.apply(aapl, crossing_fire(), &alert, far());
  ASSERT_TRUE(refused.ok());
  EXPECT_FALSE(refused->applied);
  EXPECT_EQ(refused->current.side_ts, 11);

  http.reply(400, cancelled(R"([{"Code":"TransactionConflict"},{"Code":"None"}])"));
  http.reply(
      200, R"({"Responses":{"state":[{"symbol":{"S":"AAPL"},"rule_id":{"S":"up"},"side_ts":{"N":"12"}}]}})");
  auto conflict = store.apply(aapl, crossing_fire(), &alert, far());
  ASSERT_TRUE(conflict.ok());
  EXPECT_FALSE(conflict->applied);
  EXPECT_EQ(conflict->current.side_ts, 12);

  http.reply(400,
             cancelled(R"([{"Code":"ConditionalCheckFailed","Item":{"side":{"S":"?"}}},{"Code":"None"}])"));
  EXPECT_EQ(store.apply(aapl, crossing_fire(), &alert, far()).error().code, "invalid_state");
  http.reply(400, cancelled(R"([{"Code":"ConditionalCheckFailed"},{"Code":"None"}])"));
  http.reply(500, ddb_error("InternalServerError"));
  EXPECT_EQ(store.apply(aapl, crossing_fire(), &alert, far()).error().code, "InternalServerError");

  http.reply(400, cancelled(R"([{"Code":"None"},{"Code":"ConditionalCheckFailed"}])"));
  EXPECT_EQ(store.apply(aapl, crossing_fire(), &alert, far()).error().code, "AlertExists");
  http.reply(400, ddb_error("ResourceNotFoundException"));
  EXPECT_EQ(store.apply(aapl, crossing_fire(), &alert, far()).error().code, "ResourceNotFoundException");
}

TEST_F(PortsTest, LedgerAsksWithConditionalWritesOnly) {
  const AlertId id{"AAPL", kNow, "up"};
  http.reply(200, "{}");
  EXPECT_TRUE(ledger.pending(id, far()).value());
  EXPECT_EQ(http.target(0), "DynamoDB_20120810.UpdateItem");
  EXPECT_NE(http.requests[0].body.find(
                R"("Key":{"symbol":{"S":"AAPL"},"timestamp":{"S":"2026-11-25T14:30:00.000000Z#up"}})"),
            std::string::npos)
      << http.requests[0].body;
  EXPECT_NE(http.requests[0].body.find(R"("ConditionExpression":"#ns = :pending")"), std::string::npos);
  http.reply(400, ddb_error("ConditionalCheckFailedException"));
  EXPECT_FALSE(ledger.pending(id, far()).value());
  http.reply(400, ddb_error("AccessDeniedException"));
  EXPECT_EQ(ledger.pending(id, far()).error().code, "AccessDeniedException");

  http.reply(200, "{}");
  EXPECT_TRUE(ledger.mark_sent(id, "mid-1", kNow, far()).value());
  EXPECT_NE(http.requests.back().body.find(R"(":mid":{"S":"mid-1"})"), std::string::npos);
  EXPECT_NE(http.requests.back().body.find(R"(":at":{"S":"2026-11-25T14:30:00.000000Z"})"),
            std::string::npos);
  http.reply(400, ddb_error("ValidationException"));
  EXPECT_EQ(ledger.mark_sent(id, "mid-1", kNow, far()).error().code, "ValidationException");
}

TEST_F(PortsTest, NotifierAndDeadLettersSendTheirAttributes) {
  SnsNotifier notifier(sns_client, "arn:aws:sns:us-east-1:123456789012:trading-alerts-dev");
  http.reply(200,
             "<PublishResponse><PublishResult><MessageId>m-1</MessageId></PublishResult></PublishResponse>");
  auto published = notifier.publish({"subject", R"({"a":1})", {{"symbol", "AAPL"}}}, far());
  ASSERT_TRUE(published.ok()) << published.error().message;
  EXPECT_EQ(published.value(), "m-1");
  EXPECT_NE(http.requests.back().body.find("MessageAttributes.entry.1.Name=symbol"), std::string::npos)
      << http.requests.back().body;

  SqsDeadLetters dlq(sqs_client, "http://127.0.0.1:1/123456789012/market-data-dlq-dev");
  http.reply(200, R"({"MessageId":"d-1","MD5OfMessageBody":"x"})");
  auto sent = dlq.send("{bad", "body: invalid JSON", "orig-1", far());
  ASSERT_TRUE(sent.ok()) << sent.error().message;
  EXPECT_EQ(sent.value(), "d-1");
  EXPECT_NE(http.requests.back().body.find("RejectionReason"), std::string::npos);
  EXPECT_NE(http.requests.back().body.find("orig-1"), std::string::npos);
}

}  // namespace
}  // namespace tap
