"""Start-up of the real `python bot.py`: `--help`, the demo check, and (optionally) the tests.

Each command is run as its own process, as a user runs it, `--runs` times; the median and
the fastest are printed against the goals (`--help` ≤ 0.2 s, `check ETH long 5x --demo` ≤
0.6 s). The first run of each also compiles Python's and the templates' caches on a clean
clone; it is printed apart. `--pytest` also times `pytest -q` (goal ≤ 60 s) and prints its
summary line.

    python benchmarks/bench_startup.py [--runs 9] [--pytest]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._harness import ROOT, verdict

COMMANDS = (
    ("python bot.py --help", ["bot.py", "--help"], 0.2),
    (
        "python bot.py check ETH long 5x --demo",
        ["bot.py", "check", "ETH", "long", "5x", "--demo"],
        0.6,
    ),
)
GOAL_PYTEST_S = 60.0


def timed(args: list[str]) -> tuple[float, int]:
    """Wall time of one run, and its exit status (its output is discarded)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, check=False)
    return time.perf_counter() - started, done.returncode


def main() -> int:
    """Run each command; print the figures; exit 1 when a goal is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--pytest", action="store_true")
    args = parser.parse_args()
    ok = True
    for label, command, goal in COMMANDS:
        first, code = timed(command)
        runs = [timed(command)[0] for _ in range(args.runs)]
        median = statistics.median(runs)
        good = median <= goal and code == 0
        ok &= good
        print(
            f"{label}: median {median:.3f} s, fastest {min(runs):.3f} s over {args.runs} runs "
            f"(goal ≤ {goal:g} s) = {median / goal:.2f} of the goal; first run {first:.3f} s, "
            f"exit {code}  {verdict(good)}"
        )
    if args.pytest:
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q"], cwd=ROOT, capture_output=True, text=True
        )
        took = time.perf_counter() - started
        summary = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
        good = took <= GOAL_PYTEST_S and done.returncode == 0
        ok &= good
        print(
            f"pytest -q: {took:.1f} s (goal ≤ {GOAL_PYTEST_S:g} s) = {took / GOAL_PYTEST_S:.2f} "
            f"of the goal; {summary}  {verdict(good)}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
