"""read_liquidations: hourly buckets from the store, coverage arithmetic, SPEC §6 round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from signals.liq_history import (
    choose_venues,
    covered_hours,
    merge_intervals,
    missing_runs,
    read_liquidations,
)
from signals.market import HOUR_MS, AssetData, LiquidationCoverage
from signals.snapshot import parse_snapshot, snapshot_to_json
from signals.store import CoverageSpan, LiqMinute, Store

H0 = 1_779_000_000_000 - 1_779_000_000_000 % HOUR_MS  # an hour open
MIN = 60_000


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "preflight.sqlite")


def span(venue: str, start: int, end: int, asset: str = "BTC") -> CoverageSpan:
    return CoverageSpan(asset, venue, start, end, "stream")


def test_an_empty_store_gives_no_buckets_and_no_coverage(store: Store) -> None:
    frame, coverage = read_liquidations(store, "BTC", H0 + 5 * HOUR_MS)
    assert list(frame.columns) == ["long_usd", "short_usd"]
    assert len(frame) == 0
    assert coverage == LiquidationCoverage(venues=(), hours_covered=0.0, since_ms=None)


def test_a_fresh_start_counts_only_closed_covered_hours(store: Store) -> None:
    start = H0 + 20 * MIN  # collecting since 00:20: the first hour is only 2/3 covered
    asof = H0 + 3 * HOUR_MS + 30 * MIN
    store.write_liquidations(
        [
            LiqMinute("BTC", "bybit", "long", H0 + 30 * MIN, 5.0, 1),  # partial hour: dropped
            LiqMinute("BTC", "bybit", "long", H0 + HOUR_MS + 59 * MIN, 100.0, 1),
            LiqMinute("BTC", "bybit", "short", H0 + 2 * HOUR_MS, 40.0, 2),
            LiqMinute("BTC", "bybit", "short", H0 + 3 * HOUR_MS + 1 * MIN, 9.0, 1),  # open hour
        ],
        [span("bybit", start, asof)],
    )
    frame, coverage = read_liquidations(store, "btc", asof)
    assert frame.index.tolist() == [H0 + HOUR_MS, H0 + 2 * HOUR_MS]
    assert frame.index.dtype == "int64"
    assert frame.to_numpy().tolist() == [[100.0, 0.0], [0.0, 40.0]]
    assert coverage == LiquidationCoverage(
        venues=("bybit",), hours_covered=2.0, since_ms=H0 + HOUR_MS, gaps=()
    )


def test_before_the_first_full_hour_since_says_when_collecting_began(store: Store) -> None:
    store.write_liquidations([], [span("okx", H0 + 10 * MIN, H0 + 50 * MIN)])
    frame, coverage = read_liquidations(store, "BTC", H0 + 50 * MIN)
    assert len(frame) == 0
    assert (coverage.hours_covered, coverage.since_ms) == (0.0, H0 + 10 * MIN)


def test_a_covered_hour_with_no_liquidations_is_a_zero_row(store: Store) -> None:
    store.write_liquidations([], [span("bybit", H0, H0 + 3 * HOUR_MS)])
    frame, _ = read_liquidations(store, "BTC", H0 + 3 * HOUR_MS)
    assert frame.to_numpy().tolist() == [[0.0, 0.0]] * 3


def test_a_long_outage_drops_its_hours_and_is_reported_as_a_gap(store: Store) -> None:
    store.write_liquidations(
        [LiqMinute("BTC", "okx", "long", H0 + 3 * HOUR_MS + 5 * MIN, 1.0, 1)],
        [
            span("okx", H0, H0 + HOUR_MS + 40 * MIN),  # down 01:40 … 03:00
            span("okx", H0 + 3 * HOUR_MS, H0 + 5 * HOUR_MS),
        ],
    )
    frame, coverage = read_liquidations(store, "BTC", H0 + 5 * HOUR_MS)
    assert frame.index.tolist() == [H0, H0 + 3 * HOUR_MS, H0 + 4 * HOUR_MS]
    assert coverage.gaps == ((H0 + HOUR_MS, H0 + 3 * HOUR_MS),)
    assert coverage.hours_covered == 3.0
    assert coverage.lower_bound_venues == ("okx",)


def test_a_short_reconnect_keeps_the_hour(store: Store) -> None:
    store.write_liquidations(
        [],
        [span("bybit", H0, H0 + 30 * MIN), span("bybit", H0 + 32 * MIN, H0 + HOUR_MS)],
    )
    frame, coverage = read_liquidations(store, "BTC", H0 + HOUR_MS)
    assert (len(frame), coverage.gaps) == (1, ())


def test_buckets_sum_over_venues_and_name_the_throttled_ones(store: Store) -> None:
    store.write_liquidations(
        [
            LiqMinute("BTC", "binanceusdm", "long", H0 + MIN, 10.0, 1),
            LiqMinute("BTC", "bybit", "long", H0 + 2 * MIN, 5.0, 1),
            LiqMinute("BTC", "okx", "short", H0 + 3 * MIN, 2.0, 1),
            LiqMinute("ETH", "okx", "short", H0 + 3 * MIN, 1000.0, 1),
        ],
        [span(v, H0, H0 + HOUR_MS) for v in ("binanceusdm", "bybit", "okx")],
    )
    frame, coverage = read_liquidations(store, "BTC", H0 + HOUR_MS)
    assert frame.to_numpy().tolist() == [[15.0, 2.0]]
    assert coverage.venues == ("binanceusdm", "bybit", "okx")
    assert coverage.lower_bound_venues == ("binanceusdm", "okx")


def test_a_week_of_backfill_beats_a_day_of_streams_until_they_reach_48h(store: Store) -> None:
    asof = H0 + 168 * HOUR_MS
    store.write_liquidations(
        [
            LiqMinute("BTC", "gate", "long", asof - 2 * HOUR_MS, 7.0, 0),
            LiqMinute("BTC", "bybit", "long", asof - 2 * HOUR_MS, 1000.0, 1),
        ],
        [
            CoverageSpan("BTC", "gate", H0, asof, "backfill"),
            span("bybit", asof - 30 * HOUR_MS, asof),
        ],
    )
    frame, coverage = read_liquidations(store, "BTC", asof)
    # mixing a venue in for its last 30 hours only would fake a surge: gate alone is used
    assert (coverage.venues, len(frame)) == (("gate",), 168)
    assert frame.loc[asof - 2 * HOUR_MS].tolist() == [7.0, 0.0]
    store.write_liquidations([], [span("bybit", asof - 60 * HOUR_MS, asof - 30 * HOUR_MS)])
    frame, coverage = read_liquidations(store, "BTC", asof)
    assert (coverage.venues, len(frame)) == (("bybit", "gate"), 60)
    assert frame.loc[asof - 2 * HOUR_MS].tolist() == [1007.0, 0.0]
    assert coverage.since_ms == asof - 60 * HOUR_MS


def test_choose_venues_prefers_recent_coverage_on_a_tie() -> None:
    old = set(range(0, 48))
    new = set(range(100, 148))
    assert choose_venues({"gate": old, "bybit": new}) == (("bybit",), sorted(new))


def test_choose_venues_keeps_every_venue_while_under_48_hours_together() -> None:
    hours = set(range(10))
    assert choose_venues({"a": hours, "b": hours, "c": set()}) == (("a", "b"), sorted(hours))
    assert choose_venues({}) == ((), [])


def test_covered_hours_merges_overlaps_and_needs_90_percent() -> None:
    spans = [span("x", H0, H0 + 30 * MIN), span("x", H0 + 20 * MIN, H0 + 55 * MIN)]
    assert covered_hours(spans, H0, H0 + HOUR_MS) == {"x": {H0}}
    spans = [span("x", H0, H0 + 50 * MIN)]
    assert covered_hours(spans, H0, H0 + HOUR_MS) == {"x": set()}


def test_interval_and_gap_helpers() -> None:
    assert merge_intervals([(5, 9), (0, 3), (3, 4), (8, 12)]) == [(0, 4), (5, 12)]
    hours = [0, HOUR_MS, 4 * HOUR_MS]
    assert missing_runs(hours, 0, 6 * HOUR_MS) == (
        (2 * HOUR_MS, 4 * HOUR_MS),
        (5 * HOUR_MS, 6 * HOUR_MS),
    )


def test_an_unreadable_store_degrades_to_no_buckets(store: Store) -> None:
    store.connect().execute("DROP TABLE liq_minutes")
    frame, coverage = read_liquidations(store, "BTC", H0)
    assert (len(frame), coverage.venues, coverage.hours_covered) == (0, (), 0.0)


def test_output_round_trips_through_a_snapshot_as_liquidations_1h(store: Store) -> None:
    asof = H0 + 50 * HOUR_MS
    store.write_liquidations(
        [
            LiqMinute("BTC", "binanceusdm", "long", H0 + 7 * HOUR_MS + 3 * MIN, 1234.5, 2),
            LiqMinute("BTC", "binanceusdm", "short", H0 + 49 * HOUR_MS, 0.25, 1),
        ],
        [span("binanceusdm", H0, asof - 25 * MIN), span("binanceusdm", asof - 10 * MIN, asof)],
    )
    frame, coverage = read_liquidations(store, "BTC", asof)
    assert len(frame) == 49  # the last hour lost 15 minutes: not covered
    data = AssetData(asset="BTC", liquidations_1h=frame, liq_coverage=coverage)
    doc = snapshot_to_json(asof, {"BTC": data})
    rows = doc["assets"]["BTC"]["liquidations_1h"]
    assert rows[7] == [H0 + 7 * HOUR_MS, 1234.5, 0.0]
    assert all(len(r) == 3 and isinstance(r[0], int) for r in rows)
    _, assets = parse_snapshot(json.dumps(doc))
    pd.testing.assert_frame_equal(assets["BTC"].liquidations_1h, frame)
    assert assets["BTC"].liq_coverage == coverage
    assert coverage.gaps == ((asof - HOUR_MS, asof),)
