#include "tap/core/sqs_event.hpp"

#include <gtest/gtest.h>

#include "tap/core/tick.hpp"

namespace tap {
namespace {

std::string err(std::string_view json) {
  auto r = parse_sqs_event(json);
  return r ? "ok" : r.error().message;
}

TEST(SqsEvent, ParsesRecordsAndUnescapesBody) {
  auto r = parse_sqs_event(R"({"Records":[{
    "messageId":"m-1","receiptHandle":"rh\/1","body":"{\"symbol\":\"AAPL\",\"note\":\"caf\u00e9\\n\"}",
    "attributes":{"ApproximateReceiveCount":"3","SentTimestamp":"1795617000123","SenderId":"X"},
    "messageAttributes":{"k":{"stringValue":"v","dataType":"String"}},
    "md5OfBody":"x","eventSource":"aws:sqs",
    "eventSourceARN":"arn:aws:sqs:us-east-1:123456789012:market-data-queue-dev","awsRegion":"us-east-1"},
    {"messageId":"m-2","body":""}], "extra": [1]})");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->records.size(), 2u);
  const SqsRecord& a = r->records[0];
  EXPECT_EQ(a.message_id, "m-1");
  EXPECT_EQ(a.receipt_handle, "rh/1");
  EXPECT_EQ(a.body, "{\"symbol\":\"AAPL\",\"note\":\"caf\xc3\xa9\\n\"}");
  EXPECT_EQ(a.receive_count, 3u);
  EXPECT_EQ(a.sent_timestamp_ms, 1795617000123LL);
  EXPECT_EQ(a.event_source_arn, "arn:aws:sqs:us-east-1:123456789012:market-data-queue-dev");
  EXPECT_EQ(a.aws_region, "us-east-1");
  EXPECT_EQ(r->records[1].receive_count, 0u);
  EXPECT_EQ(r->records[1].body, "");
}

// The record strings live in a buffer the event owns: valid after the event is moved, and after the parser
// has gone on to another event; each body is followed by kJsonPadding zero bytes (parse_ticks in place).
TEST(SqsEvent, RecordTextIsOwnedByTheEvent) {
  auto r = parse_sqs_event(
      R"({"Records":[{"messageId":"m-1","body":"[{\"symbol\":\"AAPL\"}]","awsRegion":"eu-west-1"},)"
      R"({"messageId":"m-2","body":"x","receiptHandle":"rh"}]})");
  ASSERT_TRUE(r);
  SqsEvent event = std::move(r).value();
  ASSERT_TRUE(parse_sqs_event(R"({"Records":[{"messageId":"other","body":"other body"}]})"));
  ASSERT_EQ(event.records.size(), 2u);
  EXPECT_EQ(event.records[0].message_id, "m-1");
  EXPECT_EQ(event.records[0].body, R"([{"symbol":"AAPL"}])");
  EXPECT_EQ(event.records[0].aws_region, "eu-west-1");
  EXPECT_EQ(event.records[1].receipt_handle, "rh");
  for (const SqsRecord& rec : event.records) {
    const std::string_view after(rec.body.data() + rec.body.size(), kJsonPadding);
    EXPECT_EQ(after, std::string(kJsonPadding, '\0'));
  }
  auto ticks = parse_ticks(event.records[0].body, kJsonPadding);
  ASSERT_TRUE(ticks);
  EXPECT_EQ(ticks->rejects.size(), 1u);  // no price, no timestamp: parsed, reported
}

TEST(SqsEvent, EmptyRecords) {
  auto r = parse_sqs_event(R"({"Records":[]})");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->records.empty());
}

TEST(SqsEvent, MalformedEvents) {
  EXPECT_EQ(err("{}"), "Records: missing");
  EXPECT_EQ(err("[]").substr(0, 7), "event: ");
  EXPECT_EQ(err("{").substr(0, 7), "event: ");
  EXPECT_EQ(err("\xff").substr(0, 7), "event: ");
  EXPECT_EQ(err(R"({"Records":{}})").substr(0, 9), "Records: ");
  EXPECT_EQ(err(R"({"Records":[1]})").substr(0, 12), "Records[0]: ");
  EXPECT_EQ(err(R"({"Records":[{"body":"x"}]})"), "Records[0].messageId: missing");
  EXPECT_EQ(err(R"({"Records":[{"messageId":"","body":"x"}]})"), "Records[0].messageId: empty");
  EXPECT_EQ(err(R"({"Records":[{"messageId":"m"}]})"), "Records[0].body: missing");
  EXPECT_EQ(err(R"({"Records":[{"messageId":1,"body":"x"}]})").substr(0, 22), "Records[0].messageId: ");
  EXPECT_EQ(err(R"({"Records":[{"messageId":"m","body":"x","attributes":[]}]})").substr(0, 23),
            "Records[0].attributes: ");
  EXPECT_EQ(err(R"({"Records":[{"messageId":"m","attributes":{"ApproximateReceiveCount":"x1"}}]})"),
            "Records[0].attributes.ApproximateReceiveCount: not a decimal integer: \"x1\"");
  EXPECT_EQ(err(R"({"Records":[{"messageId":"m","attributes":{"ApproximateReceiveCount":""}}]})"),
            "Records[0].attributes.ApproximateReceiveCount: not a decimal integer: \"\"");
  EXPECT_EQ(err(R"({"Records":[{"messageId":"m","attributes":{"SentTimestamp":"12a"}}]})"),
            "Records[0].attributes.SentTimestamp: not a decimal integer: \"12a\"");
  EXPECT_EQ(err(R"({"Records":[{"messageId":"m","attributes":{"SentTimestamp":12}}]})").substr(0, 37),
            "Records[0].attributes.SentTimestamp: ");
  EXPECT_EQ(err(R"({"Records":[{"messageId":"m","body":"x"}]} [])").substr(0, 7), "event: ");
  EXPECT_EQ(err(R"({"Records":[]} {})"), "event: content after the top-level object");
  EXPECT_EQ(err(R"({"Records":[]}})"), "event: content after the top-level object");
}

TEST(SqsEvent, TwentyFiveRecords) {
  std::string json = R"({"Records":[)";
  for (int i = 0; i < 25; ++i) {
    if (i) json += ',';
    json += R"({"messageId":"m)" + std::to_string(i) + R"(","body":"{}"})";
  }
  json += "]}";
  auto r = parse_sqs_event(json);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->records.size(), 25u);
  EXPECT_EQ(r->records[24].message_id, "m24");
}

}  // namespace
}  // namespace tap
