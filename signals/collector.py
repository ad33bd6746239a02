"""The liquidation collector: the one module that talks ccxt.pro websockets.

Per venue one task watches the liquidation stream for the watchlist, normalises each
message (signals.liquidations), de-duplicates, and adds it to 1-minute buckets that are
written in one batch per second together with coverage spans (when each venue was really
listening). A dropped stream closes its spans, records a gap and reconnects with backoff;
a store that cannot be written is logged and retried, never fatal.

Each liquidation is taken once, as ccxt parses it out of its message (`_tap`): nothing
rescans ccxt's cache of the last 1,000 per message (Binance's all-market stream made that a
1,000-entry scan per message). De-duplication keeps only the keys of the last minutes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
import sqlite3
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import ccxt

from settings import Settings
from signals.backfill import Backfiller
from signals.errors import VenueUnavailable
from signals.exchanges import pro_exchange
from signals.liquidations import ContractSpec, LiquidationEvent, market_id_of, normalise
from signals.market import DAY_MS
from signals.store import MINUTE_MS, CoverageSpan, LiqGap, LiqMinute, Store
from signals.venue_policy import RequestPolicy

log = logging.getLogger(__name__)

STREAM_VENUES = ("binanceusdm", "bybit", "okx")
FLUSH_INTERVAL_S = 1.0
BACKOFF_INITIAL_S = 1.0
BACKOFF_MAX_S = 60.0
PRUNE_INTERVAL_S = 3600.0
# events older than this behind the newest one seen are not re-read from ccxt's cache
REPLAY_WINDOW_MS = 5 * MINUTE_MS
# how far back a restart looks for what an earlier run already counted
REPLAY_LOOKBACK_MS = DAY_MS
# de-duplication remembers the events of this long behind the newest one seen (replays
# and resends come within seconds), and at most this many of them
SEEN_WINDOW_MS = 2 * REPLAY_WINDOW_MS
SEEN_KEYS_MAX = 20_000
# liquidations ccxt parsed and the collector has not taken yet, per venue (a stall past
# this drops the oldest: a second of Binance's busiest stream is ~1,000)
INBOX_MAX = 20_000
# minute buckets kept in memory while the store cannot be written (~2 days of 5 assets)
MAX_PENDING_BUCKETS = 100_000
WRITE_WARN_INTERVAL_S = 60.0
BAD_MESSAGE_WARN_INTERVAL_S = 60.0
# what a message ccxt (or our normaliser) cannot read raises: that message is skipped
_UNREADABLE = (KeyError, TypeError, ValueError, AttributeError, IndexError)

BucketKey = tuple[str, str, str, int]  # asset, venue, side, minute open


def default_exchange_factory(venue: str, base_url: str | None = None) -> Any:
    """A ccxt.pro exchange for `venue` (only the market types the bot uses)."""
    return pro_exchange(venue, base_url)


class LiquidationCollector:
    """Collects liquidations from venue websockets (plus REST backfill) into the store."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        assets: Sequence[str] | None = None,
        exchange_factory: Callable[[str], Any] | None = None,
        clock: Callable[[], float] = time.time,
        *,
        backfill_venues: Sequence[str] | None = None,
        flush_interval_s: float = FLUSH_INTERVAL_S,
        backoff_initial_s: float = BACKOFF_INITIAL_S,
        backoff_max_s: float = BACKOFF_MAX_S,
        policy: RequestPolicy | None = None,
        markets_of: Callable[[str], Any] | None = None,
    ) -> None:
        self._settings = settings
        # the live source's exchange of a venue, markets loaded: its markets are shared with
        # the stream exchange of that venue, not loaded a second time
        self._markets_of = markets_of
        # the one request policy: shared with the live checks when the bot runs both
        self.policy = policy or RequestPolicy(settings.request_timeout_s, clock)
        self._store = store
        chosen = assets if assets else settings.watchlist
        self.assets = tuple(dict.fromkeys(a.strip().upper() for a in chosen if a.strip()))
        self.venues = tuple(v for v in settings.venues if v in STREAM_VENUES)
        self._factory = exchange_factory or (
            lambda venue: default_exchange_factory(venue, settings.venue_base_url)
        )
        self._clock = clock
        if backfill_venues is None:
            backfill_venues = settings.liq_backfill_venues
        self._backfiller = Backfiller(
            store,
            self.assets,
            tuple(backfill_venues),
            self._exchange_object,
            clock=clock,
            run_in_writer=self._in_writer,
            policy=self.policy,
        )
        self._flush_interval_s = flush_interval_s
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s
        self._exchanges: dict[str, Any] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._writer: ThreadPoolExecutor | None = None
        self._pending: dict[BucketKey, list[float]] = {}
        self._pending_gaps: list[LiqGap] = []
        self._writes: set[asyncio.Future[Any]] = set()  # batches on their way to the store
        # hash of an event's key → its time, oldest first; pruned behind the newest event
        self._seen: dict[int, int] = {}
        self._seen_order: deque[tuple[int, int]] = deque()
        self._inbox: dict[str, deque[Mapping[str, Any]]] = {}
        self._newest_ts: dict[str, int] = {}
        self._venue_assets: dict[str, tuple[str, ...]] = {}
        self._watching: dict[str, bool] = {}
        self._span_start: dict[str, int] = {}  # venue -> open coverage span start
        self._closed_spans: list[CoverageSpan] = []  # spans ended since the last flush
        self._down: dict[str, tuple[int, str]] = {}  # venue -> (dropped at, why)
        self._backoff: dict[str, float] = {}
        self._last_write_warning = 0.0
        self._last_bad_message_warning = 0.0
        self._last_prune = 0.0
        # (asset, venue) → end of the coverage stored before this run: events before it were
        # counted by an earlier run (OKX replays its last frames on every subscribe)
        self._counted_until: dict[tuple[str, str], int] = {}
        self.events_seen = 0
        self.duplicates = 0
        self.bad_messages = 0

    # ---- lifecycle ----------------------------------------------------------------------

    @property
    def live_venues(self) -> tuple[str, ...]:
        """Venues whose stream is up right now (their coverage span is open)."""
        return tuple(sorted(self._span_start))

    @property
    def backfill_venues(self) -> tuple[str, ...]:
        """The REST venues backfilled (and kept up to date) alongside the streams."""
        return self._backfiller.venues

    async def start(self) -> None:
        """Spawn the backfill, the per-venue watch tasks and the flusher; return at once."""
        if self._tasks:
            return
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="liq-writer")
        log.info(
            "collecting liquidations of %s from %s (backfill: %s)",
            ", ".join(self.assets),
            ", ".join(self.venues) or "no stream venue",
            ", ".join(self._backfiller.venues) or "none",
        )
        # before anything of this run is written: what earlier runs covered
        for venue in self.venues:
            await self._load_counted_until(venue)
        if self._backfiller.venues:
            self._spawn(self._backfiller.run(), "liq-backfill")
        for venue in self.venues:
            self._spawn(self._run_venue(venue), f"liq-{venue}")
        self._spawn(self._flush_loop(), "liq-flush")

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(_log_unexpected_end)
        self._tasks.append(task)

    async def stop(self) -> None:
        """Cancel the tasks, close the open spans, flush what is pending, close exchanges."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*list(self._writes), return_exceptions=True)
        now = self._now_ms()
        for venue in list(self._span_start):
            self._close_span(venue, now, "collector stopped")
        for venue, (since, why) in self._down.items():
            self._pending_gaps.append(LiqGap(venue, since, now, why))
        self._down.clear()
        await self.flush()
        exchanges, self._exchanges = self._exchanges, {}
        closed = await asyncio.gather(
            *(exchange.close() for exchange in exchanges.values()), return_exceptions=True
        )
        for venue, outcome in zip(exchanges, closed, strict=True):
            if isinstance(outcome, Exception):
                log.warning("closing %s failed: %s", venue, outcome)
        if self._writer is not None:
            self._writer.submit(self._store.close).result()
            self._writer.shutdown(wait=True)
            self._writer = None

    # ---- per-venue streams --------------------------------------------------------------

    def _exchange_object(self, venue: str) -> Any:
        """The venue's exchange object, created once, its REST answers (the markets load, the
        backfill's history) validated by the request policy."""
        exchange = self._exchanges.get(venue)
        if exchange is None:
            exchange = self._factory(venue)
            self.policy.install(venue, exchange)
            if venue in STREAM_VENUES:
                self._inbox[venue] = _tap(exchange)
            self._exchanges[venue] = exchange
        return exchange

    async def _exchange(self, venue: str) -> Any:
        """The venue's exchange object with its markets loaded: the live source's (no second
        load) when it has them, else through the request policy."""
        exchange = self._exchange_object(venue)
        source = self._markets_of(venue) if self._markets_of is not None else None
        if source is not None and source.markets and not exchange.markets:
            exchange.set_markets_from_exchange(source)
        if not exchange.markets:
            await self.policy.call(venue, "markets", exchange.load_markets)
        return exchange

    async def _run_venue(self, venue: str) -> None:
        """Watch one venue forever: reconnect with exponential backoff after any failure.

        However the task ends — a bug included — the venue's coverage span is closed first, so
        the store never claims a venue was watched while nothing listened.
        """
        self._backoff[venue] = self._backoff_initial_s
        try:
            while True:
                try:
                    exchange = await self._exchange(venue)
                    specs = contract_specs(venue, exchange.markets, self.assets)
                    if not specs:
                        log.warning("%s lists no USDT perpetual for %s", venue, self.assets)
                        return
                    assets = tuple(dict.fromkeys(s.asset for s in specs.values()))
                    self._venue_assets[venue] = assets
                    self._watching[venue] = True
                    await self._watch(venue, exchange, specs)
                except (ccxt.BaseError, VenueUnavailable, OSError) as e:
                    self._on_drop(venue, e)
                delay = self._backoff[venue]
                self._backoff[venue] = min(delay * 2, self._backoff_max_s)
                await asyncio.sleep(delay)
        except Exception as e:  # a bug: close the coverage, then let the task die loudly
            self._on_drop(venue, e)
            raise

    async def _load_counted_until(self, venue: str) -> None:
        """Remember where each asset's stored coverage of this venue (by earlier runs) ends."""
        now = self._now_ms()
        try:
            spans = await self._in_writer(self._stored_spans, venue, now)
        except sqlite3.Error as e:
            log.warning("reading %s coverage failed (%s): replays may count twice", venue, e)
            return
        for span in spans:
            if span.end_ms > now:
                continue  # not an earlier run's: it cannot end in the future
            key = (span.asset, venue)
            self._counted_until[key] = max(self._counted_until.get(key, 0), span.end_ms)

    def _stored_spans(self, venue: str, now: int) -> list[CoverageSpan]:
        since = now - REPLAY_LOOKBACK_MS
        spans: list[CoverageSpan] = []
        for asset in self.assets:
            spans += [
                s
                for s in self._store.read_liq_coverage(asset, since, now + 1)
                if s.venue == venue and s.source == "stream"
            ]
        return spans

    async def _watch(self, venue: str, exchange: Any, specs: Mapping[str, ContractSpec]) -> None:
        """Run the venue's watch calls until one fails; the failure propagates."""
        calls = _watch_calls(venue, exchange, specs)
        tasks = [asyncio.create_task(self._watch_loop(venue, call, specs)) for call in calls]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _watch_loop(
        self,
        venue: str,
        call: Callable[[int | None], Awaitable[list[dict[str, Any]]]],
        specs: Mapping[str, ContractSpec],
    ) -> None:
        inbox = self._inbox.get(venue)
        while True:
            newest = self._newest_ts.get(venue)
            try:
                liquidations = await call(None if newest is None else newest - REPLAY_WINDOW_MS)
            except _UNREADABLE as e:
                # ccxt could not parse one message: skip it, the stream itself is fine
                self._skip_bad_message(venue, e)
                continue
            self._confirm_live(venue)
            if inbox is None:  # an exchange without the tap: what the call returned
                self._ingest_all(venue, liquidations, specs)
                continue
            while inbox:
                self._ingest_info(venue, inbox.popleft(), specs)

    def _ingest_all(
        self, venue: str, liquidations: list[Any], specs: Mapping[str, ContractSpec]
    ) -> None:
        for liquidation in liquidations:
            info = liquidation.get("info") if isinstance(liquidation, dict) else None
            if isinstance(info, Mapping):
                self._ingest_info(venue, info, specs)

    def _ingest_info(
        self, venue: str, info: Mapping[str, Any], specs: Mapping[str, ContractSpec]
    ) -> None:
        try:
            self.ingest(venue, info, specs)
        except _UNREADABLE as e:
            self._skip_bad_message(venue, e)

    def _skip_bad_message(self, venue: str, error: Exception) -> None:
        self.bad_messages += 1
        now = time.monotonic()
        if now - self._last_bad_message_warning >= BAD_MESSAGE_WARN_INTERVAL_S:
            self._last_bad_message_warning = now
            log.warning(
                "%s: skipped an unreadable liquidation message (%s: %s); %d so far",
                venue,
                type(error).__name__,
                error,
                self.bad_messages,
            )

    def ingest(
        self, venue: str, info: Mapping[str, Any], specs: Mapping[str, ContractSpec]
    ) -> int:
        """Normalise one raw venue message into pending buckets; return new events added."""
        market_id = market_id_of(venue, info)
        spec = specs.get(market_id) if market_id else None
        if spec is None:
            return 0
        added = 0
        for event in normalise(venue, info, spec):
            if self._is_duplicate(event):
                self.duplicates += 1
                continue
            self._add(event)
            added += 1
        return added

    def _is_duplicate(self, event: LiquidationEvent) -> bool:
        if event.ts < self._counted_until.get((event.asset, event.venue), 0):
            return True  # inside coverage an earlier run stored: it was counted then
        key = hash(event.key())
        if key in self._seen:
            return True
        self._seen[key] = event.ts
        self._seen_order.append((event.ts, key))
        self._forget_old_keys(max(event.ts, self._newest_ts.get(event.venue, 0)))
        return False

    def _forget_old_keys(self, newest_ms: int) -> None:
        """Keep the keys of the last SEEN_WINDOW_MS (and at most SEEN_KEYS_MAX of them)."""
        order, seen = self._seen_order, self._seen
        while order and (order[0][0] < newest_ms - SEEN_WINDOW_MS or len(order) > SEEN_KEYS_MAX):
            _, key = order.popleft()
            seen.pop(key, None)

    def _add(self, event: LiquidationEvent) -> None:
        self.events_seen += 1
        self._newest_ts[event.venue] = max(self._newest_ts.get(event.venue, 0), event.ts)
        key = (event.asset, event.venue, event.side, event.ts - event.ts % MINUTE_MS)
        bucket = self._pending.setdefault(key, [0.0, 0])
        bucket[0] += event.usd
        bucket[1] += 1

    # ---- coverage and gaps ----------------------------------------------------------------

    def _confirm_live(self, venue: str) -> None:
        """The venue's stream is up: open its coverage span; end any gap it was in."""
        if venue in self._span_start or not self._watching.get(venue):
            return
        now = self._now_ms()
        self._span_start[venue] = now
        self._backoff[venue] = self._backoff_initial_s
        down = self._down.pop(venue, None)
        if down is not None:
            self._pending_gaps.append(LiqGap(venue, down[0], now, down[1]))
            log.info("%s liquidation stream back after %.0f s", venue, (now - down[0]) / 1000)

    def _on_drop(self, venue: str, error: Exception) -> None:
        now = self._now_ms()
        self._watching[venue] = False
        why = f"{error.__class__.__name__}: {error}"[:200]
        log.warning("%s liquidation stream down (%s); reconnecting", venue, why)
        self._close_span(venue, now, why)
        self._down.setdefault(venue, (now, why))

    def _close_span(self, venue: str, now: int, why: str) -> None:
        start = self._span_start.pop(venue, None)
        if start is None:
            return
        # the closing span is written with the next flush; a new one starts on reconnect
        self._closed_spans.extend(
            CoverageSpan(asset, venue, start, now, "stream")
            for asset in self._venue_assets.get(venue, ())
        )
        log.debug("%s coverage span closed (%s)", venue, why)

    def _poll_connections(self) -> None:
        """Open spans for venues whose websocket is connected even if no liquidation came."""
        for venue, exchange in self._exchanges.items():
            live = self._watching.get(venue) and venue not in self._span_start
            if live and _ws_connected(exchange):
                self._confirm_live(venue)

    # ---- writing ----------------------------------------------------------------------------

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self._flush_interval_s)
            self._poll_connections()
            await self.flush()
            if self._clock() - self._last_prune >= PRUNE_INTERVAL_S:
                await self.prune()

    async def flush(self) -> None:
        """Write pending buckets, coverage up to now and gaps in one transaction."""
        now = self._now_ms()
        buckets, self._pending = self._pending, {}
        gaps, self._pending_gaps = self._pending_gaps, []
        closed, self._closed_spans = self._closed_spans, []
        spans = closed + [
            CoverageSpan(asset, venue, start, now, "stream")
            for venue, start in self._span_start.items()
            for asset in self._venue_assets.get(venue, ())
        ]
        minutes = [
            LiqMinute(asset, venue, side, ts, usd, int(count))
            for (asset, venue, side, ts), (usd, count) in buckets.items()
        ]
        if not minutes and not spans and not gaps:
            return
        # the batch has left _pending: it must reach the store even if this flush is cancelled
        # (a stop() while the write waits for the writer thread used to drop it)
        write = asyncio.ensure_future(self._in_writer(self._write_batch, minutes, spans, gaps))
        self._writes.add(write)
        write.add_done_callback(self._writes.discard)
        try:
            await asyncio.shield(write)
        except sqlite3.Error as e:
            self._keep_unwritten(buckets, gaps, closed, e)
        except asyncio.CancelledError:
            write.add_done_callback(functools.partial(self._keep_if_failed, buckets, gaps, closed))
            raise

    def _keep_if_failed(
        self,
        buckets: dict[BucketKey, list[float]],
        gaps: list[LiqGap],
        closed: list[CoverageSpan],
        write: asyncio.Future[Any],
    ) -> None:
        if write.cancelled():
            return
        error = write.exception()
        if isinstance(error, sqlite3.Error):
            self._keep_unwritten(buckets, gaps, closed, error)

    def _write_batch(
        self, minutes: list[LiqMinute], spans: list[CoverageSpan], gaps: list[LiqGap]
    ) -> None:
        self._store.write_liquidations(minutes, spans)
        for gap in gaps:
            self._store.record_liq_gap(gap)

    def _keep_unwritten(
        self,
        buckets: dict[BucketKey, list[float]],
        gaps: list[LiqGap],
        closed: list[CoverageSpan],
        error: sqlite3.Error,
    ) -> None:
        """Hold a failed batch for the next flush; past the memory cap, drop it and restart
        the spans so the lost minutes are never claimed as covered."""
        for key, (usd, count) in buckets.items():
            bucket = self._pending.setdefault(key, [0.0, 0])
            bucket[0] += usd
            bucket[1] += count
        self._pending_gaps[:0] = gaps
        self._closed_spans[:0] = closed
        now = time.monotonic()
        if now - self._last_write_warning >= WRITE_WARN_INTERVAL_S:
            self._last_write_warning = now
            log.error(
                "liquidation store %s not writable (%s): holding %d buckets in memory",
                self._store.path,
                error,
                len(self._pending),
            )
        if len(self._pending) > MAX_PENDING_BUCKETS:
            log.error("liquidation store unwritable too long: dropping %d buckets", len(buckets))
            self._pending.clear()
            self._closed_spans.clear()
            stamp = self._now_ms()
            for venue in list(self._span_start):
                self._span_start[venue] = stamp

    async def prune(self) -> int:
        """Delete liquidation history and recorded samples older than the retention period."""
        self._last_prune = self._clock()
        cutoff = self._now_ms() - self._settings.liq_retention_days * DAY_MS
        try:
            gone = await self._in_writer(self._store.prune_history, cutoff)
        except sqlite3.Error as e:
            log.warning("pruning liquidation history failed: %s", e)
            return 0
        if gone:
            log.info(
                "pruned %d liquidation rows older than %d days",
                gone,
                self._settings.liq_retention_days,
            )
        return int(gone)

    async def _in_writer(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a store call on the writer thread so a slow disk never stalls the loop."""
        if self._writer is None:
            return fn(*args)
        return await asyncio.get_running_loop().run_in_executor(self._writer, fn, *args)

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)


def _log_unexpected_end(task: asyncio.Task[None]) -> None:
    """A collector task must only end by cancellation: say loudly if one died."""
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.error("liquidation task %s died", task.get_name(), exc_info=error)


def contract_specs(
    venue: str, markets: Mapping[str, Mapping[str, Any]] | None, assets: Sequence[str]
) -> dict[str, ContractSpec]:
    """The venue's USDT-margined perpetual of each asset, keyed by venue market id."""
    specs: dict[str, ContractSpec] = {}
    for asset in assets:
        for symbol in (f"{asset}/USDT:USDT", f"1000{asset}/USDT:USDT"):
            market = (markets or {}).get(symbol)
            if market is None or not market.get("swap") or market.get("active") is False:
                continue
            specs[str(market["id"])] = ContractSpec(
                venue=venue,
                market_id=str(market["id"]),
                asset=asset,
                contract_size=float(market.get("contractSize") or 1.0),
                inverse=bool(market.get("inverse")),
            )
            break
    return specs


def _tap(exchange: Any) -> deque[Mapping[str, Any]]:
    """Hand every liquidation ccxt parses out of a message to the collector, once.

    ccxt calls `parse_ws_liquidation` once per entry of every message (Binance, Bybit,
    OKX); what it parses is queued here with its raw `info`, whether or not a watch call was
    waiting at that moment. The watch calls then only keep the stream going and say when
    something arrived."""
    inbox: deque[Mapping[str, Any]] = deque(maxlen=INBOX_MAX)
    parse = getattr(exchange, "parse_ws_liquidation", None)
    if parse is None:
        return inbox

    def parse_ws_liquidation(raw: Any, *args: Any, **kwargs: Any) -> Any:
        liquidation = parse(raw, *args, **kwargs)
        if isinstance(raw, Mapping):
            inbox.append(raw)
        return liquidation

    exchange.parse_ws_liquidation = parse_ws_liquidation
    # the watch calls' own answers are not read: only what arrived since the last one
    exchange.newUpdates = True
    return inbox


def _watch_calls(
    venue: str, exchange: Any, specs: Mapping[str, ContractSpec]
) -> list[Callable[[int | None], Awaitable[list[dict[str, Any]]]]]:
    """The ccxt.pro watch calls that cover the watchlist on this venue."""
    by_id = {m["id"]: m["symbol"] for m in exchange.markets.values() if m.get("id") in specs}
    symbols = sorted(by_id.values())
    if venue == "binanceusdm":
        # the all-market stream: one subscription; other assets are filtered out by id
        return [lambda since: exchange.watch_liquidations_for_symbols(None, since)]
    if venue == "okx":
        return [lambda since: exchange.watch_liquidations_for_symbols(symbols, since)]
    # bybit: one `allLiquidation.<id>` topic per symbol, all on one connection
    return [functools.partial(_watch_one, exchange, symbol) for symbol in symbols]


def _watch_one(exchange: Any, symbol: str, since: int | None) -> Awaitable[list[dict[str, Any]]]:
    return exchange.watch_liquidations(symbol, since)


def _ws_connected(exchange: Any) -> bool:
    """True when the exchange has websocket clients and all of them are connected."""
    clients = getattr(exchange, "clients", None)
    if not isinstance(clients, dict) or not clients:
        return False
    for client in clients.values():
        connected = getattr(client, "connected", None)
        if connected is None or not connected.done() or connected.cancelled():
            return False
        if connected.exception() is not None:
            return False
    return True


async def collect_main(
    settings: Settings,
    assets: list[str],
    exchange_factory: Callable[[str], Any] | None = None,
    backfill_venues: Sequence[str] | None = None,
) -> int:
    """`python bot.py collect [ASSETS…]`: collect until SIGINT/SIGTERM; return the exit code."""
    try:
        store = Store(settings.store_path)
    except sqlite3.Error as e:
        log.error("cannot open the store %s: %s", settings.store_path, e)
        return 1
    collector = LiquidationCollector(
        settings, store, assets or None, exchange_factory, backfill_venues=backfill_venues
    )
    if not collector.venues and not collector.backfill_venues:
        log.error("no liquidation venue configured (PREFLIGHT_VENUES=%s)", settings.venues)
        return 2
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stopping.set)
    await collector.start()
    try:
        await stopping.wait()
    finally:
        log.info("stopping the liquidation collector")
        await collector.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
    return 0
