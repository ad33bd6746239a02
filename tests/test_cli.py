"""SPEC §7 CLI: text and JSON output, exit codes, and an independent oracle.

Most runs go through `cli.main` in this process (the same code path, without an interpreter
start); a few per exit status go through a real `python bot.py` (`run_real`), which is what
proves the entry point, its exit status and that nothing but the answer is printed.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import cli
from settings import ENV_FIELDS
from tests.helpers.builders import (
    ASOF,
    DAY,
    HOUR,
    asset_json,
    malformed_cases,
    snapshot_doc,
    venue,
    write_doc,
)

ROOT = Path(__file__).resolve().parents[1]
BOT = ROOT / "bot.py"

TOP_KEYS = {"asset", "asof", "stop", "target", "targets", "market", "sources", "grades"}
MARKET_KEYS = {
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
}
GRADE_KEYS = {
    "side",
    "leverage",
    "entry",
    "horizon_days",
    "flags",
    "caution_count",
    "unknown_count",
    "flags_verdict",
    "position_verdict",
    "verdict",
    "worst_case_verdict",
    "position",
    "sizing",
}
FLAG_NAMES = {"open_interest", "funding", "liquidations", "skew"}
FLAG_KEYS = {"status", "reason", "values"}
POSITION_KEYS = {
    "liq_distance",
    "liq_price",
    "survives_10pct",
    "move_1sigma",
    "move_2sigma",
    "survives_2sigma",
    "max_leverage",
    "max_drawdown",
    "max_drawdown_margin",
    "reduce_level",
    "cut_level",
    "stop_distance",
    "stop_loss_margin",
    "stop_beyond_liq",
    "reward_risk",
}
SIZING_KEYS = {"account_usd", "risk_usd", "cut_distance", "size_usd", "size_base", "margin_usd"}


class Run:
    """One finished CLI run."""

    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def json(self) -> Any:
        """stdout as strict JSON (NaN / Infinity are not JSON)."""
        return json.loads(self.out, parse_constant=_no_constants)


def _no_constants(token: str) -> Any:
    raise AssertionError(f"{token} in --json output")


def _env() -> dict[str, str]:
    # the CLI must not pick up threshold overrides from whoever runs the tests
    env = {k: v for k, v in os.environ.items() if k not in ENV_FIELDS}
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def run_real(*args: str, cwd: Path | None = None) -> Run:
    """Run `python bot.py check …` in a fresh interpreter."""
    proc = subprocess.run(
        [sys.executable, str(BOT), "check", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=cwd or ROOT,
        env=_env(),
        timeout=60,
        check=False,
    )
    return Run(proc)


@contextlib.contextmanager
def _without_overrides() -> Iterator[None]:
    """os.environ without threshold overrides of whoever runs the tests (as `_env`)."""
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k in ENV_FIELDS}
    try:
        yield
    finally:
        os.environ.update(saved)


def run_cli(*args: str, cwd: Path | None = None) -> Run:
    """Run `check …` through cli.main in this process, from `cwd`, as the real CLI would."""
    with _without_overrides(), contextlib.chdir(cwd or ROOT):
        return run_main(*args)


def run_many(arg_lists: Sequence[Sequence[str]], cwd: Path) -> list[Run]:
    """Run several CLI invocations one after another, in this process."""
    return [run_cli(*a, cwd=cwd) for a in arg_lists]


def run_many_real(arg_lists: Sequence[Sequence[str]], cwd: Path) -> list[Run]:
    """Run several CLI invocations side by side, each in its own interpreter."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda a: run_real(*a, cwd=cwd), arg_lists))


def assert_clean_failure(run: Run, code: int) -> None:
    """Exit `code`, a message on stderr, no traceback, nothing on stdout."""
    assert run.code == code, (run.code, run.err)
    assert run.err.strip()
    assert "Traceback" not in run.err
    assert run.out == ""


# ---- the demo -------------------------------------------------------------------------------


def test_demo_text_reply() -> None:
    run = run_real("ETH", "long", "5x", "--demo")
    assert run.code == 0, run.err
    assert "Traceback" not in run.err
    first = run.out.strip().splitlines()[0]
    assert re.search(r"\b(PROCEED|REDUCE|WAIT)\b", first)
    assert "ETH" in first and "long" in first and "5x" in first
    assert len(run.out) < 4096
    assert not re.search(r"</?(b|i|code|pre|a)\b", run.out)  # plain text, no HTML
    assert "&lt;" not in run.out and "&amp;" not in run.out


def test_demo_json_shape_is_spec_exact() -> None:
    run = run_cli("ETH", "long", "5x", "--demo", "--json")
    assert run.code == 0, run.err
    doc = run.json()
    assert set(doc) == TOP_KEYS
    assert doc["asset"] == "ETH"
    assert isinstance(doc["asof"], int)
    assert doc["stop"] is None
    assert set(doc["market"]) == MARKET_KEYS
    assert len(doc["grades"]) == 1
    (g,) = doc["grades"]
    assert set(g) == GRADE_KEYS
    assert set(g["flags"]) == FLAG_NAMES
    for f in g["flags"].values():
        assert set(f) == FLAG_KEYS
        assert f["status"] in {"caution", "clear", "unknown"}
        assert isinstance(f["reason"], str) and f["reason"] and "\n" not in f["reason"]
        assert isinstance(f["values"], dict)
    assert set(g["position"]) == POSITION_KEYS
    assert g["sizing"] is None
    assert set(doc["sources"]) == {"used", "failed", "stale"}
    assert doc["sources"]["stale"] == {}
    assert (doc["target"], doc["targets"]) == (None, [])
    assert g["side"] == "long"
    assert g["leverage"] == 5
    assert g["entry"] == doc["market"]["price"]
    assert g["horizon_days"] == 7
    assert g["verdict"] in {"proceed", "reduce", "wait"}
    p = g["position"]
    assert p["liq_distance"] == pytest.approx(0.195)
    assert p["liq_price"] == pytest.approx(g["entry"] * 0.805)
    assert p["survives_10pct"] is True


def test_demo_json_without_side_grades_long_then_short() -> None:
    run = run_cli("eth", "5x", "--demo", "--json")
    assert run.code == 0, run.err
    doc = run.json()
    assert [g["side"] for g in doc["grades"]] == ["long", "short"]
    short = doc["grades"][1]
    assert short["position"]["liq_price"] == pytest.approx(short["entry"] * 1.195)


def test_demo_json_echoes_stop_entry_and_horizon() -> None:
    run = run_cli(
        "ETH", "long", "4x", "@", "3000", "stop", "2800", "for", "3d", "--demo", "--json"
    )
    assert run.code == 0, run.err
    doc = run.json()
    assert doc["stop"] == 2800
    (g,) = doc["grades"]
    assert g["entry"] == 3000
    assert g["horizon_days"] == 3
    assert g["position"]["liq_distance"] == pytest.approx(0.245)
    assert g["position"]["liq_price"] == pytest.approx(3000 * 0.755)


def test_demo_text_without_side_stays_under_4096() -> None:
    # v2: a stop with no side grades both sides, the stop only on the side it fits (a long)
    run = run_cli("SOL", "2.5x", "stop", "1", "--demo")
    assert run.code == 0, run.err
    assert len(run.out) < 4096
    long, short = run.out.split("──────────")
    assert "Stop $1.000" in long
    assert "Stop fits a long, not this short" in short


# ---- exit codes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "words",
    [
        ["--demo"],  # no idea at all
        ["ETH", "long", "short", "5x", "--demo"],
        ["ETH", "BTC", "long", "--demo"],
        ["ETH", "long", "500x", "--demo"],
        ["ETH", "long", "0x", "--demo"],
        ["ETH", "long", "5x", "@", "100", "stop", "120", "--demo"],  # stop on the profit side
        ["ETH", "long", "5x", "--demo", "--snapshot", "x.json"],
        ["ETH", "long", "5x", "@", "32000", "--demo"],  # a typo: the price is $3,210
        ["ETH", "long", "5x", "stop", "3300", "--demo"],  # no @: above the price
        ["ETH", "short", "5x", "tp", "3300", "--demo"],
        ["ETH", "long", "risk", "1%", "--demo"],  # a percentage of no account
        ["ETH", "lnog", "--demo"],
        ["ETH", "long", "--demo", "--josn"],
    ],
    ids=[
        "empty", "two-sides", "two-assets", "lev-500", "lev-0", "stop-wrong", "both-src",
        "entry-typo", "stop-above-price", "target-wrong", "risk-no-account", "typo-side",
        "typo-option",
    ],
)  # fmt: skip
def test_bad_idea_words_exit_2(words: list[str]) -> None:
    assert_clean_failure(run_cli(*words), 2)


def test_bad_input_exits_2_from_a_real_interpreter() -> None:
    assert_clean_failure(run_real("ETH", "long", "500x", "--demo"), 2)


def test_no_market_data_exits_3_from_a_real_interpreter(tmp_path: Path) -> None:
    path = write_doc(tmp_path / "s.json", snapshot_doc({"ETH": asset_json()}))
    assert_clean_failure(run_real("DOGE", "long", "--snapshot", str(path), cwd=tmp_path), 3)


@pytest.fixture(scope="module")
def no_data_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """Runs against a snapshot with an empty, a bare and a populated asset."""
    tmp = tmp_path_factory.mktemp("nodata")
    doc = snapshot_doc(
        {
            "ETH": asset_json(closes_1h=[100.0] * 25),
            "XRP": asset_json(),  # every series present and empty
            "SOL": {},  # every series missing
            "ADA": asset_json(funding=[]),
        }
    )
    path = str(write_doc(tmp / "s.json", doc))
    cases = {
        "absent": ["DOGE", "long", "--snapshot", path],
        "absent-json": ["DOGE", "long", "--snapshot", path, "--json"],
        "empty-lists": ["XRP", "long", "--snapshot", path],
        "no-keys": ["SOL", "short", "2x", "--snapshot", path, "--json"],
        "no-funding": ["ADA", "--snapshot", path],
        "present": ["ETH", "long", "--snapshot", path],
        "missing-file": ["ETH", "long", "--snapshot", str(tmp / "missing.json")],
    }
    return dict(zip(cases, run_many(list(cases.values()), tmp), strict=True))


@pytest.mark.parametrize("case", ["absent", "absent-json", "empty-lists", "no-keys", "no-funding"])
def test_no_market_data_exits_3(no_data_runs: dict[str, Run], case: str) -> None:
    assert_clean_failure(no_data_runs[case], 3)


def test_missing_snapshot_file_exits_2(no_data_runs: dict[str, Run]) -> None:
    run = no_data_runs["missing-file"]
    assert_clean_failure(run, 2)
    assert "missing.json" in run.err


def test_asset_with_only_hourly_prices_is_graded(no_data_runs: dict[str, Run]) -> None:
    run = no_data_runs["present"]
    assert run.code == 0, run.err
    assert "ETH" in run.out


# ---- malformed snapshots --------------------------------------------------------------------

CASES = malformed_cases()
# one of each kind, also run in a real interpreter (the rest run in-process through cli.main)
SUBPROCESS_CASES = {"missing-format", "truncated", "close-nan"}


def run_main(*args: str) -> Run:
    """Run `check …` through cli.main in this process (same code path, no interpreter start)."""
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["check", *args], stdout=out, stderr=err)
    return Run(subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue()))


@pytest.fixture(scope="module")
def clean_cwd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A working directory without .env and an environment without Preflight overrides."""
    tmp = tmp_path_factory.mktemp("cwd")
    with pytest.MonkeyPatch.context() as mp:
        for var in ENV_FIELDS:
            mp.delenv(var, raising=False)
        mp.chdir(tmp)
        yield tmp


@pytest.fixture(scope="module")
def malformed_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Every malformed snapshot written to a file whose name gives no key away."""
    tmp = tmp_path_factory.mktemp("malformed")
    paths = {}
    for i, (case_id, text, _) in enumerate(CASES):
        path = tmp / f"snapshot_{i:02d}.json"
        path.write_text(text, encoding="utf-8")
        paths[case_id] = str(path)
    return paths


@pytest.fixture(scope="module")
def malformed_subprocess_runs(malformed_files: dict[str, str]) -> dict[str, Run]:
    """Representative malformed cases (a file, a syntax, a value), in real interpreters; every
    case runs in-process above."""
    ids = sorted(SUBPROCESS_CASES)
    arg_lists = [["ETH", "long", "5x", "--snapshot", malformed_files[c], "--json"] for c in ids]
    runs = run_many_real(arg_lists, Path(malformed_files[ids[0]]).parent)
    return dict(zip(ids, runs, strict=True))


def assert_names_path_and_key(run: Run, path: str, key: str | None) -> None:
    """Exit 2 with one stderr line naming the file and (when there is one) the key."""
    assert_clean_failure(run, 2)
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, run.err
    assert path in lines[0]
    if key is not None:
        assert key in lines[0], lines[0]


@pytest.mark.parametrize(
    ("case_id", "key"), [(c, k) for c, _, k in CASES], ids=[c[0] for c in CASES]
)
def test_malformed_snapshot_exits_2_naming_path_and_key(
    clean_cwd: Path, malformed_files: dict[str, str], case_id: str, key: str | None
) -> None:
    path = malformed_files[case_id]
    assert_names_path_and_key(
        run_main("ETH", "long", "5x", "--snapshot", path, "--json"), path, key
    )


@pytest.mark.parametrize(
    ("case_id", "key"), [(c, k) for c, _, k in CASES if c in SUBPROCESS_CASES]
)
def test_malformed_snapshot_in_subprocess(
    malformed_subprocess_runs: dict[str, Run],
    malformed_files: dict[str, str],
    case_id: str,
    key: str | None,
) -> None:
    assert_names_path_and_key(malformed_subprocess_runs[case_id], malformed_files[case_id], key)


# ---- an independent oracle on synthetic snapshots ----------------------------------------------


BARS = {  # series → (bar length, staleness limit), SPEC §1
    "ohlcv_1h": (HOUR, 3 * HOUR),
    "oi_usd_1h": (HOUR, 3 * HOUR),
    "liquidations_1h": (HOUR, 3 * HOUR),
    "ohlcv_1d": (DAY, 3 * DAY),
    "oi_usd_1d": (DAY, 3 * DAY),
}


def spec_series(body: dict[str, Any], asof: int, stale: dict[str, int]) -> dict[str, Any]:
    """SPEC §1: each series cut at asof (closed bars, samples at or before), stale ones emptied."""
    out: dict[str, Any] = {}
    for name, (bar, limit) in BARS.items():
        rows = [r for r in body.get(name, []) if r[0] + bar <= asof]
        if rows and asof - (rows[-1][0] + bar) > limit:
            stale[name] = asof - (rows[-1][0] + bar)
            rows = []
        out[name] = rows
    skew = [r for r in body.get("skew_rr25_30d", []) if r[0] <= asof]
    if skew and asof - skew[-1][0] > 24 * HOUR:
        stale["skew_rr25_30d"] = asof - skew[-1][0]
        skew = []
    out["skew_rr25_30d"] = skew
    funding = []
    for v in body.get("funding", []):
        history = [r for r in v["history"] if r[0] <= asof]
        if history and asof - history[-1][0] > 3 * DAY:
            stale[f"funding.{v['venue']}.history"] = asof - history[-1][0]
            history = []
        funding.append({**v, "history": history})
    out["funding"] = funding
    return out


def spec_market(body: dict[str, Any], asof: int) -> dict[str, Any]:
    """SPEC §2 (v2: daily fallbacks, staleness), written out from the snapshot JSON."""
    stale: dict[str, int] = {}
    series = spec_series(body, asof, stale)
    c1h = np.array([r[4] for r in series["ohlcv_1h"]], dtype=float)
    c1d = np.array([r[4] for r in series["ohlcv_1d"]], dtype=float)
    oi1h = np.array([r[1] for r in series["oi_usd_1h"]], dtype=float)
    oi1d = np.array([r[1] for r in series["oi_usd_1d"]], dtype=float)

    def change_24h(hourly: np.ndarray, daily: np.ndarray) -> float | None:
        if len(hourly) >= 25:
            return float(hourly[-1] / hourly[-25] - 1)
        return float(daily[-1] / daily[-2] - 1) if len(daily) >= 2 else None

    m: dict[str, Any] = {"_stale": stale}
    m["price"] = c1h[-1] if len(c1h) else (c1d[-1] if len(c1d) else None)
    m["price_change_24h"] = change_24h(c1h, c1d)
    m["return_7d"] = c1d[-1] / c1d[-8] - 1 if len(c1d) >= 8 else None
    r = np.diff(np.log(c1d))
    m["sigma_daily"] = float(np.std(r[-30:], ddof=1)) if len(c1d) >= 31 else None
    m["vol_expansion"] = bool(
        len(c1d) >= 91 and m["sigma_daily"] >= 1.5 * np.std(r[-90:-30], ddof=1)
    )
    m["oi_usd"] = oi1h[-1] if len(oi1h) else (oi1d[-1] if len(oi1d) else None)
    m["oi_change_24h"] = change_24h(oi1h, oi1d)
    m["oi_percentile_30d"] = (
        float(np.mean(oi1d[-30:] <= m["oi_usd"]))
        if len(oi1d) >= 7 and m["oi_usd"] is not None
        else None
    )
    now, avg = [], []
    for v in series["funding"]:
        scale = 8 / v["interval_hours"]
        now.append((v["rate"] * scale, v["oi_usd"]))
        window = [rate for ts, rate in v["history"] if asof - 72 * HOUR < ts <= asof]
        if window:
            avg.append((float(np.mean(window)) * scale, v["oi_usd"]))
    m["funding_8h"] = _weighted(now)
    m["funding_8h_3d_avg"] = _weighted(avg)
    liq = np.array([r[1:] for r in series["liquidations_1h"]], dtype=float).reshape(-1, 2)
    liq = liq[-168:]
    sides: dict[str, tuple[Any, Any, int] | None] = {}
    for i, side in enumerate(("long", "short")):
        if len(liq) < 48:
            sides[side] = None
            continue
        col = liq[:, i]
        mean = col.mean()
        sides[side] = (
            col[-24:].sum(),
            col[:-24].sum() / ((len(col) - 24) / 24),
            int((col[-24:] > 3 * mean).sum()) if mean > 0 else 0,
        )
    m["liq_long_24h_usd"] = sides["long"][0] if sides["long"] else None
    m["liq_short_24h_usd"] = sides["short"][0] if sides["short"] else None
    skew = [(ts, rr) for ts, rr in series["skew_rr25_30d"]]
    m["rr25_30d"] = skew[-1][1] if skew else None
    m["rr25_30d_7d_change"] = None
    if skew:
        ts7, rr7 = min(skew, key=lambda s: abs(s[0] - (asof - 7 * DAY)))
        if abs(ts7 - (asof - 7 * DAY)) <= DAY:
            m["rr25_30d_7d_change"] = skew[-1][1] - rr7
    m["_liq"] = sides
    return m


def _weighted(pairs: list[tuple[float, float]]) -> float | None:
    if not pairs:
        return None
    total = sum(w for _, w in pairs)
    if total == 0:
        return float(np.mean([v for v, _ in pairs]))
    return sum(v * w for v, w in pairs) / total


def spec_flags(m: dict[str, Any], side: str) -> dict[str, str]:
    """SPEC §3 for one side."""

    def known(*keys: str) -> bool:
        return all(m[k] is not None for k in keys)

    long = side == "long"
    out = {}
    if not known("oi_change_24h", "price_change_24h"):
        out["open_interest"] = "unknown"
    else:
        price_against = m["price_change_24h"] <= 0 if long else m["price_change_24h"] >= 0
        primary = m["oi_change_24h"] >= 0.03 and price_against
        secondary = known("oi_percentile_30d", "funding_8h", "return_7d") and (
            m["oi_percentile_30d"] >= 0.8
            and (m["funding_8h"] > 0.0001 if long else m["funding_8h"] < 0)
            and (m["return_7d"] < 0 if long else m["return_7d"] > 0)
        )
        out["open_interest"] = "caution" if primary or secondary else "clear"
    if not known("funding_8h"):
        out["funding"] = "unknown"
    else:
        f8 = m["funding_8h"]
        primary = f8 >= 0.0003 if long else f8 <= -0.0003
        secondary = known("funding_8h_3d_avg", "return_7d") and (
            (m["funding_8h_3d_avg"] > 0.0001 and m["return_7d"] <= -0.05)
            if long
            else (m["funding_8h_3d_avg"] < 0 and m["return_7d"] >= 0.05)
        )
        out["funding"] = "caution" if primary or secondary else "clear"
    stats = m["_liq"][side]
    if stats is None:
        out["liquidations"] = "unknown"
    else:
        liq_24h, baseline, bursts = stats
        hot = liq_24h >= 2 * baseline and bursts >= 2 and liq_24h > 0
        out["liquidations"] = "caution" if hot else "clear"
    if not known("rr25_30d"):
        out["skew"] = "unknown"
    else:
        rr, change = m["rr25_30d"], m["rr25_30d_7d_change"]
        primary = rr <= -5 if long else rr >= 5
        secondary = change is not None and (change <= -3 if long else change >= 3)
        out["skew"] = "caution" if primary or secondary else "clear"
    return out


ORDER = ["proceed", "reduce", "wait"]


def spec_grade(
    m: dict[str, Any],
    side: str,
    lev: float,
    mmr: float,
    stop: float | None = None,
    target: float | None = None,
    risk_usd: float | None = None,
    account: float | None = None,
) -> dict[str, Any]:
    """SPEC v2 §4 and §5 for one side, entry at price and a 7-day horizon."""
    flags = spec_flags(m, side)
    cautions = list(flags.values()).count("caution")
    unknowns = list(flags.values()).count("unknown")
    entry, sigma, h = m["price"], m["sigma_daily"], 7.0
    dist = 1 / lev - mmr
    move1 = None if sigma is None else sigma * math.sqrt(h)
    move = None if move1 is None else 2 * move1
    floor_move = 0.10 if move is None else max(0.10, move)
    k = 1.0
    if flags["liquidations"] == "caution" or m["vol_expansion"]:
        k *= 0.5
    if flags["funding"] == "caution":
        k *= 0.75
    max_lev = max(1, math.floor(k / (floor_move + mmr)))

    def by_count(n: int) -> str:
        return "wait" if n >= 3 else "reduce" if n == 2 else "proceed"

    def stricter(a: str, b: str) -> str:
        return max(a, b, key=ORDER.index)

    if dist < (move1 if move1 is not None else 0.05):
        position_verdict = "wait"
    elif dist < 0.10 or lev > max_lev:
        position_verdict = "reduce"
    else:
        position_verdict = "proceed"
    sign = -1 if side == "long" else 1
    reduce_level = None if move1 is None or entry is None else entry * (1 + sign * move1)
    stop_distance = None if stop is None or entry is None else abs(entry - stop) / entry
    cut_level = reduce_level
    if stop_distance is not None and (move1 is None or stop_distance < move1):
        cut_level = stop
    reward_risk = None
    if target is not None:
        if stop is not None:
            reward_risk = abs(target - entry) / abs(entry - stop)
        elif move1:
            reward_risk = abs(target - entry) / entry / move1
    sizing = None
    if risk_usd is not None:
        cut = move1 if stop_distance is None else min(stop_distance, dist)
        if cut is not None:
            size = risk_usd / cut
            sizing = {
                "account_usd": account,
                "risk_usd": risk_usd,
                "cut_distance": cut,
                "size_usd": size,
                "size_base": size / entry,
                "margin_usd": size / lev,
            }
    return {
        "flags": flags,
        "caution_count": cautions,
        "unknown_count": unknowns,
        "flags_verdict": by_count(cautions),
        "position_verdict": position_verdict,
        "verdict": stricter(by_count(cautions), position_verdict),
        "worst_case_verdict": stricter(by_count(cautions + unknowns), position_verdict),
        "position": {
            "liq_distance": dist,
            "liq_price": None if entry is None else entry * (1 + sign * dist),
            "survives_10pct": dist >= 0.10,
            "move_1sigma": move1,
            "move_2sigma": move,
            "survives_2sigma": None if move is None else dist >= move,
            "max_leverage": max_lev,
            "max_drawdown": move,
            "max_drawdown_margin": None if move is None else min(1.0, move * lev),
            "reduce_level": reduce_level,
            "cut_level": cut_level,
            "stop_distance": stop_distance,
            "stop_loss_margin": None if stop_distance is None else min(1.0, stop_distance * lev),
            "stop_beyond_liq": None if stop_distance is None else stop_distance >= dist,
            "reward_risk": reward_risk,
        },
        "sizing": sizing,
    }


def scenario(seed: int) -> dict[str, Any]:
    """A random but well-formed asset: every series present, regimes varying with the seed."""
    rng = np.random.default_rng(seed)
    n_daily = int(rng.choice([20, 40, 95, 120]))
    vol = rng.uniform(0.01, 0.06)
    daily_r = rng.normal(0, vol, n_daily)
    if rng.random() < 0.5:
        daily_r[-30:] *= 2.5  # a volatility expansion
    closes_1d = list(2000 * np.exp(np.cumsum(daily_r)))
    closes_1h = list(closes_1d[-1] * np.exp(np.cumsum(rng.normal(0, vol / 5, 30))))
    oi_1h = list(1e9 * np.exp(np.cumsum(rng.normal(0.002, 0.01, 30))))
    oi_1d = list(1e9 * np.exp(np.cumsum(rng.normal(0, 0.03, int(rng.choice([5, 12, 40]))))))
    venues = []
    for name, interval in (("binanceusdm", 8), ("bybit", 1), ("okx", 4)):
        base = rng.uniform(-0.0006, 0.0009) * interval / 8
        history = [
            (ASOF - h * HOUR, float(base + rng.normal(0, 0.00003)))
            for h in range(96, -1, -interval)
            if rng.random() < 0.9
        ]
        venues.append(venue(name, float(base), interval, float(rng.uniform(0, 5e9)), history))
    n_liq = int(rng.choice([30, 60, 200]))
    liq = rng.exponential(1e5, (n_liq, 2))
    for _ in range(int(rng.integers(0, 4))):
        liq[-int(rng.integers(1, 24)), int(rng.integers(0, 2))] *= rng.uniform(5, 60)
    skew_level = rng.uniform(-8, 8)
    skew = [
        (ASOF - h * HOUR, float(skew_level + rng.normal(0, 1) + (h / 24) * rng.uniform(-0.8, 0.8)))
        for h in range(int(rng.choice([10 * 24, 30])), -1, -6)
    ]
    return asset_json(
        closes_1h=closes_1h,
        closes_1d=closes_1d,
        oi_1h=oi_1h,
        oi_1d=oi_1d,
        funding=venues,
        liquidations=[tuple(row) for row in liq],
        skew=skew,
        mmr=float(rng.choice([0.005, 0.004, 0.01])),
    )


SEEDS = list(range(12))
LEVERAGE = ["1", "2.5", "3", "5", "9", "12"]


@pytest.fixture(scope="module")
def oracle_runs(clean_cwd: Path) -> dict[int, tuple[dict, Run]]:
    """Grade each seeded scenario through cli.main, with no side (so both sides are graded)."""
    runs = {}
    for seed in SEEDS:
        body = scenario(seed)
        path = write_doc(clean_cwd / f"s{seed}.json", snapshot_doc({"ETH": body}))
        lev = LEVERAGE[seed % len(LEVERAGE)] + "x"
        runs[seed] = (body, run_main("ETH", lev, "--snapshot", str(path), "--json"))
    return runs


def test_oracle_scenario_through_a_real_interpreter(tmp_path: Path) -> None:
    body = scenario(3)
    path = write_doc(tmp_path / "s.json", snapshot_doc({"ETH": body}))
    run = run_real("ETH", "long", "5x", "--snapshot", str(path), "--json", cwd=tmp_path)
    assert run.code == 0, run.err
    m = spec_market(body, ASOF)
    doc = run.json()
    for key in MARKET_KEYS:
        assert close(doc["market"][key], m[key]), key
    want = spec_grade(m, "long", 5.0, body["mmr"])
    (g,) = doc["grades"]
    assert {n: f["status"] for n, f in g["flags"].items()} == want["flags"]
    assert g["verdict"] == want["verdict"]


def close(actual: Any, expected: Any) -> bool:
    """Equal, or numerically equal to 1e-9 relative."""
    if expected is None or isinstance(expected, bool):
        return actual is expected
    return actual is not None and math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-15)


@pytest.mark.parametrize("seed", SEEDS)
def test_json_agrees_with_spec_oracle(oracle_runs: dict[int, tuple[dict, Run]], seed: int) -> None:
    body, run = oracle_runs[seed]
    assert run.code == 0, run.err
    doc = run.json()
    m = spec_market(body, ASOF)
    for key in MARKET_KEYS:
        assert close(doc["market"][key], m[key]), (key, doc["market"][key], m[key])
    lev = float(LEVERAGE[seed % len(LEVERAGE)])
    assert [g["side"] for g in doc["grades"]] == ["long", "short"]
    for g in doc["grades"]:
        want = spec_grade(m, g["side"], lev, body["mmr"])
        got_flags = {n: f["status"] for n, f in g["flags"].items()}
        assert got_flags == want["flags"], g["side"]
        for key in (
            "caution_count",
            "unknown_count",
            "flags_verdict",
            "position_verdict",
            "verdict",
            "worst_case_verdict",
        ):
            assert g[key] == want[key], (g["side"], key)
        for key, value in want["position"].items():
            assert close(g["position"][key], value), (g["side"], key, g["position"][key], value)
        assert g["leverage"] == lev
        assert g["entry"] == pytest.approx(m["price"])
        assert g["horizon_days"] == 7


def test_oracle_scenarios_cover_every_status_and_verdict(
    oracle_runs: dict[int, tuple[dict, Run]],
) -> None:
    statuses, verdicts = set(), set()
    for _, run in oracle_runs.values():
        for g in run.json()["grades"]:
            statuses |= {(n, f["status"]) for n, f in g["flags"].items()}
            verdicts.add(g["verdict"])
    assert verdicts == {"proceed", "reduce", "wait"}
    assert {s for _, s in statuses} == {"caution", "clear", "unknown"}


def test_unknown_numbers_are_null(tmp_path: Path) -> None:
    path = write_doc(
        tmp_path / "s.json", snapshot_doc({"ETH": asset_json(closes_1h=[100.0] * 10)})
    )
    run = run_cli("ETH", "short", "3x", "--snapshot", str(path), "--json", cwd=tmp_path)
    assert run.code == 0, run.err
    doc = run.json()
    m = doc["market"]
    assert m["price"] == 100.0
    for key in MARKET_KEYS - {"price", "vol_expansion"}:
        assert m[key] is None, key
    assert m["vol_expansion"] is False
    (g,) = doc["grades"]
    assert {f["status"] for f in g["flags"].values()} == {"unknown"}
    p = g["position"]
    for key in POSITION_KEYS - {"liq_distance", "liq_price", "survives_10pct", "max_leverage"}:
        assert p[key] is None, key
    assert p["max_leverage"] == 9  # floor(1 / (0.10 + 0.005))
    assert g["verdict"] == "proceed"
    assert g["worst_case_verdict"] == "wait"


# ---- SPEC v2: the oracle on stops, targets, sizing, stale and hourly-missing data ------------

LEVEL_SEEDS = list(range(20, 32))


def levels_for(seed: int, price: float) -> tuple[str, float, float, float, float]:
    """A side, stop, target, risk % and account drawn for a seed, around the price."""
    rng = np.random.default_rng(seed)
    side = "long" if seed % 2 else "short"
    sign = -1 if side == "long" else 1
    stop = price * (1 + sign * rng.uniform(0.005, 0.3))
    target = price * (1 - sign * rng.uniform(0.01, 0.4))
    return side, round(stop, 2), round(target, 2), round(rng.uniform(0.2, 3), 2), 10_000.0


@pytest.fixture(scope="module")
def level_runs(clean_cwd: Path) -> dict[int, tuple[dict, Run, tuple]]:
    """Seeded scenarios graded with a side, a stop, a target, a risk and an account."""
    runs = {}
    for seed in LEVEL_SEEDS:
        body = scenario(seed)
        price = spec_market(body, ASOF)["price"]
        side, stop, target, risk, account = levels_for(seed, price)
        lev = LEVERAGE[seed % len(LEVERAGE)] + "x"
        path = write_doc(clean_cwd / f"l{seed}.json", snapshot_doc({"ETH": body}))
        words = ["ETH", side, lev, "stop", str(stop), "tp", str(target)]
        words += ["risk", f"{risk}%", "acct", str(int(account)), "--snapshot", str(path)]
        runs[seed] = (body, run_main(*words, "--json"), (side, stop, target, risk, account))
    return runs


def assert_grade_matches(g: dict[str, Any], want: dict[str, Any]) -> None:
    """Every SPEC v2 grade field equals the oracle's."""
    assert {n: f["status"] for n, f in g["flags"].items()} == want["flags"]
    for key in ("flags_verdict", "position_verdict", "verdict", "worst_case_verdict"):
        assert g[key] == want[key], key
    for key, value in want["position"].items():
        assert close(g["position"][key], value), (key, g["position"][key], value)
    if want["sizing"] is None:
        assert g["sizing"] is None
        return
    for key, value in want["sizing"].items():
        assert close(g["sizing"][key], value), (key, g["sizing"][key], value)


@pytest.mark.parametrize("seed", LEVEL_SEEDS)
def test_json_with_stop_target_and_sizing_agrees_with_the_oracle(
    level_runs: dict[int, tuple[dict, Run, tuple]], seed: int
) -> None:
    body, run, (side, stop, target, risk, account) = level_runs[seed]
    assert run.code == 0, run.err
    doc = run.json()
    assert (doc["stop"], doc["target"], doc["targets"]) == (stop, target, [target])
    m = spec_market(body, ASOF)
    lev = float(LEVERAGE[seed % len(LEVERAGE)])
    want = spec_grade(m, side, lev, body["mmr"], stop, target, risk / 100 * account, account)
    (g,) = doc["grades"]
    assert_grade_matches(g, want)


def test_level_scenarios_cover_every_position_verdict(
    level_runs: dict[int, tuple[dict, Run, tuple]],
) -> None:
    verdicts = {
        g["position_verdict"] for _, run, _ in level_runs.values() for g in run.json()["grades"]
    }
    cuts = {
        g["position"]["cut_level"] == float(levels[1])
        for _, run, levels in level_runs.values()
        for g in run.json()["grades"]
    }
    assert verdicts == {"proceed", "reduce", "wait"}
    assert cuts == {True, False}  # the stop and the 1σ level each set the cut level somewhere


STALE_SHIFTS = {
    "fresh": 0,
    "hourly-at-limit": 3 * HOUR,
    "hourly-stale": 3 * HOUR + 1,
    "skew-stale": 25 * HOUR,
    "daily-at-limit": 3 * DAY,
    "daily-stale": 3 * DAY + HOUR,
    "month-old": 30 * DAY,
}


@pytest.mark.parametrize("case", sorted(STALE_SHIFTS))
def test_stale_data_is_missing_and_named_with_its_age(clean_cwd: Path, case: str) -> None:
    # the same recorded data, read later: asof moves, the series age
    body = scenario(7)
    asof = ASOF + STALE_SHIFTS[case]
    path = write_doc(clean_cwd / f"stale-{case}.json", snapshot_doc({"ETH": body}, asof=asof))
    run = run_main("ETH", "3x", "--snapshot", str(path), "--json")
    assert run.code == 0, run.err
    doc = run.json()
    m = spec_market(body, asof)
    assert doc["sources"]["stale"] == m["_stale"]
    for key in MARKET_KEYS:
        assert close(doc["market"][key], m[key]), (key, doc["market"][key], m[key])
    for g in doc["grades"]:
        assert_grade_matches(g, spec_grade(m, g["side"], 3.0, body["mmr"]))
        for f in g["flags"].values():
            if f["status"] == "unknown" and "stale" in f["reason"]:
                assert " old (limit " in f["reason"]


def test_stale_scenarios_reach_every_stale_series(clean_cwd: Path) -> None:
    names = set()
    for shift in STALE_SHIFTS.values():
        names |= set(spec_market(scenario(7), ASOF + shift)["_stale"])
    assert {"ohlcv_1h", "oi_usd_1h", "liquidations_1h", "ohlcv_1d", "oi_usd_1d"} <= names
    assert "skew_rr25_30d" in names and any(n.startswith("funding.") for n in names)


def test_hourly_missing_data_uses_the_daily_fallbacks(clean_cwd: Path) -> None:
    body = scenario(5)
    body["ohlcv_1h"], body["oi_usd_1h"] = [], []
    path = write_doc(clean_cwd / "no-hourly.json", snapshot_doc({"ETH": body}))
    doc = run_main("ETH", "long", "2x", "--snapshot", str(path), "--json").json()
    m = spec_market(body, ASOF)
    assert doc["market"]["price"] == body["ohlcv_1d"][-1][4]
    assert doc["market"]["price_change_24h"] is not None
    assert doc["market"]["oi_change_24h"] is not None
    for key in MARKET_KEYS:
        assert close(doc["market"][key], m[key]), key
    assert_grade_matches(doc["grades"][0], spec_grade(m, "long", 2.0, body["mmr"]))


# ---- SPEC v2 bad input, in the CLI's own syntax ------------------------------------------------


def test_bad_idea_examples_use_the_command_line_syntax() -> None:
    run = run_main("eth", "lnog", "--demo")
    assert_clean_failure(run, 2)
    line = run.err.strip()
    assert line == (
        "can't read 'lnog': did you mean long?"
        " Example: python bot.py check ETH long 5x @ 3000 stop 2800 for 3d"
    )
    assert "/check" not in line


@pytest.mark.parametrize(
    ("words", "names"),
    [
        (["eth", "long", "5x", "@", "32000"], ["entry $32,000.00", "the price $3,210.00"]),
        (["eth", "long", "5x", "@", "1600"], ["entry $1,600.00", "the price $3,210.00"]),
        (["eth", "long", "5x", "stop", "3300"], ["stop $3,300.00", "the price $3,210.00"]),
        (["eth", "short", "5x", "stop", "3000"], ["stop $3,000.00", "the price $3,210.00"]),
        (["eth", "long", "tp", "3100"], ["target $3,100.00", "the price $3,210.00"]),
    ],
)
def test_bad_input_the_price_reveals_names_the_price(words: list[str], names: list[str]) -> None:
    run = run_main(*words, "--demo")
    assert_clean_failure(run, 2)
    assert len(run.err.strip().splitlines()) == 1
    for name in names:
        assert name in run.err
    assert "Example: python bot.py check ETH" in run.err


def test_entries_at_half_and_double_the_price_are_graded() -> None:
    for entry in ("1605", "6420"):  # exactly −50% and +100% of $3,210
        assert run_main("eth", "long", "@", entry, "--demo").code == 0


def test_an_asset_missing_from_the_demo_says_so(tmp_path: Path) -> None:
    run = run_main("PEPE", "long", "--demo")
    assert_clean_failure(run, 3)
    assert "PEPE is not in the demo snapshot (synthetic data)" in run.err
    assert "USDT-margined" not in run.err
    path = write_doc(tmp_path / "may.json", snapshot_doc({"ETH": asset_json(closes_1h=[1.0])}))
    run = run_main("PEPE", "long", "--snapshot", str(path))
    assert_clean_failure(run, 3)
    assert "PEPE is not in this snapshot, may.json of 2026-05-20 00:00 UTC: it holds ETH." in (
        run.err
    )


def test_details_flag_prints_the_details_view_and_is_documented() -> None:
    run = run_main("ETH", "long", "5x", "--demo", "--details")
    assert run.code == 0, run.err
    assert "Verdict: flags reduce · position proceed → reduce (the stricter)" in run.out
    assert "Sources:" in run.out and "Rule:" in run.out
    usage = run_main("--help")
    assert "--details" in usage.out
    assert_clean_failure(run_main("ETH", "--demo", "--json", "--details"), 2)


def test_unknown_option_suggests_the_right_one() -> None:
    run = run_main("ETH", "long", "--demo", "--josn")
    assert_clean_failure(run, 2)
    assert "unknown option --josn: did you mean --json?" in run.err


# ---- snapshot edge cases (issue 10, item 10) --------------------------------------------------


# hourly candles stamped in seconds, the rest of the row as usual
SECONDS_BODY = {"ohlcv_1h": [[ASOF // 1000 - 3600 * (25 - i), 1, 1, 1, 1, 1] for i in range(25)]}


def doc_text(body: dict[str, Any] | None = None, asof: Any = ASOF, **assets: Any) -> str:
    """A snapshot's text; `assets` replace the one ETH asset."""
    return json.dumps(
        {
            "format": "preflight.snapshot/1",
            "asof": asof,
            "assets": assets or {"ETH": body or asset_json(closes_1h=[100.0] * 25)},
        }
    )


@pytest.mark.parametrize(
    ("case", "text", "names"),
    [
        ("400-digit-value", doc_text().replace('"mmr": 0.005', '"mmr": ' + "7" * 400),
         ["mmr", "number too large (400 digits)"]),
        ("400-digit-asof", doc_text(asof=int("9" * 400)), ["asof", "of 400 digits"]),
        ("asof-beyond-9999", doc_text(asof=10**17), ["asof", "beyond the year 9999"]),
        ("asof-in-seconds", doc_text(asof=1_779_235_200), ["asof", "looks like seconds"]),
        ("hourly-in-seconds", doc_text(SECONDS_BODY), ["ohlcv_1h[0]", "looks like seconds"]),
        ("eth-and-ETH", doc_text(ETH=asset_json(), eth=asset_json()),
         ["assets.eth", "same asset as 'ETH'"]),
        ("huge-value", doc_text(asset_json(closes_1h=[1e300] * 25)), ["ohlcv_1h", "too large"]),
        ("negative-price", doc_text(asset_json(closes_1h=[100.0] * 24 + [-1.0])),
         ["ohlcv_1h[24]", "positive"]),
        # a key written twice: json keeps the last one, silently dropping the first
        ("ETH-twice", doc_text(ETH=asset_json(), BTC=asset_json()).replace('"BTC"', '"ETH"'),
         ["the key 'ETH' appears twice"]),
        ("asof-twice", doc_text().replace('"asof"', '"assets": {}, "asof"', 1),
         ["the key 'assets' appears twice"]),
        # no ticker: the bot would quote it whole in a reply (over Telegram's 4096) or as markup
        ("5000-char-key", doc_text(**{"X" * 5000: asset_json()}),
         ["assets", "is not a symbol", "(5000 characters)"]),
        ("markup-key", doc_text(**{"ETH<b>": asset_json()}), ["assets", "is not a symbol"]),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 20 else "",
)  # fmt: skip
def test_snapshot_edge_cases_exit_2_with_one_line(
    tmp_path: Path, case: str, text: str, names: list[str]
) -> None:
    path = tmp_path / f"{case}.json"
    path.write_text(text, encoding="utf-8")
    run = run_main("ETH", "long", "--snapshot", str(path), "--json")
    assert_clean_failure(run, 2)
    assert len(run.err.strip().splitlines()) == 1
    for name in [str(path), *names]:
        assert name in run.err, (name, run.err)


def test_a_far_future_asof_grades_everything_unknown_without_a_traceback(tmp_path: Path) -> None:
    year_3000 = 32_503_680_000_000
    path = tmp_path / "future.json"
    path.write_text(doc_text(asof=year_3000), encoding="utf-8")
    run = run_main("ETH", "long", "--snapshot", str(path), "--json")
    assert run.code == 0, run.err
    doc = run.json()
    assert doc["sources"]["stale"]["ohlcv_1h"] == year_3000 - ASOF
    assert {f["status"] for f in doc["grades"][0]["flags"].values()} == {"unknown"}
    text = run_main("ETH", "long", "--snapshot", str(path))
    assert text.code == 0 and "3000-01-01 00:00 UTC" in text.out


def test_an_oversized_snapshot_is_refused_at_once(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    with path.open("wb") as f:
        f.truncate(133 * 1000 * 1000)  # sparse: 133 MB on paper, nothing to read
    run = run_main("ETH", "long", "--snapshot", str(path))
    assert_clean_failure(run, 2)
    assert "file is 133.0 MB, over the 50 MB limit" in run.err


def test_json_never_holds_nan_or_infinity_even_when_a_ratio_overflows(tmp_path: Path) -> None:
    body = asset_json(closes_1h=[1e-12] * 24 + [1e18], oi_1h=[1e-300] * 24 + [1e18])
    path = write_doc(tmp_path / "wild.json", snapshot_doc({"ETH": body}))
    run = run_main("ETH", "long", "--snapshot", str(path), "--json")
    assert run.code == 0, run.err
    assert "Infinity" not in run.out and "NaN" not in run.out
    assert run.json()["market"]["oi_change_24h"] is None  # strict parse: no bare constants


# ---- no price at asof: the levels given are named, not dropped ------------------------------


def _no_price_doc(tmp_path: Path) -> Path:
    """Every price series stale (daily candles 10 days old, no hourly ones), funding fresh."""
    body = asset_json(
        closes_1d=[100.0] * 40,
        funding=[venue("binanceusdm", 0.0001)],
        liquidations=[(1e6, 1e6)] * 60,
    )
    body["ohlcv_1d"] = [[r[0] - 10 * DAY, *r[1:]] for r in body["ohlcv_1d"]]
    return write_doc(tmp_path / "noprice.json", snapshot_doc({"ETH": body}))


def test_a_stop_with_no_price_to_measure_it_is_named_not_dropped(tmp_path: Path) -> None:
    path = _no_price_doc(tmp_path)
    words = ["ETH", "short", "2x", "stop", "3090", "risk", "$200", "--snapshot", str(path)]
    doc = run_main(*words, "--json").json()
    assert doc["market"]["price"] is None and doc["stop"] == 3090.0
    assert doc["grades"][0]["position"]["stop_distance"] is None
    assert doc["grades"][0]["sizing"] is None
    text = run_main(*words)
    assert text.code == 0, text.err
    assert "Stop $3,090.00: distance unknown (no price data)" in text.out
    assert "no stop" not in text.out
    assert "Size: unknown — no price to measure the stop from" in text.out
    details = run_main(*words, "--details")
    assert "Stop $3,090.00: distance unknown (no price data)" in details.out
    assert "no stop" not in details.out


def test_a_snapshot_asset_with_no_data_does_not_say_try_again(tmp_path: Path) -> None:
    path = write_doc(tmp_path / "s.json", snapshot_doc({"ETH": asset_json(), "SOL": {}}))
    for asset in ("ETH", "SOL"):
        run = run_main(asset, "long", "--snapshot", str(path))
        assert_clean_failure(run, 3)
        assert "try again" not in run.err.lower() and "right now" not in run.err
        assert f"No market data for {asset} in this snapshot, s.json" in run.err
        assert "every series is empty" in run.err


@pytest.mark.parametrize(
    ("entry", "words"),
    [("1604", "is 50.03% below the price $3,210.00"), ("6421", "is 100.03% above the price")],
)
def test_an_entry_just_past_the_limit_does_not_read_as_the_limit(entry: str, words: str) -> None:
    run = run_main("ETH", "long", "5x", "@", entry, "--demo")
    assert_clean_failure(run, 2)
    assert words in run.err
