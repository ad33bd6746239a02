"""Schema migrations of the SQLite store, in order. Append; never edit a released one."""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE samples (
            asset TEXT NOT NULL,
            metric TEXT NOT NULL,
            ts INTEGER NOT NULL,
            value REAL NOT NULL,
            PRIMARY KEY (asset, metric, ts)
        ) WITHOUT ROWID;
        """,
    ),
]
