"""Trade-idea words (SPEC §8) → a typed TradeIdea, or a ParseError with a reason and example."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from signals.errors import ParseError

Side = Literal["long", "short"]
USAGE_EXAMPLE = "/check ETH long 5x @ 3000 stop 2800 for 3d"


@dataclass(frozen=True)
class TradeIdea:
    """A parsed trade idea; `side` None means grade both sides."""

    asset: str
    side: Side | None
    leverage: float = 1.0
    leverage_given: bool = False
    entry: float | None = None
    stop: float | None = None
    horizon_days: float | None = None

    def sides(self) -> tuple[Side, ...]:
        """The sides to grade: the one given, or long then short."""
        return (self.side,) if self.side else ("long", "short")


def parse_idea(text: str) -> TradeIdea:
    """Parse free trade-idea words; raise ParseError with a one-line reason and an example."""
    raise ParseError("parser not built yet", USAGE_EXAMPLE)
