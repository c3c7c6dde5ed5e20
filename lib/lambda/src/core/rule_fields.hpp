// The fields of a rule definition (F3, R1, R2), private to src/core: THE checks of what each field may
// hold and the typed reads of their JSON values, shared by the rules document (rules.cpp: validate_rules,
// load_rules) and the change library (rule_change.cpp: parse_rule_spec, validate_rule_spec), so that a
// rule valid in one is valid in the other. The document's own fields (id, enabled, its cooldown default)
// and the spec's own (mode, bar_seconds, expires_at, message_template) stay with their parsers.
//
// Each check returns the problem's message (without a field prefix) or nothing when the value is valid.
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tap/core/rule_change.hpp"
#include "tap/core/rules.hpp"

namespace tap::rule_fields {

inline constexpr std::size_t kMaxDepth = 8;  // nesting of a rules document or a rule body
inline constexpr double kMaxThreshold = 1e15;
inline constexpr std::int64_t kMaxCooldownSeconds = 86400;
inline constexpr std::size_t kMaxDescriptionChars = 256;

// A rule's name in the change library, a rule's id in the document (it is the same value: R6).
std::optional<std::string> name_problem(std::string_view name);
std::optional<std::string> symbol_problem(std::string_view symbol);
// 0 <= threshold <= 1e15 (NaN and infinities are refused too).
std::optional<std::string> threshold_problem(double threshold);
// What the condition asks of its threshold (> 0 for price conditions, an integer for volume_above).
std::optional<std::string> threshold_for_condition_problem(Condition condition, double threshold);
// At most `max_chars` code points of valid UTF-8.
std::optional<std::string> text_problem(std::string_view text, std::size_t max_chars);
std::optional<std::string> cooldown_problem(std::int64_t seconds, std::int64_t min_seconds);

std::optional<Condition> parse_condition(std::string_view s);
std::optional<Severity> parse_severity(std::string_view s);
std::optional<TriggerMode> parse_mode(std::string_view s);
inline constexpr std::string_view kConditionChoices =
    "must be one of price_above, price_below, crosses_above, crosses_below, spread_above, volume_above";
inline constexpr std::string_view kSeverityChoices = "must be one of info, warning, critical";
inline constexpr std::string_view kModeChoices = "must be one of once, every, once_per_bar";

// Typed reads of JSON values, collecting every problem with its field; a JSON syntax error is fatal
// (nothing after it can be trusted). A nested duplicate key inside a value that is otherwise ignored is
// reported under the enclosing field when `locate_nested` (the document's messages state it alone).
class Reader {
 public:
  explicit Reader(bool locate_nested) : locate_nested_(locate_nested) {}

  std::vector<FieldError> problems;
  std::optional<simdjson::error_code> fatal;

  void problem(std::string field, std::string_view why) {
    problems.push_back({std::move(field), std::string(why)});
  }
  std::nullopt_t fail(simdjson::error_code e) {
    fatal = e;
    return std::nullopt;
  }
  // A value's type; false (fatal) on a JSON error.
  bool type_of(simdjson::ondemand::value v, simdjson::ondemand::json_type& t);
  // Validates a value that is not used (wrong type, unknown property) so that syntax errors are still found.
  void consume(simdjson::ondemand::value v, std::size_t depth, const std::string& path);
  std::optional<std::string_view> string(simdjson::ondemand::value v, const std::string& path,
                                         std::size_t depth);
  std::optional<double> number(simdjson::ondemand::value v, const std::string& path, std::size_t depth);
  std::optional<std::int64_t> integer(simdjson::ondemand::value v, const std::string& path,
                                      std::size_t depth);
  std::optional<bool> boolean(simdjson::ondemand::value v, const std::string& path, std::size_t depth);

 private:
  bool locate_nested_;
};

}  // namespace tap::rule_fields
