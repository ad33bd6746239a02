"""What a live check asks, how, and when: options venues at once, rate-limiter queues that are
not hangs, per-endpoint limits, sessions opened at start, one parse per answer, bounded
memories. Real ccxt exchanges against the loopback fake venues; the clock moves."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest

from settings import Settings
from signals import exchanges
from signals.cache import SHARED, LruDict, TtlCache
from tests.helpers.fake_exchange import AssetScenario, Fault, default_scenario, live
from tests.signals.test_live import flat_wing_options


def option_requests(server: Any) -> list[str]:
    """The venues asked for options, in the order the requests arrived."""
    paths = ("/get_book_summary_by_currency", "/opt-summary")
    found = []
    for venue, path, query in server.requests:
        if path.endswith(paths) or (
            path.endswith("/tickers") and query.get("category") == "option"
        ):
            found.append(venue)
    return found


def doge_scenario() -> Any:
    scenario = default_scenario()
    scenario.assets["DOGE"] = AssetScenario(
        hourly_closes=[0.2] * 48, daily_closes=[0.2] * 40, option_venues=()
    )
    return scenario


async def test_an_asset_without_options_asks_every_venue_at_once_then_none() -> None:
    async with live(doge_scenario(), latency_s=0.25) as (market, server, clock):
        loop = asyncio.get_running_loop()
        started = loop.time()
        await market._fetch_skew("DOGE", loop.time() + 8)
        took = loop.time() - started
        first = option_requests(server)
        clock.now += 301  # the skew cache expired: the listing memory says no venue lists it
        _, data = await market.fetch_asset("DOGE")
        later = option_requests(server)
    assert sorted(first) == ["bybit", "deribit", "okx"]
    assert took < 0.5  # one round trip of 0.25 s, not three (0.75 s)
    assert later in (first, [*first, "deribit"])  # at most Deribit's shared USDC book
    assert len(data.skew_rr25_30d) == 0


async def test_btc_and_eth_options_ask_deribit_only_and_others_only_if_it_fails() -> None:
    scenario = default_scenario()
    scenario.assets["ETH"].options = flat_wing_options(scenario.now_ms, 3200.0, 50.0, 53.0)
    scenario.assets["ETH"].option_venues = ("deribit", "okx")
    async with live(scenario) as (market, server, clock):
        _, data = await market.fetch_asset("ETH")
        assert option_requests(server) == ["deribit"]
        assert data.sources["skew"] == "deribit"
        server.fail("deribit", Fault(503, "<html>down</html>", content_type="text/html"))
        clock.now += 301
        _, data = await market.fetch_asset("ETH")
    again = option_requests(server)[1:]
    assert again[:2] == ["deribit", "deribit"]  # the 503 and its one retry
    assert sorted(again[2:]) == ["bybit", "okx"]  # then the next venues, at once
    assert data.sources["skew"] == "okx"


async def test_a_request_queued_behind_a_venues_limit_is_not_a_hang() -> None:
    # a 0.2 s request timeout, and OKX's limiter letting one funding request through a 0.3 s
    # window: the fourth waits ~0.9 s in the queue, far past the timeout, and still answers
    settings = replace(Settings(), request_timeout_s=0.2)
    async with live(default_scenario(), settings=settings) as (market, _server, _clock):
        okx = market._venues["okx"].exchange
        okx.tokenBucket.update(windowSize=300.0, rateLimit=150.0)  # for buckets made from now
        loop = asyncio.get_running_loop()
        started = loop.time()

        async def one() -> float:
            await market.policy.call("okx", "funding", okx.fetch_funding_rate, "ETH/USDT:USDT")
            return loop.time() - started

        answers = await asyncio.gather(*(one() for _ in range(4)), return_exceptions=True)
    assert [a for a in answers if isinstance(a, Exception)] == []
    assert max(a for a in answers if isinstance(a, float)) > 0.5
    assert market.policy.cooling("okx") is None


async def test_okx_and_bybit_limit_each_endpoint_on_its_own() -> None:
    class Fake:
        id = "okx"
        rateLimit = 300.0  # one cost unit per 0.3 s window

        def __init__(self) -> None:
            self.rateLimiterAlgorithm = "rollingWindow"
            self.rollingWindowSize = 300.0
            self.tokenBucket: dict[str, Any] = {
                "algorithm": "rollingWindow",
                "windowSize": 300.0,
                "rateLimit": 300.0,
                "cost": 1.0,
                "delay": 0.001,
                "capacity": 1.0,
                "refillRate": 0.001,
            }
            self.asyncio_loop = None

        def calculate_rate_limiter_cost(
            self, api: Any, method: Any, path: Any, params: Any, config: Any = None
        ) -> Any:
            return 1.0

    fake = Fake()
    exchanges._bucket_per_endpoint(fake)
    loop = asyncio.get_running_loop()

    async def one(path: str) -> float:
        fake.calculate_rate_limiter_cost(["public"], "GET", path, {})
        await fake.throttle(1.0)  # type: ignore[attr-defined]
        return loop.time()

    started = loop.time()
    times = await asyncio.gather(one("a"), one("b"), one("c"))
    assert max(times) - started < 0.2  # three endpoints: none waits for another's window
    same = await asyncio.gather(one("a"))
    assert same[0] - started >= 0.25  # the same endpoint again: its own window holds it


async def test_sessions_and_one_ssl_context_are_opened_at_start() -> None:
    async with live(default_scenario()) as (market, _server, _clock):
        sessions = {name: v.exchange.session for name, v in market._venues.items()}
        contexts = {id(v.exchange.ssl_context) for v in market._venues.values()}
        keepalive = {v.exchange.tcp_connector._keepalive_timeout for v in market._venues.values()}
    assert all(s is not None for s in sessions.values())  # before any check, deribit too
    assert len(contexts) == 1
    assert keepalive == {exchanges.KEEPALIVE_S}


async def test_an_answer_is_parsed_once_at_the_boundary(monkeypatch: pytest.MonkeyPatch) -> None:
    import orjson

    from signals import venue_policy

    parsed: list[int] = []
    real = orjson.loads

    def counting(text: Any) -> Any:
        parsed.append(len(text))
        return real(text)

    monkeypatch.setattr(venue_policy.orjson, "loads", counting)
    async with live(default_scenario()) as (market, server, _clock):
        before = len(server.requests)
        parsed.clear()
        for ex in (v.exchange for v in market._venues.values()):
            monkeypatch.setattr(ex, "on_json_response", _fail_second_parse)
        await market.fetch_asset("ETH")
        answered = len(server.requests) - before
    assert len(parsed) == answered


def _fail_second_parse(text: Any) -> Any:
    raise AssertionError("ccxt parsed an answer the boundary had already parsed")


async def test_the_per_asset_caches_hold_the_least_recently_used_assets_only() -> None:
    now = [1000.0]
    cache = TtlCache(lambda: now[0], max_assets=3)

    async def value(v: Any) -> Any:
        return v

    await cache.get((SHARED, "book"), 300, lambda: value("shared"))
    for n in range(6):
        await cache.get((f"A{n}", "price"), 60, lambda n=n: value(n))
        await cache.get((f"A{n}", "oi"), 60, lambda n=n: value(n))
        await cache.get(("A0", "price"), 60, lambda: value("again"))  # A0 stays in use
    assert cache.assets == 3
    assert cache.peek(("A0", "price")) == 0
    assert cache.peek(("A5", "oi")) == 5
    assert cache.peek(("A2", "price")) is None
    assert cache.peek((SHARED, "book")) == "shared"  # venue-wide entries are not evicted
    lru = LruDict(2)
    lru["a"], lru["b"] = 1, 2
    assert lru.get("a") == 1
    lru["c"] = 3
    assert list(lru) == ["a", "c"]


async def test_a_live_market_remembers_at_most_its_bound_of_assets() -> None:
    scenario = default_scenario()
    for n in range(6):
        scenario.assets[f"C{n:03d}"] = AssetScenario(
            hourly_closes=[10.0 + n] * 48, daily_closes=[10.0 + n] * 40
        )
    async with live(scenario) as (market, _server, _clock):
        market._cache.max_assets = 3
        market._assembled.maxsize = 3
        for n in range(6):
            await market.fetch_asset(f"C{n:03d}")
    assert market._cache.assets == 3
    assert list(market._assembled) == ["C003", "C004", "C005"]


async def test_binance_weight_goes_out_in_a_burst_within_its_minute() -> None:
    # Binance counts request weight per IP per minute: forty assets checked at once (about
    # 320 weight) must not be spaced ccxt's 20 weight a second apart — sixteen seconds, twice
    # the check budget — while staying within ccxt's sustained 1,200 a minute
    exchange = exchanges.rest_exchange("binanceusdm")
    loop = asyncio.get_running_loop()
    try:
        started = loop.time()
        await asyncio.gather(*(exchange.throttle(8) for _ in range(40)))
        assert loop.time() - started < 0.5
        assert exchange.throttler.config["maxWeight"] == pytest.approx(1200)
    finally:
        await exchange.close()
