"""The embedded SQLite store: one file, WAL, schema versions applied by migrations.

One `Store` per process. Its connections are per thread (sqlite3 objects must not cross
threads); the bot runs its own reads and writes on the store's one worker thread through
`Store.run`, so SQLite never blocks the event loop. A write lock held elsewhere makes a
write fail after `BUSY_TIMEOUT_S` with `StoreBusy` instead of freezing anyone (and, for
`BUSY_TIMEOUT_S` after that, the writes queued behind it fail at once rather than one
second each, so the reads between them are not held up); a damaged,
foreign or newer file fails to open with `StoreBroken`. Both say which file and what to do.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ParamSpec, TypeVar

from signals.errors import PreflightError
from signals.migrations import MIGRATIONS

log = logging.getLogger(__name__)

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
# How long a write waits for a lock another connection holds before giving up. Writes are
# milliseconds long, so a wait this long means someone else holds the file.
BUSY_TIMEOUT_S = 1.0
# Tables the bot needs; a file without them after migrating is not a Preflight store.
REQUIRED_TABLES = frozenset(
    {"samples", "liq_minutes", "liq_coverage", "liq_gaps", "chats", "subscriptions"}
    | {"watch_state", "outbox", "liq_hours"}
)
_P = ParamSpec("_P")
_R = TypeVar("_R")


class StoreError(PreflightError, sqlite3.DatabaseError):
    """The store cannot be used right now; names the file, the problem and what to do.

    Also an `sqlite3.Error`, so code that already degrades on SQLite errors keeps doing so.
    """

    def __init__(self, path: str, problem: str, advice: str) -> None:
        super().__init__(f"store {path}: {problem}: {advice}")
        self.path = path
        self.problem = problem
        self.advice = advice


class StoreBusy(StoreError):
    """Another connection holds the write lock; trying again later may work."""


class StoreBroken(StoreError):
    """The file is damaged, not a Preflight store, too new, or cannot be written."""


_BUSY = ("database is locked", "database table is locked", "database schema is locked")
_DAMAGED = ("file is not a database", "malformed", "database corrupt", "disk image")
_UNWRITABLE = ("readonly", "unable to open", "disk i/o error", "full", "permission")


def store_error(path: str, error: BaseException) -> StoreError:
    """Translate an SQLite (or file system) error into the one line an operator can act on."""
    if isinstance(error, StoreError):
        return error
    text = str(error) or type(error).__name__
    lowered = text.lower()
    if any(marker in lowered for marker in _BUSY):
        return StoreBusy(
            path,
            f"locked by another process ({text})",
            "stop the other program writing it (a second `python bot.py` or `collect` on "
            "this PREFLIGHT_STORE_PATH), or wait a moment and try again",
        )
    if any(marker in lowered for marker in _DAMAGED):
        return StoreBroken(
            path,
            f"damaged ({text})",
            f"stop Preflight, move the file aside (mv {path} {path}.broken) and start again, "
            "or restore a backup (docs/operations.md)",
        )
    if any(marker in lowered for marker in _UNWRITABLE):
        return StoreBroken(
            path,
            f"cannot be written ({text})",
            "check the free disk space and that Preflight may write this file and its folder",
        )
    return StoreBroken(
        path,
        f"not a Preflight store ({text})",
        "point PREFLIGHT_STORE_PATH at a Preflight store or a new file (docs/operations.md)",
    )


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


@dataclass(frozen=True)
class HistorySpan:
    """A stretch [start_ms, end_ms) of one venue's series held complete in the store: every
    point the venue serves in it is stored (none may exist, e.g. before a listing)."""

    start_ms: int
    end_ms: int
    fetched_ms: int


@dataclass(frozen=True)
class StoredTrackRecord:
    """A track record as the daily job stored it: each day's verdict and max adverse move."""

    asset: str
    side: str
    asof: int
    days_asked: int
    horizon_days: int
    mmr: float
    computed_ms: int
    # JSON: [[t_ms, flags_verdict, mae], …] in time order
    days_json: str


class Store:
    """One SQLite file shared by the recorder, the collector and the bot's user settings.

    Connections are per thread (sqlite3 objects must not cross threads); WAL mode lets
    readers proceed while a writer commits. Opening validates the file and applies missing
    migrations; `verify=True` also runs SQLite's quick integrity check (the bot does, at
    start). Any problem raises StoreError naming the file and what to do.
    """

    def __init__(self, path: str | Path, *, verify: bool = False) -> None:
        self.path = str(path)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._generation = 0
        self._executor: ThreadPoolExecutor | None = None
        # until this time.monotonic() the file is known to be locked elsewhere: `run` makes
        # its writes try the lock once instead of waiting BUSY_TIMEOUT_S each
        self._busy_until = 0.0
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._open(verify)
        except (sqlite3.Error, OSError) as e:
            self.close()
            raise store_error(self.path, e) from e

    def _open(self, verify: bool) -> None:
        conn = self.connect()
        if verify:
            problems = [row[0] for row in conn.execute("PRAGMA quick_check").fetchall()]
            if problems != ["ok"]:
                raise sqlite3.DatabaseError(f"database disk image is malformed: {problems[0]}")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        current = self.schema_version()
        if current == 0 and "schema_migrations" not in tables and tables:
            # someone else's database: never add our tables to it
            raise StoreBroken(
                self.path,
                f"not a Preflight store (it holds tables {', '.join(sorted(tables)[:5])})",
                "point PREFLIGHT_STORE_PATH at a Preflight store or a new file",
            )
        known = {version for version, _ in MIGRATIONS}
        applied = self._applied_versions(conn)
        if applied is None:
            newer = {current} if current > max(known) else set()
        else:
            newer = applied - known
        if newer:
            raise StoreBroken(
                self.path,
                f"written by a newer Preflight (schema {max(newer)}; this one knows "
                f"up to {max(known)})",
                "upgrade Preflight, or point PREFLIGHT_STORE_PATH at another file",
            )
        self.migrate()
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        missing = sorted(REQUIRED_TABLES - tables)
        if missing:
            raise StoreBroken(
                self.path,
                f"not a Preflight store (no {', '.join(missing)} table)",
                "point PREFLIGHT_STORE_PATH at a Preflight store or a new file",
            )

    def connect(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "generation", -1) != self._generation:
            # check_same_thread off only so close() can close every thread's connection;
            # each connection is still used by the one thread that opened it
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            with self._lock:
                self._connections.append(conn)
            self._local.conn, self._local.generation = conn, self._generation
            conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
        return conn

    def schema_version(self) -> int:
        """The schema version this file is at (the highest migration applied)."""
        return int(self.connect().execute("PRAGMA user_version").fetchone()[0])

    def _applied_versions(self, conn: sqlite3.Connection) -> set[int] | None:
        tables = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_migrations'"
        ).fetchone()
        if tables is None:
            return None
        return {int(v) for (v,) in conn.execute("SELECT version FROM schema_migrations")}

    def migrate(self) -> None:
        """Apply every listed migration not yet applied, each in its own transaction.

        Applied versions are recorded one by one (`schema_migrations`), so a migration
        numbered below one already applied — merged later — still runs. `user_version`
        holds the highest applied, as before; a file without the record is taken to have
        every listed version up to its `user_version`.
        """
        with self._lock:
            conn = self.connect()
            applied = self._applied_versions(conn)
            if applied is None:
                current = self.schema_version()
                applied = {v for v, _ in MIGRATIONS if v <= current}
                with self.transaction() as tx:
                    tx.execute(
                        "CREATE TABLE IF NOT EXISTS schema_migrations ("
                        "version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL)"
                    )
                    tx.executemany(
                        "INSERT OR IGNORE INTO schema_migrations VALUES (?, ?)",
                        [(v, 0) for v in sorted(applied)],
                    )
            for version, sql in MIGRATIONS:
                if version in applied:
                    continue
                log.info("store %s: migrating to schema %d", self.path, version)
                with self.transaction() as tx:
                    for statement in _statements(sql):
                        tx.execute(statement)
                    tx.execute(
                        "INSERT INTO schema_migrations VALUES (?, ?)",
                        (version, int(time.time() * 1000)),
                    )
                    highest = max(version, self.schema_version())
                    tx.execute(f"PRAGMA user_version={int(highest)}")

    async def run(self, fn: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs) -> _R:
        """Run `fn(*args, **kwargs)` on the store's worker thread, off the event loop.

        SQLite errors come back as StoreError (StoreBusy when the file is locked elsewhere).
        """
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._executor, functools.partial(self._on_worker, fn, *args, **kwargs)
            )
        except sqlite3.Error as e:
            raise store_error(self.path, e) from e

    def _on_worker(self, fn: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs) -> _R:
        """`fn` on the worker thread. One write waits BUSY_TIMEOUT_S for a lock held
        elsewhere; while it is known to be held, the writes queued behind it try once and
        fail at once, so twenty waiting writes never make a read wait twenty seconds."""
        fast = time.monotonic() < self._busy_until
        conn = self.connect()
        if fast:
            conn.execute("PRAGMA busy_timeout=0")
        try:
            return fn(*args, **kwargs)
        except (sqlite3.Error, StoreBusy) as e:
            if isinstance(store_error(self.path, e), StoreBusy):
                self._busy_until = time.monotonic() + BUSY_TIMEOUT_S
            raise
        finally:
            if fast:
                conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")

    def close(self) -> None:
        """Finish queued work and close every connection (a later use reopens one)."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
        with self._lock:
            connections, self._connections = self._connections, []
            self._generation += 1
        for conn in connections:
            try:
                conn.close()
            except sqlite3.Error:  # a connection mid-statement on a dying thread
                log.warning("store %s: a connection did not close cleanly", self.path)

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
        and coverage spans (extended to the later end) in one transaction; the hourly rollup
        (`liq_hours`) is kept in step in the same transaction."""
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
            if replace:
                _recount_hours(
                    conn, {(a, v, ts - ts % HOUR_MS) for a, v, _, ts, _, _ in minute_rows}
                )
            else:
                _add_to_hours(conn, minute_rows)
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
        """`(venue, side, hour_ts, usd)` sums of one asset's minutes in [since_ms, until_ms).

        Whole hours come from the hourly rollup; a window cut inside an hour is summed from
        the minutes."""
        if since_ms % HOUR_MS == 0 and until_ms % HOUR_MS == 0:
            rows = self.connect().execute(
                "SELECT venue, side, hour, usd FROM liq_hours "
                "WHERE asset = ? AND hour >= ? AND hour < ? ORDER BY hour",
                (asset, int(since_ms), int(until_ms)),
            )
        else:
            rows = self.connect().execute(
                "SELECT venue, side, (ts / 3600000) * 3600000 AS hour, SUM(usd) "
                "FROM liq_minutes WHERE asset = ? AND ts >= ? AND ts < ? "
                "GROUP BY venue, side, hour ORDER BY hour",
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
            first_hour = cut - cut % HOUR_MS
            conn.execute("DELETE FROM liq_hours WHERE hour < ?", (first_hour,))
            if cut > first_hour:  # the hour the cut falls in keeps only its later minutes
                conn.execute(
                    "DELETE FROM liq_hours WHERE hour = ? AND NOT EXISTS (SELECT 1 FROM "
                    "liq_minutes m WHERE m.asset = liq_hours.asset AND m.venue = liq_hours.venue "
                    "AND m.side = liq_hours.side AND m.ts >= ? AND m.ts < ?)",
                    (first_hour, first_hour, first_hour + HOUR_MS),
                )
                _recount_hours(
                    conn,
                    set(
                        conn.execute(
                            "SELECT DISTINCT asset, venue, ? FROM liq_minutes "
                            "WHERE ts >= ? AND ts < ?",
                            (first_hour, first_hour, first_hour + HOUR_MS),
                        )
                    ),
                )
            gone += conn.execute("DELETE FROM liq_coverage WHERE end_ms <= ?", (cut,)).rowcount
            gone += conn.execute("DELETE FROM liq_gaps WHERE end_ms <= ?", (cut,)).rowcount
        return gone

    # ---- the track record's history (migration 8) ---------------------------------------

    def history_coverage(self, asset: str) -> dict[tuple[str, str], list[HistorySpan]]:
        """Per (venue, series): the disjoint spans of the history held complete, by start."""
        rows = self.connect().execute(
            "SELECT venue, series, start_ms, end_ms, fetched_ms FROM hist_coverage "
            "WHERE asset = ? ORDER BY venue, series, start_ms",
            (asset,),
        )
        spans: dict[tuple[str, str], list[HistorySpan]] = {}
        for v, s, a, b, f in rows:
            spans.setdefault((v, s), []).append(HistorySpan(int(a), int(b), int(f)))
        return spans

    def write_history(
        self,
        asset: str,
        venue: str,
        series: str,
        *,
        bars: Iterable[Sequence[float]] = (),
        points: Iterable[tuple[int, float]] = (),
        timeframe: str | None = None,
        span: tuple[int, int] | None = None,
        fetched_ms: int = 0,
    ) -> None:
        """Upsert candles (`bars`, with `timeframe`) or points of one venue's series and, with
        `span`, note [start, end) as complete: merged with every held span it meets, in the
        same transaction, so a page written is a page the next run never asks for again."""
        bar_rows = [
            (asset, venue, timeframe, int(b[0]), *(float(x) for x in b[1:6])) for b in bars
        ]
        point_rows = [(asset, venue, series, int(ts), float(v)) for ts, v in points]
        with self.transaction() as conn:
            if bar_rows:
                conn.executemany(
                    "INSERT INTO hist_bars(asset, venue, timeframe, ts, open, high, low, close, "
                    "volume) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(asset, venue, "
                    "timeframe, ts) DO UPDATE SET open = excluded.open, high = excluded.high, "
                    "low = excluded.low, close = excluded.close, volume = excluded.volume",
                    bar_rows,
                )
            if point_rows:
                conn.executemany(
                    "INSERT INTO hist_points(asset, venue, series, ts, value) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT(asset, venue, series, ts) "
                    "DO UPDATE SET value = excluded.value",
                    point_rows,
                )
            if span is None or span[1] <= span[0]:
                return
            start, end = int(span[0]), int(span[1])
            key = (asset, venue, series)
            met = conn.execute(
                "SELECT start_ms, end_ms FROM hist_coverage WHERE asset = ? AND venue = ? AND "
                "series = ? AND start_ms <= ? AND end_ms >= ?",
                (*key, end, start),
            ).fetchall()
            for a, b in met:
                start, end = min(start, int(a)), max(end, int(b))
            conn.execute(
                "DELETE FROM hist_coverage WHERE asset = ? AND venue = ? AND series = ? AND "
                "start_ms <= ? AND end_ms >= ?",
                (*key, end, start),
            )
            conn.execute(
                "INSERT INTO hist_coverage(asset, venue, series, start_ms, end_ms, fetched_ms) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (*key, start, end, int(fetched_ms)),
            )

    def read_history_bars(
        self, asset: str, venue: str, timeframe: str, since_ms: int, until_ms: int
    ) -> list[list[float]]:
        """Candles `[ts, o, h, l, c, v]` of one venue with since_ms ≤ ts < until_ms, ascending."""
        rows = self.connect().execute(
            "SELECT ts, open, high, low, close, volume FROM hist_bars WHERE asset = ? AND "
            "venue = ? AND timeframe = ? AND ts >= ? AND ts < ? ORDER BY ts",
            (asset, venue, timeframe, int(since_ms), int(until_ms)),
        )
        return [[float(ts), o, h, lo, c, v] for ts, o, h, lo, c, v in rows]

    def read_history_points(
        self, asset: str, venue: str, series: str, since_ms: int, until_ms: int
    ) -> list[tuple[int, float]]:
        """Points of one venue's series with since_ms ≤ ts < until_ms, ascending."""
        rows = self.connect().execute(
            "SELECT ts, value FROM hist_points WHERE asset = ? AND venue = ? AND series = ? "
            "AND ts >= ? AND ts < ? ORDER BY ts",
            (asset, venue, series, int(since_ms), int(until_ms)),
        )
        return [(int(ts), float(v)) for ts, v in rows]

    def history_venues(self, asset: str, series: str) -> list[str]:
        """The venues holding points of one series for the asset, by name."""
        rows = self.connect().execute(
            "SELECT DISTINCT venue FROM hist_points WHERE asset = ? AND series = ? ORDER BY venue",
            (asset, series),
        )
        return [r[0] for r in rows]

    def write_liq_hours(self, asset: str, rows: Iterable[tuple[str, int, float, float]]) -> int:
        """Upsert `(venue, hour_ts, long_usd, short_usd)` sums of hours a venue covered."""
        data = [(asset, v, int(ts), float(lo), float(sh)) for v, ts, lo, sh in rows]
        if not data:
            return 0
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO hist_liq_hours(asset, venue, ts, long_usd, short_usd) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(asset, venue, ts) DO UPDATE SET "
                "long_usd = excluded.long_usd, short_usd = excluded.short_usd",
                data,
            )
        return len(data)

    def read_liq_hours_archive(
        self, asset: str, since_ms: int, until_ms: int
    ) -> list[tuple[str, int, float, float]]:
        """`(venue, hour_ts, long_usd, short_usd)` of covered hours in [since_ms, until_ms)."""
        rows = self.connect().execute(
            "SELECT venue, ts, long_usd, short_usd FROM hist_liq_hours WHERE asset = ? AND "
            "ts >= ? AND ts < ? ORDER BY ts, venue",
            (asset, int(since_ms), int(until_ms)),
        )
        return [(v, int(ts), float(lo), float(sh)) for v, ts, lo, sh in rows]

    def save_track_record(self, record: StoredTrackRecord) -> None:
        """Replace the stored track record of one asset and side."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO track_records(asset, side, asof, days_asked, horizon_days, mmr, "
                "computed_ms, days) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(asset, side) "
                "DO UPDATE SET asof = excluded.asof, days_asked = excluded.days_asked, "
                "horizon_days = excluded.horizon_days, mmr = excluded.mmr, "
                "computed_ms = excluded.computed_ms, days = excluded.days",
                (
                    record.asset,
                    record.side,
                    int(record.asof),
                    int(record.days_asked),
                    int(record.horizon_days),
                    float(record.mmr),
                    int(record.computed_ms),
                    record.days_json,
                ),
            )

    def track_records(self) -> list[StoredTrackRecord]:
        """Every stored track record, by asset then side."""
        rows = self.connect().execute(
            "SELECT asset, side, asof, days_asked, horizon_days, mmr, computed_ms, days "
            "FROM track_records ORDER BY asset, side"
        )
        return [
            StoredTrackRecord(a, s, int(t), int(n), int(h), float(m), int(c), d)
            for a, s, t, n, h, m, c, d in rows
        ]


def _add_to_hours(
    conn: sqlite3.Connection, minute_rows: Iterable[tuple[str, str, str, int, float, int]]
) -> None:
    """Add minute buckets to their hours in the rollup."""
    hours: dict[tuple[str, str, str, int], list[float]] = {}
    for asset, venue, side, ts, usd, count in minute_rows:
        total = hours.setdefault((asset, venue, side, ts - ts % HOUR_MS), [0.0, 0])
        total[0] += usd
        total[1] += count
    conn.executemany(
        "INSERT INTO liq_hours(asset, venue, side, hour, usd, count) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(asset, hour, venue, side) DO UPDATE SET "
        "usd = usd + excluded.usd, count = count + excluded.count",
        [(*key, usd, int(count)) for key, (usd, count) in hours.items()],
    )


def _recount_hours(conn: sqlite3.Connection, hours: Iterable[tuple[str, str, int]]) -> None:
    """Sum the rollup of `(asset, venue, hour)` again from its minutes (after overwriting)."""
    conn.executemany(
        "INSERT INTO liq_hours(asset, venue, side, hour, usd, count) "
        "SELECT asset, venue, side, ?, SUM(usd), SUM(count) FROM liq_minutes "
        "WHERE asset = ? AND venue = ? AND ts >= ? AND ts < ? GROUP BY side "
        "ON CONFLICT(asset, hour, venue, side) DO UPDATE SET "
        "usd = excluded.usd, count = excluded.count",
        [(hour, asset, venue, hour, hour + HOUR_MS) for asset, venue, hour in hours],
    )


def _statements(sql: str) -> list[str]:
    return [s.strip() for s in sql.split(";") if s.strip()]
