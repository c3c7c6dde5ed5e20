// Structured logging: one JSON object per line, what CloudWatch Logs Insights queries by field.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace tap::obs {

enum class Level { kDebug, kInfo, kWarn, kError };
std::string_view level_name(Level level);

using FieldValue = std::variant<std::string, std::int64_t, double, bool>;

struct LogEvent {
  Level level = Level::kInfo;
  // Default member initializers let callers use designated initializers for just the keys they need.
  std::string message{};
  // SQS message id, when the event concerns one message: a view, as an event is logged by the call that
  // builds it (the id stays owned by the batch).
  std::string_view message_id{};
  std::string symbol{};
  std::string rule{};
  std::string reason{};
  std::vector<std::pair<std::string, FieldValue>> fields{};  // free fields, in this order
};

// One complete line (without the trailing newline). Empty optional keys are left out.
std::string format_log_line(const LogEvent& event, std::string_view request_id,
                            std::chrono::system_clock::time_point now);

// Where lines go: the default writes to stdout (Lambda forwards it to CloudWatch Logs), one write per line.
using Sink = std::function<void(std::string_view line)>;
Sink stdout_sink();
Sink stderr_sink();

class Logger {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;
  explicit Logger(Sink sink, Clock clock = std::chrono::system_clock::now, Level min_level = Level::kInfo);

  void set_request_id(std::string request_id) { request_id_ = std::move(request_id); }
  [[nodiscard]] const std::string& request_id() const { return request_id_; }
  void log(const LogEvent& event) const;
  void info(std::string message) const;
  void error(std::string message) const;

 private:
  Sink sink_;
  Clock clock_;
  Level min_level_;
  std::string request_id_;
};

}  // namespace tap::obs
