#include "tap/api/idempotency.hpp"

#include <algorithm>

#include "tap/aws/sigv4.hpp"

namespace tap::api {
namespace {

bool valid_key(std::string_view key) {
  return !key.empty() && key.size() <= kMaxIdempotencyKeyLength &&
         std::ranges::all_of(key, [](char c) { return c > 0x20 && c < 0x7f; });
}

// What the request was: a replay must be the same method, path and body.
std::string fingerprint(const ApiRequest& request) {
  return sigv4::sha256_hex(request.method + "\n" + request.raw_path + "\n" + request.body);
}

}  // namespace

std::string header_lines(const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string out;
  for (const auto& [name, value] : headers) out += name + ": " + value + "\n";
  return out;
}

std::vector<std::pair<std::string, std::string>> parse_header_lines(std::string_view lines) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!lines.empty()) {
    const std::size_t end = lines.find('\n');
    const std::string_view line = lines.substr(0, end);
    const std::size_t colon = line.find(": ");
    if (colon != std::string_view::npos) out.emplace_back(line.substr(0, colon), line.substr(colon + 2));
    lines = end == std::string_view::npos ? std::string_view() : lines.substr(end + 1);
  }
  return out;
}

ApiResponse Idempotency::run(const RouteCall& call, const std::function<ApiResponse()>& handler) {
  const auto header = call.request.headers.find("idempotency-key");
  if (header == call.request.headers.end()) return handler();
  const std::string& key = header->second;
  if (!valid_key(key)) {
    return problem_response(
        invalid_input({{"Idempotency-Key", "must be 1-128 printable ASCII characters without spaces"}}));
  }
  const std::int64_t now = clock_();
  IdempotencyRecord record{.fingerprint = fingerprint(call.request),
                           .expires_at_micros = now + kIdempotencyKeepMicros,
                           .lease_until_micros = now + kLeaseMicros};
  auto held = store_.take(call.caller.owner, key, record, now, call.deadline);
  if (!held) return problem_response(upstream_failure(held.error()));
  if (const auto& existing = held.value()) {
    if (existing->fingerprint != record.fingerprint) {
      return problem_response(invalid_input(
          {{"Idempotency-Key", "was used with another request in the last 24 h (method, path or body)"}}));
    }
    if (!existing->complete) {
      return problem_response(
          make_problem(409, "request-in-flight", "The same request is in flight",
                       "a request with this Idempotency-Key has not finished; retry later"));
    }
    ApiResponse replay{
        .status = existing->status, .headers = parse_header_lines(existing->headers), .body = existing->body};
    replay.headers.emplace_back("Idempotent-Replayed", "true");
    return replay;
  }
  ApiResponse answer = handler();
  if (answer.status >= 500) {
    // Best effort: a key not freed is free again when its lease ends.
    (void)store_.release(call.caller.owner, key, call.deadline);
    return answer;
  }
  record.complete = true;
  record.status = answer.status;
  record.headers = header_lines(answer.headers);
  record.body = answer.body;
  // Best effort: the change is made and answered; a record not stored frees the key when its lease ends.
  (void)store_.complete(call.caller.owner, key, record, call.deadline);
  return answer;
}

}  // namespace tap::api
