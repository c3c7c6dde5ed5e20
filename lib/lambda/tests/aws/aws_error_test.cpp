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

TEST(AwsError, EveryListedThrottlingAndTransientCodeIsRetryableAndAnEmptyCodeIsNot) {
  const char* const throttling[] = {"Throttling",
                                    "ThrottlingException",
                                    "ThrottledException",
                                    "RequestThrottledException",
                                    "TooManyRequestsException",
                                    "ProvisionedThroughputExceededException",
                                    "TransactionInProgressException",
                                    "RequestLimitExceeded",
                                    "BandwidthLimitExceeded",
                                    "LimitExceededException",
                                    "RequestThrottled",
                                    "SlowDown",
                                    "PriorRequestNotComplete",
                                    "EC2ThrottledException",
                                    "KMSThrottlingException",
                                    "ThrottlingError"};
  for (const char* code : throttling) {
    EXPECT_TRUE(is_throttling_code(code)) << code;
    EXPECT_FALSE(is_transient_code(code)) << code;
    EXPECT_TRUE(parse_xml_error(response(400, std::string("<Code>") + code + "</Code>")).retryable) << code;
  }
  for (const char* code : {"RequestTimeout", "RequestTimeoutException", "TransactionConflictException",
                           "TransactionConflict", "InternalServerError", "ServiceUnavailable"}) {
    EXPECT_TRUE(is_transient_code(code)) << code;
    EXPECT_FALSE(is_throttling_code(code)) << code;
    EXPECT_TRUE(parse_xml_error(response(400, std::string("<Code>") + code + "</Code>")).retryable) << code;
  }
  EXPECT_FALSE(is_throttling_code(""));
  EXPECT_FALSE(is_transient_code(""));
  EXPECT_FALSE(is_throttling_code("throttling"));  // codes are case-sensitive
}

TEST(AwsError, EveryStatusFrom500To599IsRetryableAndItsNeighboursAreNot) {
  for (int status : {500, 501, 503, 598, 599}) {
    EXPECT_TRUE(parse_json_error(response(status, "")).retryable) << status;
  }
  for (int status : {399, 400, 404, 499, 600, 601}) {
    EXPECT_FALSE(parse_json_error(response(status, "")).retryable) << status;
  }
}

TEST(AwsError, TheRequestIdOfAnXmlErrorBodyWinsOverTheHeaders) {
  const AwsError e = parse_xml_error(response(400,
                                              "<ErrorResponse><Error><Code>InvalidParameter</Code></"
                                              "Error><RequestId>body-1</RequestId></ErrorResponse>",
                                              {{"x-amz-request-id", "header-1"}}));
  EXPECT_EQ(e.request_id, "body-1");
  EXPECT_EQ(e.code, "InvalidParameter");
  EXPECT_EQ(e.message, "HTTP 400");
  EXPECT_EQ(e.http_status, 400);
  const AwsError via_json = parse_json_error(response(403, "<Error><RequestId>body-2</RequestId></Error>"));
  EXPECT_EQ(via_json.request_id, "body-2");
  EXPECT_EQ(via_json.code, "HttpStatus403");
  EXPECT_EQ(via_json.http_status, 403);
}

TEST(AwsError, TheJsonRequestIdHeaderWinsOverTheS3StyleOne) {
  const auto request_id = [](HeaderList headers) {
    return parse_json_error(response(400, "{}", std::move(headers))).request_id;
  };
  EXPECT_EQ(request_id({{"x-amz-request-id", "b"}, {"x-amzn-RequestId", "a"}}), "a");
  EXPECT_EQ(request_id({{"X-Amz-Request-Id", "b"}}), "b");
  EXPECT_EQ(request_id({}), "");
  EXPECT_EQ(parse_xml_error(response(500, "<Code>X</Code>", {{"x-amz-request-id", "s3"}})).request_id, "s3");
}

// The text between the tags is decoded on its own: an entity is never completed by what follows the tag.
TEST(AwsError, XmlTextDecodesOnlyInsideItsTags) {
  EXPECT_EQ(xml_text("<a>&amp</a>;", "a"), "&amp");
  EXPECT_EQ(xml_text("<a>x&lt</a>;", "a"), "x&lt");
  EXPECT_EQ(xml_text("<a>1&amp;</a>", "a"), "1&");
  EXPECT_EQ(xml_text("<a>&gt;2</a>", "a"), ">2");
  EXPECT_EQ(xml_text("<a>&amp;&amp;</a>", "a"), "&&");
  EXPECT_EQ(xml_text("<a></a>", "a"), "");
  EXPECT_EQ(xml_text("<b>0</b><a>one</a><a>two</a>", "a"), "one");
  EXPECT_EQ(xml_text("</a><a>x</a>", "a"), "x");
  EXPECT_EQ(xml_text("<a><a>x</a>", "a"), "<a>x");
}

TEST(AwsError, JsonErrorCodesAreShortenedAndMessagesReadFromEitherSpelling) {
  EXPECT_EQ(parse_json_error(response(400, R"({"__type":"ns#Code:extra","message":"m1"})")).code, "Code");
  EXPECT_EQ(parse_json_error(response(400, R"({"code":"Plain","Message":"m2"})")).message, "m2");
  EXPECT_EQ(parse_json_error(response(400, R"({"code":"Plain","message":"m3"})")).message, "m3");
  EXPECT_EQ(parse_json_error(response(400, R"({"Message":"m"})", {{"x-amzn-ErrorType", "a#B"}})).code, "B");
  const AwsError query = parse_json_error(response(400, "{}", {{"x-amzn-query-error", "AWS.Plain"}}));
  EXPECT_EQ(query.code, "AWS.Plain");
  EXPECT_EQ(query.message, "HTTP 400");
}

TEST(AwsError, ACancelledTransactionIsRetryableOnlyWhenEveryReasonIsTransient) {
  const std::string prefix = R"({"__type":"TransactionCanceledException","CancellationReasons":)";
  auto retryable = [&](const std::string& reasons) {
    return parse_json_error(response(400, prefix + reasons + "}")).retryable;
  };
  EXPECT_TRUE(retryable(R"([{"Code":"ThrottlingError"}])"));
  EXPECT_TRUE(retryable(R"([{"Code":"TransactionConflict"},{"Code":"None"}])"));
  EXPECT_TRUE(retryable(R"([{"Code":"ProvisionedThroughputExceeded"}])"));
  EXPECT_FALSE(retryable(R"([{"Code":"None"},{"Code":""}])"));
  EXPECT_FALSE(retryable(R"([{"Code":"ValidationError"},{"Code":"ThrottlingError"}])"));
  EXPECT_FALSE(retryable(R"([{"Code":"ThrottlingError"},{"Code":"ValidationError"}])"));
  const AwsError e = parse_json_error(response(400, prefix + R"([{"Message":"m","Code":"C","Item":1}]})"));
  ASSERT_EQ(e.cancellation_reasons.size(), 1U);
  EXPECT_EQ(e.cancellation_reasons[0].code, "C");
  EXPECT_EQ(e.cancellation_reasons[0].message, "m");
  EXPECT_EQ(e.cancellation_reasons[0].item_json, "");
}

}  // namespace
}  // namespace tap
