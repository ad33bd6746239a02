"""The track record in the bot (SPEC §9): `/track` reports, the daily job's stored records, the
one-line track record under a check, and the hourly job that records what the venues forget.

- The daily job grades every watched asset's last 365 days (both sides, 5x, 7-day windows) and
  stores each day's flags verdict and max adverse move per side (`track_records`).
- A check of such an asset gets one line per side from that record (`TrackBook.attach`): the
  liquidation rate after the days the rule said what it says now, against the other days, at
  the check's OWN leverage — a day's verdict and max adverse move do not depend on leverage,
  only the liquidation line does, so the rate at any leverage is exact.
- The hourly job takes a state sample of every watched asset (the check's own fetch, which
  records the skew sample), archives its hourly candles and skew, and brings the venue series
  up to date (hourly OI per venue, the daily OI Binance keeps only 30 days, settlements), so
  the track record fills in over time.

Watched assets: the default summary assets, every chat's daily-summary watchlist and every
subscribed asset.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from signals.backtest import BacktestReport, BacktestRequest, lookback_days, run_backtest
from signals.backtest_args import check_leverage
from signals.derived import ge
from signals.grade import CheckResult
from signals.history import HistorySource, Progress
from signals.market import DAY_MS, HOUR_MS, AssetData
from signals.store import Store, StoredTrackRecord
from signals.track_line import TrackLine
from signals.venue_history import CANDLES_1H, SKEW

if TYPE_CHECKING:
    from settings import Settings
    from signals.live_history import LiveHistory
    from signals.service import CheckService
    from signals.userdata import UserData

log = logging.getLogger(__name__)

# a check shows a record's line only while the record is this fresh (the daily job ran lately)
RECORD_MAX_AGE_MS = 3 * DAY_MS
DEFAULT_REQUEST = BacktestRequest(asset="")


@dataclass(frozen=True)
class TrackRecord:
    """One asset's and side's stored track record: each graded day's verdict and MAE."""

    asset: str
    side: str
    asof: int
    days_asked: int
    horizon_days: int
    mmr: float
    days: tuple[tuple[int, str, float], ...]
    label: str | None = None
    computed_ms: int = 0


def records_of(report: BacktestReport, computed_ms: int) -> list[TrackRecord]:
    """The report's days, per side, as records to store."""
    return [
        TrackRecord(
            asset=report.asset,
            side=side,
            asof=report.asof,
            days_asked=report.days_asked,
            horizon_days=report.horizon_days,
            mmr=report.mmr,
            days=tuple((d.t, d.flags_verdict, d.mae) for d in report.days if d.side == side),
            label=report.label,
            computed_ms=computed_ms,
        )
        for side in report.sides
    ]


def to_stored(record: TrackRecord) -> StoredTrackRecord:
    """The record as the store keeps it (the days as JSON)."""
    body = {"label": record.label, "days": [list(d) for d in record.days]}
    return StoredTrackRecord(
        record.asset,
        record.side,
        record.asof,
        record.days_asked,
        record.horizon_days,
        record.mmr,
        record.computed_ms,
        json.dumps(body, allow_nan=False),
    )


def from_stored(stored: StoredTrackRecord) -> TrackRecord | None:
    """A stored record read back; None (logged) when its days cannot be read."""
    try:
        body = json.loads(stored.days_json)
        days = tuple((int(t), str(v), float(m)) for t, v, m in body["days"])
        label = body.get("label")
    except (ValueError, TypeError, KeyError) as e:
        log.warning("track record %s %s unreadable: %r", stored.asset, stored.side, e)
        return None
    return TrackRecord(
        stored.asset,
        stored.side,
        stored.asof,
        stored.days_asked,
        stored.horizon_days,
        stored.mmr,
        days,
        label if isinstance(label, str) else None,
        stored.computed_ms,
    )


def track_line(record: TrackRecord, verdict: str, leverage: float) -> TrackLine | None:
    """What followed the record's days of `verdict` and the other days, at `leverage`.

    Reduce and wait days are compared with proceed days; proceed days with the reduce-or-wait
    days. None when no leverage leaves room before liquidation or no day was graded.
    """
    liq_distance = 1 / leverage - record.mmr
    if liq_distance <= 0 or not record.days:
        return None
    same = [mae for _, v, mae in record.days if v == verdict]
    if verdict == "proceed":
        other_name = "reduce or wait"
        other = [mae for _, v, mae in record.days if v != "proceed"]
    else:
        other_name = "proceed"
        other = [mae for _, v, mae in record.days if v == "proceed"]
    return TrackLine(
        asset=record.asset,
        side=record.side,
        leverage=leverage,
        days_asked=record.days_asked,
        horizon_days=record.horizon_days,
        asof=record.asof,
        verdict=verdict,
        n=len(same),
        liquidated=sum(1 for mae in same if ge(mae, liq_distance)),
        other=other_name,
        other_n=len(other),
        other_liquidated=sum(1 for mae in other if ge(mae, liq_distance)),
        label=record.label,
    )


class TrackBook:
    """The stored track records in memory, for the line under every check (no store read)."""

    def __init__(self) -> None:
        self._records: dict[tuple[str, str], TrackRecord] = {}

    def put(self, record: TrackRecord) -> None:
        """Hold (or replace) one asset's and side's record."""
        self._records[(record.asset, record.side)] = record

    def get(self, asset: str, side: str) -> TrackRecord | None:
        """The record of an asset and side, if the daily job computed one."""
        return self._records.get((asset.upper(), side))

    def assets(self) -> set[str]:
        """Assets with a record."""
        return {asset for asset, _ in self._records}

    def attach(self, result: CheckResult) -> CheckResult:
        """The check with each graded side's track line, when a fresh record exists."""
        lines: dict[str, TrackLine] = {}
        for grade in result.grades:
            record = self.get(result.asset, grade.side)
            if record is None or record.asof < result.asof - RECORD_MAX_AGE_MS:
                continue
            line = track_line(record, grade.flags_verdict, grade.leverage)
            if line is not None:
                lines[grade.side] = line
        return dataclasses.replace(result, track=lines) if lines else result


# ---- what the hourly job records (store thread) ------------------------------------------


def archive_state(store: Store, data: AssetData) -> None:
    """Keep a live state's hourly candles (its price venue's) and skew samples for good.

    The check fetched them anyway; the venues keep hourly bars for long, but the skew
    samples exist only because the bot took them.
    """
    venue = data.sources.get("price") if isinstance(data.sources, dict) else None
    if isinstance(venue, str) and len(data.ohlcv_1h):
        rows = [
            [int(ts), *map(float, row)]
            for ts, row in zip(data.ohlcv_1h.index, data.ohlcv_1h.to_numpy(), strict=True)
        ]
        store.write_history(data.asset, venue, CANDLES_1H, bars=rows, timeframe="1h")
    skew = [(int(ts), float(rr)) for ts, rr in data.skew_rr25_30d.items()]
    if skew:
        store.write_history(data.asset, "*", SKEW, points=skew)


def watched_assets(users: UserData, defaults: Iterable[str]) -> list[str]:
    """Every asset the bot watches: the defaults, the summaries' watchlists, the subscriptions."""
    assets = [a.upper() for a in defaults]
    for chat in users.daily_chats():
        assets.extend(chat.watchlist)
    assets.extend(users.subscribed_assets())
    return list(dict.fromkeys(assets))


# ---- the service the handlers and jobs call ----------------------------------------------


class TrackService:
    """Track records for the bot: reports on demand, the daily records, the hourly samples."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        source: HistorySource,
        *,
        live: LiveHistory | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.store = store
        self.source = source
        self.live = live
        self.book = TrackBook()
        self._clock = clock

    async def start(self) -> None:
        """Load the stored records into memory."""
        for stored in await self.store.run(self.store.track_records):
            record = from_stored(stored)
            if record is not None:
                self.book.put(record)

    async def aclose(self) -> None:
        """Close the live history's exchanges."""
        if self.live is not None:
            await self.live.aclose()

    async def report(
        self, request: BacktestRequest, progress: Progress | None = None
    ) -> BacktestReport:
        """The backtest of one request on the asset's history (loading what is missing)."""
        th = self.settings.thresholds
        history = await self.source.history(request.asset, lookback_days(request, th), progress)
        check_leverage(request, history.data.mmr)
        return await asyncio.to_thread(run_backtest, history, request, th)

    async def compute(self, asset: str) -> BacktestReport:
        """The daily track record of one asset (both sides, SPEC §9 defaults), stored."""
        report = await self.report(dataclasses.replace(DEFAULT_REQUEST, asset=asset.upper()))
        records = records_of(report, int(self._clock() * 1000))
        for record in records:
            await self.store.run(self.store.save_track_record, to_stored(record))
            self.book.put(record)
        return report

    def needs_compute(self, asset: str) -> bool:
        """No record of the asset computed since its last 00:00 UTC."""
        today = int(self._clock() * 1000) // DAY_MS * DAY_MS
        records = [self.book.get(asset, side) for side in ("long", "short")]
        return any(r is None or r.asof < today for r in records)

    async def record_hour(self, asset: str, service: CheckService) -> None:
        """One hourly sample of a watched asset: the live state, archived, and the venue series
        brought up to date (what the venues will forget)."""
        if self.live is None:
            return
        _, data = await service.asset_state(asset)
        await self.store.run(archive_state, self.store, data)
        await self.live.refresh(asset)


def next_hour_s(now_s: float, offset_s: float = 120.0) -> float:
    """Seconds until `offset_s` past the next full hour (the hourly job's first run)."""
    hour_s = HOUR_MS / 1000
    return hour_s - now_s % hour_s + offset_s
