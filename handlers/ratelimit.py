"""Per-user rate limit on checks: a sliding one-minute window, in memory."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Hashable

# Past this many tracked users, forget the ones idle for a whole window (bounds memory).
MAX_TRACKED = 10_000


class SlidingWindowLimiter:
    """At most `limit` events per `window_s` seconds for each key."""

    def __init__(
        self, limit: int, window_s: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._events: dict[Hashable, deque[float]] = {}

    def acquire(self, key: Hashable) -> float | None:
        """Record one event for `key`; return None if allowed, else seconds until a slot frees."""
        now = self._clock()
        events = self._events.get(key)
        if events is None:
            if len(self._events) >= MAX_TRACKED:
                self._forget_idle(now)
            events = self._events[key] = deque()
        while events and events[0] <= now - self.window_s:
            events.popleft()
        if len(events) >= self.limit:
            return events[0] + self.window_s - now
        events.append(now)
        return None

    def _forget_idle(self, now: float) -> None:
        self._events = {
            key: events
            for key, events in self._events.items()
            if events and events[-1] > now - self.window_s
        }
