"""Building the Application: defaults, flood control, base URL, lifecycle hooks."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from telegram.constants import ParseMode

import handlers
from handlers import build_application, file_url_for
from handlers.context import BotData
from handlers.pacing import FloodPacer
from handlers.updates import ChatQueues
from settings import TOKEN_HELP, Settings, SettingsError
from tests.helpers.fake_botapi import FakeBotAPI
from tests.helpers.telegram import BotHarness


def test_replies_are_html_without_link_previews(settings: Settings) -> None:
    app = build_application(settings)

    assert app.bot.defaults is not None
    assert app.bot.defaults.parse_mode == ParseMode.HTML
    assert app.bot.defaults.link_preview_options is not None
    assert app.bot.defaults.link_preview_options.is_disabled is True
    assert isinstance(app.bot.rate_limiter, FloodPacer)
    assert isinstance(app.update_processor, ChatQueues)
    assert isinstance(app.bot_data, BotData)
    assert app.bot_data.settings is settings


def test_a_self_hosted_bot_api_server_is_used_for_calls_and_files(settings: Settings) -> None:
    app = build_application(replace(settings, telegram_api_base_url="http://localhost:8081/bot"))

    assert app.bot.base_url == f"http://localhost:8081/bot{settings.telegram_bot_token}"
    assert app.bot.base_file_url == f"http://localhost:8081/file/bot{settings.telegram_bot_token}"


@pytest.mark.parametrize(
    ("base", "files"),
    [
        ("http://localhost:8081/bot", "http://localhost:8081/file/bot"),
        ("http://127.0.0.1:9/bot/", "http://127.0.0.1:9/file/bot"),
        ("https://tg.example.net", "https://tg.example.net/file/bot"),
    ],
)
def test_file_url_for(base: str, files: str) -> None:
    assert file_url_for(base) == files


def test_no_token_no_application(settings: Settings) -> None:
    with pytest.raises(SettingsError) as raised:
        build_application(replace(settings, telegram_bot_token=None))

    assert str(raised.value) == TOKEN_HELP


async def test_post_init_opens_one_store_for_the_service_users_and_outbox(
    api: FakeBotAPI, settings: Settings
) -> None:
    async with BotHarness(api, settings) as bot:
        bd = bot.app.bot_data
        shared = {id(bd.store), id(bd.service.store), id(bd.users.store)}
        store = bd.store
        assert bd.broadcaster.users is bd.users
        assert sorted(bd.service.known_assets()) == ["BTC", "DOGE", "ETH", "SOL"]

    assert len(shared) == 1
    assert bot.app.bot_data.running is None
    with pytest.raises(RuntimeError, match="start in post_init"):
        bot.app.bot_data.service  # noqa: B018
    assert store._connections == []  # closed, every thread's connection


def test_two_applications_share_nothing_and_register_the_same_table(settings: Settings) -> None:
    first, second = build_application(settings), build_application(settings)
    handlers.register(first)
    handlers.register(second)

    def table(app: Any) -> list[tuple[int, str]]:
        return [
            (group, type(h).__name__ + ":" + getattr(h.callback, "__name__", "?"))
            for group, hs in sorted(app.handlers.items())
            for h in hs
        ]

    assert first.bot_data is not second.bot_data
    assert table(first) == table(second)
    assert table(first)[:3] == [
        (-2, "MessageHandler:on_migrate"),
        (-1, "TypeHandler:budget_gate"),
        (0, "CommandHandler:start"),
    ]
    # free text after every command, the unknown-command pointer last
    assert table(first)[-2:] == [
        (0, "MessageHandler:check_text"),
        (0, "MessageHandler:unknown_command"),
    ]


async def test_a_broken_snapshot_fails_at_start_up(
    api: FakeBotAPI, settings: Settings, tmp_path: Path
) -> None:
    from signals.errors import SnapshotError

    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "something else"}')
    harness = BotHarness(api, replace(settings, snapshot_path=str(broken)))

    with pytest.raises(SnapshotError):
        await harness.__aenter__()
    await harness.app.shutdown()


def test_progress_messages_are_remembered_up_to_a_bound() -> None:
    from handlers.context import Progress

    progress = Progress(limit=3)
    for update_id in range(10):
        progress.remember(update_id, object())  # type: ignore[arg-type]

    assert progress.take(0) is None  # the oldest were let go
    assert progress.take(9) is not None
    assert len(progress._messages) == 2
