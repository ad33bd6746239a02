"""Fake Gate futures REST (`api.gateio.ws`) for the liquidation backfill, in Gate's shapes.

`GET /api/v4/futures/usdt/contract_stats?contract=BTC_USDT&interval=5m&from=…&limit=100` —
5-minute bars from `from`, the still-open bar included; `long_liq_usd` is the USD value of
LONG positions liquidated in the bar:

    [{"time":1674057000,"lsr_taker":1.1,"lsr_account":0.9,"long_liq_size":3,
      "long_liq_amount":0.003,"long_liq_usd":1234.5,"short_liq_size":0,
      "short_liq_amount":0,"short_liq_usd":0,"open_interest":…,"open_interest_usd":…,
      "top_lsr_account":…,"top_lsr_size":…,"mark_price":0.34619}, …]

(Gate's documented example answer; numbers as strings or numbers both occur.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

HOUR_MS = 3_600_000
BAR = 300_000


def gate_handler(clock: Any, long_usd: float = 10.0) -> Callable[[str, Any], Any]:
    """Gate's contract_stats: 5-minute bars from `from`, the open bar included, up to the
    time of `clock` (anything with an `ms` attribute)."""

    def handle(path: str, query: dict[str, list[str]]) -> Any:
        assert path.endswith("/futures/usdt/contract_stats")
        assert query["interval"] == ["5m"]
        start = int(query["from"][0]) * 1000
        limit = int(query["limit"][0])
        bars: list[dict[str, str]] = []
        ts = start
        while ts <= clock.ms and len(bars) < limit:
            bars.append(
                {
                    "time": str(ts // 1000),
                    "long_liq_usd": str(long_usd),
                    "short_liq_usd": "2.5" if ts % HOUR_MS == 0 else "0",
                    "long_liq_size": "1",
                    "short_liq_size": "0",
                    "lsr_taker": "1.1",
                    "open_interest_usd": "1000000",
                    "mark_price": "60000",
                }
            )
            ts += BAR
        return bars

    return handle
