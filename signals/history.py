"""Long histories for the track record (SPEC §9): one protocol, the snapshot file first.

A backtest reads one asset's whole history once, as an AssetData whose series run back as
far as the source has them, and cuts it at each evaluation time itself (signals/backtest.py).
A snapshot file (plain or gzip) is the first source. The live source of round 2 — candles,
funding and OI history from the venues through the request policy, liquidation buckets and
skew samples from the store, cached there — implements the same protocol, and reports its
progress through `progress` while it loads.
"""

from __future__ import annotations

import asyncio
import difflib
import gzip
import json
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from signals.errors import NotInSnapshot, SnapshotError
from signals.market import AssetData
from signals.snapshot import parse_snapshot

HISTORY_DEMO_PATH = Path(__file__).parent / "demo" / "history_demo.json.gz"
DEMO_LABEL = "synthetic demo data"
_GZIP_MAGIC = b"\x1f\x8b"

# progress(done, total, what): how far a long history load has got (e.g. requests made)
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True, eq=False)
class History:
    """One asset's long history as the backtest reads it."""

    asof: int
    data: AssetData
    # where it came from, for the report: "snapshot FILE", "demo"
    origin: str
    # "synthetic demo data" when the history is synthetic (said in every output), else None
    label: str | None = None
    # where each series came from, for the report (signals.live_history.history_notes)
    notes: Mapping[str, Any] = field(default_factory=dict)


class HistorySource(Protocol):
    """Where a backtest's history comes from: a snapshot file now, the venues and store later."""

    async def history(
        self, asset: str, lookback_days: int, progress: Progress | None = None
    ) -> History:
        """The asset's history up to the source's asof, `lookback_days` back (or all it has).

        Raises UnknownAsset (NotInSnapshot for a file) when the source has no such asset,
        SnapshotError for a bad file.
        """
        ...


class SnapshotHistory:
    """History from a long-history snapshot file (`.json`, or gzip-compressed `.json.gz`)."""

    def __init__(self, path: str | Path, *, demo: bool = False) -> None:
        self.path = Path(path)
        self.demo = demo

    async def history(
        self, asset: str, lookback_days: int, progress: Progress | None = None
    ) -> History:
        """The snapshot's asof and the asset's whole recorded history (it is all on disk)."""
        asof, assets = await asyncio.to_thread(self._load, asset)
        data = assets.get(asset)
        if data is None:
            names = tuple(sorted(assets))
            close = tuple(difflib.get_close_matches(asset, names, n=3, cutoff=0.5))
            raise NotInSnapshot(asset, self.path.name, names, close, self.demo, asof)
        if progress is not None:
            progress(1, 1, "snapshot read")
        origin = "demo" if self.demo else f"snapshot {self.path}"
        return History(
            asof=asof, data=data, origin=origin, label=self._label(data), notes=_notes(data)
        )

    def _label(self, data: AssetData) -> str | None:
        if self.demo:
            return DEMO_LABEL
        if data.sources.get("synthetic"):
            label = data.sources.get("label")
            return label if isinstance(label, str) and label else DEMO_LABEL
        return None

    def _load(self, asset: str) -> tuple[int, dict[str, AssetData]]:
        name = str(self.path)
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError as e:
            raise SnapshotError(name, "", "file not found") from e
        except OSError as e:
            raise SnapshotError(name, "", f"cannot read file ({e.__class__.__name__})") from e
        try:
            if raw[:2] == _GZIP_MAGIC:
                raw = gzip.decompress(raw)
            text = raw.decode("utf-8")
        except (OSError, EOFError, zlib.error, UnicodeDecodeError) as e:
            raise SnapshotError(name, "", f"cannot read file ({e.__class__.__name__})") from e
        return parse_snapshot(_only(text, asset), name)


def _notes(data: AssetData) -> dict[str, Any]:
    """Where a recorded long history's series came from (`record --history` writes it)."""
    history = data.sources.get("history")
    if not isinstance(history, dict):
        return {}
    from signals.live_history import recorded_notes

    return recorded_notes(data)


def _only(text: str, asset: str) -> str:
    """The snapshot reduced to the one asset asked for (the others are not read, so not checked).

    Validating a long history row by row is most of a backtest's load time; a file recorded
    for several assets should not cost that for each. Text that is not a snapshot object is
    returned as it is, for parse_snapshot to name what is wrong with it.
    """
    try:
        raw = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return text
    assets = raw.get("assets") if isinstance(raw, dict) else None
    if not isinstance(assets, dict):
        return text
    keep = {key: body for key, body in assets.items() if key.strip().upper() == asset}
    if not keep:
        # nothing to read: keep the names so the unknown-asset message can list them
        keep = {key: {} for key in assets}
    return json.dumps({**raw, "assets": keep})


def write_history_snapshot(path: str | Path, asof: int, assets: Mapping[str, AssetData]) -> None:
    """Write a long-history snapshot atomically: gzip when the name ends in .gz, else JSON."""
    from signals.snapshot import snapshot_to_json

    target = Path(path)
    text = json.dumps(snapshot_to_json(asof, assets), allow_nan=False)
    raw = text.encode("utf-8")
    if target.name.endswith(".gz"):
        raw = gzip.compress(raw, mtime=0)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_bytes(raw)
    tmp.replace(target)


def demo_history() -> SnapshotHistory:
    """The bundled long-history synthetic demo (signals/demo/make_history_demo.py)."""
    return SnapshotHistory(HISTORY_DEMO_PATH, demo=True)
