// A response body parsed for assertions: each parse keeps its buffer, so elements of earlier bodies stay
// valid while a test reads several answers.
#pragma once

#include <simdjson.h>

#include <memory>
#include <string>
#include <vector>

namespace tap::api {

class JsonBodies {
 public:
  simdjson::dom::element parse(const std::string& body) {
    buffers_.push_back(std::make_unique<simdjson::padded_string>(body));
    parsers_.push_back(std::make_unique<simdjson::dom::parser>());
    return parsers_.back()->parse(*buffers_.back()).value_unsafe();
  }
  // The `field` of each entry of a problem document's `errors`.
  std::vector<std::string> problem_fields(const std::string& body) {
    std::vector<std::string> out;
    const simdjson::dom::array errors = parse(body)["errors"].get_array().value_unsafe();
    for (auto e : errors) {
      out.emplace_back(e["field"].get_string().value_unsafe());
    }
    return out;
  }

 private:
  std::vector<std::unique_ptr<simdjson::padded_string>> buffers_;
  std::vector<std::unique_ptr<simdjson::dom::parser>> parsers_;
};

}  // namespace tap::api
