// The API function over the fake rules store (tests/handler/fake_rules_store.hpp) and fake markers: builds
// payload 2.0 events as API Gateway sends them (claims as strings, groups as "[a b]") and reads the
// payload 2.0 responses back.
#pragma once

#include <gtest/gtest.h>
#include <simdjson.h>

#include <map>
#include <set>
#include <string>
#include <utility>

#include "fake_cursor_keys.hpp"
#include "fake_idempotency.hpp"
#include "fake_rules_store.hpp"
#include "rule_records.hpp"
#include "tap/api/api_function.hpp"
#include "tap/api/rule_routes.hpp"
#include "tap/core/json_text.hpp"

namespace tap::test_support {

class FakeMarkers final : public OnceMarkerReader {
 public:
  Result<bool, AwsError> marker_exists(std::string_view rule_id, std::uint32_t arming, Deadline) override {
    ++reads;
    if (fail) return rules_throttled();
    return set.contains({std::string(rule_id), arming});
  }
  std::set<std::pair<std::string, std::uint32_t>> set;
  bool fail = false;
  int reads = 0;
};

struct Call {
  std::string method = "GET";
  std::string path = "/rules";
  std::string body{};
  std::string sub = "alice";
  std::string token_use = "access";
  std::string groups{};  // "[operators]" as API Gateway renders it; empty: no claim
  std::map<std::string, std::string> query{};
  std::map<std::string, std::string> headers{};
};

inline std::string event_json(const Call& c) {
  std::string out = "{\"version\":\"2.0\",\"routeKey\":\"$default\",\"rawPath\":";
  json::append_string(out, c.path);
  const auto object = [&out](const std::map<std::string, std::string>& m) {
    out += "{";
    bool first = true;
    for (const auto& [k, v] : m) {
      out += first ? "" : ",";
      json::append_string(out, k);
      out += ":";
      json::append_string(out, v);
      first = false;
    }
    out += "}";
  };
  out += ",\"headers\":";
  object(c.headers);
  if (!c.query.empty()) {
    out += ",\"queryStringParameters\":";
    object(c.query);
  }
  out += ",\"requestContext\":{\"http\":{\"method\":";
  json::append_string(out, c.method);
  out += ",\"path\":";
  json::append_string(out, c.path);
  out += "},\"authorizer\":{\"jwt\":{\"claims\":{\"sub\":";
  json::append_string(out, c.sub);
  out += ",\"token_use\":";
  json::append_string(out, c.token_use);
  if (!c.groups.empty()) {
    out += ",\"cognito:groups\":";
    json::append_string(out, c.groups);
  }
  out += "},\"scopes\":null}}}";
  if (!c.body.empty()) {
    out += ",\"body\":";
    json::append_string(out, c.body);
  }
  return out + ",\"isBase64Encoded\":false}";
}

struct Answer {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
  simdjson::dom::parser parser;
  simdjson::dom::element json;  // the body parsed
  std::string text(std::string_view pointer) {
    std::string_view v;
    EXPECT_FALSE(json.at_pointer(pointer).get(v)) << pointer << " in " << body;
    return std::string(v);
  }
  std::int64_t number(std::string_view pointer) {
    std::int64_t v = 0;
    EXPECT_FALSE(json.at_pointer(pointer).get(v)) << pointer << " in " << body;
    return v;
  }
  std::size_t count(std::string_view pointer) {
    simdjson::dom::array a;
    EXPECT_FALSE(json.at_pointer(pointer).get(a)) << pointer << " in " << body;
    return a.size();
  }
};

struct ApiFixture : ::testing::Test {
  SimTime time;
  std::int64_t offset = 0;
  FakeRulesTables tables{2};
  FakeRulesStore store{tables};
  FakeMarkers markers;
  FakeIdempotency idempotency;
  api::FakeKeyStore key_store;
  api::FakeDataKeys data_keys;
  api::CursorKeySource cursor_keys{key_store, data_keys};
  int next_id = 0;
  ChangeServiceSettings settings{.quota = 3};
  ChangeService changes{store, offset_clock(time, offset), [this](std::int64_t m) { time.advance(m); },
                        [this] { return "rule" + std::to_string(++next_id); }, settings};
  api::RuleRoutes routes{store, changes, markers, idempotency, cursor_keys, offset_clock(time, offset)};
  api::Router router = [this] {
    api::Router r;
    routes.add_to(r);
    return r;
  }();
  api::ApiFunction function{router, "operators"};

  std::unique_ptr<Answer> send(const Call& c) {
    return answer(function.handle(event_json(c), far_deadline()));
  }
  static std::unique_ptr<Answer> answer(const api::ApiResponse& r) {
    auto a = std::make_unique<Answer>();
    a->status = r.status;
    for (const auto& [k, v] : r.headers) a->headers[k] = v;
    a->body = r.body;
    EXPECT_FALSE(a->parser.parse(a->body).get(a->json)) << a->body;
    return a;
  }
  // Creates a rule for `owner` and answers its id.
  std::string create(const std::string& name, const std::string& owner = "alice",
                     const std::string& symbol = "AAPL") {
    auto a = send({.method = "POST", .path = "/rules", .body = spec_body(name, symbol), .sub = owner});
    EXPECT_EQ(a->status, 201) << a->body;
    return a->text("/rule/id");
  }
  static std::string spec_body(const std::string& name, const std::string& symbol = "AAPL") {
    return "{\"name\":\"" + name + "\",\"symbol\":\"" + symbol +
           "\",\"condition\":\"price_above\",\"threshold\":100,\"severity\":\"info\"}";
  }
};

}  // namespace tap::test_support
