"""The long-history demo: regenerates exactly, stays small, is labelled, and exercises the report.

Also checks, on every evaluation day of the demo, that the backtest's trimmed cut at t grades
exactly like the engine reading the whole history at t.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from signals.backtest import BacktestReport, BacktestRequest, HistoryCut, run_backtest
from signals.demo import make_history_demo
from signals.derived import compute_market
from signals.flags import all_flags
from signals.history import DEMO_LABEL, HISTORY_DEMO_PATH, History, demo_history
from signals.market import DAY_MS, VenueFunding
from signals.thresholds import Thresholds

ROOT = Path(__file__).resolve().parents[2]
TH = Thresholds()
MARKET_KEYS = (
    "price",
    "price_change_24h",
    "return_7d",
    "sigma_daily",
    "vol_expansion",
    "oi_usd",
    "oi_change_24h",
    "oi_percentile_30d",
    "funding_8h",
    "funding_8h_3d_avg",
    "liq_long_24h_usd",
    "liq_short_24h_usd",
    "rr25_30d",
    "rr25_30d_7d_change",
)


@pytest.fixture(scope="module")
def history() -> History:
    return asyncio.run(demo_history().history("ETH", 500))


@pytest.fixture(scope="module")
def report(history: History) -> BacktestReport:
    return run_backtest(history, BacktestRequest("ETH"), TH)


# ---- file and generator ---------------------------------------------------------------------


def test_bundled_file_is_the_generators_output() -> None:
    assert make_history_demo.OUTPUT.resolve() == HISTORY_DEMO_PATH.resolve()
    assert make_history_demo.read_bundled() == make_history_demo.render()


def test_bundled_file_is_small_and_gzip() -> None:
    raw = HISTORY_DEMO_PATH.read_bytes()
    assert raw[:2] == b"\x1f\x8b"
    assert len(raw) < 200_000
    assert json.loads(gzip.decompress(raw))["format"] == "preflight.snapshot/1"


def test_generator_writes_the_same_content_every_time(tmp_path: Path) -> None:
    first, second = tmp_path / "a.json.gz", tmp_path / "b.json.gz"
    assert make_history_demo.main(["--out", str(first)]) == 0
    assert make_history_demo.main(["--out", str(second)]) == 0
    assert first.read_bytes() == second.read_bytes()
    assert make_history_demo.read_bundled(first) == make_history_demo.read_bundled()


def test_check_mode_passes_on_the_committed_file() -> None:
    done = subprocess.run(
        [sys.executable, "signals/demo/make_history_demo.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (done.returncode, done.stderr) == (0, "")


def test_check_mode_fails_on_a_changed_missing_or_broken_file(tmp_path: Path) -> None:
    text = make_history_demo.read_bundled().replace('"seed":20260523', '"seed":1')
    changed = tmp_path / "changed.json.gz"
    changed.write_bytes(gzip.compress(text.encode()))
    broken = tmp_path / "broken.json.gz"
    broken.write_bytes(b"not gzip")
    assert make_history_demo.main(["--check", "--out", str(changed)]) == 1
    assert make_history_demo.main(["--check", "--out", str(broken)]) == 1
    assert make_history_demo.main(["--check", "--out", str(tmp_path / "missing.gz")]) == 1


# ---- what the demo holds ------------------------------------------------------------------


def test_demo_is_labelled_synthetic_and_long(history: History) -> None:
    data = history.data
    assert history.label == DEMO_LABEL == "synthetic demo data"
    assert data.sources["synthetic"] is True
    assert data.sources["label"] == DEMO_LABEL
    assert len(data.ohlcv_1d) >= 400
    assert len(data.ohlcv_1h) >= 48 * 24 and len(data.liquidations_1h) >= 100 * 24
    assert len(data.skew_rr25_30d) >= 100 * 3
    assert {f.venue for f in data.funding} == {"binanceusdm", "bybit", "okx"}
    assert {f.interval_hours for f in data.funding} == {4.0, 8.0}


def test_every_flag_is_known_on_many_days_and_each_verdict_occurs(report: BacktestReport) -> None:
    assert report.days_evaluated >= 350
    for side in report.sides.values():
        for name, known in side.days_known.items():
            assert known >= 150, (side.side, name, known)
            assert side.by_flag[name]["caution"].n >= 5, (side.side, name)
        for verdict, stats in side.by_verdict.items():
            assert stats.n >= 10, (side.side, verdict, stats.n)
        assert side.lift is not None


def test_history_coverage_follows_what_a_live_history_would_hold(history: History) -> None:
    data = history.data
    first_daily = int(data.ohlcv_1d.index[0])
    # daily candles, daily OI and funding for the whole span; the recorded series start later
    assert int(data.oi_usd_1d.index[0]) == first_daily
    assert min(int(f.history.index[0]) for f in data.funding) <= first_daily + DAY_MS
    for series in (data.ohlcv_1h, data.oi_usd_1h, data.liquidations_1h, data.skew_rr25_30d):
        assert int(series.index[0]) > first_daily + 100 * DAY_MS


# ---- the trimmed cut grades like the whole history ----------------------------------------


def funding_at(venues: tuple[VenueFunding, ...], t: int) -> tuple[VenueFunding, ...]:
    """SPEC §9 funding at t, worked out from the whole history: latest settlement ≤ t, ≤ 3d."""
    out = []
    for v in venues:
        settled = v.history[v.history.index <= t]
        if len(settled) and int(settled.index[-1]) >= t - 3 * DAY_MS:
            out.append(dataclasses.replace(v, rate=float(settled.iloc[-1])))
    return tuple(out)


def test_trimmed_cut_equals_the_engine_on_the_whole_history(
    history: History, report: BacktestReport
) -> None:
    data = history.data
    cut = HistoryCut(data, TH)
    times = sorted({d.t for d in report.days})
    for t in times:
        whole = dataclasses.replace(data, funding=funding_at(data.funding, t))
        expected = compute_market(whole, t, TH)
        got = compute_market(cut.at(t), t, TH)
        for key in MARKET_KEYS:
            assert getattr(got, key) == getattr(expected, key), (t, key)
        assert got.liq_long == expected.liq_long and got.liq_short == expected.liq_short
        for side in ("long", "short"):
            want = {n: f.status for n, f in all_flags(expected, side, TH).items()}
            assert {n: f.status for n, f in all_flags(got, side, TH).items()} == want
