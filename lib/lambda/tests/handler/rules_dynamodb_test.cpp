// The rules storage adapter (rules_dynamodb.hpp) over a scripted HTTP transport: the item schema both ways,
// hostile items skipped with their reason, the exact conditions of the change protocol's requests, and how
// each AWS answer (success, refused condition, cancelled transaction) is read.
#include "tap/app/rules_dynamodb.hpp"

#include <gtest/gtest.h>

#include "scripted_http.hpp"

namespace tap {
namespace {

constexpr std::int64_t kT = 1795617000000000LL;  // event time of the fixtures, micros

bool has(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

Rule version(std::uint32_t v, std::int64_t from, std::int64_t until) {
  Rule r;
  r.id = "r1";
  r.owner = "alice";
  r.version = v;
  r.symbol = "AAPL";
  r.condition = Condition::crosses_above;
  r.threshold = 200.25;
  r.severity = Severity::critical;
  r.mode = TriggerMode::once;
  r.cooldown_seconds = 0;
  r.arming = 2;
  r.window = {from, until};
  return r;
}

RuleRecord record() {
  RuleRecord r;
  r.id = "r1";
  r.owner = "alice";
  r.spec.name = "breakout";
  r.spec.symbol = "AAPL";
  r.spec.condition = Condition::crosses_above;
  r.spec.threshold = 200.25;
  r.spec.severity = Severity::critical;
  r.spec.description = "a \"quoted\" breakout";
  r.spec.expires_at_micros = kT + 86400000000LL;
  r.spec.message_template = "{symbol} crossed {threshold}";
  r.state = RuleState::active;
  r.arming = 2;
  r.revision = 3;
  r.created_at_micros = kT - 1000;
  r.updated_at_micros = kT;
  r.versions = {version(1, kT - 1000, kT), version(2, kT, EffectiveWindow::kOpenEnd)};
  r.versions[1].expires_at_micros = r.spec.expires_at_micros;
  r.versions[1].description = "edited";
  r.versions[0].mode = TriggerMode::every;
  r.versions[0].cooldown_seconds = 60;
  r.versions[0].enabled = false;
  return r;
}

// A minimal valid record item with `extra` attributes replacing or adding to the defaults.
std::string item_with(const std::string& attributes) {
  return R"({"pk":{"S":"owner#bob"},"sk":{"S":"rule#r9"},)" + attributes + "}";
}
const std::string kValidAttributes =
    R"("name":{"S":"n"},"symbol":{"S":"MSFT"},"condition":{"S":"price_above"},"threshold":{"N":"1"},)"
    R"("severity":{"S":"info"},"mode":{"S":"every"},"cooldown":{"N":"5"},"bar":{"N":"0"},"state":{"S":"paused"},)"
    R"("arming":{"N":"0"},"revision":{"N":"1"},"created":{"N":"1"},"updated":{"N":"2"})";
std::string version_json(const std::string& fields) {
  return R"({"M":{"v":{"N":"1"},"symbol":{"S":"MSFT"},"condition":{"S":"price_above"},"threshold":{"N":"1"},)"
         R"("severity":{"S":"info"},"mode":{"S":"every"},"cooldown":{"N":"5"},"bar":{"N":"0"},"arming":{"N":"0"},)" +
         fields + "}}";
}

TEST(RulesItems, ARecordRoundTripsWithEveryVersion) {
  const RuleRecord r = record();
  const std::string item = rule_item(r);
  EXPECT_TRUE(has(item, R"("pk":{"S":"owner#alice"},"sk":{"S":"rule#r1"})")) << item;
  EXPECT_TRUE(has(item, R"("state":{"S":"active"})"));
  EXPECT_FALSE(has(item, R"("until":{"N":"9223372036854775807"})")) << "an open window has no until";
  auto back = parse_rule_item(item);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back.value(), r);

  RuleRecord bare = r;
  bare.spec.description.clear();
  bare.spec.expires_at_micros.reset();
  bare.spec.message_template.clear();
  bare.state = RuleState::deleted;
  bare.versions.clear();
  EXPECT_EQ(parse_rule_item(rule_item(bare)).value(), bare);
  bare.state = RuleState::paused;
  EXPECT_EQ(parse_rule_item(rule_item(bare)).value().state, RuleState::paused);
  EXPECT_TRUE(parse_rule_item(item_with(kValidAttributes)).ok());
}

TEST(RulesItems, HostileItemsAreRefusedWithTheirReason) {
  const std::string v = kValidAttributes;
  const auto replace = [&v](const std::string& from, const std::string& to) {
    std::string out = v;
    out.replace(out.find(from), from.size(), to);
    return item_with(out);
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[1]", "not a JSON object"},
      {R"({"pk":{"S":"owner#bob"}})", "sk: missing"},
      {R"({"pk":{"N":"1"},"sk":{"S":"x"}})", "pk: expected type S"},
      {R"({"pk":{"S":"head#0"},"sk":{"S":"head"}})", "not a rule record"},
      {R"({"pk":{"S":"owner#bob"},"sk":{"S":"name#x"}})", "not a rule record"},
      {replace(R"("name":{"S":"n"},)", ""), "name: missing"},
      {replace(R"("name":{"S":"n"})", R"("name":{"S":1})"), "name: not a string"},
      {replace(R"("threshold":{"N":"1"})", R"("threshold":{"S":"1"})"), "threshold: expected type N"},
      {replace(R"("threshold":{"N":"1"})", R"("threshold":{"N":"abc"})"), "threshold: not a finite number"},
      {replace(R"("threshold":{"N":"1"})", R"("threshold":{"N":"1e999"})"), "threshold: not a finite number"},
      {replace(R"("threshold":{"N":"1"})", R"("threshold":{"N":1})"), "threshold: not a number"},
      {replace(R"("cooldown":{"N":"5"})", R"("cooldown":{"N":"5.5"})"), "cooldown: not an integer"},
      {replace(R"("arming":{"N":"0"})", R"("arming":{"N":"-1"})"), "arming: out of range"},
      {replace(R"("arming":{"N":"0"})", R"("arming":{"N":"4294967296"})"), "arming: out of range"},
      {replace(R"("condition":{"S":"price_above"})", R"("condition":{"S":"moon"})"),
       "condition: unknown value"},
      {replace(R"("state":{"S":"paused"})", R"("state":{"S":"gone"})"), "state: unknown value"},
      {replace(R"("revision":{"N":"1"})", R"("revision":{"N":"0"})"), "revision: must be >= 1"},
      {replace(R"("cooldown":{"N":"5"})", R"("cooldown":{"N":"0"})"), "cooldown_seconds: "},
      {replace(R"("symbol":{"S":"MSFT"})", R"("symbol":{"S":"bad symbol!"})"), "symbol: "},
      {item_with(v + R"(,"versions":{"M":{}})"), "versions: expected type L"},
      {item_with(v + R"(,"versions":{"L":{}})"), "versions: not a list"},
      {item_with(v + R"(,"versions":{"L":[{"S":"x"}]})"), "versions: an element is not a map"},
      {item_with(v + R"(,"versions":{"L":[)" + version_json(R"("from":{"N":"5"},"until":{"N":"5"})") + "]}"),
       "versions: until: window is empty"},
      {item_with(v + R"(,"versions":{"L":[)" + version_json(R"("until":{"N":"5"})") + "]}"),
       "versions: from: missing"},
      {item_with(v + R"(,"versions":{"L":[)" + version_json(R"("from":{"N":"1"},"enabled":{"BOOL":"no"})") +
                 "]}"),
       "versions: enabled: not a boolean"},
      {item_with(v + R"(,"versions":{"L":[)" + version_json(R"("from":{"N":"1"},"until":{"N":"9"})") + "," +
                 version_json(R"("from":{"N":"8"})") + "]}"),
       "versions: numbers not increasing"},
  };
  for (const auto& [item, reason] : cases) {
    auto parsed = parse_rule_item(item);
    ASSERT_FALSE(parsed.ok()) << item;
    EXPECT_EQ(parsed.error().code, "invalid_rule_item");
    EXPECT_TRUE(has(parsed.error().message, reason)) << parsed.error().message << " -- want " << reason;
  }
  std::string overlap = version_json(R"("from":{"N":"8"})");
  overlap.replace(overlap.find(R"("v":{"N":"1"})"), 13, R"("v":{"N":"2"})");
  auto overlapping = parse_rule_item(item_with(v + R"(,"versions":{"L":[)" +
                                               version_json(R"("from":{"N":"1"},"until":{"N":"9"})") + "," +
                                               overlap + "]}"));
  EXPECT_TRUE(has(overlapping.error().message, "versions: windows overlap"));
  EXPECT_TRUE(has(overlapping.error().message, "owner#bob rule#r9")) << "names the item";
}

TEST(RulesItems, HeadsControlsAndLogEntries) {
  EXPECT_EQ(
      parse_head_item(2, R"({"pk":{"S":"head#2"},"sk":{"S":"head"},"seq":{"N":"7"},"fence":{"N":"99"}})")
          .value(),
      (RulesHead{.shard = 2, .seq = 7, .fence_micros = 99}));
  EXPECT_EQ(parse_head_item(0, R"({"pk":{"S":"head#0"},"sk":{"S":"head"}})").value(), RulesHead{});
  EXPECT_FALSE(parse_head_item(0, R"({"pk":{"S":"head#0"},"sk":{"S":"head"},"seq":{"N":"-1"}})").ok());
  EXPECT_FALSE(parse_head_item(0, R"({"pk":{"S":"head#0"},"sk":{"S":"head"},"fence":{"S":"1"}})").ok());
  EXPECT_FALSE(parse_head_item(0, "nope").ok());

  SymbolControlRecord c{"AAPL", {}};
  c.controls.suspensions = {{kT, kT + 5}, {kT + 10, EffectiveWindow::kOpenEnd}};
  c.controls.bands = {{{kT, EffectiveWindow::kOpenEnd}, 10.5, 300}};
  const std::string item = controls_item(c);
  EXPECT_TRUE(has(item, R"("pk":{"S":"controls"},"sk":{"S":"symbol#AAPL"})")) << item;
  auto back = parse_controls_item(item);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->symbol, "AAPL");
  EXPECT_EQ(back->controls.suspensions, c.controls.suspensions);
  ASSERT_EQ(back->controls.bands.size(), 1U);
  EXPECT_EQ(back->controls.bands[0].window, c.controls.bands[0].window);
  EXPECT_EQ(back->controls.bands[0].high, 300);
  for (
      const char* bad : {
          R"({"pk":{"S":"owner#a"},"sk":{"S":"symbol#A"}})",
          R"({"pk":{"S":"controls"},"sk":{"S":"rule#A"}})",
          R"({"pk":{"S":"controls"},"sk":{"S":"symbol#A"},"suspensions":{"L":[{"M":{"from":{"N":"5"},"until":{"N":"1"}}}]}})",
          R"({"pk":{"S":"controls"},"sk":{"S":"symbol#A"},"bands":{"L":[{"M":{"from":{"N":"1"},"low":{"N":"5"},"high":{"N":"5"}}}]}})",
          R"({"pk":{"S":"controls"},"sk":{"S":"symbol#A"},"bands":{"L":[{"M":{"from":{"N":"1"},"low":{"N":"5"}}}]}})",
          R"({"pk":{"S":"controls"},"sk":{"S":"symbol#A"},"bands":{"S":"x"}})",
          "[]",
      }) {
    EXPECT_FALSE(parse_controls_item(bad).ok()) << bad;
  }

  auto rule_entry = parse_log_item(
      R"({"pk":{"S":"log#0"},"sk":{"S":"0001795617005000000#rule#r1#4"},"owner":{"S":"alice"},"rule_id":{"S":"r1"},"seq":{"N":"12"}})");
  ASSERT_TRUE(rule_entry.ok()) << rule_entry.error().message;
  EXPECT_EQ(rule_entry.value(), (ChangeEntry{"alice", "r1", "", 1795617005000000LL, 12}));
  auto symbol_entry = parse_log_item(
      R"({"pk":{"S":"log#0"},"sk":{"S":"0000000000000000005#symbol#AAPL#t"},"symbol":{"S":"AAPL"},"seq":{"N":"1"}})");
  EXPECT_EQ(symbol_entry.value(), (ChangeEntry{"", "", "AAPL", 5, 1}));
  for (
      const char* bad : {
          R"({"pk":{"S":"log#0"},"sk":{"S":"12#rule#r1#4"},"rule_id":{"S":"r1"},"seq":{"N":"1"}})",
          R"({"pk":{"S":"logs"},"sk":{"S":"0001795617005000000#r"},"rule_id":{"S":"r1"},"seq":{"N":"1"}})",
          R"({"pk":{"S":"log#0"},"sk":{"S":"0001795617005000000#r"},"rule_id":{"S":"r1"}})",
          R"({"pk":{"S":"log#0"},"sk":{"S":"0001795617005000000#r"},"seq":{"N":"1"}})",
          R"({"pk":{"S":"log#0"},"sk":{"S":"0001795617005000000#r"},"rule_id":{"S":"r"},"symbol":{"S":"A"},"seq":{"N":"1"}})",
          "{",
      }) {
    EXPECT_FALSE(parse_log_item(bad).ok()) << bad;
  }
}

TEST(RulesItems, RuleIdsAndShards) {
  std::array<std::uint8_t, 16> bits{};
  EXPECT_EQ(rule_id_from_bits(bits), std::string(26, '0'));
  bits.fill(0xff);
  EXPECT_EQ(rule_id_from_bits(bits), std::string(25, 'v') + "s");  // the last 3 bits, padded with zeros
  bits.fill(0);
  bits[15] = 1;
  EXPECT_EQ(rule_id_from_bits(bits), std::string(25, '0') + "4");
  EXPECT_EQ(shard_for("alice", 1), 0U);
  EXPECT_EQ(shard_for("alice", 0), 0U);
  EXPECT_EQ(shard_for("", 1000), 14695981039346656037ULL % 1000);  // FNV-1a's offset basis: stable
  std::set<std::uint32_t> seen;
  for (int i = 0; i < 64; ++i) seen.insert(shard_for("owner-" + std::to_string(i), 4));
  EXPECT_EQ(seen, (std::set<std::uint32_t>{0, 1, 2, 3}));
}

ChangePlan plan_for(const RuleRecord& next, int quota_delta) {
  ChangePlan p;
  p.next = next;
  p.quota_delta = quota_delta;
  return p;
}

TEST(RulesRequests, CreateChecksFenceAbsenceNameAndQuotaInOneTransaction) {
  const RulesTableSettings settings{.table = "alert-rules-dev", .shards = 4, .log_ttl_seconds = 100};
  RuleRecord next = record();
  next.revision = 1;
  const RulesHead head{.shard = 3, .seq = 41, .fence_micros = kT - 5};
  const auto tx = rules_commit_request(settings, head, std::nullopt, plan_for(next, 1), kT, 1000);
  ASSERT_EQ(tx.items.size(), 5U);
  const auto& h = std::get<dynamodb::UpdateItem>(tx.items[0]);
  EXPECT_EQ(h.key_json, R"({"pk":{"S":"head#3"},"sk":{"S":"head"}})");
  EXPECT_EQ(h.update_expression, "ADD #seq :one");
  EXPECT_EQ(h.condition_expression, "attribute_not_exists(#f) OR #f < :eff");
  EXPECT_EQ(h.values_json, R"({":one":{"N":"1"},":eff":{"N":"1795617000000000"}})");
  EXPECT_TRUE(h.return_old_on_condition_failure);
  const auto& rec = std::get<dynamodb::PutItem>(tx.items[1]);
  EXPECT_EQ(rec.item_json, rule_item(next));
  EXPECT_EQ(rec.condition_expression, "attribute_not_exists(#pk)");
  const auto& log = std::get<dynamodb::PutItem>(tx.items[2]);
  EXPECT_EQ(log.item_json,
            R"({"pk":{"S":"log#3"},"sk":{"S":"0001795617000000000#rule#r1#1"},"owner":{"S":"alice"},)"
            R"("rule_id":{"S":"r1"},"seq":{"N":"42"},"ttl":{"N":"1795617100"}})");
  const auto& name = std::get<dynamodb::PutItem>(tx.items[3]);
  EXPECT_EQ(name.item_json, R"({"pk":{"S":"owner#alice"},"sk":{"S":"name#breakout"},"rule_id":{"S":"r1"}})");
  EXPECT_EQ(name.condition_expression, "attribute_not_exists(#pk)");
  const auto& quota = std::get<dynamodb::UpdateItem>(tx.items[4]);
  EXPECT_EQ(quota.key_json, R"({"pk":{"S":"owner#alice"},"sk":{"S":"quota"}})");
  EXPECT_EQ(quota.update_expression, "ADD #c :d");
  EXPECT_EQ(quota.condition_expression, "attribute_not_exists(#c) OR #c < :q");
  EXPECT_EQ(quota.values_json, R"({":d":{"N":"1"},":q":{"N":"1000"}})");
  const std::string body = dynamodb::render(tx);
  EXPECT_FALSE(has(body, "IndexName"));
}

TEST(RulesRequests, EditsRenamesAndDeletesTouchOnlyWhatChanges) {
  const RulesTableSettings settings{.table = "t", .shards = 1, .log_ttl_seconds = 0};
  const RuleRecord read = record();
  const RulesHead head{};
  RuleRecord edited = read;
  edited.revision = 4;
  auto tx = rules_commit_request(settings, head, read, plan_for(edited, 0), kT, 1000);
  ASSERT_EQ(tx.items.size(), 3U) << "an edit keeping the name: head, record, log";
  const auto& rec = std::get<dynamodb::PutItem>(tx.items[1]);
  EXPECT_EQ(rec.condition_expression, "#rev = :rev");
  EXPECT_EQ(rec.values_json, R"({":rev":{"N":"3"}})");

  edited.spec.name = "breakout-2";
  tx = rules_commit_request(settings, head, read, plan_for(edited, 0), kT, 1000);
  ASSERT_EQ(tx.items.size(), 5U) << "a rename: the new name if free, the old one released";
  EXPECT_TRUE(has(std::get<dynamodb::PutItem>(tx.items[3]).item_json, "name#breakout-2"));
  EXPECT_EQ(std::get<dynamodb::DeleteItem>(tx.items[4]).key_json,
            R"({"pk":{"S":"owner#alice"},"sk":{"S":"name#breakout"}})");

  RuleRecord deleted = read;
  deleted.state = RuleState::deleted;
  tx = rules_commit_request(settings, head, read, plan_for(deleted, -1), kT, 1000);
  ASSERT_EQ(tx.items.size(), 5U) << "a delete releases the name and the quota";
  EXPECT_TRUE(has(std::get<dynamodb::DeleteItem>(tx.items[3]).key_json, "name#breakout"));
  const auto& quota = std::get<dynamodb::UpdateItem>(tx.items[4]);
  EXPECT_EQ(quota.condition_expression, "");
  EXPECT_EQ(quota.values_json, R"({":d":{"N":"-1"}})");
}

TEST(RulesRequests, TheFenceIsOneConditionalWriteReturningTheHeadEitherWay) {
  const auto u = fence_request("t", 5, kT);
  EXPECT_EQ(u.key_json, R"({"pk":{"S":"head#5"},"sk":{"S":"head"}})");
  EXPECT_EQ(u.update_expression, "SET #f = :t");
  EXPECT_EQ(u.condition_expression, "attribute_not_exists(#f) OR #f < :t");
  EXPECT_EQ(u.return_values, "ALL_NEW");
  EXPECT_TRUE(u.return_old_on_condition_failure);

  const RulesTableSettings settings{.table = "t", .shards = 1, .log_ttl_seconds = 0};
  SymbolControlRecord c{"AAPL", {}};
  const auto tx = controls_commit_request(settings, RulesHead{}, c, kT, "tok");
  ASSERT_EQ(tx.items.size(), 3U);
  EXPECT_EQ(std::get<dynamodb::UpdateItem>(tx.items[0]).condition_expression,
            "attribute_not_exists(#f) OR #f < :eff");
  EXPECT_EQ(std::get<dynamodb::PutItem>(tx.items[1]).item_json, controls_item(c));
  EXPECT_TRUE(has(std::get<dynamodb::PutItem>(tx.items[2]).item_json,
                  R"("sk":{"S":"0001795617000000000#symbol#AAPL#tok"})"));
  EXPECT_EQ(tx.client_request_token, "tok");
}

class RulesStoreTest : public ::testing::Test {
 protected:
  RulesStoreTest()
      : retry(
            RetryConfig{.max_attempts = 1}, [] { return 0.0; }, [] { return SteadyClock::now(); }),
        transport(scripted_transport(http, retry)),
        ddb(transport, "http://127.0.0.1:1", "us-east-1"),
        store(ddb, RulesTableSettings{.table = "rules", .shards = 2, .log_ttl_seconds = 10},
              [] { return std::string("token-1"); }) {}

  static Deadline far() { return SteadyClock::now() + std::chrono::seconds(30); }
  void cancelled(const std::string& reasons) {
    http.reply(400, R"({"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException",)"
                    R"("message":"cancelled","CancellationReasons":)" +
                        reasons + "}");
  }

  ScriptedHttp http;
  RetryPolicy retry;
  AwsTransport transport;
  dynamodb::Client ddb;
  DynamoDbRulesStore store;
};

TEST_F(RulesStoreTest, AdvanceFenceReturnsTheHeadWhetherItWonOrLost) {
  http.reply(200,
             R"({"Attributes":{"pk":{"S":"head#1"},"sk":{"S":"head"},"seq":{"N":"3"},"fence":{"N":"50"}}})");
  EXPECT_EQ(store.advance_fence(1, 50, far()).value(), (RulesHead{.shard = 1, .seq = 3, .fence_micros = 50}));
  EXPECT_EQ(http.target(0), "DynamoDB_20120810.UpdateItem");
  EXPECT_TRUE(
      has(http.body(0), R"("ReturnValuesOnConditionCheckFailure":"ALL_OLD","ReturnValues":"ALL_NEW")"));

  http.reply(400, R"({"__type":"x#ConditionalCheckFailedException","message":"no",)"
                  R"("Item":{"pk":{"S":"head#1"},"sk":{"S":"head"},"seq":{"N":"4"},"fence":{"N":"60"}}})");
  EXPECT_EQ(store.advance_fence(1, 55, far()).value(), (RulesHead{.shard = 1, .seq = 4, .fence_micros = 60}));
  EXPECT_EQ(http.requests.size(), 2U) << "a lost race costs no second request";

  http.reply(400, R"({"__type":"x#ConditionalCheckFailedException","message":"no"})");
  EXPECT_EQ(store.advance_fence(1, 55, far()).error().code, "ConditionalCheckFailedException");
  http.reply(400, R"({"__type":"x#AccessDeniedException","message":"no"})");
  EXPECT_EQ(store.advance_fence(1, 55, far()).error().code, "AccessDeniedException");
  http.reply(200, R"({"Attributes":{"pk":{"S":"head#1"},"sk":{"S":"head"},"fence":{"S":"x"}}})");
  EXPECT_EQ(store.advance_fence(1, 55, far()).error().code, "invalid_rule_item");
}

TEST_F(RulesStoreTest, CommitMapsEachRefusedConditionToItsStatus) {
  RuleRecord next = record();
  const RulesHead head{.shard = 1, .seq = 9, .fence_micros = 10};
  http.reply(200, "{}");
  auto ok = store.commit(head, std::nullopt, plan_for(next, 1), kT, 1000, far());
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->status, CommitResult::Status::committed);
  EXPECT_EQ(ok->head, (RulesHead{.shard = 1, .seq = 10, .fence_micros = 10}));
  EXPECT_EQ(http.target(0), "DynamoDB_20120810.TransactWriteItems");
  EXPECT_TRUE(has(http.body(0), R"("ClientRequestToken":"token-1")"));

  const std::string head_image =
      R"("Item":{"pk":{"S":"head#1"},"sk":{"S":"head"},"seq":{"N":"12"},"fence":{"N":"99"}})";
  cancelled(R"([{"Code":"ConditionalCheckFailed",)" + head_image +
            R"(},{"Code":"None"},{"Code":"None"},{"Code":"ConditionalCheckFailed"},{"Code":"None"}])");
  auto passed = store.commit(head, std::nullopt, plan_for(next, 1), kT, 1000, far());
  EXPECT_EQ(passed->status, CommitResult::Status::fence_passed);
  EXPECT_EQ(passed->head, (RulesHead{.shard = 1, .seq = 12, .fence_micros = 99})) << "where the fence is now";

  cancelled(
      R"([{"Code":"None"},{"Code":"ConditionalCheckFailed"},{"Code":"None"},{"Code":"ConditionalCheckFailed"},{"Code":"None"}])");
  EXPECT_EQ(store.commit(head, std::nullopt, plan_for(next, 1), kT, 1000, far())->status,
            CommitResult::Status::stale);
  cancelled(
      R"([{"Code":"None"},{"Code":"None"},{"Code":"None"},{"Code":"ConditionalCheckFailed"},{"Code":"ConditionalCheckFailed"}])");
  EXPECT_EQ(store.commit(head, std::nullopt, plan_for(next, 1), kT, 1000, far())->status,
            CommitResult::Status::name_taken);
  cancelled(
      R"([{"Code":"None"},{"Code":"None"},{"Code":"None"},{"Code":"None"},{"Code":"ConditionalCheckFailed"}])");
  auto full = store.commit(head, std::nullopt, plan_for(next, 1), kT, 1000, far());
  EXPECT_EQ(full->status, CommitResult::Status::quota_exceeded);
  EXPECT_EQ(full->head, head);

  cancelled(R"([{"Code":"TransactionConflict"},{"Code":"None"},{"Code":"None"}])");
  EXPECT_EQ(store.commit(head, record(), plan_for(next, 0), kT, 1000, far()).error().code,
            "TransactionCanceledException");
  cancelled(R"([{"Code":"None"},{"Code":"None"},{"Code":"None"}])");
  EXPECT_EQ(store.commit(head, record(), plan_for(next, 0), kT, 1000, far()).error().code,
            "TransactionCanceledException");
  http.reply(400, R"({"__type":"x#ValidationException","message":"too big"})");
  EXPECT_EQ(store.commit(head, record(), plan_for(next, 0), kT, 1000, far()).error().code,
            "ValidationException");

  http.reply(200, "{}");
  EXPECT_EQ(store.commit_controls(head, SymbolControlRecord{"AAPL", {}}, kT, far())->status,
            CommitResult::Status::committed);
  cancelled(R"([{"Code":"ConditionalCheckFailed"},{"Code":"None"},{"Code":"None"}])");
  auto controls = store.commit_controls(head, SymbolControlRecord{"AAPL", {}}, kT, far());
  EXPECT_EQ(controls->status, CommitResult::Status::fence_passed);
  EXPECT_EQ(controls->head, head) << "no image: the head as read";
}

TEST_F(RulesStoreTest, ScanReadsEveryPageConsistentlySkipsHostileAndExpiredRecords) {
  RuleRecord old = record();
  old.id = "old";
  old.versions = {version(1, kT - 5000, kT - 4000)};
  RuleRecord current = record();
  http.reply(200, R"({"Items":[)" + rule_item(current) + "," + item_with(R"("name":{"N":"1"})") +
                      R"(],"LastEvaluatedKey":{"pk":{"S":"owner#alice"},"sk":{"S":"rule#r1"}}})");
  http.reply(200, R"({"Items":[)" + rule_item(old) + "]}");
  auto read = store.scan(3, 8, kT - 3000, far());
  ASSERT_TRUE(read.ok()) << read.error().message;
  ASSERT_EQ(read->records.size(), 1U);
  EXPECT_EQ(read->records[0], current);
  ASSERT_EQ(read->invalid.size(), 1U);
  EXPECT_TRUE(has(read->invalid[0], "owner#bob rule#r9: name: expected type S")) << read->invalid[0];
  ASSERT_EQ(http.requests.size(), 2U);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(http.target(i), "DynamoDB_20120810.Scan");
    EXPECT_TRUE(has(http.body(i), R"("ConsistentRead":true,"Segment":3,"TotalSegments":8)")) << http.body(i);
    EXPECT_FALSE(has(http.body(i), "IndexName"));
  }
  EXPECT_TRUE(has(http.body(1), R"("ExclusiveStartKey":{"pk":{"S":"owner#alice"},"sk":{"S":"rule#r1"}})"));
  http.reply(500, R"({"__type":"x#InternalServerError"})");
  EXPECT_FALSE(store.scan(0, 1, 0, far()).ok());
}

TEST_F(RulesStoreTest, RefreshReadsTheLogThenTheChangedRecordsByKey) {
  http.reply(
      200,
      R"({"Items":[{"pk":{"S":"log#1"},"sk":{"S":"0001795617000000000#rule#r1#3"},"owner":{"S":"alice"},)"
      R"("rule_id":{"S":"r1"},"seq":{"N":"3"}},{"pk":{"S":"log#1"},"sk":{"S":"junk"}}],)"
      R"("LastEvaluatedKey":{"pk":{"S":"log#1"},"sk":{"S":"x"}}})");
  http.reply(200, R"({"Items":[]})");
  auto entries = store.changes_from(1, kT - 7, far());
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 1U);
  EXPECT_EQ(entries->at(0).rule_id, "r1");
  EXPECT_EQ(http.target(0), "DynamoDB_20120810.Query");
  EXPECT_TRUE(has(http.body(0), R"({":pk":{"S":"log#1"},":from":{"S":"0001795616999999993"}})"))
      << http.body(0);
  EXPECT_TRUE(has(http.body(0), R"("ConsistentRead":true)"));
  EXPECT_FALSE(has(http.body(0), "IndexName"));
  EXPECT_TRUE(has(http.body(1), "ExclusiveStartKey"));
  http.reply(400, R"({"__type":"x#AccessDeniedException"})");
  EXPECT_FALSE(store.changes_from(1, -5, far()).ok());
  EXPECT_TRUE(has(http.body(2), R"(":from":{"S":"0000000000000000000"})"));

  const std::vector<ChangeEntry> changed = {{"alice", "r1", "", kT, 3},
                                            {"alice", "r1", "", kT + 1, 4},
                                            {"", "", "AAPL", kT, 5},
                                            {"bob", "r9", "", kT, 6}};
  http.reply(
      200, R"({"Responses":{"rules":[)" + rule_item(record()) + "," + item_with(R"("x":{"S":"y"})") + "]}}");
  auto read = store.records(changed, far());
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->records, std::vector<RuleRecord>{record()});
  EXPECT_EQ(read->invalid.size(), 1U);
  EXPECT_EQ(http.target(3), "DynamoDB_20120810.BatchGetItem");
  EXPECT_EQ(http.body(3),
            R"({"RequestItems":{"rules":{"Keys":[{"pk":{"S":"owner#alice"},"sk":{"S":"rule#r1"}},)"
            R"({"pk":{"S":"owner#bob"},"sk":{"S":"rule#r9"}}],"ConsistentRead":true}}})");
  EXPECT_TRUE(store.records({{"", "", "AAPL", kT, 5}}, far())->records.empty());
  EXPECT_EQ(http.requests.size(), 4U) << "nothing to read, no request";
  http.reply(400, R"({"__type":"x#AccessDeniedException"})");
  EXPECT_FALSE(store.records(changed, far()).ok());

  SymbolControlRecord c{"AAPL", {}};
  c.controls.suspensions = {{kT, kT + 1}};
  http.reply(200, R"({"Items":[)" + controls_item(c) + R"(,{"pk":{"S":"controls"},"sk":{"S":"bad"}}]})");
  auto controls = store.controls(far());
  ASSERT_EQ(controls->size(), 1U);
  EXPECT_EQ(controls->at(0).controls.suspensions, c.controls.suspensions);
  EXPECT_TRUE(has(http.body(5), R"({":pk":{"S":"controls"}})"));
  http.reply(400, R"({"__type":"x#AccessDeniedException"})");
  EXPECT_FALSE(store.controls(far()).ok());
}

TEST_F(RulesStoreTest, WritersReadTheHeadARecordAndAnOwnersRules) {
  EXPECT_EQ(store.shards(), 2U);
  EXPECT_EQ(store.shard_of("alice"), shard_for("alice", 2));
  http.reply(200, R"({"Responses":{"rules":[]}})");
  EXPECT_EQ(store.head(1, far()).value(), (RulesHead{.shard = 1, .seq = 0, .fence_micros = 0}));
  EXPECT_TRUE(has(http.body(0), R"({"pk":{"S":"head#1"},"sk":{"S":"head"}})"));
  http.reply(200, R"({"Responses":{"rules":[{"pk":{"S":"head#1"},"sk":{"S":"head"},"seq":{"N":"2"}}]}})");
  EXPECT_EQ(store.head(1, far())->seq, 2U);
  http.reply(200, R"({"Responses":{"rules":[{"pk":{"S":"head#1"},"sk":{"S":"head"},"seq":{"S":"2"}}]}})");
  EXPECT_EQ(store.head(1, far()).error().code, "invalid_rule_item");
  http.reply(400, R"({"__type":"x#AccessDeniedException"})");
  EXPECT_FALSE(store.head(1, far()).ok());

  http.reply(200, R"({"Responses":{"rules":[]}})");
  EXPECT_FALSE(store.get("alice", "r1", far()).value().has_value());
  http.reply(200, R"({"Responses":{"rules":[)" + rule_item(record()) + "]}}");
  EXPECT_EQ(store.get("alice", "r1", far()).value(), record());
  http.reply(200, R"({"Responses":{"rules":[)" + item_with(R"("x":{"S":"y"})") + "]}}");
  EXPECT_EQ(store.get("bob", "r9", far()).error().code, "invalid_rule_item");
  http.reply(400, R"({"__type":"x#AccessDeniedException"})");
  EXPECT_FALSE(store.get("alice", "r1", far()).ok());

  RuleRecord gone = record();
  gone.id = "r2";
  gone.state = RuleState::deleted;
  const std::string page = R"({"Items":[)" + rule_item(record()) + "," + rule_item(gone) + "," +
                           item_with(R"("x":{"S":"y"})") + "]}";
  http.reply(200, page);
  EXPECT_EQ(store.list("alice", false, far())->size(), 1U);
  EXPECT_TRUE(has(http.requests.back().body, R"({":pk":{"S":"owner#alice"},":rule":{"S":"rule#"}})"));
  EXPECT_TRUE(has(http.requests.back().body,
                  R"j("KeyConditionExpression":"#pk = :pk AND begins_with(#sk, :rule)")j"));
  http.reply(200, page);
  EXPECT_EQ(store.list("alice", true, far())->size(), 2U);
  http.reply(400, R"({"__type":"x#AccessDeniedException"})");
  EXPECT_FALSE(store.list("alice", true, far()).ok());
}

}  // namespace
}  // namespace tap
