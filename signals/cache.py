"""A TTL cache keyed per (asset, metric) whose concurrent misses share one in-flight fetch."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class _Entry:
    value: Any
    expires_at: float


class TtlCache:
    """Values live for their TTL; a miss starts one fetch that every concurrent caller awaits.

    Failures are not cached: the next caller after a failed fetch starts a new one. A caller
    that gives up (its check ran out of time) does not cancel the shared fetch, so its result
    still lands in the cache for the next check.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._values: dict[Hashable, _Entry] = {}
        self._inflight: dict[Hashable, asyncio.Task[Any]] = {}
        self.hits = 0
        self.misses = 0

    def peek(self, key: Hashable) -> Any | None:
        """The fresh cached value for `key`, or None."""
        entry = self._values.get(key)
        if entry is None or entry.expires_at <= self._clock():
            return None
        return entry.value

    async def get(self, key: Hashable, ttl_s: float, fetch: Callable[[], Awaitable[T]]) -> T:
        """Return the cached value, or join (or start) the one in-flight fetch for `key`."""
        entry = self._values.get(key)
        if entry is not None and entry.expires_at > self._clock():
            self.hits += 1
            return entry.value  # type: ignore[no-any-return]
        task = self._inflight.get(key)
        if task is None:
            self.misses += 1
            task = asyncio.create_task(self._run(key, ttl_s, fetch))
            task.add_done_callback(_consume_exception)
            self._inflight[key] = task
        return await asyncio.shield(task)  # type: ignore[no-any-return]

    async def _run(self, key: Hashable, ttl_s: float, fetch: Callable[[], Awaitable[T]]) -> T:
        try:
            value = await fetch()
            self._values[key] = _Entry(value, self._clock() + ttl_s)
            return value
        finally:
            self._inflight.pop(key, None)

    def clear(self) -> None:
        """Forget every cached value (in-flight fetches keep running)."""
        self._values.clear()

    async def aclose(self) -> None:
        """Cancel every in-flight fetch and wait for them to finish."""
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._inflight.clear()


def _consume_exception(task: asyncio.Task[Any]) -> None:
    # A fetch whose callers all gave up may fail unobserved; read the error so asyncio
    # does not warn "exception was never retrieved", and log it once here.
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.debug("shared fetch failed: %r", exc)
