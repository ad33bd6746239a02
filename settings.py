"""Settings: read once from the environment (and `.env`) into one typed, frozen object."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from signals.thresholds import Thresholds

TOKEN_HELP = (
    "TELEGRAM_BOT_TOKEN is not set: talk to @BotFather in Telegram, send /newbot, "
    "and put the token it gives you in TELEGRAM_BOT_TOKEN (or in a .env file)"
)


class SettingsError(Exception):
    """One or more environment variables are missing or invalid; names every one."""


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with defaults; see docs/configuration.md."""

    telegram_bot_token: str | None = None
    telegram_api_base_url: str | None = None
    snapshot_path: str | None = None
    store_path: str = "preflight.sqlite"
    venues: tuple[str, ...] = ("binanceusdm", "bybit", "okx")
    options_venues: tuple[str, ...] = ("deribit", "okx", "bybit")
    log_level: str = "INFO"
    admin_chat_id: int | None = None
    check_rate_per_minute: int = 5
    # every request a user makes (commands, refusals, buttons, free text, captions)
    user_requests_per_minute: int = 20
    check_budget_s: float = 8.0
    request_timeout_s: float = 5.0
    # every venue's https://host/path (and wss://) is sent to <venue_base_url>/host/path instead:
    # fake venue servers for tests and demos (docs/data-sources.md)
    venue_base_url: str | None = None
    markets_refresh_s: float = 4 * 3600.0
    watchlist: tuple[str, ...] = ("BTC", "ETH", "SOL", "XRP", "DOGE")
    collect_liquidations: bool = True
    liq_retention_days: int = 30
    liq_backfill_venues: tuple[str, ...] = ("gate", "htx")
    summary_assets: tuple[str, ...] = ("BTC", "ETH", "SOL")
    warn_interval_s: float = 300.0
    broadcast_per_second: float = 30.0
    broadcast_per_group_minute: float = 20.0
    # a subscribed side blind this long (data unavailable) gets one notice
    warn_gap_s: float = 1800.0
    # at SIGTERM/SIGINT, answers already being written get this long before the bot exits
    stop_grace_s: float = 2.0
    thresholds: Thresholds = field(default_factory=Thresholds)

    def require_token(self) -> str:
        """Return the bot token or fail with the one-line BotFather hint."""
        if not self.telegram_bot_token:
            raise SettingsError(TOKEN_HELP)
        return self.telegram_bot_token


# env variable → Settings field; thresholds are PREFLIGHT_<FIELD>, e.g. PREFLIGHT_LIQ_MULTIPLE
ENV_FIELDS: dict[str, str] = {
    "TELEGRAM_BOT_TOKEN": "telegram_bot_token",
    "TELEGRAM_API_BASE_URL": "telegram_api_base_url",
    "PREFLIGHT_SNAPSHOT": "snapshot_path",
    "PREFLIGHT_STORE_PATH": "store_path",
    "PREFLIGHT_VENUES": "venues",
    "PREFLIGHT_OPTIONS_VENUES": "options_venues",
    "PREFLIGHT_LOG_LEVEL": "log_level",
    "PREFLIGHT_ADMIN_CHAT_ID": "admin_chat_id",
    "PREFLIGHT_CHECK_RATE_PER_MINUTE": "check_rate_per_minute",
    "PREFLIGHT_USER_REQUESTS_PER_MINUTE": "user_requests_per_minute",
    "PREFLIGHT_CHECK_BUDGET_S": "check_budget_s",
    "PREFLIGHT_REQUEST_TIMEOUT_S": "request_timeout_s",
    "PREFLIGHT_VENUE_BASE_URL": "venue_base_url",
    "PREFLIGHT_MARKETS_REFRESH_S": "markets_refresh_s",
    "PREFLIGHT_WATCHLIST": "watchlist",
    "PREFLIGHT_COLLECT_LIQUIDATIONS": "collect_liquidations",
    "PREFLIGHT_LIQ_RETENTION_DAYS": "liq_retention_days",
    "PREFLIGHT_LIQ_BACKFILL_VENUES": "liq_backfill_venues",
    "PREFLIGHT_SUMMARY_ASSETS": "summary_assets",
    "PREFLIGHT_WARN_INTERVAL_S": "warn_interval_s",
    "PREFLIGHT_BROADCAST_PER_SECOND": "broadcast_per_second",
    "PREFLIGHT_BROADCAST_PER_GROUP_MINUTE": "broadcast_per_group_minute",
    "PREFLIGHT_WARN_GAP_S": "warn_gap_s",
    "PREFLIGHT_STOP_GRACE_S": "stop_grace_s",
}

_LOG_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}


def read_dotenv(path: Path) -> dict[str, str]:
    """Parse a `.env` file of KEY=VALUE lines (comments and blanks ignored)."""
    if not path.is_file():
        return {}
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip().removeprefix("export ").strip()
        values[key] = value.strip().strip("'\"")
    return values


def load_settings(
    environ: Mapping[str, str] | None = None, dotenv: Path | None = Path(".env")
) -> Settings:
    """Build Settings from `.env` overlaid by the environment; raise naming every bad variable."""
    env: dict[str, str] = read_dotenv(dotenv) if dotenv is not None else {}
    env.update(os.environ if environ is None else environ)
    problems: list[str] = []
    kwargs: dict[str, Any] = {}
    types = {f.name: f for f in dataclasses.fields(Settings)}
    for var, name in ENV_FIELDS.items():
        raw = env.get(var)
        if raw is None or raw.strip() == "":
            continue
        try:
            kwargs[name] = _convert(raw.strip(), types[name].default)
        except ValueError as e:
            problems.append(f"{var}={raw!r}: {e}")
    if isinstance(kwargs.get("admin_chat_id"), str):
        problems.append("PREFLIGHT_ADMIN_CHAT_ID: expected a numeric chat id")
    if "log_level" in kwargs:
        kwargs["log_level"] = str(kwargs["log_level"]).upper()
        if kwargs["log_level"] not in _LOG_LEVELS:
            problems.append(
                f"PREFLIGHT_LOG_LEVEL: must be one of {', '.join(sorted(_LOG_LEVELS))}"
            )
    threshold_kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(Thresholds):
        var = f"PREFLIGHT_{f.name.upper()}"
        raw = env.get(var)
        if raw is None or raw.strip() == "":
            continue
        try:
            threshold_kwargs[f.name] = _convert(raw.strip(), f.default)
        except ValueError as e:
            problems.append(f"{var}={raw!r}: {e}")
    for name in (
        "check_rate_per_minute",
        "user_requests_per_minute",
        "warn_gap_s",
        "stop_grace_s",
        "check_budget_s",
        "request_timeout_s",
        "warn_interval_s",
        "broadcast_per_second",
        "broadcast_per_group_minute",
        "liq_retention_days",
        "markets_refresh_s",
    ):
        if name in kwargs and kwargs[name] <= 0:
            problems.append(f"{_var_of(name)}: must be positive")
    base_url = kwargs.get("venue_base_url")
    if base_url is not None and not str(base_url).startswith(("http://", "https://")):
        problems.append(
            "PREFLIGHT_VENUE_BASE_URL: expected an http:// or https:// URL, "
            "e.g. http://127.0.0.1:8080"
        )
    if problems:
        raise SettingsError("invalid settings: " + "; ".join(problems))
    return Settings(**kwargs, thresholds=Thresholds(**threshold_kwargs))


def _var_of(name: str) -> str:
    return next(var for var, field_name in ENV_FIELDS.items() if field_name == name)


def _convert(raw: str, default: Any) -> Any:
    """Convert an env string to the type of the field's default."""
    if isinstance(default, bool):
        lowered = raw.lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ValueError("expected true/false")
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError as e:
            raise ValueError("expected a whole number") from e
    if isinstance(default, float):
        try:
            value = float(raw)
        except ValueError as e:
            raise ValueError("expected a number") from e
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("expected a finite number")
        return value
    if isinstance(default, tuple):
        if raw.lower() in {"none", "off"}:
            return ()  # e.g. PREFLIGHT_LIQ_BACKFILL_VENUES=none switches backfill off
        items = tuple(p.strip() for p in raw.replace(" ", ",").split(",") if p.strip())
        if not items:
            raise ValueError("expected a comma-separated list, or none")
        return items
    if default is None and raw.lstrip("-").isdigit():
        # admin_chat_id: an integer chat id (negative for groups)
        return int(raw)
    return raw
