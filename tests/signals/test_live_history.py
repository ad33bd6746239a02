"""The live history source against the long-history fake venues: real ccxt exchange objects,
real HTTP over 127.0.0.1, a real SQLite store; only the venues are fake
(tests/helpers/venues/history.py, each paging the way the venue documents).

Pagination (pages tile the range, none asked twice, none beyond what a venue serves), the
cache (a second run costs no request; the next day only the new day), what each series holds
(compared with the fake's own numbers), rate limits and faults at the HTTP layer.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from settings import Settings
from signals.errors import NoMarketData, UnknownAsset
from signals.history import History
from signals.live_history import LiveHistory
from signals.market import DAY_MS, HOUR_MS
from signals.store import Store
from signals.venue_history import RequestPacer
from tests.helpers.fake_exchange import Clock, Fault
from tests.helpers.venues.history import HistoryServer, LongAsset, long_asset
from tests.helpers.venues.scenario import DEFAULT_NOW_MS, default_scenario

NOW = DEFAULT_NOW_MS  # 2026-05-20 12:30 UTC
ASOF = NOW - NOW % DAY_MS
LOOKBACK = 457  # what a 365-day backtest reads (signals.backtest.lookback_days)
LOWER = ASOF - LOOKBACK * DAY_MS
HTML = "<html><body><h1>502 Bad Gateway</h1></body></html>"


@dataclass
class Rig:
    server: HistoryServer
    store: Store
    clock: Clock
    live: LiveHistory
    asset: LongAsset

    async def history(self, days: int = LOOKBACK) -> History:
        return await self.live.history("ETH", days)


async def make_rig(
    tmp_path: Path,
    asset: LongAsset | None = None,
    *,
    settings: Settings | None = None,
    pacer: RequestPacer | None = None,
    rate_limits: dict[object, tuple[int, float]] | None = None,
) -> Rig:
    asset = asset or long_asset(NOW)
    server = HistoryServer(default_scenario(NOW), {"ETH": asset}, rate_limits=rate_limits)
    await server.start()
    store = Store(tmp_path / "preflight.sqlite")
    clock = Clock(NOW)
    live = LiveHistory(
        settings or Settings(),
        store,
        exchange_factory=server.exchange,
        clock=clock,
        pacer=pacer or RequestPacer(scale=0.0),
    )
    return Rig(server, store, clock, live, asset)


async def close_rig(rig: Rig) -> None:
    await rig.live.aclose()
    await rig.server.close()
    rig.store.close()


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    made = await make_rig(tmp_path)
    yield made
    await close_rig(made)


def history_paths(server: HistoryServer) -> list[tuple[str, str, dict[str, str]]]:
    """The requests to the history endpoints (not markets or risk limits), in order."""
    return [
        r
        for r in server.requests
        if any(k in r[1] for k in ("kline", "candles", "funding", "nterest", "pen-interest"))
    ]


# ---- what a first run fetches ----------------------------------------------------------------


async def test_first_run_reads_every_series_and_counts_every_request(rig: Rig) -> None:
    history = await rig.history()
    data = history.data
    assert history.asof == ASOF
    # daily candles from the first venue (Binance): exactly the fake's closed bars in range
    expected = [r for r in rig.asset.daily if r[0] >= LOWER and r[0] + DAY_MS <= ASOF]
    assert data.ohlcv_1d.index.tolist() == [int(r[0]) for r in expected]
    assert data.ohlcv_1d["close"].tolist() == [r[4] for r in expected]
    assert data.ohlcv_1d["low"].tolist() == [r[3] for r in expected]
    assert data.sources["price"] == "binanceusdm"
    # the run's count is what reached the venues, venue by venue
    assert rig.live.last_report.total == len(rig.server.requests)
    for venue, count in rig.live.last_report.requests.items():
        assert count == rig.server.count(venue)
    assert rig.live.last_report.failed == {}


async def test_a_second_run_the_same_day_asks_the_venues_nothing(rig: Rig) -> None:
    first = await rig.history()
    asked = len(rig.server.requests)
    rig.clock.now += 6 * 3600  # later the same UTC day
    second = await rig.history()
    assert len(rig.server.requests) == asked
    assert rig.live.last_report.total == 0
    assert second.asof == first.asof
    assert second.data.ohlcv_1d.equals(first.data.ohlcv_1d)
    assert second.data.oi_usd_1d.equals(first.data.oi_usd_1d)
    assert [f.history.tolist() for f in second.data.funding] == [
        f.history.tolist() for f in first.data.funding
    ]


async def test_the_next_day_asks_only_for_what_is_new(rig: Rig) -> None:
    await rig.history()
    before = len(rig.server.requests)
    rig.clock.now += DAY_MS / 1000  # the clock counts seconds
    rig.server.scenario.now_ms += DAY_MS  # the bar forming yesterday has closed
    history = await rig.history()
    new = rig.server.requests[before:]
    pages = [r for r in new if r in history_paths(rig.server)]
    # one page per venue and series at most (and the day's maintenance margin)
    assert len(pages) <= 3 * 3
    assert rig.server.count("bybit", "/v5/market/risk-limit") == 2
    assert int(history.data.ohlcv_1d.index[-1]) == ASOF  # yesterday's forming bar, closed now


async def test_pages_tile_the_range_with_no_gap_and_no_repeat(rig: Rig) -> None:
    await rig.history()
    pages = history_paths(rig.server)
    assert len({(v, p, tuple(sorted(q.items()))) for v, p, q in pages}) == len(pages)
    # Bybit's daily OI: windows of 200 bars walking back, each ending where the next begins
    windows = [
        (int(q["startTime"]), int(q["endTime"]))
        for v, p, q in pages
        if v == "bybit" and p.endswith("open-interest") and q["intervalTime"] == "1d"
    ]
    assert len(windows) == 3
    for newer, older in itertools.pairwise(windows):
        assert older[1] + 1 == newer[0]
        assert newer[1] - newer[0] == 200 * DAY_MS - 1
    # the snapshots asked are those of the bars in range: the first bar's close to asof's
    assert windows[-1][0] == LOWER + DAY_MS and windows[0][1] == ASOF + DAY_MS - 1
    # Bybit's funding pages back by endTime alone (startTime alone is refused)
    ends = [
        int(q["endTime"]) for v, p, q in pages if v == "bybit" and p.endswith("funding/history")
    ]
    assert all("startTime" not in q for v, p, q in pages if p.endswith("funding/history"))
    assert ends == sorted(ends, reverse=True) and len(ends) == 7


async def test_binance_oi_is_asked_only_inside_the_30_days_it_keeps(rig: Rig) -> None:
    history = await rig.history()
    starts = [
        int(q["startTime"])
        for v, p, q in rig.server.requests
        if v == "binanceusdm" and p.endswith("openInterestHist")
    ]
    assert starts and min(starts) >= NOW - 30 * DAY_MS
    held = rig.store.read_history_points("ETH", "binanceusdm", "oi_1d", 0, ASOF)
    assert len(held) == 28
    # a venue serving fewer days than the others is left out of the summed OI, and said so
    notes = history.data.sources["history"]["oi_left_out"]
    assert notes["binanceusdm"].startswith("history starts ")
    assert notes["okx"].startswith("history starts ")  # the fake's OKX keeps 180 days
    assert history.data.sources["oi"] == ["bybit"]


async def test_summed_oi_is_bybits_coins_valued_at_the_price_venues_close(rig: Rig) -> None:
    history = await rig.history()
    oi = history.data.oi_usd_1d
    coins = rig.asset.venues["bybit"].oi_1d
    closes = {int(r[0]): r[4] for r in rig.asset.daily}
    assert len(oi) == LOOKBACK
    for ts, usd in oi.items():
        # the fake prints coins with 8 decimals, as Bybit does
        assert usd == pytest.approx(round(coins[int(ts)], 8) * closes[int(ts)], rel=1e-12)


async def test_funding_holds_every_venues_settlements_and_weights(rig: Rig) -> None:
    history = await rig.history()
    by_venue = {f.venue: f for f in history.data.funding}
    assert set(by_venue) == {"binanceusdm", "bybit", "okx"}
    binance = by_venue["binanceusdm"]
    raw = {t: r for t, r in rig.asset.venues["binanceusdm"].funding.items() if LOWER <= t <= ASOF}
    assert binance.history.index.tolist() == sorted(raw)
    assert binance.history.tolist() == [raw[t] for t in sorted(raw)]
    assert binance.interval_hours == 8
    # OKX keeps about three months of settlements: all of them, nothing older asked for
    okx = by_venue["okx"].history
    assert int(okx.index[0]) >= NOW - 90 * DAY_MS
    # each venue is weighted by its newest daily OI in USD
    assert binance.oi_usd == pytest.approx(
        rig.store.read_history_points("ETH", "binanceusdm", "oi_1d", 0, ASOF)[-1][1]
    )
    assert history.data.mmr == 0.005  # Bybit's lowest risk tier (the fake's)


async def test_a_changed_funding_interval_is_restated_per_settlement(tmp_path: Path) -> None:
    switch = ASOF - 100 * DAY_MS
    asset = long_asset(NOW, intervals={"binanceusdm": [(8, 0), (4, switch)]})
    rig = await make_rig(tmp_path, asset)
    try:
        history = await rig.history()
    finally:
        await close_rig(rig)
    binance = next(f for f in history.data.funding if f.venue == "binanceusdm")
    assert binance.interval_hours == 4
    raw = rig.asset.venues["binanceusdm"].funding
    for ts, restated in binance.history.items():
        own = 4 if ts > switch else 8
        # what the engine makes of it (rate × 8 / 4) is the settlement's own 8-hour rate
        assert restated * 8 / 4 == pytest.approx(raw[int(ts)] * 8 / own, abs=1e-15)


# ---- what a venue cannot or will not answer ---------------------------------------------------


async def test_a_rate_limited_venue_keeps_the_pages_it_gave_and_resumes(tmp_path: Path) -> None:
    # Bybit answers its two markets pages, three daily OI pages and two funding pages, then
    # 429 with Retry-After: 1 to everything
    rig = await make_rig(tmp_path, rate_limits={"bybit": (7, 3600.0)})
    try:
        first = await rig.history()
        reason = first.data.venues_failed["bybit"]
        assert reason == "funding: HTTP 429, cooling down 1 s"
        kept = rig.store.read_history_points("ETH", "bybit", "funding", 0, ASOF + 1)
        assert len(kept) == 400  # the two pages it answered
        assert {f.venue for f in first.data.funding} == {"binanceusdm", "bybit", "okx"}
        # the other venues were not held up
        assert not {k for k in first.data.venues_failed if k != "bybit"}
        rig.server.rate_limits.clear()
        rig.clock.now += 2  # the cool-down is over
        before = len(rig.server.requests)
        second = await rig.history()
        new = rig.server.requests[before:]
        assert {(v, p) for v, p, _ in new} <= {
            ("bybit", "/v5/market/funding/history"),
            ("bybit", "/v5/market/risk-limit"),
        }
        # it asked only for what was older than the pages it kept
        assert all(int(q["endTime"]) < kept[0][0] for _, p, q in new if "funding" in p)
        bybit = next(f for f in second.data.funding if f.venue == "bybit")
        assert int(bybit.history.index[0]) <= LOWER + 8 * HOUR_MS
        assert "bybit" not in second.data.venues_failed
    finally:
        await close_rig(rig)


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (
            Fault(200, HTML, content_type="text/html"),
            "open interest 1d: malformed answer to open interest 1d history (HTML page)",
        ),
        (
            Fault(200, '{"code":"0","data":[["17'),
            "open interest 1d: malformed answer to open interest 1d history (truncated JSON)",
        ),
        (
            Fault(503, HTML, content_type="text/html"),
            "open interest 1d: open interest 1d history: HTTP 503",
        ),
    ],
)
async def test_a_broken_answer_names_the_venue_and_its_series(
    tmp_path: Path, fault: Fault, reason: str
) -> None:
    rig = await make_rig(tmp_path)
    rig.server.fail("okx", fault, path="/open-interest-history")
    try:
        history = await rig.history()
    finally:
        await close_rig(rig)
    assert history.data.venues_failed == {"okx": reason}
    # its funding still came, and so did every other venue's series
    assert {f.venue for f in history.data.funding} == {"binanceusdm", "bybit", "okx"}
    assert history.data.sources["oi"] == ["bybit"]


async def test_a_hanging_venue_times_out_and_is_named(tmp_path: Path) -> None:
    rig = await make_rig(tmp_path, settings=replace(Settings(), request_timeout_s=0.3))
    rig.server.fail("bybit", Fault(delay_s=2.0), path="/open-interest")
    try:
        history = await rig.history()
    finally:
        await close_rig(rig)
    assert history.data.venues_failed["bybit"] == "open interest 1d: timeout after 0.3 s"
    # the OI sum falls back to the venues that did answer, which serve fewer days
    assert history.data.sources["oi"] == ["okx"]


async def test_failed_daily_candles_come_from_the_next_venue(tmp_path: Path) -> None:
    rig = await make_rig(tmp_path)
    rig.server.fail("binanceusdm", Fault(503, HTML, content_type="text/html"), path="/klines")
    try:
        history = await rig.history()
    finally:
        await close_rig(rig)
    assert history.data.sources["price"] == "bybit"
    assert history.data.venues_failed["binanceusdm"] == "daily candles: ohlcv 1d history: HTTP 503"
    expected = [r[4] for r in rig.asset.daily if r[0] >= LOWER and r[0] + DAY_MS <= ASOF]
    assert history.data.ohlcv_1d["close"].tolist() == expected


async def test_okx_daily_candles_are_utc_days(tmp_path: Path) -> None:
    rig = await make_rig(tmp_path)
    for venue in ("binanceusdm", "bybit"):
        rig.server.fail(venue, Fault(503, HTML, content_type="text/html"), path="kline")
        rig.server.fail(venue, Fault(503, HTML, content_type="text/html"), path="klines")
    try:
        history = await rig.history()
    finally:
        await close_rig(rig)
    assert history.data.sources["price"] == "okx"
    asked = {q.get("bar") for v, p, q in rig.server.requests if v == "okx" and "candles" in p}
    assert asked == {"1Dutc"}
    expected = [r[4] for r in rig.asset.daily if r[0] >= LOWER and r[0] + DAY_MS <= ASOF]
    assert history.data.ohlcv_1d["close"].tolist() == expected


async def test_no_venue_reachable_is_no_market_data(tmp_path: Path) -> None:
    rig = await make_rig(tmp_path)
    for venue in ("binanceusdm", "bybit", "okx"):
        rig.server.fail(venue, Fault(503, HTML, content_type="text/html"))
    try:
        with pytest.raises(NoMarketData, match="no venue reachable: binanceusdm: markets: "):
            await rig.history()
    finally:
        await close_rig(rig)


async def test_a_venue_that_does_not_list_the_asset_is_not_asked_again(tmp_path: Path) -> None:
    scenario = default_scenario(NOW)
    scenario.assets["ETH"].venues = ("binanceusdm", "bybit")  # OKX does not list ETH
    server = HistoryServer(scenario, {"ETH": long_asset(NOW)})
    await server.start()
    store = Store(tmp_path / "preflight.sqlite")
    try:
        for run in range(2):  # two runs the same day, each with fresh exchanges (two CLI runs)
            live = LiveHistory(
                Settings(),
                store,
                exchange_factory=server.exchange,
                clock=Clock(NOW),
                pacer=RequestPacer(scale=0.0),
            )
            history = await live.history("ETH", LOOKBACK)
            await live.aclose()
            if run == 0:
                asked = len(server.requests)
                assert server.count("okx") == 1  # its markets, once: nothing to fetch there
        assert len(server.requests) == asked
        assert "okx" not in history.data.sources["funding"]
    finally:
        await server.close()
        store.close()


async def test_an_asset_no_venue_lists_is_unknown_with_close_matches(rig: Rig) -> None:
    for _ in range(2):  # and again: nothing is noted about an asset nobody lists
        with pytest.raises(UnknownAsset) as caught:
            await rig.live.history("ETHH", LOOKBACK)
        assert caught.value.close_matches == ("ETH",)
    # markets were read; no history page was asked for
    assert history_paths(rig.server) == []


# ---- rate limits ------------------------------------------------------------------------------


# OKX publishes 5 requests / 2 s for its trading statistics (the OI history); the pacer spaces
# them 0.8 s apart. The same rules, 0.75 × the time: 5 in any 1.5 s, 0.6 s apart.
OKX_OI = "/api/v5/rubik/stat/contracts/open-interest-history"
SCALE = 0.75
OKX_LIMIT: dict[object, tuple[int, float]] = {("okx", OKX_OI): (5, 2.0 * SCALE)}


def deep_okx() -> LongAsset:
    # OKX serving 800 days of OI: eight pages of 100
    return long_asset(NOW, days=800, oi_days={"okx": None})


async def test_pages_are_spaced_under_the_venues_limits(tmp_path: Path) -> None:
    rig = await make_rig(
        tmp_path, deep_okx(), pacer=RequestPacer(scale=SCALE), rate_limits=OKX_LIMIT
    )
    try:
        history = await rig.live.history("ETH", 790)
    finally:
        await close_rig(rig)
    times = [t for v, p, t in rig.server.arrivals if p == OKX_OI]
    assert len(times) == 8
    # spaced on our side; the loopback's jitter may bring two arrivals a little closer
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.8 * SCALE * 0.8
    assert rig.server.refused == []
    assert "okx" not in history.data.venues_failed


async def test_without_the_pacer_the_same_limits_are_broken(tmp_path: Path) -> None:
    # the control: the same fake, no spacing — the venue refuses, so the test above can fail
    rig = await make_rig(
        tmp_path, deep_okx(), pacer=RequestPacer(scale=0.0), rate_limits=OKX_LIMIT
    )
    try:
        history = await rig.live.history("ETH", 790)
    finally:
        await close_rig(rig)
    assert ("okx", OKX_OI) in rig.server.refused
    assert history.data.venues_failed["okx"].startswith("open interest 1d: HTTP 429")


# ---- the hourly refresh: what the venues forget --------------------------------------------


async def test_the_hourly_refresh_keeps_what_the_venues_forget(rig: Rig) -> None:
    await rig.history()
    report = await rig.live.refresh("ETH")
    assert report.failed == {}
    hour = NOW - NOW % HOUR_MS
    for venue in ("binanceusdm", "bybit", "okx"):
        held = rig.store.read_history_points("ETH", venue, "oi_1h", 0, hour)
        assert [ts for ts, _ in held] == list(range(hour - 72 * HOUR_MS, hour, HOUR_MS))
    # a second refresh within the hour asks for nothing new
    before = len(rig.server.requests)
    await rig.live.refresh("ETH")
    assert [p for _, p, _ in rig.server.requests[before:] if "nterest" in p] == []
    # Binance stops serving its older days: the store still has them, and never asks again
    rig.asset.venues["binanceusdm"].oi_1d.clear()
    rig.clock.now += 3600
    again = await rig.history()
    assert len(rig.store.read_history_points("ETH", "binanceusdm", "oi_1d", 0, ASOF)) == 28
    assert "binanceusdm" in again.data.sources["history"]["oi_left_out"]
