"""Per-chat update queues: a busy chat waits behind itself; memory stays bounded."""

from __future__ import annotations

import asyncio
from typing import Any

from telegram import Chat, Message, Update, User

from handlers.updates import ChatQueues

BOT = User(1, "bot", is_bot=True)


def update_in(chat_id: int, update_id: int) -> Update:
    chat = Chat(chat_id, "private" if chat_id > 0 else "supergroup")
    message = Message(update_id, None, chat, from_user=User(abs(chat_id), "u", is_bot=False))  # type: ignore[arg-type]
    return Update(update_id, message=message)


class Work:
    """Update handling that waits until released, noting how many run at once."""

    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self.release = asyncio.Event()
        self.done: list[int] = []

    async def handle(self, update_id: int) -> None:
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await self.release.wait()
            self.done.append(update_id)
        finally:
            self.running -= 1


async def test_a_busy_chat_runs_a_few_at_a_time_and_holds_no_one_else_up() -> None:
    queues = ChatQueues(per_chat=4, running=256, backlog=100)
    group, other = Work(), Work()
    flood = [
        asyncio.create_task(queues.process_update(update_in(-100, n), group.handle(n)))
        for n in range(50)
    ]
    await asyncio.sleep(0.01)

    other.release.set()
    await asyncio.wait_for(queues.process_update(update_in(7, 999), other.handle(999)), 1)

    assert group.most == 4
    assert other.done == [999]
    group.release.set()
    await asyncio.gather(*flood)
    assert sorted(group.done) == list(range(50))
    assert queues._chats == {}  # nothing kept once a chat is idle


async def test_past_its_backlog_a_chat_has_further_updates_dropped(caplog: Any) -> None:
    queues = ChatQueues(per_chat=2, running=256, backlog=10)
    work = Work()
    tasks = [
        asyncio.create_task(queues.process_update(update_in(-100, n), work.handle(n)))
        for n in range(20)
    ]
    await asyncio.sleep(0.01)
    work.release.set()
    await asyncio.gather(*tasks)

    assert queues.dropped == 8  # 2 running + 10 waiting were kept
    assert len(work.done) == 12
    assert len([r for r in caplog.records if "dropping" in r.getMessage()]) == 1


async def test_cancel_running_ends_updates_still_being_answered() -> None:
    queues = ChatQueues()
    work = Work()
    tasks = [
        asyncio.create_task(queues.process_update(update_in(n, n), work.handle(n)))
        for n in range(1, 4)
    ]
    await asyncio.sleep(0.01)

    cut = queues.cancel_running()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)

    assert cut == 3
    assert all(isinstance(o, asyncio.CancelledError) for o in outcomes)
    assert work.done == []
