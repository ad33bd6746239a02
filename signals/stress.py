"""Stress level per side and the alert state machine behind stress-warning subscriptions.

A side is calm with at most one caution flag, elevated with two and under stress with three
or more (the two-and-three-flag rule). An escalation to stress alerts at once; any other
level change must hold for two consecutive polls before it is announced, so a flag that
flickers around its threshold does not spam subscribers.

Missing data is never read as calm. A flag that turns `unknown` holds its last known state
(caution or clear), so a level only falls on flags known to have cleared; while the level
rests on held flags, or nothing is known at all, the side is *blind*: no fall is announced,
and after a long gap subscribers get one "data unavailable" notice (and a "data back" one
when it returns), never an all-clear. Pure: no I/O, no clock (times are passed in).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from signals.grade import verdict_for
from signals.thresholds import Thresholds

Level = Literal["calm", "elevated", "stress"]
AlertKind = Literal["stress", "elevated", "eased", "all_clear", "data_unavailable", "data_back"]

LEVELS: tuple[Level, ...] = ("calm", "elevated", "stress")
SIDES: tuple[str, ...] = ("long", "short")
FLAG_ORDER: tuple[str, ...] = ("open_interest", "funding", "liquidations", "skew")
DEFAULT_THRESHOLDS = Thresholds()
_LEVEL_OF_VERDICT: dict[str, Level] = {"proceed": "calm", "reduce": "elevated", "wait": "stress"}
# a non-stress change is announced only after it has been seen on this many polls in a row
CONFIRM_POLLS = 2


class _Grade(Protocol):
    @property
    def side(self) -> str: ...
    @property
    def flags(self) -> Mapping[str, Any]: ...


class _Result(Protocol):
    @property
    def grades(self) -> Sequence[Any]: ...


@dataclass(frozen=True)
class SideStress:
    """The stress of one side of one asset at one poll."""

    side: str
    level: Level
    caution_flags: tuple[str, ...]
    unknown_flags: tuple[str, ...]
    # None: every flag of FLAG_ORDER neither in caution nor unknown (the grade's own list
    # when built by side_stress); a detail of the two above, so not part of equality
    clear_flags: tuple[str, ...] | None = field(default=None, compare=False)

    @property
    def caution_count(self) -> int:
        """How many flags are in caution."""
        return len(self.caution_flags)

    @property
    def clear(self) -> tuple[str, ...]:
        """The flags known to be clear at this poll."""
        if self.clear_flags is not None:
            return self.clear_flags
        return tuple(f for f in FLAG_ORDER if f not in self.caution_flags + self.unknown_flags)

    @property
    def known(self) -> bool:
        """True when at least one flag is known (caution or clear) at this poll."""
        return bool(self.caution_flags or self.clear)


@dataclass(frozen=True)
class Observation:
    """What the watcher holds for one side: its level, for how many polls in a row, and why.

    `caution_flags` and `clear_flags` are each flag's last known state (a flag unknown at
    the latest poll keeps the state it had). `blind_since_ms` is set while the level rests
    on such held flags, or nothing is known at all; `gap_notified` once subscribers were
    told the data is unavailable.
    """

    level: Level
    streak: int
    caution_flags: tuple[str, ...]
    # the flags last known clear: what a held flag falls back to, not part of equality
    clear_flags: tuple[str, ...] = field(default=(), compare=False)
    blind_since_ms: int | None = None
    gap_notified: bool = False


@dataclass(frozen=True)
class Alert:
    """A level change worth telling one subscriber about."""

    side: str
    kind: AlertKind
    old_level: Level
    new_level: Level
    caution_flags: tuple[str, ...]
    flags_added: tuple[str, ...]
    flags_removed: tuple[str, ...]
    # data_unavailable / data_back: since when the side has been blind
    since_ms: int | None = None


def level_for(caution_count: int, th: Thresholds = DEFAULT_THRESHOLDS) -> Level:
    """The stress level for a number of caution flags: the verdict rule, in a market's words."""
    return _LEVEL_OF_VERDICT[verdict_for(caution_count, th)]


def level_rank(level: str) -> int:
    """Order of levels: calm 0 < elevated 1 < stress 2."""
    return LEVELS.index(level)  # type: ignore[arg-type]


def side_stress(grade: _Grade, th: Thresholds = DEFAULT_THRESHOLDS) -> SideStress:
    """The stress of the side one grade is for, from its flags (unknown ones count for nothing)."""
    caution = _ordered(name for name, flag in grade.flags.items() if flag.status == "caution")
    unknown = _ordered(name for name, flag in grade.flags.items() if flag.status == "unknown")
    clear = _ordered(name for name, flag in grade.flags.items() if flag.status == "clear")
    return SideStress(
        side=grade.side,
        level=level_for(len(caution), th),
        caution_flags=caution,
        unknown_flags=unknown,
        clear_flags=clear,
    )


def stress_by_side(result: _Result, th: Thresholds = DEFAULT_THRESHOLDS) -> dict[str, SideStress]:
    """Stress per graded side of a check result, keyed `long` / `short`."""
    return {g.side: side_stress(g, th) for g in result.grades}


def regime(stresses: Mapping[str, SideStress]) -> Level:
    """The regime label of an asset: the level of its worse side."""
    if not stresses:
        return "calm"
    return max((s.level for s in stresses.values()), key=level_rank)


def observe(
    previous: Observation | None,
    current: SideStress,
    polled_ms: int = 0,
    th: Thresholds = DEFAULT_THRESHOLDS,
) -> Observation:
    """Fold one poll into a side's observation; unknown flags hold their last known state."""
    if not current.known:
        return observe_blind(previous, polled_ms)
    held_caution = set(previous.caution_flags) if previous else set()
    held_clear = set(previous.clear_flags) if previous else set()
    unknown = set(current.unknown_flags)
    caution = _ordered(set(current.caution_flags) | (unknown & held_caution))
    clear = _ordered(set(current.clear) | (unknown & held_clear))
    level = level_for(len(caution), th)
    streak = previous.streak + 1 if previous is not None and previous.level == level else 1
    # the level rests on data it cannot see when a held flag is a caution (or, with no
    # history yet, when any flag is unknown: its state before is not known either)
    blind = bool(unknown & held_caution) if previous is not None else bool(unknown)
    return _with_gap(Observation(level, streak, caution, clear), previous, blind, polled_ms)


def observe_blind(previous: Observation | None, polled_ms: int) -> Observation:
    """A poll that saw nothing (no fetch, every flag unknown): hold everything, note the gap."""
    if previous is None:
        return Observation("calm", 0, (), (), blind_since_ms=polled_ms)
    held = Observation(
        previous.level, previous.streak, previous.caution_flags, previous.clear_flags
    )
    return _with_gap(held, previous, True, polled_ms)


def _with_gap(
    seen: Observation, previous: Observation | None, blind: bool, polled_ms: int
) -> Observation:
    if not blind:
        return seen
    ongoing = previous is not None and previous.blind_since_ms is not None
    since = previous.blind_since_ms if previous is not None and ongoing else polled_ms
    notified = previous.gap_notified if previous is not None and ongoing else False
    return Observation(
        seen.level, seen.streak, seen.caution_flags, seen.clear_flags, since, notified
    )


def decide(
    side: str,
    notified_level: Level,
    notified_flags: tuple[str, ...],
    observation: Observation,
    unknown_now: tuple[str, ...] = (),
) -> Alert | None:
    """The level-change alert one subscriber is owed after a poll, or None.

    Escalation to stress is announced at once; every other change only once it has held
    for CONFIRM_POLLS polls. Leaving stress is the all-clear. A fall is never announced
    while the side is blind or while a flag the subscriber was told about is unknown now:
    every flag an alert calls cleared is known to be clear.
    """
    new = observation.level
    if new == notified_level:
        return None
    if new != "stress" and observation.streak < CONFIRM_POLLS:
        return None
    falling = level_rank(new) < level_rank(notified_level)
    if falling and (
        observation.blind_since_ms is not None or set(notified_flags) & set(unknown_now)
    ):
        return None
    current = observation.caution_flags
    return Alert(
        side=side,
        kind=_kind(notified_level, new),
        old_level=notified_level,
        new_level=new,
        caution_flags=current,
        flags_added=tuple(f for f in current if f not in notified_flags),
        flags_removed=tuple(f for f in notified_flags if f not in current),
    )


def gap_due(observation: Observation, polled_ms: int, gap_ms: int) -> bool:
    """True when a side has been blind for `gap_ms` and its subscribers were not yet told."""
    since = observation.blind_since_ms
    return since is not None and not observation.gap_notified and polled_ms - since >= gap_ms


def gap_notice(side: str, notified_level: Level, observation: Observation) -> Alert:
    """The one "data unavailable" notice of a gap: the level is held, nothing is cleared."""
    return Alert(
        side=side,
        kind="data_unavailable",
        old_level=notified_level,
        new_level=notified_level,
        caution_flags=observation.caution_flags,
        flags_added=(),
        flags_removed=(),
        since_ms=observation.blind_since_ms,
    )


def data_back(previous: Observation | None, observation: Observation) -> bool:
    """True when a gap subscribers were told about has just ended."""
    return (
        previous is not None
        and previous.gap_notified
        and previous.blind_since_ms is not None
        and observation.blind_since_ms is None
    )


def back_notice(
    side: str, notified_level: Level, notified_flags: tuple[str, ...], since_ms: int | None
) -> Alert:
    """The "data is back" notice after a gap, when no level change is due."""
    return Alert(
        side=side,
        kind="data_back",
        old_level=notified_level,
        new_level=notified_level,
        caution_flags=notified_flags,
        flags_added=(),
        flags_removed=(),
        since_ms=since_ms,
    )


def _kind(old: Level, new: Level) -> AlertKind:
    if new == "stress":
        return "stress"
    if old == "stress":
        return "all_clear"
    return "elevated" if new == "elevated" else "eased"


def _ordered(names: Any) -> tuple[str, ...]:
    """Flag names in the SPEC's order (unknown names after, alphabetically)."""
    found = set(names)
    known = [f for f in FLAG_ORDER if f in found]
    return tuple(known + sorted(found - set(FLAG_ORDER)))
