// The API function's answer: ApiResponse -> API Gateway's payload 2.0 response JSON, and the errors as
// RFC 9457 problem documents (`application/problem+json`: type, title, status, detail, and `errors`, the
// offending fields as FieldError pairs {field, message}). Pure.
//
// Status rules (A3; docs/openapi.yaml documents each):
//  - a body that cannot be read as one JSON object (parse_rule_spec's field "(body)": not JSON, invalid
//    UTF-8, too deep, too large, not an object) -> 400 `malformed-body`; a readable object with wrong
//    content (wrong types, unknown or duplicate properties, values out of range) -> 422 `invalid-input`;
//  - ChangeError: not_found -> 404, precondition_failed -> 412, conflict -> 409, quota_exceeded -> 409
//    `quota-exceeded`;
//  - ChangeFailure: retry_later -> 503 with Retry-After; failed -> 502 `upstream-failure` (an AWS request
//    refused for good: never the caller's input).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tap/app/change_service.hpp"

namespace tap::api {

struct ApiResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // Content-Type is set by the constructors
  std::string body;
};

struct Problem {
  int status = 400;
  std::string type;  // a relative URI reference naming the kind ("quota-exceeded")
  std::string title;
  std::string detail;
  std::vector<FieldError> fields;
  int retry_after_seconds = 0;  // > 0: a Retry-After header
};

// Seconds a client waits after a 503 (one P: the change protocol had its full P, docs/design.md 12).
inline constexpr int kRetryAfterSeconds = 5;

ApiResponse json_response(int status, std::string body);
ApiResponse problem_response(const Problem& problem);
// The payload 2.0 response: {"statusCode", "headers", "body", "isBase64Encoded": false}.
std::string to_payload(const ApiResponse& response);

Problem make_problem(int status, std::string type, std::string title, std::string detail,
                     std::vector<FieldError> fields = {});
Problem invalid_input(std::vector<FieldError> fields);  // 400 or 422 by the rule above
Problem problem_for(const ChangeError& error);
Problem problem_for(const ChangeFailure& failure);
// A read the store refused: retryable (throttled past the deadline) -> 503 Retry-After, else 502.
Problem upstream_failure(const AwsError& error);
Problem not_found(std::string detail);
Problem forbidden(std::string detail);
Problem unauthorized(std::string detail);

}  // namespace tap::api
