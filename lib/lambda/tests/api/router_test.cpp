// The route table and the function's front (tap/api/router.hpp, api_function.hpp, api_auth.hpp): matching
// on the raw path, 404 and 405, percent-decoding, the bound on rule ids, and the claims checks of A1.
#include "tap/api/router.hpp"

#include <gtest/gtest.h>

#include "api_fixture.hpp"
#include "tap/api/api_auth.hpp"
#include "tap/app/rules_store.hpp"

namespace tap::api {
namespace {

using test_support::ApiFixture;
using test_support::far_deadline;

ApiResponse echo(const RouteCall& call) {
  std::string out = call.caller.owner;
  for (const auto& [k, v] : call.params) out += " " + k + "=" + v;
  return json_response(200, out);
}

TEST(Router, MatchesOnTheRawPathAndTakesParametersAsTheyCame) {
  Router router;
  router.add("GET", "/a/{x}", echo);
  router.add("POST", "/a/{x}", echo);
  router.add("GET", "/a/{x}/b", echo);
  EXPECT_EQ(router.route_keys(), (std::vector<std::string>{"GET /a/{x}", "POST /a/{x}", "GET /a/{x}/b"}));
  const Caller caller{.owner = "me"};
  // API Gateway decoded the path once (a client's %252F is this %2F): never a second time.
  ApiRequest request{.method = "GET", .raw_path = "/a/x%2Fy"};
  EXPECT_EQ(router.dispatch(request, caller, far_deadline()).body, "me x=x%2Fy");
  request.raw_path = "/a/q/b";
  EXPECT_EQ(router.dispatch(request, caller, far_deadline()).body, "me x=q");
  request.raw_path = "/a/";  // an empty parameter matches nothing
  EXPECT_EQ(router.dispatch(request, caller, far_deadline()).status, 404);
  request.raw_path = "/a/%zz";  // not an escape: a parameter like any other
  EXPECT_EQ(router.dispatch(request, caller, far_deadline()).body, "me x=%zz");
  request.raw_path = "/c";
  EXPECT_EQ(router.dispatch(request, caller, far_deadline()).status, 404);
  request = {.method = "DELETE", .raw_path = "/a/1"};
  const ApiResponse r = router.dispatch(request, caller, far_deadline());
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers.back(), (std::pair<std::string, std::string>{"Allow", "GET, POST"}));
}

TEST(Router, ARuleIdLongerThanAnyTheStoreMakesIs404AndNeverReachesTheHandler) {
  Router router;
  int calls = 0;
  router.add("GET", "/rules/{rule_id}", rule_id_route([&calls](const RouteCall& call) {
               ++calls;
               return echo(call);
             }));
  const Caller caller{.owner = "me"};
  const std::string longest(kMaxRuleIdBytes, 'x');
  ApiRequest request{.method = "GET", .raw_path = "/rules/" + longest};
  EXPECT_EQ(router.dispatch(request, caller, far_deadline()).body, "me rule_id=" + longest);
  request.raw_path += "x";
  const ApiResponse too_long = router.dispatch(request, caller, far_deadline());
  EXPECT_EQ(too_long.status, 404);
  EXPECT_NE(too_long.body.find("\"type\":\"not-found\""), std::string::npos) << too_long.body;
  EXPECT_EQ(calls, 1);
}

TEST(Auth, TheOwnerIsSubAnAccessTokenIsRequiredAndOperatorsAreTheGroup) {
  auto ok = authenticate({.sub = "u", .token_use = "access", .groups = {"x", "ops"}}, "ops");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->owner, "u");
  EXPECT_TRUE(ok->is_operator);
  EXPECT_FALSE(authenticate({.sub = "u", .token_use = "access"}, "ops")->is_operator);
  EXPECT_FALSE(authenticate({.sub = "u", .token_use = "access", .groups = {""}}, "")->is_operator);
  EXPECT_EQ(authenticate({.token_use = "access"}, "ops").error().status, 401);
  const auto id_token = authenticate({.sub = "u", .token_use = "id"}, "ops");
  EXPECT_EQ(id_token.error().status, 403);
  EXPECT_EQ(id_token.error().type, "id-token-refused");
}

using FunctionTest = ApiFixture;

TEST_F(FunctionTest, AMalformedEventIs400AnIdTokenIs403AndNothingIsRead) {
  EXPECT_EQ(function.handle("{", far_deadline()).status, 400);
  auto id = send({.token_use = "id"});
  EXPECT_EQ(id->status, 403);
  auto no_sub = send({.sub = ""});
  EXPECT_EQ(no_sub->status, 401);
  EXPECT_EQ(store.requests(), 0);
  EXPECT_EQ(send({.method = "PUT", .path = "/rules"})->status, 405);
  EXPECT_EQ(send({.path = "/nowhere"})->status, 404);
}

}  // namespace
}  // namespace tap::api
