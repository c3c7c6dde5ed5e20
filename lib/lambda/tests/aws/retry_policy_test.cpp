#include "tap/aws/retry_policy.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>

namespace tap {
namespace {

using namespace std::chrono_literals;
using std::chrono::microseconds;

struct Fakes {
  double u = 0.5;
  SteadyClock::time_point now{};
};

RetryPolicy policy(Fakes& f, RetryConfig config = {}) {
  return RetryPolicy(
      config, [&f] { return f.u; }, [&f] { return f.now; });
}

AwsError retryable() { return make_aws_error("ThrottlingException", "slow down", 400, true); }

TEST(RetryPolicy, CeilingDoublesUpToTheCap) {
  Fakes f;
  RetryPolicy p = policy(f, RetryConfig{10, 25ms, 2000ms, 1000ms});
  EXPECT_EQ(p.ceiling(0), microseconds(25000));
  EXPECT_EQ(p.ceiling(1), microseconds(50000));
  EXPECT_EQ(p.ceiling(3), microseconds(200000));
  EXPECT_EQ(p.ceiling(6), microseconds(1600000));
  EXPECT_EQ(p.ceiling(7), microseconds(2000000));
  EXPECT_EQ(p.ceiling(1000), microseconds(2000000));  // no overflow for huge attempt numbers
}

TEST(RetryPolicy, FullJitterIsUniformBelowTheCeiling) {
  Fakes f;
  RetryPolicy p = policy(f);
  const Deadline far = f.now + 60s;
  f.u = 0.0;
  EXPECT_EQ(p.delay_before_next(1, far), microseconds(0));
  f.u = 0.5;
  EXPECT_EQ(p.delay_before_next(1, far), microseconds(12500));  // first retry: up to base
  EXPECT_EQ(p.delay_before_next(2, far), microseconds(25000));
  EXPECT_EQ(p.delay_before_next(3, far), microseconds(50000));
  f.u = 0.999;
  EXPECT_EQ(p.delay_before_next(10, far), microseconds(1998000));
  f.u = 7.0;  // a broken random source cannot exceed the ceiling
  EXPECT_EQ(p.delay_before_next(10, far), microseconds(2000000));
}

TEST(RetryPolicy, NoWaitMayCrossTheDeadlineMinusTheMargin) {
  Fakes f;
  RetryPolicy p = policy(f, RetryConfig{8, 100ms, 2000ms, 1000ms});
  f.u = 0.5;                                                               // 50 ms after attempt 1
  EXPECT_EQ(p.delay_before_next(1, f.now + 1050ms), microseconds(50000));  // exactly fits
  EXPECT_EQ(p.delay_before_next(1, f.now + 1049ms), std::nullopt);
  f.now += 500ms;  // time moves on: the same deadline no longer leaves room
  EXPECT_EQ(p.delay_before_next(1, f.now + 600ms), std::nullopt);
}

TEST(RetryPolicy, RetriesOnlyRetryableErrorsAndOnlyUpToMaxAttempts) {
  Fakes f;
  RetryPolicy p = policy(f, RetryConfig{3, 10ms, 100ms, 0ms});
  AwsError fatal = make_aws_error("ValidationException", "bad", 400, false);
  EXPECT_FALSE(p.should_retry(fatal, 1));
  EXPECT_TRUE(p.should_retry(retryable(), 1));
  EXPECT_TRUE(p.should_retry(retryable(), 2));
  EXPECT_FALSE(p.should_retry(retryable(), 3));

  const Deadline far = f.now + 10s;
  EXPECT_EQ(p.next(fatal, 1, far), std::nullopt);
  EXPECT_EQ(p.retries(), 0U);
  EXPECT_EQ(p.next(retryable(), 1, far), microseconds(5000));
  EXPECT_EQ(p.next(retryable(), 2, far), microseconds(10000));
  EXPECT_EQ(p.next(retryable(), 3, far), std::nullopt);
  EXPECT_EQ(p.next(retryable(), 1, f.now), std::nullopt);  // no time: no retry, not counted
  EXPECT_EQ(p.retries(), 2U);
  p.count_retry();
  EXPECT_EQ(p.retries(), 3U);
  EXPECT_EQ(p.config().max_attempts, 3);
  EXPECT_EQ(p.now(), f.now);
}

TEST(RetryPolicy, DefaultSourcesStayInRange) {
  RetryPolicy p;
  const Deadline far = SteadyClock::now() + 60s;
  for (int attempt = 0; attempt < 200; ++attempt) {
    auto d = p.delay_before_next(1 + attempt % 10, far);
    ASSERT_TRUE(d.has_value());
    EXPECT_GE(*d, microseconds(0));
    EXPECT_LE(*d, p.ceiling(attempt % 10));
  }
  const auto before = SteadyClock::now();
  EXPECT_GE(p.now(), before);
}

// The default source must spread its draws over [0, 1): bounds alone would pass a constant source.
TEST(RetryPolicy, DefaultJitterSpreadsOverTheWholeRange) {
  RetryPolicy p(RetryConfig{8, 1000ms, 1000ms, 0ms});
  const Deadline far = SteadyClock::now() + 600s;
  int buckets[4] = {0, 0, 0, 0};
  for (int i = 0; i < 400; ++i) {
    const auto d = p.delay_before_next(1, far);
    ASSERT_TRUE(d.has_value());
    ASSERT_GE(*d, microseconds(0));
    ASSERT_LE(*d, microseconds(1'000'000));
    ++buckets[std::min<std::int64_t>(d->count() / 250'000, 3)];
  }
  for (int count : buckets) EXPECT_GE(count, 40);  // ~100 expected in each quarter
}

TEST(RetryPolicy, TheCeilingReachesTheCapExactlyAndStaysThere) {
  Fakes f;
  RetryPolicy p = policy(f, RetryConfig{10, 25ms, 200ms, 0ms});
  EXPECT_EQ(p.ceiling(2), microseconds(100000));
  EXPECT_EQ(p.ceiling(3), microseconds(200000));
  EXPECT_EQ(p.ceiling(4), microseconds(200000));
}

TEST(RetryPolicy, TheLastAllowedAttemptIsRetriedAndTheOneAfterIsNot) {
  Fakes f;
  RetryPolicy p = policy(f, RetryConfig{1, 10ms, 100ms, 0ms});
  EXPECT_FALSE(p.should_retry(retryable(), 1));  // one attempt in total: no retry at all
  EXPECT_EQ(p.next(retryable(), 1, f.now + 10s), std::nullopt);
  EXPECT_EQ(p.retries(), 0U);
}

}  // namespace
}  // namespace tap
