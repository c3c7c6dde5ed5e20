// Problem documents and the payload 2.0 response (tap/api/api_response.hpp): the status of every
// ChangeError and ChangeFailure kind, and the JSON API Gateway reads.
#include "tap/api/api_response.hpp"

#include <gtest/gtest.h>

namespace tap::api {
namespace {

TEST(ApiResponse, APayloadIsApiGatewaysResponseShape) {
  ApiResponse r = json_response(201, "{\"a\":\"\xff\"}");
  r.headers.emplace_back("ETag", "\"1\"");
  EXPECT_EQ(to_payload(r),
            "{\"statusCode\":201,\"headers\":{\"Content-Type\":\"application/json\",\"ETag\":\"\\\"1\\\"\"},"
            "\"body\":\"{\\\"a\\\":\\\"\xef\xbf\xbd\\\"}\",\"isBase64Encoded\":false}");
}

TEST(ApiResponse, AProblemDocumentNamesItsFields) {
  const ApiResponse r =
      problem_response(invalid_input({{"threshold", "must be a number"}, {"name", "too long"}}));
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(r.headers.at(0).second, "application/problem+json");
  EXPECT_EQ(
      r.body,
      "{\"type\":\"invalid-input\",\"title\":\"The request is invalid\",\"status\":422,"
      "\"detail\":\"threshold: must be a number; name: too long\",\"errors\":["
      "{\"field\":\"threshold\",\"message\":\"must be a number\"},{\"field\":\"name\",\"message\":\"too "
      "long\"}]}");
  EXPECT_EQ(invalid_input({{"(body)", "not JSON"}}).status, 400);
  EXPECT_EQ(problem_response(not_found("x")).body.find("errors"), std::string::npos);
}

TEST(ApiResponse, EveryChangeErrorKindHasItsStatus) {
  using K = ChangeError::Kind;
  EXPECT_EQ(problem_for(ChangeError{K::invalid, "bad", {{"symbol", "x"}}}).status, 422);
  EXPECT_EQ(problem_for(ChangeError{K::invalid, "bad", {{"symbol", "x"}}}).detail, "bad: symbol: x");
  EXPECT_EQ(problem_for(ChangeError{K::invalid, "", {{"(body)", "x"}}}).status, 400);
  EXPECT_EQ(problem_for(ChangeError{K::not_found, "gone", {}}).status, 404);
  EXPECT_EQ(problem_for(ChangeError{K::precondition_failed, "", {}}).status, 412);
  EXPECT_EQ(problem_for(ChangeError{K::conflict, "", {}}).type, "conflict");
  const Problem quota = problem_for(ChangeError{K::quota_exceeded, "", {}});
  EXPECT_EQ(quota.status, 409);
  EXPECT_EQ(quota.type, "quota-exceeded");
}

TEST(ApiResponse, FailuresAre503WithRetryAfterOr502NeverTheCallers) {
  ChangeFailure failure;
  failure.kind = ChangeFailure::Kind::retry_later;
  const Problem late = problem_for(failure);
  EXPECT_EQ(late.status, 503);
  const ApiResponse r = problem_response(late);
  EXPECT_EQ(r.headers.at(1), (std::pair<std::string, std::string>{"Retry-After", "5"}));
  failure.kind = ChangeFailure::Kind::failed;
  failure.aws = make_aws_error("AccessDeniedException", "no", 400, false);
  const Problem failed = problem_for(failure);
  EXPECT_EQ(failed.status, 502);
  EXPECT_EQ(failed.detail, "AccessDeniedException: no");
  failure.kind = ChangeFailure::Kind::rejected;
  failure.error = ChangeError{ChangeError::Kind::not_found, "", {}};
  EXPECT_EQ(problem_for(failure).status, 404);
  EXPECT_EQ(upstream_failure(make_aws_error("ThrottlingException", "slow", 400, true)).status, 503);
  EXPECT_EQ(forbidden("x").status, 403);
  EXPECT_EQ(unauthorized("x").status, 401);
}

}  // namespace
}  // namespace tap::api
