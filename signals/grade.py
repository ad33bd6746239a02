"""Grading (SPEC §4): the flags' verdict, the position's verdict, the stricter of the two."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from signals.derived import Market, compute_market, ge, gt, lt
from signals.errors import ParseError
from signals.flags import Flag, Side, all_flags
from signals.idea import TradeIdea
from signals.market import AssetData, LiquidationCoverage, Origin
from signals.position import (
    VERDICT_ORDER,
    Position,
    PositionReason,
    Sizing,
    Verdict,
    check_position,
    position_verdict,
    size_position,
)
from signals.thresholds import Thresholds
from signals.track_line import TrackLine
from signals.words import IDEA_COMMAND, fmt

__all__ = [
    "VERDICT_ORDER",
    "CheckResult",
    "Grade",
    "Verdict",
    "grade_check",
    "grade_side",
    "verdict_for",
    "worse",
]


@dataclass(frozen=True)
class Grade:
    """One side's grade: flags, counts, the three verdicts and the position check."""

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
    flags_verdict: Verdict
    position_verdict: Verdict
    verdict: Verdict
    worst_case_verdict: Verdict
    # why the position has its verdict ("liquidated_by_1sigma", "fails_10pct",
    # "above_max_leverage"), most severe first; empty when it is proceed
    position_reasons: tuple[PositionReason, ...]
    position: Position
    sizing: Sizing | None = None
    # why a risk given did not size the position: "no_cut_distance" (no stop, no sigma)
    sizing_note: str | None = None
    # entry ÷ price − 1 when both are known; a limit entry lies beyond a 2σ move (SPEC §5)
    entry_offset: float | None = None
    limit_entry: bool = False
    # an idea with no side grades both; a stop or target that fits only the other side is
    # left out of this side's grade ("stop", "targets"), and the reply says so
    levels_left_out: tuple[str, ...] = ()

    @property
    def unknown_flags(self) -> tuple[str, ...]:
        """Names of the flags whose inputs were missing."""
        return tuple(name for name, f in self.flags.items() if f.status == "unknown")

    @property
    def caution_flags(self) -> tuple[str, ...]:
        """Names of the flags in caution."""
        return tuple(name for name, f in self.flags.items() if f.status == "caution")

    @property
    def position_decides(self) -> bool:
        """The position, not the flags, set the verdict (it is stricter than the flags')."""
        return VERDICT_ORDER[self.position_verdict] > VERDICT_ORDER[self.flags_verdict]


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
    target: float | None = None
    targets: tuple[float, ...] = ()
    idea: TradeIdea | None = None
    origin: Origin = "live"
    origin_name: str | None = None
    # side → the asset's one-line track record for this verdict (SPEC §9), when the daily job
    # has computed one (signals/track.py attaches it; the compact reply shows it)
    track: Mapping[str, TrackLine] = field(default_factory=dict)

    @property
    def venues_down(self) -> tuple[str, ...]:
        """The venues that failed while this state was read."""
        return tuple(self.venues_failed)

    @property
    def stale(self) -> Mapping[str, int]:
        """SPEC §7 `sources.stale`: series treated as missing → their age at asof (ms)."""
        return self.market.stale


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
    stop, targets, left_out = _levels_for(idea, side, entry)
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
        stop=stop,
        target=targets[0] if targets else None,
    )
    flags_verdict = verdict_for(caution, th)
    pos_verdict, reasons = position_verdict(position, idea.leverage)
    verdict = worse(flags_verdict, pos_verdict)
    # SPEC §4: the stricter of the position verdict and the flags with every unknown a caution
    worst = worse(verdict_for(caution + unknown, th), pos_verdict)
    sizing, note = _sizing(idea, position, entry)
    offset = None
    if idea.entry is not None and market.price:
        offset = idea.entry / market.price - 1
    yardstick = position.move_2sigma if position.move_2sigma is not None else th.survive_move
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
        flags_verdict=flags_verdict,
        position_verdict=pos_verdict,
        verdict=verdict,
        worst_case_verdict=worst,
        position_reasons=reasons,
        position=position,
        sizing=sizing,
        sizing_note=note,
        entry_offset=offset,
        limit_entry=offset is not None and gt(abs(offset), yardstick),
        levels_left_out=left_out,
    )


def _levels_for(
    idea: TradeIdea, side: Side, entry: float | None
) -> tuple[float | None, tuple[float, ...], tuple[str, ...]]:
    """The stop and targets that fit this side; with a side named, they all do (checked)."""
    if idea.side is not None or entry is None:
        return idea.stop, idea.targets, ()
    long = side == "long"
    stop = idea.stop
    left_out: list[str] = []
    if stop is not None and ((stop > entry) if long else (stop < entry)):
        stop = None
        left_out.append("stop")
    targets = tuple(t for t in idea.targets if ((t > entry) if long else (t < entry)))
    if len(targets) < len(idea.targets):
        left_out.append("targets")
    return stop, targets, tuple(left_out)


def _sizing(
    idea: TradeIdea, position: Position, entry: float | None
) -> tuple[Sizing | None, str | None]:
    """SPEC §5 sizing from the idea's risk (and account); None without a risk."""
    risk_usd = idea.risk_usd
    if risk_usd is None and idea.risk_pct is not None and idea.account_usd is not None:
        risk_usd = idea.risk_pct * idea.account_usd
    if risk_usd is None:
        return None, None
    sizing = size_position(
        position, idea.leverage, entry, risk_usd, idea.account_usd, idea.risk_pct
    )
    if sizing is not None:
        return sizing, None
    return None, ("no_entry" if entry is None else "no_cut_distance")


def grade_check(
    idea: TradeIdea,
    data: AssetData,
    asof: int,
    th: Thresholds,
    market: Market | None = None,
) -> CheckResult:
    """Grade an idea (one side, or long then short) against one asset's data at `asof`.

    `market` is `compute_market(data, asof, th)` when the caller already has it (it does
    not depend on the idea: every check of one market state shares it).

    Raises ParseError for the bad inputs only the data reveals (SPEC §5): an entry far from
    the price, a leverage with no room before liquidation at the asset's mmr, a stop or a
    target on the wrong side of a price-defaulted entry, a risk % with no account.
    """
    if market is None:
        market = compute_market(data, asof, th)
    check_against_market(idea, market, data.mmr, th)
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
        target=idea.target,
        targets=idea.targets,
        idea=idea,
        origin=data.origin,
        origin_name=data.origin_name,
    )


# ---- bad input only the data can reveal (SPEC §5) ---------------------------------------------


def check_against_market(idea: TradeIdea, market: Market, mmr: float, th: Thresholds) -> None:
    """Raise ParseError for bad input that only the data (price, mmr) reveals (SPEC §5)."""
    price = market.price
    if idea.entry is not None and price is not None:
        _check_entry(idea, idea.entry, price, th)
    if mmr > 0 and ge(idea.leverage, 1 / mmr):
        raise _bad(
            f"leverage {fmt(idea.leverage)}x leaves no room before liquidation: at {idea.asset}'s"
            f" maintenance margin {fmt(mmr * 100)}% it must stay below {fmt(1 / mmr)}x",
            f"{idea.asset} {idea.side or 'long'} {_safe_leverage(mmr, th)}x",
        )
    if idea.risk_pct is not None and idea.account_usd is None:
        pct = fmt(idea.risk_pct * 100)
        raise _bad(
            f"risk {pct}% needs an account to be a dollar amount: add acct 10k, or risk $200",
            f"{idea.asset} {idea.side or 'long'} {fmt(idea.leverage)}x risk {pct}% acct 10k",
        )
    entry = idea.entry if idea.entry is not None else price
    if entry is None:
        return
    if idea.side is not None:
        _check_levels(idea, idea.side, entry, price)
        return
    # no side: both are graded, each with the levels that fit it; a level on the entry fits none
    for level, word in [(idea.stop, "stop"), *((t, "target") for t in idea.targets)]:
        if level is not None and level == entry:
            raise _bad(
                f"{word} {money(level)} equals {_at(idea, entry, price)}",
                f"{idea.asset} long {fmt(idea.leverage)}x stop {_typed(entry * 0.95)}",
            )


def _safe_leverage(mmr: float, th: Thresholds) -> int:
    """A leverage that survives the 10% test at this mmr, for the example."""
    return max(1, math.floor(1 / (th.survive_move + mmr)))


def _check_entry(idea: TradeIdea, entry: float, price: float, th: Thresholds) -> None:
    offset = entry / price - 1
    if not (lt(offset, -th.entry_below_price_max) or gt(offset, th.entry_above_price_max)):
        return
    where = "below" if offset < 0 else "above"
    share = abs(offset) * 100
    limit = (th.entry_below_price_max if offset < 0 else th.entry_above_price_max) * 100
    # just past the limit, a rounded share would read as the limit itself ("50% below")
    shown = f"{share:,.0f}" if round(share) != round(limit) else f"{share:,.2f}"
    raise _bad(
        f"entry {money(entry)} is {shown}% {where} the price {money(price)}:"
        f" almost surely a typo (an entry lies within −{th.entry_below_price_max:.0%}"
        f" to +{th.entry_above_price_max:.0%} of the price)",
        f"{idea.asset} {idea.side or 'long'} {fmt(idea.leverage)}x @ {_typed(price)}",
    )


def _check_levels(idea: TradeIdea, side: Side, entry: float, price: float | None) -> None:
    """SPEC §5: the stop on the loss side and every target on the profit side of the entry."""
    long = side == "long"
    at = _at(idea, entry, price)
    stop = idea.stop
    if stop is not None:
        if stop == entry:
            raise _bad(_equal_stop(idea, price), _example(idea, side, "stop", entry, 0.95))
        if (stop > entry) if long else (stop < entry):
            where = "below" if long else "above"
            raise _bad(
                f"stop {money(stop)} is on the wrong side of {at}:"
                f" a {side}'s stop goes {where} it",
                _example(idea, side, "stop", entry, 0.95),
            )
    for target in idea.targets:
        if (target <= entry) if long else (target >= entry):
            where = "above" if long else "below"
            raise _bad(
                f"target {money(target)} is on the wrong side of {at}: a {side}'s target goes"
                f" {where} it",
                _example(idea, side, "tp", entry, 1.1),
            )


def _at(idea: TradeIdea, entry: float, price: float | None) -> str:
    if idea.entry is None and price is not None:
        return f"the price {money(price)} (the entry, with no @)"
    return f"the entry {money(entry)}"


def _equal_stop(idea: TradeIdea, price: float | None) -> str:
    stop = money(idea.stop or 0)
    if idea.entry is None and price is not None:
        return f"stop {stop} equals the price {money(price)} (the entry, with no @)"
    return f"stop {stop} equals the entry"


def _example(idea: TradeIdea, side: Side, word: str, entry: float, factor: float) -> str:
    """An example with the level on the right side: `ETH long 5x stop 3050`."""
    level = entry * (factor if side == "long" else 2 - factor)
    return f"{idea.asset} {side} {fmt(idea.leverage)}x {word} {_typed(level)}"


def _bad(reason: str, example: str) -> ParseError:
    return ParseError(reason, example, command=IDEA_COMMAND)


def _typed(value: float) -> str:
    """A price as a trader would type it, three significant digits: 3049.5 → 3050."""
    if value <= 0:
        return "0"
    digits = max(0, 2 - math.floor(math.log10(value)))
    return f"{round(value, digits):.{digits}f}"


def money(value: float) -> str:
    """A price in dollars, with decimals that suit its size: $3,210.00, $171.23, $0.21453."""
    v = abs(value)
    if v >= 10:
        text = f"{v:,.2f}"
    elif v >= 1:
        text = f"{v:,.3f}"
    elif v == 0:
        text = "0"
    else:
        text = f"{v:.{min(10, 4 - math.floor(math.log10(v)))}f}"
    return ("−$" if value < 0 else "$") + text
