#include "tap/runtime/metrics.hpp"

#include <algorithm>
#include <cmath>

#include "tap/core/json_text.hpp"

namespace tap::obs {

std::string_view unit_name(Unit unit) {
  switch (unit) {
    case Unit::kCount:
      return "Count";
    case Unit::kMilliseconds:
      return "Milliseconds";
    case Unit::kMicroseconds:
      return "Microseconds";
    case Unit::kSeconds:
      return "Seconds";
    case Unit::kBytes:
      return "Bytes";
    case Unit::kPercent:
      return "Percent";
    case Unit::kNone:
      break;
  }
  return "None";
}

Result<bool> MetricsRecord::add_dimension(std::string name, std::string value) {
  if (dimensions_.size() >= kMaxDimensions) {
    return Error{"emf_limit", "EMF allows at most 30 dimensions in a dimension set"};
  }
  dimensions_.emplace_back(std::move(name), std::move(value));
  return true;
}

Result<bool> MetricsRecord::put(std::string_view name, double value, Unit unit) {
  if (!std::isfinite(value)) {
    return Error{"emf_value", "metric " + std::string(name) + " is not a finite number"};
  }
  const auto it =
      std::find_if(metrics_.begin(), metrics_.end(), [&](const Metric& m) { return m.name == name; });
  if (it != metrics_.end()) {
    it->value += value;
    return true;
  }
  metrics_.push_back(Metric{std::string(name), value, unit});
  return true;
}

void MetricsRecord::set_property(std::string name, std::string value) {
  properties_.emplace_back(std::move(name), std::move(value));
}

std::string MetricsRecord::to_json(std::chrono::system_clock::time_point timestamp) const {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timestamp.time_since_epoch()).count();
  std::string out = "{\"_aws\":{\"Timestamp\":";
  json::append_number(out, static_cast<std::int64_t>(ms));
  out.append(",\"CloudWatchMetrics\":[");
  // The dimension set is shared by every directive; metrics are split into directives of at most 100.
  std::string dims = "[[";
  for (std::size_t i = 0; i < dimensions_.size(); ++i) {
    if (i > 0) dims.push_back(',');
    json::append_string(dims, dimensions_[i].first);
  }
  dims.append("]]");
  for (std::size_t start = 0; start < metrics_.size(); start += kMaxMetricsPerDirective) {
    if (start > 0) out.push_back(',');
    out.append("{\"Namespace\":");
    json::append_string(out, namespace_);
    out.append(",\"Dimensions\":");
    out.append(dims);
    out.append(",\"Metrics\":[");
    const std::size_t end = std::min(metrics_.size(), start + kMaxMetricsPerDirective);
    for (std::size_t i = start; i < end; ++i) {
      if (i > start) out.push_back(',');
      out.append("{\"Name\":");
      json::append_string(out, metrics_[i].name);
      out.append(",\"Unit\":");
      json::append_string(out, unit_name(metrics_[i].unit));
      out.push_back('}');
    }
    out.append("]}");
  }
  out.append("]}");
  for (const auto& [name, value] : dimensions_) {
    out.push_back(',');
    json::append_string(out, name);
    out.push_back(':');
    json::append_string(out, value);
  }
  for (const auto& [name, value] : properties_) {
    out.push_back(',');
    json::append_string(out, name);
    out.push_back(':');
    json::append_string(out, value);
  }
  for (const auto& metric : metrics_) {
    out.push_back(',');
    json::append_string(out, metric.name);
    out.push_back(':');
    json::append_number(out, metric.value);
  }
  out.push_back('}');
  return out;
}

}  // namespace tap::obs
