"""The venue-history pieces that need no network: page converters fed literal ccxt answers,
funding intervals read from settlement spacing, the pacer on a fake clock, the page plans."""

from __future__ import annotations

import asyncio

import pytest

from signals.market import DAY_MS, HOUR_MS
from signals.venue_history import (
    CANDLES_1D,
    FUNDING,
    OI_1D,
    OI_1H,
    RequestPacer,
    candle_page,
    current_interval,
    funding_page,
    normalise_to,
    oi_floor,
    oi_page,
    pages_estimate,
    settlement_intervals,
)
from signals.venue_policy import MalformedAnswer

T0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC


# ---- candles -------------------------------------------------------------------------------


def test_candle_page_keeps_closed_bars_inside_the_window_in_order() -> None:
    # ccxt's OHLCV rows (a venue's newest-first list comes back oldest first from ccxt; the
    # converter sorts either way)
    raw = [
        [T0 + 2 * DAY_MS, 3.0, 4.0, 2.0, 3.5, 10.0],
        [T0, 1.0, 2.0, 0.5, 1.5, 10.0],
        [T0 + DAY_MS, 1.5, 3.0, 1.0, 3.0, 10.0],
        [T0 + 3 * DAY_MS, 3.5, 3.6, 3.4, 3.5, 1.0],  # still forming at the read time
        [T0 - DAY_MS, 1.0, 1.0, 1.0, 1.0, 1.0],  # before the window
    ]
    read_ms = T0 + 3 * DAY_MS + 5 * HOUR_MS
    rows = candle_page(raw, T0, T0 + 10 * DAY_MS, DAY_MS, read_ms)
    assert [r[0] for r in rows] == [T0, T0 + DAY_MS, T0 + 2 * DAY_MS]
    assert rows[1] == [T0 + DAY_MS, 1.5, 3.0, 1.0, 3.0, 10.0]


def test_candle_page_drops_days_off_the_utc_grid() -> None:
    hong_kong_day = T0 + 16 * 3_600_000  # OKX's "1D" opens at 16:00 UTC
    raw = [[hong_kong_day, 1.0, 1.0, 1.0, 1.0, 1.0], [T0, 2.0, 2.0, 2.0, 2.0, 2.0]]
    assert candle_page(raw, 0, T0 + 9 * DAY_MS, DAY_MS, T0 + 9 * DAY_MS) == [
        [T0, 2.0, 2.0, 2.0, 2.0, 2.0]
    ]


def test_candle_page_without_rows_is_an_empty_page_not_an_error() -> None:
    assert candle_page([], T0, T0 + DAY_MS, DAY_MS, T0 + 2 * DAY_MS) == []
    # unreadable rows are skipped like an empty answer (convert.candle_rows)
    assert candle_page([["x", "y"]], T0, T0 + DAY_MS, DAY_MS, T0 + 2 * DAY_MS) == []


def test_candle_page_refuses_an_answer_that_is_not_a_list() -> None:
    with pytest.raises(MalformedAnswer):
        candle_page({"code": -1121}, T0, T0 + DAY_MS, DAY_MS, T0 + 2 * DAY_MS)


# ---- open interest -------------------------------------------------------------------------


def _oi(ts: int, *, amount: float | None = None, value: float | None = None) -> dict[str, object]:
    # ccxt's open-interest structure (what fetch_open_interest_history returns)
    return {"timestamp": ts, "openInterestAmount": amount, "openInterestValue": value}


def test_oi_page_keys_each_snapshot_by_the_bar_it_closes() -> None:
    raw = [_oi(T0 + DAY_MS, value=10.0), _oi(T0 + 2 * DAY_MS, value=12.0)]
    rows = oi_page(raw, T0, T0 + 5 * DAY_MS, DAY_MS, T0 + 3 * DAY_MS, "usd")
    # the 00:00 snapshot of Jan 2 is the close of the Jan 1 bar
    assert rows == [(T0, 10.0), (T0 + DAY_MS, 12.0)]


def test_oi_page_drops_snapshots_off_the_utc_grid_and_outside_the_window() -> None:
    raw = [
        _oi(T0 + DAY_MS + 16 * HOUR_MS, value=9.0),  # a Hong-Kong day's stamp
        _oi(T0 + DAY_MS, value=10.0),
        _oi(T0 + 9 * DAY_MS, value=11.0),  # the bar of Jan 9: outside [Jan 1, Jan 3)
    ]
    assert oi_page(raw, T0, T0 + 2 * DAY_MS, DAY_MS, T0 + 20 * DAY_MS, "usd") == [(T0, 10.0)]


def test_oi_page_in_coins_from_a_venue_known_for_usd_is_refused() -> None:
    raw = [_oi(T0 + HOUR_MS, amount=5.0)]
    with pytest.raises(MalformedAnswer, match="coins, not usd"):
        oi_page(raw, T0, T0 + DAY_MS, HOUR_MS, T0 + DAY_MS, "usd")
    assert oi_page(raw, T0, T0 + DAY_MS, HOUR_MS, T0 + DAY_MS, "base") == [(T0, 5.0)]


def test_oi_page_of_nothing_is_empty() -> None:
    assert oi_page([], T0, T0 + DAY_MS, HOUR_MS, T0 + DAY_MS, "usd") == []


# ---- funding -------------------------------------------------------------------------------


def test_funding_page_keeps_settlements_up_to_the_read_time() -> None:
    raw = [
        {"timestamp": T0 + 8 * HOUR_MS, "fundingRate": 0.0002},
        {"timestamp": T0, "fundingRate": 0.0001},
        {"timestamp": T0 + 16 * HOUR_MS, "fundingRate": 0.0003},
    ]
    assert funding_page(raw, T0 + 9 * HOUR_MS) == [(T0, 0.0001), (T0 + 8 * HOUR_MS, 0.0002)]


def _every(hours: int, n: int, start: int = T0) -> list[int]:
    return [start + i * hours * HOUR_MS for i in range(n)]


def test_settlement_intervals_follow_a_switch_from_8h_to_4h() -> None:
    # 8-hourly to T0 + 72 h, then 4-hourly: each settlement pays the period before it
    ts = _every(8, 10) + _every(4, 10, T0 + 76 * HOUR_MS)
    assert settlement_intervals(ts) == [8.0] * 10 + [4.0] * 10
    assert current_interval([(t, 0.0) for t in ts]) == 4.0


def test_a_settlements_interval_is_read_from_the_past_only() -> None:
    ts = _every(8, 10) + _every(4, 10, T0 + 76 * HOUR_MS)
    # cutting the history after any settlement leaves the intervals before it unchanged
    full = settlement_intervals(ts)
    for k in range(2, len(ts)):
        assert settlement_intervals(ts[:k]) == full[:k]


def test_a_missing_settlement_does_not_change_the_interval() -> None:
    ts = _every(8, 6) + _every(8, 6, T0 + 56 * HOUR_MS)  # 16 hours between the two runs
    assert settlement_intervals(ts) == [8.0] * len(ts)


def test_normalise_restates_earlier_settlements_to_the_current_interval() -> None:
    # 0.01% per 8 h, then 0.005% per 4 h (each settlement pays the period before it): the
    # same 0.01% per 8 h throughout
    rows = [(t, 0.0001) for t in _every(8, 9)] + [
        (t, 0.00005) for t in _every(4, 9, T0 + 68 * HOUR_MS)
    ]
    restated = normalise_to(rows, current_interval(rows))
    # the engine's r8 = rate × 8 / 4 for every restated settlement
    assert [round(r * 8 / 4, 12) for _, r in restated] == [0.0001] * len(rows)


def test_too_few_settlements_read_as_the_8h_default() -> None:
    assert current_interval([]) == 8.0
    assert current_interval([(T0, 0.0001)]) == 8.0
    assert normalise_to([], 8.0) == []


# ---- pacing ----------------------------------------------------------------------------------


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


async def test_pacer_spaces_requests_per_endpoint_and_venue() -> None:
    clock = FakeTime()
    pacer = RequestPacer(clock=clock, sleep=clock.sleep)
    funding = "https://fapi.binance.com/fapi/v1/fundingRate?symbol=ETHUSDT"
    klines = "https://fapi.binance.com/fapi/v1/klines?symbol=ETHUSDT"
    for _ in range(3):
        await pacer.wait("binanceusdm", funding)
    # Binance's fundingRate shares 500 / 5 min / IP: 1.2 s apart
    assert clock.slept == [1.2, 1.2]
    # another endpoint of the venue has its own spacing, and is not held up
    await pacer.wait("binanceusdm", klines)
    await pacer.wait("binanceusdm", klines)
    assert clock.slept == [1.2, 1.2, 0.25]
    await pacer.wait("bybit", "https://api.bybit.com/v5/market/kline")
    assert clock.slept == [1.2, 1.2, 0.25]


async def test_pacer_reserves_slots_for_concurrent_requests() -> None:
    clock = FakeTime()
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(round(seconds, 6))

    pacer = RequestPacer(clock=clock, sleep=sleep)
    url = "https://www.okx.com/api/v5/rubik/stat/contracts/open-interest-history"
    await asyncio.gather(*(pacer.wait("okx", url) for _ in range(3)))
    # three at once: the first now, then one slot each 0.8 s later (OKX's 5 / 2 s)
    assert sorted(waits) == [0.8, 1.6]


def test_pacer_scale_and_unknown_venues() -> None:
    pacer = RequestPacer(scale=0.5)
    assert pacer.gap_s("okx", "https://www.okx.com/api/v5/public/funding-rate-history") == (
        "funding-rate-history",
        0.2,
    )
    assert pacer.gap_s("gate", "https://api.gateio.ws/x") == ("", 0.25)


# ---- plans -----------------------------------------------------------------------------------


def test_pages_estimate_per_series() -> None:
    year = 365 * DAY_MS
    assert pages_estimate(CANDLES_1D, "binanceusdm", 0, year) == 1
    assert pages_estimate(CANDLES_1D, "okx", 0, year) == 4  # 100 candles a page
    assert pages_estimate(OI_1D, "bybit", 0, year) == 2  # 200 a page
    assert pages_estimate(OI_1H, "bybit", 0, 3 * DAY_MS) == 1
    assert pages_estimate(FUNDING, "bybit", 0, year) == 6  # 1,095 settlements, 200 a page
    assert pages_estimate(FUNDING, "binanceusdm", 0, 0) == 0
    assert pages_estimate(FUNDING, "gate", 0, year) == 0


def test_binance_oi_is_asked_only_inside_its_30_days() -> None:
    now = T0 + 100 * DAY_MS + 5 * HOUR_MS
    assert oi_floor("binanceusdm", now, DAY_MS) == T0 + 72 * DAY_MS
    assert oi_floor("binanceusdm", now, HOUR_MS) == T0 + 72 * DAY_MS
    assert oi_floor("bybit", now, DAY_MS) is None
