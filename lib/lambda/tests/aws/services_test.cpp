// ServiceClient (sign + send + classify + retry) and the DynamoDB / SNS / SQS / KMS calls over a scripted
// fake HttpClient, with a fake clock, random source and sleep.
#include <gtest/gtest.h>

#include <deque>

#include "tap/aws/dynamodb.hpp"
#include "tap/aws/kms.hpp"
#include "tap/aws/sns.hpp"
#include "tap/aws/sqs.hpp"

namespace tap {
namespace {

using namespace std::chrono_literals;

class FakeHttp : public HttpClient {
 public:
  Result<HttpResponse> send(const HttpRequest& request, Deadline) override {
    sent.push_back(request);
    if (script.empty()) return Error{"NoScript", "unexpected request"};
    auto next = std::move(script.front());
    script.pop_front();
    return next;
  }
  void reply(int status, std::string body, HeaderList headers = {}) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    r.headers = std::move(headers);
    script.emplace_back(std::move(r));
  }
  void fail(const char* code) { script.emplace_back(Error{code, "transport"}); }

  std::deque<Result<HttpResponse>> script;
  std::vector<HttpRequest> sent;
};

class Services : public ::testing::Test {
 protected:
  Services()
      : retry_(
            RetryConfig{4, 10ms, 100ms, 50ms}, [] { return 0.5; }, [this] { return now_; }) {
    transport_.http = &http_;
    transport_.credentials = {"AKID", "SECRET", "TOKEN"};
    transport_.retry = &retry_;
    transport_.wall_clock = [] { return std::chrono::system_clock::from_time_t(1795617007); };
    transport_.sleep = [this](std::chrono::microseconds d) {
      sleeps_.push_back(d);
      now_ += d;
    };
  }
  Deadline deadline(std::chrono::milliseconds ms = 10s) { return now_ + ms; }

  FakeHttp http_;
  SteadyClock::time_point now_{};
  RetryPolicy retry_;
  AwsTransport transport_;
  std::vector<std::chrono::microseconds> sleeps_;
};

TEST_F(Services, RequestsAreSignedAndShapedPerProtocol) {
  ServiceClient json(transport_, "http://127.0.0.1:5000", "us-east-1", "dynamodb", Protocol::kJson);
  HttpRequest r = json.json_request("DynamoDB_20120810.UpdateItem", "{}");
  EXPECT_EQ(*r.header("content-type"), "application/x-amz-json-1.0");
  EXPECT_EQ(*r.header("x-amz-target"), "DynamoDB_20120810.UpdateItem");
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(json.endpoint(), "http://127.0.0.1:5000");
  http_.reply(200, "{}");
  ASSERT_TRUE(json.call(r, deadline()).ok());
  const HttpRequest& sent = http_.sent.at(0);
  EXPECT_EQ(*sent.header("X-Amz-Date"), "20261125T143007Z");
  EXPECT_EQ(*sent.header("X-Amz-Security-Token"), "TOKEN");
  // The Authorization is what our signer gives for exactly these headers (re-derived independently).
  HttpRequest again = r;
  const auto sig =
      sigv4::Signer("us-east-1", "dynamodb").sign(again, transport_.credentials, transport_.wall_clock());
  EXPECT_EQ(*sent.header("Authorization"), sig.authorization);
  EXPECT_NE(
      sig.authorization.find("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target"),
      std::string::npos);

  ServiceClient query(transport_, "https://sns.us-east-1.amazonaws.com", "us-east-1", "sns",
                      Protocol::kQuery);
  HttpRequest q = query.query_request("Action=Publish");
  EXPECT_EQ(*q.header("content-type"), "application/x-www-form-urlencoded; charset=utf-8");
  EXPECT_EQ(q.body, "Action=Publish");
}

TEST_F(Services, RetryableErrorsAreRetriedWithBackoffThenSucceed) {
  ServiceClient c(transport_, "http://h", "us-east-1", "dynamodb", Protocol::kJson);
  http_.reply(400, R"({"__type":"x#ProvisionedThroughputExceededException"})");
  http_.fail(kNetworkError);
  http_.reply(500, "");
  http_.reply(200, "ok");
  auto r = c.call(c.json_request("T", "{}"), deadline());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, "ok");
  EXPECT_EQ(http_.sent.size(), 4U);
  EXPECT_EQ(sleeps_, (std::vector<std::chrono::microseconds>{5000us, 10000us, 20000us}));
  EXPECT_EQ(retry_.retries(), 3U);
}

TEST_F(Services, NonRetryableErrorsFailFastAndRetriesStopAtMaxAttempts) {
  ServiceClient c(transport_, "http://h", "us-east-1", "dynamodb", Protocol::kJson);
  http_.reply(400, R"({"__type":"x#ValidationException","message":"bad"})");
  auto fatal = c.call(c.json_request("T", "{}"), deadline());
  ASSERT_FALSE(fatal.ok());
  EXPECT_EQ(fatal.error().code, "ValidationException");
  EXPECT_EQ(fatal.error().attempts, 1);
  EXPECT_TRUE(sleeps_.empty());

  for (int i = 0; i < 4; ++i) http_.reply(503, "");
  auto exhausted = c.call(c.json_request("T", "{}"), deadline());
  ASSERT_FALSE(exhausted.ok());
  EXPECT_EQ(exhausted.error().attempts, 4);
  EXPECT_TRUE(exhausted.error().retryable);
  EXPECT_EQ(sleeps_.size(), 3U);
}

TEST_F(Services, TheDeadlineEndsRetriesEarly) {
  ServiceClient c(transport_, "http://h", "us-east-1", "sns", Protocol::kQuery);
  http_.reply(400, "<ErrorResponse><Error><Code>Throttling</Code></Error></ErrorResponse>");
  auto r = c.call(c.query_request(""), deadline(54ms));  // 5 ms wait + 50 ms margin > 54 ms
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "Throttling");
  EXPECT_EQ(r.error().attempts, 1);
  EXPECT_TRUE(sleeps_.empty());
}

TEST_F(Services, WithoutAnInjectedSleepTheThreadSleeps) {
  RetryPolicy zero(
      RetryConfig{2, 1ms, 1ms, 0ms}, [] { return 0.0; }, [] { return SteadyClock::now(); });
  transport_.retry = &zero;
  transport_.sleep = nullptr;
  ServiceClient c(transport_, "http://h", "us-east-1", "dynamodb", Protocol::kJson);
  http_.fail(kNetworkTimeout);
  http_.reply(200, "{}");
  EXPECT_TRUE(c.call(c.json_request("T", "{}"), SteadyClock::now() + 1s).ok());
  EXPECT_EQ(zero.retries(), 1U);
}

// ---- DynamoDB
TEST(DynamoDbRender, RequestsAreTheDocumentedJson) {
  dynamodb::UpdateItem u{"alert-state-dev",  R"({"symbol":{"S":"AAPL"},"rule_id":{"S":"r1"}})",
                         "SET side = :s",    "side_ts = :read",
                         R"({"#s":"side"})", R"({":s":{"S":"above"}})",
                         "ALL_NEW",          true};
  EXPECT_EQ(dynamodb::render(u),
            R"({"TableName":"alert-state-dev","Key":{"symbol":{"S":"AAPL"},"rule_id":{"S":"r1"}},)"
            R"("UpdateExpression":"SET side = :s","ConditionExpression":"side_ts = :read",)"
            R"("ExpressionAttributeNames":{"#s":"side"},"ExpressionAttributeValues":{":s":{"S":"above"}},)"
            R"("ReturnValuesOnConditionCheckFailure":"ALL_OLD","ReturnValues":"ALL_NEW"})");
  dynamodb::UpdateItem plain{"t", R"({"k":{"S":"v"}})",  "SET a = :a", "",
                             "",  R"({":a":{"N":"1"}})", "",           false};
  EXPECT_EQ(dynamodb::render(plain),
            R"({"TableName":"t","Key":{"k":{"S":"v"}},"UpdateExpression":"SET a = :a",)"
            R"("ExpressionAttributeValues":{":a":{"N":"1"}}})");
  dynamodb::PutItem p{"alerts", R"({"symbol":{"S":"A\"B"}})", "attribute_not_exists(symbol)", "", "", false};
  EXPECT_EQ(dynamodb::render(p), R"({"TableName":"alerts","Item":{"symbol":{"S":"A\"B"}},)"
                                 R"j("ConditionExpression":"attribute_not_exists(symbol)"})j");
  dynamodb::TransactWrite tx;
  tx.items.emplace_back(plain);
  p.return_old_on_condition_failure = true;
  p.names_json = R"({"#n":"n"})";
  p.values_json = R"({":n":{"N":"2"}})";
  tx.items.emplace_back(p);
  tx.client_request_token = "tok-1";
  EXPECT_EQ(
      dynamodb::render(tx),
      R"({"TransactItems":[{"Update":{"TableName":"t","Key":{"k":{"S":"v"}},"UpdateExpression":"SET a = :a",)"
      R"("ExpressionAttributeValues":{":a":{"N":"1"}}}},{"Put":{"TableName":"alerts","Item":{"symbol":)"
      R"j({"S":"A\"B"}},"ConditionExpression":"attribute_not_exists(symbol)","ExpressionAttributeNames":)j"
      R"({"#n":"n"},"ExpressionAttributeValues":{":n":{"N":"2"}},)"
      R"("ReturnValuesOnConditionCheckFailure":"ALL_OLD"}}],"ClientRequestToken":"tok-1"})");
  dynamodb::BatchGet get;
  get["s"].keys_json = {R"({"k":{"S":"1"}})", R"({"k":{"S":"2"}})"};
  get["t"] = {{R"({"k":{"S":"3"}})"}, false};
  EXPECT_EQ(dynamodb::render(get),
            R"({"RequestItems":{"s":{"Keys":[{"k":{"S":"1"}},{"k":{"S":"2"}}],)"
            R"("ConsistentRead":true},"t":{"Keys":[{"k":{"S":"3"}}],"ConsistentRead":false}}})");
}

TEST(DynamoDbParse, Attributes) {
  EXPECT_EQ(dynamodb::parse_attributes(R"({"Attributes":{"a":{"S":"x"}}})").value(), R"({"a":{"S":"x"}})");
  EXPECT_EQ(dynamodb::parse_attributes(R"({"ConsumedCapacity":{}})").value(), "");
  EXPECT_EQ(dynamodb::parse_attributes(R"({"\uZZZZ":1})").value(), "");
  EXPECT_FALSE(dynamodb::parse_attributes(R"({"Attributes":[]})").ok());
  EXPECT_FALSE(dynamodb::parse_attributes("nope").ok());
}

TEST(DynamoDbParse, BatchGetPages) {
  auto page = dynamodb::parse_batch_get(
      R"({"Responses":{"s":[{"k":{"S":"1"}},{"k":{"S":"2"}}],"t":[]},"UnprocessedKeys":{}})");
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->items["s"], (std::vector<std::string>{R"({"k":{"S":"1"}})", R"({"k":{"S":"2"}})"}));
  EXPECT_TRUE(page->items["t"].empty());
  EXPECT_EQ(page->unprocessed_keys_json, "");
  auto partial = dynamodb::parse_batch_get(R"({"UnprocessedKeys":{"s":{"Keys":[{"k":{"S":"3"}}]}}})");
  EXPECT_EQ(partial->unprocessed_keys_json, R"({"s":{"Keys":[{"k":{"S":"3"}}]}})");
  for (const char* bad :
       {"[]", R"({"\uZZZZ":1})", R"({"Responses":[]})", R"({"Responses":{"s":{}}})",
        R"({"Responses":{"\uZZZZ":[]}})", R"({"Responses":{"s":[1]}})", R"({"UnprocessedKeys":1})"}) {
    EXPECT_FALSE(dynamodb::parse_batch_get(bad).ok()) << bad;
  }
}

TEST_F(Services, DynamoDbCalls) {
  dynamodb::Client ddb(transport_, "http://h", "us-east-1");
  dynamodb::UpdateItem u{"t", "{}", "SET a = :a", "", "", "", "ALL_NEW", false};
  http_.reply(200, R"({"Attributes":{"a":{"N":"1"}}})");
  EXPECT_EQ(ddb.update_item(u, deadline()).value(), R"({"a":{"N":"1"}})");
  EXPECT_EQ(*http_.sent.back().header("X-Amz-Target"), "DynamoDB_20120810.UpdateItem");
  http_.reply(400, R"({"__type":"x#ConditionalCheckFailedException","Item":{"a":{"N":"2"}}})");
  auto ccf = ddb.update_item(u, deadline());
  ASSERT_FALSE(ccf.ok());
  EXPECT_EQ(ccf.error().item_json, R"({"a":{"N":"2"}})");
  http_.reply(200, "garbage");
  EXPECT_EQ(ddb.update_item(u, deadline()).error().code, "InvalidResponse");

  dynamodb::PutItem p{"t", "{}", "", "", "", false};
  http_.reply(200, "{}");
  EXPECT_EQ(ddb.put_item(p, deadline()).value(), "");
  EXPECT_EQ(*http_.sent.back().header("X-Amz-Target"), "DynamoDB_20120810.PutItem");
  http_.reply(400, R"({"__type":"x#ResourceNotFoundException"})");
  EXPECT_EQ(ddb.put_item(p, deadline()).error().code, "ResourceNotFoundException");
  http_.reply(200, "[");
  EXPECT_FALSE(ddb.put_item(p, deadline()).ok());

  dynamodb::TransactWrite tx;
  tx.items.emplace_back(p);
  http_.reply(200, "{}");
  EXPECT_TRUE(ddb.transact_write_items(tx, deadline()).ok());
  EXPECT_EQ(*http_.sent.back().header("X-Amz-Target"), "DynamoDB_20120810.TransactWriteItems");
  http_.reply(
      400,
      R"({"__type":"x#TransactionCanceledException","CancellationReasons":[{"Code":"ConditionalCheckFailed"}]})");
  auto cancelled = ddb.transact_write_items(tx, deadline());
  ASSERT_FALSE(cancelled.ok());
  EXPECT_EQ(cancelled.error().cancellation_reasons.at(0).code, "ConditionalCheckFailed");
}

TEST_F(Services, BatchGetSplitsAt100KeysAndResendsUnprocessedKeys) {
  dynamodb::Client ddb(transport_, "http://h", "us-east-1");
  dynamodb::BatchGet get;
  for (int i = 0; i < 150; ++i) get["s"].keys_json.push_back(R"({"k":{"N":")" + std::to_string(i) + "\"}}");
  http_.reply(
      200,
      R"({"Responses":{"s":[{"k":{"N":"1"}}]},"UnprocessedKeys":{"s":{"Keys":[{"k":{"N":"7"}}],"ConsistentRead":true}}})");
  http_.reply(200, R"({"Responses":{"s":[{"k":{"N":"7"}}]},"UnprocessedKeys":{}})");
  http_.reply(200, R"({"Responses":{"s":[{"k":{"N":"120"}}]}})");
  auto items = ddb.batch_get_item(get, deadline());
  ASSERT_TRUE(items.ok()) << items.error().message;
  EXPECT_EQ(items.value()["s"].size(), 3U);
  ASSERT_EQ(http_.sent.size(), 3U);
  EXPECT_EQ(std::count(http_.sent[0].body.begin(), http_.sent[0].body.end(), '{'), 1 + 1 + 1 + 100 * 2);
  EXPECT_EQ(http_.sent[1].body, R"({"RequestItems":{"s":{"Keys":[{"k":{"N":"7"}}],"ConsistentRead":true}}})");
  EXPECT_EQ(sleeps_.size(), 1U);
  EXPECT_EQ(retry_.retries(), 1U);

  dynamodb::BatchGet none;
  EXPECT_TRUE(ddb.batch_get_item(none, deadline()).value().empty());
}

TEST_F(Services, BatchGetGivesUpAndReportsErrors) {
  dynamodb::Client ddb(transport_, "http://h", "us-east-1");
  dynamodb::BatchGet get;
  get["s"].keys_json = {"{}"};
  for (int i = 0; i < 4; ++i) http_.reply(200, R"({"Responses":{},"UnprocessedKeys":{"s":{"Keys":[{}]}}})");
  auto stuck = ddb.batch_get_item(get, deadline());
  ASSERT_FALSE(stuck.ok());
  EXPECT_EQ(stuck.error().code, "UnprocessedKeys");
  EXPECT_TRUE(stuck.error().retryable);
  EXPECT_EQ(stuck.error().attempts, 4);
  http_.reply(400, R"({"__type":"x#AccessDeniedException"})");
  EXPECT_EQ(ddb.batch_get_item(get, deadline()).error().code, "AccessDeniedException");
  http_.reply(200, R"({"Responses":[]})");
  EXPECT_EQ(ddb.batch_get_item(get, deadline()).error().code, "InvalidResponse");
}

TEST(DynamoDbRender, QueryScanAndDeleteAreTheDocumentedJsonWithoutAnIndex) {
  dynamodb::Query q{"rules", "#pk = :pk", "", R"({"#pk":"pk"})", R"({":pk":{"S":"log#0"}})", true, "", 0, ""};
  EXPECT_EQ(dynamodb::render(q),
            R"({"TableName":"rules","KeyConditionExpression":"#pk = :pk","ExpressionAttributeNames":)"
            R"({"#pk":"pk"},"ExpressionAttributeValues":{":pk":{"S":"log#0"}},"ConsistentRead":true})");
  q.filter_expression = "a = :a";
  q.consistent_read = false;
  q.exclusive_start_key_json = R"({"pk":{"S":"x"}})";
  EXPECT_EQ(dynamodb::render(q),
            R"({"TableName":"rules","KeyConditionExpression":"#pk = :pk","FilterExpression":"a = :a",)"
            R"("ExpressionAttributeNames":{"#pk":"pk"},"ExpressionAttributeValues":{":pk":{"S":"log#0"}},)"
            R"("ConsistentRead":false,"ExclusiveStartKey":{"pk":{"S":"x"}}})");
  // An index query with a page size (the alerts' by-owner index).
  dynamodb::Query by_owner{"alerts", "#o = :o", "", "", "", false, "", 25, "by-owner"};
  EXPECT_EQ(dynamodb::render(by_owner),
            R"({"TableName":"alerts","IndexName":"by-owner","KeyConditionExpression":"#o = :o",)"
            R"("ConsistentRead":false,"Limit":25})");
  dynamodb::Scan s{"rules", "begins_with(#sk, :r)", R"({"#sk":"sk"})", R"({":r":{"S":"rule#"}})", true, 3,
                   16,      R"({"pk":{"S":"y"}})"};
  EXPECT_EQ(dynamodb::render(s),
            R"j({"TableName":"rules","FilterExpression":"begins_with(#sk, :r)","ExpressionAttributeNames":)j"
            R"({"#sk":"sk"},"ExpressionAttributeValues":{":r":{"S":"rule#"}},"ConsistentRead":true,)"
            R"("Segment":3,"TotalSegments":16,"ExclusiveStartKey":{"pk":{"S":"y"}}})");
  dynamodb::TransactWrite tx;
  tx.items.emplace_back(dynamodb::DeleteItem{"t", R"({"k":{"S":"v"}})", "attribute_exists(k)", "", ""});
  EXPECT_EQ(dynamodb::render(tx), R"({"TransactItems":[{"Delete":{"TableName":"t","Key":{"k":{"S":"v"}},)"
                                  R"j("ConditionExpression":"attribute_exists(k)"}}]})j");
}

TEST(DynamoDbParse, QueryAndScanPages) {
  auto page = dynamodb::parse_page(
      R"({"Items":[{"k":{"S":"1"}},{"k":{"S":"2"}}],"Count":2,"LastEvaluatedKey":{"k":{"S":"2"}}})");
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->items, (std::vector<std::string>{R"({"k":{"S":"1"}})", R"({"k":{"S":"2"}})"}));
  EXPECT_EQ(page->last_evaluated_key_json, R"({"k":{"S":"2"}})");
  auto last = dynamodb::parse_page(R"({"Items":[],"Count":0})");
  EXPECT_TRUE(last->items.empty());
  EXPECT_EQ(last->last_evaluated_key_json, "");
  for (const char* bad :
       {"[]", R"({"\uZZZZ":1})", R"({"Items":{}})", R"({"Items":[1]})", R"({"LastEvaluatedKey":1})"}) {
    EXPECT_FALSE(dynamodb::parse_page(bad).ok()) << bad;
  }
}

TEST_F(Services, DynamoDbQueryAndScanCalls) {
  dynamodb::Client ddb(transport_, "http://h", "us-east-1");
  http_.reply(200, R"({"Items":[{"k":{"S":"1"}}]})");
  EXPECT_EQ(ddb.query(dynamodb::Query{}, deadline()).value().items.size(), 1U);
  EXPECT_EQ(*http_.sent.back().header("X-Amz-Target"), "DynamoDB_20120810.Query");
  http_.reply(200, R"({"Items":[],"LastEvaluatedKey":{"k":{"S":"1"}}})");
  EXPECT_EQ(ddb.scan(dynamodb::Scan{}, deadline()).value().last_evaluated_key_json, R"({"k":{"S":"1"}})");
  EXPECT_EQ(*http_.sent.back().header("X-Amz-Target"), "DynamoDB_20120810.Scan");
  for (int i = 0; i < 2; ++i) {
    http_.reply(400, R"({"__type":"x#AccessDeniedException"})");
    http_.reply(200, "garbage");
  }
  EXPECT_EQ(ddb.query(dynamodb::Query{}, deadline()).error().code, "AccessDeniedException");
  EXPECT_EQ(ddb.query(dynamodb::Query{}, deadline()).error().code, "InvalidResponse");
  EXPECT_EQ(ddb.scan(dynamodb::Scan{}, deadline()).error().code, "AccessDeniedException");
  EXPECT_EQ(ddb.scan(dynamodb::Scan{}, deadline()).error().code, "InvalidResponse");
}

// ---- SNS
TEST(SnsRender, PublishIsFormEncodedLikeBoto3) {
  sns::Publish p{"arn:aws:sns:us-east-1:123456789012:trading-alerts-dev",
                 "{\"a\": \"b c\"}",
                 "AAPL & co",
                 {{"symbol", "AAPL"}, {"severity", "high"}}};
  EXPECT_EQ(sns::render(p),
            "Action=Publish&Version=2010-03-31&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A123456789012%3Atrading-"
            "alerts-dev"
            "&Message=%7B%22a%22%3A+%22b+c%22%7D&Subject=AAPL+%26+co"
            "&MessageAttributes.entry.1.Name=symbol&MessageAttributes.entry.1.Value.DataType=String"
            "&MessageAttributes.entry.1.Value.StringValue=AAPL"
            "&MessageAttributes.entry.2.Name=severity&MessageAttributes.entry.2.Value.DataType=String"
            "&MessageAttributes.entry.2.Value.StringValue=high");
  EXPECT_EQ(sns::render({"arn", "m", "", {}}), "Action=Publish&Version=2010-03-31&TopicArn=arn&Message=m");
  EXPECT_EQ(sns::render({"arn", R"({"default":"m"})", "", {}, true}),
            "Action=Publish&Version=2010-03-31&TopicArn=arn&Message=%7B%22default%22%3A%22m%22%7D"
            "&MessageStructure=json");
}

TEST_F(Services, SnsPublish) {
  sns::Client client(transport_, "http://h", "us-east-1");
  http_.reply(
      200, "<PublishResponse><PublishResult><MessageId>id-1</MessageId></PublishResult></PublishResponse>");
  EXPECT_EQ(client.publish({"arn", "m", "", {}}, deadline()).value(), "id-1");
  EXPECT_NE(http_.sent.back().header("Authorization")->find("/us-east-1/sns/aws4_request"),
            std::string::npos);
  http_.reply(404,
              "<ErrorResponse><Error><Code>NotFound</Code><Message>Topic does not "
              "exist</Message></Error></ErrorResponse>");
  auto missing = client.publish({"arn", "m", "", {}}, deadline());
  EXPECT_EQ(missing.error().code, "NotFound");
  EXPECT_FALSE(missing.error().retryable);
  http_.reply(200, "<PublishResponse/>");
  EXPECT_EQ(client.publish({"arn", "m", "", {}}, deadline()).error().code, "InvalidResponse");
}

std::string batch_answer(const std::string& successful, const std::string& failed) {
  return "<PublishBatchResponse><PublishBatchResult><Successful>" + successful + "</Successful><Failed>" +
         failed + "</Failed></PublishBatchResult></PublishBatchResponse>";
}

TEST(SnsRender, PublishBatchNamesEachEntryByItsIndex) {
  const std::vector<sns::Publish> entries{{"arn", "m0", "", {}}, {"arn", "m 1", "S", {{"k", "v"}}, true}};
  const std::vector<std::size_t> both{0, 1};
  EXPECT_EQ(sns::render_batch(entries, both),
            "Action=PublishBatch&Version=2010-03-31&TopicArn=arn"
            "&PublishBatchRequestEntries.member.1.Id=0&PublishBatchRequestEntries.member.1.Message=m0"
            "&PublishBatchRequestEntries.member.2.Id=1&PublishBatchRequestEntries.member.2.Message=m+1"
            "&PublishBatchRequestEntries.member.2.MessageStructure=json"
            "&PublishBatchRequestEntries.member.2.Subject=S"
            "&PublishBatchRequestEntries.member.2.MessageAttributes.entry.1.Name=k"
            "&PublishBatchRequestEntries.member.2.MessageAttributes.entry.1.Value.DataType=String"
            "&PublishBatchRequestEntries.member.2.MessageAttributes.entry.1.Value.StringValue=v");
  const std::vector<std::size_t> second{1};
  EXPECT_NE(sns::render_batch(entries, second).find("member.1.Id=1&"), std::string::npos);
  EXPECT_EQ(sns::parse_batch_result("<PublishBatchResponse/>").error().code, "InvalidResponse");
  // A section without its end, and a member without its end, hold no entry.
  EXPECT_TRUE(sns::parse_batch_result("<PublishBatchResult><Successful><member><Id>0</Id>").value().empty());
  EXPECT_TRUE(
      sns::parse_batch_result("<PublishBatchResult><Successful><member></Successful>").value().empty());
}

TEST_F(Services, SnsPublishBatch) {
  sns::Client client(transport_, "http://h", "us-east-1");
  const std::vector<sns::Publish> three{{"arn", "a", "", {}}, {"arn", "b", "", {}}, {"arn", "c", "", {}}};
  // Entry 1 fails on the service's side (retried alone), entry 2 on ours (final).
  http_.reply(200, batch_answer("<member><Id>0</Id><MessageId>id-0</MessageId></member>",
                                "<member><Id>1</Id><Code>InternalError</Code><Message>try again</Message>"
                                "<SenderFault>false</SenderFault></member>"
                                "<member><Id>2</Id><Code>InvalidParameter</Code><Message>bad</Message>"
                                "<SenderFault>true</SenderFault></member>"));
  http_.reply(200, batch_answer("<member><Id>1</Id><MessageId>id-1</MessageId></member>"
                                "<member><Id>7</Id><MessageId>not ours</MessageId></member>",
                                ""));
  const auto out = client.publish_batch(three, deadline());
  ASSERT_EQ(out.size(), 3U);
  EXPECT_EQ(out[0].value(), "id-0");
  EXPECT_EQ(out[1].value(), "id-1");
  EXPECT_EQ(out[2].error().code, "InvalidParameter");
  EXPECT_FALSE(out[2].error().retryable);
  ASSERT_EQ(http_.sent.size(), 2U);
  EXPECT_NE(http_.sent[1].body.find("member.1.Id=1&PublishBatchRequestEntries.member.1.Message=b"),
            std::string::npos)
      << http_.sent[1].body;
  EXPECT_EQ(http_.sent[1].body.find("member.2."), std::string::npos);
  EXPECT_EQ(sleeps_.size(), 1U);

  // A service-side failure the policy gives up on (no time left) stays that entry's error.
  http_.reply(200, batch_answer("",
                                "<member><Id>0</Id><Code>InternalError</Code><Message>x</Message>"
                                "<SenderFault>false</SenderFault></member>"));
  const std::vector<sns::Publish> one{three[0]};
  const auto gave_up = client.publish_batch(one, now_ + 20ms);
  EXPECT_EQ(gave_up[0].error().code, "InternalError");
  EXPECT_TRUE(gave_up[0].error().retryable);

  // The request failing as a whole fails every entry; an answer without an entry fails it; a malformed one
  // fails them all.
  http_.reply(
      404, "<ErrorResponse><Error><Code>NotFound</Code><Message>no topic</Message></Error></ErrorResponse>");
  EXPECT_EQ(client.publish_batch(three, deadline())[2].error().code, "NotFound");
  http_.reply(200, batch_answer("<member><Id>0</Id><MessageId>id-0</MessageId></member>", ""));
  const auto partial = client.publish_batch(three, deadline());
  EXPECT_EQ(partial[0].value(), "id-0");
  EXPECT_EQ(partial[1].error().code, "InvalidResponse");
  http_.reply(200, "<PublishBatchResponse/>");
  EXPECT_EQ(client.publish_batch(three, deadline())[0].error().code, "InvalidResponse");
  EXPECT_TRUE(client.publish_batch({}, deadline()).empty());
}

// ---- SQS
TEST(SqsRender, SendMessageJson) {
  EXPECT_EQ(sqs::render(
                {"https://q/1/dlq", "line1\n\"x\"\\\x01", {{"RejectionReason", "invalid_json"}, {"B", "2"}}}),
            R"({"QueueUrl":"https://q/1/dlq","MessageBody":"line1\n\"x\"\\\u0001","MessageAttributes":{)"
            R"("RejectionReason":{"DataType":"String","StringValue":"invalid_json"},)"
            R"("B":{"DataType":"String","StringValue":"2"}}})");
  EXPECT_EQ(sqs::render({"u", "\r\t", {}}), R"({"QueueUrl":"u","MessageBody":"\r\t"})");
}

TEST_F(Services, SqsSendMessage) {
  sqs::Client client(transport_, "http://h", "us-east-1");
  http_.reply(200, R"({"MD5OfMessageBody":"x","MessageId":"m-1"})");
  EXPECT_EQ(client.send_message({"u", "b", {}}, deadline()).value(), "m-1");
  EXPECT_EQ(*http_.sent.back().header("X-Amz-Target"), "AmazonSQS.SendMessage");
  http_.reply(400, R"({"__type":"com.amazonaws.sqs#QueueDoesNotExist"})",
              {{"x-amzn-query-error", "AWS.SimpleQueueService.NonExistentQueue;Sender"}});
  EXPECT_EQ(client.send_message({"u", "b", {}}, deadline()).error().code,
            "AWS.SimpleQueueService.NonExistentQueue");
  http_.reply(200, R"({"MessageId":""})");
  EXPECT_EQ(client.send_message({"u", "b", {}}, deadline()).error().code, "InvalidResponse");
  http_.reply(200, "xx");
  EXPECT_FALSE(client.send_message({"u", "b", {}}, deadline()).ok());
}

// ---- KMS
TEST(KmsRender, GenerateDataKeyAndDecryptJson) {
  EXPECT_EQ(
      kms::render(kms::GenerateDataKey{"alias/tap", {{"purpose", "api-cursor"}, {"key", "k\"1"}}}),
      R"({"KeyId":"alias/tap","KeySpec":"AES_256","EncryptionContext":{"purpose":"api-cursor","key":"k\"1"}})");
  EXPECT_EQ(kms::render(kms::GenerateDataKey{"arn:aws:kms:us-east-1:1:key/x", {}}),
            R"({"KeyId":"arn:aws:kms:us-east-1:1:key/x","KeySpec":"AES_256"})");
  // The blob travels in standard base64 (here "\xfb\xff" -> "+/8=").
  EXPECT_EQ(kms::render(kms::Decrypt{std::string("\xfb\xff", 2), "", {{"purpose", "api-cursor"}}}),
            R"({"CiphertextBlob":"+/8=","EncryptionContext":{"purpose":"api-cursor"}})");
  EXPECT_EQ(kms::render(kms::Decrypt{"c", "alias/tap", {}}),
            R"({"CiphertextBlob":"Yw==","KeyId":"alias/tap"})");
}

TEST(KmsParse, DataKeyAndPlaintext) {
  const auto key =
      kms::parse_data_key(R"({"CiphertextBlob":"Y2lwaGVy","Plaintext":"cGxhaW4=","KeyId":"arn:k"})");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->plaintext, "plain");
  EXPECT_EQ(key->ciphertext, "cipher");
  EXPECT_EQ(key->key_arn, "arn:k");
  for (const std::string_view bad :
       {R"({"CiphertextBlob":"Y2lwaGVy","Plaintext":"cGxhaW4="})",  // no KeyId
        R"({"CiphertextBlob":"Y2lwaGVy","Plaintext":"","KeyId":"k"})",
        R"({"CiphertextBlob":"","Plaintext":"cGxhaW4=","KeyId":"k"})",
        R"({"CiphertextBlob":"***","Plaintext":"cGxhaW4=","KeyId":"k"})",
        R"({"CiphertextBlob":1,"Plaintext":"cGxhaW4=","KeyId":"k"})", "[]", "x"}) {
    EXPECT_EQ(kms::parse_data_key(bad).error().code, "InvalidResponse") << bad;
  }
  EXPECT_EQ(kms::parse_plaintext(R"({"KeyId":"k","Plaintext":"cGxhaW4="})").value(), "plain");
  for (const std::string_view bad :
       {R"({"KeyId":"k"})", R"({"Plaintext":""})", R"({"Plaintext":"c"})", "[]", "x"}) {
    EXPECT_EQ(kms::parse_plaintext(bad).error().code, "InvalidResponse") << bad;
  }
}

TEST_F(Services, KmsCallsSpeakJson11) {
  kms::Client client(transport_, "http://h", "us-east-1");
  http_.reply(200, R"({"CiphertextBlob":"Y2lwaGVy","Plaintext":"cGxhaW4=","KeyId":"arn:k"})");
  EXPECT_EQ(client.generate_data_key({"alias/tap", {}}, deadline())->ciphertext, "cipher");
  EXPECT_EQ(*http_.sent.back().header("X-Amz-Target"), "TrentService.GenerateDataKey");
  EXPECT_EQ(*http_.sent.back().header("Content-Type"), "application/x-amz-json-1.1");
  EXPECT_NE(http_.sent.back().header("Authorization")->find("/kms/aws4_request"), std::string::npos);
  http_.reply(200, R"({"KeyId":"arn:k","Plaintext":"cGxhaW4="})");
  EXPECT_EQ(client.decrypt({"cipher", "", {}}, deadline()).value(), "plain");
  EXPECT_EQ(*http_.sent.back().header("X-Amz-Target"), "TrentService.Decrypt");
  // A refusal keeps KMS's error code; a response without the key is an invalid response.
  http_.reply(400, R"({"__type":"InvalidCiphertextException","message":"bad"})");
  EXPECT_EQ(client.decrypt({"cipher", "", {}}, deadline()).error().code, "InvalidCiphertextException");
  http_.reply(400, R"({"__type":"NotFoundException","message":"no key"})");
  EXPECT_EQ(client.generate_data_key({"alias/x", {}}, deadline()).error().code, "NotFoundException");
  http_.reply(200, "{}");
  EXPECT_EQ(client.generate_data_key({"alias/tap", {}}, deadline()).error().code, "InvalidResponse");
  http_.reply(200, "{}");
  EXPECT_EQ(client.decrypt({"cipher", "", {}}, deadline()).error().code, "InvalidResponse");
}

}  // namespace
}  // namespace tap
