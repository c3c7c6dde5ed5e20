// parse_api_event (tap/api/api_event.hpp): API Gateway's payload 2.0 as it sends it, and a hostile corpus
// that must come back as error values (never a crash, never a half-read request).
#include "tap/api/api_event.hpp"

#include <gtest/gtest.h>

#include <string>

namespace tap::api {
namespace {

// An event as API Gateway sends it (docs: "Working with AWS Lambda proxy integrations for HTTP APIs").
const std::string kEvent = R"({
  "version": "2.0", "routeKey": "PATCH /rules/{rule_id}", "rawPath": "/rules/abc",
  "rawQueryString": "symbol=AAPL&state=active",
  "cookies": ["c=1"],
  "headers": {"Content-Type": "application/json", "if-match": "\"3\""},
  "queryStringParameters": {"symbol": "AAPL", "state": "active"},
  "requestContext": {
    "accountId": "123456789012", "apiId": "api-id", "domainName": "x", "requestId": "id",
    "authorizer": {"jwt": {"claims": {"sub": "u-1", "token_use": "access", "client_id": "c-1",
                                      "scope": "aws.cognito.signin.user.admin",
                                      "cognito:groups": "[operators admins]", "exp": "1700000000"},
                           "scopes": null}},
    "http": {"method": "PATCH", "path": "/rules/abc", "protocol": "HTTP/1.1", "sourceIp": "1.2.3.4",
             "userAgent": "curl"},
    "routeKey": "PATCH /rules/{rule_id}", "stage": "$default", "time": "x", "timeEpoch": 1700000000000
  },
  "pathParameters": {"rule_id": "abc"},
  "body": "{\"threshold\":1}", "isBase64Encoded": false, "stageVariables": {"a": "b"}
})";

TEST(ApiEvent, ReadsApiGatewaysPayload20) {
  auto r = parse_api_event(kEvent);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->method, "PATCH");
  EXPECT_EQ(r->route_key, "PATCH /rules/{rule_id}");
  EXPECT_EQ(r->raw_path, "/rules/abc");
  EXPECT_EQ(r->path_parameters.at("rule_id"), "abc");
  EXPECT_EQ(r->query.at("state"), "active");
  EXPECT_EQ(r->headers.at("content-type"), "application/json");  // lower-cased
  EXPECT_EQ(r->headers.at("if-match"), "\"3\"");
  EXPECT_EQ(r->body, "{\"threshold\":1}");
  EXPECT_EQ(r->claims, (Claims{.sub = "u-1",
                               .token_use = "access",
                               .client_id = "c-1",
                               .scope = "aws.cognito.signin.user.admin",
                               .groups = {"operators", "admins"}}));
}

std::string minimal(const std::string& extra) {
  return R"({"rawPath":"/rules","requestContext":{"http":{"method":"GET"}})" + extra + "}";
}

TEST(ApiEvent, DecodesABase64BodyAndRefusesInvalidBase64) {
  auto r = parse_api_event(minimal(R"(,"body":"eyJhIjoxfQ==","isBase64Encoded":true)"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->body, "{\"a\":1}");
  EXPECT_EQ(parse_api_event(minimal(R"(,"body":"YWI=","isBase64Encoded":true)"))->body, "ab");
  EXPECT_EQ(parse_api_event(minimal(R"(,"body":"YQ==","isBase64Encoded":true)"))->body, "a");
  for (const char* bad : {"YQ=", "Y===", "YQ=a", "*AAA", "YQ==YQ==", "=AAA"}) {
    auto e = parse_api_event(minimal(std::string(R"(,"body":")") + bad + R"(","isBase64Encoded":true)"));
    EXPECT_FALSE(e.ok()) << bad;
  }
}

TEST(ApiEvent, GroupsAsAJsonArrayOrOneValueAndNoClaimsAtAll) {
  auto r = parse_api_event(
      R"({"requestContext":{"http":{"method":"GET"},"authorizer":{"jwt":{"claims":{"cognito:groups":["a","b"]}}}}})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->claims.groups, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(parse_group_claim("operators"), std::vector<std::string>{"operators"});
  EXPECT_EQ(parse_group_claim("[]"), std::vector<std::string>{});
  EXPECT_EQ(parse_group_claim("[a  b]"), (std::vector<std::string>{"a", "b"}));
  auto none = parse_api_event(minimal(""));
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->claims, Claims{});
  for (
      const char* partial :
      {R"({"requestContext":{"http":{"method":"GET"},"authorizer":null}})",
       R"({"requestContext":{"http":{"method":"GET"},"authorizer":{}}})",
       R"({"requestContext":{"http":{"method":"GET"},"authorizer":{"jwt":{}}}})",
       R"({"requestContext":{"http":{"method":"GET"},"authorizer":{"jwt":{"claims":{"cognito:groups":null}}}}})"}) {
    auto p = parse_api_event(partial);
    ASSERT_TRUE(p.ok()) << partial << ": " << p.error().message;
    EXPECT_EQ(p->claims, Claims{});
  }
}

// Each of these is refused with an error value naming what is wrong.
TEST(ApiEvent, AHostileCorpusIsRefusedAsErrorValues) {
  const std::string deep = std::string(40, '[') + std::string(40, ']');
  const std::vector<std::string> corpus = {
      "",
      "null",
      "[]",
      "{",
      "{\"rawPath\":\"/\xff\"}",                          // invalid UTF-8
      minimal(R"(,"rawPath":"/x")"),                      // duplicate key
      minimal(R"(,"headers":{"a":"1","a":"2"})"),         // nested duplicate
      minimal(R"(,"headers":{"a":1})"),                   // wrong type in a map
      minimal(R"(,"headers":[])"),                        // wrong type of a map
      minimal(R"(,"body":42)"),                           // wrong type
      minimal(R"(,"body":"x","isBase64Encoded":"yes")"),  // wrong type
      minimal(R"(,"routeKey":NaN)"),                      // not JSON
      minimal(R"(,"x":1e999999)"),                        // huge number
      minimal(R"(,"x":123456789012345678901234567890)"),  // huge integer
      minimal(",\"x\":" + deep),                          // deep nesting
      R"({"rawPath":"/rules"})",                          // no requestContext
      R"({"requestContext":{}})",                         // no http
      R"({"requestContext":{"http":{}}})",                // no method
      R"({"requestContext":{"http":{"method":7}}})",      // wrong type
      R"({"requestContext":{"http":"GET"}})",             // wrong type
      R"({"requestContext":[]})",                         // wrong type
      R"({"requestContext":{"http":{"method":"GET"},"authorizer":[]}})",
      R"({"requestContext":{"http":{"method":"GET"},"authorizer":{"jwt":1}}})",
      R"({"requestContext":{"http":{"method":"GET"},"authorizer":{"jwt":{"claims":"x"}}}})",
      R"({"requestContext":{"http":{"method":"GET"},"authorizer":{"jwt":{"claims":{"sub":1}}}}})",
      R"({"requestContext":{"http":{"method":"GET"},"authorizer":{"jwt":{"claims":{"cognito:groups":[1]}}}}})",
      R"({"requestContext":{"http":{"method":"GET"},"authorizer":{"jwt":{"claims":{"cognito:groups":1}}}}})",
  };
  for (const std::string& event : corpus) {
    auto r = parse_api_event(event);
    EXPECT_FALSE(r.ok()) << event;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, "invalid_api_event");
    }
  }
}

TEST(ApiEvent, UnknownFieldsAndLongStringsAreRead) {
  const std::string long_body(1 << 20, 'x');
  auto r = parse_api_event(minimal(R"(,"surprise":{"a":[1,2,{"b":null}]},"body":")" + long_body + "\""));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->body.size(), long_body.size());
}

}  // namespace
}  // namespace tap::api
