// The hand-computed golden feed: ticks and expected alerts are in tests/data, written by hand.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "tap/core/alert.hpp"
#include "tap/core/json_text.hpp"
#include "tap/core/rule_engine.hpp"

namespace tap {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(GoldenFeed, AlertsExactlyAsComputedByHand) {
  auto rules = load_rules(slurp(std::string(TAP_TEST_DATA_DIR) + "/golden_rules.json"));
  ASSERT_TRUE(rules) << rules.error().message;
  std::map<int, std::vector<std::string>> bodies;
  std::istringstream feed(slurp(std::string(TAP_TEST_DATA_DIR) + "/golden_feed.txt"));
  for (std::string line; std::getline(feed, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto tab = line.find('\t');
    bodies[std::stoi(line.substr(0, tab))].push_back(line.substr(tab + 1));
  }
  std::vector<std::string> actual;
  StateMap state;
  for (const auto& [batch, messages] : bodies) {
    std::vector<Tick> ticks;
    std::vector<std::size_t> owner;
    for (std::size_t m = 0; m < messages.size(); ++m) {
      auto parsed = parse_ticks(messages[m]);
      ASSERT_TRUE(parsed) << parsed.error().message;
      for (auto& t : parsed->ticks) {
        ticks.push_back(std::move(t));
        owner.push_back(m);
      }
    }
    std::vector<BatchTick> batch_ticks;
    for (std::size_t i = 0; i < ticks.size(); ++i) batch_ticks.push_back({&ticks[i], owner[i]});
    const BatchPlan batch_plan = plan_batch(rules.value(), batch_ticks, state);
    const std::size_t late = batch_plan.late_count;
    for (const KeyPlan& plan : batch_plan.keys) {
      for (const Step& step : plan.steps) {
        if (step.kind != Step::Kind::fire) continue;
        const PlannedTick& pt = plan.ticks[step.pos];
        const Tick& t = *batch_ticks[pt.batch_index].tick;
        std::ostringstream os;
        os << batch << ' ' << pt.message_index << ' ' << t.symbol << ' ' << t.ts.text() << '#'
           << rules->rule(plan.key.rule_index).id << ' ';
        std::string price;
        json::append_number(price, t.price);
        os << price;
        actual.push_back(os.str());
      }
      state[plan.key] = plan.final_state;
    }
    actual.push_back("late " + std::to_string(batch) + " " + std::to_string(late));
  }
  std::vector<std::string> expected;
  std::istringstream exp(slurp(std::string(TAP_TEST_DATA_DIR) + "/golden_expected.txt"));
  for (std::string line; std::getline(exp, line);) {
    if (!line.empty() && line[0] != '#') expected.push_back(line);
  }
  std::sort(actual.begin(), actual.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(actual, expected);
}

}  // namespace
}  // namespace tap
