"""End to end over HTTP: the real Application long-polls the fake Bot API on 127.0.0.1.

The last tests start `python bot.py` itself as a subprocess, pointed at the fake through
TELEGRAM_API_BASE_URL and grading the demo snapshot through PREFLIGHT_SNAPSHOT.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from asyncio.subprocess import PIPE
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from settings import TOKEN_HELP
from signals.snapshot import DEMO_PATH
from tests.helpers.fake_botapi import FakeBotAPI, StoredMessage
from tests.helpers.telegram import PollingBot, bot_settings

BOT_PY = Path(__file__).resolve().parents[1] / "bot.py"


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    """The fake Bot API served on a random loopback port."""
    fake = FakeBotAPI()
    await fake.start()
    yield fake
    await fake.close()
    assert fake.failures == []


@pytest.fixture
async def bot(api: FakeBotAPI, tmp_path: Path) -> AsyncIterator[PollingBot]:
    """The application, polling the fake."""
    async with PollingBot(api, bot_settings(tmp_path)) as running:
        yield running


def _answered(message: StoredMessage) -> bool:
    """A final answer: anything but a progress message still waiting for its edit."""
    return not message.text.endswith("…")


async def test_every_command_answers_in_a_private_chat(api: FakeBotAPI, bot: PollingBot) -> None:
    alice = api.user("Alice")
    dm = api.private_chat(alice)
    expected = {
        "/start": "Hi Alice!",
        "/help": "Preflight grades a leveraged crypto trade idea before you open it.",
        "/rules": "The four flags, for a long (a short mirrors each one)",
        "/check ETH long 5x": "REDUCE · ETH long 5x",
        "/market BTC": "BTC $",
        "sol long 2x": "WAIT · SOL long 2x",
        "/check eth long 500x": "leverage 500x is above the 125x maximum.",
    }

    firsts = {}
    for text in expected:
        asked = api.user_message(dm, alice, text)
        reply = await api.reply_to(asked, until=_answered)
        firsts[text] = reply.text.splitlines()[0][: len(expected[text])]

    assert firsts == expected
    core = ["check", "market", "rules", "help", "start"]
    assert [c["command"] for c in api.commands["default"] if c["command"] in core] == core


async def test_group_topic_check_with_buttons(api: FakeBotAPI, bot: PollingBot) -> None:
    forum = api.group_chat("Desk", forum=True)
    alice, bob = api.user("Alice"), api.user("Bob")
    api.user_message(forum, bob, "eth long 5x", thread_id=3)  # plain text: not for the bot

    asked = api.user_message(forum, alice, "/check@PreflightTestBot ETH long 5x", thread_id=3)
    result = await api.reply_to(asked, until=_answered)
    unchanged = api.press(result, alice, "🔄 Refresh")
    await api.wait_for(lambda: api.answer_of(unchanged))
    bobs = api.press(result, bob, "🔁 Flip to short")  # not Bob's result: a popup for him
    await api.wait_for(lambda: api.answer_of(bobs))
    flip = api.press(result, alice, "🔁 Flip to short")
    await api.wait_for(lambda: api.answer_of(flip))

    assert (result.reply_to_id, result.thread_id) == (asked.message_id, 3)
    assert api.answer_of(unchanged) == {
        "callback_query_id": unchanged,
        "text": "Already up to date: nothing has changed.",
    }
    assert api.answer_of(bobs)["text"].startswith("ETH short 5x: PROCEED, 0 of 4 flags")
    assert result.text.startswith("PROCEED · ETH short 5x")
    assert len(api.bot_messages(forum)) == 1


async def test_flood_control_is_retried_over_http(api: FakeBotAPI, bot: PollingBot) -> None:
    alice = api.user("Alice")
    dm = api.private_chat(alice)
    api.flood("editMessageText", retry_after=1)

    asked = api.user_message(dm, alice, "/check ETH long 5x")
    result = await api.reply_to(asked, until=_answered)

    assert [c.status for c in api.calls_of("editMessageText")] == [429, 200]
    assert result.text.startswith("REDUCE · ETH long 5x")


def _clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "PREFLIGHT_")) and "PROXY" not in k.upper()
    }
    return {**env, **extra}


async def test_python_bot_py_answers_a_check_against_the_fake(
    api: FakeBotAPI, tmp_path: Path
) -> None:
    log_path = tmp_path / "bot.log"
    env = _clean_env(
        TELEGRAM_BOT_TOKEN=api.token,
        TELEGRAM_API_BASE_URL=api.base_url,
        PREFLIGHT_SNAPSHOT=str(DEMO_PATH),
        PREFLIGHT_STORE_PATH=str(tmp_path / "preflight.sqlite"),
        PREFLIGHT_LOG_LEVEL="DEBUG",
    )
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(BOT_PY), cwd=tmp_path, env=env, stdout=log, stderr=log
        )
        try:
            await api.wait_for(lambda: api.commands, timeout=60)
            alice = api.user("Alice")
            asked = api.user_message(api.private_chat(alice), alice, "/check ETH long 5x")
            result = await api.reply_to(asked, until=_answered, timeout=20)
        finally:
            process.send_signal(signal.SIGINT)
            returncode = await asyncio.wait_for(process.wait(), timeout=30)

    output = log_path.read_text()
    assert result.text.startswith("REDUCE · ETH long 5x")
    assert result.button_texts == [
        "📋 Details",
        "🔄 Refresh",
        "🔁 Flip to short",
        "🔔 Warn me about ETH",
    ]
    assert returncode == 0
    assert "Traceback" not in output
    assert api.token not in output
    assert api.token.split(":")[1] not in output


def test_python_bot_py_without_a_token_says_how_to_get_one(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BOT_PY)],
        cwd=tmp_path,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == f"preflight: {TOKEN_HELP}\n"
    assert "@BotFather" in done.stderr


async def test_python_bot_py_with_a_broken_snapshot_fails_in_one_line(
    api: FakeBotAPI, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    env = _clean_env(
        TELEGRAM_BOT_TOKEN=api.token,
        TELEGRAM_API_BASE_URL=api.base_url,
        PREFLIGHT_SNAPSHOT=str(broken),
        PREFLIGHT_LOG_LEVEL="CRITICAL",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(BOT_PY), cwd=tmp_path, env=env, stdout=PIPE, stderr=PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)

    assert process.returncode == 2
    assert stdout == b""
    assert stderr.decode().startswith(f"preflight: {broken}: ")
    assert stderr.decode().count("\n") == 1
