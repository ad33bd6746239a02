"""SPEC §4 verdicts (flags, the position's own verdict, worst case) and SPEC §5 bad input,
via grade_check."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest

from signals.grade import CheckResult, grade_check
from signals.idea import TradeIdea
from signals.thresholds import Thresholds
from tests.helpers.builders import ASOF, HOUR, asset_data, venue

TH = Thresholds()
STATES = ("caution", "clear", "unknown")
FLAG_ORDER = ("open_interest", "funding", "liquidations", "skew")

# inputs that put each flag, for a LONG, in the given state (no daily candles: sigma unknown)
OI = {
    "caution": {"oi_1h": [1e9] * 24 + [1.05e9]},  # +5% while price −1%
    "clear": {"oi_1h": [1e9] * 25},
    "unknown": {},
}
FUNDING = {
    "caution": {"funding": [venue("binanceusdm", 0.0005)]},
    "clear": {"funding": [venue("binanceusdm", 0.00005)]},
    "unknown": {},
}
LIQ = {
    "caution": {"liquidations": [(100.0, 100.0)] * 46 + [(1e5, 1.0)] * 2},
    "clear": {"liquidations": [(100.0, 100.0)] * 48},
    "unknown": {},
}
SKEW = {
    "caution": {"skew": [(ASOF - HOUR, -6.0)]},
    "clear": {"skew": [(ASOF - HOUR, -1.0)]},
    "unknown": {},
}
HOURLY = [100.0] * 24 + [99.0]  # price 99, 24h change −1%


def data_with(oi: str, funding: str, liq: str, skew: str, **extra: Any) -> Any:
    """An ETH asset whose four long-side flags are in the given states."""
    kwargs: dict[str, Any] = {"closes_1h": HOURLY}
    for table, state in ((OI, oi), (FUNDING, funding), (LIQ, liq), (SKEW, skew)):
        kwargs.update(table[state])
    kwargs.update(extra)
    return asset_data("ETH", **kwargs)


def idea(
    side: str | None = "long",
    leverage: float = 1.0,
    entry: float | None = None,
    stop: float | None = None,
    horizon: float | None = None,
) -> TradeIdea:
    """A parsed idea, built directly."""
    return TradeIdea(
        asset="ETH",
        side=side,  # type: ignore[arg-type]
        leverage=leverage,
        leverage_given=True,
        entry=entry,
        stop=stop,
        horizon_days=horizon,
    )


def grade(states: tuple[str, str, str, str], **idea_kw: Any) -> CheckResult:
    """grade_check of an ETH idea against data with the given long-side flag states."""
    return grade_check(idea(**idea_kw), data_with(*states), ASOF, TH)


def verdict_for(count: int) -> str:
    """SPEC §4: 3 or 4 → wait; 2 → reduce; 0 or 1 → proceed."""
    return "wait" if count >= 3 else "reduce" if count == 2 else "proceed"


def test_builder_states_are_what_they_say() -> None:
    for i, name in enumerate(FLAG_ORDER):
        for state in STATES:
            states = ["clear"] * 4
            states[i] = state
            g = grade(tuple(states)).grades[0]  # type: ignore[arg-type]
            got = {n: f.status for n, f in g.flags.items()}
            assert got[name] == state, (name, state)
            assert [got[n] for n in FLAG_ORDER if n != name] == ["clear"] * 3


@pytest.mark.parametrize("states", list(itertools.product(STATES, repeat=4)))
def test_verdict_table_with_worst_case(states: tuple[str, str, str, str]) -> None:
    cautions = states.count("caution")
    unknowns = states.count("unknown")
    g = grade(states).grades[0]
    assert g.caution_count == cautions
    assert g.unknown_count == unknowns
    assert g.flags_verdict == verdict_for(cautions)
    assert g.position_verdict == "proceed"  # 1x, no sigma: liquidation 99.5% away
    assert g.verdict == verdict_for(cautions)
    assert g.worst_case_verdict == verdict_for(cautions + unknowns)


# ---- the position's verdict (SPEC v2 §4; v1 called it the overlay) ------------------------

QUIET = ("clear", "clear", "clear", "clear")


def test_overlay_fails_10pct_raises_proceed_to_reduce() -> None:
    g = grade(QUIET, leverage=10).grades[0]  # 1/10 − 0.005 = 0.095 < 0.10
    assert g.caution_count == 0
    assert g.position.survives_10pct is False
    assert g.verdict == "reduce"
    assert g.worst_case_verdict == "reduce"  # never milder than the verdict


def test_overlay_above_max_leverage_raises_proceed_to_reduce() -> None:
    # sigma unknown → max leverage floor(1 / 0.105) = 9; 9.5x still survives 10% (0.10026)
    g = grade(QUIET, leverage=9.5).grades[0]
    assert g.position.survives_10pct is True
    assert g.position.max_leverage == 9
    assert g.verdict == "reduce"
    assert g.worst_case_verdict == "reduce"


def test_no_overlay_at_max_leverage() -> None:
    g = grade(QUIET, leverage=9).grades[0]
    assert g.position.max_leverage == 9
    assert g.verdict == "proceed"
    assert g.worst_case_verdict == "proceed"


def test_overlay_with_one_liquidation_caution_cutting_max_leverage() -> None:
    # liquidations caution → k 0.5 → floor(0.5 / 0.105) = 4 < 5
    g = grade(("clear", "clear", "caution", "clear"), leverage=5).grades[0]
    assert g.caution_count == 1
    assert g.position.max_leverage == 4
    assert g.verdict == "reduce"


def test_funding_caution_cut_leaves_5x_inside_max_leverage() -> None:
    # funding caution → k 0.75 → floor(0.75 / 0.105) = 7 ≥ 5
    g = grade(("clear", "caution", "clear", "clear"), leverage=5).grades[0]
    assert g.position.max_leverage == 7
    assert g.verdict == "proceed"


def test_position_never_lowers_the_flags_verdict() -> None:
    # 12x, no sigma: liquidation 7.8% away — fails 10% (reduce), beyond 5% (no wait)
    two = grade(("caution", "caution", "clear", "clear"), leverage=12).grades[0]
    assert (two.flags_verdict, two.position_verdict, two.verdict) == ("reduce",) * 3
    three = grade(("caution", "caution", "caution", "clear"), leverage=12).grades[0]
    assert (three.flags_verdict, three.position_verdict) == ("wait", "reduce")
    assert three.verdict == "wait"
    assert three.worst_case_verdict == "wait"


def test_v2_a_position_liquidated_by_an_ordinary_move_is_wait() -> None:
    # v1 graded this REDUCE (the flags' reduce, raised no further); v2: 20x without sigma has
    # its liquidation 4.5% away, under 5% → the position says wait, and wait wins
    two = grade(("caution", "caution", "clear", "clear"), leverage=20).grades[0]
    assert (two.flags_verdict, two.position_verdict, two.verdict) == ("reduce", "wait", "wait")
    assert two.position_reasons[0] == "liquidated_by_1sigma"
    assert two.position_decides is True
    assert two.worst_case_verdict == "wait"
    quiet = grade(QUIET, leverage=20).grades[0]
    assert (quiet.flags_verdict, quiet.verdict) == ("proceed", "wait")


def test_overlay_with_unknowns_worst_case_not_milder() -> None:
    g = grade(("unknown", "clear", "clear", "clear"), leverage=10).grades[0]
    assert g.verdict == "reduce"
    assert g.worst_case_verdict == "reduce"
    g = grade(("unknown", "unknown", "unknown", "clear"), leverage=10).grades[0]
    assert g.verdict == "reduce"
    assert g.worst_case_verdict == "wait"


def test_overlay_uses_sigma_when_known() -> None:
    # daily closes alternating ±2%: sigma = 0.02 × sqrt(30/29); 2σ√7 + 0.005 → max 8x
    rets = [0.02 if i % 2 == 0 else -0.02 for i in range(30)]
    closes = [100.0]
    for r in rets:
        closes.append(closes[-1] * math.exp(r))
    data = data_with(*QUIET, closes_1d=closes)
    sigma = 0.02 * math.sqrt(30 / 29)
    expected_max = math.floor(1 / (2 * sigma * math.sqrt(7) + 0.005))
    assert expected_max == 8
    g = grade_check(idea(leverage=9), data, ASOF, TH).grades[0]
    assert g.position.max_leverage == 8
    assert g.position.survives_10pct is True
    assert g.verdict == "reduce"
    g = grade_check(idea(leverage=8), data, ASOF, TH).grades[0]
    assert g.verdict == "proceed"


# ---- sides, defaults and echoes ----------------------------------------------------------


def test_idea_without_side_grades_long_then_short() -> None:
    r = grade(("caution", "caution", "caution", "caution"), side=None, leverage=2)
    assert [g.side for g in r.grades] == ["long", "short"]
    long, short = r.grades
    assert long.verdict == "wait"
    # the same market read for shorts: OI +5% with price −1% (clear), funding +0.05% (clear),
    # short liquidations flat (clear), rr −6 (clear)
    assert {n: f.status for n, f in short.flags.items()} == dict.fromkeys(FLAG_ORDER, "clear")
    assert short.verdict == "proceed"


def test_short_side_flags_mirror() -> None:
    data = asset_data(
        "ETH",
        closes_1h=[100.0] * 24 + [101.0],  # +1%
        oi_1h=[1e9] * 24 + [1.04e9],
        funding=[venue("okx", -0.0004)],
        liquidations=[(100.0, 100.0)] * 46 + [(1.0, 1e5)] * 2,
        skew=[(ASOF - HOUR, 5.5)],
    )
    r = grade_check(idea(side="short", leverage=2), data, ASOF, TH)
    (g,) = r.grades
    assert g.side == "short"
    assert {n: f.status for n, f in g.flags.items()} == dict.fromkeys(FLAG_ORDER, "caution")
    assert g.verdict == "wait"


def test_entry_defaults_to_price_and_horizon_to_7_days() -> None:
    r = grade(QUIET, leverage=5)
    g = r.grades[0]
    assert g.entry == 99.0
    assert g.horizon_days == 7
    assert g.position.liq_price == pytest.approx(99.0 * 0.805)
    assert r.asset == "ETH"
    assert r.asof == ASOF
    assert r.stop is None


def test_given_entry_horizon_and_stop_are_used() -> None:
    r = grade(QUIET, leverage=5, entry=120.0, stop=100.0, horizon=3)
    g = r.grades[0]
    assert g.entry == 120.0
    assert g.horizon_days == 3
    assert g.position.liq_price == pytest.approx(120.0 * 0.805)
    assert r.stop == 100.0
    assert g.position.stop_beyond_liq is False
    r = grade(QUIET, leverage=5, entry=110.0, stop=88.0)
    assert r.grades[0].position.stop_beyond_liq is True  # 20% ≥ 19.5%


def test_mmr_comes_from_the_asset() -> None:
    data = data_with(*QUIET, mmr=0.01)
    g = grade_check(idea(leverage=5), data, ASOF, TH).grades[0]
    assert g.position.liq_distance == pytest.approx(0.19)


def test_every_flag_unknown_on_an_asset_with_only_prices() -> None:
    data = asset_data("ETH", closes_1h=HOURLY)
    g = grade_check(idea(leverage=3), data, ASOF, TH).grades[0]
    assert g.unknown_count == 4
    assert g.verdict == "proceed"
    assert g.worst_case_verdict == "wait"
    assert g.position.survives_2sigma is None


def test_thresholds_object_is_honoured() -> None:
    strict = Thresholds(funding_8h_caution=0.0004)
    data = data_with("clear", "caution", "clear", "clear")  # funding 0.05%
    assert grade_check(idea(), data, ASOF, TH).grades[0].flags["funding"].status == "caution"
    data = asset_data("ETH", closes_1h=HOURLY, funding=[venue("x", 0.00035)])
    assert grade_check(idea(), data, ASOF, TH).grades[0].flags["funding"].status == "caution"
    assert grade_check(idea(), data, ASOF, strict).grades[0].flags["funding"].status == "clear"


def test_worst_case_counts_unknowns_as_cautions_with_the_max_leverage_computed() -> None:
    # SPEC §4: worst_case_verdict is the count verdict with every unknown counted as caution,
    # never milder than the verdict (which carries the position overlay). max_leverage is the
    # one SPEC §5 computes from the flags as they are: an unknown liquidations flag does not
    # cut it (k stays 1 → floor(1 / 0.105) = 9), so 5x stays proceed in the worst case too.
    g = grade(("clear", "clear", "unknown", "clear"), leverage=5).grades[0]
    assert g.position.max_leverage == 9
    assert (g.verdict, g.worst_case_verdict) == ("proceed", "proceed")
    # one caution plus one unknown: the worst case is two flags → reduce
    g = grade(("caution", "unknown", "clear", "clear"), leverage=5).grades[0]
    assert (g.verdict, g.worst_case_verdict) == ("proceed", "reduce")
    # leverage above max: the overlay raises the verdict, and the worst case follows it
    g = grade(("clear", "unknown", "clear", "clear"), leverage=10).grades[0]
    assert (g.verdict, g.worst_case_verdict) == ("reduce", "reduce")


# ---- SPEC v2 §5: bad input only the data reveals ---------------------------------------------

from signals.errors import ParseError  # noqa: E402

PRICE = 99.0  # HOURLY's last close


def bad(**idea_kw: Any) -> ParseError:
    """The ParseError grading an ETH idea raises (against QUIET data at PRICE)."""
    with pytest.raises(ParseError) as caught:
        grade(QUIET, **idea_kw)
    assert caught.value.command == "check"
    return caught.value


@pytest.mark.parametrize("side", ["long", "short", None])
@pytest.mark.parametrize(
    ("entry", "ok"),
    [
        (PRICE * 0.5 * (1 - 1e-6), False),  # just below −50%
        (PRICE * 0.5, True),  # at −50%
        (PRICE * 0.5 * (1 + 1e-6), True),
        (PRICE * 2 * (1 - 1e-6), True),
        (PRICE * 2, True),  # at +100%
        (PRICE * 2 * (1 + 1e-6), False),  # just above +100%
    ],
)
def test_entry_bounds_around_half_and_double_the_price(
    side: str | None, entry: float, ok: bool
) -> None:
    if ok:
        assert grade(QUIET, side=side, entry=entry).grades[0].entry == entry
        return
    error = bad(side=side, entry=entry)
    assert "$99.00" in error.reason  # the line names the price
    assert "typo" in error.reason


def test_a_far_limit_entry_is_graded_and_marked() -> None:
    # sigma unknown: the yardstick is 10%; −20% is a limit order, −5% is not
    g = grade(QUIET, entry=PRICE * 0.8).grades[0]
    assert g.limit_entry is True
    assert g.entry_offset == pytest.approx(-0.2)
    assert grade(QUIET, entry=PRICE * 0.95).grades[0].limit_entry is False


def test_leverage_at_or_above_one_over_mmr_is_bad_input() -> None:
    data = data_with(*QUIET, mmr=0.01)  # 1/m = 100x
    assert grade_check(idea(leverage=99), data, ASOF, TH).grades[0].leverage == 99
    for leverage in (100, 125):
        with pytest.raises(ParseError) as caught:
            grade_check(idea(leverage=leverage), data, ASOF, TH)
        assert "100x" in caught.value.reason


@pytest.mark.parametrize(
    ("side", "stop"), [("long", 99.5), ("long", 99.0), ("short", 98.5), ("short", 99.0)]
)
def test_a_stop_on_the_wrong_side_of_the_price_is_bad_input(side: str, stop: float) -> None:
    error = bad(side=side, leverage=3, stop=stop)
    assert "$99.00" in error.reason
    assert "stop" in error.reason


@pytest.mark.parametrize(("side", "target"), [("long", 98.0), ("short", 100.0)])
def test_a_target_on_the_wrong_side_is_bad_input(side: str, target: float) -> None:
    with pytest.raises(ParseError) as caught:
        grade_check(
            TradeIdea("ETH", side, 3.0, True, targets=(target,)),  # type: ignore[arg-type]
            data_with(*QUIET),
            ASOF,
            TH,
        )
    assert "target" in caught.value.reason and "$99.00" in caught.value.reason


def test_no_side_grades_both_with_the_levels_that_fit_each() -> None:
    r = grade_check(
        TradeIdea("ETH", None, 3.0, True, stop=95.0, targets=(110.0, 90.0)),
        data_with(*QUIET),
        ASOF,
        TH,
    )
    long, short = r.grades
    assert (long.position.stop, long.position.target, long.levels_left_out) == (
        95.0,
        110.0,
        ("targets",),
    )
    assert (short.position.stop, short.position.target, short.levels_left_out) == (
        None,
        90.0,
        ("stop", "targets"),
    )
    assert (r.stop, r.target, r.targets) == (95.0, 110.0, (110.0, 90.0))


def test_a_risk_percentage_without_an_account_is_bad_input() -> None:
    with pytest.raises(ParseError) as caught:
        grade_check(
            TradeIdea("ETH", "long", 3.0, True, risk_pct=0.01), data_with(*QUIET), ASOF, TH
        )
    assert "account" in caught.value.reason


def test_sizing_from_the_ideas_risk_and_account() -> None:
    r = grade_check(
        TradeIdea("ETH", "long", 4.0, True, stop=90.0, risk_pct=0.02, account_usd=5000.0),
        data_with(*QUIET),
        ASOF,
        TH,
    )
    s = r.grades[0].sizing
    assert s is not None
    assert s.risk_usd == pytest.approx(100.0)
    assert s.cut_distance == pytest.approx(9 / 99)
    assert s.size_usd == pytest.approx(100 / (9 / 99))
    assert s.margin_usd == pytest.approx(s.size_usd / 4)
    assert s.size_base == pytest.approx(s.size_usd / 99)


def test_sizing_is_null_with_a_note_without_stop_or_sigma() -> None:
    r = grade_check(
        TradeIdea("ETH", "long", 4.0, True, risk_usd=100.0), data_with(*QUIET), ASOF, TH
    )
    g = r.grades[0]
    assert (g.sizing, g.sizing_note) == (None, "no_cut_distance")
    plain = grade(QUIET, leverage=4).grades[0]
    assert (plain.sizing, plain.sizing_note) == (None, None)
