"""The stress watcher with 10,000 subscribers: event-loop stalls, and polls spread out.

The real watcher (handlers/alerts.py) on the real store: 10,000 private chats subscribed to
one asset (the worst case: every alert of a round comes from one poll), the market turns
stressed, the poll queues 10,000 alerts and the broadcaster starts sending them through the
bot's FloodPacer to a fake Bot API in ANOTHER process that is 10% stricter than the pacer.
A ticker in the event loop measures every stall while the poll runs and during the first
`--send-s` seconds of the delivery.

Then, with subscriptions to `--assets` assets, it prints when in the interval each asset's
poll is due (the watcher spreads them across `PREFLIGHT_WARN_INTERVAL_S`, so a round is not
one burst of requests to the venues and one burst of store work).

Goals: no stall > 50 ms; polls spread across the interval.

    python benchmarks/bench_watcher.py [--subscribers 10000] [--send-s 10] [--assets 20]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

import handlers
import templates
from benchmarks._harness import StallMeter, verdict
from benchmarks.bench_broadcast import STRICTER, fake_server, write_market
from handlers import alerts
from handlers.broadcast import Broadcaster
from handlers.context import BotData, Running
from handlers.pacing import FloodPacer
from signals.service import CheckService
from signals.store import Store
from signals.userdata import UserData
from tests.helpers.fake_botapi import DEFAULT_TOKEN
from tests.helpers.telegram import bot_settings

GOAL_STALL_MS = 50.0
CAP = 30.0


async def stalls(subscribers: int, send_s: float) -> dict[str, Any]:
    """Queue `subscribers` alerts in one poll, send for `send_s`; stalls and timings."""
    parent, child = mp.Pipe()
    server = mp.Process(
        target=fake_server, args=(child, subscribers, CAP * STRICTER, 20 * STRICTER), daemon=True
    )
    server.start()
    port, chat_ids = parent.recv()
    with tempfile.TemporaryDirectory() as tmp:
        snapshot = Path(tmp) / "snapshot.json"
        write_market(snapshot, "BTC")
        settings = replace(bot_settings(Path(tmp)), snapshot_path=str(snapshot))
        store = Store(settings.store_path)
        users = UserData(store)
        calm = {"long": ("calm", ()), "short": ("calm", ())}
        for chat_id in chat_ids[:-1]:
            users.subscribe(chat_id, "ETH", calm, None)
        service = CheckService(settings, store=store)
        await service.start()
        write_market(snapshot, "SOL")  # ETH now looks like SOL's cascade: stress
        pacer = FloodPacer(CAP, 20.0)
        bot = ExtBot(
            DEFAULT_TOKEN,
            base_url=f"http://127.0.0.1:{port}/bot",
            request=HTTPXRequest(connection_pool_size=64),
            rate_limiter=pacer,
        )
        async with bot:
            bd = BotData()
            bd.configure(settings)
            bd.running = Running(store, service, users, Broadcaster(bot, users))
            templates.precompile()  # post_init's last step, as in the bot
            handlers.freeze_startup_heap()
            meter = StallMeter()
            meter.start()
            t0 = time.perf_counter()
            outcome = await alerts.poll_asset(bd, "ETH", int(time.time() * 1000))
            poll_s = time.perf_counter() - t0
            poll_stall = meter.longest_ms
            sending = asyncio.create_task(bd.broadcaster.drain())
            await asyncio.sleep(send_s)
            bd.broadcaster.stop()
            await sending
            await meter.stop()
            sent = (await store.run(users.outbox_counts)).get("sent", 0)
        await service.close()
        store.close()
    parent.send("stop")
    parent.recv()
    server.join(timeout=10)
    return {
        "queued": outcome.queued,
        "poll_s": poll_s,
        "poll_stall_ms": poll_stall,
        "stall_ms": max(meter.lags, default=0.0) * 1000,
        "sent": sent,
    }


def spread(assets: int, interval_s: float) -> list[float]:
    """When in the interval each of `assets` subscribed assets is polled (seconds)."""
    names = [f"A{i:02d}" for i in range(assets)]
    return sorted(alerts.poll_offset(name, interval_s) for name in names)


def main() -> int:
    """Run both parts and print the figures; exit 1 when a goal is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--send-s", type=float, default=10.0)
    parser.add_argument("--assets", type=int, default=20)
    args = parser.parse_args()
    r = asyncio.run(stalls(args.subscribers, args.send_s))
    stall_ok = r["stall_ms"] <= GOAL_STALL_MS
    print(
        f"{args.subscribers:,} subscribers to ETH: one poll queued {r['queued']:,} alerts in "
        f"{r['poll_s']:.2f} s, longest event-loop stall during it {r['poll_stall_ms']:.1f} ms"
    )
    print(
        f"then {r['sent']:,} sent in {args.send_s:g} s; longest stall overall "
        f"{r['stall_ms']:.1f} ms (goal ≤ {GOAL_STALL_MS:g} ms) = "
        f"{r['stall_ms'] / GOAL_STALL_MS:.2f} of the goal  {verdict(stall_ok)}"
    )
    interval = 300.0
    offsets = spread(args.assets, interval)
    slots = len({round(o) for o in offsets})
    spread_ok = len(offsets) < 2 or (offsets[-1] - offsets[0]) >= interval / 2
    print(
        f"{args.assets} subscribed assets, interval {interval:g} s: polls due at "
        + ", ".join(f"{o:.0f}" for o in offsets)
        + f" s ({slots} distinct times)  {verdict(spread_ok)}"
    )
    return 0 if stall_ok and spread_ok else 1


if __name__ == "__main__":
    sys.exit(main())
