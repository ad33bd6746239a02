"""Chaos: hostile and random input to every command — no reply Telegram would refuse.

A seeded stream of commands and free text with HTML, entities, emoji, very long words,
numbers in every shape and grammar-word tickers, sent by one user in a private chat and by
members of a group, through the real Application on the strict fake Bot API (which refuses
bad HTML, over-long text and bad button data just as Telegram does).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace

import pytest

from settings import Settings
from tests.helpers.groups_api import GroupsBotAPI, GroupsHarness

COMMANDS = [
    "/check", "/market", "/chart", "/subscribe", "/unsubscribe", "/subscriptions", "/daily",
    "/watch", "/rules", "/help", "/start", "/foo", "/settings", "/check@PreflightTestBot", "",
]  # fmt: skip
WORDS = [
    "eth", "$ME", "THE", "long", "short", "5x", "x125", "500x", "@", "3000", "3k", "stop",
    "sl=2800", "for", "3d", "24h", "off", "all", "both", "08:00", "Europe/Berlin", "UTC",
    "Mars/Olympus", "<b>", "</i>", "&amp;", "&", "<script>", "📉", "清算", "\u200b", "-5x",
    "NaN", "1e400", "9" * 400, "x" * 40, "BTC", "SOL", "DOGE", "PEPE", "ETHUSDT", "1000PEPE",
]  # fmt: skip
REFUSED_OK = ("message is not modified", "query is too old")


def hostile_inputs(n: int, seed: int = 20260520) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(0, 8))]
        text = " ".join([rng.choice(COMMANDS), *words]).strip()
        if rng.random() < 0.05:
            text = "eth " * 1100  # over Telegram's own 4096 characters
        out.append(text or "?")
    return out


@pytest.fixture
def api() -> Iterator[GroupsBotAPI]:
    fake = GroupsBotAPI()
    yield fake
    assert fake.failures == []


async def test_no_reply_to_hostile_input_is_one_telegram_would_refuse(
    api: GroupsBotAPI, settings: Settings
) -> None:
    generous = replace(settings, user_requests_per_minute=10**6, check_rate_per_minute=10**6)
    alice = api.user("Alice")
    dm = api.private_chat(alice)
    group = api.group_chat("Desk")
    members = [api.user(f"M{n}") for n in range(3)]

    async with GroupsHarness(api, generous) as bot:
        for n, text in enumerate(hostile_inputs(300)):
            if n % 3:
                await bot.send(dm, alice, text)
            else:
                await bot.send(group, members[n % 3], text)
        for message in api.bot_messages(dm)[-20:]:
            for label in message.button_texts:
                await bot.press(message, alice, label)

    refused = [
        (c.method, c.error, c.params.get("text", "")[:80])
        for c in api.calls
        if c.status != 200 and not any(ok in (c.error or "") for ok in REFUSED_OK)
    ]
    assert refused == []
    failures = [m for m in api.bot_messages(dm) + api.bot_messages(group) if "Sorry" in m.text]
    assert failures == []
    assert len(api.bot_messages(dm)) >= 150  # private input is answered
