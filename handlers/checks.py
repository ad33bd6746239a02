"""/check, /market and free-text checks: answer at once, then edit the progress into the result."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.ext import Application, CommandHandler, ContextTypes, MessageHandler, filters

from handlers.buttons import check_keyboard, market_keyboard
from handlers.common import rate_limited, remember_progress, service, settings, take_progress
from signals.errors import ParseError, PreflightError
from signals.grade import CheckResult
from signals.idea import parse_idea
from templates import render, render_check, render_market

log = logging.getLogger(__name__)

MARKET_EXAMPLE = "/market ETH"


async def check_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Grade the trade idea written after /check."""
    await _check(update, context)


async def check_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Grade a bare message such as `eth long 5x` (private chats only)."""
    await _check(update, context)


async def market_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
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
    await _grade_in_place(
        update,
        context,
        render("progress", kind="market", asset=asset),
        lambda: service(context).market(asset),
        lambda r: (render_market(r), market_keyboard(asset)),
    )


async def _check(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None and message.text is not None
    try:
        idea = parse_idea(message.text)
    except ParseError as e:
        await message.reply_text(render("problem", error=e))
        return
    await _grade_in_place(
        update,
        context,
        render("progress", kind="check", idea=idea),
        lambda: service(context).check(idea),
        lambda r: (
            render_check(r, "html", settings(context).thresholds),
            check_keyboard(idea),
        ),
    )


async def _grade_in_place(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    progress_text: str,
    grade: Callable[[], Awaitable[CheckResult]],
    reply: Callable[[CheckResult], tuple[str, InlineKeyboardMarkup | None]],
) -> None:
    """Answer at once with the progress text, then edit it into the reply (or the problem)."""
    message = update.effective_message
    assert message is not None
    if not await _within_limit(update, context, message):
        return
    progress = await message.reply_text(progress_text)
    remember_progress(context, update, progress)
    try:
        result = await grade()
    except PreflightError as e:
        await _finish(context, update, progress, render("problem", error=e))
        return
    await _finish(context, update, progress, *reply(result))


async def _finish(
    context: ContextTypes.DEFAULT_TYPE,
    update: Update,
    progress: Message,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
) -> None:
    take_progress(context, update)
    await progress.edit_text(text, reply_markup=markup)


async def _within_limit(
    update: Update, context: ContextTypes.DEFAULT_TYPE, message: Message
) -> bool:
    user = update.effective_user
    wait_s = rate_limited(context, user.id if user else None)
    if wait_s is None:
        return True
    text = render(
        "notice",
        kind="rate_limited",
        per_minute=settings(context).check_rate_per_minute,
        wait_s=wait_s,
    )
    await message.reply_text(text)
    return False


def register(app: Application) -> None:  # type: ignore[type-arg]
    """Add /check, /market and, in private chats, free-text checks (keep this module last)."""
    new_messages = filters.UpdateType.MESSAGE
    app.add_handler(CommandHandler("check", check_command, filters=new_messages))
    app.add_handler(CommandHandler("market", market_command, filters=new_messages))
    app.add_handler(
        MessageHandler(
            filters.TEXT & ~filters.COMMAND & filters.ChatType.PRIVATE & new_messages,
            check_text,
        )
    )
