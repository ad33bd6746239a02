"""Creating venue exchange objects: one place for ccxt options, the rate limiter and base URLs.

`PREFLIGHT_VENUE_BASE_URL` (settings.venue_base_url) points every venue at another server:
each `https://host/path` (and `wss://host/path`) API URL becomes `<base>/host/path` (with
`ws://` for websockets when the base is `http://`), so a fake venue server on 127.0.0.1 can
serve the real venues' paths to the real CLI.
"""

from __future__ import annotations

from typing import Any

# market types to load per venue (everything else is skipped at load time)
MARKET_TYPES: dict[str, list[str]] = {"bybit": ["linear"], "okx": ["swap"]}
# ccxt's rate limiter as a rolling window (OKX and Bybit count their limits per 2 s): the
# venue's sustained rate (1 cost unit per rateLimit ms) is kept, but one check's burst of
# requests goes out at once instead of being spaced rateLimit × cost apart
RATE_WINDOW_MS = 2000.0


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
    types = MARKET_TYPES.get(name)
    if types is not None:
        current = exchange.options.get("fetchMarkets")
        options = dict(current) if isinstance(current, dict) else {}
        exchange.options["fetchMarkets"] = {**options, "types": types}
    exchange.rateLimiterAlgorithm = "rollingWindow"
    exchange.rollingWindowSize = RATE_WINDOW_MS
    exchange.tokenBucket = None
    exchange.init_rest_rate_limiter()
    if base_url:
        rewrite_urls(exchange, base_url)
    return exchange


def rest_exchange(name: str, base_url: str | None = None) -> Any:
    """A configured `ccxt.async_support` exchange for venue `name` (AttributeError if unknown)."""
    import ccxt.async_support as ccxt_async

    exchange = getattr(ccxt_async, name)({"enableRateLimit": True})
    return configure(name, exchange, base_url)


def pro_exchange(name: str, base_url: str | None = None) -> Any:
    """A `ccxt.pro` exchange that returns its whole liquidation cache per update (newUpdates
    off), so several liquidations in one message are never lost."""
    import ccxt.pro as ccxtpro

    exchange = getattr(ccxtpro, name)({"enableRateLimit": True, "newUpdates": False})
    if base_url:
        rewrite_urls(exchange, base_url)
    return exchange
