"""The one service the handlers and the CLI call: market state in, graded CheckResult out."""

from __future__ import annotations

import asyncio
import dataclasses
import difflib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from signals.defaults import UserDefaults, complete_idea
from signals.errors import NoMarketData, NotInSnapshot
from signals.grade import CheckResult, grade_check
from signals.idea import TradeIdea
from signals.liq_history import read_liquidations
from signals.market import AssetData
from signals.snapshot import load_snapshot

if TYPE_CHECKING:
    from settings import Settings
    from signals.store import Store
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
            held = tuple(sorted(self._assets))
            matches = tuple(difflib.get_close_matches(asset, held, n=3, cutoff=0.5))
            demo = any(d.origin == "demo" for d in self._assets.values())
            raise NotInSnapshot(asset, self.path.name, held, matches, demo, self._asof)
        return self._asof, data

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
    local store (both recorded here, next to each other, never by the REST module)."""

    def __init__(self, settings: Settings, store: Store | None, market: Any = None) -> None:
        from signals.live import LiveMarket

        self.settings = settings
        self.store = store
        self.market = market if market is not None else LiveMarket(settings)

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

    async def close(self) -> None:
        """Close every exchange."""
        await self.market.close()

    def known_assets(self) -> set[str]:
        """Base symbols with a USDT-margined perpetual on any venue."""
        return set(self.market.known_assets())

    async def fetch_asset(self, asset: str) -> tuple[int, AssetData]:
        """Live inputs, with the collector's liquidation buckets, their coverage and the
        recorded skew history merged in (the fresh skew sample is recorded first)."""
        asof, data = await self.market.fetch_asset(asset)
        if self.store is None:
            return asof, data
        frame, coverage, skew, skew_since = await asyncio.to_thread(self._read_history, data, asof)
        sources = {**data.sources, "skew_history_since": skew_since}
        return asof, dataclasses.replace(
            data,
            liquidations_1h=frame,
            liq_coverage=coverage,
            skew_rr25_30d=skew,
            sources=sources,
        )

    def _read_history(self, data: AssetData, asof: int) -> tuple[Any, Any, Any, int | None]:
        """Store I/O of one check, off the event loop: record skew, read liquidations and skew."""
        from signals.skew_history import record_skew, skew_with_history

        assert self.store is not None
        th = self.settings.thresholds
        record_skew(self.store, data.asset, data.skew_rr25_30d)
        # read_liquidations degrades itself on a broken store (the flag is then unknown)
        frame, coverage = read_liquidations(
            self.store,
            data.asset,
            asof,
            hours=th.liq_window_buckets,
            min_buckets=th.liq_min_buckets,
        )
        skew, since = skew_with_history(self.store, data.asset, asof, data.skew_rr25_30d)
        return frame, coverage, skew, since


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
        self.source: MarketSource = source if source is not None else self._default_source()
        self.collector: Any = None
        # the daily track records (signals/track.py): a check of a watched asset carries its
        # one-line track record; None until the bot sets it up
        self.track: TrackBook | None = None

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
                self.settings, self.store, policy=self.source.policy
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

    async def asset_state(self, asset: str) -> tuple[int, AssetData]:
        """`asof` and one asset's inputs; NoMarketData when there is nothing to grade."""
        asof, data = await self.source.fetch_asset(asset.upper())
        if not data.has_any_data():
            raise NoMarketData(asset, "every series is empty")
        return asof, data

    async def check(self, idea: TradeIdea, defaults: UserDefaults | None = None) -> CheckResult:
        """Grade a trade idea (one side, or both), its gaps filled from the user's defaults.

        Raises ParseError for bad input only the data reveals (an entry far from the price,
        a stop on the wrong side of it), besides the data errors of `asset_state`.
        """
        idea = complete_idea(idea, defaults)
        asof, data = await self.asset_state(idea.asset)
        result = grade_check(idea, data, asof, self.thresholds)
        return self.track.attach(result) if self.track is not None else result

    async def market(self, asset: str) -> CheckResult:
        """Both sides graded at 1x: the dashboard's flag counts per side."""
        return await self.check(TradeIdea(asset=asset.upper(), side=None))

    async def market_state(self, asset: str) -> tuple[CheckResult, AssetData]:
        """Both sides graded at 1x and the inputs they were graded from, from one read: a
        chart draws the very data its title's verdicts come from."""
        asof, data = await self.asset_state(asset)
        idea = TradeIdea(asset=asset.upper(), side=None)
        return grade_check(idea, data, asof, self.thresholds), data
