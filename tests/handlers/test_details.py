"""Details / Less under a result, and Refresh / Flip keeping the whole idea: through the real
Application against the fake Bot API (which parses the HTML, counts UTF-16 units and refuses
callback data over 64 bytes)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from handlers.buttons import MAX_CALLBACK_DATA, read_button
from settings import Settings
from signals.snapshot import DEMO_PATH
from templates import COMPACT_MAX_CHARS, COMPACT_MAX_LINES, SIDE_SEPARATOR
from tests.helpers.fake_botapi import FakeBotAPI, FakeChat, FakeUser, StoredMessage, utf16_len
from tests.helpers.telegram import BotHarness

DETAILS, LESS, REFRESH = "📋 Details", "🔼 Less", "🔄 Refresh"
FULL_IDEA = "eth long 5x cross @ 3000-3050 stop 2900 tp 3400 3600 risk 1% acct 10k for 3d"


def data_of(message: StoredMessage) -> list[str]:
    return [b["callback_data"] for b in message.buttons]


def sides(text: str) -> list[str]:
    return text.split(SIDE_SEPARATOR)


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    """A copy of the demo the test may change under the bot."""
    path = tmp_path / "snapshot.json"
    shutil.copy(DEMO_PATH, path)
    return path


def move_eth(snapshot: Path, close: float) -> None:
    doc = json.loads(snapshot.read_text())
    doc["assets"]["ETH"]["ohlcv_1h"][-1][4] = close
    snapshot.write_text(json.dumps(doc))


async def test_details_expand_in_place_and_less_folds_back(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    await bot.send(dm, alice, "/check ETH long 5x")
    [result] = api.bot_messages(dm)
    compact = result.text

    expanded = await bot.press(result, alice, DETAILS)
    details, details_buttons = result.text, result.button_texts
    folded = await bot.press(result, alice, LESS)

    assert details.startswith("REDUCE · ETH long 5x — 2 of 4 flags in caution\nFlags: 2 of 4")
    assert "Sources: price synthetic" in details and "Rule: flags 3+ → wait" in details
    assert details_buttons == [LESS, REFRESH, "🔁 Flip to short", "🔔 Warn me about ETH"]
    assert result.text == compact  # folded back, word for word
    assert result.button_texts[0] == DETAILS
    assert (result.edits, len(api.bot_messages(dm))) == (3, 1)  # progress, details, less
    assert api.answer_of(expanded) == {"callback_query_id": expanded}
    assert api.answer_of(folded) == {"callback_query_id": folded}


async def test_details_show_the_numbers_on_screen_not_new_ones(
    api: FakeBotAPI, settings: Settings, dm: FakeChat, alice: FakeUser, snapshot: Path
) -> None:
    limited = replace(settings, snapshot_path=str(snapshot), check_rate_per_minute=1)
    async with BotHarness(api, limited) as bot:
        await bot.send(dm, alice, "/check ETH long 5x")
        [result] = api.bot_messages(dm)
        move_eth(snapshot, 3300.0)  # the market moves after the answer

        await bot.press(result, alice, DETAILS)  # free: the check limit is already used up
        details = result.text
        refreshed = await bot.press(result, alice, REFRESH)

    assert "from $3,210.00 (current price)" in details
    assert api.answer_of(refreshed)["text"].startswith("Slow down: that")  # type: ignore[index]


async def test_after_a_restart_details_grade_again(
    api: FakeBotAPI, settings: Settings, dm: FakeChat, alice: FakeUser, snapshot: Path
) -> None:
    moved = replace(settings, snapshot_path=str(snapshot))
    async with BotHarness(api, moved) as bot:
        await bot.send(dm, alice, "/check ETH long 5x")
    [result] = api.bot_messages(dm)
    move_eth(snapshot, 3300.0)

    async with BotHarness(api, moved) as bot:
        pressed = await bot.press(result, alice, DETAILS)

    assert "from $3,300.00 (current price)" in result.text
    assert result.button_texts[0] == LESS
    assert api.answer_of(pressed)["text"] == "Updated with the latest data."  # type: ignore[index]


async def test_refresh_and_flip_keep_the_details_open(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    await bot.send(dm, alice, "/check ETH long 5x")
    [result] = api.bot_messages(dm)
    await bot.press(result, alice, DETAILS)

    await bot.press(result, alice, REFRESH)
    after_refresh = result.text
    await bot.press(result, alice, "🔁 Flip to short")

    assert "Sources:" in after_refresh
    assert result.text.startswith("PROCEED · ETH short 5x")
    assert "Sources:" in result.text and "Position: short 5x" in result.text
    assert result.button_texts == [LESS, REFRESH, "🔁 Flip to long", "🔔 Warn me about ETH"]
    assert all(read_button(d).view == "df" for d in data_of(result)[:3])  # type: ignore[union-attr]


async def test_refresh_keeps_the_whole_idea(
    api: FakeBotAPI, settings: Settings, dm: FakeChat, alice: FakeUser, snapshot: Path
) -> None:
    async with BotHarness(api, replace(settings, snapshot_path=str(snapshot))) as bot:
        await bot.send(dm, alice, FULL_IDEA)
        [result] = api.bot_messages(dm)
        before = result.text
        move_eth(snapshot, 3100.0)

        await bot.press(result, alice, REFRESH)

    after = result.text
    assert after != before
    for kept in (
        "ETH long 5x cross",
        "(midpoint of $3,000.00–$3,050.00)",
        "Cut at: your stop $2,900.00",
        "target $3,400.00: reward/risk 3.0 (+1 more)",
        "loses $100 at the cut (1% of $10,000)",
        "over 3d",
    ):
        assert kept in before and kept in after, kept


async def test_flip_drops_the_stop_and_targets_and_flipping_back_restores_them(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    await bot.send(dm, alice, FULL_IDEA)
    [result] = api.bot_messages(dm)
    long_text = result.text

    await bot.press(result, alice, "🔁 Flip to short")
    short_text = result.text
    await bot.press(result, alice, "🔁 Flip to long")

    assert short_text.startswith("PROCEED · ETH short 5x cross")
    # graded without them, and said so
    assert "Stop and targets fit a long, not this short: graded without them" in short_text
    assert "Stop $" not in short_text and "target $" not in short_text
    assert "(midpoint of $3,000.00–$3,050.00)" in short_text  # the entry stays
    assert "1% of $10,000" in short_text  # so does the sizing
    assert result.text == long_text


async def test_in_a_group_only_the_asker_expands_or_folds(
    bot: BotHarness, api: FakeBotAPI, alice: FakeUser
) -> None:
    group = api.group_chat()
    bob = api.user("Bob")
    await bot.send(group, alice, "/check SOL long 3x")
    [result] = api.bot_messages(group)
    compact = result.text

    bobs = await bot.press(result, bob, DETAILS)
    unchanged = result.text
    await bot.press(result, alice, DETAILS)
    bobs_less = await bot.press(result, bob, LESS)

    popup = "Only the person who asked can expand or fold this. For your own: /check SOL long 3x"
    assert api.answer_of(bobs) == {"callback_query_id": bobs, "text": popup}
    assert api.answer_of(bobs_less) == {"callback_query_id": bobs_less, "text": popup}
    assert unchanged == compact
    assert result.text.startswith("WAIT · SOL long 3x") and "Sources:" in result.text
    assert result.edits == 1  # Alice's press only (a group gets no progress message)


async def test_an_old_style_button_still_works(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    old = api.seed_bot_message(dm, "an old result", [("Refresh", "r:ETH long 5x")])

    await bot.press(old, alice, "Refresh")

    assert old.text.startswith("REDUCE · ETH long 5x")
    assert old.button_texts[:2] == [DETAILS, REFRESH]


LONG_IDEA = (
    "1000PEPE long 12.5x isolated @ 0.0123456-0.0124567 stop 0.0119876 "
    "tp 0.0131 0.0137 0.0142 0.0150 risk 0.75% acct 12345.67 for 36h"
)


async def test_an_idea_too_long_for_a_button_travels_by_reference(
    api: FakeBotAPI, settings: Settings, dm: FakeChat, alice: FakeUser, tmp_path: Path
) -> None:
    doc = json.loads(DEMO_PATH.read_text())
    doc["assets"]["1000PEPE"] = pepe = json.loads(json.dumps(doc["assets"]["DOGE"]))
    scale = 0.0123 / pepe["ohlcv_1h"][-1][4]
    for series in ("ohlcv_1h", "ohlcv_1d"):
        pepe[series] = [[r[0], *(v * scale for v in r[1:5]), r[5]] for r in pepe[series]]
    path = tmp_path / "pepe.json"
    path.write_text(json.dumps(doc))
    pepe_settings = replace(settings, snapshot_path=str(path))

    async with BotHarness(api, pepe_settings) as bot:
        await bot.send(dm, alice, LONG_IDEA)
        [result] = api.bot_messages(dm)
        first = result.text
        await bot.press(result, alice, DETAILS)
    async with BotHarness(api, pepe_settings) as bot:  # a restart: the reference is kept
        await bot.press(result, alice, LESS)
        await bot.press(result, alice, "🔁 Flip to short")

    refs = [read_button(d) for d in data_of(result)[:3]]
    assert all(r is not None and r.ref is not None for r in refs)
    assert all(len(d.encode()) <= MAX_CALLBACK_DATA for d in data_of(result))
    assert first.startswith("REDUCE · 1000PEPE long 12.5x isolated — the position fails")
    assert "target $0.013100: reward/risk" in first and "(+3 more)" in first
    assert " · 1000PEPE short 12.5x isolated — " in result.text.splitlines()[0]
    assert "0.75% of $12,346" in result.text  # risk and account survived two presses


async def test_a_reference_no_longer_kept_is_explained(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    gone = api.seed_bot_message(dm, "a result", [("Details", "d:rt:ETH:~abcdefghij")])

    pressed = await bot.press(gone, alice, "Details")

    assert api.answer_of(pressed) == {
        "callback_query_id": pressed,
        "text": "This button is from an older version of Preflight. Send the check again.",
    }
    assert gone.edits == 0


def worst_case_snapshot(path: Path) -> Path:
    """ETH with every optional line at its longest: venues failing with long reasons, stale
    hourly series, no skew (an unknown flag), a throttled liquidation stream."""
    doc = json.loads(DEMO_PATH.read_text())
    eth = doc["assets"]["ETH"]
    eth["sources"]["failed"] = {
        f"venue{n:02d}withalongname": "HTTP 503 <html>Service Unavailable & more</html> " * 4
        for n in range(20)
    }
    eth["skew_rr25_30d"] = []
    doc["asof"] += 5 * 3_600_000  # hourly series are 5 h old: stale
    path.write_text(json.dumps(doc))
    return path


async def test_the_longest_details_fit_telegram_through_the_fake_api(
    api: FakeBotAPI, settings: Settings, dm: FakeChat, alice: FakeUser, tmp_path: Path
) -> None:
    worst = worst_case_snapshot(tmp_path / "worst.json")
    idea = (
        "eth 125x cross @ 3000-3050 stop 3040 tp 3100 3200 3300 3400 3500 3600 3700 3800 3900 "
        "4000 risk 2% acct 1234567 for 90d"
    )
    async with BotHarness(api, replace(settings, snapshot_path=str(worst))) as bot:
        await bot.send(dm, alice, f"/check {idea}")
        [result] = api.bot_messages(dm)
        compact = result.text
        await bot.press(result, alice, DETAILS)

    edits = api.calls_of("editMessageText")
    assert [c.error for c in edits] == [None, None]  # Telegram took both (HTML parsed too)
    assert result.text.count(" · ETH ") >= 2 and "Sources:" in result.text
    assert utf16_len(result.text) <= 4096
    for side in sides(compact):
        assert len(side.splitlines()) <= COMPACT_MAX_LINES, side
        assert len(side) <= COMPACT_MAX_CHARS, side


@pytest.mark.parametrize(
    "idea",
    [
        "ETH long 5x",
        FULL_IDEA,
        "sol short 10x @ 180 stop 195 tp 165 150 for 3d risk $250",
        "btc @ 77000-78000 stop 74000 tp 82000 risk 1% acct 50k",
        "doge long 125x",
    ],
)
async def test_every_compact_side_fits_a_phone_and_every_button_fits_64_bytes(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser, idea: str
) -> None:
    await bot.send(dm, alice, idea)
    [result] = api.bot_messages(dm)

    for side in sides(result.text):
        assert len(side.splitlines()) <= COMPACT_MAX_LINES, side
        assert len(side) <= COMPACT_MAX_CHARS, side
    assert all(1 <= len(d.encode()) <= MAX_CALLBACK_DATA for d in data_of(result))
    await bot.press(result, alice, DETAILS)
    assert "Sources:" in result.text


async def test_a_reference_button_works_while_the_store_is_locked(
    api: FakeBotAPI, settings: Settings, dm: FakeChat, alice: FakeUser
) -> None:
    long_idea = "eth long 5x @ 3000.125-3050.875 stop 2900.5 tp 3400 3600 3800 risk 1% acct 10k"
    async with BotHarness(api, settings) as bot:
        await bot.send(dm, alice, long_idea)
        [result] = api.bot_messages(dm)
        assert read_button(data_of(result)[0]).ref is not None  # type: ignore[union-attr]
        holder = sqlite3.connect(settings.store_path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            await bot.press(result, alice, DETAILS)
            await bot.press(result, alice, LESS)
        finally:
            holder.execute("ROLLBACK")
            holder.close()

    assert result.text.startswith("REDUCE · ETH long 5x")
    assert "(midpoint of $3,000.12–$3,050.88)" in result.text
    assert result.button_texts[0] == DETAILS  # folded back, the buttons still there
    assert all(read_button(d).ref is not None for d in data_of(result)[:3])  # type: ignore[union-attr]
