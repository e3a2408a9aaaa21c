"""A token bucket for ``rate_limit`` (requests per second), with an injectable clock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio


class TokenBucket:
    """Allows ``rate`` requests per second on average and bursts of up to ``burst``.

    Waiters are served one at a time (a lock), so the bucket never goes below zero and no caller
    is starved by a faster one. The clock and sleep are injectable so tests need not sleep.
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: float = 1.0,
        clock: Callable[[], float] = anyio.current_time,
        sleep: Callable[[float], Awaitable[object]] = anyio.sleep,
    ) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._updated: float | None = None
        self._lock: anyio.Lock | None = None  # created inside the running loop

    async def acquire(self) -> None:
        if self._lock is None:
            self._lock = anyio.Lock()
        async with self._lock:
            self._refill()
            if self._tokens < 1.0:
                await self._sleep((1.0 - self._tokens) / self.rate)
                self._refill()
                # It slept for a whole token: rounding in the clock must not make it wait again.
                self._tokens = max(self._tokens, 1.0)
            self._tokens -= 1.0

    def _refill(self) -> None:
        now = self._clock()
        if self._updated is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
