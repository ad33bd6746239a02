"""What the benchmarks share: fake venues in another process, a loop-stall meter, RSS.

The fake venues are `python -m tests.helpers.venues.server --realistic`: the venues' real
paths and answer shapes at realistic sizes (600 USDT perpetuals per venue, 100 of them with
data, Deribit books of ~1,000 options), every answer held for the injected latency, every
request and every new TCP connection counted (`/_fake/stats`). The bot under test reaches
them exactly as production reaches the venues, through PREFLIGHT_VENUE_BASE_URL.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


class VenueProcess:
    """The fake venues, served by another Python process on 127.0.0.1."""

    def __init__(
        self,
        latency_ms: float = 0.0,
        *,
        data_assets: int = 100,
        perps: int = 600,
        now_ms: int | None = None,
    ) -> None:
        self.args = [
            sys.executable,
            "-m",
            "tests.helpers.venues.server",
            "--realistic",
            "--latency-ms",
            str(latency_ms),
            "--data-assets",
            str(data_assets),
            "--perps",
            str(perps),
        ]
        if now_ms is not None:
            self.args += ["--now-ms", str(now_ms)]
        self.proc: subprocess.Popen[str] | None = None
        self.base_url = ""

    def __enter__(self) -> VenueProcess:
        self.proc = subprocess.Popen(
            self.args, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=_child_env()
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("listening on "):
            self.proc.kill()
            raise SystemExit(f"the fake venues did not start: {line!r}")
        self.base_url = line.removeprefix("listening on ")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def _get(self, what: str) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.base_url}/_fake/{what}", timeout=10) as answer:
            return json.loads(answer.read())  # type: ignore[no-any-return]

    def stats(self) -> dict[str, Any]:
        """Requests and new TCP connections since the last reset."""
        return self._get("stats")

    def reset(self) -> None:
        """Start counting again."""
        self._get("reset")

    def set_latency(self, ms: float) -> None:
        """Hold every later answer this long."""
        self._get(f"latency?ms={ms}")

    async def astats(self) -> dict[str, Any]:
        """`stats` off the event loop."""
        return await asyncio.to_thread(self.stats)

    async def areset(self) -> None:
        """`reset` off the event loop."""
        await asyncio.to_thread(self.reset)


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT)
    return env


class StallMeter:
    """A ticker in the event loop: how late does a 5 ms sleep ever wake up?"""

    def __init__(self, tick_s: float = 0.005) -> None:
        self.tick_s = tick_s
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(self.tick_s)
            self.lags.append(time.perf_counter() - started - self.tick_s)

    def start(self) -> None:
        """Start ticking in the running loop."""
        self.lags.clear()
        self._task = asyncio.create_task(self._tick())

    async def stop(self) -> None:
        """Stop ticking."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    @property
    def longest_ms(self) -> float:
        """The longest stall seen, in ms."""
        return max(self.lags, default=0.0) * 1000


def rss_mb() -> float:
    """This process's resident set size now, in MB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of `values`, nearest rank."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]


def verdict(ok: bool) -> str:
    """'meets the goal' or 'MISSES the goal'."""
    return "meets the goal" if ok else "MISSES the goal"
