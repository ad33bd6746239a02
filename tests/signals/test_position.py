"""SPEC §5 position check against hand-computed numbers."""

from __future__ import annotations

import math

import pytest

from signals.flags import Flag
from signals.position import Position, check_position, position_verdict, size_position
from signals.thresholds import Thresholds

TH = Thresholds()
MMR = 0.005


def flags(liquidations: str = "clear", funding: str = "clear") -> dict[str, Flag]:
    """A flag set with the two flags the position check reads set as given."""
    return {
        "open_interest": Flag("open_interest", "clear"),
        "funding": Flag("funding", funding),  # type: ignore[arg-type]
        "liquidations": Flag("liquidations", liquidations),  # type: ignore[arg-type]
        "skew": Flag("skew", "clear"),
    }


def pos(
    side: str = "long",
    leverage: float = 5.0,
    entry: float | None = 100.0,
    horizon: float = 7.0,
    sigma: float | None = 0.02,
    vol_expansion: bool = False,
    mmr: float = MMR,
    stop: float | None = None,
    target: float | None = None,
    **flag_status: str,
) -> Position:
    """check_position with SPEC defaults for everything not given."""
    return check_position(
        side,  # type: ignore[arg-type]
        leverage,
        entry,
        horizon,
        mmr,
        sigma,
        vol_expansion,
        flags(**flag_status),
        TH,
        stop=stop,
        target=target,
    )


# ---- liquidation distance and price -------------------------------------------------------


def test_5x_long_mmr_half_percent() -> None:
    p = pos("long", 5, entry=3000.0)
    assert p.liq_distance == pytest.approx(0.195, rel=1e-12)
    assert p.liq_price == pytest.approx(3000.0 * 0.805, rel=1e-12)
    assert p.survives_10pct is True


def test_5x_short_mirrored() -> None:
    p = pos("short", 5, entry=3000.0)
    assert p.liq_distance == pytest.approx(0.195, rel=1e-12)
    assert p.liq_price == pytest.approx(3000.0 * 1.195, rel=1e-12)


@pytest.mark.parametrize(
    ("leverage", "mmr", "distance"),
    [(1, 0.005, 0.995), (2.5, 0.005, 0.395), (10, 0.005, 0.095), (125, 0.005, 0.003),
     (20, 0.01, 0.04), (3, 0.0, 1 / 3)],
)  # fmt: skip
def test_liq_distance_is_one_over_leverage_minus_mmr(
    leverage: float, mmr: float, distance: float
) -> None:
    long = pos("long", leverage, entry=200.0, mmr=mmr)
    short = pos("short", leverage, entry=200.0, mmr=mmr)
    assert long.liq_distance == pytest.approx(distance, rel=1e-12)
    assert long.liq_price == pytest.approx(200.0 * (1 - distance), rel=1e-12)
    assert short.liq_price == pytest.approx(200.0 * (1 + distance), rel=1e-12)


@pytest.mark.parametrize(
    ("leverage", "survives"),
    [(9.0, True), (1 / 0.105, True), (9.6, False), (10.0, False), (2.0, True)],
)
def test_survives_10pct_around_the_threshold(leverage: float, survives: bool) -> None:
    # 1/L − 0.005 ≥ 0.10  ⇔  L ≤ 1/0.105 ≈ 9.5238
    assert pos("long", leverage).survives_10pct is survives
    assert pos("short", leverage).survives_10pct is survives


# ---- 2σ test, drawdown and reduce level ---------------------------------------------------


def test_move_2sigma_and_survival() -> None:
    p = pos("long", 5, sigma=0.02, horizon=7)
    move = 2 * 0.02 * math.sqrt(7)  # 0.105830
    assert p.move_2sigma == pytest.approx(move, rel=1e-12)
    assert p.max_drawdown == pytest.approx(move, rel=1e-12)
    assert p.survives_2sigma is True
    assert pos("long", 9, sigma=0.02).survives_2sigma is True  # 0.10611 ≥ 0.10583
    assert pos("long", 9.5, sigma=0.02).survives_2sigma is False  # 0.10026 < 0.10583


def test_survives_2sigma_at_exact_equality() -> None:
    # horizon 3, sigma chosen so 2σ√3 equals the 5x distance 0.195
    sigma = 0.195 / (2 * math.sqrt(3))
    assert pos("long", 5, sigma=sigma, horizon=3).survives_2sigma is True
    assert pos("long", 5, sigma=sigma * 1.001, horizon=3).survives_2sigma is False


def test_move_2sigma_scales_with_horizon() -> None:
    p = pos("short", 3, sigma=0.04, horizon=1)
    assert p.move_2sigma == pytest.approx(0.08)
    p = pos("short", 3, sigma=0.04, horizon=16)
    assert p.move_2sigma == pytest.approx(0.32)


def test_reduce_level_long_and_short() -> None:
    one_sigma = 0.02 * math.sqrt(7)
    assert pos("long", 5, entry=3000.0).reduce_level == pytest.approx(3000 * (1 - one_sigma))
    assert pos("short", 5, entry=3000.0).reduce_level == pytest.approx(3000 * (1 + one_sigma))
    assert pos("long", 5, entry=50.0, sigma=0.05, horizon=4).reduce_level == pytest.approx(45.0)
    assert pos("short", 5, entry=50.0, sigma=0.05, horizon=4).reduce_level == pytest.approx(55.0)


def test_sigma_unknown_leaves_the_volatility_numbers_null() -> None:
    p = pos("long", 5, sigma=None)
    assert p.move_2sigma is None
    assert p.survives_2sigma is None
    assert p.max_drawdown is None
    assert p.reduce_level is None
    assert p.liq_distance == pytest.approx(0.195)
    assert p.survives_10pct is True


# ---- max leverage -------------------------------------------------------------------------


def expected_max_leverage(k: float, sigma: float | None, horizon: float = 7.0) -> int:
    """SPEC §5 written out independently."""
    move = 0.10 if sigma is None else max(0.10, 2 * sigma * math.sqrt(horizon))
    return max(1, math.floor(k / (move + MMR)))


@pytest.mark.parametrize(
    ("kwargs", "k"),
    [
        ({}, 1.0),
        ({"liquidations": "caution"}, 0.5),
        ({"vol_expansion": True}, 0.5),
        ({"liquidations": "caution", "vol_expansion": True}, 0.5),  # one cut for either
        ({"funding": "caution"}, 0.75),
        ({"liquidations": "caution", "funding": "caution"}, 0.375),
        ({"vol_expansion": True, "funding": "caution"}, 0.375),
        ({"liquidations": "unknown", "funding": "unknown"}, 1.0),  # only caution cuts
    ],
)
@pytest.mark.parametrize("sigma", [0.02, 0.005, 0.06, None])
def test_max_leverage_with_k_cuts(
    kwargs: dict[str, object], k: float, sigma: float | None
) -> None:
    p = pos("long", 5, sigma=sigma, **kwargs)  # type: ignore[arg-type]
    assert p.max_leverage == expected_max_leverage(k, sigma)
    assert pos("short", 5, sigma=sigma, **kwargs).max_leverage == p.max_leverage  # type: ignore[arg-type]


def test_max_leverage_hand_computed_values() -> None:
    # sigma 2%, 7 days: 2σ√7 = 0.10583; + mmr = 0.11083
    assert pos(sigma=0.02).max_leverage == 9  # 1 / 0.11083 = 9.02
    assert pos(sigma=0.02, liquidations="caution").max_leverage == 4  # 4.51
    assert pos(sigma=0.02, funding="caution").max_leverage == 6  # 6.77
    assert pos(sigma=0.02, liquidations="caution", funding="caution").max_leverage == 3  # 3.38
    # sigma unknown: 0.10 alone → 1 / 0.105 = 9.52
    assert pos(sigma=None).max_leverage == 9
    assert pos(sigma=None, funding="caution", vol_expansion=True).max_leverage == 3  # 3.57
    # small sigma: the 10% floor applies
    assert pos(sigma=0.001).max_leverage == 9
    # huge sigma: never below 1
    assert pos(sigma=0.5).max_leverage == 1


def test_max_leverage_exactly_on_an_integer_is_not_floored_below_it() -> None:
    # 2σ√7 = 0.195, + mmr = 0.2 → 1 / 0.2 = 5 exactly (computed with rounding noise)
    sigma = 0.195 / (2 * math.sqrt(7))
    assert pos(sigma=sigma).max_leverage == 5
    # k 0.5 over 0.125 (2σ√h = 0.12) → 4
    sigma = 0.12 / (2 * math.sqrt(7))
    assert pos(sigma=sigma, liquidations="caution").max_leverage == 4


def test_max_leverage_with_other_mmr() -> None:
    p = pos(sigma=None, mmr=0.02)
    assert p.max_leverage == 8  # 1 / 0.12 = 8.33


# ---- stop ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "stop", "beyond"),
    [
        ("long", 80.0, True),
        ("long", 80.5, True),  # SPEC v2: stop_distance ≥ liq_distance, so "at" is beyond
        ("long", 80.51, False),
        ("long", 85.0, False),
        ("short", 120.0, True),
        ("short", 119.5, True),
        ("short", 119.49, False),
        ("short", 110.0, False),
    ],
)
def test_stop_beyond_liquidation_below_at_above(side: str, stop: float, beyond: bool) -> None:
    # 5x from 100: liquidation 19.5% away, at 80.5 (long) / 119.5 (short)
    assert pos(side, 5, entry=100.0, stop=stop).stop_beyond_liq is beyond


def test_no_stop_leaves_the_stop_numbers_null() -> None:
    p = pos("long", 5, entry=100.0)
    assert (p.stop_distance, p.stop_loss_margin, p.stop_beyond_liq) == (None, None, None)


# ---- SPEC v2: move_1sigma, the margin a 2σ move costs, stop numbers, cut level -------------


def test_move_1sigma_and_max_drawdown_margin() -> None:
    p = pos("long", 5, sigma=0.026, horizon=7)
    one = 0.026 * math.sqrt(7)
    assert p.move_1sigma == pytest.approx(one, rel=1e-12)
    assert p.move_2sigma == pytest.approx(2 * one, rel=1e-12)
    assert p.max_drawdown_margin == pytest.approx(2 * one * 5, rel=1e-12)  # ≈ 0.688


@pytest.mark.parametrize(
    ("leverage", "margin"),
    [(1.0, 0.1), (5.0, 0.5), (9.999, 0.9999), (10.0, 1.0), (10.001, 1.0), (125.0, 1.0)],
)
def test_max_drawdown_margin_is_capped_at_the_whole_margin(leverage: float, margin: float) -> None:
    # sigma chosen so that the 2σ move over 1 day is exactly 10%
    p = pos("long", leverage, sigma=0.05, horizon=1)
    assert p.max_drawdown_margin == pytest.approx(margin, rel=1e-9)


def test_stop_distance_and_the_margin_it_costs() -> None:
    p = pos("long", 5, entry=3000.0, stop=2900.0)
    assert p.stop_distance == pytest.approx(100 / 3000, rel=1e-12)
    assert p.stop_loss_margin == pytest.approx(5 * 100 / 3000, rel=1e-12)
    p = pos("short", 20, entry=3000.0, stop=3300.0)
    assert p.stop_distance == pytest.approx(0.1)
    assert p.stop_loss_margin == 1.0  # capped: 20 × 10% is the whole margin twice over


@pytest.mark.parametrize(
    ("stop", "cut", "at"),
    [
        (97.0, 97.0, "stop"),  # 3% < 1σ 5%: the stop is the cut level
        (95.0001, 95.0001, "stop"),  # just inside 1σ
        (95.0, 95.0, "reduce_level"),  # exactly 1σ: not nearer, the 1σ level stands
        (94.0, 95.0, "reduce_level"),  # beyond 1σ
    ],
)
def test_cut_level_is_a_stop_nearer_than_1sigma_else_the_reduce_level(
    stop: float, cut: float, at: str
) -> None:
    # sigma 5% a day over 1 day: 1σ = 5%, reduce level 95 for a long from 100
    p = pos("long", 3, entry=100.0, sigma=0.05, horizon=1, stop=stop)
    assert p.reduce_level == pytest.approx(95.0)
    assert p.cut_level == pytest.approx(cut)
    assert p.cut_at == at


def test_cut_level_for_a_short_mirrors() -> None:
    p = pos("short", 3, entry=100.0, sigma=0.05, horizon=1, stop=103.0)
    assert (p.cut_level, p.cut_at) == (103.0, "stop")
    p = pos("short", 3, entry=100.0, sigma=0.05, horizon=1, stop=108.0)
    assert p.cut_level == pytest.approx(105.0)


def test_cut_level_without_sigma_is_the_stop_or_unknown() -> None:
    assert pos("long", 3, entry=100.0, sigma=None, stop=90.0).cut_level == 90.0
    assert pos("long", 3, entry=100.0, sigma=None).cut_level is None


def test_reward_risk_with_a_stop() -> None:
    p = pos("long", 3, entry=100.0, stop=95.0, target=115.0)
    assert p.reward_risk == pytest.approx(3.0)
    assert p.reward_risk_basis == "stop"
    p = pos("short", 3, entry=100.0, stop=104.0, target=90.0)
    assert p.reward_risk == pytest.approx(2.5)


def test_reward_risk_without_a_stop_is_in_1sigma_moves() -> None:
    # target 10% away, 1σ over 1 day = 5% → 2 moves
    p = pos("long", 3, entry=100.0, sigma=0.05, horizon=1, target=110.0)
    assert p.reward_risk == pytest.approx(2.0)
    assert p.reward_risk_basis == "sigma"
    assert pos("long", 3, entry=100.0, sigma=None, target=110.0).reward_risk is None
    assert pos("long", 3, entry=100.0).reward_risk is None


# ---- SPEC §4: the position verdict -------------------------------------------------------


def verdict(**kwargs: object) -> tuple[str, tuple[str, ...]]:
    """position_verdict of `pos(**kwargs)` at the leverage given."""
    leverage = float(kwargs.get("leverage", 5.0))  # type: ignore[arg-type]
    return position_verdict(pos(**kwargs), leverage)  # type: ignore[arg-type]


@pytest.mark.parametrize("side", ["long", "short"])
@pytest.mark.parametrize(
    ("move", "expected"),
    [(0.0949, "reduce"), (0.095, "reduce"), (0.0951, "wait")],
)
def test_wait_when_a_1sigma_move_reaches_the_liquidation(
    side: str, move: float, expected: str
) -> None:
    # 10x: liq_distance 0.095 (fails the 10% test: reduce at least); 1σ over 1 day = `move`
    got, reasons = verdict(side=side, leverage=10.0, sigma=move, horizon=1)
    assert got == expected
    assert ("liquidated_by_1sigma" in reasons) is (expected == "wait")


@pytest.mark.parametrize("side", ["long", "short"])
@pytest.mark.parametrize(
    ("leverage", "expected"),
    # liq_distance = 1/L − 0.005: 0.0499 (below 5%), 0.05 (at), 0.0501 (above); the 5% rows
    # still fail the 10% test, so they reduce
    [(1 / 0.0549, "wait"), (1 / 0.055, "reduce"), (1 / 0.0551, "reduce")],
)
def test_wait_without_sigma_when_liquidation_is_under_5pct(
    side: str, leverage: float, expected: str
) -> None:
    p = pos(side, leverage, sigma=None)
    assert position_verdict(p, leverage)[0] == expected


def test_reduce_when_the_10pct_test_fails_or_leverage_is_above_max() -> None:
    # sigma 1%/day: 2σ over 7d = 5.3%, the 10% floor sets max leverage floor(1/0.105) = 9
    assert verdict(leverage=9.0, sigma=0.01) == ("proceed", ())
    assert verdict(leverage=9.5, sigma=0.01) == ("reduce", ("above_max_leverage",))
    assert verdict(leverage=10.0, sigma=0.01) == (
        "reduce",
        ("fails_10pct", "above_max_leverage"),
    )


def test_passing_leverage_is_the_highest_that_proceeds() -> None:
    assert pos(leverage=125.0, sigma=0.026).passing_leverage == pos(sigma=0.026).max_leverage
    p = pos(leverage=125.0, sigma=0.026, liquidations="caution")
    assert p.passing_leverage == p.max_leverage
    passing = float(p.passing_leverage or 0)
    assert (
        position_verdict(pos(leverage=passing, sigma=0.026, liquidations="caution"), passing)[0]
        == "proceed"
    )
    # a market where even 1x is liquidated by a 1σ move: nothing passes
    assert pos(sigma=0.5, horizon=7).passing_leverage is None


# ---- SPEC §5 sizing ----------------------------------------------------------------------


def test_sizing_with_a_stop_uses_the_stop_distance() -> None:
    p = pos("long", 5, entry=3000.0, stop=2900.0)
    s = size_position(p, 5.0, 3000.0, risk_usd=100.0, account_usd=10_000.0, risk_pct=0.01)
    assert s is not None
    assert s.cut_distance == pytest.approx(100 / 3000)
    assert s.size_usd == pytest.approx(100 / (100 / 3000))  # $3,000
    assert s.margin_usd == pytest.approx(3000 / 5)
    assert s.size_base == pytest.approx(1.0)
    assert s.cut_basis == "stop"
    assert s.margin_exceeds_account is False


def test_sizing_with_a_stop_beyond_liquidation_uses_the_liquidation_distance() -> None:
    p = pos("long", 10, entry=100.0, stop=80.0)  # liq 9.5% away, stop 20%
    s = size_position(p, 10.0, 100.0, risk_usd=95.0, account_usd=None)
    assert s is not None
    assert s.cut_distance == pytest.approx(0.095)
    assert s.size_usd == pytest.approx(1000.0)
    assert s.cut_basis == "liquidation"


def test_sizing_without_a_stop_uses_move_1sigma() -> None:
    p = pos("short", 2, entry=50.0, sigma=0.05, horizon=4)  # 1σ over 4d = 10%
    s = size_position(p, 2.0, 50.0, risk_usd=200.0, account_usd=1000.0)
    assert s is not None
    assert s.cut_distance == pytest.approx(0.1)
    assert s.size_usd == pytest.approx(2000.0)
    assert s.size_base == pytest.approx(40.0)
    assert s.margin_usd == pytest.approx(1000.0)
    assert s.margin_exceeds_account is False  # exactly the account: not more
    s = size_position(p, 2.0, 50.0, risk_usd=200.01, account_usd=1000.0)
    assert s is not None and s.margin_exceeds_account is True


def test_sizing_is_null_without_a_stop_and_without_sigma() -> None:
    p = pos("long", 3, entry=100.0, sigma=None)
    assert size_position(p, 3.0, 100.0, risk_usd=100.0, account_usd=None) is None
    p = pos("long", 3, entry=100.0, sigma=None, stop=90.0)
    s = size_position(p, 3.0, 100.0, risk_usd=100.0, account_usd=None)
    assert s is not None and s.size_usd == pytest.approx(1000.0)


def test_loss_at_a_cut_level_beyond_liquidation_stops_at_the_margin() -> None:
    # 20x: liquidation 4.5% away, 1σ 6.88%: the cut level is never reached
    p = pos("long", 20, entry=100.0, sigma=0.026, stop=80.0)
    s = size_position(p, 20.0, 100.0, risk_usd=45.0, account_usd=None)
    assert s is not None
    assert s.cut_distance == pytest.approx(0.045)
    assert s.loss_at_cut_level_usd == pytest.approx(45.0)
