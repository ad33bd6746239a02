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


# ---- malformed snapshots (SPEC §6): (case id, file text, key the error must name or None) ---


def _valid_eth() -> dict[str, Any]:
    return asset_json(
        closes_1h=[100.0] * 25,
        closes_1d=[100.0] * 10,
        oi_1h=[1e9] * 25,
        oi_1d=[1e9] * 10,
        funding=[venue("binanceusdm", 0.0001, history=[(ASOF - 8 * HOUR, 0.0001)])],
        liquidations=[(1.0, 1.0)] * 48,
        skew=[(ASOF - HOUR, -1.0)],
    )


def _doc_with(mutate: Any) -> str:
    doc = snapshot_doc({"ETH": _valid_eth()})
    mutate(doc)
    return json.dumps(doc)  # allow_nan: NaN / Infinity are written as bare tokens


def _eth(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["assets"]["ETH"]


def _set(path: tuple[Any, ...], value: Any) -> Any:
    def mutate(doc: dict[str, Any]) -> None:
        target: Any = doc
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return mutate


def _delete(key: str) -> Any:
    return lambda doc: doc.pop(key)


def _swap_first_two(series: str) -> Any:
    def mutate(doc: dict[str, Any]) -> None:
        rows = _eth(doc)[series]
        rows[0], rows[1] = rows[1], rows[0]

    return mutate


def _duplicate_ts(series: str) -> Any:
    def mutate(doc: dict[str, Any]) -> None:
        rows = _eth(doc)[series]
        rows[1][0] = rows[0][0]

    return mutate


def _unsorted_history(doc: dict[str, Any]) -> None:
    _eth(doc)["funding"][0]["history"] = [[ASOF - HOUR, 0.0001], [ASOF - 9 * HOUR, 0.0001]]


def _drop_interval(doc: dict[str, Any]) -> None:
    del _eth(doc)["funding"][0]["interval_hours"]


def valid_snapshot_text() -> str:
    """A well-formed snapshot with one ETH asset (the base every malformed case breaks)."""
    return _doc_with(lambda doc: None)


def malformed_cases() -> list[tuple[str, str, str | None]]:
    """Every malformed-snapshot case: (id, file text, key the error message must name)."""
    nan, inf = float("nan"), float("inf")
    valid = valid_snapshot_text()
    assets_path = ("assets", "ETH")
    return [
        ("missing-format", _doc_with(_delete("format")), "format"),
        ("missing-asof", _doc_with(_delete("asof")), "asof"),
        ("missing-assets", _doc_with(_delete("assets")), "assets"),
        ("wrong-format", _doc_with(_set(("format",), "preflight.snapshot/2")), "format"),
        ("format-not-string", _doc_with(_set(("format",), 1)), "format"),
        ("top-level-list", json.dumps([snapshot_doc({})]), None),
        ("top-level-string", json.dumps("preflight.snapshot/1"), None),
        ("top-level-null", "null", None),
        ("truncated", valid[: len(valid) // 2], None),
        ("empty-file", "", None),
        ("asof-string", _doc_with(_set(("asof",), "1779235200000")), "asof"),
        ("asof-nan", _doc_with(_set(("asof",), nan)), "asof"),
        ("asof-negative", _doc_with(_set(("asof",), -5)), "asof"),
        ("assets-list", _doc_with(_set(("assets",), [])), "assets"),
        ("asset-body-list", _doc_with(_set(assets_path, [])), "ETH"),
        ("ohlcv-not-list", _doc_with(_set((*assets_path, "ohlcv_1h"), {"a": 1})), "ohlcv_1h"),
        ("close-string", _doc_with(_set((*assets_path, "ohlcv_1h", 3, 4), "101")), "ohlcv_1h"),
        ("close-bool", _doc_with(_set((*assets_path, "ohlcv_1h", 3, 4), True)), "ohlcv_1h"),
        ("ts-null", _doc_with(_set((*assets_path, "ohlcv_1h", 2, 0), None)), "ohlcv_1h"),
        ("row-short", _doc_with(_set((*assets_path, "ohlcv_1d", 1), [ASOF, 1, 1, 1])), "ohlcv_1d"),
        ("row-not-list", _doc_with(_set((*assets_path, "oi_usd_1d", 1), 5)), "oi_usd_1d"),
        ("close-nan", _doc_with(_set((*assets_path, "ohlcv_1h", 3, 4), nan)), "ohlcv_1h"),
        ("oi-infinity", _doc_with(_set((*assets_path, "oi_usd_1h", 5, 1), inf)), "oi_usd_1h"),
        ("skew-neg-infinity", _doc_with(_set((*assets_path, "skew_rr25_30d", 0, 1), -inf)),
         "skew_rr25_30d"),
        ("liq-nan", _doc_with(_set((*assets_path, "liquidations_1h", 7, 2), nan)),
         "liquidations_1h"),
        ("rate-nan", _doc_with(_set((*assets_path, "funding", 0, "rate"), nan)), "rate"),
        ("ohlcv-1d-unsorted", _doc_with(_swap_first_two("ohlcv_1d")), "ohlcv_1d"),
        ("ohlcv-1h-duplicate", _doc_with(_duplicate_ts("ohlcv_1h")), "ohlcv_1h"),
        ("oi-1d-duplicate", _doc_with(_duplicate_ts("oi_usd_1d")), "oi_usd_1d"),
        ("oi-1h-unsorted", _doc_with(_swap_first_two("oi_usd_1h")), "oi_usd_1h"),
        ("liq-duplicate", _doc_with(_duplicate_ts("liquidations_1h")), "liquidations_1h"),
        ("skew-unsorted", _doc_with(_set((*assets_path, "skew_rr25_30d"),
                                         [[ASOF - HOUR, 1.0], [ASOF - 2 * HOUR, 1.0]])),
         "skew_rr25_30d"),
        ("history-unsorted", _doc_with(_unsorted_history), "history"),
        ("funding-not-list", _doc_with(_set((*assets_path, "funding"), {"rate": 1})), "funding"),
        ("funding-rate-string", _doc_with(_set((*assets_path, "funding", 0, "rate"), "0.01%")),
         "rate"),
        ("funding-no-interval", _doc_with(_drop_interval), "interval_hours"),
        ("funding-interval-zero", _doc_with(_set((*assets_path, "funding", 0, "interval_hours"),
                                                 0)), "interval_hours"),
        ("mmr-string", _doc_with(_set((*assets_path, "mmr"), "0.5%")), "mmr"),
    ]  # fmt: skip
