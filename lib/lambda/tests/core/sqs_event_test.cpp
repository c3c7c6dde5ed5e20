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

// F2: a body the event cannot decode fails its record alone (issue 14 item 4 (c): the whole event failed).
TEST(SqsEvent, AnUndecodableBodyFailsItsRecordAlone) {
  auto r =
      parse_sqs_event(R"({"Records":[{"messageId":"m-1","body":"{\"symbol\":\"A\"}"},)"
                      R"({"body":"{\"symbol\":\"\ud800\"}","messageId":"m-2","receiptHandle":"rh-2"},)"
                      R"({"messageId":"m-3","body":"[1]","attributes":{"ApproximateReceiveCount":"2"}}]})");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->records.size(), 3U);
  const SqsRecord& bad = r->records[1];
  EXPECT_EQ(bad.message_id, "m-2");  // read after the body: the record goes on being parsed
  EXPECT_EQ(bad.receipt_handle, "rh-2");
  EXPECT_EQ(bad.body, R"({\"symbol\":\"\ud800\"})");  // the escaped text, as the event carries it
  EXPECT_EQ(
      bad.body_error,
      "body: cannot be decoded from the SQS event (lone high surrogate \\ud800 at byte 14 of the escaped "
      "body); the dead letter carries the escaped body");
  EXPECT_EQ(r->records[0].body, R"({"symbol":"A"})");
  EXPECT_EQ(r->records[0].body_error, "");
  EXPECT_EQ(r->records[2].body, "[1]");
  EXPECT_EQ(r->records[2].receive_count, 2U);
  // The escaped text is in the event's buffer like any body, padded for parse_ticks.
  EXPECT_EQ(std::string_view(bad.body.data() + bad.body.size(), kJsonPadding),
            std::string(kJsonPadding, '\0'));

  const auto undecodable = parse_record_ticks(bad);
  ASSERT_FALSE(undecodable);
  EXPECT_EQ(undecodable.error().code, "undecodable_body");
  EXPECT_EQ(undecodable.error().message, bad.body_error);
  const auto good = parse_record_ticks(r->records[0]);
  ASSERT_TRUE(good);
  EXPECT_EQ(good->rejects.size(), 1U);  // decoded, then parsed as ticks (no price, no timestamp)
  EXPECT_EQ(parse_record_ticks(r->records[2])->rejects.at(0).reason, "tick[0]: must be an object");
}

std::string body_error_of(std::string_view body_literal) {
  auto r =
      parse_sqs_event(R"({"Records":[{"messageId":"m","body":")" + std::string(body_literal) + R"("  }]})");
  if (!r) return "event: " + r.error().message;
  const SqsRecord& rec = r->records.at(0);
  const std::string prefix = "body: cannot be decoded from the SQS event (";
  const std::string suffix = " of the escaped body); the dead letter carries the escaped body";
  EXPECT_EQ(rec.body, body_literal);  // also with spaces after the string's closing quote
  EXPECT_EQ(rec.body_error.substr(0, prefix.size()), prefix);
  EXPECT_EQ(rec.body_error.substr(rec.body_error.size() - suffix.size()), suffix);
  return rec.body_error.substr(prefix.size(), rec.body_error.size() - prefix.size() - suffix.size());
}

// Each kind of undecodable escape is named with its place; the valid escapes before it are skipped whole.
TEST(SqsEvent, TheReasonNamesTheUndecodableEscape) {
  EXPECT_EQ(body_error_of(R"(\ud800)"), R"(lone high surrogate \ud800 at byte 0)");
  EXPECT_EQ(body_error_of(R"(\uDBFFx)"), R"(lone high surrogate \uDBFF at byte 0)");
  EXPECT_EQ(body_error_of(R"(\ud800\u0041)"), R"(lone high surrogate \ud800 at byte 0)");
  EXPECT_EQ(body_error_of(R"(\ud800\ud800)"), R"(lone high surrogate \ud800 at byte 0)");
  EXPECT_EQ(body_error_of(R"(\ud800\udc0)"), R"(lone high surrogate \ud800 at byte 0)");
  EXPECT_EQ(body_error_of(R"(\ud800\n)"), R"(lone high surrogate \ud800 at byte 0)");
  EXPECT_EQ(body_error_of(R"(a\udc00)"), R"(lone low surrogate \udc00 at byte 1)");
  EXPECT_EQ(body_error_of(R"(\uDFFF)"), R"(lone low surrogate \uDFFF at byte 0)");
  EXPECT_EQ(body_error_of(R"(\q)"), R"(invalid escape \q at byte 0)");
  EXPECT_EQ(body_error_of(R"(\')"), R"(invalid escape \' at byte 0)");
  EXPECT_EQ(body_error_of("\\\xc3\xa9"),
            "invalid escape: a backslash before a non-ASCII character at byte 0");
  EXPECT_EQ(body_error_of(R"(\u12x)"), R"(invalid escape \u12 (\u needs 4 hex digits) at byte 0)");
  EXPECT_EQ(body_error_of(R"(\u)"), R"(invalid escape \u (\u needs 4 hex digits) at byte 0)");
  EXPECT_EQ(body_error_of(R"(\uabc)"), R"(invalid escape \uabc (\u needs 4 hex digits) at byte 0)");
  EXPECT_EQ(body_error_of("\\u12\xc3\xa9"), R"(invalid escape \u12 (\u needs 4 hex digits) at byte 0)");
  EXPECT_EQ(body_error_of(R"(\"\\\/\b\f\n\r\t\u00e9\uFFFF\ud834\udd1e\ud800)"),
            R"(lone high surrogate \ud800 at byte 40)");
  EXPECT_EQ(body_error_of(R"(\ud834\uDD1E\q)"), R"(invalid escape \q at byte 12)");
}

// Only the body is read per record this way: any other field that cannot be decoded, or a body that is no
// string, still invalidates the event (no message id could be trusted).
TEST(SqsEvent, OtherUndecodableFieldsInvalidateTheEvent) {
  EXPECT_EQ(err(R"({"Records":[{"messageId":"\ud800","body":"x"}]})").substr(0, 22),
            "Records[0].messageId: ");
  EXPECT_EQ(err(R"({"Records":[{"messageId":"m","receiptHandle":"\q","body":"x"}]})").substr(0, 26),
            "Records[0].receiptHandle: ");
  EXPECT_EQ(err(R"({"Records":[{"messageId":"m","body":5}]})").substr(0, 17), "Records[0].body: ");
  EXPECT_EQ(err(R"({"Records":[{"messageId":"m","body":"\ud800"},{"messageId":"n","body":"x)").substr(0, 7),
            "event: ");
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
