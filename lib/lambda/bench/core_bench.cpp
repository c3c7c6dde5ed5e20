// Benchmarks of the pure core (make bench-cpp). "per_tick"/"per_record"/"per_alert" counters are the time
// per item (inverted rate). The planning benchmarks run the event-time engine as the handler does: the
// batch's valid ticks grouped by symbol, plan_symbol per symbol on the state a previous batch committed.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "tap/app/dynamodb_store.hpp"
#include "tap/core/alert.hpp"
#include "tap/core/json_text.hpp"
#include "tap/core/rule_index.hpp"
#include "tap/core/sqs_event.hpp"
#include "tap/core/symbol_engine.hpp"
#include "tap/core/tick.hpp"

namespace tap {
namespace {

constexpr int kSymbols = 100;
constexpr int kRules = 1000;

std::string symbol(int i) { return "SYM" + std::to_string(i); }

std::string tick_body(int i, int seq) {
  return R"({"symbol":")" + symbol(i % kSymbols) + R"(","price":)" +
         std::to_string(100 + (i * 7 + seq) % 50) + R"(.25,"timestamp":"2026-11-25T14:30:)" +
         (seq < 10 ? "0" : "") + std::to_string(seq % 60) +
         R"(.123Z","volume":1200,"bid":189.24,"ask":189.26})";
}

// A Lambda SQS event of 25 records, one tick each, bodies escaped as AWS sends them.
std::string make_event(int seq) {
  std::string e = R"({"Records":[)";
  for (int i = 0; i < 25; ++i) {
    if (i) e += ',';
    std::string body;
    json::append_string(body, tick_body(i * 4, seq));  // same symbols in every batch
    e +=
        R"({"messageId":"059f36b4-87a3-44ab-83d2-661975830a7d-)" + std::to_string(i) +
        R"(","receiptHandle":"AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...","body":)" + body +
        R"(,"attributes":{"ApproximateReceiveCount":"1","SentTimestamp":"1795617000123","SenderId":"AIDAIENQZJOLO23YVJ4VO","ApproximateFirstReceiveTimestamp":"1795617000130"},"messageAttributes":{},"md5OfBody":"e4e68fb7bd0e697a0ae8f1bb342846b3","eventSource":"aws:sqs","eventSourceARN":"arn:aws:sqs:us-east-1:123456789012:market-data-queue-dev","awsRegion":"us-east-1"})";
  }
  return e + "]}";
}

// 1,000 rules over 100 symbols: 10 per symbol, all conditions, thresholds around the prices.
RuleSet make_rules() {
  std::vector<Rule> rules;
  const Condition conds[] = {Condition::price_above,   Condition::price_below,  Condition::crosses_above,
                             Condition::crosses_below, Condition::spread_above, Condition::volume_above};
  for (int i = 0; i < kRules; ++i) {
    Rule r;
    r.id = "rule-" + std::to_string(i);
    r.symbol = symbol(i % kSymbols);
    r.condition = conds[i % 6];
    r.threshold = r.condition == Condition::spread_above   ? 0.5
                  : r.condition == Condition::volume_above ? 1000
                                                           : 100 + i % 50;
    r.severity = Severity::warning;
    r.cooldown_seconds = 60;
    rules.push_back(std::move(r));
  }
  return RuleSet(std::move(rules));
}

void BM_ParseEvent25(benchmark::State& state) {
  const std::string event = make_event(1);
  for (auto _ : state) {
    auto ev = parse_sqs_event(event);
    benchmark::DoNotOptimize(ev);
  }
  state.counters["per_record"] =
      benchmark::Counter(25, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_ParseEvent25);

void BM_ParseTickBodies25(benchmark::State& state) {
  auto ev = parse_sqs_event(make_event(1));
  for (auto _ : state) {
    for (const auto& rec : ev->records) {
      auto ticks = parse_ticks(rec.body, kJsonPadding);
      benchmark::DoNotOptimize(ticks);
    }
  }
  state.counters["per_tick"] =
      benchmark::Counter(25, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_ParseTickBodies25);

// The valid ticks of an event (invalid bodies skipped), with the record each came from.
std::vector<Tick> event_ticks(std::string_view event, std::vector<std::size_t>& owner) {
  auto ev = parse_sqs_event(event);
  std::vector<Tick> ticks;
  for (std::size_t m = 0; m < ev->records.size(); ++m) {
    auto body = parse_ticks(ev->records[m].body, kJsonPadding);  // kept alive while its ticks are moved
    if (!body) continue;
    for (auto& t : body->ticks) {
      ticks.push_back(std::move(t));
      owner.push_back(m);
    }
  }
  return ticks;
}

struct SymbolHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using SymbolStates = std::unordered_map<std::string, SymbolState, SymbolHash, std::equal_to<>>;

// The ticks grouped by symbol in first-seen order, delivery order within (as the handler groups them).
struct SymbolGroup {
  std::string_view symbol;
  std::vector<SymbolTick> ticks;
};
std::vector<SymbolGroup> group_by_symbol(const std::vector<Tick>& ticks,
                                         const std::vector<std::size_t>& owner) {
  std::vector<SymbolGroup> groups;
  std::unordered_map<std::string_view, std::size_t> group_of;
  for (std::size_t i = 0; i < ticks.size(); ++i) {
    const auto [it, added] = group_of.try_emplace(ticks[i].symbol, groups.size());
    if (added) groups.push_back({ticks[i].symbol, {}});
    groups[it->second].ticks.push_back({&ticks[i], owner[i]});
  }
  return groups;
}

// Plans every symbol of the batch on its state in `states` (absent: a new symbol). Returns the fires.
std::size_t plan_symbols(const RuleIndex& index, const std::vector<Tick>& ticks,
                         const std::vector<std::size_t>& owner, const SymbolStates& states) {
  static const SymbolState kAbsent;
  std::size_t fires = 0;
  for (const SymbolGroup& g : group_by_symbol(ticks, owner)) {
    const auto it = states.find(g.symbol);
    const SymbolPlan plan = plan_symbol(index, g.symbol, it == states.end() ? kAbsent : it->second, g.ticks,
                                        SymbolControls{}, OnceMarkers{}, EngineLimits{});
    fires += plan.fires.size();
  }
  return fires;
}

// The states a previous batch committed (what the handler reads before planning the next one), its fires
// noted in the index as the handler notes them.
SymbolStates committed(RuleIndex& index, const std::vector<Tick>& ticks) {
  const std::vector<std::size_t> owner(ticks.size());
  SymbolStates states;
  for (const SymbolGroup& g : group_by_symbol(ticks, owner)) {
    const SymbolPlan plan =
        plan_symbol(index, g.symbol, SymbolState{}, g.ticks, SymbolControls{}, OnceMarkers{}, EngineLimits{});
    for (const NewFire& f : plan.fires) index.note_fire(f.rule_index, g.symbol, f.at.pos.ts_micros);
    states[std::string(g.symbol)] = plan.next;
  }
  return states;
}

// The whole pure path of one invocation: event -> valid ticks -> plans. Returns the fires planned.
std::size_t pure_path(const RuleIndex& index, std::string_view event, const SymbolStates& states) {
  std::vector<std::size_t> owner;
  const std::vector<Tick> ticks = event_ticks(event, owner);
  return plan_symbols(index, ticks, owner, states);
}

void per_tick(benchmark::State& state, std::size_t tick_count) {
  state.counters["per_tick"] =
      benchmark::Counter(static_cast<double>(tick_count),
                         benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

// The plan alone (ticks parsed), 1,000 rules, on the states the previous batch committed.
void BM_EvaluateBatch1000Rules(benchmark::State& state) {
  const RuleSet rules = make_rules();
  RuleIndex index(rules);
  std::vector<std::size_t> warm_owner, owner;
  const std::vector<Tick> warm = event_ticks(make_event(0), warm_owner);
  const SymbolStates states = committed(index, warm);
  const std::vector<Tick> ticks = event_ticks(make_event(1), owner);
  for (auto _ : state) {
    auto fires = plan_symbols(index, ticks, owner, states);
    benchmark::DoNotOptimize(fires);
  }
  per_tick(state, ticks.size());
}
BENCHMARK(BM_EvaluateBatch1000Rules);

// The pure path per tick on a synthetic event (1,000 rules, the previous batch's states committed).
void BM_ParseValidateEvaluate(benchmark::State& state) {
  const RuleSet rules = make_rules();
  RuleIndex index(rules);
  std::vector<std::size_t> warm_owner;
  const SymbolStates states = committed(index, event_ticks(make_event(0), warm_owner));
  const std::string event = make_event(1);
  for (auto _ : state) {
    auto fires = pure_path(index, event, states);
    benchmark::DoNotOptimize(fires);
  }
  per_tick(state, 25);
}
BENCHMARK(BM_ParseValidateEvaluate);

void BM_AlertRecords(benchmark::State& state) {
  const RuleSet rules = make_rules();
  std::vector<std::size_t> owner;
  const std::vector<Tick> ticks = event_ticks(make_event(1), owner);
  const Alert alert{&rules.rule(2), &ticks[0], "059f36b4-87a3-44ab-83d2-661975830a7d"};
  for (auto _ : state) {
    auto item = alert_item({alert, ticks[0].ts.micros + 1000}, "01JD0000000000000000000000");
    auto note = sns_notification(alert, ticks[0].ts.micros + 2000);
    benchmark::DoNotOptimize(item);
    benchmark::DoNotOptimize(note);
  }
  state.counters["per_alert"] =
      benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_AlertRecords);

// ---- the same pure path on files ----
// TAP_BENCH_EVENT is a Lambda SQS event, TAP_BENCH_RULES a rules document. "per_tick" divides by the ticks
// the event actually holds; "peak_rss_kb" is the process's peak resident set (getrusage) after the run.
//  - BM_ParseValidateEvaluateFile: no stored state (as the Python side; bench/run.py compares the two).
//  - BM_PurePathFile: on the states a warm-up committed -- the event's own ticks moved back by the event's
//    time span + 1 s, planned and committed, their fires noted -- so the measured batch continues the feed.
//  - BM_PlanFile: the plan alone on the same states, ticks already parsed.
std::string read_file(const char* path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<Tick> warm_up_ticks(std::string_view event) {
  std::vector<std::size_t> owner;
  std::vector<Tick> ticks = event_ticks(event, owner);
  const auto [lo, hi] = std::minmax_element(
      ticks.begin(), ticks.end(), [](const Tick& a, const Tick& b) { return a.ts.micros < b.ts.micros; });
  const std::int64_t shift = ticks.empty() ? 0 : hi->ts.micros - lo->ts.micros + kMicrosPerSecond;
  for (Tick& t : ticks) t.ts.micros -= shift;
  return ticks;
}

void file_counters(benchmark::State& state, std::size_t tick_count, std::size_t fires) {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  state.counters["ticks"] = static_cast<double>(tick_count);
  state.counters["fires"] = static_cast<double>(fires);
  state.counters["peak_rss_kb"] = static_cast<double>(u.ru_maxrss);  // Linux: kilobytes
  per_tick(state, tick_count);
}

bool register_file_benchmarks() {
  const char* event_path = std::getenv("TAP_BENCH_EVENT");
  const char* rules_path = std::getenv("TAP_BENCH_RULES");
  if (event_path == nullptr || rules_path == nullptr) return true;
  auto rules = load_rules(read_file(rules_path));
  const std::string event = read_file(event_path);
  auto probe = parse_sqs_event(event);
  if (!rules || !probe) {
    std::fprintf(stderr, "TAP_BENCH_EVENT / TAP_BENCH_RULES: %s\n",
                 (!rules ? rules.error() : probe.error()).message.c_str());
    return false;
  }
  std::vector<std::size_t> probe_owner;
  const std::size_t tick_count = event_ticks(event, probe_owner).size();
  static const RuleSet rule_set = std::move(rules).value();
  // The pure path on absent state (warm: false) or on the states a warm-up committed (warm: true).
  const auto pure_path_on = [&event, tick_count](bool warm) {
    return [event, tick_count, warm](benchmark::State& state) {
      RuleIndex index(rule_set);
      const SymbolStates states = warm ? committed(index, warm_up_ticks(event)) : SymbolStates{};
      std::size_t fires = 0;
      for (auto _ : state) {
        fires = pure_path(index, event, states);
        benchmark::DoNotOptimize(fires);
      }
      file_counters(state, tick_count, fires);
    };
  };
  benchmark::RegisterBenchmark("BM_ParseValidateEvaluateFile", pure_path_on(false));
  benchmark::RegisterBenchmark("BM_PurePathFile", pure_path_on(true));
  // The stages of BM_ParseValidateEvaluateFile one by one (their sum is about the whole: a profile by
  // stage): the event's envelope, its bodies' ticks, the plans on absent state.
  benchmark::RegisterBenchmark("BM_ParseEventFile", [event, tick_count](benchmark::State& state) {
    for (auto _ : state) {
      auto ev = parse_sqs_event(event);
      benchmark::DoNotOptimize(ev);
    }
    file_counters(state, tick_count, 0);
  });
  benchmark::RegisterBenchmark("BM_ParseTicksFile", [event, tick_count](benchmark::State& state) {
    const auto ev = parse_sqs_event(event);
    for (auto _ : state) {
      for (const SqsRecord& r : ev->records) {
        auto ticks = parse_record_ticks(r);
        benchmark::DoNotOptimize(ticks);
      }
    }
    file_counters(state, tick_count, 0);
  });
  benchmark::RegisterBenchmark("BM_PlanAbsentFile", [event, tick_count](benchmark::State& state) {
    const RuleIndex index(rule_set);
    std::vector<std::size_t> owner;
    const std::vector<Tick> ticks = event_ticks(event, owner);
    std::size_t fires = 0;
    for (auto _ : state) {
      fires = plan_symbols(index, ticks, owner, SymbolStates{});
      benchmark::DoNotOptimize(fires);
    }
    file_counters(state, tick_count, fires);
  });
  benchmark::RegisterBenchmark("BM_PlanFile", [event, tick_count](benchmark::State& state) {
    RuleIndex index(rule_set);
    const SymbolStates states = committed(index, warm_up_ticks(event));
    std::vector<std::size_t> owner;
    const std::vector<Tick> ticks = event_ticks(event, owner);
    std::size_t fires = 0;
    for (auto _ : state) {
      fires = plan_symbols(index, ticks, owner, states);
      benchmark::DoNotOptimize(fires);
    }
    file_counters(state, tick_count, fires);
  });
  return true;
}

}  // namespace
}  // namespace tap

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (!tap::register_file_benchmarks()) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
