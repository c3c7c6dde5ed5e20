#include "tap/api/api_function.hpp"

#include "tap/api/api_auth.hpp"

namespace tap::api {

ApiResponse ApiFunction::handle(std::string_view event, Deadline deadline) const {
  auto request = parse_api_event(event);
  if (!request) {
    return problem_response(
        make_problem(400, "malformed-event", "The event is malformed", request.error().message));
  }
  auto caller = authenticate(request->claims, operator_group_);
  if (!caller) return problem_response(caller.error());
  return router_.dispatch(request.value(), caller.value(), deadline);
}

}  // namespace tap::api
