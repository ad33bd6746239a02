"""Skew maths against hand-computed values: Black-76 delta, IV at delta, total variance."""

from __future__ import annotations

import math

import pytest

from signals.skew import (
    OptionQuote,
    black76_delta,
    expiry_skews,
    iv_at_delta,
    iv_at_maturity,
    norm_cdf,
    parse_option_name,
    rr25_constant_maturity,
)

DAY_MS = 86_400_000
NOW_MS = 1_779_280_200_000


def test_norm_cdf_known_values() -> None:
    assert norm_cdf(0.0) == 0.5
    # table values: N(1) = 0.841344746, N(-1.959964) = 0.025
    assert norm_cdf(1.0) == pytest.approx(0.8413447460685429, abs=1e-12)
    assert norm_cdf(-1.959963984540054) == pytest.approx(0.025, abs=1e-12)


def test_black76_delta_at_the_money() -> None:
    # F = K: d1 = σ√T / 2 = 0.2 · 1 / 2 = 0.1; N(0.1) = 0.5398278372770290
    assert black76_delta(100.0, 100.0, 20.0, 1.0, True) == pytest.approx(0.539827837277029)
    assert black76_delta(100.0, 100.0, 20.0, 1.0, False) == pytest.approx(-0.460172162722971)


def test_black76_delta_out_of_the_money_call() -> None:
    # σ√T = 0.5 · 0.5 = 0.25; d1 = (ln(100/110) + 0.25²/2) / 0.25
    #    = (−0.0953101798 + 0.03125) / 0.25 = −0.2562407192; N(d1) = 0.3988824843
    assert black76_delta(100.0, 110.0, 50.0, 0.25, True) == pytest.approx(0.3988824842613243)
    assert black76_delta(100.0, 110.0, 50.0, 0.25, False) == pytest.approx(-0.6011175157386757)


def test_iv_at_delta_interpolates_linearly_between_bracketing_points() -> None:
    # 0.25 lies half-way between 0.20 (64) and 0.30 (60): 62
    assert iv_at_delta([(0.10, 70.0), (0.30, 60.0), (0.20, 64.0)], 0.25) == pytest.approx(62.0)
    # −0.25 is 3/4 of the way from −0.4 (58) to −0.2 (66): 58 + 8 · 0.75 = 64
    assert iv_at_delta([(-0.4, 58.0), (-0.2, 66.0)], -0.25) == pytest.approx(64.0)


def test_iv_at_delta_never_extrapolates() -> None:
    assert iv_at_delta([(0.30, 60.0), (0.40, 58.0)], 0.25) is None
    assert iv_at_delta([], 0.25) is None


def test_total_variance_interpolation_to_30_days() -> None:
    # w = IV²T: 0.5² · 10/365 = 2.5/365 and 0.6² · 40/365 = 14.4/365
    # at 30 days: w = (2.5 + (14.4 − 2.5) · 20/30) / 365 = 10.4333/365
    # IV = √(w / (30/365)) = √(10.4333/30) = 0.5897269 → 58.97269 vol points
    points = [(10 / 365, 50.0), (40 / 365, 60.0)]
    assert iv_at_maturity(points, 30 / 365) == pytest.approx(58.97268670984711)


def test_total_variance_is_flat_in_iv_outside_listed_expiries() -> None:
    points = [(10 / 365, 50.0), (40 / 365, 60.0)]
    assert iv_at_maturity(points, 5 / 365) == 50.0
    assert iv_at_maturity(points, 90 / 365) == 60.0
    assert iv_at_maturity([], 30 / 365) is None


def _flat_wings(days: float, call_iv: float, put_iv: float) -> list[OptionQuote]:
    expiry = NOW_MS + int(days * DAY_MS)
    quotes = []
    for strike in range(50, 201, 5):
        quotes.append(OptionQuote(expiry, float(strike), True, call_iv, 100.0))
        quotes.append(OptionQuote(expiry, float(strike), False, put_iv, 100.0))
    return quotes


def test_rr25_30d_from_two_expiries_with_flat_wings() -> None:
    # calls 50 → 60 and puts 60 → 70 between 10 and 40 days:
    # IV25c(30d) = 58.97269 (above); IV25p(30d) = √((3.6 + 16 · 2/3) / 30) = 68.96054
    quotes = _flat_wings(10, 50.0, 60.0) + _flat_wings(40, 60.0, 70.0)
    rr = rr25_constant_maturity(quotes, NOW_MS)
    assert rr == pytest.approx(58.97268670984711 - 68.96053621859066)


def test_iv_at_25_delta_with_a_sloped_call_wing() -> None:
    # one 30-day expiry, F = 100; calls K=110 at 48 and K=115 at 50:
    # Δ(110) = N((ln(100/110) + 0.48²·T/2) / (0.48√T)) = 0.2663806777, Δ(115) = 0.1831760580
    # IV(0.25) = 48 + 2 · (0.2663806777 − 0.25) / (0.2663806777 − 0.1831760580) = 48.393745
    expiry = NOW_MS + 30 * DAY_MS
    quotes = [
        OptionQuote(expiry, 110.0, True, 48.0, 100.0),
        OptionQuote(expiry, 115.0, True, 50.0, 100.0),
        OptionQuote(expiry, 80.0, False, 70.0, 100.0),
        OptionQuote(expiry, 95.0, False, 70.0, 100.0),
    ]
    [skew] = expiry_skews(quotes, NOW_MS)
    expected = 48 + 2 * (0.2663806777198611 - 0.25) / (0.2663806777198611 - 0.1831760579801628)
    assert skew.iv25_call == pytest.approx(expected)
    assert skew.iv25_call == pytest.approx(48.393745, abs=1e-6)
    assert skew.iv25_put == pytest.approx(70.0)
    assert skew.t_years == pytest.approx(30 / 365)


def test_expiry_without_both_wings_is_skipped() -> None:
    expiry = NOW_MS + 30 * DAY_MS
    only_calls = [OptionQuote(expiry, float(k), True, 50.0, 100.0) for k in range(80, 150, 5)]
    assert expiry_skews(only_calls, NOW_MS) == []
    assert rr25_constant_maturity(only_calls, NOW_MS) is None


def test_expired_and_zero_iv_quotes_are_ignored() -> None:
    quotes = _flat_wings(-1, 10.0, 90.0) + _flat_wings(30, 55.0, 60.0)
    quotes.append(OptionQuote(NOW_MS + 30 * DAY_MS, 100.0, True, 0.0, 100.0))
    assert rr25_constant_maturity(quotes, NOW_MS) == pytest.approx(-5.0)


@pytest.mark.parametrize(
    ("name", "base", "expiry_ms", "strike", "is_call"),
    [
        ("BTC-27JUN25-60000-C", "BTC", 1751011200000, 60000.0, True),
        ("XRP_USDC-27JUN25-2d2-P", "XRP", 1751011200000, 2.2, False),
        ("BTC-USD-250627-60000-C", "BTC", 1751011200000, 60000.0, True),
        ("ETH-27JUN25-3000-P-USDT", "ETH", 1751011200000, 3000.0, False),
        ("ETH-5JUN25-3000-C", "ETH", 1749110400000, 3000.0, True),
    ],
)
def test_parse_option_name(
    name: str, base: str, expiry_ms: int, strike: float, is_call: bool
) -> None:
    parsed = parse_option_name(name)
    assert parsed is not None
    assert (parsed.base, parsed.expiry_ms, parsed.strike, parsed.is_call) == (
        base,
        expiry_ms,
        strike,
        is_call,
    )


@pytest.mark.parametrize("name", ["BTC-PERPETUAL", "BTC-27XXX25-1-C", "ETH-31FEB25-3000-C", ""])
def test_parse_option_name_rejects_non_options(name: str) -> None:
    assert parse_option_name(name) is None


def test_delta_is_monotone_in_strike() -> None:
    deltas = [black76_delta(100.0, k, 60.0, 30 / 365, True) for k in range(60, 160, 10)]
    assert deltas == sorted(deltas, reverse=True)
    assert all(0 < d < 1 for d in deltas)
    call = black76_delta(100.0, 120.0, 60.0, 0.1, True)
    put = black76_delta(100.0, 120.0, 60.0, 0.1, False)
    assert math.isclose(call - put, 1.0)
