"""From stored rows to the engine's inputs (signals/live_history.py `assemble`, pure) and the
archive of what the bot recorded (a real SQLite store): hand-made rows, exact answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from signals.live_history import (
    StoredHistory,
    archive_liquidations,
    archive_recorded,
    assemble,
    liquidation_frame,
    missing_ranges,
    read_stored,
)
from signals.market import DAY_MS, HOUR_MS
from signals.skew_history import SKEW_METRIC
from signals.store import CoverageSpan, HistorySpan, LiqMinute, Store

T0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC
ASOF = T0 + 10 * DAY_MS


def candles(n: int, start: int = T0, bar: int = DAY_MS, price: float = 100.0) -> list[list[float]]:
    return [
        [float(start + i * bar), price, price + 1, price - 1, price + i, 1.0] for i in range(n)
    ]


def stored(**overrides: object) -> StoredHistory:
    base: dict[str, object] = {
        "asset": "ETH",
        "asof": ASOF,
        "lower": T0,
        "price_venue": "binanceusdm",
        "candles_1d": candles(10),
        "oi_units": {"binanceusdm": "usd", "bybit": "base", "okx": "usd"},
    }
    base.update(overrides)
    return StoredHistory(**base)  # type: ignore[arg-type]


def test_missing_ranges_are_what_no_span_covers() -> None:
    spans = [HistorySpan(10, 20, 0), HistorySpan(30, 40, 0), HistorySpan(35, 50, 0)]
    assert missing_ranges(spans, 0, 60) == [(0, 10), (20, 30), (50, 60)]
    assert missing_ranges(spans, 12, 18) == []
    assert missing_ranges([], 5, 9) == [(5, 9)]


def test_only_bars_closed_by_asof_are_kept() -> None:
    data = assemble(stored(candles_1d=candles(12)))  # the 11th and 12th end after asof
    assert data.ohlcv_1d.index.tolist() == [T0 + i * DAY_MS for i in range(10)]
    assert data.ohlcv_1d["close"].tolist() == [100.0 + i for i in range(10)]


def test_oi_sums_the_venues_that_span_the_longest_history() -> None:
    days = [T0 + i * DAY_MS for i in range(10)]
    data = assemble(
        stored(
            oi_1d={
                "bybit": [(ts, 2.0) for ts in days],  # coins × the same bar's close
                "okx": [(ts, 1000.0) for ts in days[1:]],  # one day later: within the margin
                "binanceusdm": [(ts, 5000.0) for ts in days[6:]],  # only the last 4 days
            }
        )
    )
    assert data.sources["oi"] == ["bybit", "okx"]
    assert data.sources["history"]["oi_left_out"] == {"binanceusdm": "history starts 2026-01-07"}
    # the sum runs where every kept venue has a value: from okx's first day
    assert data.oi_usd_1d.index.tolist() == days[1:]
    assert data.oi_usd_1d.tolist() == [2.0 * (100.0 + i) + 1000.0 for i in range(1, 10)]


def test_a_venue_whose_history_stops_is_left_out() -> None:
    days = [T0 + i * DAY_MS for i in range(10)]
    data = assemble(
        stored(
            oi_1d={
                "binanceusdm": [(ts, 1.0) for ts in days],
                "okx": [(ts, 1.0) for ts in days[:5]],
            }
        )
    )
    assert data.sources["oi"] == ["binanceusdm"]
    assert data.sources["history"]["oi_left_out"] == {"okx": "history ends 2026-01-05"}


def test_hourly_oi_only_where_every_summed_venue_has_it() -> None:
    days = [T0 + i * DAY_MS for i in range(10)]
    hours = [ASOF - 30 * HOUR_MS + i * HOUR_MS for i in range(30)]
    both = {"binanceusdm": [(ts, 10.0) for ts in days], "okx": [(ts, 20.0) for ts in days]}
    partial = assemble(stored(oi_1d=both, oi_1h={"binanceusdm": [(h, 1.0) for h in hours]}))
    assert len(partial.oi_usd_1h) == 0  # okx has no hourly OI: no half sum
    whole = assemble(
        stored(
            oi_1d=both,
            oi_1h={"binanceusdm": [(h, 1.0) for h in hours], "okx": [(h, 2.0) for h in hours]},
        )
    )
    assert whole.oi_usd_1h.tolist() == [3.0] * 30


def test_coins_without_a_close_to_value_them_are_no_oi() -> None:
    days = [T0 + i * DAY_MS for i in range(10)]
    data = assemble(
        stored(candles_1d=[], price_venue=None, oi_1d={"bybit": [(t, 1.0) for t in days]})
    )
    assert len(data.oi_usd_1d) == 0 and data.sources["oi"] == []


def test_funding_restated_and_weighted_by_each_venues_newest_daily_oi() -> None:
    days = [T0 + i * DAY_MS for i in range(10)]
    eights = [(T0 + i * 8 * HOUR_MS, 0.0001) for i in range(30)]
    data = assemble(
        stored(
            oi_1d={"binanceusdm": [(ts, 7.0e9) for ts in days]},
            funding={"binanceusdm": eights, "okx": [(ASOF + HOUR_MS, 0.001)]},
        )
    )
    # a venue whose only settlement is after asof has none to give
    assert [f.venue for f in data.funding] == ["binanceusdm"]
    binance = data.funding[0]
    assert binance.interval_hours == 8
    assert binance.oi_usd == 7.0e9
    assert binance.rate == 0.0001
    assert binance.history.tolist() == [0.0001] * 30


def test_liquidations_keep_the_venues_that_cover_almost_all_the_best_ones_hours() -> None:
    hours = [T0 + i * HOUR_MS for i in range(100)]
    rows = [("bybit", h, 10.0, 1.0) for h in hours]
    rows += [("okx", h, 5.0, 0.5) for h in hours[2:]]  # 98 of 100 hours: kept
    rows += [("binanceusdm", h, 1.0, 1.0) for h in hours[50:]]  # half: left out
    frame, venues = liquidation_frame(rows, ASOF)
    assert venues == ("bybit", "okx")
    assert frame.index.tolist() == hours[2:]
    assert frame["long_usd"].tolist() == [15.0] * 98
    assert frame["short_usd"].tolist() == [1.5] * 98


def test_liquidation_hours_still_open_at_asof_are_not_counted() -> None:
    frame, venues = liquidation_frame(
        [("bybit", ASOF - HOUR_MS, 1.0, 1.0), ("bybit", ASOF, 9.0, 9.0)], ASOF
    )
    assert frame.index.tolist() == [ASOF - HOUR_MS] and venues == ("bybit",)
    assert liquidation_frame([], ASOF)[1] == ()


def test_skew_samples_once_each_up_to_asof_and_the_default_mmr() -> None:
    data = assemble(stored(skew=[(T0, -2.0), (T0, -2.0), (ASOF, -3.0), (ASOF + 1, -9.0)]))
    assert data.skew_rr25_30d.to_dict() == {T0: -2.0, ASOF: -3.0}
    assert data.mmr == 0.005 and data.sources["mmr"] == "default"
    assert assemble(stored(mmr=0.004)).mmr == 0.004


# ---- the archive (a real store) --------------------------------------------------------------


def test_archived_liquidations_are_covered_hours_only_and_outlive_the_retention(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "preflight.sqlite")
    start = T0
    # bybit recorded 3 hours, with one liquidation in the second; okx only the first 10 minutes
    store.write_liquidations(
        [LiqMinute("ETH", "bybit", "long", start + HOUR_MS + 60_000, 500.0, 1)],
        [
            CoverageSpan("ETH", "bybit", start, start + 3 * HOUR_MS, "stream"),
            CoverageSpan("ETH", "okx", start, start + 10 * 60_000, "stream"),
        ],
    )
    assert archive_liquidations(store, "ETH", start, start + 5 * HOUR_MS) == 3
    rows = store.read_liq_hours_archive("ETH", start, start + 5 * HOUR_MS)
    assert rows == [
        ("bybit", start, 0.0, 0.0),
        ("bybit", start + HOUR_MS, 500.0, 0.0),
        ("bybit", start + 2 * HOUR_MS, 0.0, 0.0),
    ]
    # the collector prunes its minutes after PREFLIGHT_LIQ_RETENTION_DAYS; the archive stays
    store.prune_history(start + 10 * DAY_MS)
    assert store.read_liq_minutes("ETH", 0, start + 10 * DAY_MS) == []
    assert store.read_liq_hours_archive("ETH", start, start + 5 * HOUR_MS) == rows
    # archiving again changes nothing
    archive_liquidations(store, "ETH", start, start + 5 * HOUR_MS)
    assert store.read_liq_hours_archive("ETH", start, start + 5 * HOUR_MS) == rows
    store.close()


def test_archived_skew_samples_are_read_back_into_the_history(tmp_path: Path) -> None:
    store = Store(tmp_path / "preflight.sqlite")
    store.record_samples("ETH", SKEW_METRIC, [(T0 + HOUR_MS, -4.0), (T0 + 2 * HOUR_MS, -5.0)])
    store.write_history("ETH", "binanceusdm", "ohlcv_1d", bars=candles(10), timeframe="1d")
    archive_recorded(store, "ETH", T0, ASOF)
    store.prune_history(ASOF)  # the samples table is pruned with the liquidations
    history = read_stored(store, "ETH", T0, ASOF)
    assert history.skew == [(T0 + HOUR_MS, -4.0), (T0 + 2 * HOUR_MS, -5.0)]
    assert history.price_venue == "binanceusdm" and len(history.candles_1d) == 10
    store.close()


def test_the_price_venue_is_the_one_with_the_most_daily_candles(tmp_path: Path) -> None:
    store = Store(tmp_path / "preflight.sqlite")
    store.write_history("ETH", "binanceusdm", "ohlcv_1d", bars=candles(4), timeframe="1d")
    store.write_history("ETH", "bybit", "ohlcv_1d", bars=candles(9), timeframe="1d")
    assert read_stored(store, "ETH", T0, ASOF).price_venue == "bybit"
    store.write_history("ETH", "binanceusdm", "ohlcv_1d", bars=candles(9), timeframe="1d")
    # a tie: the first venue in PREFLIGHT_VENUES order
    assert read_stored(store, "ETH", T0, ASOF).price_venue == "binanceusdm"
    assert read_stored(store, "ETH", T0, ASOF, ("bybit", "binanceusdm")).price_venue == "bybit"
    store.close()


def test_spans_written_page_by_page_merge_and_a_gap_stays_a_gap(tmp_path: Path) -> None:
    store = Store(tmp_path / "preflight.sqlite")
    for start, end in [(100, 200), (300, 400), (200, 300), (500, 600)]:
        store.write_history("ETH", "bybit", "funding", points=[(start, 0.1)], span=(start, end))
    assert store.history_coverage("ETH")[("bybit", "funding")] == [
        HistorySpan(100, 400, 0),
        HistorySpan(500, 600, 0),
    ]
    store.close()


@pytest.mark.parametrize("unit", ["usd", "base"])
def test_oi_after_asof_never_enters(unit: str) -> None:
    days = [T0 + i * DAY_MS for i in range(11)]  # the last bar closes after asof
    data = assemble(stored(oi_1d={"bybit": [(ts, 1.0) for ts in days]}, oi_units={"bybit": unit}))
    assert int(data.oi_usd_1d.index[-1]) == T0 + 9 * DAY_MS
