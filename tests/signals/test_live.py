"""LiveMarket against real ccxt exchanges talking to a loopback fake: what lands in AssetData."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from settings import Settings
from signals.derived import compute_market
from signals.live import BAR_PUBLISH_LAG_S
from signals.market import AssetData
from signals.service import LiveSource
from signals.snapshot import load_snapshot, write_snapshot
from signals.store import Store
from signals.thresholds import Thresholds
from tests.helpers.fake_exchange import (
    DAY_MS,
    HOUR_MS,
    SERVICE_UNAVAILABLE,
    AssetScenario,
    Clock,
    FakeExchangeServer,
    Fault,
    FundingSpec,
    OptionSpec,
    Scenario,
    default_scenario,
    live,
)


def units_scenario(venues: tuple[str, ...]) -> Scenario:
    """Hourly closes 100…147 and daily closes 90…129: easy to multiply by hand."""
    asset = AssetScenario(
        hourly_closes=[100.0 + i for i in range(48)],
        daily_closes=[90.0 + i for i in range(40)],
        venues=venues,
        bybit_mmr=None,
    )
    return Scenario(assets={"ETH": asset})


def flat_wing_options(now_ms: int, forward: float, call_iv: float, put_iv: float) -> list:
    """Calls all at `call_iv`, puts all at `put_iv`, on two expiries: rr = call_iv − put_iv."""
    options = []
    for days in (7, 60):
        day = now_ms + days * DAY_MS
        expiry = day - day % DAY_MS + 8 * HOUR_MS
        for pct in range(40, 201, 5):
            strike = forward * pct / 100
            options.append(OptionSpec(expiry, strike, True, call_iv, forward))
            options.append(OptionSpec(expiry, strike, False, put_iv, forward))
    return options


async def fetch_once(scenario: Scenario, asset: str = "ETH") -> AssetData:
    """Fetch `asset` once from a fresh LiveMarket over the scenario (closed afterwards)."""
    async with live(scenario) as (market, _, _c):
        _, data = await market.fetch_asset(asset)
    return data


# ---- markets ------------------------------------------------------------------------------


async def test_markets_are_loaded_once_restricted_to_usdt_perpetual_types() -> None:
    async with live(default_scenario()) as (market, server, clock):
        assert market.known_assets() == {"BTC", "ETH"}
        for _ in range(3):
            await market.fetch_asset("ETH")
            clock.now += 120  # expire the data caches, never the markets
        market_paths = {
            "binanceusdm": "/fapi/v1/exchangeInfo",
            "bybit": "/v5/market/instruments-info",
            "okx": "/api/v5/public/instruments",
        }
        loads = [(v, q) for v, p, q in server.requests if market_paths.get(v) == p]
    # bybit asks twice (trading and pre-launch instruments), only the linear category
    assert sorted(v for v, _ in loads) == ["binanceusdm", "bybit", "bybit", "okx"]
    assert {q.get("category") for v, q in loads if v == "bybit"} == {"linear"}
    assert [q.get("instType") for v, q in loads if v == "okx"] == ["SWAP"]
    assert server.count("deribit", "/get_instruments") == 0


async def test_markets_are_refreshed_on_schedule() -> None:
    async with live(default_scenario(), Settings(markets_refresh_s=0.05)) as (_, server, _c):
        before = server.count("binanceusdm", "/exchangeInfo")
        await asyncio.sleep(0.2)
        after = server.count("binanceusdm", "/exchangeInfo")
    assert before == 1
    assert after >= 2


# ---- price --------------------------------------------------------------------------------


async def test_candles_drop_the_forming_bar() -> None:
    scenario = default_scenario()
    async with live(scenario) as (market, _, _c):
        asof, data = await market.fetch_asset("eth")
    assert asof == scenario.now_ms
    assert data.asset == "ETH"
    assert data.ohlcv_1h.index[-1] == scenario.hour_start - HOUR_MS
    assert data.ohlcv_1h["close"].iloc[-1] == 3199.0
    assert len(data.ohlcv_1h) == 199  # 200 requested, the forming one dropped
    assert data.ohlcv_1d.index[-1] == scenario.day_start - DAY_MS
    assert data.ohlcv_1d["close"].iloc[-1] == 2500.0 + 5 * 119
    assert len(data.ohlcv_1d) == 119
    assert list(data.ohlcv_1h.columns) == ["open", "high", "low", "close", "volume"]
    assert data.sources["price"] == "binanceusdm"


# ---- open interest units ------------------------------------------------------------------


async def test_binance_oi_is_its_usd_value() -> None:
    scenario = units_scenario(("binanceusdm",))
    h = scenario.hour_start
    data = await fetch_once(scenario)
    # sumOpenInterestValue: 1000 ETH valued at Binance's mark (close × 1.0005); the snapshot
    # stamped h is the OI at the close of the bar that opened an hour earlier
    assert data.oi_usd_1h[h - HOUR_MS] == pytest.approx(1000 * 147 * 1.0005)
    assert data.oi_usd_1h[h - 2 * HOUR_MS] == pytest.approx(1000 * 146 * 1.0005)
    assert len(data.oi_usd_1h) == 48


async def test_the_newest_oi_snapshot_is_the_newest_closed_bar() -> None:
    # defect 10: the snapshot stamped at the top of the hour (~30 min old at 12:30) was read
    # as the bar OPENING then, so the engine cut it as unclosed and used the one before
    scenario = units_scenario(("binanceusdm",))
    async with live(scenario) as (market, _, _c):
        asof, data = await market.fetch_asset("ETH")
    assert data.oi_usd_1h.index[-1] == data.ohlcv_1h.index[-1]  # both end at the 11:00 bar
    state = compute_market(data, asof, Thresholds())
    assert state.oi_usd == pytest.approx(1000 * 147 * 1.0005)
    assert state.oi_change_24h == pytest.approx(147 / 123 - 1)


async def test_bybit_oi_is_base_coins_times_that_bars_close() -> None:
    scenario = units_scenario(("bybit",))
    h, d = scenario.hour_start, scenario.day_start
    data = await fetch_once(scenario)
    # 500 ETH × the close of the bar the snapshot closes: 147 for the bar opened at h − 1h
    assert data.oi_usd_1h[h - HOUR_MS] == pytest.approx(500 * 147)
    assert data.oi_usd_1h[h - 2 * HOUR_MS] == pytest.approx(500 * 146)
    assert data.oi_usd_1h[h - 48 * HOUR_MS] == pytest.approx(500 * 100)
    # daily: × the daily close, 129 for yesterday's bar, 128 the day before
    assert data.oi_usd_1d[d - DAY_MS] == pytest.approx(500 * 129)
    assert data.oi_usd_1d[d - 2 * DAY_MS] == pytest.approx(500 * 128)
    assert data.sources["price"] == "bybit"


async def test_okx_oi_is_its_usd_column() -> None:
    scenario = units_scenario(("okx",))
    h = scenario.hour_start
    data = await fetch_once(scenario)
    # oiUsd: 250 ETH at OKX's mark (close × 0.9995), not the 2500 contracts column
    assert data.oi_usd_1h[h - HOUR_MS] == pytest.approx(250 * 147 * 0.9995)
    assert data.oi_usd_1d[scenario.day_start - DAY_MS] == pytest.approx(250 * 129 * 0.9995)


async def test_okx_daily_oi_is_asked_for_utc_days() -> None:
    # defect 10: OKX's "1D" days are Hong-Kong days stamped 16:00 UTC; added to the UTC days
    # of the other venues they mixed two different moments into one daily sum
    scenario = units_scenario(("binanceusdm", "okx"))
    async with live(scenario) as (market, server, _c):
        _, data = await market.fetch_asset("ETH")
        periods = [q["period"] for v, p, q in server.requests if p.endswith("interest-history")]
    assert sorted(periods) == ["1Dutc", "1H"]
    d = scenario.day_start
    assert data.oi_usd_1d[d - DAY_MS] == pytest.approx(1000 * 129 * 1.0005 + 250 * 129 * 0.9995)
    assert data.sources["oi_1d"] == ["binanceusdm", "okx"]


async def test_daily_oi_off_the_utc_grid_is_left_out_not_mixed_in() -> None:
    from signals.convert import oi_bars

    # what OKX answers for period=1D: 16:00 UTC stamps belong to no UTC daily bar
    d = 1_779_235_200_000  # 2026-05-20 00:00 UTC
    hk_days = [
        {"timestamp": d - k * DAY_MS - 8 * HOUR_MS, "openInterestValue": 1.0} for k in range(3)
    ]
    utc_days = [{"timestamp": d - k * DAY_MS, "openInterestValue": 2.0} for k in range(3)]
    assert oi_bars(utc_days, "openInterestValue", DAY_MS) == [
        (d - 3 * DAY_MS, 2.0),
        (d - 2 * DAY_MS, 2.0),
        (d - DAY_MS, 2.0),
    ]
    with pytest.raises(ValueError, match="UTC grid"):
        oi_bars(hk_days, "openInterestValue", DAY_MS)


async def test_oi_is_summed_over_venues_at_bars_every_venue_has() -> None:
    scenario = units_scenario(("binanceusdm", "bybit", "okx"))
    scenario.assets["ETH"].oi_history_len = {"okx": 10}
    h = scenario.hour_start - HOUR_MS
    data = await fetch_once(scenario)
    assert data.oi_usd_1h[h] == pytest.approx(1000 * 147 * 1.0005 + 500 * 147 + 250 * 147 * 0.9995)
    # OKX has only the last 10 bars: the sum covers exactly those
    assert list(data.oi_usd_1h.index) == [h - k * HOUR_MS for k in range(9, -1, -1)]
    assert data.sources["oi"] == ["binanceusdm", "bybit", "okx"]


# ---- funding ------------------------------------------------------------------------------


async def test_funding_per_venue_with_real_intervals_and_oi_weights() -> None:
    scenario = default_scenario()
    eth = scenario.assets["ETH"]
    eth.funding = {
        "binanceusdm": FundingSpec(0.0002, 4, [0.0001 * i for i in range(1, 19)]),
        "bybit": FundingSpec(-0.0001, 4, [-0.00005] * 18),
        "okx": FundingSpec(0.00005, 1, [0.00001] * 80),
    }
    async with live(scenario) as (market, server, _c):
        _, data = await market.fetch_asset("ETH")
    by_venue = {f.venue: f for f in data.funding}
    assert list(by_venue) == ["binanceusdm", "bybit", "okx"]
    # Binance: ccxt has no interval, fundingInfo lists the 4h symbol
    assert by_venue["binanceusdm"].interval_hours == 4.0
    assert server.count("binanceusdm", "/fapi/v1/fundingInfo") == 1
    # Bybit: fundingInterval 240 minutes in the instrument; OKX: fundingTime → nextFundingTime
    assert by_venue["bybit"].interval_hours == 4.0
    assert by_venue["okx"].interval_hours == 1.0
    assert [f.rate for f in data.funding] == [0.0002, -0.0001, 0.00005]
    # weights: each venue's latest hourly OI in USD (close 3199)
    assert by_venue["binanceusdm"].oi_usd == pytest.approx(1000 * 3199 * 1.0005)
    assert by_venue["bybit"].oi_usd == pytest.approx(500 * 3199)
    assert by_venue["okx"].oi_usd == pytest.approx(250 * 3199 * 0.9995)
    # settled history, ascending, last settlement at or before now
    binance_history = by_venue["binanceusdm"].history
    assert len(binance_history) == 18
    assert binance_history.iloc[-1] == pytest.approx(0.0018)
    step = 4 * HOUR_MS
    assert binance_history.index[-1] == scenario.now_ms - scenario.now_ms % step
    assert len(by_venue["okx"].history) == 80
    assert data.sources["funding"] == ["binanceusdm", "bybit", "okx"]


async def test_binance_symbol_absent_from_funding_info_is_8h() -> None:
    scenario = default_scenario()
    scenario.assets["ETH"].funding = {"binanceusdm": FundingSpec(0.0001, 8, [0.0001] * 5)}
    scenario.assets["BTC"].funding = {"binanceusdm": FundingSpec(0.0001, 4, [0.0001] * 5)}
    async with live(scenario) as (market, server, _c):
        _, eth = await market.fetch_asset("ETH")
        _, btc = await market.fetch_asset("BTC")
        info_requests = server.count("binanceusdm", "/fapi/v1/fundingInfo")
    assert eth.funding[0].interval_hours == 8.0
    assert btc.funding[0].interval_hours == 4.0
    assert info_requests == 1  # one venue-wide lookup serves every asset


# ---- skew ---------------------------------------------------------------------------------


async def test_skew_from_deribit_is_recorded_with_its_history(tmp_path: Path) -> None:
    scenario = default_scenario()
    scenario.assets["ETH"].options = flat_wing_options(scenario.now_ms, 3200.0, 55.0, 62.5)
    store = Store(tmp_path / "preflight.sqlite")
    week_ago = scenario.now_ms - 7 * DAY_MS
    store.record_samples("ETH", "rr25_30d", [(week_ago, -2.0)])
    async with live(scenario) as (market, server, _c):
        source = LiveSource(Settings(), store, market)
        asof, data = await source.fetch_asset("ETH")
        requests = server.count("deribit")
        await source.flush()  # the sample is recorded in the background
    assert requests == 1
    assert data.sources["skew"] == "deribit"
    assert data.sources["skew_history_since"] == week_ago
    assert list(data.skew_rr25_30d.index) == [week_ago, scenario.now_ms]
    assert data.skew_rr25_30d.iloc[-1] == pytest.approx(55.0 - 62.5)
    # recorded by the service, next to the liquidation history, not by the REST module
    assert store.read_samples("ETH", "rr25_30d", since_ms=scenario.now_ms) == [
        (scenario.now_ms, pytest.approx(-7.5))
    ]
    assert asof == scenario.now_ms


async def test_skew_without_a_store_is_the_fresh_sample() -> None:
    scenario = default_scenario()
    scenario.assets["ETH"].options = flat_wing_options(scenario.now_ms, 3200.0, 50.0, 53.0)
    data = await fetch_once(scenario)
    assert list(data.skew_rr25_30d.items()) == [(scenario.now_ms, pytest.approx(-3.0))]


async def test_alt_skew_comes_from_deribit_usdc_options() -> None:
    scenario = default_scenario()
    sol = AssetScenario(hourly_closes=[150.0] * 48, daily_closes=[140.0] * 40)
    sol.options = flat_wing_options(scenario.now_ms, 150.0, 80.0, 84.0)
    scenario.assets["SOL"] = sol
    async with live(scenario) as (market, server, _c):
        _, data = await market.fetch_asset("SOL")
        queries = [q for v, _, q in server.requests if v == "deribit"]
    assert queries == [{"currency": "USDC", "kind": "option"}]
    assert data.skew_rr25_30d.iloc[-1] == pytest.approx(-4.0)


async def test_skew_falls_back_to_okx_then_bybit_options() -> None:
    scenario = default_scenario()
    eth = scenario.assets["ETH"]
    eth.options = flat_wing_options(scenario.now_ms, 3200.0, 60.0, 66.0)
    eth.option_venues = ("bybit",)
    async with live(scenario) as (market, server, _c):
        _, data = await market.fetch_asset("ETH")
        okx_asked = server.count("okx", "/opt-summary")
    # Deribit and OKX answered "nothing listed": no proxy, no venue down; Bybit's markIv
    # is a fraction, converted to vol points
    assert okx_asked == 1
    assert data.sources["skew"] == "bybit"
    assert data.skew_rr25_30d.iloc[-1] == pytest.approx(-6.0)
    assert data.venues_down == ()


async def test_okx_option_fallback_uses_mark_vol_fractions() -> None:
    scenario = default_scenario()
    eth = scenario.assets["ETH"]
    eth.options = flat_wing_options(scenario.now_ms, 3200.0, 45.0, 47.5)
    eth.option_venues = ("okx",)
    data = await fetch_once(scenario)
    assert data.sources["skew"] == "okx"
    assert data.skew_rr25_30d.iloc[-1] == pytest.approx(-2.5)


async def test_asset_without_listed_options_has_no_skew() -> None:
    data = await fetch_once(default_scenario(), "BTC")
    assert len(data.skew_rr25_30d) == 0
    assert data.sources["skew"] is None
    assert data.venues_down == ()


# ---- maintenance margin -------------------------------------------------------------------


async def test_mmr_is_bybit_tier_one_when_given() -> None:
    scenario = default_scenario()
    scenario.assets["ETH"].bybit_mmr = 0.01
    eth = await fetch_once(scenario)
    assert eth.mmr == 0.01
    assert eth.sources["mmr"] == "bybit"


async def test_mmr_defaults_without_a_tier_figure() -> None:
    scenario = units_scenario(("binanceusdm", "bybit"))
    eth = await fetch_once(scenario)
    assert eth.mmr == 0.005
    assert eth.sources["mmr"] == "default"


# ---- caching ------------------------------------------------------------------------------


async def test_second_check_within_ttl_costs_no_request() -> None:
    async with live(default_scenario()) as (market, server, clock):
        await market.fetch_asset("ETH")
        after_first = len(server.requests)
        clock.now += 59
        await market.fetch_asset("ETH")
        assert len(server.requests) == after_first


async def test_closed_bars_live_until_the_next_bar_current_funding_a_minute_skew_5() -> None:
    def counts(server: FakeExchangeServer) -> dict[str, int]:
        return {
            "klines 1h": sum(
                1 for v, p, q in server.requests if p.endswith("/klines") and q["interval"] == "1h"
            ),
            "klines 1d": sum(
                1 for v, p, q in server.requests if p.endswith("/klines") and q["interval"] == "1d"
            ),
            "oi": server.count(path="/openInterestHist")
            + server.count(path="/open-interest")
            + server.count(path="/open-interest-history"),
            "funding now": server.count(path="/premiumIndex")
            + server.count(path="/tickers")
            + server.count(path="/public/funding-rate"),
            "funding history": server.count(path="/fundingRate")
            + server.count(path="/funding/history")
            + server.count(path="/funding-rate-history"),
            "deribit": server.count("deribit"),
        }

    def step(server: FakeExchangeServer, clock: Clock, seconds: float) -> None:
        clock.now += seconds  # the venues' clock moves with ours
        server.scenario.now_ms = int(clock.now * 1000)

    async with live(default_scenario()) as (market, server, clock):
        await market.fetch_asset("ETH")  # 12:30 UTC
        first = counts(server)
        step(server, clock, 61)
        await market.fetch_asset("ETH")
        minute = counts(server)
        # only the current funding rate is asked again a minute later
        assert {k: minute[k] - first[k] for k in first} == {
            "klines 1h": 0,
            "klines 1d": 0,
            "oi": 0,
            "funding now": 3,
            "funding history": 0,
            "deribit": 0,
        }
        # 13:00:05: the 12:00 bar has closed, the venues get a few seconds to publish it
        step(server, clock, 30 * 60 - 61 + 5)
        await market.fetch_asset("ETH")
        assert counts(server)["klines 1h"] == minute["klines 1h"]
        step(server, clock, BAR_PUBLISH_LAG_S)
        await market.fetch_asset("ETH")
        hour = counts(server)
        assert hour["klines 1h"] == minute["klines 1h"] + 1
        assert hour["klines 1d"] == minute["klines 1d"]  # the daily bar closes at 00:00
        assert hour["oi"] == minute["oi"] + 3  # hourly OI of each venue, not the daily
        assert hour["funding history"] == minute["funding history"]  # next settlement 16:00
        assert hour["deribit"] == first["deribit"] + 1  # the skew sample is 5 minutes old


async def test_a_warm_check_returns_the_time_its_state_was_read() -> None:
    async with live(default_scenario()) as (market, _server, clock):
        first_asof, first = await market.fetch_asset("ETH")
        clock.now += 30  # every part still cached: the same state, read at the same time
        again_asof, again = await market.fetch_asset("ETH")
        clock.now += 31  # the current funding rates are read again: a new state
        later_asof, later = await market.fetch_asset("ETH")
    assert (again_asof, again) == (first_asof, first)
    assert again is first
    assert later_asof == first_asof + 61_000
    assert later is not first


async def test_concurrent_checks_of_one_asset_share_in_flight_fetches() -> None:
    async with live(default_scenario(), latency_s=0.05) as (market, server, _c):
        start = len(server.requests)
        results = await asyncio.gather(*(market.fetch_asset("ETH") for _ in range(20)))
        shared = len(server.requests) - start
    async with live(default_scenario()) as (market, server, _c):
        start = len(server.requests)
        await market.fetch_asset("ETH")
        single = len(server.requests) - start
    assert shared == single
    assert all(d.oi_usd_1h.equals(results[0][1].oi_usd_1h) for _, d in results)


async def test_warm_check_reuses_the_state_until_a_part_changes() -> None:
    async with live(default_scenario()) as (market, server, clock):
        _, first = await market.fetch_asset("ETH")
        _, again = await market.fetch_asset("ETH")
        clock.now += 61
        server.fail("okx", Fault(503, SERVICE_UNAVAILABLE, content_type="text/html"))
        _, later = await market.fetch_asset("ETH")
    assert again is first
    assert later is not first
    assert first.venues_down == ()
    assert later.venues_down == ("okx",)


async def test_live_state_grades_the_same_after_a_snapshot_round_trip(tmp_path: Path) -> None:
    scenario = default_scenario()
    scenario.assets["ETH"].funding = {
        "binanceusdm": FundingSpec(0.0002, 4, [0.0002] * 30),
        "bybit": FundingSpec(-0.0001, 8, [-0.0001] * 15),
        "okx": FundingSpec(0.00005, 1, [0.00005] * 100),
    }
    scenario.assets["ETH"].options = flat_wing_options(scenario.now_ms, 3200.0, 50.0, 56.0)
    async with live(scenario) as (market, _, _c):
        asof, data = await market.fetch_asset("ETH")
    graded_live = compute_market(data, asof, Thresholds())
    path = tmp_path / "live.json"
    write_snapshot(path, asof, {"ETH": data})
    replay_asof, assets = load_snapshot(path)
    assert replay_asof == asof
    assert compute_market(assets["ETH"], replay_asof, Thresholds()) == graded_live
    # OI-weighted 8h funding by hand: r8 = rate × 8 / interval
    # Binance 0.0002 × 8/4 = 0.0004, Bybit −0.0001, OKX 0.00005 × 8/1 = 0.0004
    w_binance, w_bybit, w_okx = 1000 * 3199 * 1.0005, 500 * 3199, 250 * 3199 * 0.9995
    expected = (0.0004 * w_binance - 0.0001 * w_bybit + 0.0004 * w_okx) / (
        w_binance + w_bybit + w_okx
    )
    assert graded_live.funding_8h == pytest.approx(expected)
    assert graded_live.funding_8h_3d_avg == pytest.approx(expected)
    assert graded_live.rr25_30d == pytest.approx(-6.0)
    assert graded_live.price == 3199.0
