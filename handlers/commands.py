"""/start, /help and /rules, and the command list shown in Telegram's menu."""

from __future__ import annotations

from telegram import BotCommand, Update
from telegram.ext import Application, CommandHandler, ContextTypes, filters

from handlers.common import settings
from templates import render


def bot_commands() -> list[BotCommand]:
    """The menu commands, from templates/commands.j2 (BotFather's `name - description` lines)."""
    lines = render("commands", "text").splitlines()
    pairs = (line.split(" - ", 1) for line in lines if " - " in line)
    return [BotCommand(name.strip(), description.strip()) for name, description in pairs]


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greet the user and show what Preflight does."""
    message = update.effective_message
    assert message is not None
    await message.reply_text(render("help", greeting=True, user=update.effective_user))


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show what Preflight does, with examples."""
    message = update.effective_message
    assert message is not None
    await message.reply_text(render("help", greeting=False, user=update.effective_user))


async def rules(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show the four flags, their thresholds from settings, and the verdict rule."""
    message = update.effective_message
    assert message is not None
    await message.reply_text(render("rules", th=settings(context).thresholds))


def register(app: Application) -> None:  # type: ignore[type-arg]
    """Add /start, /help and /rules."""
    new_messages = filters.UpdateType.MESSAGE
    app.add_handler(CommandHandler("start", start, filters=new_messages))
    app.add_handler(CommandHandler("help", help_command, filters=new_messages))
    app.add_handler(CommandHandler("rules", rules, filters=new_messages))
