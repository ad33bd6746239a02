"""All user-facing text: jinja2 templates rendered as Telegram HTML or plain CLI text."""

from __future__ import annotations

import html as html_lib
import json
import math
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment, FileSystemBytecodeCache, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from signals.timezones import zone_label

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


def local(ms: int | None, tz: str | None = None) -> str:
    """Milliseconds since the epoch in a time zone: '2026-05-20 02:00 CEST' (none: UTC)."""
    if ms is None:
        return "n/a"
    if not tz or tz == "UTC":
        return utc(ms)
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return utc(ms)  # a zone this machine no longer knows: UTC, labelled as such
    return datetime.fromtimestamp(ms / 1000, zone).strftime("%Y-%m-%d %H:%M %Z")


def utc_date(ms: int | None) -> str:
    """Milliseconds since the epoch → '2026-05-20'."""
    if ms is None:
        return "n/a"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d")


def age(ms: int | None) -> str:
    """A span in ms, compact: '45 min', '5 h', '3 h 20 min', '4 d 6 h'."""
    if ms is None:
        return "n/a"
    minutes = max(0, int(ms // 60_000))
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days_, hours = divmod(hours, 24)
    return f"{days_} d {hours} h" if hours else f"{days_} d"


def ago(asof: int | None, now: int | None) -> str:
    """How long before `now` the data was read: 'just now', '3 min ago', '2 h ago'."""
    if asof is None or now is None:
        return "n/a"
    span = now - asof
    if span < 60_000:
        return "just now"
    return f"{age(span)} ago"


def usd_exact(value: float | None) -> str:
    """A dollar amount for sizing: $1,234, $12.50, $0.42 (never compacted to $1.23k)."""
    if value is None:
        return "n/a"
    sign = "−" if value < 0 else ""
    v = abs(value)
    return f"{sign}${v:,.0f}" if v >= 100 else f"{sign}${v:,.2f}"


def coins(value: float | None) -> str:
    """An amount of the base asset, 4 significant digits: 1.602, 0.03125, 12,480."""
    if value is None:
        return "n/a"
    v = abs(value)
    if v >= 1000:
        return f"{value:,.0f}"
    if v == 0:
        return "0"
    digits = max(0, 3 - math.floor(math.log10(v)))
    return f"{value:,.{digits}f}"


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, as Telegram counts a message."""
    return len(text.encode("utf-16-le")) // 2


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


def _bytecode_cache(fmt: Fmt) -> FileSystemBytecodeCache | None:
    """Compiled templates kept between runs, like Python's __pycache__ (jinja2's per-user
    cache folder): compiling the check templates costs ~0.3 s, a one-shot command paid it on
    every run. Keyed per format (the two environments compile one source differently); a
    changed template is compiled again (jinja2 checks the source)."""
    try:
        return FileSystemBytecodeCache(pattern=f"__preflight_{fmt}_%s.cache")
    except (OSError, RuntimeError):
        return None  # no writable temporary folder: compile every run, as before


def _make_env(fmt: Fmt) -> Environment:
    html = fmt == "html"
    env = Environment(
        loader=FileSystemLoader(str(_DIR)),
        bytecode_cache=_bytecode_cache(fmt),
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
        local=local,
        utc_date=utc_date,
        age=age,
        usd_exact=usd_exact,
        coins=coins,
        oneline=oneline,
        zone=zone_label,
    )
    env.globals.update(
        fmt=fmt,
        html=html,
        b=_wrap("b") if html else _plain,
        i=_wrap("i") if html else _plain,
        code=_wrap("code") if html else _plain,
        ratio=ratio,
        ago=ago,
    )
    return env


def _wrap(tag: str) -> Any:
    def wrap(value: Any) -> Markup:
        return Markup(f"<{tag}>{escape(value)}</{tag}>")

    return wrap


def _plain(value: Any) -> str:
    return str(value)


_ENVS: dict[str, Environment] = {"html": _make_env("html"), "text": _make_env("text")}


def precompile() -> int:
    """Compile every template of both formats now; return how many.

    The bot does this at start-up: compiling one on its first use costs tens of
    milliseconds of event loop (a first alert, a first summary)."""
    count = 0
    for env in _ENVS.values():
        for name in env.list_templates(extensions=["j2"]):
            env.get_template(name)
            count += 1
    return count


def render(name: str, fmt: Fmt = "html", **ctx: Any) -> str:
    """Render templates/<name>.j2 as Telegram HTML or plain text, trimmed.

    Never cut: a message that may grow is shortened before rendering (`render_fitted`).
    """
    text = _ENVS[fmt].get_template(f"{name}.j2").render(**ctx).strip()
    return _collapse_blank_lines(text)


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

# The compact reply (one side) stays short enough to read on a phone without scrolling.
COMPACT_MAX_LINES = 12
COMPACT_MAX_CHARS = 900
# Lists from the data (venues, failure reasons) are cut before rendering, never after.
_MAX_VENUES = 6
_MAX_REASON_CHARS = 60


def wall_clock_ms() -> int:
    """The real clock in ms: what 'now' is for a live reply rendered at this moment."""
    return int(time.time() * 1000)


def render_check(
    result: CheckResult,
    fmt: Fmt = "html",
    thresholds: Any = None,
    *,
    now: int | None = None,
    details: bool = False,
    tz: str | None = None,
    settings_unread: bool = False,
    track_line: str | Mapping[str, str] | None = None,
) -> str:
    """The graded reply: compact (default) or the details view of the same result.

    `now` (ms) is the real clock at render time, for "data from 3 min ago"; when not given it
    is read here, once, never inside a template. `tz`: the reader's time zone for absolute
    times (None: UTC). `settings_unread`: the reader's /settings could not be read, so the
    idea was graded as typed (said in the reply). `track_line`: one line of track record
    under each side's verdict (a string, or one per side: {"long": …, "short": …}).
    """
    ctx = _check_context(result, thresholds, now)
    ctx.update(tz=tz, settings_unread=settings_unread, track_line=track_line)
    if details:
        return _render_details(ctx, fmt)
    # the fullest form whose every side fits a phone screen: shorter words first, then the
    # cut level and the max leverage share one line
    text = ""
    for tight in (0, 1, 2):
        plain = _render_whole("check", "text", tight=tight, **ctx)
        fits_all = all(_fits_compact(side) for side in plain.split(SIDE_SEPARATOR))
        if fits_all or tight == 2:
            text = plain if fmt == "text" else _render_whole("check", fmt, tight=tight, **ctx)
            break
    return text


# between the sides of a two-sided reply (check.j2)
SIDE_SEPARATOR = "\n──────────\n"


def _fits_compact(side: str) -> bool:
    """One side's block (as plain text, what the reader sees) within the phone budget."""
    return len(side.splitlines()) <= COMPACT_MAX_LINES and len(side) <= COMPACT_MAX_CHARS


def render_check_details(
    result: CheckResult,
    fmt: Fmt = "html",
    thresholds: Any = None,
    *,
    now: int | None = None,
    tz: str | None = None,
) -> str:
    """The details view: every number behind the verdict, within Telegram's 4096 UTF-16 units.

    The content is shortened before rendering (market line, then full flag reasons are
    dropped) until the whole message fits; rendered HTML is never cut.
    """
    ctx = _check_context(result, thresholds, now)
    ctx.update(tz=tz, settings_unread=False, track_line=None)
    return _render_details(ctx, fmt)


def _render_details(ctx: dict[str, Any], fmt: Fmt) -> str:
    text = ""
    for level in (2, 1, 0, -1):
        text = _render_whole("check_details", fmt, level=level, **ctx)
        if visible_length(text, fmt) <= TELEGRAM_LIMIT:
            return text
    # level -1 is bounded by construction: short reasons, every list from the data capped
    return text


def render_market(
    result: CheckResult, fmt: Fmt = "html", *, now: int | None = None, tz: str | None = None
) -> str:
    """The /market dashboard for one asset (both sides graded at 1x), with its data time
    (absolute times in `tz`, the reader's zone; None: UTC)."""
    now = now if now is not None else wall_clock_ms()
    return _render_whole("market", fmt, r=result, m=result.market, now=now, tz=tz)


def _render_whole(name: str, fmt: Fmt, **ctx: Any) -> str:
    text = _ENVS[fmt].get_template(f"{name}.j2").render(**ctx).strip()
    return _collapse_blank_lines(text)


def _check_context(result: CheckResult, thresholds: Any, now: int | None) -> dict[str, Any]:
    th = thresholds if thresholds is not None else _default_thresholds()
    idea = result.idea
    if idea is None:
        from signals.idea import TradeIdea

        idea = TradeIdea(asset=result.asset, side=None, stop=result.stop, targets=result.targets)
    return {
        "r": result,
        "m": result.market,
        "th": th,
        "idea": idea,
        "now": now if now is not None else wall_clock_ms(),
        "view": _view(result),
    }


def _names(names: Any) -> str:
    """At most a few names, then 'and N more'."""
    names = [str(n) for n in names]
    if not names:
        return ""
    shown = ", ".join(names[:_MAX_VENUES])
    more = len(names) - _MAX_VENUES
    return f"{shown} and {more} more" if more > 0 else shown


def _short(text: Any) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= _MAX_REASON_CHARS else text[: _MAX_REASON_CHARS - 1] + "…"


def _view(result: CheckResult) -> dict[str, Any]:
    """Data-dependent lists for the reply, shortened before rendering."""
    sources = result.sources if isinstance(result.sources, dict) else {}
    m = result.market
    failed = list(result.venues_failed.items())
    failed_list = ", ".join(f"{_short(v)} ({_short(why)})" for v, why in failed[:_MAX_VENUES])
    if len(failed) > _MAX_VENUES:
        failed_list += f" and {len(failed) - _MAX_VENUES} more"
    stale_pairs = sorted(result.market.stale.items(), key=lambda kv: kv[0])
    cov = result.liq_coverage
    liq = "none"
    if cov is not None and cov.venues:
        liq = f"{_names(cov.venues)} over {m.liq_buckets} h"
        if cov.lower_bound_venues:
            liq += f" (a lower bound: {_names(cov.lower_bound_venues)} throttled)"
    funding = _names(f"{v.venue} ({v.interval_hours:g}h)" for v in m.funding_venues) or "none"

    def named(key: str) -> str:
        value = sources.get(key)
        if isinstance(value, list | tuple):
            return _names(_short(v) for v in value) or "none"
        return _short(value) if value else "n/a"

    fallback_words = {
        "price": "price from the last daily close",
        "price_change_24h": "24h price change from daily closes",
        "oi_usd": "OI from the last daily value",
        "oi_change_24h": "24h OI change from daily values",
    }
    return {
        "failed_names": _names(v for v, _ in failed),
        "failed_count": len(failed),
        "stale_count": len(stale_pairs),
        "failed_list": failed_list,
        "used_names": _names(result.venues_used),
        "stale_pairs": stale_pairs,
        "stale_names": _names(_series_short(name) for name, _ in stale_pairs),
        "fallbacks": ", ".join(fallback_words[f] for f in m.daily_fallbacks),
        "price_venue": named("price") if "price" in sources else _synthetic(sources),
        "oi_venues": named("oi") if "oi" in sources else _synthetic(sources),
        "funding_venues": funding,
        "skew_venue": named("skew") if "skew" in sources else _synthetic(sources),
        "liq_venues": liq,
        "mmr_source": named("mmr") if "mmr" in sources else f"{result.mmr:.2%}",
    }


def _synthetic(sources: dict[str, Any]) -> str:
    return "synthetic" if sources.get("synthetic") else "n/a"


_SERIES_SHORT = {
    "ohlcv_1h": "hourly candles",
    "ohlcv_1d": "daily candles",
    "oi_usd_1h": "hourly OI",
    "oi_usd_1d": "daily OI",
    "liquidations_1h": "liquidations",
    "skew_rr25_30d": "skew",
}


def _series_short(name: str) -> str:
    if name.startswith("funding."):
        return f"{name.split('.')[1]} funding history"
    return _SERIES_SHORT.get(name, name)


def flag_reason(result: CheckResult, side: str, name: str, thresholds: Any = None) -> str:
    """One flag's full one-line reason, quoting its numbers (plain text)."""
    th = thresholds if thresholds is not None else _default_thresholds()
    grade = next(g for g in result.grades if g.side == side)
    return render(
        "flag_reason", "text", r=result, m=result.market, th=th, g=grade, f=grade.flags[name]
    )


MARKET_KEYS = (
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
POSITION_KEYS = (
    "liq_distance",
    "liq_price",
    "survives_10pct",
    "move_1sigma",
    "move_2sigma",
    "survives_2sigma",
    "max_leverage",
    "max_drawdown",
    "max_drawdown_margin",
    "reduce_level",
    "cut_level",
    "stop_distance",
    "stop_loss_margin",
    "stop_beyond_liq",
    "reward_risk",
)
SIZING_KEYS = ("account_usd", "risk_usd", "cut_distance", "size_usd", "size_base", "margin_usd")


def check_json(result: CheckResult, thresholds: Any = None) -> dict[str, Any]:
    """The SPEC §7 JSON object for a check; every non-finite number is null."""
    m = result.market
    grades = []
    for g in result.grades:
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
                "flags_verdict": g.flags_verdict,
                "position_verdict": g.position_verdict,
                "verdict": g.verdict,
                "worst_case_verdict": g.worst_case_verdict,
                "position": {key: getattr(g.position, key) for key in POSITION_KEYS},
                "sizing": (
                    {key: getattr(g.sizing, key) for key in SIZING_KEYS}
                    if g.sizing is not None
                    else None
                ),
            }
        )
    doc = {
        "asset": result.asset,
        "asof": result.asof,
        "stop": result.stop,
        "target": result.target,
        "targets": list(result.targets),
        "market": {key: getattr(m, key) for key in MARKET_KEYS},
        "sources": {
            "used": list(result.venues_used),
            "failed": dict(result.venues_failed),
            "stale": dict(result.stale),
        },
        "grades": grades,
    }
    return _finite_json(doc)  # type: ignore[no-any-return]


def check_json_text(result: CheckResult, thresholds: Any = None, indent: int | None = 2) -> str:
    """The SPEC §7 JSON as text; never NaN or Infinity (json.dumps with allow_nan=False)."""
    return json.dumps(check_json(result, thresholds), indent=indent, allow_nan=False)


def _finite_json(value: Any) -> Any:
    """A JSON value with numpy scalars made plain and every NaN/±inf turned into null."""
    if isinstance(value, dict):
        return {k: _finite_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_json(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if hasattr(value, "item"):  # numpy scalar
        return _finite_json(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


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
