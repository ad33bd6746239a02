"""Stress levels per side and the alert state machine."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from signals.stress import (
    Alert,
    Level,
    Observation,
    SideStress,
    decide,
    level_for,
    observe,
    regime,
    stress_by_side,
)

FLAGS = ("open_interest", "funding", "liquidations", "skew")


@dataclass
class Flag:
    status: str


@dataclass
class Grade:
    side: str
    flags: dict[str, Flag] = field(default_factory=dict)


@dataclass
class Result:
    grades: list[Grade]


def grade(side: str, caution: tuple[str, ...] = (), unknown: tuple[str, ...] = ()) -> Grade:
    flags = {
        name: Flag("caution" if name in caution else "unknown" if name in unknown else "clear")
        for name in FLAGS
    }
    return Grade(side, flags)


def side(level: str, flags: tuple[str, ...] = ()) -> SideStress:
    return SideStress("long", level, flags, ())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("count", "expected"),
    [(0, "calm"), (1, "calm"), (2, "elevated"), (3, "stress"), (4, "stress")],
)
def test_level_follows_the_two_and_three_flag_rule(count: int, expected: str) -> None:
    assert level_for(count) == expected


def test_stress_by_side_names_caution_and_unknown_flags_in_spec_order() -> None:
    result = Result(
        [
            grade("long", caution=("skew", "funding", "open_interest"), unknown=("liquidations",)),
            grade("short", caution=("liquidations",)),
        ]
    )

    stresses = stress_by_side(result)

    assert stresses["long"] == SideStress(
        "long", "stress", ("open_interest", "funding", "skew"), ("liquidations",)
    )
    assert stresses["short"] == SideStress("short", "calm", ("liquidations",), ())
    assert stresses["long"].caution_count == 3
    assert regime(stresses) == "stress"


def test_unknown_flags_do_not_raise_the_level() -> None:
    result = Result([grade("long", caution=("funding",), unknown=("skew", "liquidations"))])

    assert stress_by_side(result)["long"].level == "calm"


def test_regime_is_the_worse_side() -> None:
    stresses = {"long": side("calm"), "short": side("elevated")}

    assert regime(stresses) == "elevated"
    assert regime({}) == "calm"


def test_observe_extends_a_streak_only_at_the_same_level() -> None:
    first = observe(None, side("elevated", ("funding", "skew")))
    second = observe(first, side("elevated", ("funding", "skew")))
    changed = observe(second, side("calm"))

    assert first == Observation("elevated", 1, ("funding", "skew"))
    assert second == Observation("elevated", 2, ("funding", "skew"))
    assert changed == Observation("calm", 1, ())


def test_escalation_to_stress_alerts_on_the_first_poll() -> None:
    seen = observe(None, side("stress", ("open_interest", "funding", "liquidations")))

    alert = decide("long", "elevated", ("open_interest", "funding"), seen)

    assert alert == Alert(
        side="long",
        kind="stress",
        old_level="elevated",
        new_level="stress",
        caution_flags=("open_interest", "funding", "liquidations"),
        flags_added=("liquidations",),
        flags_removed=(),
    )


def test_other_changes_wait_for_a_second_poll() -> None:
    first = observe(None, side("elevated", ("funding", "skew")))
    second = observe(first, side("elevated", ("funding", "skew")))

    assert decide("long", "calm", (), first) is None
    alert = decide("long", "calm", (), second)
    assert alert is not None
    assert (alert.kind, alert.flags_added, alert.flags_removed) == (
        "elevated",
        ("funding", "skew"),
        (),
    )


def test_leaving_stress_is_an_all_clear_after_two_polls() -> None:
    notified = ("open_interest", "funding", "liquidations")
    first = observe(Observation("stress", 4, notified), side("calm", ("funding",)))
    second = observe(first, side("calm", ("funding",)))

    assert decide("long", "stress", notified, first) is None
    alert = decide("long", "stress", notified, second)
    assert alert is not None
    assert (alert.kind, alert.old_level, alert.new_level) == ("all_clear", "stress", "calm")
    assert alert.flags_removed == ("open_interest", "liquidations")


def test_stress_easing_to_elevated_is_also_an_all_clear() -> None:
    seen = Observation("elevated", 2, ("funding", "skew"))

    alert = decide("short", "stress", ("funding", "skew", "open_interest"), seen)

    assert alert is not None
    assert alert.kind == "all_clear"


def test_elevated_back_to_calm_is_eased() -> None:
    alert = decide("long", "elevated", ("funding", "skew"), Observation("calm", 2, ()))

    assert alert is not None
    assert alert.kind == "eased"


def test_no_alert_while_the_level_matches_what_was_notified() -> None:
    assert decide("long", "stress", ("funding",), Observation("stress", 9, ("skew",))) is None


def test_a_flickering_level_never_alerts() -> None:
    notified: Level = "calm"
    observation = None
    alerts = []
    for level in ["elevated", "calm", "elevated", "calm", "elevated", "calm"]:
        observation = observe(
            observation, side(level, ("funding", "skew")[: 2 * (level != "calm")])
        )
        alerts.append(decide("long", notified, (), observation))

    assert alerts == [None] * 6
