"""/check, /market, free-text and caption checks: answer at once, then edit in the result.

In a private chat the answer is a progress message edited into the result; in a group the
result is sent once it is ready (a group gets only about 20 messages a minute, so the
progress message would halve what the group can be answered).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from telegram import InlineKeyboardMarkup, Message, Update

from handlers.buttons import CheckView, Graded, grade_view, market_keyboard, shown_key, view_reply
from handlers.common import (
    check_limited,
    command_of,
    is_group,
    problem,
    remember_progress,
    slow_down,
    take_progress,
    text_of,
)
from handlers.context import Context
from handlers.settings import defaults_for
from signals.errors import ParseError, PreflightError
from signals.grade import CheckResult
from signals.idea import parse_idea
from templates import render, render_market

log = logging.getLogger(__name__)
T = TypeVar("T")

MARKET_EXAMPLE = "/market ETH"
MARKET_USAGE = "market {asset}"  # the example under an asset error


async def check_command(update: Update, context: Context) -> None:
    """Grade the trade idea written after /check."""
    await _check(update, context)


async def check_text(update: Update, context: Context) -> None:
    """Grade a bare message such as `eth long 5x` (private chats only)."""
    await _check(update, context)


async def check_caption(update: Update, context: Context) -> None:
    """Grade a photo's caption like a message: any caption in private, `/check …` in groups."""
    message = update.effective_message
    assert message is not None
    command = command_of(message, context.bot.username)
    if command not in (None, "check") or (command is None and is_group(update)):
        return
    await _check(update, context)


async def market_command(update: Update, context: Context) -> None:
    """Show the market dashboard for the asset after /market."""
    message = update.effective_message
    assert message is not None
    words = " ".join(context.args or [])
    try:
        if not words:
            raise ParseError("Name an asset", MARKET_EXAMPLE)
        asset = parse_idea(words).asset
    except ParseError as e:
        await message.reply_text(render("problem", error=ParseError(e.reason, MARKET_EXAMPLE)))
        return

    async def reply(result: CheckResult) -> tuple[str, InlineKeyboardMarkup | None]:
        defaults = await defaults_for(update, context, _asker(update))
        tz = defaults.tz if defaults is not None else None
        return render_market(result, tz=tz), market_keyboard(asset, _asker(update))

    await _grade_in_place(
        update,
        context,
        render("progress", kind="market", asset=asset),
        lambda: context.bot_data.service.market(asset),
        reply,
        usage=MARKET_USAGE,
    )


async def _check(update: Update, context: Context) -> None:
    message = update.effective_message
    assert message is not None
    try:
        idea = parse_idea(text_of(message))
    except ParseError as e:
        await message.reply_text(render("problem", error=e))
        return
    view, asker = CheckView(idea), _asker(update)

    async def reply(graded: Graded) -> tuple[str, InlineKeyboardMarkup | None]:
        return await view_reply(context, graded, asker)

    def shown(sent: Message, graded: Graded) -> None:
        context.bot_data.shown.remember(
            sent.chat.id, sent.message_id, shown_key(view), graded.result
        )

    await _grade_in_place(
        update,
        context,
        render("progress", kind="check", idea=idea),
        lambda: grade_view(update, context, view, asker),
        reply,
        shown,
    )


def _asker(update: Update) -> int | None:
    user = update.effective_user
    return user.id if user is not None else None


async def _grade_in_place(
    update: Update,
    context: Context,
    progress_text: str,
    grade: Callable[[], Awaitable[T]],
    reply: Callable[[T], Awaitable[tuple[str, InlineKeyboardMarkup | None]]],
    shown: Callable[[Message, T], None] | None = None,
    usage: str | None = None,
) -> None:
    """Answer with the progress text (private chats), then with the reply (or the problem,
    its example in `usage`'s command); `shown` is told which message now shows the result."""
    message = update.effective_message
    assert message is not None
    if not await _within_limit(update, context, message):
        return
    progress: Message | None = None
    if not is_group(update):
        progress = await message.reply_text(progress_text)
        remember_progress(context, update, progress)
    try:
        result = await grade()
    except PreflightError as e:
        await _finish(context, update, message, progress, problem(e, usage=usage))
        return
    sent = await _finish(context, update, message, progress, *await reply(result))
    if shown is not None and isinstance(sent, Message):
        shown(sent, result)


async def _finish(
    context: Context,
    update: Update,
    message: Message,
    progress: Message | None,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
) -> Message | bool:
    if progress is None:
        return await message.reply_text(text, reply_markup=markup)
    take_progress(context, update)
    return await progress.edit_text(text, reply_markup=markup)


async def _within_limit(update: Update, context: Context, message: Message) -> bool:
    wait_s = check_limited(context, _asker(update))
    if wait_s is None:
        return True
    await message.reply_text(slow_down(context, wait_s))
    return False
