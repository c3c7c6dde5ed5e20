// The API function's one invocation: a payload 2.0 event in, the payload 2.0 response out. Parses the event
// (a malformed event is a 400 problem), authenticates the caller (api_auth.hpp) and dispatches through the
// route table. Every answer is a response: the function never fails an invocation on input.
#pragma once

#include <string>
#include <string_view>

#include "tap/api/router.hpp"

namespace tap::api {

class ApiFunction {
 public:
  ApiFunction(const Router& router, std::string operator_group)
      : router_(router), operator_group_(std::move(operator_group)) {}
  ApiResponse handle(std::string_view event, Deadline deadline) const;

 private:
  const Router& router_;
  std::string operator_group_;
};

}  // namespace tap::api
