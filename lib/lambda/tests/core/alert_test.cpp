#include "tap/core/alert.hpp"

#include <gtest/gtest.h>

#include "tap/core/message_template.hpp"

namespace tap {
namespace {

constexpr std::int64_t kT0 = 1795617000123000LL;  // 2026-11-25T14:30:00.123Z

Rule make_rule(Condition c, double threshold) {
  Rule r;
  r.id = "aapl-breakout-200";
  r.symbol = "AAPL";
  r.condition = c;
  r.threshold = threshold;
  r.severity = Severity::critical;
  r.description = "AAPL \"breaks\" 200\n\x01 caf\xc3\xa9";
  r.owner = "trader-7";
  r.version = 3;
  return r;
}

Tick make_tick() {
  Tick t;
  t.symbol = "AAPL";
  t.price = 200.1;
  t.ts = {kT0};
  t.volume = 1200;
  t.bid = 200.05;
  t.ask = 200.15;
  return t;
}

TEST(Alert, IdNamesSymbolTickTimeAndRule) {
  const Rule r = make_rule(Condition::crosses_above, 200);
  const Tick t = make_tick();
  EXPECT_EQ(alert_id(r, t), (AlertId{"AAPL", kT0, "aapl-breakout-200"}));
  EXPECT_EQ(to_string(alert_id(r, t)), "AAPL|2026-11-25T14:30:00.123000Z#aapl-breakout-200");
  EXPECT_LT((AlertId{"AAPL", kT0, "b"}), (AlertId{"AAPL", kT0 + 1, "a"}));  // ordered by time before rule
}

TEST(Alert, SnsNotification) {
  const Rule r = make_rule(Condition::crosses_above, 200);
  const Tick t = make_tick();
  const SnsNotification n = sns_notification({&r, &t, "m-1"}, kT0 + 1'500'000);
  EXPECT_EQ(n.subject, "[CRITICAL] AAPL crossed above 200: 200.1 (aapl-breakout-200)");
  EXPECT_EQ(
      n.message,
      R"({"alert_id":"AAPL|2026-11-25T14:30:00.123000Z#aapl-breakout-200","symbol":"AAPL",)"
      R"("rule_id":"aapl-breakout-200","rule_version":3,"owner":"trader-7","condition":"crosses_above",)"
      R"("threshold":200,"price":200.1,)"
      R"("bid":200.05,"ask":200.15,"volume":1200,"tick_time":"2026-11-25T14:30:00.123000Z","age_ms":1500,)"
      R"("delayed":false,"unvouched":false,"severity":"critical","description":"AAPL \"breaks\" 200\n\u0001 caf)"
      "\xc3\xa9"
      R"(","message_id":"m-1"})");
  // F5: the owner beside symbol, rule and severity, for filter policies.
  EXPECT_EQ(n.attributes, (std::vector<std::pair<std::string, std::string>>{{"owner", "trader-7"},
                                                                            {"symbol", "AAPL"},
                                                                            {"rule", "aapl-breakout-200"},
                                                                            {"severity", "critical"}}));
  EXPECT_EQ(n.sms, "AAPL crossed above 200.00 at 14:30:00.123 UTC (200.10) -- rule 'aapl-breakout-200'");
  EXPECT_EQ(n.email,
            "AAPL crossed above 200.00 at 14:30:00.123 UTC (200.10) -- rule 'aapl-breakout-200'\n\n"
            "Notified 1500 ms after the tick.\nSeverity: critical\n"
            "Description: AAPL \"breaks\" 200\n\x01 caf\xc3\xa9\n"
            "Alert id: AAPL|2026-11-25T14:30:00.123000Z#aapl-breakout-200\n");
}

TEST(Alert, MessageStructureCarriesTheJsonAsDefaultAndATextPerProtocol) {
  SnsNotification n;
  n.message = R"({"a":"x\y"})";
  n.email = "line 1\n\"quoted\"";
  n.sms = "caf\xc3\xa9";
  EXPECT_EQ(sns_message_structure(n),
            R"({"default":"{\"a\":\"x\\y\"}","email":"line 1\n\"quoted\"","sms":"caf)"
            "\xc3\xa9"
            R"("})");
}

TEST(Alert, DelayedWhenTheTickIsOlderThanTheMaximumNotifyAge) {
  const Rule r = make_rule(Condition::price_above, 200);
  const Tick t = make_tick();
  const auto at = [&](std::int64_t age_micros, std::int64_t max_seconds) {
    const auto n = sns_notification({&r, &t, "m"}, kT0 + age_micros, max_seconds);
    return n.message.find(R"("delayed":true)") != std::string::npos;
  };
  EXPECT_FALSE(at(60'000'000, kDefaultMaxNotifyAgeSeconds));  // exactly the maximum: on time
  EXPECT_TRUE(at(60'001'000, kDefaultMaxNotifyAgeSeconds));
  EXPECT_FALSE(at(60'001'000, 61));
  EXPECT_TRUE(at(1'001'000, 1));
  EXPECT_NE(
      sns_notification({&r, &t, "m"}, kT0 + 90'000'000).email.find("\n\nDelayed: notified 90000 ms after"),
      std::string::npos);
}

TEST(Alert, AnUnvouchedAlertsNotificationSaysSoInTheJsonAndTheEmail) {
  const Rule r = make_rule(Condition::price_above, 200);
  const Tick t = make_tick();
  const SnsNotification n = sns_notification({&r, &t, "m", true}, kT0 + 1'000);
  EXPECT_NE(n.message.find(R"("delayed":false,"unvouched":true,"severity")"), std::string::npos) << n.message;
  EXPECT_NE(n.email.find("\nSeverity: critical\nDescription: AAPL \"breaks\" 200\n\x01 caf\xc3\xa9\n"
                         "Unvouched: an in-order replay of the feed might not have raised this alert (ticks "
                         "out of order, or a once rule on every symbol).\nAlert id: "),
            std::string::npos)
      << n.email;
  EXPECT_EQ(n.sms, sns_notification({&r, &t, "m"}, kT0 + 1'000).sms);  // the SMS is the sentence alone
  EXPECT_EQ(sns_notification({&r, &t, "m"}, kT0 + 1'000).email.find("Unvouched"), std::string::npos);
}

TEST(Alert, NoOwnerAttributeForARuleWithoutOwner) {  // SNS refuses an empty attribute value
  Rule r = make_rule(Condition::price_above, 200);
  r.owner.clear();
  const Tick t = make_tick();
  const auto n = sns_notification({&r, &t, "m"}, kT0);
  EXPECT_EQ(n.attributes.front().first, "symbol");
  EXPECT_NE(n.message.find(R"("owner":"")"), std::string::npos);
}

TEST(AlertText, ASentencePerConditionKind) {
  Tick t = make_tick();
  t.price = 201.02;
  t.ts = {kT0 + 1'000'000};
  struct Case {
    Condition c;
    double threshold;
    std::string text;
  };
  for (const Case& k : {
           Case{Condition::price_above, 200, "AAPL at 201.02, above 200.00 at 14:30:01.123 UTC"},
           Case{Condition::price_below, 205.5, "AAPL at 201.02, below 205.50 at 14:30:01.123 UTC"},
           Case{Condition::crosses_above, 200, "AAPL crossed above 200.00 at 14:30:01.123 UTC (201.02)"},
           Case{Condition::crosses_below, 0.00125, "AAPL crossed below 0.00125 at 14:30:01.123 UTC (201.02)"},
           Case{Condition::spread_above, 0.05, "AAPL spread 0.10 above 0.05 at 14:30:01.123 UTC (201.02)"},
           Case{Condition::volume_above, 1000, "AAPL volume 1200 above 1000 at 14:30:01.123 UTC (201.02)"},
       }) {
    const Rule r = make_rule(k.c, k.threshold);
    EXPECT_EQ(alert_text(r, t), k.text + " -- rule 'aapl-breakout-200'");
  }
  // A number JSON writes in exponent form is left as written.
  t.price = 1e21;
  EXPECT_EQ(alert_text(make_rule(Condition::crosses_above, 200), t),
            "AAPL crossed above 200.00 at 14:30:01.123 UTC (1e+21) -- rule 'aapl-breakout-200'");
}

TEST(AlertText, TheRulesTemplateWithEveryPlaceholder) {
  Rule r = make_rule(Condition::spread_above, 0.05);
  r.message_template =
      "{symbol}|{price}|{threshold}|{condition}|{value}|{time}|{date}|{rule}|{severity}|{{literal}}";
  EXPECT_EQ(
      alert_text(r, make_tick()),
      "AAPL|200.10|0.05|spread above|0.10|14:30:00.123 UTC|2026-11-25|aapl-breakout-200|critical|{literal}");
  r.condition = Condition::volume_above;
  r.threshold = 1000;
  r.message_template = "{value} > {threshold}";
  EXPECT_EQ(alert_text(r, make_tick()), "1200 > 1000");
  // A price condition watches the price itself.
  r.condition = Condition::crosses_above;
  r.threshold = 200;
  EXPECT_EQ(alert_text(r, make_tick()), "200.10 > 200.00");
}

TEST(AlertText, HostileTemplatesNeverReadValuesAsTemplates) {
  Rule r = make_rule(Condition::price_above, 200);
  Tick t = make_tick();
  // A value holding braces stays literal: substitution happens once.
  r.id = "{symbol}";
  r.message_template = "{rule} {symbol}";
  EXPECT_EQ(alert_text(r, t), "{symbol} AAPL");
  // Quotes, control characters and non-ASCII are carried as written; the JSON structure escapes them.
  r.message_template = "\"\\\x01\u00e9 {symbol}";
  EXPECT_EQ(alert_text(r, t), "\"\\\x01\u00e9 AAPL");
  // A template that validation would refuse (never stored) renders up to its first problem.
  r.message_template = "{symbol} at {when} {price}";
  EXPECT_EQ(alert_text(r, t), "AAPL at ");
  r.message_template = "{symbol} }";
  EXPECT_EQ(alert_text(r, t), "AAPL ");
  r.message_template = "{symbol} {price";
  EXPECT_EQ(alert_text(r, t), "AAPL ");
  r.message_template = "{" + std::string(600, 'x') + "}";
  EXPECT_EQ(alert_text(r, t), "");
  EXPECT_EQ(template_problem(r.message_template), "unknown placeholder {" + std::string(40, 'x') + "}");
}

TEST(AlertText, ABraceAtTheEndOfATemplateIsLoneWhateverFollowsItsView) {
  const std::string_view buffer = "{symbol}}}";
  EXPECT_EQ(template_problem(buffer.substr(0, 9)), "a lone '}' (write '}}' for a brace)");  // not "}}"
  EXPECT_EQ(template_problem(buffer), std::nullopt);
}

TEST(AlertText, SmsIsCutOnAUtf8Boundary) {
  EXPECT_EQ(truncate_utf8("short", 140), "short");
  EXPECT_EQ(truncate_utf8(std::string(140, 'a'), 140), std::string(140, 'a'));
  EXPECT_EQ(truncate_utf8(std::string(141, 'a'), 140), std::string(137, 'a') + "...");
  // A two-byte character across the cut: dropped whole.
  const std::string e2 = std::string(136, 'a') + "\xc3\xa9" + std::string(10, 'b');
  EXPECT_EQ(truncate_utf8(e2, 140), std::string(136, 'a') + "...");
  // A four-byte character across the cut, from each of its positions.
  for (std::size_t lead = 134; lead <= 137; ++lead) {
    const std::string s = std::string(lead, 'a') + "\xf0\x9f\x93\x88" + std::string(10, 'b');
    const std::string cut = truncate_utf8(s, 140);
    EXPECT_LE(cut.size(), 140u);
    EXPECT_EQ(cut, std::string(lead, 'a') + "...") << lead;
  }
  // Tiny limits still give at most that many bytes.
  EXPECT_EQ(truncate_utf8("\xc3\xa9\xc3\xa9", 2), "..");
  EXPECT_EQ(truncate_utf8("\xc3\xa9\xc3\xa9", 3), "...");
  // Through the notification: a long template keeps the SMS within 140 bytes, whole characters only.
  Rule r = make_rule(Condition::price_above, 200);
  for (int i = 0; i < 60; ++i) r.message_template += "\xe2\x82\xac";  // 60 euro signs, 180 bytes
  const Tick t = make_tick();
  const auto n = sns_notification({&r, &t, "m"}, kT0);
  EXPECT_EQ(n.sms.size(), 138u);  // 45 whole signs (135 bytes) and the mark
  EXPECT_EQ(n.email.substr(0, 180), r.message_template);
}

TEST(Alert, SubjectsPerCondition) {
  const Tick t = make_tick();
  Tick bare = t;
  bare.bid.reset();
  bare.ask.reset();
  bare.volume.reset();
  struct Case {
    Condition c;
    Severity s;
    double threshold;
    std::string subject;
  };
  for (const Case& k :
       {Case{Condition::price_above, Severity::info, 200, "[INFO] AAPL above 200: 200.1"},
        Case{Condition::price_below, Severity::warning, 300, "[WARNING] AAPL below 300: 200.1"},
        Case{Condition::crosses_below, Severity::info, 300, "[INFO] AAPL crossed below 300: 200.1"},
        Case{Condition::spread_above, Severity::info, 0.05,
             "[INFO] AAPL spread above 0.05: 0.09999999999999432"},
        Case{Condition::volume_above, Severity::info, 1000, "[INFO] AAPL volume above 1000: 1200"}}) {
    Rule r = make_rule(k.c, k.threshold);
    r.severity = k.s;
    r.description.clear();
    const auto n = sns_notification({&r, &t, "m"}, kT0);
    EXPECT_EQ(n.subject, k.subject + " (aapl-breakout-200)");
    EXPECT_EQ(n.message.find("description"), std::string::npos);
    EXPECT_NE(n.message.find("\"age_ms\":0"), std::string::npos);
  }
  Rule longid = make_rule(Condition::price_above, 1);
  longid.id = std::string(64, 'x');
  longid.threshold = 98765432.1234567;
  bare.price = 123456789.12345678;
  const auto n = sns_notification({&longid, &bare, "m"}, kT0);
  EXPECT_EQ(n.subject.size(), 100u);
  EXPECT_EQ(n.message.find("\"bid\""), std::string::npos);
}

}  // namespace
}  // namespace tap
