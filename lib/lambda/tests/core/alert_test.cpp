#include "tap/core/alert.hpp"

#include <gtest/gtest.h>

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
      R"("rule_id":"aapl-breakout-200","condition":"crosses_above","threshold":200,"price":200.1,)"
      R"("bid":200.05,"ask":200.15,"volume":1200,"tick_time":"2026-11-25T14:30:00.123000Z","age_ms":1500,)"
      R"("severity":"critical","description":"AAPL \"breaks\" 200\n\u0001 caf)"
      "\xc3\xa9"
      R"(","message_id":"m-1"})");
  EXPECT_EQ(n.attributes, (std::vector<std::pair<std::string, std::string>>{
                              {"symbol", "AAPL"}, {"rule", "aapl-breakout-200"}, {"severity", "critical"}}));
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
