"""Charts: time per render, the cost of importing signals.chart, and 50 groups at one minute.

Whole renders (figure built, drawn, PNG encoded) of the bundled demo's ETH, the way
`/chart ETH 7d|30d|90d` and the daily summary call them. Three measures:

1. `import signals.chart` in a fresh interpreter, against `import signals.market` (which it
   needs anyway, with pandas): matplotlib must not be imported until the first render.
2. Per window: the first render in a fresh process (matplotlib's import and font set-up
   included) and the median of warm renders, wall and CPU.
3. 50 groups' daily summaries due at the same minute: 50 coroutines on one event loop each
   ask for their chart through `asyncio.to_thread(cache.png, …)`, as the summary job does,
   while a ticker measures how late the loop wakes (stalls). Once with every group on the
   same asset, once with the groups spread over four assets, and once without the cache
   (every group renders its own, the old behaviour). Goal from issue 12: ≤ 5 s for the whole
   fan-out, no stall > 100 ms; this measures the chart's share of it.

The machine is shared: figures taken while other work runs are indicative.

    .venv/bin/python benchmarks/bench_chart.py
    .venv/bin/python benchmarks/bench_chart.py --renders 5 --skip-uncached
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from signals.chart import WINDOWS, ChartCache, ChartHeadline, chart_png  # noqa: E402
from signals.market import AssetData  # noqa: E402
from signals.snapshot import DEMO_PATH, load_snapshot  # noqa: E402

GROUPS = 50
GOAL_FANOUT_S = 5.0
GOAL_STALL_MS = 100.0
HEADLINE = ChartHeadline("stress", ("open_interest", "funding", "liquidations"))


def fresh(code: str) -> str:
    """Run `code` in a new interpreter from the project root; return its stdout."""
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def import_cost(runs: int = 5) -> None:
    """Median import time of signals.chart and of signals.market, each in a new process."""
    timer = "import time, sys; t = time.perf_counter(); import {m}; print(time.perf_counter() - t)"
    chart = statistics.median(float(fresh(timer.format(m="signals.chart"))) for _ in range(runs))
    market = statistics.median(float(fresh(timer.format(m="signals.market"))) for _ in range(runs))
    loaded = fresh("import sys, signals.chart; print('matplotlib' in sys.modules)")
    print(
        f"import signals.chart {chart * 1000:.0f} ms; signals.market alone {market * 1000:.0f} ms;"
        f" extra {max(0.0, chart - market) * 1000:.0f} ms; matplotlib imported: {loaded}"
        f" (goal: False)"
    )


def first_render(window: str) -> float:
    """Seconds for import + first render of one window in a fresh process."""
    code = (
        "import time; t = time.perf_counter()\n"
        "from signals.chart import chart_png\n"
        "from signals.snapshot import DEMO_PATH, load_snapshot\n"
        "asof, assets = load_snapshot(DEMO_PATH)\n"
        "t = time.perf_counter()\n"
        f"chart_png(assets['ETH'], asof, {window!r})\n"
        "print(time.perf_counter() - t)"
    )
    return float(fresh(code))


def warm_renders(data: AssetData, asof: int, renders: int) -> None:
    """Median wall and CPU time of warm renders per window."""
    chart_png(data, asof)
    for window in WINDOWS:
        walls, cpus = [], []
        size = 0
        for _ in range(renders):
            wall, cpu = time.perf_counter(), time.process_time()
            size = len(chart_png(data, asof, window, headline=HEADLINE))
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        print(
            f"{window:>3}: first (fresh process) {first_render(window) * 1000:.0f} ms;"
            f" warm median {statistics.median(walls) * 1000:.0f} ms wall,"
            f" {statistics.median(cpus) * 1000:.0f} ms CPU; {size // 1024} KB"
        )


async def fanout(picks: list[AssetData], asof: int, cache: ChartCache | None) -> None:
    """50 groups ask for their chart at once; print the total time and the worst stall."""
    stalls: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        loop = asyncio.get_running_loop()
        while not done.is_set():
            before = loop.time()
            await asyncio.sleep(0.005)
            stalls.append((loop.time() - before - 0.005) * 1000)

    def render(data: AssetData) -> bytes:
        if cache is None:
            return chart_png(data, asof, "7d", headline=HEADLINE)
        return cache.png(data, asof, "7d", headline=HEADLINE)

    watch = asyncio.create_task(ticker())
    await asyncio.sleep(0.02)
    wall = time.perf_counter()
    pngs = await asyncio.gather(*(asyncio.to_thread(render, d) for d in picks))
    took = time.perf_counter() - wall
    done.set()
    await watch
    worst = max(stalls, default=0.0)
    renders = cache.renders if cache is not None else len(picks)
    assets = len({d.asset for d in picks})
    label = "cached" if cache is not None else "uncached"
    print(
        f"{len(pngs)} groups, {assets} asset(s), {label}: {took:.2f} s, {renders} render(s);"
        f" ratio {took / GOAL_FANOUT_S:.2f} of the {GOAL_FANOUT_S:.0f} s goal;"
        f" worst loop stall {worst:.0f} ms (ratio {worst / GOAL_STALL_MS:.2f} of"
        f" {GOAL_STALL_MS:.0f} ms)"
    )


def main() -> None:
    """Run the three measures and print each against its goal."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=10, help="warm renders per window")
    parser.add_argument("--skip-uncached", action="store_true", help="skip the old behaviour")
    args = parser.parse_args()
    asof, assets = load_snapshot(DEMO_PATH)
    import_cost()
    warm_renders(assets["ETH"], asof, args.renders)
    same = [assets["ETH"]] * GROUPS
    spread = [assets[a] for a in ("BTC", "ETH", "SOL", "DOGE")] * (GROUPS // 4) + [
        assets["ETH"]
    ] * (GROUPS % 4)
    asyncio.run(fanout(same, asof, ChartCache()))
    asyncio.run(fanout(spread, asof, ChartCache()))
    if not args.skip_uncached:
        asyncio.run(fanout(same, asof, None))


if __name__ == "__main__":
    main()
