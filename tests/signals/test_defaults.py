"""The /settings seam: a pure UserDefaults completes an idea and records what it filled in."""

from __future__ import annotations

import pytest

from signals.defaults import UserDefaults, complete_idea
from signals.grade import grade_check
from signals.idea import parse_idea
from signals.thresholds import Thresholds
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
