// The change library's pure part (R1-R3): the one definition of a valid rule spec, planning every kind of
// change in every state, and the windows a record's versions keep over random change sequences.
#include "tap/core/rule_change.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <tuple>

#include "tap/core/timestamp.hpp"

namespace tap {
namespace {

constexpr std::int64_t kT0 = 1'767'225'600LL * kMicrosPerSecond;  // 2026-01-01T00:00:00Z
constexpr std::int64_t kSecond = kMicrosPerSecond;
constexpr std::int64_t kP = 5 * kSecond;

RuleSpec breakout() {
  RuleSpec s;
  s.name = "breakout";
  s.symbol = "AAPL";
  s.condition = Condition::crosses_above;
  s.threshold = 200;
  s.severity = Severity::warning;
  return s;
}

std::vector<std::pair<std::string, std::string>> pairs(const std::vector<FieldError>& errors) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& e : errors) out.emplace_back(e.field, e.message);
  return out;
}

std::vector<std::pair<std::string, std::string>> parse_errors(std::string_view body) {
  auto r = parse_rule_spec(body);
  return r ? decltype(pairs({})){} : pairs(r.error());
}

// ---- parse_rule_spec / validate_rule_spec ----

TEST(RuleSpec, ParsesEveryField) {
  auto r = parse_rule_spec(
      R"({"name":"breakout","symbol":"AAPL","condition":"crosses_above","threshold":200,"severity":"warning",)"
      R"("description":"d","mode":"every","cooldown_seconds":30,"expires_at":"2026-01-01T00:00:01+01:00",)"
      R"("message_template":"{symbol} above {threshold}"})");
  ASSERT_TRUE(r) << r.error()[0].field << ": " << r.error()[0].message;
  RuleSpec want = breakout();
  want.description = "d";
  want.mode = TriggerMode::every;
  want.cooldown_seconds = 30;
  want.expires_at_micros = kT0 + kSecond - 3600 * kSecond;
  want.message_template = "{symbol} above {threshold}";
  EXPECT_EQ(r.value(), want);
  auto bar = parse_rule_spec(R"({"name":"b","symbol":"*","condition":"price_below","threshold":1.5,)"
                             R"("severity":"critical","mode":"once_per_bar","bar_seconds":900})");
  ASSERT_TRUE(bar);
  EXPECT_EQ(bar->mode, TriggerMode::once_per_bar);
  EXPECT_EQ(bar->bar_seconds, 900);
  EXPECT_EQ(bar->severity, Severity::critical);
  EXPECT_EQ(bar->symbol, "*");
}

TEST(RuleSpec, OnceIsTheDefaultMode) {  // R2: as traders expect
  auto r = parse_rule_spec(
      R"({"name":"breakout","symbol":"AAPL","condition":"crosses_above","threshold":200,"severity":"warning"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r.value(), breakout());
  EXPECT_EQ(r->mode, TriggerMode::once);
}

// The hostile corpus (tests/data/rule_spec_corpus.jsonl): each body with every problem it must produce, in
// order (field, message prefix); none for a body that must be accepted.
struct CorpusCase {
  std::string name;
  std::string body;
  std::vector<std::pair<std::string, std::string>> errors;
};

std::string from_hex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

std::vector<CorpusCase> corpus() {
  std::ifstream in(std::string(TAP_TEST_DATA_DIR) + "/rule_spec_corpus.jsonl");
  std::vector<CorpusCase> cases;
  simdjson::dom::parser parser;
  for (std::string line; std::getline(in, line);) {
    simdjson::dom::element e;
    EXPECT_EQ(parser.parse(line).get(e), simdjson::SUCCESS) << line;
    CorpusCase c;
    std::string_view s;
    EXPECT_EQ(e["case"].get(s), simdjson::SUCCESS);
    c.name = s;
    if (e["body"].get(s) == simdjson::SUCCESS) {
      c.body = s;
    } else {
      EXPECT_EQ(e["body_hex"].get(s), simdjson::SUCCESS) << c.name;
      c.body = from_hex(s);
    }
    simdjson::dom::array errors;
    EXPECT_EQ(e["errors"].get(errors), simdjson::SUCCESS) << c.name;
    for (simdjson::dom::element pair : errors) {
      std::string_view field, message;
      EXPECT_EQ(pair.at(0).get(field), simdjson::SUCCESS);
      EXPECT_EQ(pair.at(1).get(message), simdjson::SUCCESS);
      c.errors.emplace_back(field, message);
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

TEST(RuleSpec, HostileCorpusEveryProblemWithItsField) {
  const auto cases = corpus();
  ASSERT_GE(cases.size(), 60u);
  for (const CorpusCase& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = parse_rule_spec(c.body);
    if (c.errors.empty()) {
      ASSERT_TRUE(r) << r.error()[0].field << ": " << r.error()[0].message;
      EXPECT_TRUE(validate_rule_spec(r.value()).empty());
      continue;
    }
    ASSERT_FALSE(r);
    const auto got = pairs(r.error());
    ASSERT_EQ(got.size(), c.errors.size()) << ::testing::PrintToString(got);
    for (std::size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].first, c.errors[i].first);
      EXPECT_EQ(got[i].second.substr(0, c.errors[i].second.size()), c.errors[i].second) << got[i].second;
      EXPECT_FALSE(got[i].second.empty());
    }
  }
}

// Any mutation of a corpus body is either refused with named problems or accepted as a valid spec: what
// parse_rule_spec accepts is valid by THE definition.
TEST(RuleSpec, MutatedBodiesAreRefusedWithFieldsOrAcceptedValid) {
  std::mt19937 rng(15);
  const std::string alphabet = "{}[]\",:0123456789.eE+-\\ntfu\x80\xc3\xff AZaz_";
  std::size_t accepted = 0, refused = 0;
  for (const CorpusCase& c : corpus()) {
    if (c.body.size() > 4096) continue;
    for (int n = 0; n < 200; ++n) {
      std::string body = c.body;
      const int edits = 1 + static_cast<int>(rng() % 3);
      for (int k = 0; k < edits && !body.empty(); ++k) {
        const std::size_t at = rng() % body.size();
        switch (rng() % 3) {
          case 0:
            body[at] = alphabet[rng() % alphabet.size()];
            break;
          case 1:
            body.erase(at, 1);
            break;
          default:
            body.insert(at, 1, alphabet[rng() % alphabet.size()]);
        }
      }
      auto r = parse_rule_spec(body);
      if (r) {
        ++accepted;
        EXPECT_TRUE(validate_rule_spec(r.value()).empty()) << body;
      } else {
        ++refused;
        ASSERT_FALSE(r.error().empty()) << body;
        for (const FieldError& e : r.error()) {
          EXPECT_FALSE(e.field.empty()) << body;
          EXPECT_FALSE(e.message.empty()) << body;
        }
      }
    }
  }
  EXPECT_GT(accepted, 100u);  // both sides of the definition are exercised
  EXPECT_GT(refused, 1000u);
}

TEST(RuleSpec, ValidateAcceptsTheLargestThresholdAndNothingAbove) {
  RuleSpec s = breakout();
  s.threshold = 1e15;
  EXPECT_TRUE(validate_rule_spec(s).empty());
  s.threshold = std::nextafter(1e15, 2e15);
  EXPECT_EQ(pairs(validate_rule_spec(s)), (decltype(pairs({})){{"threshold", "must be between 0 and 1e15"}}));
}

TEST(RuleSpec, ValidateAcceptsASymbolOfTheFirstAndLastDigitAndLetter) {
  RuleSpec s = breakout();
  s.symbol = "09AZ";
  EXPECT_TRUE(validate_rule_spec(s).empty());
}

TEST(RuleSpec, ValidateRefusesWhatJsonCannotCarry) {
  RuleSpec s = breakout();
  EXPECT_TRUE(validate_rule_spec(s).empty());
  s.threshold = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(pairs(validate_rule_spec(s)), (decltype(pairs({})){{"threshold", "must be between 0 and 1e15"}}));
  s.threshold = std::numeric_limits<double>::infinity();
  EXPECT_EQ(pairs(validate_rule_spec(s)), (decltype(pairs({})){{"threshold", "must be between 0 and 1e15"}}));
  s = breakout();
  s.description = "caf\xc3";
  s.message_template = std::string("\xed\xa0\x80");
  s.expires_at_micros = kEndTimestampMicros;
  EXPECT_EQ(pairs(validate_rule_spec(s)), (decltype(pairs({})){{"description", "must be valid UTF-8"},
                                                               {"expires_at",
                                                                "must lie in [2000-01-01T00:00:00Z, "
                                                                "2101-01-01T00:00:00Z)"},
                                                               {"message_template", "must be valid UTF-8"}}));
  s = breakout();
  s.expires_at_micros = kMinTimestampMicros;  // the first accepted instant
  s.mode = TriggerMode::once_per_bar;
  s.bar_seconds = 60;
  EXPECT_TRUE(validate_rule_spec(s).empty());
  s.bar_seconds = 0;
  s.cooldown_seconds = 5;
  EXPECT_EQ(pairs(validate_rule_spec(s)),
            (decltype(pairs({})){{"cooldown_seconds", "only for mode every"},
                                 {"bar_seconds", "must be one of 60, 300, 900, 3600, 86400"}}));
}

TEST(RuleSpec, ValidateRefusesATemplateThatTheNotificationCannotRender) {  // F5
  RuleSpec s = breakout();
  s.message_template =
      "{symbol} {price} {threshold} {condition} {value} {time} {date} {rule} {severity} {{x}}";
  EXPECT_TRUE(validate_rule_spec(s).empty());
  for (const auto& [text, problem] : std::vector<std::pair<std::string, std::string>>{
           {"{symbol} at {when}", "unknown placeholder {when}"},
           {"{Symbol}", "unknown placeholder {Symbol}"},
           {"{}", "unknown placeholder {}"},
           {"{symbol", "a '{' that is never closed (write '{{' for a brace)"},
           {"price } 2", "a lone '}' (write '}}' for a brace)"}}) {
    s.message_template = text;
    EXPECT_EQ(pairs(validate_rule_spec(s)), (decltype(pairs({})){{"message_template", problem}})) << text;
  }
  // One problem per field: a template too long is not also read for its placeholders.
  s.message_template = std::string(513, '{');
  EXPECT_EQ(pairs(validate_rule_spec(s)),
            (decltype(pairs({})){{"message_template", "must be at most 512 characters"}}));
}

TEST(RuleSpec, TheDocumentAndTheSpecShareEachFieldsCheck) {  // one definition of validity
  // The same value refused by both, with the same message.
  for (const auto& [field, value] : std::vector<std::pair<std::string, std::string>>{
           {"symbol", R"("aapl")"},
           {"threshold", "2e15"},
           {"description", "\"" + std::string(257, 'x') + "\""}}) {
    SCOPED_TRACE(field);
    std::string entry = R"({"symbol":"AAPL","condition":"price_above","threshold":1,"severity":"info"})";
    const std::string key = "\"" + field + "\":";
    const std::size_t at = entry.find(key);
    if (at == std::string::npos) {
      entry.insert(1, key + value + ",");
    } else {
      const std::size_t end = entry.find_first_of(",}", at);
      entry.replace(at + key.size(), end - at - key.size(), value);
    }
    std::string spec = entry;
    spec.insert(1, R"("name":"a",)");
    std::string doc_entry = entry;
    doc_entry.insert(1, R"("id":"a",)");
    const auto doc = validate_rules(R"({"version":1,"rules":[)" + doc_entry + "]}");
    const auto own = parse_errors(spec);
    ASSERT_EQ(doc.size(), 1u);
    ASSERT_EQ(own.size(), 1u);
    EXPECT_EQ(doc[0], "rules[0]." + own[0].first + ": " + own[0].second);
  }
  // A rule's name follows the document's id rule.
  const auto doc = validate_rules(
      R"({"version":1,"rules":[{"id":"a b","symbol":"A","condition":"price_above","threshold":1,"severity":"info"}]})");
  ASSERT_EQ(doc.size(), 1u);
  EXPECT_EQ(doc[0], "rules[0].id: " + parse_errors(R"({"name":"a b","symbol":"A","condition":"price_above",)"
                                                   R"("threshold":1,"severity":"info"})")[0]
                                          .second);
}

TEST(RuleSpec, Names) {
  EXPECT_EQ(to_string(RuleState::active), "active");
  EXPECT_EQ(to_string(RuleState::paused), "paused");
  EXPECT_EQ(to_string(RuleState::deleted), "deleted");
  EXPECT_EQ(to_string(ChangeKind::create), "create");
  EXPECT_EQ(to_string(ChangeKind::edit), "edit");
  EXPECT_EQ(to_string(ChangeKind::pause), "pause");
  EXPECT_EQ(to_string(ChangeKind::resume), "resume");
  EXPECT_EQ(to_string(ChangeKind::rearm), "rearm");
  EXPECT_EQ(to_string(ChangeKind::remove), "remove");
}

// ---- plan_change ----

ChangeRequest request(ChangeKind kind, std::optional<RuleSpec> spec = std::nullopt) {
  ChangeRequest r;
  r.kind = kind;
  r.owner = "alice";
  r.rule_id = kind == ChangeKind::create ? "" : "r1";
  r.spec = std::move(spec);
  return r;
}

// A rule created at kT0 (version 1 from kT0 + P), in `state`, its arming's marker present when `triggered`.
RuleRecord created(RuleState state) {
  auto r = plan_change(std::nullopt, request(ChangeKind::create, breakout()), kT0 + kP, "r1", kT0);
  EXPECT_TRUE(r);
  RuleRecord rec = r->next;
  if (state != RuleState::active) {
    auto p = plan_change(rec, request(state == RuleState::paused ? ChangeKind::pause : ChangeKind::remove),
                         kT0 + 2 * kP, "", kT0 + kP);
    EXPECT_TRUE(p);
    rec = p->next;
  }
  return rec;
}

TEST(PlanChange, CreateOpensVersionOneAtEffectiveFrom) {
  auto r = plan_change(std::nullopt, request(ChangeKind::create, breakout()), kT0 + kP, "r1", kT0);
  ASSERT_TRUE(r);
  const RuleRecord& rec = r->next;
  EXPECT_EQ(rec.id, "r1");
  EXPECT_EQ(rec.owner, "alice");
  EXPECT_EQ(rec.spec, breakout());
  EXPECT_EQ(rec.state, RuleState::active);
  EXPECT_EQ(rec.arming, 1u);
  EXPECT_EQ(rec.revision, 1u);
  EXPECT_EQ(rec.created_at_micros, kT0);
  EXPECT_EQ(rec.updated_at_micros, kT0);
  ASSERT_EQ(rec.versions.size(), 1u);
  const Rule& v = rec.versions[0];
  EXPECT_EQ(v.id, "r1");
  EXPECT_EQ(v.version, 1u);
  EXPECT_EQ(v.owner, "alice");
  EXPECT_EQ(v.symbol, "AAPL");
  EXPECT_EQ(v.condition, Condition::crosses_above);
  EXPECT_EQ(v.threshold, 200);
  EXPECT_EQ(v.severity, Severity::warning);
  EXPECT_EQ(v.mode, TriggerMode::once);
  EXPECT_EQ(v.arming, 1u);
  EXPECT_EQ(v.window, (EffectiveWindow{kT0 + kP, EffectiveWindow::kOpenEnd}));
  EXPECT_TRUE(v.enabled);
  EXPECT_FALSE(v.applies_at(kT0 + kP - 1));  // not a microsecond early
  EXPECT_TRUE(v.applies_at(kT0 + kP));
  EXPECT_EQ(r->opened, v);
  EXPECT_FALSE(r->closed);
  EXPECT_EQ(r->quota_delta, 1);
}

TEST(PlanChange, CreateCarriesTheSpecIntoTheVersion) {
  RuleSpec s = breakout();
  s.mode = TriggerMode::every;
  s.cooldown_seconds = 30;
  s.description = "d";
  s.expires_at_micros = kT0 + 3600 * kSecond;
  s.message_template = "t";
  auto r = plan_change(std::nullopt, request(ChangeKind::create, s), kT0 + kP, "r1", kT0);
  ASSERT_TRUE(r);
  const Rule& v = r->next.versions.at(0);
  EXPECT_EQ(v.mode, TriggerMode::every);
  EXPECT_EQ(v.cooldown_seconds, 30);
  EXPECT_EQ(v.description, "d");
  EXPECT_EQ(v.expires_at_micros, kT0 + 3600 * kSecond);
  EXPECT_FALSE(v.applies_at(kT0 + 3600 * kSecond));  // R1: applies to ticks before expires_at
  s.mode = TriggerMode::once_per_bar;
  s.cooldown_seconds = 0;
  s.bar_seconds = 300;
  r = plan_change(std::nullopt, request(ChangeKind::create, s), kT0 + kP, "r1", kT0);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->next.versions.at(0).bar_seconds, 300);
}

TEST(PlanChange, CreateStartPausedHasNoVersionUntilResumed) {  // R6: enabled false
  ChangeRequest req = request(ChangeKind::create, breakout());
  req.start_paused = true;
  auto r = plan_change(std::nullopt, req, kT0 + kP, "r1", kT0);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->next.state, RuleState::paused);
  EXPECT_TRUE(r->next.versions.empty());
  EXPECT_FALSE(r->opened);
  EXPECT_EQ(r->quota_delta, 1);  // a paused rule counts (R1)
  auto resumed = plan_change(r->next, request(ChangeKind::resume), kT0 + 2 * kP, "", kT0 + kSecond);
  ASSERT_TRUE(resumed);
  ASSERT_EQ(resumed->next.versions.size(), 1u);
  EXPECT_EQ(resumed->next.versions[0].version, 1u);
  EXPECT_EQ(resumed->next.versions[0].window.from_micros, kT0 + 2 * kP);
}

// Every kind in every state: the outcome, what the windows do, the arming and the quota.
TEST(PlanChange, EveryKindInEveryState) {
  enum class St { none, active, active_triggered, paused, paused_triggered, deleted };
  struct Expect {
    std::optional<ChangeError::Kind> error;  // nullopt: planned
    RuleState state = RuleState::active;
    bool closes = false, opens = false;
    std::uint32_t arming = 1;
    int quota = 0;
  };
  using K = ChangeError::Kind;
  const Expect not_found{K::not_found}, conflict{K::conflict};
  const auto ok = [](RuleState s, bool closes, bool opens, std::uint32_t arming = 1, int quota = 0) {
    return Expect{std::nullopt, s, closes, opens, arming, quota};
  };
  const auto A = RuleState::active, P = RuleState::paused, D = RuleState::deleted;
  using CK = ChangeKind;
  const std::map<std::pair<St, CK>, Expect> table = {
      {{St::none, CK::create}, ok(A, false, true, 1, 1)},
      {{St::none, CK::edit}, not_found},
      {{St::none, CK::pause}, not_found},
      {{St::none, CK::resume}, not_found},
      {{St::none, CK::rearm}, not_found},
      {{St::none, CK::remove}, not_found},
      {{St::active, CK::create}, conflict},
      {{St::active, CK::edit}, ok(A, true, true)},
      {{St::active, CK::pause}, ok(P, true, false)},
      {{St::active, CK::resume}, conflict},
      {{St::active, CK::rearm}, conflict},  // not triggered
      {{St::active, CK::remove}, ok(D, true, false, 1, -1)},
      {{St::active_triggered, CK::create}, conflict},
      {{St::active_triggered, CK::edit}, ok(A, true, true)},  // keeps the arming
      {{St::active_triggered, CK::pause}, ok(P, true, false)},
      {{St::active_triggered, CK::resume}, conflict},
      {{St::active_triggered, CK::rearm}, ok(A, true, true, 2)},
      {{St::active_triggered, CK::remove}, ok(D, true, false, 1, -1)},
      {{St::paused, CK::create}, conflict},
      {{St::paused, CK::edit}, ok(P, false, false)},
      {{St::paused, CK::pause}, conflict},
      {{St::paused, CK::resume}, ok(A, false, true)},
      {{St::paused, CK::rearm}, conflict},
      {{St::paused, CK::remove}, ok(D, false, false, 1, -1)},
      {{St::paused_triggered, CK::create}, conflict},
      {{St::paused_triggered, CK::edit}, ok(P, false, false)},
      {{St::paused_triggered, CK::pause}, conflict},
      {{St::paused_triggered, CK::resume}, ok(A, false, true)},
      {{St::paused_triggered, CK::rearm}, ok(P, false, false, 2)},
      {{St::paused_triggered, CK::remove}, ok(D, false, false, 1, -1)},
      {{St::deleted, CK::create}, conflict},
      {{St::deleted, CK::edit}, not_found},
      {{St::deleted, CK::pause}, not_found},
      {{St::deleted, CK::resume}, not_found},
      {{St::deleted, CK::rearm}, not_found},
      {{St::deleted, CK::remove}, not_found},
  };
  ASSERT_EQ(table.size(), 36u);
  const std::int64_t ef = kT0 + 100 * kSecond, now = kT0 + 90 * kSecond;
  for (const auto& [key, want] : table) {
    const auto [st, kind] = key;
    SCOPED_TRACE(std::string(to_string(kind)) + " in state #" + std::to_string(static_cast<int>(st)));
    std::optional<RuleRecord> current;
    if (st == St::active || st == St::active_triggered) current = created(RuleState::active);
    if (st == St::paused || st == St::paused_triggered) current = created(RuleState::paused);
    if (st == St::deleted) current = created(RuleState::deleted);
    RuleSpec edited = breakout();
    edited.threshold = 210;
    ChangeRequest req = request(kind, kind == CK::create || kind == CK::edit
                                          ? std::optional<RuleSpec>(kind == CK::edit ? edited : breakout())
                                          : std::nullopt);
    if (current && kind == CK::edit) req.if_match = current->revision;
    req.triggered = st == St::active_triggered || st == St::paused_triggered;
    auto r = plan_change(current, req, ef, "r1", now);
    if (want.error) {
      ASSERT_FALSE(r);
      EXPECT_EQ(r.error().kind, *want.error);
      EXPECT_FALSE(r.error().message.empty());
      continue;
    }
    ASSERT_TRUE(r) << r.error().message;
    const RuleRecord& next = r->next;
    EXPECT_EQ(next.state, want.state);
    EXPECT_EQ(next.arming, want.arming);
    EXPECT_EQ(r->quota_delta, want.quota);
    EXPECT_EQ(next.revision, current ? current->revision + 1 : 1u);
    EXPECT_EQ(next.updated_at_micros, now);
    EXPECT_EQ(next.created_at_micros, current ? current->created_at_micros : now);
    EXPECT_EQ(next.spec, kind == CK::edit ? edited : breakout());
    EXPECT_EQ(r->closed.has_value(), want.closes);
    EXPECT_EQ(r->opened.has_value(), want.opens);
    const std::size_t before = current ? current->versions.size() : 0;
    ASSERT_EQ(next.versions.size(), before + (want.opens ? 1 : 0));
    if (want.closes) {
      EXPECT_EQ(r->closed->window.until_micros, ef);
      EXPECT_EQ(r->closed->window.from_micros, current->versions.back().window.from_micros);
      EXPECT_EQ(next.versions[before - 1], *r->closed);
    }
    if (want.opens) {
      EXPECT_EQ(r->opened->window, (EffectiveWindow{ef, EffectiveWindow::kOpenEnd}));
      EXPECT_EQ(r->opened->version, before + 1);
      EXPECT_EQ(r->opened->arming, want.arming);
      EXPECT_EQ(r->opened->threshold, next.spec.threshold);
      EXPECT_EQ(next.versions.back(), *r->opened);
    }
    for (std::size_t i = 0; i + (want.closes ? 1 : 0) < before; ++i) {
      EXPECT_EQ(next.versions[i], current->versions[i]);  // earlier windows untouched
    }
  }
}

TEST(PlanChange, AnEditOfAPausedRuleOpensOnResume) {
  RuleRecord rec = created(RuleState::paused);
  RuleSpec edited = breakout();
  edited.threshold = 250;
  ChangeRequest edit = request(ChangeKind::edit, edited);
  edit.if_match = rec.revision;
  auto e = plan_change(rec, edit, kT0 + 3 * kP, "", kT0);
  ASSERT_TRUE(e);
  auto r = plan_change(e->next, request(ChangeKind::resume), kT0 + 4 * kP, "", kT0);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->next.versions.size(), 2u);
  EXPECT_EQ(r->next.versions[1].threshold, 250);
  EXPECT_EQ(r->next.versions[1].window, (EffectiveWindow{kT0 + 4 * kP, EffectiveWindow::kOpenEnd}));
  EXPECT_EQ(r->next.versions[0].window, (EffectiveWindow{kT0 + kP, kT0 + 2 * kP}));
}

TEST(PlanChange, ReArmOnlyInModeOnce) {
  RuleSpec every = breakout();
  every.mode = TriggerMode::every;
  every.cooldown_seconds = 10;
  auto c = plan_change(std::nullopt, request(ChangeKind::create, every), kT0 + kP, "r1", kT0);
  ASSERT_TRUE(c);
  ChangeRequest rearm = request(ChangeKind::rearm);
  rearm.triggered = true;
  auto r = plan_change(c->next, rearm, kT0 + 2 * kP, "", kT0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ChangeError::Kind::conflict);
}

TEST(PlanChange, IfMatchIsTheRevision) {
  const RuleRecord rec = created(RuleState::active);  // revision 1
  for (const ChangeKind kind :
       {ChangeKind::edit, ChangeKind::pause, ChangeKind::resume, ChangeKind::rearm, ChangeKind::remove}) {
    SCOPED_TRACE(to_string(kind));
    ChangeRequest req = request(kind, kind == ChangeKind::edit ? std::optional(breakout()) : std::nullopt);
    req.if_match = 2;  // stale or from the future: not what the record is at
    auto r = plan_change(rec, req, kT0 + 2 * kP, "", kT0);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, ChangeError::Kind::precondition_failed);
    EXPECT_EQ(r.error().message, "the rule is at revision 1, not 2");
  }
  ChangeRequest pause = request(ChangeKind::pause);
  pause.if_match = 1;
  EXPECT_TRUE(plan_change(rec, pause, kT0 + 2 * kP, "", kT0));
  auto edit = plan_change(rec, request(ChangeKind::edit, breakout()), kT0 + 2 * kP, "", kT0);
  ASSERT_FALSE(edit);
  EXPECT_EQ(edit.error().kind, ChangeError::Kind::invalid);
  EXPECT_EQ(pairs(edit.error().fields), (decltype(pairs({})){{"If-Match", "required"}}));
}

TEST(PlanChange, AnotherOwnersOrAnotherIdIsNotFound) {
  const RuleRecord rec = created(RuleState::active);
  ChangeRequest req = request(ChangeKind::pause);
  req.owner = "mallory";
  auto r = plan_change(rec, req, kT0 + 2 * kP, "", kT0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ChangeError::Kind::not_found);
  req = request(ChangeKind::pause);
  req.rule_id = "r2";
  r = plan_change(rec, req, kT0 + 2 * kP, "", kT0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ChangeError::Kind::not_found);
}

TEST(PlanChange, InvalidDefinitionsListEveryField) {
  RuleSpec bad = breakout();
  bad.name = "";
  bad.threshold = -1;
  auto r = plan_change(std::nullopt, request(ChangeKind::create, bad), kT0 + kP, "r1", kT0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ChangeError::Kind::invalid);
  EXPECT_EQ(pairs(r.error().fields),
            (decltype(pairs({})){{"name", "must be 1..64 chars of A-Z a-z 0-9 _ . -"},
                                 {"threshold", "must be between 0 and 1e15"},
                                 {"threshold", "must be > 0 for this condition"}}));
  r = plan_change(std::nullopt, request(ChangeKind::create), kT0 + kP, "r1", kT0);
  ASSERT_FALSE(r);
  EXPECT_EQ(pairs(r.error().fields), (decltype(pairs({})){{"(body)", "required"}}));
  ChangeRequest edit = request(ChangeKind::edit, bad);
  edit.if_match = 1;
  r = plan_change(created(RuleState::active), edit, kT0 + 2 * kP, "", kT0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ChangeError::Kind::invalid);
  ChangeRequest ownerless = request(ChangeKind::create, breakout());
  ownerless.owner.clear();
  r = plan_change(std::nullopt, ownerless, kT0 + kP, "r1", kT0);
  ASSERT_FALSE(r);
  EXPECT_EQ(pairs(r.error().fields), (decltype(pairs({})){{"owner", "required"}}));
}

TEST(PlanChange, EffectiveFromMustFollowEveryWindowBoundary) {
  RuleRecord rec = created(RuleState::paused);  // version 1: [kT0 + P, kT0 + 2P)
  for (const std::int64_t ef : {kT0, kT0 + kP, kT0 + 2 * kP}) {
    auto r = plan_change(rec, request(ChangeKind::resume), ef, "", kT0);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, ChangeError::Kind::invalid);
    ASSERT_EQ(r.error().fields.size(), 1u);
    EXPECT_EQ(r.error().fields[0].field, "effective_from");
    EXPECT_EQ(r.error().fields[0].message,
              "must be after " + std::to_string(kT0 + 2 * kP) + " (its last window boundary, us)");
  }
  EXPECT_TRUE(plan_change(rec, request(ChangeKind::resume), kT0 + 2 * kP + 1, "", kT0));
  for (const std::int64_t ef : {EffectiveWindow::kOpenStart, kMinTimestampMicros - 1, kEndTimestampMicros,
                                EffectiveWindow::kOpenEnd}) {
    auto r = plan_change(std::nullopt, request(ChangeKind::create, breakout()), ef, "r1", kT0);
    ASSERT_FALSE(r);
    EXPECT_EQ(pairs(r.error().fields),
              (decltype(pairs({})){
                  {"effective_from", "must lie in [2000-01-01T00:00:00Z, 2101-01-01T00:00:00Z)"}}));
  }
  EXPECT_TRUE(
      plan_change(std::nullopt, request(ChangeKind::create, breakout()), kMinTimestampMicros, "r1", 0));
}

TEST(PlanChange, AnActiveRecordThatLostItsOpenVersionOpensOneWithoutClosing) {
  RuleRecord rec = created(RuleState::active);
  rec.versions.clear();  // as a damaged item would read: the plan must not dereference what is not there
  ChangeRequest edit = request(ChangeKind::edit, breakout());
  edit.if_match = rec.revision;
  auto r = plan_change(rec, edit, kT0 + 2 * kP, "", kT0);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->closed);
  ASSERT_TRUE(r->opened);
  EXPECT_EQ(r->opened->version, 1u);
}

TEST(PlanChange, PlanningIsPure) {
  const RuleRecord rec = created(RuleState::active);
  ChangeRequest edit = request(ChangeKind::edit, breakout());
  edit.if_match = 1;
  auto a = plan_change(rec, edit, kT0 + 3 * kP, "", kT0 + kSecond);
  auto b = plan_change(rec, edit, kT0 + 3 * kP, "", kT0 + kSecond);
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  EXPECT_EQ(a.value(), b.value());
  EXPECT_EQ(rec, created(RuleState::active));
}

TEST(EffectiveFrom, AtLeastNowPlusPAndAfterTheFenceAndTheRule) {  // R3
  EXPECT_EQ(effective_from_for(kT0, 0, kP), kT0 + kP);
  EXPECT_EQ(effective_from_for(kT0, kT0 + kP, kP), kT0 + kP + 1);  // the fence is exclusive for writers
  EXPECT_EQ(effective_from_for(kT0, kT0 + 60 * kSecond, kP), kT0 + 60 * kSecond + 1);
  EXPECT_EQ(effective_from_for(INT64_MAX - 1, 0, kP), INT64_MAX);  // saturates, never wraps
  EXPECT_EQ(effective_from_for(0, INT64_MAX, kP), INT64_MAX);
  const RuleRecord rec = created(RuleState::paused);  // last boundary kT0 + 2P
  EXPECT_EQ(effective_from_for(kT0, 0, kP, rec), kT0 + 2 * kP + 1);
  EXPECT_EQ(effective_from_for(kT0 + kP, 0, kP, rec), kT0 + 2 * kP + 1);
  EXPECT_EQ(effective_from_for(kT0 + 2 * kP, 0, kP, rec), kT0 + 3 * kP);
  EXPECT_EQ(effective_from_for(kT0, 0, kP, RuleRecord{}), kT0 + kP);  // no window yet
}

TEST(EngineVersions, EveryVersionWithTheRecordsIdentity) {
  RuleRecord rec = created(RuleState::active);
  ChangeRequest rearm = request(ChangeKind::rearm);
  rearm.triggered = true;
  auto r = plan_change(rec, rearm, kT0 + 3 * kP, "", kT0);
  ASSERT_TRUE(r);
  rec = r->next;
  rec.versions[0].owner.clear();  // stored without the identity the record holds once
  rec.versions[1].id.clear();
  rec.spec.message_template = "{symbol} moved";
  const auto versions = engine_versions(rec);
  ASSERT_EQ(versions.size(), 2u);
  for (const Rule& v : versions) {
    EXPECT_EQ(v.id, "r1");
    EXPECT_EQ(v.owner, "alice");
    EXPECT_EQ(v.message_template, "{symbol} moved");  // the rule's current text, for every version
    EXPECT_EQ(v.mode, TriggerMode::once);
  }
  EXPECT_EQ(versions[0].arming, 1u);
  EXPECT_EQ(versions[1].arming, 2u);
  EXPECT_EQ(versions[0].window, (EffectiveWindow{kT0 + kP, kT0 + 3 * kP}));
  EXPECT_EQ(versions[1].window, (EffectiveWindow{kT0 + 3 * kP, EffectiveWindow::kOpenEnd}));
}

// ---- property: windows over random change sequences ----

// Which versions apply at ts (by window).
std::vector<std::uint32_t> applying(const RuleRecord& r, std::int64_t ts) {
  std::vector<std::uint32_t> out;
  for (const Rule& v : r.versions) {
    if (v.window.contains(ts)) out.push_back(v.version);
  }
  return out;
}

TEST(PlanChangeProperty, WindowsNeverOverlapAndNeverChangeBeforeEffectiveFrom) {
  std::size_t planned = 0, refused = 0;
  for (std::uint32_t seed = 1; seed <= 200; ++seed) {
    std::mt19937 rng(seed);
    std::int64_t now = kT0, fence = kT0;
    std::optional<RuleRecord> rec;
    for (int step = 0; step < 60; ++step) {
      if (rec && rec->state == RuleState::deleted && rng() % 4 == 0) rec.reset();  // a new rule takes over
      // Clocks may be off either way (now jumps back as far as forward); readers advance the fence ahead.
      now += static_cast<std::int64_t>(rng() % (20 * kSecond)) - 8 * kSecond;
      fence = std::max(fence, now + static_cast<std::int64_t>(rng() % (2 * kP)) - kP);
      ChangeRequest req = request(static_cast<ChangeKind>(rng() % 6));
      if (req.kind == ChangeKind::create || req.kind == ChangeKind::edit) {
        RuleSpec s = breakout();
        s.threshold = 100 + static_cast<double>(rng() % 5);
        req.spec = s;
      }
      if (rec) req.if_match = rec->revision;
      req.triggered = rng() % 2 == 0;
      std::int64_t ef = rec ? effective_from_for(now, fence, kP, *rec) : effective_from_for(now, fence, kP);
      const bool bad_ef = rec && !rec->versions.empty() && rng() % 8 == 0;
      if (bad_ef) ef = rec->versions.back().window.from_micros;  // reaching back: must be refused
      auto r = plan_change(rec, req, ef, "r1", now);
      if (!r) {
        ++refused;
        continue;
      }
      ++planned;
      ASSERT_FALSE(bad_ef);
      ASSERT_GE(ef, now + kP);
      ASSERT_GT(ef, fence);
      const RuleRecord& next = r->next;
      const std::size_t before = rec ? rec->versions.size() : 0;
      // Versions are numbered 1..n; every earlier version is unchanged except the closed one's end.
      for (std::size_t i = 0; i < next.versions.size(); ++i) {
        ASSERT_EQ(next.versions[i].version, i + 1);
        ASSERT_FALSE(next.versions[i].window.empty());
        if (i < before) {
          Rule old = rec->versions[i];
          if (old.window.until_micros != next.versions[i].window.until_micros) {
            ASSERT_EQ(old.window.until_micros, EffectiveWindow::kOpenEnd);
            ASSERT_EQ(next.versions[i].window.until_micros, ef);
            old.window.until_micros = ef;
          }
          ASSERT_EQ(next.versions[i], old);
        } else {
          ASSERT_GE(next.versions[i].window.from_micros, ef);
        }
        for (std::size_t j = 0; j < i; ++j) {  // never overlap
          const auto& a = next.versions[j].window;
          const auto& b = next.versions[i].window;
          ASSERT_TRUE(a.until_micros <= b.from_micros || b.until_micros <= a.from_micros);
        }
      }
      // Literally: what applies at any instant before effective_from is what applied there before.
      for (const Rule& v : next.versions) {
        for (const std::int64_t ts : {v.window.from_micros - 1, v.window.from_micros, ef - 1}) {
          if (ts < ef && rec) {
            ASSERT_EQ(applying(next, ts), applying(*rec, ts));
          }
        }
      }
      // The open version exists exactly while the rule is active, and carries the arming.
      const auto open = std::count_if(next.versions.begin(), next.versions.end(), [](const Rule& v) {
        return v.window.until_micros == EffectiveWindow::kOpenEnd;
      });
      ASSERT_EQ(open, next.state == RuleState::active ? 1 : 0);
      if (open == 1) {
        ASSERT_EQ(next.versions.back().arming, next.arming);
      }
      ASSERT_EQ(next.revision, rec ? rec->revision + 1 : 1u);
      ASSERT_EQ(next.arming, !rec ? 1u : rec->arming + (req.kind == ChangeKind::rearm ? 1u : 0u));
      rec = next;
    }
  }
  EXPECT_GT(planned, 3000u);
  EXPECT_GT(refused, 1000u);
}

}  // namespace
}  // namespace tap
