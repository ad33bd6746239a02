"""Generate the bundled demo snapshot (SPEC §6): four synthetic assets in designed regimes.

Run `python signals/demo/make_demo.py` to (re)write demo_snapshot.json beside this file, or
`python signals/demo/make_demo.py --check` to exit 1 when the committed file differs from
what this script generates. Every number is synthetic; see docs/demo.md.

Each regime pins the few numbers the flags read (24h price and OI change, 7-day return,
30-day and 60-day volatility, funding now and over 3 days, the liquidation burst hours, the
skew now and a week ago) and lets a seeded random walk fill in everything else.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SEED = 20260520
ASOF = 1_779_235_200_000  # 2026-05-20 00:00 UTC
FORMAT = "preflight.snapshot/1"
GENERATOR = "signals/demo/make_demo.py"
OUTPUT = Path(__file__).with_name("demo_snapshot.json")

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
DAILY_CANDLES = 120
HOURLY_DAYS = 8  # the last 8 daily candles are built from 192 hourly candles
OI_DAILY_POINTS = 40
FUNDING_HISTORY_H = 96
SKEW_EVERY_H = 4
SKEW_SAMPLES = 60  # 10 days
SIGMA_WINDOW = 30
BASELINE_WINDOW = 60
CASCADE_DROP = -0.11  # log move over a cascade's burst hours; the other hours bounce a little

# (venue, interval_hours, share of total OI, multiplier on the asset's funding level):
# mixed intervals on purpose, so the engine's 8h normalisation is exercised; the OI-weighted
# mean of the multipliers is exactly 1, so funding_8h is the designed level
VENUES: tuple[tuple[str, float, float, float], ...] = (
    ("binanceusdm", 8.0, 0.50, 1.05),
    ("bybit", 8.0, 0.32, 0.95),
    ("okx", 4.0, 0.18, 0.95),
)
LIQ_VENUES = ["binanceusdm", "bybit", "okx"]


@dataclass(frozen=True)
class Regime:
    """The designed numbers for one asset; everything else is seeded noise around them."""

    asset: str
    regime: str
    price: float  # last close
    price_decimals: int
    price_change_24h: float  # last daily simple return (= the 24h hourly change)
    return_7d: float
    sigma_recent: float  # sample std of the last 30 daily log returns
    sigma_baseline: float  # sample std of the 60 daily log returns before those
    volume_1d: float  # base units per day
    oi_usd: float  # current OI summed over venues
    oi_change_24h: float
    oi_drift_daily: float  # OI trend over the prior weeks (sets the 30-day percentile)
    funding_8h: float  # current rate per 8h (before venue multipliers)
    funding_8h_3d: float  # level of settled history per 8h
    liq_hourly_long: float  # usual USD of longs liquidated per hour
    liq_hourly_short: float
    # hour-of-day of the last day → USD of longs liquidated in that hour (the cascade)
    long_bursts: dict[int, float] = field(default_factory=dict)
    rr_now: float | None = None  # None: the asset has no listed options
    rr_week_ago: float | None = None
    note: str = ""


REGIMES: tuple[Regime, ...] = (
    Regime(
        asset="BTC",
        regime="calm",
        price=101_850.0,
        price_decimals=1,
        price_change_24h=0.004,
        return_7d=0.016,
        sigma_recent=0.018,
        sigma_baseline=0.020,
        volume_1d=180_000.0,
        oi_usd=17.5e9,
        oi_change_24h=0.006,
        oi_drift_daily=0.0,
        funding_8h=0.00006,
        funding_8h_3d=0.00005,
        liq_hourly_long=1.4e6,
        liq_hourly_short=1.2e6,
        rr_now=0.6,
        rr_week_ago=0.2,
        note="calm: no flag for either side",
    ),
    Regime(
        asset="ETH",
        regime="crowded-long",
        price=3_210.0,
        price_decimals=2,
        price_change_24h=-0.014,
        return_7d=-0.025,
        sigma_recent=0.026,
        sigma_baseline=0.030,
        volume_1d=2_500_000.0,
        oi_usd=9.2e9,
        oi_change_24h=0.055,
        oi_drift_daily=0.008,
        funding_8h=0.00048,
        funding_8h_3d=0.00032,
        liq_hourly_long=0.6e6,
        liq_hourly_short=0.5e6,
        rr_now=-1.2,
        rr_week_ago=-0.4,
        note="crowded long: OI piling in while price slips, funding hot",
    ),
    Regime(
        asset="SOL",
        regime="long-liquidation-cascade",
        price=168.4,
        price_decimals=3,
        price_change_24h=-0.085,
        return_7d=-0.14,
        sigma_recent=0.065,
        sigma_baseline=0.035,
        volume_1d=15_000_000.0,
        oi_usd=2.6e9,
        oi_change_24h=0.06,
        oi_drift_daily=0.004,
        funding_8h=-0.00004,
        funding_8h_3d=0.00003,
        liq_hourly_long=0.35e6,
        liq_hourly_short=0.15e6,
        long_bursts={4: 9.0e6, 5: 14.0e6, 11: 6.5e6, 17: 11.0e6, 18: 7.5e6},
        rr_now=-9.5,
        rr_week_ago=-1.5,
        note="long-liquidation cascade: forced selling, put skew, OI rising into the drop",
    ),
    Regime(
        asset="DOGE",
        regime="no-options",
        price=0.2052,
        price_decimals=5,
        price_change_24h=0.012,
        return_7d=0.03,
        sigma_recent=0.045,
        sigma_baseline=0.050,
        volume_1d=6.0e9,
        oi_usd=0.9e9,
        oi_change_24h=0.01,
        oi_drift_daily=0.0,
        funding_8h=0.00042,
        funding_8h_3d=0.00030,
        liq_hourly_long=0.08e6,
        liq_hourly_short=0.07e6,
        note="no listed options (skew unknown); funding hot for longs",
    ),
)


def _standardized(rng: np.random.Generator, n: int) -> np.ndarray:
    """n normal draws rescaled to mean 0 and sample std 1 exactly."""
    z = rng.standard_normal(n)
    return (z - z.mean()) / z.std(ddof=1)


def daily_log_returns(r: Regime, rng: np.random.Generator) -> np.ndarray:
    """The 119 daily log returns, with the 24h move, 7-day return and both sigmas pinned."""
    n_returns = DAILY_CANDLES - 1
    early = rng.standard_normal(n_returns - SIGMA_WINDOW - BASELINE_WINDOW) * r.sigma_baseline
    baseline = _standardized(rng, BASELINE_WINDOW) * r.sigma_baseline
    # the last week: the final day's move, and six days that complete the 7-day return
    last = math.log1p(r.price_change_24h)
    week = rng.standard_normal(6) * r.sigma_recent * 0.6
    week += (math.log1p(r.return_7d) - last - week.sum()) / 6
    fixed = np.append(week, last)
    # the other 23 days of the 30-day window get the scale that makes its sample std exact
    free_n = SIGMA_WINDOW - len(fixed)
    z = _standardized(rng, free_n)
    mean = fixed.sum() / SIGMA_WINDOW
    target_ss = r.sigma_recent**2 * (SIGMA_WINDOW - 1)
    fixed_ss = float(((fixed - mean) ** 2).sum()) + free_n * mean**2
    scale_sq = (target_ss - fixed_ss) / (free_n - 1)
    if scale_sq <= 0:
        raise ValueError(f"{r.asset}: the pinned week is too volatile for sigma_recent")
    recent = np.concatenate([z * math.sqrt(scale_sq), fixed])
    return np.concatenate([early, baseline, recent])


def _bridge(
    rng: np.random.Generator,
    start: float,
    end: float,
    steps: int,
    sd: float,
    pinned: dict[int, float] | None = None,
) -> np.ndarray:
    """A noisy path of `steps` points from after `start` to exactly `end` (log space).

    `pinned` fixes some steps' increments; the rest share what is left of the move.
    """
    eps = rng.standard_normal(steps) * sd
    free = np.ones(steps, dtype=bool)
    for step, move in (pinned or {}).items():
        eps[step] = move
        free[step] = False
    eps[free] += (end - start - eps.sum()) / free.sum()
    return start + np.cumsum(eps)


def _round(x: float, decimals: int) -> float:
    return float(round(float(x), decimals))


def candles(r: Regime, rng: np.random.Generator) -> tuple[list[list[Any]], list[list[Any]]]:
    """Daily and hourly OHLCV; the last 8 days aggregate the hourly candles exactly."""
    returns = daily_log_returns(r, rng)
    log_close = math.log(r.price) + np.concatenate([[0.0], np.cumsum(returns)]) - returns.sum()
    first_open = log_close[0] - rng.standard_normal() * r.sigma_baseline
    d = r.price_decimals
    day0 = ASOF - DAILY_CANDLES * DAY_MS
    sd_h = r.sigma_recent / math.sqrt(24)
    vol_h = r.volume_1d / 24
    daily: list[list[Any]] = []
    hourly: list[list[Any]] = []
    for i in range(DAILY_CANDLES):
        ts = day0 + i * DAY_MS
        lo_prev = first_open if i == 0 else log_close[i - 1]
        if i < DAILY_CANDLES - HOURLY_DAYS:
            o, c = math.exp(lo_prev), math.exp(log_close[i])
            wick = np.abs(rng.standard_normal(2)) * r.sigma_baseline * 0.4
            hi = max(o, c) * math.exp(wick[0])
            lo = min(o, c) * math.exp(-wick[1])
            v = _round(r.volume_1d * math.exp(0.25 * rng.standard_normal()), 2)
            daily.append([ts, _round(o, d), _round(hi, d), _round(lo, d), _round(c, d), v])
            continue
        last_day = i == DAILY_CANDLES - 1
        pinned = None
        if last_day and r.long_bursts:
            # the cascade's drop lands in the hours the longs were liquidated, sized by them
            total = sum(r.long_bursts.values())
            pinned = {h: CASCADE_DROP * usd / total for h, usd in r.long_bursts.items()}
        path = _bridge(rng, lo_prev, log_close[i], 24, sd_h, pinned)
        opens = np.concatenate([[lo_prev], path[:-1]])
        day_rows: list[list[Any]] = []
        for h in range(24):
            o, c = math.exp(opens[h]), math.exp(path[h])
            wick = np.abs(rng.standard_normal(2)) * sd_h * 0.5
            hi = max(o, c) * math.exp(wick[0])
            lo = min(o, c) * math.exp(-wick[1])
            busy = 5.0 if last_day and h in r.long_bursts else 1.0
            v = _round(vol_h * busy * math.exp(0.3 * rng.standard_normal()), 2)
            row = [ts + h * HOUR_MS, _round(o, d), _round(hi, d), _round(lo, d), _round(c, d), v]
            day_rows.append(row)
        hourly.extend(day_rows)
        daily.append(
            [
                ts,
                day_rows[0][1],
                max(row[2] for row in day_rows),
                min(row[3] for row in day_rows),
                day_rows[-1][4],
                _round(sum(row[5] for row in day_rows), 2),
            ]
        )
    return daily, hourly


def open_interest(r: Regime, rng: np.random.Generator) -> tuple[list[list[Any]], list[list[Any]]]:
    """Hourly (192 h) and daily (40 d) OI in USD; each day's value is its last hourly value."""
    levels = np.empty(OI_DAILY_POINTS)
    levels[-1] = math.log(r.oi_usd)
    levels[-2] = levels[-1] - math.log1p(r.oi_change_24h)
    steps = rng.standard_normal(OI_DAILY_POINTS - 2) * 0.025 + r.oi_drift_daily
    levels[:-2] = levels[-2] - np.cumsum(steps)[::-1]
    day0 = ASOF - OI_DAILY_POINTS * DAY_MS
    daily = [[day0 + i * DAY_MS, _round(math.exp(v), 0)] for i, v in enumerate(levels)]
    hourly: list[list[Any]] = []
    first_day = OI_DAILY_POINTS - HOURLY_DAYS
    for i in range(first_day, OI_DAILY_POINTS):
        path = _bridge(rng, levels[i - 1], levels[i], 24, 0.004)
        day_ts = day0 + i * DAY_MS
        hourly.extend([day_ts + h * HOUR_MS, _round(math.exp(v), 0)] for h, v in enumerate(path))
    return hourly, daily


def funding(r: Regime, rng: np.random.Generator) -> list[dict[str, Any]]:
    """Three venues with mixed intervals: current rate and ~4 days of settled history."""
    venues: list[dict[str, Any]] = []
    for name, interval, share, mult in VENUES:
        per_interval = interval / 8.0
        count = int(FUNDING_HISTORY_H / interval)
        # settlements at whole multiples of the interval, the last one just before asof
        history = []
        for k in range(count, 0, -1):
            r8 = r.funding_8h_3d * mult + rng.standard_normal() * 5e-6
            history.append([ASOF - int(k * interval * HOUR_MS), _round(r8 * per_interval, 8)])
        venues.append(
            {
                "venue": name,
                "rate": _round(r.funding_8h * mult * per_interval, 8),
                "interval_hours": interval,
                "oi_usd": _round(r.oi_usd * share, 0),
                "history": history,
            }
        )
    return venues


def liquidations(r: Regime, rng: np.random.Generator) -> list[list[Any]]:
    """192 hourly buckets `[ts, long_usd, short_usd]`; bursts only where the regime puts them."""
    hours = HOURLY_DAYS * 24
    t0 = ASOF - hours * HOUR_MS
    # lognormal with a small spread, clipped, so calm hours never pass for a burst
    long_usd = r.liq_hourly_long * np.clip(np.exp(0.3 * rng.standard_normal(hours)), 0.4, 1.8)
    short_usd = r.liq_hourly_short * np.clip(np.exp(0.3 * rng.standard_normal(hours)), 0.4, 1.8)
    if r.long_bursts:
        # the day of the cascade: everything runs hotter, plus the burst hours
        long_usd[-24:] *= 1.5
        for hour, usd in r.long_bursts.items():
            long_usd[hours - 24 + hour] = usd * math.exp(0.1 * rng.standard_normal())
    return [
        [t0 + i * HOUR_MS, _round(long_usd[i], 0), _round(short_usd[i], 0)] for i in range(hours)
    ]


def skew(r: Regime, rng: np.random.Generator) -> list[list[Any]]:
    """rr25 every 4 h for 10 days; the sample 7 days back and the latest are pinned."""
    if r.rr_now is None or r.rr_week_ago is None:
        return []
    ts = [ASOF - k * SKEW_EVERY_H * HOUR_MS for k in range(SKEW_SAMPLES, 0, -1)]
    week_idx = ts.index(ASOF - 7 * DAY_MS)
    # flat before the week mark, then a drift to today's level, with a little noise
    level = np.full(SKEW_SAMPLES, r.rr_week_ago)
    level[week_idx:] = np.linspace(r.rr_week_ago, r.rr_now, SKEW_SAMPLES - week_idx)
    values = level + rng.standard_normal(SKEW_SAMPLES) * 0.25
    values[week_idx] = r.rr_week_ago
    values[-1] = r.rr_now
    return [[t, _round(v, 2)] for t, v in zip(ts, values, strict=True)]


def build_asset(index: int, r: Regime) -> dict[str, Any]:
    """One SPEC §6 asset object for a regime, from its own seeded stream."""
    rng = np.random.default_rng([SEED, index])
    daily, hourly = candles(r, rng)
    oi_1h, oi_1d = open_interest(r, rng)
    venues = funding(r, rng)
    liq = liquidations(r, rng)
    rr = skew(r, rng)
    hours = len(liq)
    sources: dict[str, Any] = {
        "synthetic": True,
        "generator": GENERATOR,
        "seed": SEED,
        "regime": r.regime,
        "note": r.note,
        "liquidations": {
            "synthetic": True,
            "venues": LIQ_VENUES,
            "hours_covered": float(hours),
            "since": ASOF - hours * HOUR_MS,
            "gaps": [],
            "lower_bound_venues": ["binanceusdm"],
        },
    }
    if not rr:
        sources["skew"] = "no listed options for this asset"
    return {
        "ohlcv_1d": daily,
        "ohlcv_1h": hourly,
        "oi_usd_1h": oi_1h,
        "oi_usd_1d": oi_1d,
        "funding": venues,
        "liquidations_1h": liq,
        "skew_rr25_30d": rr,
        "mmr": 0.005,
        "sources": sources,
    }


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def render() -> str:
    """The whole snapshot as text: one key per line, one row per line (small, diffable)."""
    lines = ["{", f'"format":{_dump(FORMAT)},', f'"asof":{ASOF},', '"assets":{']
    for i, r in enumerate(REGIMES):
        body = build_asset(i, r)
        lines.append(f"{_dump(r.asset)}:{{")
        keys = list(body)
        for j, key in enumerate(keys):
            value = body[key]
            end = "," if j < len(keys) - 1 else ""
            if isinstance(value, list) and value:
                rows = ",\n".join(_dump(row) for row in value)
                lines.append(f"{_dump(key)}:[\n{rows}\n]{end}")
            else:
                lines.append(f"{_dump(key)}:{_dump(value)}{end}")
        lines.append("}," if i < len(REGIMES) - 1 else "}")
    lines += ["}", "}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the demo snapshot beside this script, or with --check compare it (exit 1)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    parser.add_argument("--out", type=Path, default=OUTPUT, help="where to write or compare")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        try:
            current = args.out.read_text(encoding="utf-8")
        except FileNotFoundError:
            print(f"{args.out}: missing; run {GENERATOR}", file=sys.stderr)
            return 1
        if current != text:
            print(f"{args.out}: differs from what {GENERATOR} generates", file=sys.stderr)
            return 1
        print(f"{args.out}: up to date")
        return 0
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(args.out)
    print(f"wrote {args.out} ({len(text.encode())} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
