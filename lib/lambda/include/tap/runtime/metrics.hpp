// CloudWatch Embedded Metric Format: a log line that CloudWatch turns into metrics without API calls.
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tap/core/result.hpp"

namespace tap::obs {

enum class Unit { kNone, kCount, kMilliseconds, kMicroseconds, kSeconds, kBytes, kPercent };
std::string_view unit_name(Unit unit);

class MetricsRecord {
 public:
  // EMF limits: at most 30 dimensions in a set and 100 metrics per directive (more go to further directives).
  static constexpr std::size_t kMaxDimensions = 30;
  static constexpr std::size_t kMaxMetricsPerDirective = 100;

  explicit MetricsRecord(std::string name_space) : namespace_(std::move(name_space)) {}

  // A dimension of the (single) dimension set; its value is a root member.
  Result<bool> add_dimension(std::string name, std::string value);
  // A metric value; putting the same name again adds to it (counters). Non-finite values are rejected.
  Result<bool> put(std::string_view name, double value, Unit unit = Unit::kCount);
  // A root member that is not a metric (e.g. requestId), searchable in Logs Insights.
  void set_property(std::string name, std::string value);

  [[nodiscard]] bool empty() const { return metrics_.empty(); }
  [[nodiscard]] std::string to_json(std::chrono::system_clock::time_point timestamp) const;

 private:
  struct Metric {
    std::string name;
    double value;
    Unit unit;
  };
  std::string namespace_;
  std::vector<std::pair<std::string, std::string>> dimensions_;
  std::vector<Metric> metrics_;
  std::vector<std::pair<std::string, std::string>> properties_;
};

}  // namespace tap::obs
