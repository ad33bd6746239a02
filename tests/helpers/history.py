"""Hand-made long histories for the track-record tests, day by day, as SPEC §6 JSON.

Day 0 is the first daily candle. A `Day` says what that day's candle was and what was known
at its 00:00: the funding settlement at 00:00 (per 8h) and a skew sample at 23:00 the evening
before (so a sample is fresh at its own day's 00:00 only, and no 7-day change exists unless
the test asks for one).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from signals.history import History
from signals.snapshot import parse_snapshot

HOUR = 3_600_000
DAY = 24 * HOUR
T0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC
FORMAT = "preflight.snapshot/1"


@dataclass(frozen=True)
class Day:
    """One daily candle, and the funding and skew known at that day's 00:00."""

    open: float = 100.0
    high: float = 100.0
    low: float = 100.0
    close: float = 100.0
    funding_8h: float | None = None  # settlement at this day's 00:00 (rate per 8h)
    skew: float | None = None  # rr25 sampled at 23:00 the day before


def flat(n: int, price: float = 100.0) -> list[Day]:
    """`n` quiet days at one price."""
    return [Day(price, price, price, price) for _ in range(n)]


def day_ts(i: int, t0: int = T0) -> int:
    """00:00 UTC of day `i`."""
    return t0 + i * DAY


def asset_body(
    days: list[Day], *, t0: int = T0, mmr: float = 0.005, oi_usd: float = 1e9
) -> dict[str, Any]:
    """One asset's SPEC §6 JSON: daily candles, one 8h funding venue, skew samples."""
    candles = [[day_ts(i, t0), d.open, d.high, d.low, d.close, 1000.0] for i, d in enumerate(days)]
    history = [
        [day_ts(i, t0), d.funding_8h] for i, d in enumerate(days) if d.funding_8h is not None
    ]
    skew = [[day_ts(i, t0) - HOUR, d.skew] for i, d in enumerate(days) if d.skew is not None]
    funding = []
    if history:
        rate = history[-1][1]
        funding = [
            {
                "venue": "binanceusdm",
                "rate": rate,
                "interval_hours": 8,
                "oi_usd": oi_usd,
                "history": history,
            }
        ]
    return {
        "ohlcv_1d": candles,
        "ohlcv_1h": [],
        "oi_usd_1h": [],
        "oi_usd_1d": [],
        "funding": funding,
        "liquidations_1h": [],
        "skew_rr25_30d": skew,
        "mmr": mmr,
        "sources": {},
    }


def document(assets: dict[str, dict[str, Any]], asof: int) -> dict[str, Any]:
    """A whole snapshot document."""
    return {"format": FORMAT, "asof": asof, "assets": assets}


def write(path: Path, doc: dict[str, Any]) -> Path:
    """Write a snapshot document and return its path."""
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def history_of(doc: dict[str, Any], asset: str = "ETH", label: str | None = None) -> History:
    """Load a snapshot document through the real parser, as the backtest reads it."""
    asof, assets = parse_snapshot(json.dumps(doc))
    return History(asof=asof, data=assets[asset], origin="test", label=label)
