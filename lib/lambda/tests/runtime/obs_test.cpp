#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <cstdio>
#include <limits>

#include "tap/runtime/log.hpp"
#include "tap/runtime/metrics.hpp"

namespace tap::obs {
namespace {

using namespace std::chrono_literals;

// 2026-11-25T14:30:00.123Z
const auto kNow = std::chrono::system_clock::time_point(std::chrono::milliseconds(1795617000123));

simdjson::dom::element parse(simdjson::dom::parser& parser, const std::string& line) {
  simdjson::dom::element e;
  EXPECT_EQ(parser.parse(line).get(e), simdjson::SUCCESS) << line;
  return e;
}

std::string str(simdjson::dom::element e, std::string_view key) {
  std::string_view v;
  EXPECT_EQ(e[key].get_string().get(v), simdjson::SUCCESS) << key;
  return std::string(v);
}

TEST(LogLine, CarriesFixedAndFreeFieldsAsValidJson) {
  LogEvent ev{
      .level = Level::kWarn,
      .message = "tick rejected: \"price\" <= 0\n",
      .message_id = "059f36b4-87a3-44ab-83d2-661975830a7d",
      .symbol = "AAPL",
      .rule = "aapl-above-190",
      .reason = "invalid_price",
      .fields = {
          {"ticks", std::int64_t{3}}, {"latency_ms", 1.5}, {"late", true}, {"note", std::string("x\ty")}}};
  const std::string line = format_log_line(ev, "req-1", kNow);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  simdjson::dom::parser parser;
  const auto e = parse(parser, line);
  EXPECT_EQ(str(e, "timestamp"), "2026-11-25T14:30:00.123Z");
  EXPECT_EQ(str(e, "level"), "WARN");
  EXPECT_EQ(str(e, "requestId"), "req-1");
  EXPECT_EQ(str(e, "messageId"), "059f36b4-87a3-44ab-83d2-661975830a7d");
  EXPECT_EQ(str(e, "symbol"), "AAPL");
  EXPECT_EQ(str(e, "rule"), "aapl-above-190");
  EXPECT_EQ(str(e, "reason"), "invalid_price");
  EXPECT_EQ(str(e, "message"), "tick rejected: \"price\" <= 0\n");
  EXPECT_EQ(str(e, "note"), "x\ty");
  int64_t ticks = 0;
  EXPECT_EQ(e["ticks"].get_int64().get(ticks), simdjson::SUCCESS);
  EXPECT_EQ(ticks, 3);
  double latency = 0;
  EXPECT_EQ(e["latency_ms"].get_double().get(latency), simdjson::SUCCESS);
  EXPECT_EQ(latency, 1.5);
  bool late = false;
  EXPECT_EQ(e["late"].get_bool().get(late), simdjson::SUCCESS);
  EXPECT_TRUE(late);
}

TEST(LogLine, LeavesOutEmptyOptionalKeysAndNeverDuplicatesFixedOnes) {
  LogEvent ev{.level = Level::kDebug, .message = "m", .fields = {{"level", std::string("spoofed")}}};
  const std::string line = format_log_line(ev, "", kNow);
  EXPECT_EQ(
      line,
      R"({"timestamp":"2026-11-25T14:30:00.123Z","level":"DEBUG","message":"m","field_level":"spoofed"})");
  EXPECT_EQ(level_name(Level::kInfo), "INFO");
  EXPECT_EQ(level_name(Level::kError), "ERROR");
}

TEST(Logger, WritesOneLinePerEventAboveTheMinimumLevelWithTheRequestId) {
  std::vector<std::string> lines;
  Logger logger([&](std::string_view l) { lines.emplace_back(l); }, [] { return kNow; }, Level::kInfo);
  logger.set_request_id("r-9");
  EXPECT_EQ(logger.request_id(), "r-9");
  logger.log({.level = Level::kDebug, .message = "hidden"});
  logger.info("started");
  logger.error("failed");
  ASSERT_EQ(lines.size(), 2U);
  simdjson::dom::parser parser;
  EXPECT_EQ(str(parse(parser, lines[0]), "message"), "started");
  EXPECT_EQ(str(parse(parser, lines[0]), "requestId"), "r-9");
  EXPECT_EQ(str(parse(parser, lines[1]), "level"), "ERROR");
}

TEST(Logger, StandardSinksWriteWholeLines) {
  testing::internal::CaptureStdout();
  stdout_sink()(R"({"a":1})");
  EXPECT_EQ(testing::internal::GetCapturedStdout(), "{\"a\":1}\n");
  testing::internal::CaptureStderr();
  Logger(stderr_sink(), [] { return kNow; }).info("to stderr");
  EXPECT_EQ(testing::internal::GetCapturedStderr(),
            "{\"timestamp\":\"2026-11-25T14:30:00.123Z\",\"level\":\"INFO\",\"message\":\"to stderr\"}\n");
}

TEST(Emf, RecordHasTheAwsDirectiveDimensionsAndValues) {
  MetricsRecord rec("TapMarketAlerts");
  ASSERT_TRUE(rec.add_dimension("FunctionName", "data-processor-dev").ok());
  EXPECT_TRUE(rec.empty());
  ASSERT_TRUE(rec.put("Ticks", 10).ok());
  ASSERT_TRUE(rec.put("Ticks", 5).ok());  // counters add up
  ASSERT_TRUE(rec.put("Duration", 12.5, Unit::kMilliseconds).ok());
  ASSERT_TRUE(rec.put("Latency", 3, Unit::kMicroseconds).ok());
  ASSERT_TRUE(rec.put("Age", 1, Unit::kSeconds).ok());
  ASSERT_TRUE(rec.put("Size", 100, Unit::kBytes).ok());
  ASSERT_TRUE(rec.put("Share", 50, Unit::kPercent).ok());
  ASSERT_TRUE(rec.put("Raw", 1, Unit::kNone).ok());
  rec.set_property("requestId", "req-1");
  EXPECT_FALSE(rec.empty());
  const std::string json = rec.to_json(kNow);

  simdjson::dom::parser parser;
  const auto e = parse(parser, json);
  int64_t ts = 0;
  EXPECT_EQ(e["_aws"]["Timestamp"].get_int64().get(ts), simdjson::SUCCESS);
  EXPECT_EQ(ts, 1795617000123);
  simdjson::dom::array directives;
  ASSERT_EQ(e["_aws"]["CloudWatchMetrics"].get_array().get(directives), simdjson::SUCCESS);
  ASSERT_EQ(directives.size(), 1U);
  const auto d = directives.at(0).value_unsafe();
  EXPECT_EQ(str(d, "Namespace"), "TapMarketAlerts");
  std::string_view dim;
  ASSERT_EQ(d["Dimensions"].at(0).at(0).get_string().get(dim), simdjson::SUCCESS);
  EXPECT_EQ(dim, "FunctionName");
  simdjson::dom::array metrics;
  ASSERT_EQ(d["Metrics"].get_array().get(metrics), simdjson::SUCCESS);
  std::vector<std::string> units;
  for (auto m : metrics) units.push_back(str(m, "Unit"));
  EXPECT_EQ(units, (std::vector<std::string>{"Count", "Milliseconds", "Microseconds", "Seconds", "Bytes",
                                             "Percent", "None"}));
  EXPECT_EQ(str(metrics.at(0).value_unsafe(), "Name"), "Ticks");
  EXPECT_EQ(str(e, "FunctionName"), "data-processor-dev");
  EXPECT_EQ(str(e, "requestId"), "req-1");
  double ticks = 0;
  EXPECT_EQ(e["Ticks"].get_double().get(ticks), simdjson::SUCCESS);
  EXPECT_EQ(ticks, 15.0);
  double duration = 0;
  EXPECT_EQ(e["Duration"].get_double().get(duration), simdjson::SUCCESS);
  EXPECT_EQ(duration, 12.5);
}

TEST(Emf, RejectsNonFiniteValuesAndTooManyDimensions) {
  MetricsRecord rec("Ns");
  EXPECT_EQ(rec.put("Bad", std::numeric_limits<double>::quiet_NaN()).error().code, "emf_value");
  EXPECT_FALSE(rec.put("Bad", std::numeric_limits<double>::infinity()).ok());
  EXPECT_TRUE(rec.empty());
  for (std::size_t i = 0; i < MetricsRecord::kMaxDimensions; ++i) {
    ASSERT_TRUE(rec.add_dimension("d" + std::to_string(i), "v").ok());
  }
  EXPECT_EQ(rec.add_dimension("one-too-many", "v").error().code, "emf_limit");
}

TEST(Emf, SplitsMoreThanAHundredMetricsIntoSeveralDirectives) {
  MetricsRecord rec("Ns");
  for (int i = 0; i < 150; ++i) ASSERT_TRUE(rec.put("m" + std::to_string(i), i).ok());
  simdjson::dom::parser parser;
  const auto e = parse(parser, rec.to_json(kNow));
  simdjson::dom::array directives;
  ASSERT_EQ(e["_aws"]["CloudWatchMetrics"].get_array().get(directives), simdjson::SUCCESS);
  ASSERT_EQ(directives.size(), 2U);
  simdjson::dom::array first;
  simdjson::dom::array second;
  ASSERT_EQ(directives.at(0)["Metrics"].get_array().get(first), simdjson::SUCCESS);
  ASSERT_EQ(directives.at(1)["Metrics"].get_array().get(second), simdjson::SUCCESS);
  EXPECT_EQ(first.size(), 100U);
  EXPECT_EQ(second.size(), 50U);
  double v = 0;
  EXPECT_EQ(e["m149"].get_double().get(v), simdjson::SUCCESS);
  EXPECT_EQ(v, 149.0);
  simdjson::dom::array dims;
  ASSERT_EQ(directives.at(1)["Dimensions"].at(0).get_array().get(dims), simdjson::SUCCESS);
  EXPECT_EQ(dims.size(), 0U);  // no dimension: metrics published without dimensions
}

}  // namespace
}  // namespace tap::obs
