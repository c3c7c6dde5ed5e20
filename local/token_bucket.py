"""A token bucket: API Gateway's stage throttling (a steady `rate` of requests per second with bursts up
to `burst`). Pure apart from the clock it is given (monotonic seconds)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """Starts full (`burst` tokens); refills at `rate` per second up to `burst`; each request takes one."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        if rate < 0 or burst < 0:
            raise ValueError("rate and burst are not negative")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._at = clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        """True when a token was there (the request goes on), False when the request is throttled."""
        with self._lock:
            now = self._clock()
            self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False
