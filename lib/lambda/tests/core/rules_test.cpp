#include "tap/core/rules.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tap/core/timestamp.hpp"

namespace tap {
namespace {

std::string err(std::string_view json) {
  auto r = load_rules(json);
  return r ? "ok" : r.error().message;
}

TEST(Rules, LoadsTheRepositoryDocument) {
  std::ifstream in(std::string(TAP_CONFIG_DIR) + "/alert-rules.json");
  std::stringstream ss;
  ss << in.rdbuf();
  auto r = load_rules(ss.str());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->rules().size(), 9u);
  const Rule& block = r->rules()[7];
  EXPECT_EQ(block.id, "block-trade");
  EXPECT_EQ(block.cooldown_seconds, 60);  // document default
  EXPECT_EQ(block.condition, Condition::volume_above);
  EXPECT_EQ(r->rules_for_symbol("AAPL").size(), 2u);
  EXPECT_EQ(r->wildcard_rules().size(), 2u);
  EXPECT_TRUE(r->rules_for_symbol("TSLA").empty());  // disabled rule loaded but not indexed
  EXPECT_FALSE(r->rules()[8].enabled);
  EXPECT_TRUE(r->rules_for_symbol("NOPE").empty());
}

TEST(Rules, DefaultCooldowns) {
  auto r = load_rules(
      R"({"version":1,"rules":[{"id":"a","symbol":"A","condition":"price_above","threshold":1,"severity":"info"}]})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->rule(0).cooldown_seconds, kDefaultCooldownSeconds);
  r = load_rules(R"({"version":1,"default_cooldown_seconds":5,"rules":[
    {"id":"a","symbol":"A","condition":"price_above","threshold":1,"severity":"info"},
    {"id":"b","symbol":"A","condition":"price_above","threshold":1,"severity":"info","cooldown_seconds":0}]})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->rule(0).cooldown_seconds, 5);
  EXPECT_EQ(r->rule(1).cooldown_seconds, 1);  // R6: a cooldown of 0 becomes 1 (mode every needs >= 1 s)
}

TEST(Rules, EveryProblemListedWithItsPath) {
  const std::string doc = R"({"version":2,"default_cooldown_seconds":0,"owner":"x","rules":[
    {"id":"bad id","symbol":"aapl","condition":"price_sideways","threshold":-1,"severity":"loud",
     "cooldown_seconds":1.5,"enabled":"yes","description":7,"color":"red"},
    {"id":"x","symbol":"*","condition":"price_above","threshold":0,"severity":"info","cooldown_seconds":90000},
    {"id":"x","symbol":"B","condition":"volume_above","threshold":10.5,"severity":"info"},
    {"symbol":"B","severity":"info"},
    {"id":"y","symbol":"B","condition":7,"threshold":"1","severity":1,"id":"z"},
    {"id":"w","symbol":"B","condition":"spread_above","threshold":2e15,"severity":"info","description":"%s"},
    5
  ]})";
  EXPECT_EQ(err(doc),
            "version: must be 1\n"
            "default_cooldown_seconds: must be between 1 and 86400\n"
            "owner: unknown property\n"
            "rules[0].id: must be 1..64 chars of A-Z a-z 0-9 _ . -\n"
            "rules[0].symbol: must be \"*\" or 1..16 chars of A-Z 0-9 . - / :\n"
            "rules[0].condition: must be one of price_above, price_below, crosses_above, crosses_below, "
            "spread_above, volume_above\n"
            "rules[0].threshold: must be between 0 and 1e15\n"
            "rules[0].severity: must be one of info, warning, critical\n"
            "rules[0].cooldown_seconds: must be an integer\n"
            "rules[0].enabled: must be a boolean\n"
            "rules[0].description: must be a string\n"
            "rules[0].color: unknown property\n"
            "rules[1].cooldown_seconds: must be between 0 and 86400\n"
            "rules[1].threshold: must be > 0 for this condition\n"
            "rules[2].threshold: must be an integer for volume_above\n"
            "rules[3].id: required\n"
            "rules[3].condition: required\n"
            "rules[3].threshold: required\n"
            "rules[4].condition: must be a string\n"
            "rules[4].threshold: must be a number\n"
            "rules[4].severity: must be a string\n"
            "rules[4].id: duplicate key\n"
            "rules[5].threshold: must be between 0 and 1e15\n"
            "rules[6]: must be an object");
}

TEST(Rules, AMissingThresholdIsOnlyRequiredNotJudgedForItsCondition) {
  // No threshold to judge: the condition's check (> 0 for a price) must not run on the unset value.
  const std::string doc =
      R"({"version":1,"rules":[{"id":"a","symbol":"A","condition":"price_above","severity":"info"}]})";
  EXPECT_EQ(err(doc), "rules[0].threshold: required");
}

TEST(Rules, AThresholdIsJudgedForItsConditionOnlyWhenThereIsOne) {
  // With no condition (missing, of the wrong type, unknown) 0 must not be refused as a price's threshold.
  const auto doc = [](std::string_view condition) {
    return R"({"version":1,"rules":[{"id":"a","symbol":"A",)" + std::string(condition) +
           R"("threshold":0,"severity":"info"}]})";
  };
  EXPECT_EQ(err(doc("")), "rules[0].condition: required");
  EXPECT_EQ(err(doc(R"("condition":1,)")), "rules[0].condition: must be a string");
  EXPECT_EQ(err(doc(R"("condition":"near",)")),
            "rules[0].condition: must be one of price_above, price_below, crosses_above, crosses_below, "
            "spread_above, volume_above");
  EXPECT_EQ(err(doc(R"("condition":"price_above",)")), "rules[0].threshold: must be > 0 for this condition");
}

TEST(Rules, ARuleWithoutSeverityNamesItRequired) {
  EXPECT_EQ(err(R"({"version":1,"rules":[{"id":"a","symbol":"A","condition":"price_above","threshold":1}]})"),
            "rules[0].severity: required");
}

TEST(Rules, AFieldOfTheWrongTypeIsJudgedUpToTheNestingLimitAndIsFatalBeyondIt) {
  // A rule's field values sit at depth 3 (the document's members at 1): six nested arrays reach
  // kMaxDepth (8) exactly, seven go beyond it.
  const std::vector<std::pair<std::string, std::string>> fields = {
      {"id", R"("a")"},    {"symbol", R"("A")"},      {"condition", R"("price_above")"},
      {"threshold", "1"},  {"severity", R"("info")"}, {"cooldown_seconds", "1"},
      {"enabled", "true"}, {"description", R"("d")"}};
  const std::vector<std::pair<std::string, std::string>> why = {
      {"id", "must be a string"},        {"symbol", "must be a string"},
      {"condition", "must be a string"}, {"threshold", "must be a number"},
      {"severity", "must be a string"},  {"cooldown_seconds", "must be a number"},
      {"enabled", "must be a boolean"},  {"description", "must be a string"}};
  const auto doc = [&](const std::string& name, const std::string& value) {
    std::string rule;
    for (const auto& [key, v] : fields) {
      rule += (rule.empty() ? "{\"" : ",\"") + key + "\":" + (key == name ? value : v);
    }
    return R"({"version":1,"rules":[)" + rule + "}]}";
  };
  for (const auto& [name, message] : why) {
    EXPECT_EQ(err(doc(name, "[[[[[[1]]]]]]")), "rules[0]." + name + ": " + message) << name;
    EXPECT_EQ(err(doc(name, "[[[[[[[1]]]]]]]")).substr(0, 14), "invalid JSON: ") << name;
  }
}

TEST(Rules, DocumentLevelProblems) {
  EXPECT_EQ(err("{}"), "version: required\nrules: required");
  EXPECT_EQ(err("[]"), "(document): must be an object\nversion: required\nrules: required");
  EXPECT_EQ(err(R"({"version":1,"rules":{}})"), "rules: must be an array");
  EXPECT_EQ(err(R"({"version":1,"version":1,"rules":[]})"), "version: duplicate key");
  EXPECT_EQ(err(R"({"version":"1","rules":[]})"), "version: must be a number");
  EXPECT_EQ(err(R"({"version":1e400,"rules":[]})"), "version: number out of range");
  EXPECT_EQ(err(R"({"version":1,"rules":[],"x":{"a":1,"a":2}})"), "x: unknown property\nduplicate key \"a\"");
  EXPECT_EQ(err(R"({"version":1,"rules":[{"id":"a","symbol":"A","condition":"price_above","threshold":1,)"
                R"("severity":"info","enabled":false,"description":"d"},)"
                R"({"id":"a","symbol":"A","condition":"price_above","threshold":1,"severity":"info"}]})"),
            "rules[1].id: duplicate rule id \"a\"");
  EXPECT_EQ(err(std::string(R"({"version":1,"rules":[{"id":"a","description":")") + std::string(257, 'x') +
                R"(","symbol":"A","condition":"price_above","threshold":1,"severity":"info"}]})"),
            "rules[0].description: must be at most 256 characters");
  std::string many = R"({"version":1,"rules":[)";
  for (int i = 0; i < 10001; ++i) many += i ? ",1" : "1";
  many += "]}";
  EXPECT_EQ(err(many).substr(err(many).size() - 26), "rules: at most 10000 rules");
}

TEST(Rules, TenThousandRulesAreTheMostADocumentHolds) {
  std::string most = R"({"version":1,"rules":[)";
  for (int i = 0; i < 10000; ++i) most += i ? ",1" : "1";
  most += "]}";
  const std::string e = err(most);
  EXPECT_EQ(e.find("at most"), std::string::npos);
  EXPECT_EQ(e.substr(e.size() - 30), "rules[9999]: must be an object");
}

TEST(Rules, ValidateNamesEachOffendingFieldOrAccepts) {
  const std::string valid =
      R"({"version":1,"rules":[{"id":"a","symbol":"A","condition":"price_above","threshold":1,"severity":"info"}]})";
  EXPECT_TRUE(validate_rules(valid).empty());
  // A trailing newline is not "$" (the schema's regex dialect once let it through): refused, field named.
  EXPECT_EQ(validate_rules(R"({"version":1,"rules":[{"id":"a\n","symbol":"A\n","condition":"price_above",)"
                           R"("threshold":1,"severity":"info"}]})"),
            (std::vector<std::string>{"rules[0].id: must be 1..64 chars of A-Z a-z 0-9 _ . -",
                                      "rules[0].symbol: must be \"*\" or 1..16 chars of A-Z 0-9 . - / :"}));
  // Duplicates are reported at the later rule's place in the document, past a rule that failed.
  EXPECT_EQ(validate_rules(
                R"({"version":1,"rules":[)"
                R"({"id":"a","symbol":"A","condition":"price_above","threshold":1,"severity":"info"},)"
                R"({"id":"b","symbol":"A","condition":"price_above","threshold":-1,"severity":"info"},)"
                R"({"id":"a","symbol":"B","condition":"price_below","threshold":1,"severity":"info"}]})"),
            (std::vector<std::string>{"rules[1].threshold: must be between 0 and 1e15",
                                      "rules[1].threshold: must be > 0 for this condition",
                                      "rules[2].id: duplicate rule id \"a\""}));
  const auto syntax = validate_rules("{");
  ASSERT_EQ(syntax.size(), 1u);
  EXPECT_EQ(syntax[0].substr(0, 14), "invalid JSON: ");
}

TEST(Rules, InvalidJson) {
  for (const char* doc : {"", "{", R"({"version":1,"rules":[]} x)", R"({"version":tru})", R"({"x":[1,,]})",
                          R"({"rules":[{"id":"\q"}]})", R"({"rules":[{"enabled":tru}]})",
                          R"({"rules":[{"x":[1,,]}]})", R"({"rules":[{"id":1,"symbol":[1,,]}]})",
                          R"({"rules":[x]})", R"({"rules":[[1,,]]})", R"({"rules":x})", R"({"rules":[1,,]})",
                          R"({"version":1,"rules":{"a":[1,,]}})", R"({"x":[[[[[[[[[[1]]]]]]]]]]})",
                          R"({"\q":1})", R"({"rules":[{"\q":1}]})", R"({"rules":[{"x":1 "y":2}]})"}) {
    EXPECT_EQ(err(doc).substr(0, 14), "invalid JSON: ") << doc;
  }
}

TEST(Rules, ANumberOutsideJsonsGrammarIsMalformedNotOutOfRange) {
  // RFC 8259 section 6: these are not JSON numbers (the reader sees a '-' or a digit start one), so the
  // document is invalid JSON, like NaN -- never "out of range", which is for a JSON number too large.
  for (const char* number : {"-Infinity", "-", "-x", "01", "-01", "1.", "1.e5", "1e", "1e+", "-.5", "1.5.5",
                             "0x10", "1ee5", "2-1"}) {
    const std::string doc = std::string(R"({"version":)") + number + R"(,"rules":[]})";
    EXPECT_EQ(err(doc).substr(0, 14), "invalid JSON: ") << number;
    const std::string rule = std::string(R"({"version":1,"rules":[{"id":"a","symbol":"A",)") +
                             R"("condition":"price_above","severity":"info","threshold":)" + number + "}]}";
    EXPECT_EQ(err(rule).substr(0, 14), "invalid JSON: ") << number;
  }
  // Every form of the grammar is a number, and its range is judged as such.
  for (const char* number : {"0", "-0", "7", "-12", "0.5", "-0.25", "10.0", "1e2", "1E2", "1e+2", "1e-2",
                             "-1.5E-3", "0e0", "2 "}) {
    const std::string doc = std::string(R"({"version":)") + number + R"(,"rules":[]})";
    EXPECT_EQ(err(doc).find("invalid JSON"), std::string::npos) << number << ": " << err(doc);
  }
  EXPECT_EQ(err(R"({"version":-1e400,"rules":[]})"), "version: number out of range");
  EXPECT_EQ(err(R"({"version":1e400 ,"rules":[]})"), "version: number out of range");  // whitespace after
}

TEST(Rules, Names) {
  EXPECT_EQ(to_string(Condition::volume_above), "volume_above");
  EXPECT_EQ(to_string(Condition::spread_above), "spread_above");
  EXPECT_EQ(to_string(Condition::crosses_below), "crosses_below");
  EXPECT_EQ(to_string(Severity::warning), "warning");
  EXPECT_EQ(to_string(Severity::critical), "critical");
  EXPECT_EQ(to_string(Severity::info), "info");
  EXPECT_EQ(to_string(TriggerMode::once), "once");
  EXPECT_EQ(to_string(TriggerMode::every), "every");
  EXPECT_EQ(to_string(TriggerMode::once_per_bar), "once_per_bar");
}

TEST(Rules, AFileSeededRuleIsVersionOneInModeEveryEffectiveFromTheEpoch) {  // R6, R7
  auto r = load_rules(R"({"version":1,"rules":[
    {"id":"a","symbol":"A","condition":"crosses_above","threshold":1,"severity":"info","cooldown_seconds":0},
    {"id":"b","symbol":"A","condition":"price_above","threshold":1,"severity":"info","enabled":false}]})");
  ASSERT_TRUE(r);
  const Rule& a = r->rule(0);
  EXPECT_EQ(a.version, 1u);
  EXPECT_EQ(a.mode, TriggerMode::every);
  EXPECT_EQ(a.cooldown_seconds, 1);  // 0 becomes 1
  EXPECT_EQ(a.window, EffectiveWindow{});
  EXPECT_FALSE(a.expires_at_micros);
  EXPECT_TRUE(a.applies_at(0));
  EXPECT_TRUE(a.applies_at(kMinTimestampMicros));
  const Rule& b = r->rule(1);
  EXPECT_FALSE(b.enabled);
  EXPECT_FALSE(b.applies_at(kMinTimestampMicros));  // enabled: false applies to no tick
}

}  // namespace
}  // namespace tap
