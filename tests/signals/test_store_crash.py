"""Crash safety: a writer killed with SIGKILL mid-write leaves a store that opens intact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from signals.store import Store

ROOT = Path(__file__).resolve().parents[2]
BATCH = 2000

WRITER = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from signals.store import CoverageSpan, LiqMinute, Store

store = Store(sys.argv[1])
t0 = 1_779_000_000_000
batch = 0
while True:
    minutes = [
        LiqMinute("BTC", "okx", "long", t0 + (batch * {BATCH} + j) * 60_000, 1.0, 1)
        for j in range({BATCH})
    ]
    span = CoverageSpan("BTC", "okx", t0, t0 + (batch + 1) * {BATCH} * 60_000, "stream")
    store.write_liquidations(minutes, [span])
    batch += 1
    print(batch, flush=True)
"""


def test_sigkill_mid_write_loses_at_most_the_batch_in_flight(tmp_path: Path) -> None:
    path = tmp_path / "crash.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    committed = 0
    deadline = time.monotonic() + 20
    try:
        assert proc.stdout is not None
        while committed < 15 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            committed = int(line)
        # the writer is busy inside its next transaction when the kill lands
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    assert committed >= 15

    store = Store(path)
    conn = store.connect()
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = conn.execute("SELECT COUNT(*) FROM liq_minutes").fetchone()[0]
    # whole transactions only: every batch acknowledged is there, a torn one is not
    assert rows % BATCH == 0
    assert rows // BATCH >= committed
    [span] = store.read_liq_coverage("BTC", 0, 2**62)
    assert span.end_ms == 1_779_000_000_000 + rows * 60_000
