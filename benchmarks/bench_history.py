"""A live `backtest` (history from the venues): the first run's requests and time, then the
second run's time from the store, against the 2 s goal of a snapshot run.

The venues are the long-history fakes (tests/helpers/venues/history_server.py) in ANOTHER
process, answering after a venue-like delay; each run is `python bot.py backtest ETH --json`
in a fresh interpreter with a fresh store for the first run, timed from spawn to exit. The
first run's time is mostly the pacing under the venues' limits (signals/venue_history.py
PACE_S) and the answers' latency, by design; the request count is what reached the fake.

    .venv/bin/python benchmarks/bench_history.py [--runs 5] [--latency-ms 150]
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
GOAL_S = 2.0


def run_once(env: dict[str, str]) -> float:
    """Seconds from spawning `python bot.py backtest ETH --json` to its exit."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), "backtest", "ETH", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0 or not done.stdout:
        raise SystemExit(f"backtest failed ({done.returncode}): {done.stderr.strip()}")
    return elapsed


def main() -> int:
    """Print the figures and the ratio to the goal; exit 1 when the warm median misses it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latency-ms", type=float, default=150.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "requests.log"
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.helpers.venues.history_server",
                "--log",
                str(log),
                "--latency-ms",
                str(args.latency_ms),
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            base_url = server.stdout.readline().split()[-1]
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("PREFLIGHT_")},
                "PREFLIGHT_VENUE_BASE_URL": base_url,
                "PREFLIGHT_STORE_PATH": str(Path(tmp) / "preflight.sqlite"),
                "MPLBACKEND": "Agg",
            }
            cold = run_once(env)
            cold_requests = len(log.read_text().splitlines())
            warm = sorted(run_once(env) for _ in range(args.runs))
            warm_requests = len(log.read_text().splitlines()) - cold_requests
        finally:
            server.terminate()
            server.wait(10)
    median = statistics.median(warm)
    print(f"venues: the long-history fakes in another process, {args.latency_ms:g} ms a request")
    print(f"first run (empty store): {cold:.2f} s, {cold_requests} requests (paced by design)")
    print(
        f"next runs (from the store): median {median:.2f} s, best {warm[0]:.2f} s, worst "
        f"{warm[-1]:.2f} s over {args.runs} runs, {warm_requests} requests: "
        f"{median / GOAL_S:.2f} of the {GOAL_S:g} s goal"
    )
    return 0 if median <= GOAL_S and warm_requests == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
