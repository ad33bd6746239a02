"""Live market data through ccxt REST: the one module that talks to the exchanges.

One long-lived `ccxt.async_support` exchange per venue, markets loaded once at start and
refreshed in the background. `fetch_asset` turns raw venue answers into an `AssetData`
(SPEC §1); raw ccxt dicts never leave this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import itertools
import logging
import sqlite3
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import ccxt.async_support as ccxt_async
import pandas as pd
from ccxt.base.errors import BadRequest, BaseError, NetworkError
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from settings import Settings
from signals.cache import TtlCache
from signals.errors import NoMarketData, UnknownAsset, VenueUnavailable
from signals.market import (
    DAY_MS,
    DEFAULT_MMR,
    HOUR_MS,
    OHLCV_COLUMNS,
    AssetData,
    VenueFunding,
    frame_from_rows,
    series_from_rows,
)
from signals.skew import OptionQuote, parse_option_name, rr25_constant_maturity
from signals.store import Store

log = logging.getLogger(__name__)

T = TypeVar("T")

# TTLs per metric: price, OI and funding move within the minute; skew is slower
PRICE_TTL_S = 60.0
OI_TTL_S = 60.0
FUNDING_TTL_S = 60.0
SKEW_TTL_S = 300.0
# venue-wide lookups that change rarely (Binance funding intervals)
FUNDING_INFO_TTL_S = 3600.0

DEFAULT_INTERVAL_HOURS = 8.0
SKEW_METRIC = "rr25_30d"
SKEW_HISTORY_MS = 30 * DAY_MS

# history depth: ≥ 91 daily closes for vol expansion, ≥ 25 hourly bars for 24h changes
OHLCV_1D_LIMIT = 120
OHLCV_1H_LIMIT = 200
OI_1H_LIMIT = 72
OI_1D_LIMIT = 30  # Binance keeps 30 days of OI statistics
FUNDING_HISTORY_LIMIT = 100  # ≥ 72 settlements: 3 days of a 1h interval

# retries on network errors only: few attempts, exponential backoff with full jitter
RETRY_ATTEMPTS = 3
RETRY_INITIAL_S = 0.1
RETRY_MAX_S = 0.5
# after a failed market load, leave the venue alone this long before trying again
MARKETS_RETRY_S = 30.0
# ccxt's rate limiter as a rolling window (OKX and Bybit count their limits per 2 s): the
# venue's sustained rate (1 cost unit per rateLimit ms) is kept, but one check's burst of
# requests goes out at once instead of being spaced rateLimit × cost apart
RATE_WINDOW_MS = 2000.0

# market types to load per venue (everything else is skipped at load time)
MARKET_TYPES: dict[str, list[str]] = {"bybit": ["linear"], "okx": ["swap"]}
# Deribit lists BTC and ETH options in their own currency, the rest as USDC linear options
DERIBIT_INVERSE = ("BTC", "ETH")

# ValueError etc. mean a payload ccxt could not parse (malformed JSON, wrong shape)
_MALFORMED = (KeyError, TypeError, ValueError, IndexError, AttributeError)


@dataclass(frozen=True)
class _Price:
    venue: str
    rows_1d: list[list[float]]
    rows_1h: list[list[float]]
    failed: tuple[str, ...] = ()


@dataclass(frozen=True)
class _VenueOi:
    venue: str
    rows_1h: list[tuple[int, float]]
    rows_1d: list[tuple[int, float]]
    in_base: bool  # True: base-coin amounts, converted with the bar's close


@dataclass(frozen=True)
class _VenueFundingRaw:
    venue: str
    rate: float | None
    interval_hours: float
    history: list[tuple[int, float]]


@dataclass(frozen=True)
class _Skew:
    rr: float | None
    venue: str | None
    ts: int
    failed: tuple[str, ...] = ()


class _AllFailed(Exception):
    """Every venue tried for one metric failed (not cached)."""

    def __init__(self, venues: Sequence[str]) -> None:
        super().__init__(", ".join(venues))
        self.venues = tuple(venues)


@dataclass
class _Venue:
    exchange: ccxt_async.Exchange
    markets_ok: bool = False
    markets_failed_at: float | None = None
    load_lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def _default_factory(venue: str) -> ccxt_async.Exchange:
    return getattr(ccxt_async, venue)({"enableRateLimit": True})


def _symbol(asset: str) -> str:
    return f"{asset}/USDT:USDT"


class LiveMarket:
    """Live `AssetData` for any asset with a USDT-margined perpetual on the configured venues."""

    def __init__(
        self,
        settings: Settings,
        store: Store | None = None,
        exchange_factory: Callable[[str], ccxt_async.Exchange] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.store = store
        self._factory = exchange_factory or _default_factory
        self._clock = clock
        self._cache = TtlCache(clock)
        self._venues: dict[str, _Venue] = {}
        self._refresh_task: asyncio.Task[None] | None = None
        # per asset: the cached parts the last AssetData was built from, and that AssetData
        self._assembled: dict[str, tuple[list[Any], AssetData]] = {}

    # ---- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Create one exchange per venue, load markets once, schedule their refresh."""
        names = list(dict.fromkeys([*self.settings.venues, *self.settings.options_venues]))
        for name in names:
            try:
                exchange = self._factory(name)
            except AttributeError:
                log.error("venue %r is not a ccxt exchange id: skipped", name)
                continue
            self._venues[name] = _Venue(self._configure(name, exchange))
        await asyncio.gather(*(self._load_markets(v) for v in self.settings.venues))
        self._refresh_task = asyncio.create_task(self._refresh_markets_forever())

    async def close(self) -> None:
        """Stop the refresh job, cancel in-flight fetches and close every exchange."""
        if self._refresh_task is not None:
            self._refresh_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresh_task
            self._refresh_task = None
        await self._cache.aclose()
        # concurrently: ccxt's close() lingers a quarter second per exchange
        results = await asyncio.gather(
            *(v.exchange.close() for v in self._venues.values()), return_exceptions=True
        )
        for name, result in zip(self._venues, results, strict=True):
            if isinstance(result, Exception):
                log.warning("closing %s failed: %r", name, result)
        self._venues.clear()

    def _configure(self, name: str, ex: ccxt_async.Exchange) -> ccxt_async.Exchange:
        ex.timeout = int(self.settings.request_timeout_s * 1000)
        types = MARKET_TYPES.get(name)
        if types is not None:
            current = ex.options.get("fetchMarkets")
            base = dict(current) if isinstance(current, dict) else {}
            ex.options["fetchMarkets"] = {**base, "types": types}
        # ccxt's default leaky bucket spaces every request by rateLimit × cost; a rolling
        # window keeps the venue's sustained limit but lets one check's requests go together
        ex.rateLimiterAlgorithm = "rollingWindow"
        ex.rollingWindowSize = RATE_WINDOW_MS
        ex.tokenBucket = None
        ex.init_rest_rate_limiter()
        return ex

    async def _load_markets(self, name: str, reload: bool = False) -> None:
        venue = self._venues.get(name)
        if venue is None:
            return
        async with venue.load_lock:
            if venue.markets_ok and not reload:
                return
            try:
                await asyncio.wait_for(
                    self._call(name, "markets", venue.exchange.load_markets, reload),
                    timeout=self.settings.check_budget_s * 2,
                )
            except (VenueUnavailable, TimeoutError) as e:
                venue.markets_failed_at = time.monotonic()
                log.warning("loading %s markets failed: %s", name, e)
                return
            venue.markets_ok = True
            venue.markets_failed_at = None
            log.info("%s: %d markets loaded", name, len(venue.exchange.markets or {}))

    async def _refresh_markets_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.markets_refresh_s)
            await asyncio.gather(
                *(self._load_markets(v, reload=True) for v in self.settings.venues)
            )

    async def _ensure_markets(self) -> None:
        """Retry, now, markets of perp venues whose load failed (not more than every 30 s)."""
        due = [
            name
            for name in self.settings.venues
            if name in self._venues
            and not self._venues[name].markets_ok
            and (
                self._venues[name].markets_failed_at is None
                or time.monotonic() - (self._venues[name].markets_failed_at or 0.0)
                >= MARKETS_RETRY_S
            )
        ]
        if due:
            await asyncio.gather(*(self._load_markets(v) for v in due))

    # ---- markets ------------------------------------------------------------------------

    def _lists(self, name: str, asset: str) -> bool:
        venue = self._venues.get(name)
        if venue is None or not venue.markets_ok:
            return False
        market = (venue.exchange.markets or {}).get(_symbol(asset))
        return market is not None and _is_usdt_perp(market)

    def known_assets(self) -> set[str]:
        """Base symbols with a USDT-margined linear perpetual on any venue."""
        result: set[str] = set()
        for name in self.settings.venues:
            venue = self._venues.get(name)
            if venue is None or not venue.markets_ok:
                continue
            for market in (venue.exchange.markets or {}).values():
                if _is_usdt_perp(market):
                    result.add(str(market["base"]))
        return result

    # ---- the check ----------------------------------------------------------------------

    async def fetch_asset(self, asset: str) -> tuple[int, AssetData]:
        """Fetch every SPEC §1 input for `asset` from the venues, within the check budget."""
        asset = asset.strip().upper()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.check_budget_s
        now_ms = int(self._clock() * 1000)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ensure_markets(), timeout=self.settings.check_budget_s)
        perp_venues = [v for v in self.settings.venues if v in self._venues]
        listing = [v for v in perp_venues if self._lists(v, asset)]
        unreachable = [v for v in perp_venues if not self._venues[v].markets_ok]
        if not listing:
            if len(unreachable) == len(perp_venues):
                raise NoMarketData(asset, "no venue reachable: " + ", ".join(unreachable))
            known = sorted(self.known_assets())
            matches = tuple(difflib.get_close_matches(asset, known, n=5, cutoff=0.6))
            raise UnknownAsset(asset, matches)

        jobs: dict[str, Awaitable[Any]] = {
            "price": self._cache.get(
                (asset, "price"), PRICE_TTL_S, lambda: self._fetch_price(asset, listing)
            ),
            "skew": self._cache.get((asset, "skew"), SKEW_TTL_S, lambda: self._fetch_skew(asset)),
        }
        if "bybit" in listing:
            jobs["mmr"] = self._cache.get(
                (asset, "mmr"), self.settings.markets_refresh_s, lambda: self._fetch_mmr(asset)
            )
        for v in listing:
            jobs[f"oi:{v}"] = self._cache.get(
                (asset, f"oi:{v}"), OI_TTL_S, _bind(self._fetch_oi, asset, v)
            )
            jobs[f"funding:{v}"] = self._cache.get(
                (asset, f"funding:{v}"), FUNDING_TTL_S, _bind(self._fetch_funding, asset, v)
            )
        results, timed_out = await _gather_until(jobs, deadline - loop.time())
        # a warm check gets the very same cached parts: reuse what they were built into
        # (holding the parts keeps them alive, so `is` cannot match a recycled object)
        parts: list[Any] = [*sorted(results.items()), timed_out, unreachable]
        memo = self._assembled.get(asset)
        if memo is not None and _same_parts(memo[0], parts):
            return now_ms, memo[1]
        data = self._assemble(asset, now_ms, listing, unreachable, results, timed_out)
        self._assembled[asset] = (parts, data)
        return now_ms, data

    def _assemble(
        self,
        asset: str,
        now_ms: int,
        listing: list[str],
        unreachable: list[str],
        results: dict[str, Any],
        timed_out: list[str],
    ) -> AssetData:
        failed: dict[str, str] = dict.fromkeys(unreachable, "markets unavailable")

        def mark_down(venues: Sequence[str], reason: str) -> None:
            for v in venues:
                failed.setdefault(v, reason)

        for job in timed_out:
            late = f"{job.split(':', 1)[0]}: no answer within the check budget"
            if job == "mmr":
                continue  # the default mmr stands in; Bybit's data may still be fine
            if job == "price":
                mark_down(listing[:1], late)
            elif job == "skew":
                opts = [v for v in self.settings.options_venues if v in self._venues]
                mark_down(opts[:1], late)
            elif ":" in job:
                mark_down([job.split(":", 1)[1]], late)
        for job, value in results.items():
            if job == "mmr":
                continue
            if isinstance(value, _AllFailed):
                mark_down(value.venues, f"{job}: failed")
            elif isinstance(value, VenueUnavailable):
                mark_down([value.venue], value.detail or f"{job}: failed")
        price = results.get("price")
        if isinstance(price, _Price):
            mark_down(price.failed, "price: failed")
        skew = results.get("skew")
        if isinstance(skew, _Skew):
            mark_down(skew.failed, "options: failed")

        ohlcv_1d = _ohlcv(price.rows_1d if isinstance(price, _Price) else [], now_ms, DAY_MS)
        ohlcv_1h = _ohlcv(price.rows_1h if isinstance(price, _Price) else [], now_ms, HOUR_MS)
        ois = [results[f"oi:{v}"] for v in listing if isinstance(results.get(f"oi:{v}"), _VenueOi)]
        oi_1h_by_venue = {o.venue: _oi_usd(o.rows_1h, o.in_base, ohlcv_1h, HOUR_MS) for o in ois}
        oi_1d_by_venue = {o.venue: _oi_usd(o.rows_1d, o.in_base, ohlcv_1d, DAY_MS) for o in ois}
        funding = tuple(
            VenueFunding(
                venue=f.venue,
                rate=f.rate,
                interval_hours=f.interval_hours,
                oi_usd=_last_value(oi_1h_by_venue.get(f.venue))
                or _last_value(oi_1d_by_venue.get(f.venue)),
                history=_series(f.history),
            )
            for v in listing
            if isinstance(f := results.get(f"funding:{v}"), _VenueFundingRaw)
        )
        skew_series, skew_venue = self._skew_series(asset, now_ms, skew)
        mmr = results.get("mmr")
        mmr_value = mmr if isinstance(mmr, float) else None
        sources: dict[str, Any] = {
            "price": price.venue if isinstance(price, _Price) else None,
            "oi": [v for v, s in oi_1h_by_venue.items() if len(s)],
            "funding": [f.venue for f in funding],
            "skew": skew_venue,
            "mmr": "bybit" if mmr_value is not None else "default",
            "fetched_at": now_ms,
        }
        data = AssetData(
            asset=asset,
            ohlcv_1d=ohlcv_1d,
            ohlcv_1h=ohlcv_1h,
            oi_usd_1h=_sum_common(list(oi_1h_by_venue.values())),
            oi_usd_1d=_sum_common(list(oi_1d_by_venue.values())),
            funding=funding,
            skew_rr25_30d=skew_series,
            mmr=mmr_value if mmr_value is not None else DEFAULT_MMR,
            sources=sources,
            venues_used=_used_venues(sources),
            venues_failed=failed,
        )
        if not data.has_any_data():
            raise NoMarketData(asset, "every venue failed: " + ", ".join(failed))
        return data

    def _skew_series(self, asset: str, now_ms: int, skew: Any) -> tuple[pd.Series, str | None]:
        fresh = skew if isinstance(skew, _Skew) and skew.rr is not None else None
        rows: list[tuple[int, float]] = []
        if self.store is not None:
            try:
                rows = self.store.read_samples(
                    asset, SKEW_METRIC, since_ms=now_ms - SKEW_HISTORY_MS
                )
            except sqlite3.Error as e:
                log.warning("reading skew history for %s failed: %s", asset, e)
        if fresh is not None and fresh.rr is not None and all(ts != fresh.ts for ts, _ in rows):
            rows = sorted([*rows, (fresh.ts, fresh.rr)])
        return _series(rows), fresh.venue if fresh else None

    # ---- one ccxt request, with retries ------------------------------------------------

    async def _call(
        self,
        venue: str,
        what: str,
        fn: Callable[..., Awaitable[T]],
        *args: Any,
        absent_on: tuple[type[BaseException], ...] = (),
        **kwargs: Any,
    ) -> T:
        """Run one ccxt call; retry network errors only; raise VenueUnavailable on failure."""
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(NetworkError),
                stop=stop_after_attempt(RETRY_ATTEMPTS)
                | stop_after_delay(self.settings.check_budget_s),
                wait=wait_random_exponential(multiplier=RETRY_INITIAL_S, max=RETRY_MAX_S),
                reraise=True,
            ):
                with attempt:
                    return await fn(*args, **kwargs)
        except absent_on:
            raise
        except BaseError as e:
            log.warning("%s %s failed: %s: %s", venue, what, type(e).__name__, str(e)[:200])
            raise VenueUnavailable(venue, f"{what}: {type(e).__name__}") from e
        except _MALFORMED as e:
            log.warning("%s %s: malformed response: %r", venue, what, e)
            raise VenueUnavailable(venue, f"{what}: malformed response") from e
        raise AssertionError("unreachable: tenacity either returns or raises")

    # ---- per-metric fetches (cached by the caller) -------------------------------------

    async def _fetch_price(self, asset: str, listing: list[str]) -> _Price:
        """Daily and hourly candles from the first listing venue that answers."""
        failed: list[str] = []
        for name in listing:
            ex = self._venues[name].exchange
            try:
                rows_1d, rows_1h = await _all_or_none(
                    self._call(
                        name,
                        "ohlcv 1d",
                        ex.fetch_ohlcv,
                        _symbol(asset),
                        "1d",
                        limit=OHLCV_1D_LIMIT,
                    ),
                    self._call(
                        name,
                        "ohlcv 1h",
                        ex.fetch_ohlcv,
                        _symbol(asset),
                        "1h",
                        limit=OHLCV_1H_LIMIT,
                    ),
                )
            except VenueUnavailable:
                failed.append(name)
                continue
            return _Price(name, _candle_rows(rows_1d), _candle_rows(rows_1h), tuple(failed))
        raise _AllFailed(failed)

    async def _fetch_oi(self, asset: str, name: str) -> _VenueOi:
        """Hourly and daily open-interest history of one venue, in USD or base coins."""
        ex = self._venues[name].exchange
        hist_1h, hist_1d = await _all_or_none(
            self._call(
                name,
                "oi 1h",
                ex.fetch_open_interest_history,
                _symbol(asset),
                "1h",
                limit=OI_1H_LIMIT,
            ),
            self._call(
                name,
                "oi 1d",
                ex.fetch_open_interest_history,
                _symbol(asset),
                "1d",
                limit=OI_1D_LIMIT,
            ),
        )
        # Binance gives sumOpenInterestValue and OKX oiUsd (both USD, openInterestValue);
        # Bybit linear gives only the base-coin amount (openInterestAmount)
        in_base = not any(h.get("openInterestValue") is not None for h in [*hist_1h, *hist_1d])
        key = "openInterestAmount" if in_base else "openInterestValue"
        return _VenueOi(
            name,
            _points(hist_1h, key, HOUR_MS),
            _points(hist_1d, key, DAY_MS),
            in_base,
        )

    async def _fetch_funding(self, asset: str, name: str) -> _VenueFundingRaw:
        """Current (predicted) rate, real interval and settled history of one venue."""
        ex = self._venues[name].exchange
        symbol = _symbol(asset)
        # ccxt gives no interval for Binance: its funding-info lookup runs alongside
        current, history, binance_interval = await _all_or_none(
            self._call(name, "funding", ex.fetch_funding_rate, symbol),
            self._call(
                name,
                "funding history",
                ex.fetch_funding_rate_history,
                symbol,
                limit=FUNDING_HISTORY_LIMIT,
            ),
            self._binance_interval(asset) if name == "binanceusdm" else _none(),
        )
        rows = sorted(
            (int(h["timestamp"]), float(h["fundingRate"]))
            for h in history
            if h.get("timestamp") is not None and h.get("fundingRate") is not None
        )
        interval = _interval_hours(current.get("interval")) or binance_interval
        if interval is None:
            interval = _interval_from_history(rows) or DEFAULT_INTERVAL_HOURS
        rate = current.get("fundingRate")
        return _VenueFundingRaw(name, float(rate) if rate is not None else None, interval, rows)

    async def _binance_interval(self, asset: str) -> float | None:
        """Binance's funding interval: listed in fundingInfo only when not the 8h default."""
        try:
            intervals = await self._cache.get(
                ("*", "funding_info:binanceusdm"), FUNDING_INFO_TTL_S, self._fetch_binance_info
            )
        except VenueUnavailable:
            return None  # fall back to the spacing of the settled history
        return intervals.get(_symbol(asset), DEFAULT_INTERVAL_HOURS)

    async def _fetch_binance_info(self) -> dict[str, float]:
        ex = self._venues["binanceusdm"].exchange
        info = await self._call("binanceusdm", "funding info", ex.fetch_funding_intervals)
        result: dict[str, float] = {}
        for symbol, entry in info.items():
            hours = _interval_hours(entry.get("interval"))
            if hours is not None:
                result[symbol] = hours
        return result

    async def _fetch_mmr(self, asset: str) -> float | None:
        """Bybit's tier-1 maintenance margin rate, when it gives a plausible one."""
        ex = self._venues["bybit"].exchange
        tiers = await self._call(
            "bybit", "risk limit", ex.fetch_market_leverage_tiers, _symbol(asset)
        )
        if not tiers:
            return None
        mmr = tiers[0].get("maintenanceMarginRate")
        if mmr is None or not 0 < float(mmr) < 0.5:
            return None
        return float(mmr)

    async def _fetch_skew(self, asset: str) -> _Skew:
        """The 30-day 25Δ risk reversal from the first options venue listing the asset."""
        now_ms = int(self._clock() * 1000)
        failed: list[str] = []
        for name in self.settings.options_venues:
            if name not in self._venues:
                continue
            try:
                quotes = await self._option_quotes(name, asset)
            except VenueUnavailable:
                failed.append(name)
                continue
            if not quotes:
                continue
            rr = rr25_constant_maturity(quotes, now_ms)
            if rr is None:
                log.info("%s: %s options listed but no 25-delta pair brackets", name, asset)
                continue
            self._record_skew(asset, now_ms, rr)
            return _Skew(rr, name, now_ms, tuple(failed))
        if failed and len(failed) == len(
            [v for v in self.settings.options_venues if v in self._venues]
        ):
            raise _AllFailed(failed)
        return _Skew(None, None, now_ms, tuple(failed))

    def _record_skew(self, asset: str, ts: int, rr: float) -> None:
        if self.store is None:
            return
        try:
            self.store.record_samples(asset, SKEW_METRIC, [(ts, rr)])
        except sqlite3.Error as e:
            log.warning("recording skew for %s failed: %s", asset, e)

    async def _option_quotes(self, name: str, asset: str) -> list[OptionQuote]:
        if name == "deribit":
            currency = asset if asset in DERIBIT_INVERSE else "USDC"
            book = await self._cache.get(
                ("*", f"deribit_book:{currency}"),
                SKEW_TTL_S,
                _bind(self._fetch_deribit_book, currency),
            )
            return [q for base, q in book if base == asset]
        if name == "okx":
            return await self._okx_option_quotes(asset)
        if name == "bybit":
            return await self._bybit_option_quotes(asset)
        log.warning("options venue %s is not supported", name)
        return []

    async def _fetch_deribit_book(self, currency: str) -> list[tuple[str, OptionQuote]]:
        """One `get_book_summary_by_currency` request: every option of the currency."""
        ex = self._venues["deribit"].exchange
        response = await self._call(
            "deribit",
            "book summary",
            ex.publicGetGetBookSummaryByCurrency,
            {"currency": currency, "kind": "option"},
        )
        result: list[tuple[str, OptionQuote]] = []
        for row in response.get("result") or []:
            quote = _quote(
                row.get("instrument_name"), row.get("mark_iv"), row.get("underlying_price"), 1.0
            )
            if quote is not None:
                result.append(quote)
        return result

    async def _okx_option_quotes(self, asset: str) -> list[OptionQuote]:
        ex = self._venues["okx"].exchange
        try:
            response = await self._call(
                "okx",
                "option summary",
                ex.publicGetPublicOptSummary,
                {"uly": f"{asset}-USD"},
                absent_on=(BadRequest,),
            )
        except BadRequest:
            return []  # OKX lists no options on this underlying
        rows = [
            _quote(r.get("instId"), r.get("markVol"), r.get("fwdPx"), 100.0)
            for r in response.get("data") or []
        ]
        return [q for base, q in filter(None, rows) if base == asset]

    async def _bybit_option_quotes(self, asset: str) -> list[OptionQuote]:
        ex = self._venues["bybit"].exchange
        try:
            response = await self._call(
                "bybit",
                "option tickers",
                ex.publicGetV5MarketTickers,
                {"category": "option", "baseCoin": asset},
                absent_on=(BadRequest,),
            )
        except BadRequest:
            return []
        rows = [
            _quote(r.get("symbol"), r.get("markIv"), r.get("underlyingPrice"), 100.0)
            for r in (response.get("result") or {}).get("list") or []
        ]
        return [q for base, q in filter(None, rows) if base == asset]


# ---- helpers ----------------------------------------------------------------------------


def _used_venues(sources: dict[str, Any]) -> tuple[str, ...]:
    """Every venue named as the source of some metric, in first-use order."""
    names: list[str] = []
    for key in ("price", "oi", "funding", "skew", "mmr"):
        value = sources.get(key)
        for name in value if isinstance(value, list) else [value]:
            if isinstance(name, str) and name != "default" and name not in names:
                names.append(name)
    return tuple(names)


def _same_parts(old: list[Any], new: list[Any]) -> bool:
    """True when every cached result is the identical object and the misses are equal."""
    if len(old) != len(new):
        return False
    *old_results, old_late, old_unreachable = old
    *new_results, new_late, new_unreachable = new
    return (
        old_late == new_late
        and old_unreachable == new_unreachable
        and all(
            a[0] == b[0] and a[1] is b[1] for a, b in zip(old_results, new_results, strict=True)
        )
    )


def _series(rows: Sequence[tuple[int, float]]) -> pd.Series:
    return series_from_rows([(float(ts), value) for ts, value in rows])


async def _all_or_none(*aws: Awaitable[Any]) -> list[Any]:
    """Await all concurrently; on the first failure cancel the rest and raise that failure.

    Sibling requests of a failed venue must not linger (retrying, holding the budget) once
    the metric is lost anyway.
    """
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(_as_coroutine(aw)) for aw in aws]
    except ExceptionGroup as eg:  # KeyboardInterrupt/SystemExit come through unwrapped
        first = eg.exceptions[0]
        raise first from None
    return [t.result() for t in tasks]


async def _as_coroutine(aw: Awaitable[T]) -> T:
    return await aw


async def _none() -> None:
    return None


def _bind(fn: Callable[..., Awaitable[T]], *args: Any) -> Callable[[], Awaitable[T]]:
    return lambda: fn(*args)


async def _gather_until(
    jobs: dict[str, Awaitable[Any]], timeout_s: float
) -> tuple[dict[str, Any], list[str]]:
    """Run jobs concurrently up to the deadline: results (or our errors) and the late ones."""
    tasks = {name: asyncio.ensure_future(job) for name, job in jobs.items()}
    if tasks:
        await asyncio.wait(tasks.values(), timeout=max(timeout_s, 0.0))
    results: dict[str, Any] = {}
    late: list[str] = []
    for name, task in tasks.items():
        if not task.done():
            task.cancel()  # only our wait on the shared fetch; the fetch itself goes on
            late.append(name)
            continue
        exc = task.exception()
        if exc is None:
            results[name] = task.result()
        elif isinstance(exc, VenueUnavailable | _AllFailed):
            results[name] = exc
        else:
            raise exc
    return results, late


def _is_usdt_perp(market: dict[str, Any]) -> bool:
    return bool(
        market.get("swap")
        and market.get("linear")
        and market.get("quote") == "USDT"
        and market.get("settle") == "USDT"
        and market.get("active") is not False
    )


def _candle_rows(rows: list[list[Any]]) -> list[list[float]]:
    return [
        [float(r[0]), *(float(x) for x in r[1:6])]
        for r in rows
        if len(r) >= 6 and all(x is not None for x in r[:6])
    ]


def _ohlcv(rows: list[list[float]], now_ms: int, bar_ms: int) -> pd.DataFrame:
    """Closed candles only: the bar still forming at `now_ms` is dropped."""
    closed = sorted((r for r in rows if int(r[0]) + bar_ms <= now_ms), key=lambda r: r[0])
    return frame_from_rows([[int(r[0]), *r[1:6]] for r in closed], OHLCV_COLUMNS)


def _points(history: list[dict[str, Any]], key: str, bar_ms: int) -> list[tuple[int, float]]:
    """`[ts, value]` rows on bar boundaries (a venue's ts may lag the boundary by a little)."""
    by_ts: dict[int, float] = {}
    for h in history:
        ts, value = h.get("timestamp"), h.get(key)
        if ts is None or value is None:
            continue
        by_ts[int(ts) - int(ts) % bar_ms] = float(value)
    return sorted(by_ts.items())


def _oi_usd(
    rows: list[tuple[int, float]], in_base: bool, ohlcv: pd.DataFrame, bar_ms: int
) -> pd.Series:
    """OI in USD; base-coin amounts × the close of the bar ending at that point."""
    series = _series(rows)
    if not in_base or not len(series):
        return series
    if not len(ohlcv):
        return _series([])
    closes = pd.Series(
        ohlcv["close"].to_numpy(), index=ohlcv.index.to_numpy() + bar_ms, dtype="float64"
    )
    price = closes.reindex(series.index, method="ffill")
    usd = (series * price.to_numpy()).dropna()
    usd.index.name = "ts"
    return usd


def _sum_common(series: list[pd.Series]) -> pd.Series:
    """Sum over venues at the bars every venue has (a venue's short history trims the sum)."""
    present = [s for s in series if len(s)]
    if not present:
        return _series([])
    frame = pd.concat(present, axis=1, join="inner")
    total = frame.sum(axis=1).astype("float64")
    total.index.name = "ts"
    return total.sort_index()


def _last_value(series: pd.Series | None) -> float | None:
    if series is None or not len(series):
        return None
    return float(series.iloc[-1])


def _interval_hours(interval: Any) -> float | None:
    """ccxt's funding interval string ('8h', '4h', '1h') in hours."""
    if not isinstance(interval, str) or not interval.endswith("h"):
        return None
    try:
        hours = float(interval[:-1])
    except ValueError:
        return None
    return hours if hours > 0 else None


def _interval_from_history(rows: list[tuple[int, float]]) -> float | None:
    """The usual spacing of settlements, for a venue that does not say its interval."""
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(rows) if b[0] > a[0]]
    if not gaps:
        return None
    return round(statistics.median(gaps) / HOUR_MS, 2)


def _quote(name: Any, iv: Any, forward: Any, iv_scale: float) -> tuple[str, OptionQuote] | None:
    """An option quote from its name, mark IV (× iv_scale → vol points) and forward."""
    if not isinstance(name, str) or iv in (None, "") or forward in (None, ""):
        return None
    parsed = parse_option_name(name)
    if parsed is None:
        return None
    try:
        iv_points, fwd = float(iv) * iv_scale, float(forward)
    except (TypeError, ValueError):
        return None
    if iv_points <= 0 or fwd <= 0:
        return None
    return parsed.base, OptionQuote(
        parsed.expiry_ms, parsed.strike, parsed.is_call, iv_points, fwd
    )
