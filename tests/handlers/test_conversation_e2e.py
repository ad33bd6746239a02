"""End to end over HTTP: inline queries, every chart, time zones, subscriptions, odd buttons.

First the real Application long-polls the fake Bot API server on 127.0.0.1 (groups
extension: photos, admins; inline mode switched on as BotFather's /setinline does); then
`python bot.py` itself, as a subprocess, holds the same conversation.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image

from signals.chart import HEIGHT_PX, WIDTH_PX
from signals.snapshot import DEMO_PATH
from tests.helpers.fake_botapi import FakeChat, FakeUser, StoredMessage
from tests.helpers.groups_api import GroupsBotAPI, SentPhoto
from tests.helpers.telegram import PollingBot, bot_settings

BOT_PY = Path(__file__).resolve().parents[2] / "bot.py"
OUTDATED = "This button is from an older version of Preflight. Send the check again."
TOPIC = 7


@pytest.fixture
async def api() -> AsyncIterator[GroupsBotAPI]:
    fake = GroupsBotAPI()
    fake.inline_mode = True
    await fake.start()
    yield fake
    await fake.close()
    assert fake.failures == []


def decoded(photo: SentPhoto) -> tuple[int, int]:
    with Image.open(io.BytesIO(photo.image)) as image:
        image.load()
        return image.size


def answered(message: StoredMessage) -> bool:
    return not message.text.endswith("…")


class Conversation:
    """One trader's exchanges with the bot, waiting for each answer over HTTP."""

    def __init__(self, api: GroupsBotAPI, chat: FakeChat, user: FakeUser) -> None:
        self.api, self.chat, self.user = api, chat, user

    async def say(self, text: str, thread_id: int | None = None) -> StoredMessage:
        asked = self.api.user_message(self.chat, self.user, text, thread_id=thread_id)
        return await self.api.reply_to(asked, until=answered, timeout=20)

    async def chart(self, text: str) -> list[SentPhoto]:
        before = len(self.api.photos_in(self.chat))
        wanted = len(text.split()) - 1 - sum(w.endswith("d") for w in text.split()[1:])
        self.api.user_message(self.chat, self.user, text)
        await self.api.wait_for(
            lambda: len(self.api.photos_in(self.chat)) >= before + wanted, timeout=30
        )
        return self.api.photos_in(self.chat)[before:]

    async def inline(self, text: str) -> list[tuple[str, str, str]]:
        query_id = self.api.inline_query(self.user, text)
        await self.api.wait_for(lambda: query_id in self.api.inline_answers, timeout=20)
        return [(r.id, r.title, r.text) for r in self.api.inline_results(query_id)]

    async def press(self, data: str) -> str:
        message = self.api.seed_bot_message(self.chat, "an old message", [("Old", data)])
        query_id = self.api.press(message, self.user, "Old")
        answer = await self.api.wait_for(lambda: self.api.answer_of(query_id), timeout=20)
        return str(answer.get("text", ""))


async def hold_the_conversation(api: GroupsBotAPI) -> None:
    """Every feature of the issue, as a trader would meet it; asserts as it goes."""
    alice = api.user("Alice", "alice")
    me = Conversation(api, api.private_chat(alice), alice)

    # inline mode: an idea, both sides, an empty and an unreadable query
    [(side, title, text)] = await me.inline("eth long 5x")
    assert (side, title) == ("long", "REDUCE · ETH long 5x")
    assert text.startswith("REDUCE · ETH long 5x — 2 of 4 flags in caution")
    assert [a[:2] for a in await me.inline("sol")] == [
        ("long", "WAIT · SOL long 1x (no leverage given)"),
        ("short", "PROCEED · SOL short 1x (no leverage given)"),
    ]
    assert [a[:2] for a in await me.inline("")] == [("help", "Type an idea: eth long 5x")]
    assert [a[:2] for a in await me.inline("eth lnog")] == [("help", "Type an idea: eth long 5x")]

    # every chart variant: the PNG decodes at the phone size, the caption fits the window
    for command, first in (
        ("/chart ETH", "ETH · 7 days of hourly price"),
        ("/chart ETH 30d", "ETH · 30 days of daily closes"),
        ("/chart ETH 90d", "ETH · 90 days of daily closes"),
    ):
        [photo] = await me.chart(command)
        assert decoded(photo) == (WIDTH_PX, HEIGHT_PX)
        assert photo.caption.startswith(first)
    photos = await me.chart("/chart btc sol")
    assert [(p.caption.split(" · ")[0], decoded(p)) for p in photos] == [
        ("BTC", (WIDTH_PX, HEIGHT_PX)),
        ("SOL", (WIDTH_PX, HEIGHT_PX)),
    ]
    assert (await me.say("/chart eth 14d")).text.splitlines() == [
        "'14d' is not a chart window: 7d, 30d, 90d.",
        "Example: /chart ETH 30d",
    ]

    # the timezone forms /daily reads
    for words, zone in (
        ("Europe/Berlin", "Europe/Berlin"),
        ("europe/berlin", "Europe/Berlin"),
        ("CET", "Europe/Berlin"),
        ("EST", "America/New_York"),
        ("+02:00", "UTC+2"),
        ("UTC+2", "UTC+2"),
        ("GMT-5", "UTC−5"),
        ("+0530", "Asia/Kolkata"),
        ("Berlin", "Europe/Berlin"),
        ("new york", "America/New_York"),
        ("New_York", "America/New_York"),
    ):
        reply = await me.say(f"/daily 08:00 {words} BTC")
        assert reply.text.splitlines()[0] == f"Daily summary set: every day at 08:00 {zone}"
    assert (await me.say("/daily 08:00 Berlim")).text.splitlines()[0] == (
        "unknown timezone 'Berlim': did you mean Europe/Berlin?"
    )
    assert (await me.say("/daily 08:00 new yrok")).text.splitlines()[0] == (
        "unknown timezone 'new yrok': did you mean America/New_York?"
    )
    assert (await me.say("/chart eth 1y")).text.splitlines()[0] == (
        "'1y' is not a chart window: 7d, 30d, 90d."
    )
    # PEPE trades; it is only not in the demo file
    assert (await me.say("/subscribe pepe")).text.splitlines() == [
        "PEPE is not in the demo snapshot (synthetic data), demo_snapshot.json of 2026-05-20 "
        "00:00 UTC: it holds BTC, DOGE, ETH, SOL.",
        "Example: /subscribe BTC long",
    ]

    # subscribe and unsubscribe forms, twice is "already"
    assert (await me.say("/subscribe eth long short")).text.startswith(
        "🔔 Subscribed: ETH long + short"
    )
    assert (await me.say("/subscribe ETH")).text.startswith("🔔 Already subscribed: ETH")
    assert (await me.say("/unsubscribe eth long")).text.splitlines() == [
        "🔕 No more ETH long warnings.",
        "Still following: ETH short",
    ]

    # button data the bot does not recognise is answered, never left spinning
    for data in ("zz:anything", "s:", "r:1.q:ETH:long", "ü" * 32):
        assert await me.press(data) == OUTDATED

    # a forum group: the chart lands in its topic
    desk = api.group_chat("Desk", forum=True)
    api.make_admin(desk, alice)
    asked = api.user_message(desk, alice, "/chart@PreflightTestBot eth 30d", thread_id=TOPIC)
    await api.wait_for(lambda: api.photos_in(desk), timeout=30)
    [photo] = api.photos_in(desk)
    assert (photo.thread_id, decoded(photo)) == (TOPIC, (WIDTH_PX, HEIGHT_PX))
    assert asked.message_id > 0

    # a plain group: the chart, and an error that shows /chart's own example
    plain = api.basic_group("Plain")
    api.make_admin(plain, alice)
    api.user_message(plain, alice, "/chart@PreflightTestBot btc 90d")
    await api.wait_for(lambda: api.photos_in(plain), timeout=30)
    [photo] = api.photos_in(plain)
    assert (photo.thread_id, decoded(photo)) == (None, (WIDTH_PX, HEIGHT_PX))
    assert photo.caption.startswith("BTC · 90 days of daily closes")
    group = Conversation(api, plain, alice)
    assert (await group.say("/chart@PreflightTestBot")).text.splitlines() == [
        "name the asset to chart.",
        "Example: /chart ETH 30d",
    ]


async def test_the_conversation_through_the_real_application_over_http(
    api: GroupsBotAPI, tmp_path: Path
) -> None:
    # one trader's morning is more checks than the default 5 a minute
    settings = bot_settings(tmp_path, check_rate_per_minute=60, user_requests_per_minute=120)
    async with PollingBot(api, settings):
        await hold_the_conversation(api)


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "PREFLIGHT_")) and "PROXY" not in k.upper()
    }
    return {**env, "MPLBACKEND": "Agg", **extra}


async def test_the_conversation_with_python_bot_py(api: GroupsBotAPI, tmp_path: Path) -> None:
    log_path = tmp_path / "bot.log"
    env = clean_env(
        TELEGRAM_BOT_TOKEN=api.token,
        TELEGRAM_API_BASE_URL=api.base_url,
        PREFLIGHT_SNAPSHOT=str(DEMO_PATH),
        PREFLIGHT_STORE_PATH=str(tmp_path / "preflight.sqlite"),
        # one trader's morning is more checks than the default 5 a minute
        PREFLIGHT_CHECK_RATE_PER_MINUTE="60",
        PREFLIGHT_USER_REQUESTS_PER_MINUTE="120",
    )
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(BOT_PY), cwd=tmp_path, env=env, stdout=log, stderr=log
        )
        try:
            await api.wait_for(lambda: api.commands, timeout=60)
            await hold_the_conversation(api)
        finally:
            process.send_signal(signal.SIGINT)
            returncode = await asyncio.wait_for(process.wait(), timeout=30)

    output = log_path.read_text()
    assert returncode == 0
    assert "Traceback" not in output
    assert "inline mode is off" not in output
    assert api.token.split(":")[1] not in output
