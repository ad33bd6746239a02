"""bot.py's own wiring: logging that never prints the token, and the CLI dispatch."""

from __future__ import annotations

import io
import logging

import pytest

import bot

TOKEN = "123456789:AAFakeTokenForTestsOnly_abcdefghijk"


def test_the_token_is_redacted_from_messages_and_tracebacks() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(bot.RedactingFormatter("%(levelname)s %(message)s", (TOKEN,)))
    log = logging.getLogger("tests.redaction")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("Set Bot API URL: http://127.0.0.1/bot%s", TOKEN)
        try:
            raise ConnectionError(f"cannot reach https://api.telegram.org/bot{TOKEN}/getMe")
        except ConnectionError:
            log.exception("polling failed")
    finally:
        log.removeHandler(handler)

    text = stream.getvalue()
    assert TOKEN not in text
    assert text.splitlines()[0] == "WARNING Set Bot API URL: http://127.0.0.1/bot[redacted]"
    assert text.rstrip().endswith(
        "ConnectionError: cannot reach https://api.telegram.org/bot[redacted]/getMe"
    )


def test_cli_words_go_to_the_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    import cli

    seen: list[list[str]] = []

    def fake_main(argv: list[str]) -> int:
        seen.append(argv)
        return 7

    monkeypatch.setattr(cli, "main", fake_main)

    status = bot.main(["check", "eth", "long", "--demo"])

    assert (status, seen) == (7, [["check", "eth", "long", "--demo"]])


def test_a_mistyped_subcommand_is_one_line_with_a_suggestion(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    started: list[bool] = []
    monkeypatch.setattr(bot, "run_bot", lambda: started.append(True) or 0)

    status = bot.main(["backtets", "ETH"])

    assert (status, started) == (2, [])
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "preflight: unknown command 'backtets': did you mean backtest? "
        "(commands: check, record, collect, backtest; no command runs the bot)"
    ]


def test_redact_blanks_the_token_and_its_secret_half() -> None:
    text = f"token {TOKEN} and key {TOKEN.split(':')[1]} in a message"

    assert bot.redact(text, (TOKEN,)) == "token [redacted] and key [redacted] in a message"


def test_a_timed_out_last_get_updates_at_shutdown_is_one_line_without_traceback() -> None:
    """PTB logs the final `get_updates` of a shutdown with a traceback when Telegram is slow to
    answer (seen under load in CI); it is harmless, so the bot says it in one line."""
    from telegram.error import TimedOut

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(bot.RedactingFormatter("%(levelname)s %(name)s: %(message)s", ()))
    handler.addFilter(bot.ShutdownNoiseFilter())
    log = logging.getLogger("telegram.ext.Updater")
    log.addHandler(handler)
    log.propagate = False
    try:
        try:
            raise TimedOut("Timed out")
        except TimedOut:
            log.exception(
                "Error while calling `get_updates` one more time to mark all fetched updates. "
                "Suppressing error to ensure graceful shutdown."
            )
        log.error("another problem", exc_info=ValueError("kept"))
    finally:
        log.removeHandler(handler)

    lines = stream.getvalue().splitlines()
    assert lines[0] == (
        "WARNING telegram.ext.Updater: the last get_updates before shutdown failed (TimedOut: "
        "Timed out); updates fetched in the last moments may arrive once more after the restart"
    )
    assert lines[1:] == ["ERROR telegram.ext.Updater: another problem", "ValueError: kept"]
