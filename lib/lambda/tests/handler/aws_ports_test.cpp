// The real ports over a scripted HTTP transport: the exact DynamoDB conditions of the exactly-once
// protocol, and how each AWS answer (success, refused condition, cancelled transaction) is read.
#include <gtest/gtest.h>

#include <iostream>

#include "scripted_http.hpp"
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

std::string ddb_error(const std::string& type, const std::string& extra = "") {
  return R"({"__type":"com.amazonaws.dynamodb.v20120810#)" + type + R"(","message":"refused")" + extra + "}";
}

class PortsTest : public ::testing::Test {
 protected:
  PortsTest()
      : rules(load_rules(kRules).value()),
        retry(
            RetryConfig{.max_attempts = 1}, [] { return 0.0; }, [] { return SteadyClock::now(); }),
        transport(scripted_transport(http, retry)),
        ddb(transport, "http://127.0.0.1:1", "us-east-1"),
        sns_client(transport, "http://127.0.0.1:1", "us-east-1"),
        sqs_client(transport, "http://127.0.0.1:1", "us-east-1"),
        symbols(
            ddb, "state", "alerts", [] { return kNow; }, [] { return std::string("token-1"); }),
        ledger(ddb, "alerts") {}

  static Deadline far() { return SteadyClock::now() + std::chrono::seconds(30); }

  // A tick of AAPL at kNow crossing above "up", its alert and the item the store must write for it.
  [[nodiscard]] AlertRecord fire_alert() const { return {{&rules.rule(0), &fire_tick, "m-1"}, kNow + 5000}; }

  RuleSet rules;
  ScriptedHttp http;
  RetryPolicy retry;
  AwsTransport transport;
  dynamodb::Client ddb;
  sns::Client sns_client;
  sqs::Client sqs_client;
  DynamoDbSymbolStore symbols;
  DynamoDbAlertLedger ledger;
  const Tick fire_tick{.symbol = "AAPL", .price = 200.5, .ts = {kNow}, .volume = {}, .bid = {}, .ask = {}};
};

TEST_F(PortsTest, AlertItemIsKeyedBySymbolAndTickTimeWithRuleAndStartsPending) {
  Rule r = rules.rule(0);
  r.id = "aapl-breakout-200";
  r.description = "AAPL breaks 200";
  constexpr std::int64_t kT0 = 1795617000123000LL;  // 2026-11-25T14:30:00.123Z
  const Tick t{.symbol = "AAPL", .price = 200.1, .ts = {kT0}, .volume = 1200, .bid = 200.05, .ask = 200.15};
  r.owner = "trader-7";
  EXPECT_EQ(alert_item({{&r, &t, "m-1"}, kT0 + 5000}, "01KAXK0A5V0000000000000000"),
            R"({"symbol":{"S":"AAPL"},"timestamp":{"S":"2026-11-25T14:30:00.123000Z#aapl-breakout-200"},)"
            R"("alert_id":{"S":"AAPL|2026-11-25T14:30:00.123000Z#aapl-breakout-200"},)"
            R"("rule_id":{"S":"aapl-breakout-200"},"rule_version":{"N":"1"},"owner":{"S":"trader-7"},)"
            R"("stored_id":{"S":"01KAXK0A5V0000000000000000"},)"
            R"("condition":{"S":"crosses_above"},"threshold":{"N":"200"},)"
            R"("price":{"N":"200.1"},"bid":{"N":"200.05"},"ask":{"N":"200.15"},"volume":{"N":"1200"},)"
            R"("severity":{"S":"critical"},"tick_timestamp":{"S":"2026-11-25T14:30:00.123000Z"},)"
            R"("message_id":{"S":"m-1"},"created_at":{"S":"2026-11-25T14:30:00.128000Z"},)"
            R"("notification_state":{"S":"pending"}})");
  Tick bare = t;
  bare.bid.reset();
  bare.ask.reset();
  bare.volume.reset();
  EXPECT_EQ(alert_item({{&r, &bare, "m"}, kT0}, "x").find("\"bid\""), std::string::npos);
  // A rule without owner (file-seeded): no owner attribute, as an index key cannot be empty (A4).
  r.owner.clear();
  EXPECT_EQ(alert_item({{&r, &t, "m"}, kT0}, "x").find("\"owner\""), std::string::npos);
}

TEST_F(PortsTest, AnUnvouchedAlertsItemSaysSoAndAVouchedOneCarriesNoSuchAttribute) {
  const Rule& r = rules.rule(0);
  const std::string unvouched = alert_item({{&r, &fire_tick, "m-1", true}, kNow}, "x");
  EXPECT_TRUE(unvouched.ends_with(R"("notification_state":{"S":"pending"},"unvouched":{"BOOL":true}})"))
      << unvouched;
  EXPECT_EQ(alert_item({{&r, &fire_tick, "m-1", false}, kNow}, "x").find("unvouched"), std::string::npos);
  // Read back for a recovered notification: the flag as stored, and a wrong type is an invalid item.
  const std::string base =
      R"({"symbol":{"S":"AAPL"},"price":{"N":"1.5"},"tick_timestamp":{"S":"2026-11-25T14:30:00Z"})";
  EXPECT_TRUE(parse_pending_alert(base + R"(,"unvouched":{"BOOL":true}})").value().unvouched);
  EXPECT_FALSE(parse_pending_alert(base + R"(,"unvouched":{"BOOL":false}})").value().unvouched);
  EXPECT_FALSE(parse_pending_alert(base + "}").value().unvouched);
  EXPECT_EQ(parse_pending_alert(base + R"(,"unvouched":{"S":"true"}})").error().message,
            "alert item: unvouched: unexpected value");
}

TEST(PendingAlertItem, ReadsWhatTheNotificationNeedsAndRefusesTheRest) {
  const auto read = parse_pending_alert(
      R"({"symbol":{"S":"AAPL"},"price":{"N":"1.5"},"tick_timestamp":{"S":"2026-11-25T14:30:00Z"}})");
  ASSERT_TRUE(read.ok());
  EXPECT_FALSE(read->tick.bid.has_value());
  EXPECT_FALSE(read->tick.volume.has_value());
  for (const char* bad :
       {R"([])", R"({"symbol":"AAPL"})", R"({"symbol":{"N":"1"},"price":{"N":"1"}})",
        R"({"price":{"S":"1.5"}})", R"({"price":{"N":"1.5x"}})", R"({"tick_timestamp":{"S":"yesterday"}})",
        R"({"message_id":{"N":"5"}})", R"({"symbol":{"S":"A"},"price":{"N":"1"}})"}) {
    EXPECT_EQ(parse_pending_alert(bad).error().code, "invalid_alert") << bad;
  }
}

// A recovery claim at kNow by "inv-2" until 60 s later.
RecoveryClaim claim_now(bool storer_ended) { return {"inv-2", kNow, kNow + 60'000'000, storer_ended}; }

TEST_F(PortsTest, LedgerClaimsWithOneConditionalWriteAndReturnsTheAlertAsStored) {
  const AlertId id{"AAPL", kNow, "up"};
  http.reply(200, R"({"Attributes":{"symbol":{"S":"AAPL"},"price":{"N":"200.5"},"bid":{"N":"200.25"},)"
                  R"("ask":{"N":"200.75"},"volume":{"N":"1200"},"rule_version":{"N":"3"},)"
                  R"("tick_timestamp":{"S":"2026-11-25T14:30:00.000000Z"},"message_id":{"S":"m-1"},)"
                  R"("publish_by":{"S":"2026-11-25T14:30:08.000000Z"},"flag":{"BOOL":true}}})");
  const ClaimOutcome got = ledger.claim(id, claim_now(false), far()).value();
  ASSERT_EQ(got.status, ClaimOutcome::Status::claimed);
  EXPECT_EQ(got.alert.tick.symbol, "AAPL");
  EXPECT_EQ(got.alert.tick.price, 200.5);
  EXPECT_EQ(got.alert.tick.bid, 200.25);
  EXPECT_EQ(got.alert.tick.ask, 200.75);
  EXPECT_EQ(got.alert.tick.volume, 1200U);
  EXPECT_EQ(got.alert.tick.ts.micros, kNow);
  EXPECT_EQ(got.alert.message_id, "m-1");
  const std::string& body = http.requests[0].body;
  EXPECT_EQ(http.target(0), "DynamoDB_20120810.UpdateItem");
  EXPECT_NE(body.find(R"("Key":{"symbol":{"S":"AAPL"},"timestamp":{"S":"2026-11-25T14:30:00.000000Z#up"}})"),
            std::string::npos)
      << body;
  // Pending, not claimed by another unexpired claimant, and past the storer's publish_by.
  EXPECT_NE(
      body.find(R"j("ConditionExpression":"#ns = :pending AND (attribute_not_exists(#cb) OR #cb = :me )j"
                R"j(OR #cu < :now) AND (attribute_not_exists(#pb) OR #pb < :now)")j"),
      std::string::npos)
      << body;
  EXPECT_NE(body.find(R"("UpdateExpression":"SET #cb = :me, #cu = :until")"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("#cb":"claimed_by","#cu":"claim_until","#pb":"publish_by")"), std::string::npos)
      << body;
  EXPECT_NE(body.find(R"(":me":{"S":"inv-2"},":now":{"S":"2026-11-25T14:30:00.000000Z"},)"
                      R"(":until":{"S":"2026-11-25T14:31:00.000000Z"})"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find(R"("ReturnValues":"ALL_NEW")"), std::string::npos);
  EXPECT_NE(body.find(R"("ReturnValuesOnConditionCheckFailure":"ALL_OLD")"), std::string::npos);

  // Exempt (its storer ended): publish_by is not asked about.
  http.reply(200, R"({"Attributes":{"symbol":{"S":"AAPL"},"price":{"N":"200.5"},)"
                  R"("tick_timestamp":{"S":"2026-11-25T14:30:00.000000Z"}}})");
  EXPECT_EQ(ledger.claim(id, claim_now(true), far()).value().status, ClaimOutcome::Status::claimed);
  EXPECT_EQ(http.requests[1].body.find("publish_by"), std::string::npos) << http.requests[1].body;
  EXPECT_EQ(http.requests[1].body.find("#pb"), std::string::npos) << http.requests[1].body;

  http.reply(400, ddb_error("AccessDeniedException"));
  EXPECT_EQ(ledger.claim(id, claim_now(false), far()).error().code, "AccessDeniedException");
  http.reply(200,
             R"({"Attributes":{"symbol":{"S":"AAPL"}}})");  // an item it cannot build a notification from
  EXPECT_EQ(ledger.claim(id, claim_now(false), far()).error().code, "invalid_alert");
}

TEST_F(PortsTest, RefusedClaimTellsSettledFromHeldByTheOldImage) {
  const AlertId id{"AAPL", kNow, "up"};
  const auto refused = [this, &id](const std::string& extra) {
    http.reply(400, ddb_error("ConditionalCheckFailedException", extra));
    return ledger.claim(id, claim_now(false), far()).value();
  };
  // No image: the alert does not exist.
  EXPECT_EQ(refused("").status, ClaimOutcome::Status::settled);
  // Notified already.
  EXPECT_EQ(refused(R"(,"Item":{"symbol":{"S":"AAPL"},"notification_state":{"S":"sent"}})").status,
            ClaimOutcome::Status::settled);
  // Still pending: claimed by another invocation, or its storer may still publish it. The alert as stored
  // comes with it (its message tells the handler whether its batch holds the storing message).
  const ClaimOutcome held = refused(
      R"(,"Item":{"symbol":{"S":"AAPL"},"price":{"N":"200.5"},"tick_timestamp":{"S":"2026-11-25T14:30:00Z"},)"
      R"("message_id":{"S":"m-1"},"notification_state":{"S":"pending"},"claimed_by":{"S":"inv-1"}})");
  EXPECT_EQ(held.status, ClaimOutcome::Status::held);
  EXPECT_EQ(held.alert.message_id, "m-1");
  // An image that cannot be read is taken as pending: never confirmed on a guess.
  const ClaimOutcome unreadable = refused(R"(,"Item":{"symbol":{"S":"AAPL"}})");
  EXPECT_EQ(unreadable.status, ClaimOutcome::Status::held);
  EXPECT_TRUE(unreadable.alert.message_id.empty());
}

TEST_F(PortsTest, LedgerMarksSentWithTheSnsMessageId) {
  const AlertId id{"AAPL", kNow, "up"};
  http.reply(200, "{}");
  EXPECT_TRUE(ledger.mark_sent(id, "mid-1", kNow, far()).value());
  EXPECT_NE(http.requests.back().body.find(R"(":mid":{"S":"mid-1"})"), std::string::npos);
  EXPECT_NE(http.requests.back().body.find(R"(":at":{"S":"2026-11-25T14:30:00.000000Z"})"),
            std::string::npos);
  http.reply(400, ddb_error("ValidationException"));
  EXPECT_EQ(ledger.mark_sent(id, "mid-1", kNow, far()).error().code, "ValidationException");
}

// ---- the per-symbol state (I2b) ----

FireRecord fire(std::string rule_id, std::uint32_t version, Position tick, bool crossing, bool stored,
                std::int64_t reach_until = INT64_MAX, std::optional<std::uint32_t> arming = std::nullopt) {
  FireRecord f;
  f.rule_id = std::move(rule_id);
  f.version = version;
  f.tick = tick;
  f.crossing = crossing;
  f.stored = stored;
  f.reach_until_micros = reach_until;
  f.once_arming = arming;
  return f;
}

SymbolState small_state() {
  SymbolState s;
  s.exists = true;
  s.revision = 4;
  s.ticks = {{{1000, 0}, 200.5}, {{1500, 7}, 199.25}};
  s.fires = {fire("up", 3, {1500, 7}, true, true)};
  return s;
}

std::string cancelled(const std::string& reasons) {
  return ddb_error("TransactionCanceledException", R"(,"CancellationReasons":)" + reasons);
}

TEST_F(PortsTest, StateItemHasTheDocumentedBinaryLayout) {
  // Bytes as the header documents them (computed independently: zigzag varints, little-endian doubles).
  EXPECT_EQ(state_item("AAPL", small_state()),
            R"({"symbol":{"S":"AAPL"},"rule_id":{"S":"#state"},"revision":{"N":"4"},)"
            R"("ticks":{"B":"AQLQDwAAAAAAABBpQOgHBwAAAAAA6GhA"},"fires":{"B":"AQECdXABAAO4FwcL"}})");
  EXPECT_EQ(state_item("X", SymbolState{}),
            R"({"symbol":{"S":"X"},"rule_id":{"S":"#state"},"revision":{"N":"0"},)"
            R"("ticks":{"B":"AQA="},"fires":{"B":"AQAA"}})");
  auto back = parse_symbol_state(state_item("AAPL", small_state()));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back.value(), small_state());
}

TEST_F(PortsTest, StateItemRoundTripsEveryField) {
  SymbolState s;
  s.exists = true;
  s.revision = 123456789;
  s.fires_complete_from = -5;  // before the epoch: the zigzag side of the encoding
  s.ticks_trimmed = true;
  s.ticks = {{{INT64_MIN + 1, UINT64_MAX}, 1e-130}, {{-1, 0}, 5e125}, {{INT64_MAX, 0}, 0.1}};
  s.fires = {fire("a", 1, {-7, 0}, false, false, 60'000'000, 7),
             fire("b.c-d_e", UINT32_MAX, {INT64_MAX, 2}, true, false, INT64_MIN),
             fire("a", 2, {INT64_MIN, UINT64_MAX}, false, true, INT64_MAX, UINT32_MAX)};
  s.fires[1].notified = false;  // F5: its notification not confirmed (flag 16)
  s.fires[2].unvouched = true;  // the engine could not vouch for it (flag 32)
  const std::string item = state_item("BTC-USD", s);
  EXPECT_NE(item.find(R"("fires_complete_from":{"N":"-5"})"), std::string::npos) << item;
  EXPECT_NE(item.find(R"("ticks_trimmed":{"N":"1"})"), std::string::npos) << item;
  EXPECT_EQ(state_item("BTC-USD", SymbolState{}).find("ticks_trimmed"), std::string::npos);  // absent: false
  SymbolState untrimmed = s;
  untrimmed.ticks_trimmed = false;
  EXPECT_EQ(state_item_bytes("BTC-USD", s) - state_item_bytes("BTC-USD", untrimmed),
            13u + 2u);  // name, N "1"
  auto back = parse_symbol_state(item);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back.value(), s);
}

TEST_F(PortsTest, StateItemOfAHotSymbolStaysSmall) {
  // 256 ticks 1/3000 s apart (the hot-symbol feed's rate) and 50 fires of 10 rules: the reorder window's
  // count bound keeps the item, and so each state write, to a few write units.
  SymbolState s;
  s.exists = true;
  s.revision = 1'000'000;
  s.fires_complete_from = kNow - 60'000'000;
  for (int i = 0; i < 256; ++i) {
    s.ticks.push_back({{kNow + i * 333, static_cast<std::uint64_t>(i % 3)}, 65000.25 + (i % 17) * 0.5});
  }
  for (int i = 0; i < 50; ++i) {
    s.fires.push_back(fire("btc-usd-rule-" + std::to_string(i % 10), 2, {kNow + i * 5 * 333, 0}, i % 2 == 0,
                           true, kNow + i * 5 * 333 + 60'000'000));
  }
  const std::size_t bytes = state_item_bytes("BTC-USD", s);
  std::cout << "state item with 256 ticks and 50 fires: " << bytes << " bytes\n";
  EXPECT_LT(bytes, 4096u);      // <= 4 write units
  EXPECT_GT(bytes, 256u * 10);  // 8-byte prices, a timestamp delta and a seq per tick
  auto back = parse_symbol_state(state_item("BTC-USD", s));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back.value(), s);
}

TEST_F(PortsTest, MalformedStateItemsAreErrorsNotCrashes) {
  const auto error_of = [](const std::string& item) {
    auto parsed = parse_symbol_state(item);
    return parsed.ok() ? std::string("ok") : parsed.error().message;
  };
  const std::string ok_ticks = R"("ticks":{"B":"AQA="})";
  const std::string ok_fires = R"("fires":{"B":"AQAA"})";
  const std::string rev = R"("revision":{"N":"1"})";
  const auto item = [&](const std::string& ticks, const std::string& fires, const std::string& extra = "") {
    return "{" + rev + "," + ticks + "," + fires + extra + "}";
  };
  EXPECT_EQ(error_of(item(ok_ticks, ok_fires)), "ok");
  EXPECT_EQ(error_of("[]"), "state item: not a JSON object");
  EXPECT_EQ(error_of(R"({"revision" {"N":"1"}})"), "state item: not valid JSON");
  EXPECT_EQ(error_of("{" + ok_ticks + "," + ok_fires + "}"),
            "state item: revision, ticks and fires are required");
  EXPECT_EQ(error_of(R"({"revision":{"N":"-1"},)" + ok_ticks + "," + ok_fires + "}"),
            "state item: revision, ticks and fires are required");
  EXPECT_EQ(error_of(item(ok_ticks, ok_fires, R"(,"fires_complete_from":{"S":"1"})")),
            "state item: fires_complete_from: expected a number attribute");
  EXPECT_EQ(error_of(item(ok_ticks, ok_fires, R"(,"ticks_trimmed":{"N":"0"})")),
            "state item: ticks_trimmed: must be 1 when present");
  EXPECT_EQ(error_of(item(R"("ticks":{"S":"AQA="})", ok_fires)),
            "state item: ticks: expected a binary attribute");
  for (const char* bad : {"AQA", "A*A=", "A=AA", "AQ=A", "AQAA=AAA"}) {
    EXPECT_EQ(error_of(item(std::string(R"("ticks":{"B":")") + bad + "\"}", ok_fires)),
              "state item: ticks: expected a binary attribute")
        << bad;
  }
  const auto ticks = [&](const std::string& b64) {
    return item(R"("ticks":{"B":")" + b64 + "\"}", ok_fires);
  };
  const auto fires = [&](const std::string& b64) {
    return item(ok_ticks, R"("fires":{"B":")" + b64 + "\"}");
  };
  EXPECT_EQ(error_of(ticks("")), "state item: ticks: unknown format");
  EXPECT_EQ(error_of(ticks("AgA=")), "state item: ticks: unknown format");         // 02 00
  EXPECT_EQ(error_of(ticks("AQ==")), "state item: ticks: bad count");              // 01
  EXPECT_EQ(error_of(ticks("AQU=")), "state item: ticks: bad count");              // 01 05
  EXPECT_EQ(error_of(ticks("AQEC")), "state item: ticks: truncated");              // 01 01 02
  EXPECT_EQ(error_of(ticks("AQH///////////9/")), "state item: ticks: truncated");  // varint > 64 bits
  EXPECT_EQ(error_of(ticks("AQECAAAAAAAAAAAA")), "state item: ticks: price not finite and > 0");  // price 0
  // Two ticks at the same position: 01 02 | 02 00 <1.0> | 00 00 <1.0>
  EXPECT_EQ(error_of(ticks("AQICAAAAAAAAAPA/AAAAAAAAAADwPw==")), "state item: ticks: positions out of order");
  EXPECT_EQ(error_of(ticks("AQAA")), "state item: ticks: trailing bytes");  // 01 00 00
  EXPECT_EQ(error_of(fires("AgAA")), "state item: fires: unknown format");
  EXPECT_EQ(error_of(fires("AQ==")), "state item: fires: bad rule id count");
  EXPECT_EQ(error_of(fires("AQEF")),
            "state item: fires: truncated rule id");  // 01 01 05: a 5-byte id missing
  EXPECT_EQ(error_of(fires("AQE=")), "state item: fires: truncated rule id");       // 01 01: no length
  EXPECT_EQ(error_of(fires("AQA=")), "state item: fires: bad count");               // 01 00: no fire count
  EXPECT_EQ(error_of(fires("AQAB")), "state item: fires: truncated");               // one fire, no bytes
  EXPECT_EQ(error_of(fires("AQABAAAAAAA=")), "state item: fires: bad record");      // id index 0 of no ids
  EXPECT_EQ(error_of(fires("AQEBYQEAAAAAQA==")), "state item: fires: bad record");  // flags 64
  EXPECT_EQ(error_of(fires("AQEBYQEAAAAAAw==")), "state item: fires: truncated");   // no reach delta
  EXPECT_EQ(error_of(fires("AQEBYQEAAAAADA==")), "state item: fires: truncated");   // no arming
  EXPECT_EQ(error_of(fires("AQEBYQEAAAAADICAgIAQ")), "state item: fires: bad record");  // arming 2^32
  EXPECT_EQ(error_of(fires("AQEBYQEAgICAgBAAAAg=")), "state item: fires: bad record");  // version 2^32
  EXPECT_EQ(error_of(fires("AQEBYQEAAAAACwA=")), "state item: fires: trailing bytes");
  EXPECT_EQ(error_of(fires("AQEBYQEAAAAACw==")), "ok");
}

TEST_F(PortsTest, LoadAsksForEachSymbolsStateItemConsistently) {
  SymbolState aapl_state = small_state();
  http.reply(200, R"({"Responses":{"state":[)" + state_item("AAPL", aapl_state) + "," +
                      R"({"symbol":{"S":"MSFT"},"rule_id":{"S":"#state"},"revision":{"N":"1"}},)" +
                      state_item("OTHER", SymbolState{}) + R"(]},"UnprocessedKeys":{}})");
  const std::vector<std::string> asked = {"AAPL", "MSFT", "TSLA"};
  auto loaded = symbols.load(asked, far());
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(http.target(0), "DynamoDB_20120810.BatchGetItem");
  EXPECT_EQ(http.requests[0].body,
            R"({"RequestItems":{"state":{"Keys":[{"symbol":{"S":"AAPL"},"rule_id":{"S":"#state"}},)"
            R"({"symbol":{"S":"MSFT"},"rule_id":{"S":"#state"}},)"
            R"({"symbol":{"S":"TSLA"},"rule_id":{"S":"#state"}}],"ConsistentRead":true}}})");
  ASSERT_EQ(loaded->size(), 3u);
  EXPECT_EQ(loaded->at("AAPL").state, aapl_state);
  EXPECT_FALSE(loaded->at("AAPL").error);
  // A malformed item fails its symbol alone.
  ASSERT_TRUE(loaded->at("MSFT").error);
  EXPECT_EQ(loaded->at("MSFT").error->code, "invalid_state");
  EXPECT_EQ(loaded->at("TSLA").state, SymbolState{});
  EXPECT_FALSE(loaded->at("TSLA").error);

  EXPECT_TRUE(symbols.load({}, far())->empty());  // nothing asked: no request
  EXPECT_EQ(http.requests.size(), 1u);
  http.reply(400, ddb_error("AccessDeniedException"));
  EXPECT_EQ(symbols.load(asked, far()).error().code, "AccessDeniedException");
}

TEST_F(PortsTest, CommitIsOneTransactionOfStateAlertsAndMarkers) {
  const AlertRecord alert = fire_alert();
  const OnceMarker marker{"up", 2, alert_id(rules.rule(0), fire_tick)};
  SymbolState next = small_state();
  next.revision = 5;
  UlidGenerator ids([] { return std::uint64_t{0x2A}; });
  const dynamodb::TransactWrite tx =
      commit_request("state", "alerts", "AAPL", small_state(), next, {&alert, 1}, {&marker, 1}, kNow, ids);
  ASSERT_EQ(tx.items.size(), 3u);
  const auto& state_put = std::get<dynamodb::PutItem>(tx.items[0]);
  EXPECT_EQ(state_put.table, "state");
  EXPECT_EQ(state_put.item_json, state_item("AAPL", next));
  EXPECT_EQ(state_put.condition_expression, "#rev = :rev");
  EXPECT_EQ(state_put.names_json, R"({"#rev":"revision"})");
  EXPECT_EQ(state_put.values_json, R"({":rev":{"N":"4"}})");
  EXPECT_TRUE(state_put.return_old_on_condition_failure);
  const auto& alert_put = std::get<dynamodb::PutItem>(tx.items[1]);
  EXPECT_EQ(alert_put.table, "alerts");
  // Its stored_id is a ULID of the store's time (kNow), random part from the generator.
  EXPECT_EQ(alert_put.item_json, alert_item(alert, to_string(Ulid{kNow / 1000, 0x2A, 0x2A})));
  EXPECT_EQ(alert_put.condition_expression, "attribute_not_exists(#k)");
  EXPECT_EQ(alert_put.names_json, R"({"#k":"symbol"})");
  const auto& marker_put = std::get<dynamodb::PutItem>(tx.items[2]);
  EXPECT_EQ(marker_put.table, "state");
  EXPECT_EQ(marker_put.item_json,
            R"({"symbol":{"S":"#once#up"},"rule_id":{"S":"#arming#2"},"rule":{"S":"up"},"arming":{"N":"2"},)"
            R"("alert_symbol":{"S":"AAPL"},"alert_key":{"S":"2026-11-25T14:30:00.000000Z#up"},)"
            R"("created_at":{"S":"2026-11-25T14:30:00.000000Z"}})");
  EXPECT_EQ(marker_put.condition_expression, "attribute_not_exists(#k)");

  // The first write of a symbol: no item yet.
  const dynamodb::TransactWrite first =
      commit_request("state", "alerts", "AAPL", SymbolState{}, next, {}, {}, kNow, ids);
  ASSERT_EQ(first.items.size(), 1u);
  EXPECT_EQ(std::get<dynamodb::PutItem>(first.items[0]).condition_expression, "attribute_not_exists(#rev)");
  EXPECT_EQ(std::get<dynamodb::PutItem>(first.items[0]).values_json, "");

  http.reply(200, "{}");
  auto applied = symbols.commit("AAPL", small_state(), next, {&alert, 1}, {&marker, 1}, far());
  ASSERT_TRUE(applied.ok()) << applied.error().message;
  EXPECT_EQ(applied->status, WriteOutcome::Status::applied);
  EXPECT_EQ(applied->bytes_written, state_item_bytes("AAPL", next));
  EXPECT_EQ(http.target(0), "DynamoDB_20120810.TransactWriteItems");
  EXPECT_NE(http.requests[0].body.find(R"("ClientRequestToken":"token-1")"), std::string::npos);
  // The store takes a fresh ULID per alert, at its clock, in order (A4: the index sorts by it).
  const auto stored_id = [&](std::size_t request) {
    const std::string& body = http.requests[request].body;
    const std::size_t at = body.find(R"("stored_id":{"S":")");
    EXPECT_NE(at, std::string::npos) << body;
    return body.substr(at + 18, kUlidLength);
  };
  http.reply(200, "{}");
  ASSERT_TRUE(symbols.commit("AAPL", small_state(), next, {&alert, 1}, {&marker, 1}, far()).ok());
  const auto first_id = parse_ulid(stored_id(0));
  const auto second_id = parse_ulid(stored_id(1));
  ASSERT_TRUE(first_id && second_id);
  EXPECT_EQ(first_id->millis, static_cast<std::uint64_t>(kNow / 1000));
  EXPECT_LT(*first_id, *second_id);
}

TEST_F(PortsTest, CommitCancellationsAreReadByReason) {
  const AlertRecord alerts[] = {fire_alert(), fire_alert()};
  const OnceMarker markers[] = {{"up", 1, {"AAPL", kNow, "up"}}, {"up", 2, {"AAPL", kNow, "up"}}};
  SymbolState next = small_state();
  next.revision = 5;
  const auto commit = [&] { return symbols.commit("AAPL", small_state(), next, alerts, markers, far()); };
  SymbolState newer = small_state();
  newer.revision = 9;

  // The state moved: its image comes back with the cancellation.
  http.reply(400, cancelled(R"([{"Code":"ConditionalCheckFailed","Item":)" + state_item("AAPL", newer) +
                            R"(},{"Code":"None"},{"Code":"None"},{"Code":"None"},{"Code":"None"}])"));
  auto conflict = commit();
  ASSERT_TRUE(conflict.ok()) << conflict.error().message;
  EXPECT_EQ(conflict->status, WriteOutcome::Status::conflict);
  EXPECT_EQ(conflict->current, newer);

  // No image (a transaction conflict): the store reads the state.
  http.reply(400, cancelled(R"([{"Code":"TransactionConflict"},{"Code":"None"}])"));
  http.reply(200, R"({"Responses":{"state":[)" + state_item("AAPL", newer) + "]}}");
  auto reread = commit();
  ASSERT_TRUE(reread.ok()) << reread.error().message;
  EXPECT_EQ(reread->status, WriteOutcome::Status::conflict);
  EXPECT_EQ(reread->current, newer);
  http.reply(400, cancelled(R"([{"Code":"ConditionalCheckFailed"}])"));
  http.reply(200, R"({"Responses":{"state":[{"symbol":{"S":"AAPL"},"revision":{"N":"x"}}]}})");
  EXPECT_EQ(commit().error().code, "invalid_state");
  http.reply(400, cancelled(R"([{"Code":"ConditionalCheckFailed"}])"));
  http.reply(500, ddb_error("InternalServerError"));
  EXPECT_EQ(commit().error().code, "InternalServerError");
  http.reply(400, cancelled(R"([{"Code":"ConditionalCheckFailed","Item":{"revision":{"N":"1"}}}])"));
  EXPECT_EQ(commit().error().code, "invalid_state");

  // An alert that exists and a marker another fire took: which ones, not an error.
  http.reply(400, cancelled(R"([{"Code":"None"},{"Code":"None"},{"Code":"ConditionalCheckFailed"},)"
                            R"({"Code":"ConditionalCheckFailed"},{"Code":"None"}])"));
  auto refused = commit();
  ASSERT_TRUE(refused.ok()) << refused.error().message;
  EXPECT_EQ(refused->status, WriteOutcome::Status::refused);
  EXPECT_EQ(refused->alerts_existing, std::vector<std::size_t>{1});
  EXPECT_EQ(refused->markers_taken, std::vector<std::size_t>{0});

  // Anything else is an error of this commit.
  http.reply(400, cancelled(R"([{"Code":"None"},{"Code":"ThrottlingError"}])"));
  EXPECT_EQ(commit().error().code, "TransactionCanceledException");
  http.reply(400, cancelled(R"([{"Code":"ValidationError"}])"));
  EXPECT_EQ(commit().error().code, "TransactionCanceledException");
  http.reply(400, cancelled("[]"));
  EXPECT_EQ(commit().error().code, "TransactionCanceledException");
  http.reply(400, ddb_error("ResourceNotFoundException"));
  EXPECT_EQ(commit().error().code, "ResourceNotFoundException");
}

TEST_F(PortsTest, ACommitWithoutAlertsOrMarkersIsOneConditionalPutItem) {
  SymbolState next = small_state();
  next.revision = 5;
  const dynamodb::PutItem put = state_put_request("state", "AAPL", small_state(), next);
  EXPECT_EQ(put.table, "state");
  EXPECT_EQ(put.item_json, state_item("AAPL", next));
  EXPECT_EQ(put.condition_expression, "#rev = :rev");
  EXPECT_EQ(put.names_json, R"({"#rev":"revision"})");
  EXPECT_EQ(put.values_json, R"({":rev":{"N":"4"}})");
  EXPECT_TRUE(put.return_old_on_condition_failure);
  EXPECT_EQ(state_put_request("state", "AAPL", SymbolState{}, next).condition_expression,
            "attribute_not_exists(#rev)");

  http.reply(200, "{}");
  auto applied = symbols.commit("AAPL", small_state(), next, {}, {}, far());
  ASSERT_TRUE(applied.ok()) << applied.error().message;
  EXPECT_EQ(applied->status, WriteOutcome::Status::applied);
  EXPECT_EQ(applied->bytes_written, state_item_bytes("AAPL", next));
  ASSERT_EQ(http.requests.size(), 1u);
  EXPECT_EQ(http.target(0), "DynamoDB_20120810.PutItem");
  EXPECT_EQ(http.body(0), dynamodb::render(put));
  EXPECT_NE(http.body(0).find(R"("ReturnValuesOnConditionCheckFailure":"ALL_OLD")"), std::string::npos);
  EXPECT_EQ(http.body(0).find("ClientRequestToken"), std::string::npos);

  // Refused: the stored state comes back with the refusal, as with a transaction's cancellation reason.
  SymbolState newer = small_state();
  newer.revision = 9;
  http.reply(400, ddb_error("ConditionalCheckFailedException", R"(,"Item":)" + state_item("AAPL", newer)));
  auto conflict = symbols.commit("AAPL", small_state(), next, {}, {}, far());
  ASSERT_TRUE(conflict.ok()) << conflict.error().message;
  EXPECT_EQ(conflict->status, WriteOutcome::Status::conflict);
  EXPECT_EQ(conflict->current, newer);
  // No image (the item is gone): the state is read.
  http.reply(400, ddb_error("ConditionalCheckFailedException"));
  http.reply(200, R"({"Responses":{"state":[]}})");
  auto gone = symbols.commit("AAPL", small_state(), next, {}, {}, far());
  ASSERT_TRUE(gone.ok()) << gone.error().message;
  EXPECT_EQ(gone->status, WriteOutcome::Status::conflict);
  EXPECT_EQ(gone->current, SymbolState{});
  http.reply(400, ddb_error("ConditionalCheckFailedException", R"(,"Item":{"revision":{"N":"1"}})"));
  EXPECT_EQ(symbols.commit("AAPL", small_state(), next, {}, {}, far()).error().code, "invalid_state");
  http.reply(400, ddb_error("ValidationException"));
  EXPECT_EQ(symbols.commit("AAPL", small_state(), next, {}, {}, far()).error().code, "ValidationException");
}

// DynamoDB for one state item, enough for a conditional put: it applies a put whose revision condition holds
// and answers a refused one with the stored item; `lose` answers that many applied puts with a network error
// instead (the write done, its answer lost).
class OneItemTable final : public HttpClient {
 public:
  Result<HttpResponse> send(const HttpRequest& request, Deadline) override {
    ++puts;
    const std::string& body = request.body;
    const auto number_after = [](const std::string& text, std::string_view key) {
      const std::size_t at = text.find(key);
      return at == std::string::npos
                 ? std::string()
                 : text.substr(at + key.size(), text.find('"', at + key.size()) - at - key.size());
    };
    const std::string expected = number_after(body, R"(":rev":{"N":")");
    if (number_after(stored, R"("revision":{"N":")") != expected) {
      return HttpResponse{400, {}, ddb_error("ConditionalCheckFailedException", R"(,"Item":)" + stored)};
    }
    const std::size_t item = body.find(R"("Item":)") + 7;
    stored = body.substr(item, body.find(R"(,"ConditionExpression")") - item);
    if (lose > 0) {
      --lose;
      return Error{kNetworkError, "connection reset after the request was sent"};
    }
    return HttpResponse{200, {}, "{}"};
  }
  std::string stored;
  int lose = 0;
  int puts = 0;
};

TEST_F(PortsTest, AStatePutRetriedAfterItsAnswerWasLostMeetsItsOwnWriteAsAConflict) {
  OneItemTable table;
  table.stored = state_item("AAPL", small_state());
  table.lose = 1;
  RetryPolicy twice(
      RetryConfig{.max_attempts = 2}, [] { return 0.0; }, [] { return SteadyClock::now(); });
  AwsTransport lossy = scripted_transport(table, twice);
  dynamodb::Client client(lossy, "http://127.0.0.1:1", "us-east-1");
  DynamoDbSymbolStore store(
      client, "state", "alerts", [] { return kNow; }, [] { return std::string("t"); });
  SymbolState next = small_state();
  next.revision = 5;
  next.ticks.push_back({{2000, 0}, 201});
  auto outcome = store.commit("AAPL", small_state(), next, {}, {}, far());
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(table.puts, 2);
  // Applied once; the retry is refused and hands back the state it wrote, which the handler re-plans on (the
  // ticks held: duplicates, nothing written twice).
  EXPECT_EQ(table.stored, state_item("AAPL", next));
  EXPECT_EQ(outcome->status, WriteOutcome::Status::conflict);
  EXPECT_EQ(outcome->current, next);
}

TEST_F(PortsTest, NotifierAndDeadLettersSendTheirAttributes) {
  SnsNotifier notifier(sns_client, "arn:aws:sns:us-east-1:123456789012:trading-alerts-dev");
  http.reply(200,
             "<PublishResponse><PublishResult><MessageId>m-1</MessageId></PublishResult></PublishResponse>");
  auto published = notifier.publish(
      {"subject", R"({"a":1})", {{"owner", "t-1"}, {"symbol", "AAPL"}}, "mail", "sms"}, far());
  ASSERT_TRUE(published.ok()) << published.error().message;
  EXPECT_EQ(published.value(), "m-1");
  EXPECT_NE(http.requests.back().body.find("MessageAttributes.entry.1.Name=owner"), std::string::npos)
      << http.requests.back().body;
  EXPECT_NE(http.requests.back().body.find("MessageAttributes.entry.2.Name=symbol"), std::string::npos);
  // F5: one text per subscriber protocol, the JSON as the default.
  EXPECT_NE(http.requests.back().body.find("&MessageStructure=json&"), std::string::npos);
  EXPECT_NE(http.requests.back().body.find(
                "Message=%7B%22default%22%3A%22%7B%5C%22a%5C%22%3A1%7D%22%2C%22email%22%3A"
                "%22mail%22%2C%22sms%22%3A%22sms%22%7D&"),
            std::string::npos)
      << http.requests.back().body;

  // One notification of a batch is a Publish; several one PublishBatch, each entry with the same content.
  const SnsNotification note{"subject", R"({"a":1})", {{"symbol", "AAPL"}}, "mail", "sms"};
  const std::vector<SnsNotification> one{note};
  http.reply(200,
             "<PublishResponse><PublishResult><MessageId>m-2</MessageId></PublishResult></PublishResponse>");
  const auto single = notifier.publish_batch(one, far());
  ASSERT_EQ(single.size(), 1U);
  EXPECT_EQ(single[0].value(), "m-2");
  EXPECT_EQ(http.requests.back().body.rfind("Action=Publish&", 0), 0U) << http.requests.back().body;
  const std::vector<SnsNotification> two{note, note};
  http.reply(
      200,
      "<PublishBatchResponse><PublishBatchResult><Successful><member><Id>1</Id><MessageId>m-4</MessageId>"
      "</member><member><Id>0</Id><MessageId>m-3</MessageId></member></Successful><Failed/>"
      "</PublishBatchResult></PublishBatchResponse>");
  const auto batch = notifier.publish_batch(two, far());
  ASSERT_EQ(batch.size(), 2U);
  EXPECT_EQ(batch[0].value(), "m-3");
  EXPECT_EQ(batch[1].value(), "m-4");
  const std::string& body = http.requests.back().body;
  EXPECT_EQ(body.rfind("Action=PublishBatch&Version=2010-03-31&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A", 0),
            0U)
      << body;
  EXPECT_NE(body.find("&PublishBatchRequestEntries.member.2.Id=1&PublishBatchRequestEntries.member.2.Message="
                      "%7B%22default%22"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find("PublishBatchRequestEntries.member.2.MessageStructure=json&"), std::string::npos);
  EXPECT_NE(body.find("PublishBatchRequestEntries.member.1.MessageAttributes.entry.1.Name=symbol"),
            std::string::npos);

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
