"""The check service: one market state's SPEC §2 quantities are computed once, whatever
the number of ideas graded against it, and a new state is computed afresh."""

from __future__ import annotations

from pathlib import Path

import pytest

import signals.service
from settings import Settings
from signals.idea import parse_idea
from signals.service import CheckService

DEMO = Path(__file__).resolve().parents[2] / "signals" / "demo" / "demo_snapshot.json"


async def test_ideas_on_one_market_state_share_its_quantities(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    computed: list[str] = []
    real = signals.service.compute_market

    def counted(data, asof, th):  # type: ignore[no-untyped-def]
        computed.append(data.asset)
        return real(data, asof, th)

    monkeypatch.setattr(signals.service, "compute_market", counted)
    service = CheckService(Settings(snapshot_path=str(DEMO)))
    try:
        five = await service.check(parse_idea("ETH long 5x"))
        short = await service.check(parse_idea("ETH short 20x stop 3300"))
        market = await service.market("eth")
        assert computed == ["ETH"]
        assert five.market is short.market is market.market
        await service.check(parse_idea("BTC long 2x"))
        assert computed == ["ETH", "BTC"]
        # the same numbers a fresh computation gives
        fresh = real(*(await service.asset_state("ETH"))[::-1], service.thresholds)
        assert fresh == five.market
    finally:
        await service.close()
