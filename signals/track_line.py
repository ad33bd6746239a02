"""The one-line track record under a check (SPEC §9): what followed this verdict on this asset.

Only the numbers; templates/_track.j2 words them. Kept apart from signals/track.py so the
check's result type (signals.grade.CheckResult) can carry it without importing the backtest.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrackLine:
    """The liquidation rate after the days the rule gave the check's verdict, and after the
    days it did not, at the check's leverage, on the asset's stored track record."""

    asset: str
    side: str
    leverage: float
    days_asked: int  # "on ETH's last 365 days"
    horizon_days: int  # the windows are this many days and overlap
    asof: int  # the record's data time (ms)
    verdict: str  # the check's flags verdict: proceed, reduce or wait
    n: int  # days the rule said `verdict`
    liquidated: int
    # the days compared with: proceed days (for reduce or wait), reduce-or-wait days (for proceed)
    other: str  # "proceed" or "reduce or wait"
    other_n: int
    other_liquidated: int
    label: str | None = None  # "synthetic demo data" for a record computed on the demo

    @property
    def rate(self) -> float | None:
        """Share of the verdict's days followed by a liquidating move (None without days)."""
        return self.liquidated / self.n if self.n else None

    @property
    def other_rate(self) -> float | None:
        """The same share on the days compared with."""
        return self.other_liquidated / self.other_n if self.other_n else None
