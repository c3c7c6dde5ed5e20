// The hand-computed golden feed: ticks and expected alerts are in tests/data, written by hand. Each batch is
// planned per symbol by the event-time engine, each plan on the state the previous one committed (the
// EngineDriver), as the handler does.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "engine_driver.hpp"
#include "tap/core/json_text.hpp"
#include "tap/core/timestamp.hpp"

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
  testing::EngineDriver driver(rules->rules());
  std::vector<std::string> actual;
  for (const auto& [batch, messages] : bodies) {
    std::vector<Tick> ticks;
    std::vector<std::size_t> owner;  // the message of each tick
    for (std::size_t m = 0; m < messages.size(); ++m) {
      auto parsed = parse_ticks(messages[m]);
      ASSERT_TRUE(parsed) << parsed.error().message;
      for (auto& t : parsed->ticks) {
        ticks.push_back(std::move(t));
        owner.push_back(m);
      }
    }
    // The driver plans the symbols in first-seen order, each symbol's ticks in delivery order.
    std::vector<std::string> symbols;
    std::map<std::string, std::vector<std::size_t>> of_symbol;
    for (std::size_t i = 0; i < ticks.size(); ++i) {
      auto& members = of_symbol[ticks[i].symbol];
      if (members.empty()) symbols.push_back(ticks[i].symbol);
      members.push_back(i);
    }
    const std::vector<SymbolPlan> plans = driver.deliver(ticks);
    ASSERT_EQ(plans.size(), symbols.size());
    std::size_t late = 0;
    for (std::size_t s = 0; s < plans.size(); ++s) {
      for (const TickFate f : plans[s].fates) {
        late += f == TickFate::duplicate || f == TickFate::beyond_window ? 1 : 0;
      }
      for (const NewFire& f : plans[s].fires) {
        ASSERT_TRUE(f.stored && f.input_tick);  // every alert of this feed is keyed by a tick of its batch
        std::ostringstream os;
        os << batch << ' ' << owner[of_symbol[symbols[s]][*f.input_tick]] << ' ' << symbols[s] << ' '
           << Timestamp{f.at.pos.ts_micros}.text() << '#' << rules->rule(f.rule_index).id << ' ';
        std::string price;
        json::append_number(price, f.at.price);
        os << price;
        actual.push_back(os.str());
      }
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
  EXPECT_EQ(driver.mode_choices, 0U);  // in-order planning within each batch: the replay's decisions
}

}  // namespace
}  // namespace tap
