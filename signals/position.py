"""Position check (SPEC §5) and the position's own verdict (SPEC §4); sizing from a risk."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from signals.derived import floor_tol, ge, gt, lt
from signals.flags import Flag, Side
from signals.thresholds import Thresholds

Verdict = Literal["proceed", "reduce", "wait"]
VERDICT_ORDER: dict[str, int] = {"proceed": 0, "reduce": 1, "wait": 2}
# Why the position has its verdict, most severe first (the headline names the first one)
PositionReason = Literal["liquidated_by_1sigma", "fails_10pct", "above_max_leverage"]


@dataclass(frozen=True)
class Position:
    """The position numbers for one side, leverage, entry and horizon (SPEC §5 and §7)."""

    liq_distance: float
    liq_price: float | None
    survives_10pct: bool
    move_1sigma: float | None
    move_2sigma: float | None
    survives_2sigma: bool | None
    max_leverage: int
    max_drawdown: float | None
    max_drawdown_margin: float | None
    reduce_level: float | None
    cut_level: float | None
    stop_distance: float | None
    stop_loss_margin: float | None
    stop_beyond_liq: bool | None
    reward_risk: float | None
    # why max_leverage was cut: the k multiplier and its causes
    k: float = 1.0
    k_cuts: tuple[str, ...] = ()
    stop: float | None = None
    target: float | None = None
    # "stop": reward ÷ the stop's risk; "sigma": the target's distance in 1σ moves (no stop)
    reward_risk_basis: Literal["stop", "sigma"] | None = None
    # which of the two the cut level is: the stop (nearer than 1σ) or the 1σ reduce level
    cut_at: Literal["stop", "reduce_level"] | None = None
    # SPEC §4: an ordinary (1σ) move — or 5% without sigma — reaches the liquidation price
    liquidated_by_1sigma: bool = False
    # the highest whole leverage whose position verdict is proceed here (None if none is)
    passing_leverage: int | None = None


@dataclass(frozen=True)
class Sizing:
    """SPEC §5 sizing: how big a position risks `risk_usd` at the cut distance."""

    account_usd: float | None
    risk_usd: float
    cut_distance: float
    size_usd: float
    size_base: float
    margin_usd: float
    # the fraction of the account given (`risk 1%`), None for a dollar amount
    risk_pct: float | None = None
    # what the cut distance is: the stop, the liquidation (a stop beyond it), or a 1σ move
    cut_basis: Literal["stop", "liquidation", "move_1sigma"] = "move_1sigma"
    # what the position loses if price reaches the cut level (None when that is unknown)
    loss_at_cut_level_usd: float | None = None

    @property
    def margin_exceeds_account(self) -> bool:
        """The margin this size needs is more than the whole account."""
        return self.account_usd is not None and self.margin_usd > self.account_usd


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
    target: float | None = None,
) -> Position:
    """Liquidation, survival tests, the stop and target numbers, and the three to write down."""
    liq_distance = 1 / leverage - mmr
    sign = -1.0 if side == "long" else 1.0
    liq_price = entry * (1 + sign * liq_distance) if entry is not None else None
    move_1sigma = sigma_daily * math.sqrt(horizon_days) if sigma_daily is not None else None
    move_2sigma = 2 * move_1sigma if move_1sigma is not None else None
    survives_2sigma = ge(liq_distance, move_2sigma) if move_2sigma is not None else None

    k, cuts = _k(flags, vol_expansion, th)
    move = max(th.survive_move, move_2sigma) if move_2sigma is not None else th.survive_move
    max_leverage = max(1, floor_tol(k / (move + mmr)))

    reduce_level = None
    if move_1sigma is not None and entry is not None:
        reduce_level = entry * (1 + sign * move_1sigma)

    stop_distance = stop_loss_margin = stop_beyond_liq = None
    if stop is not None and entry is not None:
        stop_distance = abs(entry - stop) / entry
        stop_loss_margin = min(1.0, stop_distance * leverage)
        stop_beyond_liq = ge(stop_distance, liq_distance)

    cut_level, cut_at = reduce_level, "reduce_level" if reduce_level is not None else None
    if stop_distance is not None and (move_1sigma is None or lt(stop_distance, move_1sigma)):
        cut_level, cut_at = stop, "stop"

    reward_risk, basis = _reward_risk(entry, stop, target, move_1sigma)
    liquidated = _liquidated_by_1sigma(liq_distance, move_1sigma, th)
    return Position(
        liq_distance=liq_distance,
        liq_price=liq_price,
        survives_10pct=ge(liq_distance, th.survive_move),
        move_1sigma=move_1sigma,
        move_2sigma=move_2sigma,
        survives_2sigma=survives_2sigma,
        max_leverage=max_leverage,
        max_drawdown=move_2sigma,
        max_drawdown_margin=min(1.0, move_2sigma * leverage) if move_2sigma is not None else None,
        reduce_level=reduce_level,
        cut_level=cut_level,
        stop_distance=stop_distance,
        stop_loss_margin=stop_loss_margin,
        stop_beyond_liq=stop_beyond_liq,
        reward_risk=reward_risk,
        k=k,
        k_cuts=cuts,
        stop=stop,
        target=target,
        reward_risk_basis=basis,
        cut_at=cut_at,  # type: ignore[arg-type]
        liquidated_by_1sigma=liquidated,
        passing_leverage=_passing_leverage(max_leverage, mmr, move_1sigma, th),
    )


def _k(
    flags: dict[str, Flag], vol_expansion: bool, th: Thresholds
) -> tuple[float, tuple[str, ...]]:
    """The max-leverage k: × 0.5 on liquidation caution or vol expansion, × 0.75 on funding."""
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
    return k, tuple(cuts)


def _reward_risk(
    entry: float | None, stop: float | None, target: float | None, move_1sigma: float | None
) -> tuple[float | None, Literal["stop", "sigma"] | None]:
    """|P − E| ÷ |E − S| with a stop; else the target's distance in 1σ moves (SPEC §5)."""
    if target is None or entry is None:
        return None, None
    if stop is not None:
        return abs(target - entry) / abs(entry - stop), "stop"
    if move_1sigma is None or move_1sigma == 0:
        return None, None
    return abs(target - entry) / entry / move_1sigma, "sigma"


def _liquidated_by_1sigma(liq_distance: float, move_1sigma: float | None, th: Thresholds) -> bool:
    """SPEC §4: liq_distance < move_1sigma, or < 0.05 when sigma is unknown."""
    limit = move_1sigma if move_1sigma is not None else th.wait_liq_distance_no_sigma
    return lt(liq_distance, limit)


def _passing_leverage(
    max_leverage: int, mmr: float, move_1sigma: float | None, th: Thresholds
) -> int | None:
    """The highest whole leverage ≤ max_leverage that the position verdict lets proceed."""
    for leverage in range(max_leverage, 0, -1):
        distance = 1 / leverage - mmr
        if ge(distance, th.survive_move) and not _liquidated_by_1sigma(distance, move_1sigma, th):
            return leverage
    return None


def position_verdict(
    position: Position, leverage: float
) -> tuple[Verdict, tuple[PositionReason, ...]]:
    """SPEC §4: wait when a 1σ move liquidates; reduce when it fails 10% or is above max."""
    reasons: list[PositionReason] = []
    if position.liquidated_by_1sigma:
        reasons.append("liquidated_by_1sigma")
    if not position.survives_10pct:
        reasons.append("fails_10pct")
    if gt(leverage, position.max_leverage):
        reasons.append("above_max_leverage")
    if position.liquidated_by_1sigma:
        return "wait", tuple(reasons)
    return ("reduce" if reasons else "proceed"), tuple(reasons)


def size_position(
    position: Position,
    leverage: float,
    entry: float | None,
    risk_usd: float,
    account_usd: float | None,
    risk_pct: float | None = None,
) -> Sizing | None:
    """SPEC §5 sizing; None when neither a stop nor sigma gives a cut distance (or no entry)."""
    if entry is None:
        return None
    if position.stop_distance is not None:
        beyond = position.stop_distance > position.liq_distance
        cut_distance = min(position.stop_distance, position.liq_distance)
        basis: Literal["stop", "liquidation", "move_1sigma"] = "liquidation" if beyond else "stop"
    elif position.move_1sigma is not None:
        cut_distance, basis = position.move_1sigma, "move_1sigma"
    else:
        return None
    if cut_distance <= 0:
        return None
    size_usd = risk_usd / cut_distance
    loss = None
    if position.cut_level is not None:
        # a cut level beyond the liquidation is never reached: the loss stops at the margin
        distance = min(abs(entry - position.cut_level) / entry, position.liq_distance)
        loss = size_usd * distance
    return Sizing(
        account_usd=account_usd,
        risk_usd=risk_usd,
        cut_distance=cut_distance,
        size_usd=size_usd,
        size_base=size_usd / entry,
        margin_usd=size_usd / leverage,
        risk_pct=risk_pct,
        cut_basis=basis,
        loss_at_cut_level_usd=loss,
    )
