"""The per-user sliding-window limiter."""

from __future__ import annotations

from handlers import ratelimit
from handlers.ratelimit import SlidingWindowLimiter


class Clock:
    """A settable monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_allows_the_limit_then_says_how_long_to_wait() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(3, 60.0, clock)

    allowed = [limiter.acquire("alice") for _ in range(3)]
    clock.now += 20
    refused = limiter.acquire("alice")

    assert allowed == [None, None, None]
    assert refused == 40.0


def test_slots_free_up_as_the_window_slides() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(2, 60.0, clock)
    limiter.acquire("alice")
    clock.now += 30
    limiter.acquire("alice")

    clock.now += 30.5

    assert limiter.acquire("alice") is None
    assert limiter.acquire("alice") == 29.5


def test_users_are_limited_separately() -> None:
    limiter = SlidingWindowLimiter(1, 60.0, Clock())
    limiter.acquire("alice")

    assert limiter.acquire("bob") is None
    assert limiter.acquire("alice") == 60.0


def test_a_refused_attempt_does_not_extend_the_wait() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(1, 60.0, clock)
    limiter.acquire("alice")
    clock.now += 59
    limiter.acquire("alice")

    clock.now += 1

    assert limiter.acquire("alice") is None


def test_idle_users_are_forgotten_past_the_tracking_cap() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(1, 60.0, clock)
    cap = ratelimit.MAX_TRACKED
    for user in range(cap):
        limiter.acquire(user)
    clock.now += 61

    limiter.acquire("newcomer")

    assert list(limiter._events) == ["newcomer"]
