"""Restarts and crashes: a new Application on the same store neither repeats nor loses an alert."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from handlers import alerts
from settings import Settings
from tests.helpers.fake_botapi import FakeChat, FakeUser
from tests.helpers.groups_api import GroupsBotAPI, GroupsHarness
from tests.helpers.market import ALL_CLEAR, STRESS, Market, Ticking, alerts_in
from tests.helpers.telegram import bot_settings


class Killed(BaseException):
    """The process dying: not an error any layer catches."""


@pytest.fixture
def api() -> GroupsBotAPI:
    return GroupsBotAPI()


@pytest.fixture
def settings(tmp_path: Path, market: Market) -> Settings:
    return bot_settings(tmp_path, snapshot_path=str(market.path))


@pytest.fixture
def clock() -> Ticking:
    """Five minutes (one watcher interval) further every time it is read."""
    return Ticking(timedelta(minutes=5))


def harness(api: GroupsBotAPI, settings: Settings, clock: Ticking) -> GroupsHarness:
    return GroupsHarness(api, settings, clock)


async def test_restarts_neither_repeat_nor_lose_an_alert(
    api: GroupsBotAPI, settings: Settings, market: Market, clock: Ticking
) -> None:
    alice = api.user("Alice")
    dm = api.private_chat(alice)
    async with harness(api, settings, clock) as first:
        await first.send(dm, alice, "/subscribe ETH long")
        market.set("stressed")
        await alerts.poll_all(first.app)
    assert alerts_in(api, dm) == [STRESS]

    async with harness(api, settings, clock) as second:
        await alerts.poll_all(second.app)  # still stressed: already told
        market.set("calm")
        await alerts.poll_all(second.app)  # first calm poll: not yet
    assert alerts_in(api, dm) == [STRESS]

    async with harness(api, settings, clock) as third:
        await alerts.poll_all(third.app)  # second calm poll, after a restart: the all-clear
        await alerts.poll_all(third.app)

    assert alerts_in(api, dm) == [STRESS, ALL_CLEAR]
    assert api.failures == []


async def test_an_alert_queued_before_a_crash_is_sent_once_at_start_up(
    api: GroupsBotAPI,
    settings: Settings,
    market: Market,
    clock: Ticking,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    alice = api.user("Alice")
    dm = api.private_chat(alice)
    async with harness(api, settings, clock) as first:
        await first.send(dm, alice, "/subscribe ETH")
        market.set("stressed")

        async def crash_before_sending() -> Any:
            raise RuntimeError("process killed")

        monkeypatch.setattr(first.app.bot_data.broadcaster, "drain", crash_before_sending)
        with pytest.raises(RuntimeError, match="process killed"):
            await alerts.poll_all(first.app)
    assert alerts_in(api, dm) == []

    async with harness(api, settings, clock) as second:
        await second.run_job("outbox-resume")
        await alerts.poll_all(second.app)

    assert alerts_in(api, dm) == [STRESS]
    assert api.failures == []


async def test_a_broadcast_cut_short_resumes_without_duplicates(
    api: GroupsBotAPI,
    settings: Settings,
    market: Market,
    clock: Ticking,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    traders: list[tuple[FakeUser, FakeChat]] = []
    for n in range(6):
        user = api.user(f"Trader{n}")
        traders.append((user, api.private_chat(user)))
    real_call = api.call
    sends = 0

    async def dies_on_the_fourth_send(method: str, raw: Any) -> Any:
        nonlocal sends
        if method == "sendMessage":
            sends += 1
            if sends == 4:
                raise Killed("process killed mid-broadcast")
        return await real_call(method, raw)

    async with harness(api, settings, clock) as first:
        for user, chat in traders:
            await first.send(chat, user, "/subscribe ETH long")
        first.app.bot_data.broadcaster.workers = 1  # a deterministic cut
        market.set("stressed")
        monkeypatch.setattr(api, "call", dies_on_the_fourth_send)
        with pytest.raises(Killed, match="mid-broadcast"):
            await alerts.poll_all(first.app)
        monkeypatch.setattr(api, "call", real_call)
    assert [len(alerts_in(api, chat)) for _, chat in traders] == [1, 1, 1, 0, 0, 0]

    async with harness(api, settings, clock) as second:
        await second.run_job("outbox-resume")
        await alerts.poll_all(second.app)

    assert [alerts_in(api, chat) for _, chat in traders] == [[STRESS]] * 6
    assert api.failures == []
