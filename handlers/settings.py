"""/settings: a user's personal defaults (account, risk, leverage, horizon, time zone).

Private chats only: the account and the risk are nobody else's business, so in a group the
command answers with a pointer to the private chat. The defaults are per user (not per
chat), kept in the store (schema 6) across restarts; `defaults_for` hands them to a check.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from telegram import Update

from handlers.common import is_group, problem
from handlers.context import Context
from signals.defaults import UserDefaults, apply_settings, parse_settings
from signals.errors import PreflightError
from signals.store import StoreError, store_error
from templates import render

log = logging.getLogger(__name__)
_P = ParamSpec("_P")
_R = TypeVar("_R")


async def settings_command(update: Update, context: Context) -> None:
    """Show, change or reset the sender's defaults (in a group: where to do it)."""
    message, user = update.effective_message, update.effective_user
    assert message is not None
    bd = context.bot_data
    th = bd.settings.thresholds
    if is_group(update) or user is None:
        await message.reply_text(render("settings", kind="group", bot_username=_username(context)))
        return
    users = bd.users
    try:
        change = parse_settings(context.args or [])
        current = await bd.store.run(users.user_defaults, user.id)
        if not change.values and not change.reset:
            await message.reply_text(render("settings", kind="show", d=current, th=th))
            return
        new = apply_settings(current, change)
        saved = await bd.store.run(users.save_user_defaults, user.id, new)
    except PreflightError as e:
        await message.reply_text(problem(e))
        return
    if change.reset:
        text = render("settings", kind="reset", cleared=not current.is_empty, th=th)
    else:
        text = render("settings", kind="saved", d=saved, th=th)
    await message.reply_text(text)


def _username(context: Context) -> str | None:
    """The bot's @username, for a link to the private chat."""
    try:
        return context.bot.username
    except RuntimeError:  # the bot was not initialised (never in a running app)
        return None


async def read_store(
    context: Context, fn: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs
) -> _R:
    """Run a store *read* on a worker thread of its own, not in the store's write queue.

    SQLite in WAL mode lets a read go on while another connection writes, so a check never
    waits behind someone's save held up by a lock (`Store.run` runs one call at a time).
    """
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except sqlite3.Error as e:
        raise store_error(context.bot_data.store.path, e) from e


async def defaults_for(
    update: Update, context: Context, user_id: int | None
) -> UserDefaults | None:
    """The defaults that complete an idea `user_id` sends here (in a group: the public ones).

    None when the store cannot be read (logged): the check still grades, as typed, and the
    reply says the /settings were not read.
    """
    if user_id is None:
        return UserDefaults()
    bd = context.bot_data
    try:
        defaults = await read_store(context, bd.users.user_defaults, user_id)
    except StoreError as e:
        log.warning("defaults of user %d unreadable, graded as typed: %s", user_id, e)
        return None
    return defaults.public() if is_group(update) else defaults
