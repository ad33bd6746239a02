"""Live market data through ccxt REST: venue lifecycle, the check's fan-out and budget, and the
per-metric fetches. Raw ccxt answers never leave this module: every one goes through
`signals.venue_policy` (timeout, retries, Retry-After, cool-down, validation) and
`signals.convert` (payload rows → typed series).

One budget (`check_budget_s`) covers a whole check, the wait for markets still loading
included: whatever has not answered by then is left out and named, and its request keeps
running to fill the cache for the next check. A venue that failed is retried in the
background (markets every 30 s; a cooled-down venue by the policy), never inside a check.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import ccxt.async_support as ccxt_async
from ccxt.base.errors import BadRequest

from settings import Settings
from signals import convert
from signals.cache import SHARED, LruDict, TtlCache
from signals.errors import NoMarketData, UnknownAsset, VenueUnavailable
from signals.exchanges import open_session, rest_exchange
from signals.market import DAY_MS, DEFAULT_MMR, HOUR_MS, AssetData, VenueFunding
from signals.skew import OptionQuote, rr25_constant_maturity
from signals.venue_policy import EmptyAnswer, RequestPolicy, VenueFailure

log = logging.getLogger(__name__)

T = TypeVar("T")

# TTLs per metric: the current funding rate moves within the minute; skew is slower. Closed
# bars (candles, OI) and settled funding live until the next one is due (`_until_next_bar`):
# refetching them sooner can only return the same rows.
PRICE_TTL_S = 60.0
OI_TTL_S = 60.0
FUNDING_TTL_S = 60.0
SKEW_TTL_S = 300.0
# a bar (or settlement) is asked for again this long after it closes: venues publish it a
# moment late; until it is there, the series is asked again every short TTL
BAR_PUBLISH_LAG_S = 10.0
# venue-wide lookups that change rarely (Binance funding intervals): loaded with the markets
FUNDING_INFO_TTL_S = 3600.0

# history depth: ≥ 91 daily closes for vol expansion, ≥ 25 hourly bars for 24h changes
OHLCV_1D_LIMIT = 120
OHLCV_1H_LIMIT = 200
OI_1H_LIMIT = 72
OI_1D_LIMIT = 30  # Binance keeps 30 days of OI statistics
FUNDING_HISTORY_LIMIT = 100  # ≥ 72 settlements: 3 days of a 1h interval
# OKX's "1D" OI days are Hong-Kong days (stamped 16:00 UTC); "1Dutc" gives UTC days
OKX_DAILY_OI_PERIOD = "1Dutc"

# after a failed market load, the background retries it this often
MARKETS_RETRY_S = 30.0

# Deribit lists BTC and ETH options in their own currency, the rest as USDC linear options
DERIBIT_INVERSE = ("BTC", "ETH")


@dataclass(frozen=True)
class _Candles:
    """Closed candles as read: the bar still forming when they were read is cut there."""

    frame: Any  # the SPEC ohlcv frame (numpy-backed: a few KB, not lists of floats)
    newest_open: int | None  # the open of the newest closed bar


@dataclass(frozen=True)
class _Price:
    venue: str
    daily: _Candles
    hourly: _Candles
    failed: dict[str, str] = field(default_factory=dict)
    # the price job lives no longer than the candles it was built from
    expires_at: float = field(default=float("inf"), compare=False)


@dataclass(frozen=True)
class _History:
    """A venue's settled funding, or why it could not be read (kept for the short TTL)."""

    rows: list[tuple[int, float]]
    failure: str | None = None


@dataclass(frozen=True)
class _Oi:
    venue: str
    bars: list[tuple[int, float]]
    in_base: bool  # True: base-coin amounts, converted with the bar's close


@dataclass(frozen=True)
class _Funding:
    venue: str
    rate: float
    interval_hours: float
    history: list[tuple[int, float]]
    history_failure: str | None = None
    # the funding job lives no longer than the settled history it holds
    expires_at: float = field(default=float("inf"), compare=False)


@dataclass(frozen=True)
class _Skew:
    rr: float | None
    venue: str | None
    ts: int
    failed: dict[str, str] = field(default_factory=dict)


class _AllFailed(Exception):
    """Every venue tried for one metric failed (not cached)."""

    def __init__(self, failed: dict[str, str]) -> None:
        super().__init__(", ".join(f"{v}: {r}" for v, r in failed.items()))
        self.failed = dict(failed)


@dataclass
class _Venue:
    exchange: ccxt_async.Exchange
    load_task: asyncio.Task[None] | None = None
    failure: str | None = None  # why its markets are not loaded
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def markets_ok(self) -> bool:
        return bool(self.exchange.markets)


def _symbol(asset: str) -> str:
    return f"{asset}/USDT:USDT"


class LiveMarket:
    """Live `AssetData` for any asset with a USDT-margined perpetual on the configured venues."""

    def __init__(
        self,
        settings: Settings,
        exchange_factory: Callable[[str], ccxt_async.Exchange] | None = None,
        clock: Callable[[], float] = time.time,
        policy: RequestPolicy | None = None,
    ) -> None:
        self.settings = settings
        self._factory = exchange_factory or (
            lambda name: rest_exchange(name, settings.venue_base_url)
        )
        self._clock = clock
        self.policy = policy or RequestPolicy(settings.request_timeout_s, clock)
        self._cache = TtlCache(clock)
        self._venues: dict[str, _Venue] = {}
        self._tasks: list[asyncio.Task[None]] = []
        # every per-asset memory is bounded, least recently used asset out first
        # per asset: the cached parts the last AssetData was built from, and that AssetData
        self._assembled: LruDict = LruDict(self._cache.max_assets)
        # (asset, job) → the venue a multi-venue job (price, skew) is waiting on right now
        self._trying: LruDict = LruDict(2 * self._cache.max_assets)
        # (venue, asset) → (lists options?, until when that is known): which venues to ask
        self._option_listing: LruDict = LruDict(4 * self._cache.max_assets)

    # ---- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Create one exchange per venue and start loading markets (a check waits for them
        within its budget); schedule the market refresh and the retry of failed loads."""
        names = list(dict.fromkeys([*self.settings.venues, *self.settings.options_venues]))
        for name in names:
            try:
                exchange = self._factory(name)
            except AttributeError:
                log.error("venue %r is not a ccxt exchange id: skipped", name)
                continue
            self._venues[name] = _Venue(self.policy.install(name, exchange))
            # the session (and the shared SSL context) now, not inside the first check
            open_session(exchange)
        for name in self.settings.venues:
            venue = self._venues.get(name)
            if venue is not None:
                venue.load_task = asyncio.create_task(self._load_markets(name))
        self._tasks = [
            asyncio.create_task(self._refresh_markets_forever()),
            asyncio.create_task(self._retry_failed_markets_forever()),
        ]

    async def ready(self, timeout_s: float | None = None) -> None:
        """Wait (up to `timeout_s`) until every first market load has finished."""
        pending = [v.load_task for v in self._venues.values() if v.load_task is not None]
        if pending:
            await asyncio.wait(pending, timeout=timeout_s)

    async def close(self) -> None:
        """Stop background work, cancel in-flight fetches and close every exchange."""
        tasks = [*self._tasks, *(v.load_task for v in self._venues.values() if v.load_task)]
        self._tasks = []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.policy.aclose()
        await self._cache.aclose()
        # concurrently: ccxt's close() lingers a quarter second per exchange
        results = await asyncio.gather(
            *(v.exchange.close() for v in self._venues.values()), return_exceptions=True
        )
        for name, result in zip(self._venues, results, strict=True):
            if isinstance(result, Exception):
                log.warning("closing %s failed: %r", name, result)
        self._venues.clear()

    async def _load_markets(self, name: str, reload: bool = False) -> None:
        venue = self._venues.get(name)
        if venue is None:
            return
        async with venue.lock:
            if venue.markets_ok and not reload:
                return
            try:
                await self.policy.call(
                    name, "markets", venue.exchange.load_markets, reload, probe=reload
                )
            except VenueUnavailable as e:
                if not venue.markets_ok:  # a failed refresh keeps the markets it had
                    venue.failure = _markets_reason(e.detail)
                log.warning("loading %s markets failed: %s", name, e.detail)
                return
            venue.failure = None
            log.info("%s: %d markets loaded", name, len(venue.exchange.markets or {}))
        if name == "binanceusdm":
            # venue-wide, like the markets: loaded with them, so no check waits for it
            await self._binance_intervals(None, refresh=reload)

    async def _refresh_markets_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.markets_refresh_s)
            await asyncio.gather(
                *(self._load_markets(v, reload=True) for v in self.settings.venues)
            )

    async def _retry_failed_markets_forever(self) -> None:
        """A venue whose markets failed is retried here, never inside a check."""
        while True:
            await asyncio.sleep(MARKETS_RETRY_S)
            due = [
                name
                for name, venue in self._venues.items()
                if name in self.settings.venues
                and not venue.markets_ok
                and (venue.load_task is None or venue.load_task.done())
                and self.policy.cooling(name) is None
            ]
            await asyncio.gather(*(self._load_markets(name) for name in due))

    # ---- markets ------------------------------------------------------------------------

    def _lists(self, name: str, asset: str) -> bool:
        venue = self._venues.get(name)
        if venue is None or not venue.markets_ok:
            return False
        market = (venue.exchange.markets or {}).get(_symbol(asset))
        return market is not None and _is_usdt_perp(market)

    def exchange_with_markets(self, name: str) -> ccxt_async.Exchange | None:
        """The venue's exchange if its markets are loaded (shared with the collector's)."""
        venue = self._venues.get(name)
        return venue.exchange if venue is not None and venue.markets_ok else None

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

    def _markets_failure(self, name: str) -> str:
        """Why a venue's markets are not there, as of now (a cool-down counts down)."""
        cooling = self.policy.cooling(name)
        if cooling is not None:
            return _markets_reason(cooling)
        return self._venues[name].failure or "markets: still loading at the end of the budget"

    def _market_id(self, name: str, asset: str) -> str:
        return str(self._venues[name].exchange.markets[_symbol(asset)]["id"])

    # ---- the check ----------------------------------------------------------------------

    async def fetch_asset(self, asset: str) -> tuple[int, AssetData]:
        """Fetch every SPEC §1 input for `asset` from the venues, within the check budget.

        `asof` is stamped when the reads are over (SPEC §1), so every sample fetched for the
        check — the fresh skew sample included — is at or before it.
        """
        asset = asset.strip().upper()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.check_budget_s
        await self.ready(max(deadline - loop.time(), 0.0))
        perp_venues = [v for v in self.settings.venues if v in self._venues]
        listing = [v for v in perp_venues if self._lists(v, asset)]
        unreachable = {
            v: self._markets_failure(v) for v in perp_venues if not self._venues[v].markets_ok
        }
        if not listing:
            if len(unreachable) == len(perp_venues):
                detail = "; ".join(f"{v}: {r}" for v, r in unreachable.items())
                raise NoMarketData(asset, "no venue reachable: " + (detail or "none configured"))
            known = sorted(self.known_assets())
            matches = tuple(difflib.get_close_matches(asset, known, n=5, cutoff=0.6))
            raise UnknownAsset(asset, matches)

        jobs = self._jobs(asset, listing, deadline)
        results, late = await _gather_until(jobs, deadline - loop.time())
        asof_ms = int(self._clock() * 1000)
        # a warm check gets the very same cached parts: reuse what they were built into, and
        # the time they were read (the state is no fresher than that: everything keyed on
        # asset and data time — a chart — is then made once for it). Holding the parts
        # keeps them alive, so `is` cannot match a recycled object.
        parts: list[Any] = [*sorted(results.items()), late, sorted(unreachable.items())]
        memo = self._assembled.get(asset)
        if memo is not None and _same_parts(memo[0], parts):
            return memo[1], memo[2]
        late_reasons = {job: self._late_venue(asset, job, listing) for job in late}
        data = _assemble(asset, asof_ms, listing, unreachable, results, late_reasons, self)
        self._assembled[asset] = (parts, asof_ms, data)
        return asof_ms, data

    def _jobs(self, asset: str, listing: list[str], deadline: float) -> dict[str, Awaitable[Any]]:
        cache = self._cache
        jobs: dict[str, Awaitable[Any]] = {
            "price": cache.get(
                (asset, "price"),
                _no_longer_than(PRICE_TTL_S),
                lambda: self._fetch_price(asset, listing, deadline),
            ),
            "skew": cache.get(
                (asset, "skew"), SKEW_TTL_S, lambda: self._fetch_skew(asset, deadline)
            ),
        }
        if "bybit" in listing:
            jobs["mmr"] = cache.get(
                (asset, "mmr"),
                self.settings.markets_refresh_s,
                lambda: self._fetch_mmr(asset, deadline),
            )
        for v in listing:
            for timeframe, bar_ms in (("1h", HOUR_MS), ("1d", DAY_MS)):
                jobs[f"oi_{timeframe}:{v}"] = cache.get(
                    (asset, f"oi_{timeframe}:{v}"),
                    _until_next_bar(bar_ms, OI_TTL_S, _newest_oi_bar),
                    _bind(self._fetch_oi, asset, v, timeframe, deadline),
                )
            jobs[f"funding:{v}"] = cache.get(
                (asset, f"funding:{v}"),
                _no_longer_than(FUNDING_TTL_S),
                _bind(self._fetch_funding, asset, v, deadline),
            )
        return jobs

    def _late_venue(self, asset: str, job: str, listing: list[str]) -> tuple[str, str]:
        """(venue, reason) for a job still running when the budget ended."""
        metric, _, venue = job.partition(":")
        if not venue:
            opts = [v for v in self.settings.options_venues if v in self._venues]
            fallback = listing[0] if metric in ("price", "mmr") else (opts[0] if opts else "")
            venue = self._trying.get((asset, metric), "bybit" if metric == "mmr" else fallback)
        budget = f"{self.settings.check_budget_s:g} s"
        label = {"oi_1h": "open interest 1h", "oi_1d": "open interest 1d"}.get(metric, metric)
        return venue, f"{label}: no answer within the {budget} check budget"

    # ---- per-metric fetches (cached by the caller) -------------------------------------

    async def _fetch_price(self, asset: str, listing: list[str], deadline: float) -> _Price:
        """Daily and hourly candles from the first listing venue that answers them both.

        Each series is cached on its own until its next bar closes, so the minute's refresh
        of the price job asks nothing until then."""
        failed: dict[str, str] = {}
        for name in listing:
            self._trying[(asset, "price")] = name
            try:
                daily, hourly = await _all_or_none(
                    self._cache.get(
                        (asset, f"ohlcv_1d:{name}"),
                        _until_next_bar(DAY_MS, PRICE_TTL_S, _newest_candle),
                        _bind(self._fetch_candles, asset, name, "1d", deadline),
                    ),
                    self._cache.get(
                        (asset, f"ohlcv_1h:{name}"),
                        _until_next_bar(HOUR_MS, PRICE_TTL_S, _newest_candle),
                        _bind(self._fetch_candles, asset, name, "1h", deadline),
                    ),
                )
            except VenueUnavailable as e:
                failed[name] = e.detail
                continue
            expires = self._expiry((asset, f"ohlcv_1d:{name}"), (asset, f"ohlcv_1h:{name}"))
            return _Price(name, daily, hourly, failed, expires)
        raise _AllFailed(failed)

    def _expiry(self, *keys: tuple[str, str]) -> float:
        found = [t for k in keys if (t := self._cache.expires_at(k)) is not None]
        return min(found, default=float("inf"))

    async def _fetch_candles(
        self, asset: str, name: str, timeframe: str, deadline: float
    ) -> _Candles:
        ex = self._venues[name].exchange
        limit = OHLCV_1D_LIMIT if timeframe == "1d" else OHLCV_1H_LIMIT
        bar_ms = DAY_MS if timeframe == "1d" else HOUR_MS
        rows = await self.policy.call(
            name,
            f"ohlcv {timeframe}",
            ex.fetch_ohlcv,
            _symbol(asset),
            timeframe,
            limit=limit,
            deadline=deadline,
            validate=convert.candle_rows,
        )
        frame = convert.closed_ohlcv(rows, int(self._clock() * 1000), bar_ms)
        return _Candles(frame, int(frame.index[-1]) if len(frame) else None)

    async def _fetch_oi(self, asset: str, name: str, timeframe: str, deadline: float) -> _Oi:
        """Hourly or daily open-interest snapshots of one venue, as bars (USD or base coins)."""
        ex = self._venues[name].exchange
        bar_ms = HOUR_MS if timeframe == "1h" else DAY_MS
        params = {"period": OKX_DAILY_OI_PERIOD} if name == "okx" and timeframe == "1d" else {}
        limit = OI_1H_LIMIT if timeframe == "1h" else OI_1D_LIMIT
        history = await self.policy.call(
            name,
            f"open interest {timeframe}",
            ex.fetch_open_interest_history,
            _symbol(asset),
            timeframe,
            None,
            limit,
            params,
            deadline=deadline,
            validate=_non_empty,
        )
        key, in_base = convert.oi_key(history)
        cut_ms = int(self._clock() * 1000)
        try:
            bars = convert.oi_bars(history, key, bar_ms, cut_ms=cut_ms)
        except EmptyAnswer as e:
            raise VenueFailure(name, f"open interest {timeframe}: {e}") from e
        return _Oi(name, bars, in_base)

    async def _fetch_funding(self, asset: str, name: str, deadline: float) -> _Funding:
        """Current (predicted) rate, real interval and settled history of one venue.

        The settled history is cached on its own until the next settlement is due; only the
        current rate is asked every minute."""
        ex = self._venues[name].exchange
        symbol = _symbol(asset)
        # the history and the Binance interval lookup run alongside the current rate; only the
        # current rate is required ("its current rate then stands alone")
        history_task = asyncio.ensure_future(
            self._cache.get(
                (asset, f"funding_history:{name}"),
                _until_next_settlement,
                _bind(self._fetch_funding_history, symbol, name, deadline),
            )
        )
        interval_task = asyncio.ensure_future(
            self._binance_interval(asset, deadline) if name == "binanceusdm" else _none()
        )
        try:
            answer = await self.policy.call(
                name, "funding", ex.fetch_funding_rate, symbol, deadline=deadline
            )
            rate = convert.current_rate(answer)
        except (VenueUnavailable, EmptyAnswer) as e:
            history_task.cancel()  # only this wait: the shared history fetch goes on
            interval_task.cancel()
            await asyncio.gather(history_task, interval_task, return_exceptions=True)
            if isinstance(e, VenueUnavailable):
                raise
            raise VenueFailure(name, f"empty answer to funding ({e})") from e
        except Exception:
            history_task.cancel()
            interval_task.cancel()
            raise
        history: _History = await history_task
        binance_interval = await interval_task
        interval = convert.interval_hours(answer.get("interval")) or binance_interval
        if interval is None:
            interval = (
                convert.interval_from_history(history.rows) or convert.DEFAULT_INTERVAL_HOURS
            )
        expires = self._expiry((asset, f"funding_history:{name}"))
        return _Funding(name, rate, interval, history.rows, history.failure, expires)

    async def _fetch_funding_history(self, symbol: str, name: str, deadline: float) -> _History:
        ex = self._venues[name].exchange
        try:
            rows = await self.policy.call(
                name,
                "funding history",
                ex.fetch_funding_rate_history,
                symbol,
                limit=FUNDING_HISTORY_LIMIT,
                deadline=deadline,
                validate=convert.funding_history,
            )
        except VenueUnavailable as e:
            return _History([], e.detail)  # kept for the short TTL, like a failed minute
        return _History(rows)

    async def _binance_interval(self, asset: str, deadline: float) -> float | None:
        """Binance's funding interval: listed in fundingInfo only when not the 8h default."""
        try:
            intervals = await self._binance_intervals(deadline)
        except VenueUnavailable:
            return None  # fall back to the spacing of the settled history
        return intervals.get(_symbol(asset), convert.DEFAULT_INTERVAL_HOURS)

    async def _binance_intervals(
        self, deadline: float | None, refresh: bool = False
    ) -> dict[str, float]:
        """Binance's venue-wide fundingInfo, cached like the markets it is loaded with."""
        key = (SHARED, "funding_info:binanceusdm")
        if refresh:
            self._cache.invalidate(key)
        try:
            return await self._cache.get(  # type: ignore[no-any-return]
                key,
                max(FUNDING_INFO_TTL_S, self.settings.markets_refresh_s),
                lambda: self._fetch_binance_info(deadline),
            )
        except VenueUnavailable:
            if deadline is None:  # the load with the markets: a check will ask again
                return {}
            raise

    async def _fetch_binance_info(self, deadline: float | None) -> dict[str, float]:
        ex = self._venues["binanceusdm"].exchange
        return await self.policy.call(  # type: ignore[no-any-return]
            "binanceusdm",
            "funding info",
            ex.fetch_funding_intervals,
            deadline=deadline,
            validate=convert.binance_intervals,
        )

    async def _fetch_mmr(self, asset: str, deadline: float) -> float:
        """Bybit's maintenance margin rate of the lowest risk tier."""
        ex = self._venues["bybit"].exchange
        return await self.policy.call(  # type: ignore[no-any-return]
            "bybit",
            "risk limit",
            ex.publicGetV5MarketRiskLimit,
            {"category": "linear", "symbol": self._market_id("bybit", asset)},
            deadline=deadline,
            validate=convert.bybit_lowest_mmr,
        )

    # ---- skew ---------------------------------------------------------------------------

    async def _fetch_skew(self, asset: str, deadline: float) -> _Skew:
        """The 30-day 25Δ risk reversal from the first options venue (in preference order)
        that gives one.

        The venues that may list the asset are asked at once, not one after another: every
        venue up to the first known to list it (Deribit for BTC and ETH; a venue whose last
        answer listed it), skipping those known to list none. The next ones are asked only
        when those give no risk reversal. An asset with no options anywhere then costs no
        request at all until the markets are refreshed.
        """
        failed: dict[str, str] = {}
        candidates = [v for v in self.settings.options_venues if v in self._venues]
        tried = 0
        while candidates:
            batch: list[str] = []
            for name in list(candidates):
                candidates.remove(name)
                listed = self._listed(name, asset)
                if listed is False:
                    continue
                batch.append(name)
                if listed:
                    break
            tasks = {
                name: asyncio.ensure_future(self._option_quotes(name, asset, deadline))
                for name in batch
            }
            try:
                for name in batch:
                    tried += 1
                    self._trying[(asset, "skew")] = name
                    try:
                        quotes = await tasks[name]
                    except VenueUnavailable as e:
                        failed[name] = e.detail
                        continue
                    read_ms = int(self._clock() * 1000)
                    self._note_listing(name, asset, bool(quotes))
                    if not quotes:
                        continue
                    rr = rr25_constant_maturity(quotes, read_ms)
                    if rr is None:
                        log.info("%s: %s options listed but no 25Δ pair brackets", name, asset)
                        continue
                    return _Skew(rr, name, read_ms, failed)
            finally:
                for task in tasks.values():
                    task.cancel()  # a less preferred venue's answer is not needed any more
                await asyncio.gather(*tasks.values(), return_exceptions=True)
        if failed and len(failed) == tried:
            raise _AllFailed(failed)
        return _Skew(None, None, int(self._clock() * 1000), failed)

    def _listed(self, name: str, asset: str) -> bool | None:
        """Whether `name` lists options on `asset`: True, False, or None (not known now)."""
        if name == "deribit":
            if asset in DERIBIT_INVERSE:
                return True
            book = self._cache.peek((SHARED, "deribit_book:USDC"))
            if book is not None:
                return asset in book
        known = self._option_listing.get((name, asset))
        if known is not None and known[1] > self._clock():
            return bool(known[0])
        return None

    def _note_listing(self, name: str, asset: str, lists: bool) -> None:
        until = self._clock() + self.settings.markets_refresh_s
        self._option_listing[(name, asset)] = (lists, until)

    async def _option_quotes(self, name: str, asset: str, deadline: float) -> list[OptionQuote]:
        if name == "deribit":
            currency = asset if asset in DERIBIT_INVERSE else "USDC"
            book = await self._cache.get(
                (SHARED, f"deribit_book:{currency}"),
                SKEW_TTL_S,
                _bind(self._fetch_deribit_book, currency, deadline),
            )
            return list(book.get(asset, ()))
        if name == "okx":
            return await self._listed_options(
                "okx",
                "option summary",
                self._venues["okx"].exchange.publicGetPublicOptSummary,
                {"uly": f"{asset}-USD"},
                lambda answer: convert.okx_opt_summary(answer, asset),
                deadline,
            )
        if name == "bybit":
            return await self._listed_options(
                "bybit",
                "option tickers",
                self._venues["bybit"].exchange.publicGetV5MarketTickers,
                {"category": "option", "baseCoin": asset},
                lambda answer: convert.bybit_option_tickers(answer, asset),
                deadline,
            )
        log.warning("options venue %s is not supported", name)
        return []

    async def _listed_options(
        self,
        name: str,
        what: str,
        fn: Callable[..., Awaitable[Any]],
        params: dict[str, str],
        validate: Callable[[Any], list[OptionQuote]],
        deadline: float,
    ) -> list[OptionQuote]:
        try:
            return await self.policy.call(  # type: ignore[no-any-return]
                name,
                what,
                fn,
                params,
                deadline=deadline,
                validate=validate,
                absent_on=(BadRequest,),
            )
        except BadRequest:
            return []  # the venue lists no options on this underlying

    async def _fetch_deribit_book(
        self, currency: str, deadline: float
    ) -> dict[str, tuple[OptionQuote, ...]]:
        """One `get_book_summary_by_currency` request: every option of the currency, by base."""
        ex = self._venues["deribit"].exchange
        rows = await self.policy.call(
            "deribit",
            "book summary",
            ex.publicGetGetBookSummaryByCurrency,
            {"currency": currency, "kind": "option"},
            deadline=deadline,
            validate=convert.deribit_book,
        )
        by_base: dict[str, list[OptionQuote]] = {}
        for base, q in rows:
            by_base.setdefault(base, []).append(q)
        return {base: tuple(quotes) for base, quotes in by_base.items()}


# ---- assembly ---------------------------------------------------------------------------


def _assemble(
    asset: str,
    asof_ms: int,
    listing: list[str],
    unreachable: dict[str, str],
    results: dict[str, Any],
    late: dict[str, tuple[str, str]],
    market: LiveMarket,
) -> AssetData:
    """Build the AssetData of one check from its jobs' results, naming every failure."""
    failed: dict[str, str] = dict(unreachable)

    def mark(venue: str, reason: str) -> None:
        if venue:
            failed.setdefault(venue, reason)

    for venue, reason in late.values():
        mark(venue, reason)
    # this check's own failures first: a cached part may carry an older reason
    for value in results.values():
        if isinstance(value, _AllFailed):
            for venue, reason in value.failed.items():
                mark(venue, reason)
        elif isinstance(value, VenueUnavailable):
            mark(value.venue, value.detail)
    for value in results.values():
        if isinstance(value, _Price | _Skew):
            for venue, reason in value.failed.items():
                mark(venue, market.policy.cooling(venue) or reason)
        elif isinstance(value, _Funding) and value.history_failure:
            mark(value.venue, value.history_failure)

    price = results.get("price")
    price = price if isinstance(price, _Price) else None
    if price is not None:
        ohlcv_1d, ohlcv_1h = price.daily.frame, price.hourly.frame
    else:
        ohlcv_1d = convert.closed_ohlcv([], asof_ms, DAY_MS)
        ohlcv_1h = convert.closed_ohlcv([], asof_ms, HOUR_MS)
    oi_1h: dict[str, Any] = {}
    oi_1d: dict[str, Any] = {}
    for v in listing:
        for key, frame, into in (("oi_1h", ohlcv_1h, oi_1h), ("oi_1d", ohlcv_1d, oi_1d)):
            part = results.get(f"{key}:{v}")
            if not isinstance(part, _Oi):
                continue
            usd = convert.oi_usd(part.bars, part.in_base, frame)
            if len(usd):
                into[v] = usd
            elif part.in_base:
                label = "open interest 1h" if key == "oi_1h" else "open interest 1d"
                mark(v, f"{label}: in {asset}, no price to value it in USD")
    funding = tuple(
        VenueFunding(
            venue=f.venue,
            rate=f.rate,
            interval_hours=f.interval_hours,
            oi_usd=convert.last_value(oi_1h.get(f.venue))
            or convert.last_value(oi_1d.get(f.venue)),
            history=convert.series(f.history),
        )
        for v in listing
        if isinstance(f := results.get(f"funding:{v}"), _Funding)
    )
    skew = results.get("skew")
    fresh = skew if isinstance(skew, _Skew) and skew.rr is not None else None
    skew_series = convert.series([(fresh.ts, fresh.rr)] if fresh and fresh.rr is not None else [])
    mmr = results.get("mmr")
    mmr_value = mmr if isinstance(mmr, float) else None
    sources: dict[str, Any] = {
        "price": price.venue if price else None,
        "oi": list(oi_1h),
        "oi_1d": list(oi_1d),
        "funding": [f.venue for f in funding],
        "skew": fresh.venue if fresh else None,
        "mmr": "bybit" if mmr_value is not None else "default",
        "fetched_at": asof_ms,
    }
    data = AssetData(
        asset=asset,
        ohlcv_1d=ohlcv_1d,
        ohlcv_1h=ohlcv_1h,
        oi_usd_1h=convert.sum_common(oi_1h.values()),
        oi_usd_1d=convert.sum_common(oi_1d.values()),
        funding=funding,
        skew_rr25_30d=skew_series,
        mmr=mmr_value if mmr_value is not None else DEFAULT_MMR,
        sources=sources,
        venues_used=_used_venues(sources),
        venues_failed=failed,
    )
    if not data.has_any_data():
        detail = "; ".join(f"{v}: {r}" for v, r in failed.items())
        raise NoMarketData(asset, "every venue failed: " + detail)
    return data


# ---- helpers ----------------------------------------------------------------------------


def _venue_oi_usd(venue: str, oi_1h: dict[str, Any], oi_1d: dict[str, Any]) -> float | None:
    """A venue's funding weight: its newest hourly OI in USD, else its newest daily one."""
    return convert.last_value(oi_1h.get(venue)) or convert.last_value(oi_1d.get(venue))


def _no_longer_than(ttl_s: float) -> Callable[[Any, float], float]:
    """`ttl_s`, or less when the value's parts expire sooner (`expires_at`)."""

    def expires(value: Any, now_s: float) -> float:
        return min(now_s + ttl_s, getattr(value, "expires_at", float("inf")))

    return expires


def _until_next_bar(
    bar_ms: int, short_ttl_s: float, newest: Callable[[Any], int | None]
) -> Callable[[Any, float], float]:
    """A TTL for closed bars: a series holding the newest bar that has closed lives until the
    next one closes (plus the venues' publishing lag); one still lacking it, the short TTL."""

    def expires(value: Any, now_s: float) -> float:
        now_ms = int(now_s * 1000)
        last_closed_open = now_ms - now_ms % bar_ms - bar_ms
        newest_open = newest(value)
        if newest_open is not None and newest_open >= last_closed_open:
            return (last_closed_open + 2 * bar_ms) / 1000 + BAR_PUBLISH_LAG_S
        return now_s + short_ttl_s

    return expires


def _newest_candle(value: _Candles) -> int | None:
    return value.newest_open


def _newest_oi_bar(value: _Oi) -> int | None:
    return value.bars[-1][0] if value.bars else None


def _until_next_settlement(value: _History, now_s: float) -> float:
    """Settled funding lives until the next settlement is due (if the latest one is in)."""
    if value.failure is not None or len(value.rows) < 2:
        return now_s + FUNDING_TTL_S
    step_ms = round((convert.interval_from_history(value.rows) or 8.0) * HOUR_MS)
    now_ms = int(now_s * 1000)
    latest_due = now_ms - now_ms % step_ms
    if value.rows[-1][0] < latest_due:
        return now_s + FUNDING_TTL_S
    return (latest_due + step_ms) / 1000 + BAR_PUBLISH_LAG_S


def _markets_reason(detail: str) -> str:
    return detail if detail.startswith("markets") else f"markets: {detail}"


def _non_empty(answer: Any) -> Any:
    if isinstance(answer, list) and not answer:
        raise EmptyAnswer("no rows")
    return answer


def _used_venues(sources: dict[str, Any]) -> tuple[str, ...]:
    """Every venue named as the source of some metric, in first-use order."""
    names: list[str] = []
    for key in ("price", "oi", "oi_1d", "funding", "skew", "mmr"):
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
