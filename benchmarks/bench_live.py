"""Benchmark the live data source against a loopback fake exchange with fixed latency.

Prints (a) cold check wall time ÷ per-request latency (goal ≤ 2.0: markets are loaded at
start, then every data request of a check goes out at once), (b) warm (cached) check time
in ms (goal ≤ 20 ms), (c) exchange requests for 100 checks of one asset within the TTL ÷
requests of one cold check (goal 1.0).

Run: .venv/bin/python benchmarks/bench_live.py [--latency-ms 150]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from settings import Settings
from signals.live import LiveMarket
from tests.helpers.fake_exchange import Clock, FakeExchangeServer, default_scenario

ASSET = "ETH"
WARM_RUNS = 50
CHECKS = 100


async def _market(server: FakeExchangeServer, clock: Clock) -> LiveMarket:
    market = LiveMarket(Settings(), exchange_factory=server.exchange, clock=clock)
    await market.start()
    await market.ready()  # as the bot does at start-up: (a) times the data requests
    return market


async def run(latency_s: float) -> dict[str, float]:
    """Measure the three figures; return them by name."""
    scenario = default_scenario()
    server = FakeExchangeServer(scenario, latency_s=latency_s, venue_rate_limits=True)
    await server.start()
    clock = Clock(scenario.now_ms)  # frozen: every check falls within the TTLs
    try:
        market = await _market(server, clock)
        try:
            before = len(server.requests)
            t0 = time.perf_counter()
            await market.fetch_asset(ASSET)
            cold_s = time.perf_counter() - t0
            cold_requests = len(server.requests) - before
            warm = []
            for _ in range(WARM_RUNS):
                t0 = time.perf_counter()
                await market.fetch_asset(ASSET)
                warm.append(time.perf_counter() - t0)
        finally:
            await market.close()

        # a fresh process-like instance: half the checks arrive together, half one by one
        market = await _market(server, clock)
        try:
            before = len(server.requests)
            await asyncio.gather(*(market.fetch_asset(ASSET) for _ in range(CHECKS // 2)))
            for _ in range(CHECKS - CHECKS // 2):
                await market.fetch_asset(ASSET)
            many_requests = len(server.requests) - before
        finally:
            await market.close()
    finally:
        await server.close()
    return {
        "cold_ratio": cold_s / latency_s,
        "cold_s": cold_s,
        "cold_requests": cold_requests,
        "warm_ms": statistics.median(warm) * 1000,
        "warm_max_ms": max(warm) * 1000,
        "many_requests": many_requests,
        "request_ratio": many_requests / cold_requests,
    }


def main() -> None:
    """Parse the latency, run, print the figures against their goals."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=150.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    latency_s = args.latency_ms / 1000
    r = asyncio.run(run(latency_s))
    print(f"latency per request: {args.latency_ms:.0f} ms")
    print(
        f"(a) cold check: {r['cold_s'] * 1000:.0f} ms = {r['cold_ratio']:.2f} × latency "
        f"({r['cold_requests']:.0f} requests)  goal ≤ 2.0"
    )
    print(
        f"(b) warm check: median {r['warm_ms']:.2f} ms, max {r['warm_max_ms']:.2f} ms "
        f"over {WARM_RUNS} runs  goal ≤ 20 ms"
    )
    print(
        f"(c) {CHECKS} checks within the TTL: {r['many_requests']:.0f} requests ÷ "
        f"{r['cold_requests']:.0f} for one cold check = {r['request_ratio']:.2f}  goal 1.0"
    )


if __name__ == "__main__":
    main()
