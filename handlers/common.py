"""Small pieces every handler shares: the service, settings, safe edits and answers."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from telegram import CallbackQuery, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

if TYPE_CHECKING:
    from handlers.ratelimit import SlidingWindowLimiter
    from settings import Settings
    from signals.service import CheckService

log = logging.getLogger(__name__)

# bot_data keys
SERVICE = "service"
SETTINGS = "settings"
RATE_LIMITER = "rate_limiter"
# chat_data key: progress messages of updates still being answered, by update_id
PENDING = "pending_progress"


def service(context: ContextTypes.DEFAULT_TYPE) -> CheckService:
    """The CheckService started in post_init."""
    return context.bot_data[SERVICE]  # type: ignore[no-any-return]


def settings(context: ContextTypes.DEFAULT_TYPE) -> Settings:
    """The Settings the application was built with."""
    return context.bot_data[SETTINGS]  # type: ignore[no-any-return]


def rate_limited(context: ContextTypes.DEFAULT_TYPE, user_id: int | None) -> int | None:
    """Count one check for the user; whole seconds (≥ 1) to wait when over the limit, else None."""
    limiter: SlidingWindowLimiter = context.bot_data[RATE_LIMITER]
    wait_s = limiter.acquire(user_id if user_id is not None else 0)
    return None if wait_s is None else max(1, round(wait_s))


def remember_progress(
    context: ContextTypes.DEFAULT_TYPE, update: Update, message: Message
) -> None:
    """Note the progress message so the error handler can turn it into a failure notice."""
    if context.chat_data is not None:
        context.chat_data.setdefault(PENDING, {})[update.update_id] = message


def take_progress(context: ContextTypes.DEFAULT_TYPE, update: Update) -> Message | None:
    """Forget (and return) the progress message of an update, if one is pending."""
    if context.chat_data is None:
        return None
    pending: dict[int, Message] = context.chat_data.get(PENDING, {})
    return pending.pop(update.update_id, None)


async def edit_in_place(
    query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None
) -> bool:
    """Edit a button's message; False when Telegram says nothing changed."""
    try:
        await query.edit_message_text(text, reply_markup=markup)
    except BadRequest as e:
        # A refresh that finds the same numbers is success, not an error.
        if "message is not modified" in str(e).lower():
            return False
        raise
    return True


async def answer_quietly(query: CallbackQuery, text: str | None = None, **kwargs: Any) -> None:
    """Answer a button press; a query Telegram already expired is not worth an error."""
    try:
        await query.answer(text, **kwargs)
    except BadRequest as e:
        if "query is too old" not in str(e).lower():
            raise
        log.info("callback query %s expired before it was answered", query.id)
