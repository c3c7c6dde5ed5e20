// The placeholder syntax of a rule's message_template (F5): the one definition, used by validate_rule_spec
// (rule_change.cpp refuses a template this parser does not accept) and by the notification texts (alert.cpp).
//
// A template is text with placeholders in braces: {symbol} {price} {threshold} {condition} {value} {time}
// {date} {rule} {severity}. "{{" and "}}" stand for a literal brace. Anything else with a brace -- an unknown
// name, a brace left open, a lone '}' -- is a problem. Values are substituted as text, once: a value that
// contains braces is never read as a template.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace tap {

enum class Placeholder { symbol, price, threshold, condition, value, time, date, rule, severity };
inline constexpr std::array<std::string_view, 9> kPlaceholderNames = {
    "symbol", "price", "threshold", "condition", "value", "time", "date", "rule", "severity"};

// What is wrong with `text` as a template ("unknown placeholder {when}"), or nothing.
std::optional<std::string> template_problem(std::string_view text);

// `text` with each placeholder replaced by value(placeholder). A text with problems (never stored: validation
// refuses it) renders what precedes its first problem.
template <typename Value>
std::string render_template(std::string_view text, Value&& value);

namespace detail {
struct Piece {
  std::string_view literal;                // text before the placeholder
  std::optional<Placeholder> placeholder;  // nothing: end of text
  std::optional<std::string> problem;      // set: stop here
  std::size_t next = 0;                    // where the next piece starts
};
Piece next_piece(std::string_view text, std::size_t from, std::string& literal_buffer);
}  // namespace detail

template <typename Value>
std::string render_template(std::string_view text, Value&& value) {
  std::string out;
  std::string buffer;
  for (std::size_t at = 0; at <= text.size();) {
    const detail::Piece p = detail::next_piece(text, at, buffer);
    out += p.literal;
    if (p.problem || !p.placeholder) break;
    out += value(*p.placeholder);
    at = p.next;
  }
  return out;
}

}  // namespace tap
