// The operators' symbol routes over the change library and the fake rules store.
#include "tap/api/symbol_routes.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include "../handler/fake_rules_store.hpp"
#include "../handler/rule_records.hpp"
#include "json_body.hpp"

namespace tap::api {
namespace {

using test_support::FakeRulesStore;
using test_support::FakeRulesTables;
using test_support::far_deadline;
using test_support::kSecond;
using test_support::SimTime;

const Caller kOperator{"ops-1", true};
const Caller kTrader{"alice", false};

struct SymbolRoutesTest : ::testing::Test {
  SymbolRoutesTest() { add_symbol_routes(router, context); }

  ApiResponse call(const std::string& method, const std::string& path, std::string body = "",
                   const Caller& caller = kOperator) {
    ApiRequest request;
    request.method = method;
    request.raw_path = path;
    request.body = std::move(body);
    return router.dispatch(request, caller, far_deadline());
  }

  simdjson::dom::element json(const ApiResponse& r) { return bodies.parse(r.body); }

  std::vector<std::string> fields(const ApiResponse& r) { return bodies.problem_fields(r.body); }

  SimTime time;
  FakeRulesTables tables;
  FakeRulesStore store{tables};
  ChangeService changes{store, [this] { return time.now_micros; },
                        [this](std::int64_t m) { time.advance(m); }, [] { return std::string("unused"); },
                        ChangeServiceSettings{}};
  SymbolRoutesContext context{store, changes};
  Router router;
  JsonBodies bodies;
};

TEST_F(SymbolRoutesTest, OnlyOperatorsReachTheControls) {
  for (const auto& [method, path] :
       std::vector<std::pair<std::string, std::string>>{{"GET", "/symbols/AAPL/controls"},
                                                        {"PUT", "/symbols/AAPL/suspension"},
                                                        {"DELETE", "/symbols/AAPL/suspension"},
                                                        {"PUT", "/symbols/AAPL/band"},
                                                        {"DELETE", "/symbols/AAPL/band"}}) {
    EXPECT_EQ(call(method, path, R"({"low":1,"high":2})", kTrader).status, 403) << method << " " << path;
  }
  EXPECT_TRUE(tables.all_controls().empty());
}

TEST_F(SymbolRoutesTest, SuspendAndResumeAnswerTheirEffectiveFrom) {
  const std::int64_t now = time.now_micros;
  const ApiResponse suspended =
      call("PUT", "/symbols/AAPL/suspension", R"({"until":"2030-01-01T00:00:00Z"})");
  ASSERT_EQ(suspended.status, 200) << suspended.body;
  const auto from = parse_timestamp(json(suspended)["effective_from"].get_string().value_unsafe());
  ASSERT_TRUE(from.ok());
  EXPECT_GE(from->micros, now + 5 * kSecond);  // R3: commit time + P
  EXPECT_EQ(json(suspended)["symbol"].get_string().value_unsafe(), "AAPL");
  const ApiResponse controls = call("GET", "/symbols/AAPL/controls");
  ASSERT_EQ(controls.status, 200);
  const auto window = json(controls)["suspensions"].at(0);
  EXPECT_EQ(window["from"].get_string().value_unsafe(), format_timestamp(from->micros));
  EXPECT_EQ(window["until"].get_string().value_unsafe(), "2030-01-01T00:00:00.000000Z");
  EXPECT_EQ(json(controls)["bands"].get_array().value_unsafe().size(), 0U);
  // An empty body is an open suspension; it overlaps the one above: the plan's conflict, 409.
  EXPECT_EQ(call("PUT", "/symbols/AAPL/suspension").status, 409);
  EXPECT_EQ(call("DELETE", "/symbols/AAPL/suspension").status, 200);
  EXPECT_EQ(call("DELETE", "/symbols/AAPL/suspension").status, 409);  // none open any more
}

TEST_F(SymbolRoutesTest, BandsAreSetAndCleared) {
  const ApiResponse set = call("PUT", "/symbols/MSFT/band", R"({"low":100,"high":250.5})");
  ASSERT_EQ(set.status, 200) << set.body;
  const auto band = json(call("GET", "/symbols/MSFT/controls"))["bands"].at(0);
  EXPECT_EQ(band["low"].get_double().value_unsafe(), 100);
  EXPECT_EQ(band["high"].get_double().value_unsafe(), 250.5);
  EXPECT_TRUE(band["until"].is_null());
  EXPECT_EQ(call("DELETE", "/symbols/MSFT/band").status, 200);
  EXPECT_EQ(call("DELETE", "/symbols/MSFT/band").status, 409);
  // Another symbol's controls are empty lists, never another's.
  const auto other = json(call("GET", "/symbols/IBM/controls"));
  EXPECT_EQ(other["symbol"].get_string().value_unsafe(), "IBM");
  EXPECT_EQ(other["suspensions"].get_array().value_unsafe().size(), 0U);
}

TEST_F(SymbolRoutesTest, HostileBodiesAreProblemsAndChangeNothing) {
  // Not one JSON object: 400 malformed body.
  for (const std::string body : {"", "[1]", "{", "null", "\"x\"", "{\"low\":1,}", "\xff\xfe"}) {
    EXPECT_EQ(call("PUT", "/symbols/AAPL/band", body).status, 400) << body;
  }
  EXPECT_EQ(call("PUT", "/symbols/AAPL/suspension", "[]").status, 400);
  // Readable objects with wrong content: 422 naming each member.
  const ApiResponse unknown = call("PUT", "/symbols/AAPL/band", R"({"low":1,"high":2,"colour":"red"})");
  EXPECT_EQ(unknown.status, 422);
  EXPECT_EQ(fields(unknown), std::vector<std::string>{"colour"});
  const ApiResponse twice = call("PUT", "/symbols/AAPL/band", R"({"low":1,"high":2,"low":3})");
  EXPECT_EQ(twice.status, 422);
  EXPECT_EQ(fields(twice), std::vector<std::string>{"low"});
  const ApiResponse types = call("PUT", "/symbols/AAPL/band", R"({"low":"1","high":{"x":1}})");
  EXPECT_EQ(types.status, 422);
  EXPECT_EQ(fields(types), (std::vector<std::string>{"low", "high"}));
  EXPECT_EQ(fields(call("PUT", "/symbols/AAPL/band", R"({"low":1})")), std::vector<std::string>{"high"});
  EXPECT_EQ(call("PUT", "/symbols/AAPL/band", R"({"low":1e400,"high":2})").status, 400);  // not JSON numbers
  EXPECT_EQ(call("PUT", "/symbols/AAPL/band", R"({"low":5,"high":2})").status, 422);      // the plan's rule
  const ApiResponse when = call("PUT", "/symbols/AAPL/suspension", R"({"from":17,"until":"soon"})");
  EXPECT_EQ(when.status, 422);
  EXPECT_EQ(fields(when), (std::vector<std::string>{"from", "until"}));
  // A path symbol that is not one.
  EXPECT_EQ(call("GET", "/symbols/not%20a%20symbol/controls").status, 422);
  EXPECT_EQ(call("PUT", "/symbols/%3Cscript%3E/band", R"({"low":1,"high":2})").status, 422);
  EXPECT_TRUE(tables.all_controls().empty());
}

TEST_F(SymbolRoutesTest, StoreFailuresAreServerSide) {
  store.fail_requests = 1000;
  EXPECT_GE(call("GET", "/symbols/AAPL/controls").status, 500);
  EXPECT_GE(call("DELETE", "/symbols/AAPL/band").status, 500);
}

}  // namespace
}  // namespace tap::api
