"""The liquidation collector against Binance's all-market stream at a firehose rate.

The real `LiquidationCollector` with a real `ccxt.pro` binanceusdm exchange (markets loaded
over REST, 600 perpetuals) subscribes to `!forceOrder@arr` on the fake venues — ANOTHER
process (`benchmarks/_harness.py`) that answers the SUBSCRIBE and then sends forceOrder frames
over a real websocket, `--share` of them for the watchlist's symbols (BTC ETH SOL XRP DOGE),
the rest spread over the other 595 perpetuals, every event distinct. The collector buckets
them and writes to a real SQLite store each second, as in the bot.

Prints, for each offered rate: the messages/s the collector took (goal ≥ 2,000/s), the CPU it
used for them as a share of one core (this process: ccxt's websocket client, parsing, our
normalising, the store writer thread; goal ≤ 50% at 2,000/s), whether it kept up (nothing
left behind when the stream ended), and its de-duplication memory (goal: bounded).

    python benchmarks/bench_collector.py [--rates 2000,5000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._harness import VenueProcess, rss_mb, verdict
from settings import Settings
from signals.collector import LiquidationCollector
from signals.exchanges import pro_exchange
from signals.store import Store

GOAL_RATE = 2000.0
GOAL_CPU = 0.5


async def run(rate: float, seconds: float, share: float, tmp: Path) -> dict[str, Any]:
    """Offer `rate` messages/s for `seconds`; what the collector took and what it cost."""
    with VenueProcess(0, data_assets=5) as venues:
        settings = replace(
            Settings(),
            venues=("binanceusdm",),
            venue_base_url=venues.base_url,
            store_path=str(tmp / f"liq-{rate:.0f}.sqlite"),
            liq_backfill_venues=(),
        )
        store = Store(settings.store_path)
        taken = 0

        def factory(venue: str) -> Any:
            exchange = pro_exchange(venue, venues.base_url)
            parse = exchange.parse_ws_liquidation

            def counted(*args: Any, **kwargs: Any) -> Any:
                nonlocal taken
                taken += 1
                return parse(*args, **kwargs)

            exchange.parse_ws_liquidation = counted
            return exchange

        collector = LiquidationCollector(
            settings, store, exchange_factory=factory, backfill_venues=()
        )
        await collector.start()
        try:
            deadline = time.monotonic() + 20
            while not collector.live_venues and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            if not collector.live_venues:
                raise SystemExit("the collector never connected to the fake stream")
            rss_before = rss_mb()
            await asyncio.to_thread(
                _get, f"{venues.base_url}/_fake/stream?rate={rate}&seconds={seconds}&share={share}"
            )
            wall0, cpu0 = time.perf_counter(), time.process_time()
            sent = 0
            while True:
                await asyncio.sleep(0.25)
                stats = await venues.astats()
                sent = stats["frames_sent"]
                if not stats["streaming"] and taken >= sent:
                    break
                if time.perf_counter() - wall0 > seconds * 3 + 10:
                    break
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            await collector.flush()
        finally:
            await collector.stop()
        minutes = Store(settings.store_path)
        stored = sum(
            m.count
            for asset in ("BTC", "ETH", "SOL", "XRP", "DOGE")
            for m in minutes.read_liq_minutes(asset, 0, 2**62)
        )
        minutes.close()
    return {
        "sent": sent,
        "taken": taken,
        "rate": taken / wall,
        "cpu": cpu / wall,
        "kept_up": taken >= sent and wall <= seconds * 1.2 + 0.5,
        "events": collector.events_seen,
        "stored": stored,
        "seen": len(collector._seen),
        "rss_growth": rss_mb() - rss_before,
    }


def _get(url: str) -> None:
    with urllib.request.urlopen(url, timeout=10) as answer:
        answer.read()


async def main_async(rates: list[float], seconds: float, share: float) -> bool:
    """Run each rate; print; True when the goals hold at the goal's rate."""
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for rate in rates:
            r = await run(rate, seconds, share, Path(tmp))
            at_goal = rate <= GOAL_RATE
            good = r["kept_up"] and (r["cpu"] <= GOAL_CPU if at_goal else True)
            if rate >= GOAL_RATE:
                good = good and r["rate"] >= GOAL_RATE * 0.98
            ok &= good
            print(
                f"offered {rate:,.0f}/s for {seconds:g} s: took {r['taken']:,} of {r['sent']:,} "
                f"= {r['rate']:,.0f} msg/s (goal ≥ {GOAL_RATE:,.0f}), CPU {r['cpu']:.0%} of a "
                f"core (goal ≤ {GOAL_CPU:.0%} at {GOAL_RATE:,.0f}/s), "
                f"{'kept up' if r['kept_up'] else 'FELL BEHIND'}; {r['events']:,} watchlist "
                f"events, {r['stored']:,} stored; de-dup keys {r['seen']:,}; RSS "
                f"{r['rss_growth']:+.1f} MB  {verdict(good)}"
            )
    return ok


def main() -> int:
    """Parse the options, run, exit 1 when a goal is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="2000,5000")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--share", type=float, default=0.3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    rates = [float(x) for x in args.rates.split(",") if x]
    return 0 if asyncio.run(main_async(rates, args.seconds, args.share)) else 1


if __name__ == "__main__":
    sys.exit(main())
