"""Creating venue exchange objects: one place for ccxt options, the rate limiter and base URLs.

`PREFLIGHT_VENUE_BASE_URL` (settings.venue_base_url) points every venue at another server:
each `https://host/path` (and `wss://host/path`) API URL becomes `<base>/host/path` (with
`ws://` for websockets when the base is `http://`), so a fake venue server on 127.0.0.1 can
serve the real venues' paths to the real CLI.

`open_session` opens an exchange's HTTP session up front (at start, not inside someone's
check): one SSL context shared by every venue (loading the CA bundle costs ~25 ms of CPU),
idle connections kept longer than any cached answer lives, so the next refresh reuses them.
"""

from __future__ import annotations

import asyncio
import contextvars
import socket
import ssl
import threading
from typing import Any

# market types to load per venue (everything else is skipped at load time)
MARKET_TYPES: dict[str, list[str]] = {"bybit": ["linear"], "okx": ["swap"]}
# ccxt's rate limiter as a rolling window (OKX and Bybit count their limits per 2 s): the
# venue's sustained rate (1 cost unit per rateLimit ms) is kept, but one check's burst of
# requests goes out at once instead of being spaced rateLimit × cost apart
RATE_WINDOW_MS = 2000.0
# Binance counts request weight per IP per minute (2,400 on USDⓈ-M futures): its window is
# the minute, so ccxt's sustained 1,200 weight a minute (half the venue's) can go out in a
# burst — forty assets checked at once are not spaced 20 weight a second apart
RATE_WINDOW_MS_BY_VENUE = {"binanceusdm": 60_000.0}
# venues whose documented public limits are per endpoint: one rate-limiter bucket per
# endpoint (ccxt's cost of an endpoint encodes that endpoint's limit), not ccxt's single
# bucket for the whole venue, which holds ten assets' checks queued behind one another.
# Binance's weight and Deribit's credits are per IP, across endpoints: one bucket stays.
PER_ENDPOINT_LIMITS = frozenset({"okx", "bybit"})
# the endpoint of the request ccxt is about to throttle (set just before, in the same task)
_ENDPOINT: contextvars.ContextVar[str] = contextvars.ContextVar("endpoint", default="")
# idle keep-alive: longer than the longest cache TTL (skew, 300 s), so a refresh finds its
# connection open instead of paying a new TCP (and TLS) handshake
KEEPALIVE_S = 330.0

_ssl_lock = threading.Lock()
_ssl_context: ssl.SSLContext | None = None


def shared_ssl_context() -> ssl.SSLContext:
    """The one SSL context of the process, with ccxt's CA bundle (certifi)."""
    global _ssl_context
    with _ssl_lock:
        if _ssl_context is None:
            import certifi

            _ssl_context = ssl.create_default_context(cafile=certifi.where())
        return _ssl_context


def open_session(exchange: Any) -> None:
    """Open `exchange`'s HTTP session now: the shared SSL context, long keep-alive.

    Must run inside the event loop the exchange will be used from. ccxt closes the session
    (and its connector) in `exchange.close()` as it does its own.
    """
    if getattr(exchange, "session", None) is not None:
        return
    import aiohttp

    loop = asyncio.get_running_loop()
    if exchange.verify:
        exchange.ssl_context = shared_ssl_context()
    exchange.asyncio_loop = loop
    if exchange.throttler is not None:
        exchange.throttler.loop = loop
    connector = aiohttp.TCPConnector(
        ssl=exchange.ssl_context if exchange.verify else False,
        keepalive_timeout=KEEPALIVE_S,
        enable_cleanup_closed=True,
        family=socket.AF_UNSPEC,
        happy_eyeballs_delay=0,
    )
    exchange.tcp_connector = connector
    exchange.session = aiohttp.ClientSession(
        connector=connector, trust_env=exchange.aiohttp_trust_env
    )


def rewrite_urls(exchange: Any, base_url: str) -> None:
    """Send every API URL of a ccxt exchange to `base_url`/<original host>/<path>."""
    base = base_url.rstrip("/")
    ws_base = base.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    exchange.urls["api"] = _rewrite(exchange.urls.get("api"), base, ws_base)


def _rewrite(value: Any, base: str, ws_base: str) -> Any:
    if isinstance(value, str):
        if value.startswith("https://"):
            return base + "/" + value[len("https://") :]
        if value.startswith("wss://"):
            return ws_base + "/" + value[len("wss://") :]
        return value
    if isinstance(value, dict):
        return {k: _rewrite(v, base, ws_base) for k, v in value.items()}
    return value


def configure(name: str, exchange: Any, base_url: str | None = None) -> Any:
    """Apply Preflight's options to a fresh ccxt exchange object; return it."""
    _market_types(name, exchange)
    exchange.rateLimiterAlgorithm = "rollingWindow"
    exchange.rollingWindowSize = RATE_WINDOW_MS_BY_VENUE.get(name, RATE_WINDOW_MS)
    exchange.tokenBucket = None
    exchange.init_rest_rate_limiter()
    if name in PER_ENDPOINT_LIMITS:
        _bucket_per_endpoint(exchange)
    if base_url:
        rewrite_urls(exchange, base_url)
    return exchange


def _bucket_per_endpoint(exchange: Any) -> None:
    """Throttle each endpoint in its own bucket (same algorithm, window and costs)."""
    from ccxt.async_support.base.throttler import Throttler

    buckets: dict[str, Any] = {}
    rate_cost = exchange.calculate_rate_limiter_cost

    def calculate_rate_limiter_cost(
        api: Any, method: Any, path: Any, params: Any, config: Any = None
    ) -> Any:
        # ccxt asks the cost right before it throttles, in the same task: note the endpoint
        _ENDPOINT.set(str(path))
        return rate_cost(api, method, path, params, config or {})

    async def throttle(cost: Any = None) -> Any:
        path = _ENDPOINT.get()
        bucket = buckets.get(path)
        if bucket is None:
            bucket = buckets[path] = Throttler(dict(exchange.tokenBucket), exchange.asyncio_loop)
        return await bucket(cost)

    exchange.calculate_rate_limiter_cost = calculate_rate_limiter_cost
    exchange.throttle = throttle


def rest_exchange(name: str, base_url: str | None = None) -> Any:
    """A configured `ccxt.async_support` exchange for venue `name` (AttributeError if unknown)."""
    import ccxt.async_support as ccxt_async

    exchange = getattr(ccxt_async, name)({"enableRateLimit": True})
    return configure(name, exchange, base_url)


def pro_exchange(name: str, base_url: str | None = None) -> Any:
    """A `ccxt.pro` exchange for the liquidation streams: only the market types the bot uses
    are loaded (Bybit and OKX would also load every option, one request per coin)."""
    import ccxt.pro as ccxtpro

    exchange = getattr(ccxtpro, name)({"enableRateLimit": True})
    _market_types(name, exchange)
    if base_url:
        rewrite_urls(exchange, base_url)
    return exchange


def _market_types(name: str, exchange: Any) -> None:
    types = MARKET_TYPES.get(name)
    if types is not None:
        current = exchange.options.get("fetchMarkets")
        options = dict(current) if isinstance(current, dict) else {}
        exchange.options["fetchMarkets"] = {**options, "types": types}
