"""End to end through `cli.main`: `collect` fills the store from (fake) venue websockets and
`check --json` grades its liquidation flag from it (issue 4); `record` then
`check --snapshot` reproduces the live grade (issue 3).

Everything is real from the CLI down to ccxt; only the network edge is fake. The websocket
side is tests/helpers/fake_pro.py inside the CLI's own event loop; the REST side is the
loopback fake exchange, served from a background thread because the CLI runs `asyncio.run`.
Two module attributes are swapped with monkeypatch, because neither command takes an
exchange factory or a clock: `signals.collector.default_exchange_factory` (which ccxt.pro
exchange `collect` opens) and `signals.live.LiveMarket` (given the loopback exchanges and the
scenario's fixed clock). The collector class is replaced by a subclass that runs on the
test's clock and drives the streams; `collect_main` itself is the production one.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import cli
import signals.collector
import signals.live
from settings import Settings
from signals.collector import LiquidationCollector
from signals.live import LiveMarket
from signals.store import CoverageSpan, LiqMinute, Store
from tests.helpers.fake_exchange import (
    DAY_MS,
    DEFAULT_NOW_MS,
    HOUR_MS,
    Clock,
    FakeExchangeServer,
    FundingSpec,
    OptionSpec,
    Scenario,
    default_scenario,
)
from tests.helpers.fake_pro import (
    FakeStream,
    binance_force_order,
    bybit_all_liquidation,
    make_fake,
    okx_liquidation_orders,
)
from tests.helpers.threaded_exchange import serve_in_thread

MINUTE_MS = 60_000
VENUES = ("binanceusdm", "bybit", "okx")
PRICE = 3000
OKX_ETH_CONTRACT = 0.1  # ETH per OKX ETH-USDT-SWAP contract (fake_pro's recorded ctVal)
# asof of every check: 2026-05-20 12:30 UTC; the 12:00 bar is still forming
NOW_MS = DEFAULT_NOW_MS
FORMING_HOUR = NOW_MS - NOW_MS % HOUR_MS
FLUSH_INTERVAL_S = 0.01


# ---- the environment the CLI reads ------------------------------------------------------


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean PREFLIGHT_* environment with the store in tmp_path (no `.env` in the cwd)."""
    for var in list(os.environ):
        if var.startswith("PREFLIGHT_"):
            monkeypatch.delenv(var)
    monkeypatch.chdir(tmp_path)
    store_path = tmp_path / "preflight.sqlite"
    monkeypatch.setenv("PREFLIGHT_STORE_PATH", str(store_path))
    return store_path


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """`cli.main` in-process: exit status, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(argv, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def strict_json(text: str) -> Any:
    """Parse the CLI's JSON, refusing NaN and Infinity (they are not JSON)."""

    def refuse(token: str) -> Any:
        raise AssertionError(f"{token} in --json output")

    return json.loads(text, parse_constant=refuse)


@contextlib.contextmanager
def venues_at_now(
    monkeypatch: pytest.MonkeyPatch, scenario: Scenario
) -> Iterator[FakeExchangeServer]:
    """Serve a scenario from the loopback fake; live checks see it at its fixed clock."""
    with serve_in_thread(scenario) as server:
        clock = Clock(scenario.now_ms)

        def live_market(settings: Settings) -> LiveMarket:
            return LiveMarket(settings, exchange_factory=server.exchange, clock=clock)

        monkeypatch.setattr(signals.live, "LiveMarket", live_market)
        yield server


# ---- what the fake venues stream ----------------------------------------------------------


@dataclass(frozen=True)
class Liq:
    """One ETH liquidation as a venue streams it; `side` is the position force-closed."""

    venue: str
    side: str
    qty: int  # ETH, or contracts on OKX
    ts: int

    @property
    def usd(self) -> float:
        """What it is worth: OKX counts contracts of 0.1 ETH."""
        coins = self.qty * OKX_ETH_CONTRACT if self.venue == "okx" else self.qty
        return coins * PRICE

    def message(self) -> tuple[dict[str, Any], str]:
        """The raw websocket message in the venue's own convention, and its stream key."""
        long = self.side == "long"
        qty, price = str(self.qty), str(PRICE)
        if self.venue == "binanceusdm":  # the closing order: SELL closes a long
            return binance_force_order(
                "ETHUSDT", "SELL" if long else "BUY", qty, price, self.ts
            ), "*"
        if self.venue == "bybit":  # S names the position: Buy means a long was liquidated
            entry = ("Buy" if long else "Sell", qty, price, self.ts)
            return bybit_all_liquidation("ETHUSDT", [entry]), "ETHUSDT"
        detail = (self.side, "sell" if long else "buy", qty, price, self.ts)
        return okx_liquidation_orders("ETH-USDT-SWAP", [detail]), "*"


def quiet_hours_and_two_long_clusters(first_hour: int) -> list[Liq]:
    """Every closed hour from `first_hour`: $9,000 of longs and $3,000 of shorts liquidated.
    Plus two long clusters in the last 24 h ($750,000 at 09:00 on three venues, $300,000 at
    05:00) and one in the forming 12:00 bar, which no closed-bar statistic may count."""
    liqs: list[Liq] = []
    for hour in range(first_hour, FORMING_HOUR, HOUR_MS):
        liqs += [
            Liq("binanceusdm", "long", 1, hour + 10 * MINUTE_MS),
            Liq("bybit", "long", 2, hour + 20 * MINUTE_MS),
            Liq("bybit", "short", 1, hour + 30 * MINUTE_MS),
        ]
    nine, five = FORMING_HOUR - 3 * HOUR_MS, FORMING_HOUR - 7 * HOUR_MS
    liqs += [
        Liq("binanceusdm", "long", 100, nine + 35 * MINUTE_MS),
        Liq("okx", "long", 1000, nine + 36 * MINUTE_MS),
        Liq("bybit", "long", 50, nine + 37 * MINUTE_MS),
        Liq("bybit", "long", 100, five + 40 * MINUTE_MS),
        Liq("bybit", "long", 100, FORMING_HOUR + 5 * MINUTE_MS),
    ]
    return sorted(liqs, key=lambda liq: liq.ts)


# ---- `collect` on the test's clock ----------------------------------------------------------


@dataclass
class CollectRun:
    """One scripted `python bot.py collect` run: its streams, clock and driver task."""

    clock: Clock
    liqs: list[Liq]
    streams: dict[str, FakeStream]
    driver: asyncio.Task[None] | None = None


async def drive(collector: LiquidationCollector, run: CollectRun) -> None:
    """Stream the liquidations in time order with the clock following them, then SIGTERM."""
    try:
        for stream in run.streams.values():
            await stream.idle()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 3
        # coverage opens while the clock still reads the start time
        while collector.live_venues != VENUES:
            assert loop.time() < deadline, f"streams never live: {collector.live_venues}"
            await asyncio.sleep(0.005)
        for liq in run.liqs:
            run.clock.now = (liq.ts + 1000) / 1000
            message, key = liq.message()
            stream = run.streams[liq.venue]
            assert stream.push(message, key)
            await stream.idle()
        run.clock.now = NOW_MS / 1000
        await collector.flush()
    finally:
        os.kill(os.getpid(), signal.SIGTERM)  # what `collect` waits for; it must stop cleanly


def collect(monkeypatch: pytest.MonkeyPatch, start_ms: int, liqs: list[Liq]) -> CollectRun:
    """`cli.main(["collect", "ETH"])` from start_ms until NOW_MS, streaming `liqs`."""
    run = CollectRun(Clock(start_ms), liqs, {v: FakeStream(f"wss://{v}") for v in VENUES})

    def fake_pro(venue: str, base_url: str | None = None) -> Any:
        return make_fake(venue, run.streams[venue], ("ETH",))

    class ScriptedCollector(LiquidationCollector):
        def __init__(
            self,
            settings: Settings,
            store: Store,
            assets: Sequence[str] | None = None,
            exchange_factory: Callable[[str], Any] | None = None,
            *,
            backfill_venues: Sequence[str] | None = None,
        ) -> None:
            # REST backfill is tested in test_liq_backfill; here the streams alone must
            # reach 48 covered hours (settings cannot switch backfill off: see the report)
            super().__init__(
                settings,
                store,
                assets,
                exchange_factory,
                run.clock,
                backfill_venues=(),
                flush_interval_s=FLUSH_INTERVAL_S,
            )

        async def start(self) -> None:
            await super().start()
            run.driver = asyncio.create_task(drive(self, run))

    monkeypatch.setattr(signals.collector, "default_exchange_factory", fake_pro)
    monkeypatch.setattr(signals.collector, "LiquidationCollector", ScriptedCollector)
    code, _, err = run_cli(["collect", "ETH"])
    assert code == 0, err
    assert run.driver is not None and run.driver.done()
    run.driver.result()  # the driver's own failure, if any
    return run


def streamed_totals(store_path: Path) -> dict[tuple[str, str], float]:
    """USD per (venue, side) in the store's minute buckets."""
    store = Store(store_path)
    try:
        totals: dict[tuple[str, str], float] = {}
        for m in store.read_liq_minutes("ETH", 0, 2**62):
            totals[(m.venue, m.side)] = totals.get((m.venue, m.side), 0.0) + m.usd
        return totals
    finally:
        store.close()


def expected_totals(liqs: list[Liq]) -> dict[tuple[str, str], float]:
    totals: dict[tuple[str, str], float] = {}
    for liq in liqs:
        totals[(liq.venue, liq.side)] = totals.get((liq.venue, liq.side), 0.0) + liq.usd
    return totals


def liquidations_flag(doc: dict[str, Any], side: str) -> dict[str, Any]:
    [grade] = [g for g in doc["grades"] if g["side"] == side]
    flag: dict[str, Any] = grade["flags"]["liquidations"]
    return flag


# ---- issue 4: collect → check ---------------------------------------------------------------


def test_collected_streams_give_the_liquidation_flag_with_coverage(
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    start = NOW_MS - 50 * HOUR_MS  # 2026-05-18 10:30: the 10:00 bar is only half covered
    first_full_hour = start - start % HOUR_MS + HOUR_MS
    liqs = quiet_hours_and_two_long_clusters(first_full_hour)
    collect(monkeypatch, start, liqs)
    assert streamed_totals(env) == expected_totals(liqs)

    with venues_at_now(monkeypatch, default_scenario()) as server:
        code, out, err = run_cli(["check", "ETH", "long", "5x", "--json"])
        assert code == 0, err
        long_doc = strict_json(out)
        code, out, err = run_cli(["check", "ETH", "short", "5x", "--json"])
        assert code == 0, err
        short_doc = strict_json(out)
        rest_requests = server.count()
    assert rest_requests > 0  # price, OI, funding and skew came from the (fake) venues
    assert long_doc["asof"] == NOW_MS
    assert long_doc["market"]["price"] == 3199.0  # the scenario's last closed hourly candle

    # 49 closed hours covered (11:00 on the 18th to 11:00 on the 20th); the last 24 hold
    # 24 × $9,000 + $750,000 + $300,000 of longs; the 25 before them $9,000 each
    flag = liquidations_flag(long_doc, "long")
    assert flag["status"] == "caution"
    assert flag["values"] == {
        "liq_24h": 1_266_000.0,
        "liq_baseline_daily": pytest.approx(25 * 9_000 / (25 / 24)),
        "bursts_24h": 2,
        "buckets": 49,
        "venues": ["binanceusdm", "bybit", "okx"],
        "hours_covered": 49.0,
        "since": first_full_hour,
        "lower_bound": True,  # Binance and OKX throttle their streams
    }
    assert (
        "counted from binanceusdm, bybit, okx over 49h"
        " (a lower bound: binanceusdm, okx throttle their streams)" in flag["reason"]
    )
    assert long_doc["market"]["liq_long_24h_usd"] == 1_266_000.0
    assert long_doc["market"]["liq_short_24h_usd"] == 24 * 3_000.0

    short_flag = liquidations_flag(short_doc, "short")
    assert short_flag["status"] == "clear"
    assert short_flag["values"]["liq_24h"] == 24 * 3_000.0
    assert short_flag["values"]["bursts_24h"] == 0
    assert short_flag["values"]["hours_covered"] == 49.0


def test_thirty_collected_hours_leave_the_flag_unknown_collecting_since(
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    start = NOW_MS - 30 * HOUR_MS - 30 * MINUTE_MS  # 2026-05-19 06:00 on the hour
    liqs = quiet_hours_and_two_long_clusters(start)
    collect(monkeypatch, start, liqs)
    assert streamed_totals(env) == expected_totals(liqs)

    with venues_at_now(monkeypatch, default_scenario()):
        code, out, err = run_cli(["check", "ETH", "long", "5x", "--json"])
    assert code == 0, err
    doc = strict_json(out)
    flag = liquidations_flag(doc, "long")
    assert flag["status"] == "unknown"
    assert flag["reason"] == (
        "collecting since 2026-05-19 06:00 UTC: 30 of the 48 hourly buckets needed"
    )
    assert flag["values"] == {
        "liq_24h": None,
        "liq_baseline_daily": None,
        "bursts_24h": None,
        "buckets": 30,
        "venues": ["binanceusdm", "bybit", "okx"],
        "hours_covered": 30.0,
        "since": start,
        "lower_bound": True,
    }
    assert doc["market"]["liq_long_24h_usd"] is None
    assert doc["grades"][0]["unknown_count"] == 1


# ---- issue 3: record → check --snapshot -------------------------------------------------------


def crowded_eth() -> Scenario:
    """ETH longs crowded: Binance funding 0.03% per 4 h (OI-weighted 8 h rate ≈ 0.037%) and
    Deribit puts 6 vol points over calls at every strike (rr25 = −6)."""
    scenario = default_scenario()
    eth = scenario.assets["ETH"]
    eth.funding = {
        "binanceusdm": FundingSpec(0.0003, 4, [0.0003] * 30),
        "bybit": FundingSpec(-0.0001, 8, [-0.0001] * 15),
        "okx": FundingSpec(0.00005, 1, [0.00005] * 100),
    }
    eth.options = []
    for days in (7, 60):
        expiry = FORMING_HOUR - FORMING_HOUR % DAY_MS + days * DAY_MS + 8 * HOUR_MS
        for pct in range(40, 201, 5):
            strike = 3200.0 * pct / 100
            eth.options.append(OptionSpec(expiry, strike, True, 50.0, 3200.0))
            eth.options.append(OptionSpec(expiry, strike, False, 56.0, 3200.0))
    return scenario


def store_with_eth_history(path: Path) -> None:
    """60 covered hours of Bybit ETH liquidations with two long clusters in the last day."""
    store = Store(path)
    try:
        start = FORMING_HOUR - 60 * HOUR_MS
        minutes = [
            LiqMinute("ETH", "bybit", "long", h, 9_000.0, 3)
            for h in range(start, FORMING_HOUR, HOUR_MS)
        ]
        minutes += [
            LiqMinute("ETH", "bybit", "long", FORMING_HOUR - 3 * HOUR_MS + MINUTE_MS, 5e5, 40),
            LiqMinute("ETH", "bybit", "long", FORMING_HOUR - 9 * HOUR_MS + MINUTE_MS, 4e5, 30),
            LiqMinute("ETH", "bybit", "short", FORMING_HOUR - 5 * HOUR_MS, 2e5, 10),
        ]
        store.write_liquidations(minutes, [CoverageSpan("ETH", "bybit", start, NOW_MS, "stream")])
    finally:
        store.close()


IDEAS = (
    ["ETH", "long", "5x"],
    ["BTC", "4x", "stop", "70000"],  # no side: both graded; BTC has no options
)


def test_record_then_check_snapshot_reproduces_the_live_grade(
    env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_with_eth_history(env)
    snapshot = tmp_path / "recorded.json"
    with venues_at_now(monkeypatch, crowded_eth()) as server:
        code, out, err = run_cli(["record", "ETH", "BTC", "--out", str(snapshot)])
        assert code == 0, err
        assert "recorded ETH, BTC as of 2026-05-20 12:30 UTC" in out
        live = {}
        for idea in IDEAS:
            code, out, err = run_cli(["check", *idea, "--json"])
            assert code == 0, err
            live[idea[0]] = strict_json(out)
        requests_before_replay = server.count()
        replayed = {}
        for idea in IDEAS:
            code, out, err = run_cli(["check", *idea, "--json", "--snapshot", str(snapshot)])
            assert code == 0, err
            replayed[idea[0]] = strict_json(out)
        assert server.count() == requests_before_replay  # the replay never asked a venue

    assert replayed == live
    # the grade replayed is a real one: ETH cautions come from live funding, skew and the store
    [eth] = live["ETH"]["grades"]
    statuses = {name: f["status"] for name, f in eth["flags"].items()}
    assert statuses == {
        "open_interest": "clear",
        "funding": "caution",
        "liquidations": "caution",
        "skew": "caution",
    }
    assert eth["verdict"] == "wait"
    assert eth["flags"]["liquidations"]["values"]["venues"] == ["bybit"]
    assert eth["flags"]["liquidations"]["values"]["hours_covered"] == 60.0
    assert live["ETH"]["asof"] == NOW_MS
    assert [g["side"] for g in live["BTC"]["grades"]] == ["long", "short"]
    assert live["BTC"]["stop"] == 70000
    assert {g["flags"]["skew"]["status"] for g in live["BTC"]["grades"]} == {"unknown"}
