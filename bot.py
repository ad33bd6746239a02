"""Preflight entry point: wires settings → logging → application → handlers → run.

`python bot.py` runs the Telegram bot; `python bot.py check|record|collect …` runs the CLI.
"""

from __future__ import annotations

import sys

CLI_COMMANDS = {"check", "record", "collect"}


def main(argv: list[str] | None = None) -> int:
    """Run the CLI sub-command given, or the bot when there is none."""
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in CLI_COMMANDS:
        import cli

        return cli.main(args)
    return run_bot()


def run_bot() -> int:
    """Start the Telegram bot (long polling) until interrupted."""
    print("the Telegram bot is not wired yet", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
