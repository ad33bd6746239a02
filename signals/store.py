"""The embedded SQLite store: one file, WAL, schema versions applied by migrations."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from signals.migrations import MIGRATIONS

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

MINUTE_MS = 60_000


@dataclass(frozen=True)
class LiqMinute:
    """USD value of one side's liquidations on one venue in one minute (ts = minute open)."""

    asset: str
    venue: str
    side: str  # which position was force-closed: "long" or "short"
    ts: int
    usd: float
    count: int


@dataclass(frozen=True)
class CoverageSpan:
    """A time span [start_ms, end_ms) during which a venue's liquidations were recorded."""

    asset: str
    venue: str
    start_ms: int
    end_ms: int
    source: str  # "stream" (websocket) or "backfill" (REST history)


@dataclass(frozen=True)
class LiqGap:
    """A span [start_ms, end_ms) in which a venue's stream was down, and why."""

    venue: str
    start_ms: int
    end_ms: int
    reason: str


class Store:
    """One SQLite file shared by the recorder, the collector and the bot's user settings.

    Connections are per thread (sqlite3 objects must not cross threads); WAL mode lets
    readers proceed while a writer commits.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._local = threading.local()
        self._lock = threading.Lock()
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.migrate()

    def connect(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=10000")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    def schema_version(self) -> int:
        """The schema version this file is at."""
        return int(self.connect().execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> None:
        """Apply every migration above the file's version, each in its own transaction."""
        with self._lock:
            current = self.schema_version()
            for version, sql in MIGRATIONS:
                if version <= current:
                    continue
                log.info("store %s: migrating to schema %d", self.path, version)
                with self.transaction() as conn:
                    for statement in _statements(sql):
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version={int(version)}")

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction; rolled back (if SQLite has not already) on any error."""
        conn = self.connect()
        conn.execute("BEGIN IMMEDIATE")
        committed = False
        try:
            yield conn
            conn.execute("COMMIT")
            committed = True
        finally:
            # a full disk may already have rolled the transaction back for us
            if not committed and conn.in_transaction:
                conn.execute("ROLLBACK")

    # ---- the bot's own recorded series (skew samples, OI snapshots, …) ----------------

    def record_samples(self, asset: str, metric: str, rows: Iterable[tuple[int, float]]) -> None:
        """Upsert `(ts_ms, value)` samples of one series."""
        data = [(asset, metric, int(ts), float(v)) for ts, v in rows]
        if not data:
            return
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO samples(asset, metric, ts, value) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(asset, metric, ts) DO UPDATE SET value = excluded.value",
                data,
            )

    def read_samples(
        self, asset: str, metric: str, since_ms: int = 0, until_ms: int | None = None
    ) -> list[tuple[int, float]]:
        """Samples of one series with since_ms ≤ ts ≤ until_ms, ascending."""
        until = until_ms if until_ms is not None else 2**62
        rows = self.connect().execute(
            "SELECT ts, value FROM samples WHERE asset = ? AND metric = ? AND ts BETWEEN ? AND ? "
            "ORDER BY ts",
            (asset, metric, int(since_ms), int(until)),
        )
        return [(int(ts), float(v)) for ts, v in rows]

    # ---- liquidations: minute buckets, coverage spans, gaps ------------------------------

    def write_liquidations(
        self,
        minutes: Iterable[LiqMinute],
        spans: Iterable[CoverageSpan] = (),
        *,
        replace: bool = False,
    ) -> None:
        """Store minute buckets (added to, or with replace=True overwriting, what is there)
        and coverage spans (extended to the later end) in one transaction."""
        minute_rows = [
            (m.asset, m.venue, m.side, int(m.ts) - int(m.ts) % MINUTE_MS, float(m.usd), m.count)
            for m in minutes
        ]
        span_rows = [
            (c.asset, c.venue, int(c.start_ms), int(c.end_ms), c.source)
            for c in spans
            if c.end_ms > c.start_ms
        ]
        if not minute_rows and not span_rows:
            return
        update = (
            "usd = excluded.usd, count = excluded.count"
            if replace
            else "usd = usd + excluded.usd, count = count + excluded.count"
        )
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO liq_minutes(asset, venue, side, ts, usd, count) "
                "VALUES (?, ?, ?, ?, ?, ?) "
                f"ON CONFLICT(asset, ts, venue, side) DO UPDATE SET {update}",
                minute_rows,
            )
            conn.executemany(
                "INSERT INTO liq_coverage(asset, venue, start_ms, end_ms, source) "
                "VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(asset, venue, start_ms) DO UPDATE SET "
                "end_ms = MAX(end_ms, excluded.end_ms)",
                span_rows,
            )

    def record_liq_gap(self, gap: LiqGap) -> None:
        """Note that a venue's stream was down over [start_ms, end_ms)."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO liq_gaps(venue, start_ms, end_ms, reason) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(venue, start_ms) DO UPDATE SET "
                "end_ms = MAX(end_ms, excluded.end_ms), reason = excluded.reason",
                (gap.venue, int(gap.start_ms), int(gap.end_ms), gap.reason),
            )

    def read_liq_minutes(self, asset: str, since_ms: int, until_ms: int) -> list[LiqMinute]:
        """Minute buckets of one asset with since_ms ≤ ts < until_ms, ascending."""
        rows = self.connect().execute(
            "SELECT asset, venue, side, ts, usd, count FROM liq_minutes "
            "WHERE asset = ? AND ts >= ? AND ts < ? ORDER BY ts, venue, side",
            (asset, int(since_ms), int(until_ms)),
        )
        return [LiqMinute(a, v, s, int(t), float(u), int(n)) for a, v, s, t, u, n in rows]

    def read_liq_hours(
        self, asset: str, since_ms: int, until_ms: int
    ) -> list[tuple[str, str, int, float]]:
        """`(venue, side, hour_ts, usd)` sums of one asset's minutes in [since_ms, until_ms)."""
        rows = self.connect().execute(
            "SELECT venue, side, (ts / 3600000) * 3600000 AS hour, SUM(usd) FROM liq_minutes "
            "WHERE asset = ? AND ts >= ? AND ts < ? GROUP BY venue, side, hour ORDER BY hour",
            (asset, int(since_ms), int(until_ms)),
        )
        return [(v, s, int(h), float(u)) for v, s, h, u in rows]

    def read_liq_coverage(self, asset: str, since_ms: int, until_ms: int) -> list[CoverageSpan]:
        """Coverage spans of one asset that overlap [since_ms, until_ms), by start."""
        rows = self.connect().execute(
            "SELECT asset, venue, start_ms, end_ms, source FROM liq_coverage "
            "WHERE asset = ? AND end_ms > ? AND start_ms < ? ORDER BY start_ms, venue",
            (asset, int(since_ms), int(until_ms)),
        )
        return [CoverageSpan(a, v, int(s), int(e), src) for a, v, s, e, src in rows]

    def read_liq_gaps(self, since_ms: int = 0, venue: str | None = None) -> list[LiqGap]:
        """Recorded stream gaps ending after since_ms (of one venue, or all), by start."""
        sql = "SELECT venue, start_ms, end_ms, reason FROM liq_gaps WHERE end_ms > ?"
        args: list[object] = [int(since_ms)]
        if venue is not None:
            sql += " AND venue = ?"
            args.append(venue)
        rows = self.connect().execute(sql + " ORDER BY start_ms, venue", args)
        return [LiqGap(v, int(s), int(e), r) for v, s, e, r in rows]

    def prune_history(self, older_than_ms: int) -> int:
        """Delete liquidation minutes, spans, gaps and recorded samples older than the cut-off."""
        cut = int(older_than_ms)
        with self.transaction() as conn:
            gone = conn.execute("DELETE FROM samples WHERE ts < ?", (cut,)).rowcount
            gone += conn.execute("DELETE FROM liq_minutes WHERE ts < ?", (cut,)).rowcount
            gone += conn.execute("DELETE FROM liq_coverage WHERE end_ms <= ?", (cut,)).rowcount
            gone += conn.execute("DELETE FROM liq_gaps WHERE end_ms <= ?", (cut,)).rowcount
        return gone


def _statements(sql: str) -> list[str]:
    return [s.strip() for s in sql.split(";") if s.strip()]
