"""Preflight entry point: wires settings → logging → application → handlers → run.

`python bot.py` runs the Telegram bot; `python bot.py check|record|collect …` runs the CLI.
"""

from __future__ import annotations

import logging
import sys

CLI_COMMANDS = {"check", "record", "collect"}
EXIT_CONFIG = 2


def main(argv: list[str] | None = None) -> int:
    """Run the CLI sub-command given, or the bot when there is none."""
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in CLI_COMMANDS:
        import cli

        return cli.main(args)
    return run_bot()


def configure_logging(level: str) -> None:
    """Log to stderr at `level`; keep the HTTP client quiet, its request URLs carry the token."""
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=level)
    for noisy in ("httpx", "httpcore", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def run_bot() -> int:
    """Start the Telegram bot (long polling) until interrupted."""
    from settings import SettingsError, load_settings

    try:
        settings = load_settings()
        settings.require_token()
    except SettingsError as e:
        print(f"preflight: {e}", file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(settings.log_level)

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
