"""The /settings seam: a pure UserDefaults completes an idea and records what it filled in."""

from __future__ import annotations

import pytest

from signals.defaults import (
    LEVERAGE,
    RISK_NEEDS_ACCOUNT,
    SettingsChange,
    UserDefaults,
    apply_settings,
    complete_idea,
    parse_settings,
    parse_tz,
)
from signals.errors import ParseError
from signals.grade import grade_check
from signals.idea import parse_idea
from signals.thresholds import Thresholds
from signals.timezones import EXAMPLE_FORMS
from tests.helpers.builders import ASOF, asset_data

FULL = UserDefaults(account_usd=10_000.0, risk_pct=0.01, leverage=5.0, horizon_days=3.0)


def test_no_defaults_leaves_the_idea_alone() -> None:
    idea = parse_idea("eth long")
    assert complete_idea(idea, None) is idea
    assert complete_idea(idea, UserDefaults()) is idea


def test_missing_values_come_from_the_defaults_and_are_noted() -> None:
    idea = complete_idea(parse_idea("eth long"), FULL)
    assert (idea.leverage, idea.horizon_days, idea.risk_pct, idea.account_usd) == (
        5.0,
        3.0,
        0.01,
        10_000.0,
    )
    assert idea.from_defaults == {"leverage", "horizon", "risk", "account"}
    # the idea's own words never carry the default leverage (buttons re-parse them)
    assert idea.leverage_given is False


def test_values_in_the_idea_win_over_the_defaults() -> None:
    idea = complete_idea(parse_idea("eth long 10x for 1d risk $50 acct 2k"), FULL)
    assert (idea.leverage, idea.horizon_days, idea.risk_usd, idea.risk_pct) == (
        10.0,
        1.0,
        50.0,
        None,
    )
    assert idea.account_usd == 2000.0
    assert idea.from_defaults == frozenset()


def test_a_dollar_risk_in_the_idea_is_not_mixed_with_a_default_percentage() -> None:
    idea = complete_idea(parse_idea("eth long risk $80"), FULL)
    assert (idea.risk_usd, idea.risk_pct) == (80.0, None)
    assert "risk" not in idea.from_defaults
    assert "account" in idea.from_defaults


def test_only_some_defaults_set() -> None:
    idea = complete_idea(parse_idea("eth long"), UserDefaults(horizon_days=14.0))
    assert (idea.leverage, idea.horizon_days) == (1.0, 14.0)
    assert idea.from_defaults == {"horizon"}


def test_a_risk_is_a_fraction_or_an_amount_not_both() -> None:
    with pytest.raises(ValueError):
        UserDefaults(risk_pct=0.01, risk_usd=100.0)


def test_a_completed_idea_is_sized_and_graded_with_the_defaults() -> None:
    data = asset_data("ETH", closes_1h=[100.0] * 25)
    idea = complete_idea(parse_idea("eth long stop 95"), FULL)
    g = grade_check(idea, data, ASOF, Thresholds()).grades[0]
    assert (g.leverage, g.horizon_days) == (5.0, 3.0)
    assert g.sizing is not None
    assert g.sizing.risk_usd == pytest.approx(100.0)
    assert g.sizing.size_usd == pytest.approx(2000.0)


# ---- /settings words -------------------------------------------------------------------------

ACCEPTED = [
    ("account 10000", {"account": 10_000.0}),
    ("account 10k", {"account": 10_000.0}),
    ("account $10k", {"account": 10_000.0}),
    ("account $10,000", {"account": 10_000.0}),
    ("account 10000$", {"account": 10_000.0}),
    ("account 2.5k usd", {"account": 2_500.0}),
    ("acct 1.2m", {"account": 1_200_000.0}),
    ("balance $5k", {"account": 5_000.0}),
    ("risk 1%", {"risk": ("pct", 0.01)}),
    ("risk 1 %", {"risk": ("pct", 0.01)}),
    ("risk 0.5%", {"risk": ("pct", 0.005)}),
    ("risk 100%", {"risk": ("pct", 1.0)}),
    ("risk $200", {"risk": ("usd", 200.0)}),
    ("risk 200$", {"risk": ("usd", 200.0)}),
    ("RISK=2%", {"risk": ("pct", 0.02)}),
    ("leverage 5", {"leverage": 5.0}),
    ("leverage 1", {"leverage": 1.0}),
    ("leverage 125", {"leverage": 125.0}),
    ("lev 2.5x", {"leverage": 2.5}),
    ("leverage x10", {"leverage": 10.0}),
    ("horizon 3d", {"horizon": 3.0}),
    ("horizon 24h", {"horizon": 1.0}),
    ("horizon 2w", {"horizon": 14.0}),
    ("horizon 3 days", {"horizon": 3.0}),
    ("horizon 365d", {"horizon": 365.0}),
    ("tz Europe/Berlin", {"tz": "Europe/Berlin"}),
    ("tz europe/berlin", {"tz": "Europe/Berlin"}),
    ("timezone America/New_York", {"tz": "America/New_York"}),
    ("tz tokyo", {"tz": "Asia/Tokyo"}),
    ("tz UTC", {"tz": "UTC"}),
    ("risk off", {"risk": "clear"}),
    ("tz none", {"tz": "clear"}),
    (
        "account 10k risk 1% leverage 5 horizon 3d tz Europe/Berlin",
        {
            "account": 10_000.0,
            "risk": ("pct", 0.01),
            "leverage": 5.0,
            "horizon": 3.0,
            "tz": "Europe/Berlin",
        },
    ),
]


@pytest.mark.parametrize(("words", "values"), ACCEPTED)
def test_settings_words_are_read(words: str, values: dict[str, object]) -> None:
    assert parse_settings(words.split()) == SettingsChange(values)


def test_nothing_shows_and_reset_resets() -> None:
    assert parse_settings([]) == SettingsChange()
    assert parse_settings(["reset"]) == SettingsChange(reset=True)
    assert parse_settings(["Reset"]) == SettingsChange(reset=True)


REJECTED = [
    ("acount 10000", "can't read 'acount': did you mean account?", "account 10000"),
    ("levrage 5", "can't read 'levrage': did you mean leverage?", "leverage 5"),
    (
        "colour red",
        "can't read 'colour': the settings are account, risk, leverage, horizon, tz or reset",
        "account 10000",
    ),
    ("10k", "'10k' needs the setting's name: account 10k, perhaps", "account 10000"),
    ("5x", "'5x' needs the setting's name: leverage 5x", "leverage 5"),
    ("1%", "'1%' needs the setting's name: risk 1%", "risk 1%"),
    ("$200", "'$200' needs the setting's name: risk $200", "risk 1%"),
    ("3d", "'3d' needs the setting's name: horizon 3d", "horizon 3d"),
    (
        "Europe/Berlin",
        "'Europe/Berlin' needs the setting's name: tz Europe/Berlin",
        "tz Europe/Berlin",
    ),
    ("account", "'account' needs a value, like account 10000", "account 10000"),
    ("account abc", "can't read 'abc' as an amount of dollars", "account 10000"),
    ("account 0", "account 0 must be above $0", "account 10000"),
    ("account -5", "account -5 must be above $0", "account 10000"),
    (
        "account 2000000000000",
        "account 2000000000000 is over $1 trillion: a typo?",
        "account 10000",
    ),
    ("risk 2", "'risk 2': write risk 2% or risk $2", "risk 1%"),
    ("risk 0%", "risk 0% must be above 0%", "risk 1%"),
    ("risk 100.01%", "risk 100.01% is more than the whole account", "risk 1%"),
    ("risk $0", "risk $0 must be above $0", "risk 1%"),
    ("risk lots", "can't read 'lots' as a risk", "risk 1%"),
    ("leverage 0.99", "leverage 0.99x is below 1x", "leverage 5"),
    ("leverage 125.5", "leverage 125.5x is above the 125x maximum", "leverage 5"),
    ("leverage high", "can't read 'high' as a leverage", "leverage 5"),
    ("horizon 3", "'3' needs a unit: write horizon 3d or horizon 3h", "horizon 3d"),
    ("horizon 0d", "horizon 0d must be above 0", "horizon 3d"),
    ("horizon 366d", "horizon 366d is over 365 days", "horizon 3d"),
    ("horizon soon", "can't read 'soon' as a horizon", "horizon 3d"),
    (
        "tz Mars/Base",
        f"unknown timezone 'Mars/Base': write {EXAMPLE_FORMS}",
        "tz Europe/Berlin",
    ),
    (
        "tz Europe/Berln",
        "unknown timezone 'Europe/Berln': did you mean Europe/Berlin?",
        "tz Europe/Berlin",
    ),
    ("risk 1% risk 2%", "risk given twice: give it once", "risk 1%"),
    ("reset everything", "'reset' takes nothing after it", "reset"),
]


@pytest.mark.parametrize(("words", "reason", "example"), REJECTED)
def test_bad_settings_get_a_reason_and_a_settings_example(
    words: str, reason: str, example: str
) -> None:
    with pytest.raises(ParseError) as raised:
        parse_settings(words.split())

    assert (raised.value.reason, raised.value.example) == (reason, example)
    assert raised.value.command == "settings"  # shown as /settings …, never /check


def test_a_city_alone_names_its_zone_unless_two_clocks_share_the_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert parse_tz("berlin") == "Europe/Berlin"
    assert parse_tz("istanbul") in ("Asia/Istanbul", "Europe/Istanbul")  # aliases
    assert parse_tz("west") == "Europe/Lisbon"  # Western European Summer Time
    # no city of today's zone database is in two clocks; one that was must not be guessed
    twins = {"springfield": ("America/Chicago", "America/New_York")}
    monkeypatch.setattr("signals.timezones._cities", lambda: twins)
    with pytest.raises(ParseError, match="'springfield' is in several time zones"):
        parse_tz("springfield")


def test_applying_changes_keeps_what_is_not_named() -> None:
    current = UserDefaults(account_usd=10_000.0, risk_pct=0.01, leverage=5.0)

    risk_in_dollars = apply_settings(current, parse_settings(["risk", "$200"]))
    cleared = apply_settings(current, parse_settings(["leverage", "off"]))

    assert risk_in_dollars == UserDefaults(account_usd=10_000.0, risk_usd=200.0, leverage=5.0)
    assert cleared == UserDefaults(account_usd=10_000.0, risk_pct=0.01)
    assert apply_settings(current, SettingsChange(reset=True)) == UserDefaults()


@pytest.mark.parametrize(
    ("current", "words", "reason"),
    [
        (
            UserDefaults(account_usd=100.0),
            "risk $200",
            "a risk of $200 is more than your account of $100",
        ),
        (
            UserDefaults(risk_usd=200.0),
            "account 100",
            "a risk of $200 is more than your account of $100",
        ),
    ],
)
def test_a_dollar_risk_above_the_account_is_refused_whichever_came_first(
    current: UserDefaults, words: str, reason: str
) -> None:
    with pytest.raises(ParseError) as raised:
        apply_settings(current, parse_settings(words.split()))

    assert raised.value.reason == reason


def test_a_dollar_risk_equal_to_the_account_is_allowed() -> None:
    new = apply_settings(UserDefaults(account_usd=200.0), parse_settings(["risk", "$200"]))
    assert new.risk_usd == 200.0


def test_a_default_risk_in_percent_without_any_account_is_left_out_and_noted() -> None:
    defaults = UserDefaults(risk_pct=0.01, leverage=3.0)

    without = complete_idea(parse_idea("eth long"), defaults)
    with_account = complete_idea(parse_idea("eth long acct 5k"), defaults)

    assert (without.risk_pct, without.from_defaults) == (None, {LEVERAGE, RISK_NEEDS_ACCOUNT})
    assert (with_account.risk_pct, with_account.account_usd) == (0.01, 5000.0)
    assert with_account.from_defaults == {LEVERAGE, "risk"}
    data = asset_data("ETH", closes_1h=[100.0] * 25)
    assert grade_check(without, data, ASOF, Thresholds()).grades[0].sizing is None


def test_a_group_gets_only_the_leverage_and_horizon() -> None:
    full = UserDefaults(10_000.0, 0.01, None, 5.0, 3.0, "Europe/Berlin")
    assert full.public() == UserDefaults(leverage=5.0, horizon_days=3.0)
