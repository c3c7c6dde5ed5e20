"""The stage's token bucket (local/token_bucket.py) at its boundaries: the gaps a mutation run found
(issue 18). The clock starts far from zero so an elapsed time is never the clock's own reading."""

from __future__ import annotations

import pytest

from local.token_bucket import TokenBucket


class Clock:
    def __init__(self, at: float) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


def test_a_negative_rate_or_burst_is_refused_and_zero_is_allowed() -> None:
    for rate, burst in ((-0.5, 1), (1.0, -1)):
        with pytest.raises(ValueError, match=r"^rate and burst are not negative$"):
            TokenBucket(rate, burst)
    closed = TokenBucket(0.0, 0, Clock(5.0))
    assert (closed.rate, closed.burst, closed.take()) == (0.0, 0, False)


def test_the_bucket_starts_full_and_refills_by_the_time_elapsed_since_the_last_take() -> None:
    clock = Clock(1000.0)
    bucket = TokenBucket(rate=2.0, burst=3, clock=clock)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    clock.at += 0.25  # half a token
    assert bucket.take() is False
    clock.at += 0.25  # with the half kept: exactly one token
    assert [bucket.take(), bucket.take()] == [True, False]
    assert bucket.take() is False  # no time passed: nothing refilled twice
    clock.at += 0.75  # 1.5 tokens: one request, half a token kept
    assert [bucket.take(), bucket.take()] == [True, False]
    clock.at += 0.25
    assert bucket.take() is True


def test_the_refill_is_capped_at_the_burst() -> None:
    clock = Clock(1000.0)
    bucket = TokenBucket(rate=10.0, burst=2, clock=clock)
    clock.at += 60.0
    assert [bucket.take() for _ in range(3)] == [True, True, False]


def test_time_before_the_bucket_was_made_does_not_count() -> None:
    clock = Clock(1000.0)
    bucket = TokenBucket(rate=1.0, burst=1, clock=clock)
    assert bucket.take() is True
    clock.at += 0.5
    assert bucket.take() is False
