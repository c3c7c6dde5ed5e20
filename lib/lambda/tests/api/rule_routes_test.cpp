// The rule routes (tap/api/rule_routes.hpp) through the whole function (event in, response out) over the
// fake rules store: every route, owner isolation, If-Match, quota, states, problems.
#include "tap/api/rule_routes.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "api_fixture.hpp"

namespace tap::api {
namespace {

using test_support::ApiFixture;
using test_support::Call;
using test_support::kSecond;

using RuleRoutesTest = ApiFixture;

TEST_F(RuleRoutesTest, ACreateAnswers201WithTheRuleItsRevisionEffectiveFromAndETag) {
  auto a = send({.method = "POST", .path = "/rules", .body = spec_body("breakout")});
  ASSERT_EQ(a->status, 201) << a->body;
  EXPECT_EQ(a->text("/rule/name"), "breakout");
  EXPECT_EQ(a->text("/rule/owner"), "alice");
  EXPECT_EQ(a->text("/rule/state"), "active");
  EXPECT_EQ(a->text("/rule/mode"), "once");  // R2: the default for new rules
  EXPECT_EQ(a->number("/revision"), 1);
  EXPECT_EQ(a->text("/effective_from"), format_timestamp(time.now_micros + settings.p_micros));
  EXPECT_EQ(a->headers["ETag"], "\"1\"");
  EXPECT_EQ(a->headers["Location"], "/rules/" + a->text("/rule/id"));
  EXPECT_EQ(a->headers["Content-Type"], "application/json");
}

TEST_F(RuleRoutesTest, GetAnswersTheRuleWithItsETagAndAnotherOwnersRuleIs404) {
  const std::string id = create("breakout");
  auto mine = send({.path = "/rules/" + id});
  ASSERT_EQ(mine->status, 200) << mine->body;
  EXPECT_EQ(mine->text("/id"), id);
  EXPECT_EQ(mine->headers["ETag"], "\"1\"");
  auto theirs = send({.path = "/rules/" + id, .sub = "bob"});
  EXPECT_EQ(theirs->status, 404);
  EXPECT_EQ(theirs->text("/type"), "not-found");
  EXPECT_EQ(theirs->headers["Content-Type"], "application/problem+json");
}

TEST_F(RuleRoutesTest, AnIdLongerThanAnyTheStoreMakesIs404WithoutARequest) {
  const std::string id = create("breakout");
  const int before = store.requests();
  const std::string longest(kMaxRuleIdBytes, 'x');
  EXPECT_EQ(send({.path = "/rules/" + longest})->status, 404);  // asked: the store says no such rule
  EXPECT_GT(store.requests(), before);
  const int asked = store.requests();
  const std::string too_long(kMaxRuleIdBytes + 1, 'x');
  for (const auto& [method, suffix] :
       {std::pair{"GET", ""}, std::pair{"PATCH", ""}, std::pair{"DELETE", ""}, std::pair{"POST", "/pause"},
        std::pair{"POST", "/resume"}, std::pair{"POST", "/rearm"}, std::pair{"GET", "/versions"}}) {
    auto a = send({.method = method,
                   .path = "/rules/" + too_long + suffix,
                   .body = std::string(method) == "PATCH" ? "{\"threshold\":1}" : "",
                   .headers = {{"if-match", "\"1\""}}});
    EXPECT_EQ(a->status, 404) << method << suffix << a->body;
    EXPECT_EQ(a->text("/type"), "not-found");
  }
  EXPECT_EQ(store.requests(), asked);
  EXPECT_EQ(send({.path = "/rules/" + id})->status, 200);
}

TEST_F(RuleRoutesTest, AnotherOwnerCannotChangePauseOrDeleteARuleAndNothingChanges) {
  const std::string id = create("breakout");
  const auto before = tables.get("alice", id);
  for (const auto& [method, suffix] : {std::pair{"POST", "/pause"}, std::pair{"POST", "/resume"},
                                       std::pair{"POST", "/rearm"}, std::pair{"DELETE", ""}}) {
    auto a = send({.method = method, .path = "/rules/" + id + suffix, .sub = "bob"});
    EXPECT_EQ(a->status, 404) << method << suffix << a->body;
  }
  auto edit = send({.method = "PATCH",
                    .path = "/rules/" + id,
                    .body = "{\"threshold\":1}",
                    .sub = "bob",
                    .headers = {{"if-match", "\"1\""}}});
  EXPECT_EQ(edit->status, 404);
  EXPECT_EQ(tables.get("alice", id), before);
}

TEST_F(RuleRoutesTest, AnInvalidDefinitionIs422NamingTheFieldAndAnUnreadableBodyIs400) {
  auto wrong = send({.method = "POST",
                     .path = "/rules",
                     .body = "{\"name\":\"x\",\"symbol\":\"AAPL\",\"condition\":\"price_above\","
                             "\"threshold\":\"high\",\"severity\":\"info\"}"});
  EXPECT_EQ(wrong->status, 422);
  EXPECT_EQ(wrong->text("/type"), "invalid-input");
  EXPECT_EQ(wrong->text("/errors/0/field"), "threshold");
  auto garbage = send({.method = "POST", .path = "/rules", .body = "{not json"});
  EXPECT_EQ(garbage->status, 400);
  EXPECT_EQ(garbage->text("/type"), "malformed-body");
  EXPECT_EQ(garbage->text("/errors/0/field"), "(body)");
  EXPECT_EQ(tables.list("alice", true).size(), 0U);
}

TEST_F(RuleRoutesTest, TheQuotaIs409QuotaExceeded) {
  for (int i = 0; i < 3; ++i) create("r" + std::to_string(i));
  auto a = send({.method = "POST", .path = "/rules", .body = spec_body("r3")});
  EXPECT_EQ(a->status, 409);
  EXPECT_EQ(a->text("/type"), "quota-exceeded");
  EXPECT_EQ(tables.list("alice", false).size(), 3U);
}

TEST_F(RuleRoutesTest, PatchNeedsIfMatch428WhenAbsent412WhenStaleAndMergesTheDefinition) {
  const std::string id = create("breakout");
  auto absent = send({.method = "PATCH", .path = "/rules/" + id, .body = "{\"threshold\":150}"});
  EXPECT_EQ(absent->status, 428);
  EXPECT_EQ(absent->text("/errors/0/field"), "If-Match");
  auto bad = send({.method = "PATCH",
                   .path = "/rules/" + id,
                   .body = "{\"threshold\":150}",
                   .headers = {{"if-match", "yesterday"}}});
  EXPECT_EQ(bad->status, 422);
  auto ok = send({.method = "PATCH",
                  .path = "/rules/" + id,
                  .body = "{\"threshold\":150,\"description\":\"up\"}",
                  .headers = {{"if-match", "\"1\""}}});
  ASSERT_EQ(ok->status, 200) << ok->body;
  EXPECT_EQ(ok->number("/revision"), 2);
  EXPECT_EQ(ok->headers["ETag"], "\"2\"");
  EXPECT_EQ(ok->text("/rule/name"), "breakout");  // kept: not in the patch
  EXPECT_EQ(ok->text("/rule/description"), "up");
  auto stale = send({.method = "PATCH",
                     .path = "/rules/" + id,
                     .body = "{\"threshold\":160}",
                     .headers = {{"if-match", "1"}}});
  EXPECT_EQ(stale->status, 412);
  EXPECT_EQ(stale->text("/type"), "precondition-failed");
  EXPECT_EQ(tables.get("alice", id)->spec.threshold, 150);
}

TEST_F(RuleRoutesTest, APatchWithANumberOutOfRangeIs422NamingItsFieldAsACreateIs) {
  const std::string id = create("breakout");
  const auto before = tables.get("alice", id);
  for (const char* body : {R"({"threshold":1e400})", R"({"threshold":-1e400,"description":"x"})"}) {
    auto a =
        send({.method = "PATCH", .path = "/rules/" + id, .body = body, .headers = {{"if-match", "\"1\""}}});
    EXPECT_EQ(a->status, 422) << body << a->body;
    EXPECT_EQ(a->text("/errors/0/field"), "threshold") << body;
    EXPECT_EQ(a->count("/errors"), 1U) << a->body;
  }
  auto created = send({.method = "POST",
                       .path = "/rules",
                       .body = R"({"name":"b","symbol":"AAPL",)"
                               R"("condition":"price_above",)"
                               R"("threshold":1e400,"severity":"info"})"});
  EXPECT_EQ(created->status, 422);
  EXPECT_EQ(created->text("/errors/0/field"), "threshold");
  EXPECT_EQ(tables.get("alice", id), before);
}

TEST_F(RuleRoutesTest, APatchCanChangeTheModeAndRemoveAPropertyWithNull) {
  const std::string id = create("breakout");
  auto every = send({.method = "PATCH",
                     .path = "/rules/" + id,
                     .body = "{\"mode\":\"every\",\"cooldown_seconds\":30,\"description\":\"d\"}",
                     .headers = {{"if-match", "\"1\""}}});
  ASSERT_EQ(every->status, 200) << every->body;
  EXPECT_EQ(every->number("/rule/cooldown_seconds"), 30);
  auto once = send({.method = "PATCH",
                    .path = "/rules/" + id,
                    .body = "{\"mode\":\"once\",\"description\":null}",
                    .headers = {{"if-match", "\"2\""}}});
  ASSERT_EQ(once->status, 200) << once->body;
  EXPECT_EQ(tables.get("alice", id)->spec.mode, TriggerMode::once);
  EXPECT_EQ(tables.get("alice", id)->spec.description, "");
  auto unknown = send({.method = "PATCH",
                       .path = "/rules/" + id,
                       .body = "{\"colour\":\"red\"}",
                       .headers = {{"if-match", "\"3\""}}});
  EXPECT_EQ(unknown->status, 422);
  EXPECT_EQ(unknown->text("/errors/0/field"), "colour");
  auto duplicate = send({.method = "PATCH",
                         .path = "/rules/" + id,
                         .body = "{\"threshold\":1,\"threshold\":2}",
                         .headers = {{"if-match", "\"3\""}}});
  EXPECT_EQ(duplicate->status, 422);
  auto garbage =
      send({.method = "PATCH", .path = "/rules/" + id, .body = "[1]", .headers = {{"if-match", "\"3\""}}});
  EXPECT_EQ(garbage->status, 400);
  auto huge = send({.method = "PATCH",
                    .path = "/rules/" + id,
                    .body = "{\"threshold\":1e999}",
                    .headers = {{"if-match", "\"3\""}}});
  EXPECT_EQ(huge->status / 100, 4) << huge->body;
  EXPECT_EQ(tables.get("alice", id)->revision, 3U);
}

TEST_F(RuleRoutesTest, PauseResumeDeleteAndTheirConflicts) {
  const std::string id = create("breakout");
  EXPECT_EQ(send({.method = "POST", .path = "/rules/" + id + "/resume"})->status, 409);
  auto paused = send({.method = "POST", .path = "/rules/" + id + "/pause"});
  ASSERT_EQ(paused->status, 200) << paused->body;
  EXPECT_EQ(paused->text("/rule/state"), "paused");
  EXPECT_EQ(send({.method = "POST", .path = "/rules/" + id + "/pause"})->text("/type"), "conflict");
  EXPECT_EQ(send({.method = "POST", .path = "/rules/" + id + "/resume"})->text("/rule/state"), "active");
  auto deleted = send({.method = "DELETE", .path = "/rules/" + id});
  ASSERT_EQ(deleted->status, 200);
  EXPECT_EQ(deleted->text("/rule/state"), "deleted");
  EXPECT_EQ(send({.path = "/rules/" + id})->text("/state"), "deleted");
  EXPECT_EQ(send({.method = "DELETE", .path = "/rules/" + id})->status, 404);
}

TEST_F(RuleRoutesTest, RearmNeedsTheCurrentArmingsMarkerWhichShowsAsTriggered) {
  const std::string id = create("breakout");
  EXPECT_EQ(send({.method = "POST", .path = "/rules/" + id + "/rearm"})->status, 409);
  markers.set.insert({id, 1});
  EXPECT_EQ(send({.path = "/rules/" + id})->text("/state"), "triggered");
  auto rearmed = send({.method = "POST", .path = "/rules/" + id + "/rearm"});
  ASSERT_EQ(rearmed->status, 200) << rearmed->body;
  EXPECT_EQ(rearmed->number("/rule/arming"), 2);
  EXPECT_EQ(rearmed->text("/rule/state"), "active");
}

TEST_F(RuleRoutesTest, AMarkerThatCannotBeReadIs503ForAReadAndTheChangeStillAnswers) {
  const std::string id = create("breakout");
  markers.fail = true;
  auto read = send({.path = "/rules/" + id});
  EXPECT_EQ(read->status, 503);
  EXPECT_EQ(read->headers["Retry-After"], "5");
  EXPECT_EQ(send({.method = "POST", .path = "/rules/" + id + "/rearm"})->status, 503);
  auto paused = send({.method = "POST", .path = "/rules/" + id + "/pause"});
  EXPECT_EQ(paused->status, 200);  // committed: shown with its stored state
  EXPECT_EQ(paused->text("/rule/state"), "paused");
  EXPECT_EQ(send({})->status, 503);
}

TEST_F(RuleRoutesTest, AnExpiredRuleShowsExpiredByTheApisClock) {
  auto a = send({.method = "POST",
                 .path = "/rules",
                 .body = "{\"name\":\"x\",\"symbol\":\"AAPL\",\"condition\":\"price_above\",\"threshold\":1,"
                         "\"severity\":\"info\",\"expires_at\":\"" +
                         format_timestamp(time.now_micros + 60 * kSecond) + "\"}"});
  ASSERT_EQ(a->status, 201) << a->body;
  time.advance(61 * kSecond);
  EXPECT_EQ(send({.path = "/rules/" + a->text("/rule/id")})->text("/state"), "expired");
}

TEST_F(RuleRoutesTest, VersionsListEachVersionWithItsWindow) {
  const std::string id = create("breakout");
  const std::int64_t first = time.now_micros + settings.p_micros;
  time.advance(10 * kSecond);
  ASSERT_EQ(send({.method = "POST", .path = "/rules/" + id + "/pause"})->status, 200);
  auto v = send({.path = "/rules/" + id + "/versions"});
  ASSERT_EQ(v->status, 200) << v->body;
  EXPECT_EQ(v->text("/rule_id"), id);
  ASSERT_EQ(v->count("/versions"), 1U);
  EXPECT_EQ(v->text("/versions/0/effective_from"), format_timestamp(first));
  EXPECT_EQ(v->text("/versions/0/effective_until"), format_timestamp(time.now_micros + settings.p_micros));
  ASSERT_EQ(send({.method = "POST", .path = "/rules/" + id + "/resume"})->status, 200);
  auto open = send({.path = "/rules/" + id + "/versions"});
  EXPECT_TRUE(open->json.at_pointer("/versions/1/effective_until").is_null());
  EXPECT_EQ(send({.path = "/rules/" + id + "/versions", .sub = "bob"})->status, 404);
}

TEST_F(RuleRoutesTest, AVersionShowsTheExpiryItWasMadeWith) {
  const std::string expiry = format_timestamp(time.now_micros + 3600 * kSecond);
  auto a = send({.method = "POST",
                 .path = "/rules",
                 .body = "{\"name\":\"x\",\"symbol\":\"AAPL\",\"condition\":\"price_above\",\"threshold\":1,"
                         "\"severity\":\"info\",\"expires_at\":\"" +
                         expiry + "\"}"});
  ASSERT_EQ(a->status, 201) << a->body;
  const std::string id = a->text("/rule/id");
  ASSERT_EQ(send({.method = "PATCH",
                  .path = "/rules/" + id,
                  .body = "{\"expires_at\":null}",
                  .headers = {{"if-match", "\"1\""}}})
                ->status,
            200);
  auto v = send({.path = "/rules/" + id + "/versions"});
  ASSERT_EQ(v->count("/versions"), 2U) << v->body;
  EXPECT_EQ(v->text("/versions/0/expires_at"), expiry);
  EXPECT_EQ(v->json.at_pointer("/versions/1/expires_at").error(), simdjson::NO_SUCH_FIELD);
}

TEST_F(RuleRoutesTest, ListFiltersBySymbolAndStateAndStaysWithinTheOwner) {
  const std::string a = create("a", "alice", "AAPL");
  create("b", "alice", "MSFT");
  create("c", "bob", "AAPL");
  ASSERT_EQ(send({.method = "POST", .path = "/rules/" + a + "/pause"})->status, 200);
  EXPECT_EQ(send({})->count("/rules"), 2U);
  EXPECT_EQ(send({.query = {{"symbol", "AAPL"}}})->count("/rules"), 1U);
  auto paused = send({.query = {{"state", "paused"}}});
  ASSERT_EQ(paused->count("/rules"), 1U);
  EXPECT_EQ(paused->text("/rules/0/id"), a);
  EXPECT_EQ(send({.query = {{"state", "active"}}})->count("/rules"), 1U);
  EXPECT_EQ(send({.query = {{"state", "sleepy"}}})->status, 422);
  ASSERT_EQ(send({.method = "DELETE", .path = "/rules/" + a})->status, 200);
  EXPECT_EQ(send({})->count("/rules"), 1U);
  EXPECT_EQ(send({.query = {{"state", "deleted"}}})->count("/rules"), 1U);
}

TEST_F(RuleRoutesTest, ASymbolFilterThatIsNoSymbolIs422NamingItAndStarListsTheRulesOfEverySymbol) {
  create("every", "alice", "*");
  create("apple", "alice", "AAPL");
  for (const std::string& bad : {std::string(17, 'S'), std::string("aapl"), std::string("A' OR '1'='1"),
                                 std::string(), std::string("**")}) {
    auto refused = send({.query = {{"symbol", bad}}});
    EXPECT_EQ(refused->status, 422) << bad;
    EXPECT_EQ(refused->text("/errors/0/field"), "symbol") << bad;
  }
  auto every = send({.query = {{"symbol", "*"}}});
  ASSERT_EQ(every->count("/rules"), 1U);
  EXPECT_EQ(every->text("/rules/0/name"), "every");
}

TEST_F(RuleRoutesTest, AnEmptyCursorIs400NotTheFirstPageAgain) {
  create("r0");
  auto empty = send({.query = {{"cursor", ""}}});
  EXPECT_EQ(empty->status, 400) << empty->body;
  EXPECT_EQ(empty->text("/type"), "invalid-cursor");
  EXPECT_EQ(empty->text("/errors/0/field"), "cursor");
}

TEST_F(RuleRoutesTest, PagesCoverEveryRuleOnceWithCursorsBoundToTheOwnerAndFilters) {
  std::vector<std::string> ids;
  ids.push_back(create("r0"));
  create("theirs", "bob");
  for (int i = 1; i < 3; ++i) ids.push_back(create("r" + std::to_string(i)));
  std::vector<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    Call c{.query = {{"limit", "1"}}};
    if (!cursor.empty()) c.query["cursor"] = cursor;
    auto page = send(c);
    ASSERT_EQ(page->status, 200) << page->body;
    for (std::size_t i = 0; i < page->count("/rules"); ++i) {
      seen.push_back(page->text("/rules/" + std::to_string(i) + "/id"));
    }
    std::string_view next;
    cursor = page->json.at_pointer("/next_cursor").get(next) ? "" : std::string(next);
    ++pages;
  } while (!cursor.empty() && pages < 10);
  std::ranges::sort(ids);
  EXPECT_EQ(seen, ids);  // in id order, none missed or repeated
  EXPECT_EQ(pages, 4);   // the last page read the limit: the next one is empty and ends the list

  auto first = send({.query = {{"limit", "1"}}});
  const std::string next = first->text("/next_cursor");
  auto foreign = send({.sub = "bob", .query = {{"cursor", next}}});
  EXPECT_EQ(foreign->status, 400);
  EXPECT_EQ(foreign->text("/type"), "invalid-cursor");
  EXPECT_EQ(send({.query = {{"cursor", next}, {"symbol", "AAPL"}}})->status, 400) << "other filters";
  EXPECT_EQ(send({.query = {{"cursor", next + "x"}}})->status, 400);
  EXPECT_EQ(send({.query = {{"limit", "0"}}})->text("/errors/0/field"), "limit");
  EXPECT_EQ(send({.query = {{"limit", "101"}}})->status, 422);
  EXPECT_EQ(send({.query = {{"colour", "red"}}})->text("/errors/0/field"), "colour");
  // A cursor this service made for this very list (its MAC and scope verify) whose position is not a rule
  // list's -- one of another release's format, say -- is refused too, never read as a position.
  const std::int64_t now_seconds = time.now_micros / kMicrosPerSecond;
  const auto keys = cursor_keys.keys(now_seconds, test_support::far_deadline());
  ASSERT_TRUE(keys.ok());
  for (const api::PagePosition& position : {api::PagePosition{}, api::PagePosition{{"before", ids[0]}},
                                            api::PagePosition{{"after", ids[0]}, {"sk", "rule#" + ids[0]}}}) {
    const auto other = api::encode_cursor(position, {"alice", "GET /rules", {}}, keys.value(), now_seconds);
    ASSERT_TRUE(other.ok());
    auto refused = send({.query = {{"cursor", other.value()}}});
    EXPECT_EQ(refused->status, 400) << refused->body;
    EXPECT_EQ(refused->text("/type"), "invalid-cursor");
    EXPECT_EQ(refused->text("/errors/0/message"), "foreign");
  }
  time.advance(api::kCursorKeyPeriodSeconds * kSecond);  // the keyring reloads in the next period
  key_store.fail_list = true;
  EXPECT_EQ(send({})->status, 502);
}

TEST_F(RuleRoutesTest, OperatorsReadAnyOwnerWithOwnerAndTradersNamingAnotherOwnerGet403) {
  const std::string id = create("c", "bob");
  auto trader = send({.query = {{"owner", "bob"}}});
  EXPECT_EQ(trader->status, 403);
  EXPECT_EQ(trader->text("/errors/0/field"), "owner");
  EXPECT_EQ(send({.query = {{"owner", "alice"}}})->status, 200);  // one's own name is one's own
  auto op = send({.sub = "olga", .groups = "[admins operators]", .query = {{"owner", "bob"}}});
  ASSERT_EQ(op->status, 200) << op->body;
  EXPECT_EQ(op->count("/rules"), 1U);
  EXPECT_EQ(
      send({.path = "/rules/" + id, .sub = "olga", .groups = "[operators]", .query = {{"owner", "bob"}}})
          ->status,
      200);
  EXPECT_EQ(send({.sub = "olga", .groups = "[operators]", .query = {{"owner", ""}}})->status, 422);
  // Operators read; they change only their own rules.
  EXPECT_EQ(send({.method = "POST",
                  .path = "/rules/" + id + "/pause",
                  .sub = "olga",
                  .groups = "[operators]",
                  .query = {{"owner", "bob"}}})
                ->status,
            404);
}

TEST_F(RuleRoutesTest, AStoreThatRefusesIs502OrRetryLater503NeverA4xx) {
  const std::string id = create("breakout");
  store.fail_once = "get";
  store.fail_with = make_aws_error("AccessDeniedException", "no", 400, false);
  auto denied = send({.path = "/rules/" + id});
  EXPECT_EQ(denied->status, 502);
  EXPECT_EQ(denied->text("/type"), "upstream-failure");
  store.fail_once = "list_page";
  store.fail_with = test_support::rules_throttled();
  EXPECT_EQ(send({})->status, 503);
  store.fail_once = "list";
  EXPECT_EQ(send({.method = "POST", .path = "/rules/import", .body = "{}"})->status, 503);
  store.fail_requests = 1000;  // every attempt throttled until P passes
  auto late = send({.method = "POST", .path = "/rules/" + id + "/pause"});
  EXPECT_EQ(late->status, 503);
  EXPECT_EQ(late->headers["Retry-After"], "5");
}

TEST_F(RuleRoutesTest, ImportMapsADocumentForTheCallerAndASecondRunChangesNothing) {
  const std::string doc =
      R"({"version":1,"rules":[{"id":"r1","symbol":"AAPL","condition":"price_above","threshold":1,)"
      R"("severity":"info","enabled":false}]})";
  auto first = send({.method = "POST", .path = "/rules/import", .body = doc});
  ASSERT_EQ(first->status, 200) << first->body;
  ASSERT_EQ(first->count("/changes"), 1U);
  EXPECT_EQ(first->text("/changes/0/change"), "create");
  EXPECT_EQ(first->text("/changes/0/name"), "r1");
  EXPECT_EQ(tables.list("alice", false).at(0).state, RuleState::paused);
  EXPECT_EQ(send({.method = "POST", .path = "/rules/import", .body = doc})->count("/changes"), 0U);
  auto invalid = send({.method = "POST", .path = "/rules/import", .body = "{\"rules\":3}"});
  EXPECT_EQ(invalid->status, 422);
  EXPECT_EQ(invalid->text("/errors/0/field"), "(document)");
}

TEST_F(RuleRoutesTest, AnImportItemTheProtocolRefusesIsReportedAndTheOthersStillApply) {
  // Four new rules against a quota of three: the first three are created, the fourth is refused as a
  // create would be (409 quota-exceeded), named, and nothing of it is stored.
  std::string doc = R"({"version":1,"rules":[)";
  for (int i = 1; i <= 4; ++i) {
    doc += (i > 1 ? "," : "") + std::string(R"({"id":"r)") + std::to_string(i) +
           R"(","symbol":"AAPL","condition":"price_above","threshold":1,"severity":"info"})";
  }
  auto a = send({.method = "POST", .path = "/rules/import", .body = doc + "]}"});
  ASSERT_EQ(a->status, 200) << a->body;
  ASSERT_EQ(a->count("/changes"), 4U);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(a->number("/changes/" + std::to_string(i) + "/status"), 200);
  EXPECT_EQ(a->text("/changes/3/change"), "create");
  EXPECT_EQ(a->number("/changes/3/status"), 409);
  EXPECT_EQ(a->text("/changes/3/name"), "r4");
  EXPECT_FALSE(a->text("/changes/3/detail").empty());
  EXPECT_EQ(a->json.at_pointer("/changes/3/rule_id").error(), simdjson::NO_SUCH_FIELD);
  const auto stored = tables.list("alice", false);
  EXPECT_EQ(stored.size(), 3U);
  EXPECT_TRUE(std::ranges::none_of(stored, [](const auto& r) { return r.spec.name == "r4"; }));
}

}  // namespace
}  // namespace tap::api
