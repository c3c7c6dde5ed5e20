// tap_rules: the operators' rules command (include/tap/app/rules_tool.hpp) wired to DynamoDB from the
// environment, with the wall clock and random ids. A host tool: never packaged in the function zip.
#include <array>
#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "tap/app/rules_tool.hpp"
#include "tap/aws/aws_layer.hpp"
#include "tap/core/clock_spec.hpp"

namespace {

// The cold load's parallel scans as the function makes them (src/main.cpp): one connection and thread each.
constexpr int kScanConnections = 8;

// Rule ids and transaction tokens straight from the OS's entropy (rules_dynamodb.hpp).
std::string random_id() { return tap::random_rule_id(); }

std::int64_t real_micros() {
  const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::microseconds>(since_epoch).count();
}

tap::Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) return tap::Error{"unreadable", "no such readable file"};
  return text.str();
}

}  // namespace

int main(int argc, char** argv) {
  const auto command = tap::parse_rules_tool_args(std::vector<std::string>(argv + 1, argv + argc));
  if (!command) {
    std::cerr << "tap_rules: " << command.error().message << "\n\n" << tap::rules_tool_help();
    return tap::kToolUsage;
  }
  if (command->kind == tap::RulesToolCommand::Kind::help) {
    std::cout << tap::rules_tool_help();
    return tap::kToolOk;
  }
  const auto env = tap::process_env();
  auto table = tap::rules_table_from_env(env);
  auto layer = tap::AwsLayer::from_env(env);
  if (!table || !layer) {
    std::cerr << "tap_rules: " << (table ? layer.error().message : table.error().message) << "\n";
    return tap::kToolFailed;
  }
  // The writer's clock, the local system's one (R7: TAP_CLOCK); R3: it only chooses effective_from, so a
  // wrong one delays a change.
  const auto clock = tap::parse_clock_spec(env(tap::kClockVariable).value_or(""));
  if (!clock) {
    std::cerr << "tap_rules: " << tap::kClockVariable << ": " << clock.error().message << "\n";
    return tap::kToolFailed;
  }
  const auto now = [spec = clock.value()] { return spec.now(real_micros()); };
  tap::DynamoDbRulesStore store(layer.value()->dynamodb, table.value(), random_id);
  // `loaded`: the function's rules cache, built as src/main.cpp builds it (the same settings and scans).
  std::vector<std::unique_ptr<tap::AwsLayer>> scan_layers;
  std::vector<tap::DynamoDbRulesStore> scan_stores;
  scan_stores.reserve(kScanConnections);
  for (int i = 0; command->kind == tap::RulesToolCommand::Kind::loaded && i < kScanConnections; ++i) {
    scan_layers.push_back(std::move(tap::AwsLayer::from_env(env)).value());  // succeeded above
    scan_stores.emplace_back(scan_layers.back()->dynamodb, table.value(), random_id);
  }
  std::vector<tap::RulesStore*> scanners;
  for (tap::DynamoDbRulesStore& s : scan_stores) scanners.push_back(&s);
  tap::RulesCache cache(store, now, tap::RulesCacheSettings{}, std::move(scanners));
  tap::ChangeService changes(
      store, now, [](std::int64_t micros) { std::this_thread::sleep_for(std::chrono::microseconds(micros)); },
      random_id, {});
  const tap::RulesToolContext context{
      store,     changes,   read_file, [] { return tap::SteadyClock::now() + std::chrono::seconds(10); },
      std::cout, std::cerr, &cache};
  return tap::run_rules_tool(command.value(), context);
}
