"""The whole `backtest` command, 365 days × 2 sides from a snapshot: wall time against 2 s.

Each run is `python bot.py backtest ETH --snapshot FILE --json` (or the text report) in a
fresh interpreter, timed from spawn to exit: start-up and imports, reading and validating the
snapshot, 358 evaluation days × 2 sides, statistics and output. The snapshot is the
long-history generator's FULL coverage — 460 daily candles and every hourly series (candles,
OI, liquidation buckets, skew) hourly over all 460 days, three funding venues settling every
8 or 4 hours — about the size a year of live history reaches, and four times the demo's.

    .venv/bin/python benchmarks/bench_backtest.py [--runs 5] [--chart]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from signals.demo.make_history_demo import FULL, render  # noqa: E402

GOAL_S = 2.0


def run_once(args: list[str]) -> float:
    """Seconds from spawning `python bot.py …` to its exit; fails loudly on a non-zero exit."""
    env = {**os.environ, "MPLBACKEND": "Agg"}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0 or not done.stdout:
        raise SystemExit(f"backtest failed ({done.returncode}): {done.stderr.strip()}")
    return elapsed


def main() -> int:
    """Print the figures and the ratio to the goal; exit 1 when the median misses it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--chart", action="store_true", help="also time --chart FILE")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        snapshot = Path(tmp) / "long_history.json"
        snapshot.write_text(render(FULL), encoding="utf-8")
        size_mb = snapshot.stat().st_size / 1e6
        cases = {
            "--json": ["backtest", "ETH", "--snapshot", str(snapshot), "--json"],
            "text": ["backtest", "ETH", "--snapshot", str(snapshot)],
        }
        if args.chart:
            chart = str(Path(tmp) / "chart.png")
            cases["text --chart"] = [*cases["text"], "--chart", chart]
        print(f"snapshot: {size_mb:.1f} MB of JSON, 460 days, every hourly series hourly")
        print(f"goal: the whole command (365 days × 2 sides) in ≤ {GOAL_S:g} s")
        worst = 0.0
        for name, argv in cases.items():
            run_once(argv)  # warm the page cache; not counted
            times = sorted(run_once(argv) for _ in range(args.runs))
            median = statistics.median(times)
            if name != "text --chart":
                worst = max(worst, median)
            print(
                f"{name:13s} median {median:.2f} s, best {times[0]:.2f} s, worst {times[-1]:.2f}"
                f" s over {args.runs} runs: {median / GOAL_S:.2f} of the goal"
            )
    print("(timings on a shared machine are indicative only)")
    return 0 if worst <= GOAL_S else 1


if __name__ == "__main__":
    sys.exit(main())
