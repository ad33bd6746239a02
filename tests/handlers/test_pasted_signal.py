"""A channel-style signal pasted into a private chat is graded like any idea (SPEC §8)."""

from __future__ import annotations

from tests.helpers.fake_botapi import FakeBotAPI, FakeChat, FakeUser
from tests.helpers.telegram import BotHarness

SIGNAL = """🚀 #ETH/USDT 🟢 LONG
📊 Leverage: Cross 5x
🎯 Entry: 3000 - 3050
✅ Targets: 3100, 3200
⛔️ Stop Loss: 2900
Exchange: Binance Futures"""


async def test_a_pasted_signal_in_a_private_chat_is_graded(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    await bot.send(dm, alice, SIGNAL)

    [reply] = api.bot_messages(dm)
    lines = reply.text.splitlines()
    assert lines[0] == "REDUCE · ETH long 5x cross — 2 of 4 flags in caution"
    assert "Entry $3,025.00 (midpoint of $3,000.00–$3,050.00)" in reply.text
    assert "Cut at: your stop $2,900.00 (nearer than a 1σ move)" in reply.text
    # (3100 − 3025) ÷ (3025 − 2900)
    assert "target $3,100.00: reward/risk 0.6 (+1 more)" in reply.text
    assert lines[-1] == "Data: synthetic demo data, as of 2026-05-20 00:00 UTC"


async def test_a_misspelt_side_in_a_chat_gets_did_you_mean_with_the_chat_syntax(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    await bot.send(dm, alice, "/check eth lnog 5x")

    [reply] = api.bot_messages(dm)
    assert reply.text == (
        "can't read 'lnog': did you mean long?\n"
        "Example: /check ETH long 5x @ 3000 stop 2800 for 3d"
    )


async def test_a_typo_entry_is_refused_naming_the_price(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    await bot.send(dm, alice, "/check eth long 5x @ 32000")

    [reply] = api.bot_messages(dm)
    assert reply.text.startswith("entry $32,000.00 is 897% above the price $3,210.00")
    assert reply.text.endswith("Example: /check ETH long 5x @ 3210")
