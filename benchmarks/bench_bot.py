"""Warm checks through the real Application's `process_update`: time per check, checks/s.

Each check is one user message through the whole bot: parse, rate limit, progress message,
grading from cached (snapshot) market data, rendering, and the edit — against the in-process
fake Bot API, so no network time is counted. The flood pacer is left out: it paces sending
below 30 messages/s on purpose and would measure Telegram's limit, not us; so are the
per-user limits (one user sends every check here).

    .venv/bin/python benchmarks/bench_bot.py [--checks 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helpers.fake_botapi import FakeBotAPI
from tests.helpers.telegram import BotHarness, bot_settings

IDEAS = (
    "/check ETH long 5x",
    "btc short 3x @ 100k stop 105k for 3d",
    "/check SOL long",
    "doge 2x for 36h",
)
GOAL_MEDIAN_MS = 20.0


async def bench(checks: int, warmup: int) -> dict[str, float]:
    """Run `warmup` then `checks` checks; return the timing summary in ms and checks/s."""
    api = FakeBotAPI()
    with tempfile.TemporaryDirectory() as tmp:
        settings = replace(
            bot_settings(Path(tmp)), check_rate_per_minute=10**9, user_requests_per_minute=10**9
        )
        async with BotHarness(api, settings, rate_limiter=False) as bot:
            user = api.user("Bench")
            chat = api.private_chat(user)
            for i in range(warmup):
                await bot.send(chat, user, IDEAS[i % len(IDEAS)])
            times: list[float] = []
            started = time.perf_counter()
            for i in range(checks):
                api.user_message(chat, user, IDEAS[i % len(IDEAS)])
                t0 = time.perf_counter()
                await bot.process_next()
                times.append((time.perf_counter() - t0) * 1000)
            elapsed = time.perf_counter() - started
    answered = [m for m in api.bot_messages(chat) if m.edits == 1]
    if len(answered) != warmup + checks or api.failures:
        raise SystemExit(f"bench run went wrong: {len(answered)} answers, {api.failures}")
    times.sort()
    return {
        "median_ms": statistics.median(times),
        "p95_ms": times[int(0.95 * (len(times) - 1))],
        "max_ms": times[-1],
        "checks_per_s": checks / elapsed,
    }


def main() -> int:
    """Print the figures; exit 1 when the median misses the goal."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=50)
    args = parser.parse_args()
    result = asyncio.run(bench(args.checks, args.warmup))
    print(f"warm checks through process_update: {args.checks} (after {args.warmup} warm-up)")
    print(f"median  {result['median_ms']:.2f} ms per check (goal ≤ {GOAL_MEDIAN_MS:g} ms)")
    print(f"p95     {result['p95_ms']:.2f} ms")
    print(f"max     {result['max_ms']:.2f} ms")
    print(f"rate    {result['checks_per_s']:.0f} checks/s on one core")
    return 0 if result["median_ms"] <= GOAL_MEDIAN_MS else 1


if __name__ == "__main__":
    sys.exit(main())
