"""Derived market quantities (SPEC §2): pure functions of AssetData and `asof`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from signals.market import DAY_MS, HOUR_MS, AssetData, VenueFunding
from signals.thresholds import Thresholds


@dataclass(frozen=True)
class LiqSide:
    """Liquidation statistics of one side over the last (up to) 168 hourly buckets."""

    liq_24h: float
    liq_baseline_daily: float
    bursts_24h: int


@dataclass(frozen=True)
class FundingVenue:
    """One venue's funding as the engine used it (normalised to 8 hours)."""

    venue: str
    funding_8h: float | None
    funding_8h_3d_avg: float | None
    interval_hours: float
    oi_usd: float


# SPEC §1 staleness: the series names used in `sources.stale` and in the "stale" reasons. A
# venue's funding history is named `funding.<venue>.history`.
HOURLY_BARS = ("ohlcv_1h", "oi_usd_1h", "liquidations_1h")
DAILY_BARS = ("ohlcv_1d", "oi_usd_1d")
SKEW_SERIES = "skew_rr25_30d"


def funding_history_name(venue: str) -> str:
    """The `sources.stale` name of one venue's settled funding history."""
    return f"funding.{venue}.history"


@dataclass(frozen=True)
class Market:
    """The market state at `asof` — SPEC §7 `market` plus the detail the flags need."""

    price: float | None
    price_change_24h: float | None
    return_7d: float | None
    sigma_daily: float | None
    vol_expansion: bool
    oi_usd: float | None
    oi_change_24h: float | None
    oi_percentile_30d: float | None
    funding_8h: float | None
    funding_8h_3d_avg: float | None
    liq_long_24h_usd: float | None
    liq_short_24h_usd: float | None
    rr25_30d: float | None
    rr25_30d_7d_change: float | None
    # detail behind the headline numbers
    liq_buckets: int = 0
    liq_long: LiqSide | None = None
    liq_short: LiqSide | None = None
    funding_venues: tuple[FundingVenue, ...] = ()
    hourly_candles: int = 0
    daily_candles: int = 0
    oi_points_1h: int = 0
    oi_points_1d: int = 0
    skew_samples: int = 0
    # SPEC §1: series treated as missing because their newest point is too old → age in ms
    stale: Mapping[str, int] = field(default_factory=dict)
    # SPEC §2: quantities that came from the daily series because the hourly ones fell short
    # ("price", "price_change_24h", "oi_usd", "oi_change_24h")
    daily_fallbacks: tuple[str, ...] = ()


def closed(frame: pd.DataFrame | pd.Series, bar_ms: int, asof: int) -> pd.DataFrame | pd.Series:
    """Only bars that have closed by `asof` (open time + bar length ≤ asof)."""
    if len(frame) == 0:
        return frame
    return frame[frame.index.to_numpy() + bar_ms <= asof]


def at_or_before(series: pd.Series, asof: int) -> pd.Series:
    """Only samples taken at or before `asof`."""
    if len(series) == 0:
        return series
    return series[series.index.to_numpy() <= asof]


def age_ms(series: pd.DataFrame | pd.Series, bar_ms: int, asof: int) -> int | None:
    """Age of the newest point at `asof`: from a bar's close (ts + bar length), a sample's ts."""
    if len(series) == 0:
        return None
    return int(asof - (int(series.index[-1]) + bar_ms))


def _fresh(
    series: Any, bar_ms: int, asof: int, limit_hours: float, name: str, stale: dict[str, int]
) -> Any:
    """The series, or an empty one when its newest point is older than the limit (SPEC §1)."""
    age = age_ms(series, bar_ms, asof)
    if age is None or age <= limit_hours * HOUR_MS:
        return series
    stale[name] = age
    return series.iloc[:0]


def compute_market(data: AssetData, asof: int, th: Thresholds) -> Market:
    """Every SPEC §2 quantity for one asset at `asof`; None where inputs are short or stale."""
    stale: dict[str, int] = {}
    hourly, daily = th.stale_hourly_hours, th.stale_daily_hours

    def bars(series: Any, bar_ms: int, limit: float, name: str) -> Any:
        return _fresh(closed(series, bar_ms, asof), bar_ms, asof, limit, name, stale)

    closes_1h = bars(data.ohlcv_1h, HOUR_MS, hourly, "ohlcv_1h")["close"].to_numpy(dtype=float)
    closes_1d = bars(data.ohlcv_1d, DAY_MS, daily, "ohlcv_1d")["close"].to_numpy(dtype=float)
    oi_1h = bars(data.oi_usd_1h, HOUR_MS, hourly, "oi_usd_1h").to_numpy(dtype=float)
    oi_1d = bars(data.oi_usd_1d, DAY_MS, daily, "oi_usd_1d").to_numpy(dtype=float)
    liq = bars(data.liquidations_1h, HOUR_MS, hourly, "liquidations_1h")
    skew = _fresh(
        at_or_before(data.skew_rr25_30d, asof), 0, asof, th.stale_skew_hours, SKEW_SERIES, stale
    )

    fallbacks: list[str] = []
    price = _price(closes_1h, closes_1d, fallbacks)
    sigma, vol_expansion = _volatility(closes_1d, th)
    funding_venues = tuple(_funding_venue(f, asof, th, stale) for f in data.funding)
    funding_8h = _weighted([(v.funding_8h, v.oi_usd) for v in funding_venues])
    funding_3d = _weighted([(v.funding_8h_3d_avg, v.oi_usd) for v in funding_venues])
    liq_used = liq.iloc[-th.liq_window_buckets :] if len(liq) else liq
    enough_liq = len(liq_used) >= th.liq_min_buckets
    liq_long = _liq_side(liq_used["long_usd"].to_numpy(), th) if enough_liq else None
    liq_short = _liq_side(liq_used["short_usd"].to_numpy(), th) if enough_liq else None
    rr, rr_change = _skew(skew, asof)
    oi_usd = _last(oi_1h)
    if oi_usd is None and (oi_usd := _last(oi_1d)) is not None:
        fallbacks.append("oi_usd")

    return Market(
        price=price,
        price_change_24h=_change_with_fallback(
            closes_1h, closes_1d, "price_change_24h", fallbacks
        ),
        return_7d=_change(closes_1d, 7),
        sigma_daily=_finite(sigma),
        vol_expansion=vol_expansion,
        oi_usd=oi_usd,
        oi_change_24h=_change_with_fallback(oi_1h, oi_1d, "oi_change_24h", fallbacks),
        oi_percentile_30d=_percentile(oi_1d, oi_usd),
        funding_8h=_finite(funding_8h),
        funding_8h_3d_avg=_finite(funding_3d),
        liq_long_24h_usd=liq_long.liq_24h if liq_long else None,
        liq_short_24h_usd=liq_short.liq_24h if liq_short else None,
        rr25_30d=rr,
        rr25_30d_7d_change=_finite(rr_change),
        liq_buckets=len(liq_used),
        liq_long=liq_long,
        liq_short=liq_short,
        funding_venues=funding_venues,
        hourly_candles=len(closes_1h),
        daily_candles=len(closes_1d),
        oi_points_1h=len(oi_1h),
        oi_points_1d=len(oi_1d),
        skew_samples=len(skew),
        stale=stale,
        daily_fallbacks=tuple(fallbacks),
    )


def _finite(value: float | None) -> float | None:
    """None for a value that overflowed to ±inf or came out NaN: an unknown, never a number."""
    if value is None or not math.isfinite(value):
        return None
    return value


def _last(values: np.ndarray) -> float | None:
    return float(values[-1]) if len(values) else None


def _price(closes_1h: np.ndarray, closes_1d: np.ndarray, fallbacks: list[str]) -> float | None:
    """The last hourly close, else (SPEC §2 fallback) the last daily close."""
    if len(closes_1h):
        return float(closes_1h[-1])
    if len(closes_1d):
        fallbacks.append("price")
        return float(closes_1d[-1])
    return None


def _change(values: np.ndarray, bars: int) -> float | None:
    """Last value ÷ the value `bars` points earlier − 1 (needs bars + 1 points)."""
    if len(values) < bars + 1:
        return None
    base = float(values[-1 - bars])
    if base == 0:
        return None
    return _finite(float(values[-1]) / base - 1)


def _change_with_fallback(
    hourly: np.ndarray, daily: np.ndarray, name: str, fallbacks: list[str]
) -> float | None:
    """The 24h change from 25 hourly points, else from the last two daily ones (SPEC §2)."""
    if len(hourly) >= 25:
        return _change(hourly, 24)
    change = _change(daily, 1)
    if change is not None:
        fallbacks.append(name)
    return change


def _volatility(closes_1d: np.ndarray, th: Thresholds) -> tuple[float | None, bool]:
    """sigma_daily over the last 30 log returns, and whether it expanded vs the 60 before."""
    window = th.sigma_window_days
    if len(closes_1d) < window + 1:
        return None, False
    returns = np.diff(np.log(closes_1d))
    sigma = float(np.std(returns[-window:], ddof=1))
    baseline_days = th.vol_baseline_days
    if len(closes_1d) < window + baseline_days + 1:
        return sigma, False
    before = returns[-(window + baseline_days) : -window]
    baseline = float(np.std(before, ddof=1))
    return sigma, bool(ge(sigma, th.vol_expansion_ratio * baseline))


def _percentile(oi_1d: np.ndarray, current: float | None) -> float | None:
    """Share of the last (up to) 30 daily OI values that are ≤ the current OI."""
    if current is None or len(oi_1d) < 7:
        return None
    recent = oi_1d[-30:]
    return float(np.count_nonzero(recent <= current)) / len(recent)


def _funding_venue(
    f: VenueFunding, asof: int, th: Thresholds, stale: dict[str, int]
) -> FundingVenue:
    scale = 8.0 / f.interval_hours
    current = _finite(f.rate * scale) if f.rate is not None else None
    # a stale history drops out; the venue's current rate then stands alone (SPEC §1)
    history = _fresh(
        at_or_before(f.history, asof),
        0,
        asof,
        th.stale_funding_history_hours,
        funding_history_name(f.venue),
        stale,
    )
    avg = None
    if len(history):
        ts = history.index.to_numpy()
        window = history.to_numpy(dtype=float)[(ts > asof - 72 * HOUR_MS) & (ts <= asof)]
        if len(window):
            avg = float(np.mean(window)) * scale
    return FundingVenue(f.venue, current, avg, f.interval_hours, f.oi_usd or 0.0)


def _weighted(pairs: list[tuple[float | None, float]]) -> float | None:
    """OI-weighted mean of the venues that have a value; plain mean if every weight is 0."""
    present = [(v, w) for v, w in pairs if v is not None]
    if not present:
        return None
    total = sum(w for _, w in present)
    if total <= 0:
        return sum(v for v, _ in present) / len(present)
    return sum(v * w for v, w in present) / total


def _liq_side(values: np.ndarray, th: Thresholds) -> LiqSide:
    last = values[-24:]
    earlier = values[:-24]
    liq_24h = float(np.sum(last))
    baseline = float(np.sum(earlier)) / (len(earlier) / 24) if len(earlier) else 0.0
    mean = float(np.mean(values))
    bursts = 0 if mean == 0 else sum(1 for v in last if gt(float(v), th.liq_burst_factor * mean))
    return LiqSide(liq_24h, baseline, bursts)


def _skew(skew: pd.Series, asof: int) -> tuple[float | None, float | None]:
    if len(skew) == 0:
        return None, None
    ts = skew.index.to_numpy()
    values = skew.to_numpy(dtype=float)
    rr = float(values[-1])
    target = asof - 7 * DAY_MS
    distance = np.abs(ts - target)
    nearest = int(np.argmin(distance))
    if distance[nearest] > DAY_MS:
        return rr, None
    return rr, rr - float(values[nearest])


# Thresholds are compared with a tiny tolerance so that a value computed to sit exactly on a
# threshold (e.g. 1.03 / 1.00 − 1) counts as "at" it despite binary floating point.
_REL_TOL = 1e-9
_ABS_TOL = 1e-15


def _tol(threshold: float) -> float:
    return max(_ABS_TOL, _REL_TOL * abs(threshold))


def ge(value: float, threshold: float) -> bool:
    """value ≥ threshold, counting float noise on the threshold as equal."""
    return value >= threshold - _tol(threshold)


def le(value: float, threshold: float) -> bool:
    """value ≤ threshold, counting float noise on the threshold as equal."""
    return value <= threshold + _tol(threshold)


def gt(value: float, threshold: float) -> bool:
    """value > threshold, beyond float noise."""
    return value > threshold + _tol(threshold)


def lt(value: float, threshold: float) -> bool:
    """value < threshold, beyond float noise."""
    return value < threshold - _tol(threshold)


def floor_tol(value: float) -> int:
    """floor() that treats 9.9999999999 (float noise under a whole number) as 10."""
    return math.floor(value + 1e-9)
