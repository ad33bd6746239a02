"""Fixtures for handler tests: a strict fake Bot API and the real Application on top of it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from settings import Settings
from tests.helpers.fake_botapi import FakeBotAPI, FakeChat, FakeUser
from tests.helpers.market import Market
from tests.helpers.telegram import BotHarness, bot_settings


@pytest.fixture
def api() -> Iterator[FakeBotAPI]:
    """The fake Bot API; the test fails if the bot used anything it does not implement."""
    fake = FakeBotAPI()
    yield fake
    assert fake.failures == []


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings grading from the demo snapshot."""
    return bot_settings(tmp_path)


@pytest.fixture
async def bot(api: FakeBotAPI, settings: Settings) -> AsyncIterator[BotHarness]:
    """The application, initialised and post_init'ed, fed through process_update."""
    async with BotHarness(api, settings) as harness:
        yield harness


@pytest.fixture
def alice(api: FakeBotAPI) -> FakeUser:
    """A trader."""
    return api.user("Alice", username="alice")


@pytest.fixture
def dm(api: FakeBotAPI, alice: FakeUser) -> FakeChat:
    """Alice's private chat with the bot."""
    return api.private_chat(alice)


@pytest.fixture
def market(tmp_path: Path) -> Market:
    """A snapshot file to point settings at, ETH starting crowded (as in the demo)."""
    return Market(tmp_path / "snapshot.json")
