"""End to end over HTTP: a group's summary with chart, its warnings, across restarts.

The real Application long-polls the fake Bot API server on 127.0.0.1; the market is the
PREFLIGHT_SNAPSHOT file, swapped to move ETH from crowded to stressed to calm.
"""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from handlers.alerts import asset_job_name
from settings import Settings
from signals.chart import HEIGHT_PX, WIDTH_PX
from tests.helpers.fake_botapi import FakeChat, StoredMessage
from tests.helpers.groups_api import GroupsBotAPI
from tests.helpers.market import ALL_CLEAR, STRESS, Market, Ticking, alert_heads
from tests.helpers.telegram import PollingBot, bot_settings, run_job

TOPIC = 11


@pytest.fixture
async def api() -> AsyncIterator[GroupsBotAPI]:
    fake = GroupsBotAPI()
    await fake.start()
    yield fake
    await fake.close()
    assert fake.failures == []


@pytest.fixture
def settings(tmp_path: Path, market: Market) -> Settings:
    return bot_settings(tmp_path, snapshot_path=str(market.path))


def running(api: GroupsBotAPI, settings: Settings, clock: Ticking) -> PollingBot:
    bot = PollingBot(api, settings)
    bot.app.bot_data.clock = clock
    return bot


def in_topic(api: GroupsBotAPI, chat: FakeChat) -> list[StoredMessage]:
    return [m for m in api.bot_messages(chat) if m.thread_id == TOPIC]


async def test_group_summary_and_member_warnings_once_each_across_restarts(
    api: GroupsBotAPI, settings: Settings, market: Market
) -> None:
    clock = Ticking(timedelta(seconds=1))
    forum = api.group_chat("Derivatives desk", forum=True)
    ada, max_ = api.user("Ada", "ada"), api.user("Max", "max")
    api.make_admin(forum, ada)

    async with running(api, settings, clock) as first:
        asked = api.user_message(forum, ada, "/daily 08:00 Europe/Berlin", thread_id=TOPIC)
        reply = await api.reply_to(asked)
        assert reply.text.startswith("Daily summary set: every day at 08:00 Europe/Berlin")

        await run_job(first.app, f"daily:{forum.id}")
        summary, chart = in_topic(api, forum)[-2:]
        assert summary.text.startswith(
            "Preflight daily · demo data of Wed 20 May 2026, 02:00 (Europe/Berlin)"
        )
        [photo] = api.photos_in(forum)
        assert (photo.thread_id, photo.caption.split(" · ")[0]) == (TOPIC, "SOL")
        assert photo.image[:8] == b"\x89PNG\r\n\x1a\n"
        assert struct.unpack(">II", photo.image[16:24]) == (WIDTH_PX, HEIGHT_PX)
        assert chart.data["photo"]

        asked = api.user_message(forum, max_, "/subscribe ETH", thread_id=TOPIC)
        reply = await api.reply_to(asked)
        assert reply.text.startswith("Only this group's admins can change its stress warnings")
        asked = api.user_message(forum, ada, "/subscribe ETH", thread_id=TOPIC)
        reply = await api.reply_to(asked)
        assert reply.text.startswith("🔔 Subscribed: ETH long + short")

        market.set("stressed")
        await run_job(first.app, asset_job_name("ETH"))
        assert alert_heads(in_topic(api, forum)) == [STRESS]

    async with running(api, settings, clock) as second:
        await run_job(second.app, asset_job_name("ETH"))  # still stressed: no repeat
        market.set("calm")
        await run_job(second.app, asset_job_name("ETH"))  # one calm poll is not enough
        assert alert_heads(in_topic(api, forum)) == [STRESS]

    async with running(api, settings, clock) as third:
        await run_job(third.app, asset_job_name("ETH"))  # the second calm poll, after a restart
        await run_job(third.app, asset_job_name("ETH"))
        await run_job(third.app, f"daily:{forum.id}")  # restored at start-up; today's is posted

    assert alert_heads(in_topic(api, forum)) == [STRESS, ALL_CLEAR]
    assert len([m for m in in_topic(api, forum) if m.text.startswith("Preflight daily")]) == 1
    assert len(api.photos_in(forum)) == 1
    assert api.too_many_requests == 0
