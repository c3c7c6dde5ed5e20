// The hand-computed event-time scenario (tests/data/event_time_golden.json, each alert explained there):
// plan_symbol batch after batch, each plan on the state the previous one committed, must store exactly
// `expected`; the same ticks delivered one by one in position order must store exactly `replay`.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "engine_driver.hpp"
#include "tap/core/timestamp.hpp"

namespace tap {
namespace {

using testing::EngineDriver;
using testing::StoredAlert;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Reading helpers: a malformed file fails the test with the field's name.
struct Reader {
  std::string problem;
  simdjson::dom::element at(simdjson::dom::element e, const char* key) {
    simdjson::dom::element v;
    if (e[key].get(v) != simdjson::SUCCESS && problem.empty()) problem = std::string("missing ") + key;
    return v;
  }
  std::string str(simdjson::dom::element e, const char* key) {
    std::string_view s;
    if (at(e, key).get_string().get(s) != simdjson::SUCCESS && problem.empty()) problem = key;
    return std::string(s);
  }
  double num(simdjson::dom::element e, const char* key) {
    double d = 0;
    if (at(e, key).get_double().get(d) != simdjson::SUCCESS && problem.empty()) problem = key;
    return d;
  }
  simdjson::dom::array array(simdjson::dom::element e) {
    simdjson::dom::array a;
    if (e.get_array().get(a) != simdjson::SUCCESS && problem.empty()) problem = "not an array";
    return a;
  }
  simdjson::dom::object object(simdjson::dom::element e) {
    simdjson::dom::object o;
    if (e.get_object().get(o) != simdjson::SUCCESS && problem.empty()) problem = "not an object";
    return o;
  }
  std::int64_t ts(simdjson::dom::element v, std::int64_t if_null) {
    if (v.is_null()) return if_null;
    std::string_view s;
    if (v.get_string().get(s) != simdjson::SUCCESS) return problem = "timestamp", if_null;
    const auto t = parse_timestamp(s);
    if (!t) return problem = std::string(s), if_null;
    return t->micros;
  }
};

Condition condition_of(std::string_view s) {
  for (Condition c : {Condition::price_above, Condition::price_below, Condition::crosses_above,
                      Condition::crosses_below, Condition::spread_above, Condition::volume_above}) {
    if (to_string(c) == s) return c;
  }
  ADD_FAILURE() << "unknown condition " << s;
  return Condition::price_above;
}
TriggerMode mode_of(std::string_view s) {
  for (TriggerMode m : {TriggerMode::once, TriggerMode::every, TriggerMode::once_per_bar}) {
    if (to_string(m) == s) return m;
  }
  ADD_FAILURE() << "unknown mode " << s;
  return TriggerMode::every;
}

std::set<StoredAlert> alerts_of(Reader& rd, simdjson::dom::element list) {
  std::set<StoredAlert> out;
  for (simdjson::dom::element a : rd.array(list)) {
    out.insert({rd.str(a, "symbol"),
                {rd.ts(rd.at(a, "tick"), 0), static_cast<std::uint64_t>(rd.num(a, "seq"))},
                rd.str(a, "rule"),
                static_cast<std::uint32_t>(rd.num(a, "version"))});
  }
  return out;
}

std::string show(const std::set<StoredAlert>& alerts) {
  std::string s;
  for (const StoredAlert& a : alerts) {
    s += a.symbol + " " + format_timestamp(a.pos.ts_micros) + " seq " + std::to_string(a.pos.seq) + " " +
         a.rule_id + " v" + std::to_string(a.version) + "\n";
  }
  return s;
}

TEST(EventTimeGolden, StoredAlertsAreTheHandComputedOnesAndInOrderDeliveryIsTheReplay) {
  const std::string text = slurp(std::string(TAP_TEST_DATA_DIR) + "/event_time_golden.json");
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(text).get(doc), simdjson::SUCCESS);
  Reader rd;

  EngineLimits limits;
  const auto lim = rd.at(doc, "limits");
  limits.reorder_window_micros =
      static_cast<std::int64_t>(rd.num(lim, "reorder_window_seconds")) * kMicrosPerSecond;
  limits.max_held_ticks = static_cast<std::size_t>(rd.num(lim, "max_held_ticks"));

  std::vector<Rule> versions;
  for (simdjson::dom::element v : rd.array(rd.at(doc, "versions"))) {
    Rule r;
    r.id = rd.str(v, "id");
    r.version = static_cast<std::uint32_t>(rd.num(v, "version"));
    r.symbol = rd.str(v, "symbol");
    r.condition = condition_of(rd.str(v, "condition"));
    r.threshold = rd.num(v, "threshold");
    r.mode = mode_of(rd.str(v, "mode"));
    r.cooldown_seconds = static_cast<std::int64_t>(rd.num(v, "cooldown_seconds"));
    r.bar_seconds = static_cast<std::int64_t>(rd.num(v, "bar_seconds"));
    r.arming = static_cast<std::uint32_t>(rd.num(v, "arming"));
    r.window = {rd.ts(rd.at(v, "from"), EffectiveWindow::kOpenStart),
                rd.ts(rd.at(v, "until"), EffectiveWindow::kOpenEnd)};
    if (const auto e = rd.at(v, "expires_at"); !e.is_null()) r.expires_at_micros = rd.ts(e, 0);
    versions.push_back(std::move(r));
  }

  std::map<std::string, SymbolControls> controls;
  for (auto [symbol, c] : rd.object(rd.at(doc, "controls"))) {
    SymbolControls& sc = controls[std::string(symbol)];
    simdjson::dom::array list;
    if (c["suspensions"].get_array().get(list) == simdjson::SUCCESS) {
      for (simdjson::dom::element w : list) {
        sc.suspensions.push_back({rd.ts(rd.at(w, "from"), EffectiveWindow::kOpenStart),
                                  rd.ts(rd.at(w, "until"), EffectiveWindow::kOpenEnd)});
      }
    }
    if (c["bands"].get_array().get(list) == simdjson::SUCCESS) {
      for (simdjson::dom::element b : list) {
        sc.bands.push_back({{rd.ts(rd.at(b, "from"), EffectiveWindow::kOpenStart),
                             rd.ts(rd.at(b, "until"), EffectiveWindow::kOpenEnd)},
                            rd.num(b, "low"),
                            rd.num(b, "high")});
      }
    }
  }

  std::vector<std::vector<Tick>> batches;
  for (simdjson::dom::element b : rd.array(rd.at(doc, "batches"))) {
    std::vector<Tick>& batch = batches.emplace_back();
    for (simdjson::dom::element t : rd.array(b)) {
      Tick& tick = batch.emplace_back(testing::tick_at(rd.str(t, "symbol"), rd.num(t, "price"),
                                                       rd.ts(rd.at(t, "timestamp"), 0),
                                                       static_cast<std::uint64_t>(rd.num(t, "seq"))));
      // Optional fields, for the level conditions that read them.
      double d = 0;
      if (t["volume"].get_double().get(d) == simdjson::SUCCESS) tick.volume = static_cast<std::uint64_t>(d);
      if (t["bid"].get_double().get(d) == simdjson::SUCCESS) tick.bid = d;
      if (t["ask"].get_double().get(d) == simdjson::SUCCESS) tick.ask = d;
    }
  }
  const std::set<StoredAlert> expected = alerts_of(rd, rd.at(doc, "expected"));
  const std::set<StoredAlert> replay = alerts_of(rd, rd.at(doc, "replay"));
  ASSERT_EQ(rd.problem, "") << "malformed golden file";
  ASSERT_FALSE(expected.empty());

  EngineDriver delivered(versions, limits);
  delivered.controls = controls;
  for (const auto& batch : batches) delivered.deliver(batch);
  EXPECT_EQ(delivered.stored(), expected) << "stored:\n"
                                          << show(delivered.stored()) << "expected:\n"
                                          << show(expected);

  std::vector<Tick> in_order;
  for (const auto& batch : batches) in_order.insert(in_order.end(), batch.begin(), batch.end());
  std::stable_sort(in_order.begin(), in_order.end(), [](const Tick& a, const Tick& b) {
    return std::pair(a.ts.micros, a.seq) < std::pair(b.ts.micros, b.seq);
  });
  EngineDriver one_by_one(versions, limits);
  one_by_one.controls = controls;
  for (const Tick& t : in_order) one_by_one.deliver({t});
  EXPECT_EQ(one_by_one.stored(), replay) << "stored:\n"
                                         << show(one_by_one.stored()) << "replay:\n"
                                         << show(replay);
  EXPECT_EQ(one_by_one.mode_choices, 0u);
}

}  // namespace
}  // namespace tap
