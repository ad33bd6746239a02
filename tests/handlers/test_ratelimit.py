"""The per-user sliding-window limiter and the request budget on top of it."""

from __future__ import annotations

from typing import Any

from handlers import ratelimit
from handlers.ratelimit import Charge, RequestBudget, SlidingWindowLimiter


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


def test_the_request_budget_tells_once_per_window_then_frees_up() -> None:
    clock = Clock()
    budget = RequestBudget(4, 60.0, clock)

    answers = [budget.charge(7) for _ in range(7)]
    clock.now += 61
    later = budget.charge(7)

    assert [a.allowed for a in answers] == [True] * 4 + [False] * 3
    assert [a.tell for a in answers[4:]] == [True, False, False]  # one "slow down", then quiet
    assert answers[4].wait_s == 60
    assert later == Charge(True)


def test_in_a_group_one_member_gets_a_quarter_of_the_budget() -> None:
    budget = RequestBudget(20, 60.0, Clock())

    in_group = [budget.charge(7, group_id=-100).allowed for _ in range(6)]
    elsewhere = budget.charge(7, group_id=-200).allowed
    in_private = budget.charge(7).allowed

    assert in_group == [True] * 5 + [False]
    assert (elsewhere, in_private) == (True, True)


def test_the_budget_remembers_a_bounded_number_of_refused_users(monkeypatch: Any) -> None:
    monkeypatch.setattr(ratelimit, "MAX_TRACKED", 50)
    clock = Clock()
    budget = RequestBudget(1, 60.0, clock)

    for user in range(200):
        budget.charge(user)
        budget.charge(user)  # refused: noted as told
        clock.now += 1

    assert len(budget._told) <= 61  # only those told within the window
