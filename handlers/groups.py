"""Chats that move or go away: a group upgraded to a supergroup, a chat that removed the bot.

Telegram upgrades a basic group to a supergroup under a new id (`migrate_to_chat_id`): its
settings, subscriptions, queued messages and scheduled summary move to the new id. A chat
that blocked or removed the bot (found by the broadcaster) has its summary job removed.
"""

from __future__ import annotations

import logging

from telegram import Update

from handlers.context import App, Context
from handlers.daily import move_schedule, unschedule

log = logging.getLogger(__name__)


async def on_migrate(update: Update, context: Context) -> None:
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
    await follow_move(context.application, old, new, move_data=True)
    log.info("group %d moved to supergroup %d with its settings", old, new)


async def follow_move(app: App, old: int, new: int, *, move_data: bool) -> None:
    """Move (unless already moved) what a chat set up to its new id, and its summary job."""
    bd = app.bot_data
    if move_data:
        await bd.store.run(bd.users.migrate_chat, old, new)
    move_schedule(app, await bd.store.run(bd.users.chat, new), old)


def chat_gone(app: App, chat_id: int) -> None:
    """A chat blocked or removed the bot: its summary is off (the store already says so)."""
    unschedule(app, chat_id)
