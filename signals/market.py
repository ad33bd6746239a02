"""Typed market inputs for one asset (SPEC §1): what a snapshot or the live source yields."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
# SPEC §1: the maintenance margin rate when the venue gives none
DEFAULT_MMR = 0.005

OHLCV_COLUMNS = ("open", "high", "low", "close", "volume")
# Where a state came from: live venues, a recorded snapshot replayed, or the synthetic demo.
Origin = Literal["live", "snapshot", "demo"]
LIQ_COLUMNS = ("long_usd", "short_usd")


def empty_ohlcv() -> pd.DataFrame:
    """An OHLCV frame with no rows, indexed by bar open time (ms)."""
    return frame_from_rows([], OHLCV_COLUMNS)


def empty_liquidations() -> pd.DataFrame:
    """A liquidation-bucket frame with no rows, indexed by bucket open time (ms)."""
    return frame_from_rows([], LIQ_COLUMNS)


def empty_series() -> pd.Series:
    """A float series with no points, indexed by time (ms)."""
    return pd.Series(dtype="float64", index=pd.Index([], dtype="int64", name="ts"))


def series_from_rows(rows: list[list[float]] | list[tuple[float, float]]) -> pd.Series:
    """Build a ts-indexed float series from `[ts, value]` rows."""
    if not rows:
        return empty_series()
    ts = [int(r[0]) for r in rows]
    vals = [float(r[1]) for r in rows]
    return pd.Series(vals, index=pd.Index(ts, dtype="int64", name="ts"), dtype="float64")


def frame_from_rows(rows: list[list[float]], columns: tuple[str, ...]) -> pd.DataFrame:
    """Build a ts-indexed float frame from `[ts, v1, v2, …]` rows."""
    if not rows:
        return pd.DataFrame(
            {c: pd.Series(dtype="float64") for c in columns},
            index=pd.Index([], dtype="int64", name="ts"),
        )
    ts = [int(r[0]) for r in rows]
    data = {c: [float(r[i + 1]) for r in rows] for i, c in enumerate(columns)}
    return pd.DataFrame(data, index=pd.Index(ts, dtype="int64", name="ts"), dtype="float64")


def frame_from_array(array: np.ndarray, columns: tuple[str, ...]) -> pd.DataFrame:
    """Build a ts-indexed float frame from a validated `(n, 1 + len(columns))` float array."""
    if len(array) == 0:
        return frame_from_rows([], columns)
    index = pd.Index(array[:, 0].astype(np.int64), dtype="int64", name="ts")
    return pd.DataFrame(array[:, 1:], index=index, columns=list(columns), dtype="float64")


def series_from_array(array: np.ndarray) -> pd.Series:
    """Build a ts-indexed float series from a validated `(n, 2)` float array."""
    if len(array) == 0:
        return empty_series()
    index = pd.Index(array[:, 0].astype(np.int64), dtype="int64", name="ts")
    return pd.Series(array[:, 1], index=index, dtype="float64")


@dataclass(frozen=True, eq=False)
class VenueFunding:
    """One venue's funding: current (predicted) rate per interval and settled history."""

    venue: str
    rate: float | None
    interval_hours: float
    oi_usd: float | None
    history: pd.Series = field(default_factory=empty_series)


@dataclass(frozen=True)
class LiquidationCoverage:
    """Which venues fed the liquidation buckets, and how much time they cover."""

    venues: tuple[str, ...]
    hours_covered: float
    since_ms: int | None = None
    gaps: tuple[tuple[int, int], ...] = ()
    # venues whose stream is throttled (e.g. Binance: one event per symbol per second)
    lower_bound_venues: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class AssetData:
    """Every input the engine reads for one asset (SPEC §1)."""

    asset: str
    ohlcv_1d: pd.DataFrame = field(default_factory=empty_ohlcv)
    ohlcv_1h: pd.DataFrame = field(default_factory=empty_ohlcv)
    oi_usd_1h: pd.Series = field(default_factory=empty_series)
    oi_usd_1d: pd.Series = field(default_factory=empty_series)
    funding: tuple[VenueFunding, ...] = ()
    liquidations_1h: pd.DataFrame = field(default_factory=empty_liquidations)
    skew_rr25_30d: pd.Series = field(default_factory=empty_series)
    mmr: float = DEFAULT_MMR
    sources: dict[str, Any] = field(default_factory=dict)
    # SPEC §7 `sources`: the venues whose answers went into this state, and every venue that
    # was asked and did not answer usefully, with a short reason (named in replies and JSON)
    venues_used: tuple[str, ...] = ()
    venues_failed: Mapping[str, str] = field(default_factory=dict)
    liq_coverage: LiquidationCoverage | None = None
    # where this state came from, and the snapshot's file name for a replay (named in replies)
    origin: Origin = "live"
    origin_name: str | None = None

    @property
    def venues_down(self) -> tuple[str, ...]:
        """The venues that failed, in the order they were recorded."""
        return tuple(self.venues_failed)

    def has_any_data(self) -> bool:
        """True when at least one series or funding venue carries data."""
        return bool(
            len(self.ohlcv_1d)
            or len(self.ohlcv_1h)
            or len(self.oi_usd_1h)
            or len(self.oi_usd_1d)
            or self.funding
            or len(self.liquidations_1h)
            or len(self.skew_rr25_30d)
        )
