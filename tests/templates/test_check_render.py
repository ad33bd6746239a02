"""The check reply (HTML and plain text) and its SPEC §7 JSON, rendered from real grades."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from signals.grade import CheckResult, grade_check
from signals.idea import TradeIdea
from signals.market import AssetData
from signals.thresholds import Thresholds
from templates import check_json, flag_reason, render_check
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


@pytest.mark.parametrize("fmt", ["html", "text"])
def test_heaviest_reply_stays_under_telegram_limit(fmt: str) -> None:
    data = full_data()
    failed = dict.fromkeys(("okx", "bitget", "gate"), "timeout")
    data = AssetData(**{**data.__dict__, "venues_failed": failed})
    result = check(data, side=None, leverage=50.0, entry=100.0, stop=97.0, horizon_days=30.0)
    text = render_check(result, fmt, TH)  # type: ignore[arg-type]
    assert len(text) < 4096
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
    text = render_check(result, "text", TH)
    line = next(x for x in text.splitlines() if "away" in x)
    assert all(v != 10.0 for v in percents(line))
    assert percents(line)[0] < 10.0


# ---- content the SPEC requires ----------------------------------------------------------


def test_unknown_flags_named_with_worst_case() -> None:
    result = check(asset_data("ETH", closes_1h=HOURLY_DOWN), leverage=2.0)
    g = result.grades[0]
    assert (g.verdict, g.worst_case_verdict) == ("proceed", "wait")
    text = render_check(result, "text", TH)
    lower = text.lower()
    assert "unknown" in lower
    assert "worst case" in lower
    worst_line = next(x for x in lower.splitlines() if "worst case" in x)
    assert "wait" in worst_line
    for name in ("open interest", "funding", "liquidations", "skew"):
        assert name in worst_line or name.replace(" ", "_") in worst_line


def test_only_the_unknown_flag_is_named() -> None:
    result = check(full_data(skew=[]))
    statuses = [f.status for f in result.grades[0].flags.values()]
    assert statuses == ["caution", "caution", "caution", "unknown"]
    text = render_check(result, "text", TH).lower()
    unknown_lines = [x for x in text.splitlines() if "unknown" in x]
    assert any("skew" in x for x in unknown_lines)
    for other in ("funding", "open interest", "open_interest", "liquidations"):
        assert not any(other in x for x in unknown_lines), other


def test_missing_leverage_is_said_to_be_1x() -> None:
    data = asset_data("ETH", closes_1h=HOURLY_DOWN)
    given = render_check(check(data, leverage=1.0, leverage_given=True), "text", TH)
    defaulted = render_check(check(data, leverage=1.0, leverage_given=False), "text", TH)
    assert "1x" in defaulted.splitlines()[0]
    assert defaulted != given


def test_stop_beyond_liquidation_is_called_out() -> None:
    data = asset_data("ETH", closes_1h=HOURLY_DOWN)
    beyond = render_check(check(data, entry=100.0, stop=80.0), "text", TH)  # liq 80.50
    inside = render_check(check(data, entry=100.0, stop=90.0), "text", TH)
    warn = [x for x in beyond.lower().splitlines() if "stop" in x and "liquidat" in x]
    assert warn
    assert warn[0] not in inside.lower()


def test_position_block_shows_liquidation_and_the_three_numbers() -> None:
    result = check(full_data(), leverage=5.0, entry=100.0)
    p = result.grades[0].position
    text = render_check(result, "text", TH)
    assert "80.50" in text  # liquidation price 100 × 0.805
    assert "19.50%" in text
    assert f"{p.max_leverage}x" in text
    assert p.max_drawdown is not None and p.reduce_level is not None
    assert f"{p.max_drawdown * 100:.2f}%" in text
    assert f"{p.reduce_level:,.2f}" in text


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
    # the JSON reason is the very line the reply shows for that side's flag
    side_blocks = render_check(result, "text", TH).split("──────────")
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
