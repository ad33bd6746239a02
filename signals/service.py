"""The one service the handlers and the CLI call: market state in, graded CheckResult out."""

from __future__ import annotations

import asyncio
import dataclasses
import difflib
import functools
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from signals.defaults import UserDefaults, complete_idea
from signals.derived import Market, compute_market
from signals.errors import NoMarketData, NotInSnapshot, UnknownAsset
from signals.grade import CheckResult, grade_check
from signals.idea import TradeIdea
from signals.liq_history import read_liquidations
from signals.market import DAY_MS, HOUR_MS, AssetData
from signals.snapshot import load_snapshot

if TYPE_CHECKING:
    from settings import Settings
    from signals.store import Store, StoreError
    from signals.track import TrackBook

log = logging.getLogger(__name__)


class MarketSource(Protocol):
    """Where market state comes from: a snapshot file or the live venues."""

    async def start(self) -> None:
        """Open connections and load what the first check needs."""

    async def close(self) -> None:
        """Release every connection."""

    def known_assets(self) -> set[str]:
        """Assets this source can give data for."""

    async def fetch_asset(self, asset: str) -> tuple[int, AssetData]:
        """`asof` and one asset's inputs; UnknownAsset or NoMarketData when there are none."""


class SnapshotSource:
    """Market state from a snapshot file, re-read whenever the file changes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._stamp: tuple[int, int] | None = None
        self._asof = 0
        self._assets: dict[str, AssetData] = {}
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Load the file once so a malformed snapshot fails at start-up."""
        await self._refresh()

    async def close(self) -> None:
        """Nothing to release."""

    def known_assets(self) -> set[str]:
        """Assets present in the snapshot."""
        return set(self._assets)

    async def fetch_asset(self, asset: str) -> tuple[int, AssetData]:
        """The snapshot's `asof` and the asset's inputs; NotInSnapshot if it is not held."""
        await self._refresh()
        data = self._assets.get(asset)
        if data is None:
            raise self.not_held(asset)
        return self._asof, data

    def not_held(self, asset: str) -> NotInSnapshot:
        """The error for an asset the snapshot does not hold (it may well trade live)."""
        held = tuple(sorted(self._assets))
        matches = tuple(difflib.get_close_matches(asset, held, n=3, cutoff=0.5))
        demo = any(d.origin == "demo" for d in self._assets.values())
        return NotInSnapshot(asset, self.path.name, held, matches, demo, self._asof)

    async def _refresh(self) -> None:
        try:
            st = os.stat(self.path)
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = None
        if stamp is not None and stamp == self._stamp:
            return
        async with self._lock:
            if stamp is not None and stamp == self._stamp:
                return
            asof, assets = await asyncio.to_thread(load_snapshot, self.path)
            self._asof, self._assets, self._stamp = asof, assets, stamp
            log.info("snapshot %s loaded: %d assets, asof %d", self.path, len(assets), asof)


class LiveSource:
    """Market state from the venues (ccxt REST), with liquidations and skew history from the
    local store (both recorded here, next to each other, never by the REST module).

    The store is read alongside the venue requests, never after them, and what it gives is
    kept in memory: the liquidation hours until the next hour closes (re-read at most once a
    `HISTORY_REFRESH_S`, for rows the collector or the backfill add late), the recorded skew
    samples until `HISTORY_REFRESH_S`, with every sample this process records added as it
    goes. A warm check touches no file. Both memories hold at most `MAX_ASSETS` assets.
    """

    def __init__(
        self,
        settings: Settings,
        store: Store | None,
        market: Any = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        from signals.cache import MAX_ASSETS, LruDict
        from signals.live import LiveMarket

        self.settings = settings
        self.store = store
        self.market = market if market is not None else LiveMarket(settings)
        self._clock = clock or getattr(self.market, "_clock", None) or time.time
        self._liquidations: LruDict = LruDict(MAX_ASSETS)
        self._skew: LruDict = LruDict(MAX_ASSETS)
        # asset → the parts of its last state and the state they made: a warm check made of
        # the very same parts gets the very same AssetData (its quantities, its grade at 1x
        # and its chart are then computed once for it, not once per check)
        self._states: LruDict = LruDict(MAX_ASSETS)
        self._reads: dict[tuple[str, str], asyncio.Task[Any]] = {}
        self._writes: set[asyncio.Task[None]] = set()
        self.history_reads = 0

    @property
    def policy(self) -> Any:
        """The request policy of the live venues (shared with the liquidation backfill)."""
        return getattr(self.market, "policy", None)

    async def start(self, wait_for_markets: bool = True) -> None:
        """Create exchanges and load markets: waited for (up to one request timeout) by the
        bot, whose commands need the asset list; a one-shot check waits for them inside its
        own budget instead."""
        await self.market.start()
        if wait_for_markets:
            await self.market.ready(self.settings.request_timeout_s)

    async def flush(self) -> None:
        """Wait until every skew sample recorded so far is in the store."""
        await asyncio.gather(*list(self._writes), return_exceptions=True)

    async def close(self) -> None:
        """Finish recording, close every exchange."""
        for task in list(self._reads.values()):
            task.cancel()
        await asyncio.gather(*self._reads.values(), return_exceptions=True)
        await self.flush()
        await self.market.close()

    def known_assets(self) -> set[str]:
        """Base symbols with a USDT-margined perpetual on any venue."""
        return set(self.market.known_assets())

    def exchange_with_markets(self, venue: str) -> Any:
        """The venue's REST exchange when its markets are loaded (the collector shares them)."""
        finder = getattr(self.market, "exchange_with_markets", None)
        return finder(venue) if finder is not None else None

    async def fetch_asset(self, asset: str) -> tuple[int, AssetData]:
        """Live inputs, with the collector's liquidation buckets, their coverage and the
        recorded skew history merged in (the fresh skew sample is recorded, in the
        background)."""
        asset = asset.strip().upper()
        if self.store is None:
            return await self.market.fetch_asset(asset)  # type: ignore[no-any-return]
        now_ms = int(self._clock() * 1000)
        # the store is read while the venues are asked: the reads cost the check no time
        liq_read = asyncio.ensure_future(self._liquidations_at(asset, now_ms))
        skew_read = asyncio.ensure_future(self._skew_rows(asset, now_ms))
        try:
            asof, data = await self.market.fetch_asset(asset)
            liq, skew_rows = await asyncio.gather(liq_read, skew_read)
        except BaseException:
            liq_read.cancel()
            skew_read.cancel()
            raise
        if liq.hour_end != _hour_end(asof):  # an hour closed while the venues answered
            liq = await self._liquidations_at(asset, asof)
        parts = (asof, data, liq, skew_rows, len(skew_rows))
        held = self._states.get(asset)
        if (
            held is not None
            and _same(held[0], parts)
            and not _unrecorded(skew_rows, data.skew_rr25_30d, asof)
        ):
            return asof, held[1]
        skew, since = self._merge_skew(asset, asof, skew_rows, data.skew_rr25_30d)
        sources = {**data.sources, "skew_history_since": since}
        state = dataclasses.replace(
            data,
            liquidations_1h=liq.frame,
            liq_coverage=liq.coverage,
            skew_rr25_30d=skew,
            sources=sources,
        )
        # the skew rows now hold the fresh sample: keyed on their size after the merge
        self._states[asset] = ((asof, data, liq, skew_rows, len(skew_rows)), state)
        return asof, state

    # ---- liquidations -------------------------------------------------------------------

    async def _liquidations_at(self, asset: str, at_ms: int) -> _LiqHours:
        """The closed hours before `at_ms`: from memory while fresh, else one store read."""
        hour_end = _hour_end(at_ms)
        held: _LiqHours | None = self._liquidations.get(asset)
        now = self._clock()
        if (
            held is not None
            and held.hour_end == hour_end
            and now < held.read_at + HISTORY_REFRESH_S
        ):
            return held
        read = await self._shared_read(
            (asset, f"liq:{hour_end}"), lambda: self._read_liquidations(asset, at_ms)
        )
        self._liquidations[asset] = read
        return read  # type: ignore[no-any-return]

    def _read_liquidations(self, asset: str, at_ms: int) -> _LiqHours:
        assert self.store is not None
        th = self.settings.thresholds
        read_at = self._clock()
        # read_liquidations degrades itself on a broken store (the flag is then unknown)
        frame, coverage = read_liquidations(
            self.store, asset, at_ms, hours=th.liq_window_buckets, min_buckets=th.liq_min_buckets
        )
        return _LiqHours(_hour_end(at_ms), frame, coverage, read_at)

    # ---- skew ---------------------------------------------------------------------------

    async def _skew_rows(self, asset: str, now_ms: int) -> dict[int, float]:
        """The recorded samples of the asset (30 days back), from memory while fresh."""
        held: _SkewRows | None = self._skew.get(asset)
        now = self._clock()
        if held is not None and now < held.read_at + HISTORY_REFRESH_S:
            return held.rows
        read = await self._shared_read((asset, "skew"), lambda: self._read_skew(asset, now_ms))
        current: _SkewRows | None = self._skew.get(asset)
        if current is not None and current.read_at > read.read_at:
            return current.rows
        self._skew[asset] = read
        return read.rows  # type: ignore[no-any-return]

    def _read_skew(self, asset: str, now_ms: int) -> _SkewRows:
        from signals.skew_history import SKEW_HISTORY_MS, read_skew

        assert self.store is not None
        read_at = self._clock()
        # a day of margin: samples recorded later than now_ms are added as they are recorded
        rows = read_skew(self.store, asset, now_ms - SKEW_HISTORY_MS - DAY_MS, now_ms + DAY_MS)
        return _SkewRows(dict(rows), read_at)

    def _merge_skew(
        self, asset: str, asof: int, rows: dict[int, float], fresh: Any
    ) -> tuple[Any, int | None]:
        """The 30 days of samples up to asof with the fresh one in; record the fresh one."""
        from signals.skew_history import skew_series

        new = [(int(ts), float(rr)) for ts, rr in fresh.items() if int(ts) <= asof]
        unrecorded = _unrecorded(rows, fresh, asof)
        if unrecorded:
            held: _SkewRows | None = self._skew.get(asset)
            if held is not None:  # the memory holds what this process records
                held.rows.update(unrecorded)
            self._record(asset, unrecorded)
        return skew_series({**rows, **dict(new)}, asof)

    def _record(self, asset: str, samples: list[tuple[int, float]]) -> None:
        from signals.skew_history import record_skew_rows

        store = self.store
        assert store is not None
        task = asyncio.ensure_future(asyncio.to_thread(record_skew_rows, store, asset, samples))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    # ---- store reads, off the event loop, one at a time per key -----------------------------

    async def _shared_read(self, key: tuple[str, str], read: Callable[[], Any]) -> Any:
        task = self._reads.get(key)
        if task is None:
            self.history_reads += 1
            task = asyncio.ensure_future(asyncio.to_thread(read))
            self._reads[key] = task
            task.add_done_callback(functools.partial(_forget, self._reads, key))
        return await asyncio.shield(task)


HISTORY_REFRESH_S = 60.0


def _same(held: tuple[Any, ...], parts: tuple[Any, ...]) -> bool:
    """The same data time, the same objects and the same number of skew rows."""
    return (
        held[0] == parts[0]
        and all(a is b for a, b in zip(held[1:4], parts[1:4], strict=True))
        and held[4] == parts[4]
    )


def _unrecorded(rows: dict[int, float], fresh: Any, asof: int) -> list[tuple[int, float]]:
    """The fresh skew samples (at or before asof) the recorded rows do not hold yet."""
    new = [(int(ts), float(rr)) for ts, rr in fresh.items() if int(ts) <= asof]
    return [(ts, rr) for ts, rr in new if rows.get(ts) != rr]


@dataclass(frozen=True)
class _LiqHours:
    hour_end: int
    frame: Any
    coverage: Any
    read_at: float


@dataclass
class _SkewRows:
    rows: dict[int, float]
    read_at: float


def _forget(reads: dict[tuple[str, str], Any], key: tuple[str, str], _task: Any) -> None:
    reads.pop(key, None)


def _hour_end(ms: int) -> int:
    return int(ms) - int(ms) % HOUR_MS


class CheckService:
    """Grades trade ideas against the configured market source."""

    def __init__(
        self,
        settings: Settings,
        source: MarketSource | None = None,
        store: Store | None = None,
    ) -> None:
        self.settings = settings
        self.thresholds = settings.thresholds
        # a Store handed in belongs to the caller (the bot opens one per process)
        self.store = store
        self._owns_store = False
        # why the store could not be opened, when it could not (live data, no store given)
        self.store_problem: StoreError | None = None
        self.source: MarketSource = source if source is not None else self._default_source()
        self.collector: Any = None
        # the daily track records (signals/track.py): a check of a watched asset carries its
        # one-line track record; None until the bot sets it up
        self.track: TrackBook | None = None

        from signals.cache import MAX_ASSETS, LruDict

        # asset → (asof, the state, its both-sides grade at 1x): see `market`
        self._markets: LruDict = LruDict(MAX_ASSETS)
        # asset → (asof, the state, its SPEC §2 quantities): see `_market_of`
        self._computed: LruDict = LruDict(MAX_ASSETS)

    def _default_source(self) -> MarketSource:
        if self.settings.snapshot_path:
            return SnapshotSource(self.settings.snapshot_path)
        if self.store is None:
            from signals.store import Store, StoreError

            try:
                self.store = Store(self.settings.store_path)
                self._owns_store = True
            except StoreError as e:  # a check still grades; its liquidation flag is unknown
                log.warning("%s (liquidation history unavailable)", e)
                self.store_problem = e
        return LiveSource(self.settings, self.store)

    async def start(self, *, collect: bool = False, wait_for_markets: bool = True) -> None:
        """Start the source (markets) and, for live data, the liquidation collector.

        A one-shot command passes wait_for_markets=False: its check's budget covers them."""
        if isinstance(self.source, LiveSource):
            await self.source.start(wait_for_markets=wait_for_markets)
        else:
            await self.source.start()
        if collect and isinstance(self.source, LiveSource) and self.store is not None:
            from signals.collector import LiquidationCollector

            self.collector = LiquidationCollector(
                self.settings,
                self.store,
                policy=self.source.policy,
                markets_of=self.source.exchange_with_markets,
            )
            await self.collector.start()

    async def close(self) -> None:
        """Stop the collector, close exchanges and the store."""
        if self.collector is not None:
            await self.collector.stop()
            self.collector = None
        await self.source.close()
        if self.store is not None and self._owns_store:
            self.store.close()

    def known_assets(self) -> set[str]:
        """Assets this service can grade."""
        return self.source.known_assets()

    def unknown_asset(self, error: UnknownAsset) -> UnknownAsset:
        """`error` (an asset not among `known_assets`) as this source would say it: replaying a
        snapshot, the asset is missing from the file, not from the exchanges."""
        if isinstance(self.source, SnapshotSource) and not isinstance(error, NotInSnapshot):
            return self.source.not_held(error.asset)
        return error

    async def asset_state(self, asset: str) -> tuple[int, AssetData]:
        """`asof` and one asset's inputs; NoMarketData when there is nothing to grade."""
        asof, data = await self.source.fetch_asset(asset.upper())
        if not data.has_any_data():
            replay = data.origin_name if data.origin != "live" else None
            raise NoMarketData(asset, "every series is empty", snapshot=replay)
        return asof, data

    async def check(self, idea: TradeIdea, defaults: UserDefaults | None = None) -> CheckResult:
        """Grade a trade idea (one side, or both), its gaps filled from the user's defaults.

        Raises ParseError for bad input only the data reveals (an entry far from the price,
        a stop on the wrong side of it), besides the data errors of `asset_state`.
        """
        idea = complete_idea(idea, defaults)
        asof, data = await self.asset_state(idea.asset)
        market = self._market_of(idea.asset.upper(), asof, data)
        result = grade_check(idea, data, asof, self.thresholds, market)
        return self.track.attach(result) if self.track is not None else result

    def _market_of(self, asset: str, asof: int, data: AssetData) -> Market:
        """SPEC §2's quantities of one market state, computed once however many ideas are
        graded against it (they do not depend on the idea)."""
        held = self._computed.get(asset)
        if held is not None and held[0] == asof and held[1] is data:
            return held[2]  # type: ignore[no-any-return]
        market = compute_market(data, asof, self.thresholds)
        self._computed[asset] = (asof, data, market)
        return market

    async def market(self, asset: str) -> CheckResult:
        """Both sides graded at 1x: the dashboard's flag counts per side.

        Graded once per market state: the dashboard, the watcher and every group's summary
        asking for the same asset and data time share one grade (the track line is attached
        on every call: the daily job may have recorded a new one since)."""
        result, _ = await self.market_state(asset)
        return self.track.attach(result) if self.track is not None else result

    async def market_state(self, asset: str) -> tuple[CheckResult, AssetData]:
        """Both sides graded at 1x and the inputs they were graded from, from one read: a
        chart draws the very data its title's verdicts come from."""
        asset = asset.upper()
        asof, data = await self.asset_state(asset)
        held = self._markets.get(asset)
        if held is not None and held[0] == asof and held[1] is data:
            return held[2], data
        market = self._market_of(asset, asof, data)
        idea = TradeIdea(asset=asset, side=None)
        result = grade_check(idea, data, asof, self.thresholds, market)
        self._markets[asset] = (asof, data, result)
        return result, data
