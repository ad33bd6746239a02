"""`python bot.py` itself, twice on one SQLite file: /settings set in the first run complete a
check in the second, and Details / Less work on the real process's buttons."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from signals.snapshot import DEMO_PATH
from tests.helpers.fake_botapi import FakeBotAPI, FakeChat, FakeUser, StoredMessage, utf16_len
from tests.test_bot_e2e import BOT_PY, _answered, _clean_env


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    fake = FakeBotAPI()
    await fake.start()
    yield fake
    await fake.close()
    assert fake.failures == []


async def run_bot(
    api: FakeBotAPI, store: Path, steps: list[str], chat: FakeChat, user: FakeUser
) -> list[StoredMessage]:
    """Start `python bot.py`, send each step (a message, or `press:<label>` on the last
    answer), stop it with SIGINT; return the answers in order."""
    env = _clean_env(
        TELEGRAM_BOT_TOKEN=api.token,
        TELEGRAM_API_BASE_URL=api.base_url,
        PREFLIGHT_SNAPSHOT=str(DEMO_PATH),
        PREFLIGHT_STORE_PATH=str(store),
    )
    api.commands.clear()
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(BOT_PY), cwd=store.parent, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    answers: list[StoredMessage] = []
    try:
        await api.wait_for(lambda: api.commands, timeout=60)
        for step in steps:
            if step.startswith("press:"):
                await press(api, answers[-1], user, step.removeprefix("press:"))
                continue
            asked = api.user_message(chat, user, step)
            answers.append(await api.reply_to(asked, until=_answered, timeout=20))
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, stderr.decode()
    return answers


async def press(api: FakeBotAPI, message: StoredMessage, user: FakeUser, label: str) -> None:
    """Press a button and wait until it was answered and the message edited."""
    edits = message.edits
    query = api.press(message, user, label)
    await api.wait_for(lambda: api.answer_of(query) and message.edits > edits, 20)


async def test_settings_survive_a_restart_of_the_real_bot(api: FakeBotAPI, tmp_path: Path) -> None:
    alice = api.user("Alice")
    dm = api.private_chat(alice)
    store = tmp_path / "preflight.sqlite"

    [saved] = await run_bot(
        api, store, ["/settings account 10k risk 1% leverage 5 horizon 3d"], dm, alice
    )
    shown, check = await run_bot(
        api, store, ["/settings", "eth long", "press:📋 Details"], dm, alice
    )
    details = check.text
    [folded] = await run_bot(api, store, ["eth long"], dm, alice)

    assert saved.text.startswith("Saved. Your settings")
    assert "Leverage: 5x" in shown.text and "Account: $10,000" in shown.text
    assert details.startswith("REDUCE · ETH long 5x (from your /settings)")
    assert "• Sizing: risking 1% of $10,000, from your /settings = $100" in details
    assert utf16_len(details) <= 4096
    assert check.button_texts[0] == "🔼 Less"
    assert folded.text.splitlines()[-2] == (
        "Size $2,221 = 0.6918 ETH · margin $444 · loses $100 at the cut "
        "(1% of $10,000, from your /settings)"
    )
    assert {"settings", "check"} <= {c["command"] for c in api.commands["default"]}
