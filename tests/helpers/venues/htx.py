"""Fake HTX linear-swap REST for the liquidation backfill, in HTX's shapes.

`GET /v5/market/liquidation_orders?contract_code=BTC-USDT&start_time=…&end_time=…&limit=100`
— newest first within [start_time, end_time]; recorded row (tests/fixtures/htx):

    {"code":200,"message":"Success","data":[{"id":"150153038758","contract_code":"BTC-USDT",
     "liquidation_time":"1781849094165","side":"buy","position_side":"short","volume":"2",
     "amount":"2","bankrupt_price":"62978.5","trade_turnover":"125.957"}],"ts":1781854869221}

`amount` counts contracts there (0.001 BTC each): the USDT value is `trade_turnover`.
"""

from __future__ import annotations

from typing import Any


def htx_orders(start: int, n: int, step_ms: int) -> list[dict[str, Any]]:
    """n HTX linear liquidation orders from start, alternating long and short."""
    return [
        {
            "id": str(9000 + i),
            "contract_code": "BTC-USDT",
            "liquidation_time": str(start + i * step_ms),
            "side": "sell" if i % 2 == 0 else "buy",
            "position_side": "long" if i % 2 == 0 else "short",
            "volume": "2",
            "amount": "0.002",
            "bankrupt_price": "60000",
            "trade_turnover": "120",
        }
        for i in range(n)
    ]


def htx_handler(orders: list[dict[str, Any]]) -> Any:
    """HTX v5 liquidation_orders: newest first within [start_time, end_time], `limit` rows."""

    def handle(path: str, query: dict[str, list[str]]) -> Any:
        assert path.endswith("/v5/market/liquidation_orders")
        lo, hi = int(query["start_time"][0]), int(query["end_time"][0])
        rows = [o for o in orders if lo <= int(o["liquidation_time"]) <= hi]
        rows.sort(key=lambda o: int(o["liquidation_time"]), reverse=True)
        return {"code": 200, "message": "Success", "data": rows[: int(query["limit"][0])]}

    return handle
