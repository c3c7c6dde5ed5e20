// rules_scale (issue 14, R5): the pure path of one quiet event (parse, validate, index lookups, plan_symbol)
// with 10, 10,000 and 1,000,000 rule versions,
// the rule index's build time per version and the resident bytes per version, and (R4 refresh) the index's
// incremental update with 1 .. 1,000 changed versions at 100,000 and 1,000,000 against its full build
// (make bench-rules; bench/run.py and bench/rules_scale.py collect the figures).
//
// Rule sets: 10,000 symbols; the hot symbol "HOT" carries a tenth of the versions (all of them at 10), one
// version in 1,000 is a "*" version, the rest spread over the other symbols. Conditions and modes are mixed,
// thresholds lie around the price (100): 60 % of each level kind hold at the quiet ticks, no threshold lies
// within the quiet ticks' price band (so nothing is crossed) and every holding version of HOT (and every
// holding "*" version) has a noted fire 2 minutes before the event (beyond the reorder window, so no longer
// in the symbol's state) that still suppresses it (cooldown >= 10 min, the same bar, or once).
// The quiet event: 25 SQS records of one HOT tick each, as the feed sends them; HOT's state holds the tick
// applied 1 s before.
//
// Memory is counted two ways (both reported): live heap bytes through this binary's operator new/delete, and
// the process's resident set (/proc/self/statm) before and after building the versions, the RuleSet and the
// index.
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <new>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "tap/core/conditions.hpp"
#include "tap/core/json_text.hpp"
#include "tap/core/rule_index.hpp"
#include "tap/core/rules.hpp"
#include "tap/core/sqs_event.hpp"
#include "tap/core/symbol_engine.hpp"
#include "tap/core/symbol_state.hpp"
#include "tap/core/tick.hpp"

// ---- counted heap: live bytes of every allocation made through operator new ----
namespace {
std::atomic<std::int64_t> g_live_bytes{0};
void* counted_alloc(std::size_t n) {
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  g_live_bytes.fetch_add(static_cast<std::int64_t>(malloc_usable_size(p)), std::memory_order_relaxed);
  return p;
}
void counted_free(void* p) noexcept {
  if (p == nullptr) return;
  g_live_bytes.fetch_sub(static_cast<std::int64_t>(malloc_usable_size(p)), std::memory_order_relaxed);
  std::free(p);
}
}  // namespace

void* operator new(std::size_t n) { return counted_alloc(n); }
void* operator new[](std::size_t n) { return counted_alloc(n); }
void operator delete(void* p) noexcept { counted_free(p); }
void operator delete[](void* p) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t) noexcept { counted_free(p); }

namespace tap {
namespace {

constexpr int kSymbols = 10000;
constexpr int kEventTicks = 25;
constexpr double kPrice = 100;  // every symbol's price; the quiet ticks lie within kPrice +- 0.05
constexpr double kSpread = 0.1;
constexpr std::uint64_t kVolume = 1000;
constexpr double kHoldShare = 0.6;
constexpr std::int64_t kEventStart = 1795617120500000LL;  // 2026-11-25T14:32:00.500Z
constexpr std::int64_t kFireAt =
    kEventStart - 120'000'000 - 1;  // 14:30:00.499 999: the same 5, 15, 60 min bar

std::int64_t resident_bytes() {
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return static_cast<std::int64_t>(resident) * sysconf(_SC_PAGESIZE);
}

// A threshold for `c` that holds at the quiet ticks with probability kHoldShare and never lies inside the
// quiet band (no crossing, no boundary).
double threshold(Condition c, std::mt19937& rng) {
  std::uniform_real_distribution<double> u(0, 1);
  const bool hold = u(rng) < kHoldShare;
  const double x = u(rng);
  switch (c) {
    case Condition::price_above:  // holds when below the price
      return hold ? 40 + x * 59.9 : 100.1 + x * 40;
    case Condition::price_below:
      return hold ? 100.1 + x * 40 : 40 + x * 59.9;
    case Condition::spread_above:
      return hold ? x * 0.09 : 0.11 + x * 0.2;
    case Condition::volume_above:
      return hold ? x * 990 : 1010 + x * 2000;
    case Condition::crosses_above:
    case Condition::crosses_below:
      break;
  }
  return hold ? 40 + x * 59.9 : 100.1 + x * 60;
}

std::vector<Rule> make_versions(int n) {
  std::mt19937 rng(20261125);
  const int hot = n <= 10 ? n : n / 10;
  std::vector<Rule> out;
  out.reserve(static_cast<std::size_t>(n));
  constexpr Condition kMix[] = {Condition::price_above,  Condition::price_below,   Condition::price_above,
                                Condition::price_below,  Condition::crosses_above, Condition::crosses_below,
                                Condition::spread_above, Condition::volume_above,  Condition::price_above,
                                Condition::price_below};
  for (int i = 0; i < n; ++i) {
    Rule r;
    r.id = "r" + std::to_string(i);
    r.owner = "t" + std::to_string(i % 5000);
    r.symbol = i < hot ? "HOT" : i % 1000 == 999 ? "*" : "S" + std::to_string(1 + i % (kSymbols - 1));
    r.condition = kMix[rng() % 10];
    r.threshold = threshold(r.condition, rng);
    r.severity = Severity::warning;
    r.mode = static_cast<TriggerMode>(rng() % 3);
    r.cooldown_seconds = 600 + static_cast<std::int64_t>(rng() % 3000);
    r.bar_seconds = rng() % 2 ? 300 : 3600;
    out.push_back(std::move(r));
  }
  return out;
}

Tick quiet_tick(int i) {
  Tick t;
  t.symbol = "HOT";
  t.price = kPrice + 0.01 * (i % 5) - 0.02;
  t.ts = {kEventStart + i * 1000};
  t.volume = kVolume;
  t.bid = t.price - kSpread / 2;
  t.ask = t.price + kSpread / 2;
  return t;
}

std::string quiet_event() {
  std::string e = R"({"Records":[)";
  for (int i = 0; i < kEventTicks; ++i) {
    const Tick t = quiet_tick(i);
    char body[256];
    std::snprintf(body, sizeof body,
                  R"({"symbol":"HOT","price":%.2f,"timestamp":"2026-11-25T14:32:00.%03dZ","volume":%llu,)"
                  R"("bid":%.2f,"ask":%.2f})",
                  t.price, 500 + i, static_cast<unsigned long long>(kVolume), *t.bid, *t.ask);
    std::string escaped;
    json::append_string(escaped, body);
    if (i) e += ',';
    e +=
        R"({"messageId":"m-)" + std::to_string(i) + R"(","receiptHandle":"h","body":)" + escaped +
        R"(,"attributes":{"ApproximateReceiveCount":"1","SentTimestamp":"1795617000600"},)"
        R"("messageAttributes":{},"md5OfBody":"x","eventSource":"aws:sqs",)"
        R"("eventSourceARN":"arn:aws:sqs:us-east-1:123456789012:market-data-queue-dev","awsRegion":"us-east-1"})";
  }
  return e + "]}";
}

struct Fixture {
  std::unique_ptr<RuleSet> rules;
  std::unique_ptr<RuleIndex> index;
  double heap_bytes_per_version = 0;        // versions + RuleSet + index, counted heap
  double index_heap_bytes_per_version = 0;  // the index alone, counted heap
  double rss_bytes_per_version = 0;         // versions + RuleSet + index, resident set delta
  double eligibility_bytes_per_fire = 0;    // the trees the noted fires created, counted heap
  double hot_level_versions = 0;
  double held_suppressed_share = 0;  // of HOT's level versions: hold at the quiet ticks and are suppressed
};

const Fixture& fixture(int n) {
  static std::map<int, std::unique_ptr<Fixture>> built;
  auto& slot = built[n];
  if (slot) return *slot;
  slot = std::make_unique<Fixture>();
  Fixture& f = *slot;
  const std::int64_t heap0 = g_live_bytes.load(), rss0 = resident_bytes();
  f.rules = std::make_unique<RuleSet>(make_versions(n));
  const std::int64_t heap1 = g_live_bytes.load();
  auto index = std::make_unique<RuleIndex>(*f.rules);
  const std::int64_t heap2 = g_live_bytes.load(), rss2 = resident_bytes();
  f.heap_bytes_per_version = static_cast<double>(heap2 - heap0) / n;
  f.index_heap_bytes_per_version = static_cast<double>(heap2 - heap1) / n;
  f.rss_bytes_per_version = static_cast<double>(rss2 - rss0) / n;
  // Note a fire for every version that holds at the quiet ticks on HOT (HOT's and the "*" ones).
  std::size_t noted = 0, hot_holding = 0, hot_level = 0;
  for (std::size_t i = 0; i < f.rules->rules().size(); ++i) {
    const Rule& r = f.rules->rule(i);
    if (is_crossing(r.condition) || (r.symbol != "HOT" && r.symbol != "*")) continue;
    const bool holds = [&] {
      for (int t = 0; t < kEventTicks; ++t) {
        if (!condition_holds(r, quiet_tick(t))) return false;
      }
      return true;
    }();
    if (r.symbol == "HOT") {
      ++hot_level;
      hot_holding += holds ? 1 : 0;
    }
    if (!holds) continue;
    index->note_fire(i, "HOT", kFireAt);
    ++noted;
  }
  f.eligibility_bytes_per_fire =
      noted ? static_cast<double>(g_live_bytes.load() - heap2) / static_cast<double>(noted) : 0;
  f.hot_level_versions = static_cast<double>(hot_level);
  f.held_suppressed_share = hot_level ? static_cast<double>(hot_holding) / static_cast<double>(hot_level) : 0;
  f.index = std::move(index);
  return f;
}

// HOT's state before the event: the tick applied 1 s before it.
SymbolState hot_state() {
  SymbolState s;
  s.exists = true;
  s.revision = 7;
  s.ticks.push_back({{kEventStart - 1'000'000, 0}, kPrice});
  return s;
}

// The pure path of one invocation: event -> valid ticks -> per symbol, plan_symbol (which asks the index
// for the versions each tick can fire). Returns the fires planned (0 on the quiet event).
std::size_t pure_path(const RuleIndex& index, std::string_view event, const SymbolState& state) {
  auto ev = parse_sqs_event(event);
  std::vector<Tick> ticks;
  std::vector<std::size_t> message;
  for (std::size_t m = 0; m < ev->records.size(); ++m) {
    auto body = parse_ticks(ev->records[m].body, kJsonPadding);
    if (!body) continue;
    for (Tick& t : body->ticks) {
      ticks.push_back(std::move(t));
      message.push_back(m);
    }
  }
  std::vector<SymbolTick> hot;  // the event holds HOT's ticks only
  for (std::size_t i = 0; i < ticks.size(); ++i) hot.push_back({&ticks[i], message[i]});
  const SymbolPlan plan =
      plan_symbol(index, "HOT", state, hot, SymbolControls{}, OnceMarkers{}, EngineLimits{});
  return plan.fires.size();
}

void BM_QuietTick(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const Fixture& f = fixture(n);
  const std::string event = quiet_event();
  const SymbolState before = hot_state();
  std::size_t returned = 0;
  for (auto _ : state) {
    returned = pure_path(*f.index, event, before);
    benchmark::DoNotOptimize(returned);
  }
  state.counters["versions"] = n;
  state.counters["ticks"] = kEventTicks;
  state.counters["fires_per_event"] = static_cast<double>(returned);
  state.counters["per_tick"] = benchmark::Counter(
      kEventTicks, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.counters["hot_level_versions"] = f.hot_level_versions;
  state.counters["held_suppressed_share"] = f.held_suppressed_share;
  state.counters["heap_bytes_per_version"] = f.heap_bytes_per_version;
  state.counters["index_heap_bytes_per_version"] = f.index_heap_bytes_per_version;
  state.counters["rss_bytes_per_version"] = f.rss_bytes_per_version;
  state.counters["eligibility_bytes_per_fire"] = f.eligibility_bytes_per_fire;
  state.counters["sizeof_rule"] = sizeof(Rule);
}
BENCHMARK(BM_QuietTick)->Arg(10)->Arg(10000)->Arg(1000000)->Repetitions(3)->ReportAggregatesOnly(true);

// The index lookups alone on the same ticks (already parsed): what of the pure path grows with the versions.
void BM_QuietLookup(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const Fixture& f = fixture(n);
  std::vector<Tick> ticks;
  for (int i = 0; i < kEventTicks; ++i) ticks.push_back(quiet_tick(i));
  std::size_t returned = 0;
  const auto count = [&](std::size_t) { ++returned; };
  for (auto _ : state) {
    double previous = kPrice;
    for (const Tick& t : ticks) {
      f.index->for_each_level(t.symbol, t, count);
      f.index->for_each_crossed(t.symbol, previous, t.price, t.ts.micros, count);
      previous = t.price;
    }
    benchmark::DoNotOptimize(returned);
  }
  state.counters["returned"] = static_cast<double>(returned);
  state.counters["per_tick"] = benchmark::Counter(
      kEventTicks, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_QuietLookup)->Arg(10)->Arg(10000)->Arg(1000000);

void BM_IndexBuild(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const Fixture& f = fixture(n);
  for (auto _ : state) {
    RuleIndex index(*f.rules);
    benchmark::DoNotOptimize(index);
  }
  state.counters["versions"] = n;
  state.counters["per_version"] =
      benchmark::Counter(n, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_IndexBuild)->Arg(10)->Arg(10000)->Arg(100000)->Arg(1000000)->Unit(benchmark::kMillisecond);

// R4 refresh: RuleIndex::update with k changed versions at n, against BM_IndexBuild at the same n (same run).
// The set is make_versions(n) with fixture()'s fires noted (HOT's and "*"'s holding versions); per case, k
// distinct versions drawn at random among the ordinary symbols' (hot = 0), or the same with one of them
// HOT's instead (hot = 1: HOT holds a tenth of the versions, its lists ~n/30 each, most with noted fires,
// so that change pays for HOT's fan-out), and a replacement of each (the same rule, its threshold moved by
// 1 %) appended to the RuleSet. An iteration is one refresh that brings k changed versions: it removes the k
// indexed ones and adds their k replacements; the next iteration swaps them back.
struct UpdateFixture {
  RuleSet rules;
  std::unique_ptr<RuleIndex> index;
  std::map<int, std::pair<std::vector<std::uint32_t>, std::vector<std::uint32_t>>> changes;  // by k
};

UpdateFixture& update_fixture(int n) {
  static std::map<int, std::unique_ptr<UpdateFixture>> built;
  auto& slot = built[n];
  if (slot) return *slot;
  slot = std::make_unique<UpdateFixture>();
  UpdateFixture& f = *slot;
  f.rules = RuleSet(make_versions(n));
  f.index = std::make_unique<RuleIndex>(f.rules);
  for (std::size_t i = 0; i < f.rules.rules().size(); ++i) {
    const Rule& r = f.rules.rule(i);
    if (is_crossing(r.condition) || (r.symbol != "HOT" && r.symbol != "*")) continue;
    f.index->note_fire(i, "HOT", kFireAt);
  }
  return f;
}

void BM_IndexUpdate(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0)), k = static_cast<int>(state.range(1));
  const bool hot = state.range(2) != 0;
  UpdateFixture& f = update_fixture(n);
  auto& [current, other] = f.changes[hot ? -k : k];
  if (current.empty()) {
    std::mt19937 rng(static_cast<unsigned>(k));
    const int hot_versions = n / 10;  // make_versions: the first tenth are HOT's
    std::set<std::uint32_t> drawn;
    if (hot) drawn.insert(static_cast<std::uint32_t>(rng() % hot_versions));
    while (static_cast<int>(drawn.size()) < k) {
      const auto i = static_cast<std::uint32_t>(hot_versions + rng() % (n - hot_versions));
      if (f.rules.rule(i).symbol != "*") drawn.insert(i);
    }
    for (const std::uint32_t i : drawn) {
      Rule moved = f.rules.rule(i);
      moved.threshold *= 1.01;
      current.push_back(i);
      other.push_back(f.rules.append(std::move(moved)));
    }
  }
  for (auto _ : state) {
    f.index->update(current, other);
    std::swap(current, other);
  }
  state.counters["versions"] = n;
  state.counters["changed"] = k;
  state.counters["hot"] = hot ? 1 : 0;
}
BENCHMARK(BM_IndexUpdate)
    ->ArgsProduct({{100000, 1000000}, {1, 10, 100, 1000}, {0, 1}})
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace tap

BENCHMARK_MAIN();
