"""Personal defaults (/settings): what completes an idea that leaves a value out.

Pure: the store and the /settings handler (next round) build a UserDefaults; `complete_idea`
fills the gaps of one idea and records which values came from it, so the reply can say
"(from your /settings)".
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from signals.idea import TradeIdea

# the names an idea records in `from_defaults`
LEVERAGE, HORIZON, RISK, ACCOUNT = "leverage", "horizon", "risk", "account"


@dataclass(frozen=True)
class UserDefaults:
    """One user's /settings; None means "not set" (the SPEC default then applies)."""

    account_usd: float | None = None
    # a risk per trade: a fraction of the account (0.01 for `risk 1%`) or a dollar amount
    risk_pct: float | None = None
    risk_usd: float | None = None
    leverage: float | None = None
    horizon_days: float | None = None
    # IANA time zone for times shown to the user (daily summaries, data times)
    tz: str | None = None

    def __post_init__(self) -> None:
        if self.risk_pct is not None and self.risk_usd is not None:
            raise ValueError("a risk is either a fraction of the account or a dollar amount")


def complete_idea(idea: TradeIdea, defaults: UserDefaults | None) -> TradeIdea:
    """The idea with every value it leaves out taken from the defaults, each one noted.

    Values the idea gives always win: `/check ETH 10x` grades 10x whatever the defaults say.
    A risk from the defaults is used only when the idea gives none (neither `risk 1%` nor
    `risk $200`); an account only when the idea gives none.
    """
    if defaults is None:
        return idea
    changes: dict[str, object] = {}
    used: set[str] = set()
    if not idea.leverage_given and defaults.leverage is not None:
        # leverage_given stays False: the idea's own words (buttons, refresh) never bake it in
        changes["leverage"] = defaults.leverage
        used.add(LEVERAGE)
    if idea.horizon_days is None and defaults.horizon_days is not None:
        changes["horizon_days"] = defaults.horizon_days
        used.add(HORIZON)
    if not idea.has_risk and (defaults.risk_pct is not None or defaults.risk_usd is not None):
        changes["risk_pct"] = defaults.risk_pct
        changes["risk_usd"] = defaults.risk_usd
        used.add(RISK)
    if idea.account_usd is None and defaults.account_usd is not None:
        changes["account_usd"] = defaults.account_usd
        used.add(ACCOUNT)
    if not used:
        return idea
    return dataclasses.replace(idea, **changes, from_defaults=idea.from_defaults | used)  # type: ignore[arg-type]
