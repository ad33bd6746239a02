"""Chaos: an asset's data disappears while 132 subscribers are at stress — no false all-clear.

The real Application on the strict fake Bot API; the market is the PREFLIGHT_SNAPSHOT file
moved between stressed, blind (prices only: every flag's inputs gone, as when the venues are
down) and gone (every series empty: the fetch fails); the clock moves one watcher interval
per poll, so the "data unavailable" notice comes after PREFLIGHT_WARN_GAP_S (30 minutes).
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from handlers import alerts
from settings import Settings
from tests.helpers.fake_botapi import FakeChat
from tests.helpers.groups_api import GroupsBotAPI, GroupsHarness
from tests.helpers.market import STRESS, Market, Ticking, alert_heads
from tests.helpers.telegram import bot_settings

SUBSCRIBERS = 132
GAP = "⚠️ ETH long: data unavailable since"
BACK = "📡 ETH long: data is back — still 🔴 stress with 3 of 4 flags"
ALL_CLEAR = "✅ ETH long: all clear — stress is over, now 🟢 calm with 0 of 4 flags"


@pytest.fixture
def api() -> GroupsBotAPI:
    return GroupsBotAPI()


@pytest.fixture
def settings(tmp_path: Path, market: Market) -> Settings:
    return bot_settings(tmp_path, snapshot_path=str(market.path))


async def subscribed(
    bot: GroupsHarness, api: GroupsBotAPI, market: Market, n: int
) -> list[FakeChat]:
    """`n` traders subscribed to ETH long, all told it is under stress.

    The first subscribes with /subscribe; the others are written as that reply left the
    first (elevated, OI + funding), which is quicker than 131 more commands.
    """
    chats = []
    for i in range(n):
        user = api.user(f"T{i}")
        chat = api.private_chat(user)
        chats.append(chat)
        if i == 0:
            await bot.send(chat, user, "/subscribe ETH long")
            [first] = bot.app.bot_data.users.subscriptions(chat.id)
        else:
            levels = {"long": (first.notified_level, first.notified_flags)}
            bot.app.bot_data.users.subscribe(chat.id, "ETH", levels, None)
    market.set("stressed")
    await alerts.poll_all(bot.app)
    return chats


def heads(api: GroupsBotAPI, chats: list[FakeChat]) -> list[list[str]]:
    return [alert_heads(api.bot_messages(c)) for c in chats]


@pytest.mark.parametrize("outage", ["blind", "gone"])
async def test_data_that_disappears_never_reads_as_an_all_clear(
    api: GroupsBotAPI, settings: Settings, market: Market, outage: str
) -> None:
    clock = Ticking(timedelta(minutes=5))  # one watcher interval per poll
    async with GroupsHarness(api, settings, clock) as bot:
        chats = await subscribed(bot, api, market, SUBSCRIBERS)
        assert heads(api, chats) == [[STRESS]] * SUBSCRIBERS

        market.set(outage)
        for _ in range(12):  # an hour without data
            await alerts.poll_all(bot.app)
        during = heads(api, chats)
        market.set("stressed")
        await alerts.poll_all(bot.app)
        back = heads(api, chats)
        market.set("calm")
        for _ in range(2):
            await alerts.poll_all(bot.app)

    assert all(h[0] == STRESS and h[1].startswith(GAP) and len(h) == 2 for h in during)
    assert back == [[STRESS, during[0][1], BACK]] * SUBSCRIBERS
    final = heads(api, chats)
    assert final == [[STRESS, during[0][1], BACK, ALL_CLEAR]] * SUBSCRIBERS
    false_all_clears = sum(h.count(ALL_CLEAR) for h in during + back)
    assert false_all_clears == 0
    assert api.failures == []


async def test_the_gap_notice_says_since_when_and_what_is_held(
    api: GroupsBotAPI, settings: Settings, market: Market
) -> None:
    clock = Ticking(timedelta(minutes=5))
    async with GroupsHarness(api, settings, clock) as bot:
        [chat] = await subscribed(bot, api, market, 1)
        market.set("gone")
        for _ in range(8):
            await alerts.poll_all(bot.app)

    notice = api.bot_messages(chat)[-1].text.splitlines()
    assert re.fullmatch(
        r"⚠️ ETH long: data unavailable since 2026-05-20 \d\d:\d\d UTC \(No market data for "
        r"ETH in this snapshot, snapshot\.json \(every series is empty\): nothing to grade\.\)",
        notice[0],
    )
    assert notice[1] == (
        "• I hold the last known state, 🔴 stress (open interest, liquidations, skew in "
        "caution), and send no all-clear without data"
    )
    assert notice[-1] == "/unsubscribe ETH to stop"


async def test_an_all_clear_quotes_the_numbers_that_cleared(
    api: GroupsBotAPI, settings: Settings, market: Market
) -> None:
    clock = Ticking(timedelta(minutes=5))
    async with GroupsHarness(api, settings, clock) as bot:
        [chat] = await subscribed(bot, api, market, 1)
        market.set("calm")
        for _ in range(2):
            await alerts.poll_all(bot.app)

    lines = api.bot_messages(chat)[-1].text.splitlines()
    assert lines[0] == ALL_CLEAR
    cleared = [line for line in lines if line.startswith("• Cleared")]
    assert [c.split(":")[0] for c in cleared] == [
        "• Cleared open interest",
        "• Cleared liquidations",
        "• Cleared skew",
    ]
    assert cleared[0] == (
        "• Cleared open interest: OI +0.60% in 24h, price +0.40% "
        "(caution at OI ≥ +3% with price ≤ 0)"
    )
    assert all(any(ch.isdigit() for ch in c) for c in cleared)


async def test_a_flag_that_turns_unknown_holds_its_caution_for_the_level(
    api: GroupsBotAPI, settings: Settings, market: Market
) -> None:
    clock = Ticking(timedelta(minutes=5))
    async with GroupsHarness(api, settings, clock) as bot:
        [chat] = await subscribed(bot, api, market, 1)
        market.set("blind")
        await alerts.poll_all(bot.app)
        await alerts.poll_all(bot.app)
        observations = bot.app.bot_data.users.observations("ETH")

    long = observations["long"]
    assert (long.level, long.caution_flags) == (
        "stress",
        ("open_interest", "liquidations", "skew"),
    )
    assert long.blind_since_ms is not None
    assert alert_heads(api.bot_messages(chat)) == [STRESS]
