"""/start, /help, /rules and the command menu."""

from __future__ import annotations

from dataclasses import replace

from telegram.ext import CommandHandler

from handlers.commands import bot_commands
from settings import Settings
from signals.thresholds import Thresholds
from tests.helpers.fake_botapi import FakeBotAPI, FakeChat, FakeUser
from tests.helpers.telegram import BotHarness

CORE = ["check", "market", "rules", "help", "start"]


async def test_post_init_publishes_the_command_menu(bot: BotHarness, api: FakeBotAPI) -> None:
    menu = api.commands["default"]

    assert [c["command"] for c in menu if c["command"] in CORE] == CORE
    assert menu[0] == {
        "command": "check",
        "description": "Grade a trade idea, e.g. /check ETH long 5x",
    }
    assert [c.command for c in bot_commands()] == [c["command"] for c in menu]


async def test_every_menu_command_has_a_handler(bot: BotHarness) -> None:
    handled = {
        command
        for group in bot.app.handlers.values()
        for handler in group
        if isinstance(handler, CommandHandler)
        for command in handler.commands
    }

    assert {c.command for c in bot_commands()} <= handled


async def test_start_greets_by_name_and_explains(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    await bot.send(dm, alice, "/start")

    [reply] = api.bot_messages(dm)
    lines = reply.text.splitlines()
    assert lines[:2] == [
        "Hi Alice!",
        "Preflight grades a leveraged crypto trade idea before you open it.",
    ]
    assert "/check ETH long 5x" in lines


async def test_help_in_a_group_quotes_the_asker(
    bot: BotHarness, api: FakeBotAPI, alice: FakeUser
) -> None:
    group = api.group_chat()

    asked = await bot.send(group, alice, "/help@PreflightTestBot")

    [reply] = api.bot_messages(group)
    assert reply.text.startswith("Preflight grades a leveraged crypto trade idea")
    assert reply.reply_to_id == asked.message_id


async def test_rules_quote_the_thresholds_in_force(
    api: FakeBotAPI, settings: Settings, dm: FakeChat, alice: FakeUser
) -> None:
    tuned = replace(settings, thresholds=Thresholds(funding_8h_caution=0.0005, reduce_at_flags=2))
    async with BotHarness(api, tuned) as bot:
        await bot.send(dm, alice, "/rules")

    [reply] = api.bot_messages(dm)
    lines = reply.text.splitlines()
    assert lines[0] == "The four flags, for a long (a short mirrors each one)"
    assert lines[3].startswith("2. Funding: caution at +0.05% per 8h or more (shorts: −0.05% or")
    assert "The rule: 2 flags → reduce size; 3 or more → wait; otherwise proceed." in lines
