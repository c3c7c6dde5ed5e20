// Idempotency-Key on the API's POSTs (A2), over the IdempotencyStore port (rules_store.hpp): scoped per
// owner, kept 24 h. The key is taken before the request runs (one conditional write: of two concurrent
// requests with one key, one runs and the other is 409 `request-in-flight`); its answer is stored and a
// replay answers it again (with `Idempotent-Replayed: true`); the same key with another request (method,
// path or body) is 422. A request that ends in a 5xx frees its key, so the client's retry runs; a 503 may
// leave a change that lands later, and the retry then meets the rule as changed (a create: 409, the name is
// taken). A crashed request holds its key for kLeaseMicros, not 24 h.
#pragma once

#include <cstdint>
#include <functional>

#include "tap/api/router.hpp"
#include "tap/app/rules_store.hpp"

namespace tap::api {

inline constexpr std::int64_t kIdempotencyKeepMicros = 24LL * 3600 * kMicrosPerSecond;
// Longer than any request runs (the API function's timeout is well under it).
inline constexpr std::int64_t kLeaseMicros = 60 * kMicrosPerSecond;
inline constexpr std::size_t kMaxIdempotencyKeyLength = 128;

class Idempotency {
 public:
  using Clock = std::function<std::int64_t()>;
  Idempotency(IdempotencyStore& store, Clock clock) : store_(store), clock_(std::move(clock)) {}

  // Runs `handler` under the call's Idempotency-Key header; without one, just runs it.
  ApiResponse run(const RouteCall& call, const std::function<ApiResponse()>& handler);

 private:
  IdempotencyStore& store_;
  Clock clock_;
};

// "Name: value" lines and back (the stored form of an answer's headers).
std::string header_lines(const std::vector<std::pair<std::string, std::string>>& headers);
std::vector<std::pair<std::string, std::string>> parse_header_lines(std::string_view lines);

}  // namespace tap::api
