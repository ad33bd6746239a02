"""Build SPEC §1 inputs (AssetData) and SPEC §6 snapshot JSON from a few numbers, aligned to asof.

Bars are placed so that the last one closes exactly at `asof` (open time = asof − bar length),
which makes them closed under SPEC §1. Point series (OI) end one step before `asof`, so they
count whether the engine treats them as bars or as samples.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from signals.market import (
    LIQ_COLUMNS,
    OHLCV_COLUMNS,
    AssetData,
    VenueFunding,
    frame_from_rows,
    series_from_rows,
)

HOUR = 3_600_000
DAY = 24 * HOUR
# 2026-05-20 00:00 UTC: a day boundary, so daily bars line up with it
ASOF = 1_779_235_200_000
FORMAT = "preflight.snapshot/1"


def ohlcv_rows(closes: Sequence[float], bar_ms: int, asof: int = ASOF) -> list[list[float]]:
    """OHLCV rows with the given closes; the last bar closes exactly at `asof`."""
    n = len(closes)
    return [
        [asof - (n - i) * bar_ms, float(c), float(c), float(c), float(c), 1.0]
        for i, c in enumerate(closes)
    ]


def point_rows(values: Sequence[float], step_ms: int, asof: int = ASOF) -> list[list[float]]:
    """`[ts, value]` rows one step apart; the last one at `asof − step`."""
    n = len(values)
    return [[asof - (n - i) * step_ms, float(v)] for i, v in enumerate(values)]


def liq_rows(buckets: Sequence[tuple[float, float]], asof: int = ASOF) -> list[list[float]]:
    """Hourly `[ts, long_usd, short_usd]` buckets; the last one closes at `asof`."""
    n = len(buckets)
    return [[asof - (n - i) * HOUR, float(lo), float(sh)] for i, (lo, sh) in enumerate(buckets)]


def venue(
    name: str,
    rate: float | None,
    interval_hours: float = 8,
    oi_usd: float | None = 1e9,
    history: Sequence[tuple[int, float]] = (),
) -> dict[str, Any]:
    """One funding venue as SPEC §6 JSON."""
    return {
        "venue": name,
        "rate": rate,
        "interval_hours": interval_hours,
        "oi_usd": oi_usd,
        "history": [[int(ts), float(r)] for ts, r in history],
    }


def asset_json(
    *,
    asof: int = ASOF,
    closes_1h: Sequence[float] = (),
    closes_1d: Sequence[float] = (),
    oi_1h: Sequence[float] = (),
    oi_1d: Sequence[float] = (),
    funding: Sequence[dict[str, Any]] = (),
    liquidations: Sequence[tuple[float, float]] = (),
    skew: Sequence[tuple[int, float]] = (),
    mmr: float = 0.005,
    sources: dict[str, Any] | None = None,
    extra_rows: dict[str, list[list[float]]] | None = None,
) -> dict[str, Any]:
    """One asset as SPEC §6 JSON; `extra_rows` appends raw rows (e.g. forming bars) per series."""
    body: dict[str, Any] = {
        "ohlcv_1d": ohlcv_rows(closes_1d, DAY, asof),
        "ohlcv_1h": ohlcv_rows(closes_1h, HOUR, asof),
        "oi_usd_1h": point_rows(oi_1h, HOUR, asof),
        "oi_usd_1d": point_rows(oi_1d, DAY, asof),
        "funding": [dict(v) for v in funding],
        "liquidations_1h": liq_rows(liquidations, asof),
        "skew_rr25_30d": [[int(ts), float(rr)] for ts, rr in skew],
        "mmr": mmr,
        "sources": dict(sources or {}),
    }
    for key, rows in (extra_rows or {}).items():
        body[key] = body[key] + [list(r) for r in rows]
    return body


def snapshot_doc(assets: dict[str, dict[str, Any]], asof: int = ASOF) -> dict[str, Any]:
    """A whole SPEC §6 snapshot document."""
    return {"format": FORMAT, "asof": asof, "assets": assets}


def write_doc(path: Path, doc: Any) -> Path:
    """Write a snapshot document (or any JSON value) to `path` and return it."""
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def to_asset_data(name: str, body: dict[str, Any]) -> AssetData:
    """Turn one asset's SPEC §6 JSON into AssetData without going through the loader."""
    funding = tuple(
        VenueFunding(
            venue=v["venue"],
            rate=v["rate"],
            interval_hours=float(v["interval_hours"]),
            oi_usd=v.get("oi_usd"),
            history=series_from_rows(v.get("history") or []),
        )
        for v in body.get("funding", [])
    )
    return AssetData(
        asset=name,
        ohlcv_1d=frame_from_rows(body.get("ohlcv_1d", []), OHLCV_COLUMNS),
        ohlcv_1h=frame_from_rows(body.get("ohlcv_1h", []), OHLCV_COLUMNS),
        oi_usd_1h=series_from_rows(body.get("oi_usd_1h", [])),
        oi_usd_1d=series_from_rows(body.get("oi_usd_1d", [])),
        funding=funding,
        liquidations_1h=frame_from_rows(body.get("liquidations_1h", []), LIQ_COLUMNS),
        skew_rr25_30d=series_from_rows(body.get("skew_rr25_30d", [])),
        mmr=float(body.get("mmr", 0.005)),
        sources=dict(body.get("sources", {})),
    )


def asset_data(name: str = "ETH", **kwargs: Any) -> AssetData:
    """AssetData built from the same parameters as `asset_json`."""
    return to_asset_data(name, asset_json(**kwargs))
