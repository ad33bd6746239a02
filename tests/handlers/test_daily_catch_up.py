"""A restart spanning a chat's summary minute: caught up once, the same local day, never twice.

Each `async with GroupsHarness(...)` is one run of the bot on the same store file; between
them the bot is down. The clock is set to the wall time of each start.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from settings import Settings
from signals.store import Store
from tests.helpers.fake_botapi import FakeChat, FakeUser
from tests.helpers.groups_api import GroupsBotAPI, GroupsHarness
from tests.helpers.telegram import bot_settings

# Berlin is UTC+2 in May: 08:00 there is 06:00 UTC
BERLIN_0700 = datetime(2026, 5, 20, 5, 0, tzinfo=UTC)
BERLIN_0830 = datetime(2026, 5, 20, 6, 30, tzinfo=UTC)
BERLIN_0900 = datetime(2026, 5, 20, 7, 0, tzinfo=UTC)
BERLIN_2359 = datetime(2026, 5, 20, 21, 59, tzinfo=UTC)
BERLIN_NEXT_0030 = datetime(2026, 5, 20, 22, 30, tzinfo=UTC)
BERLIN_NEXT_0830 = datetime(2026, 5, 21, 6, 30, tzinfo=UTC)


class Clock:
    """A settable clock."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def api() -> GroupsBotAPI:
    return GroupsBotAPI()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return bot_settings(tmp_path)


@pytest.fixture
def admin(api: GroupsBotAPI) -> FakeUser:
    return api.user("Ada")


@pytest.fixture
def group(api: GroupsBotAPI, admin: FakeUser) -> FakeChat:
    chat = api.group_chat("Desk")
    api.make_admin(chat, admin)
    return chat


def summaries(api: GroupsBotAPI, chat: FakeChat) -> list[str]:
    return [m.text.splitlines()[0] for m in api.bot_messages(chat) if "Preflight daily" in m.text]


def summary_days(api: GroupsBotAPI, settings: Settings, chat: FakeChat) -> list[str]:
    """The local day of every summary posted to `chat` (its outbox key), once each posted.

    The summary's header gives the data's time (the demo's 20 May), not the day it was for.
    """
    store = Store(settings.store_path)
    try:
        keys = store.connect().execute(
            "SELECT dedupe_key FROM outbox WHERE chat_id = ? AND dedupe_key LIKE 'daily:%:text' "
            "AND status = 'sent' ORDER BY id",
            (chat.id,),
        )
        days = [key.split(":")[2] for (key,) in keys]
    finally:
        store.close()
    assert len(summaries(api, chat)) == len(days)
    return days


def catch_up_jobs(bot: GroupsHarness, chat: FakeChat) -> int:
    assert bot.app.job_queue is not None
    return len(bot.app.job_queue.get_jobs_by_name(f"daily-catch-up:{chat.id}"))


async def start_and_catch_up(
    api: GroupsBotAPI, settings: Settings, when: datetime, chat: FakeChat
) -> int:
    """One run of the bot at `when`: run the catch-up job if start-up queued one."""
    async with GroupsHarness(api, settings, Clock(when)) as bot:
        queued = catch_up_jobs(bot, chat)
        if queued:
            await bot.run_job(f"daily-catch-up:{chat.id}")
        return queued


async def test_a_summary_missed_while_down_is_caught_up_once(
    api: GroupsBotAPI, settings: Settings, group: FakeChat, admin: FakeUser
) -> None:
    async with GroupsHarness(api, settings, Clock(BERLIN_0700)) as bot:
        await bot.send(group, admin, "/daily 08:00 Europe/Berlin BTC")
    # down across 08:00; back at 08:30, then restarted again at 09:00

    first = await start_and_catch_up(api, settings, BERLIN_0830, group)
    again = await start_and_catch_up(api, settings, BERLIN_0900, group)

    assert (first, again) == (1, 0)
    assert summary_days(api, settings, group) == ["2026-05-20"]


async def test_the_job_at_its_minute_and_a_catch_up_never_post_twice(
    api: GroupsBotAPI, settings: Settings, group: FakeChat, admin: FakeUser
) -> None:
    async with GroupsHarness(api, settings, Clock(BERLIN_0700)) as bot:
        await bot.send(group, admin, "/daily 08:00 Europe/Berlin BTC")
    async with GroupsHarness(api, settings, Clock(BERLIN_0830)) as bot:
        await bot.run_job(f"daily-catch-up:{group.id}")
        await bot.run_job(f"daily:{group.id}")  # the same day's job, fired late too
        await bot.run_job(f"daily-catch-up:{group.id}")

    assert len(summaries(api, group)) == 1


async def test_no_catch_up_before_the_time_or_for_a_time_set_after_it(
    api: GroupsBotAPI, settings: Settings, group: FakeChat, admin: FakeUser
) -> None:
    async with GroupsHarness(api, settings, Clock(BERLIN_0900)) as bot:
        # set at 09:00 for 08:00: today's 08:00 was never missed
        await bot.send(group, admin, "/daily 08:00 Europe/Berlin BTC")

    after_setting = await start_and_catch_up(api, settings, BERLIN_0900, group)
    next_day_early = await start_and_catch_up(api, settings, BERLIN_NEXT_0030, group)
    next_day_late = await start_and_catch_up(api, settings, BERLIN_NEXT_0830, group)

    assert (after_setting, next_day_early, next_day_late) == (0, 0, 1)
    assert summary_days(api, settings, group) == ["2026-05-21"]


async def test_a_day_that_ended_while_down_is_not_caught_up_the_next(
    api: GroupsBotAPI, settings: Settings, group: FakeChat, admin: FakeUser
) -> None:
    async with GroupsHarness(api, settings, Clock(BERLIN_0700)) as bot:
        await bot.send(group, admin, "/daily 08:00 Europe/Berlin BTC")

    same_day_late = await start_and_catch_up(api, settings, BERLIN_2359, group)
    after_midnight = await start_and_catch_up(api, settings, BERLIN_NEXT_0030, group)

    assert (same_day_late, after_midnight) == (1, 0)
    assert summary_days(api, settings, group) == ["2026-05-20"]
