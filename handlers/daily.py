"""Daily summaries: /daily and /watch, and the per-chat JobQueue job that posts them.

A summary whose time passed while the bot was down is caught up right after start-up —
once, on the same local day, and only if it was set before that time — never twice.
"""

from __future__ import annotations

import asyncio
import difflib
import importlib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as dtime
from typing import Any
from zoneinfo import ZoneInfo

from telegram import Update

from handlers.common import as_source_says, is_group, may_change_settings, problem, topic_of
from handlers.context import App, BotData, Context
from handlers.settings import defaults_for
from signals.chart import WINDOWS, ChartHeadline
from signals.errors import ParseError, PreflightError, UnknownAsset
from signals.grade import CheckResult
from signals.idea import parse_idea
from signals.stress import SideStress, level_rank, regime, stress_by_side
from signals.timezones import ZoneNotFound, looks_like_zone, read_zone, zone_of, zone_problem
from signals.userdata import ChatSettings, Draft
from templates import render

log = logging.getLogger(__name__)

DAILY_EXAMPLE = "/daily 08:00 Europe/Berlin BTC ETH SOL"
WATCH_EXAMPLE = "/watch BTC ETH SOL"
# the examples under an asset error, "{asset}" where the asset goes (templates/problem.j2)
DAILY_USAGE = "daily 08:00 Europe/Berlin {asset}"
WATCH_USAGE = "watch {asset}"
MAX_WATCHLIST = 8
_TIME_RE = re.compile(r"([01]?\d|2[0-3])[:.h]([0-5]\d)")


@dataclass(frozen=True)
class DailyRequest:
    """A parsed `/daily HH:MM [Timezone/Name] [ASSETS…]`."""

    daily_time: str
    tz: str | None
    assets: tuple[str, ...] | None


@dataclass(frozen=True)
class SummaryRow:
    """One asset's line-up in a summary: its market and stress, or why it is missing."""

    asset: str
    result: CheckResult | None
    long: SideStress | None
    short: SideStress | None
    regime: str
    error: str | None = None


# ---- parsing (pure) -------------------------------------------------------------------------


def parse_timezone(word: str) -> str | None:
    """The IANA zone `word` names (any case, an abbreviation, an offset, a city); None when
    it is no zone and does not look like one (an asset symbol). ParseError when it plainly
    means a zone that does not exist, with the closest as a suggestion."""
    try:
        zone = zone_of(word)
    except ZoneNotFound as e:
        raise ParseError(e.reason, DAILY_EXAMPLE) from e
    if zone is None and looks_like_zone(word):
        raise ParseError(zone_problem(word).reason, DAILY_EXAMPLE)
    return zone


def parse_time(word: str) -> str:
    """`8:00`, `08:00`, `8.30` or `8h30` → `HH:MM`; ParseError otherwise."""
    match = _TIME_RE.fullmatch(word.strip())
    if match is None:
        raise ParseError(f"{word!r} is not a time of day (24-hour HH:MM)", DAILY_EXAMPLE)
    return f"{int(match.group(1)):02d}:{match.group(2)}"


def parse_assets(words: list[str], known: set[str], example: str) -> tuple[str, ...]:
    """Asset words (`eth`, `$SOL`, `BTCUSDT`) → unique symbols, checked against known ones."""
    assets: list[str] = []
    for word in words:
        symbol = word.strip().lstrip("$").upper()
        # a known symbol is taken as it is, even one the idea grammar reads as a word (ME)
        asset = symbol if symbol in known else _asset_word(word, example)
        if known and asset not in known:
            close = tuple(difflib.get_close_matches(asset, sorted(known), n=3, cutoff=0.5))
            raise UnknownAsset(asset, close)
        if asset not in assets:
            assets.append(asset)
    if len(assets) > MAX_WATCHLIST:
        raise ParseError(f"at most {MAX_WATCHLIST} assets in a summary", example)
    return tuple(assets)


def _asset_word(word: str, example: str) -> str:
    try:
        return parse_idea(word).asset
    except ParseError as e:
        raise ParseError(f"{word[:32]!r} is not an asset symbol", example) from e


def parse_daily(args: list[str], known: set[str]) -> DailyRequest:
    """Parse `/daily HH:MM [timezone] [ASSETS…]`: the words right after the time that form a
    zone are the zone (`Europe/Berlin`, `CET`, `UTC+2`, `new york`), the rest are assets."""
    daily_time = parse_time(args[0])
    rest = list(args[1:])
    tz, used = _leading_zone(rest, known)
    rest = rest[used:]
    for word in rest:
        _refuse_misplaced_zone(word, known)
    assets = parse_assets(rest, known, DAILY_EXAMPLE) if rest else None
    return DailyRequest(daily_time, tz, assets)


def _leading_zone(words: list[str], known: set[str]) -> tuple[str | None, int]:
    """The zone the first words name and how many they are; (None, 0) for an asset.

    A word there that is neither a zone nor an asset (and no typo of one) is read as a zone
    that does not exist: "unknown timezone", with a suggestion, not "unknown asset".
    """
    if not words or words[0].startswith(("$", "#")):
        return None, 0  # a cashtag is always an asset
    try:
        found = read_zone(words)
    except ZoneNotFound as e:
        raise ParseError(e.reason, DAILY_EXAMPLE) from e
    if found is not None:
        return found
    first = words[0]
    if _is_asset(first, known) or not known:
        return None, 0
    if len(words) > 1 and not _is_asset(words[1], known):
        pair = zone_problem(" ".join(words[:2]))  # "new yrok": America/New_York?
        if pair.suggestion is not None and zone_problem(first).suggestion is None:
            raise ParseError(pair.reason, DAILY_EXAMPLE)
    if looks_like_zone(first) or not _close_assets(first, known):
        raise ParseError(zone_problem(first).reason, DAILY_EXAMPLE)
    return None, 0  # a typo of an asset: parse_assets names the close ones


def _refuse_misplaced_zone(word: str, known: set[str]) -> None:
    """A zone among the assets: say where it goes instead of "unknown asset"."""
    if word.startswith(("$", "#")) or _is_asset(word, known):
        return
    try:
        zone = zone_of(word)
    except ZoneNotFound:
        return
    if zone is not None:
        raise ParseError(
            f"the timezone goes right after the time: /daily 08:00 {word[:32]} BTC ETH",
            DAILY_EXAMPLE,
        )


def _is_asset(word: str, known: set[str]) -> bool:
    symbol = word.strip().lstrip("$#").upper()
    if symbol in known:
        return True
    try:
        return parse_idea(word).asset in known
    except ParseError:
        return False


def _close_assets(word: str, known: set[str]) -> tuple[str, ...]:
    symbol = word.strip().lstrip("$#").upper()
    return tuple(difflib.get_close_matches(symbol, sorted(known), n=3, cutoff=0.5))


def next_run(now: datetime, daily_time: str, tz: str) -> datetime:
    """The next time the summary fires after `now`, in the chat's timezone (DST-aware)."""
    zone = ZoneInfo(tz)
    local_now = now.astimezone(zone)
    hour, minute = (int(p) for p in daily_time.split(":"))
    day = local_now.date()
    for _ in range(3):
        # built from wall-clock parts, so the offset is the one valid on that day
        candidate = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
        if candidate > local_now:
            return candidate
        day += timedelta(days=1)
    raise AssertionError("unreachable: a daily time recurs within three days")


def summary_headline(row: SummaryRow) -> ChartHeadline | None:
    """The summary chart's title line: the regime of the row's worse side (long on a tie)."""
    known = [s for s in (row.long, row.short) if s is not None]
    if not known:
        return None
    worse = max(known, key=lambda s: (level_rank(s.level), -known.index(s)))
    return ChartHeadline(
        worse.level, worse.caution_flags, side=worse.side, unknown_flags=worse.unknown_flags
    )


def chart_pick(rows: list[SummaryRow]) -> str | None:
    """The asset the summary's chart shows: the most stressed, the first listed on a tie."""
    ranked = [r for r in rows if r.result is not None]
    if not ranked:
        return None
    return max(ranked, key=lambda r: (level_rank(r.regime), -rows.index(r))).asset


# ---- scheduling ------------------------------------------------------------------------------


def job_name(chat_id: int) -> str:
    """The JobQueue name of a chat's summary job (one per chat, replaced on change)."""
    return f"daily:{chat_id}"


def unschedule(app: App, chat_id: int) -> None:
    """Remove a chat's summary job, if any."""
    if app.job_queue is None:
        return
    for job in app.job_queue.get_jobs_by_name(job_name(chat_id)):
        job.schedule_removal()


def schedule(app: App, chat: ChatSettings) -> None:
    """(Re)schedule a chat's summary at its local time every day; unschedule when off."""
    unschedule(app, chat.chat_id)
    if app.job_queue is None or chat.daily_time is None:
        return
    hour, minute = (int(p) for p in chat.daily_time.split(":"))
    app.job_queue.run_daily(
        daily_job,
        time=dtime(hour, minute, tzinfo=ZoneInfo(chat.tz)),
        chat_id=chat.chat_id,
        name=job_name(chat.chat_id),
    )


def missed_today(chat: ChatSettings, now: datetime) -> bool:
    """True when today's summary time (local) has passed and it was set before that time."""
    if chat.daily_time is None:
        return False
    zone = ZoneInfo(chat.tz)
    local_now = now.astimezone(zone)
    hour, minute = (int(p) for p in chat.daily_time.split(":"))
    due = datetime(local_now.year, local_now.month, local_now.day, hour, minute, tzinfo=zone)
    if due > local_now:
        return False
    return chat.daily_set_ms is None or chat.daily_set_ms < due.timestamp() * 1000


def day_prefix(chat: ChatSettings, now: datetime) -> str:
    """The outbox key prefix of every summary of a chat's local day."""
    local_day = now.astimezone(ZoneInfo(chat.tz)).date().isoformat()
    return f"daily:{chat.chat_id}:{local_day}:"


async def restore_schedules(app: App) -> int:
    """Reschedule every chat's summary from the store and catch up today's missed ones.

    A summary is caught up once: when its time passed today (the chat's local day) while
    the bot was down and no summary of that chat went out today.
    """
    bd = app.bot_data
    chats = await bd.store.run(bd.users.daily_chats)
    now = bd.clock()
    caught_up = 0
    for chat in chats:
        schedule(app, chat)
        if not missed_today(chat, now) or app.job_queue is None:
            continue
        if await bd.store.run(bd.users.has_message_like, day_prefix(chat, now)):
            continue
        app.job_queue.run_once(
            catch_up_job, 0, chat_id=chat.chat_id, name=f"daily-catch-up:{chat.chat_id}"
        )
        caught_up += 1
    log.info("daily summaries scheduled for %d chats, %d caught up", len(chats), caught_up)
    if chats:
        await warm_charts()
    return caught_up


async def warm_charts() -> None:
    """Import matplotlib now, off the event loop, when summaries are scheduled: the first
    summary of the day (fifty groups at 08:00) then does not wait ~0.5 s for it."""
    await asyncio.to_thread(importlib.import_module, "matplotlib.backends.backend_agg")


def move_schedule(app: App, chat: ChatSettings | None, old_chat_id: int) -> None:
    """A chat moved to a new id (group → supergroup): its summary job follows it."""
    unschedule(app, old_chat_id)
    if chat is not None:
        schedule(app, chat)


# ---- the summary -----------------------------------------------------------------------------


async def summary_rows(bd: BotData, assets: tuple[str, ...]) -> list[SummaryRow]:
    """Grade every asset of a watchlist (both sides at 1x), concurrently."""
    th = bd.settings.thresholds

    async def one(asset: str) -> SummaryRow:
        try:
            result = await bd.service.market(asset)
        except PreflightError as e:
            log.warning("daily summary: %s unavailable: %s", asset, e)
            return SummaryRow(asset, None, None, None, "calm", render("problem", "text", error=e))
        stresses = stress_by_side(result, th)
        if not any(s.known for s in stresses.values()):
            # missing data is never shown as calm
            error = render("groups", "text", kind="no_flag_data")
            return SummaryRow(asset, None, None, None, "calm", error)
        return SummaryRow(
            asset, result, stresses.get("long"), stresses.get("short"), regime(stresses)
        )

    return list(await asyncio.gather(*(one(a) for a in assets)))


async def build_summary(
    bd: BotData,
    chat: ChatSettings,
    now: datetime,
    text_ready: Callable[[Draft], Awaitable[None]] | None = None,
) -> list[Draft]:
    """The summary text and its chart for one chat, as outbox drafts (deduped per day).

    `text_ready` is given the text's draft as soon as it is built, before the chart is
    drawn (the text can then be on its way while the chart renders)."""
    assets = chat.watchlist or bd.settings.summary_assets
    rows = await summary_rows(bd, assets)
    zone = ZoneInfo(chat.tz)
    pick = chart_pick(rows)
    now_ms = int(now.timestamp() * 1000)
    # the header gives the data's time, never today's date over older data (a replay)
    oldest = min(
        (r.result for r in rows if r.result is not None), key=lambda r: r.asof, default=None
    )
    shown = datetime.fromtimestamp(oldest.asof / 1000, zone) if oldest else now.astimezone(zone)
    text = render(
        "daily",
        local_time=shown.strftime("%a %d %b %Y, %H:%M"),
        tz=chat.tz,
        rows=[_row_ctx(r) for r in rows],
        chart_asset=pick,
        data=oldest,
        now=now_ms,
    )
    key = summary_key(chat, now)
    drafts = [Draft(f"{key}:text", chat.chat_id, text, chat.thread_id)]
    if text_ready is not None:
        await text_ready(drafts[0])
    if pick is not None:
        try:
            asof, data = await bd.service.asset_state(pick)
        except PreflightError as e:
            log.warning("daily chart of %s unavailable: %s", pick, e)
            return drafts
        th = bd.settings.thresholds
        headline = summary_headline(next(r for r in rows if r.asset == pick))
        # rendered once per asset and data time, off the event loop, whatever the number of
        # groups due at this minute: the others wait for that render and get its bytes
        png = await asyncio.to_thread(bd.charts.png, data, asof, headline=headline, thresholds=th)
        caption = render(
            "chart_caption",
            asset=pick,
            window="7d",
            windows=WINDOWS,
            asof=asof,
            data=data,
            now=now_ms,
            most_stressed=True,
        )
        drafts.append(
            Draft(f"{key}:chart", chat.chat_id, caption, chat.thread_id, kind="photo", photo=png)
        )
    return drafts


def summary_key(chat: ChatSettings, now: datetime) -> str:
    """The outbox key of a chat's summary: one per chat, local day and time of day."""
    return f"{day_prefix(chat, now)}{chat.daily_time}"


def _row_ctx(row: SummaryRow) -> dict[str, object]:
    return {
        "asset": row.asset,
        "error": row.error,
        "m": row.result.market if row.result is not None else None,
        "long": row.long,
        "short": row.short,
        "regime": row.regime,
    }


async def daily_job(context: Context) -> None:
    """Post a chat's daily summary (the JobQueue callback; reads the app's clock)."""
    job = context.job
    if job is None or job.chat_id is None:
        return
    await post_summary(context.bot_data, job.chat_id, False)


async def catch_up_job(context: Context) -> None:
    """Post a summary missed while the bot was down, unless one went out today after all."""
    job = context.job
    if job is None or job.chat_id is None:
        return
    await post_summary(context.bot_data, job.chat_id, True)


async def post_summary(bd: BotData, chat_id: int, catching_up: bool) -> None:
    """Queue today's summary of a chat once (its text's key is per day), then deliver."""
    store, users = bd.store, bd.users
    chat = await store.run(users.chat, chat_id)
    if chat is None or not chat.daily_on:
        return
    now = bd.clock()
    # a job that fires twice on one day (a restart at that minute) posts once; a catch-up
    # posts nothing when any summary of the chat went out today
    done = day_prefix(chat, now) if catching_up else summary_key(chat, now) + ":text"
    if await store.run(users.has_message_like, done):
        log.info("daily summary for %d already queued today", chat.chat_id)
    else:
        sending: list[asyncio.Future[Any]] = []

        async def text_ready(draft: Draft) -> None:
            # the text goes out while the chart renders (it is queued first, so the chat
            # still gets the text, then its chart)
            await store.run(users.enqueue, [draft])
            sending.append(asyncio.ensure_future(bd.broadcaster.drain()))

        # cut at shutdown while grading; a summary not queued yet is caught up at start
        async with bd.summary_turns:
            drafts = await bd.lifecycle.guard(build_summary(bd, chat, now, text_ready))
        if drafts is not None:
            await store.run(users.enqueue, drafts)  # the text's key is already queued
        await asyncio.gather(*sending)
        if drafts is None:
            return
    await bd.broadcaster.drain()


# ---- commands --------------------------------------------------------------------------------


async def daily_command(update: Update, context: Context) -> None:
    """Show, set or stop the chat's daily summary (changing it in a group: admins only)."""
    message, chat = update.effective_message, update.effective_chat
    assert message is not None and chat is not None
    bd = context.bot_data
    store, users = bd.store, bd.users
    args = context.args or []
    if not args:
        await message.reply_text(_settings_text(bd, await store.run(users.chat, chat.id)))
        return
    if not await may_change_settings(update, context):
        await message.reply_text(render("groups", kind="admins_only", what="summary"))
        return
    if args[0].lower() == "off":
        current = await store.run(users.daily_off, chat.id)
        unschedule(context.application, chat.id)
        await message.reply_text(render("groups", kind="daily_off", chat=current))
        return
    try:
        request = parse_daily(args, bd.service.known_assets())
    except PreflightError as e:
        await message.reply_text(problem(as_source_says(context, e), usage=DAILY_USAGE))
        return
    tz = request.tz
    if tz is None and not is_group(update) and await store.run(users.chat, chat.id) is None:
        # a first /daily in a private chat without a zone: the one in the user's /settings
        user = update.effective_user
        defaults = await defaults_for(update, context, user.id if user else None)
        tz = defaults.tz if defaults is not None else None
    saved = await store.run(
        users.set_daily,
        chat.id,
        chat.type,
        request.daily_time,
        tz,
        request.assets,
        topic_of(message),
    )
    schedule(context.application, saved)
    await message.reply_text(_settings_text(bd, saved, just_set=True))


async def watch_command(update: Update, context: Context) -> None:
    """Set the assets the chat's daily summary covers (in a group: admins only)."""
    message, chat = update.effective_message, update.effective_chat
    assert message is not None and chat is not None
    bd = context.bot_data
    if not context.args:
        err = ParseError("name the assets to watch", WATCH_EXAMPLE)
        await message.reply_text(render("problem", error=err))
        return
    if not await may_change_settings(update, context):
        await message.reply_text(render("groups", kind="admins_only", what="summary"))
        return
    try:
        assets = parse_assets(context.args, bd.service.known_assets(), WATCH_EXAMPLE)
    except PreflightError as e:
        await message.reply_text(problem(as_source_says(context, e), usage=WATCH_USAGE))
        return
    saved = await bd.store.run(bd.users.set_watchlist, chat.id, chat.type, assets)
    await message.reply_text(_settings_text(bd, saved, just_set=True))


def _settings_text(bd: BotData, chat: ChatSettings | None, just_set: bool = False) -> str:
    defaults = bd.settings.summary_assets
    upcoming = None
    if chat is not None and chat.daily_time is not None:
        now = bd.clock()
        upcoming = next_run(now, chat.daily_time, chat.tz).strftime("%a %d %b %H:%M %Z")
    return render(
        "groups",
        kind="daily_settings",
        chat=chat,
        assets=(chat.watchlist if chat and chat.watchlist else defaults),
        upcoming=upcoming,
        just_set=just_set,
    )
