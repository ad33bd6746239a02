"""`python bot.py backtest …` (SPEC §9): text, JSON, chart, and every way the command line fails.

The runs call `cli.main` in this process with its own streams (the same code path, without
an interpreter start); the demo's reports, an error and `--help` also run in a fresh
interpreter (`python bot.py`), like a user's, to show the entry point prints them and never a
traceback.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import cli
from settings import ENV_FIELDS
from templates import pct, signed_pct
from tests.helpers.history import asset_body, day_ts, document, flat, write
from tests.signals.test_backtest import (
    CLOSE,
    ENTRY,
    HAND_ASOF,
    LEVERAGE,
    LONG_FWD,
    LONG_MAE,
    hand_doc,
)

ROOT = Path(__file__).resolve().parents[1]
BOT = ROOT / "bot.py"
EXAMPLE = (
    "Example: python bot.py backtest ETH --side long --leverage 5 --horizon 7 --days 365 --demo"
)
TOP = ["asset", "asof", "leverage", "horizon_days", "days_evaluated", "independent_windows"]


def env() -> dict[str, str]:
    # threshold overrides of whoever runs the tests must not reach the CLI
    out = {k: v for k, v in os.environ.items() if k not in ENV_FIELDS}
    out["PYTHONIOENCODING"] = "utf-8"
    out["MPLBACKEND"] = "Agg"
    return out


def no_constants(token: str) -> Any:
    raise AssertionError(f"{token} in --json output")


class Run:
    """One finished `python bot.py backtest …`."""

    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self) -> Any:
        return json.loads(self.out, parse_constant=no_constants)


def backtest(*args: str) -> Run:
    """Run the command through `cli.main` in this process, from the repository root."""
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k in ENV_FIELDS}
    try:
        with contextlib.chdir(ROOT):
            out, err = io.StringIO(), io.StringIO()
            code = cli.main(["backtest", *args], stdout=out, stderr=err)
    finally:
        os.environ.update(saved)
    return Run(code, out.getvalue(), err.getvalue())


def backtest_real(*args: str) -> Run:
    """Run the command in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, str(BOT), "backtest", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        env=env(),
        timeout=120,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def in_process(*args: str, monkeypatch: pytest.MonkeyPatch) -> Run:
    """Run `cli.main` in this process (the error paths; no interpreter start-up)."""
    for name in ENV_FIELDS:
        monkeypatch.delenv(name, raising=False)
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["backtest", *args], stdout=out, stderr=err)
    return Run(code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="module")
def hand_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(tmp_path_factory.mktemp("bt") / "hand.json", hand_doc())  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def demo_text() -> Run:
    return backtest_real("ETH", "--demo")


@pytest.fixture(scope="module")
def demo_json() -> Run:
    return backtest_real("ETH", "--demo", "--json")


# ---- the demo -----------------------------------------------------------------------------


def test_demo_text_report(demo_text: Run) -> None:
    run = demo_text
    assert (run.code, run.err) == (0, "")
    lines = run.out.splitlines()
    assert lines[0] == "TRACK RECORD · ETH · 5x · 7-day horizon · synthetic demo data"
    assert "data as of 2026-05-20 00:00 UTC (synthetic demo data)" in lines[1]
    assert "At 5x a move of 19.50% against the entry liquidates" in run.out
    assert [line for line in lines if line in ("LONG", "SHORT")] == ["LONG", "SHORT"]
    assert "descriptive past frequencies" in run.out and "not a promise" in run.out
    assert "358 days hold only 51 independent windows" in run.out
    assert "This is synthetic demo data" in run.out
    assert not re.search(r"</?(b|i|code|pre)>", run.out)
    assert len(run.out) < 4096


def test_demo_json_is_the_spec_shape_labelled_synthetic(demo_json: Run) -> None:
    run = demo_json
    assert (run.code, run.err) == (0, "")
    doc = run.json()
    assert list(doc) == [*TOP, "sides", "label"]
    assert doc["label"] == "synthetic demo data"
    assert (doc["asset"], doc["leverage"], doc["horizon_days"]) == ("ETH", 5, 7)
    assert (doc["days_evaluated"], doc["independent_windows"]) == (358, 51)
    assert list(doc["sides"]) == ["long", "short"]
    for side in doc["sides"].values():
        assert sum(g["n"] for g in side["by_verdict"].values()) == 358
        for statuses in side["by_flag"].values():
            assert sum(s["n"] for s in statuses.values()) == 358


def test_text_shows_the_numbers_the_json_holds(demo_text: Run, demo_json: Run) -> None:
    doc = demo_json.json()
    sections = demo_text.out.split("\nSHORT\n")
    for side, section in zip(("long", "short"), sections, strict=True):
        for verdict, g in doc["sides"][side]["by_verdict"].items():
            row = next(line for line in section.splitlines() if line.startswith(verdict + " "))
            liquidated = round(g["liq_rate"] * g["n"])
            assert row.split() == [
                verdict,
                str(g["n"]),
                pct(g["liq_rate"], 1),
                f"({liquidated})",
                pct(g["mae_median"], 1),
                pct(g["mae_p90"], 1),
                signed_pct(g["fwd_return_mean"], 1),
            ]
        lift = doc["sides"][side]["lift"]
        assert f"Lift {lift:.2f}×" in section


# ---- a hand-made snapshot: the JSON agrees with the arithmetic ----------------------------


def test_snapshot_json_agrees_with_the_hand_arithmetic(hand_file: Path) -> None:
    run = backtest(
        "eth",
        "--snapshot",
        str(hand_file),
        "--leverage",
        f"{LEVERAGE:g}x",
        "--horizon",
        "2",
        "--side",
        "long",
        "--json",
    )
    assert (run.code, run.err) == (0, "")
    doc = run.json()
    assert list(doc) == [*TOP, "sides"]  # no label: real-data shape exactly
    assert [doc[k] for k in TOP] == ["ETH", HAND_ASOF, 10, 2, 5, 2]
    long = doc["sides"]["long"]
    proceed, reduce, wait = (long["by_verdict"][v] for v in ("proceed", "reduce", "wait"))
    maes = sorted(LONG_MAE[i] for i in (0, 2, 3))
    assert proceed["n"] == 3
    assert proceed["liq_rate"] == pytest.approx(2 / 3)
    assert proceed["mae_median"] == pytest.approx(maes[1])
    assert proceed["mae_p90"] == pytest.approx(maes[1] + 0.8 * (maes[2] - maes[1]))
    assert proceed["fwd_return_mean"] == pytest.approx(
        (CLOSE[0] / ENTRY[0] + CLOSE[2] / ENTRY[2] + CLOSE[3] / ENTRY[3]) / 3 - 1
    )
    assert reduce["n"] == 2 and reduce["liq_rate"] == 1.0
    assert reduce["fwd_return_mean"] == pytest.approx((LONG_FWD[1] + LONG_FWD[4]) / 2)
    assert wait == {
        "n": 0,
        "liq_rate": None,
        "mae_median": None,
        "mae_p90": None,
        "fwd_return_mean": None,
    }
    assert long["lift"] == pytest.approx(1.5)
    assert long["by_flag"]["skew"]["unknown"] == {"n": 1, "mae_median": pytest.approx(LONG_MAE[2])}


def test_gzip_snapshot_reads_the_same(hand_file: Path, tmp_path: Path) -> None:
    packed = tmp_path / "hand.json.gz"
    packed.write_bytes(gzip.compress(hand_file.read_bytes()))
    plain = backtest("ETH", "--snapshot", str(hand_file), "--horizon", "2", "--json")
    zipped = backtest("ETH", "--snapshot", str(packed), "--horizon", "2", "--json")
    assert plain.code == zipped.code == 0
    assert zipped.json() == plain.json()


def test_side_option_reports_one_side(hand_file: Path) -> None:
    run = backtest("ETH", "--snapshot", str(hand_file), "--horizon=2", "--side=short")
    assert run.code == 0, run.err
    assert "\nSHORT\n" in run.out and "\nLONG\n" not in run.out
    assert "synthetic" not in run.out


def test_synthetic_snapshot_is_labelled_in_text(tmp_path: Path) -> None:
    doc = hand_doc()
    doc["assets"]["ETH"]["sources"] = {"synthetic": True}  # type: ignore[index]
    path = write(tmp_path / "synthetic.json", doc)  # type: ignore[arg-type]
    run = backtest("ETH", "--snapshot", str(path), "--horizon", "2")
    assert run.code == 0, run.err
    assert run.out.splitlines()[0].endswith("· synthetic demo data")
    # the JSON keeps SPEC §9's exact shape for a snapshot
    assert (
        "label" not in backtest("ETH", "--snapshot", str(path), "--horizon", "2", "--json").json()
    )


def test_chart_option_writes_the_png(hand_file: Path, tmp_path: Path) -> None:
    chart = tmp_path / "eth.png"
    run = backtest("ETH", "--snapshot", str(hand_file), "--horizon", "2", "--chart", str(chart))
    assert run.code == 0, run.err
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert run.out.splitlines()[-1] == f"Chart: {chart}"
    chart.unlink()
    quiet = backtest(
        "ETH", "--snapshot", str(hand_file), "--horizon", "2", "--json", "--chart", str(chart)
    )
    assert quiet.code == 0 and chart.exists()
    assert set(quiet.json()) == {*TOP, "sides"}  # stdout is only the JSON


# ---- errors -------------------------------------------------------------------------------


def one_line(run: Run, code: int) -> str:
    """The run failed with `code`, one line on stderr, nothing on stdout; return the line."""
    assert run.code == code, (run.code, run.err)
    assert run.out == ""
    assert "Traceback" not in run.err
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, run.err
    return lines[0]


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ((), "backtest needs an asset, like ETH"),
        (("ETH", "BTC"), "backtest takes one asset; can't read 'BTC'"),
        (("ETH", "long"), "write the side as an option: --side long"),
        (("ETH", "5x"), "write the leverage as an option: --leverage 5x"),
        (("long",), "'long' is not an asset"),
        (("ETH", "--side", "sideways"), "--side is long or short, not 'sideways'"),
        (("ETH", "--side", "lnog"), "not 'lnog' (did you mean long?)."),
        (("ETH", "--leverage", "abc"), "--leverage needs a number like 5 or 2.5x, not 'abc'"),
        (("ETH", "--leverage", "0.5"), "leverage 0.5x is out of range: use 1x to 125x"),
        (("ETH", "--leverage", "200x"), "leverage 200x is out of range: use 1x to 125x"),
        (("ETH", "--horizon", "2.5"), "--horizon needs a whole number of days, like --horizon 7"),
        (("ETH", "--horizon", "0"), "--horizon 0 is out of range: use 1 to 365 days"),
        (("ETH", "--days", "0"), "--days 0 is out of range: use 1 to 3650 days"),
        (("ETH", "--days", "a year"), "--days needs a whole number of days"),
        (("ETH", "--days"), "--days needs a value, like --days 365"),
        (("ETH", "--chart"), "--chart needs a value, like --chart eth.png"),
        (("ETH", "--side", "long", "--side", "short"), "--side given twice"),
        (("ETH", "--sied", "long"), "unknown option '--sied' (did you mean --side?)."),
        (("ETH", "--lev", "3"), "unknown option '--lev' (did you mean --leverage?)."),
        (
            ("ETH", "--verbose"),
            "the options are --side, --leverage, --horizon, --days, --chart, --snapshot,"
            " --demo, --json",
        ),
        (("ETH", "--out", "x.json"), "backtest has no --out: use --chart FILE or --json"),
        # no window can both start within the last N days and close by asof when N <= H
        (("ETH", "--days", "5"), "--days 5 must be longer than the 7-day horizon"),
        (("ETH", "--days", "14", "--horizon", "14"), "use --days 15 or more"),
    ],
)
def test_bad_input_is_one_line_with_the_cli_example(
    args: tuple[str, ...], reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    line = one_line(in_process(*args, "--demo", monkeypatch=monkeypatch), 2)
    assert reason in line
    assert line.endswith(EXAMPLE)


def test_leverage_with_no_room_before_liquidation_names_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = document({"ETH": asset_body(flat(40), mmr=0.01)}, asof=day_ts(40))
    path = write(tmp_path / "mmr.json", doc)
    line = one_line(
        in_process("ETH", "--snapshot", str(path), "--leverage", "100", monkeypatch=monkeypatch), 2
    )
    assert "leverage 100x leaves no room before liquidation" in line
    assert "maintenance margin of 1%: use less than 100x" in line


def test_missing_and_malformed_snapshots_are_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = one_line(
        in_process("ETH", "--snapshot", str(tmp_path / "none.json"), monkeypatch=monkeypatch), 2
    )
    assert missing == f"Snapshot {tmp_path / 'none.json'}: file not found"
    bad = tmp_path / "bad.json"
    doc = hand_doc()
    doc["assets"]["ETH"]["ohlcv_1d"][3][0] = 5  # type: ignore[index]
    write(bad, doc)  # type: ignore[arg-type]
    line = one_line(in_process("ETH", "--snapshot", str(bad), monkeypatch=monkeypatch), 2)
    assert line.startswith(f"Snapshot {bad}: assets.ETH.ohlcv_1d[3]:")
    corrupt = tmp_path / "corrupt.json.gz"
    corrupt.write_bytes(b"\x1f\x8b" + b"garbage")
    line = one_line(in_process("ETH", "--snapshot", str(corrupt), monkeypatch=monkeypatch), 2)
    assert line.startswith(f"Snapshot {corrupt}: cannot read file")


def test_asset_not_in_the_snapshot_is_no_data(
    hand_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = in_process("BTC", "--snapshot", str(hand_file), monkeypatch=monkeypatch)
    assert one_line(run, 3) == f"BTC is not in snapshot {hand_file}; it holds ETH."
    demo = in_process("SOL", "--demo", monkeypatch=monkeypatch)
    assert one_line(demo, 3) == "SOL is not in the demo; it holds ETH."


def test_not_enough_history_is_no_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "short.json", document({"ETH": asset_body(flat(20))}, day_ts(20)))
    line = one_line(in_process("ETH", "--snapshot", str(path), monkeypatch=monkeypatch), 3)
    assert line == (
        f"Not enough history for ETH in snapshot {path}: each day graded needs a daily candle"
        " 31 days before it and 7 closed daily candles from it on; the daily candles run"
        " 2026-01-01 → 2026-01-20."
    )
    empty = write(tmp_path / "empty.json", document({"ETH": asset_body([])}, day_ts(20)))
    line = one_line(in_process("ETH", "--snapshot", str(empty), monkeypatch=monkeypatch), 3)
    assert line.endswith("there are no daily candles closed by 2026-01-21 00:00 UTC.")


def test_unwritable_chart_is_bad_input(
    hand_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "no-such-dir" / "chart.png"
    run = in_process(
        "ETH",
        "--snapshot",
        str(hand_file),
        "--horizon",
        "2",
        "--chart",
        str(target),
        monkeypatch=monkeypatch,
    )
    assert one_line(run, 2) == f"Cannot write the chart to {target}: No such file or directory."


def test_errors_never_show_a_traceback_in_a_real_run(tmp_path: Path) -> None:
    assert one_line(backtest_real("--demo"), 2).endswith(EXAMPLE)
    assert one_line(backtest("DOGE", "--demo"), 3) == "DOGE is not in the demo; it holds ETH."
    both = backtest_real("ETH", "--demo", "--snapshot", str(tmp_path / "x.json"))
    assert both.code == 2 and "either --snapshot FILE or --demo" in both.err
    assert "Traceback" not in both.err


def test_help_lists_the_backtest_command() -> None:
    done = subprocess.run(
        [sys.executable, str(BOT), "--help"],
        capture_output=True,
        text=True,
        env=env(),
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert "python bot.py backtest ASSET [--side long|short] [--leverage L] [--horizon H]" in (
        done.stdout
    )


# ---- the text report's lines --------------------------------------------------------------


def hand_text(hand_file: Path, *args: str) -> list[str]:
    run = backtest("ETH", "--snapshot", str(hand_file), "--horizon", "2", *args)
    assert (run.code, run.err) == (0, ""), run.err
    return run.out.splitlines()


def test_text_flag_lines_say_how_many_days_each_flag_was_known(hand_file: Path) -> None:
    lines = hand_text(hand_file, "--leverage", "10", "--side", "long")
    funding = sorted([LONG_MAE[1], LONG_MAE[2], LONG_MAE[4]])[1]
    clear = (LONG_MAE[0] + LONG_MAE[3]) / 2
    want = f"known · caution 3 (MAE {pct(funding, 1)}) · clear 2 (MAE {pct(clear, 1)})"
    assert f"  {'Funding':<14} {5:>4} {want}" in lines
    assert "  Open interest     0 known · no history" in lines
    assert "  Liquidations      0 known · no history" in lines
    assert any(line.startswith("  Skew              4 known · caution 3 (MAE ") for line in lines)
    assert next(line for line in lines if line.startswith("wait ")).split() == [
        "wait",
        "0",
        *["—"] * 4,
    ]
    assert (
        "Lift 1.50×: a liquidating move followed 2 of 2 reduce-or-wait days (100.0%)"
        " vs 2 of 3 proceed days (66.7%)."
    ) in lines


def test_text_says_why_lift_is_missing(hand_file: Path) -> None:
    # shorts: every day proceeds, so there is nothing to compare with
    assert "Lift: n/a, no reduce or wait days to compare." in hand_text(
        hand_file, "--side", "short"
    )
    # longs at 2x (liquidation 49.5% away): two reduce days, no liquidation after proceed days
    lines = hand_text(hand_file, "--side", "long", "--leverage", "2")
    assert (
        "Lift: n/a, no proceed day was followed by a liquidating move (0 of 3);"
        " 0 of 2 reduce-or-wait days were (0.0%)."
    ) in lines
    assert "5 days hold only 2 independent windows" in " ".join(lines)


def test_options_in_any_order_and_help(monkeypatch: pytest.MonkeyPatch) -> None:
    run = in_process("--json", "--side", "long", "--demo", "eth", monkeypatch=monkeypatch)
    assert run.code == 0, run.err
    assert list(json.loads(run.out)["sides"]) == ["long"]
    helped = in_process("--help", monkeypatch=monkeypatch)
    assert (helped.code, helped.err) == (0, "")
    assert "python bot.py backtest ASSET" in helped.out
    both = in_process("ETH", "--demo", "--snapshot", "x.json", monkeypatch=monkeypatch)
    assert one_line(both, 2).startswith("use either --snapshot FILE or --demo, not both.")


def test_one_day_windows_do_not_claim_to_overlap(hand_file: Path) -> None:
    run = backtest("ETH", "--snapshot", str(hand_file), "--horizon", "1", "--side", "long")
    assert run.code == 0, run.err
    text = run.out.replace("\n", " ")
    assert "Each day is its own 1-day window (6 independent)" in text
    assert "overlaps" not in text


def test_the_readme_shows_a_real_demo_report_and_its_chart(demo_text: Run, tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Track record", 1)[1]
    shown = section.split("```text\n", 1)[1].split("\n```", 1)[0]
    body = [line for line in shown.splitlines() if not line.startswith("Chart: ")]
    assert body == demo_text.out.rstrip("\n").splitlines()
    chart = tmp_path / "demo.png"
    made = backtest("ETH", "--demo", "--chart", str(chart))
    assert made.code == 0
    assert chart.read_bytes() == (ROOT / "docs" / "backtest-demo.png").read_bytes()
