"""Delivery of queued broadcasts (alerts, daily summaries) within Telegram's rate limits.

Messages wait in the store's outbox until Telegram has accepted them, so a crash in the
middle of a broadcast resumes where it stopped without sending anything twice. Sends are
paced below Telegram's limits (about 30 messages per second overall, 20 per minute in a
group, one per second in a private chat); a 429 pauses every sender for `retry_after`.
A chat that blocked or removed the bot has its subscriptions and summary switched off.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import warnings
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter
from telegram.warnings import PTBDeprecationWarning

from signals.userdata import OutboxMessage, UserData

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]
ChatHook = Callable[[int], Awaitable[None]]
MigrateHook = Callable[[int, int], Awaitable[None]]

# messages a chat may receive back to back before its own rate applies (well inside
# Telegram's 20 per minute in a group; a summary is a text and a chart)
CHAT_BURST = 3
# transient failures (timeouts, resets) are retried this many times within one drain
MAX_TRANSIENT_ATTEMPTS = 3
# BadRequest texts that mean the chat is gone for good, like Forbidden
_CHAT_GONE = ("chat not found", "group chat was deactivated", "peer_id_invalid")
_THREAD_GONE = "message thread not found"


@dataclass
class DeliveryReport:
    """What one drain of the outbox did."""

    sent: int = 0
    failed: int = 0
    dropped: int = 0
    deferred: int = 0
    rate_limited: int = 0
    chats_deactivated: list[int] = field(default_factory=list)
    elapsed_s: float = 0.0


class Pacer:
    """Spaces sends: one global slot every 1/rate s, and a per-chat rate with a small burst.

    Per chat this is the generic cell-rate algorithm: a chat may run up to CHAT_BURST
    messages ahead of its rate (a summary's text and chart go out together), then waits.
    Reserving a slot never awaits, so concurrent senders each get a distinct slot. A 429
    moves every future global slot past the `retry_after` Telegram asked for.
    """

    def __init__(
        self,
        per_second: float,
        per_group_minute: float,
        per_private_second: float = 1.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.global_gap = 1.0 / per_second
        self.group_gap = 60.0 / per_group_minute
        self.private_gap = 1.0 / per_private_second
        self.clock = clock
        self.sleep = sleep
        self._next_global = 0.0
        # per chat: the theoretical time its next message is due at its sustained rate
        self._due: dict[int, float] = {}

    async def wait_turn(self, chat_id: int) -> None:
        """Wait until both this chat's and the global limit allow one more message."""
        gap = self.group_gap if chat_id < 0 else self.private_gap
        now = self.clock()
        due = self._due.get(chat_id, now)
        allowed_at = due - (CHAT_BURST - 1) * gap
        if allowed_at > now:
            # wait for the chat first: a busy group must not hold global slots meanwhile
            await self.sleep(allowed_at - now)
            now = self.clock()
        slot = max(now, self._next_global)
        self._next_global = slot + self.global_gap
        self._due[chat_id] = max(due, slot) + gap
        if slot > now:
            await self.sleep(slot - now)

    def pause(self, seconds: float) -> None:
        """Telegram said 429: nobody sends again before `seconds` from now."""
        self._next_global = max(self._next_global, self.clock() + seconds)

    def forget(self, chat_id: int) -> None:
        """Drop a chat whose rate has fully recovered (keeps the map small)."""
        if self._due.get(chat_id, 0.0) <= self.clock():
            self._due.pop(chat_id, None)


class Broadcaster:
    """Drains the outbox through the pacer with a pool of concurrent senders."""

    def __init__(
        self,
        bot: Bot,
        users: UserData,
        per_second: float,
        per_group_minute: float,
        *,
        workers: int | None = None,
        on_chat_gone: ChatHook | None = None,
        on_migrated: MigrateHook | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.bot = bot
        self.users = users
        self.pacer = Pacer(per_second, per_group_minute, clock=clock, sleep=sleep)
        # enough senders in flight to fill the rate even when Telegram answers in ~0.3 s
        self.workers = workers or max(4, min(64, math.ceil(per_second * 0.5)))
        self.on_chat_gone = on_chat_gone
        self.on_migrated = on_migrated
        self.clock = clock
        self.sleep = sleep
        self._lock = asyncio.Lock()
        self._moved: dict[int, int] = {}

    async def drain(self) -> DeliveryReport:
        """Send every pending message, each chat's in order; return what happened."""
        async with self._lock:
            report = DeliveryReport()
            started = self.clock()
            attempted: set[int] = set()
            while True:
                batch = [m for m in self.users.pending() if m.id not in attempted]
                if not batch:
                    break
                attempted.update(m.id for m in batch)
                await self._send_batch(batch, report)
            report.elapsed_s = self.clock() - started
            if report.sent or report.failed or report.dropped or report.deferred:
                log.info(
                    "broadcast: %d sent, %d failed, %d dropped, %d deferred, %d × 429 in %.1fs",
                    report.sent,
                    report.failed,
                    report.dropped,
                    report.deferred,
                    report.rate_limited,
                    report.elapsed_s,
                )
            return report

    async def _send_batch(self, batch: list[OutboxMessage], report: DeliveryReport) -> None:
        by_chat: OrderedDict[int, list[OutboxMessage]] = OrderedDict()
        for message in batch:
            by_chat.setdefault(message.chat_id, []).append(message)
        queue: asyncio.Queue[list[OutboxMessage]] = asyncio.Queue()
        for messages in by_chat.values():
            queue.put_nowait(messages)
        senders = [
            asyncio.create_task(self._sender(queue, report))
            for _ in range(min(self.workers, len(by_chat)))
        ]
        try:
            await asyncio.gather(*senders)
        finally:
            for task in senders:
                task.cancel()

    async def _sender(
        self, queue: asyncio.Queue[list[OutboxMessage]], report: DeliveryReport
    ) -> None:
        while not queue.empty():
            messages = queue.get_nowait()
            for message in messages:
                # an earlier message may have found the chat gone (its pending ones dropped)
                if not self.users.is_pending(message.id):
                    continue
                await self._deliver(message, report)
            self.pacer.forget(messages[0].chat_id)

    async def _deliver(self, message: OutboxMessage, report: DeliveryReport) -> None:
        # a chat that migrated earlier in this drain: its later messages follow it
        chat_id = self._moved.get(message.chat_id, message.chat_id)
        thread_id = message.thread_id
        transient = 0
        while True:
            await self.pacer.wait_turn(chat_id)
            try:
                sent_id = await self._send(message, chat_id, thread_id)
            except RetryAfter as e:
                report.rate_limited += 1
                wait = _retry_after_s(e)
                log.warning("429 from Telegram: every sender pauses %.1fs", wait)
                self.pacer.pause(wait)
                continue
            except ChatMigrated as e:
                log.info("chat %d became supergroup %d", chat_id, e.new_chat_id)
                self.users.migrate_chat(chat_id, e.new_chat_id)
                self._moved[chat_id] = e.new_chat_id
                if self.on_migrated is not None:
                    await self.on_migrated(chat_id, e.new_chat_id)
                chat_id = e.new_chat_id
                continue
            except Forbidden as e:
                await self._chat_gone(chat_id, str(e), report)
                return
            except BadRequest as e:
                text = str(e).lower()
                if any(gone in text for gone in _CHAT_GONE):
                    await self._chat_gone(chat_id, str(e), report)
                    return
                if _THREAD_GONE in text and thread_id is not None:
                    # the forum topic was deleted: post to the chat's general topic instead
                    thread_id = None
                    continue
                log.warning("broadcast %s to %d refused: %s", message.dedupe_key, chat_id, e)
                self.users.mark_failed(message.id, str(e))
                report.failed += 1
                return
            except NetworkError as e:  # includes TimedOut; the message stays queued
                transient += 1
                self.users.note_attempt(message.id, str(e))
                if transient >= MAX_TRANSIENT_ATTEMPTS:
                    log.warning("broadcast %s deferred after %s", message.dedupe_key, e)
                    report.deferred += 1
                    return
                await self.sleep(2.0**transient)
                continue
            self.users.mark_sent(message.id, sent_id)
            report.sent += 1
            return

    async def _send(self, message: OutboxMessage, chat_id: int, thread_id: int | None) -> int:
        markup = _markup(message.buttons)
        if message.kind == "photo":
            sent = await self.bot.send_photo(
                chat_id=chat_id,
                photo=InputFile(message.photo or b"", filename="chart.png"),
                caption=message.body,
                parse_mode=ParseMode.HTML,
                message_thread_id=thread_id,
                reply_markup=markup,
            )
        else:
            sent = await self.bot.send_message(
                chat_id=chat_id,
                text=message.body,
                parse_mode=ParseMode.HTML,
                message_thread_id=thread_id,
                reply_markup=markup,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        return sent.message_id

    async def _chat_gone(self, chat_id: int, reason: str, report: DeliveryReport) -> None:
        log.info(
            "chat %d is unreachable (%s): its warnings and summary are paused", chat_id, reason
        )
        dropped = self.users.pending_count(chat_id)
        self.users.deactivate_chat(chat_id)
        report.dropped += dropped
        report.chats_deactivated.append(chat_id)
        if self.on_chat_gone is not None:
            await self.on_chat_gone(chat_id)


def _markup(rows: list[list[dict[str, str]]]) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    b["text"], callback_data=b.get("callback_data"), url=b.get("url")
                )
                for b in row
            ]
            for row in rows
        ]
    )


def _retry_after_s(error: RetryAfter) -> float:
    with warnings.catch_warnings():
        # PTB 22 warns that the type becomes timedelta; both are handled here
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
