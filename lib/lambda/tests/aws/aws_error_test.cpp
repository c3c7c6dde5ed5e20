#include "tap/aws/aws_error.hpp"

#include <gtest/gtest.h>

namespace tap {
namespace {

HttpResponse response(int status, std::string body, HeaderList headers = {}) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

TEST(AwsError, ThrottlingAndTransientCodesAreRetryable) {
  for (const char* code :
       {"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded", "Throttling",
        "TooManyRequestsException", "RequestThrottled", "KMSThrottlingException"}) {
    EXPECT_TRUE(is_throttling_code(code)) << code;
    EXPECT_TRUE(parse_json_error(response(400, std::string(R"({"__type":"x#)") + code + "\"}")).retryable)
        << code;
  }
  EXPECT_TRUE(is_transient_code("TransactionConflictException"));
  EXPECT_TRUE(is_transient_code("RequestTimeout"));
  for (const char* code : {"ConditionalCheckFailedException", "ValidationException", "AccessDeniedException",
                           "ResourceNotFoundException", "SignatureDoesNotMatch", "AccessDenied"}) {
    EXPECT_FALSE(is_throttling_code(code) || is_transient_code(code)) << code;
    EXPECT_FALSE(parse_json_error(response(400, std::string(R"({"__type":"x#)") + code + "\"}")).retryable);
  }
}

TEST(AwsError, TransportErrors) {
  EXPECT_TRUE(transport_error({kNetworkError, "reset"}).retryable);
  EXPECT_TRUE(transport_error({kNetworkTimeout, "slow"}).retryable);
  EXPECT_FALSE(transport_error({kDeadlineExceeded, "late"}).retryable);
  EXPECT_FALSE(transport_error({kTlsVerificationFailed, "bad cert"}).retryable);
  EXPECT_FALSE(transport_error({kInvalidEndpoint, "x"}).retryable);
  const AwsError e = transport_error({kNetworkError, "reset"});
  EXPECT_EQ(e.http_status, 0);
  EXPECT_EQ(e.to_error().code, kNetworkError);
  EXPECT_EQ(e.to_error().message, "reset");
}

TEST(AwsError, JsonProtocolErrors) {
  const AwsError ccf = parse_json_error(
      response(400, R"({"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",)"
                    R"("message":"The conditional request failed","Item":{"side":{"S":"above"}}})"));
  EXPECT_EQ(ccf.code, "ConditionalCheckFailedException");
  EXPECT_EQ(ccf.message, "The conditional request failed");
  EXPECT_EQ(ccf.item_json, R"({"side":{"S":"above"}})");
  EXPECT_EQ(ccf.http_status, 400);
  EXPECT_FALSE(ccf.retryable);
  EXPECT_EQ(ccf.request_id, "");

  const AwsError header = parse_json_error(
      response(400, "",
               {{"x-amzn-ErrorType", "ValidationException:http://internal.amazon.com/coral/"},
                {"x-amzn-RequestId", "R1"}}));
  EXPECT_EQ(header.code, "ValidationException");
  EXPECT_EQ(header.request_id, "R1");
  EXPECT_EQ(header.message, "HTTP 400");

  const AwsError sqs = parse_json_error(
      response(400, R"({"__type":"com.amazonaws.sqs#QueueDoesNotExist","Message":"no queue"})",
               {{"x-amzn-query-error", "AWS.SimpleQueueService.NonExistentQueue;Sender"}}));
  EXPECT_EQ(sqs.code, "AWS.SimpleQueueService.NonExistentQueue");
  EXPECT_EQ(sqs.message, "no queue");

  EXPECT_EQ(parse_json_error(response(400, R"({"code":"ThrottlingException","x":1,"Item":[]})")).code,
            "ThrottlingException");
  const AwsError unknown5xx = parse_json_error(response(503, "not json"));
  EXPECT_EQ(unknown5xx.code, "HttpStatus503");
  EXPECT_TRUE(unknown5xx.retryable);
  EXPECT_FALSE(parse_json_error(response(418, "[]")).retryable);
  EXPECT_EQ(parse_json_error(response(400, R"({"\uZZZZ":1})")).code, "HttpStatus400");  // invalid key
  // moto answers signature/IAM failures of JSON services in XML.
  const AwsError xml = parse_json_error(response(403,
                                                 "<ErrorResponse><Error><Code>AccessDeniedException</"
                                                 "Code><Message>no</Message></Error></ErrorResponse>"));
  EXPECT_EQ(xml.code, "AccessDeniedException");
  EXPECT_FALSE(xml.retryable);
}

TEST(AwsError, TransactionCancellationReasons) {
  const std::string prefix = R"({"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException",)"
                             R"("Message":"Transaction cancelled","CancellationReasons":)";
  const AwsError ccf = parse_json_error(response(
      400, prefix + R"([{"Code":"None"},{"Code":"ConditionalCheckFailed","Message":"The conditional )"
                    R"(request failed","Item":{"symbol":{"S":"AAPL"}}},7,{"Code":"None","Message":null}]})"));
  EXPECT_EQ(ccf.code, "TransactionCanceledException");
  ASSERT_EQ(ccf.cancellation_reasons.size(), 3U);  // the non-object entry is skipped
  EXPECT_EQ(ccf.cancellation_reasons[0].code, "None");
  EXPECT_EQ(ccf.cancellation_reasons[1].code, "ConditionalCheckFailed");
  EXPECT_EQ(ccf.cancellation_reasons[1].message, "The conditional request failed");
  EXPECT_EQ(ccf.cancellation_reasons[1].item_json, R"({"symbol":{"S":"AAPL"}})");
  EXPECT_FALSE(ccf.retryable);

  const AwsError conflict =
      parse_json_error(response(400, prefix + R"([{"Code":"None"},{"Code":"TransactionConflict"}]})"));
  EXPECT_TRUE(conflict.retryable);
  const AwsError throttled =
      parse_json_error(response(400, prefix + R"([{"Code":"ProvisionedThroughputExceeded"},{"Code":""}]})"));
  EXPECT_TRUE(throttled.retryable);
  const AwsError mixed = parse_json_error(
      response(400, prefix + R"([{"Code":"TransactionConflict"},{"Code":"ConditionalCheckFailed"}]})"));
  EXPECT_FALSE(mixed.retryable);
  EXPECT_FALSE(parse_json_error(response(400, prefix + "[]}")).retryable);
  const AwsError broken = parse_json_error(response(400, prefix + R"([{"\uZZZZ":1}]})"));
  ASSERT_EQ(broken.cancellation_reasons.size(), 1U);
  EXPECT_EQ(broken.cancellation_reasons[0].code, "");
}

TEST(AwsError, QueryProtocolErrorsAndXmlText) {
  const AwsError e = parse_xml_error(response(
      400,
      "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidParameter</Code>"
      "<Message>Invalid parameter: &lt;TopicArn&gt; &amp; &quot;x&quot; &apos;y&apos; &bogus;</Message>"
      "</Error><RequestId>r</RequestId></ErrorResponse>"));
  EXPECT_EQ(e.code, "InvalidParameter");
  EXPECT_EQ(e.message, "Invalid parameter: <TopicArn> & \"x\" 'y' &bogus;");
  EXPECT_FALSE(e.retryable);
  const AwsError throttled =
      parse_xml_error(response(400, "<ErrorResponse><Error><Code>Throttling</Code></Error></ErrorResponse>"));
  EXPECT_TRUE(throttled.retryable);
  EXPECT_EQ(throttled.message, "HTTP 400");
  const AwsError empty = parse_xml_error(response(500, "", {{"x-amz-request-id", "h-1"}}));
  EXPECT_EQ(empty.request_id, "h-1");
  EXPECT_EQ(empty.code, "HttpStatus500");
  EXPECT_TRUE(empty.retryable);
  EXPECT_EQ(xml_text("<a>1</a>", "b"), "");
  EXPECT_EQ(xml_text("<a>1", "a"), "");
}

TEST(AwsError, MakeAwsError) {
  const AwsError e = make_aws_error("X", "m", 200, true);
  EXPECT_EQ(e.code, "X");
  EXPECT_EQ(e.message, "m");
  EXPECT_EQ(e.http_status, 200);
  EXPECT_TRUE(e.retryable);
  EXPECT_EQ(e.attempts, 1);
}

}  // namespace
}  // namespace tap
