"""/settings through the real Application and the fake Bot API: show, set, reset, refuse,
kept across restarts in the SQLite file, and used by the checks that leave values out."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest

from settings import Settings
from signals.timezones import EXAMPLE_FORMS
from tests.helpers.fake_botapi import FakeBotAPI, FakeChat, FakeUser
from tests.helpers.telegram import BotHarness

BUSY = (
    "I couldn't save or read that just now: my storage is busy. Nothing you set up is lost; "
    "please try again in a minute."
)
FOOTER = [
    "",
    "Set: /settings account 10k · risk 1% or risk $200 · leverage 5 · horizon 3d · "
    "tz Europe/Berlin",
    "Clear one: /settings risk off · all: /settings reset",
    "What an idea says always wins. In groups only your leverage and horizon are used.",
]


async def reply_to(
    bot: BotHarness, api: FakeBotAPI, chat: FakeChat, user: FakeUser, text: str
) -> str:
    """Send `text`; the bot's last message in the chat."""
    await bot.send(chat, user, text)
    return api.bot_messages(chat)[-1].text


async def test_settings_start_empty(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    text = await reply_to(bot, api, dm, alice, "/settings")

    assert text.splitlines() == [
        "Your settings (used when an idea leaves them out)",
        "Account: not set",
        "Risk per trade: not set (no position size)",
        "Leverage: not set (1x)",
        "Horizon: not set (7d)",
        "Time zone: not set (UTC)",
        *FOOTER,
    ]


async def test_setting_everything_at_once_is_saved_and_shown(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    command = "/settings account 10k risk 1% leverage 5 horizon 3d tz Europe/Berlin"

    text = await reply_to(bot, api, dm, alice, command)

    assert text.splitlines() == [
        "Saved. Your settings (used when an idea leaves them out)",
        "Account: $10,000",
        "Risk per trade: 1% of the account ($100)",
        "Leverage: 5x",
        "Horizon: 3d",
        "Time zone: Europe/Berlin",
        *FOOTER,
    ]


@pytest.mark.parametrize(
    ("command", "line"),
    [
        ("/settings account 10000", "Account: $10,000"),
        ("/settings account 10k", "Account: $10,000"),
        ("/settings account $10k", "Account: $10,000"),
        ("/settings account $10,000", "Account: $10,000"),
        ("/settings risk 1%", "Risk per trade: 1% of the account"),
        ("/settings risk 0.5 %", "Risk per trade: 0.5% of the account"),
        ("/settings risk $200", "Risk per trade: $200"),
        ("/settings leverage 5", "Leverage: 5x"),
        ("/settings leverage 2.5x", "Leverage: 2.5x"),
        ("/settings horizon 3d", "Horizon: 3d"),
        ("/settings horizon 36h", "Horizon: 1.5d"),
        ("/settings horizon 12h", "Horizon: 12h"),
        ("/settings tz Europe/Berlin", "Time zone: Europe/Berlin"),
        ("/settings tz america/new_york", "Time zone: America/New_York"),
        ("/settings@PreflightTestBot leverage 3", "Leverage: 3x"),
    ],
)
async def test_each_setting_in_its_forms(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser, command: str, line: str
) -> None:
    text = await reply_to(bot, api, dm, alice, command)

    assert text.startswith("Saved. Your settings")
    assert line in text.splitlines()


@pytest.mark.parametrize(
    ("command", "reason", "example"),
    [
        ("/settings acount 10k", "can't read 'acount': did you mean account?", "account 10000"),
        ("/settings account", "'account' needs a value, like account 10000", "account 10000"),
        ("/settings account zero", "can't read 'zero' as an amount of dollars", "account 10000"),
        ("/settings account 0", "account 0 must be above $0", "account 10000"),
        ("/settings risk 2", "'risk 2': write risk 2% or risk $2", "risk 1%"),
        ("/settings risk 0%", "risk 0% must be above 0%", "risk 1%"),
        ("/settings risk 101%", "risk 101% is more than the whole account", "risk 1%"),
        ("/settings leverage 0.5", "leverage 0.5x is below 1x", "leverage 5"),
        ("/settings leverage 126", "leverage 126x is above the 125x maximum", "leverage 5"),
        ("/settings horizon 3", "'3' needs a unit: write horizon 3d or horizon 3h", "horizon 3d"),
        ("/settings horizon 400d", "horizon 400d is over 365 days", "horizon 3d"),
        (
            "/settings tz Mars/Olympus",
            f"unknown timezone 'Mars/Olympus': write {EXAMPLE_FORMS}",
            "tz Europe/Berlin",
        ),
        ("/settings reset all", "'reset' takes nothing after it", "reset"),
        (
            "/settings <b>5</b>",
            "can't read '<b>5</b>': the settings are account, risk, leverage, horizon, tz or "
            "reset",
            "account 10000",
        ),
        ("/settings 5x", "'5x' needs the setting's name: leverage 5x", "leverage 5"),
    ],
)
async def test_a_bad_value_gets_one_line_and_a_settings_example(
    bot: BotHarness,
    api: FakeBotAPI,
    dm: FakeChat,
    alice: FakeUser,
    command: str,
    reason: str,
    example: str,
) -> None:
    await bot.send(dm, alice, "/settings leverage 3")

    text = await reply_to(bot, api, dm, alice, command)

    shown = reason if reason.endswith("?") else reason + "."
    assert text.splitlines() == [shown, f"Example: /settings {example}"]
    assert "/check" not in text
    assert "Leverage: 3x" in await reply_to(bot, api, dm, alice, "/settings")  # nothing lost


async def test_a_dollar_risk_above_the_account_is_refused(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    await bot.send(dm, alice, "/settings account 1000")

    text = await reply_to(bot, api, dm, alice, "/settings risk $2000")

    assert text.splitlines() == [
        "a risk of $2000 is more than your account of $1000.",
        "Example: /settings risk 1%",
    ]


async def test_one_setting_cleared_the_rest_kept_then_all_reset(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    await bot.send(dm, alice, "/settings account 10k risk 1% leverage 5")

    cleared = await reply_to(bot, api, dm, alice, "/settings risk off")
    reset = await reply_to(bot, api, dm, alice, "/settings reset")
    again = await reply_to(bot, api, dm, alice, "/settings reset")
    shown = await reply_to(bot, api, dm, alice, "/settings")

    assert "Risk per trade: not set (no position size)" in cleared.splitlines()
    assert "Account: $10,000" in cleared.splitlines()
    assert reset.startswith("Settings cleared. Ideas are graded as typed again")
    assert again == "You had no settings to clear."
    assert "Leverage: not set (1x)" in shown.splitlines()


async def test_a_risk_in_percent_without_an_account_says_what_to_add(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    saved = await reply_to(bot, api, dm, alice, "/settings risk 1%")
    check = await reply_to(bot, api, dm, alice, "/check eth long 5x")
    typed = await reply_to(bot, api, dm, alice, "/check eth long 5x acct 20k")

    assert (
        "⚠️ A risk in % needs an account to size a position: /settings account 10000 "
        "(or acct 10k in the idea)"
    ) in saved.splitlines()
    assert check.startswith("REDUCE · ETH long 5x")  # still graded
    assert (
        "Size: your /settings risk in % needs an account — add acct 10k, or /settings account "
        "10000"
    ) in check.splitlines()
    assert "(1% of $20,000, from your /settings)" in typed


async def test_in_a_group_settings_point_to_the_private_chat(
    bot: BotHarness, api: FakeBotAPI, alice: FakeUser
) -> None:
    group = api.group_chat()

    await bot.send(group, alice, "/settings account 10k")

    [reply] = api.bot_messages(group)
    assert reply.text == (
        "Your /settings are personal, so they live in our private chat: open "
        "@PreflightTestBot and send /settings there. In this group I use only your leverage "
        "and horizon, never your account or risk."
    )
    assert {"type": "text_link", "url": "https://t.me/PreflightTestBot"} in [
        {k: v for k, v in e.items() if k in ("type", "url")} for e in reply.data["entities"]
    ]
    assert bot.app.bot_data.users.user_defaults(alice.id).is_empty  # nothing was saved


async def test_an_idea_that_leaves_values_out_uses_the_settings_and_says_so(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    await bot.send(dm, alice, "/settings account 10k risk 1% leverage 5 horizon 3d")

    lines = (await reply_to(bot, api, dm, alice, "eth long")).splitlines()

    assert lines[0] == "REDUCE · ETH long 5x (from your /settings) — 2 of 4 flags in caution"
    assert (
        lines[6] == "2σ move against you over 3d (from your /settings): 9.01% ≈ 45% of your margin"
    )
    assert lines[7] == "Cut size at: $3,065.44 (1σ against you over 3d)"
    assert lines[9] == (
        "Size $2,221 = 0.6918 ETH · margin $444 · loses $100 at the cut "
        "(1% of $10,000, from your /settings)"
    )


async def test_what_the_idea_says_wins_over_the_settings(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    await bot.send(dm, alice, "/settings account 10k risk 1% leverage 5 horizon 3d")

    text = await reply_to(bot, api, dm, alice, "/check eth long 2x for 7d risk $50 acct 2k")

    assert text.startswith("REDUCE · ETH long 2x — 2 of 4 flags")
    assert "over 7d:" in text
    assert "from your /settings" not in text
    assert "loses $50.00 at the cut (your risk)" in text


async def test_a_dollar_risk_from_the_settings_needs_no_account(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    await bot.send(dm, alice, "/settings risk $200")

    text = await reply_to(bot, api, dm, alice, "/check eth long 5x stop 3100")

    assert "loses $200 at the cut (your risk, from your /settings)" in text


async def test_in_a_group_only_leverage_and_horizon_are_used(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    group = api.group_chat()
    await bot.send(dm, alice, "/settings account 10k risk 1% leverage 5 horizon 3d tz Asia/Tokyo")

    text = await reply_to(bot, api, group, alice, "/check ETH long")

    assert text.startswith("REDUCE · ETH long 5x (from your /settings)")
    assert "over 3d (from your /settings)" in text
    assert "$10,000" not in text and "Size" not in text  # the account stays private
    assert text.endswith("Data: synthetic demo data, as of 2026-05-20 00:00 UTC")


async def test_the_time_zone_shows_data_times_in_local_time(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    await bot.send(dm, alice, "/settings tz Europe/Berlin")

    text = await reply_to(bot, api, dm, alice, "/check eth long 5x")

    assert text.endswith("Data: synthetic demo data, as of 2026-05-20 02:00 CEST")


async def test_settings_are_kept_across_a_restart_in_the_sqlite_file(
    api: FakeBotAPI, settings: Settings, dm: FakeChat, alice: FakeUser
) -> None:
    async with BotHarness(api, settings) as bot:
        await bot.send(
            dm, alice, "/settings account 10k risk 1% leverage 5 horizon 3d tz Asia/Tokyo"
        )
    # the file on disk holds them, as another process would read it
    conn = sqlite3.connect(settings.store_path)
    stored = conn.execute("SELECT user_id, leverage, tz FROM user_settings").fetchall()
    conn.close()

    async with BotHarness(api, settings) as bot:
        shown = await reply_to(bot, api, dm, alice, "/settings")
        check = await reply_to(bot, api, dm, alice, "eth long")

    assert stored == [(alice.id, 5.0, "Asia/Tokyo")]
    assert "Account: $10,000" in shown and "Time zone: Asia/Tokyo" in shown
    assert check.startswith("REDUCE · ETH long 5x (from your /settings)")
    assert "(1% of $10,000, from your /settings)" in check
    assert check.endswith("as of 2026-05-20 09:00 JST")


async def test_a_busy_store_refuses_the_change_and_loses_nothing(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    await bot.send(dm, alice, "/settings leverage 3")
    holder = sqlite3.connect(bot.settings.store_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        busy = await reply_to(bot, api, dm, alice, "/settings leverage 10")
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert busy == BUSY
    assert "Leverage: 3x" in await reply_to(bot, api, dm, alice, "/settings")


async def test_unreadable_settings_grade_as_typed_and_say_so(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    await bot.send(dm, alice, "/settings leverage 10")
    damage = sqlite3.connect(bot.settings.store_path, isolation_level=None)
    damage.execute("ALTER TABLE user_settings RENAME TO user_settings_lost")
    damage.close()

    text = await reply_to(bot, api, dm, alice, "/check eth long")

    assert text.startswith("WAIT · ETH long 1x (no leverage given)") or text.startswith(
        "REDUCE · ETH long 1x (no leverage given)"
    )
    assert "⚠️ Your /settings could not be read just now: graded as typed." in text.splitlines()


async def test_settings_are_in_the_menu_and_in_help(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    help_text = await reply_to(bot, api, dm, alice, "/help")

    menu = {c["command"]: c["description"] for c in api.commands["default"]}
    assert menu["settings"] == "Your defaults: account, risk, leverage, horizon, time zone"
    assert "/settings — your defaults for ideas that leave them out" in help_text


async def test_a_check_reads_the_settings_while_another_process_holds_the_write_lock(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    bob = api.user("Bob")
    bobs = api.private_chat(bob)
    await bot.send(dm, alice, "/settings leverage 3")
    holder = sqlite3.connect(bot.settings.store_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        api.user_message(bobs, bob, "/settings leverage 7")  # queued on the store: waits 1 s
        api.user_message(dm, alice, "/check eth long")
        started = time.monotonic()
        save = asyncio.create_task(bot.process_next())  # takes Bob's update
        check = asyncio.create_task(bot.process_next())  # takes Alice's
        await check
        check_done = time.monotonic() - started
        await save
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert check_done < 0.5  # the read never queued behind Bob's blocked save
    assert api.bot_messages(dm)[-1].text.startswith("REDUCE · ETH long 3x (from your /settings)")
    assert api.bot_messages(bobs)[-1].text == BUSY


async def test_the_check_button_under_an_alert_uses_the_settings_and_expands(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    await bot.send(dm, alice, "/settings leverage 4 horizon 2d")
    alert = api.seed_bot_message(
        dm, "🔴 ETH long: STRESS", [("🔎 Check ETH long", "ac::ETH:long")]
    )

    await bot.press(alert, alice, "🔎 Check ETH long")
    result = api.bot_messages(dm)[-1]
    await bot.press(result, alice, "📋 Details")

    assert result.text.startswith("REDUCE · ETH long 4x (from your /settings)")
    assert "Position: long 4x from $3,210.00 (current price), 2d (from your /settings)" in (
        result.text
    )


async def test_a_first_daily_in_private_takes_the_settings_zone(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    await bot.send(dm, alice, "/settings tz Asia/Tokyo")

    first = await reply_to(bot, api, dm, alice, "/daily 08:00")
    given = await reply_to(bot, api, dm, alice, "/daily 09:00 Europe/Paris")
    kept = await reply_to(bot, api, dm, alice, "/daily 10:00")

    assert first.startswith("Daily summary set: every day at 08:00 Asia/Tokyo")
    assert given.startswith("Daily summary set: every day at 09:00 Europe/Paris")
    assert kept.startswith("Daily summary set: every day at 10:00 Europe/Paris")  # the chat's


async def test_the_market_dashboard_shows_its_data_time_in_the_settings_zone(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    await bot.send(dm, alice, "/settings tz Europe/Berlin")

    text = await reply_to(bot, api, dm, alice, "/market ETH")
    await bot.press(api.bot_messages(dm)[-1], alice, "🔄 Refresh")

    assert "Data: synthetic demo data, as of 2026-05-20 02:00 CEST" in text.splitlines()
    assert "2026-05-20 02:00 CEST" in api.bot_messages(dm)[-1].text
