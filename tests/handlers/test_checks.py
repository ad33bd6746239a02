"""/check, /market and free-text checks through process_update, answered by the fake Bot API."""

from __future__ import annotations

from tests.helpers.fake_botapi import FakeBotAPI, FakeChat, FakeUser
from tests.helpers.telegram import BotHarness


async def test_check_edits_progress_into_result(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    asked = await bot.send(dm, alice, "/check ETH long 5x")

    [reply] = api.bot_messages(dm)
    [progress] = api.calls_of("sendMessage")
    assert progress.params["text"] == "Checking <b>ETH</b> long 5x…"
    assert reply.edits == 1
    assert reply.text.startswith("REDUCE · ETH long 5x")
    assert reply.button_texts == ["🔄 Refresh", "🔁 Flip to short"]
    assert reply.reply_to_id is None  # no quoting in a private chat
    assert asked.message_id < reply.message_id
