"""Preflight entry point: wires settings → logging → application → handlers → run.

`python bot.py` runs the Telegram bot; `python bot.py check|record|collect …` runs the CLI.
"""

from __future__ import annotations

import logging
import sys

CLI_COMMANDS = {"check", "record", "collect", "backtest", "-h", "--help", "help"}
EXIT_CONFIG = 2
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def main(argv: list[str] | None = None) -> int:
    """Run the CLI sub-command given, or the bot when there is none."""
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in CLI_COMMANDS:
        import cli

        return cli.main(args)
    return run_bot()


class RedactingFormatter(logging.Formatter):
    """A Formatter that blanks secrets out of every line, tracebacks included."""

    def __init__(self, fmt: str, secrets: tuple[str, ...]) -> None:
        super().__init__(fmt)
        self.secrets = tuple(s for s in secrets if s)

    def format(self, record: logging.LogRecord) -> str:
        """Format the record, then replace each secret."""
        text = super().format(record)
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        return text


def configure_logging(level: str, secrets: tuple[str, ...] = ()) -> None:
    """Log to stderr at `level`, never printing `secrets` (the bot token sits in every URL)."""
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter(LOG_FORMAT, secrets))
    logging.basicConfig(level=level, handlers=[handler])
    # httpx logs each request URL at INFO; PTB logs its base URL at DEBUG: both carry the token
    for noisy in ("httpx", "httpcore", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def run_bot() -> int:
    """Start the Telegram bot (long polling) until interrupted."""
    from settings import SettingsError, load_settings

    try:
        settings = load_settings()
        token = settings.require_token()
    except SettingsError as e:
        print(f"preflight: {e}", file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(settings.log_level, secrets=(token,))

    import handlers
    from signals.errors import SnapshotError

    app = handlers.build_application(settings)
    handlers.register(app)
    try:
        app.run_polling(allowed_updates=handlers.ALLOWED_UPDATES)
    except SnapshotError as e:  # a broken PREFLIGHT_SNAPSHOT fails at start-up, in one line
        print(f"preflight: {e}", file=sys.stderr)
        return EXIT_CONFIG
    return 0


if __name__ == "__main__":
    sys.exit(main())
