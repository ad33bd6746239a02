"""The track record's live history source (SPEC §9): the venues for what they keep, the store for
what the bot recorded, and the store as the cache of both.

`LiveHistory.history(asset, lookback_days)` returns the same `History` a snapshot gives:
- daily candles (the first configured venue that has them), open interest per venue and every
  venue's settled funding come from the venues, page by page (signals/venue_history.py), and are
  kept in the store with the span each page made complete — a second run asks only for what is
  new since, and on the same UTC day nothing at all;
- hourly candles and OI, skew samples and hourly liquidation sums come from what the bot
  recorded (the hourly job, signals/recorder.py; the liquidation collector).

`asof` is the last 00:00 UTC: every evaluation time and every window SPEC §9 allows is closed by
then, so nothing later can change a report, and a second run the same day is served from the
store. `assemble` (pure) turns the stored rows into the engine's `AssetData`.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from signals import convert
from signals.errors import NoMarketData, UnknownAsset, VenueUnavailable
from signals.history import History, Progress
from signals.liq_history import covered_hours, hourly_frame
from signals.market import (
    DAY_MS,
    DEFAULT_MMR,
    HOUR_MS,
    OHLCV_COLUMNS,
    AssetData,
    VenueFunding,
    empty_liquidations,
    frame_from_rows,
)
from signals.skew_history import SKEW_METRIC
from signals.store import Store, StoreError
from signals.venue_history import (
    BAR_MS,
    CANDLES_1D,
    FUNDING,
    MMR,
    OI_1D,
    OI_1H,
    QUIRKS,
    SKEW,
    RequestLog,
    RequestPacer,
    SeriesFetch,
    current_interval,
    fetch_candles,
    fetch_funding,
    fetch_open_interest,
    instrument,
    normalise_to,
    oi_floor,
    pages_estimate,
)
from signals.venue_policy import RequestPolicy

if TYPE_CHECKING:
    from settings import Settings

log = logging.getLogger(__name__)

ORIGIN = "the venues and the store"
# venues whose daily OI starts or ends this close to the others' still join the OI sum
OI_EDGE_TOLERANCE_MS = 2 * DAY_MS
# the liquidation venues kept together must keep this share of the best venue's hours
LIQ_HOURS_KEPT = 0.95
# how far back the hourly job keeps the venues' hourly OI (they forget it after ~30 days)
HOURLY_OI_HOURS = 72
# a bar or settlement younger than this may not be published yet: it is stored when it
# comes, but its span is only noted complete once it is this old (so it is asked again)
SETTLE_LAG_MS = 15 * 60_000


def day_floor(ms: int) -> int:
    """00:00 UTC of the day holding `ms`."""
    return ms - ms % DAY_MS


def missing_ranges(spans: Sequence[Any], start: int, end: int) -> list[tuple[int, int]]:
    """The parts of [start, end) that no held span covers, in order."""
    gaps: list[tuple[int, int]] = []
    cursor = start
    for span in sorted(spans, key=lambda s: s.start_ms):
        if span.end_ms <= cursor:
            continue
        if span.start_ms >= end:
            break
        if span.start_ms > cursor:
            gaps.append((cursor, span.start_ms))
        cursor = max(cursor, span.end_ms)
    if cursor < end:
        gaps.append((cursor, end))
    return gaps


@dataclass
class FetchReport:
    """What one history load asked the venues, and what failed (for the report and the log)."""

    requests: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Every request made."""
        return sum(self.requests.values())


@dataclass(frozen=True)
class _Task:
    venue: str
    series: str
    start: int
    end: int


@dataclass
class _Venue:
    exchange: Any
    loaded_at: float = 0.0
    failure: str | None = None


class LiveHistory:
    """Long histories for `backtest` and `/track`: fetched once, then kept in the store.

    One load at a time per instance (a lock): the bot's daily job and a /track never ask a
    venue twice for the same page, and each load's request count is its own.
    """

    def __init__(
        self,
        settings: Settings,
        store: Store | None,
        *,
        policy: RequestPolicy | None = None,
        exchange_factory: Callable[[str], Any] | None = None,
        clock: Callable[[], float] = time.time,
        pacer: RequestPacer | None = None,
    ) -> None:
        self.settings = settings
        self._clock = clock
        # its own policy (the CLI) retries nothing in the background: the next load asks
        # again for whatever is missing; the bot hands in the live checks' shared one
        self.policy = policy or RequestPolicy(settings.request_timeout_s, clock, revive=False)
        self._factory = exchange_factory or _default_factory(settings)
        self.pacer = pacer or RequestPacer()
        self.log = RequestLog()
        self._venues: dict[str, _Venue] = {}
        self._lock = asyncio.Lock()
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        # this run: venues found not to list the asset, and whether any venue lists it
        self._absences: list[tuple[str, _Task]] = []
        self._listed = False
        if store is None:
            # no store: a throwaway one, so the same code path runs (nothing kept after)
            self._scratch = tempfile.TemporaryDirectory(prefix="preflight-history-")
            store = Store(Path(self._scratch.name) / "history.sqlite")
        self.store = store
        self.last_report = FetchReport()

    # ---- the HistorySource protocol -----------------------------------------------------

    async def history(
        self, asset: str, lookback_days: int, progress: Progress | None = None
    ) -> History:
        """The asset's history to the last 00:00 UTC, `lookback_days` back (SPEC §9 live)."""
        asset = asset.strip().upper()
        async with self._lock:
            now = self._now_ms()
            asof = day_floor(now)
            lower = asof - int(lookback_days) * DAY_MS
            report = await self._update(asset, lower, asof, now, progress, daily=True)
            stored = await self.store.run(
                read_stored, self.store, asset, lower, asof, self._venue_names()
            )
        self.last_report = report
        if stored.price_venue is None:
            self._raise_unavailable(asset, report)
        data = assemble(stored, report.failed, report.requests, now)
        return History(
            asof=asof,
            data=data,
            origin=ORIGIN,
            label=None,
            notes=history_notes(data, report),
        )

    async def refresh(self, asset: str) -> FetchReport:
        """Bring the venue series up to now (the hourly job): new daily bars and settlements,
        the last hours of OI per venue, and the archive of liquidations and skew."""
        asset = asset.strip().upper()
        async with self._lock:
            now = self._now_ms()
            hour = now - now % HOUR_MS
            lower = hour - HOURLY_OI_HOURS * HOUR_MS
            report = await self._update(asset, lower, hour, now, None, daily=False)
        return report

    async def aclose(self) -> None:
        """Close every exchange this source opened (and a throwaway store)."""
        venues, self._venues = self._venues, {}
        results = await asyncio.gather(
            *(v.exchange.close() for v in venues.values()), return_exceptions=True
        )
        for name, result in zip(venues, results, strict=True):
            if isinstance(result, Exception):
                log.warning("closing %s failed: %r", name, result)
        if self._scratch is not None:
            await asyncio.to_thread(self.store.close)
            self._scratch.cleanup()
            self._scratch = None

    # ---- one update ---------------------------------------------------------------------

    async def _update(
        self,
        asset: str,
        lower: int,
        upper: int,
        now: int,
        progress: Progress | None,
        *,
        daily: bool,
    ) -> FetchReport:
        report = FetchReport()
        self._absences, self._listed = [], False
        coverage = await self._coverage(asset)
        plan = self._plan(asset, coverage, lower, upper, now, daily=daily)
        counts: dict[str, int] = {}
        # candles come from one venue: count only the first one's pages (others stand in)
        price_from = next((t.venue for t in plan if t.series == CANDLES_1D), None)
        estimated = [t for t in plan if t.series != CANDLES_1D or t.venue == price_from]
        total = sum(pages_estimate(t.series, t.venue, t.start, t.end) for t in estimated) + len(
            {t.venue for t in plan if t.venue not in self._venues}
        )
        done = 0

        def on_request(venue: str, url: str) -> None:
            nonlocal done, total
            done += 1
            total = max(total, done)
            counts[venue] = counts.get(venue, 0) + 1
            if progress is not None:
                progress(done, total, venue)

        self.log.on_request = on_request
        try:
            if progress is not None:
                progress(0, total, "store")
            if daily:
                await self._price(asset, plan, coverage, lower, upper, now, report)
            rest = [t for t in plan if t.series != CANDLES_1D]
            by_venue: dict[str, list[_Task]] = {}
            for task in rest:
                by_venue.setdefault(task.venue, []).append(task)
            await asyncio.gather(
                *(self._run_venue(asset, v, tasks, now, report) for v, tasks in by_venue.items())
            )
            await self._write_absences(asset)
            # the collector keeps its minutes this long: older ones are archived already
            kept_from = upper - (self.settings.liq_retention_days + 1) * DAY_MS
            await self.store.run(archive_recorded, self.store, asset, max(lower, kept_from), upper)
        except StoreError as e:
            # the cache cannot be written: what was fetched is lost, the run says why
            log.warning("%s", e)
            report.failed["store"] = e.problem
        finally:
            self.log.on_request = None
        report.requests = counts
        if progress is not None:
            progress(total, total, "done")
        return report

    async def _coverage(self, asset: str) -> dict[tuple[str, str], list[Any]]:
        try:
            return await self.store.run(self.store.history_coverage, asset)
        except StoreError as e:
            log.warning("%s", e)
            return {}

    def _plan(
        self,
        asset: str,
        coverage: Mapping[tuple[str, str], list[Any]],
        lower: int,
        upper: int,
        now: int,
        *,
        daily: bool,
    ) -> list[_Task]:
        """Every range of every venue series that the store does not hold yet."""
        plan: list[_Task] = []
        for venue in self._venue_names():
            series: list[tuple[str, int, int]] = []
            floor = oi_floor(venue, now, DAY_MS)
            if daily:
                series.append((CANDLES_1D, lower, upper))
                series.append((OI_1D, max(lower, floor) if floor else lower, upper))
            else:
                # the hourly job: the last days of daily OI (Binance forgets it after 30
                # days) and the last hours of hourly OI, which every venue forgets sooner
                today = day_floor(upper)
                start_1d = today - 3 * DAY_MS
                series.append((OI_1D, max(start_1d, floor) if floor else start_1d, today))
                floor_1h = oi_floor(venue, now, HOUR_MS)
                series.append((OI_1H, max(lower, floor_1h) if floor_1h else lower, upper))
            # a settlement at exactly the upper bound belongs to it (samples count at ts ≤ t)
            series.append((FUNDING, lower if daily else upper - 3 * DAY_MS, upper + 1))
            for name, start, end in series:
                for gap in missing_ranges(coverage.get((venue, name), []), start, end):
                    plan.append(_Task(venue, name, *gap))
            if venue == "bybit" and daily and not _fetched_today(coverage, venue, upper):
                plan.append(_Task(venue, MMR, upper, upper + 1))
        return plan

    def _venue_names(self) -> list[str]:
        return [v for v in self.settings.venues if v in QUIRKS]

    async def _price(
        self,
        asset: str,
        plan: list[_Task],
        coverage: Mapping[tuple[str, str], list[Any]],
        lower: int,
        upper: int,
        now: int,
        report: FetchReport,
    ) -> None:
        """Daily candles from the first venue (in PREFLIGHT_VENUES order) that has them all."""
        wanted = {t.venue: t for t in plan if t.series == CANDLES_1D}
        for venue in self._venue_names():
            task = wanted.get(venue)
            if task is None and coverage.get((venue, CANDLES_1D)):
                return  # held complete in the store: no request
            remaining = [t for t in plan if t.venue == venue and t.series == CANDLES_1D]
            job = await self._job(asset, venue, now, report)
            if job is None:
                await self._absent(asset, venue, remaining)
                continue
            try:
                for t in remaining:
                    await fetch_candles(job, t.start, t.end, self._sink(asset, venue, t.series))
            except VenueUnavailable as e:
                report.failed[venue] = f"daily candles: {e.detail}"
                continue
            return

    async def _run_venue(
        self, asset: str, venue: str, tasks: list[_Task], now: int, report: FetchReport
    ) -> None:
        job = await self._job(asset, venue, now, report)
        if job is None:
            await self._absent(asset, venue, tasks)
            return
        for task in tasks:
            sink = self._sink(asset, venue, task.series)
            try:
                if task.series in (OI_1D, OI_1H):
                    await fetch_open_interest(job, task.series, task.start, task.end, sink)
                elif task.series == FUNDING:
                    await fetch_funding(job, task.start, task.end, sink)
                elif task.series == MMR:
                    await self._mmr(asset, job, task.start)
            except VenueUnavailable as e:
                label = {OI_1D: "open interest 1d", OI_1H: "open interest 1h"}.get(
                    task.series, task.series
                )
                report.failed.setdefault(venue, f"{label}: {e.detail}")
                if getattr(e, "cooling", False):
                    return  # the venue is cooling down: ask it nothing more now

    async def _absent(self, asset: str, venue: str, tasks: list[_Task]) -> None:
        """Note that a venue whose markets do not list the asset has nothing to give over these
        ranges (written at the end of the run, if another venue lists it: an asset nobody lists
        stays unknown, asked again), so the next run today loads no markets to find it out."""
        state = self._venues.get(venue)
        if state is None or not state.exchange.markets:
            return  # unreachable, not absent: asked again next time
        self._absences.extend((venue, t) for t in tasks)

    async def _write_absences(self, asset: str) -> None:
        absences, self._absences = self._absences, []
        if not self._listed:
            return
        now = self._now_ms()
        for venue, task in absences:
            end = min(task.end, settled_bound(task.series, now))
            if end > task.start:
                await self.store.run(
                    self.store.write_history,
                    asset,
                    venue,
                    task.series,
                    span=(task.start, end),
                    fetched_ms=now,
                )

    async def _mmr(self, asset: str, job: SeriesFetch, day: int) -> None:
        market_id = job.exchange.markets[job.symbol]["id"]
        mmr = await self.policy.call(
            job.venue,
            "risk limit",
            job.exchange.publicGetV5MarketRiskLimit,
            {"category": "linear", "symbol": market_id},
            validate=convert.bybit_lowest_mmr,
        )
        await self.store.run(
            self.store.write_history,
            asset,
            job.venue,
            MMR,
            points=[(day, float(mmr))],
            span=(day, day + 1),
            fetched_ms=self._now_ms(),
        )

    def _sink(self, asset: str, venue: str, series: str) -> Any:
        timeframe = "1d" if series == CANDLES_1D else None

        async def sink(rows: list[Any], span: tuple[int, int]) -> None:
            write: dict[str, Any] = (
                {"bars": rows, "timeframe": timeframe} if timeframe else {"points": rows}
            )
            now = self._now_ms()
            complete = (span[0], min(span[1], settled_bound(series, now)))
            await self.store.run(
                self.store.write_history,
                asset,
                venue,
                series,
                span=complete if complete[1] > complete[0] else None,
                fetched_ms=now,
                **write,
            )

        return sink

    async def _job(
        self, asset: str, venue: str, now: int, report: FetchReport
    ) -> SeriesFetch | None:
        """The venue's exchange with its markets loaded, if it lists the asset."""
        state = await self._exchange(venue)
        if state is None or not state.exchange.markets:
            if state is not None and state.failure:
                report.failed.setdefault(venue, state.failure)
            return None
        symbol = f"{asset}/USDT:USDT"
        market = state.exchange.markets.get(symbol)
        if market is None or not _is_usdt_perp(market):
            return None
        self._listed = True
        return SeriesFetch(self.policy, venue, state.exchange, symbol, now, QUIRKS[venue])

    async def _exchange(self, venue: str) -> _Venue | None:
        state = self._venues.get(venue)
        if state is None:
            try:
                exchange = self._factory(venue)
            except AttributeError:
                log.error("venue %r is not a ccxt exchange id: skipped", venue)
                return None
            self.policy.install(venue, exchange)
            instrument(venue, exchange, self.pacer, self.log)
            state = self._venues[venue] = _Venue(exchange)
        stale = time.monotonic() - state.loaded_at > self.settings.markets_refresh_s
        if state.exchange.markets and not stale:
            return state
        try:
            await self.policy.call(
                venue, "markets", state.exchange.load_markets, bool(state.exchange.markets)
            )
        except VenueUnavailable as e:
            state.failure = e.detail if e.detail.startswith("markets") else f"markets: {e.detail}"
            return state
        state.loaded_at = time.monotonic()
        state.failure = None
        return state

    def _raise_unavailable(self, asset: str, report: FetchReport) -> None:
        names = self._venue_names()
        loaded = [v for v in names if (s := self._venues.get(v)) and s.exchange.markets]
        if not loaded:
            detail = "; ".join(f"{v}: {r}" for v, r in report.failed.items()) or "none asked"
            raise NoMarketData(asset, "no venue reachable: " + detail)
        listed = any(
            _is_usdt_perp(m)
            for v in loaded
            if (m := self._venues[v].exchange.markets.get(f"{asset}/USDT:USDT")) is not None
        )
        if listed:
            detail = "; ".join(f"{v}: {r}" for v, r in report.failed.items())
            raise NoMarketData(
                asset, "no daily candles from any venue" + (f" ({detail})" if detail else "")
            )
        known = sorted(
            {
                str(m["base"])
                for v in loaded
                for m in (self._venues[v].exchange.markets or {}).values()
                if _is_usdt_perp(m)
            }
        )
        raise UnknownAsset(asset, tuple(difflib.get_close_matches(asset, known, n=5, cutoff=0.6)))

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)


def settled_bound(series: str, now_ms: int) -> int:
    """The end (exclusive) of what a venue has surely published of a series by `now_ms`:
    bars (open-time keyed) whose close is SETTLE_LAG_MS old, samples that old."""
    bar = BAR_MS.get(series)
    moment = now_ms - SETTLE_LAG_MS
    if bar is None:
        return moment
    return moment - moment % bar


def _default_factory(settings: Settings) -> Callable[[str], Any]:
    from signals.exchanges import rest_exchange

    return lambda name: rest_exchange(name, settings.venue_base_url)


def _fetched_today(coverage: Mapping[tuple[str, str], list[Any]], venue: str, day: int) -> bool:
    return any(s.start_ms <= day < s.end_ms for s in coverage.get((venue, MMR), []))


def _is_usdt_perp(market: Mapping[str, Any]) -> bool:
    return bool(
        market.get("swap")
        and market.get("linear")
        and market.get("quote") == "USDT"
        and market.get("settle") == "USDT"
        and market.get("active") is not False
    )


# ---- what the bot recorded: archived past the collector's retention (store thread) ---------


def archive_recorded(store: Store, asset: str, since_ms: int, until_ms: int) -> None:
    """Copy the collector's covered liquidation hours and the recorded skew samples into the
    history tables, which the liquidation retention (PREFLIGHT_LIQ_RETENTION_DAYS) never prunes.

    Idempotent (upserts); only hours a venue covered are written (zeros included), so an hour
    the bot was not listening stays missing, never calm.
    """
    archive_liquidations(store, asset, since_ms, until_ms)
    skew = store.read_samples(asset, SKEW_METRIC, since_ms=since_ms, until_ms=until_ms)
    if skew:
        store.write_history(asset, "*", SKEW, points=skew)


def archive_liquidations(store: Store, asset: str, since_ms: int, until_ms: int) -> int:
    """Hourly sums of every venue's covered hours in [since, until) → the history table."""
    start = since_ms - since_ms % HOUR_MS
    end = until_ms - until_ms % HOUR_MS
    try:
        spans = store.read_liq_coverage(asset, start, end)
        sums = store.read_liq_hours(asset, start, end)
    except sqlite3.Error as e:
        log.warning("liquidations of %s not archived: %s", asset, e)
        return 0
    covered = covered_hours(spans, start, end)
    totals: dict[tuple[str, int], list[float]] = {
        (venue, hour): [0.0, 0.0] for venue, hours in covered.items() for hour in hours
    }
    for venue, side, hour, usd in sums:
        cell = totals.get((venue, hour))
        if cell is not None:
            cell[0 if side == "long" else 1] += usd
    return store.write_liq_hours(asset, [(v, h, lo, sh) for (v, h), (lo, sh) in totals.items()])


# ---- reading the stored history (store thread) --------------------------------------------


@dataclass(frozen=True)
class StoredHistory:
    """One asset's stored history in [lower, asof), as rows (what `assemble` reads)."""

    asset: str
    asof: int
    lower: int
    price_venue: str | None
    candles_1d: list[list[float]] = field(default_factory=list)
    candles_1h: list[list[float]] = field(default_factory=list)
    oi_1d: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    oi_1h: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    funding: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    liq_hours: list[tuple[str, int, float, float]] = field(default_factory=list)
    skew: list[tuple[int, float]] = field(default_factory=list)
    mmr: float | None = None
    oi_units: dict[str, str] = field(default_factory=dict)


def read_stored(
    store: Store, asset: str, lower: int, asof: int, venues: Sequence[str] = tuple(QUIRKS)
) -> StoredHistory:
    """Everything the store holds for a backtest of `asset` over [lower, asof).

    The price venue is the one with the most daily candles (the first in `venues` order on a
    tie): the venue the history was fetched from, or the one that stood in for it.
    """
    price_venue: str | None = None
    candles: list[list[float]] = []
    for venue in venues:
        rows = store.read_history_bars(asset, venue, "1d", lower, asof)
        if len(rows) > len(candles):
            price_venue, candles = venue, rows
    hourly = store.read_history_bars(asset, price_venue, "1h", lower, asof) if price_venue else []
    oi_1d: dict[str, list[tuple[int, float]]] = {}
    oi_1h: dict[str, list[tuple[int, float]]] = {}
    funding: dict[str, list[tuple[int, float]]] = {}
    units: dict[str, str] = {}
    for venue in venues:
        units[venue] = QUIRKS[venue].oi_unit
        if rows_1d := store.read_history_points(asset, venue, OI_1D, lower, asof):
            oi_1d[venue] = rows_1d
        if rows_1h := store.read_history_points(asset, venue, OI_1H, lower, asof):
            oi_1h[venue] = rows_1h
        if settled := store.read_history_points(asset, venue, FUNDING, lower, asof + 1):
            funding[venue] = settled
    mmr_rows = store.read_history_points(asset, "bybit", MMR, 0, asof + 1)
    return StoredHistory(
        asset=asset,
        asof=asof,
        lower=lower,
        price_venue=price_venue,
        candles_1d=candles,
        candles_1h=hourly,
        oi_1d=oi_1d,
        oi_1h=oi_1h,
        funding=funding,
        liq_hours=store.read_liq_hours_archive(asset, lower, asof),
        skew=store.read_history_points(asset, "*", SKEW, lower, asof + 1),
        mmr=mmr_rows[-1][1] if mmr_rows else None,
        oi_units=units,
    )


# ---- assembling the engine's inputs (pure) ------------------------------------------------


def assemble(
    stored: StoredHistory,
    failed: Mapping[str, str] | None = None,
    requests: Mapping[str, int] | None = None,
    fetched_at: int | None = None,
) -> AssetData:
    """The `AssetData` a backtest reads, from the stored rows (docs/track-record.md).

    - price: the price venue's daily (and recorded hourly) candles, closed by asof;
    - OI: summed over the venues whose daily history runs as far back and as far forward as
      the longest one's (a venue serving fewer days — Binance keeps 30 — would otherwise make
      the sum jump where it joins); coins are valued with the same bar's close;
    - funding: every venue's settlements, each restated to the venue's current interval,
      weighted by the venue's newest daily OI in USD;
    - liquidations: the hours the kept venues all covered (the most venues that keep 95% of
      the best venue's hours), zeros inside coverage, nothing outside it;
    - skew: every recorded sample.
    """
    asof = stored.asof
    daily = _closed_frame(stored.candles_1d, DAY_MS, asof)
    hourly = _closed_frame(stored.candles_1h, HOUR_MS, asof)
    usd_1d = {
        v: _valued(rows, stored.oi_units.get(v, "usd"), daily, DAY_MS, asof)
        for v, rows in stored.oi_1d.items()
    }
    usd_1d = {v: s for v, s in usd_1d.items() if len(s)}
    kept, left_out = oi_venues(usd_1d)
    usd_1h = {
        v: _valued(rows, stored.oi_units.get(v, "usd"), hourly, HOUR_MS, asof)
        for v, rows in stored.oi_1h.items()
        if v in kept
    }
    # hourly OI only where every summed venue has it: a partial sum would jump
    whole = bool(kept) and all(len(usd_1h.get(v, ())) for v in kept)
    oi_1h = convert.sum_common(usd_1h[v] for v in kept) if whole else None
    funding = tuple(
        _venue_funding(venue, rows, asof, usd_1d.get(venue))
        for venue, rows in stored.funding.items()
        if any(ts <= asof for ts, _ in rows)
    )
    liq_frame, liq_venues = liquidation_frame(stored.liq_hours, asof)
    skew = convert.series(sorted({ts: rr for ts, rr in stored.skew if ts <= asof}.items()))
    sources: dict[str, Any] = {
        "price": stored.price_venue,
        "oi": list(kept),
        "oi_1d": list(kept),
        "funding": [f.venue for f in funding],
        "skew": "store" if len(skew) else None,
        "mmr": "bybit" if stored.mmr is not None else "default",
        "history": {
            "oi_left_out": dict(left_out),
            "liquidation_venues": list(liq_venues),
            "requests": dict(requests or {}),
        },
    }
    if fetched_at is not None:
        sources["fetched_at"] = int(fetched_at)
    used = [stored.price_venue, *kept, *(f.venue for f in funding), *liq_venues]
    return AssetData(
        asset=stored.asset,
        ohlcv_1d=daily,
        ohlcv_1h=hourly,
        oi_usd_1h=oi_1h if oi_1h is not None else convert.series([]),
        oi_usd_1d=convert.sum_common(usd_1d[v] for v in kept),
        funding=funding,
        liquidations_1h=liq_frame,
        skew_rr25_30d=skew,
        mmr=stored.mmr if stored.mmr is not None else DEFAULT_MMR,
        sources=sources,
        venues_used=tuple(dict.fromkeys(v for v in used if v)),
        venues_failed=dict(failed or {}),
    )


def _closed_frame(rows: Sequence[Sequence[float]], bar_ms: int, asof: int) -> pd.DataFrame:
    closed = sorted(
        ([float(int(r[0])), *map(float, r[1:6])] for r in rows if int(r[0]) + bar_ms <= asof),
        key=lambda r: r[0],
    )
    return frame_from_rows(closed, OHLCV_COLUMNS)


def _valued(
    rows: Sequence[tuple[int, float]],
    unit: str,
    candles: pd.DataFrame,
    bar_ms: int,
    asof: int,
) -> pd.Series:
    closed = [(ts, v) for ts, v in rows if ts + bar_ms <= asof]
    return convert.oi_usd(closed, unit == "base", candles)


def oi_venues(usd_1d: Mapping[str, pd.Series]) -> tuple[tuple[str, ...], dict[str, str]]:
    """The venues whose daily OI spans as much as the longest one's, and why others are out."""
    if not usd_1d:
        return (), {}
    first = {v: int(s.index[0]) for v, s in usd_1d.items()}
    last = {v: int(s.index[-1]) for v, s in usd_1d.items()}
    earliest, latest = min(first.values()), max(last.values())
    kept: list[str] = []
    left_out: dict[str, str] = {}
    for venue in usd_1d:
        if first[venue] > earliest + OI_EDGE_TOLERANCE_MS:
            left_out[venue] = f"history starts {_date(first[venue])}"
        elif last[venue] < latest - OI_EDGE_TOLERANCE_MS:
            left_out[venue] = f"history ends {_date(last[venue])}"
        else:
            kept.append(venue)
    return tuple(sorted(kept)), left_out


def _venue_funding(
    venue: str, rows: Sequence[tuple[int, float]], asof: int, oi: pd.Series | None
) -> VenueFunding:
    settled = [(ts, rate) for ts, rate in rows if ts <= asof]
    interval = current_interval(settled)
    history = normalise_to(settled, interval)
    weight = float(oi.iloc[-1]) if oi is not None and len(oi) else None
    return VenueFunding(
        venue=venue,
        rate=history[-1][1] if history else None,
        interval_hours=interval,
        oi_usd=weight,
        history=convert.series(history),
    )


def liquidation_frame(
    rows: Iterable[tuple[str, int, float, float]], asof: int
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """The SPEC liquidations_1h frame from archived per-venue hours, and the venues summed."""
    covered: dict[str, set[int]] = {}
    sums: list[tuple[str, str, int, float]] = []
    for venue, hour, long_usd, short_usd in rows:
        if hour + HOUR_MS > asof:
            continue
        covered.setdefault(venue, set()).add(hour)
        sums.append((venue, "long", hour, long_usd))
        sums.append((venue, "short", hour, short_usd))
    ranked = sorted(covered, key=lambda v: (-len(covered[v]), v))
    if not ranked:
        return empty_liquidations(), ()
    best = len(covered[ranked[0]])
    common = set(covered[ranked[0]])
    chosen = [ranked[0]]
    for venue in ranked[1:]:
        narrower = common & covered[venue]
        if len(narrower) < LIQ_HOURS_KEPT * best:
            break
        common = narrower
        chosen.append(venue)
    venues = tuple(sorted(chosen))
    return hourly_frame(sums, venues, sorted(common)), venues


def history_notes(data: AssetData, report: FetchReport) -> dict[str, Any]:
    """What the report says about where its history came from (sources and requests)."""
    return {
        **recorded_notes(data),
        "requests": dict(report.requests),
        "failed": dict(report.failed),
    }


def recorded_notes(data: AssetData) -> dict[str, Any]:
    """Where each series of a live history came from, read back from its `sources`."""
    history = data.sources.get("history")
    history = history if isinstance(history, dict) else {}
    return {
        "price": data.sources.get("price"),
        "oi": list(data.sources.get("oi") or []),
        "oi_left_out": dict(history.get("oi_left_out") or {}),
        "funding": list(data.sources.get("funding") or []),
        "liquidations": list(history.get("liquidation_venues") or []),
        "liq_since": int(data.liquidations_1h.index[0]) if len(data.liquidations_1h) else None,
        "skew_since": int(data.skew_rr25_30d.index[0]) if len(data.skew_rr25_30d) else None,
        "failed": dict(data.venues_failed),
    }


def _date(ms: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ms / 1000))
