"""Daily summaries: /daily, /watch, /chart, admin checks, scheduling, migration, restarts."""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from handlers.daily import next_run, parse_daily, parse_time, parse_timezone
from settings import Settings
from signals.chart import HEIGHT_PX, WIDTH_PX
from signals.errors import ParseError, UnknownAsset
from signals.timezones import EXAMPLE_FORMS
from tests.helpers.fake_botapi import FakeChat, FakeUser
from tests.helpers.groups_api import GroupsBotAPI, GroupsHarness, last_text
from tests.helpers.telegram import bot_settings

# 06:00 UTC on 20 May 2026 is 08:00 in Berlin (CEST, UTC+2)
SUMMER_0800_BERLIN = datetime(2026, 5, 20, 6, 0, tzinfo=UTC)
KNOWN = {"BTC", "ETH", "SOL", "DOGE"}


class Clock:
    """A settable clock for the application."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def api() -> GroupsBotAPI:
    return GroupsBotAPI()


@pytest.fixture
def clock() -> Clock:
    return Clock(SUMMER_0800_BERLIN)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # groups' 20-a-minute pacing is exercised in test_alerts_delivery; here it only slows
    return bot_settings(tmp_path, broadcast_per_group_minute=600.0)


@pytest.fixture
async def bot(api: GroupsBotAPI, settings: Settings, clock: Clock) -> AsyncIterator[GroupsHarness]:
    async with GroupsHarness(api, settings, clock) as harness:
        yield harness
    assert api.failures == []


@pytest.fixture
def admin(api: GroupsBotAPI) -> FakeUser:
    return api.user("Ada", username="ada")


@pytest.fixture
def member(api: GroupsBotAPI) -> FakeUser:
    return api.user("Max", username="max")


@pytest.fixture
def forum(api: GroupsBotAPI, admin: FakeUser) -> FakeChat:
    chat = api.group_chat("Desk", forum=True)
    api.make_admin(chat, admin)
    return chat


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def trigger_utc(bot: GroupsHarness, chat_id: int, after: datetime) -> datetime:
    """When the chat's summary job fires next after `after`, in UTC."""
    assert bot.app.job_queue is not None
    [job] = bot.app.job_queue.get_jobs_by_name(f"daily:{chat_id}")
    fire = job.job.trigger.get_next_fire_time(None, after)
    assert fire is not None
    return fire.astimezone(UTC)


# ---- parsing and time maths (pure) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "expected"),
    [("08:00", "08:00"), ("8:05", "08:05"), ("23.59", "23:59"), ("7h30", "07:30")],
)
def test_parse_time_accepts_24_hour_times(word: str, expected: str) -> None:
    assert parse_time(word) == expected


@pytest.mark.parametrize("word", ["24:00", "8", "08:60", "noon", "8:5"])
def test_parse_time_rejects_anything_else(word: str) -> None:
    with pytest.raises(ParseError, match="not a time of day"):
        parse_time(word)


def test_parse_timezone_is_case_free_and_ignores_asset_words() -> None:
    assert parse_timezone("europe/berlin") == "Europe/Berlin"
    assert parse_timezone("UTC") == "UTC"
    assert parse_timezone("ETH") is None
    with pytest.raises(ParseError, match="did you mean Europe/Berlin"):
        parse_timezone("Europe/Berlim")


def test_parse_daily_reads_time_timezone_and_assets() -> None:
    request = parse_daily(["8:00", "Asia/Tokyo", "eth", "$SOL", "ETH"], KNOWN)

    assert (request.daily_time, request.tz, request.assets) == (
        "08:00",
        "Asia/Tokyo",
        ("ETH", "SOL"),
    )
    assert parse_daily(["21:15"], KNOWN).assets is None
    assert parse_daily(["21:15", "BTC"], KNOWN).tz is None
    with pytest.raises(UnknownAsset) as info:
        parse_daily(["08:00", "ETHH"], KNOWN)
    assert "ETH" in info.value.close_matches


@pytest.mark.parametrize(
    ("words", "tz", "assets"),
    [
        ("08:00 europe/berlin BTC", "Europe/Berlin", ("BTC",)),
        ("08:00 CET", "Europe/Berlin", None),
        ("08:00 cest eth", "Europe/Berlin", ("ETH",)),
        ("08:00 EST", "America/New_York", None),
        ("08:00 PDT SOL", "America/Los_Angeles", ("SOL",)),
        ("08:00 MSK", "Europe/Moscow", None),
        ("08:00 IST", "Asia/Kolkata", None),
        ("08:00 UTC+2 BTC", "Etc/GMT-2", ("BTC",)),
        ("08:00 +02:00", "Etc/GMT-2", None),
        ("08:00 GMT-5", "Etc/GMT+5", None),
        ("08:00 +0530 eth", "Asia/Kolkata", ("ETH",)),
        ("08:00 utc + 2 BTC", "Etc/GMT-2", ("BTC",)),
        ("08:00 Berlin BTC ETH", "Europe/Berlin", ("BTC", "ETH")),
        ("08:00 new york ETH", "America/New_York", ("ETH",)),
        ("08:00 New_York", "America/New_York", None),
        ("08:00 btc eth", None, ("BTC", "ETH")),
    ],
)
def test_parse_daily_reads_every_timezone_form(
    words: str, tz: str | None, assets: tuple[str, ...] | None
) -> None:
    request = parse_daily(words.split(), KNOWN)

    assert (request.tz, request.assets) == (tz, assets)


@pytest.mark.parametrize(
    ("words", "reason"),
    [
        ("08:00 Berlim BTC", "unknown timezone 'Berlim': did you mean Europe/Berlin?"),
        ("08:00 Europe/Berlim", "unknown timezone 'Europe/Berlim': did you mean Europe/Berlin?"),
        ("08:00 Atlantis", f"unknown timezone 'Atlantis': write {EXAMPLE_FORMS}"),
        ("08:00 +15", "UTC+15:00 is not a time zone (offsets run from UTC−12 to UTC+14)"),
        (
            "08:00 BTC Berlin",
            "the timezone goes right after the time: /daily 08:00 Berlin BTC ETH",
        ),
    ],
)
def test_a_timezone_that_does_not_exist_is_no_asset(words: str, reason: str) -> None:
    with pytest.raises(ParseError) as raised:
        parse_daily(words.split(), KNOWN)

    assert raised.value.reason == reason
    assert raised.value.example.startswith("/daily 08:00")


def test_a_cashtag_right_after_the_time_is_an_asset_even_if_it_names_a_zone() -> None:
    known = KNOWN | {"CET"}

    assert parse_daily(["08:00", "$CET"], known).assets == ("CET",)
    assert parse_daily(["08:00", "CET"], known).tz == "Europe/Berlin"


def test_next_run_follows_daylight_saving() -> None:
    winter = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
    # the night Berlin springs forward (29 March 2026, 02:00 → 03:00)
    before_switch = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)

    assert next_run(SUMMER_0800_BERLIN, "08:00", "Europe/Berlin").astimezone(UTC) == datetime(
        2026, 5, 21, 6, 0, tzinfo=UTC
    )
    assert next_run(winter, "08:00", "Europe/Berlin").astimezone(UTC) == datetime(
        2026, 1, 11, 7, 0, tzinfo=UTC
    )
    assert next_run(before_switch, "08:00", "Europe/Berlin").astimezone(UTC) == datetime(
        2026, 3, 29, 6, 0, tzinfo=UTC
    )


# ---- commands ----------------------------------------------------------------------------------


async def test_daily_without_arguments_shows_the_defaults(
    bot: GroupsHarness, api: GroupsBotAPI, member: FakeUser
) -> None:
    dm = api.private_chat(member)

    await bot.send(dm, member, "/daily")

    assert last_text(api, dm).splitlines()[:2] == ["Daily summary: off", "Watchlist: BTC ETH SOL"]


async def test_admin_sets_a_daily_summary_in_a_forum_topic(
    bot: GroupsHarness, api: GroupsBotAPI, forum: FakeChat, admin: FakeUser
) -> None:
    await bot.send(forum, admin, "/daily 08:00 Europe/Berlin BTC ETH", thread_id=7)

    reply = api.bot_messages(forum)[-1]
    assert reply.thread_id == 7
    assert reply.text.splitlines()[:3] == [
        "Daily summary set: every day at 08:00 Europe/Berlin",
        "Watchlist: BTC ETH",
        "Next: Thu 21 May 08:00 CEST · in this topic",
    ]
    assert trigger_utc(bot, forum.id, datetime(2026, 5, 19, 12, 0, tzinfo=UTC)) == datetime(
        2026, 5, 20, 6, 0, tzinfo=UTC
    )
    assert trigger_utc(bot, forum.id, datetime(2026, 1, 10, 12, 0, tzinfo=UTC)) == datetime(
        2026, 1, 11, 7, 0, tzinfo=UTC
    )
    assert [c.params["user_id"] for c in api.calls_of("getChatMember")] == [admin.id]


async def test_members_may_read_but_not_change_group_settings(
    bot: GroupsHarness, api: GroupsBotAPI, forum: FakeChat, admin: FakeUser, member: FakeUser
) -> None:
    await bot.send(forum, admin, "/daily 08:00 Europe/Berlin")

    for command in ("/daily 09:00", "/daily off", "/watch DOGE"):
        await bot.send(forum, member, command)
        assert last_text(api, forum).startswith("Only this group's admins can change")
    await bot.send(forum, member, "/daily")

    assert last_text(api, forum).splitlines()[:2] == [
        "Daily summary: every day at 08:00 Europe/Berlin",
        "Watchlist: BTC ETH SOL",
    ]


async def test_an_anonymous_admin_posting_as_the_group_may_change_settings(
    bot: GroupsHarness, api: GroupsBotAPI, forum: FakeChat, member: FakeUser
) -> None:
    message = api.user_message(forum, member, "/daily 07:30 UTC")
    message.data["sender_chat"] = forum.to_dict()

    await bot.process_next()

    assert last_text(api, forum).startswith("Daily summary set: every day at 07:30 UTC")
    assert api.calls_of("getChatMember") == []


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/daily 25:00", "'25:00' is not a time of day (24-hour HH:MM)."),
        ("/daily 08:00 Mars/Olympus", f"unknown timezone 'Mars/Olympus': write {EXAMPLE_FORMS}."),
        (
            "/daily 08:00 UTC XRPP",  # replaying the demo: missing from the file, not the venues
            "XRPP is not in the demo snapshot (synthetic data), demo_snapshot.json of "
            "2026-05-20 00:00 UTC: it holds BTC, DOGE, ETH, SOL.",
        ),
        ("/watch", "name the assets to watch."),
        ("/chart", "name the asset to chart."),
    ],
)
async def test_bad_input_gets_a_reason(
    bot: GroupsHarness, api: GroupsBotAPI, member: FakeUser, command: str, expected: str
) -> None:
    dm = api.private_chat(member)

    await bot.send(dm, member, command)

    assert last_text(api, dm).splitlines()[0] == expected


async def test_daily_off_removes_the_job_and_keeps_the_settings(
    bot: GroupsHarness, api: GroupsBotAPI, member: FakeUser
) -> None:
    dm = api.private_chat(member)
    await bot.send(dm, member, "/daily 21:00 Asia/Tokyo SOL")

    await bot.send(dm, member, "/daily off")
    await bot.send(dm, member, "/daily")

    assert bot.app.job_queue is not None
    assert bot.app.job_queue.get_jobs_by_name(f"daily:{dm.id}") == ()
    assert last_text(api, dm).splitlines()[:2] == ["Daily summary: off", "Watchlist: SOL"]


async def test_watch_sets_the_watchlist(
    bot: GroupsHarness, api: GroupsBotAPI, member: FakeUser
) -> None:
    dm = api.private_chat(member)

    await bot.send(dm, member, "/watch doge $btc")

    assert last_text(api, dm).splitlines()[1] == "Watchlist: DOGE BTC"


async def test_chart_sends_the_seven_day_png(
    bot: GroupsHarness, api: GroupsBotAPI, member: FakeUser
) -> None:
    dm = api.private_chat(member)

    await bot.send(dm, member, "/chart eth")

    [photo] = api.photos_in(dm)
    assert png_size(photo.image) == (WIDTH_PX, HEIGHT_PX)
    assert photo.caption.startswith("ETH · 7 days of hourly price, open interest, funding")
    assert (dm.id, "upload_photo") in api.chat_actions


# ---- the job -----------------------------------------------------------------------------------


async def test_the_job_posts_text_and_chart_to_the_topic_once_a_day(
    bot: GroupsHarness, api: GroupsBotAPI, forum: FakeChat, admin: FakeUser, clock: Clock
) -> None:
    await bot.send(forum, admin, "/daily 08:00 Europe/Berlin", thread_id=7)
    before = len(api.bot_messages(forum))

    await bot.run_job(f"daily:{forum.id}")
    await bot.run_job(f"daily:{forum.id}")  # fired twice (a restart at 08:00): posted once

    summary, chart = api.bot_messages(forum)[before:]
    assert (summary.thread_id, chart.thread_id) == (7, 7)
    lines = summary.text.splitlines()
    # the demo's data is of 00:00 UTC: the header gives that time, not the posting time
    assert lines[0] == "Preflight daily · demo data of Wed 20 May 2026, 02:00 (Europe/Berlin)"
    assert "Data: synthetic demo data, as of 2026-05-20 02:00 CEST" in lines
    assert [line for line in lines if line.startswith(("BTC ·", "ETH ·", "SOL ·"))] == [
        "BTC · 🟢 calm",
        "ETH · 🟠 elevated",
        "SOL · 🔴 stress",
    ]
    assert "Flags: long 🔴 3/4 · short 🟢 0/4" in lines
    assert "OI $9.20B (+5.50% 24h) · funding +0.0480%/8h (+52.6% APR)" in lines
    [photo] = api.photos_in(forum)
    assert photo.caption.startswith("SOL · 7 days")
    assert photo.caption.endswith("Data: synthetic demo data, as of 2026-05-20 00:00 UTC")
    assert png_size(photo.image) == (WIDTH_PX, HEIGHT_PX)

    clock.now = datetime(2026, 5, 21, 6, 0, tzinfo=UTC)
    await bot.run_job(f"daily:{forum.id}")
    # a day later, the same (demo) data: never today's date over it
    next_day = api.bot_messages(forum)[-2].text
    assert next_day.startswith("Preflight daily · demo data of Wed 20 May 2026, 02:00")
    assert "21 May" not in next_day


async def test_a_summary_asset_without_data_is_named_not_fatal(
    bot: GroupsHarness, api: GroupsBotAPI, member: FakeUser
) -> None:
    dm = api.private_chat(member)
    await bot.send(dm, member, "/daily 08:00 UTC BTC")
    bot.app.bot_data.users.set_watchlist(dm.id, "private", ["BTC", "PEPE"])

    await bot.run_job(f"daily:{dm.id}")

    text = last_text(api, dm)
    assert "BTC · 🟢 calm" in text
    assert "PEPE · no data: PEPE is not in the demo snapshot (synthetic data)" in text
    assert api.photos_in(dm)[-1].caption.startswith("BTC · 7 days")


async def test_jobs_are_restored_after_a_restart(
    api: GroupsBotAPI, settings: Settings, clock: Clock, forum: FakeChat, admin: FakeUser
) -> None:
    async with GroupsHarness(api, settings, clock) as first:
        await first.send(forum, admin, "/daily 08:00 Europe/Berlin ETH", thread_id=3)

    async with GroupsHarness(api, settings, clock) as second:
        assert trigger_utc(second, forum.id, datetime(2026, 5, 19, 12, tzinfo=UTC)) == datetime(
            2026, 5, 20, 6, 0, tzinfo=UTC
        )
        await second.run_job(f"daily:{forum.id}")

    summary = [m for m in api.bot_messages(forum) if m.text.startswith("Preflight daily")]
    assert [m.thread_id for m in summary] == [3]
    assert api.failures == []


async def test_a_group_upgraded_to_a_supergroup_keeps_its_settings(
    bot: GroupsHarness, api: GroupsBotAPI, admin: FakeUser
) -> None:
    group = api.basic_group()
    api.make_admin(group, admin)
    await bot.send(group, admin, "/daily 08:00 Europe/Berlin SOL")
    await bot.send(group, admin, "/subscribe SOL long")

    supergroup = api.upgrade(group)
    await bot.process_next()  # migrate_to_chat_id, in the old group
    await bot.process_next()  # migrate_from_chat_id, in the new supergroup

    assert bot.app.job_queue is not None
    assert bot.app.job_queue.get_jobs_by_name(f"daily:{group.id}") == ()
    await bot.run_job(f"daily:{supergroup.id}")
    assert last_text(api, supergroup).startswith("Preflight daily")
    await bot.send(supergroup, admin, "/subscriptions")
    assert "SOL: long 🔴 stress" in last_text(api, supergroup)


async def test_groups_due_at_the_same_minute_share_one_chart_and_one_grade(
    bot: GroupsHarness, api: GroupsBotAPI, admin: FakeUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    import signals.service
    from handlers.daily import post_summary

    groups = []
    for n in range(6):
        group = api.group_chat(f"Desk {n}")
        api.make_admin(group, admin)
        await bot.send(group, admin, "/daily 08:00 Europe/Berlin")
        groups.append(group)
    bd = bot.app.bot_data
    graded: list[str] = []
    real = signals.service.grade_check

    def counted(idea, data, asof, thresholds, market=None):  # type: ignore[no-untyped-def]
        graded.append(idea.asset)
        return real(idea, data, asof, thresholds, market)

    monkeypatch.setattr(signals.service, "grade_check", counted)
    renders = bd.charts.renders

    await asyncio.gather(*(post_summary(bd, g.id, False) for g in groups))

    photos = [api.photos_in(g) for g in groups]
    assert all(len(p) == 1 for p in photos)
    assert len({p[0].image for p in photos}) == 1  # the same bytes for every group
    assert bd.charts.renders == renders + 1
    assert sorted(graded) == ["BTC", "ETH", "SOL"]  # once per asset and state, not per group
    texts = [api.bot_messages(g)[-2].text.splitlines()[0] for g in groups]
    assert texts == ["Preflight daily · demo data of Wed 20 May 2026, 02:00 (Europe/Berlin)"] * 6


async def test_a_summary_text_is_on_its_way_while_its_chart_renders(
    bot: GroupsHarness, api: GroupsBotAPI, admin: FakeUser
) -> None:
    import threading
    import time

    from signals.chart import ChartCache, chart_png

    group = api.group_chat("Desk")
    api.make_admin(group, admin)
    await bot.send(group, admin, "/daily 08:00 Europe/Berlin")
    text_seen_first: list[bool] = []
    lock = threading.Lock()

    def watching_render(data, asof, *args, **kwargs):  # type: ignore[no-untyped-def]
        # runs on a worker thread: give the text up to 2 s to reach Telegram
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            with lock:
                texts = [m.text for m in api.bot_messages(group)]
            if any(t.startswith("Preflight daily") for t in texts):
                break
            time.sleep(0.01)
        text_seen_first.append(any(t.startswith("Preflight daily") for t in texts))
        return chart_png(data, asof, *args, **kwargs)

    bot.app.bot_data.charts = ChartCache(render=watching_render)
    await bot.run_job(f"daily:{group.id}")

    assert text_seen_first == [True]
    kinds = [m.text.startswith("Preflight daily") for m in api.bot_messages(group)[-2:]]
    assert kinds == [True, False]  # the text, then its chart
    assert len(api.photos_in(group)) == 1
