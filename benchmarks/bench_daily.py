"""Fifty groups' daily summaries due at the same minute, delivered through Telegram's limits.

The real summary path (handlers/daily.py `post_summary`, what each group's JobQueue job
runs): every group's watchlist graded from the live source (the fake venues in ANOTHER
process, realistic sizes, 50 ms per answer), its text and its chart queued in the outbox,
and the broadcaster sending them through the bot's FloodPacer to a fake Bot API in ANOTHER
process that is 10% stricter than the pacer's caps. All fifty jobs fire at once.

Prints, against the goals: the time until all 100 messages (50 texts, 50 charts) were
accepted (goal ≤ 5 s; note the pacer's 24 a second alone needs 4.2 s for 100), the CPU it
took, the charts rendered, the memory it added, and the longest event-loop stall (goal ≤
100 ms).

    python benchmarks/bench_daily.py [--groups 50]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing as mp
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

import handlers
import templates
from benchmarks._harness import StallMeter, VenueProcess, rss_mb, verdict
from handlers import daily
from handlers.broadcast import Broadcaster
from handlers.context import BotData, Running
from handlers.pacing import FloodPacer
from signals.service import CheckService
from signals.store import Store
from signals.userdata import UserData
from tests.helpers.fake_botapi import DEFAULT_TOKEN
from tests.helpers.groups_api import GroupsBotAPI
from tests.helpers.telegram import bot_settings

GOAL_S = 5.0
GOAL_STALL_MS = 100.0
CAP, PER_GROUP = 30.0, 20.0
STRICTER = 0.9


def fake_groups(conn: Connection, groups: int) -> None:
    """The fake Bot API with `groups` supergroups, in its own process, 10% stricter."""

    async def serve() -> None:
        api = GroupsBotAPI()
        ids = [api.group_chat(f"Desk {i}").id for i in range(groups)]
        api.enforce_flood_limits(per_second=CAP * STRICTER, per_group_minute=PER_GROUP * STRICTER)
        await api.start()
        conn.send((api.port, ids))
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        conn.send(
            {
                "too_many_requests": api.too_many_requests,
                "texts": [len(api.bot_messages(api.chats[i])) for i in ids],
                "photos": [len(api.photos_in(api.chats[i])) for i in ids],
                "failures": api.failures,
            }
        )
        await api.close()

    asyncio.run(serve())


async def bench(groups: int) -> dict[str, Any]:
    """All `groups` summaries at once; the figures."""
    parent, child = mp.Pipe()
    server = mp.Process(target=fake_groups, args=(child, groups), daemon=True)
    server.start()
    port, chat_ids = parent.recv()
    with tempfile.TemporaryDirectory() as tmp, VenueProcess(50) as venues:
        settings = replace(
            bot_settings(Path(tmp)),
            snapshot_path=None,
            venue_base_url=venues.base_url,
            collect_liquidations=False,
            broadcast_per_second=CAP,
            broadcast_per_group_minute=PER_GROUP,
        )
        store = Store(settings.store_path)
        due = datetime(2026, 5, 20, 8, 0, 5, tzinfo=UTC)
        users = UserData(store, clock=lambda: due.timestamp() - 3600)  # set an hour before
        for chat_id in chat_ids:
            users.set_daily(chat_id, "supergroup", "08:00", "UTC", None, None)
        service = CheckService(settings, store=store)
        await service.start()
        bot = ExtBot(
            DEFAULT_TOKEN,
            base_url=f"http://127.0.0.1:{port}/bot",
            request=HTTPXRequest(connection_pool_size=64),
            rate_limiter=FloodPacer(CAP, PER_GROUP),
        )
        async with bot:
            bd = BotData(clock=lambda: due)
            bd.configure(settings)
            bd.running = Running(store, service, users, Broadcaster(bot, users))
            # what post_init does before: summaries scheduled, so matplotlib is imported;
            # templates compiled; the start-up heap frozen
            if hasattr(daily, "warm_charts"):  # (older code: none of these steps)
                await daily.warm_charts()
                templates.precompile()
                handlers.freeze_startup_heap()
            meter = StallMeter()
            meter.start()
            rss0, cpu0, t0 = rss_mb(), time.process_time(), time.perf_counter()
            await asyncio.gather(*(daily.post_summary(bd, c, False) for c in chat_ids))
            await bd.broadcaster.drain()
            elapsed = time.perf_counter() - t0
            cpu = time.process_time() - cpu0
            await meter.stop()
            counts = await store.run(users.outbox_counts)
            charts = getattr(bd, "charts", None)  # (older code: no shared cache)
            renders = charts.renders if charts is not None else "not counted"
        await service.close()
        store.close()
    parent.send("stop")
    seen = parent.recv()
    server.join(timeout=10)
    return {
        "elapsed_s": elapsed,
        "cpu_s": cpu,
        "rss_mb": rss_mb() - rss0,
        "stall_ms": meter.longest_ms,
        "sent": counts.get("sent", 0),
        "renders": renders,
        **seen,
    }


def main() -> int:
    """Run and print the figures; exit 1 when a goal is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=50)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    r = asyncio.run(bench(args.groups))
    # the fake lists a chat's photos among its messages: one text and one chart each
    complete = all(t == 2 for t in r["texts"]) and all(p == 1 for p in r["photos"])
    time_ok = r["elapsed_s"] <= GOAL_S
    stall_ok = r["stall_ms"] <= GOAL_STALL_MS
    print(
        f"{args.groups} groups' summaries due at 08:00: {r['sent']} messages delivered in "
        f"{r['elapsed_s']:.2f} s (goal ≤ {GOAL_S:g} s) = {r['elapsed_s'] / GOAL_S:.2f} of the "
        f"goal  {verdict(time_ok and complete)}"
    )
    print(
        f"CPU {r['cpu_s']:.2f} s, {r['renders']} chart render(s), RSS {r['rss_mb']:+.0f} MB, "
        f"429 responses {r['too_many_requests']}, every group got its text and chart: {complete}"
    )
    print(
        f"longest event-loop stall {r['stall_ms']:.1f} ms (goal ≤ {GOAL_STALL_MS:g} ms)  "
        f"{verdict(stall_ok)}"
    )
    if r["failures"]:
        print(f"fake Bot API failures: {r['failures'][:3]}")
    ok = time_ok and stall_ok and complete and not r["failures"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
