"""SPEC §6 snapshot loading: valid files load, every malformed one names its path and key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from signals.errors import SnapshotError
from signals.snapshot import DEMO_PATH, load_snapshot
from tests.helpers.builders import (
    ASOF,
    DAY,
    HOUR,
    asset_json,
    malformed_cases,
    snapshot_doc,
    valid_snapshot_text,
    venue,
    write_doc,
)


@pytest.mark.parametrize(
    ("text", "key"),
    [(t, k) for _, t, k in malformed_cases()],
    ids=[c for c, _, _ in malformed_cases()],
)
def test_malformed_snapshot_names_path_and_key(tmp_path: Path, text: str, key: str | None) -> None:
    path = tmp_path / "bad_snapshot.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SnapshotError) as info:
        load_snapshot(path)
    message = str(info.value)
    assert str(path) in message
    assert "\n" not in message
    if key is not None:
        assert key in message


def test_missing_file_is_a_snapshot_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(SnapshotError) as info:
        load_snapshot(path)
    assert str(path) in str(info.value)


def test_valid_snapshot_loads_every_series(tmp_path: Path) -> None:
    path = tmp_path / "ok.json"
    path.write_text(valid_snapshot_text(), encoding="utf-8")
    asof, assets = load_snapshot(path)
    assert asof == ASOF
    assert list(assets) == ["ETH"]
    eth = assets["ETH"]
    assert len(eth.ohlcv_1h) == 25
    assert len(eth.ohlcv_1d) == 10
    assert len(eth.oi_usd_1h) == 25
    assert len(eth.oi_usd_1d) == 10
    assert len(eth.liquidations_1h) == 48
    assert len(eth.skew_rr25_30d) == 1
    assert eth.mmr == 0.005
    (f,) = eth.funding
    assert (f.venue, f.rate, f.interval_hours, f.oi_usd) == ("binanceusdm", 0.0001, 8, 1e9)
    assert list(f.history.items()) == [(ASOF - 8 * HOUR, 0.0001)]


def test_loaded_values_keep_their_timestamps_and_columns(tmp_path: Path) -> None:
    body = asset_json(
        closes_1d=[10.0, 11.0], liquidations=[(5.0, 7.0)], oi_1d=[3e9], skew=[(ASOF - HOUR, -2.5)]
    )
    body["ohlcv_1d"][1] = [ASOF - DAY, 10.5, 12.0, 10.0, 11.0, 999.0]
    path = write_doc(tmp_path / "s.json", snapshot_doc({"BTC": body}))
    _, assets = load_snapshot(path)
    btc = assets["BTC"]
    last = btc.ohlcv_1d.loc[ASOF - DAY]
    assert [last["open"], last["high"], last["low"], last["close"], last["volume"]] == [
        10.5,
        12.0,
        10.0,
        11.0,
        999.0,
    ]
    row = btc.liquidations_1h.loc[ASOF - HOUR]
    assert (row["long_usd"], row["short_usd"]) == (5.0, 7.0)
    assert btc.oi_usd_1d.loc[ASOF - DAY] == 3e9
    assert btc.skew_rr25_30d.loc[ASOF - HOUR] == -2.5


def test_missing_and_empty_series_are_allowed(tmp_path: Path) -> None:
    doc = snapshot_doc({"ETH": {"ohlcv_1h": [[ASOF - HOUR, 1, 1, 1, 1, 1]]}, "SOL": {}})
    doc["assets"]["XRP"] = asset_json()  # every series present and empty
    _, assets = load_snapshot(write_doc(tmp_path / "s.json", doc))
    assert len(assets["ETH"].ohlcv_1h) == 1
    assert len(assets["ETH"].ohlcv_1d) == 0
    assert assets["ETH"].funding == ()
    assert assets["SOL"].has_any_data() is False
    assert assets["XRP"].has_any_data() is False


def test_funding_venue_with_several_intervals_loads(tmp_path: Path) -> None:
    body = asset_json(
        funding=[venue("a", 0.0001, 8, 2e9), venue("b", 0.00001, 1, 0.0), venue("c", -1e-4, 4)]
    )
    _, assets = load_snapshot(write_doc(tmp_path / "s.json", snapshot_doc({"ETH": body})))
    got = [(f.venue, f.rate, f.interval_hours, f.oi_usd) for f in assets["ETH"].funding]
    assert got == [("a", 0.0001, 8, 2e9), ("b", 0.00001, 1, 0.0), ("c", -1e-4, 4, 1e9)]


def test_demo_snapshot_is_valid_and_marked_synthetic() -> None:
    asof, assets = load_snapshot(DEMO_PATH)
    assert asof > 0
    assert {"BTC", "ETH", "SOL"} <= set(assets)
    raw = json.loads(DEMO_PATH.read_text(encoding="utf-8"))
    assert raw["format"] == "preflight.snapshot/1"
    for name in ("BTC", "ETH", "SOL"):
        assert "synthetic" in json.dumps(raw["assets"][name]["sources"]).lower()
