"""Liquidation history from venues with a public REST history, so a fresh start is not blind.

Gate's `contract_stats` gives long/short liquidation USD per 5-minute bar; HTX lists
liquidation orders. Both are polled at start (up to a week back) and then every minute,
resuming where the stored coverage ends, and stored under their own venue name with
coverage spans exactly as long as the data fetched.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import ccxt

from signals.errors import VenueUnavailable
from signals.liquidations import ContractSpec, normalise_htx, parse_gate_stat
from signals.market import HOUR_MS
from signals.store import MINUTE_MS, CoverageSpan, LiqMinute, Store
from signals.venue_policy import RequestPolicy

log = logging.getLogger(__name__)

BACKFILL_HOURS = 168
REQUEST_TIMEOUT_S = 10.0  # the backfill's own policy, when it is not given the live one
REFRESH_S = 60.0
GATE_BAR_MS = 5 * MINUTE_MS
GATE_PAGE = 100
HTX_PAGE = 100
# a week of BTC liquidations on HTX can run to thousands of orders; past this many pages
# the older part is left uncovered rather than hammering the venue
HTX_MAX_PAGES = 50

Writer = Callable[..., Awaitable[Any]]
# one REST request under the request policy: request(what, fn, *args) → the answer
Request = Callable[..., Awaitable[Any]]


async def _run_inline(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


class Backfiller:
    """Fills and then keeps extending the store from REST liquidation history."""

    def __init__(
        self,
        store: Store,
        assets: Sequence[str],
        venues: Sequence[str],
        exchange_for: Callable[[str], Any],
        *,
        clock: Callable[[], float] = time.time,
        hours: int = BACKFILL_HOURS,
        refresh_s: float = REFRESH_S,
        run_in_writer: Writer = _run_inline,
        policy: RequestPolicy | None = None,
    ) -> None:
        self._store = store
        self.assets = tuple(assets)
        self.venues = tuple(v for v in venues if v in FETCHERS)
        unknown = sorted(set(venues) - set(FETCHERS))
        if unknown:
            log.warning("no liquidation backfill for %s (known: %s)", unknown, sorted(FETCHERS))
        self._exchange_for = exchange_for
        self._clock = clock
        self._hours = hours
        self._refresh_s = refresh_s
        self._run_in_writer = run_in_writer
        # the same policy as every other REST call: timeout, retries, Retry-After, cool-down
        self._policy = policy or RequestPolicy(REQUEST_TIMEOUT_S, clock)
        self._failing: set[tuple[str, str]] = set()

    async def run(self) -> None:
        """Backfill now, then extend every `refresh_s` seconds, forever."""
        while True:
            await self.run_once()
            await asyncio.sleep(self._refresh_s)

    async def run_once(self) -> dict[tuple[str, str], CoverageSpan | None]:
        """One pass over every (venue, asset); return the span each one stored."""
        result: dict[tuple[str, str], CoverageSpan | None] = {}
        for venue in self.venues:
            for asset in self.assets:
                result[(venue, asset)] = await self._one(venue, asset)
        return result

    async def _one(self, venue: str, asset: str) -> CoverageSpan | None:
        now = int(self._clock() * 1000)
        try:
            last = await self._run_in_writer(self._last_span, asset, venue, now)
            start = last.end_ms if last is not None else now - self._hours * HOUR_MS
            exchange = self._exchange_for(venue)
            self._policy.install(venue, exchange)  # its HTTP answers validated (idempotent)
            request = functools.partial(self._policy.call, venue)
            minutes, span = await FETCHERS[venue](exchange, asset, start, now, request)
            if span is not None and last is not None and span.start_ms == last.end_ms:
                # continue the stored span rather than adding a row per poll
                span = CoverageSpan(asset, venue, last.start_ms, span.end_ms, span.source)
            write = functools.partial(
                self._store.write_liquidations, minutes, [span] if span else [], replace=True
            )
            await self._run_in_writer(write)
        except sqlite3.Error as e:
            log.warning("liquidation backfill of %s %s not stored: %s", venue, asset, e)
            return None
        except (VenueUnavailable, ccxt.BaseError, OSError, ValueError, TypeError, KeyError) as e:
            if (venue, asset) not in self._failing:
                log.warning("%s liquidation backfill for %s failed: %s", venue, asset, e)
            self._failing.add((venue, asset))
            return None
        if (venue, asset) in self._failing:
            log.info("%s liquidation backfill for %s works again", venue, asset)
            self._failing.discard((venue, asset))
        if span is not None:
            log.debug("%s %s backfilled %d minutes to %d", venue, asset, len(minutes), span.end_ms)
        return span

    def _last_span(self, asset: str, venue: str, now: int) -> CoverageSpan | None:
        spans = self._store.read_liq_coverage(asset, now - self._hours * HOUR_MS, now + 1)
        mine = [s for s in spans if s.venue == venue]
        return max(mine, key=lambda s: s.end_ms) if mine else None


async def _direct(what: str, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    return await fn(*args)


async def fetch_gate(
    exchange: Any, asset: str, start_ms: int, now_ms: int, request: Request = _direct
) -> tuple[list[LiqMinute], CoverageSpan | None]:
    """Gate USDT-perpetual `contract_stats` 5-minute bars from start_ms to the last closed bar."""
    cursor = start_ms - start_ms % GATE_BAR_MS
    minutes: list[LiqMinute] = []
    first: int | None = None
    covered_to: int | None = None
    while cursor + GATE_BAR_MS <= now_ms:
        rows = await request(
            "contract stats",
            exchange.public_futures_get_settle_contract_stats,
            {
                "settle": "usdt",
                "contract": f"{asset}_USDT",
                "interval": "5m",
                "from": cursor // 1000,
                "limit": GATE_PAGE,
            },
        )
        bars = sorted(b for b in map(parse_gate_stat, rows or []) if b and b[0] >= cursor)
        for ts, long_usd, short_usd in bars:
            if ts + GATE_BAR_MS > now_ms:
                break  # the bar still open: fetched again next time
            if covered_to is not None and ts != covered_to:
                break  # a hole in Gate's series ends the span here
            first = ts if first is None else first
            covered_to = ts + GATE_BAR_MS
            for side, usd in (("long", long_usd), ("short", short_usd)):
                if usd > 0:
                    minutes.append(LiqMinute(asset, "gate", side, ts, usd, 0))
        if covered_to is None or covered_to <= cursor or len(bars) < GATE_PAGE:
            break
        cursor = covered_to
    if first is None or covered_to is None:
        return minutes, None
    return minutes, CoverageSpan(asset, "gate", first, covered_to, "backfill")


async def fetch_htx(
    exchange: Any, asset: str, start_ms: int, now_ms: int, request: Request = _direct
) -> tuple[list[LiqMinute], CoverageSpan | None]:
    """HTX USDT-perpetual liquidation orders in [start_ms, the last whole minute)."""
    end = now_ms - now_ms % MINUTE_MS
    start = start_ms - start_ms % MINUTE_MS
    if end <= start:
        return [], None
    # v5 rows count `amount` in contracts of unknown size: value them by their turnover only
    spec = ContractSpec("htx", f"{asset}-USDT", asset, contract_size=0.0)
    orders: dict[str, tuple[int, str, float]] = {}
    lo, hi = start, end - 1
    covered_lo, covered_hi = start, end
    for page in range(HTX_MAX_PAGES):
        response = await request(
            "liquidation orders",
            exchange.contract_public_get_v5_market_liquidation_orders,
            {"contract_code": spec.market_id, "start_time": lo, "end_time": hi, "limit": HTX_PAGE},
        )
        if str(response.get("code", 200)) != "200":
            raise ccxt.ExchangeError(f"htx liquidation_orders: {response}")
        rows = [r for r in response.get("data") or [] if isinstance(r, dict)]
        stamps: list[int] = []
        for row in rows:
            for event in normalise_htx(row, spec):
                if lo <= event.ts <= hi:
                    ident = str(row.get("id") or row.get("query_id") or event.key())
                    orders[ident] = (event.ts, event.side, event.usd)
                    stamps.append(event.ts)
        if len(rows) < HTX_PAGE or not stamps:
            break
        if page == HTX_MAX_PAGES - 1:
            # out of pages: cover only the part fetched completely
            if stamps[0] >= stamps[-1]:
                covered_lo = _ceil_minute(min(stamps) + 1)
            else:
                covered_hi = max(stamps) - max(stamps) % MINUTE_MS
            log.info("htx %s: backfill truncated to [%d, %d)", asset, covered_lo, covered_hi)
            break
        if stamps[0] >= stamps[-1]:  # newest first: page backwards
            hi = min(stamps) if min(stamps) < hi else hi - 1
        else:
            lo = max(stamps) if max(stamps) > lo else lo + 1
    buckets: dict[tuple[str, int], list[float]] = defaultdict(lambda: [0.0, 0])
    for ts, side, usd in orders.values():
        if covered_lo <= ts < covered_hi:
            bucket = buckets[(side, ts - ts % MINUTE_MS)]
            bucket[0] += usd
            bucket[1] += 1
    minutes = [
        LiqMinute(asset, "htx", side, ts, usd, int(n)) for (side, ts), (usd, n) in buckets.items()
    ]
    if covered_hi <= covered_lo:
        return [], None
    return minutes, CoverageSpan(asset, "htx", covered_lo, covered_hi, "backfill")


def _ceil_minute(ms: int) -> int:
    return -(-ms // MINUTE_MS) * MINUTE_MS


FETCHERS: dict[
    str,
    Callable[
        [Any, str, int, int, Request], Awaitable[tuple[list[LiqMinute], CoverageSpan | None]]
    ],
] = {"gate": fetch_gate, "htx": fetch_htx}
