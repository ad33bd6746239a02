"""No look-ahead (SPEC §9), by test and by construction.

By test: every datum after a day D is changed wildly, and every grade at t ≤ D and every
outcome whose window closes by D stays exactly the same — while later ones do change, so the
mutation is known to reach the engine. By construction: the AssetData handed to the engine
for t holds nothing that closed or was sampled after t.
"""

from __future__ import annotations

import copy
import gzip
import json
from typing import Any

import numpy as np
import pytest

import signals.backtest as backtest
from signals.backtest import BacktestReport, BacktestRequest, DayResult, run_backtest
from signals.derived import Market
from signals.history import HISTORY_DEMO_PATH, History
from signals.market import AssetData
from signals.snapshot import parse_snapshot
from signals.thresholds import Thresholds

TH = Thresholds()
HOUR = 3_600_000
DAY = 24 * HOUR
BARS = {"ohlcv_1d": DAY, "ohlcv_1h": HOUR, "oi_usd_1h": HOUR, "oi_usd_1d": DAY,
        "liquidations_1h": HOUR}  # fmt: skip


@pytest.fixture(scope="module")
def demo_doc() -> dict[str, Any]:
    return json.loads(gzip.decompress(HISTORY_DEMO_PATH.read_bytes()))


def mutate_after(doc: dict[str, Any], cut: int, seed: int = 7) -> dict[str, Any]:
    """A copy where every bar closing after `cut` and every sample after it is changed wildly."""
    out = copy.deepcopy(doc)
    rng = np.random.default_rng(seed)
    for body in out["assets"].values():
        for key, bar in BARS.items():
            for row in body[key]:
                if row[0] + bar > cut:
                    factor = float(np.exp(rng.uniform(-1.6, 1.6)))
                    row[1:] = [v * factor for v in row[1:]]
        for row in body["skew_rr25_30d"]:
            if row[0] > cut:
                row[1] = float(rng.uniform(-40, 40))
        for venue in body["funding"]:
            venue["rate"] = 0.01
            for row in venue["history"]:
                if row[0] > cut:
                    row[1] = float(rng.uniform(-0.01, 0.01))
    return out


def load(doc: dict[str, Any]) -> History:
    asof, assets = parse_snapshot(json.dumps(doc))
    return History(asof, assets["ETH"], "test")


def by_key(report: BacktestReport) -> dict[tuple[int, str], DayResult]:
    return {(d.t, d.side): d for d in report.days}


def grade(d: DayResult) -> tuple[Any, ...]:
    return (d.entry, d.flags, d.caution_count, d.flags_verdict)


def outcome(d: DayResult) -> tuple[Any, ...]:
    return (d.mae, d.liquidated, d.fwd_return)


@pytest.mark.parametrize("days_before_asof", [300, 180, 60])
def test_data_after_a_day_never_reaches_the_grades_and_outcomes_before_it(
    demo_doc: dict[str, Any], days_before_asof: int
) -> None:
    horizon = 7
    cut = demo_doc["asof"] - days_before_asof * DAY
    request = BacktestRequest("ETH", horizon_days=horizon)
    before = by_key(run_backtest(load(demo_doc), request, TH))
    after = by_key(run_backtest(load(mutate_after(demo_doc, cut)), request, TH))
    assert before.keys() == after.keys()
    graded = [k for k in before if k[0] <= cut]
    closed = [k for k in before if k[0] + horizon * DAY <= cut]
    assert graded and closed
    assert [grade(after[k]) for k in graded] == [grade(before[k]) for k in graded]
    assert [outcome(after[k]) for k in closed] == [outcome(before[k]) for k in closed]
    # and the mutation is real: grades after the day, and windows crossing it, do change
    later = [k for k in before if k[0] > cut]
    crossing = [k for k in before if k[0] <= cut < k[0] + horizon * DAY]
    assert any(grade(after[k]) != grade(before[k]) for k in later)
    assert all(outcome(after[k]) != outcome(before[k]) for k in crossing)


def test_data_after_asof_in_the_file_changes_nothing(demo_doc: dict[str, Any]) -> None:
    # a file whose asof is day D but holds wild data past it reports exactly what the same
    # file without that data reports
    cut = demo_doc["asof"] - 120 * DAY
    truncated = copy.deepcopy(demo_doc)
    truncated["asof"] = cut
    wild = mutate_after(truncated, cut)
    for body in truncated["assets"].values():
        for key, bar in BARS.items():
            body[key] = [r for r in body[key] if r[0] + bar <= cut]
        body["skew_rr25_30d"] = [r for r in body["skew_rr25_30d"] if r[0] <= cut]
        for venue in body["funding"]:
            venue["history"] = [r for r in venue["history"] if r[0] <= cut]
    request = BacktestRequest("ETH", horizon_days=5, days=200)
    plain = backtest.report_json(run_backtest(load(truncated), request, TH))
    assert backtest.report_json(run_backtest(load(wild), request, TH)) == plain


def test_the_engine_is_handed_nothing_after_t(
    demo_doc: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = backtest.compute_market
    seen: list[int] = []

    def spy(data: AssetData, asof: int, th: Thresholds) -> Market:
        bars = {
            "ohlcv_1d": (data.ohlcv_1d, DAY),
            "ohlcv_1h": (data.ohlcv_1h, HOUR),
            "oi_usd_1h": (data.oi_usd_1h, HOUR),
            "oi_usd_1d": (data.oi_usd_1d, DAY),
            "liquidations_1h": (data.liquidations_1h, HOUR),
        }
        for name, (frame, bar) in bars.items():
            assert (frame.index.to_numpy() + bar <= asof).all(), name
        assert (data.skew_rr25_30d.index.to_numpy() <= asof).all()
        for venue in data.funding:
            assert (venue.history.index.to_numpy() <= asof).all(), venue.venue
            # the rate is a settled one, no older than 3 days
            assert venue.rate == venue.history.iloc[-1]
            assert int(venue.history.index[-1]) >= asof - 3 * DAY
        seen.append(asof)
        return real(data, asof, th)

    monkeypatch.setattr(backtest, "compute_market", spy)
    report = run_backtest(load(demo_doc), BacktestRequest("ETH"), TH)
    assert seen == sorted({d.t for d in report.days})
    assert len(seen) == report.days_evaluated
