"""The embedded SQLite store: one file, WAL, schema versions applied by migrations."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

from signals.migrations import MIGRATIONS

log = logging.getLogger(__name__)


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
            conn = self.connect()
            current = self.schema_version()
            for version, sql in MIGRATIONS:
                if version <= current:
                    continue
                log.info("store %s: migrating to schema %d", self.path, version)
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for statement in _statements(sql):
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version={int(version)}")
                    conn.execute("COMMIT")
                except sqlite3.Error:
                    conn.execute("ROLLBACK")
                    raise

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # ---- the bot's own recorded series (skew samples, OI snapshots, …) ----------------

    def record_samples(self, asset: str, metric: str, rows: Iterable[tuple[int, float]]) -> None:
        """Upsert `(ts_ms, value)` samples of one series."""
        data = [(asset, metric, int(ts), float(v)) for ts, v in rows]
        if not data:
            return
        conn = self.connect()
        conn.execute("BEGIN")
        try:
            conn.executemany(
                "INSERT INTO samples(asset, metric, ts, value) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(asset, metric, ts) DO UPDATE SET value = excluded.value",
                data,
            )
            conn.execute("COMMIT")
        except sqlite3.Error:
            conn.execute("ROLLBACK")
            raise

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

    def prune_samples(self, older_than_ms: int) -> int:
        """Delete samples older than the cut-off; return how many went."""
        cur = self.connect().execute("DELETE FROM samples WHERE ts < ?", (int(older_than_ms),))
        return cur.rowcount


def _statements(sql: str) -> list[str]:
    return [s.strip() for s in sql.split(";") if s.strip()]
