"""The check reply (HTML and plain text) and its SPEC §7 JSON, rendered from real grades."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from signals.grade import CheckResult, grade_check
from signals.idea import TradeIdea
from signals.market import AssetData
from signals.thresholds import Thresholds
from templates import check_json, flag_reason, render_check, utf16_len
from tests.helpers.builders import ASOF, HOUR, asset_data, asset_json, to_asset_data, venue

TH = Thresholds()
HOURLY_DOWN = [100.0] * 24 + [99.0]
TELEGRAM_TAGS = {"b", "i", "u", "s", "code", "pre", "a", "tg-spoiler", "blockquote"}


def idea(side: str | None = "long", leverage: float = 5.0, **kw: Any) -> TradeIdea:
    """An idea built directly (the parser is tested elsewhere)."""
    return TradeIdea(
        asset=kw.pop("asset", "ETH"),
        side=side,  # type: ignore[arg-type]
        leverage=leverage,
        leverage_given=kw.pop("leverage_given", True),
        entry=kw.pop("entry", None),
        stop=kw.pop("stop", None),
        horizon_days=kw.pop("horizon_days", None),
    )


def check(data: AssetData, **idea_kw: Any) -> CheckResult:
    """Grade an idea against data at ASOF."""
    return grade_check(idea(**idea_kw), data, ASOF, TH)


def full_data(**overrides: Any) -> AssetData:
    """Every input present, every long flag in caution."""
    kwargs: dict[str, Any] = {
        "closes_1h": HOURLY_DOWN,
        "closes_1d": [100.0 * (1.02 if i % 2 else 0.98) for i in range(40)],
        "oi_1h": [1e9] * 24 + [1.06e9],
        "oi_1d": [1e9] * 30,
        "funding": [venue("binanceusdm", 0.0006), venue("bybit", 0.00007, 1)],
        "liquidations": [(100.0, 100.0)] * 150 + [(1e6, 1e4)] * 3,
        "skew": [(ASOF - 7 * 24 * HOUR, 0.0), (ASOF - HOUR, -7.0)],
    }
    kwargs.update(overrides)
    return asset_data("ETH", **kwargs)


def percents(text: str) -> list[float]:
    """Every percentage in a text, as a number (the minus sign may be U+2212)."""
    return [float(x.replace("−", "-")) for x in re.findall(r"([+−-]?\d+(?:\.\d+)?)%", text)]


def numbers_before(text: str, word: str) -> list[float]:
    """Signed numbers directly followed by `word`."""
    pattern = r"([+−-]?\d+(?:\.\d+)?)\s*" + re.escape(word)
    return [float(x.replace("−", "-")) for x in re.findall(pattern, text)]


# ---- size and shape ---------------------------------------------------------------------------


@pytest.mark.parametrize("details", [False, True])
@pytest.mark.parametrize("fmt", ["html", "text"])
def test_heaviest_reply_stays_under_telegram_limit(fmt: str, details: bool) -> None:
    data = full_data()
    failed = dict.fromkeys(("okx", "bitget", "gate"), "timeout")
    data = AssetData(**{**data.__dict__, "venues_failed": failed})
    result = check(data, side=None, leverage=50.0, entry=100.0, stop=97.0, horizon_days=30.0)
    text = render_check(result, fmt, TH, now=ASOF, details=details)  # type: ignore[arg-type]
    assert utf16_len(text) <= 4096
    assert "long" in text and "short" in text


def test_verdict_line_names_verdict_asset_side_and_leverage() -> None:
    text = render_check(check(full_data(), leverage=3.0), "text", TH)
    first = text.strip().splitlines()[0]
    assert "WAIT" in first
    assert "ETH" in first and "long" in first and "3x" in first


def test_plain_text_has_no_markup() -> None:
    text = render_check(check(full_data(), side=None), "text", TH)
    assert not re.search(r"</?[a-z][a-z-]*[ >]", text)
    assert "&lt;" not in text and "&gt;" not in text and "&amp;" not in text


def test_html_uses_only_telegram_tags() -> None:
    html = render_check(check(full_data(), side=None), "html", TH)
    tags = set(re.findall(r"</?([a-zA-Z][\w-]*)", html))
    assert tags <= TELEGRAM_TAGS


# ---- escaping ---------------------------------------------------------------------------------


def test_user_and_data_text_is_escaped_in_html() -> None:
    body = asset_json(closes_1h=HOURLY_DOWN)
    data = to_asset_data("<B>&X", body)
    data = AssetData(**{**data.__dict__, "venues_failed": {"<script>evil</script>": "x"}})
    result = grade_check(idea(asset="<B>&X"), data, ASOF, TH)
    html = render_check(result, "html", TH)
    assert "<B>" not in html and "<script>" not in html
    assert "&lt;B&gt;&amp;X" in html
    assert "&lt;script&gt;" in html
    text = render_check(result, "text", TH)
    assert "<B>&X" in text  # plain text carries it verbatim


# ---- numbers never rounded across a threshold -----------------------------------------------


def flag_text(result: CheckResult, name: str, side: str = "long") -> str:
    """A flag's reason as the JSON (and the reply) show it."""
    return flag_reason(result, side, name, TH)


def test_funding_just_below_threshold_never_prints_as_the_threshold() -> None:
    data = asset_data("ETH", closes_1h=HOURLY_DOWN, funding=[venue("v", 0.00029996)])
    result = check(data)
    assert result.grades[0].flags["funding"].status == "clear"
    reason = flag_text(result, "funding")
    assert "0.0300%" not in reason.split("caution")[0]
    shown = percents(reason)[0]
    assert 0.029 < shown < 0.03
    html = render_check(result, "html", TH)
    assert "+0.0300% per 8h" not in html


def test_negative_funding_just_inside_short_threshold() -> None:
    data = asset_data("ETH", closes_1h=HOURLY_DOWN, funding=[venue("v", -0.00029996)])
    result = check(data, side="short")
    assert result.grades[0].flags["funding"].status == "clear"
    shown = percents(flag_text(result, "funding", "short"))[0]
    assert -0.03 < shown < -0.029


def test_funding_at_threshold_prints_as_threshold_and_is_caution() -> None:
    data = asset_data("ETH", closes_1h=HOURLY_DOWN, funding=[venue("v", 0.0003)])
    result = check(data)
    assert result.grades[0].flags["funding"].status == "caution"
    assert percents(flag_text(result, "funding"))[0] == pytest.approx(0.03)


def test_oi_change_just_below_3pct_never_prints_as_3pct() -> None:
    data = asset_data("ETH", closes_1h=HOURLY_DOWN, oi_1h=[1e9] * 24 + [1.0299996e9])
    result = check(data)
    assert result.grades[0].flags["open_interest"].status == "clear"
    shown = percents(flag_text(result, "open_interest"))[0]
    assert 2.9 < shown < 3.0


def test_price_change_just_above_zero_is_not_shown_as_zero_for_longs() -> None:
    # OI +5% and price +0.0001%: clear for a long because price confirmed
    hourly = [100.0] * 24 + [100.0001]
    data = asset_data("ETH", closes_1h=hourly, oi_1h=[1e9] * 24 + [1.05e9])
    result = check(data)
    assert result.grades[0].flags["open_interest"].status == "clear"
    shown = percents(flag_text(result, "open_interest"))
    assert shown[1] > 0


def test_skew_just_above_minus_5_never_prints_as_minus_5() -> None:
    data = asset_data("ETH", closes_1h=HOURLY_DOWN, skew=[(ASOF - HOUR, -4.99996)])
    result = check(data)
    assert result.grades[0].flags["skew"].status == "clear"
    reason = flag_text(result, "skew")
    shown = numbers_before(reason, "vol points")[0]
    assert -5.0 < shown < -4.9


def test_liquidation_ratio_just_below_2x_never_prints_as_2x() -> None:
    # 48 buckets: first 24 total 1000 (baseline 1000/day); last 24 total 1999.99 with two bursts
    first = [(1000.0 / 24, 0.0)] * 24
    last = [(0.0, 0.0)] * 22 + [(999.995, 0.0), (999.995, 0.0)]
    data = asset_data("ETH", closes_1h=HOURLY_DOWN, liquidations=first + last)
    result = check(data)
    g = result.grades[0]
    assert g.flags["liquidations"].status == "clear"
    reason = flag_text(result, "liquidations")
    ratio = numbers_before(reason, "×")[0]
    assert ratio < 2.0


def test_liquidation_distance_just_below_10pct_never_prints_as_10pct() -> None:
    leverage = 1 / 0.1049999  # distance 0.0999999
    result = check(asset_data("ETH", closes_1h=HOURLY_DOWN), leverage=leverage)
    p = result.grades[0].position
    assert p.survives_10pct is False
    for details in (False, True):
        text = render_check(result, "text", TH, details=details)
        line = next(x for x in text.splitlines()[1:] if "iquidation" in x and "away" in x)
        shown = percents(line.split("iquidation", 1)[1])
        assert shown[0] < 10.0 and shown[0] != 10.0


# ---- content the SPEC requires ----------------------------------------------------------


def test_unknown_flags_named_with_worst_case() -> None:
    result = check(asset_data("ETH", closes_1h=HOURLY_DOWN), leverage=2.0)
    g = result.grades[0]
    assert (g.verdict, g.worst_case_verdict) == ("proceed", "wait")
    text = render_check(result, "text", TH)
    lower = text.lower()
    assert "unknown" in lower
    assert "worst case" in lower
    worst_line = lower.splitlines()[0]  # the headline names them and the worst case
    assert "wait" in worst_line
    for name in ("open interest", "funding", "liquidations", "skew"):
        assert name in worst_line or name.replace(" ", "_") in worst_line


def test_only_the_unknown_flag_is_named() -> None:
    result = check(full_data(skew=[]))
    statuses = [f.status for f in result.grades[0].flags.values()]
    assert statuses == ["caution", "caution", "caution", "unknown"]
    text = render_check(result, "text", TH).lower()
    headline = text.splitlines()[0]
    assert "skew unknown" in headline
    unknown_lines = [x for x in text.splitlines()[1:] if "unknown" in x]
    assert unknown_lines and all(x.startswith("❔ skew") for x in unknown_lines)


def test_missing_leverage_is_said_to_be_1x() -> None:
    data = asset_data("ETH", closes_1h=HOURLY_DOWN)
    given = render_check(check(data, leverage=1.0, leverage_given=True), "text", TH)
    defaulted = render_check(check(data, leverage=1.0, leverage_given=False), "text", TH)
    assert "1x" in defaulted.splitlines()[0]
    assert defaulted != given


def test_stop_beyond_liquidation_is_called_out() -> None:
    data = asset_data("ETH", closes_1h=HOURLY_DOWN)
    beyond = render_check(check(data, entry=100.0, stop=80.5), "text", TH)  # liq 80.50: at it
    inside = render_check(check(data, entry=100.0, stop=90.0), "text", TH)
    warn = [x for x in beyond.lower().splitlines() if "stop" in x and "liquidat" in x]
    assert warn
    assert warn[0] not in inside.lower()


def test_position_block_shows_liquidation_and_the_three_numbers() -> None:
    result = check(full_data(), leverage=5.0, entry=100.0)
    p = result.grades[0].position
    for details in (False, True):
        text = render_check(result, "text", TH, details=details)
        assert "80.50" in text  # liquidation price 100 × 0.805
        assert "19.50%" in text
        assert f"Max leverage: {p.max_leverage}x" in text
        assert p.max_drawdown is not None and p.max_drawdown_margin is not None
        assert p.cut_level is not None
        line = f"2σ move against you over 7d: {p.max_drawdown * 100:.2f}% ≈ "
        assert line + ("all" if p.max_drawdown_margin >= 1 else "") in text
        assert f"Cut size at: ${p.cut_level:,.2f}" in text


# ---- JSON -------------------------------------------------------------------------------------


def test_check_json_is_strict_json_with_spec_values() -> None:
    result = check(full_data(), side=None, stop=None)
    doc = check_json(result, TH)
    text = json.dumps(doc, allow_nan=False)
    assert json.loads(text) == doc
    assert doc["asset"] == "ETH"
    assert doc["asof"] == ASOF
    m = result.market
    assert doc["market"]["price"] == m.price
    assert doc["market"]["funding_8h"] == m.funding_8h
    labels = {
        "open_interest": "Open interest",
        "funding": "Funding",
        "liquidations": "Liquidations",
        "skew": "Skew",
    }
    # the JSON reason is the very line the details view shows for that side's flag
    side_blocks = render_check(result, "text", TH, details=True).split("──────────")
    for g_json, g, block in zip(doc["grades"], result.grades, side_blocks, strict=True):
        assert g_json["side"] == g.side
        assert g_json["verdict"] == g.verdict
        shown = {
            line.split(": ", 1)[0].split(" ", 1)[1]: line.split(": ", 1)[1]
            for line in block.splitlines()
            if line[:2].strip() in {"⚠️", "✅", "❔", "⚠"} and ": " in line
        }
        for name, f in g.flags.items():
            assert g_json["flags"][name]["status"] == f.status
            assert g_json["flags"][name]["reason"] == shown[labels[name]]


@pytest.mark.parametrize("fixture", ["full", "empty", "clear"])
def test_every_flag_reason_is_one_nonempty_line(fixture: str) -> None:
    data = {
        "full": full_data(),
        "empty": asset_data("ETH", closes_1h=HOURLY_DOWN),
        "clear": full_data(
            oi_1h=[1e9] * 25,
            funding=[venue("v", 0.0)],
            liquidations=[(1.0, 1.0)] * 48,
            skew=[(ASOF - HOUR, 0.0)],
        ),
    }[fixture]
    result = check(data, side=None)
    for g in result.grades:
        for name in g.flags:
            reason = flag_text(result, name, g.side)
            assert reason.strip()
            assert "\n" not in reason.strip()


# ---- SPEC v2: the reply rethought for a phone ------------------------------------------------

import dataclasses  # noqa: E402

from signals.defaults import UserDefaults, complete_idea  # noqa: E402
from signals.idea import parse_idea  # noqa: E402
from signals.snapshot import DEMO_PATH, load_snapshot  # noqa: E402

DEMO_ASOF, DEMO = load_snapshot(DEMO_PATH)


def demo(text: str, defaults: UserDefaults | None = None) -> CheckResult:
    """Grade idea words against the bundled demo snapshot."""
    idea_ = complete_idea(parse_idea(text), defaults)
    return grade_check(idea_, DEMO[idea_.asset], DEMO_ASOF, TH)


def blocks(text: str) -> list[str]:
    """The per-side blocks of a reply (the data line stays with the last)."""
    return text.split("\n──────────\n")


def test_position_deciding_the_verdict_says_so_in_the_headline() -> None:
    result = demo("ETH long 125x")
    g = result.grades[0]
    assert (g.flags_verdict, g.position_verdict, g.verdict) == ("reduce", "wait", "wait")
    headline = render_check(result, "text", TH).splitlines()[0]
    assert headline.startswith("WAIT · ETH long 125x — ")
    assert "this leverage is liquidated by an ordinary move: 0.30% away" in headline
    assert "1σ over 7d is 6.88%" in headline
    assert f"{g.position.passing_leverage}x or less passes" in headline
    assert g.position.passing_leverage == 5


def test_the_flags_deciding_the_verdict_lead_the_headline() -> None:
    headline = render_check(demo("ETH long 5x"), "text", TH).splitlines()[0]
    assert headline == "REDUCE · ETH long 5x — 2 of 4 flags in caution"


def test_the_three_numbers_to_write_down_for_the_demo() -> None:
    text = render_check(demo("ETH long 5x"), "text", TH)
    assert "2σ move against you over 7d: 13.76% ≈ 69% of your margin" in text
    assert "Cut size at: $2,989.18 (1σ against you over 7d)" in text
    assert "Max leverage: 5x (×0.75 for funding caution)" in text


def test_a_far_limit_entry_is_said_to_be_one() -> None:
    # beyond the 2σ move (13.76%): 2700 is 15.9% below the price
    text = render_check(demo("ETH long 5x @ 2700"), "text", TH)
    assert "a limit order 15.9% below the price $3,210.00" in text
    near = render_check(demo("ETH long 5x @ 2800"), "text", TH)  # 12.8%: within 2σ
    assert "limit order" not in near


def test_an_entry_range_is_graded_at_its_midpoint_and_says_so() -> None:
    result = demo("ETH long 5x entry 3000 - 3050")
    assert result.grades[0].entry == 3025.0
    assert "Entry $3,025.00 (midpoint of $3,000.00–$3,050.00)" in render_check(result, "text", TH)


def test_stop_target_and_size_lines() -> None:
    text = render_check(demo("ETH long 5x stop 3100 tp 3400 3600 risk 1% acct 10k"), "text", TH)
    assert "Cut at: your stop $3,100.00 (nearer than a 1σ move)" in text
    assert "Stop $3,100.00: 3.43% away ≈ 17% of your margin" in text
    assert "target $3,400.00: reward/risk 1.7 (+1 more)" in text
    # risk $100 over a 3.43% stop: $2,918 of ETH, $584 of margin at 5x
    assert "Size $2,918 = 0.9091 ETH · margin $584 · loses $100 at the cut (1% of $10,000)" in text


def test_a_margin_larger_than_the_account_is_warned() -> None:
    text = render_check(demo("ETH long 2x stop 3150 risk $100 acct 1000"), "text", TH)
    assert "⚠️ the margin is more than your $1,000 account" in text


def test_values_from_the_users_settings_are_marked() -> None:
    defaults = UserDefaults(leverage=3.0, horizon_days=3.0, risk_usd=50.0)
    text = render_check(demo("ETH long stop 3100", defaults), "text", TH)
    assert text.splitlines()[0].startswith("REDUCE · ETH long 3x (from your /settings) — ")
    assert "over 3d (from your /settings)" in text
    assert "(your risk, from your /settings)" in text


def test_margin_mode_is_noted_without_effect() -> None:
    cross, plain = demo("ETH long 5x cross"), demo("ETH long 5x")
    assert check_json(cross, TH) == check_json(plain, TH)
    assert render_check(cross, "text", TH).splitlines()[0].startswith("REDUCE · ETH long 5x cross")
    assert "cross noted" in render_check(cross, "text", TH, details=True)


def test_a_no_side_idea_says_which_levels_fit_which_side() -> None:
    text = render_check(demo("ETH 5x stop 3100"), "text", TH)
    long, short = blocks(text)
    assert "Stop $3,100.00" in long
    assert "Stop fits a long, not this short: graded without it" in short


# ---- the data time ------------------------------------------------------------------------


def data_line(result: CheckResult, now: int) -> str:
    return render_check(result, "text", TH, now=now).splitlines()[-1]


def test_live_data_says_how_old_it_is_at_render_time() -> None:
    result = check(full_data())
    assert result.origin == "live"
    assert data_line(result, ASOF + 3 * 60_000) == "Data: live data from 3 min ago"
    assert data_line(result, ASOF + 20_000) == "Data: live data from just now"
    assert data_line(result, ASOF + 5 * HOUR) == "Data: live data from 5 h ago"
    details = render_check(result, "text", TH, now=ASOF + 3 * 60_000, details=True)
    assert "live data from 3 min ago (2026-05-20 00:00 UTC)" in details


def test_a_replayed_snapshot_names_its_file_and_date() -> None:
    result = dataclasses.replace(check(full_data()), origin="snapshot", origin_name="may.json")
    assert data_line(result, ASOF + 400 * 24 * HOUR) == (
        "Data: replay of may.json, data of 2026-05-20 00:00 UTC"
    )


def test_the_demo_says_synthetic_demo_data() -> None:
    assert data_line(demo("ETH long 5x"), 0) == (
        "Data: synthetic demo data, as of 2026-05-20 00:00 UTC"
    )


def test_failed_venues_and_stale_series_are_on_the_data_line() -> None:
    data = asset_data(
        "ETH", asof=ASOF - 5 * HOUR, closes_1h=HOURLY_DOWN, liquidations=[(1.0, 1.0)] * 48
    )
    data = dataclasses.replace(data, venues_failed={"okx": "timeout"})
    text = render_check(check(data), "text", TH, now=ASOF)
    assert text.splitlines()[-1].endswith(" · okx down · stale: liquidations, hourly candles")
    assert "❔ Liquidations: unknown, stale: liquidation buckets 5 h old (limit 3 h)" in text
    details = render_check(check(data), "text", TH, now=ASOF, details=True)
    stale_line = next(
        x for x in details.splitlines() if x.startswith("⚠️ Stale, counted as missing: ")
    )
    assert "hourly candles 5 h old (limit 3 h)" in stale_line
    assert "liquidation buckets 5 h old (limit 3 h)" in stale_line
    assert "okx (timeout)" in details


# ---- sizes: ≤ 12 lines and ≤ 900 characters for one side; details ≤ 4096 UTF-16 units ------

IDEAS = [
    "ETH long 5x",
    "ETH long 125x",
    "SOL long 5x",
    "SOL short 2.5x @ 150 stop 160 tp 120 130 140",
    "DOGE long 3x @ 0.21-0.22 stop 0.19 tp 0.25 0.3 risk 2% acct 25k cross for 2w",
    "BTC long 50x @ 60000 stop 59000 tp 120000 risk $500 acct 1000 isolated for 365d",
    "ETH short 20x stop 3300 tp 2800 2700 2600 2500 2400 2300 2200 2100 2000 1900",
]


@pytest.mark.parametrize("text", IDEAS)
@pytest.mark.parametrize("fmt", ["html", "text"])
def test_compact_side_within_12_lines_and_900_characters(text: str, fmt: str) -> None:
    try:
        result = demo(text)
    except Exception as e:  # an idea the data refuses is not a reply
        pytest.fail(f"{text}: {e}")
    plain = render_check(result, "text", TH, now=DEMO_ASOF)
    (side,) = blocks(plain)
    assert len(side.splitlines()) <= 12, side
    assert len(side) <= 900, len(side)
    rendered = render_check(result, fmt, TH, now=DEMO_ASOF)  # type: ignore[arg-type]
    assert utf16_len(rendered) <= 4096


def test_every_compact_side_of_a_two_sided_idea_fits_too() -> None:
    result = demo("DOGE 3x @ 0.21 stop 0.19 tp 0.25 0.18 risk 1% acct 5k cross")
    for side in blocks(render_check(result, "text", TH)):
        assert len(side.splitlines()) <= 12 and len(side) <= 900


def test_details_fit_telegram_even_with_pathological_data() -> None:
    # twenty failing venues with long emoji-laden reasons: content is shortened before render
    failed = {f"venue-{i}-🚀🚀🚀": "💥" * 300 for i in range(20)}
    data = dataclasses.replace(full_data(), venues_failed=failed, venues_used=tuple(failed))
    result = check(data, side=None, leverage=50.0, entry=100.0, stop=97.0, horizon_days=30.0)
    for fmt in ("html", "text"):
        text = render_check(result, fmt, TH, now=ASOF, details=True)  # type: ignore[arg-type]
        assert utf16_len(text) <= 4096
        assert "2026-05-20 00:00 UTC" in text.splitlines()[-1]  # the data time is never cut
    html = render_check(result, "html", TH, now=ASOF, details=True)
    for tag in ("b", "i", "code"):
        assert html.count(f"<{tag}>") == html.count(f"</{tag}>")  # never sliced mid-tag
    assert "and 14 more" in html


def test_details_hold_the_numbers_behind_every_flag_and_the_sources() -> None:
    text = render_check(demo("ETH long 5x"), "text", TH, details=True)
    for piece in (
        "OI +5.50% in 24h while price −1.40%: new leverage is piling in against longs",
        "counted from binanceusdm, bybit, okx over 168h",  # the coverage sentence lives here
        "funding binanceusdm (8h), bybit (8h), okx (4h)",
        "Max leverage 5x = floor(0.75 ÷ (13.76% + 0.50%))",
        "Verdict: flags reduce · position proceed → reduce (the stricter)",
        "Rule: flags 3+ → wait",
    ):
        assert piece in text, piece
    compact = render_check(demo("ETH long 5x"), "text", TH)
    assert "counted from" not in compact  # the long coverage sentence moved to details


# ---- JSON: SPEC v2 keys, never NaN or Infinity ---------------------------------------------


def test_check_json_has_exactly_the_spec_v2_keys() -> None:
    doc = check_json(demo("ETH long 5x stop 3100 tp 3400 risk 1% acct 10k"), TH)
    assert set(doc) == {
        "asset",
        "asof",
        "stop",
        "target",
        "targets",
        "market",
        "sources",
        "grades",
    }
    assert set(doc["sources"]) == {"used", "failed", "stale"}
    (g,) = doc["grades"]
    assert set(g) == {
        "side", "leverage", "entry", "horizon_days", "flags", "caution_count", "unknown_count",
        "flags_verdict", "position_verdict", "verdict", "worst_case_verdict", "position",
        "sizing",
    }  # fmt: skip
    assert set(g["position"]) == {
        "liq_distance", "liq_price", "survives_10pct", "move_1sigma", "move_2sigma",
        "survives_2sigma", "max_leverage", "max_drawdown", "max_drawdown_margin",
        "reduce_level", "cut_level", "stop_distance", "stop_loss_margin", "stop_beyond_liq",
        "reward_risk",
    }  # fmt: skip
    assert set(g["sizing"]) == {
        "account_usd", "risk_usd", "cut_distance", "size_usd", "size_base", "margin_usd"
    }  # fmt: skip
    assert (doc["stop"], doc["target"], doc["targets"]) == (3100, 3400, [3400])


def test_json_maps_a_number_that_overflowed_to_null_and_never_prints_infinity() -> None:
    # a price that went from 1e-12 to 1e18 in a day: the 24h change is 1e30 (finite) but the
    # OI change from 1e-300 to 1e18 overflows to inf in float arithmetic
    data = asset_data("ETH", closes_1h=[1e-12] * 24 + [1e18], oi_1h=[1e-300] * 24 + [1e18])
    result = check(data)
    assert result.market.oi_change_24h is None  # the engine reports it unknown
    text = json.dumps(check_json(result, TH), allow_nan=False)
    assert "Infinity" not in text and "NaN" not in text


def test_check_json_text_refuses_nan_by_construction() -> None:
    from templates import check_json_text

    result = check(full_data())
    bad = dataclasses.replace(
        result, market=dataclasses.replace(result.market, funding_8h=float("nan"))
    )
    doc = json.loads(check_json_text(bad, TH))
    assert doc["market"]["funding_8h"] is None


@pytest.mark.parametrize("text", [*IDEAS, "BTC 3x", "DOGE long 2x tp 0.3"])
def test_every_details_section_starts_its_own_line(text: str) -> None:
    details = render_check(demo(text), "text", TH, details=True)
    lines = details.splitlines()
    for marker in ("Position:", "Write down before the trade:", "Verdict:", "Sources:", "Rule:"):
        assert any(line.startswith(marker) for line in lines), marker
        assert all(marker not in line or line.startswith(marker) for line in lines), marker
    assert lines[-1].startswith("Data: ")


def test_details_with_no_price_at_all_say_the_entry_is_unknown() -> None:
    data = asset_data("ETH", funding=[venue("okx", 0.0001)])
    text = render_check(check(data), "text", TH, details=True)
    assert "Position: long 5x with the entry unknown (no price data)" in text
    assert "n/a (current price)" not in text


def test_a_side_that_would_overflow_is_told_in_shorter_words() -> None:
    # stale hourly data and skew, three venues down, a 60x idea with a range, a stop past the
    # liquidation, three targets, a risk and an account: the full forms run past 900
    rng = np.random.default_rng(3)
    data = asset_data(
        "ETH",
        asof=ASOF - 4 * HOUR,
        closes_1h=[100.0] * 30,
        oi_1h=[1e9] * 30,
        liquidations=[(1.0, 1.0)] * 60,
        skew=[(ASOF - 30 * HOUR, -1.0)],
        closes_1d=list(100 * np.exp(np.cumsum(rng.normal(0, 0.03, 60)))),
    )
    failed = {"okx": "timeout after 5 s", "bybit": "HTTP 503", "gate": "malformed answer"}
    data = dataclasses.replace(data, venues_failed=failed)
    idea_ = parse_idea("ETH long 60x @ 95-97 stop 93 tp 120 130 140 risk 1% acct 500 cross 3d")
    result = grade_check(idea_, data, ASOF, TH)
    for fmt in ("text", "html"):
        text = render_check(result, fmt, TH, now=ASOF)  # type: ignore[arg-type]
        plain = re.sub(r"</?[a-z]+>", "", text) if fmt == "html" else text
        plain = plain.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
        assert len(plain.splitlines()) <= 12 and len(plain) <= 900, len(plain)
    assert "4 flags unknown" in text
    assert "❔ <b>Skew</b>: unknown: stale 30 h" in text
    assert "3 venues down · stale: 4 series" in text


# ---- the slot for a track record, the reader's zone, unread settings --------------------------

TRACK = "Track record: this rule said WAIT on 31 of 365 days; 3 of them fell 10%+"


@pytest.mark.parametrize("text", IDEAS)
def test_a_track_line_sits_under_the_verdict_and_the_side_still_fits(text: str) -> None:
    result = demo(text)

    plain = render_check(result, "text", TH, now=DEMO_ASOF, track_line=TRACK)

    (side,) = blocks(plain)
    assert side.splitlines()[1] == TRACK
    assert len(side.splitlines()) <= 12, side
    assert len(side) <= 900, len(side)


def test_the_fullest_side_folds_the_cut_and_max_lines_to_make_room() -> None:
    result = demo("ETH long 5x @ 3000-3050 stop 2900 tp 3400 3600 risk 1% acct 10k")
    without = render_check(result, "text", TH).splitlines()

    lines = render_check(result, "text", TH, track_line=TRACK).splitlines()

    assert len(without) == 12 and len(lines) == 12
    assert "Cut at: your stop $2,900.00 (nearer than a 1σ move) · Max leverage: 5x" in lines[8]


def test_a_track_line_per_side_for_a_two_sided_idea() -> None:
    result = demo("ETH 5x")
    track = {"long": "long: said REDUCE 40 times", "short": "short: said PROCEED 300 times"}

    long_block, short_block = blocks(render_check(result, "text", TH, track_line=track))

    assert long_block.splitlines()[1] == "long: said REDUCE 40 times"
    assert short_block.splitlines()[1] == "short: said PROCEED 300 times"
    details = render_check(result, "text", TH, track_line=track, details=True)
    assert "long: said REDUCE 40 times" in details and "short: said PROCEED" in details


def test_no_track_line_leaves_the_reply_as_it_was() -> None:
    result = demo("ETH long 5x")
    assert render_check(result, "html", TH, track_line=None) == render_check(result, "html", TH)
    assert render_check(result, "html", TH, track_line="") == render_check(result, "html", TH)


def test_a_track_line_is_escaped_and_kept_on_one_line() -> None:
    html = render_check(demo("ETH long 5x"), "html", TH, track_line="<b>a</b>\nb & c")
    assert html.splitlines()[1] == "&lt;b&gt;a&lt;/b&gt; b &amp; c"


def test_times_follow_the_readers_zone() -> None:
    result = demo("ETH long 5x")
    live = check(full_data())

    assert data_line(result, 0) == "Data: synthetic demo data, as of 2026-05-20 00:00 UTC"
    assert render_check(result, "text", TH, tz="America/New_York").splitlines()[-1] == (
        "Data: synthetic demo data, as of 2026-05-19 20:00 EDT"
    )
    details = render_check(live, "text", TH, now=ASOF + 3 * 60_000, details=True, tz="Asia/Tokyo")
    assert "live data from 3 min ago (2026-05-20 09:00 JST)" in details


def test_unread_settings_are_said_once_above_the_data_line() -> None:
    lines = render_check(demo("ETH 5x"), "text", TH, settings_unread=True).splitlines()
    note = "⚠️ Your /settings could not be read just now: graded as typed."
    assert lines[-2:] == [note, "Data: synthetic demo data, as of 2026-05-20 00:00 UTC"]
    assert lines.count(note) == 1


def test_details_with_every_list_at_its_longest_still_fit(tmp_path: Path) -> None:
    # stale hourly series, twenty failing venues, no skew, ten targets, a stop past the
    # liquidation, sizing, both sides: level 0 alone is over 4,096 units
    doc = json.loads(DEMO_PATH.read_text())
    eth = doc["assets"]["ETH"]
    eth["sources"]["failed"] = {
        f"venue{n:02d}withalongname": "HTTP 503 <html> & " * 10 for n in range(20)
    }
    eth["skew_rr25_30d"] = []
    doc["asof"] += 5 * HOUR
    path = tmp_path / "worst.json"
    path.write_text(json.dumps(doc))
    asof, assets = load_snapshot(path)
    words = (
        "eth 125x cross @ 3000-3050 stop 3040 tp 3100 3200 3300 3400 3500 3600 3700 3800 "
        "3900 4000 risk 2% acct 1234567 for 90d"
    )
    result = grade_check(parse_idea(words), assets["ETH"], asof, TH)

    for fmt in ("html", "text"):
        text = render_check(result, fmt, TH, now=asof, details=True)  # type: ignore[arg-type]
        shown = re.sub(r"<[^<>]*>", "", text).replace("&lt;", "<").replace("&gt;", ">")
        shown = shown.replace("&amp;", "&")
        assert 3500 < utf16_len(shown) <= 4096, utf16_len(shown)
        assert "Data: synthetic demo data, as of 2026-05-20 05:00 UTC" in text.splitlines()[-1]
        assert "and 14 more" in text and "(graded) and 9 more" in text


def test_a_full_side_with_a_track_line_and_unread_settings_still_fits() -> None:
    result = demo("ETH long 5x @ 3000-3050 stop 2900 tp 3400 3600 risk 1% acct 10k")

    text = render_check(result, "text", TH, track_line=TRACK, settings_unread=True)

    assert len(text.splitlines()) == 12 and len(text) <= 900
    assert text.splitlines()[-1].endswith(" · ⚠️ your /settings could not be read: graded as typed")
