"""Preflight entry point: wires settings → logging → application → handlers → run.

`python bot.py` runs the Telegram bot; `python bot.py check|record|collect|backtest …` runs
the CLI. Anything else is a mistyped command: it gets "did you mean …?" and exit 2, and
never starts a second poller next to production.
"""

from __future__ import annotations

import difflib
import logging
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from settings import Settings

# the CLI's sub-commands, in one place (cli.py implements them)
SUBCOMMANDS = ("check", "record", "collect", "backtest")
HELP_WORDS = ("-h", "--help", "help")
EXIT_FAILED, EXIT_CONFIG = 1, 2
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def main(argv: list[str] | None = None) -> int:
    """Run the CLI sub-command given, or the bot when there is none."""
    args = sys.argv[1:] if argv is None else argv
    if not args:
        return run_bot()
    if args[0] in SUBCOMMANDS or args[0] in HELP_WORDS:
        import cli

        return cli.main(args)
    print(unknown_command_line(args[0]), file=sys.stderr)
    return EXIT_CONFIG


def unknown_command_line(word: str) -> str:
    """The one line for a mistyped sub-command: `chek` → did you mean check?"""
    from templates import render

    close = difflib.get_close_matches(word.lower(), SUBCOMMANDS, n=2, cutoff=0.6)
    return render(
        "startup",
        "text",
        kind="unknown_command",
        command=word[:40],
        close=close,
        commands=SUBCOMMANDS,
    )


class RedactingFormatter(logging.Formatter):
    """A Formatter that blanks secrets out of every line, tracebacks included."""

    def __init__(self, fmt: str, secrets: tuple[str, ...]) -> None:
        super().__init__(fmt)
        self.secrets = tuple(s for s in secrets if s)

    def format(self, record: logging.LogRecord) -> str:
        """Format the record, then replace each secret."""
        return redact(super().format(record), self.secrets)


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """`text` with every secret (and the secret half of a bot token) blanked out."""
    for secret in secrets:
        if not secret:
            continue
        text = text.replace(secret, "[redacted]")
        _, _, key = secret.partition(":")
        if len(key) >= 16:
            text = text.replace(key, "[redacted]")
    return text


class ShutdownNoiseFilter(logging.Filter):
    """PTB's failed last `get_updates` of a shutdown, said in one line without a traceback.

    When Telegram is slow to answer that final call (the bot is being stopped, often under
    load), PTB logs it with a traceback although it only means a few updates may come again.
    """

    PREFIX = "Error while calling `get_updates` one more time"

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the one known shutdown record; let every other record through untouched."""
        if record.name == "telegram.ext.Updater" and str(record.msg).startswith(self.PREFIX):
            error = record.exc_info[1] if record.exc_info else None
            why = f"{type(error).__name__}: {error}" if error is not None else "no answer"
            record.msg = (
                "the last get_updates before shutdown failed (%s); updates fetched in the last "
                "moments may arrive once more after the restart"
            )
            record.args = (why,)
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def configure_logging(level: str, secrets: tuple[str, ...] = ()) -> None:
    """Log to stderr at `level`, never printing `secrets` (the bot token sits in every URL)."""
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter(LOG_FORMAT, secrets))
    handler.addFilter(ShutdownNoiseFilter())
    logging.basicConfig(level=level, handlers=[handler])
    # httpx logs each request URL at INFO; PTB logs its base URL at DEBUG: both carry the token
    for noisy in ("httpx", "httpcore", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # PTB logs a failed start-up (bad token, no network) with a traceback; bot.py says it in
    # one line instead
    logging.getLogger("telegram.ext._utils.networkloop").setLevel(logging.CRITICAL)


def run_bot() -> int:
    """Start the Telegram bot (long polling) until SIGTERM/SIGINT; one line if it cannot."""
    from settings import SettingsError, load_settings

    try:
        settings = load_settings()
        token = settings.require_token()
    except SettingsError as e:
        print(f"preflight: {e}", file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(settings.log_level, secrets=(token,))
    try:
        return _serve(settings)
    except KeyboardInterrupt:
        return 0


def _serve(settings: Settings) -> int:
    from telegram.error import InvalidToken, NetworkError, TelegramError

    import handlers
    from signals.errors import PreflightError
    from signals.store import StoreError
    from templates import render

    token = settings.telegram_bot_token or ""

    def say(kind: str, **ctx: object) -> None:
        line = render("startup", "text", kind=kind, **ctx)
        print(redact(" ".join(line.split()), (token,)), file=sys.stderr)

    app = handlers.build_application(settings)
    handlers.register(app)
    try:
        handlers.run(app)
    except InvalidToken:  # its text holds the token: never print it
        say("bad_token")
        return EXIT_CONFIG
    except NetworkError as e:
        url = settings.telegram_api_base_url or "https://api.telegram.org"
        say("no_network", url=url, detail=_short(e), custom=bool(settings.telegram_api_base_url))
        return EXIT_FAILED
    except StoreError as e:
        say("problem", detail=str(e))
        return EXIT_FAILED
    except PreflightError as e:  # a broken PREFLIGHT_SNAPSHOT fails at start-up, in one line
        say("problem", detail=str(e))
        return EXIT_CONFIG
    except TelegramError as e:
        say("crashed", detail=_short(e))
        return EXIT_FAILED
    except Exception as e:  # the entry point: the log gets the traceback (redacted), not stderr
        logging.getLogger("preflight").critical("the bot stopped on an error", exc_info=e)
        say("crashed", detail=_short(e))
        return EXIT_FAILED
    return 0


def _short(error: BaseException) -> str:
    cause = error.__cause__ or error.__context__
    detail = f"{type(error).__name__}: {error}"
    if cause is not None and str(cause) and str(cause) not in detail:
        detail += f" ← {type(cause).__name__}: {cause}"
    return detail[:300]


def exit_now(code: int) -> None:
    """End a one-shot command once its answer is out: flush, then skip the interpreter's
    teardown (unloading pandas and numpy module by module took ~0.1–0.15 s after the
    answer was printed). Everything the command opened is closed by then."""
    import contextlib
    import os

    for stream in (sys.stdout, sys.stderr):
        # a closed pipe: nothing more can reach the reader
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    code = main()
    if sys.argv[1:2] and sys.argv[1] in (*SUBCOMMANDS, *HELP_WORDS) and sys.argv[1] != "collect":
        exit_now(code)
    sys.exit(code)
