"""/track: the rule's track record on an asset's own history (SPEC §9), with its chart; and the
track record's two jobs — the daily records of watched assets (the line under their checks) and
the hourly state samples that fill the history in over time (signals/track.py).

In a private chat the answer starts as a progress message ("Loading ETH's history… 12/30
requests"), edited at most every few seconds while the venues answer, then into the table; in a
group the table is sent once it is ready, as for a check.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from datetime import UTC
from datetime import time as dtime
from pathlib import Path

from telegram import Message, Update
from telegram.constants import ChatAction
from telegram.error import TelegramError

from handlers.common import (
    check_limited,
    is_group,
    problem,
    remember_progress,
    slow_down,
    take_progress,
)
from handlers.context import App, Context
from settings import Settings
from signals.backtest import (
    DEFAULT_LEVERAGE,
    SIDES,
    BacktestReport,
    BacktestRequest,
    NotEnoughHistory,
)
from signals.backtest_args import MAX_HORIZON_DAYS
from signals.errors import ParseError, PreflightError
from signals.history import HistorySource, SnapshotHistory, demo_history
from signals.idea import parse_idea
from signals.service import CheckService
from signals.snapshot import DEMO_PATH
from signals.store import Store
from signals.track import TrackService, next_hour_s, watched_assets
from templates import render

log = logging.getLogger(__name__)

TRACK_EXAMPLE = "/track ETH long 5x"
TRACK_USAGE = "track {asset} long 5x"  # the example under an asset error
DAILY_JOB = "track-record"
CATCH_UP_JOB = "track-record-catch-up"
HOURLY_JOB = "state-recorder"
# after the daily candle closed at 00:00 UTC and the venues published its numbers
DAILY_AT = dtime(0, 20, tzinfo=UTC)
# a record missing at start-up is computed this long after it (the bot answers first; the
# history lock makes a /track wait for it rather than ask the venues twice)
CATCH_UP_DELAY_S = 30.0
HOURLY_S = 3600.0
# a progress message is edited at most this often (an edit counts like a message)
PROGRESS_EDIT_S = 3.0


# ---- wiring (post_init) --------------------------------------------------------------------


def track_service(settings: Settings, store: Store, service: CheckService) -> TrackService:
    """The bot's track record: from its snapshot (or the long demo), else from the venues."""
    if settings.snapshot_path:
        path = Path(settings.snapshot_path)
        demo = path.resolve() == DEMO_PATH.resolve()
        source: HistorySource = demo_history() if demo else SnapshotHistory(path)
        return TrackService(settings, store, source)
    from signals.live_history import LiveHistory

    # the live checks' request policy: a venue cooling down is left alone by both
    live = LiveHistory(settings, store, policy=getattr(service.source, "policy", None))
    return TrackService(settings, store, live, live=live)


def start_jobs(app: App) -> None:
    """Schedule the daily track records (and a catch-up) and, live, the hourly samples."""
    queue = app.job_queue
    if queue is None:
        log.warning("no JobQueue: the daily track records and hourly samples are off")
        return
    for name in (DAILY_JOB, CATCH_UP_JOB, HOURLY_JOB):
        for job in queue.get_jobs_by_name(name):
            job.schedule_removal()
    queue.run_daily(daily_job, time=DAILY_AT, name=DAILY_JOB)
    queue.run_once(daily_job, CATCH_UP_DELAY_S, name=CATCH_UP_JOB)
    if app.bot_data.track.live is not None:
        first = next_hour_s(time.time())
        queue.run_repeating(hourly_job, interval=HOURLY_S, first=first, name=HOURLY_JOB)


# ---- jobs ----------------------------------------------------------------------------------


async def daily_job(context: Context) -> None:
    """Compute the track record of every watched asset that has none from today yet."""
    bd = context.bot_data
    assets = await bd.store.run(watched_assets, bd.users, bd.settings.summary_assets)
    for asset in assets:
        if bd.lifecycle.stopping:
            return
        if not bd.track.needs_compute(asset):
            continue
        try:
            done = await bd.lifecycle.guard(bd.track.compute(asset))
        except PreflightError as e:
            log.warning("track record of %s not computed: %s", asset, e)
            continue
        if done is not None:
            log.info("track record of %s: %d days", asset, done.days_evaluated)


async def hourly_job(context: Context) -> None:
    """Sample every watched asset's state and bring its venue series up to date."""
    bd = context.bot_data
    assets = await bd.store.run(watched_assets, bd.users, bd.settings.summary_assets)
    for asset in assets:
        if bd.lifecycle.stopping:
            return
        try:
            await bd.lifecycle.guard(bd.track.record_hour(asset, bd.service))
        except PreflightError as e:
            log.warning("hourly sample of %s skipped: %s", asset, e)


# ---- /track --------------------------------------------------------------------------------


def parse_track(args: Sequence[str]) -> BacktestRequest:
    """`/track ETH [long|short] [5x] [for 7d]` → the backtest to run; ParseError otherwise."""
    words = " ".join(args).strip()
    if not words:
        raise ParseError("Name an asset", TRACK_EXAMPLE)
    try:
        idea = parse_idea(words)
    except ParseError as e:
        raise ParseError(e.reason, TRACK_EXAMPLE) from e
    extras = [
        name
        for name, given in (
            ("an entry", idea.entry is not None),
            ("a stop", idea.stop is not None),
            ("targets", bool(idea.targets)),
            ("a risk", idea.has_risk),
            ("an account", idea.account_usd is not None),
        )
        if given
    ]
    if extras:
        raise ParseError(
            f"/track grades the rule's past days, so {' or '.join(extras)} has no place here: "
            "give an asset, and a side and leverage if you like",
            TRACK_EXAMPLE,
        )
    horizon = 7 if idea.horizon_days is None else idea.horizon_days
    if horizon != int(horizon) or not 1 <= horizon <= MAX_HORIZON_DAYS:
        raise ParseError(
            f"the track record's windows are whole days, 1 to {MAX_HORIZON_DAYS}", TRACK_EXAMPLE
        )
    return BacktestRequest(
        asset=idea.asset,
        sides=(idea.side,) if idea.side else SIDES,
        leverage=idea.leverage if idea.leverage_given else DEFAULT_LEVERAGE,
        horizon_days=int(horizon),
    )


async def track_command(update: Update, context: Context) -> None:
    """Reply with the asset's track record (a compact table) and its chart."""
    message = update.effective_message
    assert message is not None
    try:
        request = parse_track(context.args or [])
    except ParseError as e:
        await message.reply_text(render("problem", error=e))
        return
    user = update.effective_user
    wait_s = check_limited(context, user.id if user else None)
    if wait_s is not None:
        await message.reply_text(slow_down(context, wait_s))
        return
    progress: Message | None = None
    if not is_group(update):
        progress = await message.reply_text(
            render("track", what="progress", asset=request.asset, done=0, total=0)
        )
        remember_progress(context, update, progress)
    editor = ProgressEditor(progress, request.asset)
    report: BacktestReport | None = None
    try:
        report = await context.bot_data.track.report(request, editor)
        text = render("track", what="report", r=report)
    except NotEnoughHistory as e:
        text = render("track", what="not_enough", error=e)
    except PreflightError as e:
        text = problem(e, usage=TRACK_USAGE)
    finally:
        await editor.close()
    if progress is not None:
        take_progress(context, update)
        await progress.edit_text(text)
    else:
        await message.reply_text(text)
    if report is None:
        return
    from signals.backtest_chart import chart_png

    await message.reply_chat_action(ChatAction.UPLOAD_PHOTO)
    # matplotlib takes ~0.5 s of CPU: keep the event loop free for everyone else
    png = await asyncio.to_thread(chart_png, report)
    await message.reply_photo(png, caption=render("track", what="caption", r=report))


class ProgressEditor:
    """The history load's progress, edited into the progress message now and then.

    Called synchronously from inside the load; an edit runs as its own task, at most one at a
    time and one every PROGRESS_EDIT_S, never holding the load up. Best effort: a failed edit
    is logged and the next one tried.
    """

    def __init__(self, message: Message | None, asset: str, every_s: float = PROGRESS_EDIT_S):
        self.message = message
        self.asset = asset
        self.every_s = every_s
        self._last = time.monotonic()
        self._task: asyncio.Task[None] | None = None
        self._shown = ""

    def __call__(self, done: int, total: int, venue: str) -> None:
        """Note progress; edit the message if it is time and no edit is in flight."""
        if self.message is None or done >= total or done == 0:
            return
        now = time.monotonic()
        if now - self._last < self.every_s or (self._task and not self._task.done()):
            return
        text = render("track", what="progress", asset=self.asset, done=done, total=total)
        if text == self._shown:
            return
        self._last, self._shown = now, text
        self._task = asyncio.ensure_future(self._edit(self.message, text))

    async def _edit(self, message: Message, text: str) -> None:
        try:
            await message.edit_text(text)
        except TelegramError as e:
            log.info("progress edit skipped: %s", e)

    async def close(self) -> None:
        """Let an edit in flight finish before the result replaces it."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
