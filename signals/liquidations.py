"""Per-venue liquidation normalisers: which position was force-closed, and its USD value.

Pure functions of the raw venue message (ccxt keeps it in a liquidation's `info`) and the
market's contract terms. ccxt's own `side` is the liquidation ORDER's side on Binance and
OKX but the POSITION's side on Bybit, so it is never used here.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

LONG = "long"
SHORT = "short"


@dataclass(frozen=True)
class ContractSpec:
    """The contract terms of one venue market that a liquidation's USD value depends on."""

    venue: str
    market_id: str  # the venue's own id: BTCUSDT, BTC-USDT-SWAP
    asset: str  # upper-case base symbol: BTC
    # linear: base units per contract (OKX ctVal, 1 on Binance/Bybit); inverse: USD per contract;
    # 0 means not known (HTX backfill: its rows carry their USDT turnover instead)
    contract_size: float = 1.0
    inverse: bool = False


@dataclass(frozen=True)
class LiquidationEvent:
    """One force-closed position (or part of one) on one venue."""

    venue: str
    asset: str
    market_id: str
    ts: int  # UTC milliseconds
    side: str  # the position liquidated: "long" or "short"
    usd: float
    price: float
    amount: float  # as the venue reports it: base units or contracts

    def key(self) -> tuple[str, str, int, str, float, float]:
        """Identity for de-duplication (venues send no ids on these streams)."""
        return (self.venue, self.market_id, self.ts, self.side, self.price, self.amount)


def usd_value(price: float, amount: float, spec: ContractSpec) -> float:
    """USD value of `amount` (contracts, or base units where contract_size is 1) at `price`."""
    if spec.inverse:
        # inverse contracts are denominated in USD: the size already is the value
        return amount * spec.contract_size
    return price * amount * spec.contract_size


def market_id_of(venue: str, info: Mapping[str, Any]) -> str | None:
    """The venue market id a raw liquidation message refers to."""
    if venue == "okx":
        return _text(info.get("instId"))
    return _text(info.get("s") or info.get("symbol"))


def normalise_binance(info: Mapping[str, Any], spec: ContractSpec) -> list[LiquidationEvent]:
    """Binance `forceOrder` order object (`o`): order side SELL closes a LONG; its size is the
    accumulated filled quantity `z` at the average fill price `ap`.

    Recorded (tests/fixtures/binanceusdm, line 1)::

        {"s":"BTCUSDT","S":"SELL","o":"LIMIT","f":"IOC","q":"0.190","p":"82338.30",
         "ap":"82651.90","X":"FILLED","l":"0.155","z":"0.190","T":1791565602120}

    `l` is only the LAST fill (0.155 of the 0.190 liquidated) and `p` the order's limit
    price: an order that sweeps several levels, the cascade's big ones, would be undercounted.
    """
    side = _side_from_order(info.get("S"))
    price = _positive(info.get("ap")) or _positive(info.get("p"))
    # `z` (filled so far) is the liquidated amount; `q` (ordered) only when z is absent
    amount = _positive(info.get("z")) if "z" in info else _positive(info.get("q"))
    ts = _ms(info.get("T")) or _ms(info.get("E"))
    return _one(spec, side, ts, price, amount)


def normalise_bybit(info: Mapping[str, Any], spec: ContractSpec) -> list[LiquidationEvent]:
    """Bybit `allLiquidation` entry (or the older `liquidation` shape): S=Buy means a LONG
    position was liquidated (Bybit labels the position, not the closing order)."""
    raw_side = str(info.get("S") or info.get("side") or "").lower()
    side = {"buy": LONG, "sell": SHORT}.get(raw_side)
    price = _positive(info.get("p")) or _positive(info.get("price"))
    amount = _positive(info.get("v")) or _positive(info.get("size"))
    ts = _ms(info.get("T")) or _ms(info.get("updatedTime"))
    return _one(spec, side, ts, price, amount)


def normalise_okx(info: Mapping[str, Any], spec: ContractSpec) -> list[LiquidationEvent]:
    """OKX `liquidation-orders` entry: every item of `details` (ccxt reads only the first);
    `posSide` names the position, `sz` is in contracts of `ctVal`, `bkPx` the price."""
    details = info.get("details")
    if not isinstance(details, list):
        return []
    events: list[LiquidationEvent] = []
    for detail in details:
        if not isinstance(detail, Mapping):
            continue
        side = _okx_side(detail)
        price = _positive(detail.get("bkPx"))
        amount = _positive(detail.get("sz"))
        events.extend(_one(spec, side, _ms(detail.get("ts")), price, amount))
    return events


def normalise_htx(info: Mapping[str, Any], spec: ContractSpec) -> list[LiquidationEvent]:
    """HTX liquidation order (REST): `position_side` names the position (older shapes give
    only the closing order's `direction`); `trade_turnover` is its USDT value.

    Recorded v5 row (tests/fixtures/htx/liquidation_orders_v5.json)::

        {"id":"150153038758","contract_code":"BTC-USDT","liquidation_time":"1781849094165",
         "side":"buy","position_side":"short","volume":"2","amount":"2",
         "bankrupt_price":"62978.5","trade_turnover":"125.957"}

    There `amount` counts contracts (0.001 BTC each), so price × amount is 1000× the value:
    without a turnover the row is valued with the contract size when `spec` knows it
    (contract_size > 0) and skipped otherwise.
    """
    pos_side = str(info.get("position_side") or "").lower()
    side = pos_side if pos_side in (LONG, SHORT) else None
    side = side or _side_from_order(info.get("side") or info.get("direction"))
    price = _positive(info.get("bankrupt_price")) or _positive(info.get("price"))
    amount = _positive(info.get("amount")) or _positive(info.get("volume"))
    ts = _ms(info.get("liquidation_time")) or _ms(info.get("created_at"))
    if side is None or ts is None or price is None or amount is None:
        return []
    usd = _positive(info.get("trade_turnover"))
    if usd is None and spec.contract_size > 0:
        usd = price * amount * spec.contract_size
    if usd is None:
        log.debug("htx %s: liquidation without turnover or contract size skipped", spec.market_id)
        return []
    return [LiquidationEvent(spec.venue, spec.asset, spec.market_id, ts, side, usd, price, amount)]


def parse_gate_stat(row: Mapping[str, Any]) -> tuple[int, float, float] | None:
    """One Gate `contract_stats` bar as (open ms, long_usd, short_usd) liquidated; None if
    unreadable. Gate reports `long_liq_usd` as the USD value of LONG positions liquidated."""
    ts = _ms(row.get("time"))
    long_usd = _non_negative(row.get("long_liq_usd"))
    short_usd = _non_negative(row.get("short_liq_usd"))
    if ts is None or long_usd is None or short_usd is None:
        return None
    return ts * 1000, long_usd, short_usd


Normaliser = Callable[[Mapping[str, Any], ContractSpec], list[LiquidationEvent]]

NORMALISERS: dict[str, Normaliser] = {
    "binanceusdm": normalise_binance,
    "binancecoinm": normalise_binance,
    "bybit": normalise_bybit,
    "okx": normalise_okx,
    "htx": normalise_htx,
}


def normalise(venue: str, info: Mapping[str, Any], spec: ContractSpec) -> list[LiquidationEvent]:
    """Normalise one raw liquidation message of `venue`; [] for one that cannot be read."""
    normaliser = NORMALISERS.get(venue)
    if normaliser is None:
        raise ValueError(f"no liquidation normaliser for venue {venue!r}")
    return normaliser(info, spec)


def _okx_side(detail: Mapping[str, Any]) -> str | None:
    pos_side = str(detail.get("posSide") or "").lower()
    if pos_side in (LONG, SHORT):
        return pos_side
    # one-way ("net") mode: the closing order's side tells which position went
    return _side_from_order(detail.get("side"))


def _side_from_order(order_side: Any) -> str | None:
    """The position a liquidation ORDER closes: a sell closes a long, a buy a short."""
    return {"sell": LONG, "buy": SHORT}.get(str(order_side or "").lower())


def _one(
    spec: ContractSpec, side: str | None, ts: int | None, price: float | None, amount: float | None
) -> list[LiquidationEvent]:
    if side is None or ts is None or price is None or amount is None:
        log.debug("%s %s: unreadable liquidation skipped", spec.venue, spec.market_id)
        return []
    usd = usd_value(price, amount, spec)
    return [LiquidationEvent(spec.venue, spec.asset, spec.market_id, ts, side, usd, price, amount)]


def _positive(raw: Any) -> float | None:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value > 0 else None


def _non_negative(raw: Any) -> float | None:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _ms(raw: Any) -> int | None:
    value = _positive(raw)
    return int(value) if value is not None else None


def _text(raw: Any) -> str | None:
    return str(raw) if raw else None
