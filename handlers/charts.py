"""/chart ASSET… [7d|30d|90d]: one chart per asset, its title wearing the engine's verdicts.

Each asset is graded at 1x on both sides (as /market) from the same read of the data the
chart draws, and that verdict with its caution flags goes in the title
(`LONG · REDUCE · caution: open interest, funding`). Up to MAX_CHART_ASSETS assets in one
command, one photo each, each counted as a check; renders go through the process's
ChartCache, off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from telegram import Message, Update
from telegram.constants import ChatAction

from handlers.common import as_source_says, check_limited, problem, slow_down
from handlers.context import Context
from handlers.daily import parse_assets
from signals.chart import WINDOWS, ChartHeadline
from signals.errors import ParseError, PreflightError
from signals.grade import CheckResult
from signals.stress import side_stress
from signals.thresholds import Thresholds
from signals.words import duration_word
from templates import render

log = logging.getLogger(__name__)

CHART_EXAMPLE = "/chart ETH 30d"
CHART_USAGE = "chart {asset} 30d"  # the example under an asset error
MAX_CHART_ASSETS = 3
DEFAULT_WINDOW = "7d"
_WINDOW_DAYS = {7.0: "7d", 30.0: "30d", 90.0: "90d"}
# a number with or without a unit of time (`1y`, `3m`, `30`): a window attempt, never an asset
# (`1000PEPE`, `1INCH` are not: their letters are no unit)
_WINDOW_LIKE_RE = re.compile(
    r"[+-]?\d+(?:[.,]\d+)?(?:h|hrs?|hours?|d|days?|w|wks?|weeks?|m|mo|mos|mons?|months?|y|yrs?|years?)?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ChartRequest:
    """A parsed `/chart ASSET… [window]`."""

    assets: tuple[str, ...]
    window: str = DEFAULT_WINDOW


def parse_chart(args: Sequence[str], known: set[str]) -> ChartRequest:
    """Assets and at most one window (`7d`, `30d`, `90d`; also `1w`, `1mo`, `3mo`)."""
    windows: list[str] = []
    words: list[str] = []
    for word in args:
        days = duration_word(word)
        if days is None and not (_WINDOW_LIKE_RE.fullmatch(word) and word.upper() not in known):
            words.append(word)
        elif days in _WINDOW_DAYS:
            windows.append(_WINDOW_DAYS[days])
        else:
            reason = f"'{word[:32]}' is not a chart window: {', '.join(WINDOWS)}"
            raise ParseError(reason, CHART_EXAMPLE)
    if len(set(windows)) > 1:
        raise ParseError(f"one window at a time: {', '.join(WINDOWS)}", CHART_EXAMPLE)
    if not words:
        raise ParseError("name the asset to chart", CHART_EXAMPLE)
    assets = parse_assets(words, known, CHART_EXAMPLE)
    if len(assets) > MAX_CHART_ASSETS:
        reason = f"at most {MAX_CHART_ASSETS} charts at once ({len(assets)} assets named)"
        raise ParseError(reason, "/chart BTC ETH SOL")
    return ChartRequest(assets, windows[0] if windows else DEFAULT_WINDOW)


def chart_headlines(result: CheckResult, th: Thresholds) -> tuple[ChartHeadline, ...]:
    """One title line per graded side: its verdict, caution and unknown flags."""
    lines = []
    for grade in result.grades:
        stress = side_stress(grade, th)
        lines.append(
            ChartHeadline(
                grade.verdict,
                stress.caution_flags,
                side=grade.side,
                unknown_flags=stress.unknown_flags,
            )
        )
    return tuple(lines)


async def chart_command(update: Update, context: Context) -> None:
    """Send one chart per asset named, over the window asked for (7 days by default)."""
    message = update.effective_message
    assert message is not None
    bd = context.bot_data
    try:
        request = parse_chart(context.args or [], bd.service.known_assets())
    except PreflightError as e:
        await message.reply_text(problem(as_source_says(context, e), usage=CHART_USAGE))
        return
    user = update.effective_user
    for n, asset in enumerate(request.assets):
        wait_s = check_limited(context, user.id if user else None)
        if wait_s is not None:
            await message.reply_text(slow_down(context, wait_s))
            return
        await _send_chart(context, message, asset, request, first=n == 0)


async def _send_chart(
    context: Context, message: Message, asset: str, request: ChartRequest, *, first: bool
) -> None:
    bd = context.bot_data
    th = bd.settings.thresholds
    try:
        result, data = await bd.service.market_state(asset)
    except PreflightError as e:
        await message.reply_text(problem(e, usage=CHART_USAGE))
        return
    if first:
        await message.reply_chat_action(ChatAction.UPLOAD_PHOTO)
    headline = chart_headlines(result, th)
    # matplotlib takes ~0.2 s of CPU: keep the event loop free for everyone else
    png = await asyncio.to_thread(
        bd.charts.png, data, result.asof, request.window, headline=headline, thresholds=th
    )
    caption = render(
        "chart_caption",
        asset=asset,
        window=request.window,
        windows=WINDOWS,
        asof=result.asof,
        data=data,
        now=bd.now_ms(),
        r=result,
    )
    await message.reply_photo(png, caption=caption)
