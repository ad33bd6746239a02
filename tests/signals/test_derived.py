"""SPEC §2 derived quantities, each against an independent hand or numpy computation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from signals.derived import Market, compute_market
from signals.thresholds import Thresholds
from tests.helpers.builders import ASOF, DAY, HOUR, asset_data, to_asset_data, venue

TH = Thresholds()


def market(**kwargs: object) -> Market:
    """compute_market for an ETH asset built from builder parameters, at ASOF."""
    asof = int(kwargs.pop("asof", ASOF))  # type: ignore[call-overload]
    return compute_market(asset_data("ETH", asof=asof, **kwargs), asof, TH)


def walk(n: int, seed: int = 7, start: float = 100.0, scale: float = 0.03) -> list[float]:
    """A seeded random walk of n positive closes."""
    rng = np.random.default_rng(seed)
    return list(start * np.exp(np.cumsum(rng.normal(0, scale, n))))


# ---- price and price_change_24h ---------------------------------------------------------


def test_price_is_last_hourly_close() -> None:
    m = market(closes_1h=[10.0, 11.0, 12.5], closes_1d=[9.0, 20.0])
    assert m.price == 12.5


def test_price_falls_back_to_last_daily_close_without_hourly_candles() -> None:
    m = market(closes_1d=[9.0, 20.0, 21.5])
    assert m.price == 21.5


def test_price_unknown_without_any_candle() -> None:
    assert market().price is None


def test_price_change_24h_with_exactly_25_hourly_candles() -> None:
    closes = [100.0 + i for i in range(25)]  # first 100, last 124
    m = market(closes_1h=closes)
    assert m.price_change_24h == pytest.approx(124.0 / 100.0 - 1, rel=1e-12)


def test_price_change_24h_uses_the_candle_24_bars_before_the_last() -> None:
    closes = [50.0] * 10 + [100.0 + i for i in range(25)]
    m = market(closes_1h=closes)
    assert m.price_change_24h == pytest.approx(124.0 / 100.0 - 1, rel=1e-12)


def test_price_change_24h_unknown_with_24_hourly_candles() -> None:
    m = market(closes_1h=[100.0 + i for i in range(24)])
    assert m.price_change_24h is None
    assert m.price == 123.0


# ---- return_7d ----------------------------------------------------------------------------


def test_return_7d_with_exactly_8_daily_candles() -> None:
    m = market(closes_1d=[80.0, 1, 2, 3, 4, 5, 6, 90.0])
    assert m.return_7d == pytest.approx(90.0 / 80.0 - 1, rel=1e-12)


def test_return_7d_uses_the_close_7_bars_before_the_last() -> None:
    m = market(closes_1d=[1.0, 2.0, 3.0, 80.0, 5, 5, 5, 5, 5, 5, 72.0])
    assert m.return_7d == pytest.approx(72.0 / 80.0 - 1, rel=1e-12)


def test_return_7d_unknown_with_7_daily_candles() -> None:
    assert market(closes_1d=[80.0, 1, 2, 3, 4, 5, 90.0]).return_7d is None


def test_return_7d_reads_daily_not_hourly_candles() -> None:
    m = market(closes_1d=[80.0] + [1.0] * 6 + [88.0], closes_1h=[1000.0] * 30)
    assert m.return_7d == pytest.approx(0.1, rel=1e-12)


# ---- sigma_daily and vol_expansion ---------------------------------------------------------


def test_sigma_daily_with_exactly_31_closes() -> None:
    closes = walk(31)
    expected = float(np.std(np.diff(np.log(closes)), ddof=1))
    assert market(closes_1d=closes).sigma_daily == pytest.approx(expected, rel=1e-9)


def test_sigma_daily_uses_only_the_last_30_log_returns() -> None:
    closes = walk(45, seed=3)
    closes[:10] = [c * (3 if i % 2 else 0.3) for i, c in enumerate(closes[:10])]
    expected = float(np.std(np.diff(np.log(closes))[-30:], ddof=1))
    assert market(closes_1d=closes).sigma_daily == pytest.approx(expected, rel=1e-9)


def test_sigma_daily_unknown_with_30_closes() -> None:
    m = market(closes_1d=walk(30))
    assert m.sigma_daily is None
    assert m.vol_expansion is False


def closes_from_returns(returns: list[float], start: float = 100.0) -> list[float]:
    """Closes whose successive log returns are `returns`."""
    return [start, *(start * math.exp(x) for x in np.cumsum(returns))]


def alternating(n: int, size: float) -> list[float]:
    """n log returns of ±size (mean 0 for even n)."""
    return [size if i % 2 == 0 else -size for i in range(n)]


def expansion_returns(ratio: float) -> list[float]:
    """60 baseline returns then 30 recent ones whose sample std is `ratio` × the baseline's."""
    base = 0.01
    base_std = base * math.sqrt(60 / 59)
    recent = ratio * base_std / math.sqrt(30 / 29)
    return alternating(60, base) + alternating(30, recent)


@pytest.mark.parametrize(
    ("ratio", "expected"), [(1.49, False), (1.5, True), (1.51, True), (3.0, True), (1.0, False)]
)
def test_vol_expansion_around_one_and_a_half(ratio: float, expected: bool) -> None:
    closes = closes_from_returns(expansion_returns(ratio))
    assert len(closes) == 91
    r = np.diff(np.log(closes))
    assert np.std(r[-30:], ddof=1) / np.std(r[-90:-30], ddof=1) == pytest.approx(ratio)
    assert market(closes_1d=closes).vol_expansion is expected


def test_vol_expansion_false_with_90_closes_even_when_volatility_triples() -> None:
    closes = closes_from_returns(expansion_returns(3.0)[1:])
    assert len(closes) == 90
    m = market(closes_1d=closes)
    assert m.sigma_daily is not None
    assert m.vol_expansion is False


def test_vol_expansion_baseline_is_the_60_returns_before_the_last_30() -> None:
    # wild older returns before the 90 that matter: a longer baseline would hide the expansion
    older = alternating(20, 0.2)
    closes = closes_from_returns(older + expansion_returns(1.6))
    assert market(closes_1d=closes).vol_expansion is True
    # and wild returns inside the 60-return baseline do damp it
    damped = closes_from_returns(alternating(60, 0.05) + alternating(30, 0.016))
    assert market(closes_1d=damped).vol_expansion is False


# ---- open interest ----------------------------------------------------------------------------


def test_oi_change_24h_with_exactly_25_points() -> None:
    oi = [2.0e9] + [9.9e9] * 23 + [2.2e9]
    m = market(oi_1h=oi)
    assert m.oi_change_24h == pytest.approx(0.1, rel=1e-9)
    assert m.oi_usd == 2.2e9


def test_oi_change_24h_uses_the_point_24_before_the_last() -> None:
    oi = [1.0e9] * 5 + [4.0e9] + [7e9] * 23 + [3.0e9]
    assert market(oi_1h=oi).oi_change_24h == pytest.approx(-0.25, rel=1e-9)


def test_oi_change_24h_unknown_with_24_points() -> None:
    m = market(oi_1h=[1e9] * 24)
    assert m.oi_change_24h is None
    assert m.oi_usd == 1e9


def test_oi_percentile_counts_values_at_or_below_current_hourly_oi() -> None:
    daily = [float(i) * 1e9 for i in range(1, 11)]  # 1..10 bn
    assert market(oi_1d=daily, oi_1h=[5.0e9]).oi_percentile_30d == pytest.approx(0.5)
    assert market(oi_1d=daily, oi_1h=[5.5e9]).oi_percentile_30d == pytest.approx(0.5)
    assert market(oi_1d=daily, oi_1h=[0.5e9]).oi_percentile_30d == pytest.approx(0.0)
    assert market(oi_1d=daily, oi_1h=[11e9]).oi_percentile_30d == pytest.approx(1.0)


def test_oi_percentile_uses_last_hourly_value_not_last_daily() -> None:
    daily = [1e9, 2e9, 3e9, 4e9, 5e9, 6e9, 7e9, 8e9]  # last daily 8 bn
    m = market(oi_1d=daily, oi_1h=[9e9, 9e9, 2.5e9])
    assert m.oi_percentile_30d == pytest.approx(2 / 8)


def test_oi_percentile_uses_at_most_the_last_30_daily_values() -> None:
    daily = [1e9] * 10 + [float(i) * 1e9 for i in range(10, 40)]  # last 30: 10..39 bn
    m = market(oi_1d=daily, oi_1h=[14e9])
    assert m.oi_percentile_30d == pytest.approx(5 / 30)


def test_oi_percentile_needs_7_daily_values() -> None:
    assert market(oi_1d=[1e9] * 7, oi_1h=[1e9]).oi_percentile_30d == pytest.approx(1.0)
    assert market(oi_1d=[1e9] * 6, oi_1h=[1e9]).oi_percentile_30d is None


def test_oi_percentile_without_hourly_oi_uses_the_last_daily_value() -> None:
    # SPEC v2 §2: oi_usd falls back to the last daily value, which is then ranked
    m = market(oi_1d=[1e9] * 9 + [2e9])
    assert m.oi_usd == 2e9
    assert m.oi_percentile_30d == 1.0
    assert "oi_usd" in m.daily_fallbacks


def test_oi_percentile_unknown_without_any_oi() -> None:
    assert market().oi_percentile_30d is None


# ---- funding ------------------------------------------------------------------------------


def test_funding_normalised_to_8h_for_1h_4h_8h_intervals() -> None:
    cases = [(1, 0.00001, 0.00008), (4, 0.0001, 0.0002), (8, 0.0001, 0.0001)]
    for interval, rate, r8 in cases:
        m = market(funding=[venue("v", rate, interval_hours=interval)])
        assert m.funding_8h == pytest.approx(r8, rel=1e-12), interval


def test_funding_8h_is_oi_weighted_mean_of_normalised_rates() -> None:
    venues = [
        venue("a", 0.00001, interval_hours=1, oi_usd=1e9),  # r8 0.00008
        venue("b", 0.0001, interval_hours=4, oi_usd=2e9),  # r8 0.0002
        venue("c", 0.0001, interval_hours=8, oi_usd=1e9),  # r8 0.0001
    ]
    expected = (0.00008 * 1 + 0.0002 * 2 + 0.0001 * 1) / 4
    assert market(funding=venues).funding_8h == pytest.approx(expected, rel=1e-12)


def test_funding_8h_plain_mean_when_every_weight_is_zero() -> None:
    venues = [
        venue("a", 0.0003, interval_hours=8, oi_usd=0.0),
        venue("b", 0.00005, interval_hours=1, oi_usd=0.0),  # r8 0.0004
    ]
    assert market(funding=venues).funding_8h == pytest.approx(0.00035, rel=1e-12)


def test_funding_unknown_without_venues() -> None:
    m = market()
    assert m.funding_8h is None
    assert m.funding_8h_3d_avg is None


def test_funding_3d_avg_window_is_half_open_and_normalised() -> None:
    a_hist = [
        (ASOF - 72 * HOUR, 0.01),  # exactly T − 72h: outside (T − 72h, T]
        (ASOF - 64 * HOUR, 0.0001),
        (ASOF - 8 * HOUR, 0.0003),
        (ASOF, 0.0002),  # exactly T: inside
        (ASOF + 8 * HOUR, 0.05),  # after asof: not settled yet
    ]
    b_hist = [(ASOF - h * HOUR, 0.00002) for h in (3, 2, 1)]  # 1h venue: r8 0.00016
    venues = [
        venue("a", 0.0001, interval_hours=8, oi_usd=3e9, history=a_hist),
        venue("b", 0.00001, interval_hours=1, oi_usd=1e9, history=b_hist),
    ]
    a_mean = (0.0001 + 0.0003 + 0.0002) / 3
    b_mean = 0.00016
    expected = (a_mean * 3 + b_mean * 1) / 4
    assert market(funding=venues).funding_8h_3d_avg == pytest.approx(expected, rel=1e-9)


def test_funding_3d_avg_venue_without_history_in_window_drops_out() -> None:
    venues = [
        venue("a", 0.0001, oi_usd=1e9, history=[(ASOF - 16 * HOUR, 0.0002)]),
        venue("b", 0.0001, oi_usd=9e9, history=[(ASOF - 80 * HOUR, 0.01)]),
        venue("c", 0.0001, oi_usd=5e9, history=[]),
    ]
    m = market(funding=venues)
    assert m.funding_8h_3d_avg == pytest.approx(0.0002, rel=1e-12)
    assert m.funding_8h == pytest.approx(0.0001, rel=1e-12)


def test_funding_3d_avg_unknown_when_no_venue_has_history_in_window() -> None:
    venues = [venue("a", 0.0001, history=[(ASOF - 100 * HOUR, 0.0002)])]
    m = market(funding=venues)
    assert m.funding_8h == pytest.approx(0.0001)
    assert m.funding_8h_3d_avg is None


# ---- liquidations -------------------------------------------------------------------------


def test_liquidations_with_168_of_200_buckets() -> None:
    rng = np.random.default_rng(11)
    longs = rng.uniform(0, 1e6, 200)
    shorts = rng.uniform(0, 5e5, 200)
    longs[-5] = longs[-9] = 5e7  # two bursts in the last 24h on the long side
    longs[:32] = 1e9  # outside the 168-bucket window: must not count
    m = market(liquidations=list(zip(longs, shorts, strict=True)))
    for side, values in (("long", longs), ("short", shorts)):
        used = values[-168:]
        liq_24h = used[-24:].sum()
        baseline = used[:-24].sum() / (144 / 24)
        bursts = int((used[-24:] > 3 * used.mean()).sum())
        got = m.liq_long if side == "long" else m.liq_short
        assert got is not None
        assert got.liq_24h == pytest.approx(liq_24h, rel=1e-9), side
        assert got.liq_baseline_daily == pytest.approx(baseline, rel=1e-9), side
        assert got.bursts_24h == bursts, side
    assert m.liq_long.bursts_24h == 2  # type: ignore[union-attr]
    assert m.liq_long_24h_usd == pytest.approx(longs[-24:].sum(), rel=1e-9)
    assert m.liq_short_24h_usd == pytest.approx(shorts[-24:].sum(), rel=1e-9)


def test_liquidations_with_exactly_48_buckets() -> None:
    buckets = [(1000.0, 10.0)] * 24 + [(3000.0, 0.0)] * 24
    m = market(liquidations=buckets)
    assert m.liq_long is not None and m.liq_short is not None
    assert m.liq_long.liq_24h == pytest.approx(72000.0)
    assert m.liq_long.liq_baseline_daily == pytest.approx(24000.0)  # 24 buckets / (24/24)
    assert m.liq_short.liq_24h == 0.0
    assert m.liq_short.liq_baseline_daily == pytest.approx(240.0)
    # mean 2000, 3× = 6000: no 3000 bucket is a burst
    assert m.liq_long.bursts_24h == 0


def test_liquidations_baseline_with_100_buckets() -> None:
    buckets = [(500.0, 0.0)] * 76 + [(100.0, 0.0)] * 24
    m = market(liquidations=buckets)
    assert m.liq_long is not None
    assert m.liq_long.liq_baseline_daily == pytest.approx(500.0 * 76 / (76 / 24))


def test_liquidations_burst_is_strictly_above_three_times_mean() -> None:
    # 48 buckets: 46 zeros and two of 1: mean 1/24, 3×mean 0.125 → both are bursts
    buckets = [(0.0, 0.0)] * 46 + [(1.0, 0.0), (1.0, 0.0)]
    m = market(liquidations=buckets)
    assert m.liq_long is not None
    assert m.liq_long.bursts_24h == 2
    # 48 equal buckets of 3: mean 3, nothing is above 9
    flat = market(liquidations=[(3.0, 3.0)] * 48)
    assert flat.liq_long is not None and flat.liq_long.bursts_24h == 0
    # a bucket exactly 3× the mean is not a burst: 47 × 1 and one x with x = 3 × (47 + x) / 48
    x = 3 * 47 / 45
    exact = market(liquidations=[(1.0, 0.0)] * 47 + [(x, 0.0)])
    assert exact.liq_long is not None and exact.liq_long.bursts_24h == 0


def test_liquidations_mean_zero_means_no_bursts() -> None:
    m = market(liquidations=[(0.0, 0.0)] * 60)
    assert m.liq_long is not None and m.liq_short is not None
    assert m.liq_long.bursts_24h == 0
    assert m.liq_short.bursts_24h == 0
    assert m.liq_long.liq_24h == 0.0


def test_liquidations_counts_buckets() -> None:
    assert market(liquidations=[(1.0, 1.0)] * 47).liq_buckets == 47
    assert market(liquidations=[(1.0, 1.0)] * 300).liq_buckets == 168


# ---- skew -----------------------------------------------------------------------------------


def test_rr25_is_latest_sample_within_24h() -> None:
    skew = [(ASOF - 30 * HOUR, -9.0), (ASOF - 20 * HOUR, -2.0), (ASOF - 2 * HOUR, -4.5)]
    assert market(skew=skew).rr25_30d == -4.5


def test_rr25_sample_exactly_24h_old_counts() -> None:
    assert market(skew=[(ASOF - 24 * HOUR, -3.5)]).rr25_30d == -3.5


def test_rr25_unknown_when_latest_sample_older_than_24h() -> None:
    m = market(skew=[(ASOF - 24 * HOUR - 1, -3.5)])
    assert m.rr25_30d is None
    assert m.rr25_30d_7d_change is None


def test_rr25_7d_change_uses_sample_nearest_to_t_minus_7d() -> None:
    skew = [
        (ASOF - 7 * DAY - 12 * HOUR, -1.0),  # 12h from T − 7d: nearest
        (ASOF - 6 * DAY + 6 * HOUR, -9.0),  # 30h from T − 7d
        (ASOF - HOUR, -4.0),
    ]
    assert market(skew=skew).rr25_30d_7d_change == pytest.approx(-3.0)
    skew2 = [
        (ASOF - 8 * DAY + 2 * HOUR, 5.0),  # 22h before T − 7d
        (ASOF - 7 * DAY + 3 * HOUR, 1.0),  # 3h after T − 7d: nearest
        (ASOF - HOUR, 4.0),
    ]
    assert market(skew=skew2).rr25_30d_7d_change == pytest.approx(3.0)


def test_rr25_7d_change_unknown_when_nearest_sample_is_over_a_day_away() -> None:
    skew = [(ASOF - 8 * DAY - HOUR, -1.0), (ASOF - 6 * DAY + HOUR, -2.0), (ASOF - HOUR, -4.0)]
    m = market(skew=skew)
    assert m.rr25_30d == -4.0
    assert m.rr25_30d_7d_change is None


def test_rr25_7d_change_sample_23h_away_counts() -> None:
    skew = [(ASOF - 8 * DAY + HOUR, -1.5), (ASOF - HOUR, -4.0)]
    assert market(skew=skew).rr25_30d_7d_change == pytest.approx(-2.5)


# ---- only what is closed / settled at asof counts -------------------------------------------


def test_forming_hourly_bar_is_ignored() -> None:
    closes = [100.0 + i for i in range(25)]
    # bar opened at asof (and one half an hour before it): neither has closed
    forming = [[ASOF - HOUR // 2, 1.0, 1.0, 1.0, 999.0, 1.0], [ASOF, 1.0, 1.0, 1.0, 555.0, 1.0]]
    m = market(closes_1h=closes, extra_rows={"ohlcv_1h": forming})
    assert m.price == 124.0
    assert m.price_change_24h == pytest.approx(0.24)


def test_forming_daily_bar_is_ignored_mid_day() -> None:
    asof = ASOF + 12 * HOUR
    closes = [80.0, 1, 2, 3, 4, 5, 6, 88.0]
    # the builder would end bars at asof; these sit on day boundaries instead
    daily = [[ASOF - (8 - i) * DAY, c, c, c, c, 1.0] for i, c in enumerate(closes)]
    daily.append([ASOF, 1.0, 1.0, 1.0, 500.0, 1.0])  # today's bar: still forming at noon
    data = to_asset_data("ETH", {"ohlcv_1d": daily})
    m = compute_market(data, asof, TH)
    assert m.price == 88.0
    assert m.return_7d == pytest.approx(0.1)


def test_samples_after_asof_are_ignored() -> None:
    after = ASOF + HOUR
    m = market(
        oi_1h=[1e9] * 25,
        skew=[(ASOF - HOUR, -2.0)],
        liquidations=[(10.0, 10.0)] * 48,
        extra_rows={
            "oi_usd_1h": [[after, 9e9]],
            "skew_rr25_30d": [[after, -20.0]],
            "liquidations_1h": [[ASOF, 1e9, 1e9], [after, 1e9, 1e9]],
        },
    )
    assert m.oi_usd == 1e9
    assert m.oi_change_24h == pytest.approx(0.0)
    assert m.rr25_30d == -2.0
    assert m.liq_buckets == 48
    assert m.liq_long is not None and m.liq_long.liq_24h == pytest.approx(240.0)


def test_vol_expansion_over_a_flat_baseline() -> None:
    # the 60 baseline returns are all zero: any recent volatility is ≥ 1.5 × 0
    closes = closes_from_returns([0.0] * 60 + alternating(30, 0.01))
    m = market(closes_1d=closes)
    assert m.sigma_daily == pytest.approx(0.01 * math.sqrt(30 / 29), rel=1e-9)
    assert m.vol_expansion is True


# ---- SPEC v2 §2: daily fallbacks ------------------------------------------------------------


def test_price_change_falls_back_to_the_last_two_daily_closes() -> None:
    m = market(closes_1h=[100.0] * 24, closes_1d=[50.0, 200.0, 210.0])
    assert m.price == 100.0  # the hourly close still is the price
    assert m.price_change_24h == pytest.approx(210.0 / 200.0 - 1, rel=1e-12)
    assert m.daily_fallbacks == ("price_change_24h",)


def test_price_change_with_25_hourly_candles_ignores_the_daily_ones() -> None:
    m = market(closes_1h=[100.0] * 24 + [101.0], closes_1d=[50.0, 200.0])
    assert m.price_change_24h == pytest.approx(0.01, rel=1e-12)
    assert m.daily_fallbacks == ()


def test_price_change_unknown_with_one_daily_close_and_few_hourly() -> None:
    m = market(closes_1h=[100.0] * 24, closes_1d=[200.0])
    assert m.price_change_24h is None


def test_price_and_its_change_from_daily_candles_alone() -> None:
    m = market(closes_1d=[100.0, 104.0])
    assert (m.price, m.price_change_24h) == (104.0, pytest.approx(0.04))
    assert m.daily_fallbacks == ("price", "price_change_24h")


def test_oi_change_falls_back_to_the_last_two_daily_values() -> None:
    m = market(oi_1h=[1e9] * 10, oi_1d=[1e9, 1.1e9])
    assert m.oi_usd == 1e9  # the last hourly value
    assert m.oi_change_24h == pytest.approx(0.1)
    assert m.daily_fallbacks == ("oi_change_24h",)
    assert market(oi_1h=[1e9] * 10, oi_1d=[1.1e9]).oi_change_24h is None
    m = market(oi_1h=[1e9] * 24 + [1.02e9], oi_1d=[1e9, 2e9])
    assert m.oi_change_24h == pytest.approx(0.02)


# ---- SPEC v2 §1: staleness --------------------------------------------------------------------

H3, D3 = 3 * HOUR, 3 * DAY


@pytest.mark.parametrize(
    ("age", "stale"), [(H3 - 1, False), (H3, False), (H3 + 1, True), (30 * DAY, True)]
)
@pytest.mark.parametrize(
    ("series", "kwargs"),
    [
        ("ohlcv_1h", {"closes_1h": [100.0] * 25}),
        ("oi_usd_1h", {"oi_1h": [1e9] * 25}),
        ("liquidations_1h", {"liquidations": [(1.0, 1.0)] * 48}),
    ],
)
def test_hourly_series_go_stale_after_3_hours(
    series: str, kwargs: dict[str, object], age: int, stale: bool
) -> None:
    # the builders close the last bar at their `asof`: built at ASOF − age, read at ASOF
    data = asset_data("ETH", asof=ASOF - age, **kwargs)
    m = compute_market(data, ASOF, TH)
    assert (series in m.stale) is stale
    if stale:
        assert m.stale[series] == age
    known = {
        "ohlcv_1h": m.price_change_24h,
        "oi_usd_1h": m.oi_change_24h,
        "liquidations_1h": m.liq_long_24h_usd,
    }[series]
    assert (known is None) is stale


@pytest.mark.parametrize(("age", "stale"), [(D3 - 1, False), (D3, False), (D3 + 1, True)])
@pytest.mark.parametrize(
    ("series", "kwargs"),
    [("ohlcv_1d", {"closes_1d": walk(40)}), ("oi_usd_1d", {"oi_1d": [1e9] * 10})],
)
def test_daily_series_go_stale_after_3_days(
    series: str, kwargs: dict[str, object], age: int, stale: bool
) -> None:
    m = compute_market(asset_data("ETH", asof=ASOF - age, **kwargs), ASOF, TH)
    assert (series in m.stale) is stale
    known = m.sigma_daily if series == "ohlcv_1d" else m.oi_usd
    assert (known is None) is stale


@pytest.mark.parametrize(
    ("age", "stale"), [(24 * HOUR - 1, False), (24 * HOUR, False), (24 * HOUR + 1, True)]
)
def test_skew_goes_stale_after_24_hours(age: int, stale: bool) -> None:
    m = market(skew=[(ASOF - 30 * DAY, 1.0), (ASOF - age, -3.5)])
    assert ("skew_rr25_30d" in m.stale) is stale
    assert (m.rr25_30d is None) is stale
    if stale:
        assert m.stale["skew_rr25_30d"] == age
        assert m.rr25_30d_7d_change is None


@pytest.mark.parametrize(("age", "stale"), [(D3, False), (D3 + 1, True)])
def test_stale_funding_history_drops_out_and_the_current_rate_stands(
    age: int, stale: bool
) -> None:
    history = [(ASOF - age - 8 * HOUR, 0.0002), (ASOF - age, 0.0002)]
    m = market(funding=[venue("okx", 0.0001, history=history), venue("bybit", 0.0003)])
    assert ("funding.okx.history" in m.stale) is stale
    assert m.funding_8h == pytest.approx(0.0002)  # both current rates, equal OI
    # at exactly 3 days the history is fresh, but (T − 72h, T] holds none of it
    assert m.funding_8h_3d_avg is None


def test_a_stale_samples_age_is_counted_from_its_timestamp() -> None:
    m = market(skew=[(ASOF - 30 * HOUR, -3.0)])
    assert m.stale == {"skew_rr25_30d": 30 * HOUR}


def test_stale_hourly_candles_fall_back_to_fresh_daily_ones() -> None:
    data = to_asset_data(
        "ETH",
        {
            **asset_json_at(ASOF - 5 * HOUR, closes_1h=[100.0] * 25),
            "ohlcv_1d": asset_json_at(ASOF, closes_1d=[90.0, 99.0])["ohlcv_1d"],
        },
    )
    m = compute_market(data, ASOF, TH)
    assert m.stale == {"ohlcv_1h": 5 * HOUR}
    assert m.price == 99.0
    assert m.price_change_24h == pytest.approx(0.1)
    assert m.daily_fallbacks == ("price", "price_change_24h")


def test_bars_after_asof_are_cut_before_the_staleness_rule() -> None:
    # a fresh-looking bar that closes after asof does not rescue a stale series
    data = asset_data("ETH", asof=ASOF - 4 * HOUR, closes_1h=[100.0] * 25)
    late = asset_data("ETH", asof=ASOF + HOUR, closes_1h=[100.0])
    merged = to_asset_data(
        "ETH",
        {"ohlcv_1h": frame_rows(data.ohlcv_1h) + frame_rows(late.ohlcv_1h)},
    )
    m = compute_market(merged, ASOF, TH)
    assert m.stale == {"ohlcv_1h": 4 * HOUR}
    assert m.price is None


def asset_json_at(asof: int, **kwargs: object) -> dict[str, object]:
    """SPEC §6 JSON of one asset whose bars close at `asof`."""
    from tests.helpers.builders import asset_json

    return asset_json(asof=asof, **kwargs)  # type: ignore[arg-type]


def frame_rows(frame: object) -> list[list[float]]:
    """An OHLCV frame back into `[ts, o, h, l, c, v]` rows."""
    return [
        [int(ts), *map(float, row)] for ts, row in zip(frame.index, frame.to_numpy(), strict=True)
    ]  # type: ignore[attr-defined]
