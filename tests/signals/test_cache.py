"""TtlCache: TTL expiry, shared in-flight fetches, failures not cached, caller cancellation."""

from __future__ import annotations

import asyncio

import pytest

from signals.cache import TtlCache


class Clock:
    """A settable clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Counter:
    """A fetch that counts its calls and can be held open."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self) -> int:
        self.calls += 1
        await self.release.wait()
        return self.calls


async def test_value_is_served_from_cache_within_ttl_and_refetched_after() -> None:
    clock, fetch = Clock(), Counter()
    cache = TtlCache(clock)
    assert await cache.get(("ETH", "price"), 60, fetch) == 1
    clock.now += 59.9
    assert await cache.get(("ETH", "price"), 60, fetch) == 1
    assert (cache.hits, cache.misses) == (1, 1)
    clock.now += 0.1
    assert await cache.get(("ETH", "price"), 60, fetch) == 2
    assert fetch.calls == 2


async def test_keys_are_separate() -> None:
    fetch = Counter()
    cache = TtlCache(Clock())
    await cache.get(("ETH", "price"), 60, fetch)
    await cache.get(("ETH", "skew"), 300, fetch)
    await cache.get(("BTC", "price"), 60, fetch)
    assert fetch.calls == 3


async def test_concurrent_misses_share_one_fetch() -> None:
    fetch = Counter()
    fetch.release.clear()
    cache = TtlCache(Clock())
    waiters = [asyncio.create_task(cache.get("k", 60, fetch)) for _ in range(10)]
    await asyncio.sleep(0.01)
    fetch.release.set()
    assert await asyncio.gather(*waiters) == [1] * 10
    assert fetch.calls == 1


async def test_failures_reach_every_waiter_and_are_not_cached() -> None:
    calls = 0

    async def failing() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        raise RuntimeError("venue down")

    cache = TtlCache(Clock())
    results = await asyncio.gather(
        cache.get("k", 60, failing), cache.get("k", 60, failing), return_exceptions=True
    )
    assert [type(r) for r in results] == [RuntimeError, RuntimeError]
    assert calls == 1
    with pytest.raises(RuntimeError):
        await cache.get("k", 60, failing)
    assert calls == 2


async def test_a_caller_giving_up_does_not_cancel_the_shared_fetch() -> None:
    fetch = Counter()
    fetch.release.clear()
    cache = TtlCache(Clock())
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(cache.get("k", 60, fetch), timeout=0.01)
    fetch.release.set()
    await asyncio.sleep(0.01)
    assert cache.peek("k") == 1
    assert await cache.get("k", 60, fetch) == 1
    assert fetch.calls == 1


async def test_aclose_cancels_in_flight_fetches() -> None:
    fetch = Counter()
    fetch.release.clear()
    cache = TtlCache(Clock())
    waiter = asyncio.create_task(cache.get("k", 60, fetch))
    await asyncio.sleep(0.01)
    await cache.aclose()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert cache.peek("k") is None
