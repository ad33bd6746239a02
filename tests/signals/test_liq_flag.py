"""From collected streams to the SPEC §3 liquidation flag: known after 48 covered hours only."""

from __future__ import annotations

from pathlib import Path

from signals.derived import compute_market
from signals.flags import Side, liquidations_flag
from signals.liq_history import read_liquidations
from signals.market import HOUR_MS, AssetData
from signals.store import CoverageSpan, LiqMinute, Store
from signals.thresholds import Thresholds

H0 = 1_779_000_000_000 - 1_779_000_000_000 % HOUR_MS
TH = Thresholds()


def flag_from_store(store: Store, asof: int, side: Side = "long") -> str:
    frame, coverage = read_liquidations(store, "BTC", asof)
    data = AssetData(asset="BTC", liquidations_1h=frame, liq_coverage=coverage)
    market = compute_market(data, asof, TH)
    return liquidations_flag(market, side, TH).status


def quiet_hours_with_two_long_clusters(store: Store, hours: int, asof: int) -> None:
    minutes = [
        LiqMinute("BTC", "bybit", "long", asof - h * HOUR_MS, 1_000.0, 1)
        for h in range(1, hours + 1)
    ]
    # two bursts in the last 24 hours, each far above 3× the mean bucket
    minutes += [
        LiqMinute("BTC", "bybit", "long", asof - 3 * HOUR_MS + 60_000, 500_000.0, 40),
        LiqMinute("BTC", "bybit", "long", asof - 7 * HOUR_MS + 60_000, 400_000.0, 30),
    ]
    span = CoverageSpan("BTC", "bybit", asof - hours * HOUR_MS, asof, "stream")
    store.write_liquidations(minutes, [span])


def test_a_day_of_collection_leaves_the_flag_unknown(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    asof = H0 + 100 * HOUR_MS
    quiet_hours_with_two_long_clusters(store, 30, asof)
    assert flag_from_store(store, asof) == "unknown"


def test_48_covered_hours_make_the_flag_computable(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    asof = H0 + 100 * HOUR_MS
    quiet_hours_with_two_long_clusters(store, 60, asof)
    assert flag_from_store(store, asof, "long") == "caution"
    assert flag_from_store(store, asof, "short") == "clear"
