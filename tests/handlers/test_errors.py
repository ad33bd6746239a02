"""The error handler, Telegram's flood control (429) and the admin report."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import pytest

import handlers.checks
from settings import Settings
from tests.helpers.fake_botapi import FakeBotAPI, FakeChat, FakeUser
from tests.helpers.telegram import BotHarness

FAILED = "Sorry, that check failed on my side. It has been logged; please try again in a minute."


async def _explode(*args: Any) -> Any:
    raise RuntimeError("venue exploded <script>alert(1)</script> & more " + "x" * 5000)


async def test_a_failing_check_turns_its_progress_into_a_notice_and_the_bot_goes_on(
    api: FakeBotAPI,
    settings: Settings,
    dm: FakeChat,
    alice: FakeUser,
    caplog: pytest.LogCaptureFixture,
) -> None:
    admin = api.group_chat("Ops")
    async with BotHarness(api, replace(settings, admin_chat_id=admin.id)) as bot:
        service = bot.app.bot_data.service
        real_check = service.check
        service.check = _explode
        with caplog.at_level(logging.ERROR, logger="handlers.errors"):
            await bot.send(dm, alice, "/check ETH long 5x <b>")
        service.check = real_check
        await bot.send(dm, alice, "/check ETH long 5x")

    failed, answered = api.bot_messages(dm)
    assert (failed.text, failed.edits) == (FAILED, 1)
    assert answered.text.startswith("REDUCE · ETH long 5x")
    [report] = api.bot_messages(admin)
    assert report.text.startswith("⚠️ Preflight: an update failed\nRuntimeError: venue exploded")
    assert "/check ETH long 5x <b>" in report.text
    error_line = "RuntimeError: venue exploded <script>alert(1)</script> & more "
    assert report.text.splitlines()[1] == (error_line + "x" * 5000)[:300]
    assert report.text.endswith("x" * 100)
    assert len(report.text) <= 4096
    assert [r.getMessage() for r in caplog.records] == ["exception while handling an update"]
    assert caplog.records[0].exc_info is not None


async def test_a_failure_before_any_progress_gets_a_reply(
    bot: BotHarness,
    api: FakeBotAPI,
    dm: FakeChat,
    alice: FakeUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(handlers.checks, "parse_idea", _explode_sync)

    asked = await bot.send(dm, alice, "eth long 5x")

    [reply] = api.bot_messages(dm)
    assert (reply.text, reply.edits) == (FAILED, 0)
    assert asked.message_id < reply.message_id


def _explode_sync(text: str) -> Any:
    raise ValueError(text)


async def test_a_failing_button_answers_with_a_toast(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    await bot.send(dm, alice, "/check ETH long 5x")
    [result] = api.bot_messages(dm)
    bot.app.bot_data.service.check = _explode

    query_id = await bot.press(result, alice, "🔄 Refresh")

    assert api.answer_of(query_id) == {"callback_query_id": query_id, "text": FAILED}
    assert result.text.startswith("REDUCE · ETH long 5x")


async def test_flood_control_429_is_retried_after_retry_after(
    bot: BotHarness, api: FakeBotAPI, dm: FakeChat, alice: FakeUser
) -> None:
    api.flood("sendMessage", retry_after=1)

    await bot.send(dm, alice, "/check ETH long 5x")

    sends = api.calls_of("sendMessage")
    assert [(c.status, c.error) for c in sends] == [
        (429, "Too Many Requests: retry after 1"),
        (200, None),
    ]
    [reply] = api.bot_messages(dm)
    assert reply.text.startswith("REDUCE · ETH long 5x")
