"""The flood pacer: below the cap in every window, chats apart, replies first, never dropped.

Calls go through `FloodPacer.process_request` exactly as PTB's ExtBot makes them; the
"request" is a coroutine that records when it was made (or answers 429 like Telegram). Real
time, with the limits scaled up (and the group window down) so each test takes a second.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from telegram.error import RetryAfter

from handlers import pacing
from handlers.pacing import BULK, CHAT_BURST, FloodPacer, SendingStopped

GROUP = -1001


class Telegram:
    """Records each call's time; answers the next `floods[chat]` calls for a chat with 429."""

    def __init__(self) -> None:
        self.sent: list[tuple[float, int]] = []
        self.floods: dict[int, list[float]] = {}

    async def send(self, chat_id: int) -> int:
        await asyncio.sleep(0)
        pending = self.floods.get(chat_id)
        if pending:
            raise RetryAfter(timedelta(seconds=pending.pop(0)))
        self.sent.append((time.monotonic(), chat_id))
        return len(self.sent)

    def times(self, chat_id: int | None = None) -> list[float]:
        return [t for t, c in self.sent if chat_id is None or c == chat_id]


async def call(
    pacer: FloodPacer,
    tg: Telegram,
    chat_id: int,
    bulk: bool = False,
    endpoint: str = "sendMessage",
) -> int:
    return await pacer.process_request(  # type: ignore[no-any-return]
        tg.send, (chat_id,), {}, endpoint, {"chat_id": chat_id}, BULK if bulk else None
    )


def most_in_any_window(times: list[float], window: float) -> int:
    return max(sum(1 for u in times if t <= u < t + window) for t in times)


async def test_the_global_rate_stays_below_the_cap_in_every_window() -> None:
    pacer, tg = FloodPacer(per_second=200), Telegram()

    await asyncio.gather(*(call(pacer, tg, chat) for chat in range(1, 201)))

    times = tg.times()
    assert len(times) == 200
    # slots one gap apart at 160/s: no second holds more than 160 (one more for the
    # jitter between a slot and its call), no tenth of a second much more than 16
    assert most_in_any_window(times, 1.0) <= 161
    assert most_in_any_window(times, 0.1) <= 19
    assert times[-1] - times[0] >= 199 / 160 - 0.02


async def test_a_group_gets_at_most_its_share_of_any_window_and_in_order() -> None:
    # "20 a minute" scaled to 20 in 0.3 s; the pacer allows 80% of it: 16
    pacer = FloodPacer(per_second=1000, per_group_minute=20, group_window_s=0.3, chat_burst_s=0.03)
    tg = Telegram()

    results = await asyncio.gather(*(call(pacer, tg, GROUP) for _ in range(40)))

    times = tg.times(GROUP)
    assert most_in_any_window(times, 0.3) <= 16
    assert most_in_any_window(times, 0.03) <= CHAT_BURST
    assert results == sorted(results)  # one chat's calls go out one at a time, in order


async def test_a_chat_waiting_on_its_limit_holds_no_one_else_up() -> None:
    pacer = FloodPacer(per_second=100, per_group_minute=20, group_window_s=60)
    tg = Telegram()
    flood = [asyncio.create_task(call(pacer, tg, GROUP)) for _ in range(30)]
    await asyncio.sleep(0.3)  # the group has had its 3-message burst and waits

    started = time.monotonic()
    await call(pacer, tg, 42)
    waited = time.monotonic() - started

    assert len(tg.times(GROUP)) == CHAT_BURST
    assert waited < 0.1
    for task in flood:
        task.cancel()


async def test_a_reply_overtakes_a_queued_broadcast() -> None:
    pacer, tg = FloodPacer(per_second=100), Telegram()
    broadcast = [asyncio.create_task(call(pacer, tg, chat, bulk=True)) for chat in range(1, 61)]
    await asyncio.sleep(0.1)

    await call(pacer, tg, 1000)

    order = [c for _, c in tg.sent]
    assert order.index(1000) <= 12  # only behind the sends already released (~8.5 in 0.1 s)
    await asyncio.gather(*broadcast)
    assert len(tg.sent) == 61


async def test_a_429_is_waited_out_and_retried_never_dropped() -> None:
    pacer, tg = FloodPacer(per_second=1000), Telegram()
    tg.floods[GROUP] = [0.2, 0.2]

    started = time.monotonic()
    sent_id = await call(pacer, tg, GROUP)
    waited = time.monotonic() - started

    assert sent_id == 1
    assert pacer.retried == 2
    assert waited >= 0.4


async def test_a_429_in_a_group_pauses_that_group_only() -> None:
    pacer, tg = FloodPacer(per_second=1000), Telegram()
    tg.floods[GROUP] = [0.4]
    group = asyncio.create_task(call(pacer, tg, GROUP))
    await asyncio.sleep(0.05)

    started = time.monotonic()
    await call(pacer, tg, 42)

    assert time.monotonic() - started < 0.1
    assert not group.done()
    await group


async def test_a_429_in_a_private_chat_pauses_everyone() -> None:
    pacer, tg = FloodPacer(per_second=1000), Telegram()
    tg.floods[7] = [0.3]
    first = asyncio.create_task(call(pacer, tg, 7))
    await asyncio.sleep(0.05)

    await call(pacer, tg, 8)

    await first
    assert tg.times(8)[0] >= tg.times(7)[0] - 0.01  # 8 waited out the pause too


async def test_stop_bulk_ends_waiting_broadcasts_at_once_and_replies_go_on() -> None:
    pacer, tg = FloodPacer(per_second=10), Telegram()
    broadcast = [asyncio.create_task(call(pacer, tg, chat, bulk=True)) for chat in range(1, 51)]
    await asyncio.sleep(0.15)

    started = time.monotonic()
    pacer.stop_bulk()
    outcomes = await asyncio.gather(*broadcast, return_exceptions=True)
    stopped_in = time.monotonic() - started
    await call(pacer, tg, 1000)  # a reply still goes out
    pacer.stop()

    assert stopped_in < 0.05
    assert sum(isinstance(o, SendingStopped) for o in outcomes) >= 45
    with pytest.raises(SendingStopped):
        await call(pacer, tg, 1001)


async def test_calls_that_send_nothing_are_not_paced() -> None:
    pacer, tg = FloodPacer(per_second=1), Telegram()

    started = time.monotonic()
    for _ in range(5):
        await call(pacer, tg, GROUP, endpoint="getChatMember")

    assert time.monotonic() - started < 0.1


async def test_idle_chats_are_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pacing, "MAX_CHATS", 20)
    now = [0.0]
    pacer, tg = FloodPacer(per_second=10_000, clock=lambda: now[0]), Telegram()

    for chat in range(1, 200):
        await call(pacer, tg, -chat)
        now[0] += 61.0  # each group's minute has passed before the next one

    assert len(pacer._chats) <= 20
