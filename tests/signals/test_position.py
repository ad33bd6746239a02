"""SPEC §5 position check against hand-computed numbers."""

from __future__ import annotations

import math

import pytest

from signals.flags import Flag
from signals.position import Position, check_position
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


def test_stop_beyond_liquidation_long() -> None:
    # 5x long from 100: liquidation at 80.5
    assert pos("long", 5, entry=100.0, stop=80.0).stop_beyond_liq is True
    assert pos("long", 5, entry=100.0, stop=85.0).stop_beyond_liq is False


def test_stop_beyond_liquidation_short() -> None:
    # 5x short from 100: liquidation at 119.5
    assert pos("short", 5, entry=100.0, stop=120.0).stop_beyond_liq is True
    assert pos("short", 5, entry=100.0, stop=110.0).stop_beyond_liq is False


def test_no_stop_no_warning() -> None:
    assert not pos("long", 5, entry=100.0).stop_beyond_liq
