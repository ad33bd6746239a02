"""Every reply, daily summary, alert, chart caption and popup says when its data is from:
live "3 min ago", a replay its file and date, the demo "synthetic demo data"."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from handlers import alerts
from settings import Settings
from signals.grade import CheckResult, grade_check
from signals.idea import TradeIdea
from signals.snapshot import DEMO_PATH, load_snapshot
from signals.thresholds import Thresholds
from templates import render
from tests.helpers.fake_botapi import FakeChat, FakeUser
from tests.helpers.groups_api import GroupsBotAPI, GroupsHarness
from tests.helpers.market import NOW, Market
from tests.helpers.telegram import bot_settings

DEMO_TIME = "synthetic demo data, as of 2026-05-20 00:00 UTC"
MINUTE = 60_000


def replay_of(path: Path) -> Path:
    """The demo as a recorded (not synthetic) snapshot file: it reads as a replay."""
    doc = json.loads(DEMO_PATH.read_text())
    for asset in doc["assets"].values():
        asset.get("sources", {}).pop("synthetic", None)
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def api() -> GroupsBotAPI:
    return GroupsBotAPI()


@pytest.fixture
def alice(api: GroupsBotAPI) -> FakeUser:
    return api.user("Alice")


@pytest.fixture
def dm(api: GroupsBotAPI, alice: FakeUser) -> FakeChat:
    return api.private_chat(alice)


@pytest.fixture
def settings(tmp_path: Path, market: Market) -> Settings:
    return bot_settings(tmp_path, snapshot_path=str(market.path))


@pytest.fixture
async def bot(api: GroupsBotAPI, settings: Settings) -> AsyncIterator[GroupsHarness]:
    async with GroupsHarness(api, settings, lambda: NOW) as harness:
        yield harness
    assert api.failures == []


async def test_check_market_chart_and_popup_say_demo_data(
    bot: GroupsHarness, api: GroupsBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    group = api.group_chat()
    bob = api.user("Bob")
    await bot.send(dm, alice, "/check ETH long 5x")
    check = api.bot_messages(dm)[-1].text
    await bot.send(dm, alice, "/market ETH")
    market = api.bot_messages(dm)[-1].text
    await bot.send(dm, alice, "/chart ETH")
    [photo] = api.photos_in(dm)
    await bot.send(group, alice, "/check ETH long 5x")
    popup = await bot.press(api.bot_messages(group)[-1], bob, "🔄 Refresh")

    assert check.splitlines()[-1] == f"Data: {DEMO_TIME}"
    assert f"Data: {DEMO_TIME}" in market.splitlines()
    assert photo.caption.splitlines()[-1] == f"Data: {DEMO_TIME}"
    assert "Synthetic demo data, as of 2026-05-20 00:00 UTC" in api.answer_of(popup)["text"]  # type: ignore[index]


async def test_an_alert_says_when_its_data_is_from(
    bot: GroupsHarness, api: GroupsBotAPI, dm: FakeChat, alice: FakeUser, market: Market
) -> None:
    await bot.send(dm, alice, "/subscribe ETH")
    market.set("stressed")
    await alerts.poll_all(bot.app)
    await alerts.poll_all(bot.app)

    alert = api.bot_messages(dm)[-1].text

    assert alert.startswith("🔴 ETH long: STRESS")
    subscribed = next(m.text for m in api.bot_messages(dm) if m.text.startswith("🔔 Subscribed"))
    assert f"Data: {DEMO_TIME}" in subscribed.splitlines()
    assert alert.splitlines()[-1] == f"Data: {DEMO_TIME} · /unsubscribe ETH to stop"


async def test_a_replay_names_its_file_and_date_everywhere(
    api: GroupsBotAPI, dm: FakeChat, alice: FakeUser, tmp_path: Path
) -> None:
    path = replay_of(tmp_path / "may.json")
    replay = "replay of may.json, data of 2026-05-20 00:00 UTC"
    async with GroupsHarness(
        api, bot_settings(tmp_path, snapshot_path=str(path)), lambda: NOW
    ) as bot:
        await bot.send(dm, alice, "/check ETH long 5x")
        check = api.bot_messages(dm)[-1].text
        await bot.send(dm, alice, "/chart ETH")
        [photo] = api.photos_in(dm)
        await bot.send(dm, alice, "/daily 08:00 Europe/Berlin ETH")
        await bot.run_job(f"daily:{dm.id}")
        summary = next(
            m.text for m in api.bot_messages(dm) if m.text.startswith("Preflight daily")
        )

    assert check.splitlines()[-1] == f"Data: {replay}"
    assert photo.caption.splitlines()[-1] == f"Data: {replay}"
    # the summary of 20 May 08:00 Berlin over data of 00:00 UTC: the data's time, in Berlin
    assert summary.splitlines()[0] == (
        "Preflight daily · replay, data of Wed 20 May 2026, 02:00 (Europe/Berlin)"
    )
    assert "Data: replay of may.json, data of 2026-05-20 02:00 CEST" in summary.splitlines()


# ---- live data (rendered from a live-origin result: the venues' fakes are elsewhere) ----------


def live_result() -> CheckResult:
    asof, assets = load_snapshot(DEMO_PATH)
    data = dataclasses.replace(assets["ETH"], origin="live", origin_name=None)
    return grade_check(TradeIdea("ETH", None), data, asof, Thresholds())


def test_live_alert_daily_and_caption_say_how_old_the_data_is() -> None:
    r = live_result()
    asof = r.asof

    alert = render(
        "alert", "text", asset="ETH", alerts=[], m=r.market, asof=asof, r=r,
        now=asof + 2 * MINUTE, cleared={}, missing="",
    )  # fmt: skip
    caption = render(
        "chart_caption", "text", asset="ETH", window="7d", windows=("7d", "30d"), asof=asof,
        data=r, now=asof + 30_000,
    )  # fmt: skip
    daily = render(
        "daily", "text", local_time="Wed 20 May 2026, 02:00", tz="Europe/Berlin", rows=[],
        chart_asset=None, data=r, now=asof + 3 * MINUTE,
    )  # fmt: skip

    assert alert.splitlines()[-1] == (
        "Data: live data from 2 min ago (2026-05-20 00:00 UTC) · /unsubscribe ETH to stop"
    )
    assert caption.splitlines()[-1] == "Data: live data from just now (2026-05-20 00:00 UTC)"
    assert daily.splitlines()[0] == "Preflight daily · Wed 20 May 2026, 02:00 (Europe/Berlin)"
    assert "Data: live data from 3 min ago (2026-05-20 02:00 CEST)" in daily.splitlines()


def test_a_summary_with_no_data_at_all_prints_no_data_time() -> None:
    daily = render(
        "daily", "text", local_time="Wed 20 May 2026, 08:00", tz="UTC", chart_asset=None,
        rows=[{"asset": "ETH", "error": "no market data"}], data=None, now=0,
    )  # fmt: skip

    assert daily.splitlines()[0] == "Preflight daily · Wed 20 May 2026, 08:00 (UTC)"
    assert "ETH · no data: no market data" in daily.splitlines()
    assert not any(line.startswith("Data:") for line in daily.splitlines())
