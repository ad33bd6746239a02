"""`backtest` command-line words → a BacktestRequest (SPEC §9), with one-line reasons on error."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from signals.backtest import (
    DEFAULT_DAYS,
    DEFAULT_HORIZON_DAYS,
    DEFAULT_LEVERAGE,
    SIDES,
    BacktestRequest,
)
from signals.errors import ParseError
from signals.flags import Side
from signals.idea import MAX_LEVERAGE, MIN_LEVERAGE, parse_idea

EXAMPLE = "python bot.py backtest ETH --side long --leverage 5 --horizon 7 --days 365 --demo"
MAX_DAYS = 3650  # ten years of daily evaluations
MAX_HORIZON_DAYS = 365
OPTIONS = ("--side", "--leverage", "--horizon", "--days", "--chart", "--snapshot")
FLAGS = ("--demo", "--json")
_SIDE_WORDS: dict[str, Side] = {"long": "long", "buy": "long", "short": "short", "sell": "short"}
_LEVERAGE_RE = re.compile(r"^(?:x?([0-9]+(?:\.[0-9]+)?|\.[0-9]+)x?)$")
_DAYS_RE = re.compile(r"^([0-9]+)d?$")


@dataclass(frozen=True)
class BacktestArgs:
    """A parsed backtest command: what to compute, where the history is, what to print."""

    request: BacktestRequest
    chart: str | None = None
    snapshot: str | None = None
    demo: bool = False
    as_json: bool = False


def _reject(reason: str) -> ParseError:
    return ParseError(reason, EXAMPLE)


def parse_backtest_words(words: list[str]) -> BacktestArgs:
    """Read `ASSET [--side S] [--leverage L] [--horizon H] [--days N] [--snapshot FILE | --demo]
    [--json] [--chart FILE]`, in any order."""
    values: dict[str, str] = {}
    flags: set[str] = set()
    assets: list[str] = []
    rest = iter(words)
    for word in rest:
        name, eq, inline = word.partition("=")
        if word in FLAGS:
            flags.add(word)
        elif name == "--out":
            raise _reject("backtest has no --out: use --chart FILE or --json")
        elif name in OPTIONS:
            value = inline if eq else next(rest, None)
            if value is None or (not eq and value.startswith("--")):
                raise _reject(f"{name} needs a value, like {_hint(name)}")
            if name in values:
                raise _reject(f"{name} given twice")
            values[name] = value
        elif word.startswith("-") and not _is_number(word):
            raise _reject(f"unknown option {word!r}{_did_you_mean(name, OPTIONS + FLAGS)}")
        else:
            assets.append(word)
    request = BacktestRequest(
        asset=_asset(assets),
        sides=_sides(values.get("--side")),
        leverage=_leverage(values.get("--leverage")),
        horizon_days=_whole_days(
            "--horizon", values.get("--horizon"), DEFAULT_HORIZON_DAYS, MAX_HORIZON_DAYS
        ),
        days=_whole_days("--days", values.get("--days"), DEFAULT_DAYS, MAX_DAYS),
    )
    if request.days <= request.horizon_days:
        # SPEC §9: t > asof − N days and t + H days ≤ asof leave no t when N ≤ H
        h = request.horizon_days
        raise _reject(
            f"--days {request.days} must be longer than the {h}-day horizon: no {h}-day window"
            f" that starts in the last {request.days} days has closed yet; use --days {h + 1}"
            " or more"
        )
    chart = values.get("--chart")
    if chart is not None and not chart.strip():
        raise _reject("--chart needs a file path, like --chart eth.png")
    snapshot = values.get("--snapshot")
    if snapshot is not None and "--demo" in flags:
        raise _reject("use either --snapshot FILE or --demo, not both")
    return BacktestArgs(request, chart, snapshot, "--demo" in flags, "--json" in flags)


def check_leverage(request: BacktestRequest, mmr: float) -> None:
    """SPEC §5: leverage at or above 1 / mmr leaves no room before liquidation."""
    if mmr > 0 and request.leverage >= 1 / mmr:
        raise _reject(
            f"leverage {request.leverage:g}x leaves no room before liquidation at this "
            f"asset's maintenance margin of {mmr * 100:g}%: use less than {1 / mmr:g}x"
        )


def _hint(name: str) -> str:
    return {
        "--side": "--side long",
        "--leverage": "--leverage 5",
        "--horizon": "--horizon 7",
        "--days": "--days 365",
        "--chart": "--chart eth.png",
        "--snapshot": "--snapshot history.json",
    }[name]


def _did_you_mean(word: str, choices: tuple[str, ...]) -> str:
    prefixed = [c for c in choices if len(word) > 3 and c.startswith(word)]
    close = prefixed or difflib.get_close_matches(word, choices, n=1, cutoff=0.7)
    if close:
        return f" (did you mean {close[0]}?)"
    return f"; the options are {', '.join(choices)}"


def _is_number(word: str) -> bool:
    return bool(re.fullmatch(r"-[0-9.]+x?", word))


def _asset(words: list[str]) -> str:
    if not words:
        raise _reject("backtest needs an asset, like ETH")
    first = words[0]
    if first.lower() in _SIDE_WORDS:
        raise _reject(f"'{first}' is not an asset; give the asset first and the side as --side")
    if len(words) > 1:
        extra = words[1]
        if extra.lower() in _SIDE_WORDS:
            raise _reject(f"write the side as an option: --side {_SIDE_WORDS[extra.lower()]}")
        if _LEVERAGE_RE.match(extra.lower()):
            raise _reject(f"write the leverage as an option: --leverage {extra}")
        raise _reject(f"backtest takes one asset; can't read '{extra}'")
    try:
        idea = parse_idea(first)
    except ParseError as e:
        raise _reject(f"can't read '{first}' as an asset") from e
    if idea.asset is None:
        raise _reject(f"can't read '{first}' as an asset")
    return idea.asset


def _sides(word: str | None) -> tuple[Side, ...]:
    if word is None:
        return SIDES
    side = _SIDE_WORDS.get(word.lower())
    if side is None:
        raise _reject(f"--side is long or short, not '{word}'{_suggest_side(word)}")
    return (side,)


def _suggest_side(word: str) -> str:
    close = difflib.get_close_matches(word.lower(), ("long", "short"), n=1, cutoff=0.5)
    return f" (did you mean {close[0]}?)" if close else ""


def _leverage(word: str | None) -> float:
    if word is None:
        return DEFAULT_LEVERAGE
    match = _LEVERAGE_RE.match(word.strip().lower().replace("×", "x"))
    if match is None:
        raise _reject(f"--leverage needs a number like 5 or 2.5x, not '{word}'")
    value = float(match.group(1))
    if not MIN_LEVERAGE <= value <= MAX_LEVERAGE:
        raise _reject(
            f"leverage {value:g}x is out of range: use {MIN_LEVERAGE:g}x to {MAX_LEVERAGE:g}x"
        )
    return value


def _whole_days(name: str, word: str | None, default: int, maximum: int) -> int:
    if word is None:
        return default
    match = _DAYS_RE.match(word.strip().lower())
    if match is None:
        raise _reject(f"{name} needs a whole number of days, like {_hint(name)}, not '{word}'")
    value = int(match.group(1))
    if not 1 <= value <= maximum:
        raise _reject(f"{name} {value} is out of range: use 1 to {maximum} days")
    return value
