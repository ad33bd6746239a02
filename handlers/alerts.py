"""Stress warnings: /subscribe, /unsubscribe, /subscriptions, the Subscribe button, the watcher.

The watcher polls each subscribed asset once per interval, however many chats follow it,
folds the poll into each side's streak, and queues an alert for every subscriber whose last
notified level no longer holds (signals.stress decides). The alerts and the new notified
levels are written in one transaction before anything is sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from telegram import CallbackQuery, Message, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes, filters

from handlers import buttons, groups
from handlers.common import SERVICE, SETTINGS, answer_quietly, rate_limited, service, settings
from handlers.daily import parse_assets
from settings import Settings
from signals.errors import ParseError, PreflightError
from signals.grade import CheckResult
from signals.idea import parse_idea
from signals.service import CheckService
from signals.stress import Alert, Level, decide, observe, stress_by_side
from signals.userdata import Draft, NotifiedUpdate, Subscription, UserData
from templates import render, render_check

log = logging.getLogger(__name__)

SUBSCRIBE_EXAMPLE = "/subscribe ETH long"
UNSUBSCRIBE_EXAMPLE = "/unsubscribe ETH"
MAX_ASSETS_PER_CHAT = 20
WATCHER_JOB = "stress-watcher"
# callback_data of the /check button under an alert: "ac:ETH long"
ALERT_CHECK = "ac:"
_SIDE_WORDS = {"long": ("long",), "short": ("short",), "both": ("long", "short")}


@dataclass(frozen=True)
class PollOutcome:
    """What one poll of one asset did."""

    asset: str
    alerts: int
    queued: int


# ---- the watcher -----------------------------------------------------------------------------


async def poll_asset(
    checks: CheckService, userdata: UserData, cfg: Settings, asset: str, poll_ms: int
) -> PollOutcome:
    """Fetch one asset once, update each side's streak and queue every subscriber's alert."""
    result = await checks.market(asset)
    th = cfg.thresholds
    stresses = stress_by_side(result, th)
    previous = userdata.observations(asset)
    seen = {side: observe(previous.get(side), s) for side, s in stresses.items()}
    due: dict[int, tuple[int | None, list[Alert]]] = {}
    notified: list[NotifiedUpdate] = []
    for sub in userdata.subscribers(asset):
        observation = seen.get(sub.side)
        if observation is None:
            continue
        alert = decide(sub.side, sub.notified_level, sub.notified_flags, observation)
        if alert is None:
            continue
        due.setdefault(sub.chat_id, (sub.thread_id, []))[1].append(alert)
        notified.append(
            NotifiedUpdate(sub.chat_id, asset, sub.side, alert.new_level, alert.caution_flags)
        )
    drafts = _alert_drafts(result, due, poll_ms)
    queued = userdata.commit_poll(asset, result.asof, seen, notified, drafts)
    return PollOutcome(asset, len(notified), queued)


def _alert_drafts(
    result: CheckResult, due: dict[int, tuple[int | None, list[Alert]]], poll_ms: int
) -> list[Draft]:
    # thousands of subscribers share a handful of distinct alerts: render each once
    rendered: dict[tuple[Alert, ...], tuple[str, list[list[dict[str, str]]]]] = {}
    drafts = []
    for chat_id, (thread_id, alerts) in due.items():
        key = tuple(alerts)
        if key not in rendered:
            text = render(
                "alert", asset=result.asset, alerts=alerts, m=result.market, asof=result.asof
            )
            rendered[key] = (text, _alert_buttons(result.asset, alerts))
        text, rows = rendered[key]
        # the transition is part of the key: two alerts of one poll time never collide
        sides = "+".join(f"{a.side}:{a.old_level}>{a.new_level}" for a in alerts)
        drafts.append(
            Draft(
                f"alert:{chat_id}:{result.asset}:{sides}:{poll_ms}",
                chat_id,
                text,
                thread_id,
                buttons=rows,
            )
        )
    return drafts


def _alert_buttons(asset: str, alerts: Sequence[Alert]) -> list[list[dict[str, str]]]:
    side = alerts[0].side if len(alerts) == 1 else None
    words = f"{asset} {side}" if side else asset
    label = render("groups", "text", kind="check_button", words=words)
    return [[{"text": label, "callback_data": ALERT_CHECK + words}]]


async def poll_all(app: Application) -> list[PollOutcome]:  # type: ignore[type-arg]
    """One watcher round: every subscribed asset once (concurrently), then deliver."""
    userdata: UserData = app.bot_data[groups.USERS]
    checks: CheckService = app.bot_data[SERVICE]
    cfg: Settings = app.bot_data[SETTINGS]
    poll_ms = int(groups.clock_of(app.bot_data)().timestamp() * 1000)

    async def one(asset: str) -> PollOutcome | None:
        try:
            return await poll_asset(checks, userdata, cfg, asset, poll_ms)
        except PreflightError as e:
            # a failed fetch leaves every streak as it was: the next poll decides
            log.warning("watcher: %s skipped this round: %s", asset, e)
            return None

    outcomes = await asyncio.gather(*(one(a) for a in userdata.subscribed_assets()))
    await app.bot_data[groups.BROADCASTER].drain()
    # sent messages are kept a week for the record, then pruned
    userdata.prune_outbox(poll_ms - 7 * 24 * 3600 * 1000)
    return [o for o in outcomes if o is not None]


async def watcher_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """The JobQueue callback of the watcher."""
    await poll_all(context.application)


async def start(app: Application) -> None:  # type: ignore[type-arg]
    """Start the watcher: one repeating job, first run one interval after start-up."""
    if app.job_queue is None:
        log.warning(
            "no JobQueue: stress warnings are off (install python-telegram-bot[job-queue])"
        )
        return
    interval = timedelta(seconds=app.bot_data[SETTINGS].warn_interval_s)
    for job in app.job_queue.get_jobs_by_name(WATCHER_JOB):
        job.schedule_removal()
    app.job_queue.run_repeating(watcher_job, interval=interval, first=interval, name=WATCHER_JOB)


# ---- commands --------------------------------------------------------------------------------


def parse_subscribe(args: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """`ETH [long|short|both]` (either order) → (asset word, sides); ParseError otherwise."""
    words = [a for a in args if a.strip()]
    sides = [w for w in words if w.lower() in _SIDE_WORDS]
    others = [w for w in words if w.lower() not in _SIDE_WORDS]
    if len(others) != 1 or len(sides) > 1:
        raise ParseError("name one asset, and optionally long, short or both", SUBSCRIBE_EXAMPLE)
    side_word = sides[0].lower() if sides else "both"
    return others[0], _SIDE_WORDS[side_word]


async def subscribe_chat(
    context: ContextTypes.DEFAULT_TYPE,
    chat_id: int,
    asset_word: str,
    sides: tuple[str, ...],
    thread_id: int | None,
) -> str:
    """Subscribe a chat starting from the current levels; return the reply text."""
    [asset] = parse_assets([asset_word], service(context).known_assets(), SUBSCRIBE_EXAMPLE)
    userdata = groups.users(context)
    held = {s.asset for s in userdata.subscriptions(chat_id)}
    if asset not in held and len(held) >= MAX_ASSETS_PER_CHAT:
        return render("groups", kind="too_many", limit=MAX_ASSETS_PER_CHAT)
    result = await service(context).market(asset)
    th = settings(context).thresholds
    stresses = stress_by_side(result, th)
    levels: dict[str, tuple[Level, tuple[str, ...]]] = {
        side: (stresses[side].level, stresses[side].caution_flags)
        for side in sides
        if side in stresses
    }
    subs = userdata.subscribe(chat_id, asset, levels, thread_id)
    return render(
        "groups",
        kind="subscribed",
        asset=asset,
        sides=[stresses[s] for s in sides if s in stresses],
        subs=subs,
        interval_min=max(1, round(settings(context).warn_interval_s / 60)),
    )


async def subscribe_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Subscribe this chat to stress warnings for an asset."""
    message, chat = update.effective_message, update.effective_chat
    assert message is not None and chat is not None
    try:
        asset_word, sides = parse_subscribe(context.args or [])
        text = await subscribe_chat(context, chat.id, asset_word, sides, groups.topic_of(message))
    except PreflightError as e:
        text = render("problem", error=e)
    await message.reply_text(text)


async def unsubscribe_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stop warnings for one asset, or all."""
    message, chat = update.effective_message, update.effective_chat
    assert message is not None and chat is not None
    args = context.args or []
    if len(args) != 1:
        err = ParseError("name one asset, or all", UNSUBSCRIBE_EXAMPLE)
        await message.reply_text(render("problem", error=err))
        return
    userdata = groups.users(context)
    if args[0].lower() == "all":
        removed = userdata.unsubscribe(chat.id)
        asset = None
    else:
        try:
            asset = _asset_of(args[0])
        except ParseError as e:
            await message.reply_text(render("problem", error=e))
            return
        removed = userdata.unsubscribe(chat.id, asset)
    await message.reply_text(
        render(
            "groups",
            kind="unsubscribed",
            asset=asset,
            removed=removed,
            subs=_grouped(userdata.subscriptions(chat.id)),
        )
    )


def _asset_of(word: str) -> str:
    # no known-asset check: an asset that vanished from the venues can still be dropped
    return parse_assets([word], set(), UNSUBSCRIBE_EXAMPLE)[0]


async def subscriptions_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List this chat's subscriptions and the level last notified for each."""
    message, chat = update.effective_message, update.effective_chat
    assert message is not None and chat is not None
    subs = groups.users(context).subscriptions(chat.id)
    await message.reply_text(render("groups", kind="subscriptions", subs=_grouped(subs)))


def _grouped(subs: list[Subscription]) -> list[dict[str, object]]:
    by_asset: dict[str, list[Subscription]] = {}
    for sub in subs:
        by_asset.setdefault(sub.asset, []).append(sub)
    return [{"asset": asset, "sides": sides} for asset, sides in by_asset.items()]


async def subscribe_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The Subscribe button under a check or dashboard: both sides of its asset."""
    query = update.callback_query
    assert query is not None and query.data is not None
    chat_id, thread_id = _where(query)
    asset_word = query.data[len(buttons.SUBSCRIBE) :]
    try:
        text = await subscribe_chat(context, chat_id, asset_word, ("long", "short"), thread_id)
    except PreflightError as e:
        await answer_quietly(query, render("problem", "text", error=e)[:200], show_alert=True)
        return
    await answer_quietly(
        query, render("groups", "text", kind="subscribed_short", asset=asset_word.upper())
    )
    await context.bot.send_message(chat_id, text, message_thread_id=thread_id)


async def alert_check_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The Check button under an alert: grade that asset (and side) now, as a new message."""
    query = update.callback_query
    assert query is not None and query.data is not None
    wait_s = rate_limited(context, query.from_user.id)
    if wait_s is not None:
        await answer_quietly(
            query,
            render("groups", "text", kind="slow_down", wait_s=wait_s),
            show_alert=True,
        )
        return
    try:
        idea = parse_idea(query.data[len(ALERT_CHECK) :])
        result = await service(context).check(idea)
    except PreflightError as e:
        await answer_quietly(query, render("problem", "text", error=e)[:200], show_alert=True)
        return
    await answer_quietly(query)
    chat_id, thread_id = _where(query)
    await context.bot.send_message(
        chat_id,
        render_check(result, "html", settings(context).thresholds),
        message_thread_id=thread_id,
        reply_markup=buttons.check_keyboard(idea),
    )


def _where(query: CallbackQuery) -> tuple[int, int | None]:
    """The chat and forum topic a button was pressed in."""
    message = query.message
    if message is None:
        return query.from_user.id, None
    if isinstance(message, Message):
        return message.chat.id, groups.topic_of(message)
    return message.chat.id, None  # too old to read: its chat is still known


def register(app: Application) -> None:  # type: ignore[type-arg]
    """Add the subscription commands and buttons."""
    new_messages = filters.UpdateType.MESSAGE
    app.add_handler(CommandHandler("subscribe", subscribe_command, filters=new_messages))
    app.add_handler(CommandHandler("unsubscribe", unsubscribe_command, filters=new_messages))
    app.add_handler(CommandHandler("subscriptions", subscriptions_command, filters=new_messages))
    app.add_handler(CallbackQueryHandler(subscribe_button, pattern=f"^{buttons.SUBSCRIBE}"))
    app.add_handler(CallbackQueryHandler(alert_check_button, pattern=f"^{ALERT_CHECK}"))
