"""The one error handler: log first, report to the admin chat, tell the user briefly."""

from __future__ import annotations

import json
import logging
import traceback

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, ContextTypes

from handlers.common import answer_quietly, settings, take_progress
from templates import render

log = logging.getLogger(__name__)

# Keep the admin report inside Telegram's 4096 characters without cutting a tag in half.
TRACEBACK_TAIL = 2500
UPDATE_HEAD = 1000


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the exception, report it to the admin chat if configured, and tell the user."""
    # Log before anything else, so the traceback survives even if reporting fails too.
    log.error("exception while handling an update", exc_info=context.error)
    await _report(update, context)
    if isinstance(update, Update):
        await _tell_user(update, context)


async def _report(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    admin_chat_id = settings(context).admin_chat_id
    if admin_chat_id is None or context.error is None:
        return
    tb = "".join(traceback.format_exception(context.error)).rstrip()
    what = update.to_dict() if isinstance(update, Update) else str(update)
    text = render(
        "admin_report",
        error=f"{type(context.error).__name__}: {context.error}"[:300],
        update_json=json.dumps(what, ensure_ascii=False, default=str)[:UPDATE_HEAD],
        traceback_tail=tb[-TRACEBACK_TAIL:],
    )
    try:
        await context.bot.send_message(admin_chat_id, text)
    except TelegramError:
        log.exception("could not report the error to admin chat %s", admin_chat_id)


async def _tell_user(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    text = render("notice", kind="failed")
    try:
        progress = take_progress(context, update)
        if progress is not None:
            await progress.edit_text(text)
        elif update.callback_query is not None:
            await answer_quietly(update.callback_query, render("notice", "text", kind="failed"))
        elif update.effective_message is not None:
            await update.effective_message.reply_text(text)
    except TelegramError:
        log.exception("could not tell the user about the error")


def register(app: Application) -> None:  # type: ignore[type-arg]
    """Install the error handler."""
    app.add_error_handler(on_error)
