"""The pure converters (signals/convert.py) on literal payloads, and the recorded Deribit chain
end to end, each expected value worked out by hand from the payload."""

from __future__ import annotations

import itertools
import json
import math

import pandas as pd
import pytest

from signals import convert
from signals.market import DAY_MS, HOUR_MS
from signals.skew import YEAR_MS, black76_delta, expiry_skews, parse_option_name
from signals.venue_policy import EmptyAnswer, MalformedAnswer, body_problem
from tests.helpers.fake_exchange import Scenario, default_scenario, live
from tests.helpers.recorded import path

H = 1_779_278_400_000  # 2026-05-20 12:00 UTC
CHAIN = json.loads(path("deribit", "btc_option_chain_2020-05-14_rows.json").read_text("utf-8"))
CHAIN_NOW = 1_589_435_100_000  # 2020-05-14 05:45 UTC, just after the last recorded row


# ---- candles ---------------------------------------------------------------------------


def test_candles_are_sorted_unreadable_rows_dropped_and_the_forming_bar_cut() -> None:
    rows = [
        [H, 3.0, 4.0, 2.0, 3.5, 10.0],  # the bar forming at 12:30
        [H - HOUR_MS, 2.0, 3.0, 1.0, 3.0, 5.0],
        [H - 2 * HOUR_MS, None, 3.0, 1.0, 2.0, 5.0],  # a hole in the venue's answer
        [H - 3 * HOUR_MS, 1.0, 2.0, 0.0, 1.5, 5.0],  # a low of 0 is not a price
    ]
    candles = convert.candle_rows(rows)
    assert [r[0] for r in candles] == [H - HOUR_MS, H]
    frame = convert.closed_ohlcv(candles, H + 30 * 60_000, HOUR_MS)
    assert list(frame.index) == [H - HOUR_MS]
    assert frame["close"].tolist() == [3.0]


def test_no_readable_candle_is_an_empty_answer() -> None:
    with pytest.raises(EmptyAnswer):
        convert.candle_rows([])
    with pytest.raises(MalformedAnswer):
        convert.candle_rows({"code": -1121})


# ---- open interest: snapshot times become bars --------------------------------------------


def test_a_snapshot_at_the_top_of_the_hour_is_the_bar_before() -> None:
    # Binance openInterestHist, as recorded: the number timestamp of a 1h period's end
    rows = [
        {"timestamp": H, "openInterestValue": 6653666199.09},
        {"timestamp": H - HOUR_MS, "openInterestValue": 6600000000.0},
    ]
    assert convert.oi_bars(rows, "openInterestValue", HOUR_MS) == [
        (H - 2 * HOUR_MS, 6600000000.0),
        (H - HOUR_MS, 6653666199.09),
    ]


def test_a_snapshot_a_little_late_still_belongs_to_its_period() -> None:
    rows = [{"timestamp": H + 1234, "openInterestAmount": 10.0}]
    assert convert.oi_bars(rows, "openInterestAmount", HOUR_MS) == [(H - HOUR_MS, 10.0)]


def test_a_snapshot_in_the_future_of_the_read_is_left_out() -> None:
    rows = [{"timestamp": H, "openInterestAmount": 1.0}, {"timestamp": H + HOUR_MS, "x": 2}]
    assert convert.oi_bars(rows, "openInterestAmount", HOUR_MS, cut_ms=H) == [(H - HOUR_MS, 1.0)]


def test_base_coin_oi_is_valued_at_the_close_of_its_own_bar() -> None:
    frame = pd.DataFrame(
        {"close": [100.0, 110.0]}, index=pd.Index([H - 2 * HOUR_MS, H - HOUR_MS], name="ts")
    )
    usd = convert.oi_usd([(H - 2 * HOUR_MS, 5.0), (H - HOUR_MS, 6.0)], True, frame)
    assert usd.to_dict() == {H - 2 * HOUR_MS: 500.0, H - HOUR_MS: 660.0}
    # no price: no USD value, never a made-up one
    assert len(convert.oi_usd([(H - HOUR_MS, 6.0)], True, frame.iloc[0:0])) == 0


def test_which_field_holds_the_oi() -> None:
    assert convert.oi_key([{"openInterestValue": "1", "openInterestAmount": 2}]) == (
        "openInterestValue",
        False,
    )
    assert convert.oi_key([{"openInterestValue": None, "openInterestAmount": 2}]) == (
        "openInterestAmount",
        True,
    )


def test_the_venue_sum_keeps_only_bars_every_venue_has() -> None:
    a = convert.series([(1, 1.0), (2, 2.0), (3, 3.0)])
    b = convert.series([(2, 10.0), (3, 20.0)])
    assert convert.sum_common([a, b, convert.series([])]).to_dict() == {2: 12.0, 3: 23.0}


# ---- funding ---------------------------------------------------------------------------


def test_funding_history_and_intervals() -> None:
    rows = [
        {"timestamp": H - 8 * HOUR_MS, "fundingRate": 0.0001},
        {"timestamp": H, "fundingRate": "-0.0002"},
        {"timestamp": H + 8 * HOUR_MS, "fundingRate": 0.0003},  # after the read: not settled
        {"timestamp": None, "fundingRate": 0.1},
    ]
    settled = convert.funding_history(rows, cut_ms=H + 1)
    assert settled == [(H - 8 * HOUR_MS, 0.0001), (H, -0.0002)]
    assert convert.interval_from_history(settled) == 8.0
    assert convert.interval_hours("4h") == 4.0
    assert convert.interval_hours("8") is None
    assert convert.binance_intervals({"ETH/USDT:USDT": {"interval": "4h"}, "X": {}}) == {
        "ETH/USDT:USDT": 4.0
    }
    with pytest.raises(EmptyAnswer):
        convert.current_rate({"fundingRate": None})


# ---- options: literal venue rows --------------------------------------------------------


def test_okx_and_bybit_option_rows_are_fractions_of_vol() -> None:
    okx = {
        "code": "0",
        "data": [
            {"instId": "BTC-USD-260327-100000-C", "markVol": "0.6543", "fwdPx": "77300.12"},
            {"instId": "BTC-USD-260327-90000-P", "markVol": "", "fwdPx": "77300.12"},
        ],
    }
    [q] = convert.okx_opt_summary(okx, "BTC")
    assert (q.strike, q.is_call, q.iv, q.forward) == (
        100000.0,
        True,
        pytest.approx(65.43),
        77300.12,
    )
    bybit = {
        "retCode": 0,
        "result": {
            "list": [
                {"symbol": "ETH-27JUN25-3000-P-USDT", "markIv": "0.5", "underlyingPrice": "2900"}
            ]
        },
    }
    [q] = convert.bybit_option_tickers(bybit, "ETH")
    assert (q.iv, q.is_call) == (50.0, False)
    with pytest.raises(MalformedAnswer):
        convert.bybit_option_tickers({"retCode": 0, "result": []}, "ETH")


def test_a_deribit_answer_without_result_list_is_malformed() -> None:
    with pytest.raises(MalformedAnswer):
        convert.deribit_book({"jsonrpc": "2.0", "error": {"code": 10028}})


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("", "empty body"),
        ("  <!DOCTYPE html><html>", "HTML page"),
        ('{"data":[1,2', "truncated JSON"),
        ("null", "non-object body"),
        ("42", "non-object body"),
        ("OK", "not JSON"),
        ('{"ok":true}', None),
        ("[]", None),
    ],
)
def test_body_problems_seen_at_the_http_boundary(body: str, problem: str | None) -> None:
    assert body_problem(body) == problem


# ---- the recorded Deribit BTC chain ------------------------------------------------------


def test_our_black76_delta_is_deribits_own_on_every_recorded_row() -> None:
    for row in CHAIN:
        name = parse_option_name(row["instrument_name"])
        assert name is not None
        t = (name.expiry_ms - row["timestamp"]) / YEAR_MS
        ours = black76_delta(row["underlying_price"], name.strike, row["mark_iv"], t, name.is_call)
        assert ours == pytest.approx(row["delta"], abs=5e-5), row["instrument_name"]


def _by_hand_iv25(expiry: str, is_call: bool) -> float:
    """IV at ±25Δ by linear interpolation between the two rows whose DERIBIT deltas bracket it."""
    side = "-C" if is_call else "-P"
    target = 0.25 if is_call else -0.25
    pts = sorted(
        (r["delta"], r["mark_iv"])
        for r in CHAIN
        if expiry in r["instrument_name"] and r["instrument_name"].endswith(side)
    )
    for (d0, v0), (d1, v1) in itertools.pairwise(pts):
        if d0 <= target <= d1:
            return v0 + (v1 - v0) * (target - d0) / (d1 - d0)
    raise AssertionError("no bracket")


async def test_the_recorded_chain_gives_the_30d_risk_reversal_worked_out_by_hand() -> None:
    expiries = {"29MAY20": 1590739200000, "26JUN20": 1593158400000}
    t = {k: (v - CHAIN_NOW) / YEAR_MS for k, v in expiries.items()}
    target = 30 / 365

    def at_30d(iv: dict[str, float]) -> float:
        w = {k: (iv[k] / 100) ** 2 * t[k] for k in iv}
        share = (target - t["29MAY20"]) / (t["26JUN20"] - t["29MAY20"])
        return 100 * math.sqrt((w["29MAY20"] + (w["26JUN20"] - w["29MAY20"]) * share) / target)

    calls = {k: _by_hand_iv25(k, True) for k in expiries}
    puts = {k: _by_hand_iv25(k, False) for k in expiries}
    expected = at_30d(calls) - at_30d(puts)

    scenario: Scenario = default_scenario(now_ms=CHAIN_NOW, with_options=False)
    scenario.deribit_books = {"BTC": CHAIN}
    async with live(scenario) as (market, server, _c):
        asof, data = await market.fetch_asset("BTC")
        asked = [q for v, _, q in server.requests if v == "deribit"]
    assert asked == [{"currency": "BTC", "kind": "option"}]
    assert data.sources["skew"] == "deribit"
    [(ts, rr)] = list(data.skew_rr25_30d.items())
    assert ts <= asof
    # puts were rich on 2020-05-14: about −6.7 vol points
    assert rr == pytest.approx(expected, abs=0.1)
    assert -7.0 < rr < -6.5
    skews = expiry_skews(
        [q for _, q in convert.deribit_book({"result": _as_book(CHAIN)})], CHAIN_NOW
    )
    assert [s.expiry_ms for s in skews] == sorted(expiries.values())


def _as_book(rows: list[dict]) -> list[dict]:
    return [
        {
            "instrument_name": r["instrument_name"],
            "mark_iv": r["mark_iv"],
            "underlying_price": r["underlying_price"],
        }
        for r in rows
    ]


def test_day_floor() -> None:
    assert convert.day_floor(H + 5) == H - 12 * HOUR_MS
    assert DAY_MS == 24 * HOUR_MS


def test_binance_documented_oi_answer_through_real_ccxt_becomes_bars() -> None:
    import ccxt

    from tests.helpers.fake_pro import linear_market
    from tests.helpers.recorded import answer

    exchange = ccxt.binanceusdm()
    exchange.set_markets([linear_market("binanceusdm", "BTC")])
    history = exchange.parse_open_interests_history(
        answer("binanceusdm", "open_interest_hist.json"), exchange.market("BTC/USDT:USDT")
    )
    key, in_base = convert.oi_key(history)
    assert (key, in_base) == ("openInterestValue", False)
    five_min = 300_000
    # the snapshot at 05:45 is the OI at the close of the 05:40 bar; 05:50 of the 05:45 bar
    assert convert.oi_bars(history, key, five_min) == [
        (1583127900000 - five_min, 150570784.07809979),
        (1583128200000 - five_min, 149940752.14464448),
    ]
