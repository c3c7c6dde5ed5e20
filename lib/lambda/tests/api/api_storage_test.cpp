// The API's storage additions on DynamoDB, request by request over scripted HTTP: the rules store's paged
// list (rules_dynamodb.hpp), the idempotency records and the cursor keys in the rules table, and the `once`
// marker read of the state table (dynamodb_store.hpp, with the processor's marker key).
#include <gtest/gtest.h>

#include "scripted_http.hpp"
#include "tap/app/dynamodb_store.hpp"
#include "tap/app/rules_dynamodb.hpp"

namespace tap {
namespace {

bool has(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

class ApiStorageTest : public ::testing::Test {
 protected:
  ApiStorageTest()
      : retry(
            RetryConfig{.max_attempts = 1}, [] { return 0.0; }, [] { return SteadyClock::now(); }),
        transport(scripted_transport(http, retry)),
        ddb(transport, "http://127.0.0.1:1", "us-east-1"),
        store(ddb, RulesTableSettings{.table = "rules"}, [] { return std::string("t"); }) {}
  static Deadline far() { return SteadyClock::now() + std::chrono::seconds(30); }

  // A stored rule record item of `owner` with id `id` (through the adapter's own writer).
  static std::string rule(const std::string& id, RuleState state = RuleState::active) {
    RuleRecord r;
    r.id = id;
    r.owner = "alice";
    r.spec.name = "n" + id;
    r.spec.symbol = "AAPL";
    r.spec.threshold = 1;
    r.state = state;
    r.revision = 1;
    return rule_item(r);
  }

  ScriptedHttp http;
  RetryPolicy retry;
  AwsTransport transport;
  dynamodb::Client ddb;
  DynamoDbRulesStore store;
};

TEST_F(ApiStorageTest, AListPageIsOneQueryWithLimitFromTheRuleAfterAndSaysWhereTheNextStarts) {
  http.reply(200, R"({"Items":[)" + rule("a") + "," + rule("b", RuleState::deleted) +
                      R"(],"LastEvaluatedKey":{"pk":{"S":"owner#alice"},"sk":{"S":"rule#b"}}})");
  auto page = store.list_page("alice", false, 2, "", far());
  ASSERT_TRUE(page.ok()) << page.error().message;
  ASSERT_EQ(page->records.size(), 1U);  // the deleted one was read, not listed
  EXPECT_EQ(page->records[0].id, "a");
  EXPECT_EQ(page->next, "b");
  EXPECT_EQ(http.target(0), "DynamoDB_20120810.Query");
  EXPECT_TRUE(has(http.body(0), R"("ConsistentRead":true)"));
  EXPECT_TRUE(has(http.body(0), R"("Limit":2)"));
  EXPECT_FALSE(has(http.body(0), "ExclusiveStartKey"));

  http.reply(200, R"({"Items":[)" + rule("c", RuleState::deleted) + "]}");
  auto last = store.list_page("alice", true, 2, "b", far());
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->records.size(), 1U);
  EXPECT_EQ(last->next, "");
  EXPECT_TRUE(has(http.body(1), R"("ExclusiveStartKey":{"pk":{"S":"owner#alice"},"sk":{"S":"rule#b"}})"));

  http.reply(200, R"({"Items":[],"LastEvaluatedKey":{"pk":{"S":"owner#alice"},"sk":{"S":"name#x"}}})");
  EXPECT_EQ(store.list_page("alice", false, 2, "", far()).error().code, "invalid_rule_item");
  http.reply(400, R"({"__type":"x#AccessDeniedException","message":"no"})");
  EXPECT_EQ(store.list_page("alice", false, 2, "", far()).error().code, "AccessDeniedException");
}

TEST_F(ApiStorageTest, IdempotencyRecordsRoundTripAndAreTakenByOneConditionalPut) {
  const IdempotencyRecord done{.fingerprint = "fp",
                               .complete = true,
                               .status = 201,
                               .headers = "ETag: \"1\"\n",
                               .body = "{}",
                               .expires_at_micros = 86'400'000'000,
                               .lease_until_micros = 60'000'000};
  const std::string item = idempotency_item("alice", "k1", done);
  EXPECT_TRUE(has(item, R"("pk":{"S":"owner#alice"},"sk":{"S":"idem#k1"})"));
  EXPECT_TRUE(has(item, R"("ttl":{"N":"86400"})"));
  EXPECT_EQ(parse_idempotency_item(item).value(), done);
  EXPECT_FALSE(parse_idempotency_item(R"({"pk":{"S":"owner#alice"},"sk":{"S":"idem#k1"}})").ok());

  DynamoDbIdempotency records(ddb, "rules");
  http.reply(200, "{}");
  EXPECT_EQ(records.take("alice", "k1", done, 5, far()).value(), std::nullopt);
  EXPECT_EQ(http.target(0), "DynamoDB_20120810.PutItem");
  EXPECT_TRUE(has(http.body(0), R"x("ConditionExpression":"attribute_not_exists(pk) OR #expires <= :now OR )x"
                                R"x((#done = :false AND #lease <= :now)")x"));
  EXPECT_TRUE(has(http.body(0), R"("ReturnValuesOnConditionCheckFailure":"ALL_OLD")"));
  http.reply(400, R"({"__type":"x#ConditionalCheckFailedException","message":"no","Item":)" + item + "}");
  EXPECT_EQ(records.take("alice", "k1", done, 5, far()).value(), done);
  http.reply(400, R"({"__type":"x#ConditionalCheckFailedException","message":"no","Item":{"pk":{"S":"x"}}})");
  EXPECT_EQ(records.take("alice", "k1", done, 5, far()).error().code, "invalid_rule_item");
  http.reply(400, R"({"__type":"x#AccessDeniedException","message":"no"})");
  EXPECT_EQ(records.take("alice", "k1", done, 5, far()).error().code, "AccessDeniedException");

  http.reply(200, "{}");
  EXPECT_TRUE(records.complete("alice", "k1", done, far()).value());
  EXPECT_TRUE(has(http.body(4), R"("ConditionExpression":"#fp = :fp")"));
  http.reply(400, R"({"__type":"x#ConditionalCheckFailedException","message":"no"})");
  EXPECT_FALSE(records.complete("alice", "k1", done, far()).ok());

  http.reply(200, "{}");
  EXPECT_TRUE(records.release("alice", "k1", far()).value());
  EXPECT_EQ(http.target(6), "DynamoDB_20120810.UpdateItem");
  EXPECT_TRUE(has(http.body(6), R"("UpdateExpression":"SET #lease = :zero")"));
  http.reply(400, R"({"__type":"x#ConditionalCheckFailedException","message":"no"})");
  EXPECT_FALSE(records.release("alice", "k1", far()).ok());
}

TEST_F(ApiStorageTest, AMarkerIsOneConsistentReadOfTheProcessorsKey) {
  DynamoDbOnceMarkers markers(ddb, "state");
  http.reply(200, R"({"Responses":{"state":[)" + marker_key_json("r1", 2) + "]}}");
  EXPECT_TRUE(markers.marker_exists("r1", 2, far()).value());
  EXPECT_TRUE(has(http.body(0), marker_key_json("r1", 2)));
  EXPECT_TRUE(has(http.body(0), R"("ConsistentRead":true)"));
  http.reply(200, R"({"Responses":{"state":[]}})");
  EXPECT_FALSE(markers.marker_exists("r1", 3, far()).value());
  http.reply(400, R"({"__type":"x#AccessDeniedException","message":"no"})");
  EXPECT_FALSE(markers.marker_exists("r1", 3, far()).ok());
}

TEST_F(ApiStorageTest, CursorKeysAreTheirPartitionsKeyItemsAndAnAddNeverOverwritesOne) {
  DynamoDbCursorKeyStore keys(ddb, "rules");
  const StoredCursorKey key{"p700",
                            std::string("\x01\xff"
                                        "blob",
                                        6),
                            1'800'000'000};
  const std::string item = cursor_key_item(key);
  // An item of the keys' partition that is not a key (written by hand, say) is no key of ours: passed
  // over, so that a cursor naming it is refused as unknown_key (tap/api/cursor.hpp).
  const std::string stray =
      R"({"pk":{"S":"apikeys"},"sk":{"S":"note#p701"},"blob":{"B":"AQ=="},"ttl":{"N":"1"}})";
  EXPECT_FALSE(parse_cursor_key_item(stray).ok());
  http.reply(200, R"({"Items":[)" + stray + "," + item + "]}");
  auto listed = keys.list(far());
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  ASSERT_EQ(listed->size(), 1U);
  EXPECT_EQ(listed->at(0).id, "p700");
  EXPECT_EQ(listed->at(0).ciphertext, key.ciphertext);
  EXPECT_EQ(listed->at(0).expires_at_seconds, key.expires_at_seconds);
  EXPECT_EQ(http.target(0), "DynamoDB_20120810.Query");
  EXPECT_TRUE(has(http.body(0), R"(":pk":{"S":"apikeys"})"));

  // An add is one conditional put: true when it stored the key, false when another instance's key of the
  // same id won the race (the caller reads the winner's), the store's error otherwise.
  http.reply(200, "{}");
  EXPECT_TRUE(keys.add(key, far()).value());
  EXPECT_EQ(http.target(1), "DynamoDB_20120810.PutItem");
  EXPECT_TRUE(has(http.body(1), item));
  EXPECT_TRUE(has(http.body(1), R"x("ConditionExpression":"attribute_not_exists(#pk)")x"));
  http.reply(
      400, R"({"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"no"})");
  EXPECT_FALSE(keys.add(key, far()).value());
  http.reply(400, R"({"__type":"x#AccessDeniedException","message":"no"})");
  const auto denied = keys.add(key, far());
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.error().code, "AccessDeniedException");
}

}  // namespace
}  // namespace tap
