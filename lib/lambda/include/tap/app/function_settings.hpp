// The function settings whose allowed values synthesis checks too (config/function-settings.json, compiled
// in as tap/app/function_settings_table.hpp). One table: the function and lib/config.py read the same file,
// so that no value passes synthesis and fails at start-up (F9). Three kinds: an enum takes one of its values
// exactly; an integer takes ASCII digits only (no sign, space, exponent) whose value lies within its bounds;
// a text takes 1 to max_length ASCII letters, digits or characters of its symbols (lib/config.py's
// IntegerSetting and TextSetting read the same way; the contract test drives both with hostile strings).
#pragma once

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

namespace tap::settings {

struct EnumSetting {
  std::string_view name;           // the environment variable
  std::string_view default_value;  // when the variable is not set
  std::span<const std::string_view> values;

  [[nodiscard]] bool allows(std::string_view value) const {
    for (const std::string_view v : values) {
      if (v == value) return true;
    }
    return false;
  }
  // "A, B or C": for error messages.
  [[nodiscard]] std::string allowed() const {
    std::string out;
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i > 0) out += i + 1 == values.size() ? " or " : ", ";
      out += values[i];
    }
    return out;
  }
};

struct IntegerSetting {
  std::string_view name;           // the environment variable
  std::int64_t default_value = 0;  // when the variable is not set
  std::int64_t minimum = 0;        // >= 0: the text has no sign (the build checks the table)
  std::int64_t maximum = 0;

  // The value `text` stands for, or nothing when the function refuses it.
  [[nodiscard]] std::optional<std::int64_t> parse(std::string_view text) const {
    if (text.empty() || !std::ranges::all_of(text, [](char c) { return c >= '0' && c <= '9'; })) {
      return std::nullopt;
    }
    std::int64_t value = 0;
    // Only digits, so the whole text is read; too many of them is out of range.
    if (std::from_chars(text.data(), text.data() + text.size(), value).ec != std::errc{}) return std::nullopt;
    if (value < minimum || value > maximum) return std::nullopt;
    return value;
  }
  // "an integer from 1 to 3600": for error messages.
  [[nodiscard]] std::string allowed() const {
    return "an integer from " + std::to_string(minimum) + " to " + std::to_string(maximum);
  }
};

struct TextSetting {
  std::string_view name;           // the environment variable
  std::string_view default_value;  // when the variable is not set
  std::size_t max_length = 0;      // bytes: every character it takes is ASCII
  std::string_view symbols;        // what it takes besides ASCII letters and digits

  [[nodiscard]] constexpr bool accepts(std::string_view text) const {
    const auto allowed = [this](char c) {
      return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
             symbols.find(c) != std::string_view::npos;
    };
    return !text.empty() && text.size() <= max_length && std::ranges::all_of(text, allowed);
  }
  // "1 to 128 ASCII letters, digits or _-": for error messages.
  [[nodiscard]] std::string allowed() const {
    return "1 to " + std::to_string(max_length) + " ASCII letters, digits or " + std::string(symbols);
  }
};

}  // namespace tap::settings
