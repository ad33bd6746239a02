"""/start, /help and /rules, unknown commands, and the command list shown in Telegram's menu."""

from __future__ import annotations

import difflib

from telegram import BotCommand, Update

from handlers.common import command_of, is_group, text_of
from handlers.context import Context
from templates import render


def bot_commands() -> list[BotCommand]:
    """The menu commands, from templates/commands.j2 (BotFather's `name - description` lines)."""
    lines = render("commands", "text").splitlines()
    pairs = (line.split(" - ", 1) for line in lines if " - " in line)
    return [BotCommand(name.strip(), description.strip()) for name, description in pairs]


async def start(update: Update, context: Context) -> None:
    """Greet the user and show what Preflight does."""
    message = update.effective_message
    assert message is not None
    await message.reply_text(
        render("help", greeting=True, user=update.effective_user, bot_username=_username(context))
    )


async def help_command(update: Update, context: Context) -> None:
    """Show what Preflight does, with examples."""
    message = update.effective_message
    assert message is not None
    await message.reply_text(
        render("help", greeting=False, user=update.effective_user, bot_username=_username(context))
    )


def _username(context: Context) -> str | None:
    try:
        return context.bot.username
    except RuntimeError:  # the bot was not initialised (never in a running app)
        return None


async def rules(update: Update, context: Context) -> None:
    """Show the four flags, their thresholds from settings, and the verdict rule."""
    message = update.effective_message
    assert message is not None
    await message.reply_text(render("rules", th=context.bot_data.settings.thresholds))


async def unknown_command(update: Update, context: Context) -> None:
    """Point a command no handler took to /help: always in private, in groups only if for us."""
    message = update.effective_message
    if message is None:
        return
    name = command_of(message, context.bot.username)
    if name is None:
        return  # a command for another bot
    if is_group(update) and "@" not in text_of(message).split(maxsplit=1)[0]:
        return  # a bare /foo in a group may be any bot's
    known = [c.command for c in bot_commands()]
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    text = render(
        "notice", kind="unknown_command", command=name[:32], close=close[0] if close else None
    )
    await message.reply_text(text)
