"""The live source's store side: read alongside the venues, kept in memory, never stale.

Real LiveMarket against the loopback fake venues, a real SQLite store; the clock moves.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from settings import Settings
from signals.market import HOUR_MS
from signals.service import HISTORY_REFRESH_S, LiveSource
from signals.store import CoverageSpan, LiqMinute, Store
from tests.helpers.fake_exchange import default_scenario, live
from tests.signals.test_live import flat_wing_options

MIN = 60_000


class CountingStore(Store):
    """A real store that counts (and times) the reads a check makes."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.loop = asyncio.get_running_loop()  # reads run on other threads: time on this loop
        self.liq_reads: list[float] = []
        self.recorded: list[tuple[str, list[tuple[int, float]]]] = []

    def read_liq_hours(self, asset: str, since_ms: int, until_ms: int) -> Any:
        self.liq_reads.append(self.loop.time())
        return super().read_liq_hours(asset, since_ms, until_ms)

    def record_samples(self, asset: str, metric: str, rows: Any) -> None:
        self.recorded.append((asset, list(rows)))
        super().record_samples(asset, metric, rows)


def covered_week(store: Store, asset: str, end_ms: int, usd: float = 1000.0) -> None:
    """A week of Bybit coverage up to `end_ms` with one long liquidation in every hour."""
    start = end_ms - 7 * 24 * HOUR_MS
    store.write_liquidations(
        [
            LiqMinute(asset, "bybit", "long", h + 5 * MIN, usd, 1)
            for h in range(start, end_ms, HOUR_MS)
        ],
        [CoverageSpan(asset, "bybit", start, end_ms, "stream")],
    )


async def test_the_store_is_read_while_the_venues_answer_not_after(tmp_path: Path) -> None:
    scenario = default_scenario()
    store = CountingStore(tmp_path / "preflight.sqlite")
    covered_week(store, "ETH", scenario.now_ms - scenario.now_ms % HOUR_MS)
    async with live(scenario, latency_s=0.3) as (market, _server, _clock):
        source = LiveSource(Settings(), store, market)
        loop = asyncio.get_running_loop()
        started = loop.time()
        _, data = await source.fetch_asset("ETH")
        finished = loop.time()
        await source.flush()
    [read_at] = store.liq_reads
    # every venue answer takes 0.3 s: the read began before the first one could come back
    assert read_at - started < 0.3
    assert finished - started >= 0.3
    assert len(data.liquidations_1h) == 168


async def test_a_warm_check_reads_nothing_from_the_store(tmp_path: Path) -> None:
    scenario = default_scenario()
    store = CountingStore(tmp_path / "preflight.sqlite")
    covered_week(store, "ETH", scenario.now_ms)
    async with live(scenario) as (market, _server, clock):
        source = LiveSource(Settings(), store, market, clock=clock)
        first = await source.fetch_asset("ETH")
        reads = source.history_reads
        for _ in range(5):
            clock.now += 5
            again = await source.fetch_asset("ETH")
        await source.flush()
    assert reads == 2  # the liquidation hours and the skew samples, once
    assert source.history_reads == reads
    assert len(store.liq_reads) == 1
    assert again[1].liquidations_1h.equals(first[1].liquidations_1h)


async def test_warm_checks_of_the_same_parts_get_the_same_state_and_new_parts_a_new_one(
    tmp_path: Path,
) -> None:
    # the same state object lets its quantities, its grade at 1x and its chart be made once
    scenario = default_scenario()
    store = Store(tmp_path / "preflight.sqlite")
    hour_open = scenario.now_ms - scenario.now_ms % HOUR_MS
    covered_week(store, "ETH", hour_open)
    async with live(scenario) as (market, _server, clock):
        source = LiveSource(Settings(), store, market, clock=clock)
        asof, first = await source.fetch_asset("ETH")
        clock.now += 5
        asof_again, again = await source.fetch_asset("ETH")
        # late rows for the last closed hour, read at the next refresh: a new state
        store.write_liquidations(
            [LiqMinute("ETH", "bybit", "long", hour_open - HOUR_MS + 30 * MIN, 250.0, 1)]
        )
        clock.now += HISTORY_REFRESH_S + 1
        _, refreshed = await source.fetch_asset("ETH")
        await source.flush()
    assert asof_again == asof
    assert again is first
    assert refreshed is not first
    assert refreshed.liquidations_1h["long_usd"].iloc[-1] == 1250.0
    assert first.liquidations_1h["long_usd"].iloc[-1] == 1000.0


async def test_an_hour_that_closes_is_in_the_next_check(tmp_path: Path) -> None:
    scenario = default_scenario()  # 12:30 UTC
    store = Store(tmp_path / "preflight.sqlite")
    hour_open = scenario.now_ms - scenario.now_ms % HOUR_MS  # 12:00, still forming
    covered_week(store, "ETH", hour_open)
    async with live(scenario) as (market, server, clock):
        source = LiveSource(Settings(), store, market, clock=clock)
        _, before = await source.fetch_asset("ETH")
        # the collector records the 12:00 hour; at 13:00:20 it has closed
        store.write_liquidations(
            [LiqMinute("ETH", "bybit", "long", hour_open + 7 * MIN, 5000.0, 2)],
            [CoverageSpan("ETH", "bybit", hour_open, hour_open + HOUR_MS + 20_000, "stream")],
        )
        clock.now = (hour_open + HOUR_MS + 20_000) / 1000
        server.scenario.now_ms = int(clock.now * 1000)
        _, after = await source.fetch_asset("ETH")
        await source.flush()
    assert before.liquidations_1h.index[-1] == hour_open - HOUR_MS
    assert after.liquidations_1h.index[-1] == hour_open
    assert after.liquidations_1h["long_usd"].iloc[-1] == 5000.0


async def test_rows_added_late_to_a_closed_hour_are_read_within_a_minute(tmp_path: Path) -> None:
    scenario = default_scenario()
    store = Store(tmp_path / "preflight.sqlite")
    hour_open = scenario.now_ms - scenario.now_ms % HOUR_MS
    covered_week(store, "ETH", hour_open)
    last = hour_open - HOUR_MS
    async with live(scenario) as (market, _server, clock):
        source = LiveSource(Settings(), store, market, clock=clock)
        await source.fetch_asset("ETH")
        # a backfill venue's late rows for the last closed hour
        store.write_liquidations([LiqMinute("ETH", "bybit", "long", last + 30 * MIN, 250.0, 1)])
        clock.now += HISTORY_REFRESH_S - 1
        _, held = await source.fetch_asset("ETH")
        clock.now += 2
        _, fresh = await source.fetch_asset("ETH")
        await source.flush()
    assert held.liquidations_1h["long_usd"].iloc[-1] == 1000.0
    assert fresh.liquidations_1h["long_usd"].iloc[-1] == 1250.0


async def test_the_fresh_skew_sample_is_recorded_once_and_counts_in_the_history(
    tmp_path: Path,
) -> None:
    scenario = default_scenario()
    scenario.assets["ETH"].options = flat_wing_options(scenario.now_ms, 3200.0, 55.0, 62.5)
    store = CountingStore(tmp_path / "preflight.sqlite")
    week_ago = scenario.now_ms - 7 * 24 * HOUR_MS
    store.record_samples("ETH", "rr25_30d", [(week_ago, -2.0)])
    store.recorded.clear()
    async with live(scenario) as (market, _server, clock):
        source = LiveSource(Settings(), store, market, clock=clock)
        _, first = await source.fetch_asset("ETH")
        clock.now += 10
        _, again = await source.fetch_asset("ETH")  # the same sample, from the skew cache
        await source.flush()
    assert store.recorded == [("ETH", [(scenario.now_ms, pytest.approx(-7.5))])]
    for data in (first, again):
        assert list(data.skew_rr25_30d.index) == [week_ago, scenario.now_ms]
        assert data.sources["skew_history_since"] == week_ago
    assert store.read_samples("ETH", "rr25_30d", since_ms=scenario.now_ms) == [
        (scenario.now_ms, pytest.approx(-7.5))
    ]


async def test_the_store_memory_holds_a_bounded_number_of_assets(tmp_path: Path) -> None:
    store = Store(tmp_path / "preflight.sqlite")
    async with live(default_scenario()) as (market, _server, _clock):
        source = LiveSource(Settings(), store, market)
        source._liquidations.maxsize = source._skew.maxsize = 3
        for n in range(10):
            await source._liquidations_at(f"A{n}", default_scenario().now_ms)
            await source._skew_rows(f"A{n}", default_scenario().now_ms)
    assert list(source._liquidations) == ["A7", "A8", "A9"]
    assert list(source._skew) == ["A7", "A8", "A9"]
