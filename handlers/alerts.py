"""Stress warnings: /subscribe, /unsubscribe, /subscriptions, the Subscribe button, the watcher.

The watcher polls each subscribed asset once per interval, however many chats follow it,
folds the poll into each side's observation (signals.stress: unknown flags hold their last
known state), and queues an alert for every subscriber whose last notified level no longer
holds. A side whose data is gone gets one "data unavailable" notice after
PREFLIGHT_WARN_GAP_S, never an all-clear; an all-clear quotes the numbers that cleared. The
alerts and the new notified levels are written in one transaction before anything is sent.

In a group, subscribing and unsubscribing change what the whole group receives: admins only.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from telegram import Update

from handlers.buttons import (
    ALERT_CHECK,
    SUBSCRIBE,
    CheckView,
    button_data,
    grade_view,
    query_chat,
    read_button,
    shown_key,
    view_reply,
)
from handlers.common import (
    answer_quietly,
    as_source_says,
    check_limited,
    is_group,
    may_change_settings,
    problem,
    slow_down,
    topic_of,
)
from handlers.context import App, BotData, Context
from handlers.daily import parse_assets
from signals.errors import ParseError, PreflightError, UnknownAsset
from signals.gcpause import young_collections_only
from signals.grade import CheckResult
from signals.idea import Side, TradeIdea
from signals.stress import (
    FLAG_ORDER,
    Alert,
    Level,
    Observation,
    SideStress,
    back_notice,
    data_back,
    decide,
    gap_due,
    gap_notice,
    observe,
    observe_blind,
    stress_by_side,
)
from signals.userdata import Draft, NotifiedUpdate, Subscription
from signals.words import suggestion
from templates import flag_reason, render

log = logging.getLogger(__name__)

SUBSCRIBE_EXAMPLE = "/subscribe ETH long"
UNSUBSCRIBE_EXAMPLE = "/unsubscribe ETH"
SUBSCRIBE_USAGE = "subscribe {asset} long"  # the example under an asset error
MAX_ASSETS_PER_CHAT = 20
WATCHER_JOB = "stress-watcher"
_SIDE_WORDS = {"long": ("long",), "short": ("short",), "both": ("long", "short")}
SIDES: tuple[str, ...] = ("long", "short")
# a poll with thousands of subscribers hands the event loop back this often
YIELD_EVERY = 500


@dataclass(frozen=True)
class PollOutcome:
    """What one poll of one asset did."""

    asset: str
    alerts: int
    queued: int
    blind: bool = False
    subscribers: int = -1  # how many subscriptions the poll found (-1: not counted)


@dataclass(frozen=True)
class _Seen:
    """One side at one poll: the new observation and what the poll itself showed."""

    observation: Observation
    stress: SideStress | None  # None: the fetch failed


# ---- the watcher -----------------------------------------------------------------------------


async def poll_asset(bd: BotData, asset: str, poll_ms: int) -> PollOutcome:
    """Fetch one asset once, fold it into each side's observation, queue every alert due.

    Thousands of subscribers: the loop over them hands the event loop back every
    YIELD_EVERY, and runs without full garbage collections (signals.gcpause)."""
    with young_collections_only():
        return await _poll_asset(bd, asset, poll_ms)


async def _poll_asset(bd: BotData, asset: str, poll_ms: int) -> PollOutcome:
    store, users, th = bd.store, bd.users, bd.settings.thresholds
    result: CheckResult | None
    try:
        result = await bd.service.market(asset)
        stresses = stress_by_side(result, th)
        missing = ""
    except PreflightError as e:
        # no data is no news: the sides hold their state and the gap is noted
        result, stresses, missing = None, {}, render("problem", "text", error=e)
        log.warning("watcher: no data for %s this round: %s", asset, e)
    previous = await store.run(users.observations, asset)
    seen: dict[str, _Seen] = {}
    for side in SIDES:
        stress = stresses.get(side)
        before = previous.get(side)
        if stress is not None:
            observation = observe(before, stress, poll_ms, th)
        else:
            observation = observe_blind(before, poll_ms)
        seen[side] = _Seen(observation, stress)
    gap_ms = int(bd.settings.warn_gap_s * 1000)
    due: dict[int, tuple[int | None, list[Alert]]] = {}
    notified: list[NotifiedUpdate] = []
    subscriptions = await store.run(users.subscribers, asset)
    for n, sub in enumerate(subscriptions, start=1):
        if n % YIELD_EVERY == 0:
            await asyncio.sleep(0)  # thousands of subscribers: let everyone else in between
        alert = _alert_for(sub, seen[sub.side], previous.get(sub.side), poll_ms, gap_ms)
        if alert is None:
            continue
        due.setdefault(sub.chat_id, (sub.thread_id, []))[1].append(alert)
        if alert.kind not in ("data_unavailable", "data_back"):
            notified.append(
                NotifiedUpdate(sub.chat_id, asset, sub.side, alert.new_level, alert.caution_flags)
            )
    observations = {
        side: replace(s.observation, gap_notified=True)
        if gap_due(s.observation, poll_ms, gap_ms)
        else s.observation
        for side, s in seen.items()
    }
    drafts = await _alert_drafts(bd, asset, result, missing, due, poll_ms)
    asof = result.asof if result is not None else poll_ms
    queued = await store.run(users.commit_poll, asset, asof, observations, notified, drafts)
    alerts = sum(len(a) for _, a in due.values())
    return PollOutcome(asset, alerts, queued, result is None, len(subscriptions))


def _alert_for(
    sub: Subscription,
    seen: _Seen,
    before: Observation | None,
    poll_ms: int,
    gap_ms: int,
) -> Alert | None:
    observation = seen.observation
    unknown = seen.stress.unknown_flags if seen.stress is not None else FLAG_ORDER
    alert = decide(sub.side, sub.notified_level, sub.notified_flags, observation, unknown)
    if alert is not None:
        return alert
    if gap_due(observation, poll_ms, gap_ms):
        return gap_notice(sub.side, sub.notified_level, observation)
    if data_back(before, observation) and before is not None:
        return back_notice(sub.side, sub.notified_level, sub.notified_flags, before.blind_since_ms)
    return None


async def _alert_drafts(
    bd: BotData,
    asset: str,
    result: CheckResult | None,
    missing: str,
    due: dict[int, tuple[int | None, list[Alert]]],
    poll_ms: int,
) -> list[Draft]:
    # thousands of subscribers share a handful of distinct alerts: render each once
    rendered: dict[tuple[Alert, ...], tuple[str, list[list[dict[str, str]]]]] = {}
    drafts = []
    for n, (chat_id, (thread_id, alerts)) in enumerate(due.items(), start=1):
        if n % YIELD_EVERY == 0:
            await asyncio.sleep(0)
        key = tuple(alerts)
        if key not in rendered:
            text = render(
                "alert",
                asset=asset,
                alerts=alerts,
                m=result.market if result is not None else None,
                asof=result.asof if result is not None else None,
                r=result,
                now=poll_ms,
                cleared=_cleared_reasons(bd, result, alerts),
                missing=missing,
            )
            rendered[key] = (text, _alert_buttons(asset, alerts))
        text, rows = rendered[key]
        # the transition is part of the key: two alerts of one poll time never collide
        sides = "+".join(f"{a.side}:{a.kind}:{a.old_level}>{a.new_level}" for a in alerts)
        drafts.append(
            Draft(
                f"alert:{chat_id}:{asset}:{sides}:{poll_ms}",
                chat_id,
                text,
                thread_id,
                buttons=rows,
            )
        )
    return drafts


def _cleared_reasons(
    bd: BotData, result: CheckResult | None, alerts: Sequence[Alert]
) -> dict[str, dict[str, str]]:
    """For each alert's side, the reason (with its numbers) of every flag that cleared."""
    if result is None:
        return {}
    th = bd.settings.thresholds
    graded = {g.side for g in result.grades}
    return {
        a.side: {name: flag_reason(result, a.side, name, th) for name in a.flags_removed}
        for a in alerts
        if a.side in graded
    }


def _alert_buttons(asset: str, alerts: Sequence[Alert]) -> list[list[dict[str, str]]]:
    side = alerts[0].side if len(alerts) == 1 else ""
    words = f"{asset} {side}".strip()
    label = render("groups", "text", kind="check_button", words=words)
    return [[{"text": label, "callback_data": button_data(ALERT_CHECK, asset, side)}]]


async def poll_all(app: App) -> list[PollOutcome]:
    """One watcher round: every subscribed asset once (concurrently), then deliver.

    At shutdown the polls are cut (their transactions are all or nothing); the delivery
    stops by itself after the sends in flight, so what was sent is always noted as sent.
    """
    bd = app.bot_data
    assets = await bd.store.run(bd.users.subscribed_assets)
    outcomes = await poll_assets(app, assets)
    await prune_sent(app)
    return outcomes


async def poll_assets(app: App, assets: Sequence[str]) -> list[PollOutcome]:
    """Poll these assets now (concurrently), then deliver what they queued."""
    bd = app.bot_data
    poll_ms = bd.now_ms()

    async def one(asset: str) -> PollOutcome | None:
        try:
            return await poll_asset(bd, asset, poll_ms)
        except PreflightError as e:  # the store could not be written: next round decides
            log.warning("watcher: %s skipped this round: %s", asset, e)
            return None

    async def polls() -> list[PollOutcome | None]:
        return await asyncio.gather(*(one(a) for a in assets))

    outcomes = await bd.lifecycle.guard(polls())
    if outcomes is None:
        return []
    await bd.broadcaster.drain()
    return [o for o in outcomes if o is not None]


async def prune_sent(app: App) -> None:
    """Sent messages are kept a week for the record, then pruned."""
    bd = app.bot_data
    await bd.store.run(bd.users.prune_outbox, bd.now_ms() - 7 * 24 * 3600 * 1000)


def asset_job_name(asset: str) -> str:
    """The JobQueue name of one asset's poll (one job per subscribed asset)."""
    return f"{WATCHER_JOB}:{asset}"


def poll_offset(asset: str, interval_s: float) -> float:
    """Seconds into every interval at which `asset` is polled: fixed per asset, and spread
    over the interval by its name, so a round is not one burst of venue requests and store
    work (nor one burst of alerts)."""
    return (zlib.crc32(asset.encode()) % 10_000) / 10_000 * interval_s


async def asset_job(context: Context) -> None:
    """Poll one asset (its own repeating job); the job ends when nobody follows it."""
    job = context.job
    if job is None or not isinstance(job.data, str):
        return
    outcomes = await poll_assets(context.application, [job.data])
    if outcomes and outcomes[0].subscribers == 0:
        job.schedule_removal()


async def watcher_job(context: Context) -> None:
    """Every interval: every subscribed asset has its poll scheduled; old sends pruned."""
    await schedule_polls(context.application)
    await prune_sent(context.application)


async def schedule_polls(app: App) -> None:
    """Give every subscribed asset its repeating poll, at its own offset in the interval."""
    bd = app.bot_data
    for asset in await bd.store.run(bd.users.subscribed_assets):
        follow(app, asset)


def follow(app: App, asset: str) -> None:
    """Schedule `asset`'s poll unless it has one (a new subscription, a restart)."""
    if app.job_queue is None or app.job_queue.get_jobs_by_name(asset_job_name(asset)):
        return
    interval = app.bot_data.settings.warn_interval_s
    phase = time.time() % interval
    first = (poll_offset(asset, interval) - phase) % interval
    app.job_queue.run_repeating(
        asset_job,
        interval=timedelta(seconds=interval),
        first=timedelta(seconds=first if first >= 1.0 else first + interval),
        name=asset_job_name(asset),
        data=asset,
    )


async def start_watcher(app: App) -> None:
    """Start the watcher: each subscribed asset polled once an interval, at its own offset;
    a housekeeping job every interval (new assets' polls, pruning)."""
    if app.job_queue is None:
        log.warning(
            "no JobQueue: stress warnings are off (install python-telegram-bot[job-queue])"
        )
        return
    interval = timedelta(seconds=app.bot_data.settings.warn_interval_s)
    for job in app.job_queue.jobs():
        if job.name == WATCHER_JOB or (job.name or "").startswith(f"{WATCHER_JOB}:"):
            job.schedule_removal()
    app.job_queue.run_repeating(watcher_job, interval=interval, first=interval, name=WATCHER_JOB)
    await schedule_polls(app)


# ---- commands --------------------------------------------------------------------------------


def parse_subscribe(args: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """`ETH [long] [short] [both]` (any order) → (asset word, sides); ParseError otherwise."""
    reason = "name one asset, and optionally long, short or both"
    word, sides = _asset_and_sides(args, SUBSCRIBE_EXAMPLE, reason)
    if word.lower() == "all":
        raise ParseError("one asset at a time: all is for /unsubscribe", SUBSCRIBE_EXAMPLE)
    return word, sides or SIDES


def parse_unsubscribe(args: Sequence[str]) -> tuple[str, tuple[str, ...] | None]:
    """`ETH [long|short|both]` or `all` → (asset word or "all", sides; None: every side)."""
    reason = "name one asset (and optionally long or short), or all"
    word, sides = _asset_and_sides(args, UNSUBSCRIBE_EXAMPLE, reason)
    if word.lower() == "all" and sides:
        raise ParseError("all stops every warning here: leave the side out", UNSUBSCRIBE_EXAMPLE)
    return word, (None if not sides or sides == SIDES else sides)


def _asset_and_sides(
    args: Sequence[str], example: str, reason: str
) -> tuple[str, tuple[str, ...]]:
    """The one asset word and the sides named beside it (none named: empty)."""
    words = [a for a in args if a.strip()]
    others = [w for w in words if w.lower() not in _SIDE_WORDS]
    if len(others) > 1:
        for word in others:
            meant = suggestion(word)
            if meant in _SIDE_WORDS:  # `lnog`: the side misspelt, said as /check says it
                raise ParseError(f"can't read {word[:32]!r}: did you mean {meant}?", example)
    if len(others) != 1:
        raise ParseError(reason, example)
    wanted = {side for w in words if w.lower() in _SIDE_WORDS for side in _SIDE_WORDS[w.lower()]}
    return others[0], tuple(side for side in SIDES if side in wanted)


@dataclass(frozen=True)
class Subscribed:
    """What subscribing did: the reply, and whether every side asked for was already on."""

    text: str
    asset: str
    already: bool


async def subscribe_chat(
    context: Context,
    chat_id: int,
    asset_word: str,
    sides: tuple[str, ...],
    thread_id: int | None,
) -> Subscribed:
    """Subscribe a chat starting from the current levels (sides already on stay as they are:
    their last notified level and topic are kept)."""
    bd = context.bot_data
    try:
        [asset] = parse_assets([asset_word], bd.service.known_assets(), SUBSCRIBE_EXAMPLE)
    except UnknownAsset as e:
        raise as_source_says(context, e) from e
    held = await bd.store.run(bd.users.subscriptions, chat_id)
    on = [s for s in held if s.asset == asset and s.side in sides]
    new_sides = tuple(side for side in sides if side not in {s.side for s in on})
    if not new_sides:
        text = render("groups", kind="already_subscribed", asset=asset, subs=on)
        return Subscribed(text, asset, already=True)
    held_assets = {s.asset for s in held}
    if asset not in held_assets and len(held_assets) >= MAX_ASSETS_PER_CHAT:
        text = render("groups", kind="too_many", limit=MAX_ASSETS_PER_CHAT)
        return Subscribed(text, asset, already=False)
    result = await bd.service.market(asset)
    stresses = stress_by_side(result, bd.settings.thresholds)
    levels: dict[str, tuple[Level, tuple[str, ...]]] = {
        side: (stresses[side].level, stresses[side].caution_flags)
        for side in new_sides
        if side in stresses
    }
    subs = await bd.store.run(bd.users.subscribe, chat_id, asset, levels, thread_id)
    follow(context.application, asset)  # its poll, if it is the first chat to follow it
    text = render(
        "groups",
        kind="subscribed",
        asset=asset,
        sides=[stresses[s] for s in new_sides if s in stresses],
        already=[s.side for s in on],
        subs=subs,
        interval_min=max(1, round(bd.settings.warn_interval_s / 60)),
        r=result,
        now=bd.now_ms(),
    )
    return Subscribed(text, asset, already=False)


async def subscribe_command(update: Update, context: Context) -> None:
    """Subscribe this chat to stress warnings for an asset (in a group: admins only)."""
    message, chat = update.effective_message, update.effective_chat
    assert message is not None and chat is not None
    try:
        asset_word, sides = parse_subscribe(context.args or [])
    except ParseError as e:
        await message.reply_text(render("problem", error=e))
        return
    if not await may_change_settings(update, context):
        await message.reply_text(render("groups", kind="admins_only", what="subscriptions"))
        return
    try:
        done = await subscribe_chat(context, chat.id, asset_word, sides, topic_of(message))
        text = done.text
    except PreflightError as e:
        text = problem(e, usage=SUBSCRIBE_USAGE)
    await message.reply_text(text)


async def unsubscribe_command(update: Update, context: Context) -> None:
    """Stop warnings for one asset (one side, or both), or all (in a group: admins only)."""
    message, chat = update.effective_message, update.effective_chat
    assert message is not None and chat is not None
    bd = context.bot_data
    try:
        word, sides = parse_unsubscribe(context.args or [])
    except ParseError as e:
        await message.reply_text(render("problem", error=e))
        return
    if not await may_change_settings(update, context):
        await message.reply_text(render("groups", kind="admins_only", what="subscriptions"))
        return
    held = await bd.store.run(bd.users.subscriptions, chat.id)
    asset: str | None = None
    if word.lower() != "all":
        try:
            asset = _asset_of(word, {s.asset for s in held})
        except ParseError as e:
            await message.reply_text(render("problem", error=e))
            return
    removed = await bd.store.run(bd.users.unsubscribe, chat.id, asset, sides)
    left = await bd.store.run(bd.users.subscriptions, chat.id)
    await message.reply_text(
        render(
            "groups",
            kind="unsubscribed",
            asset=asset,
            sides=sides,
            removed=removed,
            subs=_grouped(left),
        )
    )


def _asset_of(word: str, held: set[str]) -> str:
    # a symbol the chat follows is taken as it is (even ME or THE); no known-asset check
    # otherwise: an asset that vanished from the venues can still be dropped
    symbol = word.strip().lstrip("$").upper()
    if symbol in held:
        return symbol
    return parse_assets([word], set(), UNSUBSCRIBE_EXAMPLE)[0]


async def subscriptions_command(update: Update, context: Context) -> None:
    """List this chat's subscriptions and the level last notified for each."""
    message, chat = update.effective_message, update.effective_chat
    assert message is not None and chat is not None
    bd = context.bot_data
    subs = await bd.store.run(bd.users.subscriptions, chat.id)
    await message.reply_text(render("groups", kind="subscriptions", subs=_grouped(subs)))


def _grouped(subs: list[Subscription]) -> list[dict[str, object]]:
    by_asset: dict[str, list[Subscription]] = {}
    for sub in subs:
        by_asset.setdefault(sub.asset, []).append(sub)
    return [{"asset": asset, "sides": sides} for asset, sides in by_asset.items()]


async def subscribe_button(update: Update, context: Context) -> None:
    """The Subscribe button under a check or dashboard: both sides (in a group: admins only).

    Pressed again (or for a chat that already follows both sides), it says so and changes
    nothing: the levels last notified are kept.
    """
    query = update.callback_query
    assert query is not None and query.data is not None
    button = read_button(query.data)
    if button is None or button.kind != SUBSCRIBE:
        await answer_quietly(query, render("notice", "text", kind="outdated_button"))
        return
    if is_group(update) and not await may_change_settings(update, context):
        text = render("groups", "text", kind="admins_only", what="subscriptions")
        await answer_quietly(query, text, show_alert=True)
        return
    chat_id, thread_id = query_chat(query)
    try:
        done = await subscribe_chat(context, chat_id, button.asset, SIDES, thread_id)
    except PreflightError as e:
        await answer_quietly(query, problem(e, "text", usage=SUBSCRIBE_USAGE), show_alert=True)
        return
    if done.already:
        toast = render("groups", "text", kind="already_subscribed_short", asset=done.asset)
        await answer_quietly(query, toast)
        return
    toast = render("groups", "text", kind="subscribed_short", asset=done.asset)
    await answer_quietly(query, toast)
    await context.bot.send_message(chat_id, done.text, message_thread_id=thread_id)


async def alert_check_button(update: Update, context: Context) -> None:
    """The Check button under an alert: grade that asset (and side) now, as a new message."""
    query = update.callback_query
    assert query is not None and query.data is not None
    button = read_button(query.data)
    if button is None:
        await answer_quietly(query, render("notice", "text", kind="outdated_button"))
        return
    wait_s = check_limited(context, query.from_user.id)
    if wait_s is not None:
        await answer_quietly(query, slow_down(context, wait_s, fmt="text"), show_alert=True)
        return
    side: Side | None = (
        "long" if button.rest == "long" else "short" if button.rest == "short" else None
    )
    # graded like /check: completed from the presser's /settings, Details under it
    view = CheckView(TradeIdea(asset=button.asset, side=side))
    try:
        graded = await grade_view(update, context, view, query.from_user.id)
    except PreflightError as e:
        await answer_quietly(query, problem(e, "text"), show_alert=True)
        return
    await answer_quietly(query)
    chat_id, thread_id = query_chat(query)
    text, markup = await view_reply(context, graded, query.from_user.id)
    sent = await context.bot.send_message(
        chat_id, text, message_thread_id=thread_id, reply_markup=markup
    )
    context.bot_data.shown.remember(chat_id, sent.message_id, shown_key(view), graded.result)
