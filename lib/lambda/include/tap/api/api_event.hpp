// API Gateway HTTP API payload format 2.0 (the event the API function receives) -> a plain ApiRequest.
// Pure: no I/O. A malformed event is an error value (never an exception): a document that is not JSON,
// invalid UTF-8, nested deeper than kMaxEventDepth, a duplicate key, or a known field of the wrong type.
// Unknown fields are ignored (API Gateway adds fields over time). Header names are lower-cased (HTTP names
// are case-insensitive; API Gateway already lower-cases them). A base64 body (isBase64Encoded) is decoded
// (tap/core/base64.hpp, strict); invalid base64 is an error. The JWT claims come from
// requestContext.authorizer.jwt.claims, where API Gateway passes every claim as a string: `cognito:groups`
// arrives as "[operators admins]" (space-separated in brackets); a JSON array of strings (as a local front
// may send) is read too.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tap/core/result.hpp"

namespace tap::api {

inline constexpr std::size_t kMaxEventDepth = 16;

struct Claims {
  std::string sub{};
  std::string token_use{};
  std::string client_id{};
  std::string scope{};
  std::vector<std::string> groups{};  // cognito:groups
  friend bool operator==(const Claims&, const Claims&) = default;
};

struct ApiRequest {
  std::string method{};     // requestContext.http.method, upper case
  std::string route_key{};  // "GET /rules/{rule_id}" (or "$default")
  std::string raw_path{};   // "/rules/abc"
  std::map<std::string, std::string> path_parameters{};
  std::map<std::string, std::string> query{};    // queryStringParameters (repeated names: comma-joined)
  std::map<std::string, std::string> headers{};  // names lower-cased
  std::string body{};                            // decoded when the event says isBase64Encoded
  Claims claims{};
  friend bool operator==(const ApiRequest&, const ApiRequest&) = default;
};

Result<ApiRequest> parse_api_event(std::string_view event);

// "[a b c]" -> {a, b, c} (API Gateway's rendering of a list claim); a plain value is a one-element list.
std::vector<std::string> parse_group_claim(std::string_view text);

}  // namespace tap::api
