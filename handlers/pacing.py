"""Our flood limiter for every Bot API call: paced below Telegram's limits, never dropped.

It replaces PTB's AIORateLimiter, which lets a whole second's allowance out at once and
then sends at the cap (more than the cap in a strict one-second window) and gives up after
a few 429s. Here:

- a call that produces a message (send…, edit…, copy…, forward…) to a chat first waits for
  that chat's turn — in a group at most MARGIN × 20 in any minute and CHAT_BURST in
  CHAT_BURST seconds; in a private chat that last rule for broadcasts only — and only then
  for a global slot, MARGIN × 30 a second evenly spaced. A chat waiting on its own limit
  holds nothing another chat needs; one chat's calls go out one at a time, in order.
- global slots go to replies first and to broadcast sends (`rate_limit_args=BULK`) after,
  each in arrival order, so a reply overtakes a queued broadcast. Slots are one gap apart
  on a schedule, and never more than MARGIN × 30 are released in any second.
- a 429 pauses that group (from a private chat: every chat, as it means the global limit)
  for `retry_after`, and the same call is made again. Nothing is dropped.
- `stop_bulk()` (SIGTERM) ends every waiting broadcast send at once with SendingStopped
  (the message stays in the outbox); `stop()` ends every waiting call.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import math
import time
import warnings
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter, TelegramError
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Callback = Callable[..., Coroutine[Any, Any, Any]]

BULK = "bulk"
# pace this far below each of Telegram's published limits: its exact algorithm is unknown,
# and the slack absorbs network jitter (at 30/s, 24/s leaves 3 messages, ~125 ms, of it
# even against a Telegram 10% stricter than published)
MARGIN = 0.8
# a chat may get this many messages back to back, then about one a second
CHAT_BURST = 3
CHAT_BURST_S = 3.0
# how late a wake-up may be caught up at once (the event loop sleeps in whole milliseconds)
CATCH_UP_S = 0.002
# chats remembered at once; idle ones are forgotten past this
MAX_CHATS = 10_000
_PACED = ("send", "edit", "copy", "forward")
_UNPACED = frozenset({"sendChatAction"})


class SendingStopped(TelegramError):
    """The bot is stopping: this call was not made (a broadcast stays in the outbox)."""

    def __init__(self) -> None:
        super().__init__("sending stopped: the bot is shutting down")


@dataclass
class _Chat:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    recent: deque[float] = field(default_factory=deque)  # send times, oldest first
    paused_until: float = 0.0


def retry_after_s(error: RetryAfter) -> float:
    """Telegram's `retry_after` in seconds (PTB 22 warns it will become a timedelta)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _is_group(key: int | str) -> bool:
    # groups and channels have negative ids; a string chat id is a public @username
    return isinstance(key, str) or key < 0


class FloodPacer(BaseRateLimiter[str]):
    """Paces every Bot API call below Telegram's flood limits and retries every 429."""

    def __init__(
        self,
        per_second: float = 30.0,
        per_group_minute: float = 20.0,
        *,
        group_window_s: float = 60.0,
        chat_burst_s: float = CHAT_BURST_S,
        margin: float = MARGIN,
        clock: Clock = time.monotonic,
    ) -> None:
        self.global_gap = 1.0 / (per_second * margin)
        self.group_limit = max(1, math.floor(per_group_minute * margin))
        # both windows can be scaled down together (tests run "a minute" in seconds)
        self.group_window_s = group_window_s
        self.chat_burst_s = chat_burst_s
        self.clock = clock
        self.retried = 0  # 429s seen (and retried)
        # the global schedule: the next slot, and release times in the last second. The
        # per-second cap is one over the schedule's own rate: it only stops catch-ups from
        # bunching and never slows the schedule (at 30/s: 24 a second, at most 25 in one)
        self.per_window = max(1, math.floor(per_second * margin)) + 1
        self._credit_s = CATCH_UP_S
        self._next_slot = -math.inf
        self._released: deque[float] = deque()
        self._paused_until = 0.0
        # (priority, arrival, future, bulk): replies (0) before broadcasts (1)
        self._waiting: list[tuple[int, int, asyncio.Future[None], bool]] = []
        self._seq = 0
        self._dispatcher: asyncio.Task[None] | None = None
        self._chats: dict[int | str, _Chat] = {}
        self._bulk_stopped = False
        self._stopped = False
        self._bulk_wake = asyncio.Event()
        self._all_wake = asyncio.Event()

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """End every waiting call (the Bot is shutting down)."""
        self.stop()

    def stop_bulk(self) -> None:
        """Stop broadcast sends now: waiting ones raise SendingStopped, replies go on."""
        self._bulk_stopped = True
        self._bulk_wake.set()
        self._release(bulk_only=True)

    def stop(self) -> None:
        """Stop every call: waiting ones raise SendingStopped, new ones are refused."""
        self._stopped = self._bulk_stopped = True
        self._bulk_wake.set()
        self._all_wake.set()
        self._release(bulk_only=False)

    def _release(self, bulk_only: bool) -> None:
        kept = []
        for entry in self._waiting:
            waiter, bulk = entry[2], entry[3]
            if bulk or not bulk_only:
                if not waiter.done():
                    waiter.set_exception(SendingStopped())
            else:
                kept.append(entry)
        heapq.heapify(kept)
        self._waiting = kept

    @property
    def stopped(self) -> bool:
        """True once stop() was called."""
        return self._stopped

    async def process_request(
        self,
        callback: Callback,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: str | None,
    ) -> Any:
        """Make the call when its chat and the global limit allow; retry it after any 429."""
        bulk = rate_limit_args == BULK
        key = _chat_key(data.get("chat_id"))
        if key is None or not endpoint.startswith(_PACED) or endpoint in _UNPACED:
            return await self._unpaced(callback, args, kwargs, bulk)
        chat = self._chat(key)
        async with chat.lock:
            while True:
                await self._chat_turn(chat, key, bulk)
                await self._global_turn(bulk)
                chat.recent.append(self.clock())
                try:
                    return await callback(*args, **kwargs)
                except RetryAfter as e:
                    self._on_429(key, chat, retry_after_s(e))

    async def _unpaced(
        self, callback: Callback, args: Any, kwargs: dict[str, Any], bulk: bool
    ) -> Any:
        while True:
            self._check(bulk)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as e:
                self.retried += 1
                await self._sleep(retry_after_s(e), bulk)

    async def _chat_turn(self, chat: _Chat, key: int | str, bulk: bool) -> None:
        """Wait (holding no global slot) until this chat may get one more message."""
        group = _is_group(key)
        while True:
            self._check(bulk)
            now = self.clock()
            window = self.group_window_s if group else self.chat_burst_s
            while chat.recent and chat.recent[0] <= now - window:
                chat.recent.popleft()
            ready = chat.paused_until
            # about one a second per chat: always in groups; in a private chat for
            # broadcasts (a reply there is limited by the global rate only, as in Telegram)
            if (group or bulk) and len(chat.recent) >= CHAT_BURST:
                ready = max(ready, chat.recent[-CHAT_BURST] + self.chat_burst_s)
            if group and len(chat.recent) >= self.group_limit:
                ready = max(ready, chat.recent[-self.group_limit] + self.group_window_s)
            if ready <= now:
                return
            await self._sleep(ready - now, bulk)

    async def _global_turn(self, bulk: bool) -> None:
        """Wait for a global slot: replies first, then broadcasts, each in arrival order."""
        self._check(bulk)
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seq += 1
        heapq.heappush(self._waiting, (1 if bulk else 0, self._seq, waiter, bulk))
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.create_task(self._dispatch())
        await waiter

    async def _dispatch(self) -> None:
        """Release waiters one gap apart, never more than the cap in any second.

        Slots follow a schedule, so a wake-up that comes late (the event loop sleeps in
        whole milliseconds) lets the waiters it delayed out at once — at most CATCH_UP_S
        worth, and never past `per_window` in the last second.
        """
        while self._waiting:
            now = self.clock()
            while self._released and self._released[0] <= now - 1.0:
                self._released.popleft()
            ready = max(self._next_slot, self._paused_until)
            if len(self._released) >= self.per_window:
                ready = max(ready, self._released[0] + 1.0)
            if ready > now:
                await asyncio.sleep(ready - now)
                continue
            _, _, waiter, _ = heapq.heappop(self._waiting)
            if waiter.done():
                continue
            waiter.set_result(None)
            self._released.append(now)
            # late wake-ups catch up, but idle time earns no burst beyond the credit
            self._next_slot = max(self._next_slot + self.global_gap, now - self._credit_s)

    def _on_429(self, key: int | str, chat: _Chat, seconds: float) -> None:
        self.retried += 1
        until = self.clock() + seconds
        if _is_group(key):
            chat.paused_until = max(chat.paused_until, until)
            log.warning("429 from Telegram for chat %s: it waits %.1fs, then again", key, seconds)
        else:
            self._paused_until = max(self._paused_until, until)
            log.warning("429 from Telegram: every chat waits %.1fs, then again", seconds)

    async def _sleep(self, seconds: float, bulk: bool) -> None:
        """Sleep, waking early (with SendingStopped) when sending stops."""
        self._check(bulk)
        wake = self._bulk_wake if bulk else self._all_wake
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=max(0.0, seconds))
        self._check(bulk)

    def _check(self, bulk: bool) -> None:
        if self._stopped or (bulk and self._bulk_stopped):
            raise SendingStopped

    def _chat(self, key: int | str) -> _Chat:
        chat = self._chats.get(key)
        if chat is None:
            if len(self._chats) >= MAX_CHATS:
                self._forget_idle()
            chat = self._chats[key] = _Chat()
        return chat

    def _forget_idle(self) -> None:
        now = self.clock()
        self._chats = {
            key: chat
            for key, chat in self._chats.items()
            if chat.lock.locked()
            or chat.paused_until > now
            or (chat.recent and chat.recent[-1] > now - self.group_window_s)
        }


def _chat_key(chat_id: object) -> int | str | None:
    if chat_id is None:
        return None
    if isinstance(chat_id, int):
        return chat_id
    text = str(chat_id)
    return int(text) if text.lstrip("-").isdigit() else text
