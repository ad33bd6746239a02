"""The per-user request budget, checked before any handler runs.

Every request counts — a command, a refusal, a button press, an inline query, free text or
a caption in a private chat — not only checks: a user past the budget is told once ("slow
down"; a popup for a button, an article for an inline query, each time as they need an
answer) and then ignored until the window frees up. Updates that are not requests to
this bot (a command for another bot, group chatter, service messages) count for nothing.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from handlers import inline
from handlers.common import answer_quietly, command_of, is_group, over_budget, text_of
from handlers.context import Context


def is_request(update: Update, bot_username: str | None) -> bool:
    """True for what this bot answers: buttons, inline queries and messages meant for it."""
    if update.callback_query is not None:
        return update.callback_query.data is not None
    if update.inline_query is not None:
        return True
    message = update.message  # edits and channel posts are not answered
    if message is None or not text_of(message) or message.via_bot is not None:
        return False  # a message sent via a bot (a shared inline grade) asks nothing
    if not is_group(update):
        return True
    return command_of(message, bot_username) is not None


async def budget_gate(update: Update, context: Context) -> None:
    """Count the request against its sender's budget; past it, say so once and stop here."""
    user = update.effective_user
    if user is None or not is_request(update, context.bot.username):
        return
    chat = update.effective_chat
    group_id = chat.id if chat is not None and is_group(update) else None
    charge = context.bot_data.budget.charge(user.id, group_id)
    if charge.allowed:
        return
    if update.callback_query is not None:
        # always answer a button, or the user's client keeps spinning
        text = over_budget(charge.limit, charge.wait_s, "text")
        await answer_quietly(update.callback_query, text)
    elif update.inline_query is not None:
        text = over_budget(charge.limit, charge.wait_s, "text")
        article = inline.over_budget_article(context.bot.username, text)
        await inline.answer_articles(update, (article,), 0)
    elif charge.tell and update.message is not None:
        await update.message.reply_text(over_budget(charge.limit, charge.wait_s))
    raise ApplicationHandlerStop
