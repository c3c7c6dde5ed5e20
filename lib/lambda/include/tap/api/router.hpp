// The API's route table: "METHOD /path/{param}" -> handler. Matching is on the request's raw path, segment
// by segment (a `{name}` segment matches one non-empty segment, taken as it is), so the function answers the
// same whether API Gateway routed the request or a catch-all did: a path no route has is 404, a path whose
// routes lack the method is 405 with Allow. An HTTP API hands the function `rawPath` percent-decoded once
// already: decoding it again would make `%252F` a `/` and `%2541` an `A` (an id the client never sent), so
// the function never decodes it. route_keys() is what the OpenAPI contract test
// (tests/unit/test_openapi_contract.py) holds equal to docs/openapi.yaml's paths and methods.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tap/api/api_event.hpp"
#include "tap/api/api_response.hpp"
#include "tap/core/deadline.hpp"

namespace tap::api {

// Who calls (A1): the owner is the token's `sub`; an operator is in the configured group.
struct Caller {
  std::string owner;
  bool is_operator = false;
};

struct RouteCall {
  const ApiRequest& request;
  const Caller& caller;
  std::map<std::string, std::string> params;  // the path's {name} segments
  Deadline deadline;
};

using RouteHandler = std::function<ApiResponse(const RouteCall&)>;

// The handler of a route whose path names a rule (`{rule_id}`): an id longer than any the store makes
// (kMaxRuleIdBytes, rules_store.hpp says why) is no rule of anyone's, 404 `not-found` before `handler` runs,
// so before any request. Every such route is made by it.
RouteHandler rule_id_route(RouteHandler handler);

class Router {
 public:
  // `path` segments are literals or `{name}`; a route key is added once.
  void add(std::string_view method, std::string_view path, RouteHandler handler);
  std::vector<std::string> route_keys() const;  // "GET /rules/{rule_id}", in the order added
  ApiResponse dispatch(const ApiRequest& request, const Caller& caller, Deadline deadline) const;

 private:
  struct Route {
    std::string method;
    std::string path;
    std::vector<std::string> segments;
    RouteHandler handler;
  };
  std::vector<Route> routes_;
};

}  // namespace tap::api
