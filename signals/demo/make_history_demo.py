"""Generate the bundled long-history demo (SPEC §6 snapshot, gzip) that `backtest --demo` reads.

Run `python signals/demo/make_history_demo.py` to (re)write history_demo.json.gz beside this
file, or `python signals/demo/make_history_demo.py --check` to exit 1 when the committed file's
content differs from what this script generates. Every number is synthetic; see
docs/track-record.md, "The demo history".

A seeded Markov chain of market regimes drives everything: calm days, crowded longs (OI piling
in while price slips, funding hot, put skew building), long-liquidation cascades, and the
mirror images for shorts. Crowding is often, not always, followed by a cascade, and cascades
sometimes come out of calm: the generator builds a relation between the flags and what follows
into the data, so the demo's track record shows the report's shape, not evidence about real
markets.

What a live history would hold decides what the demo holds: daily candles, daily OI and
funding settlements for the whole span; hourly candles, hourly OI, liquidation buckets and skew
samples only for the recent part (the venues forget those; the bot's store records them).
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SEED = 20260523  # chosen among a few so that every verdict occurs on both sides
ASOF = 1_779_235_200_000  # 2026-05-20 00:00 UTC, the same asof as the one-day demo
FORMAT = "preflight.snapshot/1"
GENERATOR = "signals/demo/make_history_demo.py"
OUTPUT = Path(__file__).with_name("history_demo.json.gz")
LABEL = "synthetic demo data"

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


@dataclass(frozen=True)
class Coverage:
    """How far back each series goes (days before asof), and how often skew is sampled."""

    # 365 evaluation days + 31 days before the first + 60 more for vol_expansion, and a margin
    daily_days: int = 460
    # what the bot's store would hold after recording for 200 days: hourly candles, hourly OI
    # and liquidation buckets (the venues serve daily candles, daily OI and funding for years)
    hourly_days: int = 200
    liq_days: int = 200
    skew_days: int = 300
    skew_every_h: int = 8


DEMO = Coverage()
# every series hourly over the whole span: the size a long live history would reach
FULL = Coverage(hourly_days=460, liq_days=460, skew_days=460, skew_every_h=1)
PRICE_PULL = 0.02  # daily pull of the log price back towards its start

REGIMES = ("calm", "crowded_long", "long_cascade", "crowded_short", "short_squeeze")
CALM, CROWDED_LONG, LONG_CASCADE, CROWDED_SHORT, SHORT_SQUEEZE = range(5)

# Daily transition probabilities (rows: from, columns: to), in REGIMES order. Crowding lasts
# about a week and ends in a cascade a bit more often than not; a cascade lasts 2-3 days.
TRANSITIONS = np.array(
    [
        [0.908, 0.040, 0.006, 0.040, 0.006],
        [0.060, 0.820, 0.120, 0.000, 0.000],
        [0.400, 0.000, 0.600, 0.000, 0.000],
        [0.060, 0.000, 0.000, 0.820, 0.120],
        [0.400, 0.000, 0.000, 0.000, 0.600],
    ]
)

# per regime: daily log-return mean and sd, daily OI log-change mean and sd,
# funding per 8h, rr25 level (vol points), liquidation multipliers (long, short)
RETURN_MEAN = np.array([0.0008, -0.006, -0.055, 0.006, 0.050])
RETURN_SD = np.array([0.022, 0.018, 0.040, 0.018, 0.040])
OI_MEAN = np.array([0.000, 0.042, -0.070, 0.042, -0.065])
OI_SD = np.array([0.016, 0.012, 0.030, 0.012, 0.030])
FUNDING_8H = np.array([0.00008, 0.00042, 0.00002, -0.00040, -0.00004])
RR_LEVEL = np.array([0.3, -4.5, -9.0, 4.5, 8.5])
LIQ_LONG = np.array([1.0, 1.3, 2.2, 0.8, 0.9])
LIQ_SHORT = np.array([1.0, 0.8, 0.9, 1.3, 2.2])

# (venue, interval_hours, share of total OI, multiplier on the funding level)
VENUES: tuple[tuple[str, float, float, float], ...] = (
    ("binanceusdm", 8.0, 0.50, 1.05),
    ("bybit", 8.0, 0.32, 0.95),
    ("okx", 4.0, 0.18, 0.95),
)
LIQ_VENUES = ["binanceusdm", "bybit", "okx"]


@dataclass(frozen=True)
class AssetSpec:
    """The scale of one synthetic asset: price, OI, volume, liquidations, decimals."""

    asset: str
    price_start: float
    price_decimals: int
    volume_1d: float  # base units per day
    oi_usd_start: float
    liq_hourly_usd: float  # usual USD liquidated per hour on each side
    vol_scale: float  # multiplies every regime's sd (BTC moves less than ETH)


ASSETS: tuple[AssetSpec, ...] = (AssetSpec("ETH", 2_600.0, 1, 2_400_000.0, 8.0e9, 0.5e6, 1.0),)


def regime_path(rng: np.random.Generator, days: int) -> np.ndarray:
    """The regime of each day, a Markov chain started calm."""
    states = np.empty(days, dtype=int)
    state = CALM
    draws = rng.random(days)
    cumulative = np.cumsum(TRANSITIONS, axis=1)
    for i in range(days):
        states[i] = state
        state = int(np.searchsorted(cumulative[state], draws[i], side="right"))
        state = min(state, len(REGIMES) - 1)
    return states


def _significant(values: np.ndarray, digits: int) -> np.ndarray:
    """Round to `digits` significant digits (synthetic volumes need no more)."""
    scale = 10.0 ** (digits - 1 - np.floor(np.log10(np.abs(values))))
    return np.round(values * scale) / scale


def hourly_log_path(
    rng: np.random.Generator, states: np.ndarray, spec: AssetSpec
) -> tuple[np.ndarray, np.ndarray]:
    """Hourly log closes (days × 24) and the log open of the first hour.

    Each day's hours bridge its daily log return exactly; a cascade day puts most of its move
    into a few burst hours, which is where the liquidations land too.
    """
    days = len(states)
    shocks = rng.standard_normal(days) * RETURN_SD[states] * spec.vol_scale + RETURN_MEAN[states]
    # the price is pulled gently back towards where it started, so a year of regimes with
    # uneven drifts keeps it in a familiar range
    daily = np.empty(days)
    level = 0.0
    for i in range(days):
        daily[i] = shocks[i] - PRICE_PULL * level
        level += daily[i]
    sd_h = RETURN_SD[states] * spec.vol_scale / math.sqrt(24)
    eps = rng.standard_normal((days, 24)) * sd_h[:, None]
    eps += (daily - eps.sum(axis=1))[:, None] / 24
    start = math.log(spec.price_start)
    log_close = start + np.cumsum(eps.ravel()).reshape(days, 24)
    return log_close, np.array([start])


def candles(
    rng: np.random.Generator, states: np.ndarray, spec: AssetSpec, cov: Coverage
) -> tuple[list[list[float]], list[list[float]]]:
    """Daily candles for every day and hourly candles for the last `cov.hourly_days` days."""
    days = len(states)
    log_close, start = hourly_log_path(rng, states, spec)
    closes = np.exp(log_close)
    opens = np.exp(np.concatenate([start, log_close.ravel()[:-1]])).reshape(days, 24)
    sd_h = RETURN_SD[states] * spec.vol_scale / math.sqrt(24)
    wicks = np.abs(rng.standard_normal((days, 24, 2))) * sd_h[:, None, None] * 0.6
    highs = np.maximum(opens, closes) * np.exp(wicks[..., 0])
    lows = np.minimum(opens, closes) * np.exp(-wicks[..., 1])
    volume = spec.volume_1d / 24 * np.exp(0.3 * rng.standard_normal((days, 24)))
    volume *= np.where(states >= LONG_CASCADE, 2.5, 1.0)[:, None]
    d = spec.price_decimals
    o, h, lo, c = (np.round(a, d) for a in (opens, highs, lows, closes))
    v = _significant(volume, 3)
    day0 = ASOF - days * DAY_MS
    daily = [
        [
            day0 + i * DAY_MS,
            float(o[i, 0]),
            float(h[i].max()),
            float(lo[i].min()),
            float(c[i, -1]),
            float(v[i].sum()),
        ]
        for i in range(days)
    ]
    hourly: list[list[float]] = []
    for i in range(days - cov.hourly_days, days):
        ts = day0 + i * DAY_MS
        hourly.extend(
            [
                ts + k * HOUR_MS,
                float(o[i, k]),
                float(h[i, k]),
                float(lo[i, k]),
                float(c[i, k]),
                float(v[i, k]),
            ]
            for k in range(24)
        )
    return daily, hourly


def open_interest(
    rng: np.random.Generator, states: np.ndarray, spec: AssetSpec, cov: Coverage
) -> tuple[list[list[float]], list[list[float]], float]:
    """Hourly OI (last `cov.hourly_days` days), daily OI (each day's last hourly value), OI now."""
    days = len(states)
    change = rng.standard_normal(days) * OI_SD[states] + OI_MEAN[states]
    # OI mean-reverts towards its starting level so it neither explodes nor vanishes
    level = np.empty(days)
    current = math.log(spec.oi_usd_start)
    for i in range(days):
        current += change[i] - 0.02 * (current - math.log(spec.oi_usd_start))
        level[i] = current
    before = np.concatenate([[math.log(spec.oi_usd_start)], level[:-1]])
    eps = rng.standard_normal((days, 24)) * 0.003
    eps += ((level - before) - eps.sum(axis=1))[:, None] / 24
    hourly_level = before[:, None] + np.cumsum(eps, axis=1)
    oi = np.round(np.exp(hourly_level), -6)
    day0 = ASOF - days * DAY_MS
    daily = [[day0 + i * DAY_MS, float(oi[i, -1])] for i in range(days)]
    hourly = [
        [day0 + i * DAY_MS + k * HOUR_MS, float(oi[i, k])]
        for i in range(days - cov.hourly_days, days)
        for k in range(24)
    ]
    return hourly, daily, float(oi[-1, -1])


def funding(rng: np.random.Generator, states: np.ndarray, oi_usd: float) -> list[dict[str, Any]]:
    """Three venues, mixed intervals; a settlement at ts pays for the interval ending at ts."""
    days = len(states)
    day0 = ASOF - days * DAY_MS
    venues: list[dict[str, Any]] = []
    for name, interval, share, mult in VENUES:
        step = int(interval * HOUR_MS)
        ts = np.arange(day0 + step, ASOF + 1, step, dtype=np.int64)
        # the regime of the interval that the settlement pays for (the one ending at ts)
        day_of = np.clip((ts - 1 - day0) // DAY_MS, 0, days - 1)
        r8 = FUNDING_8H[states[day_of]] * mult + rng.standard_normal(len(ts)) * 0.00003
        rates = np.round(r8 * interval / 8.0, 6)
        history = [[int(t), float(r)] for t, r in zip(ts, rates, strict=True)]
        current = float(np.round(FUNDING_8H[states[-1]] * mult * interval / 8.0, 7))
        venues.append(
            {
                "venue": name,
                "rate": current,
                "interval_hours": interval,
                "oi_usd": float(np.round(oi_usd * share, -5)),
                "history": history,
            }
        )
    return venues


def liquidations(
    rng: np.random.Generator, states: np.ndarray, spec: AssetSpec, cov: Coverage
) -> list[list[float]]:
    """Hourly `[ts, long_usd, short_usd]` buckets for the last `cov.liq_days`; cascades burst."""
    days = len(states)
    liq_days = cov.liq_days
    recent = states[days - liq_days :]
    noise = np.clip(np.exp(0.35 * rng.standard_normal((liq_days, 24, 2))), 0.4, 2.0)
    base = spec.liq_hourly_usd * noise
    long_usd = base[..., 0] * LIQ_LONG[recent][:, None]
    short_usd = base[..., 1] * LIQ_SHORT[recent][:, None]
    burst_hours = rng.random((liq_days, 24)) < 0.2
    burst_size = 6.0 + 10.0 * rng.random((liq_days, 24))
    long_usd = np.where(
        burst_hours & (recent == LONG_CASCADE)[:, None], long_usd * burst_size, long_usd
    )
    short_usd = np.where(
        burst_hours & (recent == SHORT_SQUEEZE)[:, None], short_usd * burst_size, short_usd
    )
    long_usd, short_usd = np.round(long_usd, -4), np.round(short_usd, -4)
    t0 = ASOF - liq_days * DAY_MS
    return [
        [t0 + (i * 24 + k) * HOUR_MS, float(long_usd[i, k]), float(short_usd[i, k])]
        for i in range(liq_days)
        for k in range(24)
    ]


def skew(rng: np.random.Generator, states: np.ndarray, cov: Coverage) -> list[list[float]]:
    """rr25 samples for the last `cov.skew_days` days: the regime's level, smoothed, plus noise."""
    days = len(states)
    day0 = ASOF - days * DAY_MS
    per_day = 24 // cov.skew_every_h
    step = cov.skew_every_h * HOUR_MS
    ts = np.arange(ASOF - cov.skew_days * DAY_MS, ASOF, step, dtype=np.int64)
    # a sample at ts sees the regime of the interval just before it
    day_of = np.clip((ts - 1 - day0) // DAY_MS, 0, days - 1)
    target = RR_LEVEL[states[day_of]]
    level = np.empty(len(ts))
    current = 0.0
    for i, goal in enumerate(target):
        current += (goal - current) * (0.5 / per_day * 3)
        level[i] = current
    values = np.round(level + rng.standard_normal(len(ts)) * 0.8, 2)
    return [[int(t), float(v)] for t, v in zip(ts, values, strict=True)]


def build_asset(index: int, spec: AssetSpec, cov: Coverage = DEMO) -> dict[str, Any]:
    """One SPEC §6 asset object with a long history, from its own seeded stream."""
    rng = np.random.default_rng([SEED, index])
    states = regime_path(rng, cov.daily_days)
    daily, hourly = candles(rng, states, spec, cov)
    oi_1h, oi_1d, oi_now = open_interest(rng, states, spec, cov)
    venues = funding(rng, states, oi_now)
    liq = liquidations(rng, states, spec, cov)
    rr = skew(rng, states, cov)
    counts = {name: int(np.sum(states == k)) for k, name in enumerate(REGIMES)}
    sources: dict[str, Any] = {
        "synthetic": True,
        "label": LABEL,
        "generator": GENERATOR,
        "seed": SEED,
        "regime_days": counts,
        "used": [v[0] for v in VENUES],
        "liquidations": {
            "synthetic": True,
            "venues": LIQ_VENUES,
            "hours_covered": float(cov.liq_days * 24),
            "since": ASOF - cov.liq_days * DAY_MS,
            "gaps": [],
            "lower_bound_venues": ["binanceusdm"],
        },
    }
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


def render(cov: Coverage = DEMO) -> str:
    """The whole snapshot as compact JSON text (one line; it ships gzip-compressed)."""
    doc = {
        "format": FORMAT,
        "asof": ASOF,
        "assets": {spec.asset: build_asset(i, spec, cov) for i, spec in enumerate(ASSETS)},
    }
    return json.dumps(doc, separators=(",", ":"), allow_nan=False) + "\n"


def read_bundled(path: Path = OUTPUT) -> str:
    """The committed demo's JSON text (decompressed)."""
    return gzip.decompress(path.read_bytes()).decode("utf-8")


def main(argv: list[str] | None = None) -> int:
    """Write the gzip demo beside this script, or with --check compare its content (exit 1)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    parser.add_argument("--out", type=Path, default=OUTPUT, help="where to write or compare")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        try:
            current = read_bundled(args.out)
        except (OSError, EOFError, gzip.BadGzipFile) as e:
            print(f"{args.out}: unreadable ({e}); run {GENERATOR}", file=sys.stderr)
            return 1
        if current != text:
            print(f"{args.out}: differs from what {GENERATOR} generates", file=sys.stderr)
            return 1
        print(f"{args.out}: up to date")
        return 0
    tmp = args.out.with_name(args.out.name + ".tmp")
    # mtime=0: the same content gives the same bytes, so the file only changes when data does
    tmp.write_bytes(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))
    tmp.replace(args.out)
    print(
        f"wrote {args.out} ({tmp.stat().st_size if tmp.exists() else args.out.stat().st_size} "
        f"bytes, {len(text)} characters of JSON)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
