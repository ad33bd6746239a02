"""Stress level per side and the alert state machine behind stress-warning subscriptions.

A side is calm with at most one caution flag, elevated with two and under stress with three
or more (the two-and-three-flag rule). An escalation to stress alerts at once; any other
level change must hold for two consecutive polls before it is announced, so a flag that
flickers around its threshold does not spam subscribers. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from signals.grade import verdict_for
from signals.thresholds import Thresholds

Level = Literal["calm", "elevated", "stress"]
AlertKind = Literal["stress", "elevated", "eased", "all_clear"]

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

    @property
    def caution_count(self) -> int:
        """How many flags are in caution."""
        return len(self.caution_flags)


@dataclass(frozen=True)
class Observation:
    """The level a side was seen at on the latest poll, and for how many polls in a row."""

    level: Level
    streak: int
    caution_flags: tuple[str, ...]


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


def level_for(caution_count: int, th: Thresholds = DEFAULT_THRESHOLDS) -> Level:
    """The stress level for a number of caution flags: the verdict rule, in a market's words."""
    return _LEVEL_OF_VERDICT[verdict_for(caution_count, th)]


def level_rank(level: str) -> int:
    """Order of levels: calm 0 < elevated 1 < stress 2."""
    return LEVELS.index(level)  # type: ignore[arg-type]


def side_stress(grade: _Grade, th: Thresholds = DEFAULT_THRESHOLDS) -> SideStress:
    """The stress of the side one grade is for, from its flags."""
    caution = _ordered(name for name, flag in grade.flags.items() if flag.status == "caution")
    unknown = _ordered(name for name, flag in grade.flags.items() if flag.status == "unknown")
    return SideStress(
        side=grade.side,
        level=level_for(len(caution), th),
        caution_flags=caution,
        unknown_flags=unknown,
    )


def stress_by_side(result: _Result, th: Thresholds = DEFAULT_THRESHOLDS) -> dict[str, SideStress]:
    """Stress per graded side of a check result, keyed `long` / `short`."""
    return {g.side: side_stress(g, th) for g in result.grades}


def regime(stresses: Mapping[str, SideStress]) -> Level:
    """The regime label of an asset: the level of its worse side."""
    if not stresses:
        return "calm"
    return max((s.level for s in stresses.values()), key=level_rank)


def observe(previous: Observation | None, current: SideStress) -> Observation:
    """Fold one poll into a side's observation: extend the streak or start a new one."""
    if previous is not None and previous.level == current.level:
        return Observation(current.level, previous.streak + 1, current.caution_flags)
    return Observation(current.level, 1, current.caution_flags)


def decide(
    side: str,
    notified_level: Level,
    notified_flags: tuple[str, ...],
    observation: Observation,
) -> Alert | None:
    """The alert one subscriber is owed after a poll, or None.

    Escalation to stress is announced at once; every other change only once it has held
    for CONFIRM_POLLS polls. Leaving stress is the all-clear.
    """
    new = observation.level
    if new == notified_level:
        return None
    if new != "stress" and observation.streak < CONFIRM_POLLS:
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
