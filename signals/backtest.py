"""The track record (SPEC §9): grade an asset once a day on its own history, report what followed.

Pure: a History in, a BacktestReport out; no I/O, no clock. Each evaluation time `t` gets its
own AssetData holding only what `t` could see (bars closed by `t`, samples at or before `t`,
funding rates settled by `t`), cut from the long history with index arithmetic instead of
rebuilding frames, and graded by the engine's public functions (compute_market, all_flags,
verdict_for). Nothing after `t` is in the object the engine reads, so nothing after `t` can
reach `t`'s grade; the outcome reads only the H daily candles from `t` on.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from signals.derived import compute_market, ge
from signals.errors import PreflightError
from signals.flags import FLAG_NAMES, Side, Status, all_flags
from signals.grade import Verdict, verdict_for
from signals.history import History
from signals.market import DAY_MS, HOUR_MS, AssetData, VenueFunding
from signals.thresholds import Thresholds

VERDICTS: tuple[Verdict, ...] = ("proceed", "reduce", "wait")
STATUSES: tuple[Status, ...] = ("caution", "clear", "unknown")
SIDES: tuple[Side, ...] = ("long", "short")
DEFAULT_LEVERAGE = 5.0
DEFAULT_HORIZON_DAYS = 7
DEFAULT_DAYS = 365
# SPEC §9: a daily candle must span t − 31 days (enough closes for sigma_daily at t)
WARMUP_DAYS = 31
# SPEC §9: a venue's funding rate at t is its latest settlement no older than this
FUNDING_RATE_MAX_AGE_MS = 3 * DAY_MS


class NotEnoughHistory(PreflightError):
    """No evaluation time has 31 days of daily candles before it and a complete window after."""

    def __init__(
        self, asset: str, horizon_days: int, first_ts: int | None, last_ts: int | None
    ) -> None:
        super().__init__(f"{asset}: not enough history")
        self.asset = asset
        self.horizon_days = horizon_days
        # open times of the first and last daily candle closed by asof (None: no candles)
        self.first_ts = first_ts
        self.last_ts = last_ts


@dataclass(frozen=True)
class BacktestRequest:
    """What to backtest: the asset, the sides, the leverage, the horizon, how many days."""

    asset: str
    sides: tuple[Side, ...] = SIDES
    leverage: float = DEFAULT_LEVERAGE
    horizon_days: int = DEFAULT_HORIZON_DAYS
    days: int = DEFAULT_DAYS


@dataclass(frozen=True)
class DayResult:
    """One evaluation time, one side: the grade at `t` and what the next H days did."""

    t: int
    side: Side
    entry: float
    flags: dict[str, Status]
    caution_count: int
    flags_verdict: Verdict
    mae: float
    liquidated: bool
    fwd_return: float


@dataclass(frozen=True)
class VerdictStats:
    """What followed the days of one verdict; every statistic is None when n = 0."""

    n: int
    liquidated: int
    liq_rate: float | None
    mae_median: float | None
    mae_p90: float | None
    fwd_return_mean: float | None


@dataclass(frozen=True)
class FlagStats:
    """How many days a flag had one status, and the median max adverse move that followed."""

    n: int
    mae_median: float | None


@dataclass(frozen=True)
class SideReport:
    """The track record of one side."""

    side: Side
    by_verdict: dict[Verdict, VerdictStats]
    by_flag: dict[str, dict[Status, FlagStats]]
    # reduce and wait days together: the numerator of lift
    reduce_or_wait: VerdictStats
    lift: float | None
    # days on which each flag was caution or clear (not unknown)
    days_known: dict[str, int]


@dataclass(frozen=True, eq=False)
class BacktestReport:
    """Everything one backtest computed."""

    asset: str
    asof: int
    leverage: float
    horizon_days: int
    days_asked: int
    days_evaluated: int
    independent_windows: int
    liq_distance: float
    mmr: float
    first_t: int
    last_t: int
    sides: dict[Side, SideReport]
    days: tuple[DayResult, ...]
    origin: str
    label: str | None
    # where the history's series came from (live runs and their exported snapshots)
    notes: Mapping[str, Any] = field(default_factory=dict)


# ---- evaluation times ---------------------------------------------------------------------


def evaluation_times(daily_ts: np.ndarray, asof: int, days: int, horizon_days: int) -> list[int]:
    """Every 00:00 UTC t in (asof − days, asof] that SPEC §9 can evaluate.

    t needs a daily candle closed by asof spanning t − 31 days, and the H daily candles
    opening at t, …, t + (H − 1) days all closed by asof (a complete window).
    """
    closed_ts = daily_ts[daily_ts + DAY_MS <= asof]
    if len(closed_ts) == 0:
        return []
    present = set(closed_ts.tolist())
    first = (asof - days * DAY_MS) // DAY_MS * DAY_MS + DAY_MS
    last = asof // DAY_MS * DAY_MS
    times: list[int] = []
    for t in range(first, last + 1, DAY_MS):
        if not _spans(closed_ts, t - WARMUP_DAYS * DAY_MS):
            continue
        if all(t + k * DAY_MS in present for k in range(horizon_days)):
            times.append(t)
    return times


def _spans(bar_ts: np.ndarray, moment: int) -> bool:
    """Whether a daily bar [ts, ts + 1d) contains `moment`."""
    i = int(np.searchsorted(bar_ts, moment, side="right")) - 1
    return i >= 0 and int(bar_ts[i]) + DAY_MS > moment


# ---- the state at t -----------------------------------------------------------------------


class HistoryCut:
    """Cuts one long history at successive times: each cut holds only what `t` could see.

    Bars closed by `t` and samples at or before `t` (SPEC §1), kept to the most recent stretch
    the engine can read (with a wide margin), so the frames are sliced by position, never
    rebuilt. Funding: each venue's rate is its latest settlement at or before `t` (SPEC §9);
    a venue with none in the 3 days before `t` drops out.
    """

    def __init__(self, data: AssetData, th: Thresholds) -> None:
        self.data = data
        daily_reads = th.sigma_window_days + th.vol_baseline_days + 1
        # how many of the most recent bars each cut keeps: twice what compute_market reads
        self._keep_1d = 2 * max(daily_reads, 8)
        self._keep_1h = 2 * 25 + 24
        self._keep_oi_1d = 2 * 30
        self._keep_liq = 2 * th.liq_window_buckets
        self._ts_1d = _ts(data.ohlcv_1d)
        self._ts_1h = _ts(data.ohlcv_1h)
        self._ts_oi_1h = _ts(data.oi_usd_1h)
        self._ts_oi_1d = _ts(data.oi_usd_1d)
        self._ts_liq = _ts(data.liquidations_1h)
        self._ts_skew = _ts(data.skew_rr25_30d)
        self._funding = [
            (f, _ts(f.history), f.history.to_numpy(dtype=float)) for f in data.funding
        ]

    def at(self, t: int) -> AssetData:
        """The asset's inputs as they stood at `t`."""
        d = self.data
        return AssetData(
            asset=d.asset,
            ohlcv_1d=_bars(d.ohlcv_1d, self._ts_1d, DAY_MS, t, self._keep_1d),
            ohlcv_1h=_bars(d.ohlcv_1h, self._ts_1h, HOUR_MS, t, self._keep_1h),
            oi_usd_1h=_bars(d.oi_usd_1h, self._ts_oi_1h, HOUR_MS, t, self._keep_1h),
            oi_usd_1d=_bars(d.oi_usd_1d, self._ts_oi_1d, DAY_MS, t, self._keep_oi_1d),
            funding=tuple(self._funding_at(t)),
            liquidations_1h=_bars(d.liquidations_1h, self._ts_liq, HOUR_MS, t, self._keep_liq),
            # rr25_30d reads the last day, its 7-day change the sample nearest t − 7d (± 1d)
            skew_rr25_30d=_samples(d.skew_rr25_30d, self._ts_skew, t, 10 * DAY_MS),
            mmr=d.mmr,
            sources=d.sources,
            venues_used=d.venues_used,
            venues_failed=d.venues_failed,
        )

    def _funding_at(self, t: int) -> list[VenueFunding]:
        venues: list[VenueFunding] = []
        for f, ts, rates in self._funding:
            end = int(np.searchsorted(ts, t, side="right"))
            if end == 0 or int(ts[end - 1]) < t - FUNDING_RATE_MAX_AGE_MS:
                continue
            history = _samples(f.history, ts, t, 4 * DAY_MS)
            venues.append(
                VenueFunding(f.venue, float(rates[end - 1]), f.interval_hours, f.oi_usd, history)
            )
        return venues


def _ts(frame: pd.DataFrame | pd.Series) -> np.ndarray:
    return frame.index.to_numpy(dtype=np.int64)


def _bars(frame: Any, ts: np.ndarray, bar_ms: int, t: int, keep: int) -> Any:
    """The last `keep` bars closed by `t` (open time + bar length ≤ t)."""
    end = int(np.searchsorted(ts, t - bar_ms, side="right"))
    return frame.iloc[max(0, end - keep) : end]


def _samples(series: pd.Series, ts: np.ndarray, t: int, window_ms: int) -> pd.Series:
    """Samples with t − window < ts ≤ t."""
    end = int(np.searchsorted(ts, t, side="right"))
    start = int(np.searchsorted(ts, t - window_ms, side="right"))
    return series.iloc[start:end]


# ---- the run ------------------------------------------------------------------------------


def lookback_days(request: BacktestRequest, th: Thresholds) -> int:
    """How many days of history before asof a run can read (what a live source should fetch)."""
    reads = max(WARMUP_DAYS, th.sigma_window_days + th.vol_baseline_days + 1)
    return request.days + reads + 1


def run_backtest(history: History, request: BacktestRequest, th: Thresholds) -> BacktestReport:
    """Grade every evaluation time, measure what followed, and summarise per side."""
    data = history.data
    daily = data.ohlcv_1d
    daily_ts = _ts(daily)
    times = evaluation_times(daily_ts, history.asof, request.days, request.horizon_days)
    if not times:
        closed_ts = daily_ts[daily_ts + DAY_MS <= history.asof]
        first = int(closed_ts[0]) if len(closed_ts) else None
        last = int(closed_ts[-1]) if len(closed_ts) else None
        raise NotEnoughHistory(data.asset, request.horizon_days, first, last)
    liq_distance = 1 / request.leverage - data.mmr  # SPEC §5
    row_of = {int(ts): i for i, ts in enumerate(daily_ts)}
    lows = daily["low"].to_numpy(dtype=float)
    highs = daily["high"].to_numpy(dtype=float)
    closes = daily["close"].to_numpy(dtype=float)
    cut = HistoryCut(data, th)
    results: list[DayResult] = []
    evaluated: list[int] = []
    for t in times:
        market = compute_market(cut.at(t), t, th)
        entry = market.price
        if entry is None or entry <= 0:
            continue  # no price at t (stale or missing candles): nothing to grade from
        evaluated.append(t)
        rows = [row_of[t + k * DAY_MS] for k in range(request.horizon_days)]
        low, high, close = (
            float(lows[rows].min()),
            float(highs[rows].max()),
            float(closes[rows[-1]]),
        )
        for side in request.sides:
            flags = {name: f.status for name, f in all_flags(market, side, th).items()}
            count = sum(1 for status in flags.values() if status == "caution")
            mae = 1 - low / entry if side == "long" else high / entry - 1
            fwd = close / entry - 1 if side == "long" else 1 - close / entry
            results.append(
                DayResult(
                    t=t,
                    side=side,
                    entry=entry,
                    flags=flags,
                    caution_count=count,
                    flags_verdict=verdict_for(count, th),
                    mae=mae,
                    liquidated=ge(mae, liq_distance),
                    fwd_return=fwd,
                )
            )
    if not evaluated:
        raise NotEnoughHistory(data.asset, request.horizon_days, times[0], times[-1])
    sides = {
        side: summarise_side(side, [r for r in results if r.side == side])
        for side in request.sides
    }
    return BacktestReport(
        asset=data.asset,
        asof=history.asof,
        leverage=request.leverage,
        horizon_days=request.horizon_days,
        days_asked=request.days,
        days_evaluated=len(evaluated),
        independent_windows=len(evaluated) // request.horizon_days,
        liq_distance=liq_distance,
        mmr=data.mmr,
        first_t=evaluated[0],
        last_t=evaluated[-1],
        sides=sides,
        days=tuple(results),
        origin=history.origin,
        label=history.label,
        notes=history.notes,
    )


# ---- statistics ---------------------------------------------------------------------------


def verdict_stats(days: Sequence[DayResult]) -> VerdictStats:
    """n, liq_rate, mae_median, mae_p90 (numpy's linear interpolation), fwd_return_mean."""
    n = len(days)
    if n == 0:
        return VerdictStats(0, 0, None, None, None, None)
    mae = np.array([d.mae for d in days], dtype=float)
    liquidated = sum(1 for d in days if d.liquidated)
    return VerdictStats(
        n=n,
        liquidated=liquidated,
        liq_rate=liquidated / n,
        mae_median=float(np.median(mae)),
        mae_p90=float(np.percentile(mae, 90)),
        fwd_return_mean=float(np.mean([d.fwd_return for d in days])),
    )


def flag_stats(days: Sequence[DayResult]) -> FlagStats:
    """n and the median max adverse move (None when n = 0)."""
    if not days:
        return FlagStats(0, None)
    return FlagStats(len(days), float(np.median([d.mae for d in days])))


def lift(risky: VerdictStats, proceed: VerdictStats) -> float | None:
    """liq_rate of reduce-or-wait days ÷ that of proceed days; None when undefined (SPEC §9)."""
    if risky.n == 0 or proceed.n == 0 or not proceed.liq_rate:
        return None
    assert risky.liq_rate is not None
    return risky.liq_rate / proceed.liq_rate


def summarise_side(side: Side, days: Sequence[DayResult]) -> SideReport:
    """The per-verdict and per-flag statistics and lift of one side's days."""
    by_verdict = {v: verdict_stats([d for d in days if d.flags_verdict == v]) for v in VERDICTS}
    risky = verdict_stats([d for d in days if d.flags_verdict != "proceed"])
    by_flag = {
        name: {s: flag_stats([d for d in days if d.flags[name] == s]) for s in STATUSES}
        for name in FLAG_NAMES
    }
    known = {name: by_flag[name]["caution"].n + by_flag[name]["clear"].n for name in FLAG_NAMES}
    return SideReport(
        side=side,
        by_verdict=by_verdict,
        by_flag=by_flag,
        reduce_or_wait=risky,
        lift=lift(risky, by_verdict["proceed"]),
        days_known=known,
    )


# ---- JSON (SPEC §9) -----------------------------------------------------------------------


def report_json(report: BacktestReport, *, label: bool = False) -> dict[str, Any]:
    """The SPEC §9 JSON object; with `label`, a top-level "label" names synthetic data."""
    doc: dict[str, Any] = {
        "asset": report.asset,
        "asof": int(report.asof),
        "leverage": _whole(report.leverage),
        "horizon_days": int(report.horizon_days),
        "days_evaluated": int(report.days_evaluated),
        "independent_windows": int(report.independent_windows),
        "sides": {side: _side_json(r) for side, r in report.sides.items()},
    }
    if label and report.label:
        doc["label"] = report.label
    return doc


def report_json_text(report: BacktestReport, *, label: bool = False) -> str:
    """The SPEC §9 JSON object as indented text; NaN or Infinity would raise, never print."""
    return json.dumps(report_json(report, label=label), indent=2, allow_nan=False)


def _side_json(r: SideReport) -> dict[str, Any]:
    return {
        "by_verdict": {
            v: {
                "n": s.n,
                "liq_rate": _finite(s.liq_rate),
                "mae_median": _finite(s.mae_median),
                "mae_p90": _finite(s.mae_p90),
                "fwd_return_mean": _finite(s.fwd_return_mean),
            }
            for v, s in r.by_verdict.items()
        },
        "by_flag": {
            name: {s: {"n": f.n, "mae_median": _finite(f.mae_median)} for s, f in st.items()}
            for name, st in r.by_flag.items()
        },
        "lift": _finite(r.lift),
    }


def _finite(value: float | None) -> float | None:
    """JSON never holds NaN or Infinity: a non-finite statistic is unknown."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _whole(value: float) -> float | int:
    return int(value) if float(value).is_integer() else float(value)
