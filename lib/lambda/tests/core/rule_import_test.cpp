// R6 import mapping: a rules document becomes an owner's rules, idempotently per (owner, name).
#include "tap/core/rule_import.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "tap/core/timestamp.hpp"

namespace tap {
namespace {

constexpr std::int64_t kT0 = 1'767'225'600LL * kMicrosPerSecond;  // 2026-01-01T00:00:00Z
constexpr std::int64_t kP = 5 * kMicrosPerSecond;

// Applies the planned changes in order, as the import command does through the store: each on the record
// it names, with an effective_from after the rule's last change; a create gets the next free id.
struct Owner {
  std::vector<RuleRecord> rules;
  std::int64_t now = kT0;
  int next_id = 1;

  void apply(const std::vector<ChangeRequest>& changes) {
    for (const ChangeRequest& c : changes) {
      now += kMicrosPerSecond;
      std::optional<RuleRecord> current;
      auto it =
          std::find_if(rules.begin(), rules.end(), [&](const RuleRecord& r) { return r.id == c.rule_id; });
      if (c.kind != ChangeKind::create) current = *it;
      const std::int64_t ef =
          current ? effective_from_for(now, 0, kP, *current) : effective_from_for(now, 0, kP);
      auto plan = plan_change(current, c, ef, "r" + std::to_string(next_id), now);
      ASSERT_TRUE(plan) << plan.error().message;
      if (c.kind == ChangeKind::create) {
        ++next_id;
        rules.push_back(plan->next);
      } else {
        *it = plan->next;
      }
    }
  }
  const RuleRecord& named(std::string_view name) const {
    return *std::find_if(rules.begin(), rules.end(),
                         [&](const RuleRecord& r) { return r.spec.name == name; });
  }
};

std::vector<ChangeRequest> plan(std::string_view doc, const Owner& o, std::string_view owner = "alice") {
  auto r = plan_import(doc, owner, o.rules);
  EXPECT_TRUE(r) << r.error().message;
  return r ? r.value() : std::vector<ChangeRequest>{};
}

std::vector<std::pair<ChangeKind, std::string>> kinds(const std::vector<ChangeRequest>& changes) {
  std::vector<std::pair<ChangeKind, std::string>> out;
  for (const ChangeRequest& c : changes) out.emplace_back(c.kind, c.spec ? c.spec->name : c.rule_id);
  return out;
}

const std::string kDoc = R"({"version":1,"default_cooldown_seconds":30,"rules":[
  {"id":"breakout","symbol":"AAPL","condition":"crosses_above","threshold":200,"severity":"warning",
   "description":"d"},
  {"id":"floor","symbol":"MSFT","condition":"price_below","threshold":300,"severity":"info","cooldown_seconds":0},
  {"id":"quiet","symbol":"*","condition":"volume_above","threshold":1000,"severity":"critical",
   "cooldown_seconds":120,"enabled":false}]})";

TEST(RuleImport, MapsTheDocumentEntriesToCreatesInDocumentOrder) {  // R6
  const auto changes = plan(kDoc, Owner{});
  ASSERT_EQ(changes.size(), 3u);
  for (const ChangeRequest& c : changes) {
    EXPECT_EQ(c.kind, ChangeKind::create);
    EXPECT_EQ(c.owner, "alice");
    ASSERT_TRUE(c.spec);
    EXPECT_EQ(c.spec->mode, TriggerMode::every);
    EXPECT_TRUE(validate_rule_spec(*c.spec).empty());
  }
  RuleSpec breakout;
  breakout.name = "breakout";  // the document id is the name
  breakout.symbol = "AAPL";
  breakout.condition = Condition::crosses_above;
  breakout.threshold = 200;
  breakout.severity = Severity::warning;
  breakout.description = "d";
  breakout.mode = TriggerMode::every;
  breakout.cooldown_seconds = 30;  // the document default
  EXPECT_EQ(*changes[0].spec, breakout);
  EXPECT_FALSE(changes[0].start_paused);
  EXPECT_EQ(changes[1].spec->cooldown_seconds, 1);  // 0 becomes 1
  EXPECT_EQ(changes[2].spec->cooldown_seconds, 120);
  EXPECT_EQ(changes[2].spec->symbol, "*");
  EXPECT_TRUE(changes[2].start_paused);  // enabled: false -> paused
}

TEST(RuleImport, ASecondRunPlansNothing) {
  Owner alice;
  alice.apply(plan(kDoc, alice));
  ASSERT_EQ(alice.rules.size(), 3u);
  EXPECT_EQ(alice.named("quiet").state, RuleState::paused);
  EXPECT_TRUE(alice.named("quiet").versions.empty());
  EXPECT_EQ(alice.named("floor").state, RuleState::active);
  EXPECT_TRUE(plan(kDoc, alice).empty());
}

TEST(RuleImport, TheRepositoryDocumentImportsIdempotently) {
  std::ifstream in(std::string(TAP_CONFIG_DIR) + "/alert-rules.json");
  std::stringstream ss;
  ss << in.rdbuf();
  Owner alice;
  const auto first = plan(ss.str(), alice);
  EXPECT_EQ(first.size(), 9u);
  alice.apply(first);
  EXPECT_TRUE(plan(ss.str(), alice).empty());
  // The engine sees what the document's loader would, as versions from effective_from on.
  const RuleSet doc = load_rules(ss.str()).value();
  for (const Rule& entry : doc.rules()) {
    const RuleRecord& rec = alice.named(entry.id);
    EXPECT_EQ(rec.state, entry.enabled ? RuleState::active : RuleState::paused);
    if (!entry.enabled) continue;
    const auto versions = engine_versions(rec);
    ASSERT_EQ(versions.size(), 1u);
    EXPECT_EQ(versions[0].symbol, entry.symbol);
    EXPECT_EQ(versions[0].condition, entry.condition);
    EXPECT_EQ(versions[0].threshold, entry.threshold);
    EXPECT_EQ(versions[0].severity, entry.severity);
    EXPECT_EQ(versions[0].mode, TriggerMode::every);
    EXPECT_EQ(versions[0].cooldown_seconds, entry.cooldown_seconds);
    EXPECT_EQ(versions[0].owner, "alice");
  }
}

TEST(RuleImport, AnEditedEntryPlansAnEditAndEnabledFlipsPauseOrResume) {
  Owner alice;
  alice.apply(plan(kDoc, alice));
  std::string doc = kDoc;
  doc.replace(doc.find("\"threshold\":200"), 15, "\"threshold\":210");  // breakout edited
  doc.replace(doc.find("\"cooldown_seconds\":120,\"enabled\":false"), 38,
              "\"cooldown_seconds\":120,\"enabled\":true");  // quiet resumed as it is
  doc.replace(doc.find("\"cooldown_seconds\":0}"), 21,
              "\"cooldown_seconds\":0,\"enabled\":false}");  // floor paused
  auto changes = plan(doc, alice);
  EXPECT_EQ(kinds(changes),
            (std::vector<std::pair<ChangeKind, std::string>>{
                {ChangeKind::edit, "breakout"}, {ChangeKind::pause, "r2"}, {ChangeKind::resume, "r3"}}));
  EXPECT_EQ(changes[0].if_match, alice.named("breakout").revision);
  EXPECT_EQ(changes[0].rule_id, "r1");
  EXPECT_EQ(changes[0].spec->threshold, 210);
  alice.apply(changes);
  EXPECT_EQ(alice.named("breakout").versions.back().threshold, 210);
  EXPECT_EQ(alice.named("floor").state, RuleState::paused);
  EXPECT_EQ(alice.named("quiet").state, RuleState::active);
  EXPECT_TRUE(plan(doc, alice).empty());
  // Back to the first document: an edit and both flips again, then nothing.
  changes = plan(kDoc, alice);
  EXPECT_EQ(kinds(changes),
            (std::vector<std::pair<ChangeKind, std::string>>{
                {ChangeKind::edit, "breakout"}, {ChangeKind::resume, "r2"}, {ChangeKind::pause, "r3"}}));
  alice.apply(changes);
  EXPECT_TRUE(plan(kDoc, alice).empty());
}

TEST(RuleImport, AnEditWithAFlipOpensAtMostOneVersion) {
  Owner alice;
  alice.apply(plan(kDoc, alice));
  // quiet: edited and resumed -> edit (of the paused rule) then resume, each naming the revision before it.
  std::string doc = kDoc;
  doc.replace(doc.find("\"cooldown_seconds\":120,\"enabled\":false"), 38, "\"cooldown_seconds\":60");
  // breakout: edited and paused -> pause then edit.
  doc.replace(doc.find("\"description\":\"d\"}"), 18, "\"description\":\"e\",\"enabled\":false}");
  const std::uint32_t breakout_rev = alice.named("breakout").revision;
  const std::uint32_t quiet_rev = alice.named("quiet").revision;
  auto changes = plan(doc, alice);
  ASSERT_EQ(kinds(changes), (std::vector<std::pair<ChangeKind, std::string>>{{ChangeKind::pause, "r1"},
                                                                             {ChangeKind::edit, "breakout"},
                                                                             {ChangeKind::edit, "quiet"},
                                                                             {ChangeKind::resume, "r3"}}));
  EXPECT_EQ(changes[0].if_match, breakout_rev);
  EXPECT_EQ(changes[1].if_match, breakout_rev + 1);
  EXPECT_EQ(changes[2].if_match, quiet_rev);
  EXPECT_EQ(changes[3].if_match, quiet_rev + 1);
  const std::size_t breakout_versions = alice.named("breakout").versions.size();
  alice.apply(changes);
  EXPECT_EQ(alice.named("breakout").versions.size(), breakout_versions);  // closed, none opened
  EXPECT_EQ(alice.named("breakout").spec.description, "e");
  ASSERT_EQ(alice.named("quiet").versions.size(), 1u);  // opened once, with the edited cooldown
  EXPECT_EQ(alice.named("quiet").versions[0].cooldown_seconds, 60);
  EXPECT_TRUE(plan(doc, alice).empty());
}

TEST(RuleImport, ARuleMadeThroughTheApiIsEditedToTheDocumentsMapping) {
  Owner alice;
  alice.apply(plan(kDoc, alice));
  RuleRecord& breakout = alice.rules[0];
  breakout.spec.mode = TriggerMode::once;  // as if a trader had switched it to `once`
  breakout.spec.cooldown_seconds = 0;
  const auto changes = plan(kDoc, alice);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].kind, ChangeKind::edit);
  EXPECT_EQ(changes[0].spec->mode, TriggerMode::every);
}

TEST(RuleImport, OnlyTheOwnersLiveRulesMatchByName) {
  Owner bob;
  bob.apply(plan(kDoc, bob, "bob"));
  ASSERT_EQ(bob.rules.at(0).owner, "bob");
  // Bob's rules of the same names are not Alice's: all three are created for her.
  const auto for_alice = plan(kDoc, bob, "alice");
  ASSERT_EQ(for_alice.size(), 3u);
  for (const ChangeRequest& c : for_alice) EXPECT_EQ(c.kind, ChangeKind::create);
  // A deleted rule's name is free again.
  Owner alice;
  alice.apply(plan(kDoc, alice));
  ChangeRequest remove;
  remove.kind = ChangeKind::remove;
  remove.owner = "alice";
  remove.rule_id = "r1";
  alice.apply({remove});
  const auto changes = plan(kDoc, alice);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].kind, ChangeKind::create);
  EXPECT_EQ(changes[0].spec->name, "breakout");
}

TEST(RuleImport, RulesAbsentFromTheDocumentAreLeftAlone) {  // an import never deletes
  Owner alice;
  alice.apply(plan(kDoc, alice));
  EXPECT_TRUE(plan(R"({"version":1,"rules":[]})", alice).empty());
}

TEST(RuleImport, AnInvalidDocumentIsRefusedWithEveryProblem) {
  auto r = plan_import(R"({"version":1,"rules":[{"id":"a b","symbol":"A","condition":"price_above",)"
                       R"("threshold":0,"severity":"info"}]})",
                       "alice", {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "invalid_rules");
  EXPECT_EQ(r.error().message,
            "rules[0].id: must be 1..64 chars of A-Z a-z 0-9 _ . -\n"
            "rules[0].threshold: must be > 0 for this condition");
}

}  // namespace
}  // namespace tap
