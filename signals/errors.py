"""Preflight's own exceptions: each maps to one user-facing message."""

from __future__ import annotations


class PreflightError(Exception):
    """Base of every error Preflight explains to the user."""


class ParseError(PreflightError):
    """A trade idea that could not be understood.

    With `command` set, `example` holds only the words after the command (`ETH long 5x`) and
    the message shows them in the syntax of where the idea was typed: `/check ETH long 5x` in
    a chat, `python bot.py check ETH long 5x` on the command line.
    """

    def __init__(self, reason: str, example: str, command: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.example = example
        self.command = command

    def __str__(self) -> str:
        # a reason that ends in its own punctuation ("did you mean Europe/Berlin?") keeps it
        stop = "" if self.reason[-1:] in "?.!" else "."
        return f"{self.reason}{stop} Example: {self.example}"


class UnknownAsset(PreflightError):
    """An asset with no USDT-margined perpetual on the configured venues."""

    def __init__(self, asset: str, close_matches: tuple[str, ...] = ()) -> None:
        super().__init__(asset)
        self.asset = asset
        self.close_matches = close_matches


class NotInSnapshot(UnknownAsset):
    """An asset the replayed snapshot (or the demo) does not hold; it may well trade live."""

    def __init__(
        self,
        asset: str,
        snapshot: str,
        held: tuple[str, ...] = (),
        close_matches: tuple[str, ...] = (),
        demo: bool = False,
        asof: int | None = None,
    ) -> None:
        super().__init__(asset, close_matches)
        self.snapshot = snapshot
        self.held = held
        self.demo = demo
        self.asof = asof


class VenueUnavailable(PreflightError):
    """A venue that failed or timed out; it is dropped from the aggregate."""

    def __init__(self, venue: str, detail: str = "") -> None:
        super().__init__(f"{venue}: {detail}" if detail else venue)
        self.venue = venue
        self.detail = detail


class NoMarketData(PreflightError):
    """No market data at all for an asset (every venue down, or nothing in a snapshot).

    `snapshot` names the replayed file (None live): a file does not change, so its reply
    never says "try again".
    """

    def __init__(self, asset: str, detail: str = "", snapshot: str | None = None) -> None:
        super().__init__(f"{asset}: {detail}" if detail else asset)
        self.asset = asset
        self.detail = detail
        self.snapshot = snapshot


class SnapshotError(PreflightError):
    """A snapshot file that is missing, unreadable or malformed."""

    def __init__(self, path: str, key: str, problem: str) -> None:
        super().__init__(f"{path}: {key}: {problem}" if key else f"{path}: {problem}")
        self.path = path
        self.key = key
        self.problem = problem
