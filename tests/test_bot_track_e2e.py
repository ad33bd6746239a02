"""`/track` from the real `python bot.py`: it long-polls the strict fake Bot API on 127.0.0.1
(HTML validated, 4096 units, uploads) and reads its history from the long-history fake venues
in ANOTHER process (tests/helpers/venues/history_server.py) through PREFLIGHT_VENUE_BASE_URL.
Nothing is monkeypatched; the child loads tests/helpers/netguard."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.helpers.fake_botapi import StoredMessage
from tests.helpers.groups_api import GroupsBotAPI
from tests.test_cli_backtest_live import Venues, child_env

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
async def api() -> AsyncIterator[GroupsBotAPI]:
    fake = GroupsBotAPI()
    await fake.start()
    yield fake
    await fake.close()
    assert fake.failures == []


@pytest.fixture
def venues(tmp_path: Path) -> Iterator[Venues]:
    process = Venues(tmp_path, [])
    try:
        yield process
    finally:
        process.stop()


def answered(message: StoredMessage) -> bool:
    """The result, not the progress message ("Loading ETH's history… 3/25 requests")."""
    return bool(message.text) and not message.text.startswith("Loading ")


async def test_python_bot_py_answers_track_from_the_venues(
    api: GroupsBotAPI, venues: Venues, tmp_path: Path
) -> None:
    env = child_env(
        tmp_path,
        TELEGRAM_BOT_TOKEN=api.token,
        TELEGRAM_API_BASE_URL=api.base_url,
        PREFLIGHT_VENUE_BASE_URL=venues.base_url,
        PREFLIGHT_COLLECT_LIQUIDATIONS="false",
        PREFLIGHT_LOG_LEVEL="INFO",
    )
    log_path = tmp_path / "bot.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "bot.py"), cwd=tmp_path, env=env, stdout=log, stderr=log
        )
        try:
            await api.wait_for(lambda: api.commands, timeout=60)
            assert "track" in [c["command"] for c in api.commands["default"]]
            trader = api.user("Max")
            dm = api.private_chat(trader)
            asked = api.user_message(dm, trader, "/track ETH long 5x")
            result = await api.reply_to(asked, until=answered, timeout=90)
            await api.wait_for(lambda: api.photos_in(dm), timeout=30)
        finally:
            process.send_signal(signal.SIGINT)
            returncode = await asyncio.wait_for(process.wait(), timeout=30)
    output = log_path.read_text()
    lines = result.text.splitlines()
    assert lines[0] == "Track record · ETH · 5x · 7-day windows"
    assert lines[1].startswith("358 days graded at 00:00 UTC")
    assert "\nLONG\nverdict days   liq.   MAE½  return\nproceed " in result.text
    assert "OI from bybit (binanceusdm left out: history starts " in result.text
    [photo] = api.photos_in(dm)
    assert photo.caption.startswith("ETH · max adverse move over 7 days after each verdict")
    assert len(venues.requests()) > 20  # the history came from the venues
    assert returncode == 0
    assert "Traceback" not in output
    assert api.token.split(":")[1] not in output
