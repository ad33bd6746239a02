"""Per-user limits, in memory: a sliding one-minute window, and the request budget on top."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Charge:
    """The budget's answer to one request."""

    allowed: bool
    wait_s: int = 0  # whole seconds (≥ 1) until the sender may ask again, when refused
    tell: bool = False  # refused, and the sender has not been told in this window
    limit: int = 0  # refused: the per-minute limit that refused it (a group member's, or all)


class RequestBudget:
    """Every request a user makes counts: commands, refusals, buttons, free text, captions.

    `per_minute` per user over all chats; in a group, one member gets a quarter of it, as
    the bot can send only about 20 messages a minute into one group. A refused request is
    answered once per window ("slow down"), then ignored until the window frees up.
    """

    def __init__(
        self, per_minute: int, window_s: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.per_minute = per_minute
        self.per_group_member = max(1, per_minute // 4)
        self._user = SlidingWindowLimiter(per_minute, window_s, clock)
        self._member = SlidingWindowLimiter(self.per_group_member, window_s, clock)
        self._window_s = window_s
        self._clock = clock
        self._told: dict[Hashable, float] = {}

    def charge(self, user_id: int, group_id: int | None = None) -> Charge:
        """Count one request of `user_id` (sent in `group_id`, if a group)."""
        limit = self.per_group_member
        wait = self._member.acquire((user_id, group_id)) if group_id is not None else None
        if wait is None:
            limit, wait = self.per_minute, self._user.acquire(user_id)
        if wait is None:
            return Charge(True)
        return Charge(False, max(1, round(wait)), self._first_refusal(user_id), limit)

    def _first_refusal(self, user_id: int) -> bool:
        now = self._clock()
        told = self._told.get(user_id)
        if told is not None and now - told < self._window_s:
            return False
        if len(self._told) >= MAX_TRACKED:
            self._told = {k: t for k, t in self._told.items() if now - t < self._window_s}
        self._told[user_id] = now
        return True
