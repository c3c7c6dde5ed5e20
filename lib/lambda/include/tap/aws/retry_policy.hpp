// Retries AWS SDK style (F6): exponential backoff with full jitter, delay before retry n (n = 0 for
// the first) = uniform(0, min(cap, base * 2^n)), a maximum number of attempts, and no wait that would cross
// the invocation deadline minus a safety margin. The random source and the clock are injected. Thread-safe:
// the concurrent calls of one batch share one policy (its random source and retry count are locked; the
// injected clock must be safe to call from several threads).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include "tap/aws/aws_error.hpp"
#include "tap/aws/http_client.hpp"

namespace tap {

struct RetryConfig {
  int max_attempts = 8;  // attempts in total, the first included
  std::chrono::milliseconds base{25};
  std::chrono::milliseconds cap{2000};
  std::chrono::milliseconds safety_margin{1000};  // left before the deadline for reporting
};

class RetryPolicy {
 public:
  using Random = std::function<double()>;  // uniform in [0, 1)
  using Now = std::function<SteadyClock::time_point()>;

  RetryPolicy(RetryConfig config, Random random, Now now);
  explicit RetryPolicy(RetryConfig config = {});  // std::mt19937_64 seeded from random_device, steady clock

  // attempt: how many attempts have been made (1 after the first).
  [[nodiscard]] bool should_retry(const AwsError& error, int attempt) const;
  // The jittered wait before attempt + 1, uniform(0, ceiling(attempt - 1)): the first retry waits up to
  // `base`. nullopt when the wait plus the safety margin would cross the deadline.
  [[nodiscard]] std::optional<std::chrono::microseconds> delay_before_next(int attempt,
                                                                           Deadline deadline) const;
  [[nodiscard]] std::chrono::microseconds ceiling(int retry) const;  // min(cap, base * 2^retry), retry >= 0

  // Both of the above; counts the retry when it returns a delay.
  std::optional<std::chrono::microseconds> next(const AwsError& error, int attempt, Deadline deadline);

  [[nodiscard]] const RetryConfig& config() const { return config_; }
  [[nodiscard]] SteadyClock::time_point now() const { return now_(); }
  [[nodiscard]] std::uint64_t retries() const;  // for the metrics
  void count_retry();

 private:
  double draw() const;  // random_() under the lock

  RetryConfig config_;
  std::shared_ptr<std::mutex> mutex_ = std::make_shared<std::mutex>();
  Random random_;
  Now now_;
  std::uint64_t retries_ = 0;
};

}  // namespace tap
