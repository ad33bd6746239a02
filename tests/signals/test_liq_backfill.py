"""REST backfill from Gate contract_stats and HTX liquidation orders, through real ccxt."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import ccxt
import pytest

from settings import Settings
from signals import backfill
from signals.backfill import Backfiller
from signals.collector import LiquidationCollector
from signals.liq_history import read_liquidations
from signals.market import HOUR_MS
from signals.store import CoverageSpan, Store
from tests.helpers.fake_pro import make_fake_rest
from tests.helpers.venues.gate import gate_handler
from tests.helpers.venues.htx import htx_handler, htx_orders

H0 = 1_779_000_000_000 - 1_779_000_000_000 % HOUR_MS
BAR = 300_000


class Clock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> float:
        return self.ms / 1000


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "preflight.sqlite")


async def test_gate_fills_a_week_and_then_extends_the_same_span(store: Store) -> None:
    clock = Clock(H0 + 7 * 60_000)
    gate = make_fake_rest("gate", gate_handler(clock))
    filler = Backfiller(store, ("BTC",), ("gate",), lambda venue: gate, clock=clock)
    try:
        result = await filler.run_once()
        start = H0 + 7 * 60_000 - 168 * HOUR_MS
        first = start - start % BAR
        # the bar opened at H0+5min is still open at H0+7min: not stored, not covered
        assert result[("gate", "BTC")] == CoverageSpan(
            "BTC", "gate", first, H0 + 5 * 60_000, "backfill"
        )
        assert len(gate.calls) == 21
        assert gate.calls[0][1]["contract"] == ["BTC_USDT"]
        frame, coverage = read_liquidations(store, "BTC", clock.ms)
        # the first hour lacks its first 5 minutes: 55/60 still counts as covered
        assert (coverage.venues, len(frame)) == (("gate",), 168)
        assert frame.loc[H0 - HOUR_MS].tolist() == [120.0, 2.5]

        clock.ms = H0 + HOUR_MS + 1000
        await filler.run_once()
        assert gate.calls[-1][1]["from"] == [str((H0 + 5 * 60_000) // 1000)]
        assert store.read_liq_coverage("BTC", 0, 2**62) == [
            CoverageSpan("BTC", "gate", first, H0 + HOUR_MS, "backfill")
        ]
        frame, _ = read_liquidations(store, "BTC", clock.ms)
        assert frame.index[-1] == H0
    finally:
        await gate.close()


async def test_htx_pages_newest_first_and_buckets_per_minute(store: Store) -> None:
    clock = Clock(H0 + 2 * HOUR_MS + 30_000)
    orders = htx_orders(H0, 250, 20_000)  # 250 orders, 3 a minute, over 83 minutes
    htx = make_fake_rest("htx", htx_handler(orders))
    filler = Backfiller(store, ("BTC",), ("htx",), lambda venue: htx, clock=clock, hours=3)
    try:
        span = (await filler.run_once())[("htx", "BTC")]
        assert span == CoverageSpan("BTC", "htx", H0 - HOUR_MS, H0 + 2 * HOUR_MS, "backfill")
        assert len(htx.calls) == 3
        assert htx.calls[0][1]["contract_code"] == ["BTC-USDT"]
        minutes = store.read_liq_minutes("BTC", 0, 2**62)
        assert sum(m.count for m in minutes) == 250
        assert sum(m.usd for m in minutes if m.side == "long") == 125 * 120.0
        assert {m.venue for m in minutes} == {"htx"}
    finally:
        await htx.close()


async def test_htx_out_of_pages_covers_only_what_it_fetched(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backfill, "HTX_MAX_PAGES", 2)
    clock = Clock(H0 + 2 * HOUR_MS)
    orders = htx_orders(H0, 250, 20_000)
    htx = make_fake_rest("htx", htx_handler(orders))
    filler = Backfiller(store, ("BTC",), ("htx",), lambda venue: htx, clock=clock, hours=3)
    try:
        span = (await filler.run_once())[("htx", "BTC")]
        assert span is not None
        # page 1 holds #150-#249, page 2 (ending at #150 again) #51-#150: the minute of #51
        # may hold older orders not fetched, so coverage starts at the next minute
        oldest_fetched = H0 + 51 * 20_000 + 1
        assert span.start_ms == -(-oldest_fetched // 60_000) * 60_000
        minutes = store.read_liq_minutes("BTC", 0, 2**62)
        assert all(m.ts >= span.start_ms for m in minutes)
        assert sum(m.count for m in minutes) == sum(
            1 for o in orders if int(o["liquidation_time"]) >= span.start_ms
        )
    finally:
        await htx.close()


async def test_a_failing_venue_is_logged_and_the_others_still_fill(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock(H0)

    def down(path: str, query: dict[str, list[str]]) -> Any:
        raise ccxt.NetworkError("gate: connection reset")

    gate = make_fake_rest("gate", down)
    htx = make_fake_rest("htx", htx_handler(htx_orders(H0 - HOUR_MS, 3, 60_000)))
    venues = {"gate": gate, "htx": htx}
    filler = Backfiller(
        store, ("BTC",), ("gate", "htx", "kraken"), venues.__getitem__, clock=clock, hours=2
    )
    try:
        result = await filler.run_once()
        await filler.run_once()
        assert result[("gate", "BTC")] is None
        assert result[("htx", "BTC")] is not None
        assert caplog.text.count("gate liquidation backfill for BTC failed") == 1
        assert "no liquidation backfill for ['kraken']" in caplog.text
    finally:
        await gate.close()
        await htx.close()


async def test_the_collector_backfills_at_start(tmp_path: Path) -> None:
    clock = Clock(H0 + 60_000)
    store = Store(tmp_path / "c.sqlite")
    gate = make_fake_rest("gate", gate_handler(clock))
    collector = LiquidationCollector(
        Settings(venues=(), watchlist=("BTC",)),
        store,
        exchange_factory=lambda venue: gate,
        clock=clock,
        backfill_venues=("gate",),
    )
    await collector.start()
    try:
        for _ in range(300):
            if store.read_liq_coverage("BTC", 0, 2**62):
                break
            await asyncio.sleep(0.01)
        frame, coverage = read_liquidations(store, "BTC", clock.ms)
        assert (coverage.venues, len(frame)) == (("gate",), 168)
    finally:
        await collector.stop()


# ---- the one request policy (defect 13): timeouts, Retry-After, answers validated ----------


async def test_a_429_with_retry_after_cools_htx_down_and_the_next_round_asks_nothing(
    store: Store,
) -> None:
    from signals.venue_policy import RequestPolicy
    from tests.helpers.fake_pro import HttpReply

    clock = Clock(H0)

    def limited(path: str, query: dict[str, list[str]]) -> Any:
        return HttpReply(429, '{"status":"error","err_msg":"too many"}', {"Retry-After": "120"})

    htx = make_fake_rest("htx", limited)
    policy = RequestPolicy(2.0, clock, revive=False)
    filler = Backfiller(
        store, ("BTC",), ("htx",), lambda venue: htx, clock=clock, hours=2, policy=policy
    )
    try:
        assert (await filler.run_once())[("htx", "BTC")] is None
        assert len(htx.calls) == 1  # not retried
        assert policy.cooling("htx") == "HTTP 429, cooling down 120 s"
        clock.ms += 60_000
        await filler.run_once()
        assert len(htx.calls) == 1  # cooling down: the backfill's next round did not ask
        clock.ms += 61_000
        await filler.run_once()
        assert len(htx.calls) == 2  # the cool-down is over
    finally:
        await htx.close()


async def test_an_html_page_with_status_200_stores_nothing_and_claims_no_coverage(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.helpers.fake_pro import HttpReply

    clock = Clock(H0)
    page = HttpReply(200, "<html><body>502 Bad Gateway</body></html>", {})
    gate = make_fake_rest("gate", lambda path, query: page)
    filler = Backfiller(store, ("BTC",), ("gate",), lambda venue: gate, clock=clock, hours=2)
    try:
        assert (await filler.run_once())[("gate", "BTC")] is None
        assert store.read_liq_coverage("BTC", 0, 2**62) == []
        assert "malformed answer to contract stats (HTML page)" in caplog.text
    finally:
        await gate.close()


async def test_a_hung_venue_times_out_under_the_policy(store: Store) -> None:
    from signals.venue_policy import RequestPolicy

    clock = Clock(H0)
    htx = make_fake_rest("htx", htx_handler([]))

    async def hang(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(30)

    htx.contract_public_get_v5_market_liquidation_orders = hang
    policy = RequestPolicy(0.2, clock, revive=False)
    filler = Backfiller(
        store, ("BTC",), ("htx",), lambda venue: htx, clock=clock, hours=2, policy=policy
    )
    loop = asyncio.get_running_loop()
    try:
        t0 = loop.time()
        assert (await filler.run_once())[("htx", "BTC")] is None
        assert loop.time() - t0 < 1.0
        assert policy.cooling("htx") == "timeout after 0.2 s, cooling down 30 s"
    finally:
        await htx.close()
