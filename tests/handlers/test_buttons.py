"""Refresh and Flip under a result: re-graded in place, "not modified" never surfaces."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from handlers.buttons import check_keyboard, flipped, idea_words
from settings import Settings
from signals.idea import TradeIdea, parse_idea
from signals.snapshot import DEMO_PATH
from tests.helpers.fake_botapi import FakeBotAPI, FakeChat, FakeUser
from tests.helpers.telegram import BotHarness


@pytest.mark.parametrize(
    "text",
    [
        "ETH long 5x",
        "btc",
        "sol short 2.5x @ 171.25 stop 180 for 36h",
        "eth long lev 3 @ 0.000012345 for 2w",
        "doge sell 125x sl 0.25",
    ],
)
def test_idea_words_read_back_to_the_same_idea(text: str) -> None:
    idea = parse_idea(text)

    assert parse_idea(idea_words(idea)) == idea


def test_flipped_keeps_everything_but_the_side_and_stop() -> None:
    idea = parse_idea("sol short 2.5x @ 171.25 stop 180 for 3d")

    assert flipped(idea) == TradeIdea("SOL", "long", 2.5, True, 171.25, None, 3.0)


def test_a_realistic_long_idea_fits_in_button_data() -> None:
    idea = parse_idea("1000PEPE long 12.5x @ 0.0123456 stop 0.0119876 for 36h")

    keyboard = check_keyboard(idea, owner=7_123_456_789)

    assert keyboard is not None
    assert [[b.callback_data for b in row] for row in keyboard.inline_keyboard] == [
        [
            "d:39t4efp:1000PEPE:long 12.5x @ 0.0123456 stop 0.0119876 for 36h",
            "r:39t4efp:1000PEPE:long 12.5x @ 0.0123456 stop 0.0119876 for 36h",
            "f:39t4efp:1000PEPE:long 12.5x @ 0.0123456 stop 0.0119876 for 36h",
        ],
        ["s:1000PEPE"],
    ]


def test_an_idea_too_long_without_a_reference_gets_only_subscribe() -> None:
    idea = TradeIdea("ETH", "long", 2.123456789, True, 3012.123456789, 2800.987654321, 1.234567)

    keyboard = check_keyboard(idea)

    assert keyboard is not None
    assert [[b.callback_data for b in row] for row in keyboard.inline_keyboard] == [["s:ETH"]]


def test_subscribe_button_sits_under_every_check() -> None:
    shown = check_keyboard(parse_idea("eth long 5x"))

    assert shown is not None
    assert [(b.text, b.callback_data) for b in shown.inline_keyboard[1]] == [
        ("🔔 Warn me about ETH", "s:ETH")
    ]


async def test_refresh_with_unchanged_data_reports_up_to_date(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    await bot.send(dm, alice, "/check ETH long 5x")
    [result] = api.bot_messages(dm)
    before = result.text

    query_id = await bot.press(result, alice, "🔄 Refresh")

    assert api.answer_of(query_id) == {
        "callback_query_id": query_id,
        "text": "Already up to date: nothing has changed.",
    }
    assert [c.error for c in api.calls_of("editMessageText")][-1] is not None  # Telegram said so
    assert (result.text, result.edits) == (before, 1)


async def test_refresh_after_new_data_edits_in_place(
    api: FakeBotAPI, settings: Settings, dm: FakeChat, alice: FakeUser, tmp_path: Path
) -> None:
    snapshot = tmp_path / "snapshot.json"
    shutil.copy(DEMO_PATH, snapshot)
    async with BotHarness(api, replace(settings, snapshot_path=str(snapshot))) as bot:
        await bot.send(dm, alice, "/check ETH long 5x")
        [result] = api.bot_messages(dm)
        data = json.loads(snapshot.read_text())
        data["assets"]["ETH"]["ohlcv_1h"][-1][4] = 3300.0  # the last close moves
        snapshot.write_text(json.dumps(data))

        query_id = await bot.press(result, alice, "🔄 Refresh")

    assert api.answer_of(query_id) == {
        "callback_query_id": query_id,
        "text": "Updated with the latest data.",
    }
    assert result.edits == 2
    assert "Entry $3,300.00 (price now)" in result.text
    assert len(api.bot_messages(dm)) == 1


async def test_flip_grades_the_other_side_in_place_and_flips_back(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    await bot.send(dm, alice, "/check ETH long 5x")
    [result] = api.bot_messages(dm)

    await bot.press(result, alice, "🔁 Flip to short")
    short_text, short_buttons = result.text, result.button_texts
    await bot.press(result, alice, "🔁 Flip to long")

    assert short_text.startswith("PROCEED · ETH short 5x")
    assert short_buttons == ["📋 Details", "🔄 Refresh", "🔁 Flip to long", "🔔 Warn me about ETH"]
    assert result.text.startswith("REDUCE · ETH long 5x")
    assert len(api.bot_messages(dm)) == 1


async def test_a_flipped_idea_says_it_left_the_stop_and_targets_behind(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    # they sit on the long's side; graded without them, the reply must say so (the sizing's
    # cut is the 1σ move now, not the trader's stop)
    await bot.send(dm, alice, "/check ETH long 5x stop 3000 tp 3400 3500 risk 1% acct 10k")
    [result] = api.bot_messages(dm)

    await bot.press(result, alice, "🔁 Flip to short")
    short_lines = result.text.splitlines()
    await bot.press(result, alice, "🔁 Flip to long")

    assert short_lines[0].startswith("PROCEED · ETH short 5x")
    assert "Stop and targets fit a long, not this short: graded without them" in short_lines
    assert "Stop $3,000.00" in result.text and "graded without" not in result.text


async def test_market_refresh_unchanged(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    await bot.send(dm, alice, "/market SOL")
    [dashboard] = api.bot_messages(dm)

    query_id = await bot.press(dashboard, alice, "🔄 Refresh")

    assert api.answer_of(query_id) == {
        "callback_query_id": query_id,
        "text": "Already up to date: nothing has changed.",
    }


async def test_in_a_group_only_the_asker_rewrites_their_result(
    bot: BotHarness, api: FakeBotAPI, alice: FakeUser
) -> None:
    group = api.group_chat()
    bob = api.user("Bob")
    await bot.send(group, alice, "/check SOL long 3x")
    [result] = api.bot_messages(group)

    bobs = await bot.press(result, bob, "🔁 Flip to short")
    untouched = result.text.split("\n")[0]
    await bot.press(result, alice, "🔁 Flip to short")

    assert api.answer_of(bobs) == {
        "callback_query_id": bobs,
        "text": "SOL short 3x: REDUCE, 0 of 4 flags\n"
        "Synthetic demo data, as of 2026-05-20 00:00 UTC\n"
        "Only the asker's message changes; send /check for your own.",
        "show_alert": True,
    }
    assert untouched.startswith("WAIT · SOL long 3x")
    # max leverage is 1x here
    assert result.text.split("\n")[0].startswith("REDUCE · SOL short 3x — 3x is above the 1x max")
    assert len(api.bot_messages(group)) == 1


async def test_a_query_too_old_to_answer_is_not_an_error(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    await bot.send(dm, alice, "/check ETH long 5x")
    [result] = api.bot_messages(dm)
    query_id = api.press(result, alice, "🔁 Flip to short")
    api.age_query(query_id, 60)

    await bot.process_next()

    assert result.text.startswith("PROCEED · ETH short 5x")
    assert api.answer_of(query_id) is None
    assert api.calls_of("answerCallbackQuery")[-1].error is not None
    assert len(api.bot_messages(dm)) == 1  # no "something failed" message


async def test_a_button_from_an_older_version_is_explained(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    old = api.seed_bot_message(dm, "an old result", [("Refresh", "r:v0|ETH|L|5")])

    query_id = await bot.press(old, alice, "Refresh")

    assert api.answer_of(query_id) == {
        "callback_query_id": query_id,
        "text": "This button is from an older version of Preflight. Send the check again.",
    }
    assert old.edits == 0


async def test_button_presses_count_toward_the_rate_limit(
    api: FakeBotAPI, settings: Settings, dm: FakeChat, alice: FakeUser
) -> None:
    async with BotHarness(api, replace(settings, check_rate_per_minute=1)) as bot:
        await bot.send(dm, alice, "/check ETH long 5x")
        [result] = api.bot_messages(dm)

        query_id = await bot.press(result, alice, "🔁 Flip to short")

    answer = api.answer_of(query_id)
    assert answer is not None and answer["show_alert"] is True
    assert answer["text"].startswith("Slow down: that's 1 check a minute")
    assert result.text.startswith("REDUCE · ETH long 5x")


async def test_a_button_on_a_message_the_bot_can_no_longer_see_is_explained(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    await bot.send(dm, alice, "/check ETH long 5x")
    [result] = api.bot_messages(dm)
    query_id = api.press(result, alice, "🔄 Refresh", inaccessible=True)

    await bot.process_next()

    assert api.answer_of(query_id) == {
        "callback_query_id": query_id,
        "text": "This button is from an older version of Preflight. Send the check again.",
    }
