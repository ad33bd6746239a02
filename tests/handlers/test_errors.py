"""The error handler, Telegram's flood control (429) and the admin report."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

import handlers.checks
from handlers.errors import admin_report
from settings import Settings
from tests.helpers.fake_botapi import (
    DEFAULT_TOKEN,
    FakeBotAPI,
    FakeChat,
    FakeUser,
    parse_html,
    utf16_len,
)
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


def _raised(message: str) -> BaseException:
    def deep(n: int) -> None:
        if n == 0:
            raise RuntimeError(message)
        deep(n - 1)

    try:
        deep(60)
    except RuntimeError as e:
        return e
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    "message",
    [
        "<pre>&amp; & < > " * 400,
        "📉🔥 liquidations " * 600,  # every emoji is two UTF-16 units
        "清算 " * 3000,
        "x" * 9000 + "&lt;",
    ],
    ids=["markup", "emoji", "cjk", "entity-at-the-cut"],
)
async def test_the_admin_report_is_always_one_telegram_accepts(
    bot: BotHarness, api: FakeBotAPI, message: str
) -> None:
    admin = api.group_chat("Ops")
    update = {"update_id": 1, "message": {"text": message}}

    text = admin_report(update, _raised(message), secrets=(DEFAULT_TOKEN,))
    sent = await bot.app.bot.send_message(admin.id, text)

    [stored] = api.bot_messages(admin)
    plain, _ = parse_html(stored.html or "")
    assert sent.message_id == stored.message_id  # Telegram accepted it
    assert utf16_len(plain) <= 4096
    assert plain.rstrip().endswith(f"RuntimeError: {message}"[-40:].rstrip())
    assert "Traceback (most recent call last)" not in plain  # the head went, the tail stayed


def test_the_admin_report_never_shows_the_token() -> None:
    error = _raised(f"cannot reach https://api.telegram.org/bot{DEFAULT_TOKEN}/getMe")

    text = admin_report(None, error, secrets=(DEFAULT_TOKEN,))

    assert DEFAULT_TOKEN not in text
    assert "bot[redacted]/getMe" in text


@given(st.text(min_size=0, max_size=6000))
@hypothesis_settings(max_examples=60, deadline=None)
def test_any_error_text_gives_a_report_within_the_limit(message: str) -> None:
    text = admin_report({"update_id": 1}, _raised(message))

    plain, _ = parse_html(text)
    assert 0 < utf16_len(plain) <= 4096
