#include "tap/aws/retry_policy.hpp"

#include <algorithm>
#include <random>

namespace tap {

RetryPolicy::RetryPolicy(RetryConfig config, Random random, Now now)
    : config_(config), random_(std::move(random)), now_(std::move(now)) {}

RetryPolicy::RetryPolicy(RetryConfig config)
    : RetryPolicy(
          config,
          [engine = std::make_shared<std::mt19937_64>(std::random_device{}())]() {
            return std::uniform_real_distribution<double>(0.0, 1.0)(*engine);
          },
          [] { return SteadyClock::now(); }) {}

double RetryPolicy::draw() const {
  const std::scoped_lock lock(*mutex_);
  return random_();
}

std::uint64_t RetryPolicy::retries() const {
  const std::scoped_lock lock(*mutex_);
  return retries_;
}

void RetryPolicy::count_retry() {
  const std::scoped_lock lock(*mutex_);
  ++retries_;
}

bool RetryPolicy::should_retry(const AwsError& error, int attempt) const {
  return error.retryable && attempt < config_.max_attempts;
}

std::chrono::microseconds RetryPolicy::ceiling(int retry) const {
  const std::chrono::microseconds cap = config_.cap;
  std::chrono::microseconds ceiling = config_.base;
  for (int i = 0; i < retry && ceiling < cap; ++i) ceiling *= 2;  // no overflow: stops at the cap
  return std::min(ceiling, cap);
}

std::optional<std::chrono::microseconds> RetryPolicy::delay_before_next(int attempt,
                                                                        Deadline deadline) const {
  const double u = std::clamp(draw(), 0.0, 1.0);
  const auto delay = std::chrono::microseconds(
      static_cast<std::chrono::microseconds::rep>(u * static_cast<double>(ceiling(attempt - 1).count())));
  if (now_() + delay + config_.safety_margin > deadline) return std::nullopt;
  return delay;
}

std::optional<std::chrono::microseconds> RetryPolicy::next(const AwsError& error, int attempt,
                                                           Deadline deadline) {
  if (!should_retry(error, attempt)) return std::nullopt;
  auto delay = delay_before_next(attempt, deadline);
  if (delay) count_retry();
  return delay;
}

}  // namespace tap
