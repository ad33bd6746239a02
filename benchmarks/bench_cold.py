"""Cold live checks against fake venues in another process, at realistic sizes and latency.

The bot's own `CheckService` (live source, a store with a week of liquidations) talks to the
fake venues (`benchmarks/_harness.py`: 600 perpetuals per venue, Deribit books of ~1,000
options) through PREFLIGHT_VENUE_BASE_URL, exactly as production talks to the venues. Markets
are loaded at start, as the bot does; then one asset is checked with nothing else cached.

Prints, per injected latency (each answer held that long):
- the whole cold check ÷ the latency, for ETH (options on Deribit) and DOGE (no options on
  any venue)  — goal ≤ 1.3 at every latency;
- requests and new TCP connections the cold check made  — goal ≤ 9 requests, connections
  reused (the markets load leaves them open; the check opens no new ones);
- the same check again once its caches have expired (emptied, not waited for) and the new
  connections it opens — goal 0: keep-alive outlives the cache;
and, at 150 ms: 10 (then 40) distinct assets checked cold at once — goal: all answered within
the check budget, no venue named down.

    python benchmarks/bench_cold.py [--latencies 50,150,400] [--crowd 10,40]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._harness import VenueProcess, verdict
from settings import Settings
from signals.errors import PreflightError
from signals.idea import TradeIdea
from signals.service import CheckService

GOAL_RATIO = 1.3
GOAL_REQUESTS = 9
ASSETS = ("ETH", "DOGE")


async def _service(venues: VenueProcess, store_path: Path) -> CheckService:
    settings = replace(
        Settings(),
        venue_base_url=venues.base_url,
        store_path=str(store_path),
        collect_liquidations=False,
    )
    service = CheckService(settings)
    await service.start()  # markets loaded (and waited for), as the bot does at start-up
    return service


async def cold_check(venues: VenueProcess, asset: str, tmp: Path) -> dict[str, Any]:
    """One cold check of `asset` on a fresh service; its time, requests and connections."""
    service = await _service(venues, tmp / f"cold-{asset}-{time.monotonic_ns()}.sqlite")
    try:
        await venues.areset()
        t0 = time.perf_counter()
        result = await service.check(TradeIdea(asset=asset, side="long", leverage=5.0))
        elapsed = time.perf_counter() - t0
        stats = await venues.astats()
        failed = dict(result.venues_failed)
        # the caches expire (emptied here rather than waited for): the next check asks
        # again, over the connections the first one left open
        await venues.areset()
        market = service.source.market  # type: ignore[attr-defined]
        market._cache._values.clear()
        market._assembled.clear()
        await service.check(TradeIdea(asset=asset, side="long", leverage=5.0))
        again = await venues.astats()
    finally:
        await service.close()
    return {
        "s": elapsed,
        "requests": stats["requests"],
        "connections": stats["connections"],
        "again_requests": again["requests"],
        "again_connections": again["connections"],
        "paths": stats["paths"],
        "failed": failed,
    }


async def crowd(venues: VenueProcess, n: int, tmp: Path, budget_s: float) -> dict[str, Any]:
    """`n` distinct assets checked cold at once on one fresh service."""
    service = await _service(venues, tmp / f"crowd-{n}.sqlite")
    assets = sorted(service.known_assets() & _data_assets())[:n]
    try:
        await venues.areset()
        t0 = time.perf_counter()

        async def one(asset: str) -> tuple[str, float, dict[str, str] | str]:
            started = time.perf_counter()
            try:
                result = await service.check(TradeIdea(asset=asset, side="long"))
            except PreflightError as e:
                return asset, time.perf_counter() - started, str(e)
            return asset, time.perf_counter() - started, _failed(result)

        outcomes = await asyncio.gather(*(one(a) for a in assets))
        elapsed = time.perf_counter() - t0
        stats = await venues.astats()
    finally:
        await service.close()
    slowest = max(s for _, s, _ in outcomes)
    failures = {a: f for a, _, f in outcomes if f}
    return {
        "n": len(assets),
        "s": elapsed,
        "slowest_s": slowest,
        "failures": failures,
        "requests": stats["requests"],
        "connections": stats["connections"],
        "within": slowest <= budget_s,
    }


def _failed(result: Any) -> dict[str, str]:
    return dict(result.venues_failed)


def _data_assets() -> set[str]:
    from tests.helpers.venues.scenario import FIRST_ASSETS

    return {*FIRST_ASSETS, *(f"C{i:03d}" for i in range(95))}


async def run(latencies: list[float], crowds: list[int]) -> bool:
    """Measure and print; True when every goal is met."""
    ok = True
    with tempfile.TemporaryDirectory() as tmp_name, VenueProcess(latencies[0]) as venues:
        tmp = Path(tmp_name)
        for latency_ms in latencies:
            venues.set_latency(latency_ms)
            for asset in ASSETS:
                r = await cold_check(venues, asset, tmp)
                ratio = r["s"] / (latency_ms / 1000)
                good = (
                    ratio <= GOAL_RATIO
                    and r["requests"] <= GOAL_REQUESTS
                    and r["again_connections"] == 0
                )
                ok &= good
                print(
                    f"{latency_ms:4.0f} ms  {asset:<5} cold check {r['s'] * 1000:6.0f} ms = "
                    f"{ratio:4.2f} × latency (goal ≤ {GOAL_RATIO}), {r['requests']} requests "
                    f"(goal ≤ {GOAL_REQUESTS}), {r['connections']} new connections; expired and "
                    f"asked again: {r['again_requests']} requests on {r['again_connections']} "
                    "new connections (goal 0)"
                    f"{'  failed: ' + str(r['failed']) if r['failed'] else ''}  "
                    f"{verdict(good)}"
                )
        venues.set_latency(150)
        budget = Settings().check_budget_s
        for n in crowds:
            r = await crowd(venues, n, tmp, budget)
            good = r["within"] and not r["failures"]
            ok &= good
            print(
                f" 150 ms  {r['n']} distinct assets cold at once: all answered in "
                f"{r['s']:.2f} s, slowest {r['slowest_s']:.2f} s (budget {budget:g} s), "
                f"{len(r['failures'])} with a venue named down, {r['requests']} requests, "
                f"{r['connections']} new connections  {verdict(good)}"
            )
            for asset, why in list(r["failures"].items())[:3]:
                print(f"         {asset}: {why}")
    return ok


def main() -> int:
    """Parse the options, run, exit 1 when a goal is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latencies", default="50,150,400")
    parser.add_argument("--crowd", default="10,40")
    parser.add_argument("--paths", action="store_true", help="print each request's path")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    latencies = [float(x) for x in args.latencies.split(",") if x]
    crowds = [int(x) for x in args.crowd.split(",") if x]
    return 0 if asyncio.run(run(latencies, crowds)) else 1


if __name__ == "__main__":
    sys.exit(main())
