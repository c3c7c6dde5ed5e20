// The operators' rules command (tap/app/rules_tool.hpp): its arguments, and each subcommand's output and
// exit code over the fake rules store (the change library and the ChangeService are the real ones).
#include "tap/app/rules_tool.hpp"

#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "fake_rules_store.hpp"
#include "rule_records.hpp"

namespace tap {
namespace {

using test_support::FakeRulesStore;
using test_support::FakeRulesTables;
using test_support::SimTime;
using Kind = RulesToolCommand::Kind;

Result<RulesToolCommand> parse(std::vector<std::string> args) { return parse_rules_tool_args(args); }

std::string usage_error(std::vector<std::string> args) {
  auto r = parse(std::move(args));
  EXPECT_FALSE(r.ok());
  return r ? "" : r.error().code + ": " + r.error().message;
}

TEST(RulesToolArgs, HelpWhenAskedOrGivenNothing) {
  EXPECT_EQ(parse({})->kind, Kind::help);
  EXPECT_EQ(parse({"import", "--help"})->kind, Kind::help);
  EXPECT_EQ(parse({"-h"})->kind, Kind::help);
  const std::string help = rules_tool_help();
  for (const char* word : {"import --owner OWNER FILE", "list --owner OWNER", "controls", "suspend SYMBOL",
                           "resume-symbol SYMBOL", "band SYMBOL --low X --high Y", "clear-band SYMBOL",
                           "loaded", "RULES_TABLE", "rules-writer-policy", "exit codes"}) {
    EXPECT_NE(help.find(word), std::string::npos) << word;
  }
}

TEST(RulesToolArgs, ImportListAndControls) {
  auto import = parse({"import", "--owner", "alice", "rules.json"});
  ASSERT_TRUE(import.ok());
  EXPECT_EQ(import->kind, Kind::import);
  EXPECT_EQ(import->owner, "alice");
  EXPECT_EQ(import->file, "rules.json");
  auto list = parse({"list", "--owner", "bob"});
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->kind, Kind::list);
  EXPECT_EQ(list->owner, "bob");
  EXPECT_EQ(parse({"controls"})->kind, Kind::controls);
  EXPECT_EQ(parse({"loaded"})->kind, Kind::loaded);
  EXPECT_EQ(usage_error({"loaded", "x"}), "usage: loaded takes no arguments");
}

TEST(RulesToolArgs, SymbolControls) {
  auto suspend =
      parse({"suspend", "MSFT", "--from", "2026-03-02T14:30:00Z", "--until", "2026-03-02T15:00:00Z"});
  ASSERT_TRUE(suspend.ok());
  EXPECT_EQ(suspend->kind, Kind::suspend);
  EXPECT_EQ(suspend->control.kind, ControlChange::Kind::suspend);
  EXPECT_EQ(suspend->control.symbol, "MSFT");
  EXPECT_EQ(suspend->control.from_micros, parse_timestamp("2026-03-02T14:30:00Z")->micros);
  EXPECT_EQ(suspend->control.until_micros, parse_timestamp("2026-03-02T15:00:00Z")->micros);
  auto open = parse({"suspend", "MSFT"});
  ASSERT_TRUE(open.ok());
  EXPECT_FALSE(open->control.from_micros.has_value());
  EXPECT_FALSE(open->control.until_micros.has_value());

  auto band = parse({"band", "AAPL", "--low", "150.5", "--high", "250"});
  ASSERT_TRUE(band.ok());
  EXPECT_EQ(band->kind, Kind::band);
  EXPECT_EQ(band->control.kind, ControlChange::Kind::set_band);
  EXPECT_EQ(band->control.low, 150.5);
  EXPECT_EQ(band->control.high, 250);
  EXPECT_EQ(parse({"clear-band", "AAPL"})->control.kind, ControlChange::Kind::clear_band);
  EXPECT_EQ(parse({"resume-symbol", "AAPL"})->control.kind, ControlChange::Kind::resume);
}

TEST(RulesToolArgs, EveryUsageErrorSaysWhat) {
  EXPECT_EQ(usage_error({"delete"}), "usage: unknown command delete");
  EXPECT_EQ(usage_error({"import", "rules.json"}), "usage: import needs --owner");
  EXPECT_EQ(usage_error({"import", "--owner", "", "f"}), "usage: --owner must not be empty");
  EXPECT_EQ(usage_error({"import", "--owner", "a"}), "usage: import takes one FILE");
  EXPECT_EQ(usage_error({"import", "--owner", "a", "f", "g"}), "usage: import takes one FILE");
  EXPECT_EQ(usage_error({"list", "--owner", "a", "f"}), "usage: list takes no file");
  EXPECT_EQ(usage_error({"list", "--owner"}), "usage: --owner needs a value");
  EXPECT_EQ(usage_error({"list", "--owner", "a", "--owner", "b"}), "usage: --owner is given twice");
  EXPECT_EQ(usage_error({"list", "--symbol", "a"}), "usage: list does not take --symbol");
  EXPECT_EQ(usage_error({"controls", "MSFT"}), "usage: controls takes no arguments");
  EXPECT_EQ(usage_error({"suspend"}), "usage: suspend takes one SYMBOL");
  EXPECT_EQ(usage_error({"suspend", "MSFT", "--low", "1"}), "usage: suspend does not take --low");
  EXPECT_EQ(usage_error({"clear-band", "MSFT", "--from", "2026-03-02T14:30:00Z"}),
            "usage: clear-band does not take --from");
  EXPECT_NE(usage_error({"suspend", "MSFT", "--until", "tomorrow"}).find("usage: --until tomorrow: "),
            std::string::npos);
  EXPECT_EQ(usage_error({"band", "MSFT", "--low", "1"}), "usage: band needs --low and --high");
  EXPECT_EQ(usage_error({"band", "MSFT", "--low", "1x", "--high", "2"}),
            "usage: --low must be a number, not 1x");
  EXPECT_EQ(usage_error({"band", "MSFT", "--low", "1", "--high", "inf"}),
            "usage: --high must be a number, not inf");
}

TEST(RulesToolEnv, TableAndShardsFromTheEnvironment) {
  const auto env = [](std::map<std::string, std::string> vars) -> EnvLookup {
    return [vars](std::string_view name) -> std::optional<std::string> {
      const auto it = vars.find(std::string(name));
      if (it == vars.end()) return std::nullopt;
      return it->second;
    };
  };
  auto plain = rules_table_from_env(env({{"RULES_TABLE", "alert-rules-dev"}}));
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->table, "alert-rules-dev");
  EXPECT_EQ(plain->shards, 1U);
  EXPECT_EQ(rules_table_from_env(env({{"RULES_TABLE", "t"}, {"RULES_SHARDS", "4"}}))->shards, 4U);
  auto bad = rules_table_from_env(env({{"RULES_SHARDS", "0"}}));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, "invalid_configuration");
  EXPECT_EQ(bad.error().message,
            "RULES_TABLE is not set; RULES_SHARDS must be an integer from 1 to 1024, not 0");
  EXPECT_FALSE(rules_table_from_env(env({{"RULES_TABLE", "t"}, {"RULES_SHARDS", "2x"}})).ok());
}

constexpr const char* kDocument = R"({"version": 1, "default_cooldown_seconds": 60, "rules": [
  {"id": "breakout", "symbol": "AAPL", "condition": "price_above", "threshold": 200, "severity": "critical",
   "cooldown_seconds": 300},
  {"id": "sleepy", "symbol": "MSFT", "condition": "price_below", "threshold": 400, "severity": "info",
   "enabled": false}]})";

struct ToolTest : ::testing::Test {
  SimTime time;
  std::int64_t offset = 0;
  FakeRulesTables tables{1};
  FakeRulesStore store{tables};
  int next_id = 0;
  ChangeServiceSettings settings;
  std::map<std::string, std::string> files{{"rules.json", kDocument}};
  std::ostringstream out;
  std::ostringstream err;
  RulesCache* cache = nullptr;

  int run(std::vector<std::string> args) {
    out.str("");
    err.str("");
    ChangeService changes(
        store, test_support::offset_clock(time, offset),
        [this](std::int64_t micros) { time.advance(micros); },
        [this] { return "r" + std::to_string(++next_id); }, settings);
    const RulesToolContext context{store,
                                   changes,
                                   [this](const std::string& path) -> Result<std::string> {
                                     const auto it = files.find(path);
                                     if (it == files.end()) return Error{"unreadable", "no such file"};
                                     return it->second;
                                   },
                                   test_support::far_deadline,
                                   out,
                                   err,
                                   cache};
    auto command = parse_rules_tool_args(args);
    EXPECT_TRUE(command.ok());
    return run_rules_tool(command.value(), context);
  }
  std::string at(std::int64_t micros) const { return format_timestamp(micros); }
};

TEST_F(ToolTest, ImportCreatesThenChangesNothingThenEditsWhatDiffers) {
  const std::int64_t ef = time.now_micros + settings.p_micros;
  ASSERT_EQ(run({"import", "--owner", "alice", "rules.json"}), kToolOk) << err.str();
  EXPECT_EQ(out.str(),
            "breakout created effective_from " + at(ef) + "\nsleepy created effective_from " + at(ef) + "\n");
  ASSERT_EQ(tables.log(0).size(), 2U);
  const auto records = tables.all_records();
  ASSERT_EQ(records.size(), 2U);

  time.advance(10 * test_support::kSecond);
  ASSERT_EQ(run({"import", "--owner", "alice", "rules.json"}), kToolOk);
  EXPECT_EQ(out.str(), "breakout unchanged\nsleepy unchanged\n");
  EXPECT_EQ(tables.log(0).size(), 2U);  // no change committed
  EXPECT_EQ(tables.all_records(), records);

  std::string edited = kDocument;
  edited.replace(edited.find("200"), 3, "210");
  edited.replace(edited.find("400"), 3, "410");
  edited.replace(edited.find("\"enabled\": false"), 16, "\"enabled\": true");
  files["rules.json"] = edited;
  const std::int64_t later = time.now_micros + settings.p_micros;
  ASSERT_EQ(run({"import", "--owner", "alice", "rules.json"}), kToolOk) << err.str();
  // The paused rule's edit and resume are one line (edit first: the resume opens the new definition).
  EXPECT_EQ(out.str(), "breakout edited effective_from " + at(later) +
                           "\nsleepy edited,resumed effective_from " + at(later) + "\n");
  EXPECT_EQ(tables.log(0).size(), 5U);

  ASSERT_EQ(run({"list", "--owner", "alice"}), kToolOk);
  EXPECT_EQ(out.str(),
            "breakout id r1 state active revision 2 arming 1 versions 2\n  v1 [" + at(ef) + ", " + at(later) +
                ") AAPL price_above 200 every\n  v2 [" + at(later) +
                ", open) AAPL price_above 210 every\nsleepy id r2 state active revision 3 arming 1 "
                "versions 1\n  v1 [" +
                at(later) + ", open) MSFT price_below 410 every\n");
}

TEST_F(ToolTest, AnInvalidDocumentListsEveryProblemAndChangesNothing) {
  files["bad.json"] = R"({"version": 1, "rules": [
    {"id": "a", "symbol": "", "condition": "price_above", "threshold": -1, "severity": "info"}]})";
  EXPECT_EQ(run({"import", "--owner", "alice", "bad.json"}), kToolFailed);
  EXPECT_EQ(out.str(), "");
  EXPECT_NE(err.str().find("bad.json is not a valid rules document; nothing was changed:\n"),
            std::string::npos);
  EXPECT_NE(err.str().find("rules[0].symbol"), std::string::npos) << err.str();
  EXPECT_NE(err.str().find("rules[0].threshold"), std::string::npos) << err.str();
  EXPECT_EQ(store.commits, 0);
}

TEST_F(ToolTest, AnUnreadableFileOrStoreFails) {
  EXPECT_EQ(run({"import", "--owner", "alice", "missing.json"}), kToolFailed);
  EXPECT_EQ(err.str(), "cannot read missing.json: no such file\n");
  store.fail_once = "list";
  store.fail_with = make_aws_error("AccessDeniedException", "not allowed", 400, false);
  EXPECT_EQ(run({"import", "--owner", "alice", "rules.json"}), kToolFailed);
  EXPECT_EQ(err.str(), "cannot read the rules of alice: AccessDeniedException: not allowed\n");
  store.fail_once = "list";
  EXPECT_EQ(run({"list", "--owner", "alice"}), kToolFailed);
  EXPECT_EQ(err.str(), "cannot read the rules of alice: AccessDeniedException: not allowed\n");
  store.fail_once = "controls";
  EXPECT_EQ(run({"controls"}), kToolFailed);
  EXPECT_EQ(err.str(), "cannot read the symbol controls: AccessDeniedException: not allowed\n");
  store.fail_once = "commit";
  EXPECT_EQ(run({"import", "--owner", "alice", "rules.json"}), kToolFailed);
  EXPECT_EQ(err.str(),
            "breakout: the rules table refused a request: AccessDeniedException: not allowed\n"
            "2 of 2 changes not made; run the import again (it changes only what still differs)\n");
}

TEST_F(ToolTest, QuotaExceededAndRetryLaterAreReported) {
  settings.quota = 1;
  EXPECT_EQ(run({"import", "--owner", "alice", "rules.json"}), kToolFailed);
  EXPECT_EQ(err.str(),
            "sleepy: quota exceeded: the owner's rules are at the quota\n"
            "1 of 2 changes not made; run the import again (it changes only what still differs)\n");
  EXPECT_EQ(tables.all_records().size(), 1U);  // the first rule is in

  store.fail_requests = 1'000'000;  // throttled for longer than P
  EXPECT_EQ(run({"suspend", "MSFT"}), kToolFailed);
  EXPECT_EQ(err.str(), "MSFT: not committed: the change could not be committed within P; retry later\n");
}

TEST_F(ToolTest, SymbolControlsLandWithTheirWindows) {
  const std::int64_t ef = time.now_micros + settings.p_micros;
  const std::int64_t until = ef + 3600 * test_support::kSecond;
  ASSERT_EQ(run({"suspend", "MSFT", "--until", at(until)}), kToolOk) << err.str();
  EXPECT_EQ(out.str(), "MSFT effective_from " + at(ef) + "\n");
  ASSERT_EQ(run({"band", "AAPL", "--low", "150", "--high", "250.5"}), kToolOk) << err.str();
  ASSERT_EQ(run({"controls"}), kToolOk);
  EXPECT_EQ(out.str(), "AAPL band 150 250.5 [" + at(ef) + ", open)\nMSFT suspended [" + at(ef) + ", " +
                           at(until) + ")\n");

  // Refused changes say why, field by field.
  EXPECT_EQ(run({"resume-symbol", "AAPL"}), kToolFailed);
  EXPECT_EQ(err.str(), "AAPL: refused: AAPL is not suspended\n");
  EXPECT_EQ(run({"band", "AAPL", "--low", "3", "--high", "2"}), kToolFailed);
  EXPECT_EQ(err.str(),
            "AAPL: refused: a price band needs finite low <= high\n  low: must be finite and <= high\n");
  ASSERT_EQ(run({"clear-band", "AAPL"}), kToolOk) << err.str();
}

TEST_F(ToolTest, LoadedPrintsTheColdLoadsVersionsSkippedItemsAndASummary) {
  const std::int64_t ef = time.now_micros + settings.p_micros;
  ASSERT_EQ(run({"import", "--owner", "alice", "rules.json"}), kToolOk) << err.str();
  tables.corrupt("zz", "threshold: not a finite number");
  EXPECT_EQ(run({"loaded"}), kToolFailed);  // no cache in this context
  EXPECT_EQ(err.str(), "loaded: no rules cache in this context\n");

  RulesCache loaded_cache(store, test_support::offset_clock(time, offset), RulesCacheSettings{});
  cache = &loaded_cache;
  time.advance(10 * test_support::kSecond);
  ASSERT_EQ(run({"loaded"}), kToolOk) << err.str();
  // The paused rule has no version: only breakout's, then the skipped item, then the summary.
  const std::string fence = std::to_string(time.now_micros + RulesCacheSettings{}.fence_lead_micros);
  EXPECT_EQ(out.str(),
            R"({"id":"r1","version":1,"owner":"alice","symbol":"AAPL","condition":"price_above",)"
            R"("threshold":200,"severity":"critical","mode":"every","cooldown_seconds":300,"bar_seconds":0,)"
            R"("arming":1,"from":)" +
                std::to_string(ef) +
                R"(,"until":null,"expires_at":null,"enabled":true,"description":"","message_template":""})"
                "\n"
                R"({"invalid":"rule zz: threshold: not a finite number"})"
                "\n"
                R"({"versions":1,"invalid":1,"fence":)" +
                fence + "}\n");

  store.fail_once = "scan";
  store.fail_with = make_aws_error("AccessDeniedException", "not allowed", 400, false);
  EXPECT_EQ(run({"loaded"}), kToolFailed);
  EXPECT_EQ(err.str(), "the cold load failed: AccessDeniedException: not allowed\n");
}

TEST_F(ToolTest, HelpIsPrinted) {
  EXPECT_EQ(run({"--help"}), kToolOk);
  EXPECT_EQ(out.str(), rules_tool_help());
}

}  // namespace
}  // namespace tap
