"""A loopback fake of the venues' public REST APIs, serving exchange-shaped JSON.

Real `ccxt.async_support` exchange objects are pointed at it (`point_at`), so tests and the
benchmark exercise ccxt's own request building, parsing and HTTP-status → exception mapping
without touching the internet. One server impersonates binanceusdm, bybit, okx and deribit;
the first path segment names the original host (`/fapi.binance.com/fapi/v1/klines`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import ccxt.async_support as ccxt_async
from aiohttp import web

from settings import Settings
from signals.live import LiveMarket
from signals.store import Store

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
# 2026-05-20 12:30 UTC: half-way through an hourly bar, so a forming candle exists
DEFAULT_NOW_MS = 1_779_280_200_000

SERVICE_UNAVAILABLE = "<html><body><h1>503 Service Unavailable</h1></body></html>"

HOST_VENUE = {
    "fapi.binance.com": "binanceusdm",
    "api.bybit.com": "bybit",
    "www.okx.com": "okx",
    "www.deribit.com": "deribit",
}
OKX_CONTRACT_VALUE = 0.1  # base coins per OKX swap contract in the fake
# venues value their OI at their own mark price, a little off the candle close; distinct
# factors let a test tell "the venue's USD figure" from "amount × close"
BINANCE_OI_MARK = 1.0005
OKX_OI_MARK = 0.9995


@dataclass
class FundingSpec:
    """One venue's funding for one asset: current rate, interval, settled history (old → new)."""

    rate: float = 0.0001
    interval_hours: int = 8
    history: list[float] = field(default_factory=lambda: [0.0001] * 12)


@dataclass
class OptionSpec:
    """One listed option: expiry, strike, call/put, mark IV in vol points, forward price."""

    expiry_ms: int
    strike: float
    is_call: bool
    iv: float
    forward: float


@dataclass
class AssetScenario:
    """What the fake venues know about one asset."""

    hourly_closes: list[float]
    daily_closes: list[float]
    venues: tuple[str, ...] = ("binanceusdm", "bybit", "okx")
    oi_base: dict[str, float] = field(
        default_factory=lambda: {"binanceusdm": 1000.0, "bybit": 500.0, "okx": 250.0}
    )
    funding: dict[str, FundingSpec] = field(default_factory=dict)
    options: list[OptionSpec] = field(default_factory=list)
    # venues listing the options: "deribit", "okx", "bybit"
    option_venues: tuple[str, ...] = ("deribit",)
    bybit_mmr: float | None = 0.005
    # venue → how many OI points (per timeframe) it has; default: as many as candles
    oi_history_len: dict[str, int] = field(default_factory=dict)

    def funding_for(self, venue: str) -> FundingSpec:
        """This venue's funding spec (a default one when the scenario gives none)."""
        return self.funding.setdefault(venue, FundingSpec())


@dataclass
class Scenario:
    """The whole fake market at one moment."""

    assets: dict[str, AssetScenario]
    now_ms: int = DEFAULT_NOW_MS
    # extra USDT perpetual bases listed (markets only, no data), for close-match tests
    extra_bases: tuple[str, ...] = ()

    @property
    def hour_start(self) -> int:
        """Open time of the forming hourly bar."""
        return self.now_ms - self.now_ms % HOUR_MS

    @property
    def day_start(self) -> int:
        """Open time of the forming daily bar."""
        return self.now_ms - self.now_ms % DAY_MS


@dataclass
class Fault:
    """A canned failure: HTTP status + body, or a delay (for timeouts)."""

    status: int = 200
    body: str = ""
    delay_s: float = 0.0
    content_type: str = "application/json"
    times: int | None = None  # None: every request; N: the next N requests


def default_scenario(now_ms: int = DEFAULT_NOW_MS, with_options: bool = True) -> Scenario:
    """ETH and BTC on all three venues with gently rising prices; ETH options on Deribit."""
    eth = AssetScenario(
        hourly_closes=[3000.0 + i for i in range(200)],
        daily_closes=[2500.0 + 5 * i for i in range(120)],
    )
    btc = AssetScenario(
        hourly_closes=[60000.0 + 10 * i for i in range(200)],
        daily_closes=[50000.0 + 50 * i for i in range(120)],
        options=[],
    )
    if with_options:
        eth.options = smile_options(now_ms, forward=3199.0)
    return Scenario(assets={"ETH": eth, "BTC": btc}, now_ms=now_ms)


def smile_options(now_ms: int, forward: float) -> list[OptionSpec]:
    """Two expiries (7 and 60 days) with a put skew: puts richer than calls."""
    result: list[OptionSpec] = []
    for days in (7, 60):
        expiry = _expiry_at_8utc(now_ms + days * DAY_MS)
        for k in range(50, 151, 5):
            strike = forward * k / 100
            # vol points: 60 at the money, richer below the forward
            iv = 60.0 + (100 - k) * 0.2 if k < 100 else 60.0 + (k - 100) * 0.05
            result.append(OptionSpec(expiry, round(strike, 2), True, iv, forward))
            result.append(OptionSpec(expiry, round(strike, 2), False, iv, forward))
    return result


def _expiry_at_8utc(ms: int) -> int:
    day = ms - ms % DAY_MS
    return day + 8 * HOUR_MS


def point_at(exchange: ccxt_async.Exchange, base_url: str) -> None:
    """Rewrite every API URL of a real ccxt exchange to go through the loopback server."""
    api = exchange.urls["api"]
    if isinstance(api, str):
        exchange.urls["api"] = api.replace("https://", base_url + "/")
        return
    exchange.urls["api"] = {k: _rewrite(v, base_url) for k, v in api.items()}


def _rewrite(value: Any, base_url: str) -> Any:
    if isinstance(value, str):
        return value.replace("https://", base_url + "/")
    if isinstance(value, dict):
        return {k: _rewrite(v, base_url) for k, v in value.items()}
    return value


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
        self.faults: dict[tuple[str, str | None], Fault] = {}
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
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def close(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()

    def exchange(self, venue: str) -> ccxt_async.Exchange:
        """A real ccxt exchange for `venue` whose requests all come here."""
        ex = getattr(ccxt_async, venue)({"enableRateLimit": True})
        # ccxt lingers 250 ms in close() for remote sockets to drain; loopback needs none
        ex.timeout_on_exit = 0
        if not self.venue_rate_limits:
            ex.rateLimit = 1
        point_at(ex, self.base_url)
        return ex

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

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        venue = HOST_VENUE.get(request.match_info["host"], request.match_info["host"])
        path = "/" + request.match_info["path"]
        query = dict(request.query)
        self.requests.append((venue, path, query))
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        fault = self._fault_for(venue, path)
        if fault is not None:
            if fault.delay_s:
                await asyncio.sleep(fault.delay_s)
            if fault.status != 200 or fault.body:
                return web.Response(
                    status=fault.status, text=fault.body, content_type=fault.content_type
                )
        handler = ROUTES.get((venue, path))
        if handler is None:
            return web.json_response({"error": f"no fake route {venue} {path}"}, status=404)
        body = handler(self.scenario, query)
        return web.Response(text=json.dumps(body), content_type="application/json")

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
    store: Store | None = None,
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
    market = LiveMarket(
        settings or Settings(), store=store, exchange_factory=server.exchange, clock=clock
    )
    try:
        await market.start()
        yield market, server, clock
    finally:
        await market.close()
        await server.close()


# ---- candles and series -----------------------------------------------------------------


def candles(closes: list[float], forming_open: int, bar_ms: int) -> list[list[float]]:
    """Closed candles ending at `forming_open`, then the forming one: [ts, o, h, l, c, v]."""
    n = len(closes)
    rows: list[list[float]] = []
    prev = closes[0]
    for i, close in enumerate([*closes, closes[-1]]):
        ts = forming_open - (n - i) * bar_ms
        rows.append([ts, prev, max(prev, close) * 1.001, min(prev, close) * 0.999, close, 1000.0])
        prev = close
    return rows


def close_at(asset: AssetScenario, ts: int, sc: Scenario, bar_ms: int) -> float | None:
    """Close of the bar that ends at `ts`."""
    closes = asset.hourly_closes if bar_ms == HOUR_MS else asset.daily_closes
    forming = sc.hour_start if bar_ms == HOUR_MS else sc.day_start
    index = len(closes) - 1 - (forming - ts) // bar_ms
    if (forming - ts) % bar_ms or not 0 <= index < len(closes):
        return None
    return closes[index]


def oi_points(
    asset: AssetScenario, sc: Scenario, bar_ms: int, limit: int, venue: str
) -> list[int]:
    """Timestamps of OI points, ascending: bar boundaries up to the forming bar's open."""
    closes = asset.hourly_closes if bar_ms == HOUR_MS else asset.daily_closes
    forming = sc.hour_start if bar_ms == HOUR_MS else sc.day_start
    count = min(limit, len(closes), asset.oi_history_len.get(venue, len(closes)))
    return [forming - k * bar_ms for k in range(count - 1, -1, -1)]


def _bar_ms(period: str) -> int:
    return DAY_MS if period.lower() in ("1d", "d") else HOUR_MS


def _asset_by_id(sc: Scenario, market_id: str, venue: str) -> tuple[str, AssetScenario] | None:
    for base, asset in sc.assets.items():
        if venue in asset.venues and market_id in (
            f"{base}USDT",
            f"{base}-USDT-SWAP",
        ):
            return base, asset
    return None


def _limit(query: dict[str, str], default: int) -> int:
    return int(query.get("limit", default))


# ---- binanceusdm ------------------------------------------------------------------------


def binance_exchange_info(sc: Scenario, query: dict[str, str]) -> Any:
    bases = [b for b, a in sc.assets.items() if "binanceusdm" in a.venues]
    return {
        "timezone": "UTC",
        "serverTime": sc.now_ms,
        "symbols": [_binance_symbol(b) for b in [*bases, *sc.extra_bases]],
    }


def _binance_symbol(base: str) -> dict[str, Any]:
    return {
        "symbol": f"{base}USDT",
        "pair": f"{base}USDT",
        "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000,
        "onboardDate": 1569398400000,
        "status": "TRADING",
        "baseAsset": base,
        "quoteAsset": "USDT",
        "marginAsset": "USDT",
        "pricePrecision": 2,
        "quantityPrecision": 3,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": [],
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": "0.01",
                "maxPrice": "1000000",
                "tickSize": "0.01",
            },
            {"filterType": "LOT_SIZE", "minQty": "0.001", "maxQty": "10000", "stepSize": "0.001"},
        ],
        "orderTypes": ["LIMIT", "MARKET"],
        "timeInForce": ["GTC"],
    }


def binance_klines(sc: Scenario, query: dict[str, str]) -> Any:
    found = _asset_by_id(sc, query["symbol"], "binanceusdm")
    if found is None:
        return _binance_bad_symbol()
    _, asset = found
    bar = _bar_ms(query["interval"])
    closes = asset.hourly_closes if bar == HOUR_MS else asset.daily_closes
    rows = candles(closes, sc.hour_start if bar == HOUR_MS else sc.day_start, bar)
    rows = rows[-_limit(query, 500) :]
    return [
        [
            r[0],
            str(r[1]),
            str(r[2]),
            str(r[3]),
            str(r[4]),
            str(r[5]),
            r[0] + bar - 1,
            "0",
            100,
            "0",
            "0",
            "0",
        ]
        for r in rows
    ]


def binance_oi_hist(sc: Scenario, query: dict[str, str]) -> Any:
    found = _asset_by_id(sc, query["symbol"], "binanceusdm")
    if found is None:
        return _binance_bad_symbol()
    base, asset = found
    bar = _bar_ms(query["period"])
    amount = asset.oi_base["binanceusdm"]
    result = []
    for ts in oi_points(asset, sc, bar, _limit(query, 30), "binanceusdm"):
        close = close_at(asset, ts, sc, bar)
        if close is None:
            continue
        result.append(
            {
                "symbol": f"{base}USDT",
                "sumOpenInterest": f"{amount:.8f}",
                "sumOpenInterestValue": f"{amount * close * BINANCE_OI_MARK:.8f}",
                "timestamp": ts,
            }
        )
    return result


def binance_premium_index(sc: Scenario, query: dict[str, str]) -> Any:
    found = _asset_by_id(sc, query["symbol"], "binanceusdm")
    if found is None:
        return _binance_bad_symbol()
    base, asset = found
    spec = asset.funding_for("binanceusdm")
    step = spec.interval_hours * HOUR_MS
    return {
        "symbol": f"{base}USDT",
        "markPrice": str(asset.hourly_closes[-1]),
        "indexPrice": str(asset.hourly_closes[-1]),
        "estimatedSettlePrice": "0",
        "lastFundingRate": f"{spec.rate:.8f}",
        "interestRate": "0.00010000",
        "nextFundingTime": sc.now_ms - sc.now_ms % step + step,
        "time": sc.now_ms,
    }


def binance_funding_rate(sc: Scenario, query: dict[str, str]) -> Any:
    found = _asset_by_id(sc, query["symbol"], "binanceusdm")
    if found is None:
        return _binance_bad_symbol()
    base, asset = found
    spec = asset.funding_for("binanceusdm")
    times = _settlement_times(sc, spec)
    rows = [
        {"symbol": f"{base}USDT", "fundingRate": f"{r:.8f}", "fundingTime": t, "markPrice": "1"}
        for t, r in zip(times, spec.history, strict=True)
    ]
    return rows[-_limit(query, 100) :]


def binance_funding_info(sc: Scenario, query: dict[str, str]) -> Any:
    # like Binance: only symbols whose funding was adjusted away from the 8h default
    return [
        {
            "symbol": f"{b}USDT",
            "adjustedFundingRateCap": "0.02000000",
            "adjustedFundingRateFloor": "-0.02000000",
            "fundingIntervalHours": a.funding_for("binanceusdm").interval_hours,
            "disclaimer": False,
        }
        for b, a in sc.assets.items()
        if "binanceusdm" in a.venues and a.funding_for("binanceusdm").interval_hours != 8
    ]


def _settlement_times(sc: Scenario, spec: FundingSpec) -> list[int]:
    step = spec.interval_hours * HOUR_MS
    last = sc.now_ms - sc.now_ms % step
    n = len(spec.history)
    return [last - (n - 1 - i) * step for i in range(n)]


def _binance_bad_symbol() -> Any:
    return {"code": -1121, "msg": "Invalid symbol."}


# ---- bybit --------------------------------------------------------------------------------


def _bybit(sc: Scenario, result: Any) -> Any:
    return {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": sc.now_ms}


def bybit_instruments(sc: Scenario, query: dict[str, str]) -> Any:
    if query.get("category") != "linear" or query.get("status") == "PreLaunch":
        return _bybit(sc, {"category": query.get("category"), "list": [], "nextPageCursor": ""})
    bases = [b for b, a in sc.assets.items() if "bybit" in a.venues]
    rows = []
    for base in [*bases, *sc.extra_bases]:
        asset = sc.assets.get(base)
        interval = asset.funding_for("bybit").interval_hours if asset else 8
        rows.append(
            {
                "symbol": f"{base}USDT",
                "contractType": "LinearPerpetual",
                "status": "Trading",
                "baseCoin": base,
                "quoteCoin": "USDT",
                "settleCoin": "USDT",
                "launchTime": "1585526400000",
                "deliveryTime": "0",
                "deliveryFeeRate": "",
                "priceScale": "2",
                "leverageFilter": {
                    "minLeverage": "1",
                    "maxLeverage": "100.00",
                    "leverageStep": "0.01",
                },
                "priceFilter": {"minPrice": "0.01", "maxPrice": "199999.98", "tickSize": "0.01"},
                "lotSizeFilter": {
                    "maxOrderQty": "1000",
                    "minOrderQty": "0.01",
                    "qtyStep": "0.01",
                    "postOnlyMaxOrderQty": "1000",
                    "minNotionalValue": "5",
                },
                "unifiedMarginTrade": True,
                "fundingInterval": interval * 60,
                "copyTrading": "both",
                "upperFundingRate": "0.005",
                "lowerFundingRate": "-0.005",
            }
        )
    return _bybit(sc, {"category": "linear", "list": rows, "nextPageCursor": ""})


def bybit_klines(sc: Scenario, query: dict[str, str]) -> Any:
    found = _asset_by_id(sc, query["symbol"], "bybit")
    if found is None:
        return _bybit_error(10001, "params error: symbol invalid")
    _, asset = found
    bar = DAY_MS if query["interval"] == "D" else HOUR_MS
    closes = asset.hourly_closes if bar == HOUR_MS else asset.daily_closes
    rows = candles(closes, sc.hour_start if bar == HOUR_MS else sc.day_start, bar)
    rows = rows[-_limit(query, 200) :]
    listed = [
        [str(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[5]), "0"]
        for r in reversed(rows)
    ]
    return _bybit(sc, {"category": "linear", "symbol": query["symbol"], "list": listed})


def bybit_open_interest(sc: Scenario, query: dict[str, str]) -> Any:
    found = _asset_by_id(sc, query["symbol"], "bybit")
    if found is None:
        return _bybit_error(10001, "params error: symbol invalid")
    _, asset = found
    bar = _bar_ms(query["intervalTime"])
    amount = asset.oi_base["bybit"]
    rows = [
        {"openInterest": f"{amount:.8f}", "timestamp": str(ts)}
        for ts in reversed(oi_points(asset, sc, bar, _limit(query, 50), "bybit"))
    ]
    return _bybit(
        sc, {"symbol": query["symbol"], "category": "linear", "list": rows, "nextPageCursor": ""}
    )


def bybit_tickers(sc: Scenario, query: dict[str, str]) -> Any:
    if query.get("category") == "option":
        return _bybit_option_tickers(sc, query)
    found = _asset_by_id(sc, query.get("symbol", ""), "bybit")
    if found is None:
        return _bybit_error(10001, "params error: symbol invalid")
    base, asset = found
    spec = asset.funding_for("bybit")
    step = spec.interval_hours * HOUR_MS
    last = asset.hourly_closes[-1]
    row = {
        "symbol": f"{base}USDT",
        "lastPrice": str(last),
        "markPrice": str(last),
        "indexPrice": str(last),
        "prevPrice24h": str(last),
        "price24hPcnt": "0",
        "highPrice24h": str(last),
        "lowPrice24h": str(last),
        "prevPrice1h": str(last),
        "openInterest": str(asset.oi_base["bybit"]),
        "openInterestValue": "0",
        "turnover24h": "0",
        "volume24h": "0",
        "fundingRate": f"{spec.rate:.8f}",
        "nextFundingTime": str(sc.now_ms - sc.now_ms % step + step),
        "bid1Price": str(last),
        "ask1Price": str(last),
        "bid1Size": "1",
        "ask1Size": "1",
    }
    return _bybit(sc, {"category": "linear", "list": [row]})


def bybit_funding_history(sc: Scenario, query: dict[str, str]) -> Any:
    found = _asset_by_id(sc, query["symbol"], "bybit")
    if found is None:
        return _bybit_error(10001, "params error: symbol invalid")
    base, asset = found
    spec = asset.funding_for("bybit")
    times = _settlement_times(sc, spec)
    rows = [
        {"symbol": f"{base}USDT", "fundingRate": f"{r:.8f}", "fundingRateTimestamp": str(t)}
        for t, r in zip(times, spec.history, strict=True)
    ]
    rows = rows[-_limit(query, 200) :]
    return _bybit(sc, {"category": "linear", "list": list(reversed(rows))})


def bybit_risk_limit(sc: Scenario, query: dict[str, str]) -> Any:
    found = _asset_by_id(sc, query["symbol"], "bybit")
    if found is None:
        return _bybit_error(10001, "params error: symbol invalid")
    base, asset = found
    if asset.bybit_mmr is None:
        return _bybit(sc, {"category": "linear", "list": []})
    rows = [
        {
            "id": 1,
            "symbol": f"{base}USDT",
            "riskLimitValue": "2000000",
            "maintenanceMargin": str(asset.bybit_mmr),
            "initialMargin": "0.01",
            "isLowestRisk": 1,
            "maxLeverage": "100.00",
            "mmDeduction": "",
        },
        {
            "id": 2,
            "symbol": f"{base}USDT",
            "riskLimitValue": "4000000",
            "maintenanceMargin": str(asset.bybit_mmr * 2),
            "initialMargin": "0.02",
            "isLowestRisk": 0,
            "maxLeverage": "50.00",
            "mmDeduction": "1000",
        },
    ]
    return _bybit(sc, {"category": "linear", "list": rows})


def _bybit_option_tickers(sc: Scenario, query: dict[str, str]) -> Any:
    asset = sc.assets.get(query.get("baseCoin", ""))
    rows = []
    if asset is not None and "bybit" in asset.option_venues:
        for o in asset.options:
            rows.append(
                {
                    "symbol": _dmy_name(query["baseCoin"], o) + "-USDT",
                    "markIv": f"{o.iv / 100:.6f}",
                    "underlyingPrice": str(o.forward),
                    "markPrice": "1",
                    "delta": "0",
                }
            )
    return _bybit(sc, {"category": "option", "list": rows})


def _bybit_error(code: int, msg: str) -> Any:
    return {"retCode": code, "retMsg": msg, "result": {}, "retExtInfo": {}, "time": 0}


# ---- okx ----------------------------------------------------------------------------------


def _okx(data: Any) -> Any:
    return {"code": "0", "msg": "", "data": data}


def okx_instruments(sc: Scenario, query: dict[str, str]) -> Any:
    if query.get("instType") != "SWAP":
        return _okx([])
    bases = [b for b, a in sc.assets.items() if "okx" in a.venues]
    return _okx(
        [
            {
                "instType": "SWAP",
                "instId": f"{b}-USDT-SWAP",
                "uly": f"{b}-USDT",
                "instFamily": f"{b}-USDT",
                "baseCcy": "",
                "quoteCcy": "",
                "settleCcy": "USDT",
                "ctVal": str(OKX_CONTRACT_VALUE),
                "ctMult": "1",
                "ctValCcy": b,
                "ctType": "linear",
                "state": "live",
                "lotSz": "0.01",
                "tickSz": "0.01",
                "minSz": "0.01",
                "lever": "100",
                "listTime": "1611916800000",
                "expTime": "",
                "alias": "",
                "category": "1",
            }
            for b in [*bases, *sc.extra_bases]
        ]
    )


def okx_oi_history(sc: Scenario, query: dict[str, str]) -> Any:
    found = _asset_by_id(sc, query["instId"], "okx")
    if found is None:
        return {"code": "51001", "msg": "Instrument ID does not exist", "data": []}
    _, asset = found
    bar = _bar_ms(query["period"])
    amount = asset.oi_base["okx"]
    rows = []
    for ts in reversed(oi_points(asset, sc, bar, _limit(query, 100), "okx")):
        close = close_at(asset, ts, sc, bar)
        if close is None:
            continue
        rows.append(
            [
                str(ts),
                f"{amount / OKX_CONTRACT_VALUE:.4f}",
                f"{amount:.4f}",
                f"{amount * close * OKX_OI_MARK:.4f}",
            ]
        )
    return _okx(rows)


def okx_funding_rate(sc: Scenario, query: dict[str, str]) -> Any:
    found = _asset_by_id(sc, query["instId"], "okx")
    if found is None:
        return {"code": "51001", "msg": "Instrument ID does not exist", "data": []}
    base, asset = found
    spec = asset.funding_for("okx")
    step = spec.interval_hours * HOUR_MS
    nxt = sc.now_ms - sc.now_ms % step + step
    return _okx(
        [
            {
                "instType": "SWAP",
                "instId": f"{base}-USDT-SWAP",
                "fundingRate": f"{spec.rate:.8f}",
                "fundingTime": str(nxt),
                "nextFundingTime": str(nxt + step),
                "nextFundingRate": "",
                "method": "current_period",
                "maxFundingRate": "0.0075",
                "minFundingRate": "-0.0075",
                "premium": "0",
                "settFundingRate": "0",
                "settState": "settled",
                "ts": str(sc.now_ms),
            }
        ]
    )


def okx_funding_history(sc: Scenario, query: dict[str, str]) -> Any:
    found = _asset_by_id(sc, query["instId"], "okx")
    if found is None:
        return {"code": "51001", "msg": "Instrument ID does not exist", "data": []}
    base, asset = found
    spec = asset.funding_for("okx")
    times = _settlement_times(sc, spec)
    rows = [
        {
            "instType": "SWAP",
            "instId": f"{base}-USDT-SWAP",
            "fundingRate": f"{r:.8f}",
            "realizedRate": f"{r:.8f}",
            "fundingTime": str(t),
            "method": "current_period",
        }
        for t, r in zip(times, spec.history, strict=True)
    ]
    rows = rows[-_limit(query, 100) :]
    return _okx(list(reversed(rows)))


def okx_opt_summary(sc: Scenario, query: dict[str, str]) -> Any:
    base = query.get("uly", "").split("-")[0]
    asset = sc.assets.get(base)
    if asset is None or "okx" not in asset.option_venues:
        return {"code": "51000", "msg": "Parameter uly error", "data": []}
    rows = []
    for o in asset.options:
        d = datetime.fromtimestamp(o.expiry_ms / 1000, tz=UTC)
        inst = f"{base}-USD-{d:%y%m%d}-{_strike_text(o.strike, '.')}-{'C' if o.is_call else 'P'}"
        rows.append(
            {
                "instType": "OPTION",
                "instId": inst,
                "uly": f"{base}-USD",
                "markVol": f"{o.iv / 100:.6f}",
                "fwdPx": str(o.forward),
                "delta": "0",
                "ts": str(sc.now_ms),
            }
        )
    return _okx(rows)


# ---- deribit ------------------------------------------------------------------------------


def deribit_book_summary(sc: Scenario, query: dict[str, str]) -> Any:
    currency = query.get("currency", "")
    rows = []
    for base, asset in sc.assets.items():
        if "deribit" not in asset.option_venues:
            continue
        inverse = base in ("BTC", "ETH")
        if (inverse and currency != base) or (not inverse and currency != "USDC"):
            continue
        prefix = base if inverse else f"{base}_USDC"
        for o in asset.options:
            rows.append(
                {
                    "instrument_name": _dmy_name(prefix, o, decimal="d"),
                    "mark_iv": round(o.iv, 4),
                    "underlying_price": o.forward,
                    "underlying_index": f"SYN.{base}-X",
                    "mark_price": 0.01,
                    "base_currency": base,
                    "quote_currency": currency,
                    "creation_timestamp": sc.now_ms,
                    "open_interest": 10.0,
                    "volume": 1.0,
                    "interest_rate": 0.0,
                    "bid_price": None,
                    "ask_price": None,
                    "mid_price": None,
                    "estimated_delivery_price": 0,
                }
            )
    return {
        "jsonrpc": "2.0",
        "result": rows,
        "usIn": sc.now_ms * 1000,
        "usOut": sc.now_ms * 1000 + 10,
        "usDiff": 10,
        "testnet": False,
    }


def _dmy_name(prefix: str, o: OptionSpec, decimal: str = ".") -> str:
    d = datetime.fromtimestamp(o.expiry_ms / 1000, tz=UTC)
    return (
        f"{prefix}-{d.day}{d:%b%y}".upper()
        + f"-{_strike_text(o.strike, decimal)}-{'C' if o.is_call else 'P'}"
    )


def _strike_text(strike: float, decimal: str) -> str:
    text = f"{strike:.10g}"
    return text.replace(".", decimal)


ROUTES: dict[tuple[str, str], Any] = {
    ("binanceusdm", "/fapi/v1/exchangeInfo"): binance_exchange_info,
    ("binanceusdm", "/fapi/v1/klines"): binance_klines,
    ("binanceusdm", "/futures/data/openInterestHist"): binance_oi_hist,
    ("binanceusdm", "/fapi/v1/premiumIndex"): binance_premium_index,
    ("binanceusdm", "/fapi/v1/fundingRate"): binance_funding_rate,
    ("binanceusdm", "/fapi/v1/fundingInfo"): binance_funding_info,
    ("bybit", "/v5/market/instruments-info"): bybit_instruments,
    ("bybit", "/v5/market/kline"): bybit_klines,
    ("bybit", "/v5/market/open-interest"): bybit_open_interest,
    ("bybit", "/v5/market/tickers"): bybit_tickers,
    ("bybit", "/v5/market/funding/history"): bybit_funding_history,
    ("bybit", "/v5/market/risk-limit"): bybit_risk_limit,
    ("okx", "/api/v5/public/instruments"): okx_instruments,
    ("okx", "/api/v5/rubik/stat/contracts/open-interest-history"): okx_oi_history,
    ("okx", "/api/v5/public/funding-rate"): okx_funding_rate,
    ("okx", "/api/v5/public/funding-rate-history"): okx_funding_history,
    ("okx", "/api/v5/public/opt-summary"): okx_opt_summary,
    ("deribit", "/api/v2/public/get_book_summary_by_currency"): deribit_book_summary,
}
