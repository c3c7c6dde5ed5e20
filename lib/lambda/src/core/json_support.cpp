#include "json_support.hpp"

namespace tap::json {

using simdjson::ondemand::json_type;

WalkStatus walk_value(simdjson::ondemand::value value, std::size_t depth, std::size_t max_depth,
                      simdjson::error_code& error, std::string& detail) {
  json_type type{};
  if ((error = value.type().get(type))) return WalkStatus::invalid;
  switch (type) {
    case json_type::object:
    case json_type::array: {
      if (depth > max_depth) return WalkStatus::too_deep;
      if (type == json_type::array) {
        simdjson::ondemand::array array;
        if ((error = value.get_array().get(array))) return WalkStatus::invalid;
        for (auto element : array) {
          if ((error = element.error())) return WalkStatus::invalid;
          const WalkStatus st = walk_value(element.value_unsafe(), depth + 1, max_depth, error, detail);
          if (st != WalkStatus::ok) return st;
        }
        return WalkStatus::ok;
      }
      simdjson::ondemand::object object;
      if ((error = value.get_object().get(object))) return WalkStatus::invalid;
      KeySet keys;
      for (auto result : object) {
        if ((error = result.error())) return WalkStatus::invalid;
        simdjson::ondemand::field& field = result.value_unsafe();
        std::string_view key;
        if ((error = key_of(field).get(key))) return WalkStatus::invalid;
        if (!keys.insert(key)) {
          detail = std::string(key);
          return WalkStatus::duplicate_key;
        }
        const WalkStatus st = walk_value(field.value(), depth + 1, max_depth, error, detail);
        if (st != WalkStatus::ok) return st;
      }
      return WalkStatus::ok;
    }
    case json_type::number: {
      simdjson::ondemand::number n;
      error = value.get_number().get(n);
      break;
    }
    case json_type::string: {
      std::string_view s;
      error = value.get_string().get(s);
      break;
    }
    case json_type::boolean: {
      bool b = false;
      error = value.get_bool().get(b);
      break;
    }
    case json_type::null: {
      bool is_null = false;
      error = value.is_null().get(is_null);
      if (!error && !is_null) error = simdjson::N_ATOM_ERROR;
      break;
    }
  }
  return error ? WalkStatus::invalid : WalkStatus::ok;
}

}  // namespace tap::json
