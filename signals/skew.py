"""Options skew maths: Black-76 delta, IV at ±25 delta per expiry, 30-day constant maturity.

Pure functions of option quotes; no I/O. Vols are in vol points (55.0 means 55%) at the
edges and converted to fractions only inside the delta formula.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

YEAR_MS = 365.0 * 24 * 3600 * 1000
TARGET_CALL_DELTA = 0.25
TARGET_PUT_DELTA = -0.25
# Deribit, OKX and Bybit options all expire at 08:00 UTC on their expiry date
EXPIRY_HOUR_UTC = 8

_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
    )
}
# BTC-27JUN25-60000-C, SOL_USDC-27JUN25-150-P, XRP_USDC-27JUN25-2d2-C, BTC-27JUN25-60000-C-USDT
_DMY_NAME = re.compile(
    r"^(?P<base>[A-Z0-9]+?)(?:_[A-Z]+)?-(?P<day>\d{1,2})(?P<mon>[A-Z]{3})(?P<yy>\d{2})"
    r"-(?P<strike>[0-9d.]+)-(?P<cp>[CP])(?:-[A-Z]+)?$"
)
# OKX: BTC-USD-250627-60000-C
_YMD_NAME = re.compile(
    r"^(?P<base>[A-Z0-9]+)-[A-Z]+-(?P<yy>\d{2})(?P<mm>\d{2})(?P<dd>\d{2})"
    r"-(?P<strike>[0-9.]+)-(?P<cp>[CP])$"
)


@dataclass(frozen=True)
class OptionQuote:
    """One listed option: expiry, strike, side, mark IV (vol points), underlying forward."""

    expiry_ms: int
    strike: float
    is_call: bool
    iv: float
    forward: float


@dataclass(frozen=True)
class ExpirySkew:
    """IV at +25Δ call and −25Δ put for one expiry, with its time to expiry in years."""

    expiry_ms: int
    t_years: float
    iv25_call: float
    iv25_put: float


@dataclass(frozen=True)
class InstrumentName:
    """The parts of an option instrument name."""

    base: str
    expiry_ms: int
    strike: float
    is_call: bool


def parse_option_name(name: str) -> InstrumentName | None:
    """Parse a Deribit/Bybit (`BTC-27JUN25-60000-C`) or OKX (`BTC-USD-250627-60000-C`) name."""
    m = _DMY_NAME.match(name)
    if m:
        month = _MONTHS.get(m["mon"])
        if month is None:
            return None
        year, day = 2000 + int(m["yy"]), int(m["day"])
    else:
        m = _YMD_NAME.match(name)
        if not m:
            return None
        year, month, day = 2000 + int(m["yy"]), int(m["mm"]), int(m["dd"])
    try:
        expiry = datetime(year, month, day, EXPIRY_HOUR_UTC, tzinfo=UTC)
        # Deribit writes decimal strikes of linear options with a `d`: 2d2 is 2.2
        strike = float(m["strike"].replace("d", "."))
    except ValueError:
        return None
    return InstrumentName(m["base"], int(expiry.timestamp() * 1000), strike, m["cp"] == "C")


def norm_cdf(x: float) -> float:
    """Standard normal cumulative distribution function."""
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def black76_delta(
    forward: float, strike: float, iv: float, t_years: float, is_call: bool
) -> float:
    """Undiscounted Black-76 delta; `iv` in vol points. Call N(d1), put N(d1) − 1."""
    sigma = iv / 100.0
    sd = sigma * math.sqrt(t_years)
    d1 = (math.log(forward / strike) + 0.5 * sd * sd) / sd
    n = norm_cdf(d1)
    return n if is_call else n - 1.0


def iv_at_delta(points: Iterable[tuple[float, float]], target: float) -> float | None:
    """IV linearly interpolated in delta at `target`; None unless two points bracket it."""
    pts = sorted(points)
    for (d0, v0), (d1, v1) in itertools.pairwise(pts):
        if d0 <= target <= d1:
            if d1 == d0:
                return (v0 + v1) / 2.0
            return v0 + (v1 - v0) * (target - d0) / (d1 - d0)
    if len(pts) == 1 and pts[0][0] == target:
        return pts[0][1]
    return None


def expiry_skews(quotes: Iterable[OptionQuote], now_ms: int) -> list[ExpirySkew]:
    """Per expiry, IV at +25Δ (calls) and −25Δ (puts); expiries lacking either wing drop out."""
    by_expiry: dict[int, list[OptionQuote]] = defaultdict(list)
    for q in quotes:
        if q.expiry_ms > now_ms and q.iv > 0 and q.forward > 0 and q.strike > 0:
            by_expiry[q.expiry_ms].append(q)
    result: list[ExpirySkew] = []
    for expiry_ms in sorted(by_expiry):
        t = (expiry_ms - now_ms) / YEAR_MS
        calls = [
            (black76_delta(q.forward, q.strike, q.iv, t, True), q.iv)
            for q in by_expiry[expiry_ms]
            if q.is_call
        ]
        puts = [
            (black76_delta(q.forward, q.strike, q.iv, t, False), q.iv)
            for q in by_expiry[expiry_ms]
            if not q.is_call
        ]
        iv_call = iv_at_delta(calls, TARGET_CALL_DELTA)
        iv_put = iv_at_delta(puts, TARGET_PUT_DELTA)
        if iv_call is not None and iv_put is not None:
            result.append(ExpirySkew(expiry_ms, t, iv_call, iv_put))
    return result


def iv_at_maturity(points: list[tuple[float, float]], t_target: float) -> float | None:
    """IV at `t_target` years by linear interpolation of total variance IV²·T in T.

    Outside the listed expiries the IV is held flat at the nearest expiry's value.
    """
    pts = sorted(points)
    if not pts or t_target <= 0:
        return None
    if t_target <= pts[0][0]:
        return pts[0][1]
    if t_target >= pts[-1][0]:
        return pts[-1][1]
    for (t0, v0), (t1, v1) in itertools.pairwise(pts):
        if t0 <= t_target <= t1:
            w0 = (v0 / 100.0) ** 2 * t0
            w1 = (v1 / 100.0) ** 2 * t1
            w = w0 + (w1 - w0) * (t_target - t0) / (t1 - t0)
            return 100.0 * math.sqrt(max(w, 0.0) / t_target)
    return None


def rr25_constant_maturity(
    quotes: Iterable[OptionQuote], now_ms: int, days: float = 30.0
) -> float | None:
    """The `days` constant-maturity 25-delta risk reversal IV25c − IV25p in vol points."""
    skews = expiry_skews(quotes, now_ms)
    if not skews:
        return None
    t_target = days / 365.0
    iv_call = iv_at_maturity([(s.t_years, s.iv25_call) for s in skews], t_target)
    iv_put = iv_at_maturity([(s.t_years, s.iv25_put) for s in skews], t_target)
    if iv_call is None or iv_put is None:
        return None
    return iv_call - iv_put
