"""Position survival check (SPEC §5): liquidation, the 10% and 2σ tests, max leverage."""

from __future__ import annotations

import math
from dataclasses import dataclass

from signals.derived import floor_tol, ge, gt, lt
from signals.flags import Flag, Side
from signals.thresholds import Thresholds


@dataclass(frozen=True)
class Position:
    """The position numbers for one side, leverage, entry and horizon."""

    liq_distance: float
    liq_price: float | None
    survives_10pct: bool
    move_2sigma: float | None
    survives_2sigma: bool | None
    max_leverage: int
    max_drawdown: float | None
    reduce_level: float | None
    # why max_leverage was cut: the k multiplier and its causes
    k: float = 1.0
    k_cuts: tuple[str, ...] = ()
    stop: float | None = None
    # the stop sits beyond the liquidation price: liquidation would come first
    stop_beyond_liq: bool | None = None
    # the stop sits on the profit side of the entry (only possible when entry was defaulted)
    stop_wrong_side: bool = False


def check_position(
    side: Side,
    leverage: float,
    entry: float | None,
    horizon_days: float,
    mmr: float,
    sigma_daily: float | None,
    vol_expansion: bool,
    flags: dict[str, Flag],
    th: Thresholds,
    stop: float | None = None,
) -> Position:
    """Liquidation price and distance, survival tests and the numbers to write down."""
    liq_distance = 1 / leverage - mmr
    sign = -1.0 if side == "long" else 1.0
    liq_price = entry * (1 + sign * liq_distance) if entry is not None else None
    move_2sigma = 2 * sigma_daily * math.sqrt(horizon_days) if sigma_daily is not None else None
    survives_2sigma = ge(liq_distance, move_2sigma) if move_2sigma is not None else None

    k = 1.0
    cuts: list[str] = []
    if flags["liquidations"].status == "caution" or vol_expansion:
        k *= th.k_cut_liq_or_vol
        if flags["liquidations"].status == "caution":
            cuts.append("liquidations")
        if vol_expansion:
            cuts.append("vol_expansion")
    if flags["funding"].status == "caution":
        k *= th.k_cut_funding
        cuts.append("funding")
    move = max(th.survive_move, move_2sigma) if move_2sigma is not None else th.survive_move
    max_leverage = max(1, floor_tol(k / (move + mmr)))

    reduce_level = None
    if sigma_daily is not None and entry is not None:
        reduce_level = entry * (1 + sign * sigma_daily * math.sqrt(horizon_days))

    stop_beyond_liq = None
    stop_wrong_side = False
    if stop is not None and entry is not None:
        stop_wrong_side = not (lt(stop, entry) if side == "long" else gt(stop, entry))
        if liq_price is not None:
            stop_beyond_liq = lt(stop, liq_price) if side == "long" else gt(stop, liq_price)

    return Position(
        liq_distance=liq_distance,
        liq_price=liq_price,
        survives_10pct=ge(liq_distance, th.survive_move),
        move_2sigma=move_2sigma,
        survives_2sigma=survives_2sigma,
        max_leverage=max_leverage,
        max_drawdown=move_2sigma,
        reduce_level=reduce_level,
        k=k,
        k_cuts=tuple(cuts),
        stop=stop,
        stop_beyond_liq=stop_beyond_liq,
        stop_wrong_side=stop_wrong_side,
    )
