"""Recorded skew samples (SPEC §1 `skew_rr25_30d`): written and read next to the liquidation
history, so the REST module never touches the store.

Each live check that computes a fresh 30-day 25Δ risk reversal records it; a check returns the
last 30 days of samples up to its `asof`, so `rr25_30d_7d_change` appears once a sample from
about a week ago exists. Plain synchronous Store calls: callers run them off the event loop.
"""

from __future__ import annotations

import logging
import sqlite3

import pandas as pd

from signals.convert import series
from signals.market import DAY_MS
from signals.store import Store

log = logging.getLogger(__name__)

SKEW_METRIC = "rr25_30d"
SKEW_HISTORY_MS = 30 * DAY_MS


def record_skew(store: Store, asset: str, samples: pd.Series) -> None:
    """Upsert fresh `(ts, rr)` samples of an asset; a store that cannot be written is logged."""
    record_skew_rows(store, asset, [(int(ts), float(rr)) for ts, rr in samples.items()])


def record_skew_rows(store: Store, asset: str, rows: list[tuple[int, float]]) -> None:
    """Upsert `(ts, rr)` samples of an asset; a store that cannot be written is logged."""
    if not rows:
        return
    try:
        store.record_samples(asset, SKEW_METRIC, rows)
    except sqlite3.Error as e:
        log.warning("recording skew for %s failed: %s", asset, e)


def read_skew(store: Store, asset: str, since_ms: int, until_ms: int) -> list[tuple[int, float]]:
    """Recorded samples of an asset in [since_ms, until_ms]; none when the store fails."""
    try:
        return store.read_samples(asset, SKEW_METRIC, since_ms=since_ms, until_ms=until_ms)
    except sqlite3.Error as e:
        log.warning("reading skew history for %s failed: %s", asset, e)
        return []


def skew_series(rows: dict[int, float], asof_ms: int) -> tuple[pd.Series, int | None]:
    """The samples of the 30 days up to asof as a series, and the time of the oldest (None
    when there is none): what says why a 7-day change is missing."""
    ordered = sorted(
        (ts, rr) for ts, rr in rows.items() if asof_ms - SKEW_HISTORY_MS <= ts <= asof_ms
    )
    return series(ordered), (ordered[0][0] if ordered else None)


def skew_with_history(
    store: Store, asset: str, asof_ms: int, fresh: pd.Series
) -> tuple[pd.Series, int | None]:
    """The recorded samples of the 30 days up to asof, with `fresh` merged in, and the time of
    the oldest sample (None when there is none): what says why a 7-day change is missing."""
    rows: dict[int, float] = {}
    try:
        stored = store.read_samples(
            asset, SKEW_METRIC, since_ms=asof_ms - SKEW_HISTORY_MS, until_ms=asof_ms
        )
        rows.update(stored)
    except sqlite3.Error as e:
        log.warning("reading skew history for %s failed: %s", asset, e)
    for ts, rr in fresh.items():
        if int(ts) <= asof_ms:
            rows[int(ts)] = float(rr)
    ordered = sorted(rows.items())
    return series(ordered), (ordered[0][0] if ordered else None)
