"""A token bucket per channel inside one worker process (thread-safe, ``time.monotonic`` based).

With ``burst=1`` it is an exact pacer: the n-th message may start no earlier than ``(n-1)/rate`` seconds
after the first, whatever the number of sender threads. Across several worker processes each one is given
``rate / DISPATCH_WORKERS`` (``app.dispatch.settings``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """``rate`` tokens per second (0 = unlimited), at most ``burst`` saved up. ``clock`` returns seconds
    (monotonic) and ``sleep`` waits; both injectable for tests."""

    def __init__(self, rate: float, *, burst: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate = rate
        self.burst = max(1.0, burst)
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._tokens = self.burst
        self._stamp = clock()

    def _refill(self, now: float) -> None:
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def reserve(self) -> float:
        """Take one token now, possibly going into debt; returns the seconds the caller must wait."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            self._refill(self._clock())
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def acquire(self) -> None:
        """Block until one token is ours."""
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)

    def available_within(self, seconds: float) -> int:
        """How many tokens will be available within ``seconds`` (a claim size hint; large when unlimited)."""
        if self.rate <= 0:
            return 1 << 30
        with self._lock:
            self._refill(self._clock())
            return max(0, int(self._tokens + seconds * self.rate))
