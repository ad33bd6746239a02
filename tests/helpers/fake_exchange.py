"""A loopback fake of the venues' public REST APIs, serving exchange-shaped JSON.

Real `ccxt.async_support` exchange objects are pointed at it exactly as production points them
at `PREFLIGHT_VENUE_BASE_URL`, so tests and the benchmark exercise ccxt's own request
building, parsing and HTTP-status → exception mapping without touching the internet. One
server impersonates binanceusdm, bybit, okx and deribit; the first path segment names the
original host (`/fapi.binance.com/fapi/v1/klines`). Each venue's answers live in its own file
under tests/helpers/venues/, whose docstring quotes the raw payloads it imitates. Faults are
injected at the HTTP layer (`Fault`: status, body, headers, delay).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import ccxt.async_support as ccxt_async
from aiohttp import web

from settings import Settings
from signals.exchanges import configure
from signals.live import LiveMarket
from tests.helpers.venues import binance, bybit, deribit, okx
from tests.helpers.venues.scenario import (
    BINANCE_OI_MARK,
    DAY_MS,
    DEFAULT_NOW_MS,
    HOST_VENUE,
    HOUR_MS,
    OKX_CONTRACT_VALUE,
    OKX_OI_MARK,
    SERVICE_UNAVAILABLE,
    AssetScenario,
    Fault,
    FundingSpec,
    OptionSpec,
    Scenario,
    candles,
    close_at,
    default_scenario,
    oi_points,
    smile_options,
)

__all__ = [
    "BINANCE_OI_MARK",
    "DAY_MS",
    "DEFAULT_NOW_MS",
    "HOUR_MS",
    "OKX_CONTRACT_VALUE",
    "OKX_OI_MARK",
    "SERVICE_UNAVAILABLE",
    "AssetScenario",
    "Clock",
    "FakeExchangeServer",
    "Fault",
    "FundingSpec",
    "OptionSpec",
    "Scenario",
    "candles",
    "close_at",
    "default_scenario",
    "live",
    "oi_points",
    "smile_options",
]

ROUTES: dict[str, dict[str, Any]] = {
    "binanceusdm": binance.ROUTES,
    "bybit": bybit.ROUTES,
    "okx": okx.ROUTES,
    "deribit": deribit.ROUTES,
}


class FakeExchangeServer:
    """The loopback server: routes, latency injection, faults and a request log."""

    def __init__(
        self, scenario: Scenario, latency_s: float = 0.0, venue_rate_limits: bool = False
    ) -> None:
        self.scenario = scenario
        self.latency_s = latency_s
        # False: exchanges get a 1 ms rateLimit, so tests that fire many requests are not
        # slowed by limits the loopback does not need; the benchmark keeps the venues' own
        self.venue_rate_limits = venue_rate_limits
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        # client (host, port) pairs seen: each new one is a new TCP connection (a handshake)
        # TCP connections first seen since the last reset (new ones), and every one ever seen:
        # a request on a connection opened before the reset is a reused one, not counted
        self.connections: set[tuple[str, int]] = set()
        self._seen_connections: set[tuple[str, int]] = set()
        self.faults: dict[tuple[str, str | None], Fault] = {}
        # open liquidation websockets, frames sent to them (the collector benchmark's firehose)
        self.streams: list[web.WebSocketResponse] = []
        self.sent_frames = 0
        self._stream_task: asyncio.Future[None] | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:<port>"""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Listen on an ephemeral loopback port."""
        app = web.Application()
        app.router.add_route("GET", "/{host}/{path:.*}", self._handle)
        # hung handlers (Fault.delay_s) must not hold the shutdown up
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def close(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()

    def exchange(self, venue: str) -> ccxt_async.Exchange:
        """A real ccxt exchange for `venue`, configured as production does, whose requests
        all come here (production's own PREFLIGHT_VENUE_BASE_URL rewrite)."""
        ex = getattr(ccxt_async, venue)({"enableRateLimit": True})
        # ccxt lingers 250 ms in close() for remote sockets to drain; loopback needs none
        ex.timeout_on_exit = 0
        if not self.venue_rate_limits:
            ex.rateLimit = 1
        return configure(venue, ex, self.base_url)

    def fail(self, venue: str, fault: Fault, path: str | None = None) -> None:
        """Make every request to `venue` (or only paths ending with `path`) fail this way."""
        self.faults[(venue, path)] = fault

    def heal(self) -> None:
        """Remove every fault."""
        self.faults.clear()

    def count(self, venue: str | None = None, path: str | None = None) -> int:
        """How many requests reached the server (for a venue, a path suffix)."""
        return sum(
            1
            for v, p, _ in self.requests
            if (venue is None or v == venue) and (path is None or p.endswith(path))
        )

    def paths(self) -> Counter[tuple[str, str]]:
        """Requests counted per (venue, path)."""
        return Counter((v, p) for v, p, _ in self.requests)

    # ---- dispatch ---------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Requests and TCP connections so far, per venue: what the benchmarks count."""
        by_venue = Counter(v for v, _, _ in self.requests)
        streaming = self._stream_task is not None and not self._stream_task.done()
        return {
            "frames_sent": self.sent_frames,
            "streaming": streaming,
            "requests": len(self.requests),
            "connections": len(self.connections),
            "by_venue": dict(by_venue),
            "paths": {f"{v} {p}": n for (v, p), n in self.paths().items()},
        }

    def reset_stats(self) -> None:
        """Forget the request log; connections opened before now count as reused from here."""
        self.requests.clear()
        self.connections.clear()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        host = request.match_info["host"]
        if host == "_fake":  # the benchmarks' own: /_fake/stats, /_fake/reset, /_fake/latency
            return self._control(request.match_info["path"], dict(request.query))
        venue = HOST_VENUE.get(host, host)
        path = "/" + request.match_info["path"]
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._liquidation_stream(request, venue)
        query = dict(request.query)
        self.requests.append((venue, path, query))
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if peer:
            key = (str(peer[0]), int(peer[1]))
            if key not in self._seen_connections:
                self._seen_connections.add(key)
                self.connections.add(key)
        # the latency is the whole answer time, as a venue's is: the answer is built while
        # it runs, not after it (a venue answers many requests at once)
        started = asyncio.get_running_loop().time()
        response = await self._answer(venue, path, query)
        left = self.latency_s - (asyncio.get_running_loop().time() - started)
        if left > 0:
            await asyncio.sleep(left)
        return response

    async def _answer(self, venue: str, path: str, query: dict[str, str]) -> web.Response:
        fault = self._fault_for(venue, path)
        if fault is not None:
            if fault.delay_s:
                await asyncio.sleep(fault.delay_s)
            if fault.status != 200 or fault.body:
                return web.Response(
                    status=fault.status,
                    text=fault.body,
                    content_type=fault.content_type,
                    headers=fault.headers,
                )
        handler = ROUTES.get(venue, {}).get(path)
        if handler is None:
            return web.json_response({"error": f"no fake route {venue} {path}"}, status=404)
        body = handler(self.scenario, query)
        return web.Response(text=json.dumps(body), content_type="application/json")

    async def _liquidation_stream(self, request: web.Request, venue: str) -> web.StreamResponse:
        """Binance's all-market `!forceOrder@arr` websocket: answers the SUBSCRIBE, then sends
        what `/_fake/stream` asks (the benchmarks' liquidation firehose)."""
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.streams.append(ws)
        try:
            async for message in ws:
                if message.type != web.WSMsgType.TEXT:
                    continue
                ask = json.loads(message.data)
                if isinstance(ask, dict) and "id" in ask:
                    await ws.send_str(json.dumps({"result": None, "id": ask["id"]}))
        finally:
            self.streams.remove(ws)
        return ws

    async def _send_stream(self, rate: float, seconds: float, share: float) -> None:
        """Send `rate` forceOrder frames a second for `seconds` to every open stream; a
        `share` of them for the watchlist's symbols, the rest spread over the other perps."""
        from tests.helpers.venues.scenario import FIRST_ASSETS

        watched = [f"{a}USDT" for a in FIRST_ASSETS]
        others = [f"{b}USDT" for b in [*self.scenario.assets, *self.scenario.extra_bases]]
        others = [s for s in others if s not in watched] or watched
        total = int(rate * seconds)
        tick = 0.01
        per_tick = max(1, int(rate * tick))
        loop = asyncio.get_running_loop()
        start = loop.time()
        now_ms = int(time.time() * 1000)
        for n in range(total):
            pool = watched if (n * 7919 % 1000) < share * 1000 else others
            symbol = pool[n % len(pool)]
            ts = now_ms + int(n * 1000 / rate)
            frame = _force_order(symbol, "SELL" if n % 2 else "BUY", n, ts)
            for ws in list(self.streams):
                if not ws.closed:
                    await ws.send_str(frame)
            self.sent_frames += 1
            if (n + 1) % per_tick == 0:
                due = start + (n + 1) / rate
                await asyncio.sleep(max(0.0, due - loop.time()))

    def _control(self, what: str, query: dict[str, str]) -> web.Response:
        if what == "stream":
            rate = float(query.get("rate", "1000"))
            seconds = float(query.get("seconds", "5"))
            share = float(query.get("share", "0.3"))
            self._stream_task = asyncio.ensure_future(self._send_stream(rate, seconds, share))
            return web.json_response({"streams": len(self.streams)})
        if what == "faults":  # ?spec=<a JSON fault list, as server.py --faults reads>
            from tests.helpers.venues.server import faults_from

            self.heal()
            for venue, path, fault in faults_from(json.loads(query.get("spec", "[]"))):
                self.fail(venue, fault, path=path)
            return web.json_response({"faults": len(self.faults)})
        if what == "reset":
            self.reset_stats()
        elif what == "latency":
            self.latency_s = float(query.get("ms", "0")) / 1000
        elif what != "stats":
            return web.json_response({"error": f"unknown control {what}"}, status=404)
        return web.json_response(self.stats())

    def _fault_for(self, venue: str, path: str) -> Fault | None:
        for (v, p), fault in list(self.faults.items()):
            if v != venue or (p is not None and not path.endswith(p)):
                continue
            if fault.times is not None:
                if fault.times <= 0:
                    continue
                fault.times -= 1
            return fault
        return None


def _force_order(symbol: str, side: str, n: int, ts: int) -> str:
    """One Binance `forceOrder` frame, shaped like tests/fixtures/binanceusdm's recordings."""
    qty = f"{0.001 * (1 + n % 50):.3f}"
    price = f"{100 + n % 900}.{n % 100:02d}"
    return json.dumps(
        {
            "e": "forceOrder",
            "E": ts + 3,
            "o": {
                "s": symbol,
                "S": side,
                "o": "LIMIT",
                "f": "IOC",
                "q": qty,
                "p": price,
                "ap": price,
                "X": "FILLED",
                "l": qty,
                "z": qty,
                "T": ts,
            },
        }
    )


class Clock:
    """A settable wall clock (seconds), starting at the scenario's now."""

    def __init__(self, now_ms: int) -> None:
        self.now = now_ms / 1000

    def __call__(self) -> float:
        return self.now


@contextlib.asynccontextmanager
async def live(
    scenario: Scenario,
    settings: Settings | None = None,
    latency_s: float = 0.0,
    down_at_start: tuple[str, ...] = (),
) -> AsyncIterator[tuple[LiveMarket, FakeExchangeServer, Clock]]:
    """A started LiveMarket wired to a fresh fake server; both closed afterwards.

    Venues in `down_at_start` answer 503 from the first request (their markets never load).
    """
    server = FakeExchangeServer(scenario, latency_s=latency_s)
    await server.start()
    for venue in down_at_start:
        server.fail(venue, Fault(503, SERVICE_UNAVAILABLE, content_type="text/html"))
    clock = Clock(scenario.now_ms)
    market = LiveMarket(settings or Settings(), exchange_factory=server.exchange, clock=clock)
    try:
        await market.start()
        await market.ready()  # the bot waits for markets at start-up (CheckService.start)
        yield market, server, clock
    finally:
        await market.close()
        await server.close()
