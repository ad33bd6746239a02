"""The broadcaster: Telegram's flood limits, 429 retry_after, Forbidden, migrations, topics."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from telegram import Bot

from handlers.broadcast import Broadcaster, Pacer
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


@pytest.fixture
async def bot(api: GroupsBotAPI) -> AsyncIterator[Bot]:
    """A plain Bot (no PTB rate limiter): only the broadcaster paces it."""
    async with Bot(DEFAULT_TOKEN, request=UploadingRequest(api)) as plain:
        yield plain


def private_chats(api: GroupsBotAPI, n: int) -> list[FakeChat]:
    return [api.private_chat(api.user(f"T{i}")) for i in range(n)]


def texts(api: GroupsBotAPI, chat: FakeChat) -> list[str]:
    return [m.text for m in api.bot_messages(chat)]


async def test_pacer_spaces_global_slots_and_allows_a_short_burst_per_chat() -> None:
    now = [0.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(round(seconds, 6))
        now[0] += seconds

    pacer = Pacer(per_second=10, per_group_minute=20, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        await pacer.wait_turn(-100)

    # three back to back (one global slot, 0.1 s, apart), then one every 3 s (20 a minute)
    assert waits == [0.1, 0.1, 2.8, 3.0]
    pacer.pause(30)
    await pacer.wait_turn(7)
    assert waits[-1] == 30.0


async def test_a_broadcast_within_the_flood_limits_gets_no_429(
    bot: Bot, api: GroupsBotAPI, users: UserData
) -> None:
    chats = private_chats(api, 120)
    group = api.group_chat("Desk")
    api.enforce_flood_limits(per_second=100, per_group_minute=20)
    # one a second in the group: its fourth message waits after a burst of three
    users.enqueue([Draft(f"a{c.id}", c.id, f"hello {c.id}") for c in chats])
    users.enqueue([Draft(f"g{n}", group.id, f"group {n}") for n in range(4)])
    broadcaster = Broadcaster(bot, users, per_second=100, per_group_minute=60)

    started = time.monotonic()
    report = await broadcaster.drain()
    elapsed = time.monotonic() - started

    assert (report.sent, report.rate_limited, api.too_many_requests) == (124, 0, 0)
    assert all(texts(api, c) == [f"hello {c.id}"] for c in chats)
    assert texts(api, group) == ["group 0", "group 1", "group 2", "group 3"]
    # 124 at 100/s take 1.2 s
    assert elapsed >= 1.2
    assert users.outbox_counts() == {"sent": 124}


async def test_retry_after_pauses_and_resends(
    bot: Bot, api: GroupsBotAPI, users: UserData
) -> None:
    chats = private_chats(api, 3)
    users.enqueue([Draft(f"a{c.id}", c.id, "hi") for c in chats])
    api.flood("sendMessage", retry_after=1, times=1)
    broadcaster = Broadcaster(bot, users, per_second=50, per_group_minute=20)

    started = time.monotonic()
    report = await broadcaster.drain()

    assert time.monotonic() - started >= 1.0
    assert (report.sent, report.rate_limited) == (3, 1)
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

    async def on_gone(chat_id: int) -> None:
        gone.append(chat_id)

    broadcaster = Broadcaster(bot, users, 50, 20, on_chat_gone=on_gone)
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

    report = await Broadcaster(bot, users, 50, 20, on_migrated=on_migrated).drain()

    assert report.sent == 2
    assert texts(api, supergroup) == ["first", "second"]
    assert moved == [(group.id, supergroup.id)]
    assert [s.chat_id for s in users.subscribers("SOL")] == [supergroup.id]


async def test_a_deleted_forum_topic_falls_back_to_the_general_topic(
    bot: Bot, api: GroupsBotAPI, users: UserData
) -> None:
    group = api.group_chat("Not a forum")  # any thread id is "not found" here
    users.enqueue([Draft("t", group.id, "summary", thread_id=42)])

    report = await Broadcaster(bot, users, 50, 20).drain()

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

    await Broadcaster(bot, users, 50, 20).drain()

    [photo] = api.photos_in(chat)
    assert (photo.caption, photo.image) == ("ETH chart", png)
    assert api.bot_messages(chat)[-1].button_texts == ["🔎 Check ETH"]


async def test_a_message_telegram_refuses_is_marked_failed_not_retried(
    bot: Bot, api: GroupsBotAPI, users: UserData
) -> None:
    [chat] = private_chats(api, 1)
    users.enqueue([Draft("bad", chat.id, "<b>unclosed"), Draft("ok", chat.id, "fine")])

    report = await Broadcaster(bot, users, 50, 20).drain()
    again = await Broadcaster(bot, users, 50, 20).drain()

    assert (report.sent, report.failed, again.sent, again.failed) == (1, 1, 0, 0)
    assert users.outbox_counts() == {"failed": 1, "sent": 1}
    assert texts(api, chat) == ["fine"]


async def test_sending_faster_than_telegram_allows_is_throttled_by_retry_after(
    bot: Bot, api: GroupsBotAPI, users: UserData
) -> None:
    chats = private_chats(api, 80)
    api.enforce_flood_limits(per_second=40)
    users.enqueue([Draft(f"a{c.id}", c.id, "hi") for c in chats])
    # misconfigured: twice Telegram's rate; the 429s must slow it down, not lose messages
    broadcaster = Broadcaster(bot, users, per_second=80, per_group_minute=20)

    report = await broadcaster.drain()

    assert report.sent == 80
    assert report.rate_limited == api.too_many_requests > 0
    assert all(texts(api, c) == ["hi"] for c in chats)
