"""Stress-warning fan-out: 10,000 subscribers to one asset, through Telegram's flood limits.

The real path end to end: the watcher polls ETH once from a snapshot that just turned
stressed, queues one alert per subscriber in the store's outbox, and the broadcaster sends
them over HTTP to the fake Bot API on 127.0.0.1, which enforces Telegram's limits (about
30 messages/s overall, 20/min per group) and answers excess with 429 retry_after.

Prints delivered messages per second ÷ the configured global cap (goal ≥ 0.9) and the number
of 429s (goal 0). The default run is the real cap, 30/s: 10,000 messages take ~5.5 minutes.

    .venv/bin/python benchmarks/bench_broadcast.py              # 10,000 at 30/s (~6 min)
    .venv/bin/python benchmarks/bench_broadcast.py --quick      # 2,000 at 100/s (~25 s)
    .venv/bin/python benchmarks/bench_broadcast.py --subscribers 500 --cap 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from telegram import Bot
from telegram.request import HTTPXRequest

from handlers.alerts import poll_asset
from handlers.broadcast import Broadcaster
from signals.service import CheckService
from signals.snapshot import DEMO_PATH
from signals.store import Store
from signals.userdata import UserData
from tests.helpers.fake_botapi import DEFAULT_TOKEN
from tests.helpers.groups_api import GroupsBotAPI
from tests.helpers.telegram import bot_settings

GOAL_RATIO = 0.9


def write_market(path: Path, eth_like: str) -> None:
    """The demo snapshot with ETH's inputs replaced by another asset's (BTC calm, SOL stress)."""
    doc = json.loads(DEMO_PATH.read_text(encoding="utf-8"))
    doc["assets"]["ETH"] = doc["assets"][eth_like]
    path.write_text(json.dumps(doc), encoding="utf-8")


async def bench(subscribers: int, cap: float, per_group_minute: float) -> dict[str, float]:
    """Subscribe `subscribers` private chats to ETH, stress it, deliver; return the figures."""
    api = GroupsBotAPI()
    api.enforce_flood_limits(per_second=cap, per_group_minute=per_group_minute)
    await api.start()
    with tempfile.TemporaryDirectory() as tmp:
        snapshot = Path(tmp) / "snapshot.json"
        write_market(snapshot, "BTC")
        settings = replace(
            bot_settings(Path(tmp)),
            snapshot_path=str(snapshot),
            broadcast_per_second=cap,
            broadcast_per_group_minute=per_group_minute,
        )
        users = UserData(Store(settings.store_path))
        chats = [api.private_chat(api.user(f"T{i}")).id for i in range(subscribers)]
        for chat_id in chats:
            users.subscribe(chat_id, "ETH", {"long": ("calm", ()), "short": ("calm", ())}, None)
        service = CheckService(settings)
        await service.start()
        write_market(snapshot, "SOL")

        started = time.monotonic()
        outcome = await poll_asset(service, users, settings, "ETH", int(time.time() * 1000))
        queued_s = time.monotonic() - started

        request = HTTPXRequest(connection_pool_size=64)
        async with Bot(DEFAULT_TOKEN, base_url=api.base_url, request=request) as bot:
            broadcaster = Broadcaster(bot, users, cap, per_group_minute)
            report = await broadcaster.drain()
        await service.close()
        await api.close()

        once_each = all(len(api.bot_messages(api.chats[chat_id])) == 1 for chat_id in chats)
        users.store.close()
    rate = report.sent / report.elapsed_s if report.elapsed_s else 0.0
    return {
        "subscribers": subscribers,
        "queued": outcome.queued,
        "queued_s": queued_s,
        "sent": report.sent,
        "elapsed_s": report.elapsed_s,
        "rate": rate,
        "ratio": rate / cap,
        "too_many_requests": api.too_many_requests,
        "retry_after_seen": report.rate_limited,
        "once_each": float(once_each),
    }


def main() -> int:
    """Run the benchmark and print its figures; exit 1 when a goal is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--cap", type=float, default=30.0, help="global messages/s")
    parser.add_argument("--per-group-minute", type=float, default=20.0)
    parser.add_argument("--quick", action="store_true", help="2,000 subscribers at 100/s")
    args = parser.parse_args()
    subscribers, cap = args.subscribers, args.cap
    if args.quick:
        subscribers, cap = 2_000, 100.0
    print(
        f"{subscribers} subscribers to ETH, global cap {cap:g} msg/s "
        f"(fake Bot API enforces {cap:g}/s and {args.per_group_minute:g}/min per group)"
    )
    r = asyncio.run(bench(subscribers, cap, args.per_group_minute))
    print(f"watcher: one ETH fetch queued {r['queued']:.0f} alerts in {r['queued_s']:.2f} s")
    print(f"delivered {r['sent']:.0f} in {r['elapsed_s']:.1f} s = {r['rate']:.2f} msg/s")
    print(f"delivered/s ÷ cap = {r['ratio']:.3f} (goal ≥ {GOAL_RATIO})")
    print(f"429 responses: {r['too_many_requests']:.0f} (goal 0)")
    print(f"every subscriber got exactly one alert: {bool(r['once_each'])}")
    ok = (
        r["ratio"] >= GOAL_RATIO
        and r["too_many_requests"] == 0
        and r["once_each"]
        and r["sent"] == subscribers
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
