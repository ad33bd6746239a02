"""The real `python bot.py backtest ETH` (no --snapshot, no --demo) and `record ETH --history`,
each in its own process, against the long-history fake venues in ANOTHER process
(tests/helpers/venues/history_server.py) through PREFLIGHT_VENUE_BASE_URL.

Nothing is monkeypatched: real time, real start-up, real ccxt, real HTTP over 127.0.0.1, a real
SQLite store. Each child loads tests/helpers/netguard, so reaching anything but loopback fails.
The fake writes down every request it receives, so "a second run costs no requests" is counted
where the requests arrive.
"""

from __future__ import annotations

import gzip
import json
import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
NETGUARD = ROOT / "tests" / "helpers" / "netguard"
HTML = "<html><body><h1>503 Service Unavailable</h1></body></html>"


def child_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A child's environment: no PREFLIGHT_* of ours, the net guard, the store in tmp_path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFLIGHT_")}
    env["PYTHONPATH"] = os.pathsep.join([str(NETGUARD), str(ROOT)])
    env["PREFLIGHT_NETGUARD_LOG"] = str(tmp_path / "netguard.log")
    env["PREFLIGHT_STORE_PATH"] = str(tmp_path / "preflight.sqlite")
    env["MPLBACKEND"] = "Agg"
    env["PYTHONIOENCODING"] = "utf-8"
    env.update(extra)
    return env


class Venues:
    """The long-history fake venues, served by another Python process."""

    def __init__(self, tmp_path: Path, faults: list[dict[str, Any]]) -> None:
        self.log = tmp_path / "requests.log"
        fault_file = tmp_path / "faults.json"
        fault_file.write_text(json.dumps(faults), encoding="utf-8")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.helpers.venues.history_server",
                "--log",
                str(self.log),
                "--faults",
                str(fault_file),
            ],
            cwd=ROOT,
            env=child_env(tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("listening on "), line + (
            self.proc.stderr.read() if self.proc.stderr else ""
        )
        self.base_url = line.split()[-1]

    def requests(self) -> list[str]:
        """Every request received so far, as `host /path` lines."""
        if not self.log.exists():
            return []
        return self.log.read_text(encoding="utf-8").splitlines()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture
def venues(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Venues]:
    process = Venues(tmp_path, getattr(request, "param", []))
    try:
        yield process
    finally:
        process.stop()
    guard = tmp_path / "netguard.log"
    assert not guard.exists() or guard.read_text() == "", guard.read_text()


def run(tmp_path: Path, venues: Venues, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), *args],
        cwd=tmp_path,
        env=child_env(tmp_path, PREFLIGHT_VENUE_BASE_URL=venues.base_url),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=180,
        check=False,
    )


def no_constants(token: str) -> Any:
    raise AssertionError(f"{token} in --json output")


def test_live_backtest_reports_and_a_second_run_asks_nothing(
    tmp_path: Path, venues: Venues
) -> None:
    first = run(tmp_path, venues, "backtest", "ETH")
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""  # no progress bar off a terminal, no log records
    text = first.stdout
    assert text.startswith("TRACK RECORD · ETH · 5x · 7-day horizon\n358 days graded at 00:00 UTC")
    assert (
        "\nHistory: daily candles from binanceusdm; open interest summed over bybit (left out: "
        in text
    )
    assert (
        "binanceusdm, history starts " in text and "funding from binanceusdm, bybit, okx" in text
    )
    assert "liquidations not recorded yet; skew not recorded yet." in text
    asked = venues.requests()
    count = len(asked)
    assert f"Venue requests this run: {count} (" in text
    assert "  Liquidations      0 known · no history" in text

    second = run(tmp_path, venues, "backtest", "ETH", "--json")
    assert second.returncode == 0, second.stderr
    assert len(venues.requests()) == count  # nothing reached the venues
    assert second.stderr == (
        "history: venue requests this run: none, the history was read from the store.\n"
    )
    report = json.loads(second.stdout, parse_constant=no_constants)
    assert report["days_evaluated"] == 358 and report["independent_windows"] == 51
    assert set(report) == {
        "asset",
        "asof",
        "leverage",
        "horizon_days",
        "days_evaluated",
        "independent_windows",
        "sides",
    }
    assert report["asof"] % 86_400_000 == 0  # the last 00:00 UTC


def test_record_history_replays_to_the_same_report(tmp_path: Path, venues: Venues) -> None:
    live = run(tmp_path, venues, "backtest", "ETH", "--side", "long", "--leverage", "3", "--json")
    assert live.returncode == 0, live.stderr
    path = tmp_path / "eth-history.json.gz"
    recorded = run(tmp_path, venues, "record", "ETH", "--history", "--out", str(path))
    assert recorded.returncode == 0, recorded.stderr
    assert recorded.stdout.startswith("recorded the history of ETH (365 days to grade, as of ")
    assert recorded.stdout.rstrip().endswith("; 0 requests to the venues")  # from the store
    doc = json.loads(gzip.decompress(path.read_bytes()))
    assert doc["format"] == "preflight.snapshot/1" and len(doc["assets"]["ETH"]["ohlcv_1d"]) > 400
    replay = run(
        tmp_path,
        venues,
        "backtest",
        "ETH",
        "--snapshot",
        str(path),
        "--side",
        "long",
        "--leverage",
        "3",
        "--json",
    )
    assert replay.returncode == 0, replay.stderr
    assert replay.stdout == live.stdout
    # the text report too, but for where the history came from
    live_text = run(tmp_path, venues, "backtest", "ETH").stdout.splitlines()
    replay_text = run(tmp_path, venues, "backtest", "ETH", "--snapshot", str(path)).stdout
    assert [x for x in replay_text.splitlines() if not x.startswith("Venue requests")] == [
        x for x in live_text if not x.startswith("Venue requests")
    ]


@pytest.mark.parametrize(
    "venues",
    [
        [
            {
                "venue": "okx",
                "path": "/funding-rate-history",
                "status": 503,
                "body": HTML,
                "content_type": "text/html",
            }
        ]
    ],
    indirect=True,
)
def test_a_venue_that_fails_is_named_and_the_rest_still_report(
    tmp_path: Path, venues: Venues
) -> None:
    done = run(tmp_path, venues, "backtest", "ETH")
    assert done.returncode == 0, done.stderr
    assert (
        "Venues that failed (their part is missing): okx (funding: funding history: HTTP 503)."
        in done.stdout
    )
    assert "funding from binanceusdm, bybit;" in done.stdout


def test_an_unknown_asset_is_one_line_and_exit_3(tmp_path: Path, venues: Venues) -> None:
    done = run(tmp_path, venues, "backtest", "ETHH")
    assert done.returncode == 3
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(
        "I can't find a USDT-margined perpetual for ETHH. Did you mean ETH?"
    )


def test_the_progress_bar_draws_on_a_terminal_only(tmp_path: Path, venues: Venues) -> None:
    # stderr is a terminal (a pty), stdout a pipe: the bar goes to the terminal, ends its line
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "bot.py"), "backtest", "ETH", "--json"],
        cwd=tmp_path,
        env=child_env(tmp_path, PREFLIGHT_VENUE_BASE_URL=venues.base_url),
        stdout=subprocess.PIPE,
        stderr=follower,
    )
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    out, _ = proc.communicate(timeout=60)
    os.close(leader)
    assert proc.returncode == 0
    shown = seen.decode("utf-8")
    assert "\rHistory ETH [" in shown
    assert "requests" in shown and shown.count("\n") >= 1
    final = [part for part in shown.split("\r") if part.startswith("History ETH")][-1]
    assert "#" * 24 in final  # full at the end
    json.loads(out)  # stdout holds only the report


def test_a_damaged_store_warns_once_and_the_backtest_still_runs(
    tmp_path: Path, venues: Venues
) -> None:
    (tmp_path / "preflight.sqlite").write_bytes(b"this is not a database, it is a text file")
    done = run(tmp_path, venues, "backtest", "ETH", "--json")
    assert done.returncode == 0
    lines = done.stderr.splitlines()
    assert lines[0].startswith(f"preflight: store {tmp_path / 'preflight.sqlite'}: damaged")
    assert lines[0].endswith("(history not cached this run)")
    assert lines[1].startswith("history: venue requests this run: ")
    assert json.loads(done.stdout)["days_evaluated"] == 358


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["record", "ETH", "--history"], "record needs --out FILE"),
        (["record", "ETH", "--days", "30", "--out", "x.json"], "--days goes with --history"),
        (
            ["record", "ETH", "--history", "--days", "0", "--out", "x.json"],
            "--days needs a whole number of days from 1 to 3650, not '0'",
        ),
        (["check", "ETH", "--history"], "--history and --days belong to record"),
    ],
)
def test_record_history_words_are_checked_before_anything_runs(
    args: list[str], problem: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    import cli

    monkeypatch.chdir(tmp_path)
    for var in list(os.environ):
        if var.startswith("PREFLIGHT_"):
            monkeypatch.delenv(var)
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(args, stdout=out, stderr=err) == 2
    assert err.getvalue().splitlines()[0].startswith(problem)
    assert out.getvalue() == ""
