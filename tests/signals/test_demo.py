"""The bundled demo snapshot: loads, regenerates byte for byte, and holds its designed regimes.

The SPEC §2/§3 numbers are recomputed here from the raw JSON, independently of the engine,
and each decisive input is checked against the value the generator designed (well away from
its threshold). The engine's own verdicts are checked through `grade_check`.
"""

from __future__ import annotations

import itertools
import json
import math
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from signals.demo import make_demo
from signals.grade import grade_check
from signals.idea import TradeIdea
from signals.snapshot import DEMO_PATH, load_snapshot
from signals.thresholds import Thresholds

ROOT = Path(__file__).resolve().parents[2]
H = 3_600_000
D = 24 * H
ASOF = 1_779_235_200_000
ASSETS = ("BTC", "ETH", "SOL", "DOGE")


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return json.loads(DEMO_PATH.read_text(encoding="utf-8"))


# ---- file, generator, provenance ---------------------------------------------------------


def test_demo_path_is_the_generators_output() -> None:
    assert make_demo.OUTPUT.resolve() == DEMO_PATH.resolve()


def test_loads_with_the_snapshot_loader() -> None:
    asof, assets = load_snapshot(DEMO_PATH)
    assert asof == ASOF
    assert tuple(assets) == ASSETS


def test_committed_file_equals_generator_output() -> None:
    assert DEMO_PATH.read_text(encoding="utf-8") == make_demo.render()


def test_generator_is_deterministic(tmp_path: Path) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    assert make_demo.main(["--out", str(first)]) == 0
    assert make_demo.main(["--out", str(second)]) == 0
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes() == DEMO_PATH.read_bytes()


def test_check_mode_passes_on_the_committed_file() -> None:
    done = subprocess.run(
        [sys.executable, "signals/demo/make_demo.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (0, "")


def test_check_mode_fails_on_a_changed_or_missing_file(tmp_path: Path) -> None:
    stale = tmp_path / "demo.json"
    stale.write_text(DEMO_PATH.read_text(encoding="utf-8").replace("101850.0", "101851.0"))
    assert make_demo.main(["--check", "--out", str(stale)]) == 1
    assert make_demo.main(["--check", "--out", str(tmp_path / "missing.json")]) == 1


def test_file_is_small() -> None:
    assert DEMO_PATH.stat().st_size < 400_000


@pytest.mark.parametrize("asset", ASSETS)
def test_every_asset_is_marked_synthetic(raw: dict[str, Any], asset: str) -> None:
    sources = raw["assets"][asset]["sources"]
    assert sources["synthetic"] is True
    assert sources["generator"] == "signals/demo/make_demo.py"
    assert sources["seed"] == make_demo.SEED
    assert sources["liquidations"]["synthetic"] is True


def test_regimes_are_named(raw: dict[str, Any]) -> None:
    regimes = {a: raw["assets"][a]["sources"]["regime"] for a in ASSETS}
    assert regimes == {
        "BTC": "calm",
        "ETH": "crowded-long",
        "SOL": "long-liquidation-cascade",
        "DOGE": "no-options",
    }


def test_liquidation_coverage_is_parsed() -> None:
    _, assets = load_snapshot(DEMO_PATH)
    cov = assets["SOL"].liq_coverage
    assert cov is not None
    assert (cov.venues, cov.hours_covered, cov.since_ms, cov.gaps, cov.lower_bound_venues) == (
        ("binanceusdm", "bybit", "okx"),
        192.0,
        ASOF - 192 * H,
        (),
        ("binanceusdm",),
    )


# ---- shape: closed bars, sizes, consistent candles ------------------------------------------


@pytest.mark.parametrize("asset", ASSETS)
def test_series_sizes_and_last_timestamps(raw: dict[str, Any], asset: str) -> None:
    a = raw["assets"][asset]
    sizes = {k: len(a[k]) for k in ("ohlcv_1d", "ohlcv_1h", "oi_usd_1h", "oi_usd_1d")}
    assert sizes == {"ohlcv_1d": 120, "ohlcv_1h": 192, "oi_usd_1h": 192, "oi_usd_1d": 40}
    assert len(a["liquidations_1h"]) >= 168
    # only closed bars: the last hourly bar opens an hour before asof, the last daily a day
    assert a["ohlcv_1h"][-1][0] == ASOF - H
    assert a["ohlcv_1d"][-1][0] == ASOF - D
    assert a["oi_usd_1h"][-1][0] == ASOF - H
    assert a["oi_usd_1d"][-1][0] == ASOF - D
    assert a["liquidations_1h"][-1][0] == ASOF - H
    for key, step in (("ohlcv_1d", D), ("ohlcv_1h", H), ("oi_usd_1h", H), ("liquidations_1h", H)):
        ts = [row[0] for row in a[key]]
        assert {b - c for c, b in itertools.pairwise(ts)} == {step}, key


def test_funding_venues_have_mixed_intervals_and_four_days_of_history(raw: dict[str, Any]) -> None:
    for asset in ASSETS:
        venues = raw["assets"][asset]["funding"]
        assert [(v["venue"], v["interval_hours"]) for v in venues] == [
            ("binanceusdm", 8.0),
            ("bybit", 8.0),
            ("okx", 4.0),
        ]
        for v in venues:
            ts = [row[0] for row in v["history"]]
            assert ts[0] == ASOF - 96 * H
            assert ts[-1] == ASOF - int(v["interval_hours"]) * H
            assert all(t % (int(v["interval_hours"]) * H) == 0 for t in ts)


def test_skew_every_four_hours_for_ten_days_except_doge(raw: dict[str, Any]) -> None:
    for asset in ("BTC", "ETH", "SOL"):
        ts = [row[0] for row in raw["assets"][asset]["skew_rr25_30d"]]
        assert (len(ts), ts[0], ts[-1]) == (60, ASOF - 240 * H, ASOF - 4 * H)
    assert raw["assets"]["DOGE"]["skew_rr25_30d"] == []


@pytest.mark.parametrize("asset", ASSETS)
def test_candles_are_consistent(raw: dict[str, Any], asset: str) -> None:
    a = raw["assets"][asset]
    for rows in (a["ohlcv_1d"], a["ohlcv_1h"]):
        for _, o, h, lo, c, v in rows:
            assert h >= max(o, c) and lo <= min(o, c) and v > 0
        # each bar opens where the previous one closed (a continuous 24/7 market)
        assert all(cur[1] == prev[4] for prev, cur in itertools.pairwise(rows))
    # the last 8 daily candles aggregate the 192 hourly candles exactly
    hourly = a["ohlcv_1h"]
    for day, row in enumerate(a["ohlcv_1d"][-8:]):
        hours = hourly[day * 24 : (day + 1) * 24]
        assert hours[0][0] == row[0]
        assert row[1:5] == [
            hours[0][1],
            max(h[2] for h in hours),
            min(h[3] for h in hours),
            hours[-1][4],
        ]


def test_prices_are_realistic(raw: dict[str, Any]) -> None:
    last = {a: raw["assets"][a]["ohlcv_1h"][-1][4] for a in ASSETS}
    assert last == {"BTC": 101850.0, "ETH": 3210.0, "SOL": 168.4, "DOGE": 0.2052}


# ---- an independent SPEC §2/§3 computation ----------------------------------------------


def _market(a: dict[str, Any], asof: int) -> dict[str, Any]:
    """SPEC §2 from the raw JSON: no pandas, no engine code."""
    c1h = [r[4] for r in a["ohlcv_1h"] if r[0] + H <= asof]
    c1d = [r[4] for r in a["ohlcv_1d"] if r[0] + D <= asof]
    oi1h = [r[1] for r in a["oi_usd_1h"] if r[0] + H <= asof]
    oi1d = [r[1] for r in a["oi_usd_1d"] if r[0] + D <= asof]
    logret = [math.log(b / c) for c, b in itertools.pairwise(c1d)]
    sigma = statistics.stdev(logret[-30:])
    m: dict[str, Any] = {
        "price_change_24h": c1h[-1] / c1h[-25] - 1,
        "return_7d": c1d[-1] / c1d[-8] - 1,
        "sigma_daily": sigma,
        "vol_ratio": sigma / statistics.stdev(logret[-90:-30]),
        "oi_change_24h": oi1h[-1] / oi1h[-25] - 1,
        "oi_percentile_30d": sum(v <= oi1h[-1] for v in oi1d[-30:]) / len(oi1d[-30:]),
    }
    now, avg, weights = [], [], []
    for v in a["funding"]:
        scale = 8 / v["interval_hours"]
        window = [r for t, r in v["history"] if asof - 72 * H < t <= asof]
        now.append(v["rate"] * scale)
        avg.append(statistics.fmean(window) * scale)
        weights.append(v["oi_usd"])
    m["funding_8h"] = sum(x * w for x, w in zip(now, weights, strict=True)) / sum(weights)
    m["funding_8h_3d_avg"] = sum(x * w for x, w in zip(avg, weights, strict=True)) / sum(weights)
    buckets = [r for r in a["liquidations_1h"] if r[0] + H <= asof][-168:]
    for side, col in (("long", 1), ("short", 2)):
        values = [r[col] for r in buckets]
        liq_24h, earlier = sum(values[-24:]), values[:-24]
        mean = statistics.fmean(values)
        m[f"liq_{side}_24h"] = liq_24h
        m[f"liq_{side}_ratio"] = liq_24h / (sum(earlier) / (len(earlier) / 24))
        m[f"bursts_{side}"] = sum(v > 3 * mean for v in values[-24:]) if mean else 0
    skew = [(t, rr) for t, rr in a["skew_rr25_30d"] if t <= asof]
    m["rr25_30d"] = m["rr25_30d_7d_change"] = None
    if skew and skew[-1][0] >= asof - D:
        m["rr25_30d"] = skew[-1][1]
        t_near, rr_near = min(skew, key=lambda s: abs(s[0] - (asof - 7 * D)))
        if abs(t_near - (asof - 7 * D)) <= D:
            m["rr25_30d_7d_change"] = skew[-1][1] - rr_near
    return m


def _flags(m: dict[str, Any], side: str) -> dict[str, str]:
    """SPEC §3 with the default thresholds; a missing secondary input counts as false."""
    sign = 1 if side == "long" else -1
    price_fails = m["price_change_24h"] <= 0 if side == "long" else m["price_change_24h"] >= 0
    funding_on_side = m["funding_8h"] > 0.0001 if side == "long" else m["funding_8h"] < 0
    oi = (m["oi_change_24h"] >= 0.03 and price_fails) or (
        m["oi_percentile_30d"] >= 0.8 and funding_on_side and sign * m["return_7d"] < 0
    )
    avg_on_side = m["funding_8h_3d_avg"] > 0.0001 if side == "long" else m["funding_8h_3d_avg"] < 0
    funding = sign * m["funding_8h"] >= 0.0003 or (avg_on_side and sign * m["return_7d"] <= -0.05)
    liq = m[f"liq_{side}_ratio"] >= 2 and m[f"bursts_{side}"] >= 2 and m[f"liq_{side}_24h"] > 0
    if m["rr25_30d"] is None:
        skew = "unknown"
    else:
        change = m["rr25_30d_7d_change"]
        hit = -sign * m["rr25_30d"] >= 5 or (change is not None and -sign * change >= 3)
        skew = "caution" if hit else "clear"
    word = {True: "caution", False: "clear"}
    return {
        "open_interest": word[oi],
        "funding": word[funding],
        "liquidations": word[liq],
        "skew": skew,
    }


# The designed inputs, each far from its threshold (docs/demo.md). Settled
# funding carries seeded noise of ±0.0005% per 8h, hence the absolute tolerance of 3e-6.
DESIGN: dict[str, dict[str, float]] = {
    "BTC": {
        "price_change_24h": 0.004,
        "return_7d": 0.016,
        "sigma_daily": 0.018,
        "vol_ratio": 0.9,
        "oi_change_24h": 0.006,
        "funding_8h": 0.00006,
        "funding_8h_3d_avg": 0.00005,
        "rr25_30d": 0.6,
        "rr25_30d_7d_change": 0.4,
    },
    "ETH": {
        "price_change_24h": -0.014,
        "return_7d": -0.025,
        "sigma_daily": 0.026,
        "vol_ratio": 0.026 / 0.030,
        "oi_change_24h": 0.055,
        "oi_percentile_30d": 1.0,
        "funding_8h": 0.00048,
        "funding_8h_3d_avg": 0.00032,
        "rr25_30d": -1.2,
        "rr25_30d_7d_change": -0.8,
    },
    "SOL": {
        "price_change_24h": -0.085,
        "return_7d": -0.14,
        "sigma_daily": 0.065,
        "vol_ratio": 0.065 / 0.035,
        "oi_change_24h": 0.06,
        "funding_8h": -0.00004,
        "funding_8h_3d_avg": 0.00003,
        "rr25_30d": -9.5,
        "rr25_30d_7d_change": -8.0,
    },
    "DOGE": {
        "price_change_24h": 0.012,
        "return_7d": 0.03,
        "sigma_daily": 0.045,
        "vol_ratio": 0.9,
        "oi_change_24h": 0.01,
        "funding_8h": 0.00042,
        "funding_8h_3d_avg": 0.0003,
    },
}


@pytest.mark.parametrize("asset", ASSETS)
def test_designed_inputs(raw: dict[str, Any], asset: str) -> None:
    m = _market(raw["assets"][asset], ASOF)
    got = {k: m[k] for k in DESIGN[asset]}
    assert got == pytest.approx(DESIGN[asset], rel=2e-3, abs=3e-6)


def test_liquidations_design(raw: dict[str, Any]) -> None:
    got = {}
    for asset in ASSETS:
        m = _market(raw["assets"][asset], ASOF)
        got[asset] = {
            side: (round(m[f"liq_{side}_ratio"], 2), m[f"bursts_{side}"])
            for side in ("long", "short")
        }
    # (24h ÷ daily baseline, bursts in the last 24 h): only SOL's longs cross 2× and 2 bursts
    assert got == {
        "BTC": {"long": (1.09, 0), "short": (0.89, 0)},
        "ETH": {"long": (1.04, 0), "short": (1.02, 0)},
        "SOL": {"long": (6.80, 5), "short": (1.00, 0)},
        "DOGE": {"long": (0.96, 0), "short": (0.99, 0)},
    }


def test_sol_cascade_drop_lands_in_the_burst_hours(raw: dict[str, Any]) -> None:
    sol = raw["assets"]["SOL"]
    last_day = sol["ohlcv_1h"][-24:]
    liq = sol["liquidations_1h"][-24:]
    mean = statistics.fmean(r[1] for r in sol["liquidations_1h"][-168:])
    bursts = [h for h, r in enumerate(liq) if r[1] > 3 * mean]
    drop = sum(math.log(last_day[h][4] / last_day[h][1]) for h in bursts)
    assert bursts == sorted(make_demo.REGIMES[2].long_bursts)
    assert drop == pytest.approx(make_demo.CASCADE_DROP, abs=1e-3)


def test_sol_is_far_more_volatile_than_btc(raw: dict[str, Any]) -> None:
    sol = _market(raw["assets"]["SOL"], ASOF)["sigma_daily"]
    btc = _market(raw["assets"]["BTC"], ASOF)["sigma_daily"]
    assert sol / btc > 3


EXPECTED_FLAGS: dict[tuple[str, str], dict[str, str]] = {
    ("BTC", "long"): dict.fromkeys(("open_interest", "funding", "liquidations", "skew"), "clear"),
    ("BTC", "short"): dict.fromkeys(("open_interest", "funding", "liquidations", "skew"), "clear"),
    ("ETH", "long"): {
        "open_interest": "caution",
        "funding": "caution",
        "liquidations": "clear",
        "skew": "clear",
    },
    ("ETH", "short"): dict.fromkeys(("open_interest", "funding", "liquidations", "skew"), "clear"),
    ("SOL", "long"): {
        "open_interest": "caution",
        "funding": "clear",
        "liquidations": "caution",
        "skew": "caution",
    },
    ("SOL", "short"): dict.fromkeys(("open_interest", "funding", "liquidations", "skew"), "clear"),
    ("DOGE", "long"): {
        "open_interest": "clear",
        "funding": "caution",
        "liquidations": "clear",
        "skew": "unknown",
    },
    ("DOGE", "short"): {
        "open_interest": "clear",
        "funding": "clear",
        "liquidations": "clear",
        "skew": "unknown",
    },
}


@pytest.mark.parametrize(("asset", "side"), list(EXPECTED_FLAGS))
def test_independent_flags(raw: dict[str, Any], asset: str, side: str) -> None:
    assert _flags(_market(raw["assets"][asset], ASOF), side) == EXPECTED_FLAGS[(asset, side)]


# ---- the engine on the demo -----------------------------------------------------------------

# (asset, side, leverage) → (flag statuses, verdict, worst-case verdict, max_leverage)
ENGINE_CASES: list[tuple[str, str, float, str, str, int]] = [
    ("BTC", "long", 3.0, "proceed", "proceed", 9),
    ("BTC", "short", 3.0, "proceed", "proceed", 9),
    ("ETH", "long", 5.0, "reduce", "reduce", 5),
    ("ETH", "short", 5.0, "proceed", "proceed", 7),
    ("SOL", "long", 5.0, "wait", "wait", 1),
    # no flag, but 5x is above SOL's max leverage: the position check raises it to reduce
    ("SOL", "short", 5.0, "reduce", "reduce", 1),
    # one flag and skew unknown: proceed, but the worst case is reduce
    ("DOGE", "long", 2.0, "proceed", "reduce", 3),
    ("DOGE", "short", 2.0, "proceed", "proceed", 4),
]


@pytest.fixture(scope="module")
def demo_assets() -> tuple[int, dict[str, Any]]:
    return load_snapshot(DEMO_PATH)


@pytest.mark.parametrize(("asset", "side", "lev", "verdict", "worst", "max_lev"), ENGINE_CASES)
def test_engine_grades_each_regime(
    demo_assets: tuple[int, dict[str, Any]],
    asset: str,
    side: str,
    lev: float,
    verdict: str,
    worst: str,
    max_lev: int,
) -> None:
    asof, assets = demo_assets
    idea = TradeIdea(asset=asset, side=side, leverage=lev, leverage_given=True)  # type: ignore[arg-type]
    result = grade_check(idea, assets[asset], asof, Thresholds())
    (grade,) = result.grades
    statuses = {name: f.status for name, f in grade.flags.items()}
    assert (statuses, grade.verdict, grade.worst_case_verdict, grade.position.max_leverage) == (
        EXPECTED_FLAGS[(asset, side)],
        verdict,
        worst,
        max_lev,
    )


def test_engine_grades_both_sides_without_a_side(
    demo_assets: tuple[int, dict[str, Any]],
) -> None:
    asof, assets = demo_assets
    idea = TradeIdea(asset="ETH", side=None, leverage=5.0, leverage_given=True)
    result = grade_check(idea, assets["ETH"], asof, Thresholds())
    assert [(g.side, g.caution_count, g.verdict) for g in result.grades] == [
        ("long", 2, "reduce"),
        ("short", 0, "proceed"),
    ]


def test_cli_demo_json_agrees_with_the_design() -> None:
    done = subprocess.run(
        [sys.executable, "bot.py", "check", "SOL", "long", "5x", "--demo", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    (grade,) = out["grades"]
    statuses = {name: f["status"] for name, f in grade["flags"].items()}
    assert (out["asset"], out["asof"], out["market"]["price"]) == ("SOL", ASOF, 168.4)
    assert (statuses, grade["caution_count"], grade["verdict"]) == (
        EXPECTED_FLAGS[("SOL", "long")],
        3,
        "wait",
    )
    assert out["market"]["vol_expansion"] is True
