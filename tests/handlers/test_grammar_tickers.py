"""Tickers that are grammar words (ME, THE, OPEN, A, IN…): every button carries them whole.

Some of these are real perpetuals (ME, OPEN, THE, A, IN, GO, AT, ON, X…). The asset travels
in button data as its own field, so Refresh, Flip, Subscribe and an alert's Check button work
for them exactly as for ETH.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers import alerts
from handlers.buttons import (
    ALERT_CHECK,
    DETAILS,
    FLIP,
    REFRESH,
    SUBSCRIBE,
    button_data,
    check_keyboard,
    idea_of,
    market_keyboard,
    read_button,
)
from settings import Settings
from signals.idea import TradeIdea, parse_idea
from tests.helpers.fake_botapi import FakeChat, FakeUser
from tests.helpers.groups_api import GroupsBotAPI, GroupsHarness
from tests.helpers.market import NOW, Market
from tests.helpers.telegram import bot_settings

# words of the idea grammar (sides, keywords, units, fillers) that are or could be tickers
GRAMMAR_WORDS = [
    "ME",
    "THE",
    "OPEN",
    "A",
    "IN",
    "ON",
    "IT",
    "TO",
    "GO",
    "AT",
    "AN",
    "MY",
    "WE",
    "I",
    "BE",
    "IS",
    "OF",
    "AND",
    "DO",
    "SO",
    "UP",
    "OR",
    "BY",
    "AS",
    "NO",
    "LONG",
    "SHORT",
    "BUY",
    "SELL",
    "X",
    "LEV",
    "FOR",
    "STOP",
    "SL",
    "TP",
    "TARGET",
    "ENTRY",
    "NOW",
    "MARKET",
    "SWAP",
    "PERP",
    "USD",
    "H",
    "D",
    "W",
    "MO",
    "MIN",
    "HOUR",
    "DAY",
    "WEEK",
    "RISK",
    "ACCT",
    "CROSS",
    "ISOLATED",
    "PRICE",
    "LEVEL",
    "LOSS",
    "PROFIT",
    "CHECK",
    "IDEA",
    "TRADE",
    "POSITION",
    "POS",
    "WANT",
    "THINK",
    "ABOUT",
    "HOW",
    "LOOK",
    "JUST",
    "MAYBE",
    "THANKS",
    "HERE",
    "THIS",
    "THAT",
    "CAN",
    "SIDE",
    "FUTURES",
]


@pytest.mark.parametrize("asset", GRAMMAR_WORDS)
def test_every_button_reads_back_the_same_grammar_word_asset(asset: str) -> None:
    idea = TradeIdea(asset, "long", 5.0, True, 1.25, 1.0, 3.0)

    keyboard = check_keyboard(idea, owner=123456789)

    assert keyboard is not None
    buttons = {
        b.callback_data[:2]: b.callback_data for row in keyboard.inline_keyboard for b in row
    }
    for kind in (DETAILS, REFRESH, FLIP):
        read = read_button(buttons[kind])
        assert read is not None and (read.asset, read.owner) == (asset, 123456789)
        assert idea_of(read) == idea
    assert read_button(buttons[SUBSCRIBE]) is not None
    alert = read_button(button_data(ALERT_CHECK, asset, "short"))
    assert alert is not None and (alert.asset, alert.rest) == (asset, "short")
    [refresh, _] = market_keyboard(asset, 7).inline_keyboard[0]  # type: ignore[union-attr]
    assert read_button(refresh.callback_data).asset == asset  # type: ignore[arg-type,union-attr]


def test_older_button_data_still_reads() -> None:
    old = read_button("r:ETH long 5x @ 3000")

    assert old is not None and old.owner is None
    assert idea_of(old) == parse_idea("ETH long 5x @ 3000")
    assert read_button("ac:SOL short") == read_button("ac::SOL:short")
    assert read_button("zz:whatever") is None
    assert read_button("s:not an asset") is None


@pytest.fixture
def api() -> GroupsBotAPI:
    return GroupsBotAPI()


@pytest.fixture
def settings(tmp_path: Path, market: Market) -> Settings:
    market.add_asset("ME")  # Magic Eden's ME trades as a perpetual; here it is ETH's data
    market.set("crowded")
    return bot_settings(tmp_path, snapshot_path=str(market.path))


@pytest.fixture
async def bot(api: GroupsBotAPI, settings: Settings) -> GroupsHarness:
    async with GroupsHarness(api, settings, lambda: NOW) as harness:
        yield harness  # type: ignore[misc]


@pytest.fixture
def alice(api: GroupsBotAPI) -> FakeUser:
    return api.user("Alice")


@pytest.fixture
def dm(api: GroupsBotAPI, alice: FakeUser) -> FakeChat:
    return api.private_chat(alice)


async def test_me_works_through_every_button(
    bot: GroupsHarness, api: GroupsBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    await bot.send(dm, alice, "/check $ME long 5x")
    [result] = api.bot_messages(dm)

    refreshed = await bot.press(result, alice, "🔄 Refresh")
    await bot.press(result, alice, "🔁 Flip to short")
    flipped = result.text.splitlines()[0]
    subscribed = await bot.press(result, alice, "🔔 Warn me about ME")

    assert result.text.startswith("PROCEED · ME short 5x")
    assert flipped == "PROCEED · ME short 5x — 0 of 4 flags in caution"
    assert api.answer_of(refreshed) == {
        "callback_query_id": refreshed,
        "text": "Already up to date: nothing has changed.",
    }
    assert api.answer_of(subscribed)["text"] == "Subscribed to ME stress warnings"  # type: ignore[index]
    assert api.bot_messages(dm)[-1].text.startswith("🔔 Subscribed: ME long + short")


async def test_an_alert_for_me_has_a_check_button_that_works(
    bot: GroupsHarness, api: GroupsBotAPI, dm: FakeChat, alice: FakeUser, market: Market
) -> None:
    await bot.send(dm, alice, "/subscribe ME long")  # a bare known symbol is taken as it is
    market.add_asset("ME", like="SOL")
    market.set("crowded")
    await alerts.poll_all(bot.app)
    alert = api.bot_messages(dm)[-1]

    query_id = await bot.press(alert, alice, "🔎 Check ME long")
    await bot.send(dm, alice, "/unsubscribe ME")

    assert alert.text.startswith("🔴 ME long: STRESS")
    assert api.answer_of(query_id) is not None
    assert api.bot_messages(dm)[-2].text.startswith("WAIT · ME long 1x")
    assert api.bot_messages(dm)[-1].text == "🔕 No more ME warnings."
