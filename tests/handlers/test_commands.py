"""/start, /help, /rules and the command menu."""

from __future__ import annotations

from dataclasses import replace

import pytest
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


@pytest.mark.parametrize(
    ("command", "reply"),
    [
        ("/foo", "I don't know /foo. Send /help to see what I do."),
        (
            "/setings",
            "I don't know /setings — did you mean /settings? Send /help to see what I do.",
        ),
        ("/hlep me", "I don't know /hlep — did you mean /help? Send /help to see what I do."),
        ("/chek ETH", "I don't know /chek — did you mean /check? Send /help to see what I do."),
    ],
)
async def test_an_unknown_command_in_private_points_to_help(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser, command: str, reply: str
) -> None:
    await bot.send(dm, alice, command)

    assert [m.text for m in api.bot_messages(dm)] == [reply]


async def test_in_a_group_only_an_unknown_command_for_this_bot_is_answered(
    bot: BotHarness, api: FakeBotAPI, alice: FakeUser
) -> None:
    group = api.group_chat()

    await bot.send(group, alice, "/foo")  # may be any bot's
    await bot.send(group, alice, "/foo@OtherBot")
    await bot.send(group, alice, "/foo@PreflightTestBot")

    assert [m.text for m in api.bot_messages(group)] == [
        "I don't know /foo. Send /help to see what I do."
    ]


async def test_a_photo_whose_caption_is_an_idea_is_graded(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    api.user_photo(dm, alice, "eth long 5x — what do you think?")
    await bot.process_next()
    api.user_photo(dm, alice, "my lunch")
    await bot.process_next()
    await bot.send(dm, alice, "my lunch")

    graded, as_caption, as_text = api.bot_messages(dm)
    assert graded.text.startswith("REDUCE · ETH long 5x")
    assert graded.edits == 1  # the progress, edited into the result
    assert as_caption.text == as_text.text  # a caption reads exactly like a message


async def test_in_a_group_a_caption_is_graded_only_with_check(
    bot: BotHarness, api: FakeBotAPI, alice: FakeUser
) -> None:
    group = api.group_chat()
    api.user_photo(group, alice, "sol short 2x")  # chatter
    await bot.process_next()
    api.user_photo(group, alice, "/check@PreflightTestBot SOL short 2x")
    await bot.process_next()

    [answer] = api.bot_messages(group)
    assert answer.text.startswith("REDUCE · SOL short 2x")
