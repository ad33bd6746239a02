"""The bot on a locked store: a write fails fast with a notice, and no one else waits."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time

import pytest

from tests.helpers.fake_botapi import FakeBotAPI, FakeChat, FakeUser
from tests.helpers.telegram import BotHarness

BUSY = (
    "I couldn't save or read that just now: my storage is busy. Nothing you set up is lost; "
    "please try again in a minute."
)


async def test_a_locked_store_fails_the_write_fast_and_holds_up_no_one(
    bot: BotHarness,
    api: FakeBotAPI,
    dm: FakeChat,
    alice: FakeUser,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bob = api.user("Bob")
    bobs = api.private_chat(bob)
    await bot.send(dm, alice, "/subscribe ETH")
    holder = sqlite3.connect(bot.settings.store_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        api.user_message(dm, alice, "/subscribe SOL")
        api.user_message(bobs, bob, "/check ETH long 5x")
        started = time.monotonic()
        subscribe = asyncio.create_task(bot.process_next())
        check = asyncio.create_task(bot.process_next())
        with caplog.at_level(logging.WARNING):
            await check
            check_done = time.monotonic() - started
            await subscribe
        subscribe_done = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert check_done < 0.5  # Bob's check never waited for Alice's write
    assert subscribe_done < 2.0
    assert api.bot_messages(bobs)[-1].text.startswith("REDUCE · ETH long 5x")
    assert api.bot_messages(dm)[-1].text == BUSY
    assert [r.exc_info for r in caplog.records] == [None] * len(caplog.records)
    assert any("locked by another process" in r.getMessage() for r in caplog.records)
    subs = bot.app.bot_data.users.subscriptions(dm.id)
    assert sorted({s.asset for s in subs}) == ["ETH"]  # what was set up is still there


async def test_writes_piling_up_on_a_lock_never_hold_up_a_read(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    await bot.send(dm, alice, "/subscribe ETH long")
    writers = [api.user(f"W{n}") for n in range(12)]
    holder = sqlite3.connect(bot.settings.store_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        for writer in writers:  # twelve traders subscribe at once: each write must fail
            api.user_message(api.private_chat(writer), writer, "/subscribe SOL")
        writes = [asyncio.create_task(bot.process_next()) for _ in writers]
        await asyncio.sleep(0.05)  # the writes are queued on the store first
        api.user_message(dm, alice, "/subscriptions")
        started = time.monotonic()
        await bot.process_next()
        read_done = time.monotonic() - started
        await asyncio.gather(*writes)
        writes_done = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    # Alice's read waits for at most the one write already waiting on the lock, not twelve
    assert read_done < 2.0, f"the read waited {read_done:.1f}s behind the writes"
    assert writes_done < 3.0
    assert "ETH: long" in api.bot_messages(dm)[-1].text
    assert [api.bot_messages(c)[-1].text for c in map(api.private_chat, writers)] == [BUSY] * 12
