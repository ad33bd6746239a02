"""The Telegram layer's one wiring table: how the Application is built, who handles what (in
order), and every start and stop step (in order). Nothing registers itself at import time.

Read top to bottom:
- `build_application`: HTML defaults, our flood pacer, per-chat update queues, typed state.
- `register`: every handler, by handler group, in the order they are tried.
- `post_init`: the start-up steps — the one Store, the service, the track record, user data,
  broadcaster, menu, schedules (and today's missed summaries), watcher, track-record jobs,
  outbox resume, and the start-up heap frozen out of the cyclic GC.
- `begin_stop` (at SIGTERM/SIGINT), `post_stop`, `post_shutdown`: the stop steps.
- `run`: long polling until a signal, with start-up failures surfacing before any log line.

Handlers do four things: parse, await one service call, render a template, reply.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from typing import Any

from telegram import LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    Defaults,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import BaseRequest

import templates
from handlers import (
    alerts,
    buttons,
    charts,
    checks,
    commands,
    daily,
    errors,
    gate,
    groups,
    inline,
    track,
)
from handlers import settings as user_settings  # not the top-level `settings` (Settings)
from handlers.broadcast import Broadcaster
from handlers.context import CONTEXT_TYPES, App, Context, Running
from handlers.pacing import FloodPacer, SendingStopped
from handlers.updates import ChatQueues
from settings import Settings
from signals.service import CheckService
from signals.store import Store
from signals.userdata import UserData

log = logging.getLogger(__name__)

ALLOWED_UPDATES = Update.ALL_TYPES
OUTBOX_RESUME_JOB = "outbox-resume"


# ---- the Application -------------------------------------------------------------------------


def build_application(
    settings: Settings,
    *,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    pacer: FloodPacer | None = None,
    rate_limiter: bool = True,
) -> App:
    """Build the Application: HTML replies, our pacer, per-chat update queues, typed state."""
    defaults = Defaults(
        parse_mode=ParseMode.HTML,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
        # a check whose asker deleted the message still gets its answer
        allow_sending_without_reply=True,
    )
    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = (
        ApplicationBuilder()
        .token(settings.require_token())
        .defaults(defaults)
        .context_types(CONTEXT_TYPES)
        # each chat's updates queue behind that chat only: one flooded group holds no one up
        .concurrent_updates(ChatQueues())
        .post_init(post_init)
        .post_stop(post_stop)
        .post_shutdown(post_shutdown)
    )
    if rate_limiter:
        # one pacer for every call the bot makes, replies and broadcasts alike
        builder = builder.rate_limiter(
            pacer or FloodPacer(settings.broadcast_per_second, settings.broadcast_per_group_minute)
        )
    if settings.telegram_api_base_url:
        builder = builder.base_url(settings.telegram_api_base_url).base_file_url(
            file_url_for(settings.telegram_api_base_url)
        )
    if request is not None:
        builder = builder.request(request)
    if get_updates_request is not None:
        builder = builder.get_updates_request(get_updates_request)
    app: App = builder.build()
    app.bot_data.configure(settings)
    return app


def file_url_for(base_url: str) -> str:
    """The file URL of a Bot API server: `http://host:8081/bot` → `http://host:8081/file/bot`."""
    root = base_url.rstrip("/").removesuffix("/bot")
    return f"{root}/file/bot"


# ---- who handles what ------------------------------------------------------------------------


def register(app: App) -> None:
    """Add every handler. Note: order matters — within a group the first match wins."""
    new_messages = filters.UpdateType.MESSAGE
    private = filters.ChatType.PRIVATE

    # group -2: a basic group upgraded to a supergroup moves its settings before anything
    app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, groups.on_migrate), group=-2)
    # group -1: every request counts against its sender's budget; past it, nothing below runs
    app.add_handler(TypeHandler(Update, gate.budget_gate), group=-1)

    # group 0 — commands (a command for another bot is never matched: CommandHandler checks)
    def command(name: str, callback: Any) -> None:
        app.add_handler(CommandHandler(name, callback, filters=new_messages))

    command("start", commands.start)
    command("help", commands.help_command)
    command("rules", commands.rules)
    command("check", checks.check_command)
    command("market", checks.market_command)
    command("chart", charts.chart_command)
    command("daily", daily.daily_command)
    command("watch", daily.watch_command)
    command("subscribe", alerts.subscribe_command)
    command("unsubscribe", alerts.unsubscribe_command)
    command("subscriptions", alerts.subscriptions_command)
    command("settings", user_settings.settings_command)
    command("track", track.track_command)

    # buttons, by the prefix of their data (handlers/buttons.py has the format)
    def button(prefix: str, callback: Any) -> None:
        app.add_handler(CallbackQueryHandler(callback, pattern=f"^{prefix}"))

    button(buttons.ALERT_CHECK, alerts.alert_check_button)  # "ac:" before any "a…" prefix
    button(buttons.REFRESH, buttons.refresh_check)
    button(buttons.FLIP, buttons.flip_check)
    button(buttons.DETAILS, buttons.details_check)
    button(buttons.LESS, buttons.less_check)
    button(buttons.MARKET_REFRESH, buttons.refresh_market)
    button(buttons.SUBSCRIBE, alerts.subscribe_button)
    # any other button (an older version's) is answered, so the client stops spinning
    app.add_handler(CallbackQueryHandler(buttons.outdated_button))

    # inline mode: `@Bot eth long 5x` in any chat (switched on with BotFather's /setinline)
    app.add_handler(InlineQueryHandler(inline.inline_query))

    # a grade shared through inline mode comes back as a message "via" the bot: not an idea
    typed = new_messages & ~filters.VIA_BOT
    # a photo whose caption is an idea is graded like a message
    app.add_handler(MessageHandler(filters.CAPTION & typed, checks.check_caption))
    # free text in a private chat is an idea: after every command, so it never shadows one
    app.add_handler(
        MessageHandler(filters.TEXT & ~filters.COMMAND & private & typed, checks.check_text)
    )
    # any command nobody took: a pointer to /help. Keep last: new commands go above.
    app.add_handler(MessageHandler(filters.COMMAND & new_messages, commands.unknown_command))

    # errors: log first, then the admin chat, then a short word to the user
    app.add_error_handler(errors.on_error)


# ---- start -----------------------------------------------------------------------------------


async def post_init(app: App) -> None:
    """The start-up steps, in order (run after the bot's token was checked with getMe)."""
    bd = app.bot_data
    settings = bd.settings
    # 1. the one Store of the process, checked and migrated (StoreError: one line, exit)
    store = await asyncio.to_thread(Store, settings.store_path, verify=True)
    # 2. the market service (snapshot or venues) and the liquidation collector
    service = CheckService(settings, store=store)
    started = False
    try:
        await service.start(collect=settings.collect_liquidations)
        started = True
    finally:
        if not started:  # e.g. a broken snapshot: nothing else was opened yet
            await asyncio.to_thread(store.close)
    # 2b. the track record on the same Store and request policy, its stored records loaded; a
    #     check of a watched asset carries its line from here on
    track_records = track.track_service(settings, store, service)
    await track_records.start()
    service.track = track_records.book
    # 3. user data and the broadcaster, on the same Store; hooks for chats that move or go
    users = UserData(store, clock=lambda: bd.clock().timestamp())

    async def moved(old: int, new: int) -> None:
        await groups.follow_move(app, old, new, move_data=False)

    broadcaster = Broadcaster(
        app.bot,
        users,
        on_chat_gone=lambda chat_id: groups.chat_gone(app, chat_id),
        on_migrated=moved,
    )
    bd.running = Running(store, service, users, broadcaster, track_records)
    # 4. the command menu; inline mode is BotFather's to switch on (/setinline)
    await app.bot.set_my_commands(commands.bot_commands())
    if not app.bot.bot.supports_inline_queries:
        log.info(
            "inline mode is off: send /setinline to @BotFather to answer @%s queries",
            app.bot.username,
        )
    # 5. every chat's daily summary, and today's that passed while the bot was down
    await daily.restore_schedules(app)
    # 6. the stress watcher: each subscribed asset's poll, spread over the interval
    await alerts.start_watcher(app)
    # 6b. the track record's jobs: the daily records of watched assets (and today's, if none
    #     was computed yet) and, live, the hourly samples of what the venues forget
    track.start_jobs(app)
    # 7. whatever the outbox still holds from before the restart
    pending = (await store.run(users.outbox_counts)).get("pending", 0)
    if pending and app.job_queue is not None:
        log.info("resuming the outbox: %d messages still queued", pending)
        app.job_queue.run_once(resume_outbox, 0, name=OUTBOX_RESUME_JOB)
    # 8. every template compiled now, not on its first use; then what start-up built
    # (modules, markets, templates) leaves the cyclic GC's view
    await asyncio.to_thread(templates.precompile)
    freeze_startup_heap()
    log.info("Preflight is up as @%s", app.bot.username)


_heap_frozen = False


def freeze_startup_heap() -> None:
    """Move everything alive after start-up out of the cyclic garbage collector's reach.

    Full collections otherwise walk the whole heap — modules, three venues' markets — and
    hold the event loop 50–70 ms whenever a burst of work (a watcher round of 10,000
    subscribers, a summary fan-out) sets one off. Frozen objects are still freed by
    reference counting; once per process (the start-up heap stays for its lifetime).
    """
    global _heap_frozen
    if _heap_frozen:
        return
    _heap_frozen = True
    gc.collect()
    gc.freeze()


async def resume_outbox(context: Context) -> None:
    """Send whatever the outbox still holds (it stops by itself when the bot stops)."""
    await context.bot_data.broadcaster.drain()


# ---- stop ------------------------------------------------------------------------------------


def begin_stop(app: App, grace_s: float | None = None) -> None:
    """The first stop step, at SIGTERM/SIGINT: stop sending within a few seconds.

    Broadcasts and background jobs stop now (the outbox keeps what is unsent for the next
    start); answers already being written get `grace_s` (PREFLIGHT_STOP_GRACE_S), then
    every call and update still running is cut. PTB's own stop follows (`run` asks it to).
    """
    bd = app.bot_data
    grace = bd.settings.stop_grace_s if grace_s is None else grace_s
    if not bd.lifecycle.stopping:
        cut = bd.lifecycle.begin_stop()
        if bd.running is not None:
            bd.running.broadcaster.stop()
        pacer = _pacer(app)
        if pacer is not None:
            pacer.stop_bulk()
        log.info(
            "stopping: broadcasts and %d background jobs stop now, answers get %gs", cut, grace
        )
    if grace <= 0:
        _cut_everything(app)
    else:
        asyncio.get_running_loop().call_later(grace, _cut_everything, app)


def _cut_everything(app: App) -> None:
    pacer = _pacer(app)
    if pacer is not None and not pacer.stopped:
        pacer.stop()
    processor = app.update_processor
    if isinstance(processor, ChatQueues):
        cut = processor.cancel_running()
        if cut:
            log.info("stopping: %d answers were cut short", cut)


def _pacer(app: App) -> FloodPacer | None:
    limiter = app.bot.rate_limiter
    return limiter if isinstance(limiter, FloodPacer) else None


async def post_stop(app: App) -> None:
    """After PTB stopped fetching updates and its jobs: nothing is sent from here on."""
    _cut_everything(app)


async def post_shutdown(app: App) -> None:
    """The last stop steps: the collector and the service, then the one Store."""
    bd = app.bot_data
    running, bd.running = bd.running, None
    if running is None:
        return
    if running.track is not None:
        await running.track.aclose()
    await running.service.close()
    await asyncio.to_thread(running.store.close)


# ---- run -------------------------------------------------------------------------------------


def run(app: App) -> None:
    """Long-poll until SIGTERM/SIGINT, then stop within a few seconds (`begin_stop`).

    The token is checked (getMe) before post_init, so a wrong token or no network fails
    before anything is opened or logged; those errors propagate to bot.py as they are.
    """
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    signals = 0

    def on_signal() -> None:
        nonlocal signals
        signals += 1
        begin_stop(app, grace_s=0 if signals > 1 else None)  # a second signal: no grace
        app.stop_running()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    initialized = False
    try:
        loop.run_until_complete(app.initialize())
        initialized = True
        # a signal during start-up (a redeploy) stops sending: the start-up call it cuts
        # (getMe, setMyCommands) ends start-up as a requested stop, not as a failure; PTB
        # has shut down what post_init opened by the time it propagates
        app.run_polling(allowed_updates=ALLOWED_UPDATES, stop_signals=None, close_loop=True)
    except SendingStopped:
        if not signals:
            raise
        log.info("stopped during start-up, as asked")
    finally:
        if not initialized:
            loop.close()
