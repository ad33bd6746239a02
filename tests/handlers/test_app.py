"""Building the Application: defaults, flood control, base URL, lifecycle hooks."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from telegram.constants import ParseMode
from telegram.ext import AIORateLimiter, Application

import handlers
from handlers import build_application, file_url_for
from settings import TOKEN_HELP, Settings, SettingsError
from tests.helpers.fake_botapi import FakeBotAPI
from tests.helpers.telegram import BotHarness


def test_replies_are_html_without_link_previews(settings: Settings) -> None:
    app = build_application(settings)

    assert app.bot.defaults is not None
    assert app.bot.defaults.parse_mode == ParseMode.HTML
    assert app.bot.defaults.link_preview_options is not None
    assert app.bot.defaults.link_preview_options.is_disabled is True
    assert isinstance(app.bot.rate_limiter, AIORateLimiter)


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


async def test_lifecycle_starts_and_closes_the_service_around_the_hooks(
    api: FakeBotAPI, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []

    async def startup(app: Application) -> None:  # type: ignore[type-arg]
        seen.append(f"startup with {sorted(app.bot_data['service'].known_assets())}")

    async def shutdown(app: Application) -> None:  # type: ignore[type-arg]
        seen.append(f"shutdown, service still there: {'service' in app.bot_data}")

    monkeypatch.setattr(handlers, "STARTUP_HOOKS", [startup])
    monkeypatch.setattr(handlers, "SHUTDOWN_HOOKS", [shutdown])
    async with BotHarness(api, settings) as bot:
        pass

    assert seen == [
        "startup with ['BTC', 'DOGE', 'ETH', 'SOL']",
        "shutdown, service still there: True",
    ]
    assert "service" not in bot.app.bot_data


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
