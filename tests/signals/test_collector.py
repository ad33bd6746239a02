"""The collector loop against fake ccxt.pro streams: venues, dedupe, drops, coverage, faults."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from settings import Settings
from signals.collector import LiquidationCollector, collect_main, contract_specs
from signals.liq_history import read_liquidations
from signals.market import HOUR_MS
from signals.store import CoverageSpan, LiqMinute, Store
from tests.helpers.fake_pro import (
    FakeStream,
    binance_force_order,
    bybit_all_liquidation,
    inverse_market,
    linear_market,
    make_fake,
    okx_liquidation_orders,
)

H0 = 1_779_000_000_000 - 1_779_000_000_000 % HOUR_MS
VENUES = ("binanceusdm", "bybit", "okx")
ASSETS = ("BTC", "ETH")


class Clock:
    """A wall clock the test moves by hand (seconds, like time.time)."""

    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> float:
        return self.ms / 1000


class SwitchableStore(Store):
    """A real store whose connections can be made read-only or full on demand."""

    read_only = False
    full = False

    def connect(self) -> sqlite3.Connection:
        conn = super().connect()
        conn.execute(f"PRAGMA query_only={'ON' if self.read_only else 'OFF'}")
        if self.full:
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count={pages}")
        else:
            conn.execute("PRAGMA max_page_count=1073741823")
        return conn


class Rig:
    """A collector wired to one fake stream per venue."""

    def __init__(self, tmp_path: Path, venues: tuple[str, ...] = VENUES) -> None:
        self.clock = Clock(H0 + 10 * 60_000)
        self.store = SwitchableStore(tmp_path / "preflight.sqlite")
        self.streams = {v: FakeStream(f"wss://{v}") for v in venues}
        self.exchanges: dict[str, Any] = {}
        self.settings = Settings(venues=venues, watchlist=ASSETS)
        self.collector = LiquidationCollector(
            self.settings,
            self.store,
            exchange_factory=self.factory,
            clock=self.clock,
            backfill_venues=(),
            flush_interval_s=0.01,
            backoff_initial_s=0.05,
            backoff_max_s=0.2,
        )

    def factory(self, venue: str) -> Any:
        exchange = make_fake(venue, self.streams[venue], ASSETS)
        self.exchanges[venue] = exchange
        return exchange

    async def idle(self) -> None:
        for stream in self.streams.values():
            await stream.idle()
        await self.collector.flush()

    def minutes(self, asset: str = "BTC") -> dict[tuple[str, str], float]:
        totals: dict[tuple[str, str], float] = {}
        for m in self.store.read_liq_minutes(asset, 0, 2**62):
            totals[(m.venue, m.side)] = totals.get((m.venue, m.side), 0.0) + m.usd
        return totals


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    rig = Rig(tmp_path)
    await rig.collector.start()
    yield rig
    await rig.collector.stop()


async def wait_for(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise TimeoutError("condition never held")
        await asyncio.sleep(0.005)


async def test_each_venue_convention_lands_in_the_right_bucket(rig: Rig) -> None:
    await rig.idle()
    t = H0 + 11 * 60_000
    binance, bybit, okx = (rig.streams[v] for v in VENUES)
    binance.push(binance_force_order("BTCUSDT", "SELL", "0.5", "60000", t))
    binance.push(binance_force_order("XRPUSDT", "SELL", "1000", "0.5", t))  # not watched
    await rig.idle()
    # one Bybit push carrying two liquidations: both count (ccxt's newUpdates would keep one)
    bybit.push(
        bybit_all_liquidation("ETHUSDT", [("Buy", "2", "3000", t), ("Sell", "1", "3010", t + 1)]),
        key="ETHUSDT",
    )
    okx.push(
        okx_liquidation_orders(
            "BTC-USDT-SWAP",
            [("short", "buy", "100", "60100", t + 2), ("long", "sell", "50", "59900", t + 3)],
        )
    )
    await rig.idle()
    assert rig.minutes("BTC") == {
        ("binanceusdm", "long"): 30000.0,
        ("okx", "short"): pytest.approx(100 * 0.01 * 60100),
        ("okx", "long"): pytest.approx(50 * 0.01 * 59900),
    }
    assert rig.minutes("ETH") == {("bybit", "long"): 6000.0, ("bybit", "short"): 3010.0}
    assert rig.minutes("XRP") == {}
    assert rig.streams["bybit"].subscriptions == {"BTCUSDT", "ETHUSDT"}


async def test_each_message_is_read_once_and_a_resent_one_counts_once(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    import signals.collector as collector_module

    read: list[str] = []
    real = collector_module.normalise

    def counting(venue: str, info: Any, spec: Any) -> Any:
        read.append(venue)
        return real(venue, info, spec)

    monkeypatch.setattr(collector_module, "normalise", counting)
    await rig.idle()
    t = H0 + 11 * 60_000
    binance = rig.streams["binanceusdm"]
    first = binance_force_order("BTCUSDT", "BUY", "1", "60000", t)
    binance.push(first)
    await rig.idle()
    # ccxt keeps the last 1,000 in a cache: the first event is never read from it again
    binance.push(binance_force_order("BTCUSDT", "BUY", "2", "60000", t + 1000))
    binance.push(first)  # but the venue re-sends a message
    await rig.idle()
    assert rig.minutes("BTC") == {("binanceusdm", "short"): 180000.0}
    assert rig.collector.events_seen == 2
    assert rig.collector.duplicates == 1
    assert read == ["binanceusdm"] * 3  # one read per message, not per cached entry


async def test_a_quiet_but_connected_stream_is_covered_with_zero_buckets(rig: Rig) -> None:
    start = rig.clock.ms
    await rig.idle()
    await wait_for(lambda: rig.collector.live_venues == VENUES)
    rig.clock.ms += 1000  # spans of no length are not stored
    await wait_for(lambda: len(rig.store.read_liq_coverage("BTC", 0, 2**62)) == 3)
    rig.clock.ms = H0 + 2 * HOUR_MS + 5 * 60_000
    await rig.collector.flush()
    spans = rig.store.read_liq_coverage("ETH", 0, 2**62)
    assert {(s.venue, s.start_ms, s.end_ms, s.source) for s in spans} == {
        (v, start, rig.clock.ms, "stream") for v in VENUES
    }
    frame, coverage = read_liquidations(rig.store, "BTC", rig.clock.ms)
    assert frame.to_numpy().tolist() == [[0.0, 0.0]]  # 01:00-02:00; 00:00 was 50 min only
    assert coverage.venues == VENUES


async def test_a_dropped_stream_records_a_gap_and_reconnects(rig: Rig) -> None:
    bybit = rig.streams["bybit"]
    await rig.idle()
    start = rig.clock.ms
    await wait_for(lambda: rig.collector.live_venues == VENUES)
    rig.clock.ms += 1000
    await wait_for(lambda: len(rig.store.read_liq_coverage("BTC", 0, 2**62)) == 3)
    rig.clock.ms = dropped = H0 + 20 * 60_000
    bybit.drop()
    assert not bybit.push(
        bybit_all_liquidation("BTCUSDT", [("Buy", "9", "1", dropped)]), key="BTCUSDT"
    )  # lost in the gap
    await wait_for(lambda: bybit.connects == 1 and not bybit.waiting["BTCUSDT"])
    rig.clock.ms = back = H0 + 25 * 60_000
    await wait_for(lambda: bybit.connects == 2)
    await wait_for(lambda: rig.collector.live_venues == VENUES)
    await rig.idle()
    await wait_for(lambda: len(rig.store.read_liq_gaps()) == 1)
    rig.clock.ms = back + 1000
    bybit.push(bybit_all_liquidation("BTCUSDT", [("Sell", "1", "60000", back + 1)]), key="BTCUSDT")
    await rig.idle()
    [gap] = rig.store.read_liq_gaps()
    assert (gap.venue, gap.start_ms, gap.end_ms) == ("bybit", dropped, back)
    assert gap.reason.startswith("NetworkError")
    spans = [s for s in rig.store.read_liq_coverage("BTC", 0, 2**62) if s.venue == "bybit"]
    assert [(s.start_ms, s.end_ms) for s in spans] == [(start, dropped), (back, back + 1000)]
    assert rig.minutes("BTC") == {("bybit", "short"): 60000.0}
    # the other venues never noticed
    others = [s for s in rig.store.read_liq_coverage("BTC", 0, 2**62) if s.venue != "bybit"]
    assert len(others) == 2


async def test_refused_connections_are_retried_with_no_coverage_meanwhile(
    tmp_path: Path,
) -> None:
    rig = Rig(tmp_path, venues=("okx",))
    okx = rig.streams["okx"]
    okx.refuse = 2
    await rig.collector.start()
    try:
        await wait_for(lambda: okx.connects == 1, timeout=5)
        await rig.idle()
        await wait_for(lambda: rig.collector.live_venues == ("okx",))
        rig.clock.ms += 1000
        await wait_for(lambda: len(rig.store.read_liq_coverage("BTC", 0, 2**62)) == 1)
        [gap] = rig.store.read_liq_gaps()
        assert gap.reason == "NetworkError: fake: connection refused"
        assert okx.refuse == 0
    finally:
        await rig.collector.stop()


@pytest.mark.parametrize("fault", ["read_only", "full"])
async def test_an_unwritable_store_is_survived_and_the_backlog_written_later(
    rig: Rig, fault: str, caplog: pytest.LogCaptureFixture
) -> None:
    await rig.idle()
    await wait_for(lambda: rig.collector.live_venues == VENUES)
    rig.clock.ms += 1000
    await rig.collector.flush()
    setattr(rig.store, fault, True)
    # 400 minutes of events: more rows than the pages the "full" disk has left
    for i in range(400):
        rig.streams["binanceusdm"].push(
            binance_force_order("BTCUSDT", "SELL", "1", "1", H0 + i * 60_000)
        )
    await rig.idle()
    await rig.collector.flush()
    assert "not writable" in caplog.text
    assert sum(rig.minutes("BTC").values()) < 400.0
    # readers still answer while the writer is stuck
    assert len(rig.store.read_liq_coverage("BTC", 0, 2**62)) == 3
    setattr(rig.store, fault, False)
    await rig.collector.flush()
    assert rig.minutes("BTC") == {("binanceusdm", "long"): 400.0}


async def test_stop_closes_spans_flushes_and_closes_exchanges(tmp_path: Path) -> None:
    rig = Rig(tmp_path, venues=("binanceusdm",))
    await rig.collector.start()
    await rig.idle()
    rig.streams["binanceusdm"].push(binance_force_order("ETHUSDT", "BUY", "1", "3000", H0))
    await rig.streams["binanceusdm"].idle()
    rig.clock.ms = stopped = H0 + 40 * 60_000
    await rig.collector.stop()
    store = Store(rig.store.path)
    assert store.read_liq_minutes("ETH", 0, 2**62) == [
        LiqMinute("ETH", "binanceusdm", "short", H0, 3000.0, 1)
    ]
    [span] = [s for s in store.read_liq_coverage("ETH", 0, 2**62)]
    assert span == CoverageSpan("ETH", "binanceusdm", H0 + 10 * 60_000, stopped, "stream")
    assert rig.exchanges["binanceusdm"].clients == {}


def test_contract_specs_pick_the_usdt_perpetual_and_its_terms() -> None:
    markets = {
        m["symbol"]: m
        for m in (
            linear_market("okx", "BTC"),
            inverse_market("okx", "BTC", 100.0),
            linear_market("okx", "XRP"),
        )
    }
    specs = contract_specs("okx", markets, ("BTC", "XRP", "DOGE"))
    assert sorted(specs) == ["BTC-USDT-SWAP", "XRP-USDT-SWAP"]
    assert (specs["BTC-USDT-SWAP"].contract_size, specs["XRP-USDT-SWAP"].contract_size) == (
        0.01,
        100.0,
    )


async def test_collect_main_runs_until_sigterm(tmp_path: Path) -> None:
    stream = FakeStream()
    settings = Settings(venues=("okx",), store_path=str(tmp_path / "c.sqlite"))
    task = asyncio.create_task(
        collect_main(
            settings,
            ["sol"],
            exchange_factory=lambda venue: make_fake(venue, stream, ("SOL",)),
            backfill_venues=(),
        )
    )
    await wait_for(lambda: stream.connects == 1)
    await stream.idle()
    stream.push(okx_liquidation_orders("SOL-USDT-SWAP", [("long", "sell", "10", "150", H0)]))
    await stream.idle()
    os.kill(os.getpid(), signal.SIGTERM)
    assert await asyncio.wait_for(task, 5) == 0
    store = Store(settings.store_path)
    assert store.read_liq_minutes("SOL", 0, 2**62) == [
        LiqMinute("SOL", "okx", "long", H0, 1500.0, 1)
    ]


async def test_a_task_dying_of_a_bug_is_logged_not_silent(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        async def load_markets(self) -> None:
            raise RuntimeError("a bug, not a network fault")

        async def close(self) -> None:
            return None

    collector = LiquidationCollector(
        Settings(venues=("okx",)),
        Store(tmp_path / "b.sqlite"),
        exchange_factory=lambda venue: Broken(),
        backfill_venues=(),
    )
    await collector.start()
    await wait_for(lambda: "liquidation task liq-okx died" in caplog.text)
    await collector.stop()


# ---- recorded frames through the real ccxt.pro parsers (tests/fixtures/<venue>/) ------------


class RecordedRig(Rig):
    """A Rig whose clock sits at the recorded frames' own time (2026-10-09)."""

    def __init__(self, tmp_path: Path, start_ms: int, venues: tuple[str, ...] = VENUES) -> None:
        super().__init__(tmp_path, venues)
        self.clock.ms = start_ms


RECORDED_T = 1_791_565_600_000  # 2026-10-09 06:26:40 UTC, just before the recorded frames


async def test_a_recorded_multi_fill_binance_order_counts_its_whole_filled_size(
    tmp_path: Path,
) -> None:
    from tests.helpers.recorded import event_of, frames

    rig = RecordedRig(tmp_path, RECORDED_T)
    await rig.collector.start()
    try:
        await rig.idle()
        # 0.190 BTC filled at an average 82,651.90; its last fill alone was 0.155
        rig.streams["binanceusdm"].push(
            event_of(frames("binanceusdm", "force_order_frames.jsonl")[0])
        )
        rig.streams["bybit"].push(
            frames("bybit", "all_liquidation_frames.jsonl")[0], key="BTCUSDT"
        )
        rig.streams["okx"].push(frames("okx", "liquidation_orders_frames.jsonl")[0])
        await rig.idle()
        assert rig.minutes("BTC") == {
            ("binanceusdm", "long"): pytest.approx(0.190 * 82651.90),
            ("bybit", "long"): pytest.approx(0.006 * 82396.90 + 0.038 * 82394.30),
            ("okx", "long"): pytest.approx(8.55 * 0.01 * 82655.7),
        }
    finally:
        await rig.collector.stop()


async def test_okx_replaying_its_last_frame_after_a_restart_counts_once(tmp_path: Path) -> None:
    from tests.helpers.recorded import frames

    frame = frames("okx", "liquidation_orders_frames.jsonl")[0]  # BTC long, ts …600771
    first = RecordedRig(tmp_path, RECORDED_T, venues=("okx",))
    await first.collector.start()
    try:
        await first.idle()
        first.clock.ms = RECORDED_T + 2_000
        first.streams["okx"].push(frame)
        await first.idle()
        first.clock.ms = RECORDED_T + 60_000
    finally:
        await first.collector.stop()
    counted = first.minutes("BTC")
    assert counted == {("okx", "long"): pytest.approx(8.55 * 0.01 * 82655.7)}

    # a new process on the same store: OKX sends the frame again on (re)subscribe
    second = RecordedRig(tmp_path, RECORDED_T + 120_000, venues=("okx",))
    second.store = first.store
    second.collector._store = first.store  # the same file, as a restarted bot opens it
    await second.collector.start()
    try:
        await second.idle()
        second.streams["okx"].push(frame)
        await second.idle()
        assert second.minutes("BTC") == counted
        assert second.collector.duplicates == 1
    finally:
        await second.collector.stop()


async def test_an_unreadable_binance_message_is_skipped_and_the_stream_stays_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.helpers.recorded import event_of, frames

    recorded = frames("binanceusdm", "force_order_frames.jsonl")
    rig = RecordedRig(tmp_path, RECORDED_T, venues=("binanceusdm",))
    await rig.collector.start()
    try:
        await rig.idle()
        await wait_for(lambda: rig.collector.live_venues == ("binanceusdm",))
        stream = rig.streams["binanceusdm"]
        stream.push(event_of(recorded[0]))
        stream.push({"e": "forceOrder", "E": 1791565603100, "o": "unreadable"})  # ccxt raises
        # line 6 (BTCUSDT BUY 0.001 @ 83,598.50) re-stamped after line 1, so ccxt's own
        # "since" filter keeps it
        later = event_of(recorded[5])
        later = {**later, "E": 1791565604000, "o": {**later["o"], "T": 1791565604000}}
        stream.push(later)
        await rig.idle()
        assert rig.collector.bad_messages == 1
        assert rig.collector.live_venues == ("binanceusdm",)
        assert stream.connects == 1  # the connection was never dropped for it
        assert rig.minutes("BTC") == {
            ("binanceusdm", "long"): pytest.approx(0.190 * 82651.90),
            ("binanceusdm", "short"): pytest.approx(0.001 * 83598.50),
        }
        assert "skipped an unreadable liquidation message" in caplog.text
    finally:
        await rig.collector.stop()


async def test_a_stream_task_dying_of_a_bug_closes_its_coverage(tmp_path: Path) -> None:
    rig = Rig(tmp_path, venues=("okx",))
    await rig.collector.start()
    try:
        await rig.idle()
        await wait_for(lambda: rig.collector.live_venues == ("okx",))
        rig.clock.ms += 30_000
        await rig.collector.flush()
        died_at = rig.clock.ms = rig.clock.ms + 10_000
        # (on a loaded machine the stream may have dropped and come back meanwhile: it is
        # live when the bug strikes)
        await wait_for(lambda: rig.collector.live_venues == ("okx",))

        async def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("a bug, not a network fault")

        rig.exchanges["okx"].watch_liquidations_for_symbols = broken
        rig.streams["okx"].push(
            okx_liquidation_orders("BTC-USDT-SWAP", [("long", "sell", "1", "1", 1)])
        )
        await wait_for(lambda: rig.collector.live_venues == ())
        rig.clock.ms += 600_000  # ten minutes later nothing may still claim coverage
        await rig.collector.flush()
        spans = rig.store.read_liq_coverage("BTC", 0, 2**62)
        assert max(s.end_ms for s in spans) == died_at
    finally:
        await rig.collector.stop()


async def test_a_batch_whose_flush_is_cancelled_still_reaches_the_store(tmp_path: Path) -> None:
    import threading

    rig = Rig(tmp_path, venues=("binanceusdm",))
    await rig.collector.start()
    await rig.idle()
    # hold the writer thread: the flush loop's next batch waits in its queue
    hold = threading.Event()
    assert rig.collector._writer is not None
    rig.collector._writer.submit(hold.wait, 5)
    rig.streams["binanceusdm"].push(binance_force_order("ETHUSDT", "BUY", "1", "3000", H0))
    await rig.streams["binanceusdm"].idle()
    await wait_for(lambda: not rig.collector._pending)  # the flush loop took the batch
    # stop() cancels the flush loop while that batch is still queued: it must not be dropped
    threading.Timer(0.2, hold.set).start()
    await rig.collector.stop()
    store = Store(rig.store.path)
    assert store.read_liq_minutes("ETH", 0, 2**62) == [
        LiqMinute("ETH", "binanceusdm", "short", H0, 3000.0, 1)
    ]


async def test_the_duplicate_memory_keeps_only_the_last_minutes(tmp_path: Path) -> None:
    from signals.collector import SEEN_WINDOW_MS
    from signals.liquidations import ContractSpec

    rig = Rig(tmp_path)
    specs = {"BTCUSDT": ContractSpec("binanceusdm", "BTCUSDT", "BTC")}
    # an hour of Binance's stream, one liquidation every second
    for n in range(3600):
        frame = binance_force_order("BTCUSDT", "SELL", "0.001", "60000", H0 + n * 1000)
        rig.collector.ingest("binanceusdm", frame["o"], specs)
    assert rig.collector.events_seen == 3600
    assert len(rig.collector._seen) <= SEEN_WINDOW_MS // 1000 + 1
    # a resend within the window is still caught
    last = binance_force_order("BTCUSDT", "SELL", "0.001", "60000", H0 + 3599 * 1000)
    assert rig.collector.ingest("binanceusdm", last["o"], specs) == 0
    assert rig.collector.duplicates == 1
    rig.store.close()


async def test_the_streams_share_the_live_sources_markets(tmp_path: Path) -> None:
    rig = Rig(tmp_path, venues=("bybit",))
    live_side = make_fake("bybit", FakeStream("wss://other"), ASSETS)
    await live_side.load_markets()
    loads: list[str] = []

    def factory(venue: str) -> Any:
        exchange = rig.factory(venue)
        real = exchange.load_markets

        async def counted(*args: Any, **kwargs: Any) -> Any:
            loads.append(venue)
            return await real(*args, **kwargs)

        exchange.load_markets = counted
        return exchange

    rig.collector._factory = factory
    rig.collector._markets_of = lambda venue: live_side if venue == "bybit" else None
    await rig.collector.start()
    try:
        await rig.idle()
        assert loads == []
        assert rig.exchanges["bybit"].markets is live_side.markets
        assert rig.streams["bybit"].subscriptions == {"BTCUSDT", "ETHUSDT"}
    finally:
        await rig.collector.stop()
        await live_side.close()
