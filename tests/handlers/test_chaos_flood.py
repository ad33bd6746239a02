"""Chaos over HTTP: floods and load against a fake Bot API that enforces Telegram's limits.

The real Application long-polls the fake on 127.0.0.1. The fake is 10% stricter than
Telegram (27 messages in any second, 18 in any group minute; edits count) and answers
excess with 429 `retry_after`; it validates every message's HTML and length.

Time is scaled so a test takes seconds: the fake's limits and our pacer both run 10×
faster (270/s and 18 per 6 s at the fake, 300/s and 20 per 6 s configured in the pacer,
which keeps 20% below). The request budget and the 2-second goal are real time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from settings import Settings
from tests.helpers.fake_botapi import FakeChat, FakeUser, StoredMessage, parse_html, utf16_len
from tests.helpers.groups_api import GroupsBotAPI
from tests.helpers.telegram import PollingBot, bot_settings, scaled_pacer

SCALE = 10.0
SORRY = "Sorry, that check failed on my side."


@pytest.fixture
async def api() -> AsyncIterator[GroupsBotAPI]:
    fake = GroupsBotAPI()
    fake.enforce_flood_limits(
        per_second=30 * SCALE * 0.9, per_group_minute=20 * 0.9, minute_s=60 / SCALE
    )
    await fake.start()
    yield fake
    await fake.close()
    assert fake.failures == []


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return bot_settings(tmp_path)


@pytest.fixture
async def bot(api: GroupsBotAPI, settings: Settings) -> AsyncIterator[PollingBot]:
    async with PollingBot(api, settings, pacer=scaled_pacer(SCALE)) as running:
        yield running


def answered(message: StoredMessage) -> bool:
    """A final answer: anything but a progress message still waiting for its edit."""
    return not message.text.endswith("…")


def accepted_by_telegram(message: StoredMessage) -> bool:
    """What Telegram's own parser says of the HTML the bot sent (the fake stored it)."""
    plain, _ = parse_html(message.html or "")
    return 0 < utf16_len(plain) <= 4096


async def test_two_hundred_simultaneous_checks_lose_nothing(
    api: GroupsBotAPI, bot: PollingBot
) -> None:
    traders: list[tuple[FakeUser, FakeChat]] = []
    for n in range(200):
        user = api.user(f"T{n}")
        traders.append((user, api.private_chat(user)))
    asks = [api.user_message(chat, user, "/check ETH long 5x") for user, chat in traders[:199]]
    user, chat = traders[199]
    subscribe = api.user_message(chat, user, "/subscribe SOL")

    replies = await asyncio.gather(*(api.reply_to(a, until=answered, timeout=30) for a in asks))
    confirmation = await api.reply_to(subscribe, timeout=30)

    assert [r.text.splitlines()[0] for r in replies] == [
        "REDUCE · ETH long 5x — 2 of 4 flags in caution"
    ] * 199
    assert confirmation.text.startswith("🔔 Subscribed: SOL long + short")
    everything = [m for _, c in traders for m in api.bot_messages(c)]
    assert not [m for m in everything if m.text.startswith(SORRY)]
    assert all(accepted_by_telegram(m) for m in everything)
    assert len(everything) == 200  # one answer each (the progress edited into it)
    assert api.too_many_requests == 0


@pytest.mark.parametrize("members", [1, 300])
async def test_a_flooding_group_never_holds_up_another_user(
    api: GroupsBotAPI, bot: PollingBot, members: int
) -> None:
    group = api.group_chat("Flood")
    spammers = [api.user(f"S{n}") for n in range(members)]
    for n in range(300):
        api.user_message(group, spammers[n % members], "/help")
    await asyncio.sleep(0.3)  # the flood is in: every update fetched, the group's queue full
    bob = api.user("Bob")
    dm = api.private_chat(bob)

    started = time.monotonic()
    asked = api.user_message(dm, bob, "/check ETH long 5x")
    reply = await api.reply_to(asked, until=answered, timeout=10)
    waited = time.monotonic() - started

    assert reply.text.startswith("REDUCE · ETH long 5x")
    assert waited < 2.0
    in_group = api.bot_messages(group)
    assert api.too_many_requests == 0
    assert all(accepted_by_telegram(m) for m in in_group)
    # each member: 5 answers a minute in a group (a quarter of the budget), then one notice
    answers = [m for m in in_group if m.text.startswith("Preflight grades")]
    assert len(answers) <= 5 * members


async def test_one_users_flood_is_capped_by_the_budget_and_told_once(
    api: GroupsBotAPI, bot: PollingBot
) -> None:
    alice = api.user("Alice")
    dm = api.private_chat(alice)
    for _ in range(40):
        api.user_message(dm, alice, "/help")
    api.user_message(dm, alice, "eth lnog 5x")  # a refusal would be due: it counts too

    await api.wait_for(lambda: len(api.bot_messages(dm)) >= 21, timeout=10)
    await asyncio.sleep(0.5)

    texts = [m.text for m in api.bot_messages(dm)]
    assert len(texts) == 21  # 20 answered, one "slow down", then silence
    assert sum(t.startswith("Preflight grades") for t in texts) == 20
    assert texts[-1].startswith("Slow down: that's 20 requests a minute, the most I take")
    assert not [t for t in texts if "did you mean" in t]
