"""Concurrent updates, taken per chat: a flooded chat queues behind itself, not everyone.

PTB's default processor lets any 256 updates run at once; 300 `/help` in one group, each
waiting on that group's 20-a-minute limit, then hold every slot and freeze every other
chat. Here each chat's updates wait for that chat's own turn (PER_CHAT at a time) before
they take one of the RUNNING slots, so a chat waiting on its flood limit holds at most
PER_CHAT of them. A chat with more than BACKLOG updates waiting has further ones dropped
(the sender is far past their request budget anyway) with a warning.

At shutdown `cancel_running()` ends the updates still being answered after the grace.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

log = logging.getLogger(__name__)

PER_CHAT = 4
RUNNING = 256
BACKLOG = 200
# updates held at once (waiting or running), a memory bound far above any real load
MAX_HELD = 65_536
_WARN_EVERY_S = 60.0


@dataclass
class _ChatTurns:
    turns: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(PER_CHAT))
    held: int = 0  # updates of this chat waiting or running


class ChatQueues(BaseUpdateProcessor):
    """Runs updates concurrently, each chat's behind its own turns."""

    def __init__(
        self, per_chat: int = PER_CHAT, running: int = RUNNING, backlog: int = BACKLOG
    ) -> None:
        super().__init__(max_concurrent_updates=MAX_HELD)
        self.per_chat = per_chat
        self.backlog = backlog
        self.dropped = 0
        self._running = asyncio.Semaphore(running)
        self._chats: dict[object, _ChatTurns] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._warned: dict[object, float] = {}

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for this update's chat to have a turn, then for a running slot, then run it."""
        key = _chat_of(update)
        chat = self._chats.get(key)
        if chat is None:
            chat = self._chats[key] = _ChatTurns(asyncio.Semaphore(self.per_chat))
        if chat.held >= self.backlog + self.per_chat:
            self._drop(key, coroutine)
            return
        chat.held += 1
        try:
            async with chat.turns, self._running:
                task = asyncio.current_task()
                if task is not None:
                    self._tasks.add(task)
                try:
                    await coroutine
                finally:
                    if task is not None:
                        self._tasks.discard(task)
        finally:
            chat.held -= 1
            if chat.held == 0:
                self._chats.pop(key, None)

    def cancel_running(self) -> int:
        """Cancel every update still being processed; return how many."""
        for task in self._tasks:
            task.cancel()
        return len(self._tasks)

    def _drop(self, key: object, coroutine: Awaitable[Any]) -> None:
        if inspect.iscoroutine(coroutine):
            coroutine.close()
        self.dropped += 1
        now = time.monotonic()
        if now - self._warned.get(key, -_WARN_EVERY_S) >= _WARN_EVERY_S:
            self._warned = {k: t for k, t in self._warned.items() if now - t < _WARN_EVERY_S}
            self._warned[key] = now
            log.warning("chat %s has %d updates waiting: dropping more (flood)", key, self.backlog)


def _chat_of(update: object) -> object:
    """The chat an update belongs to (its sender without a chat), None for others."""
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    if update.effective_user is not None:
        return ("user", update.effective_user.id)
    return None
