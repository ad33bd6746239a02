"""Settings: one frozen object from the environment and .env; every bad variable named."""

from __future__ import annotations

from pathlib import Path

import pytest

from settings import TOKEN_HELP, Settings, SettingsError, load_settings


def test_defaults_hold_the_spec_thresholds() -> None:
    settings = load_settings({}, dotenv=None)

    assert settings.thresholds.funding_8h_caution == 0.0003
    assert settings.thresholds.oi_change_24h_min == 0.03
    assert settings.venues == ("binanceusdm", "bybit", "okx")
    assert settings.telegram_bot_token is None


def test_environment_overrides_thresholds_and_lists() -> None:
    settings = load_settings(
        {
            "PREFLIGHT_FUNDING_8H_CAUTION": "0.0005",
            "PREFLIGHT_LIQ_MIN_BUCKETS": "72",
            "PREFLIGHT_VENUES": "bybit, okx",
            "PREFLIGHT_LIQ_BACKFILL_VENUES": "none",
            "PREFLIGHT_ADMIN_CHAT_ID": "-100123",
            "PREFLIGHT_COLLECT_LIQUIDATIONS": "off",
        },
        dotenv=None,
    )

    assert settings.thresholds.funding_8h_caution == 0.0005
    assert settings.thresholds.liq_min_buckets == 72
    assert settings.venues == ("bybit", "okx")
    assert settings.liq_backfill_venues == ()
    assert settings.admin_chat_id == -100123
    assert settings.collect_liquidations is False


def test_every_invalid_variable_is_named_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(
            {
                "PREFLIGHT_FUNDING_8H_CAUTION": "lots",
                "PREFLIGHT_CHECK_RATE_PER_MINUTE": "0",
                "PREFLIGHT_ADMIN_CHAT_ID": "@me",
                "PREFLIGHT_LOG_LEVEL": "chatty",
            },
            dotenv=None,
        )

    message = str(caught.value)
    for name in (
        "PREFLIGHT_FUNDING_8H_CAUTION",
        "PREFLIGHT_CHECK_RATE_PER_MINUTE",
        "PREFLIGHT_ADMIN_CHAT_ID",
        "PREFLIGHT_LOG_LEVEL",
    ):
        assert name in message
    assert "\n" not in message


def test_dotenv_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "# comment\nTELEGRAM_BOT_TOKEN='123:abc'\nexport PREFLIGHT_STORE_PATH=/tmp/a.sqlite\n",
        encoding="utf-8",
    )

    settings = load_settings({"PREFLIGHT_STORE_PATH": "/tmp/b.sqlite"}, dotenv=dotenv)

    assert settings.telegram_bot_token == "123:abc"
    assert settings.store_path == "/tmp/b.sqlite"


def test_missing_token_explains_botfather_in_one_line() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings().require_token()

    assert str(caught.value) == TOKEN_HELP
    assert "BotFather" in TOKEN_HELP and "\n" not in TOKEN_HELP


def test_settings_are_frozen() -> None:
    settings = load_settings({}, dotenv=None)

    with pytest.raises(AttributeError):
        settings.store_path = "elsewhere"  # type: ignore[misc]


def test_budgets_gap_and_grace_are_settings_and_must_be_positive() -> None:
    settings = load_settings(
        {
            "PREFLIGHT_USER_REQUESTS_PER_MINUTE": "40",
            "PREFLIGHT_WARN_GAP_S": "900",
            "PREFLIGHT_STOP_GRACE_S": "1.5",
        },
        dotenv=None,
    )
    defaults = load_settings({}, dotenv=None)

    assert (settings.user_requests_per_minute, settings.warn_gap_s, settings.stop_grace_s) == (
        40,
        900.0,
        1.5,
    )
    assert (defaults.user_requests_per_minute, defaults.warn_gap_s, defaults.stop_grace_s) == (
        20,
        1800.0,
        2.0,
    )
    with pytest.raises(SettingsError, match="PREFLIGHT_STOP_GRACE_S: must be positive"):
        load_settings({"PREFLIGHT_STOP_GRACE_S": "0"}, dotenv=None)
