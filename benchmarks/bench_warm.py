"""Warm live checks through the real Application's `process_update`, a month of liquidations
in the store.

The bot is the real one (handlers, per-chat queues, rate limits set out of the way, the
live source, the one Store) with its market data from the fake venues in ANOTHER process
(`benchmarks/_harness.py`, realistic sizes, 50 ms per answer) and a store holding
`--days` of liquidation minutes for every asset checked (a month: ~64,000 minute rows per
asset, three venues, both sides, with their coverage). Each check is one user message through
the whole bot: parse, budget, progress message, the service call (venue data and store
history from the caches), grading, rendering, the edit — against the in-process fake Bot
API, so Telegram's network time is not counted (the pacer is left out for the same reason:
it paces sending below 30/s on purpose). After a warm-up, `--checks` checks are timed.

Prints the median and p95 per check against the goal (median ≤ 5 ms, p95 ≤ 15 ms) and how
many store reads and venue requests the timed checks made.

    python benchmarks/bench_warm.py [--checks 1000] [--days 30]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._harness import VenueProcess, percentile, verdict
from signals.market import DAY_MS, HOUR_MS
from signals.store import CoverageSpan, LiqMinute, Store
from tests.helpers.fake_botapi import FakeBotAPI
from tests.helpers.telegram import BotHarness, bot_settings

IDEAS = (
    "/check ETH long 5x",
    "btc short 3x @ 100k stop 105k for 3d",
    "/check SOL long",
    "doge 2x for 36h",
)
ASSETS = ("ETH", "BTC", "SOL", "DOGE")
VENUES = ("binanceusdm", "bybit", "okx")
GOAL_MEDIAN_MS = 5.0
GOAL_P95_MS = 15.0


def fill_store(path: Path, days: int, now_ms: int) -> int:
    """`days` of liquidation minutes (and their coverage) for every asset; the row count."""
    rng = random.Random(12)
    store = Store(path)
    start = now_ms - now_ms % HOUR_MS - days * DAY_MS
    rows = 0
    for asset in ASSETS:
        minutes = []
        for ts in range(start, now_ms, 60_000):
            for venue in VENUES:
                for side in ("long", "short"):
                    if rng.random() < 0.25:
                        minutes.append(LiqMinute(asset, venue, side, ts, rng.uniform(1e3, 1e6), 1))
        spans = [CoverageSpan(asset, v, start, now_ms, "stream") for v in VENUES]
        store.write_liquidations(minutes, spans)
        rows += len(minutes)
    store.close()
    return rows // len(ASSETS)


async def bench(checks: int, warmup: int, days: int) -> dict[str, Any]:
    """Run `warmup` then `checks` checks; return the timing summary and what they cost."""
    api = FakeBotAPI()
    now_ms = int(time.time() * 1000)
    with tempfile.TemporaryDirectory() as tmp, VenueProcess(50, now_ms=now_ms) as venues:
        store_path = Path(tmp) / "preflight.sqlite"
        per_asset = fill_store(store_path, days, now_ms)
        settings = replace(
            bot_settings(Path(tmp)),
            snapshot_path=None,
            store_path=str(store_path),
            venue_base_url=venues.base_url,
            collect_liquidations=False,
            check_rate_per_minute=10**9,
            user_requests_per_minute=10**9,
        )
        async with BotHarness(api, settings, rate_limiter=False) as bot:
            user = api.user("Bench")
            chat = api.private_chat(user)
            for i in range(warmup):
                await bot.send(chat, user, IDEAS[i % len(IDEAS)])
            source = bot.app.bot_data.service.source
            reads_before = getattr(source, "history_reads", None)
            await venues.areset()
            times: list[float] = []
            for i in range(checks):
                api.user_message(chat, user, IDEAS[i % len(IDEAS)])
                t0 = time.perf_counter()
                await bot.process_next()
                times.append((time.perf_counter() - t0) * 1000)
            reads = (
                source.history_reads - reads_before if reads_before is not None else "not counted"
            )
            stats = await venues.astats()
    answered = [m for m in api.bot_messages(chat) if m.edits == 1]
    if len(answered) != warmup + checks or api.failures:
        raise SystemExit(f"bench run went wrong: {len(answered)} answers, {api.failures[:3]}")
    text = answered[-1].text
    return {
        "median_ms": statistics.median(times),
        "p95_ms": percentile(times, 0.95),
        "max_ms": max(times),
        "reads": reads,
        "requests": stats["requests"],
        "rows_per_asset": per_asset,
        "sample": text.splitlines()[0] if text else "",
    }


def main() -> int:
    """Print the figures; exit 1 when a goal is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=40)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    r = asyncio.run(bench(args.checks, args.warmup, args.days))
    ok = r["median_ms"] <= GOAL_MEDIAN_MS and r["p95_ms"] <= GOAL_P95_MS
    print(
        f"warm live checks through process_update: {args.checks} after {args.warmup} warm-up; "
        f"{args.days} days of liquidations in the store ({r['rows_per_asset']:,} minute rows "
        "per asset)"
    )
    print(
        f"median {r['median_ms']:.2f} ms (goal ≤ {GOAL_MEDIAN_MS:g}) = "
        f"{r['median_ms'] / GOAL_MEDIAN_MS:.2f} of the goal"
    )
    print(
        f"p95    {r['p95_ms']:.2f} ms (goal ≤ {GOAL_P95_MS:g}) = "
        f"{r['p95_ms'] / GOAL_P95_MS:.2f} of the goal"
    )
    print(f"max    {r['max_ms']:.2f} ms")
    print(f"store reads during the timed checks: {r['reads']}; venue requests: {r['requests']}")
    print(f"last reply: {r['sample']}")
    print(verdict(ok))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
