"""/track in the bot, and the track record's jobs: the real Application against the strict fake
Bot API (valid Telegram HTML, 4096 units, uploads), grading from the long demo history (the bot
runs on the demo snapshot) — and, at the end, live against the long-history fake venues."""

from __future__ import annotations

import asyncio
import json
import struct
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from handlers.track import CATCH_UP_JOB, DAILY_JOB, HOURLY_JOB
from settings import Settings
from signals.backtest import BacktestRequest, run_backtest
from signals.backtest_chart import HEIGHT_PX, WIDTH_PX
from signals.history import demo_history
from signals.idea import parse_idea
from signals.market import DAY_MS, HOUR_MS
from signals.service import CheckService
from signals.store import Store
from signals.thresholds import Thresholds
from signals.venue_history import RequestPacer
from templates import utf16_len
from tests.helpers.fake_botapi import FakeChat, FakeUser
from tests.helpers.groups_api import GroupsBotAPI, GroupsHarness, bot_messages_text, last_text
from tests.helpers.telegram import bot_settings
from tests.helpers.venues.history import HistoryServer, long_asset
from tests.helpers.venues.scenario import default_scenario

TH = Thresholds()


@pytest.fixture
def api() -> GroupsBotAPI:
    return GroupsBotAPI()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return bot_settings(tmp_path, broadcast_per_group_minute=600.0)


@pytest.fixture
async def bot(api: GroupsBotAPI, settings: Settings) -> AsyncIterator[GroupsHarness]:
    async with GroupsHarness(api, settings) as harness:
        yield harness
    assert api.failures == []


@pytest.fixture
def trader(api: GroupsBotAPI) -> FakeUser:
    return api.user("Max", username="max")


@pytest.fixture
def dm(api: GroupsBotAPI, trader: FakeUser) -> FakeChat:
    return api.private_chat(trader)


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def rate(liquidated: int, n: int) -> str:
    """A share as the line words it: whole percent, one decimal under 1%."""
    share = liquidated / n
    return f"{share * 100:.1f}%" if 0 < share < 0.01 else f"{share * 100:.0f}%"


async def demo_report(request: BacktestRequest):  # type: ignore[no-untyped-def]
    history = await demo_history().history(request.asset, 500)
    return run_backtest(history, request, TH)


async def test_track_replies_with_the_table_and_the_chart(
    bot: GroupsHarness, api: GroupsBotAPI, dm: FakeChat, trader: FakeUser
) -> None:
    await bot.send(dm, trader, "/track ETH long 5x")

    expected = await demo_report(BacktestRequest("ETH", sides=("long",)))
    [table] = bot_messages_text(api, dm)  # the progress message, edited into the result
    lines = table.splitlines()
    assert lines[0] == "Track record · ETH · 5x · 7-day windows · synthetic demo data"
    assert lines[1].startswith(f"{expected.days_evaluated} days graded at 00:00 UTC")
    proceed = expected.sides["long"].by_verdict["proceed"]
    assert f"\nproceed {proceed.n:4d} " in table
    assert "Past frequencies on ETH's own history, not a forecast." in table
    assert utf16_len(table) <= 4096
    [photo] = api.photos_in(dm)
    assert png_size(photo.image) == (WIDTH_PX, HEIGHT_PX)
    assert photo.caption.startswith("ETH · max adverse move over 7 days after each verdict")
    assert (dm.id, "upload_photo") in api.chat_actions


async def test_track_without_a_side_shows_both_within_one_message(
    bot: GroupsHarness, api: GroupsBotAPI, dm: FakeChat, trader: FakeUser
) -> None:
    await bot.send(dm, trader, "/track eth")

    text = last_text(api, dm)
    assert "\nLONG\n" in text and "\nSHORT\n" in text
    assert text.count("Known on: ") == 2
    assert utf16_len(text) <= 4096


@pytest.mark.parametrize(
    ("words", "reply"),
    [
        ("/track", "Name an asset.\nExample: /track ETH long 5x"),
        (
            "/track ETH long 5x stop 2800",
            "/track grades the rule's past days, so a stop has no place here: give an asset, "
            "and a side and leverage if you like.\nExample: /track ETH long 5x",
        ),
        (
            "/track ETH for 12h",
            "the track record's windows are whole days, 1 to 365.\nExample: /track ETH long 5x",
        ),
    ],
)
async def test_bad_track_words_get_one_line_and_an_example(
    bot: GroupsHarness, api: GroupsBotAPI, dm: FakeChat, trader: FakeUser, words: str, reply: str
) -> None:
    await bot.send(dm, trader, words)
    assert last_text(api, dm) == reply
    assert api.photos_in(dm) == []


async def test_an_asset_the_history_does_not_hold_is_named(
    bot: GroupsHarness, api: GroupsBotAPI, dm: FakeChat, trader: FakeUser
) -> None:
    await bot.send(dm, trader, "/track DOGE")
    assert last_text(api, dm).startswith(
        "DOGE is not in the demo snapshot (synthetic data), history_demo.json.gz"
    )
    assert api.photos_in(dm) == []


async def test_an_asset_error_shows_the_track_example(
    bot: GroupsHarness, api: GroupsBotAPI, dm: FakeChat, trader: FakeUser
) -> None:
    await bot.send(dm, trader, "/track ETJ")
    lines = last_text(api, dm).splitlines()
    assert lines[0].startswith("ETJ is not in the demo snapshot (synthetic data)")
    assert lines[0].endswith("Did you mean ETH?")
    assert lines[-1] == "Example: /track ETH long 5x"


async def test_leverage_beyond_the_limit_is_refused_with_the_track_example(
    bot: GroupsHarness, api: GroupsBotAPI, dm: FakeChat, trader: FakeUser
) -> None:
    await bot.send(dm, trader, "/track ETH 126x")
    reply = last_text(api, dm)
    assert "126" in reply.splitlines()[0]
    assert reply.splitlines()[-1] == "Example: /track ETH long 5x"
    assert api.photos_in(dm) == []


async def test_in_a_group_the_table_comes_without_a_progress_message(
    bot: GroupsHarness, api: GroupsBotAPI, trader: FakeUser
) -> None:
    group = api.group_chat("Desk")
    await bot.send(group, trader, "/track ETH short 3x")

    [table] = bot_messages_text(api, group)
    assert table.startswith("Track record · ETH · 3x")
    assert "\nSHORT\n" in table and "\nLONG\n" not in table
    assert len(api.photos_in(group)) == 1
    assert not [c for c in api.calls if c.method == "editMessageText"]


async def test_track_counts_against_the_check_limit(
    api: GroupsBotAPI, tmp_path: Path, trader: FakeUser, dm: FakeChat
) -> None:
    async with GroupsHarness(api, bot_settings(tmp_path, check_rate_per_minute=1)) as bot:
        await bot.send(dm, trader, "/track ETH long")
        await bot.send(dm, trader, "/track ETH short")
    assert last_text(api, dm).startswith("Slow down: that's 1 check a minute")
    assert len(api.photos_in(dm)) == 1


# ---- the daily records and the line under a check --------------------------------------------


async def test_the_daily_job_stores_records_and_checks_carry_the_line(
    api: GroupsBotAPI, tmp_path: Path, trader: FakeUser, dm: FakeChat
) -> None:
    settings = bot_settings(tmp_path, broadcast_per_group_minute=600.0)
    async with GroupsHarness(api, settings) as bot:
        assert bot.app.job_queue is not None
        assert len(bot.app.job_queue.get_jobs_by_name(DAILY_JOB)) == 1
        # on a snapshot there is nothing live to sample every hour
        assert bot.app.job_queue.get_jobs_by_name(HOURLY_JOB) == ()
        await bot.send(dm, trader, "/check ETH long 5x")
        assert "📊" not in last_text(api, dm)  # no record yet

        await bot.run_job(CATCH_UP_JOB)  # BTC and SOL are not in the demo: skipped, logged
        await bot.send(dm, trader, "/check ETH long 5x")

    line = last_text(api, dm).splitlines()[1]
    # the numbers are the report's: the days of this check's flags verdict, and the others
    graded = await CheckService(settings).check(parse_idea("ETH long 5x"))
    verdict = graded.grades[0].flags_verdict
    side = (await demo_report(BacktestRequest("ETH"))).sides["long"]
    group = side.by_verdict[verdict]
    other = side.by_verdict["proceed"] if verdict != "proceed" else side.reduce_or_wait
    other_name = "PROCEED" if verdict != "proceed" else "REDUCE OR WAIT"
    assert line == (
        "📊 On ETH's last 365 days (synthetic demo data), a liquidating move followed "
        f"{rate(group.liquidated, group.n)} of {verdict.upper()} days vs "
        f"{rate(other.liquidated, other.n)} of {other_name} days at 5x "
        f"(n = {group.n} / {other.n}; overlapping 7-day windows)"
    )
    # stored: a restart on the same store shows the line without computing anything
    store = Store(settings.store_path)
    assert [(r.asset, r.side) for r in store.track_records()] == [
        ("ETH", "long"),
        ("ETH", "short"),
    ]
    store.close()
    async with GroupsHarness(api, settings) as again:
        await again.send(dm, trader, "/check ETH long 5x")
    assert last_text(api, dm).splitlines()[1] == line


async def test_a_check_at_another_leverage_gets_that_leverages_rates(
    api: GroupsBotAPI, tmp_path: Path, trader: FakeUser, dm: FakeChat
) -> None:
    async with GroupsHarness(api, bot_settings(tmp_path)) as bot:
        await bot.run_job(CATCH_UP_JOB)
        await bot.send(dm, trader, "/check ETH long 20x")
    line = last_text(api, dm).splitlines()[1]
    assert " at 20x (n = " in line


# ---- live: the long-history fake venues --------------------------------------------------------


async def test_live_track_and_the_hourly_samples(
    api: GroupsBotAPI, tmp_path: Path, trader: FakeUser, dm: FakeChat
) -> None:
    now = int(time.time() * 1000)
    server = HistoryServer(default_scenario(now), {"ETH": long_asset(now)})
    await server.start()
    settings = replace(
        bot_settings(tmp_path),
        snapshot_path=None,
        venue_base_url=server.base_url,
        summary_assets=("ETH",),
    )
    try:
        async with GroupsHarness(api, settings) as bot:
            track = bot.app.bot_data.track
            assert track.live is not None
            track.live.pacer = RequestPacer(scale=0.0)
            assert bot.app.job_queue is not None
            assert len(bot.app.job_queue.get_jobs_by_name(HOURLY_JOB)) == 1

            await bot.send(dm, trader, "/track ETH long 5x")
            table = last_text(api, dm)
            assert table.startswith("Track record · ETH · 5x · 7-day windows")
            assert "OI from bybit (binanceusdm left out: history starts " in table
            assert len(api.photos_in(dm)) == 1
            asked = len(server.requests)

            await bot.run_job(HOURLY_JOB)
            store = bot.app.bot_data.store
            hour = now - now % HOUR_MS
            # (the clock may have passed an hour since the test began: read a little beyond)
            held = await store.run(
                store.read_history_points, "ETH", "bybit", "oi_1h", 0, hour + 2 * HOUR_MS
            )
            assert len(held) == 72
            later = now + DAY_MS  # the sample was taken after the test began
            skew = await store.run(
                store.read_history_points, "ETH", "*", "skew_rr25_30d", 0, later
            )
            assert len(skew) == 1  # the check's own fresh sample, kept for good
            bars = await store.run(store.read_history_bars, "ETH", "binanceusdm", "1h", 0, later)
            # the check's 200 hourly candles less the one still forming, to the last hour
            assert len(bars) == 199 and bars[-1][0] in (hour - HOUR_MS, hour)
            assert len(server.requests) > asked

            await bot.run_job(CATCH_UP_JOB)  # served from the store: today's pages are there
            await bot.send(dm, trader, "/check ETH long 5x")
            reply = last_text(api, dm)
        assert reply.splitlines()[1].startswith("📊 On ETH's last 365 days, a liquidating move")
        assert bot.app.bot_data.running is None  # shut down, exchanges closed
    finally:
        await server.close()


async def test_a_snapshot_with_too_little_history_says_what_it_has(
    api: GroupsBotAPI, tmp_path: Path, trader: FakeUser, dm: FakeChat
) -> None:
    # a bot running on an ordinary snapshot (not the demo): its file is the history
    from signals.snapshot import DEMO_PATH

    doc = json.loads(DEMO_PATH.read_text(encoding="utf-8"))
    doc["assets"]["BTC"]["ohlcv_1d"] = doc["assets"]["BTC"]["ohlcv_1d"][-35:]  # 35 days
    path = tmp_path / "short.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    async with GroupsHarness(api, bot_settings(tmp_path, snapshot_path=str(path))) as bot:
        await bot.send(dm, trader, "/track BTC long")
    reply = last_text(api, dm)
    assert reply.startswith("Not enough history for BTC yet: each day graded needs 31 daily ")
    assert api.photos_in(dm) == []


class Edits:
    """A progress message whose edits are recorded (the editor's only use of it)."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def edit_text(self, text: str) -> None:
        self.texts.append(text)


async def test_progress_is_edited_now_and_then_never_after_the_end() -> None:
    from handlers.track import ProgressEditor

    message = Edits()
    editor = ProgressEditor(message, "ETH", every_s=0.0)  # type: ignore[arg-type]
    editor(0, 25, "store")  # nothing fetched yet: the message already says "Loading…"
    editor(5, 25, "bybit")
    await asyncio.sleep(0)
    editor(6, 25, "bybit")  # the first edit may still be in flight: skipped, never queued
    await editor.close()
    editor(25, 25, "done")  # the result replaces the message: no last progress edit
    await editor.close()
    assert message.texts[0] == "Loading <b>ETH</b>'s history… 5/25 requests"
    assert len(message.texts) <= 2 and all("25/25" not in t for t in message.texts)
    slow = ProgressEditor(Edits(), "ETH", every_s=60.0)  # type: ignore[arg-type]
    slow(5, 25, "bybit")
    await slow.close()
    assert slow.message.texts == []  # type: ignore[union-attr]
