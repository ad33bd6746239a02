"""Hourly liquidation buckets and their coverage, read from the store (SPEC §1 `liquidations_1h`).

A bucket exists only for an hour the counted venues actually recorded, so a fresh store
yields too few buckets and the engine reports the flag `unknown` rather than "calm".
"""

from __future__ import annotations

import logging
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Mapping

import pandas as pd

from signals.market import HOUR_MS, LIQ_COLUMNS, LiquidationCoverage, empty_liquidations
from signals.store import CoverageSpan, Store

log = logging.getLogger(__name__)

# an hour counts as recorded by a venue when its coverage spans at least this share of it:
# a reconnect of a few seconds keeps the hour; a 10-minute outage drops it
COVERED_FRACTION = 0.9
# venues whose stream is throttled, so their totals are a lower bound: Binance pushes at most
# one liquidation per symbol per second, OKX at most one per contract per second
LOWER_BOUND_VENUES = frozenset({"binanceusdm", "okx"})
DEFAULT_MIN_BUCKETS = 48


def read_liquidations(
    store: Store,
    asset: str,
    asof_ms: int,
    hours: int = 168,
    *,
    min_buckets: int = DEFAULT_MIN_BUCKETS,
) -> tuple[pd.DataFrame, LiquidationCoverage]:
    """Closed, covered hourly buckets (long_usd, short_usd summed over the counted venues)
    of the `hours` before asof, with their coverage; empty with no venues if the store fails."""
    end = int(asof_ms) // HOUR_MS * HOUR_MS
    start = end - int(hours) * HOUR_MS
    asset = asset.strip().upper()
    try:
        # spans up to asof (not just the closed hours) date a fresh start's "collecting since"
        spans = store.read_liq_coverage(asset, start, int(asof_ms))
        sums = store.read_liq_hours(asset, start, end)
    except sqlite3.Error as e:
        log.warning("liquidation history for %s unreadable (%s): flag will be unknown", asset, e)
        return empty_liquidations(), LiquidationCoverage(venues=(), hours_covered=0.0)
    covered = covered_hours(spans, start, end)
    venues, counted = choose_venues(covered, min_buckets)
    frame = hourly_frame(sums, venues, counted)
    since = counted[0] if counted else _earliest_start(spans, start)
    coverage = LiquidationCoverage(
        venues=venues,
        hours_covered=float(len(counted)),
        since_ms=since,
        gaps=missing_runs(counted, counted[0], end) if counted else (),
        lower_bound_venues=tuple(v for v in venues if v in LOWER_BOUND_VENUES),
    )
    return frame, coverage


def covered_hours(
    spans: Iterable[CoverageSpan], start_ms: int, end_ms: int
) -> dict[str, set[int]]:
    """Per venue, the hour opens in [start_ms, end_ms) its spans cover ≥ COVERED_FRACTION of."""
    by_venue: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for span in spans:
        lo, hi = max(span.start_ms, start_ms), min(span.end_ms, end_ms)
        if hi > lo:
            by_venue[span.venue].append((lo, hi))
    result: dict[str, set[int]] = {}
    for venue, intervals in by_venue.items():
        seconds: dict[int, int] = defaultdict(int)
        for lo, hi in merge_intervals(intervals):
            hour = lo // HOUR_MS * HOUR_MS
            while hour < hi:
                seconds[hour] += min(hi, hour + HOUR_MS) - max(lo, hour)
                hour += HOUR_MS
        result[venue] = {h for h, ms in seconds.items() if ms >= COVERED_FRACTION * HOUR_MS}
    return result


def merge_intervals(intervals: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Union of [lo, hi) intervals as disjoint, ascending intervals."""
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(intervals):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def choose_venues(
    covered: Mapping[str, set[int]], min_buckets: int = DEFAULT_MIN_BUCKETS
) -> tuple[tuple[str, ...], list[int]]:
    """The venues to sum and the hours they ALL cover.

    Every bucket must hold the same venues, or a venue joining mid-window would look like a
    surge. Venues are ranked by hours covered (then recency); the most venues whose common
    hours still reach `min_buckets` are kept — or, when none reach it, the most venues that
    keep as many hours as the best single venue.
    """
    ranked = sorted(
        (v for v, hrs in covered.items() if hrs),
        key=lambda v: (-len(covered[v]), -max(covered[v]), v),
    )
    if not ranked:
        return (), []
    prefixes: list[set[int]] = []
    common: set[int] = set(covered[ranked[0]])
    for venue in ranked:
        common = common & covered[venue]
        prefixes.append(common)
    enough = [k for k, hrs in enumerate(prefixes) if len(hrs) >= min_buckets]
    if enough:
        k = enough[-1]
    else:
        best = len(prefixes[0])
        k = max(i for i, hrs in enumerate(prefixes) if len(hrs) == best)
    return tuple(sorted(ranked[: k + 1])), sorted(prefixes[k])


def hourly_frame(
    sums: Iterable[tuple[str, str, int, float]], venues: Iterable[str], hours: list[int]
) -> pd.DataFrame:
    """The SPEC `liquidations_1h` frame: one row per hour in `hours` (zeros where no
    liquidation was recorded), summing `(venue, side, hour, usd)` rows of the given venues."""
    if not hours:
        return empty_liquidations()
    wanted = set(venues)
    rows = {h: {"long_usd": 0.0, "short_usd": 0.0} for h in hours}
    for venue, side, hour, usd in sums:
        if venue in wanted and hour in rows:
            rows[hour][f"{side}_usd"] += usd
    index = pd.Index(hours, dtype="int64", name="ts")
    data = {c: [rows[h][c] for h in hours] for c in LIQ_COLUMNS}
    return pd.DataFrame(data, index=index, dtype="float64")


def missing_runs(hours: list[int], since_ms: int, end_ms: int) -> tuple[tuple[int, int], ...]:
    """Maximal [start, end) runs of hours in [since_ms, end_ms) absent from `hours`."""
    present = set(hours)
    gaps: list[tuple[int, int]] = []
    hour = since_ms // HOUR_MS * HOUR_MS
    while hour < end_ms:
        if hour not in present:
            if gaps and gaps[-1][1] == hour:
                gaps[-1] = (gaps[-1][0], hour + HOUR_MS)
            else:
                gaps.append((hour, hour + HOUR_MS))
        hour += HOUR_MS
    return tuple(gaps)


def _earliest_start(spans: Iterable[CoverageSpan], window_start: int) -> int | None:
    starts = [max(s.start_ms, window_start) for s in spans]
    return min(starts) if starts else None
