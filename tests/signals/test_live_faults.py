"""LiveMarket under faults: HTTP errors, timeouts, malformed JSON, venues down, unknown assets."""

from __future__ import annotations

import asyncio
from collections import Counter

import ccxt.async_support as ccxt_async
import pytest

from settings import Settings
from signals.errors import NoMarketData, UnknownAsset
from signals.venue_policy import RETRY_ATTEMPTS
from tests.helpers.fake_exchange import (
    SERVICE_UNAVAILABLE,
    FakeExchangeServer,
    Fault,
    default_scenario,
    live,
)

BINANCE_429 = (
    '{"code":-1003,"msg":"Too many requests; current limit of IP(127.0.0.1) is 2400 '
    'requests per minute. Please use the websocket for live updates to avoid polling the API."}'
)


# ---- HTTP status → ccxt exception (real ccxt parsing of the fake's answers) ----------------


async def _exchange_with_markets(server: FakeExchangeServer, venue: str) -> ccxt_async.Exchange:
    ex = server.exchange(venue)
    if venue == "bybit":
        ex.options["fetchMarkets"] = {**ex.options["fetchMarkets"], "types": ["linear"]}
    await ex.load_markets()
    return ex


@pytest.mark.parametrize(
    ("venue", "fault", "error"),
    [
        ("binanceusdm", Fault(429, BINANCE_429), ccxt_async.DDoSProtection),
        (
            "binanceusdm",
            Fault(503, SERVICE_UNAVAILABLE, content_type="text/html"),
            ccxt_async.ExchangeNotAvailable,
        ),
        (
            "bybit",
            Fault(502, SERVICE_UNAVAILABLE, content_type="text/html"),
            ccxt_async.ExchangeNotAvailable,
        ),
        (
            "binanceusdm",
            Fault(400, '{"code":-1121,"msg":"Invalid symbol."}'),
            ccxt_async.BadSymbol,
        ),
    ],
)
async def test_http_status_maps_to_ccxt_exception(
    venue: str, fault: Fault, error: type[Exception]
) -> None:
    server = FakeExchangeServer(default_scenario())
    await server.start()
    ex = await _exchange_with_markets(server, venue)
    try:
        server.fail(venue, fault, path="/klines" if venue == "binanceusdm" else "/kline")
        with pytest.raises(error):
            await ex.fetch_ohlcv("ETH/USDT:USDT", "1h", limit=5)
    finally:
        await ex.close()
        await server.close()


# ---- retries ------------------------------------------------------------------------------


async def test_binance_429_on_candles_is_not_retried_and_price_falls_back_to_bybit() -> None:
    async with live(default_scenario()) as (market, server, _c):
        server.fail("binanceusdm", Fault(429, BINANCE_429), path="/klines")
        _, data = await market.fetch_asset("ETH")
        tries = Counter(q["interval"] for v, p, q in server.requests if p.endswith("/klines"))
    # a 429 is never retried inside a check (the other candle request may not even go out)
    assert max(tries.values()) == 1
    assert data.sources["price"] == "bybit"
    assert data.ohlcv_1h["close"].iloc[-1] == 3199.0
    assert data.venues_down == ("binanceusdm",)
    assert data.venues_failed["binanceusdm"] == "HTTP 429, cooling down 60 s"


async def test_a_5xx_that_clears_within_the_retries_costs_nothing() -> None:
    async with live(default_scenario()) as (market, server, _c):
        server.fail(
            "bybit",
            Fault(503, SERVICE_UNAVAILABLE, content_type="text/html", times=1),
            path="/funding/history",
        )
        _, data = await market.fetch_asset("ETH")
        attempts = server.count("bybit", "/funding/history")
    assert attempts == 2
    assert data.venues_down == ()
    assert [f.venue for f in data.funding] == ["binanceusdm", "bybit", "okx"]


async def test_persistent_5xx_drops_the_venue_from_every_aggregate() -> None:
    async with live(default_scenario()) as (market, server, _c):
        server.fail("okx", Fault(503, SERVICE_UNAVAILABLE, content_type="text/html"))
        _, data = await market.fetch_asset("ETH")
        tries = Counter(
            q["period"] for _, p, q in server.requests if p.endswith("/open-interest-history")
        )
    assert max(tries.values()) == RETRY_ATTEMPTS
    assert data.venues_down == ("okx",)
    assert [f.venue for f in data.funding] == ["binanceusdm", "bybit"]
    assert data.sources["oi"] == ["binanceusdm", "bybit"]
    # the OI sum is over the venues that answered: 1000 × mark + 500 × close at 3199
    assert data.oi_usd_1h.iloc[-1] == pytest.approx(1000 * 3199 * 1.0005 + 500 * 3199)


async def test_bad_symbol_is_never_retried() -> None:
    async with live(default_scenario()) as (market, server, _c):
        server.fail(
            "binanceusdm", Fault(400, '{"code":-1121,"msg":"Invalid symbol."}'), path="/klines"
        )
        _, data = await market.fetch_asset("ETH")
        klines = server.count("binanceusdm", "/klines")
    assert klines == 2  # 1d and 1h once each
    assert data.sources["price"] == "bybit"
    assert "binanceusdm" in data.venues_down


async def test_malformed_json_drops_the_venue() -> None:
    async with live(default_scenario()) as (market, server, _c):
        server.fail("bybit", Fault(200, '{"retCode":0,"result":{"list":[["17792'))
        _, data = await market.fetch_asset("ETH")
    assert data.venues_down == ("bybit",)
    assert [f.venue for f in data.funding] == ["binanceusdm", "okx"]
    assert data.sources["oi"] == ["binanceusdm", "okx"]


# ---- timeouts and the check budget -------------------------------------------------------


async def test_request_timeout_drops_the_venue() -> None:
    settings = Settings(request_timeout_s=0.2, check_budget_s=4.0)
    async with live(default_scenario(), settings) as (market, server, _c):
        server.fail("bybit", Fault(delay_s=1.0))
        _, data = await market.fetch_asset("ETH")
    assert data.venues_down == ("bybit",)
    assert data.sources["price"] == "binanceusdm"
    assert [f.venue for f in data.funding] == ["binanceusdm", "okx"]


async def test_the_check_never_waits_past_its_budget() -> None:
    settings = Settings(request_timeout_s=5.0, check_budget_s=0.5)
    async with live(default_scenario(), settings) as (market, server, _c):
        server.fail("okx", Fault(delay_s=1.5))
        # a check that waited for OKX would take 1.5 s and trip this guard
        _, data = await asyncio.wait_for(market.fetch_asset("ETH"), timeout=1.2)
    assert data.venues_down == ("okx",)
    assert [f.venue for f in data.funding] == ["binanceusdm", "bybit"]


# ---- venues down --------------------------------------------------------------------------


async def test_venue_down_at_start_is_named_and_the_check_goes_on() -> None:
    async with live(default_scenario(), down_at_start=("okx",)) as (market, _, _c):
        assert market.known_assets() == {"BTC", "ETH"}
        _, data = await market.fetch_asset("ETH")
    assert data.venues_down == ("okx",)
    assert data.sources["oi"] == ["binanceusdm", "bybit"]


async def test_options_venue_down_is_named_and_skew_left_empty() -> None:
    async with live(default_scenario()) as (market, server, _c):
        server.fail("deribit", Fault(503, SERVICE_UNAVAILABLE, content_type="text/html"))
        _, data = await market.fetch_asset("ETH")
    assert data.venues_down == ("deribit",)
    assert len(data.skew_rr25_30d) == 0
    assert data.sources["skew"] is None


async def test_every_venue_down_is_no_market_data() -> None:
    async with live(default_scenario()) as (market, server, _c):
        for venue in ("binanceusdm", "bybit", "okx", "deribit"):
            server.fail(venue, Fault(503, SERVICE_UNAVAILABLE, content_type="text/html"))
        with pytest.raises(NoMarketData) as caught:
            await market.fetch_asset("ETH")
    assert caught.value.asset == "ETH"
    assert "binanceusdm" in caught.value.detail


async def test_no_venue_reachable_at_start_is_no_market_data() -> None:
    down = ("binanceusdm", "bybit", "okx")
    async with live(default_scenario(), down_at_start=down) as (market, _, _c):
        assert market.known_assets() == set()
        with pytest.raises(NoMarketData):
            await market.fetch_asset("ETH")


# ---- unknown assets -----------------------------------------------------------------------


async def test_unknown_asset_lists_close_matches() -> None:
    scenario = default_scenario()
    scenario.extra_bases = ("ETC", "ETHFI", "DOGE")
    async with live(scenario) as (market, server, _c):
        before = len(server.requests)
        with pytest.raises(UnknownAsset) as caught:
            await market.fetch_asset("etj")
        asked = len(server.requests) - before
    assert caught.value.asset == "ETJ"
    assert set(caught.value.close_matches) == {"ETH", "ETC"}
    assert asked == 0


async def test_unknown_asset_without_anything_close() -> None:
    async with live(default_scenario()) as (market, _, _c):
        with pytest.raises(UnknownAsset) as caught:
            await market.fetch_asset("ZZZZZZ")
    assert caught.value.close_matches == ()


async def test_a_venue_id_ccxt_does_not_know_is_skipped() -> None:
    settings = Settings(venues=("binanceusdm", "binanceusdmm"))
    async with live(default_scenario(), settings) as (market, _, _c):
        _, data = await market.fetch_asset("ETH")
    assert [f.venue for f in data.funding] == ["binanceusdm"]
    assert data.venues_down == ()


async def test_a_failed_market_refresh_keeps_the_loaded_markets() -> None:
    settings = Settings(markets_refresh_s=0.05)
    async with live(default_scenario(), settings) as (market, server, _c):
        server.fail("binanceusdm", Fault(503, SERVICE_UNAVAILABLE), path="/exchangeInfo")
        await asyncio.sleep(0.3)
        refreshes = server.count("binanceusdm", "/exchangeInfo")
        _, data = await market.fetch_asset("ETH")
    assert refreshes > 1
    assert data.sources["price"] == "binanceusdm"
    assert data.venues_down == ()
