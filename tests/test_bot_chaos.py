"""Chaos against the real `python bot.py`: SIGTERM with 10,000 alerts queued, kill -9, and
start-up failures (wrong token, no network, damaged store, mistyped sub-command).

The bot runs as a subprocess pointed at the fake Bot API (served on 127.0.0.1 by this test
process) through TELEGRAM_API_BASE_URL, grading the demo snapshot. The outbox is filled
before start-up by writing the store file, as alerts queued before a restart would be.

Time: a first run sends at Telegram's real 30/s (the fake enforces 10% less); a restart
that delivers runs the bot's pacer (PREFLIGHT_BROADCAST_PER_SECOND) and the fake 10–100×
faster, so thousands of messages go out in seconds rather than minutes.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from asyncio.subprocess import Process
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from handlers import OUTBOX_RESUME_JOB
from signals.snapshot import DEMO_PATH
from signals.store import Store
from signals.userdata import Draft, UserData
from tests.helpers.fake_botapi import FakeChat
from tests.helpers.groups_api import GroupsBotAPI, GroupsHarness
from tests.helpers.telegram import bot_settings, scaled_pacer

BOT_PY = Path(__file__).resolve().parents[1] / "bot.py"
QUEUED = 10_000


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any TELEGRAM_/PREFLIGHT_ variable or proxy, plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "PREFLIGHT_")) and "PROXY" not in k.upper()
    }
    return {**env, **extra}


def bot_env(api: GroupsBotAPI, store: Path, **extra: str) -> dict[str, str]:
    return clean_env(
        TELEGRAM_BOT_TOKEN=api.token,
        TELEGRAM_API_BASE_URL=api.base_url,
        PREFLIGHT_SNAPSHOT=str(DEMO_PATH),
        PREFLIGHT_STORE_PATH=str(store),
        PREFLIGHT_COLLECT_LIQUIDATIONS="false",
        **extra,
    )


async def start_bot(env: dict[str, str], cwd: Path, log: Path) -> Process:
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, str(BOT_PY), cwd=cwd, env=env, stdout=out, stderr=out
        )


@pytest.fixture
async def api() -> AsyncIterator[GroupsBotAPI]:
    fake = GroupsBotAPI()
    await fake.start()
    yield fake
    await fake.close()
    assert fake.failures == []


def queue_alerts(store_path: Path, chats: list[FakeChat]) -> None:
    """Alerts queued for every chat (one each), as a watcher round left them before a restart."""
    users = UserData(Store(store_path))
    users.enqueue(
        Draft(f"alert:{c.id}:ETH:long:calm>stress:{n}", c.id, f"🔴 <b>ETH long: STRESS</b> {n}")
        for n, c in enumerate(chats)
    )
    users.store.close()


def outbox(store_path: Path) -> dict[str, int]:
    conn = sqlite3.connect(store_path)
    try:
        return dict(conn.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status"))
    finally:
        conn.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_stop_signal_ends_sending_within_seconds_and_the_next_start_sends_the_rest(
    api: GroupsBotAPI, tmp_path: Path, sig: signal.Signals
) -> None:
    chats = [api.private_chat(api.user(f"T{n}")) for n in range(QUEUED - 30)]
    group = api.group_chat("Desk")  # a group backlog too: 30 messages, 20 a minute
    store, log = tmp_path / "preflight.sqlite", tmp_path / "bot.log"
    queue_alerts(store, chats)
    queue_alerts(store, [group] * 30)
    api.enforce_flood_limits(per_second=27, per_group_minute=18)

    bot = await start_bot(bot_env(api, store), tmp_path, log)
    await api.wait_for(lambda: api.delivered >= 20, timeout=60)  # the broadcast is under way
    bot.send_signal(sig)
    stopping = time.monotonic()
    code = await asyncio.wait_for(bot.wait(), timeout=30)
    stopped_in = time.monotonic() - stopping

    output = log.read_text()
    assert code == 0
    assert stopped_in < 5.0, f"took {stopped_in:.1f}s to stop"
    # everything Telegram accepted is noted as sent; the rest waits for the next start
    assert outbox(store) == {"sent": api.delivered, "pending": QUEUED - api.delivered}
    assert api.too_many_requests == 0
    assert "Traceback" not in output
    assert api.token.split(":")[1] not in output
    if sig != signal.SIGTERM:
        return

    # the next start, 100× faster; in-process (the same Application, post_init and outbox
    # job, minus HTTP) so 10,000 deliveries take seconds of CPU rather than half a minute
    api.enforce_flood_limits(per_second=2700, per_group_minute=18, minute_s=0.6)
    settings = bot_settings(tmp_path, store_path=str(store))
    async with GroupsHarness(api, settings, pacer=scaled_pacer(100)) as restarted:
        await restarted.run_job(OUTBOX_RESUME_JOB)

    assert [len(api.bot_messages(c)) for c in chats] == [1] * (QUEUED - 30)
    assert len(api.bot_messages(group)) == 30
    assert outbox(store) == {"sent": QUEUED}
    assert api.too_many_requests == 0


async def test_kill_9_mid_broadcast_loses_nothing(api: GroupsBotAPI, tmp_path: Path) -> None:
    chats = [api.private_chat(api.user(f"T{n}")) for n in range(600)]
    store, log = tmp_path / "preflight.sqlite", tmp_path / "bot.log"
    queue_alerts(store, chats)
    api.enforce_flood_limits(per_second=540, per_group_minute=18)
    env = bot_env(api, store, PREFLIGHT_BROADCAST_PER_SECOND="600")

    bot = await start_bot(env, tmp_path, log)
    await api.wait_for(lambda: api.delivered >= 150, timeout=60)
    bot.kill()
    await bot.wait()
    killed_at = api.delivered
    bot = await start_bot(env, tmp_path, log)
    await api.wait_for(lambda: all(api.bot_messages(c) for c in chats), timeout=60)
    bot.send_signal(signal.SIGTERM)
    await asyncio.wait_for(bot.wait(), timeout=30)

    counts = [len(api.bot_messages(c)) for c in chats]
    assert min(counts) == 1  # nothing lost
    # only a send in flight at the kill (answered, not yet noted) can go out twice
    assert sum(counts) - len(chats) <= 16
    assert killed_at < len(chats)
    assert outbox(store) == {"sent": len(chats)}


def run_bot_py(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BOT_PY), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("word", "hint"),
    [("chek", "did you mean check?"), ("recrod", "did you mean record?"), ("xyz", None)],
)
async def test_a_mistyped_subcommand_never_starts_a_poller(
    api: GroupsBotAPI, tmp_path: Path, word: str, hint: str | None
) -> None:
    env = bot_env(api, tmp_path / "preflight.sqlite")

    done = await asyncio.to_thread(run_bot_py, word, "ETH", env=env, cwd=tmp_path)

    assert done.returncode == 2
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith(f"preflight: unknown command {word!r}")
    assert (hint in line) if hint else ("did you mean" not in line)
    assert "check, record, collect, backtest" in line
    assert api.calls == []  # no getMe, no getUpdates: nothing talked to Telegram


async def test_a_wrong_token_is_one_line_without_the_token(
    api: GroupsBotAPI, tmp_path: Path
) -> None:
    wrong = "987654321:AAWrongTokenWrongTokenWrongToken_xyz"
    env = {**bot_env(api, tmp_path / "s.sqlite"), "TELEGRAM_BOT_TOKEN": wrong}

    done = await asyncio.to_thread(run_bot_py, env=env, cwd=tmp_path)

    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith("preflight: Telegram rejected TELEGRAM_BOT_TOKEN (Unauthorized)")
    assert wrong not in done.stderr + done.stdout
    assert wrong.split(":")[1] not in done.stderr + done.stdout


def test_no_network_is_one_line(tmp_path: Path) -> None:
    env = clean_env(
        TELEGRAM_BOT_TOKEN="123456789:AAFakeTokenForTestsOnly_abcdefghijk",
        TELEGRAM_API_BASE_URL="http://127.0.0.1:9/bot",  # nothing listens on the discard port
        PREFLIGHT_SNAPSHOT=str(DEMO_PATH),
        PREFLIGHT_STORE_PATH=str(tmp_path / "s.sqlite"),
    )

    done = run_bot_py(env=env, cwd=tmp_path)

    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith(
        "preflight: cannot reach the Telegram Bot API at http://127.0.0.1:9/bot"
    )
    assert "AAFakeTokenForTestsOnly" not in done.stderr


STORES = {
    "garbage": (b"this is no database, just garbage " * 200, "damaged (file is not a database)"),
    "truncated": (b"SQLite format 3\x00" + b"\xff" * 4000, "damaged"),
    "foreign": (None, "not a Preflight store (it holds tables notes)"),
}


async def test_a_damaged_or_foreign_store_is_one_line_naming_the_file(
    api: GroupsBotAPI, tmp_path: Path
) -> None:
    async def start_on(name: str, content: bytes | None) -> tuple[Path, Any]:
        folder = tmp_path / name
        folder.mkdir()
        store = folder / "preflight.sqlite"
        if content is None:
            conn = sqlite3.connect(store)
            conn.execute("CREATE TABLE notes (body TEXT)")
            conn.commit()
            conn.close()
        else:
            store.write_bytes(content)
        done = await asyncio.to_thread(run_bot_py, env=bot_env(api, store), cwd=folder)
        return store, done

    # the three bots start side by side (each takes a second to import)
    runs = await asyncio.gather(*(start_on(n, c) for n, (c, _) in STORES.items()))

    for (store, done), (_, problem) in zip(runs, STORES.values(), strict=True):
        assert done.returncode == 1
        [line] = done.stderr.splitlines()
        assert line.startswith(f"preflight: store {store}: {problem}")
        assert "Traceback" not in done.stderr
    assert api.calls_of("getUpdates") == []


@pytest.mark.parametrize("moment", ["getMe", "post_init"])
async def test_a_stop_signal_during_start_up_is_a_clean_stop(
    api: GroupsBotAPI, tmp_path: Path, moment: str
) -> None:
    # the platform stops the bot while it starts (a redeploy): while Telegram is slow to
    # answer getMe, or while post_init loads a large snapshot (300 assets, ~1 s)
    asked, answer = asyncio.Event(), asyncio.Event()
    get_me = api.methods["getMe"]

    async def slow_get_me(fake: Any, params: dict[str, Any]) -> Any:
        asked.set()
        if moment == "getMe":
            await answer.wait()
        return await get_me(fake, params)

    api.methods["getMe"] = slow_get_me  # type: ignore[assignment]
    demo = json.loads(DEMO_PATH.read_text(encoding="utf-8"))
    demo["assets"].update({f"A{n}": demo["assets"]["ETH"] for n in range(300)})
    snapshot = tmp_path / "large.json"
    snapshot.write_text(json.dumps(demo), encoding="utf-8")
    store, log = tmp_path / "preflight.sqlite", tmp_path / "bot.log"
    # answers in flight get 0.1 s: the snapshot is still loading when sending stops
    env = {
        **bot_env(api, store),
        "PREFLIGHT_SNAPSHOT": str(snapshot),
        "PREFLIGHT_STOP_GRACE_S": "0.1",
    }
    bot = await start_bot(env, tmp_path, log)
    await asyncio.wait_for(asked.wait(), timeout=60)
    if moment == "post_init":
        await asyncio.sleep(0.1)  # getMe answered: the snapshot is loading
    bot.send_signal(signal.SIGTERM)
    await asyncio.sleep(0.2)
    answer.set()
    code = await asyncio.wait_for(bot.wait(), timeout=15)

    output = log.read_text()
    assert code == 0, output  # a requested stop: not "start-up failed" with exit 1
    assert "start-up failed" not in output
    assert "Traceback" not in output
    assert api.calls_of("getUpdates") == []
