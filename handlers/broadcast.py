"""Delivery of queued broadcasts (alerts, daily summaries) within Telegram's rate limits.

Messages wait in the store's outbox until Telegram has accepted them, so a crash in the
middle of a broadcast resumes where it stopped without sending anything twice (a kill -9
between Telegram's answer and the store's note can repeat that one message). Pacing is the
bot's FloodPacer, shared with every reply: broadcast sends go in its BULK lane, below the
limits, so replies to users overtake them, and a 429 is waited out and retried, never
dropped. A chat that blocked or removed the bot has its subscriptions and summary switched
off. `stop()` (SIGTERM) ends the drain after the sends in flight; the rest stays queued for
the next start. Every store call runs on the store's thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
)

from handlers.context import Bot
from handlers.pacing import BULK, SendingStopped, retry_after_s
from signals.store import StoreError
from signals.userdata import OutboxMessage, UserData

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]
ChatHook = Callable[[int], None]
MigrateHook = Callable[[int, int], Awaitable[None]]

# senders in flight: enough to fill 30/s when Telegram answers in ~0.3 s, few enough that a
# reply never queues behind more than a handful of broadcast slots
WORKERS = 16
# outbox rows read at a time (a summary's chart is ~100 kB)
PAGE = 500
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
    stopped: bool = False
    chats_deactivated: list[int] = field(default_factory=list)
    elapsed_s: float = 0.0


class Broadcaster:
    """Drains the outbox through the bot's pacer with a pool of concurrent senders."""

    def __init__(
        self,
        bot: Bot,
        users: UserData,
        *,
        workers: int = WORKERS,
        page: int = PAGE,
        on_chat_gone: ChatHook | None = None,
        on_migrated: MigrateHook | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.bot = bot
        self.users = users
        self.workers = workers
        self.page = page
        self.on_chat_gone = on_chat_gone
        self.on_migrated = on_migrated
        self.clock = clock
        self.sleep = sleep
        self._lock = asyncio.Lock()
        self._moved: dict[int, int] = {}
        self._gone: set[int] = set()
        # sent, but the store could not note it yet: never sent again, noted next drain
        self._unnoted: dict[int, int | None] = {}
        self._stopped = False

    def stop(self) -> None:
        """Stop after the sends in flight; what is left stays queued for the next start."""
        self._stopped = True

    async def drain(self) -> DeliveryReport:
        """Send every pending message, each chat's in order; return what happened."""
        async with self._lock:
            report = DeliveryReport()
            started = self.clock()
            self._moved.clear()
            self._gone.clear()
            try:
                await self._note_unnoted()
                after = 0
                while not self._stopped:
                    batch = await self.users.store.run(self.users.pending, self.page, after)
                    if not batch:
                        break
                    after = batch[-1].id
                    batch = [m for m in batch if m.id not in self._unnoted]
                    await self._send_batch(batch, report)
            except StoreError as e:
                log.warning("broadcast paused, the store is unavailable: %s", e)
            report.stopped = self._stopped
            report.elapsed_s = self.clock() - started
            if report.sent or report.failed or report.dropped or report.deferred:
                log.info(
                    "broadcast: %d sent, %d failed, %d dropped, %d deferred in %.1fs%s",
                    report.sent,
                    report.failed,
                    report.dropped,
                    report.deferred,
                    report.elapsed_s,
                    " (stopped: the rest stays queued)" if report.stopped else "",
                )
            return report

    async def _note_unnoted(self) -> None:
        for message_id, sent_id in list(self._unnoted.items()):
            await self.users.store.run(self.users.mark_sent, message_id, sent_id)
            del self._unnoted[message_id]

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
        while not queue.empty() and not self._stopped:
            for message in queue.get_nowait():
                if self._stopped:
                    return
                # an earlier message found the chat gone (its pending ones were dropped)
                if message.chat_id in self._gone:
                    continue
                await self._deliver(message, report)

    async def _deliver(self, message: OutboxMessage, report: DeliveryReport) -> None:
        # a chat that migrated earlier in this drain: its later messages follow it
        chat_id = self._moved.get(message.chat_id, message.chat_id)
        thread_id = message.thread_id
        transient = 0
        store, users = self.users.store, self.users
        while True:
            try:
                sent_id = await self._send(message, chat_id, thread_id)
            except SendingStopped:
                self._stopped = True
                return
            except RetryAfter as e:  # only without the pacer (it retries 429s itself)
                report.rate_limited += 1
                await self.sleep(retry_after_s(e))
                continue
            except ChatMigrated as e:
                log.info("chat %d became supergroup %d", chat_id, e.new_chat_id)
                await store.run(users.migrate_chat, chat_id, e.new_chat_id)
                self._moved[chat_id] = e.new_chat_id
                if self.on_migrated is not None:
                    await self.on_migrated(chat_id, e.new_chat_id)
                chat_id = e.new_chat_id
                continue
            except Forbidden as e:
                await self._chat_gone(message.chat_id, chat_id, str(e), report)
                return
            except BadRequest as e:
                text = str(e).lower()
                if any(gone in text for gone in _CHAT_GONE):
                    await self._chat_gone(message.chat_id, chat_id, str(e), report)
                    return
                if _THREAD_GONE in text and thread_id is not None:
                    # the forum topic was deleted: post to the chat's general topic instead
                    thread_id = None
                    continue
                log.warning("broadcast %s to %d refused: %s", message.dedupe_key, chat_id, e)
                await store.run(users.mark_failed, message.id, str(e))
                report.failed += 1
                return
            except NetworkError as e:  # includes TimedOut; the message stays queued
                transient += 1
                await store.run(users.note_attempt, message.id, str(e))
                if transient >= MAX_TRANSIENT_ATTEMPTS:
                    log.warning("broadcast %s deferred after %s", message.dedupe_key, e)
                    report.deferred += 1
                    return
                await self.sleep(2.0**transient)
                continue
            report.sent += 1
            await self._note_sent(message.id, sent_id)
            return

    async def _note_sent(self, message_id: int, sent_id: int | None) -> None:
        try:
            # shielded: Telegram has it, so the note must land even if this task is cut
            await asyncio.shield(self.users.store.run(self.users.mark_sent, message_id, sent_id))
        except StoreError as e:
            # Telegram has it: never send it again; note it when the store is back
            self._unnoted[message_id] = sent_id
            self._stopped = True
            log.warning("broadcast paused: the store cannot note what was sent: %s", e)

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
                rate_limit_args=BULK,
            )
        else:
            sent = await self.bot.send_message(
                chat_id=chat_id,
                text=message.body,
                parse_mode=ParseMode.HTML,
                message_thread_id=thread_id,
                reply_markup=markup,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                rate_limit_args=BULK,
            )
        return sent.message_id

    async def _chat_gone(
        self, queued_for: int, chat_id: int, reason: str, report: DeliveryReport
    ) -> None:
        log.info(
            "chat %d is unreachable (%s): its warnings and summary are paused", chat_id, reason
        )
        store, users = self.users.store, self.users
        dropped = await store.run(users.pending_count, chat_id)
        await store.run(users.deactivate_chat, chat_id)
        self._gone.update((queued_for, chat_id))
        report.dropped += dropped
        report.chats_deactivated.append(chat_id)
        if self.on_chat_gone is not None:
            self.on_chat_gone(chat_id)


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
