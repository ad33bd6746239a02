"""Small pieces every handler shares: chats and senders, progress, safe edits and answers."""

from __future__ import annotations

import logging
from typing import Any

from telegram import (
    CallbackQuery,
    ChatMember,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    Update,
)
from telegram.constants import ChatType
from telegram.error import BadRequest

from handlers.context import Context
from signals.errors import PreflightError, UnknownAsset
from signals.store import StoreBusy, StoreError
from templates import Fmt, render, toast

log = logging.getLogger(__name__)


def is_group(update: Update) -> bool:
    """True in groups and supergroups."""
    chat = update.effective_chat
    return chat is not None and chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)


def topic_of(message: Message) -> int | None:
    """The forum topic a message was posted in, or None outside forum topics."""
    return message.message_thread_id if message.is_topic_message else None


def text_of(message: Message) -> str:
    """What a user wrote: a message's text, or a photo's (document's) caption."""
    return message.text or message.caption or ""


def command_of(message: Message, bot_username: str | None) -> str | None:
    """The command a message starts with (`check` for `/check@ThisBot …`), if it is for us.

    None when the message is no command, or a command addressed to another bot.
    """
    entities = message.entities if message.text else message.caption_entities
    text = text_of(message)
    if not entities or entities[0].type != MessageEntity.BOT_COMMAND or entities[0].offset:
        return None
    word = text[1 : entities[0].length]
    name, _, addressee = word.partition("@")
    if addressee and (bot_username is None or addressee.lower() != bot_username.lower()):
        return None
    return name.lower()


async def may_change_settings(update: Update, context: Context) -> bool:
    """Anyone in a private chat; in a group only its admins (asked of Telegram each time)."""
    chat, message, user = update.effective_chat, update.effective_message, update.effective_user
    if chat is None or not is_group(update):
        return True
    # an anonymous admin posts as the group itself
    if message is not None and message.sender_chat is not None:
        return message.sender_chat.id == chat.id
    if user is None:
        return False
    member = await context.bot.get_chat_member(chat.id, user.id)
    return member.status in (ChatMember.ADMINISTRATOR, ChatMember.OWNER)


def problem(error: PreflightError, fmt: Fmt = "html", usage: str | None = None) -> str:
    """The user's one line for an error: a store that is busy or broken gets its own notice.

    `usage`: the command typed, for the example under an asset error ("chart {asset}"
    shows `/chart ETH`); without it the example is /check's.
    """
    if isinstance(error, StoreError):
        log.warning("%s", error)  # the operator's line: which file, what to do
        kind = "store_busy" if isinstance(error, StoreBusy) else "store_broken"
        return render("notice", fmt, kind=kind)
    if usage is None:
        return render("problem", fmt, error=error)
    return render("problem", fmt, error=error, usage=usage)


def as_source_says(context: Context, error: PreflightError) -> PreflightError:
    """An asset the parser found no market for, as the data source says it: replaying a
    snapshot, it is missing from the file (it may well trade live), as /check says."""
    if isinstance(error, UnknownAsset):
        return context.bot_data.service.unknown_asset(error)
    return error


def slow_down(context: Context, wait_s: int, fmt: Fmt = "html") -> str:
    """The one wording of every limit (rate_limited.j2), for a check past the check limit."""
    per_minute = context.bot_data.settings.check_rate_per_minute
    return render("rate_limited", fmt, what="check", per_minute=per_minute, wait_s=wait_s)


def over_budget(per_minute: int, wait_s: int, fmt: Fmt = "html") -> str:
    """The same wording for a request past the per-user budget (`per_minute`: its limit)."""
    return render("rate_limited", fmt, what="request", per_minute=per_minute, wait_s=wait_s)


def check_limited(context: Context, user_id: int | None) -> int | None:
    """Count one check for the user; whole seconds (≥ 1) to wait when over the limit, else None."""
    wait_s = context.bot_data.check_limit.acquire(user_id if user_id is not None else 0)
    return None if wait_s is None else max(1, round(wait_s))


def remember_progress(context: Context, update: Update, message: Message) -> None:
    """Note the progress message so the error handler can turn it into a failure notice."""
    context.bot_data.progress.remember(update.update_id, message)


def take_progress(context: Context, update: Update) -> Message | None:
    """Forget (and return) the progress message of an update, if one is pending."""
    return context.bot_data.progress.take(update.update_id)


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
    """Answer a button press (cut to Telegram's 200 units); an expired query is no error."""
    try:
        await query.answer(toast(text) if text else text, **kwargs)
    except BadRequest as e:
        if "query is too old" not in str(e).lower():
            raise
        log.info("callback query %s expired before it was answered", query.id)
