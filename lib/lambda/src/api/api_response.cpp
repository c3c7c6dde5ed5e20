#include "tap/api/api_response.hpp"

#include <algorithm>

#include "tap/core/json_text.hpp"

namespace tap::api {
namespace {

constexpr std::string_view kBodyField = "(body)";  // parse_rule_spec's name for the body as a whole

Problem make(int status, std::string type, std::string title, std::string detail,
             std::vector<FieldError> fields = {}) {
  return make_problem(status, std::move(type), std::move(title), std::move(detail), std::move(fields));
}

std::string summary(const std::vector<FieldError>& fields) {
  std::string out;
  for (const FieldError& f : fields) {
    out += out.empty() ? "" : "; ";
    out += f.field + ": " + f.message;
  }
  return out;
}

}  // namespace

Problem make_problem(int status, std::string type, std::string title, std::string detail,
                     std::vector<FieldError> fields) {
  Problem p;
  p.status = status;
  p.type = std::move(type);
  p.title = std::move(title);
  p.detail = std::move(detail);
  p.fields = std::move(fields);
  return p;
}

ApiResponse json_response(int status, std::string body) {
  return ApiResponse{
      .status = status, .headers = {{"Content-Type", "application/json"}}, .body = std::move(body)};
}

ApiResponse problem_response(const Problem& problem) {
  std::string body = "{\"type\":";
  json::append_string(body, problem.type);
  body += ",\"title\":";
  json::append_string(body, problem.title);
  body += ",\"status\":";
  json::append_number(body, static_cast<std::int64_t>(problem.status));
  body += ",\"detail\":";
  json::append_string(body, problem.detail);
  if (!problem.fields.empty()) {
    body += ",\"errors\":[";
    for (std::size_t i = 0; i < problem.fields.size(); ++i) {
      body += i == 0 ? "{\"field\":" : ",{\"field\":";
      json::append_string(body, problem.fields[i].field);
      body += ",\"message\":";
      json::append_string(body, problem.fields[i].message);
      body += "}";
    }
    body += "]";
  }
  body += "}";
  ApiResponse out{.status = problem.status,
                  .headers = {{"Content-Type", "application/problem+json"}},
                  .body = std::move(body)};
  if (problem.retry_after_seconds > 0) {
    out.headers.emplace_back("Retry-After", std::to_string(problem.retry_after_seconds));
  }
  return out;
}

std::string to_payload(const ApiResponse& response) {
  std::string out = "{\"statusCode\":";
  json::append_number(out, static_cast<std::int64_t>(response.status));
  out += ",\"headers\":{";
  for (std::size_t i = 0; i < response.headers.size(); ++i) {
    if (i > 0) out += ",";
    json::append_string(out, response.headers[i].first);
    out += ":";
    json::append_string(out, response.headers[i].second);
  }
  out += "},\"body\":";
  json::append_string(out, response.body);
  out += ",\"isBase64Encoded\":false}";
  return out;
}

Problem invalid_input(std::vector<FieldError> fields) {
  const bool malformed =
      std::ranges::any_of(fields, [](const FieldError& f) { return f.field == kBodyField; });
  std::string detail = summary(fields);
  if (malformed) return make(400, "malformed-body", "The body is not a readable JSON object", detail, fields);
  return make(422, "invalid-input", "The request is invalid", detail, std::move(fields));
}

Problem problem_for(const ChangeError& error) {
  using K = ChangeError::Kind;
  switch (error.kind) {
    case K::invalid: {
      Problem p = invalid_input(error.fields);
      if (!error.message.empty()) p.detail = error.message + (p.detail.empty() ? "" : ": " + p.detail);
      return p;
    }
    case K::not_found:
      return make(404, "not-found", "No such rule", error.message);
    case K::precondition_failed:
      return make(412, "precondition-failed", "The rule changed since it was read", error.message,
                  {{"If-Match", "stale revision"}});
    case K::conflict:
      return make(409, "conflict", "The change does not apply in the rule's state", error.message);
    case K::quota_exceeded:
      break;
  }
  return make(409, "quota-exceeded", "The owner's rule quota is reached", error.message);
}

Problem problem_for(const ChangeFailure& failure) {
  using K = ChangeFailure::Kind;
  if (failure.kind == K::rejected) return problem_for(failure.error);
  if (failure.kind == K::retry_later) {
    Problem p = make(503, "retry-later", "The change could not be committed in time",
                     "the change protocol did not commit within P; retry after Retry-After seconds (the "
                     "change may still take effect: read the rule first)");
    p.retry_after_seconds = kRetryAfterSeconds;
    return p;
  }
  return upstream_failure(failure.aws);
}

Problem upstream_failure(const AwsError& error) {
  if (error.retryable) {
    Problem p = make(503, "retry-later", "The rules storage is busy", error.code + ": " + error.message);
    p.retry_after_seconds = kRetryAfterSeconds;
    return p;
  }
  return make(502, "upstream-failure", "The rules storage refused a request",
              error.code + ": " + error.message);
}

Problem not_found(std::string detail) { return make(404, "not-found", "Not found", std::move(detail)); }
Problem forbidden(std::string detail) { return make(403, "forbidden", "Forbidden", std::move(detail)); }
Problem unauthorized(std::string detail) {
  return make(401, "unauthorized", "Unauthorized", std::move(detail));
}

}  // namespace tap::api
