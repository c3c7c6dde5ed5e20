#include "tap/api/router.hpp"

#include <optional>

#include "tap/app/rules_store.hpp"

namespace tap::api {
namespace {

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  std::size_t i = path.starts_with('/') ? 1 : 0;
  while (i <= path.size()) {
    const std::size_t end = std::min(path.find('/', i), path.size());
    out.emplace_back(path.substr(i, end - i));
    i = end + 1;
  }
  return out;
}

bool is_param(const std::string& segment) { return segment.size() > 2 && segment.front() == '{'; }

// The route's parameters when `segments` match it.
std::optional<std::map<std::string, std::string>> match(const std::vector<std::string>& pattern,
                                                        const std::vector<std::string>& segments) {
  if (pattern.size() != segments.size()) return std::nullopt;
  std::map<std::string, std::string> params;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (is_param(pattern[i])) {
      if (segments[i].empty()) return std::nullopt;
      params[pattern[i].substr(1, pattern[i].size() - 2)] = segments[i];
    } else if (pattern[i] != segments[i]) {
      return std::nullopt;
    }
  }
  return params;
}

}  // namespace

RouteHandler rule_id_route(RouteHandler handler) {
  return [handler = std::move(handler)](const RouteCall& c) {
    return c.params.at("rule_id").size() > kMaxRuleIdBytes ? problem_response(not_found("no such rule"))
                                                           : handler(c);
  };
}

void Router::add(std::string_view method, std::string_view path, RouteHandler handler) {
  routes_.push_back(Route{.method = std::string(method),
                          .path = std::string(path),
                          .segments = split_path(path),
                          .handler = std::move(handler)});
}

std::vector<std::string> Router::route_keys() const {
  std::vector<std::string> out;
  for (const Route& r : routes_) out.push_back(r.method + " " + r.path);
  return out;
}

ApiResponse Router::dispatch(const ApiRequest& request, const Caller& caller, Deadline deadline) const {
  const std::vector<std::string> segments = split_path(request.raw_path);
  std::string allow;
  for (const Route& r : routes_) {
    auto params = match(r.segments, segments);
    if (!params) continue;
    if (r.method == request.method) {
      return r.handler(RouteCall{
          .request = request, .caller = caller, .params = std::move(*params), .deadline = deadline});
    }
    allow += allow.empty() ? r.method : ", " + r.method;
  }
  if (allow.empty()) return problem_response(not_found("no route for " + request.raw_path));
  ApiResponse out = problem_response(make_problem(405, "method-not-allowed", "Method not allowed",
                                                  request.method + " is not allowed on this path"));
  out.headers.emplace_back("Allow", allow);
  return out;
}

}  // namespace tap::api
