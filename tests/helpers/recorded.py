"""Recorded venue payloads from tests/fixtures/<venue>/ (their sources are in SOURCES.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def path(venue: str, name: str) -> Path:
    """The fixture file `name` of `venue`."""
    return FIXTURES / venue / name


def frames(venue: str, name: str) -> list[dict[str, Any]]:
    """Every frame of a .jsonl recording, parsed, in file order."""
    text = path(venue, name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def raw_lines(venue: str, name: str) -> list[str]:
    """Every frame of a .jsonl recording exactly as recorded (one string per frame)."""
    text = path(venue, name).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip()]


def answer(venue: str, name: str) -> Any:
    """A recorded REST answer, parsed."""
    return json.loads(path(venue, name).read_text(encoding="utf-8"))


def event_of(frame: dict[str, Any]) -> dict[str, Any]:
    """A Binance frame's event, unwrapped from the combined-stream envelope if it has one."""
    data = frame.get("data")
    return data if isinstance(data, dict) else frame
