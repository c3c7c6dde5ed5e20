#include "json.hpp"

#include "tap/core/json_text.hpp"

namespace tap::aws_json {

std::string quote(std::string_view s) {
  std::string out;
  json::append_string(out, s);
  return out;
}

simdjson::ondemand::parser& parser() {
  static thread_local simdjson::ondemand::parser instance;
  return instance;
}

}  // namespace tap::aws_json
