// The function settings whose allowed values synthesis checks too (config/function-settings.json, compiled
// in as tap/app/function_settings_table.hpp). One table: the function and lib/config.py read the same file,
// so that no value passes synthesis and fails at start-up (F9).
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

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

}  // namespace tap::settings
