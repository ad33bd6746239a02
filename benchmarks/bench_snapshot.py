"""Snapshot loading at the size limit, and the refusal of an oversized file (issue 10 item 10).

Writes a realistic snapshot just under the 50 MB limit (years of hourly candles, OI,
liquidations and skew for several assets, every series the shape the recorder writes), then
loads it in a fresh interpreter and reports the time and the peak memory; and times the
refusal of a 133 MB file (the case that took 20.7 s and 1.5 GB before the limit).

    python benchmarks/bench_snapshot.py

Goals: the 133 MB file is refused in ≤ 0.5 s; a file at the limit loads in ≤ 10 s with a
peak below 1 GB. Ratios are printed as measured ÷ goal (≤ 1.0 meets it). Figures taken while
other work shares the machine are indicative only.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from signals.snapshot import MAX_SNAPSHOT_BYTES  # noqa: E402

HOUR = 3_600_000
DAY = 24 * HOUR
ASOF = 1_779_235_200_000
LOAD_GOAL_S, PEAK_GOAL_MB, REFUSE_GOAL_S = 10.0, 1000.0, 0.5


def asset(rng: np.random.Generator, hours: int) -> dict[str, object]:
    """One asset with `hours` of hourly series (and the daily ones they imply)."""
    ts_h = ASOF - HOUR * np.arange(hours, 0, -1)
    close = 3000 * np.exp(np.cumsum(rng.normal(0, 0.005, hours)))
    ohlcv_1h = [
        [int(t), round(c * 0.999, 2), round(c * 1.003, 2), round(c * 0.997, 2), round(c, 2),
         round(float(v), 3)]
        for t, c, v in zip(ts_h, close, rng.uniform(1e3, 1e5, hours), strict=True)
    ]  # fmt: skip
    days = hours // 24
    ts_d = ASOF - DAY * np.arange(days, 0, -1)
    daily_close = close[23::24]
    daily = zip(ts_d, daily_close, strict=False)
    ohlcv_1d = [[int(t), 1.0, 1.0, 1.0, round(float(c), 2), 1.0] for t, c in daily]
    oi_values = rng.uniform(8e9, 9e9, hours)
    oi = [[int(t), round(float(v), 0)] for t, v in zip(ts_h, oi_values, strict=True)]
    longs, shorts = rng.exponential(1e5, hours), rng.exponential(1e5, hours)
    buckets = zip(ts_h, longs, shorts, strict=True)
    liq = [[int(t), round(float(a)), round(float(b))] for t, a, b in buckets]
    rr = rng.normal(0, 2, hours)
    skew = [[int(t), round(float(v), 2)] for t, v in zip(ts_h, rr, strict=True)]
    history = [[int(t), 0.0001] for t in ts_h[::8]]
    return {
        "ohlcv_1d": ohlcv_1d,
        "ohlcv_1h": ohlcv_1h,
        "oi_usd_1h": oi,
        "oi_usd_1d": oi[23::24],
        "funding": [{"venue": "binanceusdm", "rate": 0.0001, "interval_hours": 8,
                     "oi_usd": 5e9, "history": history}],
        "liquidations_1h": liq,
        "skew_rr25_30d": skew,
        "mmr": 0.005,
        "sources": {"used": ["binanceusdm"], "failed": {}},
    }  # fmt: skip


LOADER = """
import resource, sys, time
sys.path.insert(0, {root!r})
from signals.snapshot import load_snapshot
t = time.perf_counter()
asof, assets = load_snapshot({path!r}, max_bytes={limit})
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(time.perf_counter() - t, peak_mb, len(assets))
"""


def run_loader(path: Path, limit: int) -> tuple[float, float, int]:
    """Load a snapshot in a fresh interpreter: seconds, peak RSS in MB, assets."""
    code = LOADER.format(root=str(ROOT), path=str(path), limit=limit)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds, peak, count = out.stdout.split()
    return float(seconds), float(peak), int(count)


def main() -> int:
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "near_limit.json"
        hours = 3 * 365 * 24  # three years per asset
        assets: dict[str, object] = {}
        doc = {"format": "preflight.snapshot/1", "asof": ASOF, "assets": assets}
        for name in ("BTC", "ETH", "SOL", "XRP", "DOGE", "ADA", "AVAX", "LINK", "DOT", "LTC"):
            assets[name] = asset(rng, hours)
            if len(json.dumps(doc)) > MAX_SNAPSHOT_BYTES * 0.9:
                break
        path.write_text(json.dumps(doc), encoding="utf-8")
        size_mb = path.stat().st_size / 1e6
        seconds, peak, count = run_loader(path, MAX_SNAPSHOT_BYTES)
        print(f"load {size_mb:.1f} MB ({count} assets, 3 years hourly each): {seconds:.2f} s, "
              f"peak RSS {peak:.0f} MB")  # fmt: skip
        print(f"  load time ÷ goal {LOAD_GOAL_S:g} s: {seconds / LOAD_GOAL_S:.2f}")
        print(f"  peak memory ÷ goal {PEAK_GOAL_MB:g} MB: {peak / PEAK_GOAL_MB:.2f}")

        big = Path(tmp) / "oversized.json"
        with big.open("wb") as f:
            f.truncate(133 * 1000 * 1000)
        code = LOADER.format(root=str(ROOT), path=str(big), limit=MAX_SNAPSHOT_BYTES)
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        refused = time.perf_counter() - start
        message = out.stderr.strip().splitlines()[-1]
        print(f"refuse 133 MB (whole interpreter run): {refused:.2f} s — {message}")
        print(f"  refusal time ÷ goal {REFUSE_GOAL_S:g} s: {refused / REFUSE_GOAL_S:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
