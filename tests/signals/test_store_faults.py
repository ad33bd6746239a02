"""A damaged, foreign, newer or locked store: one clear line naming the file and what to do."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

import pytest

import signals.store
from settings import Settings
from signals.migrations import MIGRATIONS
from signals.service import CheckService
from signals.store import Store, StoreBroken, StoreBusy
from signals.userdata import UserData


def foreign(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.commit()
    conn.close()


def half_a_store(path: Path) -> None:
    """A real store with rows, then cut in half (a copy interrupted mid-way)."""
    store = Store(path)
    store.record_samples("BTC", "rr25_30d", [(t * 1000, 1.0) for t in range(20_000)])
    store.close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    for extra in ("-wal", "-shm"):
        Path(f"{path}{extra}").unlink(missing_ok=True)


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda p: p.write_bytes(b"garbage " * 500), "damaged (file is not a database)"),
        (half_a_store, "damaged (database disk image is malformed"),
        (foreign, "not a Preflight store (it holds tables notes)"),
    ],
    ids=["garbage", "truncated", "foreign"],
)
def test_a_bad_file_fails_to_open_in_one_line_naming_it(
    tmp_path: Path, make: object, problem: str
) -> None:
    path = tmp_path / "preflight.sqlite"
    make(path)  # type: ignore[operator]

    with pytest.raises(StoreBroken) as raised:
        Store(path, verify=True)

    message = str(raised.value)
    assert message.startswith(f"store {path}: {problem}")
    assert "\n" not in message
    assert "docs/operations.md" in message or "PREFLIGHT_STORE_PATH" in message


def test_a_foreign_database_is_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    foreign(path)

    with pytest.raises(StoreBroken):
        Store(path)

    conn = sqlite3.connect(path)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    conn.close()
    assert tables == ["notes"]


def test_a_store_from_a_newer_preflight_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "preflight.sqlite"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_migrations VALUES (99, 0)")
    conn.execute("PRAGMA user_version=99")
    conn.commit()
    conn.close()

    with pytest.raises(StoreBroken, match="written by a newer Preflight \\(schema 99"):
        Store(path)


def test_a_migration_numbered_below_one_applied_still_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "preflight.sqlite"
    Store(path).close()  # every listed version applied
    listed = sorted(v for v, _ in MIGRATIONS)
    late = (4, "CREATE TABLE merged_late (x INTEGER)")
    monkeypatch.setattr(signals.store, "MIGRATIONS", sorted([*MIGRATIONS, late]))

    store = Store(path)

    tables = {r[0] for r in store.connect().execute("SELECT name FROM sqlite_master")}
    applied = [v for (v,) in store.connect().execute("SELECT version FROM schema_migrations")]
    assert "merged_late" in tables
    assert sorted(applied) == sorted([*listed, 4])
    assert store.schema_version() == listed[-1]


async def test_a_write_lock_held_elsewhere_fails_a_write_fast_and_reads_go_on(
    tmp_path: Path,
) -> None:
    path = tmp_path / "preflight.sqlite"
    store = Store(path)
    users = UserData(store)
    users.subscribe(7, "ETH", {"long": ("calm", ())}, None)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process writing, and not letting go
    try:
        reopened = Store(path)  # an up-to-date file opens without writing
        started = time.monotonic()
        with pytest.raises(StoreBusy) as raised:
            await store.run(users.subscribe, 8, "SOL", {"long": ("calm", ())}, None)
        waited = time.monotonic() - started
        subs = await store.run(users.subscriptions, 7)
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert waited < 2.0
    assert str(raised.value).startswith(f"store {path}: locked by another process")
    assert [s.asset for s in subs] == ["ETH"]
    reopened.close()
    store.close()


def test_a_locked_file_that_needs_migrating_fails_to_open_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "preflight.sqlite"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreBusy, match="locked by another process"):
            Store(path)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_cli_check_grades_on_despite_a_damaged_store(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "preflight.sqlite"
    path.write_bytes(b"garbage " * 500)

    with caplog.at_level(logging.WARNING, logger="signals.service"):
        service = CheckService(Settings(store_path=str(path)))

    assert service.store is None  # liquidations unknown, everything else graded
    [record] = caplog.records
    assert record.getMessage().startswith(f"store {path}: damaged (file is not a database)")
    assert record.exc_info is None
