"""The bot's shared state, typed: `ContextTypes` with a `BotData` instead of string keys.

`BotData` holds what `build_application` configures (settings, clock, budgets) and what
post_init opens (`Running`: the one Store, the service, the user data, the broadcaster).
Handlers reach it as `context.bot_data.service`, `context.bot_data.users`, … — typed, with
one clear error when something is used before start-up or after shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from telegram import Message
from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot

from handlers.ratelimit import RequestBudget, SlidingWindowLimiter
from settings import Settings
from signals.chart import ChartCache

if TYPE_CHECKING:
    from handlers.broadcast import Broadcaster
    from handlers.inline import InlineAnswers
    from signals.grade import CheckResult
    from signals.service import CheckService
    from signals.store import Store
    from signals.track import TrackService
    from signals.userdata import UserData

log = logging.getLogger(__name__)

T = TypeVar("T")
Clock = Callable[[], datetime]  # aware, UTC
# progress messages remembered at once (a check's progress until it is answered)
MAX_PROGRESS = 10_000
# results on screen remembered at once, for Details / Less (a CheckResult is a few kB)
MAX_SHOWN = 2_000


def utc_now() -> datetime:
    """The real clock (tests put a fixed or ticking one in BotData.clock)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Running:
    """What post_init opened, handed to whoever needs it; closed in post_shutdown."""

    store: Store
    service: CheckService
    users: UserData
    broadcaster: Broadcaster
    # the track record (/track, its daily and hourly jobs); handlers/track.py builds it
    track: TrackService | None = None


class Progress:
    """Progress messages of updates still being answered, by update id (bounded)."""

    def __init__(self, limit: int = MAX_PROGRESS) -> None:
        self.limit = limit
        self._messages: OrderedDict[int, Message] = OrderedDict()

    def remember(self, update_id: int, message: Message) -> None:
        """Note the progress message so the error handler can turn it into a notice."""
        self._messages[update_id] = message
        while len(self._messages) > self.limit:
            self._messages.popitem(last=False)

    def take(self, update_id: int) -> Message | None:
        """Forget (and return) the progress message of an update, if one is pending."""
        return self._messages.pop(update_id, None)


class Shown:
    """Check results on screen, by chat and message: Details and Less re-render the numbers
    the message already shows instead of grading again (bounded; lost at a restart, when a
    press grades again). Each is kept under the words of the idea it graded, so a message
    whose buttons now stand for another idea never gets a stale result."""

    def __init__(self, limit: int = MAX_SHOWN) -> None:
        self.limit = limit
        self._results: OrderedDict[tuple[int, int], tuple[str, CheckResult]] = OrderedDict()

    def remember(self, chat_id: int, message_id: int, key: str, result: CheckResult) -> None:
        """Note the result a message now shows."""
        self._results[(chat_id, message_id)] = (key, result)
        self._results.move_to_end((chat_id, message_id))
        while len(self._results) > self.limit:
            self._results.popitem(last=False)

    def get(self, chat_id: int, message_id: int, key: str) -> CheckResult | None:
        """The result the message shows, if it was graded from `key` and is still held."""
        held = self._results.get((chat_id, message_id))
        if held is None or held[0] != key:
            return None
        self._results.move_to_end((chat_id, message_id))
        return held[1]


class Lifecycle:
    """Stopping: background work (jobs, drains) is cancelled at once when the bot stops."""

    def __init__(self) -> None:
        self.stopping = False
        self._tasks: set[asyncio.Task[Any]] = set()

    async def guard(self, work: Coroutine[Any, Any, T]) -> T | None:
        """Run background `work`; None when it was cut short because the bot is stopping."""
        if self.stopping:
            work.close()
            return None
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        try:
            return await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if self.stopping and (current is None or not current.cancelling()):
                return None
            raise
        finally:
            self._tasks.discard(task)

    def begin_stop(self) -> int:
        """Cancel every guarded task; return how many were running."""
        self.stopping = True
        for task in self._tasks:
            task.cancel()
        return len(self._tasks)


@dataclass
class BotData:
    """Everything the handlers share, one typed object per Application."""

    settings: Settings = field(default_factory=Settings)
    clock: Clock = utc_now
    budget: RequestBudget = field(default_factory=lambda: RequestBudget(20))
    check_limit: SlidingWindowLimiter = field(default_factory=lambda: SlidingWindowLimiter(5))
    progress: Progress = field(default_factory=Progress)
    shown: Shown = field(default_factory=Shown)
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    # one render per asset, window, data time and headline, however many ask (/chart, the
    # daily summaries)
    charts: ChartCache = field(default_factory=lambda: ChartCache(maxsize=32))
    # inline answers, kept as long as the data they rest on
    inline: InlineAnswers = field(default_factory=lambda: _inline_answers())
    # summaries due at the same minute are put together one at a time: fifty at once would
    # all resume in the same turn of the event loop and hold everyone else up
    summary_turns: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(1))
    running: Running | None = None

    def configure(self, settings: Settings) -> None:
        """Take the settings and size the budgets from them (build_application does this)."""
        self.settings = settings
        self.budget = RequestBudget(settings.user_requests_per_minute)
        self.check_limit = SlidingWindowLimiter(settings.check_rate_per_minute)

    def _started(self) -> Running:
        if self.running is None:
            raise RuntimeError("the bot's services start in post_init and close at shutdown")
        return self.running

    @property
    def store(self) -> Store:
        """The one Store of this process."""
        return self._started().store

    @property
    def service(self) -> CheckService:
        """The CheckService (market data and grading)."""
        return self._started().service

    @property
    def users(self) -> UserData:
        """Chats' settings, subscriptions, the watcher's state and the outbox."""
        return self._started().users

    @property
    def broadcaster(self) -> Broadcaster:
        """The outbox sender."""
        return self._started().broadcaster

    @property
    def track(self) -> TrackService:
        """The track record service (/track, the daily records, the hourly samples)."""
        track = self._started().track
        if track is None:
            raise RuntimeError("the track record service starts in post_init")
        return track

    def now_ms(self) -> int:
        """The application clock in epoch milliseconds."""
        return int(self.clock().timestamp() * 1000)


def _inline_answers() -> InlineAnswers:
    from handlers.inline import InlineAnswers  # handlers.inline reads BotData: no cycle

    return InlineAnswers()


Bot = ExtBot[str]
Context = CallbackContext[Bot, dict[Any, Any], dict[Any, Any], BotData]
# what `context.application` is typed as (PTB leaves its context and job queue types open)
App = Application[Bot, Any, dict[Any, Any], dict[Any, Any], BotData, Any]
Hook = Callable[[App], Awaitable[None]]
CONTEXT_TYPES: ContextTypes[Context, dict[Any, Any], dict[Any, Any], BotData] = ContextTypes(
    bot_data=BotData
)
