"""Long histories from the venues for the track record (SPEC §9): daily candles, open interest
and settled funding, page by page through the one request policy, paced under each venue's
published limits.

Every page's span is known before it is asked, so each page is written to the store with the
span it makes complete (`Store.write_history`) as soon as it arrives: a run cut short keeps what
it fetched, and no page is ever asked twice. Raw ccxt answers go through `signals.convert` and
never leave this module.

A venue's quirks are data (`QUIRKS`): how many rows one request returns, how far back it keeps
open interest (Binance: 30 days), what unit its OI comes in, and which way its funding pages
walk — Binance answers the first `limit` settlements from `startTime` on, Bybit and OKX the last
`limit` before an end time.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from signals import convert
from signals.market import DAY_MS, HOUR_MS
from signals.venue_policy import EmptyAnswer, MalformedAnswer, RequestPolicy

# the series names a venue's history is stored under (Store.write_history)
CANDLES_1D = "ohlcv_1d"
CANDLES_1H = "ohlcv_1h"
OI_1D = "oi_1d"
OI_1H = "oi_1h"
FUNDING = "funding"
MMR = "mmr"
SKEW = "skew_rr25_30d"
BAR_MS = {CANDLES_1D: DAY_MS, CANDLES_1H: HOUR_MS, OI_1D: DAY_MS, OI_1H: HOUR_MS}
TIMEFRAME = {CANDLES_1D: "1d", CANDLES_1H: "1h", OI_1D: "1d", OI_1H: "1h"}
WHAT = {
    CANDLES_1D: "ohlcv 1d history",
    OI_1D: "open interest 1d history",
    OI_1H: "open interest 1h history",
    FUNDING: "funding history",
}
# a funding interval to size the progress estimate by (the real one is read from the answers)
ESTIMATE_FUNDING_INTERVAL_MS = 8 * HOUR_MS


@dataclass(frozen=True)
class VenueQuirks:
    """What one venue's history endpoints do, as data."""

    candles_per_page: int
    oi_per_page: int
    funding_per_page: int
    # Binance: pages forward from startTime; Bybit, OKX: back from an end time
    funding_forward: bool
    # "usd" (the venue values its OI) or "base" (coins: valued with the day's close)
    oi_unit: Literal["usd", "base"]
    # how many days back the venue serves open interest (None: as far as it has it)
    oi_days: int | None = None
    # extra parameters of a daily OI or candle request (OKX: UTC days, not Hong-Kong days)
    oi_1d_params: Mapping[str, str] = field(default_factory=dict)
    candles_1d_params: Mapping[str, str] = field(default_factory=dict)
    # OKX's funding history pages back with `after` (records earlier than it)
    funding_end_param: str = "until"


QUIRKS: dict[str, VenueQuirks] = {
    # klines: 1000 rows weigh 5 of the 2,400 a minute; fundingRate: max 1000; the OI
    # statistics (`/futures/data/openInterestHist`): max 500 rows, the latest 30 days only
    "binanceusdm": VenueQuirks(1000, 500, 1000, True, "usd", oi_days=30),
    # kline max 1000, open-interest max 200, funding/history max 200 (v5 docs)
    "bybit": VenueQuirks(1000, 200, 200, False, "base"),
    # history-candles and the rubik OI statistics max 100; funding-rate-history max 100
    "okx": VenueQuirks(
        100,
        100,
        100,
        False,
        "usd",
        oi_1d_params={"period": "1Dutc"},
        candles_1d_params={"bar": "1Dutc"},
        funding_end_param="after",
    ),
}
# Binance's 30 days, asked with a margin: a request reaching past them is refused
OI_DAYS_MARGIN = 2

# Seconds between two history requests to one venue, per endpoint (the first fragment of the
# URL path that matches; "" for the rest): about half of each venue's published limit, so a
# live check running at the same time still has room.
#   Binance: fundingRate shares 500 requests / 5 min / IP; /futures/data 1,000 / 5 min;
#            everything else 2,400 weight / min (klines of 1000 rows weigh 5).
#   Bybit:   600 requests / 5 s / IP for every endpoint.
#   OKX:     funding-rate-history 10 / 2 s; rubik statistics 5 / 2 s; the rest 20 / 2 s.
PACE_S: dict[str, tuple[tuple[str, float], ...]] = {
    "binanceusdm": (("fundingRate", 1.2), ("/futures/data/", 0.6), ("", 0.25)),
    "bybit": (("", 0.05),),
    "okx": (("funding-rate-history", 0.4), ("/rubik/", 0.8), ("", 0.2)),
}
DEFAULT_PACE_S = 0.5


class RequestPacer:
    """Spaces one venue's history requests per endpoint (`PACE_S`), reserving slots in order.

    `scale` shrinks every spacing (tests run the same rules faster); the clock and sleep are
    the event loop's unless given.
    """

    def __init__(
        self,
        spacing: Mapping[str, tuple[tuple[str, float], ...]] = PACE_S,
        *,
        scale: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.spacing = spacing
        self.scale = scale
        self._clock = clock
        self._sleep = sleep
        self._next: dict[tuple[str, str], float] = {}

    def gap_s(self, venue: str, url: str) -> tuple[str, float]:
        """The endpoint key and the spacing (seconds) that apply to a request."""
        for fragment, seconds in self.spacing.get(venue, ()):
            if fragment in url:
                return fragment, seconds * self.scale
        return "", DEFAULT_PACE_S * self.scale

    async def wait(self, venue: str, url: str) -> None:
        """Wait for this request's slot: `gap_s` after the previous one to the same endpoint."""
        fragment, gap = self.gap_s(venue, url)
        key = (venue, fragment)
        now = self._clock()
        slot = max(now, self._next.get(key, now))
        self._next[key] = slot + gap
        if slot > now:
            await self._sleep(slot - now)
        # a late wake-up (a busy event loop) pushes the next slot back: the spacing counts
        # from when this request really went
        self._next[key] = max(self._next[key], self._clock() + gap)


@dataclass
class RequestLog:
    """Every HTTP request the history's exchanges made, per venue (what a run reports)."""

    counts: dict[str, int] = field(default_factory=dict)
    on_request: Callable[[str, str], None] | None = None

    @property
    def total(self) -> int:
        """Requests made to every venue."""
        return sum(self.counts.values())

    def note(self, venue: str, url: str) -> None:
        """Count one request (and tell whoever follows progress)."""
        self.counts[venue] = self.counts.get(venue, 0) + 1
        if self.on_request is not None:
            self.on_request(venue, url)


def instrument(venue: str, exchange: Any, pacer: RequestPacer, log: RequestLog) -> Any:
    """Pace and count every HTTP request `exchange` makes (ccxt's one `fetch` entry point)."""
    original = exchange.fetch

    async def fetch(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        await pacer.wait(venue, url)
        log.note(venue, url)
        return await original(url, method, headers, body)

    exchange.fetch = fetch
    return exchange


# ---- one series of one venue --------------------------------------------------------------

# sink(rows, span): write a page's rows and the span it makes complete (to the store)
Sink = Callable[[list[Any], tuple[int, int]], Awaitable[None]]


@dataclass(frozen=True)
class SeriesFetch:
    """What one paginated fetch needs: the venue, its exchange, the symbol, the read time."""

    policy: RequestPolicy
    venue: str
    exchange: Any
    symbol: str
    read_ms: int  # rows after this (a bar still forming then) are never kept
    quirks: VenueQuirks


def pages_estimate(series: str, venue: str, start: int, end: int) -> int:
    """How many requests fetching [start, end) of a series should take (for progress)."""
    quirks = QUIRKS.get(venue)
    if quirks is None or end <= start:
        return 0
    if series not in BAR_MS and series != FUNDING:
        return 1  # one request (the maintenance margin)
    if series == FUNDING:
        step, per_page = ESTIMATE_FUNDING_INTERVAL_MS, quirks.funding_per_page
    elif series in (OI_1D, OI_1H):
        step, per_page = BAR_MS[series], quirks.oi_per_page
    else:
        step, per_page = BAR_MS[series], quirks.candles_per_page
    return max(1, math.ceil((end - start) / (step * per_page)))


def oi_floor(venue: str, now_ms: int, bar_ms: int) -> int | None:
    """The oldest bar a venue still serves open interest for (None: no limit known)."""
    quirks = QUIRKS.get(venue)
    if quirks is None or quirks.oi_days is None:
        return None
    day = now_ms - now_ms % DAY_MS
    floor = day - (quirks.oi_days - OI_DAYS_MARGIN) * DAY_MS
    return floor - floor % bar_ms


async def fetch_candles(job: SeriesFetch, start: int, end: int, sink: Sink) -> None:
    """Daily candles opening in [start, end), newest page first, until the venue has no more."""
    bar = DAY_MS
    per_page = job.quirks.candles_per_page

    async def page(cursor: int) -> tuple[list[list[float]], int | None]:
        w_start = max(start, cursor - per_page * bar)
        params = {**job.quirks.candles_1d_params, "until": cursor - 1}
        raw = await job.exchange.fetch_ohlcv(
            job.symbol, "1d", since=w_start, limit=per_page, params=params
        )
        rows = candle_page(raw, w_start, cursor, bar, job.read_ms)
        return await _backward_step(rows, w_start, cursor, start, sink)

    await job.policy.paginate(job.venue, WHAT[CANDLES_1D], page, start=end, max_pages=10_000)


async def fetch_open_interest(
    job: SeriesFetch, series: str, start: int, end: int, sink: Sink
) -> None:
    """Daily or hourly OI bars opening in [start, end), newest page first.

    A bar's value is the venue's snapshot at its close (convert.oi_bars), so a page of bars
    [a, b) asks for the snapshots stamped in [a + bar, b + bar).
    """
    bar = BAR_MS[series]
    timeframe = TIMEFRAME[series]
    per_page = job.quirks.oi_per_page
    params = dict(job.quirks.oi_1d_params) if series == OI_1D else {}

    async def page(cursor: int) -> tuple[list[tuple[int, float]], int | None]:
        w_start = max(start, cursor - per_page * bar)
        raw = await job.exchange.fetch_open_interest_history(
            job.symbol,
            timeframe,
            w_start + bar,
            per_page,
            {**params, "until": cursor + bar - 1},
        )
        rows = oi_page(raw, w_start, cursor, bar, job.read_ms, job.quirks.oi_unit)
        return await _backward_step(rows, w_start, cursor, start, sink)

    await job.policy.paginate(job.venue, WHAT[series], page, start=end, max_pages=10_000)


async def fetch_funding(job: SeriesFetch, start: int, end: int, sink: Sink) -> None:
    """Funding settlements with start ≤ ts < end, in the venue's own page order."""
    per_page = job.quirks.funding_per_page
    fetch = job.exchange.fetch_funding_rate_history

    async def forward(cursor: int) -> tuple[list[tuple[int, float]], int | None]:
        raw = await fetch(job.symbol, cursor, per_page, {"until": end - 1})
        rows = [r for r in funding_page(raw, job.read_ms) if cursor <= r[0] < end]
        if len(_listed(raw)) < per_page or not rows:
            await sink(rows, (cursor, end))
            return rows, None
        following = rows[-1][0] + 1
        await sink(rows, (cursor, following))
        return rows, following

    async def backward(cursor: int) -> tuple[list[tuple[int, float]], int | None]:
        bound = cursor if job.quirks.funding_end_param == "after" else cursor - 1
        raw = await fetch(job.symbol, None, per_page, {job.quirks.funding_end_param: bound})
        rows = [r for r in funding_page(raw, job.read_ms) if r[0] < cursor]
        if len(_listed(raw)) < per_page or not rows or rows[0][0] <= start:
            await sink([r for r in rows if r[0] >= start], (start, cursor))
            return rows, None
        await sink(rows, (rows[0][0], cursor))
        return rows, rows[0][0]

    if job.quirks.funding_forward:
        await job.policy.paginate(job.venue, WHAT[FUNDING], forward, start=start, max_pages=10_000)
    else:
        await job.policy.paginate(job.venue, WHAT[FUNDING], backward, start=end, max_pages=10_000)


async def _backward_step(
    rows: list[Any], w_start: int, cursor: int, start: int, sink: Sink
) -> tuple[list[Any], int | None]:
    """Write one backward page; an empty page means the venue has nothing older."""
    if not rows:
        await sink(rows, (start, cursor))
        return rows, None
    await sink(rows, (w_start, cursor))
    return rows, (w_start if w_start > start else None)


# ---- converting one page (pure) -----------------------------------------------------------


def candle_page(raw: Any, since: int, until: int, bar_ms: int, read_ms: int) -> list[list[float]]:
    """ccxt OHLCV rows → closed candles opening in [since, until) on the UTC bar grid (a
    Hong-Kong day opening at 16:00 UTC belongs to no UTC day); none is not an error."""
    try:
        rows = convert.candle_rows(raw)
    except EmptyAnswer:
        return []
    by_ts = {
        int(r[0]): [float(int(r[0])), *r[1:6]]
        for r in rows
        if since <= r[0] < until and r[0] + bar_ms <= read_ms and int(r[0]) % bar_ms == 0
    }
    return [by_ts[ts] for ts in sorted(by_ts)]


def oi_page(
    raw: Any, since: int, until: int, bar_ms: int, read_ms: int, unit: str
) -> list[tuple[int, float]]:
    """ccxt OI snapshots → bars opening in [since, until) in the venue's known unit.

    An answer in another unit than the venue's (`VenueQuirks.oi_unit`) is refused: summing
    coins as dollars would be wrong by the price.
    """
    listed = _listed(raw)
    if not listed:
        return []
    key, in_base = convert.oi_key(listed)
    if ("base" if in_base else "usd") != unit:
        raise MalformedAnswer(f"open interest in {'coins' if in_base else 'USD'}, not {unit}")
    try:
        bars = convert.oi_bars(listed, key, bar_ms, cut_ms=read_ms)
    except EmptyAnswer:
        return []
    return [(ts, v) for ts, v in bars if since <= ts < until and ts + bar_ms <= read_ms]


def funding_page(raw: Any, read_ms: int) -> list[tuple[int, float]]:
    """ccxt funding history → `(settlement ms, rate)` at or before the read time, ascending."""
    return convert.funding_history(_listed(raw), cut_ms=read_ms)


def _listed(raw: Any) -> list[Any]:
    if not isinstance(raw, list):
        raise MalformedAnswer("not a list")
    return raw


# ---- funding intervals (pure) -------------------------------------------------------------

INTERVAL_HOURS = (1.0, 2.0, 4.0, 8.0)


def settlement_intervals(ts: Sequence[int]) -> list[float]:
    """Each settlement's own funding interval in hours: the time since the settlement before it,
    rounded to the nearest interval a venue uses (1, 2, 4, 8 h).

    Venues move symbols between 8 h, 4 h and 1 h settlements; a year's history can hold
    several. Only the past is read, so a settlement's rate never depends on what came after
    it; a gap longer than 8 h (a missing settlement) reads as 8 h. The first settlement, with
    nothing before it, takes the gap after it.
    """
    if len(ts) < 2:
        return [8.0] * len(ts)
    gaps = [_nearest_interval((b - a) / HOUR_MS) for a, b in itertools.pairwise(ts)]
    return [gaps[0], *gaps]


def _nearest_interval(hours: float) -> float:
    return min(INTERVAL_HOURS, key=lambda h: abs(math.log(max(hours, 1e-9) / h)))


def normalise_to(
    rows: Sequence[tuple[int, float]], interval_hours: float
) -> list[tuple[int, float]]:
    """Rates restated per `interval_hours` (the venue's current interval), each from its own.

    The engine normalises a venue's history with one interval (r8 = rate × 8 / interval);
    restating every settlement to the current interval first keeps settlements from an
    earlier interval at their own 8-hour rate.
    """
    if not rows:
        return []
    own = settlement_intervals([ts for ts, _ in rows])
    return [
        (ts, rate * interval_hours / hours) for (ts, rate), hours in zip(rows, own, strict=True)
    ]


def current_interval(rows: Sequence[tuple[int, float]]) -> float:
    """The interval (hours) of the newest settlements; 8 h when there are too few to tell."""
    if len(rows) < 2:
        return convert.DEFAULT_INTERVAL_HOURS
    return settlement_intervals([ts for ts, _ in rows])[-1]
