"""The conversation: charts, subscriptions, buttons, errors and limits as a trader meets them.

The real Application, in-process against the strict fake Bot API (groups extension: photos,
admins); the market is a snapshot file moved between states (tests/helpers/market.py).
"""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from handlers import alerts
from handlers.charts import chart_headlines
from settings import Settings
from signals.chart import HEIGHT_PX, WIDTH_PX, ChartCache, ChartHeadline, chart_png
from tests.helpers.fake_botapi import FakeChat, FakeUser
from tests.helpers.groups_api import GroupsBotAPI, GroupsHarness, SentPhoto, last_text
from tests.helpers.market import NOW, Market, alerts_in
from tests.helpers.telegram import bot_settings

SLOW_DOWN = re.compile(
    r"Slow down: that's \d+ (check|request)s? a minute, the most I take from one person\. "
    r"Try again in \d+ s\."
)


@pytest.fixture
def api() -> GroupsBotAPI:
    return GroupsBotAPI()


@pytest.fixture
def settings(tmp_path: Path, market: Market) -> Settings:
    return bot_settings(tmp_path, snapshot_path=str(market.path))


@pytest.fixture
async def bot(api: GroupsBotAPI, settings: Settings) -> AsyncIterator[GroupsHarness]:
    async with GroupsHarness(api, settings, lambda: NOW) as harness:
        yield harness
    assert api.failures == []


@pytest.fixture
def alice(api: GroupsBotAPI) -> FakeUser:
    return api.user("Alice")


@pytest.fixture
def dm(api: GroupsBotAPI, alice: FakeUser) -> FakeChat:
    return api.private_chat(alice)


def rendered(photo: SentPhoto) -> tuple[int, int]:
    """The size of the PNG as an image decoder reads it (it must decode, not just start)."""
    with Image.open(io.BytesIO(photo.image)) as image:
        image.load()
        return image.size


class RecordingCache(ChartCache):
    """The bot's ChartCache, noting what each chart was asked to show."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[str, str, Any]] = []

    def png(self, data: Any, asof: int, window: str = "7d", **kwargs: Any) -> bytes:
        self.asked.append((data.asset, window, kwargs["headline"]))
        return super().png(data, asof, window, **kwargs)


# ---- /chart ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "window", "caption"),
    [
        (
            "/chart eth",
            "7d",
            "ETH · 7 days of hourly price, open interest, funding per 8h and hourly "
            "liquidations (shorts liquidated above the line, longs below)",
        ),
        (
            "/chart ETH 30d",
            "30d",
            "ETH · 30 days of daily closes, daily open interest, funding per 8h and "
            "liquidations per day (shorts liquidated above the line, longs below)",
        ),
        (
            "/chart 90d $eth",
            "90d",
            "ETH · 90 days of daily closes, daily open interest, funding per 8h and "
            "liquidations per day (shorts liquidated above the line, longs below)",
        ),
        ("/chart ethusdt 1w", "7d", "ETH · 7 days of hourly price"),
        ("/chart ETH-PERP 3mo", "90d", "ETH · 90 days of daily closes"),
    ],
)
async def test_every_chart_window_renders_with_its_verdicts_and_its_own_caption(
    bot: GroupsHarness, api: GroupsBotAPI, dm: FakeChat, alice: FakeUser, command: str,
    window: str, caption: str,
) -> None:  # fmt: skip
    charts = bot.app.bot_data.charts = RecordingCache()

    await bot.send(dm, alice, command)

    [photo] = api.photos_in(dm)
    assert rendered(photo) == (WIDTH_PX, HEIGHT_PX)
    assert 20_000 < len(photo.image) < 200_000  # a palette PNG: tens of kB on a phone
    lines = photo.caption.splitlines()
    assert lines[0].startswith(caption)
    others = [f"/chart ETH {w}" for w in ("7d", "30d", "90d") if w != window]
    assert lines[2] == "Other windows: " + " · ".join(others)
    assert lines[-1] == "Data: synthetic demo data, as of 2026-05-20 00:00 UTC"
    result = await bot.app.bot_data.service.market("ETH")
    [(asset, asked_window, headline)] = charts.asked
    assert (asset, asked_window) == ("ETH", window)
    assert headline == chart_headlines(result, bot.settings.thresholds)
    assert [h.text() for h in headline] == [
        "LONG · REDUCE · caution: open interest, funding",
        "SHORT · PROCEED · no caution flags",
    ]
    # the picture is that chart: the same bytes as a render of the same inputs
    asof, data = await bot.app.bot_data.service.asset_state("ETH")
    th = bot.settings.thresholds
    assert photo.image == chart_png(data, asof, window, headline=headline, thresholds=th)


async def test_two_assets_get_one_chart_each_in_the_order_asked(
    bot: GroupsHarness, api: GroupsBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    await bot.send(dm, alice, "/chart btc eth 30d")

    photos = api.photos_in(dm)
    assert [p.caption.split(" · ")[0] for p in photos] == ["BTC", "ETH"]
    assert all(p.caption.split(" · ")[1].startswith("30 days") for p in photos)
    assert [rendered(p) for p in photos] == [(WIDTH_PX, HEIGHT_PX)] * 2


@pytest.mark.parametrize(
    ("command", "reason", "example"),
    [
        ("/chart", "name the asset to chart.", "/chart ETH 30d"),
        ("/chart 30d", "name the asset to chart.", "/chart ETH 30d"),
        ("/chart eth 14d", "'14d' is not a chart window: 7d, 30d, 90d.", "/chart ETH 30d"),
        # a window in a unit /chart does not take is still a window, never an asset "1Y"
        ("/chart eth 1y", "'1y' is not a chart window: 7d, 30d, 90d.", "/chart ETH 30d"),
        ("/chart eth 3m", "'3m' is not a chart window: 7d, 30d, 90d.", "/chart ETH 30d"),
        ("/chart eth 30", "'30' is not a chart window: 7d, 30d, 90d.", "/chart ETH 30d"),
        ("/chart eth 7d 90d", "one window at a time: 7d, 30d, 90d.", "/chart ETH 30d"),
        (
            "/chart btc eth sol doge",
            "at most 3 charts at once (4 assets named).",
            "/chart BTC ETH SOL",
        ),
        (
            "/chart ethh",
            "ETHH is not in the demo snapshot (synthetic data), snapshot.json of 2026-05-20 "
            "00:00 UTC. Did you mean ETH?",
            "/chart ETH 30d",
        ),
    ],
)
async def test_chart_refusals_show_a_chart_example(
    bot: GroupsHarness, api: GroupsBotAPI, dm: FakeChat, alice: FakeUser, command: str,
    reason: str, example: str,
) -> None:  # fmt: skip
    await bot.send(dm, alice, command)

    assert last_text(api, dm).splitlines() == [reason, f"Example: {example}"]
    assert api.photos_in(dm) == []


async def test_charts_past_the_check_limit_stop_with_the_one_slow_down(
    api: GroupsBotAPI, tmp_path: Path, market: Market, alice: FakeUser, dm: FakeChat
) -> None:
    settings = bot_settings(tmp_path, snapshot_path=str(market.path), check_rate_per_minute=2)
    async with GroupsHarness(api, settings, lambda: NOW) as bot:
        await bot.send(dm, alice, "/chart btc eth sol")

    assert [p.caption.split(" · ")[0] for p in api.photos_in(dm)] == ["BTC", "ETH"]
    assert SLOW_DOWN.fullmatch(last_text(api, dm))
    assert last_text(api, dm).startswith("Slow down: that's 2 checks a minute")


async def test_the_daily_summary_chart_wears_the_regime_of_its_asset(
    bot: GroupsHarness,
    api: GroupsBotAPI,
    dm: FakeChat,
    alice: FakeUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    drawn: list[Any] = []

    def recording_png(data: Any, asof: int, *args: Any, **kwargs: Any) -> bytes:
        drawn.append((data.asset, args, kwargs["headline"]))
        return chart_png(data, asof, *args, **kwargs)

    # the summaries' charts are rendered through the bot's one ChartCache
    bot.app.bot_data.charts = ChartCache(render=recording_png)
    await bot.send(dm, alice, "/daily 08:00 UTC BTC ETH SOL")

    await bot.run_job(f"daily:{dm.id}")

    [photo] = api.photos_in(dm)
    assert rendered(photo) == (WIDTH_PX, HEIGHT_PX)
    assert photo.caption.splitlines()[0].startswith(
        "SOL · 7 days of hourly price, open interest, funding per 8h and hourly liquidations"
    )
    assert photo.caption.splitlines()[0].endswith("most stressed today")
    [(asset, args, headline)] = drawn
    assert (asset, args) == ("SOL", ("7d",))
    assert headline == ChartHeadline(
        "stress", ("open_interest", "liquidations", "skew"), side="long"
    )
    assert headline.text() == "LONG · STRESS · caution: open interest, liquidations, skew"


# ---- subscriptions -----------------------------------------------------------------------------


async def test_subscribe_and_unsubscribe_take_one_side_both_or_a_list_of_them(
    bot: GroupsHarness, api: GroupsBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    users = bot.app.bot_data.users

    await bot.send(dm, alice, "/subscribe eth long short")
    assert last_text(api, dm).splitlines()[0] == "🔔 Subscribed: ETH long + short"
    await bot.send(dm, alice, "/unsubscribe eth long")
    assert last_text(api, dm).splitlines() == [
        "🔕 No more ETH long warnings.",
        "Still following: ETH short",
    ]
    assert [(s.asset, s.side) for s in users.subscriptions(dm.id)] == [("ETH", "short")]

    await bot.send(dm, alice, "/subscribe long $ETH")
    assert last_text(api, dm).splitlines()[0] == "🔔 Subscribed: ETH long"
    await bot.send(dm, alice, "/unsubscribe ETH long short")
    assert last_text(api, dm) == "🔕 No more ETH warnings."
    await bot.send(dm, alice, "/subscribe sol both")
    await bot.send(dm, alice, "/unsubscribe sol short")
    await bot.send(dm, alice, "/unsubscribe sol short")
    assert last_text(api, dm).splitlines() == [
        "This chat was not subscribed to SOL short.",
        "Still following: SOL long",
    ]


async def test_subscribing_twice_says_already_subscribed_and_keeps_what_was_told(
    bot: GroupsHarness, api: GroupsBotAPI, dm: FakeChat, alice: FakeUser, market: Market
) -> None:
    users = bot.app.bot_data.users
    await bot.send(dm, alice, "/subscribe ETH long")
    market.set("stressed")
    await alerts.poll_all(bot.app)
    before = users.subscriptions(dm.id)

    await bot.send(dm, alice, "/subscribe eth long")

    assert last_text(api, dm).splitlines() == [
        "🔔 Already subscribed: ETH long — nothing changed.",
        "Last told long: 🔴 stress (open interest, liquidations, skew)",
        "/subscriptions lists this chat's warnings · /unsubscribe ETH to stop",
    ]
    assert users.subscriptions(dm.id) == before  # the stress it was told is not reset

    await bot.send(dm, alice, "/subscribe eth")
    assert last_text(api, dm).splitlines()[0] == "🔔 Subscribed: ETH short (long already on)"


async def test_pressing_warn_me_twice_says_already_subscribed(
    bot: GroupsHarness, api: GroupsBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    await bot.send(dm, alice, "/check ETH long 5x")
    result = api.bot_messages(dm)[-1]

    first = await bot.press(result, alice, "🔔 Warn me about ETH")
    sent = len(api.bot_messages(dm))
    second = await bot.press(result, alice, "🔔 Warn me about ETH")

    assert api.answer_of(first)["text"] == "Subscribed to ETH stress warnings"  # type: ignore[index]
    assert api.answer_of(second)["text"] == (  # type: ignore[index]
        "Already subscribed to ETH stress warnings: nothing changed. /subscriptions lists them."
    )
    assert len(api.bot_messages(dm)) == sent  # no second "Subscribed" message


@pytest.mark.parametrize(
    ("command", "first_line"),
    [
        ("/subscribe", "name one asset, and optionally long, short or both."),
        ("/subscribe eth btc", "name one asset, and optionally long, short or both."),
        ("/unsubscribe long", "name one asset (and optionally long or short), or all."),
        ("/unsubscribe all long", "all stops every warning here: leave the side out."),
        # a misspelt side is named, as /check names it
        ("/subscribe eth lnog", "can't read 'lnog': did you mean long?"),
        ("/subscribe shrot ETH", "can't read 'shrot': did you mean short?"),
        ("/unsubscribe eth shrot", "can't read 'shrot': did you mean short?"),
        # `all` is /unsubscribe's word, not an asset the snapshot lacks
        ("/subscribe all", "one asset at a time: all is for /unsubscribe."),
    ],
)
async def test_subscription_refusals_show_their_own_example(
    bot: GroupsHarness, api: GroupsBotAPI, dm: FakeChat, alice: FakeUser, command: str,
    first_line: str,
) -> None:  # fmt: skip
    await bot.send(dm, alice, command)

    lines = last_text(api, dm).splitlines()
    assert lines[0] == first_line
    name = command.split()[0]
    assert lines[1].startswith(f"Example: {name} ETH")


@pytest.mark.parametrize(
    ("command", "example"),
    [
        ("/chart pepe", "/chart BTC 30d"),
        ("/chart eth pepe 30d", "/chart BTC 30d"),
        ("/subscribe pepe long", "/subscribe BTC long"),
        ("/watch eth pepe", "/watch BTC"),
        ("/daily 08:00 Europe/Berlin pepe", "/daily 08:00 Europe/Berlin BTC"),
    ],
)
async def test_an_asset_the_snapshot_lacks_is_said_to_be_missing_from_it(
    bot: GroupsHarness, api: GroupsBotAPI, dm: FakeChat, alice: FakeUser, command: str,
    example: str,
) -> None:  # fmt: skip
    # PEPE has a perpetual; it is only not in the replayed file (as /check and /market say)
    await bot.send(dm, alice, command)

    assert last_text(api, dm).splitlines() == [
        "PEPE is not in the demo snapshot (synthetic data), snapshot.json of 2026-05-20 00:00 "
        "UTC: it holds BTC, DOGE, ETH, SOL.",
        f"Example: {example}",
    ]


async def test_warn_me_for_an_asset_the_snapshot_lacks_says_so(
    bot: GroupsHarness, api: GroupsBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    old = api.seed_bot_message(dm, "PEPE, graded on an older file", [("Warn", "s:PEPE")])

    query_id = await bot.press(old, alice, "Warn")

    answer = api.answer_of(query_id)
    assert answer is not None
    assert answer["text"].startswith("PEPE is not in the demo snapshot (synthetic data)")


# ---- alerts ------------------------------------------------------------------------------------


async def test_stress_easing_to_reduce_size_wears_no_green_tick(
    bot: GroupsHarness, api: GroupsBotAPI, dm: FakeChat, alice: FakeUser, market: Market
) -> None:
    market.set("stressed")
    await bot.send(dm, alice, "/subscribe ETH long")
    market.set("crowded")  # two flags: reduce size

    await alerts.poll_all(bot.app)
    await alerts.poll_all(bot.app)

    [eased] = alerts_in(api, dm)
    assert eased == (
        "🟠 ETH long: stress is over, still elevated — 2 of 4 flags in caution (was stress)"
    )
    text = api.bot_messages(dm)[-1].text
    assert "✅" not in text and "all clear" not in text
    assert "→ Two flags: reduce size on new longs." in text.splitlines()


async def test_the_alerts_check_button_grades_at_the_subscribers_settings_leverage(
    bot: GroupsHarness, api: GroupsBotAPI, dm: FakeChat, alice: FakeUser, market: Market
) -> None:
    await bot.send(dm, alice, "/settings leverage 10 horizon 3d")
    await bot.send(dm, alice, "/subscribe ETH long")
    market.set("stressed")
    await alerts.poll_all(bot.app)
    alert = api.bot_messages(dm)[-1]

    await bot.press(alert, alice, "🔎 Check ETH long")

    check = api.bot_messages(dm)[-1]
    assert check.text.startswith("WAIT · ETH long 10x (from your /settings)")
    assert "over 3d" in check.text


# ---- buttons the bot does not know --------------------------------------------------------------


OUTDATED = "This button is from an older version of Preflight. Send the check again."


@pytest.mark.parametrize(
    ("data", "answer_text"),
    [
        ("zz:anything", OUTDATED),
        ("r:", OUTDATED),
        ("r:1:ETH:long 5x:extra:fields", OUTDATED),  # rest that no longer reads as an idea
        ("r:1.q:ETH:long", OUTDATED),  # a view nobody writes
        ("d:1:!!:long", OUTDATED),
        ("s:", OUTDATED),
        ("s:not an asset", OUTDATED),
        ("ac:", OUTDATED),
        ("m:", OUTDATED),
        ("x" * 64, OUTDATED),
        ("ü" * 32, OUTDATED),
        # the oldest format carried idea words: read as one, graded, and answered
        ("r:garbage", "GARBAGE is not in the demo snapshot (synthetic data)"),
    ],
)
async def test_button_data_the_bot_does_not_recognise_is_answered(
    bot: GroupsHarness, api: GroupsBotAPI, dm: FakeChat, alice: FakeUser, data: str,
    answer_text: str,
) -> None:  # fmt: skip
    message = api.seed_bot_message(dm, "an old message", buttons=[("Old", data)])

    query_id = await bot.press(message, alice, "Old")

    answer = api.answer_of(query_id)
    assert answer is not None, "the client would spin until Telegram gives up"
    assert answer["text"].startswith(answer_text)
    assert message.edits == 0


# ---- errors fit where they were typed -----------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "example"),
    [
        ("/check ETHH long", "Example: /check ETH long 5x"),
        ("/market ETHH", "Example: /market ETH"),
        ("/chart ETHH", "Example: /chart ETH 30d"),
        ("/subscribe ETHH", "Example: /subscribe ETH long"),
        ("/watch ETHH", "Example: /watch ETH"),
        ("/daily 08:00 UTC ETHH", "Example: /daily 08:00 Europe/Berlin ETH"),
        ("/daily 08:00 Berlim", "Example: /daily 08:00 Europe/Berlin BTC ETH SOL"),
        ("/settings leverage 500", "Example: /settings leverage 5"),
        ("/settings tz Berlim", "Example: /settings tz Europe/Berlin"),
    ],
)
async def test_errors_show_the_example_of_the_command_typed(
    bot: GroupsHarness, api: GroupsBotAPI, dm: FakeChat, alice: FakeUser, command: str,
    example: str,
) -> None:  # fmt: skip
    await bot.send(dm, alice, command)

    assert last_text(api, dm).splitlines()[-1] == example


@pytest.mark.parametrize(
    "command",
    [
        "/daily 08:00 Berlim",
        "/daily 08:00 Europe/Berlim BTC",
        "/settings tz Europe/Berlim",
        "/check eth lnog 5x",
        "/check ETHH long",
        "/chart ethh",
        "/subscribe ethh",
        "/watch ethh",
        "/market ethh",
        "/daily 08:00 +15",
        "/chart eth 14d",
        "/settings levrage 5",
    ],
)
async def test_no_reply_doubles_its_punctuation(
    bot: GroupsHarness, api: GroupsBotAPI, dm: FakeChat, alice: FakeUser, command: str
) -> None:
    await bot.send(dm, alice, command)

    text = last_text(api, dm)
    assert not re.search(r"[?!.:]\.(?!\.)|\.\.(?!\.)", text), text


async def test_timezone_words_read_in_every_form_by_daily(
    bot: GroupsHarness, api: GroupsBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    shown = []
    for words in ("CET", "new york", "UTC+2", "+0530", "Berlin", "gmt-5", "europe/berlin"):
        await bot.send(dm, alice, f"/daily 08:00 {words}")
        shown.append(last_text(api, dm).splitlines()[0])

    assert shown == [
        "Daily summary set: every day at 08:00 Europe/Berlin",
        "Daily summary set: every day at 08:00 America/New_York",
        "Daily summary set: every day at 08:00 UTC+2",
        "Daily summary set: every day at 08:00 Asia/Kolkata",
        "Daily summary set: every day at 08:00 Europe/Berlin",
        "Daily summary set: every day at 08:00 UTC−5",
        "Daily summary set: every day at 08:00 Europe/Berlin",
    ]


@pytest.mark.parametrize(
    ("words", "first_line"),
    [
        ("new yrok", "unknown timezone 'new yrok': did you mean America/New_York?"),
        ("los angelos BTC", "unknown timezone 'los angelos': did you mean America/Los_Angeles?"),
        ("hong kon", "unknown timezone 'hong kon': did you mean Asia/Hong_Kong?"),
    ],
)
async def test_a_misspelt_two_word_city_is_an_unknown_timezone_with_a_suggestion(
    bot: GroupsHarness, api: GroupsBotAPI, dm: FakeChat, alice: FakeUser, words: str,
    first_line: str,
) -> None:  # fmt: skip
    await bot.send(dm, alice, f"/daily 08:00 {words}")

    assert last_text(api, dm).splitlines() == [
        first_line,
        "Example: /daily 08:00 Europe/Berlin BTC ETH SOL",
    ]


# ---- one wording for every limit ----------------------------------------------------------------


async def test_every_limit_speaks_with_one_wording(
    api: GroupsBotAPI, tmp_path: Path, market: Market, alice: FakeUser, dm: FakeChat
) -> None:
    settings = bot_settings(
        tmp_path, snapshot_path=str(market.path), check_rate_per_minute=1,
        user_requests_per_minute=6,
    )  # fmt: skip
    async with GroupsHarness(api, settings, lambda: NOW) as bot:
        await bot.send(dm, alice, "/check ETH long 5x")
        result = api.bot_messages(dm)[-1]
        await bot.send(dm, alice, "/check BTC long")  # past the check limit
        check_limit = last_text(api, dm)
        await bot.send(dm, alice, "/chart ETH")
        chart_limit = last_text(api, dm)
        refresh = await bot.press(result, alice, "🔄 Refresh")
        button_limit = api.answer_of(refresh)["text"]  # type: ignore[index]
        await bot.send(dm, alice, "/help")
        await bot.send(dm, alice, "/help")  # the 6th request this minute: the last allowed
        await bot.send(dm, alice, "/help")
        budget = last_text(api, dm)

    limits = [check_limit, chart_limit, button_limit, budget]
    assert all(SLOW_DOWN.fullmatch(text) for text in limits), limits
    assert check_limit.startswith("Slow down: that's 1 check a minute")
    assert budget.startswith("Slow down: that's 6 requests a minute")


@pytest.mark.parametrize(
    ("words", "shown"),
    [
        ("tz new york", "Time zone: America/New_York"),
        ("tz CEST leverage 5", "Time zone: Europe/Berlin"),
        ("tz UTC+2", "Time zone: UTC+2"),
        ("timezone +0530", "Time zone: Asia/Kolkata"),
        ("tz Tokyo", "Time zone: Asia/Tokyo"),
    ],
)
async def test_settings_read_the_same_time_zone_forms_as_daily(
    bot: GroupsHarness, api: GroupsBotAPI, dm: FakeChat, alice: FakeUser, words: str,
    shown: str,
) -> None:  # fmt: skip
    await bot.send(dm, alice, f"/settings {words}")

    assert shown in last_text(api, dm).splitlines()


async def test_a_lone_zone_in_settings_names_its_setting(
    bot: GroupsHarness, api: GroupsBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    await bot.send(dm, alice, "/settings Berlin")

    assert last_text(api, dm).splitlines() == [
        "'Berlin' needs the setting's name: tz Berlin.",
        "Example: /settings tz Europe/Berlin",
    ]


async def test_help_tells_of_chart_windows_zones_and_inline_mode_each_on_its_line(
    bot: GroupsHarness, api: GroupsBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    await bot.send(dm, alice, "/help")

    lines = last_text(api, dm).splitlines()
    assert "/chart ETH [7d|30d|90d] — price, OI, funding and liquidations (up to 3 assets: " \
        "/chart BTC ETH)" in lines  # fmt: skip
    assert any(line.startswith("/daily 08:00 Europe/Berlin") and "UTC+2" in line for line in lines)
    assert lines[-2] == (
        "In any chat, even without me in it: type @PreflightTestBot eth long 5x and tap the "
        "grade to share it."
    )
