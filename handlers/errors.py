"""The one error handler: log first, report to the admin chat, tell the user briefly.

Expected trouble is not a crash: an answer cut short by shutdown is noted, a store that is
locked or damaged gets its one line in the log and a short notice to the user (no
traceback), a user who blocked the bot is left alone.
"""

from __future__ import annotations

import json
import logging
import traceback

from telegram import Update
from telegram.error import Forbidden, TelegramError

from handlers.common import answer_quietly, take_progress
from handlers.context import Context
from handlers.pacing import SendingStopped
from signals.store import StoreBusy, StoreError
from templates import render, render_fitted

log = logging.getLogger(__name__)

# the error line and the update are cut to these (characters) before the report is
# rendered; the traceback's tail then gets whatever room is left under Telegram's limit
ERROR_HEAD = 300
UPDATE_HEAD = 1000


async def on_error(update: object, context: Context) -> None:
    """Log the exception, report it to the admin chat if configured, and tell the user."""
    error = context.error
    if isinstance(error, SendingStopped):
        log.info("an answer was cut short: the bot is stopping")
        return
    if isinstance(error, StoreError):
        log.warning("%s", error)
        if isinstance(update, Update):
            kind = "store_busy" if isinstance(error, StoreBusy) else "store_broken"
            await _tell_user(update, context, kind)
        return
    if isinstance(error, Forbidden):
        log.info("could not answer: %s", error)
        return
    # Log before anything else, so the traceback survives even if reporting fails too.
    log.error("exception while handling an update", exc_info=error)
    await _report(update, context)
    if isinstance(update, Update):
        await _tell_user(update, context, "failed")


def admin_report(update: object, error: BaseException, secrets: tuple[str, ...] = ()) -> str:
    """The admin chat's report: the error, the update, and as much of the traceback as fits.

    Cut before rendering — the traceback from its start, counted in UTF-16 units as
    Telegram counts — so the HTML itself is never cut; `secrets` are blanked out.
    """
    tb = "".join(traceback.format_exception(error)).rstrip()
    what = update.to_dict() if isinstance(update, Update) else str(update)
    error_line = f"{type(error).__name__}: {error}"
    update_json = json.dumps(what, ensure_ascii=False, default=str)
    for secret in (s for s in secrets if s):
        tb, error_line, update_json = (
            t.replace(secret, "[redacted]") for t in (tb, error_line, update_json)
        )
    return render_fitted(
        "admin_report",
        cut="traceback_tail",
        keep="tail",
        error=error_line[:ERROR_HEAD],
        update_json=update_json[:UPDATE_HEAD],
        traceback_tail=tb,
    )


async def _report(update: object, context: Context) -> None:
    settings = context.bot_data.settings
    if settings.admin_chat_id is None or context.error is None:
        return
    secrets = (settings.telegram_bot_token or "",)
    try:
        await context.bot.send_message(
            settings.admin_chat_id, admin_report(update, context.error, secrets)
        )
    except TelegramError:
        log.exception("could not report the error to admin chat %s", settings.admin_chat_id)


async def _tell_user(update: Update, context: Context, kind: str) -> None:
    try:
        progress = take_progress(context, update)
        if progress is not None:
            await progress.edit_text(render("notice", kind=kind))
        elif update.callback_query is not None:
            await answer_quietly(update.callback_query, render("notice", "text", kind=kind))
        elif update.effective_message is not None:
            await update.effective_message.reply_text(render("notice", kind=kind))
    except TelegramError:
        log.warning("could not tell the user about the error either")
