"""The broadcaster: Telegram's flood limits, 429 retry_after, Forbidden, migrations, topics.

The Bot is PTB's real ExtBot with our FloodPacer, as in the Application: the pacer paces
and retries, the broadcaster handles what a chat answers.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from telegram.ext import ExtBot

from handlers.broadcast import Broadcaster
from handlers.pacing import FloodPacer
from signals.store import Store
from signals.userdata import Draft, UserData
from tests.helpers.fake_botapi import DEFAULT_TOKEN, FakeChat
from tests.helpers.groups_api import GroupsBotAPI, UploadingRequest


@pytest.fixture
def api() -> Iterator[GroupsBotAPI]:
    fake = GroupsBotAPI()
    yield fake
    assert fake.failures == []


@pytest.fixture
def users(tmp_path: Path) -> UserData:
    return UserData(Store(tmp_path / "preflight.sqlite"))


Bot = ExtBot[str]


def paced_bot(api: GroupsBotAPI, per_second: float = 1000, per_group_minute: float = 20) -> Bot:
    """PTB's ExtBot paced by our FloodPacer, talking to the fake in-process."""
    pacer = FloodPacer(per_second, per_group_minute)
    return ExtBot(DEFAULT_TOKEN, request=UploadingRequest(api), rate_limiter=pacer)


@pytest.fixture
async def bot(api: GroupsBotAPI) -> AsyncIterator[Bot]:
    """A bot paced far above any limit the tests below enforce (unless they say so)."""
    async with paced_bot(api) as paced:
        yield paced


def private_chats(api: GroupsBotAPI, n: int) -> list[FakeChat]:
    return [api.private_chat(api.user(f"T{i}")) for i in range(n)]


def texts(api: GroupsBotAPI, chat: FakeChat) -> list[str]:
    return [m.text for m in api.bot_messages(chat)]


async def test_a_broadcast_within_the_flood_limits_gets_no_429(
    api: GroupsBotAPI, users: UserData
) -> None:
    chats = private_chats(api, 120)
    group = api.group_chat("Desk")
    api.enforce_flood_limits(per_second=180, per_group_minute=20)
    users.enqueue([Draft(f"a{c.id}", c.id, f"hello {c.id}") for c in chats])
    users.enqueue([Draft(f"g{n}", group.id, f"group {n}") for n in range(3)])

    started = time.monotonic()
    async with paced_bot(api, per_second=200) as bot:
        report = await Broadcaster(bot, users).drain()
    elapsed = time.monotonic() - started

    assert (report.sent, api.too_many_requests) == (123, 0)
    assert all(texts(api, c) == [f"hello {c.id}"] for c in chats)
    assert texts(api, group) == ["group 0", "group 1", "group 2"]
    # 123 at 160/s (the pacer keeps 20% below the cap of 200) take 0.8 s
    assert elapsed >= 122 / 160
    assert users.outbox_counts() == {"sent": 123}


async def test_retry_after_pauses_and_resends(api: GroupsBotAPI, users: UserData) -> None:
    chats = private_chats(api, 3)
    users.enqueue([Draft(f"a{c.id}", c.id, "hi") for c in chats])
    api.flood("sendMessage", retry_after=1, times=1)

    started = time.monotonic()
    async with paced_bot(api) as bot:
        report = await Broadcaster(bot, users).drain()
        retried = bot.rate_limiter.retried  # type: ignore[union-attr]

    assert time.monotonic() - started >= 1.0
    assert (report.sent, retried) == (3, 1)
    assert [texts(api, c) for c in chats] == [["hi"]] * 3


async def test_forbidden_deactivates_the_chat_and_drops_its_queue(
    bot: Bot, api: GroupsBotAPI, users: UserData
) -> None:
    blocked, fine = private_chats(api, 2)
    for chat in (blocked, fine):
        users.subscribe(chat.id, "ETH", {"long": ("calm", ())}, None)
    users.set_daily(blocked.id, "private", "08:00", "UTC", None, None)
    users.enqueue(
        [
            Draft("b1", blocked.id, "one"),
            Draft("b2", blocked.id, "two"),
            Draft("f1", fine.id, "one"),
        ]
    )
    api.block(blocked)
    gone: list[int] = []

    def on_gone(chat_id: int) -> None:
        gone.append(chat_id)

    broadcaster = Broadcaster(bot, users, on_chat_gone=on_gone)
    report = await broadcaster.drain()

    assert (report.sent, report.dropped, report.chats_deactivated) == (1, 2, [blocked.id])
    assert gone == [blocked.id]
    assert users.subscriptions(blocked.id) == []
    assert [s.chat_id for s in users.subscribers("ETH")] == [fine.id]
    assert users.daily_chats() == []
    assert len([c for c in api.calls if c.status == 403]) == 1


async def test_a_migrated_group_gets_its_messages_at_the_new_id(
    bot: Bot, api: GroupsBotAPI, users: UserData
) -> None:
    group = api.basic_group()
    users.subscribe(group.id, "SOL", {"long": ("calm", ())}, None)
    users.enqueue([Draft("m1", group.id, "first"), Draft("m2", group.id, "second")])
    supergroup = api.upgrade(group)
    moved: list[tuple[int, int]] = []

    async def on_migrated(old: int, new: int) -> None:
        moved.append((old, new))

    report = await Broadcaster(bot, users, on_migrated=on_migrated).drain()

    assert report.sent == 2
    assert texts(api, supergroup) == ["first", "second"]
    assert moved == [(group.id, supergroup.id)]
    assert [s.chat_id for s in users.subscribers("SOL")] == [supergroup.id]


async def test_a_deleted_forum_topic_falls_back_to_the_general_topic(
    bot: Bot, api: GroupsBotAPI, users: UserData
) -> None:
    group = api.group_chat("Not a forum")  # any thread id is "not found" here
    users.enqueue([Draft("t", group.id, "summary", thread_id=42)])

    report = await Broadcaster(bot, users).drain()

    assert report.sent == 1
    assert [(m.text, m.thread_id) for m in api.bot_messages(group)] == [("summary", None)]


async def test_photos_and_buttons_are_delivered_as_queued(
    bot: Bot, api: GroupsBotAPI, users: UserData
) -> None:
    [chat] = private_chats(api, 1)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    buttons = [[{"text": "🔎 Check ETH", "callback_data": "ac:ETH"}]]
    users.enqueue(
        [
            Draft("p", chat.id, "<b>ETH</b> chart", kind="photo", photo=png),
            Draft("t", chat.id, "alert", buttons=buttons),
        ]
    )

    await Broadcaster(bot, users).drain()

    [photo] = api.photos_in(chat)
    assert (photo.caption, photo.image) == ("ETH chart", png)
    assert api.bot_messages(chat)[-1].button_texts == ["🔎 Check ETH"]


async def test_a_message_telegram_refuses_is_marked_failed_not_retried(
    bot: Bot, api: GroupsBotAPI, users: UserData
) -> None:
    [chat] = private_chats(api, 1)
    users.enqueue([Draft("bad", chat.id, "<b>unclosed"), Draft("ok", chat.id, "fine")])

    report = await Broadcaster(bot, users).drain()
    again = await Broadcaster(bot, users).drain()

    assert (report.sent, report.failed, again.sent, again.failed) == (1, 1, 0, 0)
    assert users.outbox_counts() == {"failed": 1, "sent": 1}
    assert texts(api, chat) == ["fine"]


async def test_sending_faster_than_telegram_allows_is_throttled_by_retry_after(
    api: GroupsBotAPI, users: UserData
) -> None:
    chats = private_chats(api, 50)
    api.enforce_flood_limits(per_second=40)
    users.enqueue([Draft(f"a{c.id}", c.id, "hi") for c in chats])

    # misconfigured: twice Telegram's rate; the 429s must slow it down, not lose messages
    async with paced_bot(api, per_second=80) as bot:
        report = await Broadcaster(bot, users).drain()
        retried = bot.rate_limiter.retried  # type: ignore[union-attr]

    assert report.sent == 50
    assert retried == api.too_many_requests > 0
    assert all(texts(api, c) == ["hi"] for c in chats)
