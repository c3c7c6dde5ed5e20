// The fired-alerts routes over fakes: the rules store of the change protocol's tests, an in-memory alert
// log with the AlertLog contract (alert_log.hpp), and the cursor keys' fakes.
#include "tap/api/alert_routes.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <optional>

#include "../handler/fake_rules_store.hpp"
#include "../handler/rule_records.hpp"
#include "fake_cursor_keys.hpp"
#include "json_body.hpp"
#include "tap/core/alert.hpp"
#include "tap/core/ulid.hpp"

namespace tap::api {
namespace {

using test_support::FakeRulesStore;
using test_support::FakeRulesTables;
using test_support::far_deadline;
using test_support::kSecond;
using test_support::SimTime;
using test_support::spec_named;

constexpr std::int64_t kD = 75;

// The AlertLog contract in memory: an owner's alerts in stored_id order, below the bound, filtered, from
// after the position, `limit` evaluated per page.
class FakeAlertLog final : public AlertLog {
 public:
  Result<AlertPage, AwsError> list(const AlertQuery& q, Deadline) override {
    queries.push_back(q);
    if (fail) return make_aws_error("ProvisionedThroughputExceededException", "slow down", 400, true);
    const std::string bound =
        to_string(Ulid{static_cast<std::uint64_t>(q.stored_before_micros / 1000), 0, 0});
    const std::string after = q.after.empty() ? "" : q.after.at(1).second;
    std::vector<const FiredAlert*> mine;
    for (const FiredAlert& a : alerts) {
      if (a.owner == q.owner && a.stored_id < bound && a.stored_id > after) mine.push_back(&a);
    }
    std::sort(mine.begin(), mine.end(), [](auto* x, auto* y) { return x->stored_id < y->stored_id; });
    AlertPage page;
    page.position = q.after;
    for (std::size_t i = 0; i < mine.size(); ++i) {
      if (i == q.limit) {
        page.more = true;
        break;
      }
      const FiredAlert& a = *mine[i];
      page.position = {
          {"owner", a.owner}, {"stored_id", a.stored_id}, {"symbol", a.tick.symbol}, {"timestamp", "t"}};
      const bool match = (!q.symbol || a.tick.symbol == *q.symbol) &&
                         (!q.rule_id || a.rule_id == *q.rule_id) &&
                         (!q.tick_from_micros || a.tick.ts.micros >= *q.tick_from_micros) &&
                         (!q.tick_until_micros || a.tick.ts.micros < *q.tick_until_micros);
      if (match) page.alerts.push_back(a);
    }
    if (broken_position) page.position = *broken_position;
    return page;
  }
  std::vector<FiredAlert> alerts;
  std::vector<AlertQuery> queries;
  bool fail = false;
  std::optional<AlertPosition> broken_position;  // what an adapter with a bug would answer
};

struct AlertRoutesTest : ::testing::Test {
  AlertRoutesTest() {
    context.now_micros = [this] { return time.now_micros; };
    context.visible_after_seconds = kD;
    context.max_notify_age_seconds = 60;
    add_alert_routes(router, context);
    alice_rule = create("alice", "breakout");
    bob_rule = create("bob", "dip");
  }

  RuleRecord create(const std::string& owner, const std::string& name) {
    ChangeRequest r;
    r.kind = ChangeKind::create;
    r.owner = owner;
    r.spec = spec_named(name, "AAPL", 200);
    ChangeService service(
        store, [this] { return time.now_micros; }, [this](std::int64_t m) { time.advance(m); },
        [this] { return "rule-" + std::to_string(++ids); }, ChangeServiceSettings{});
    auto done = service.apply(r, far_deadline());
    EXPECT_TRUE(done.ok());
    return *done->record;
  }

  // An alert of `rule` stored `ago` seconds before now, its tick one second before that.
  FiredAlert fired(const RuleRecord& rule, std::int64_t ago, std::string symbol = "AAPL") {
    const std::int64_t stored = time.now_micros - ago * kSecond;
    FiredAlert a;
    a.owner = rule.owner;
    a.rule_id = rule.id;
    a.rule_version = rule.versions.back().version;
    a.stored_id = to_string(stored_ids.next(stored / 1000));
    a.tick = Tick{.symbol = std::move(symbol),
                  .price = 201.5,
                  .ts = {stored - kSecond},
                  .volume = {},
                  .bid = {},
                  .ask = {}};
    a.severity = "critical";
    return a;
  }

  ApiResponse get(const std::string& path, std::map<std::string, std::string> query = {},
                  const Caller& caller = Caller{"alice", false}) {
    ApiRequest request;
    request.method = "GET";
    request.raw_path = path;
    request.query = std::move(query);
    return router.dispatch(request, caller, far_deadline());
  }

  simdjson::dom::element json(const ApiResponse& r) { return bodies.parse(r.body); }

  std::vector<std::string> ids_of(const ApiResponse& r) {
    std::vector<std::string> out;
    const simdjson::dom::array alerts = json(r)["alerts"].get_array().value_unsafe();
    for (auto a : alerts) out.emplace_back(a["stored_id"].get_string().value_unsafe());
    return out;
  }

  std::string cursor_of(const ApiResponse& r) {
    return std::string(json(r)["next_cursor"].get_string().value_unsafe());
  }

  std::string problem_field(const ApiResponse& r) {
    return std::string(json(r)["errors"].at(0)["field"].get_string().value_unsafe());
  }

  SimTime time;
  FakeRulesTables tables;
  FakeRulesStore store{tables};
  FakeAlertLog alert_log;
  FakeKeyStore key_store;
  FakeDataKeys data_keys;
  CursorKeySource keys{key_store, data_keys};
  AlertRoutesContext context{alert_log, store, keys, {}, 0, 0};
  Router router;
  UlidGenerator stored_ids{[n = std::uint64_t{0}]() mutable { return ++n; }};
  int ids = 0;
  RuleRecord alice_rule;
  RuleRecord bob_rule;
  JsonBodies bodies;
};

TEST_F(AlertRoutesTest, ListsTheCallersAlertsOldestFirstOnlyOnceStoredMoreThanDAgo) {
  const FiredAlert old1 = fired(alice_rule, 300);
  const FiredAlert old2 = fired(alice_rule, 200, "MSFT");
  const FiredAlert fresh = fired(alice_rule, kD - 1);  // within D: not yet
  alert_log.alerts = {fresh, old2, fired(bob_rule, 250), old1};
  const ApiResponse r = get("/alerts");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(ids_of(r), (std::vector<std::string>{old1.stored_id, old2.stored_id}));
  const auto first = json(r)["alerts"].at(0);
  EXPECT_EQ(first["owner"].get_string().value_unsafe(), "alice");
  EXPECT_EQ(first["rule_id"].get_string().value_unsafe(), alice_rule.id);
  EXPECT_EQ(first["rule_version"].get_uint64().value_unsafe(), 1U);
  EXPECT_EQ(first["symbol"].get_string().value_unsafe(), "AAPL");
  EXPECT_EQ(first["tick_time"].get_string().value_unsafe(), format_timestamp(old1.tick.ts.micros));
  EXPECT_EQ(first["price"].get_double().value_unsafe(), 201.5);
  EXPECT_EQ(first["severity"].get_string().value_unsafe(), "critical");
  EXPECT_EQ(first["message"].get_string().value_unsafe(), alert_text(alice_rule.versions.back(), old1.tick));
  EXPECT_FALSE(first["notified"].get_bool().value_unsafe());
  EXPECT_FALSE(first["delayed"].get_bool().value_unsafe());
  EXPECT_FALSE(json(r)["more"].get_bool().value_unsafe());
  EXPECT_EQ(json(r)["listed_before"].get_string().value_unsafe(),
            format_timestamp(time.now_micros - kD * kSecond));
  EXPECT_EQ(alert_log.queries.back().stored_before_micros, time.now_micros - kD * kSecond);
  EXPECT_EQ(alert_log.queries.back().limit, kDefaultPage);
}

TEST_F(AlertRoutesTest, NotifiedAndDelayedComeFromTheConfirmedNotification) {
  FiredAlert on_time = fired(alice_rule, 300);
  on_time.notified = true;
  on_time.notified_at_micros = on_time.tick.ts.micros + 2 * kSecond;
  FiredAlert late = fired(alice_rule, 290);
  late.notified = true;
  late.notified_at_micros = late.tick.ts.micros + 61 * kSecond;
  late.tick.bid = 201.25;
  late.tick.ask = 201.75;
  late.tick.volume = 500;
  alert_log.alerts = {on_time, late};
  const auto alerts = json(get("/alerts"))["alerts"];
  EXPECT_TRUE(alerts.at(0)["notified"].get_bool().value_unsafe());
  EXPECT_EQ(alerts.at(0)["notified_at"].get_string().value_unsafe(),
            format_timestamp(*on_time.notified_at_micros));
  EXPECT_FALSE(alerts.at(0)["delayed"].get_bool().value_unsafe());
  EXPECT_TRUE(alerts.at(1)["delayed"].get_bool().value_unsafe());
  EXPECT_EQ(alerts.at(1)["bid"].get_double().value_unsafe(), 201.25);
  EXPECT_EQ(alerts.at(1)["ask"].get_double().value_unsafe(), 201.75);
  EXPECT_EQ(alerts.at(1)["volume"].get_uint64().value_unsafe(), 500U);
}

TEST_F(AlertRoutesTest, UnvouchedIsTheStoredAlertsOwnFlag) {
  FiredAlert vouched = fired(alice_rule, 300);
  FiredAlert unvouched = fired(alice_rule, 290);
  unvouched.unvouched = true;
  alert_log.alerts = {vouched, unvouched};
  const auto alerts = json(get("/alerts"))["alerts"];
  EXPECT_FALSE(alerts.at(0)["unvouched"].get_bool().value_unsafe());
  EXPECT_TRUE(alerts.at(1)["unvouched"].get_bool().value_unsafe());
}

TEST_F(AlertRoutesTest, PagesAndPollsWithTheCursorWithoutMissingOrRepeating) {
  for (int i = 0; i < 5; ++i) alert_log.alerts.push_back(fired(alice_rule, 500 - i));
  std::vector<std::string> seen;
  ApiResponse r = get("/alerts", {{"limit", "2"}});
  for (int page = 0; page < 5 && r.status == 200; ++page) {
    const auto page_ids = ids_of(r);
    seen.insert(seen.end(), page_ids.begin(), page_ids.end());
    if (!json(r)["more"].get_bool().value_unsafe()) break;
    r = get("/alerts", {{"limit", "2"}, {"cursor", cursor_of(r)}});
  }
  ASSERT_EQ(seen.size(), 5U);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  // The end of the list still has a cursor: a poll with it later returns exactly what became visible.
  const std::string poll = cursor_of(r);
  alert_log.alerts.push_back(fired(alice_rule, 10));  // stored just now: visible once D has passed
  EXPECT_TRUE(ids_of(get("/alerts", {{"cursor", poll}})).empty());
  time.advance(kD * kSecond);
  const auto later = get("/alerts", {{"cursor", poll}});
  EXPECT_EQ(ids_of(later), std::vector<std::string>{alert_log.alerts.back().stored_id});
  EXPECT_TRUE(ids_of(get("/alerts", {{"cursor", cursor_of(later)}})).empty());
}

TEST_F(AlertRoutesTest, FiltersReachTheQueryAndBindTheCursor) {
  alert_log.alerts = {fired(alice_rule, 300), fired(alice_rule, 200, "MSFT")};
  const std::map<std::string, std::string> filters = {{"symbol", "MSFT"},
                                                      {"rule_id", alice_rule.id},
                                                      {"from", "2023-11-14T00:00:00Z"},
                                                      {"to", "2023-11-15T00:00:00Z"},
                                                      {"limit", "1"}};
  const ApiResponse r = get("/alerts", filters);
  ASSERT_EQ(r.status, 200) << r.body;
  const AlertQuery& q = alert_log.queries.back();
  EXPECT_EQ(q.symbol, "MSFT");
  EXPECT_EQ(q.rule_id, alice_rule.id);
  EXPECT_EQ(q.tick_from_micros, parse_timestamp("2023-11-14T00:00:00Z")->micros);
  EXPECT_EQ(q.tick_until_micros, parse_timestamp("2023-11-15T00:00:00Z")->micros);
  EXPECT_EQ(q.limit, 1U);
  // The same filters (page size aside) take the cursor; other filters or another owner do not.
  auto same = filters;
  same["cursor"] = cursor_of(r);
  same["limit"] = "50";
  EXPECT_EQ(get("/alerts", same).status, 200);
  auto other = same;
  other["symbol"] = "AAPL";
  const ApiResponse foreign = get("/alerts", other);
  EXPECT_EQ(foreign.status, 400);
  EXPECT_EQ(json(foreign)["type"].get_string().value_unsafe(), "invalid-cursor");
  EXPECT_EQ(json(foreign)["errors"].at(0)["message"].get_string().value_unsafe(), "foreign");
  EXPECT_EQ(get("/alerts", same, Caller{"bob", false}).status, 400);
  auto tampered = same;
  tampered["cursor"][5] = tampered["cursor"][5] == 'A' ? 'B' : 'A';
  EXPECT_EQ(get("/alerts", tampered).status, 400);
}

TEST_F(AlertRoutesTest, RefusesBadParametersNamingThem) {
  // A wrong parameter is readable input with wrong content (422); a cursor that does not decode is 400 (A2).
  const std::vector<std::pair<std::string, std::string>> bad = {{"limit", "0"},
                                                                {"limit", "101"},
                                                                {"limit", "ten"},
                                                                {"limit", "-1"},
                                                                {"limit", "1e2"},
                                                                {"limit", ""},
                                                                {"symbol", "a b"},
                                                                {"from", "yesterday"},
                                                                {"to", "2023-13-01"},
                                                                {"rule_id", std::string(129, 'r')},
                                                                {"rule_id", ""},
                                                                {"colour", "red"},
                                                                {"cursor", "not-a-cursor"},
                                                                {"cursor", ""}};  // not "no cursor"
  for (const auto& [name, value] : bad) {
    const ApiResponse r = get("/alerts", {{name, value}});
    EXPECT_EQ(r.status, name == "cursor" ? 400 : 422) << name << "=" << value;
    EXPECT_EQ(problem_field(r), name) << name << "=" << value;
  }
  const ApiResponse backwards =
      get("/alerts", {{"from", "2024-01-02T00:00:00Z"}, {"to", "2024-01-01T00:00:00Z"}});
  EXPECT_EQ(backwards.status, 422);
  EXPECT_EQ(problem_field(backwards), "to");
  EXPECT_TRUE(alert_log.queries.empty());  // nothing reached the store
}

TEST_F(AlertRoutesTest, ARulesAlertsNeedTheRuleToBeTheCallers) {
  alert_log.alerts = {fired(alice_rule, 300), fired(bob_rule, 300)};
  const ApiResponse mine = get("/rules/" + alice_rule.id + "/alerts");
  ASSERT_EQ(mine.status, 200) << mine.body;
  EXPECT_EQ(ids_of(mine).size(), 1U);
  EXPECT_EQ(alert_log.queries.back().rule_id, alice_rule.id);
  // Bob's rule does not exist for alice: 404, and nothing is read.
  const std::size_t queries = alert_log.queries.size();
  EXPECT_EQ(get("/rules/" + bob_rule.id + "/alerts").status, 404);
  EXPECT_EQ(get("/rules/no-such-rule/alerts").status, 404);
  const int asked = store.requests();  // an id longer than any the store makes: no request at all
  EXPECT_EQ(get("/rules/" + std::string(kMaxRuleIdBytes + 1, 'r') + "/alerts").status, 404);
  EXPECT_EQ(store.requests(), asked);
  EXPECT_EQ(alert_log.queries.size(), queries);
  // The rule is the route's, not a filter; a cursor of one rule's list does not serve another's.
  EXPECT_EQ(get("/rules/" + alice_rule.id + "/alerts", {{"rule_id", "x"}}).status, 422);
  const RuleRecord second = create("alice", "second");
  const ApiResponse other = get("/rules/" + second.id + "/alerts", {{"cursor", cursor_of(mine)}});
  EXPECT_EQ(other.status, 400);
  EXPECT_EQ(get("/alerts", {{"cursor", cursor_of(mine)}}).status, 400);
}

TEST_F(AlertRoutesTest, OperatorsMayNameAnOwnerTradersMayNot) {
  alert_log.alerts = {fired(alice_rule, 300), fired(bob_rule, 300)};
  const ApiResponse as_operator = get("/alerts", {{"owner", "bob"}}, Caller{"ops-1", true});
  ASSERT_EQ(as_operator.status, 200) << as_operator.body;
  EXPECT_EQ(alert_log.queries.back().owner, "bob");
  EXPECT_EQ(json(as_operator)["alerts"].at(0)["owner"].get_string().value_unsafe(), "bob");
  EXPECT_EQ(get("/rules/" + bob_rule.id + "/alerts", {{"owner", "bob"}}, Caller{"ops-1", true}).status, 200);
  EXPECT_EQ(get("/alerts", {{"owner", "bob"}}).status, 403);
}

TEST_F(AlertRoutesTest, StoreAndKeyFailuresAreServerSideProblems) {
  alert_log.fail = true;
  const ApiResponse throttled = get("/alerts");
  EXPECT_GE(throttled.status, 500);
  alert_log.fail = false;
  data_keys.fail_generate = true;
  FakeKeyStore empty;  // no key yet, and KMS refuses to make one
  CursorKeySource broken{empty, data_keys};
  AlertRoutesContext broken_context{alert_log, store, broken, [this] { return time.now_micros; }, kD, 60};
  Router other;
  add_alert_routes(other, broken_context);
  ApiRequest request;
  request.method = "GET";
  request.raw_path = "/alerts";
  EXPECT_GE(other.dispatch(request, Caller{"alice", false}, far_deadline()).status, 500);
  // A rule purged from the store still lists its alerts, without the text its version would give.
  data_keys.fail_generate = false;
  FiredAlert orphan = fired(alice_rule, 300);
  orphan.rule_id = "purged";
  alert_log.alerts = {orphan};
  const auto alerts = json(get("/alerts"))["alerts"];
  EXPECT_EQ(alerts.at(0)["rule_id"].get_string().value_unsafe(), "purged");
  EXPECT_EQ(alerts.at(0)["message"].error(), simdjson::NO_SUCH_FIELD);
}

TEST_F(AlertRoutesTest, AnAlertOfAVersionItsRuleDoesNotHoldHasNoMessageRatherThanAnotherVersions) {
  FiredAlert stray = fired(alice_rule, 300);
  stray.rule_version = 7;  // the rule holds version 1 only
  alert_log.alerts = {stray, fired(alice_rule, 290)};
  const ApiResponse r = get("/alerts");
  ASSERT_EQ(r.status, 200) << r.body;
  const auto alerts = json(r)["alerts"];
  EXPECT_EQ(alerts.at(0)["rule_version"].get_uint64().value_unsafe(), 7U);
  EXPECT_EQ(alerts.at(0)["message"].error(), simdjson::NO_SUCH_FIELD);
  EXPECT_EQ(alerts.at(1)["message"].get_string().value_unsafe(),
            alert_text(alice_rule.versions.back(), alert_log.alerts[1].tick));
}

TEST_F(AlertRoutesTest, APagePositionNoCursorCanCarryIs502NotAPageWithoutItsCursor) {
  // The adapter's bug (a position beyond the cursor's limits, tap/api/cursor.hpp): the page cannot be
  // resumed, so it is not answered as if it could.
  alert_log.alerts = {fired(alice_rule, 300)};
  alert_log.broken_position = AlertPosition{{"stored_id", std::string(kMaxPositionValueBytes + 1, 'x')}};
  const ApiResponse r = get("/alerts");
  EXPECT_EQ(r.status, 502) << r.body;
  EXPECT_EQ(json(r)["type"].get_string().value_unsafe(), "upstream-failure");
  EXPECT_EQ(json(r)["alerts"].error(), simdjson::NO_SUCH_FIELD);  // no page is answered
}

}  // namespace
}  // namespace tap::api
