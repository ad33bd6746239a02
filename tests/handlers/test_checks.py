"""/check, /market and free-text checks through process_update, answered by the fake Bot API."""

from __future__ import annotations

from dataclasses import replace

from settings import Settings
from tests.helpers.fake_botapi import FakeBotAPI, FakeChat, FakeUser
from tests.helpers.telegram import BotHarness

USAGE = "Example: /check ETH long 5x @ 3000 stop 2800 for 3d"


async def test_check_edits_progress_into_result(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    asked = await bot.send(dm, alice, "/check ETH long 5x")

    [reply] = api.bot_messages(dm)
    [progress] = api.calls_of("sendMessage")
    assert progress.params["text"] == "Checking <b>ETH</b> long 5x…"
    assert reply.edits == 1
    assert reply.text.startswith("REDUCE · ETH long 5x — 2 of 4 flags in caution\n")
    assert reply.button_texts == [
        "📋 Details",
        "🔄 Refresh",
        "🔁 Flip to short",
        "🔔 Warn me about ETH",
    ]
    assert reply.reply_to_id is None  # no quoting in a private chat
    assert asked.message_id < reply.message_id


async def test_free_text_in_private_chat_is_a_check(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    await bot.send(dm, alice, "sol long")

    [reply] = api.bot_messages(dm)
    assert reply.text.startswith("WAIT · SOL long 1x (no leverage given) — ")


async def test_free_text_in_group_is_not_answered(
    bot: BotHarness, api: FakeBotAPI, alice: FakeUser
) -> None:
    group = api.group_chat()

    await bot.send(group, alice, "eth long 5x")

    assert api.bot_messages(group) == []


async def test_group_check_quotes_the_asker_in_their_topic(
    bot: BotHarness, api: FakeBotAPI, alice: FakeUser
) -> None:
    forum = api.group_chat("Desk", forum=True)

    asked = await bot.send(forum, alice, "/check@PreflightTestBot ETH long 5x", thread_id=42)

    [reply] = api.bot_messages(forum)
    assert (reply.reply_to_id, reply.thread_id) == (asked.message_id, 42)
    assert reply.text.startswith("REDUCE · ETH long 5x")


async def test_command_for_another_bot_is_ignored(
    bot: BotHarness, api: FakeBotAPI, alice: FakeUser
) -> None:
    group = api.group_chat()

    await bot.send(group, alice, "/check@SomeOtherBot ETH long 5x")

    assert api.bot_messages(group) == []


async def test_idea_without_side_grades_both_sides_and_offers_no_flip(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    await bot.send(dm, alice, "/check btc")

    [progress] = api.calls_of("sendMessage")
    [reply] = api.bot_messages(dm)
    assert progress.params["text"] == "Checking <b>BTC</b> long and short…"
    assert [
        line.split(" · ")[1].split(" — ")[0]
        for line in reply.text.splitlines()
        if " · BTC " in line
    ] == ["BTC long 1x (no leverage given)", "BTC short 1x (no leverage given)"]
    assert reply.button_texts == ["📋 Details", "🔄 Refresh", "🔔 Warn me about BTC"]


async def test_parse_error_gets_its_reason_and_an_example_without_progress(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    await bot.send(dm, alice, "/check eth long 500x")

    [reply] = api.bot_messages(dm)
    assert reply.text == f"leverage 500x is above the 125x maximum.\n{USAGE}"
    assert reply.edits == 0


async def test_empty_check_asks_for_an_asset(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    await bot.send(dm, alice, "/check")

    [reply] = api.bot_messages(dm)
    assert reply.text == f"empty idea: name an asset, like ETH long 5x.\n{USAGE}"


async def test_unknown_asset_suggests_close_matches(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    await bot.send(dm, alice, "/check ETHH long 5x")

    [reply] = api.bot_messages(dm)
    assert reply.text == (
        "ETHH is not in the demo snapshot (synthetic data), demo_snapshot.json of"
        " 2026-05-20 00:00 UTC. Did you mean ETH?\n"
        "Example: /check ETH long 5x"
    )
    assert reply.buttons == []


async def test_market_dashboard(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    await bot.send(dm, alice, "/market eth")

    [progress] = api.calls_of("sendMessage")
    [reply] = api.bot_messages(dm)
    assert progress.params["text"] == "Loading the <b>ETH</b> market…"
    assert reply.text.splitlines()[:9] == [
        "ETH $3,210.00 · 24h −1.40% · 7d −2.50%",
        "",
        "Open interest: $9.20B, +5.50% in 24h, 30-day percentile 100%",
        "Funding: +0.0480% per 8h ≈ +52.6% APR (OI-weighted, 3 venues)",
        "Liquidations 24h: longs $15.31M · shorts $12.66M",
        "Skew: 30d 25Δ risk reversal −1.2 vol points, 7d change −0.8",
        "",
        "Flags (graded at 1x)",
        "• Long: 2 of 4 in caution (OI, funding) → REDUCE",
    ]
    assert reply.button_texts == ["🔄 Refresh", "🔔 Warn me about ETH"]


async def test_market_names_unknown_flags_and_the_worst_case(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    await bot.send(dm, alice, "/market doge")

    [reply] = api.bot_messages(dm)
    assert "• Long: 1 of 4 in caution (funding), skew unknown → PROCEED (worst case REDUCE)" in (
        reply.text.splitlines()
    )


async def test_market_without_an_asset_shows_usage(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    await bot.send(dm, alice, "/market")

    [reply] = api.bot_messages(dm)
    assert reply.text == "Name an asset.\nExample: /market ETH"


async def test_rate_limit_answers_politely_and_skips_the_check(
    api: FakeBotAPI, settings: Settings, dm: FakeChat, alice: FakeUser
) -> None:
    async with BotHarness(api, replace(settings, check_rate_per_minute=2)) as bot:
        for _ in range(3):
            await bot.send(dm, alice, "eth long 5x")
        other = api.user("Bob")
        await bot.send(api.private_chat(other), other, "eth long 5x")

    texts = [m.text.split("\n")[0] for m in api.bot_messages(dm)]
    assert [t.split(" — ")[0] for t in texts[:2]] == ["REDUCE · ETH long 5x"] * 2
    assert texts[2].startswith("Slow down: that's 2 checks a minute, the most I take from one")
    assert len(texts) == 3
    assert api.bot_messages(api.chats[other.id])[0].text.startswith("REDUCE")


async def test_html_in_user_input_is_shown_literally(bot: BotHarness, api: FakeBotAPI) -> None:
    eve = api.user("<b>Eve</b> & <script>co</script>")
    chat = api.private_chat(eve)

    await bot.send(chat, eve, "/start")
    await bot.send(chat, eve, "/check eth long 5x <i>now</i> &amp; <script>x</script>")

    greeting, problem = api.bot_messages(chat)
    assert greeting.text.splitlines()[0] == "Hi <b>Eve</b> & <script>co</script>!"
    assert problem.text == f"'x' needs a number, like 5x.\n{USAGE}"


async def test_the_longest_reply_stays_within_telegrams_limit(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    # both sides, a stop, an entry, a horizon and an unknown flag: every optional line shows
    await bot.send(dm, alice, "/check doge 3x @ 0.21 stop 0.19 for 2w")

    [reply] = api.bot_messages(dm)
    assert reply.edits == 1
    assert reply.text.count("· DOGE ") == 2
    assert 1000 < len(reply.text) < 4096
