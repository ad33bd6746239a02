"""Plumbing shared by daily summaries and stress warnings: user store, delivery, admins, topics.

Also follows a group that Telegram upgrades to a supergroup (`migrate_to_chat_id`): its
settings, subscriptions, queued messages and scheduled summary move to the new chat id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from telegram import ChatMember, Message, Update
from telegram.constants import ChatType
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from handlers.broadcast import Broadcaster
from handlers.common import SETTINGS
from settings import Settings
from signals.store import Store
from signals.userdata import UserData

log = logging.getLogger(__name__)

# bot_data keys
USERS = "userdata"
BROADCASTER = "broadcaster"
CLOCK = "clock"  # Callable[[], datetime] (aware, UTC); tests put a fixed clock here

Clock = Callable[[], datetime]
# these hooks run when a chat moves or disappears (to reschedule or drop its summary job)
ON_MIGRATED: list[Callable[[Application, int, int], None]] = []  # type: ignore[type-arg]
ON_CHAT_GONE: list[Callable[[Application, int], None]] = []  # type: ignore[type-arg]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def clock_of(bot_data: dict[str, Any]) -> Clock:
    """The application's clock (a fixed one in tests)."""
    clock: Clock = bot_data.get(CLOCK, _utc_now)
    return clock


def users(context: ContextTypes.DEFAULT_TYPE) -> UserData:
    """The user store opened at start-up."""
    return context.bot_data[USERS]  # type: ignore[no-any-return]


def broadcaster(context: ContextTypes.DEFAULT_TYPE) -> Broadcaster:
    """The outbox sender created at start-up."""
    return context.bot_data[BROADCASTER]  # type: ignore[no-any-return]


def topic_of(message: Message) -> int | None:
    """The forum topic a message was posted in, or None outside forum topics."""
    return message.message_thread_id if message.is_topic_message else None


def is_group(update: Update) -> bool:
    """True in groups and supergroups."""
    chat = update.effective_chat
    return chat is not None and chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)


async def may_change_settings(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
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


async def start(app: Application) -> None:  # type: ignore[type-arg]
    """Open the user store and the broadcaster, and resume a broadcast a crash interrupted."""
    settings: Settings = app.bot_data[SETTINGS]
    # read the clock on every use: tests swap a fixed one in after start-up
    userdata = UserData(
        Store(settings.store_path), clock=lambda: clock_of(app.bot_data)().timestamp()
    )
    app.bot_data[USERS] = userdata

    async def chat_gone(chat_id: int) -> None:
        for hook in ON_CHAT_GONE:
            hook(app, chat_id)

    async def migrated(old: int, new: int) -> None:
        for hook in ON_MIGRATED:
            hook(app, old, new)

    app.bot_data[BROADCASTER] = Broadcaster(
        app.bot,
        userdata,
        settings.broadcast_per_second,
        settings.broadcast_per_group_minute,
        on_chat_gone=chat_gone,
        on_migrated=migrated,
    )
    pending = userdata.outbox_counts().get("pending", 0)
    if pending and app.job_queue is not None:
        log.info("resuming an interrupted broadcast: %d messages still queued", pending)
        app.job_queue.run_once(resume_outbox, 0, name="outbox-resume")


async def stop(app: Application) -> None:  # type: ignore[type-arg]
    """Close the user store."""
    userdata: UserData | None = app.bot_data.pop(USERS, None)
    if userdata is not None:
        userdata.store.close()


async def resume_outbox(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send whatever the outbox still holds."""
    await broadcaster(context).drain()


async def on_migrate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Move a group's settings to its new supergroup id (Telegram sends both halves)."""
    message = update.effective_message
    if message is None:
        return
    if message.migrate_to_chat_id:
        old, new = message.chat_id, message.migrate_to_chat_id
    elif message.migrate_from_chat_id:
        old, new = message.migrate_from_chat_id, message.chat_id
    else:
        return
    users(context).migrate_chat(old, new)
    context.application.migrate_chat_data(old_chat_id=old, new_chat_id=new)
    for hook in ON_MIGRATED:
        hook(context.application, old, new)
    log.info("group %d moved to supergroup %d with its settings", old, new)


def register(app: Application) -> None:  # type: ignore[type-arg]
    """Follow group → supergroup migrations (in their own handler group, before any other)."""
    app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, on_migrate), group=-1)
