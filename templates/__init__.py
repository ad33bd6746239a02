"""All user-facing text: jinja2 templates rendered as Telegram HTML or plain CLI text."""

from __future__ import annotations

import html as html_lib
import math
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

if TYPE_CHECKING:
    from signals.grade import CheckResult

Fmt = Literal["html", "text"]
# Telegram's limits, in UTF-16 code units of the text a client shows (after HTML parsing)
TELEGRAM_LIMIT = 4096
CAPTION_LIMIT = 1024
TOAST_LIMIT = 200
_DIR = Path(__file__).parent

# ---- number formatting ------------------------------------------------------------------
# A number is shown with as many decimals as it takes to keep its relation (<, =, >) to every
# threshold it is judged against: 0.02996% must never print as a threshold-meeting 0.0300%.

_REL = 1e-9


def _relation(value: float, threshold: float) -> int:
    tol = max(1e-15, _REL * abs(threshold))
    if value > threshold + tol:
        return 1
    if value < threshold - tol:
        return -1
    return 0


def _faithful(value: float, decimals: int, thresholds: tuple[float, ...]) -> str:
    """Format `value` with ≥ `decimals` decimals, more if rounding would cross a threshold."""
    for d in range(decimals, decimals + 10):
        text = f"{value:.{d}f}"
        shown = float(text)
        if all(_relation(shown, t) == _relation(value, t) for t in thresholds):
            return text
    return repr(value)


def _sign(text: str, signed: bool) -> str:
    if text.startswith("-"):
        return "−" + text[1:]
    if signed and float(text) != 0:
        return "+" + text
    return text


def pct(value: float | None, decimals: int = 2, *thresholds: float) -> str:
    """A fraction as a percentage: 0.0123 → '1.23%'."""
    if value is None:
        return "n/a"
    return _sign(_faithful(value * 100, decimals, tuple(t * 100 for t in thresholds)), False) + "%"


def signed_pct(value: float | None, decimals: int = 2, *thresholds: float) -> str:
    """A fraction as a signed percentage: 0.0123 → '+1.23%'."""
    if value is None:
        return "n/a"
    return _sign(_faithful(value * 100, decimals, tuple(t * 100 for t in thresholds)), True) + "%"


def num(value: float | None, decimals: int = 2, *thresholds: float) -> str:
    """A plain number with threshold-faithful decimals."""
    if value is None:
        return "n/a"
    return _sign(_faithful(value, decimals, thresholds), False)


def signed_num(value: float | None, decimals: int = 1, *thresholds: float) -> str:
    """A signed plain number: '+3.2', '−6.0'."""
    if value is None:
        return "n/a"
    return _sign(_faithful(value, decimals, thresholds), True)


def usd(value: float | None) -> str:
    """A USD amount, compact: $5.10B, $312.4M, $12.3k, $950."""
    if value is None:
        return "n/a"
    sign = "−" if value < 0 else ""
    v = abs(value)
    for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if v >= size:
            return (
                f"{sign}${v / size:.2f}{suffix}"
                if v / size < 100
                else f"{sign}${v / size:.1f}{suffix}"
            )
    return f"{sign}${v:,.0f}"


def price(value: float | None) -> str:
    """A price with decimals that suit its size: $3,012.50, $171.23, $0.21453."""
    if value is None:
        return "n/a"
    v = abs(value)
    if v >= 1000:
        text = f"{v:,.2f}"
    elif v >= 1:
        text = f"{v:,.3f}" if v < 10 else f"{v:,.2f}"
    elif v == 0:
        text = "0"
    else:
        digits = min(10, 4 - math.floor(math.log10(v)))
        text = f"{v:.{digits}f}"
    return ("−$" if value < 0 else "$") + text


def lev(value: float | None) -> str:
    """Leverage: 5 → '5x', 2.5 → '2.5x'."""
    if value is None:
        return "n/a"
    return f"{value:g}x"


def days(value: float | None) -> str:
    """A horizon: 7 → '7d', 0.5 → '12h'."""
    if value is None:
        return "n/a"
    if value < 1:
        return f"{value * 24:g}h"
    return f"{value:g}d"


def utc(ms: int | None) -> str:
    """Milliseconds since the epoch → '2026-05-20 00:00 UTC'."""
    if ms is None:
        return "n/a"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def ratio(value: float | None, base: float | None, decimals: int = 2, *thresholds: float) -> str:
    """value ÷ base as '2.15×', or 'n/a' when the base is 0 or unknown."""
    if value is None or base is None or base == 0:
        return "n/a"
    return _faithful(value / base, decimals, thresholds) + "×"


# ---- environments -----------------------------------------------------------------------


def oneline(value: Any) -> Any:
    """Collapse whitespace and newlines into single spaces (keeps Markup safe)."""
    joined = " ".join(str(value).split())
    return Markup(joined) if isinstance(value, Markup) else joined


def _make_env(fmt: Fmt) -> Environment:
    html = fmt == "html"
    env = Environment(
        loader=FileSystemLoader(str(_DIR)),
        autoescape=html,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters.update(
        pct=pct,
        signed_pct=signed_pct,
        num=num,
        signed_num=signed_num,
        usd=usd,
        price=price,
        lev=lev,
        days=days,
        utc=utc,
        oneline=oneline,
    )
    env.globals.update(
        fmt=fmt,
        html=html,
        b=_wrap("b") if html else _plain,
        i=_wrap("i") if html else _plain,
        code=_wrap("code") if html else _plain,
        ratio=ratio,
    )
    return env


def _wrap(tag: str) -> Any:
    def wrap(value: Any) -> Markup:
        return Markup(f"<{tag}>{escape(value)}</{tag}>")

    return wrap


def _plain(value: Any) -> str:
    return str(value)


_ENVS: dict[str, Environment] = {"html": _make_env("html"), "text": _make_env("text")}


def render(name: str, fmt: Fmt = "html", **ctx: Any) -> str:
    """Render templates/<name>.j2 as Telegram HTML or plain text, trimmed.

    Never cut: a message that may grow is shortened before rendering (`render_fitted`).
    """
    text = _ENVS[fmt].get_template(f"{name}.j2").render(**ctx).strip()
    return _collapse_blank_lines(text)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram counts its limits in."""
    return len(text.encode("utf-16-le")) // 2


_TAG = re.compile(r"<[^<>]*>")


def visible_length(text: str, fmt: Fmt = "html") -> int:
    """What Telegram counts against its limits: the shown text (tags and entities resolved)."""
    shown = html_lib.unescape(_TAG.sub("", text)) if fmt == "html" else text
    return utf16_len(shown)


def fits(text: str, fmt: Fmt = "html", limit: int = TELEGRAM_LIMIT) -> bool:
    """True when Telegram accepts `text` as a message (or a caption/toast, with its limit)."""
    return 0 < visible_length(text, fmt) <= limit


def render_fitted(
    name: str,
    fmt: Fmt = "html",
    *,
    cut: str,
    keep: Literal["head", "tail"] = "tail",
    limit: int = TELEGRAM_LIMIT,
    **ctx: Any,
) -> str:
    """Render with `ctx[cut]` (plain text) shortened until the message fits `limit`.

    The content is cut before rendering, at a character, and marked with "…"; the markup
    around it is never cut.
    """
    original = str(ctx.pop(cut))
    text = render(name, fmt, **ctx, **{cut: original})
    excess = visible_length(text, fmt) - limit
    if excess <= 0:
        return text
    budget = utf16_len(original) - excess - 1  # one unit for the "…"
    while True:
        part = _utf16_tail(original, budget) if keep == "tail" else _utf16_head(original, budget)
        shortened = ("…" + part if keep == "tail" else part + "…") if part else ""
        text = render(name, fmt, **ctx, **{cut: shortened})
        excess = visible_length(text, fmt) - limit
        if excess <= 0 or not part:
            return text
        budget -= excess


def _utf16_tail(text: str, budget: int) -> str:
    """The longest end of `text` within `budget` UTF-16 units."""
    used, start = 0, len(text)
    while start > 0 and used + utf16_len(text[start - 1]) <= budget:
        start -= 1
        used += utf16_len(text[start])
    return text[start:]


def _utf16_head(text: str, budget: int) -> str:
    """The longest start of `text` within `budget` UTF-16 units."""
    used, end = 0, 0
    while end < len(text) and used + utf16_len(text[end]) <= budget:
        used += utf16_len(text[end])
        end += 1
    return text[:end]


def toast(text: str, limit: int = TOAST_LIMIT) -> str:
    """Plain text cut to fit a button's answer (200 UTF-16 units), ending in "…" if cut."""
    if utf16_len(text) <= limit:
        return text
    out = []
    used = 1  # the "…"
    for char in text:
        used += utf16_len(char)
        if used > limit:
            break
        out.append(char)
    return "".join(out).rstrip() + "…"


def _collapse_blank_lines(text: str) -> str:
    lines = [line.rstrip() for line in text.splitlines()]
    out: list[str] = []
    for line in lines:
        if line == "" and out and out[-1] == "":
            continue
        out.append(line)
    return "\n".join(out)


# ---- the check reply and its JSON -------------------------------------------------------


def render_check(result: CheckResult, fmt: Fmt = "html", thresholds: Any = None) -> str:
    """The graded reply for one check (one or both sides)."""
    th = thresholds if thresholds is not None else _default_thresholds()
    return render("check", fmt, r=result, m=result.market, th=th)


def flag_reason(result: CheckResult, side: str, name: str, thresholds: Any = None) -> str:
    """One flag's one-line reason, quoting its numbers (plain text)."""
    th = thresholds if thresholds is not None else _default_thresholds()
    grade = next(g for g in result.grades if g.side == side)
    return render(
        "flag_reason", "text", r=result, m=result.market, th=th, g=grade, f=grade.flags[name]
    )


def check_json(result: CheckResult, thresholds: Any = None) -> dict[str, Any]:
    """The SPEC §7 JSON object for a check."""
    m = result.market
    market = {
        key: getattr(m, key)
        for key in (
            "price",
            "price_change_24h",
            "return_7d",
            "sigma_daily",
            "vol_expansion",
            "oi_usd",
            "oi_change_24h",
            "oi_percentile_30d",
            "funding_8h",
            "funding_8h_3d_avg",
            "liq_long_24h_usd",
            "liq_short_24h_usd",
            "rr25_30d",
            "rr25_30d_7d_change",
        )
    }
    grades = []
    for g in result.grades:
        p = g.position
        grades.append(
            {
                "side": g.side,
                "leverage": g.leverage,
                "entry": g.entry,
                "horizon_days": g.horizon_days,
                "flags": {
                    name: {
                        "status": f.status,
                        "reason": flag_reason(result, g.side, name, thresholds),
                        "values": _flag_values(result, name, f.values),
                    }
                    for name, f in g.flags.items()
                },
                "caution_count": g.caution_count,
                "unknown_count": g.unknown_count,
                "verdict": g.verdict,
                "worst_case_verdict": g.worst_case_verdict,
                "position": {
                    "liq_distance": p.liq_distance,
                    "liq_price": p.liq_price,
                    "survives_10pct": p.survives_10pct,
                    "move_2sigma": p.move_2sigma,
                    "survives_2sigma": p.survives_2sigma,
                    "max_leverage": p.max_leverage,
                    "max_drawdown": p.max_drawdown,
                    "reduce_level": p.reduce_level,
                },
            }
        )
    return {
        "asset": result.asset,
        "asof": result.asof,
        "stop": result.stop,
        "market": market,
        "sources": {"used": list(result.venues_used), "failed": dict(result.venues_failed)},
        "grades": grades,
    }


def _flag_values(result: CheckResult, name: str, values: dict[str, Any]) -> dict[str, Any]:
    """A flag's numbers; the liquidation flag also says which venues and hours it counted."""
    out = dict(values)
    cov = result.liq_coverage
    if name == "liquidations" and cov is not None:
        out["venues"] = list(cov.venues)
        out["hours_covered"] = cov.hours_covered
        out["since"] = cov.since_ms
        out["lower_bound"] = bool(cov.lower_bound_venues)
    return out


def _default_thresholds() -> Any:
    from signals.thresholds import Thresholds

    return Thresholds()
