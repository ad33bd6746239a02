"""A snapshot file the alert tests move between market states, a ticking clock, alert lines."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from signals.snapshot import DEMO_PATH
from tests.helpers.fake_botapi import FakeBotAPI, FakeChat, StoredMessage

NOW = datetime(2026, 5, 20, 6, 0, tzinfo=UTC)  # 08:00 in Berlin
STRESS = "🔴 ETH long: STRESS — 3 of 4 flags in caution (was elevated)"
ALL_CLEAR = "✅ ETH long: all clear — stress is over, now 🟢 calm with 0 of 4 flags"
ALERT_MARKS = ("🔴", "✅", "🟠", "🟢", "⚠️", "📡")


class Market:
    """The PREFLIGHT_SNAPSHOT file, swapped to move ETH between calm, crowded and stressed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.demo: dict[str, Any] = json.loads(DEMO_PATH.read_text(encoding="utf-8"))
        self.set("crowded")

    def set(self, state: str) -> None:
        """ETH as in the demo (crowded: 2 long flags), with BTC's (calm) or SOL's (stress).

        `blind`: ETH's prices are there but every flag's inputs are gone (OI, funding,
        liquidations, skew: venues down); `gone`: every ETH series is empty.
        """
        doc = json.loads(json.dumps(self.demo))
        source = {"crowded": "ETH", "calm": "BTC", "stressed": "SOL"}.get(state, "SOL")
        doc["assets"]["ETH"] = asset = doc["assets"][source]
        if state in ("blind", "gone"):
            for series in (
                "oi_usd_1h",
                "oi_usd_1d",
                "funding",
                "liquidations_1h",
                "skew_rr25_30d",
            ):
                asset[series] = []
            asset.get("sources", {}).pop("liquidations", None)
        if state == "gone":
            asset["ohlcv_1h"], asset["ohlcv_1d"] = [], []
        self.path.write_text(json.dumps(doc), encoding="utf-8")

    def add_asset(self, symbol: str, like: str = "ETH") -> None:
        """Give the market another asset (e.g. a ticker that is a grammar word: ME)."""
        self.demo["assets"][symbol] = json.loads(json.dumps(self.demo["assets"][like]))


class Ticking:
    """A clock that starts at NOW and moves `step` every time it is read."""

    def __init__(self, step: timedelta) -> None:
        self.now = NOW
        self.step = step

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


def alert_heads(messages: Iterable[StoredMessage]) -> list[str]:
    """The first lines of the alert messages among `messages`, in their order."""
    return [m.text.splitlines()[0] for m in messages if m.text.startswith(ALERT_MARKS)]


def alerts_in(api: FakeBotAPI, chat: FakeChat) -> list[str]:
    """The bot's alert messages in a chat (their first lines), oldest first."""
    return alert_heads(api.bot_messages(chat))
