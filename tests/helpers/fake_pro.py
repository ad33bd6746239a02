"""Fake ccxt.pro sources: the REAL ccxt exchange classes with only the network edge scripted.

A `FakeStream` stands in for a venue's websocket: a test pushes recorded-shape raw messages
(exactly what the venue sends) and drops or refuses connections. The fake exchanges feed
those messages to ccxt's own `handle_liquidation`, so ccxt's parsing and caching run for
real; markets come from small recorded-shape market lists instead of a REST load. For the
REST backfill venues, `fetch` (ccxt's one HTTP call) is answered by a handler function.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

import ccxt
import ccxt.pro as ccxtpro


class FakeConnection:
    """One websocket connection; `closed` fires when the fake server drops it."""

    def __init__(self) -> None:
        self.closed = asyncio.Event()


class FakeStream:
    """A scripted websocket of one venue: keyed message queues, drops and refusals."""

    def __init__(self, url: str = "wss://fake") -> None:
        self.url = url
        self.connection: FakeConnection | None = None
        self.connects = 0
        self.refuse = 0  # how many upcoming connection attempts fail
        self.subscriptions: set[str] = set()
        self._queues: dict[str, asyncio.Queue[dict[str, Any]]] = defaultdict(asyncio.Queue)
        self.waiting: dict[str, int] = defaultdict(int)
        # per key: messages pushed, messages a watcher resumed with, receive calls started —
        # a watcher that started a receive after taking the last message has processed it
        self.pushed: dict[str, int] = defaultdict(int)
        self.taken: dict[str, int] = defaultdict(int)
        self.receives: dict[str, int] = defaultdict(int)

    def connect(self) -> FakeConnection:
        """Join the open connection or open one (unless told to refuse)."""
        if self.connection is None:
            if self.refuse > 0:
                self.refuse -= 1
                raise ccxt.NetworkError("fake: connection refused")
            self.connection = FakeConnection()
            self.connects += 1
        return self.connection

    def push(self, message: dict[str, Any], key: str = "*") -> bool:
        """Deliver a raw venue message on topic `key`; lost (False) while disconnected."""
        if self.connection is None:
            return False
        self._queues[key].put_nowait(json.loads(json.dumps(message)))
        self.pushed[key] += 1
        return True

    def drop(self) -> None:
        """The server closes the connection: every pending watch fails."""
        if self.connection is not None:
            self.connection.closed.set()
            self.connection = None

    async def receive(self, key: str, connection: FakeConnection) -> dict[str, Any]:
        """The next message on `key`, or NetworkError when the connection drops first."""
        self.subscriptions.add(key)
        self.waiting[key] += 1
        self.receives[key] += 1
        get = asyncio.ensure_future(self._queues[key].get())
        closed = asyncio.ensure_future(connection.closed.wait())
        try:
            await asyncio.wait({get, closed}, return_when=asyncio.FIRST_COMPLETED)
            if get.done():
                self.taken[key] += 1
                return get.result()
            raise ccxt.NetworkError("fake: connection closed by remote server")
        finally:
            self.waiting[key] -= 1
            get.cancel()
            closed.cancel()

    async def idle(self, timeout: float = 2.0) -> None:
        """Wait until every queue is drained and a watcher waits on each subscribed key."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            drained = all(q.empty() for q in self._queues.values())
            processed = all(self.taken[k] >= self.pushed[k] for k in self.pushed)
            if (
                drained
                and processed
                and self.subscriptions
                and all(
                    self.waiting[k] > 0 and self.receives[k] > self.taken[k]
                    for k in self.subscriptions
                )
            ):
                return
            await asyncio.sleep(0.005)
        raise TimeoutError("fake stream never went idle")


class _FakeClient:
    """What ccxt keeps per websocket URL; `connected` resolved like a live socket's."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.connected: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.connected.set_result(url)

    def resolve(self, result: Any, message_hash: str) -> Any:
        return result

    async def close(self, code: int = 1000) -> None:
        return None


class _FakeWs:
    """Shared edge: join the fake connection, await a message, keep `clients` like ccxt."""

    stream: FakeStream
    clients: dict[str, Any]
    fake_markets: list[dict[str, Any]]

    async def load_markets(
        self, reload: bool = False, params: dict[str, Any] | None = None
    ) -> Any:
        if getattr(self, "markets", None) is None or reload:
            self.set_markets(self.fake_markets)  # type: ignore[attr-defined]
        return self.markets  # type: ignore[attr-defined]

    async def _next_message(self, key: str) -> tuple[_FakeClient, dict[str, Any]]:
        connection = self.stream.connect()
        client = self.clients.get(self.stream.url) or _FakeClient(self.stream.url)
        self.clients[self.stream.url] = client
        try:
            return client, await self.stream.receive(key, connection)
        except ccxt.NetworkError:
            self.clients.pop(self.stream.url, None)  # as ccxt's on_close does
            raise


class _FakeWsAllSymbols(_FakeWs):
    """A venue whose one all-symbols liquidation stream is the FakeStream key "*"."""

    # ccxt's own parsing and filtering, from the exchange class mixed in after this one
    handle_liquidation: Callable[[Any, dict[str, Any]], None]
    filter_by_symbols_since_limit: Callable[..., list[dict[str, Any]]]
    liquidations: Any

    async def watch_liquidations_for_symbols(
        self,
        symbols: list[str] | None = None,
        since: int | None = None,
        limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        client, message = await self._next_message("*")
        self.handle_liquidation(client, message)
        return self.filter_by_symbols_since_limit(self.liquidations, symbols, since, limit, True)


class FakeBinanceUsdm(_FakeWsAllSymbols, ccxtpro.binanceusdm):
    """binanceusdm whose `!forceOrder@arr` stream is a FakeStream (key "*")."""


class FakeBybit(_FakeWs, ccxtpro.bybit):
    """bybit whose `allLiquidation.<id>` topics are FakeStream keys (the market id)."""

    async def watch_liquidations(
        self,
        symbol: str,
        since: int | None = None,
        limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        market = self.market(symbol)
        client, message = await self._next_message(market["id"])
        self.handle_liquidation(client, message)
        return self.filter_by_symbols_since_limit(
            self.liquidations, [market["symbol"]], since, limit, True
        )


class FakeOkx(_FakeWsAllSymbols, ccxtpro.okx):
    """okx whose `liquidation-orders` SWAP channel is a FakeStream (key "*")."""


FAKE_CLASSES: dict[str, type[Any]] = {
    "binanceusdm": FakeBinanceUsdm,
    "bybit": FakeBybit,
    "okx": FakeOkx,
}

# recorded-shape contract terms (ccxt market fields) of the watchlist perpetuals
OKX_CT_VAL = {"BTC": 0.01, "ETH": 0.1, "SOL": 1.0, "XRP": 100.0, "DOGE": 1000.0}


def linear_market(venue: str, asset: str) -> dict[str, Any]:
    """A ccxt market dict for the asset's USDT perpetual on the venue."""
    market_id = f"{asset}-USDT-SWAP" if venue == "okx" else f"{asset}USDT"
    size = OKX_CT_VAL.get(asset, 1.0) if venue == "okx" else 1.0
    return {
        "id": market_id,
        "lowercaseId": market_id.lower(),
        "symbol": f"{asset}/USDT:USDT",
        "base": asset,
        "quote": "USDT",
        "settle": "USDT",
        "baseId": asset,
        "quoteId": "USDT",
        "settleId": "USDT",
        "type": "swap",
        "spot": False,
        "margin": False,
        "swap": True,
        "future": False,
        "option": False,
        "contract": True,
        "linear": True,
        "inverse": False,
        "active": True,
        "contractSize": size,
    }


def inverse_market(venue: str, asset: str, usd_per_contract: float) -> dict[str, Any]:
    """A ccxt market dict for the asset's inverse (USD-margined) perpetual on the venue."""
    market_id = f"{asset}-USD-SWAP" if venue == "okx" else f"{asset}USD"
    market = linear_market(venue, asset)
    market.update(
        id=market_id,
        lowercaseId=market_id.lower(),
        symbol=f"{asset}/USD:{asset}",
        quote="USD",
        settle=asset,
        quoteId="USD",
        settleId=asset,
        linear=False,
        inverse=True,
        contractSize=usd_per_contract,
    )
    return market


def make_fake(venue: str, stream: FakeStream, assets: tuple[str, ...]) -> Any:
    """A fake ccxt.pro exchange of `venue` listing the assets' USDT perpetuals."""
    exchange = FAKE_CLASSES[venue]({"newUpdates": False, "enableRateLimit": False})
    exchange.stream = stream
    exchange.clients = {}  # ccxt's class-level default would be shared between instances
    exchange.fake_markets = [linear_market(venue, a) for a in assets]
    return exchange


RestHandler = Callable[[str, dict[str, list[str]]], Any]


@dataclass(frozen=True)
class HttpReply:
    """A raw HTTP answer for a fake REST venue: status, body text, headers (faults, pages)."""

    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)


class _FakeRest:
    """ccxt's HTTP edge answered by `handler(path, query)`; every call is logged.

    The answer goes through what ccxt's own `fetch` does with a response — the exchange's
    `on_rest_response` (where the request policy validates it), JSON parsing, the venue's
    error mapping and the HTTP status mapping — so faults are faults at the HTTP layer.
    """

    handler: RestHandler
    calls: list[tuple[str, dict[str, list[str]]]]
    on_rest_response: Callable[..., Any]
    parse_json: Callable[[Any], Any]
    handle_errors: Callable[..., Any]
    handle_http_status_code: Callable[..., Any]

    async def fetch(
        self, url: str, method: str = "GET", headers: Any = None, body: Any = None
    ) -> Any:
        parsed = urlparse(url)
        query = parse_qs(parsed.query)
        self.calls.append((parsed.path, query))
        reply = self.handler(parsed.path, query)
        if not isinstance(reply, HttpReply):
            reply = HttpReply(200, json.dumps(reply))
        text = self.on_rest_response(
            reply.status, "", url, method, reply.headers, reply.body, headers, body
        )
        answer = self.parse_json(text)
        self.handle_errors(
            reply.status, "", url, method, reply.headers, text, answer, headers, body
        )
        self.handle_http_status_code(reply.status, "", url, method, text)
        return answer if answer is not None else text


class FakeGate(_FakeRest, ccxtpro.gate):
    """gate whose REST answers come from a handler."""


class FakeHtx(_FakeRest, ccxtpro.htx):
    """htx whose REST answers come from a handler."""


def make_fake_rest(venue: str, handler: RestHandler) -> Any:
    """A fake REST venue (gate or htx) answering with `handler(path, query)`."""
    classes: dict[str, type[Any]] = {"gate": FakeGate, "htx": FakeHtx}
    exchange = classes[venue]({"enableRateLimit": False})
    exchange.handler = handler
    exchange.calls = []
    return exchange


# ---- recorded-shape websocket payloads ----------------------------------------------------


def binance_force_order(
    symbol: str,
    side: str,
    qty: str,
    avg_price: str,
    ts: int,
    price: str | None = None,
    last_fill: str | None = None,
) -> dict[str, Any]:
    """A Binance USDⓈ-M `forceOrder` event (all-market stream), filled `qty` at `avg_price`.

    Shaped like the recorded frames in tests/fixtures/binanceusdm: the limit price `p` is
    not the average `ap`, and `l` (the last fill only) is smaller than `z` when the order
    swept several levels (`last_fill`)."""
    return {
        "e": "forceOrder",
        "E": ts + 2,
        "o": {
            "s": symbol,
            "S": side,
            "o": "LIMIT",
            "f": "IOC",
            "q": qty,
            "p": price or avg_price,
            "ap": avg_price,
            "X": "FILLED",
            "l": last_fill or qty,
            "z": qty,
            "T": ts,
        },
    }


def bybit_all_liquidation(symbol: str, entries: list[tuple[str, str, str, int]]) -> dict[str, Any]:
    """A Bybit `allLiquidation.<symbol>` push; entries are (S, v, p, T)."""
    return {
        "topic": f"allLiquidation.{symbol}",
        "type": "snapshot",
        "ts": max(e[3] for e in entries) + 5,
        "data": [{"T": t, "s": symbol, "S": s, "v": v, "p": p} for s, v, p, t in entries],
    }


def okx_liquidation_orders(
    inst_id: str, details: list[tuple[str, str, str, str, int]]
) -> dict[str, Any]:
    """An OKX `liquidation-orders` push; details are (posSide, side, sz, bkPx, ts)."""
    family = inst_id.removesuffix("-SWAP")
    return {
        "arg": {"channel": "liquidation-orders", "instType": "SWAP"},
        "data": [
            {
                "details": [
                    {
                        "bkLoss": "0",
                        "bkPx": px,
                        "ccy": "",
                        "posSide": pos,
                        "side": side,
                        "sz": sz,
                        "ts": str(ts),
                    }
                    for pos, side, sz, px, ts in details
                ],
                "instFamily": family,
                "instId": inst_id,
                "instType": "SWAP",
                "uly": family,
            }
        ],
    }
