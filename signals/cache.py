"""A TTL cache keyed per (asset, metric) whose concurrent misses share one in-flight fetch.

Bounded: it holds the entries of at most `max_assets` assets and drops the least recently
used asset's entries, all of them, when one more arrives (keys are `(asset, metric)`; the
venue-wide entries of asset "*" are never dropped). Expired entries are dropped as they are
found and whenever an asset is evicted, so memory stays flat however many assets are asked.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
# how long a value lives: seconds, or a function of the value and the time it was fetched
# giving the time (clock seconds) it expires — "until the next bar closes"
Ttl = float | Callable[[Any, float], float]

MAX_ASSETS = 128
SHARED = "*"  # the asset of venue-wide entries (funding intervals, a Deribit book)


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

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, max_assets: int = MAX_ASSETS
    ) -> None:
        self._clock = clock
        self.max_assets = max_assets
        self._values: dict[Hashable, _Entry] = {}
        # asset → its keys, least recently used first
        self._by_asset: OrderedDict[Hashable, set[Hashable]] = OrderedDict()
        self._inflight: dict[Hashable, asyncio.Task[Any]] = {}
        self.hits = 0
        self.misses = 0
        self.evicted_assets = 0

    def __len__(self) -> int:
        return len(self._values)

    @property
    def assets(self) -> int:
        """How many assets (venue-wide entries aside) hold entries now."""
        return sum(1 for a in self._by_asset if a != SHARED)

    def peek(self, key: Hashable) -> Any | None:
        """The fresh cached value for `key`, or None."""
        entry = self._values.get(key)
        if entry is None or entry.expires_at <= self._clock():
            return None
        return entry.value

    def expires_at(self, key: Hashable) -> float | None:
        """When the cached value of `key` expires (clock seconds), or None if not cached."""
        entry = self._values.get(key)
        return entry.expires_at if entry is not None else None

    async def get(self, key: Hashable, ttl_s: Ttl, fetch: Callable[[], Awaitable[T]]) -> T:
        """Return the cached value, or join (or start) the one in-flight fetch for `key`."""
        entry = self._values.get(key)
        if entry is not None:
            if entry.expires_at > self._clock():
                self.hits += 1
                self._touch(key)
                return entry.value  # type: ignore[no-any-return]
            self._forget(key)
        task = self._inflight.get(key)
        if task is None:
            self.misses += 1
            task = asyncio.create_task(self._run(key, ttl_s, fetch))
            task.add_done_callback(_consume_exception)
            self._inflight[key] = task
        return await asyncio.shield(task)  # type: ignore[no-any-return]

    async def _run(self, key: Hashable, ttl_s: Ttl, fetch: Callable[[], Awaitable[T]]) -> T:
        try:
            value = await fetch()
            now = self._clock()
            expires = ttl_s(value, now) if callable(ttl_s) else now + ttl_s
            self._store(key, _Entry(value, expires))
            return value
        finally:
            self._inflight.pop(key, None)

    def _store(self, key: Hashable, entry: _Entry) -> None:
        self._values[key] = entry
        asset = _asset_of(key)
        keys = self._by_asset.get(asset)
        if keys is None:
            keys = self._by_asset[asset] = set()
        keys.add(key)
        self._by_asset.move_to_end(asset)
        while self.assets > self.max_assets:
            self._evict_oldest()

    def _touch(self, key: Hashable) -> None:
        asset = _asset_of(key)
        if asset in self._by_asset:
            self._by_asset.move_to_end(asset)

    def _forget(self, key: Hashable) -> None:
        self._values.pop(key, None)
        asset = _asset_of(key)
        keys = self._by_asset.get(asset)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_asset[asset]

    def _evict_oldest(self) -> None:
        for asset in self._by_asset:
            if asset == SHARED:
                continue
            for key in self._by_asset.pop(asset):
                self._values.pop(key, None)
            self.evicted_assets += 1
            break
        now = self._clock()
        for key in [k for k, e in self._values.items() if e.expires_at <= now]:
            self._forget(key)

    def invalidate(self, key: Hashable) -> None:
        """Drop one cached value (an in-flight fetch of it keeps running)."""
        self._forget(key)

    def clear(self) -> None:
        """Forget every cached value (in-flight fetches keep running)."""
        self._values.clear()
        self._by_asset.clear()

    async def aclose(self) -> None:
        """Cancel every in-flight fetch and wait for them to finish."""
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._inflight.clear()


def _asset_of(key: Hashable) -> Hashable:
    return key[0] if isinstance(key, tuple) and key else key


class LruDict(OrderedDict[Any, Any]):
    """A dict that keeps its `maxsize` most recently set or read keys."""

    def __init__(self, maxsize: int = MAX_ASSETS) -> None:
        super().__init__()
        self.maxsize = maxsize

    def __getitem__(self, key: Any) -> Any:
        value = super().__getitem__(key)
        self.move_to_end(key)
        return value

    def get(self, key: Any, default: Any = None) -> Any:
        """The value of `key` (now the most recently used), or `default`."""
        if key in self:
            return self[key]
        return default

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.maxsize:
            self.popitem(last=False)


def _consume_exception(task: asyncio.Task[Any]) -> None:
    # A fetch whose callers all gave up may fail unobserved; read the error so asyncio
    # does not warn "exception was never retrieved", and log it once here.
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.debug("shared fetch failed: %r", exc)
