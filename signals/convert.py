"""Pure converters: venue answer rows → typed series and values (SPEC §1). No I/O, no clock.

Each converter reads what one endpoint means — its units and its timestamps — and raises
`EmptyAnswer` (or `MalformedAnswer`) when the answer cannot give what was asked, so the
request policy names the venue and the metric instead of reading "no data" as calm.

Timestamp meanings (see docs/data-sources.md):

- candles: `ts` is the bar's OPEN time (ccxt's convention for every venue);
- open interest: `ts` is the SNAPSHOT time, taken at the end of the period it closes, so the
  12:00 point is the OI at the close of the 11:00 bar. It is stored under that bar's open
  (SPEC: bars are keyed by their open), and the newest snapshot is the newest closed bar;
- funding history: `ts` is the settlement time (a sample);
- option marks: the time they were read (a sample).
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from signals.market import DAY_MS, HOUR_MS, OHLCV_COLUMNS, frame_from_rows, series_from_rows
from signals.skew import OptionQuote, parse_option_name
from signals.venue_policy import EmptyAnswer, MalformedAnswer

# a venue's snapshot may be stamped a little after the period boundary it belongs to
SNAPSHOT_LAG_MS = 5 * 60_000
DEFAULT_INTERVAL_HOURS = 8.0
# plausible maintenance margin rates: anything else is a unit mix-up (Bybit once sent percent)
MMR_RANGE = (0.0, 0.5)


def series(rows: Iterable[tuple[int, float]]) -> pd.Series:
    """A ts-indexed float series from `(ts, value)` rows (already sorted)."""
    return series_from_rows([(float(ts), float(value)) for ts, value in rows])


def _number(raw: Any) -> float | None:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


# ---- candles ---------------------------------------------------------------------------


def candle_rows(rows: Any) -> list[list[float]]:
    """ccxt OHLCV rows `[ts, o, h, l, c, v]` as floats, ascending; EmptyAnswer when none read."""
    if not isinstance(rows, list):
        raise MalformedAnswer("not a list of candles")
    result: list[list[float]] = []
    for row in rows:
        if not isinstance(row, list | tuple) or len(row) < 6:
            continue
        values = [_number(x) for x in row[:6]]
        if any(v is None for v in values):
            continue
        ts, o, h, low, c, v = (float(x) for x in values)  # type: ignore[arg-type]
        if min(o, h, low, c) <= 0 or v < 0:
            continue
        result.append([ts, o, h, low, c, v])
    if not result:
        raise EmptyAnswer("no candles")
    result.sort(key=lambda r: r[0])
    return result


def closed_ohlcv(rows: Sequence[Sequence[float]], cut_ms: int, bar_ms: int) -> pd.DataFrame:
    """Candles closed by `cut_ms` (the time they were read): the forming bar is dropped."""
    by_ts: dict[int, list[float]] = {}
    for r in rows:
        if int(r[0]) + bar_ms <= cut_ms:
            by_ts[int(r[0])] = [float(x) for x in r[1:6]]
    closed = [[ts, *by_ts[ts]] for ts in sorted(by_ts)]
    return frame_from_rows(closed, OHLCV_COLUMNS)


# ---- open interest ---------------------------------------------------------------------


def oi_key(history: Sequence[Mapping[str, Any]]) -> tuple[str, bool]:
    """Which ccxt field carries the OI and whether it is in base coins (True) or USD.

    Binance gives sumOpenInterestValue and OKX oiUsd (both openInterestValue, USD); Bybit
    linear gives only the base-coin amount (openInterestAmount).
    """
    in_usd = any(_number(h.get("openInterestValue")) is not None for h in history)
    return ("openInterestValue", False) if in_usd else ("openInterestAmount", True)


def oi_bars(
    history: Any, key: str, bar_ms: int, *, cut_ms: int | None = None
) -> list[tuple[int, float]]:
    """OI snapshots as bars: the snapshot at period end T is the bar that opened at T − bar.

    A snapshot that is not on the period grid (OKX stamps its Hong-Kong days at 16:00 UTC)
    belongs to no UTC bar and is left out; so is one still in the future of `cut_ms`.
    Raises EmptyAnswer when no point is usable.
    """
    if not isinstance(history, list):
        raise MalformedAnswer("not a list of open-interest points")
    by_bar: dict[int, float] = {}
    for h in history:
        if not isinstance(h, Mapping):
            continue
        ts, value = _number(h.get("timestamp")), _number(h.get(key))
        if ts is None or value is None or value < 0:
            continue
        end = int(ts) - int(ts) % bar_ms
        if int(ts) - end > SNAPSHOT_LAG_MS or (cut_ms is not None and end > cut_ms):
            continue
        by_bar[end - bar_ms] = value
    if not by_bar:
        raise EmptyAnswer("no open-interest points on the UTC grid")
    return sorted(by_bar.items())


def oi_usd(points: Sequence[tuple[int, float]], in_base: bool, ohlcv: pd.DataFrame) -> pd.Series:
    """OI in USD per bar; base-coin amounts × the close of the same bar (empty without it)."""
    values = series(points)
    if not in_base or not len(values):
        return values
    if not len(ohlcv):
        return series([])
    closes = ohlcv["close"].reindex(values.index)
    usd = (values * closes).dropna()
    usd.index.name = "ts"
    return usd.astype("float64")


def sum_common(parts: Iterable[pd.Series]) -> pd.Series:
    """Sum over venues at the bars every venue has (a venue's short history trims the sum)."""
    present = [s for s in parts if len(s)]
    if not present:
        return series([])
    frame = pd.concat(present, axis=1, join="inner")
    total = frame.sum(axis=1).astype("float64")
    total.index.name = "ts"
    return total.sort_index()


def last_value(values: pd.Series | None) -> float | None:
    """The newest value of a series, or None when it is empty."""
    if values is None or not len(values):
        return None
    return float(values.iloc[-1])


# ---- funding ---------------------------------------------------------------------------


def funding_history(history: Any, cut_ms: int | None = None) -> list[tuple[int, float]]:
    """Settled funding `(settlement ms, rate per interval)`, ascending (may be empty: a new
    listing has none yet)."""
    if not isinstance(history, list):
        raise MalformedAnswer("not a list of funding settlements")
    rows: dict[int, float] = {}
    for h in history:
        if not isinstance(h, Mapping):
            continue
        ts, rate = _number(h.get("timestamp")), _number(h.get("fundingRate"))
        if ts is None or rate is None or (cut_ms is not None and ts > cut_ms):
            continue
        rows[int(ts)] = rate
    return sorted(rows.items())


def current_rate(answer: Any) -> float:
    """The current (predicted) funding rate of a ccxt funding-rate answer."""
    if not isinstance(answer, Mapping):
        raise MalformedAnswer("not a funding-rate object")
    rate = _number(answer.get("fundingRate"))
    if rate is None:
        raise EmptyAnswer("no funding rate")
    return rate


def interval_hours(interval: Any) -> float | None:
    """ccxt's funding interval string ('8h', '4h', '1h') in hours."""
    if not isinstance(interval, str) or not interval.endswith("h"):
        return None
    hours = _number(interval[:-1])
    return hours if hours is not None and hours > 0 else None


def interval_from_history(rows: Sequence[tuple[int, float]]) -> float | None:
    """The usual spacing of settlements, for a venue that does not say its interval."""
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(rows) if b[0] > a[0]]
    if not gaps:
        return None
    return round(statistics.median(gaps) / HOUR_MS, 2)


def binance_intervals(info: Any) -> dict[str, float]:
    """Binance fundingInfo (ccxt fetch_funding_intervals): symbol → hours (listed symbols only:
    every other symbol settles every 8 h)."""
    if not isinstance(info, Mapping):
        raise MalformedAnswer("not a funding-interval map")
    result: dict[str, float] = {}
    for symbol, entry in info.items():
        hours = interval_hours(entry.get("interval")) if isinstance(entry, Mapping) else None
        if hours is not None:
            result[str(symbol)] = hours
    return result


# ---- maintenance margin ----------------------------------------------------------------


def bybit_lowest_mmr(answer: Any) -> float:
    """Bybit `/v5/market/risk-limit` → the maintenance margin rate of the LOWEST tier.

    The list is not sorted (tests/fixtures/bybit/risk_limit_btcusdt_unsorted.json lists the
    2,000,000 tier before the 300,000 one): the tier marked `isLowestRisk` = 1 is taken, else
    the one with the smallest `riskLimitValue`.
    """
    if not isinstance(answer, Mapping) or not isinstance(answer.get("result"), Mapping):
        raise MalformedAnswer("no result object")
    tiers = [t for t in answer["result"].get("list") or [] if isinstance(t, Mapping)]
    readable = [
        (t, _number(t.get("riskLimitValue")), _number(t.get("maintenanceMargin"))) for t in tiers
    ]
    usable = [
        (t, limit, mmr) for t, limit, mmr in readable if limit is not None and mmr is not None
    ]
    if not usable:
        raise EmptyAnswer("no risk tiers")
    marked = [u for u in usable if str(u[0].get("isLowestRisk")) == "1"]
    _, _, mmr = marked[0] if marked else min(usable, key=lambda u: u[1] or 0.0)
    if mmr is None or not MMR_RANGE[0] < mmr < MMR_RANGE[1]:
        raise MalformedAnswer(f"implausible maintenance margin {mmr}")
    return mmr


# ---- options ---------------------------------------------------------------------------


def quote(name: Any, iv: Any, forward: Any, iv_scale: float) -> tuple[str, OptionQuote] | None:
    """An option quote from its name, mark IV (× iv_scale → vol points) and forward."""
    if not isinstance(name, str):
        return None
    parsed = parse_option_name(name)
    iv_value, fwd = _number(iv), _number(forward)
    if parsed is None or iv_value is None or fwd is None:
        return None
    iv_points = iv_value * iv_scale
    if iv_points <= 0 or fwd <= 0:
        return None
    return parsed.base, OptionQuote(
        parsed.expiry_ms, parsed.strike, parsed.is_call, iv_points, fwd
    )


def deribit_book(answer: Any) -> list[tuple[str, OptionQuote]]:
    """Deribit `get_book_summary_by_currency?kind=option`: every option of the currency.

    `mark_iv` is in vol points and `underlying_price` is the expiry's forward (our Black-76
    deltas match Deribit's own to 2e-5 on the recorded chain).
    """
    if not isinstance(answer, Mapping) or not isinstance(answer.get("result"), list):
        raise MalformedAnswer("no result list")
    rows = [r for r in answer["result"] if isinstance(r, Mapping)]
    quotes = [
        q
        for r in rows
        if (q := quote(r.get("instrument_name"), r.get("mark_iv"), r.get("underlying_price"), 1.0))
    ]
    if rows and not quotes:
        raise MalformedAnswer("no readable option row")
    return quotes


def okx_opt_summary(answer: Any, asset: str) -> list[OptionQuote]:
    """OKX `/api/v5/public/opt-summary`: `markVol` is a fraction, `fwdPx` the forward."""
    if not isinstance(answer, Mapping) or not isinstance(answer.get("data"), list):
        raise MalformedAnswer("no data list")
    rows = [
        quote(r.get("instId"), r.get("markVol"), r.get("fwdPx"), 100.0)
        for r in answer["data"]
        if isinstance(r, Mapping)
    ]
    return [q for base, q in filter(None, rows) if base == asset]


def bybit_option_tickers(answer: Any, asset: str) -> list[OptionQuote]:
    """Bybit `/v5/market/tickers?category=option`: `markIv` is a fraction."""
    if not isinstance(answer, Mapping) or not isinstance(answer.get("result"), Mapping):
        raise MalformedAnswer("no result object")
    listed = answer["result"].get("list") or []
    if not isinstance(listed, list):
        raise MalformedAnswer("no ticker list")
    rows = [
        quote(r.get("symbol"), r.get("markIv"), r.get("underlyingPrice"), 100.0)
        for r in listed
        if isinstance(r, Mapping)
    ]
    return [q for base, q in filter(None, rows) if base == asset]


def day_floor(ms: int) -> int:
    """00:00 UTC of the day holding `ms`."""
    return ms - ms % DAY_MS
