"""The SQLite store's liquidation tables: round trip, coverage, gaps, retention, migrations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from signals.migrations import MIGRATIONS
from signals.store import CoverageSpan, LiqGap, LiqMinute, Store

T0 = 1_779_000_000_000 - 1_779_000_000_000 % 3_600_000  # an hour open


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "preflight.sqlite")


def test_new_store_is_at_the_latest_schema_in_wal_mode(store: Store) -> None:
    assert store.schema_version() == MIGRATIONS[-1][0]
    assert store.connect().execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_migrations_are_numbered_in_order_and_liquidations_are_2() -> None:
    # numbers rise but may skip one another change takes (the store applies missing ones)
    versions = [v for v, _ in MIGRATIONS]
    assert versions[:3] == [1, 2, 3]
    assert versions == sorted(set(versions))
    assert "liq_minutes" in dict(MIGRATIONS)[2]


def test_minutes_round_trip_and_add_up(store: Store) -> None:
    store.write_liquidations([LiqMinute("BTC", "bybit", "long", T0 + 61_000, 100.0, 1)])
    store.write_liquidations(
        [
            LiqMinute("BTC", "bybit", "long", T0 + 119_999, 50.0, 2),
            LiqMinute("BTC", "okx", "short", T0, 7.5, 1),
            LiqMinute("ETH", "okx", "short", T0, 1.0, 1),
        ]
    )
    assert store.read_liq_minutes("BTC", T0, T0 + 3_600_000) == [
        LiqMinute("BTC", "okx", "short", T0, 7.5, 1),
        LiqMinute("BTC", "bybit", "long", T0 + 60_000, 150.0, 3),
    ]


def test_replace_overwrites_a_minute(store: Store) -> None:
    store.write_liquidations([LiqMinute("BTC", "gate", "long", T0, 10.0, 0)], replace=True)
    store.write_liquidations([LiqMinute("BTC", "gate", "long", T0, 12.0, 0)], replace=True)
    assert store.read_liq_minutes("BTC", T0, T0 + 60_000) == [
        LiqMinute("BTC", "gate", "long", T0, 12.0, 0)
    ]


def test_hour_sums_bucket_across_the_hour_boundary(store: Store) -> None:
    store.write_liquidations(
        [
            LiqMinute("BTC", "bybit", "long", T0 + 59 * 60_000, 1.0, 1),
            LiqMinute("BTC", "bybit", "long", T0 + 3_599_999, 2.0, 1),
            LiqMinute("BTC", "bybit", "long", T0 + 3_600_000, 4.0, 1),
        ]
    )
    assert store.read_liq_hours("BTC", T0, T0 + 2 * 3_600_000) == [
        ("bybit", "long", T0, 3.0),
        ("bybit", "long", T0 + 3_600_000, 4.0),
    ]


def test_coverage_span_is_extended_not_duplicated(store: Store) -> None:
    store.write_liquidations([], [CoverageSpan("BTC", "okx", T0, T0 + 1000, "stream")])
    store.write_liquidations([], [CoverageSpan("BTC", "okx", T0, T0 + 5000, "stream")])
    store.write_liquidations([], [CoverageSpan("BTC", "okx", T0, T0 + 3000, "stream")])
    assert store.read_liq_coverage("BTC", T0, T0 + 10_000) == [
        CoverageSpan("BTC", "okx", T0, T0 + 5000, "stream")
    ]
    assert store.read_liq_coverage("BTC", T0 + 5000, T0 + 10_000) == []


def test_gaps_round_trip(store: Store) -> None:
    store.record_liq_gap(LiqGap("bybit", T0, T0 + 4000, "NetworkError: closed"))
    store.record_liq_gap(LiqGap("okx", T0 + 10, T0 + 20, "RequestTimeout: ping"))
    assert store.read_liq_gaps(T0, venue="bybit") == [
        LiqGap("bybit", T0, T0 + 4000, "NetworkError: closed")
    ]
    assert [g.venue for g in store.read_liq_gaps()] == ["bybit", "okx"]


def test_retention_prunes_only_what_is_older(store: Store) -> None:
    day = 86_400_000
    store.write_liquidations(
        [
            LiqMinute("BTC", "okx", "long", T0 - 31 * day, 1.0, 1),
            LiqMinute("BTC", "okx", "long", T0 - 29 * day, 2.0, 1),
        ],
        [
            CoverageSpan("BTC", "okx", T0 - 32 * day, T0 - 31 * day, "stream"),
            CoverageSpan("BTC", "okx", T0 - 31 * day, T0, "stream"),
        ],
    )
    store.record_liq_gap(LiqGap("okx", T0 - 40 * day, T0 - 39 * day, "old"))
    store.record_samples("BTC", "rr25_30d", [(T0 - 31 * day, -4.0), (T0 - 29 * day, -5.0)])
    assert store.prune_history(T0 - 30 * day) == 4
    assert store.read_samples("BTC", "rr25_30d") == [(T0 - 29 * day, -5.0)]
    assert store.read_liq_minutes("BTC", 0, T0) == [
        LiqMinute("BTC", "okx", "long", T0 - 29 * day, 2.0, 1)
    ]
    assert store.read_liq_coverage("BTC", 0, T0) == [
        CoverageSpan("BTC", "okx", T0 - 31 * day, T0, "stream")
    ]
    assert store.read_liq_gaps() == []


def test_a_v1_file_migrates_and_keeps_its_samples(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0][1])
    conn.execute("PRAGMA user_version=1")
    conn.execute("INSERT INTO samples VALUES ('BTC', 'rr25_30d', 1000, -4.5)")
    conn.commit()
    conn.close()
    store = Store(path)
    assert store.schema_version() == MIGRATIONS[-1][0]
    assert store.read_samples("BTC", "rr25_30d") == [(1000, -4.5)]
    store.write_liquidations([LiqMinute("BTC", "okx", "long", T0, 1.0, 1)])
    assert len(store.read_liq_minutes("BTC", T0, T0 + 60_000)) == 1


def test_full_disk_raises_a_sqlite_error_and_keeps_what_was_committed(store: Store) -> None:
    store.write_liquidations([LiqMinute("BTC", "okx", "long", T0, 1.0, 1)])
    conn = store.connect()
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count={pages}")  # the disk is now full
    rows = [LiqMinute("BTC", "okx", "short", T0 + i * 60_000, 1.0, 1) for i in range(5000)]
    with pytest.raises(sqlite3.OperationalError, match="full"):
        store.write_liquidations(rows)
    assert not conn.in_transaction
    assert store.read_liq_minutes("BTC", T0, T0 + 10**9) == [
        LiqMinute("BTC", "okx", "long", T0, 1.0, 1)
    ]


def test_read_only_store_raises_a_sqlite_error(store: Store) -> None:
    store.connect().execute("PRAGMA query_only=ON")
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        store.write_liquidations([LiqMinute("BTC", "okx", "long", T0, 1.0, 1)])


def test_a_transaction_interrupted_by_any_error_is_rolled_back(store: Store) -> None:
    conn = store.connect()
    with pytest.raises(KeyboardInterrupt), store.transaction() as tx:
        tx.execute("INSERT INTO samples VALUES ('BTC', 'rr25_30d', 1000, -4.5)")
        raise KeyboardInterrupt
    assert not conn.in_transaction
    assert store.read_samples("BTC", "rr25_30d") == []


# ---- the hourly rollup (migration 7) ---------------------------------------------------------

HOUR = 3_600_000


def minute_sums(
    store: Store, asset: str, since: int, until: int
) -> list[tuple[str, str, int, float]]:
    """What a check read before the rollup: the GROUP BY over the minutes themselves."""
    rows = store.connect().execute(
        "SELECT venue, side, (ts / 3600000) * 3600000 AS hour, SUM(usd) FROM liq_minutes "
        "WHERE asset = ? AND ts >= ? AND ts < ? GROUP BY venue, side, hour ORDER BY hour",
        (asset, since, until),
    )
    return sorted((v, s, int(h), float(u)) for v, s, h, u in rows)


def test_the_hourly_rollup_equals_the_minutes_after_adds_overwrites_and_pruning(
    store: Store,
) -> None:
    store.write_liquidations(
        [
            LiqMinute("BTC", "bybit", "long", T0 + 61_000, 100.0, 1),
            LiqMinute("BTC", "bybit", "long", T0 + HOUR - 1, 25.0, 1),  # the same hour
            LiqMinute("BTC", "bybit", "short", T0 + HOUR, 3.0, 1),  # the next one
            LiqMinute("BTC", "okx", "long", T0 + 2 * HOUR + 5, 7.0, 2),
            LiqMinute("ETH", "okx", "short", T0, 1.0, 1),
        ]
    )
    store.write_liquidations([LiqMinute("BTC", "bybit", "long", T0 + 61_000, 10.0, 1)])
    # a backfill overwrites one minute: its hour is summed again, not added to
    store.write_liquidations(
        [LiqMinute("BTC", "bybit", "long", T0 + 60_000, 40.0, 3)], replace=True
    )
    window = (T0 - HOUR, T0 + 5 * HOUR)
    assert sorted(store.read_liq_hours("BTC", *window)) == minute_sums(store, "BTC", *window)
    assert sorted(store.read_liq_hours("BTC", *window)) == [
        ("bybit", "long", T0, 65.0),
        ("bybit", "short", T0 + HOUR, 3.0),
        ("okx", "long", T0 + 2 * HOUR, 7.0),
    ]
    # pruning inside an hour keeps that hour's later minutes only
    store.prune_history(T0 + 30 * 60_000)
    assert sorted(store.read_liq_hours("BTC", *window)) == minute_sums(store, "BTC", *window)
    assert ("bybit", "long", T0, 25.0) in store.read_liq_hours("BTC", *window)
    assert store.read_liq_hours("ETH", *window) == []
    store.prune_history(T0 + 2 * HOUR)
    assert store.read_liq_hours("BTC", *window) == [("okx", "long", T0 + 2 * HOUR, 7.0)]


def test_a_window_cut_inside_an_hour_is_summed_from_the_minutes(store: Store) -> None:
    store.write_liquidations(
        [
            LiqMinute("BTC", "bybit", "long", T0 + 60_000, 1.0, 1),
            LiqMinute("BTC", "bybit", "long", T0 + 50 * 60_000, 2.0, 1),
        ]
    )
    assert store.read_liq_hours("BTC", T0 + 30 * 60_000, T0 + HOUR) == [("bybit", "long", T0, 2.0)]


def test_migration_7_rolls_up_the_minutes_an_older_store_holds(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    for version, sql in MIGRATIONS:
        if version < 7:
            conn.executescript(sql)
    conn.executemany(
        "INSERT INTO liq_minutes VALUES (?, ?, ?, ?, ?, ?)",
        [
            ("BTC", "bybit", "long", T0 + i * 60_000, float(i), 1)
            for i in range(150)  # two and a half hours of minutes
        ],
    )
    conn.execute(f"PRAGMA user_version={max(v for v, _ in MIGRATIONS if v < 7)}")
    conn.commit()
    conn.close()

    store = Store(path)
    window = (T0, T0 + 3 * HOUR)
    assert store.read_liq_hours("BTC", *window) == minute_sums(store, "BTC", *window)
    assert [h for _, _, h, _ in store.read_liq_hours("BTC", *window)] == [
        T0,
        T0 + HOUR,
        T0 + 2 * HOUR,
    ]
