"""Driving the real Application in tests: in-process (`process_update`) or polling over HTTP.

`RecordingRequest` is a `BaseRequest` that hands every Bot API call to a `FakeBotAPI` without a
socket, so unit tests get the same strict, Telegram-shaped answers as the HTTP end-to-end
tests. `BotHarness` builds the application exactly as bot.py does, runs its post_init, and feeds
the fake's queued updates through `process_update`. `PollingBot` runs it against the fake's
HTTP server, long-polling like production.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from telegram import Update
from telegram.request import BaseRequest, RequestData

import handlers
from handlers.context import App
from handlers.pacing import CHAT_BURST_S, FloodPacer
from settings import Settings
from signals.snapshot import DEMO_PATH
from tests.helpers.fake_botapi import DEFAULT_TOKEN, FakeBotAPI, FakeChat, FakeUser, StoredMessage


def bot_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings for a bot grading from the demo snapshot, with a throwaway store.

    The global send rate is 1,000/s (Telegram's is 30): a test answers in milliseconds, not
    at 25 messages a second. Tests of pacing set the rates they mean (handlers/pacing.py).
    """
    base = Settings(
        telegram_bot_token=DEFAULT_TOKEN,
        snapshot_path=str(DEMO_PATH),
        store_path=str(tmp_path / "preflight.sqlite"),
        collect_liquidations=False,
        broadcast_per_second=1000.0,
    )
    return replace(base, **overrides)


def scaled_pacer(scale: float = 100.0, margin: float | None = None) -> FloodPacer:
    """Our pacer with Telegram's limits and windows run `scale` times faster.

    30/s becomes 3,000/s, "20 a minute" in a group becomes 20 in 0.6 s, "about one a second"
    per chat one every 10 ms: the same rules, so tests answer in milliseconds.
    """
    extra = {} if margin is None else {"margin": margin}
    return FloodPacer(
        30.0 * scale,
        20.0,
        group_window_s=60.0 / scale,
        chat_burst_s=CHAT_BURST_S / scale,
        **extra,
    )


class RecordingRequest(BaseRequest):
    """A BaseRequest that answers from a FakeBotAPI in-process (its `calls` record everything)."""

    def __init__(self, api: FakeBotAPI) -> None:
        self.api = api

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    @property
    def read_timeout(self) -> float:
        """PTB adds this to long-poll timeouts."""
        return 1.0

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Decode PTB's form values exactly as the HTTP server would, and answer."""
        *_, token_part, endpoint = url.split("/")
        if token_part != f"bot{self.api.token}":
            self.api.failures.append(f"request to {url!r} does not carry the bot token")
        raw = self.parameters(endpoint, request_data) if request_data is not None else {}
        status, body = await self.api.call(endpoint, raw)
        return status, json.dumps(body).encode()

    def parameters(self, endpoint: str, request_data: RequestData) -> dict[str, Any]:
        """The call's form values; uploads are a failure here (UploadingRequest takes them)."""
        if request_data.contains_files:
            self.api.failures.append(f"{endpoint}: file uploads are not faked")
        return request_data.json_parameters


class BotHarness:
    """The real Application, its updates fed through `process_update` (no sockets).

    Started and stopped with the wiring table's own steps (post_init; begin_stop, post_stop,
    post_shutdown), as `python bot.py` runs them. Its pacer is `scaled_pacer()` unless given.
    """

    request_type: type[RecordingRequest] = RecordingRequest

    def __init__(
        self,
        api: FakeBotAPI,
        settings: Settings,
        *,
        rate_limiter: bool = True,
        pacer: FloodPacer | None = None,
    ) -> None:
        self.api = api
        self.settings = settings
        self.app: App = handlers.build_application(
            settings,
            request=self.request_type(api),
            get_updates_request=self.request_type(api),
            rate_limiter=rate_limiter,
            pacer=pacer or scaled_pacer(),
        )
        handlers.register(self.app)

    async def __aenter__(self) -> Self:
        await self.app.initialize()
        await handlers.post_init(self.app)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        handlers.begin_stop(self.app, grace_s=0)
        await handlers.post_stop(self.app)
        await self.app.shutdown()
        await handlers.post_shutdown(self.app)

    async def process_next(self) -> None:
        """Process the oldest queued update to completion (handlers and error handler)."""
        update = Update.de_json(self.api.next_update(), self.app.bot)
        await self.app.process_update(update)

    async def send(
        self, chat: FakeChat, user: FakeUser, text: str, thread_id: int | None = None
    ) -> StoredMessage:
        """A user sends `text`; return their message once the bot has handled it."""
        message = self.api.user_message(chat, user, text, thread_id=thread_id)
        await self.process_next()
        return message

    async def press(self, message: StoredMessage, user: FakeUser, text: str) -> str:
        """A user presses a button; return the query id once the bot has handled it."""
        query_id = self.api.press(message, user, text)
        await self.process_next()
        return query_id


class PollingBot:
    """The real Application long-polling the fake server over HTTP, as in production.

    Its pacer is `scaled_pacer()` unless given (the chaos tests give their own).
    """

    def __init__(
        self, api: FakeBotAPI, settings: Settings, *, pacer: FloodPacer | None = None
    ) -> None:
        self.api = api
        self.app: App = handlers.build_application(
            replace(settings, telegram_api_base_url=api.base_url), pacer=pacer or scaled_pacer()
        )
        handlers.register(self.app)

    async def __aenter__(self) -> PollingBot:
        await self.app.initialize()
        await handlers.post_init(self.app)
        assert self.app.updater is not None
        await self.app.updater.start_polling(
            poll_interval=0.0, timeout=1, allowed_updates=handlers.ALLOWED_UPDATES
        )
        await self.app.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # the same steps as a SIGTERM, in the order run_polling takes them
        handlers.begin_stop(self.app, grace_s=0)
        assert self.app.updater is not None
        await self.app.updater.stop()
        await self.app.stop()
        await handlers.post_stop(self.app)
        await self.app.shutdown()
        await handlers.post_shutdown(self.app)


async def settle(api: FakeBotAPI, quiet_s: float = 0.2) -> None:
    """Wait until the bot has made no call for `quiet_s` (to assert that nothing else comes)."""
    while True:
        count = len(api.calls)
        await asyncio.sleep(quiet_s)
        if len(api.calls) == count or all(c.method == "getUpdates" for c in api.calls[count:]):
            return


async def run_job(app: App, name: str) -> None:
    """Run one scheduled job's callback now, as the JobQueue would."""
    assert app.job_queue is not None
    jobs = app.job_queue.get_jobs_by_name(name)
    assert len(jobs) == 1, f"expected one job {name!r}, found {len(jobs)}"
    await jobs[0].run(app)
