"""The live path under real-world faults, each injected at the HTTP layer of the fake venues.

One test per defect of issue 9 that the idealised fakes could not see: a clock that moves
during a check, 429/418/451 with Retry-After, hangs at start-up and later, HTML pages with
status 200, truncated and non-object bodies, empty lists, unsorted risk tiers.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import pytest

from settings import Settings
from signals.convert import bybit_lowest_mmr
from signals.derived import compute_market
from signals.errors import NotInSnapshot, UnknownAsset
from signals.service import CheckService, LiveSource
from signals.snapshot import DEMO_PATH
from signals.thresholds import Thresholds
from tests.helpers.fake_exchange import (
    DAY_MS,
    HOUR_MS,
    SERVICE_UNAVAILABLE,
    Clock,
    FakeExchangeServer,
    Fault,
    OptionSpec,
    default_scenario,
    live,
)
from tests.helpers.recorded import answer

BINANCE_429 = '{"code":-1003,"msg":"Too many requests; current limit of IP(127.0.0.1) is 2400."}'
BINANCE_DATA = ("/klines", "/openInterestHist", "/premiumIndex", "/fundingRate", "/fundingInfo")


class TickingClock(Clock):
    """A wall clock that moves 5 ms every time anything reads it."""

    def __call__(self) -> float:
        self.now += 0.005
        return self.now


def flat_wing_options(now_ms: int, forward: float, call_iv: float, put_iv: float) -> list:
    """Calls at `call_iv`, puts at `put_iv`, on a 7-day and a 60-day expiry."""
    options = []
    for days in (7, 60):
        day = now_ms + days * DAY_MS
        expiry = day - day % DAY_MS + 8 * HOUR_MS
        for pct in range(40, 201, 5):
            strike = forward * pct / 100
            options.append(OptionSpec(expiry, strike, True, call_iv, forward))
            options.append(OptionSpec(expiry, strike, False, put_iv, forward))
    return options


def fail_binance_data(server: FakeExchangeServer, fault: Fault) -> None:
    for path in BINANCE_DATA:
        server.fail("binanceusdm", fault, path=path)


def binance_data_requests(server: FakeExchangeServer) -> Counter[str]:
    return Counter(
        p + ("?" + q.get("interval", q.get("period", "")) if q else "")
        for v, p, q in server.requests
        if v == "binanceusdm" and p.endswith(BINANCE_DATA)
    )


# ---- defect 1: asof and a clock that moves during the check -------------------------------


async def test_a_fresh_skew_sample_is_never_after_asof_with_a_moving_clock() -> None:
    scenario = default_scenario()
    scenario.assets["ETH"].options = flat_wing_options(scenario.now_ms, 3200.0, 50.0, 57.0)
    server = FakeExchangeServer(scenario)
    await server.start()
    clock = TickingClock(scenario.now_ms)
    from signals.live import LiveMarket

    market = LiveMarket(Settings(), exchange_factory=server.exchange, clock=clock)
    try:
        await market.start()
        await market.ready()
        asof, data = await market.fetch_asset("ETH")
    finally:
        await market.close()
        await server.close()
    [sample_ts] = list(data.skew_rr25_30d.index)
    assert sample_ts <= asof
    state = compute_market(data, asof, Thresholds())
    # the cut at asof keeps the fresh sample: skew is known (it was dropped before)
    assert state.rr25_30d == pytest.approx(-7.0)


# ---- defect 3: the lowest risk tier, not the first listed ----------------------------------


def test_bybit_mmr_is_the_lowest_tier_of_the_recorded_unsorted_answer() -> None:
    recorded = answer("bybit", "risk_limit_btcusdt_unsorted.json")
    assert recorded["result"]["list"][0]["maintenanceMargin"] == "0.005"  # listed first
    assert bybit_lowest_mmr(recorded) == 0.0033


def test_bybit_mmr_without_the_lowest_mark_is_the_smallest_limit() -> None:
    recorded = answer("bybit", "risk_limit_btcusdt_unsorted.json")
    for tier in recorded["result"]["list"]:
        del tier["isLowestRisk"]
    assert bybit_lowest_mmr(recorded) == 0.0033


async def test_live_mmr_comes_from_the_lowest_tier() -> None:
    scenario = default_scenario()
    scenario.assets["ETH"].bybit_mmr = 0.01  # the fake lists the 0.02 tier first
    async with live(scenario) as (market, _, _c):
        _, data = await market.fetch_asset("ETH")
    assert data.mmr == 0.01
    assert data.sources["mmr"] == "bybit"


# ---- defect 9: 429 / 418 / 451 and Retry-After ---------------------------------------------


async def test_429_with_retry_after_cools_the_venue_down_for_every_check() -> None:
    async with live(default_scenario()) as (market, server, clock):
        fail_binance_data(server, Fault(429, BINANCE_429, headers={"Retry-After": "60"}))
        _, first = await market.fetch_asset("ETH")
        sent = binance_data_requests(server)
        assert max(sent.values()) == 1  # nothing retried
        assert first.venues_failed["binanceusdm"] == "HTTP 429, cooling down 60 s"
        assert first.sources["price"] == "bybit"

        clock.now += 30  # 30 s later: Binance's failed parts are asked again, the cool-down on
        _, second = await market.fetch_asset("ETH")
        assert binance_data_requests(server) == sent  # not one more request to Binance
        assert second.venues_failed["binanceusdm"] == "HTTP 429, cooling down 30 s"


async def test_after_the_cool_down_the_venue_is_retried_in_the_background() -> None:
    async with live(default_scenario()) as (market, server, clock):
        fail_binance_data(server, Fault(429, BINANCE_429, headers={"Retry-After": "60"}))
        await market.fetch_asset("ETH")
        before = sum(binance_data_requests(server).values())
        server.heal()
        clock.now += 61
        # no check runs: the policy's background retry asks Binance once, on its own
        for _ in range(100):
            if sum(binance_data_requests(server).values()) > before:
                break
            await asyncio.sleep(0.02)
        assert sum(binance_data_requests(server).values()) == before + 1
        await asyncio.sleep(0.05)
        assert market.policy.cooling("binanceusdm") is None
        _, data = await market.fetch_asset("ETH")
    assert data.venues_failed == {}
    assert data.sources["price"] == "binanceusdm"


async def test_a_429_without_retry_after_cools_down_60_s_and_418_two_minutes() -> None:
    async with live(default_scenario()) as (market, server, _c):
        server.fail("binanceusdm", Fault(418, BINANCE_429), path="/klines")
        server.fail("okx", Fault(429, '{"code":"50011","msg":"Too Many Requests"}'))
        _, data = await market.fetch_asset("ETH")
    assert data.venues_failed["binanceusdm"] == "HTTP 418 (IP ban), cooling down 120 s"
    assert data.venues_failed["okx"] == "HTTP 429, cooling down 60 s"
    assert data.sources["price"] == "bybit"


async def test_451_names_the_blocked_location() -> None:
    async with live(default_scenario()) as (market, server, _c):
        fail_binance_data(
            server, Fault(451, '{"code":0,"msg":"Service unavailable from a restricted location"}')
        )
        _, data = await market.fetch_asset("ETH")
    assert data.venues_failed["binanceusdm"] == "HTTP 451: not served in this location"


async def test_retry_after_as_an_http_date() -> None:
    from datetime import UTC, datetime
    from email.utils import format_datetime

    from signals.venue_policy import retry_after_s

    now = 1_779_280_200.0
    when = format_datetime(datetime.fromtimestamp(now + 90, tz=UTC), usegmt=True)
    assert retry_after_s({"retry-after": when}, now) == pytest.approx(90, abs=1)
    assert retry_after_s({"Retry-After": "  7 "}, now) == 7.0
    assert retry_after_s({"Retry-After": "soon"}, now) is None


# ---- defect 7: malformed answers are named, never read as "no data" ------------------------


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ("<html><body>Access denied</body></html>", "HTML page"),
        ('{"jsonrpc":"2.0","result":[{"instrument_name":"ETH-', "truncated JSON"),
        ('"maintenance"', "non-object body"),
        ("", "empty body"),
    ],
)
async def test_a_malformed_deribit_answer_names_deribit_and_the_check_goes_on(
    body: str, kind: str
) -> None:
    scenario = default_scenario()
    async with live(scenario) as (market, server, _c):
        server.fail(
            "deribit",
            Fault(200, body or " ", content_type="text/html"),
            path="/get_book_summary_by_currency",
        )
        service = CheckService(Settings(), source=LiveSource(Settings(), None, market))
        from signals.idea import parse_idea

        result = await service.check(parse_idea("ETH long 5x"))
    assert result.venues_failed["deribit"] == f"malformed answer to book summary ({kind})"
    assert [g.flags["skew"].status for g in result.grades] == ["unknown"]
    assert result.market.price == 3199.0  # the rest of the check stands


async def test_truncated_funding_history_keeps_the_current_rate_and_names_the_venue() -> None:
    async with live(default_scenario()) as (market, server, _c):
        server.fail(
            "bybit",
            Fault(200, '{"retCode":0,"result":{"list":[{"symbol":'),
            path="/funding/history",
        )
        _, data = await market.fetch_asset("ETH")
    by_venue = {f.venue: f for f in data.funding}
    assert by_venue["bybit"].rate == 0.0001
    assert len(by_venue["bybit"].history) == 0
    assert data.venues_failed["bybit"] == "malformed answer to funding history (truncated JSON)"


async def test_an_empty_oi_list_is_an_empty_answer_not_calm() -> None:
    async with live(default_scenario()) as (market, server, _c):
        server.fail("binanceusdm", Fault(200, "[]"), path="/openInterestHist")
        _, data = await market.fetch_asset("ETH")
    assert data.venues_failed["binanceusdm"].startswith("empty answer to open interest")
    assert "binanceusdm" not in data.sources["oi"]
    assert data.sources["oi"] == ["bybit", "okx"]


async def test_an_html_page_with_status_200_on_markets_is_named_at_start_up() -> None:
    scenario = default_scenario()
    server = FakeExchangeServer(scenario)
    await server.start()
    server.fail(
        "okx", Fault(200, SERVICE_UNAVAILABLE, content_type="text/html"), path="/instruments"
    )
    from signals.live import LiveMarket

    market = LiveMarket(Settings(), exchange_factory=server.exchange, clock=Clock(scenario.now_ms))
    try:
        await market.start()
        _, data = await market.fetch_asset("ETH")
    finally:
        await market.close()
        await server.close()
    assert data.venues_failed["okx"] == "markets: malformed answer to markets (HTML page)"


# ---- defect 8: price falls back, so coin OI is still valued ---------------------------------


async def test_binance_data_failing_still_values_bybit_oi_with_the_fallback_price() -> None:
    scenario = default_scenario()
    async with live(scenario) as (market, server, _c):
        fail_binance_data(server, Fault(429, BINANCE_429, headers={"Retry-After": "60"}))
        asof, data = await market.fetch_asset("ETH")
    assert data.sources["price"] == "bybit"
    assert data.sources["oi"] == ["bybit", "okx"]
    # Bybit's 500 ETH × 3199 (Bybit's own close) plus OKX's USD column
    assert data.oi_usd_1h.iloc[-1] == pytest.approx(500 * 3199 + 250 * 3199 * 0.9995)
    assert [f.venue for f in data.funding] == ["bybit", "okx"]
    state = compute_market(data, asof, Thresholds())
    assert state.oi_usd == pytest.approx(500 * 3199 + 250 * 3199 * 0.9995)


# ---- defect 6: one budget for the whole check ------------------------------------------------


async def test_one_venue_hung_on_markets_and_another_on_data_stay_within_the_budget() -> None:
    settings = Settings(request_timeout_s=0.4, check_budget_s=1.0)
    scenario = default_scenario()
    server = FakeExchangeServer(scenario)
    await server.start()
    server.fail("binanceusdm", Fault(delay_s=30), path="/exchangeInfo")
    for path in ("/open-interest-history", "/funding-rate", "/funding-rate-history"):
        server.fail("okx", Fault(delay_s=30), path=path)
    from signals.live import LiveMarket

    clock = Clock(scenario.now_ms)
    market = LiveMarket(settings, exchange_factory=server.exchange, clock=clock)
    loop = asyncio.get_running_loop()
    try:
        await market.start()  # markets are not waited for here: the check's budget has them
        t0 = loop.time()
        _, first = await market.fetch_asset("ETH")
        first_s = loop.time() - t0
        clock.now += 61  # every cache expired; the hung venues cool down
        markets_before = server.count("binanceusdm", "/exchangeInfo")
        t0 = loop.time()
        _, second = await market.fetch_asset("ETH")
        second_s = loop.time() - t0
        markets_during = server.count("binanceusdm", "/exchangeInfo") - markets_before
    finally:
        await market.close()
        await server.close()
    assert first_s < settings.check_budget_s + 0.2
    assert first.venues_failed["binanceusdm"] == "markets: timeout after 0.4 s, cooling down 30 s"
    assert first.venues_failed["okx"].endswith("timeout after 0.4 s")
    assert first.sources["price"] == "bybit"
    # the next check does not wait for either again, nor reload markets inside itself
    assert second_s < 0.3
    assert markets_during == 0
    assert second.sources["price"] == "bybit"
    assert set(second.venues_failed) == {"binanceusdm", "okx"}


async def test_a_check_never_waits_past_its_budget_even_with_every_venue_slow() -> None:
    settings = Settings(request_timeout_s=5.0, check_budget_s=0.6)
    async with live(default_scenario(), settings) as (market, server, _c):
        for venue in ("binanceusdm", "bybit", "okx", "deribit"):
            server.fail(venue, Fault(delay_s=3))
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        with pytest.raises(Exception) as caught:
            await market.fetch_asset("ETH")
        took = loop.time() - t0
    assert took < 0.8
    assert "no answer within the 0.6 s check budget" in str(caught.value)


# ---- defects 8 and 13: the reply says where each number came from, and why 7d is missing ---


async def test_the_reply_names_the_venue_of_each_number_and_why_the_7d_skew_is_missing(
    tmp_path,
) -> None:
    import templates
    from signals.idea import parse_idea
    from signals.store import Store

    scenario = default_scenario()
    scenario.assets["ETH"].options = flat_wing_options(scenario.now_ms, 3200.0, 50.0, 52.0)
    store = Store(tmp_path / "preflight.sqlite")
    three_days_ago = scenario.now_ms - 3 * DAY_MS
    store.record_samples("ETH", "rr25_30d", [(three_days_ago, -1.0)])
    async with live(scenario) as (market, server, _c):
        fail_binance_data(server, Fault(429, BINANCE_429, headers={"Retry-After": "60"}))
        service = CheckService(Settings(), source=LiveSource(Settings(), store, market))
        result = await service.check(parse_idea("ETH long 5x"))
    compact = templates.render_check(result, "text", Thresholds())
    assert "binanceusdm down" in compact.splitlines()[-1]
    text = templates.render_check(result, "text", Thresholds(), details=True)
    assert (
        "Sources: price bybit · OI bybit, okx · funding bybit (8h), okx (8h) · skew deribit"
        in text
    )
    assert "binanceusdm (HTTP 429" in text
    assert (
        "7d change n/a (no sample from about a week ago yet: sampled since 2026-05-17 12:30 UTC)"
        in text
    )


# ---- the policy as a public seam (the backtest's long histories will page through it) ---


async def test_paginate_goes_through_the_policy_page_by_page() -> None:
    from signals.venue_policy import RequestPolicy, VenueFailure

    clock = Clock(1_779_280_200_000)
    policy = RequestPolicy(1.0, clock, revive=False)
    pages = {None: ([1, 2], "b"), "b": ([3], "c"), "c": ([4], None)}

    async def page(cursor: str | None) -> tuple[list[int], str | None]:
        return pages[cursor]

    assert await policy.paginate("okx", "candles", page) == [1, 2, 3, 4]
    assert policy.requests["okx"] == 3

    from signals.venue_policy import RateLimited

    async def limited(cursor: str | None) -> tuple[list[int], str | None]:
        if cursor == "b":
            raise RateLimited(429, 30.0)
        return pages[cursor]

    with pytest.raises(VenueFailure, match="HTTP 429, cooling down 30 s"):
        await policy.paginate("okx", "candles", limited)
    assert policy.cooling("okx") == "HTTP 429, cooling down 30 s"


def test_the_venue_base_url_setting_is_checked() -> None:
    from settings import SettingsError, load_settings

    good = load_settings({"PREFLIGHT_VENUE_BASE_URL": "http://127.0.0.1:8080"}, dotenv=None)
    assert good.venue_base_url == "http://127.0.0.1:8080"
    with pytest.raises(SettingsError, match="PREFLIGHT_VENUE_BASE_URL"):
        load_settings({"PREFLIGHT_VENUE_BASE_URL": "127.0.0.1:8080"}, dotenv=None)


def test_every_venue_url_is_rewritten_to_the_base_url() -> None:
    from signals.exchanges import pro_exchange, rest_exchange

    rest = rest_exchange("binanceusdm", "http://127.0.0.1:8080")
    pro = pro_exchange("okx", "http://127.0.0.1:8080")
    urls = json.dumps(rest.urls["api"]) + json.dumps(pro.urls["api"])
    assert "https://" not in urls and "wss://" not in urls
    assert rest.urls["api"]["fapiPublic"] == "http://127.0.0.1:8080/fapi.binance.com/fapi/v1"
    assert pro.urls["api"]["ws"] == "ws://127.0.0.1:8080/ws.okx.com:443/ws/v5"


async def test_an_asset_no_venue_lists_stays_unknown_live_and_is_missing_from_a_snapshot() -> None:
    typo = UnknownAsset("ETHH", ("ETH",))
    async with live(default_scenario()) as (market, _s, _c):
        service = CheckService(Settings(), source=LiveSource(Settings(), None, market))
        assert service.unknown_asset(typo) is typo  # live: "no USDT-margined perpetual"
    replay = CheckService(Settings(snapshot_path=str(DEMO_PATH)))
    await replay.start()
    try:
        missing = replay.unknown_asset(typo)
    finally:
        await replay.close()
    assert isinstance(missing, NotInSnapshot)
    assert (missing.asset, missing.close_matches, missing.demo) == ("ETHH", ("ETH",), True)
