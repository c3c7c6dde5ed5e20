#include "tap/runtime/log.hpp"

#include <cstdio>
#include <ctime>

#include "tap/core/json_text.hpp"

namespace tap::obs {
namespace {

// ISO-8601 UTC with milliseconds, e.g. 2026-11-25T14:30:00.123Z.
std::string iso8601_ms(std::chrono::system_clock::time_point now) {
  const auto ms = std::chrono::floor<std::chrono::milliseconds>(now);
  const auto days = std::chrono::floor<std::chrono::days>(ms);
  const std::chrono::year_month_day ymd{days};
  const std::chrono::hh_mm_ss hms{ms - days};
  std::array<char, 32> buf{};
  std::snprintf(buf.data(), buf.size(), "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()), static_cast<int>(hms.subseconds().count()));
  return buf.data();
}

void append_key(std::string& out, std::string_view key) {
  out.push_back(',');
  json::append_string(out, key);
  out.push_back(':');
}

void append_optional(std::string& out, std::string_view key, std::string_view value) {
  if (value.empty()) return;
  append_key(out, key);
  json::append_string(out, value);
}

struct ValueWriter {
  std::string& out;
  void operator()(const std::string& v) const { json::append_string(out, v); }
  void operator()(std::int64_t v) const { json::append_number(out, v); }
  void operator()(double v) const { json::append_number(out, v); }
  void operator()(bool v) const { out.append(v ? "true" : "false"); }
};

Sink file_sink(std::FILE* file) {
  return [file](std::string_view line) {
    // One fwrite per line so that lines from concurrent writers never interleave mid-line.
    std::string buf;
    buf.reserve(line.size() + 1);
    buf.append(line);
    buf.push_back('\n');
    std::fwrite(buf.data(), 1, buf.size(), file);
    std::fflush(file);
  };
}

}  // namespace

std::string_view level_name(Level level) {
  switch (level) {
    case Level::kDebug:
      return "DEBUG";
    case Level::kInfo:
      return "INFO";
    case Level::kWarn:
      return "WARN";
    case Level::kError:
      break;
  }
  return "ERROR";
}

std::string format_log_line(const LogEvent& event, std::string_view request_id,
                            std::chrono::system_clock::time_point now) {
  std::string out = "{\"timestamp\":";
  json::append_string(out, iso8601_ms(now));
  append_key(out, "level");
  json::append_string(out, level_name(event.level));
  append_optional(out, "requestId", request_id);
  append_optional(out, "messageId", event.message_id);
  append_optional(out, "symbol", event.symbol);
  append_optional(out, "rule", event.rule);
  append_optional(out, "reason", event.reason);
  append_key(out, "message");
  json::append_string(out, event.message);
  for (const auto& [key, value] : event.fields) {
    // A free field never overrides (or duplicates, which would be invalid JSON to many parsers) a fixed key.
    const bool reserved = key == "timestamp" || key == "level" || key == "requestId" || key == "messageId" ||
                          key == "symbol" || key == "rule" || key == "reason" || key == "message";
    append_key(out, reserved ? "field_" + key : key);
    std::visit(ValueWriter{out}, value);
  }
  out.push_back('}');
  return out;
}  // LCOV_EXCL_LINE: gcov puts only the bad_alloc unwind of the NRVO result here

Sink stdout_sink() { return file_sink(stdout); }
Sink stderr_sink() { return file_sink(stderr); }

Logger::Logger(Sink sink, Clock clock, Level min_level)
    : sink_(std::move(sink)), clock_(std::move(clock)), min_level_(min_level) {}

void Logger::log(const LogEvent& event) const {
  if (event.level < min_level_) return;
  sink_(format_log_line(event, request_id_, clock_()));
}

void Logger::info(std::string message) const { log({.level = Level::kInfo, .message = std::move(message)}); }
void Logger::error(std::string message) const {
  log({.level = Level::kError, .message = std::move(message)});
}

}  // namespace tap::obs
