"""Missing data is never read as calm: unknown flags hold, blind sides get one gap notice."""

from __future__ import annotations

from signals.stress import (
    FLAG_ORDER,
    Observation,
    SideStress,
    data_back,
    decide,
    gap_due,
    gap_notice,
    observe,
    observe_blind,
)

STRESSED = ("open_interest", "liquidations", "skew")
MIN = 60_000


def seen(
    caution: tuple[str, ...] = (), unknown: tuple[str, ...] = (), level: str = "calm"
) -> SideStress:
    clear = tuple(f for f in FLAG_ORDER if f not in caution + unknown)
    return SideStress("long", level, caution, unknown, clear)  # type: ignore[arg-type]


def at_stress() -> Observation:
    return observe(None, seen(STRESSED, level="stress"), 0)


def test_every_flag_unknown_holds_the_level_and_starts_a_gap() -> None:
    held = observe(at_stress(), seen(unknown=FLAG_ORDER), 5 * MIN)

    assert (held.level, held.caution_flags) == ("stress", STRESSED)
    assert held.blind_since_ms == 5 * MIN
    assert decide("long", "stress", STRESSED, held, FLAG_ORDER) is None


def test_a_flag_turning_unknown_keeps_its_last_known_caution() -> None:
    # skew data gone, the rest known: the level still counts skew as in caution
    now = observe(at_stress(), seen(("open_interest", "liquidations"), ("skew",)), 5 * MIN)

    assert (now.level, now.caution_flags) == ("stress", STRESSED)
    assert now.blind_since_ms == 5 * MIN  # the level rests on a flag it cannot see


def test_a_level_falls_only_on_flags_known_to_have_cleared() -> None:
    first = observe(at_stress(), seen(unknown=FLAG_ORDER), MIN)
    blind = observe(first, seen(unknown=FLAG_ORDER), 2 * MIN)
    calm = observe(blind, seen(), 3 * MIN)
    again = observe(calm, seen(), 4 * MIN)

    assert decide("long", "stress", STRESSED, blind, FLAG_ORDER) is None
    assert decide("long", "stress", STRESSED, calm) is None  # one calm poll is not enough
    alert = decide("long", "stress", STRESSED, again)
    assert alert is not None and alert.kind == "all_clear"
    assert alert.flags_removed == STRESSED


def test_no_fall_while_a_flag_the_subscriber_was_told_about_is_unknown() -> None:
    # no history (the watcher's first poll): skew is unknown and was told to be in caution
    first = observe(None, seen(("open_interest",), ("skew",)), MIN)
    second = observe(first, seen(("open_interest",), ("skew",)), 2 * MIN)

    assert decide("long", "stress", STRESSED, second, ("skew",)) is None


def test_a_fetch_that_failed_holds_everything_and_counts_no_streak() -> None:
    before = observe(
        observe(None, seen(("funding", "skew"), level="elevated"), 0),
        seen(("funding", "skew"), level="elevated"),
        MIN,
    )
    blind = observe_blind(before, 2 * MIN)

    assert (blind.level, blind.streak, blind.caution_flags) == ("elevated", 2, ("funding", "skew"))
    assert blind.blind_since_ms == 2 * MIN
    assert observe_blind(None, MIN).blind_since_ms == MIN


def test_one_gap_notice_after_the_gap_and_data_back_once_it_ends() -> None:
    observation = at_stress()
    notices = []
    for minute in range(5, 65, 5):
        observation = observe(observation, seen(unknown=FLAG_ORDER), minute * MIN)
        if gap_due(observation, minute * MIN, 30 * MIN):
            notices.append(gap_notice("long", "stress", observation))
            observation = Observation(
                observation.level,
                observation.streak,
                observation.caution_flags,
                observation.clear_flags,
                observation.blind_since_ms,
                gap_notified=True,
            )
    back = observe(observation, seen(STRESSED, level="stress"), 70 * MIN)

    assert [n.kind for n in notices] == ["data_unavailable"]
    assert notices[0].since_ms == 5 * MIN
    assert notices[0].new_level == "stress"
    assert back.blind_since_ms is None
    assert data_back(observation, back)
    assert not data_back(back, observe(back, seen(STRESSED, level="stress"), 75 * MIN))


def test_a_flag_never_known_does_not_make_a_side_blind() -> None:
    # DOGE has no listed options: skew is always unknown, the side is not blind for it
    first = observe(None, seen(("funding",), ("skew",)), 0)
    second = observe(first, seen(("funding",), ("skew",)), MIN)

    assert first.blind_since_ms == 0  # no history yet: not known either way
    assert second.blind_since_ms is None
    assert second.level == "calm"
