"""Grading (SPEC §4): flags + the two-and-three-flag rule + the position overlay."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from signals.derived import Market, compute_market
from signals.flags import Flag, Side, all_flags
from signals.idea import TradeIdea
from signals.market import AssetData, LiquidationCoverage
from signals.position import Position, check_position
from signals.thresholds import Thresholds

Verdict = Literal["proceed", "reduce", "wait"]
VERDICT_ORDER: dict[str, int] = {"proceed": 0, "reduce": 1, "wait": 2}


@dataclass(frozen=True)
class Grade:
    """One side's grade: flags, counts, verdicts and the position check."""

    side: Side
    leverage: float
    leverage_given: bool
    entry: float | None
    entry_given: bool
    horizon_days: float
    horizon_given: bool
    flags: dict[str, Flag]
    caution_count: int
    unknown_count: int
    flag_verdict: Verdict
    verdict: Verdict
    worst_case_verdict: Verdict
    # why the position check raised the verdict: "fails_10pct", "above_max_leverage"
    overlay: tuple[str, ...]
    position: Position

    @property
    def unknown_flags(self) -> tuple[str, ...]:
        """Names of the flags whose inputs were missing."""
        return tuple(name for name, f in self.flags.items() if f.status == "unknown")


@dataclass(frozen=True)
class CheckResult:
    """Everything one check computed, for every graded side."""

    asset: str
    asof: int
    stop: float | None
    market: Market
    grades: tuple[Grade, ...]
    mmr: float = 0.005
    venues_used: tuple[str, ...] = ()
    venues_failed: Mapping[str, str] = field(default_factory=dict)
    liq_coverage: LiquidationCoverage | None = None
    sources: Any = None

    @property
    def venues_down(self) -> tuple[str, ...]:
        """The venues that failed while this state was read."""
        return tuple(self.venues_failed)


def verdict_for(count: int, th: Thresholds) -> Verdict:
    """The two-and-three-flag rule: 3+ → wait, 2 → reduce, else proceed."""
    if count >= th.wait_at_flags:
        return "wait"
    if count >= th.reduce_at_flags:
        return "reduce"
    return "proceed"


def worse(a: Verdict, b: Verdict) -> Verdict:
    """The more cautious of two verdicts (proceed < reduce < wait)."""
    return a if VERDICT_ORDER[a] >= VERDICT_ORDER[b] else b


def _overlay(position: Position, leverage: float) -> tuple[str, ...]:
    """Why the position check would raise a proceed: fails 10%, leverage above max."""
    reasons: list[str] = []
    if not position.survives_10pct:
        reasons.append("fails_10pct")
    if leverage > position.max_leverage:
        reasons.append("above_max_leverage")
    return tuple(reasons)


def _with_overlay(flag_verdict: Verdict, overlay: tuple[str, ...]) -> Verdict:
    return "reduce" if flag_verdict == "proceed" and overlay else flag_verdict


def grade_side(
    market: Market,
    side: Side,
    idea: TradeIdea,
    mmr: float,
    th: Thresholds,
) -> Grade:
    """Grade one side of an idea against an already computed market."""
    flags = all_flags(market, side, th)
    caution = sum(1 for f in flags.values() if f.status == "caution")
    unknown = sum(1 for f in flags.values() if f.status == "unknown")
    entry = idea.entry if idea.entry is not None else market.price
    horizon = idea.horizon_days if idea.horizon_days is not None else th.default_horizon_days
    position = check_position(
        side,
        idea.leverage,
        entry,
        horizon,
        mmr,
        market.sigma_daily,
        market.vol_expansion,
        flags,
        th,
        stop=idea.stop,
    )
    flag_verdict = verdict_for(caution, th)
    overlay = _overlay(position, idea.leverage)
    verdict = _with_overlay(flag_verdict, overlay)
    # SPEC §4: the worst case counts every unknown flag as a caution; the position overlay
    # acts through the verdict (never milder than it), with max leverage as computed.
    worst = worse(verdict_for(caution + unknown, th), verdict)
    return Grade(
        side=side,
        leverage=idea.leverage,
        leverage_given=idea.leverage_given,
        entry=entry,
        entry_given=idea.entry is not None,
        horizon_days=horizon,
        horizon_given=idea.horizon_days is not None,
        flags=flags,
        caution_count=caution,
        unknown_count=unknown,
        flag_verdict=flag_verdict,
        verdict=verdict,
        worst_case_verdict=worst,
        overlay=overlay if verdict != flag_verdict else (),
        position=position,
    )


def grade_check(idea: TradeIdea, data: AssetData, asof: int, th: Thresholds) -> CheckResult:
    """Grade an idea (one side, or long then short) against one asset's data at `asof`."""
    market = compute_market(data, asof, th)
    grades = tuple(grade_side(market, side, idea, data.mmr, th) for side in idea.sides())
    return CheckResult(
        asset=data.asset,
        asof=asof,
        stop=idea.stop,
        market=market,
        grades=grades,
        mmr=data.mmr,
        venues_used=data.venues_used,
        venues_failed=dict(data.venues_failed),
        liq_coverage=data.liq_coverage,
        sources=data.sources,
    )
