"""Telegram layer: builds the Application and registers every handler module, in order.

Handlers do four things: parse, await one service call, render a template, reply.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Any

from telegram import LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, Defaults
from telegram.request import BaseRequest

from handlers import alerts, buttons, checks, commands, daily, errors, groups
from handlers.common import RATE_LIMITER, SERVICE, SETTINGS
from handlers.ratelimit import SlidingWindowLimiter
from settings import Settings
from signals.service import CheckService

log = logging.getLogger(__name__)

Hook = Callable[[Application], Awaitable[None]]  # type: ignore[type-arg]

# Each module exposes register(app). Order matters: the first matching handler wins, and
# `checks` answers any bare text in private chats, so it stays last.
MODULES: list[ModuleType] = [errors, commands, buttons, groups, daily, alerts, checks]

# Async hooks run in post_init after the service started (in order), and in post_shutdown
# before the service closes (in reverse): schedulers and background services go here.
# groups opens the user store and broadcaster that daily (jobs) and alerts (watcher) use.
STARTUP_HOOKS: list[Hook] = [groups.start, daily.start, alerts.start]
SHUTDOWN_HOOKS: list[Hook] = [groups.stop]

ALLOWED_UPDATES = Update.ALL_TYPES
# Telegram retries a flood-limited call after `retry_after`; give up after this many.
MAX_FLOOD_RETRIES = 3


def build_application(
    settings: Settings,
    *,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    rate_limiter: bool = True,
) -> Application:  # type: ignore[type-arg]
    """Build the Application: HTML by default, flood-limited, service started in post_init."""
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
        # one slow exchange must not hold up everyone else's checks
        .concurrent_updates(True)
        .post_init(post_init)
        .post_shutdown(post_shutdown)
    )
    if rate_limiter:
        builder = builder.rate_limiter(
            AIORateLimiter(
                overall_max_rate=settings.broadcast_per_second,
                group_max_rate=settings.broadcast_per_group_minute,
                max_retries=MAX_FLOOD_RETRIES,
            )
        )
    if settings.telegram_api_base_url:
        builder = builder.base_url(settings.telegram_api_base_url).base_file_url(
            file_url_for(settings.telegram_api_base_url)
        )
    if request is not None:
        builder = builder.request(request)
    if get_updates_request is not None:
        builder = builder.get_updates_request(get_updates_request)
    app = builder.build()
    app.bot_data[SETTINGS] = settings
    app.bot_data[RATE_LIMITER] = SlidingWindowLimiter(settings.check_rate_per_minute)
    return app


def file_url_for(base_url: str) -> str:
    """The file URL of a Bot API server: `http://host:8081/bot` → `http://host:8081/file/bot`."""
    root = base_url.rstrip("/").removesuffix("/bot")
    return f"{root}/file/bot"


def register(app: Application) -> None:  # type: ignore[type-arg]
    """Register every handler module on the application."""
    for module in MODULES:
        module.register(app)


async def post_init(app: Application) -> None:  # type: ignore[type-arg]
    """Start the service (markets, collector), publish the command menu, run startup hooks."""
    settings: Settings = app.bot_data[SETTINGS]
    service = CheckService(settings)
    await service.start(collect=settings.collect_liquidations)
    app.bot_data[SERVICE] = service
    await app.bot.set_my_commands(commands.bot_commands())
    for hook in STARTUP_HOOKS:
        await hook(app)
    log.info("Preflight is up as @%s", app.bot.username)


async def post_shutdown(app: Application) -> None:  # type: ignore[type-arg]
    """Run shutdown hooks, then close exchanges and the store."""
    for hook in reversed(SHUTDOWN_HOOKS):
        await hook(app)
    service: CheckService | None = app.bot_data.pop(SERVICE, None)
    if service is not None:
        await service.close()
