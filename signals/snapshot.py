"""Snapshot files (`preflight.snapshot/1`, SPEC §6): strict loading and exact writing."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from signals.errors import SnapshotError
from signals.market import (
    DEFAULT_MMR,
    LIQ_COLUMNS,
    OHLCV_COLUMNS,
    AssetData,
    LiquidationCoverage,
    Origin,
    VenueFunding,
    frame_from_array,
    series_from_array,
)

FORMAT = "preflight.snapshot/1"
DEMO_PATH = Path(__file__).parent / "demo" / "demo_snapshot.json"
# A snapshot is read whole into memory (about 9× its size at the peak): files above this are
# refused with a clear message instead of taking seconds and gigabytes. A year of hourly data
# for one asset is about 1.5 MB, so this holds some 30 asset-years.
MAX_SNAPSHOT_BYTES = 50_000_000
# SPEC §6: timestamps are UTC milliseconds. Below 10^11 ms (1973) a timestamp is almost surely
# in seconds; above the year 9999 no date can be shown for it.
MIN_TIMESTAMP_MS = 10**11
MAX_TIMESTAMP_MS = 253_402_300_799_999
# Market values beyond this are no market (and would overflow the engine's sums and ratios).
MAX_ABS_VALUE = 1e18
# A price this small is an error in the file (perpetuals list `1000PEPE` instead).
MIN_PRICE = 1e-12
# An asset key is a ticker (ETH, 1000PEPE, a venue's CJK-named perpetual): letters and digits,
# short enough to quote whole in a reply.
MAX_SYMBOL_CHARS = 30


class _Invalid(Exception):
    """Internal: a validation failure at a key path, turned into SnapshotError."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(problem)
        self.key = key
        self.problem = problem


def load_snapshot(
    path: str | Path, max_bytes: int = MAX_SNAPSHOT_BYTES
) -> tuple[int, dict[str, AssetData]]:
    """Read and validate a snapshot file; return `(asof, assets)` or raise SnapshotError."""
    name = str(path)
    try:
        size = os.stat(path).st_size
        if size > max_bytes:
            raise SnapshotError(
                name,
                "",
                f"file is {size / 1e6:,.1f} MB, over the {max_bytes / 1e6:,.0f} MB limit:"
                " record fewer assets or a shorter history",
            )
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise SnapshotError(name, "", "file not found") from e
    except (OSError, UnicodeDecodeError) as e:
        raise SnapshotError(name, "", f"cannot read file ({e.__class__.__name__})") from e
    asof, assets = parse_snapshot(text, name)
    return asof, {asset: _with_origin(data, Path(path).name) for asset, data in assets.items()}


def _with_origin(data: AssetData, file_name: str) -> AssetData:
    """Mark a loaded asset as a replay of this file (the demo's synthetic data as the demo)."""
    origin: Origin = "demo" if data.sources.get("synthetic") is True else "snapshot"
    return dataclasses.replace(data, origin=origin, origin_name=file_name)


def parse_snapshot(text: str, name: str = "<snapshot>") -> tuple[int, dict[str, AssetData]]:
    """Validate snapshot JSON text; return `(asof, assets)` or raise SnapshotError."""
    try:
        # NaN/Infinity parse as floats here and are rejected by _number at their key path
        raw = json.loads(text, object_pairs_hook=_unique_keys)
    except _Invalid as e:
        raise SnapshotError(name, e.key, e.problem) from e
    except json.JSONDecodeError as e:
        raise SnapshotError(
            name, "", f"not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})"
        ) from e
    except (RecursionError, ValueError) as e:
        # ValueError: an integer literal longer than Python's int string limit (4300 digits)
        raise SnapshotError(name, "", f"JSON cannot be read ({e.__class__.__name__})") from e
    try:
        return _parse_document(raw)
    except _Invalid as e:
        raise SnapshotError(name, e.key, e.problem) from e


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """One JSON object, refused when a key repeats (json keeps the last, silently)."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Invalid(
                "", f"the key {_shown(key)!r} appears twice in one object (only one may be kept)"
            )
        result[key] = value
    return result


def _shown(key: str) -> str:
    return key if len(key) <= 40 else key[:40] + "…"


def _parse_document(raw: Any) -> tuple[int, dict[str, AssetData]]:
    if not isinstance(raw, dict):
        raise _Invalid("", "top level must be a JSON object")
    for key in ("format", "asof", "assets"):
        if key not in raw:
            raise _Invalid(key, "missing key")
    if raw["format"] != FORMAT:
        raise _Invalid("format", f"expected {FORMAT!r}, got {raw['format']!r}")
    asof = _timestamp(raw["asof"], "asof")
    assets_raw = raw["assets"]
    if not isinstance(assets_raw, dict):
        raise _Invalid("assets", "must be an object keyed by asset symbol")
    assets: dict[str, AssetData] = {}
    keys: dict[str, str] = {}
    for symbol, body in assets_raw.items():
        asset = symbol.strip().upper()
        if not asset.isalnum() or len(asset) > MAX_SYMBOL_CHARS:
            size = f" ({len(symbol)} characters)" if len(symbol) > 40 else ""
            raise _Invalid(
                "assets",
                f"asset key {_shown(symbol)!r}{size} is not a symbol: up to"
                f" {MAX_SYMBOL_CHARS} letters and digits, like ETH or 1000PEPE",
            )
        if asset in keys:
            raise _Invalid(
                f"assets.{symbol}",
                f"same asset as {keys[asset]!r} (asset keys must not differ only in case)",
            )
        keys[asset] = symbol
        assets[asset] = _parse_asset(asset, body, f"assets.{symbol}")
    return asof, assets


def _parse_asset(asset: str, body: Any, key: str) -> AssetData:
    if not isinstance(body, dict):
        raise _Invalid(key, "must be an object")
    mmr = body.get("mmr")
    mmr = DEFAULT_MMR if mmr is None else _number(mmr, f"{key}.mmr")
    if not 0 <= mmr < 1:
        raise _Invalid(f"{key}.mmr", f"must be in [0, 1), got {mmr}")
    sources = body.get("sources", {})
    if sources is None:
        sources = {}
    if not isinstance(sources, dict):
        raise _Invalid(f"{key}.sources", "must be an object")
    return AssetData(
        asset=asset,
        ohlcv_1d=frame_from_array(_rows(body, "ohlcv_1d", key, 6, candles=True), OHLCV_COLUMNS),
        ohlcv_1h=frame_from_array(_rows(body, "ohlcv_1h", key, 6, candles=True), OHLCV_COLUMNS),
        oi_usd_1h=series_from_array(_rows(body, "oi_usd_1h", key, 2, non_negative=True)),
        oi_usd_1d=series_from_array(_rows(body, "oi_usd_1d", key, 2, non_negative=True)),
        funding=_funding(body.get("funding"), f"{key}.funding"),
        liquidations_1h=frame_from_array(
            _rows(body, "liquidations_1h", key, 3, non_negative=True), LIQ_COLUMNS
        ),
        skew_rr25_30d=series_from_array(_rows(body, "skew_rr25_30d", key, 2)),
        mmr=mmr,
        sources=sources,
        venues_used=_str_tuple(sources.get("used", []), f"{key}.sources.used"),
        venues_failed=_failed(sources, f"{key}.sources"),
        liq_coverage=_coverage(sources.get("liquidations"), f"{key}.sources.liquidations"),
    )


def _rows(
    body: Mapping[str, Any],
    name: str,
    parent: str,
    width: int,
    *,
    candles: bool = False,
    non_negative: bool = False,
) -> np.ndarray:
    key = f"{parent}.{name}"
    rows = body.get(name)
    if rows is None:
        return np.empty((0, width))
    return _table(rows, key, width, candles=candles, non_negative=non_negative)


_NUMBER_TYPES = (int, float)


def _table(
    rows: Any, key: str, width: int, *, candles: bool = False, non_negative: bool = False
) -> np.ndarray:
    """A validated `(n, width)` float array of `[ts, values…]` rows (SPEC §6)."""
    if not isinstance(rows, list):
        raise _Invalid(key, "must be a list of rows")
    if not rows:
        return np.empty((0, width))
    # fast path: one cheap type scan, then every rule checked on the whole array at once;
    # any failure re-reads the rows one by one to name the offending row and rule
    shaped = all(type(r) is list and len(r) == width for r in rows) and all(
        type(v) in _NUMBER_TYPES for r in rows for v in r
    )
    if shaped:
        try:
            array = np.array(rows, dtype=np.float64)
        except OverflowError:
            array = None
        if array is not None and _table_ok(array, candles=candles, non_negative=non_negative):
            return array
    _table_slow(rows, key, width, candles=candles, non_negative=non_negative)
    raise _Invalid(key, "malformed rows")  # unreachable: the slow path names the row


def _table_ok(array: np.ndarray, *, candles: bool, non_negative: bool) -> bool:
    ts, values = array[:, 0], array[:, 1:]
    with np.errstate(invalid="ignore"):
        ok = (
            bool(np.isfinite(array).all())
            and bool((np.abs(values) <= MAX_ABS_VALUE).all())
            and bool((ts == np.floor(ts)).all())
            and bool((ts >= MIN_TIMESTAMP_MS).all() and (ts <= MAX_TIMESTAMP_MS).all())
            and bool((np.diff(ts) > 0).all())
        )
    if ok and candles:
        ok = bool((values[:, :4] >= MIN_PRICE).all() and (values[:, 4] >= 0).all())
    if ok and non_negative:
        ok = bool((values >= 0).all())
    return ok


def _table_slow(
    rows: list[Any], key: str, width: int, *, candles: bool, non_negative: bool
) -> None:
    """Check the rows one by one; raise _Invalid naming the first offending row."""
    last_ts: int | None = None
    for i, row in enumerate(rows):
        rkey = f"{key}[{i}]"
        if not isinstance(row, list) or len(row) != width:
            raise _Invalid(rkey, f"must be a row of {width} numbers")
        ts = _timestamp(row[0], rkey)
        if last_ts is not None and ts == last_ts:
            raise _Invalid(rkey, f"duplicate timestamp {ts}")
        if last_ts is not None and ts < last_ts:
            raise _Invalid(rkey, f"timestamps not ascending ({ts} after {last_ts})")
        last_ts = ts
        values = [_number(v, rkey) for v in row[1:]]
        if candles and any(v < MIN_PRICE for v in values[:4]):
            raise _Invalid(rkey, "prices must be positive")
        if candles and values[4] < 0:
            raise _Invalid(rkey, "volume must not be negative")
        if non_negative and any(v < 0 for v in values):
            raise _Invalid(rkey, "values must not be negative")


def _funding(entries: Any, key: str) -> tuple[VenueFunding, ...]:
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise _Invalid(key, "must be a list of venues")
    venues: list[VenueFunding] = []
    for i, entry in enumerate(entries):
        ekey = f"{key}[{i}]"
        if not isinstance(entry, dict):
            raise _Invalid(ekey, "must be an object")
        for required in ("venue", "rate", "interval_hours"):
            if required not in entry:
                raise _Invalid(f"{ekey}.{required}", "missing key")
        venue = entry["venue"]
        if not isinstance(venue, str) or not venue:
            raise _Invalid(f"{ekey}.venue", "must be a venue name")
        rate = entry["rate"]
        rate = None if rate is None else _number(rate, f"{ekey}.rate")
        interval = _number(entry["interval_hours"], f"{ekey}.interval_hours")
        if interval <= 0:
            raise _Invalid(f"{ekey}.interval_hours", f"must be positive, got {interval}")
        oi = entry.get("oi_usd")
        oi = None if oi is None else _number(oi, f"{ekey}.oi_usd")
        if oi is not None and oi < 0:
            raise _Invalid(f"{ekey}.oi_usd", "must not be negative")
        history = entry.get("history")
        rows = np.empty((0, 2)) if history is None else _table(history, f"{ekey}.history", 2)
        venues.append(VenueFunding(venue, rate, interval, oi, series_from_array(rows)))
    return tuple(venues)


def _coverage(raw: Any, key: str) -> LiquidationCoverage | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _Invalid(key, "must be an object")
    hours = _number(raw.get("hours_covered", 0), f"{key}.hours_covered")
    since = raw.get("since")
    gaps_raw = raw.get("gaps", [])
    if not isinstance(gaps_raw, list):
        raise _Invalid(f"{key}.gaps", "must be a list of [start, end] pairs")
    gaps: list[tuple[int, int]] = []
    for i, gap in enumerate(gaps_raw):
        if not isinstance(gap, list) or len(gap) != 2:
            raise _Invalid(f"{key}.gaps[{i}]", "must be a [start, end] pair")
        gaps.append(
            (_timestamp(gap[0], f"{key}.gaps[{i}]"), _timestamp(gap[1], f"{key}.gaps[{i}]"))
        )
    return LiquidationCoverage(
        venues=_str_tuple(raw.get("venues", []), f"{key}.venues"),
        hours_covered=hours,
        since_ms=None if since is None else _timestamp(since, f"{key}.since"),
        gaps=tuple(gaps),
        lower_bound_venues=_str_tuple(
            raw.get("lower_bound_venues", []), f"{key}.lower_bound_venues"
        ),
    )


def _failed(sources: Mapping[str, Any], key: str) -> dict[str, str]:
    """`sources.failed` (venue → reason); a v1 file's `venues_down` list reads as failed."""
    failed = sources.get("failed")
    if failed is None:
        legacy = _str_tuple(sources.get("venues_down", []), f"{key}.venues_down")
        return dict.fromkeys(legacy, "unavailable")
    if not isinstance(failed, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in failed.items()
    ):
        raise _Invalid(f"{key}.failed", "must be an object of venue → reason")
    return dict(failed)


def _str_tuple(raw: Any, key: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        raise _Invalid(key, "must be a list of names")
    return tuple(raw)


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid(key, f"expected a number, got {_describe(value)}")
    try:
        number = float(value)
    except OverflowError as e:  # an integer of hundreds of digits
        raise _Invalid(key, f"number too large ({len(str(abs(value)))} digits)") from e
    if not math.isfinite(number):
        raise _Invalid(key, f"expected a finite number, got {value}")
    if abs(number) > MAX_ABS_VALUE:
        raise _Invalid(key, f"number too large ({number:.3g}, the limit is {MAX_ABS_VALUE:.0e})")
    return number


def _timestamp(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid(key, f"expected a timestamp in ms, got {_describe(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise _Invalid(key, f"expected a finite number, got {value}")
    if value != int(value) or value < 0:
        raise _Invalid(key, f"timestamp must be whole UTC milliseconds, got {value}")
    ts = int(value)
    if ts < MIN_TIMESTAMP_MS:
        raise _Invalid(key, f"timestamp {ts} looks like seconds: SPEC timestamps are milliseconds")
    if ts > MAX_TIMESTAMP_MS:
        shown = str(ts) if len(str(ts)) <= 20 else f"of {len(str(ts))} digits"
        raise _Invalid(key, f"timestamp {shown} is beyond the year 9999")
    return ts


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"the string {value[:20]!r}"
    return type(value).__name__


# ---- writing ----------------------------------------------------------------------------


def asset_to_json(data: AssetData) -> dict[str, Any]:
    """Encode one asset's inputs as a SPEC §6 asset object."""
    sources = dict(data.sources)
    sources.pop("venues_down", None)
    sources["used"] = list(data.venues_used)
    sources["failed"] = dict(data.venues_failed)
    if data.liq_coverage is not None:
        cov = data.liq_coverage
        sources["liquidations"] = {
            "venues": list(cov.venues),
            "hours_covered": cov.hours_covered,
            "since": cov.since_ms,
            "gaps": [list(g) for g in cov.gaps],
            "lower_bound_venues": list(cov.lower_bound_venues),
        }
    return {
        "ohlcv_1d": _frame_rows(data.ohlcv_1d),
        "ohlcv_1h": _frame_rows(data.ohlcv_1h),
        "oi_usd_1h": _series_rows(data.oi_usd_1h),
        "oi_usd_1d": _series_rows(data.oi_usd_1d),
        "funding": [
            {
                "venue": f.venue,
                "rate": f.rate,
                "interval_hours": f.interval_hours,
                "oi_usd": f.oi_usd,
                "history": _series_rows(f.history),
            }
            for f in data.funding
        ],
        "liquidations_1h": _frame_rows(data.liquidations_1h),
        "skew_rr25_30d": _series_rows(data.skew_rr25_30d),
        "mmr": data.mmr,
        "sources": sources,
    }


def snapshot_to_json(asof: int, assets: Mapping[str, AssetData]) -> dict[str, Any]:
    """Encode a whole snapshot document."""
    return {
        "format": FORMAT,
        "asof": int(asof),
        "assets": {name: asset_to_json(data) for name, data in assets.items()},
    }


def write_snapshot(path: str | Path, asof: int, assets: Mapping[str, AssetData]) -> None:
    """Write a snapshot file atomically (temp file, then rename)."""
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(snapshot_to_json(asof, assets), allow_nan=False), encoding="utf-8")
    tmp.replace(target)


def _frame_rows(frame: pd.DataFrame) -> list[list[float]]:
    return [
        [int(ts), *(float(v) for v in row)]
        for ts, row in zip(frame.index, frame.to_numpy(), strict=True)
    ]


def _series_rows(series: pd.Series) -> list[list[float]]:
    return [[int(ts), float(v)] for ts, v in series.items()]
