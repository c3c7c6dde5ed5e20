#include "tap/app/contract_check.hpp"

#include <gtest/gtest.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tap/app/dynamodb_store.hpp"
#include "tap/app/function_settings_table.hpp"

namespace tap::contract {
namespace {

struct Run {
  int status;
  std::string out;
  std::string err;
};

Run run_tool(std::vector<std::string_view> args, const std::string& input = "") {
  std::istringstream in(input);
  std::ostringstream out, err;
  const int status = run(args, in, out, err);
  return {status, out.str(), err.str()};
}

constexpr std::string_view kValid =
    R"({"version":1,"rules":[{"id":"a","symbol":"A","condition":"price_above","threshold":1,"severity":"info"}]})";

TEST(ContractCheck, RulesVerdictsAreJsonWithEveryReason) {
  EXPECT_EQ(rules_verdict(kValid), R"({"valid":true})");
  EXPECT_EQ(rules_verdict(R"({"version":1})"), R"({"valid":false,"reasons":["rules: required"]})");
  EXPECT_EQ(rules_verdict(R"({"rules":[],"k\n":1})"),
            R"({"valid":false,"reasons":["k\n: unknown property","version: required"]})");
}

TEST(ContractCheck, SettingVerdictsRunTheStartUpConfiguration) {
  EXPECT_EQ(setting_verdict(R"({"name":"LOG_LEVEL","value":"WARN"})"), R"({"valid":true})");
  EXPECT_EQ(setting_verdict(R"({"value":"TRACE","name":"LOG_LEVEL"})"),
            R"({"valid":false,"reasons":["LOG_LEVEL must be DEBUG, INFO, WARN or ERROR, not TRACE"]})");
  EXPECT_EQ(setting_verdict(R"({"name":"LOG_LEVEL","value":"INFO\n"})"),
            R"({"valid":false,"reasons":["LOG_LEVEL must be DEBUG, INFO, WARN or ERROR, not INFO\n"]})");
  EXPECT_EQ(setting_verdict(R"({"name":"DLQ_URL","value":"x"})"), R"({"valid":true})");
}

TEST(ContractCheck, MalformedSettingRequestsAreErrorsNotVerdicts) {
  for (const char* request : {"", "[]", R"({"name":"LOG_LEVEL"})", R"({"value":"INFO"})",
                              R"({"name":"LOG_LEVEL","value":1})", R"({"name":"A","name":"B","value":"x"})",
                              R"({"name":"A","value":"x","other":"y"})", R"({"name":"A","value":"x"} x)"}) {
    EXPECT_EQ(setting_verdict(request), R"({"error":"a request is {\"name\": string, \"value\": string}"})")
        << request;
  }
}

TEST(ContractCheck, BatchModesAnswerOneVerdictPerLine) {
  auto r = run_tool({"rules", "--batch"}, std::string(kValid) + "\n{}\n");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out,
            "{\"valid\":true}\n{\"valid\":false,\"reasons\":[\"version: required\",\"rules: required\"]}\n");
  r = run_tool({"settings", "--batch"}, "{\"name\":\"LOG_LEVEL\",\"value\":\"ERROR\"}\n");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "{\"valid\":true}\n");
}

TEST(ContractCheck, ChecksARulesFile) {
  const auto dir = std::filesystem::temp_directory_path();
  const auto good = (dir / "tap_contract_good.json").string();
  const auto bad = (dir / "tap_contract_bad.json").string();
  std::ofstream(good) << kValid;
  std::ofstream(bad) << R"({"version":2,"rules":[]})";
  EXPECT_EQ(run_tool({"rules", good}).status, 0);
  const auto r = run_tool({"rules", bad});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, bad + ": version: must be 1\n");
  const auto missing = run_tool({"rules", (dir / "tap_contract_missing.json").string()});
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.err.find("cannot read the rules document"), std::string::npos);
  std::filesystem::remove(good);
  std::filesystem::remove(bad);
}

TEST(ContractCheck, PrintsTheCompiledInSettingsTable) {
  const auto r = run_tool({"settings", "--table"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, settings::kTableText);
}

// What the function runs with when the stack sets nothing: the table's defaults (F3: W 60 s by default).
TEST(ContractCheck, PrintsTheDefaultsTheFunctionStartsWith) {
  const auto r = run_tool({"settings", "--defaults"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out,
            "{\"LOG_LEVEL\":\"INFO\",\"REORDER_WINDOW_SECONDS\":\"60\",\"MAX_NOTIFY_AGE_SECONDS\":\"60\","
            "\"RULES_SHARDS\":\"1\",\"RULE_QUOTA\":\"1000\",\"ALERTS_VISIBLE_AFTER_SECONDS\":\"75\","
            "\"OPERATOR_GROUP\":\"operators\"}\n");
}

TEST(ContractCheck, TextSettingsAreJudgedByTheApisStartUpConfiguration) {
  EXPECT_EQ(setting_verdict(R"({"name":"OPERATOR_GROUP","value":"desk-ops"})"), R"({"valid":true})");
  EXPECT_EQ(setting_verdict(R"({"name":"OPERATOR_GROUP","value":"ops team"})"),
            R"({"valid":false,"reasons":["OPERATOR_GROUP must be 1 to 128 ASCII letters, digits or _.:@+=-, )"
            R"(not ops team"]})");
}

TEST(ContractCheck, IntegerSettingsAreJudgedByTheStartUpConfiguration) {
  EXPECT_EQ(setting_verdict(R"({"name":"REORDER_WINDOW_SECONDS","value":"3600"})"), R"({"valid":true})");
  EXPECT_EQ(
      setting_verdict(R"({"name":"REORDER_WINDOW_SECONDS","value":"1e3"})"),
      R"({"valid":false,"reasons":["REORDER_WINDOW_SECONDS must be an integer from 1 to 3600, not 1e3"]})");
}

TEST(ContractCheck, StateItemsAreDecodedByTheFunctionsOwnAdapter) {
  SymbolState state;
  state.exists = true;
  state.revision = 7;
  state.fires_complete_from = 5;
  state.ticks = {{{1000, 0}, 199.5}, {{2000, 3}, 201.25}};
  FireRecord fire;
  fire.rule_id = "up";
  fire.version = 2;
  fire.tick = {2000, 3};
  fire.crossing = true;
  state.fires = {fire};
  fire.rule_id = "lvl";
  fire.crossing = false;
  fire.stored = false;
  fire.notified = false;
  state.fires.push_back(fire);
  SymbolState fresh;
  fresh.exists = true;
  const auto r = run_tool({"state-item", "--decode"},
                          state_item("AAPL", state) + "\n" + state_item("X", fresh) + "\n" +
                              R"({"symbol":{"S":"X"},"rule_id":{"S":"#state"}})" + "\n" +
                              R"({"symbol":{"S":"#once#up"},"rule_id":{"S":"#arming#1"}})" + "\n[\n");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out,
            R"({"symbol":"AAPL","revision":7,"ticks":[[1000,0,199.5],[2000,3,201.25]],"fires":[)"
            R"({"rule_id":"up","version":2,"ts":2000,"seq":3,"crossing":true,"stored":true,"notified":true},)"
            R"({"rule_id":"lvl","version":2,"ts":2000,"seq":3,"crossing":false,"stored":false,)"
            R"("notified":false}],)"
            R"("fires_complete_from":5})"
            "\n"
            R"({"symbol":"X","revision":0,"ticks":[],"fires":[],"fires_complete_from":null})"
            "\n"
            R"({"error":"state item: revision, ticks and fires are required"})"
            "\n"
            R"({"error":"not a symbol's state item"})"
            "\n"
            R"({"error":"not a symbol's state item"})"
            "\n");
}

TEST(ContractCheck, ClockRequestsAnswerTheFunctionsReadingOfTheSpec) {
  const auto r = run_tool({"clock", "--batch"},
                          R"({"spec":"virtual:start=2026-01-05T14:30:00Z,anchor=1800000000000000,speed=10",)"
                          R"("real":1800000000000001})"
                          "\n"
                          R"({"spec":"real","real":5})"
                          "\n"
                          R"({"spec":"virtual:","real":5})"
                          "\n"
                          R"({"spec":"real","real":"5"})"
                          "\n");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out,
            R"({"valid":true,"virtual":true,"start":1767623400000000,"anchor":1800000000000000,"speed":10,)"
            R"("now":1767623400000010})"
            "\n"
            R"({"valid":true,"virtual":false,"start":0,"anchor":0,"speed":1,"now":5})"
            "\n"
            R"({"valid":false,"reasons":["expected real or virtual:start=<UTC>,anchor=<micros>,speed=<n>"]})"
            "\n"
            R"({"error":"a request is {\"spec\": string, \"real\": integer}"})"
            "\n");
  const auto variable = run_tool({"clock", "--variable"});
  EXPECT_EQ(variable.status, 0);
  EXPECT_EQ(variable.out, "TAP_CLOCK\n");
}

TEST(ContractCheck, AnythingElseIsUsage) {
  for (const auto& args : std::vector<std::vector<std::string_view>>{{},
                                                                     {"rules"},
                                                                     {"settings", "--rules"},
                                                                     {"settings"},
                                                                     {"rules", "a", "b"},
                                                                     {"other", "--batch"},
                                                                     {"state-item", "--batch"},
                                                                     {"clock", "--table"}}) {
    const auto r = run_tool(args);
    EXPECT_EQ(r.status, 2);
    EXPECT_EQ(r.err.substr(0, 19), "usage: tap_validate");
  }
}

}  // namespace
}  // namespace tap::contract
