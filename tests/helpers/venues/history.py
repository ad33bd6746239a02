"""Fake venues serving LONG histories, paginated the way each venue pages them.

The history endpoints of the fake venues (tests/helpers/venues/binance.py, bybit.py, okx.py)
answer the last few hundred points of a check. `HistoryServer` serves years instead, from a
seeded `LongAsset` per symbol, with each venue's documented paging rules and limits; every
other path (markets, risk limits, tickers) is the ordinary fake's.

Binance USDⓈ-M (answers oldest first):
- `GET /fapi/v1/klines?symbol&interval&startTime&endTime&limit` — `limit` default 500, max
  1500; with `startTime`, the first `limit` bars from it; without, the last `limit` up to
  `endTime`. Rows `[openTime, "o", "h", "l", "c", "v", closeTime, …]`, the forming bar last.
- `GET /fapi/v1/fundingRate?symbol&startTime&endTime&limit` — default 100, max 1000; "If the
  number of data between startTime and endTime is larger than limit, return as startTime +
  limit"; rows `{"symbol","fundingRate":"0.0001","fundingTime":…,"markPrice":…}`.
- `GET /futures/data/openInterestHist?symbol&period&startTime&endTime&limit` — default 30,
  max 500, "Only the data of the latest 30 days is available"; a `startTime` before that is
  refused `{"code":-1130,"msg":"Data can only be queried for the latest 30 days."}` (HTTP 400).

Bybit v5 (answers newest first, wrapped in `{"retCode":0,"result":{"list":[…]}}`):
- `GET /v5/market/kline?category&symbol&interval&start&end&limit` — max 1000, default 200.
- `GET /v5/market/open-interest?…&intervalTime&startTime&endTime&limit&cursor` — max 200,
  default 50; `{"openInterest":"…" (coins),"timestamp":"…"}`; `nextPageCursor` when more.
- `GET /v5/market/funding/history?…&startTime&endTime&limit` — max 200: "Passing only
  startTime returns an error; passing only endTime returns 200 records up till endTime".

OKX v5 (newest first, `{"code":"0","data":[…]}`):
- `GET /api/v5/market/candles` and `/market/history-candles?instId&bar&after&before&limit` —
  `after`: records earlier than it, `before`: newer; max 300 / 100; `bar=1Dutc` UTC days.
- `GET /api/v5/rubik/stat/contracts/open-interest-history?instId&period&begin&end&limit` —
  max 100, both bounds exclusive; rows `[ts, contracts, coins, usd]`; `oi_days` deep.
- `GET /api/v5/public/funding-rate-history?instId&before&after&limit` — max 100; the
  last `funding_days` (OKX keeps about three months).
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.helpers.fake_exchange import ROUTES, FakeExchangeServer
from tests.helpers.venues.scenario import (
    BINANCE_OI_MARK,
    DAY_MS,
    HOST_VENUE,
    HOUR_MS,
    OKX_CONTRACT_VALUE,
    OKX_OI_MARK,
    Scenario,
    asset_by_id,
    default_scenario,
)


@dataclass
class VenueSeries:
    """One venue's long series for one asset."""

    # daily and hourly OI in coins, by bar open (the snapshot at the bar's close)
    oi_1d: dict[int, float] = field(default_factory=dict)
    oi_1h: dict[int, float] = field(default_factory=dict)
    # settlement ms → rate per interval, ascending
    funding: dict[int, float] = field(default_factory=dict)
    # how far back the venue serves OI (None: all) and funding (None: all)
    oi_days: int | None = None
    funding_days: int | None = None


@dataclass
class LongAsset:
    """Years of one asset: daily candles (the forming one last) and each venue's series."""

    daily: list[list[float]]
    hourly: list[list[float]]
    venues: dict[str, VenueSeries]

    def close_at(self, ts: int, bar_ms: int) -> float | None:
        """Close of the bar opening at `ts` (daily or hourly)."""
        rows = self.daily if bar_ms == DAY_MS else self.hourly
        index = {int(r[0]): r for r in rows}
        row = index.get(ts)
        return row[4] if row else None


def long_asset(
    now_ms: int,
    days: int = 500,
    *,
    seed: int = 7,
    price: float = 3000.0,
    intervals: dict[str, list[tuple[int, int]]] | None = None,
    oi_days: dict[str, int | None] | None = None,
    funding_days: dict[str, int | None] | None = None,
    listed_days: dict[str, int] | None = None,
    hourly_days: int = 40,
) -> LongAsset:
    """A seeded random walk of `days` daily candles to now, and each venue's OI and funding.

    `intervals[venue]` = [(hours, from_ms), …] changes a venue's funding interval over time;
    `listed_days[venue]` starts a venue's series that many days before now (a late listing).
    """
    rng = random.Random(seed)
    today = now_ms - now_ms % DAY_MS
    start = today - days * DAY_MS
    daily: list[list[float]] = []
    close = price
    for i in range(days + 1):  # the last one is today's forming bar
        ts = start + i * DAY_MS
        open_ = close
        close = max(1.0, open_ * math.exp(rng.gauss(0.0, 0.035)))
        high = max(open_, close) * (1 + abs(rng.gauss(0, 0.012)))
        low = min(open_, close) * (1 - abs(rng.gauss(0, 0.012)))
        daily.append([float(ts), open_, high, low, close, 1000.0 + rng.random() * 500])
    hour_now = now_ms - now_ms % HOUR_MS
    hourly: list[list[float]] = []
    h_close = daily[-hourly_days - 1][4]
    for i in range(hourly_days * 24 + (hour_now - today) // HOUR_MS + 1):
        ts = today - hourly_days * DAY_MS + i * HOUR_MS
        open_ = h_close
        h_close = max(1.0, open_ * math.exp(rng.gauss(0.0, 0.007)))
        hourly.append(
            [
                float(ts),
                open_,
                max(open_, h_close) * 1.001,
                min(open_, h_close) * 0.999,
                h_close,
                50,
            ]
        )
    venues: dict[str, VenueSeries] = {}
    base_amount = {"binanceusdm": 1000.0, "bybit": 500.0, "okx": 250.0}
    default_oi_days: dict[str, int | None] = {"binanceusdm": 30, "bybit": None, "okx": 180}
    default_funding_days: dict[str, int | None] = {"binanceusdm": None, "bybit": None, "okx": 90}
    for venue, amount in base_amount.items():
        listed = (listed_days or {}).get(venue)
        first = today - listed * DAY_MS if listed is not None else start
        series = VenueSeries(
            oi_days=(oi_days or {}).get(venue, default_oi_days[venue]),
            funding_days=(funding_days or {}).get(venue, default_funding_days[venue]),
        )
        level = amount
        for row in daily[:-1]:
            ts = int(row[0])
            level *= math.exp(rng.gauss(0.0, 0.03))
            if ts >= first:
                series.oi_1d[ts] = level
        level_h = amount
        for row in hourly:
            ts = int(row[0])
            level_h *= math.exp(rng.gauss(0.0, 0.005))
            if ts >= first and ts + HOUR_MS <= now_ms:
                series.oi_1h[ts] = level_h
        plan = (intervals or {}).get(venue) or [(8, start)]
        t = first - first % (8 * HOUR_MS)
        while t <= now_ms:
            hours = next(h for h, since in reversed(plan) if t >= since) if t >= plan[0][1] else 8
            if t >= first:
                series.funding[t] = round(rng.gauss(0.0001, 0.00015), 8)
            t += hours * HOUR_MS
        venues[venue] = series
    return LongAsset(daily, hourly, venues)


def _int(query: dict[str, str], key: str) -> int | None:
    value = query.get(key)
    return int(value) if value not in (None, "") else None


def _window(rows: list[Any], key: Any, start: int | None, end: int | None) -> list[Any]:
    return [
        r for r in rows if (start is None or key(r) >= start) and (end is None or key(r) <= end)
    ]


def _page(rows: list[Any], limit: int, *, from_start: bool) -> list[Any]:
    """`limit` rows of an ascending list: the first ones (from a start) or the last ones."""
    return rows[:limit] if from_start else rows[-limit:] if limit else []


class HistoryServer(FakeExchangeServer):
    """The fake venues with years of history on their history endpoints (module docstring).

    `rate_limits[venue]` or `rate_limits[(venue, path)]` = (requests, seconds) answers HTTP
    429 with `Retry-After: 1` to a request beyond that many in any such window, like the
    venues' IP and endpoint limits. `arrivals` holds (venue, path, monotonic time) of each.
    """

    def __init__(
        self,
        scenario: Scenario | None = None,
        assets: dict[str, LongAsset] | None = None,
        *,
        rate_limits: dict[Any, tuple[int, float]] | None = None,
        latency_s: float = 0.0,
    ) -> None:
        super().__init__(scenario or default_scenario(), latency_s=latency_s)
        now = self.scenario.now_ms
        self.assets = assets if assets is not None else {"ETH": long_asset(now)}
        self.rate_limits = rate_limits or {}
        self.refused: list[tuple[str, str]] = []
        self.arrivals: list[tuple[str, str, float]] = []
        self._recent: dict[Any, list[float]] = {}
        self.routes: dict[tuple[str, str], Any] = {
            ("binanceusdm", "/fapi/v1/klines"): self.binance_klines,
            ("binanceusdm", "/fapi/v1/fundingRate"): self.binance_funding,
            ("binanceusdm", "/futures/data/openInterestHist"): self.binance_oi,
            ("bybit", "/v5/market/kline"): self.bybit_klines,
            ("bybit", "/v5/market/open-interest"): self.bybit_oi,
            ("bybit", "/v5/market/funding/history"): self.bybit_funding,
            ("okx", "/api/v5/market/candles"): self.okx_candles,
            ("okx", "/api/v5/market/history-candles"): self.okx_candles,
            ("okx", "/api/v5/rubik/stat/contracts/open-interest-history"): self.okx_oi,
            ("okx", "/api/v5/public/funding-rate-history"): self.okx_funding,
        }

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        venue = HOST_VENUE.get(request.match_info["host"], request.match_info["host"])
        path = "/" + request.match_info["path"]
        query = dict(request.query)
        self.requests.append((venue, path, query))
        self.arrivals.append((venue, path, time.monotonic()))
        if self._over_limit(venue, path):
            self.refused.append((venue, path))
            return web.json_response(
                {"code": -1003, "msg": "Too many requests"},
                status=429,
                headers={"Retry-After": "1"},
            )
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        fault = self._fault_for(venue, path)
        if fault is not None:
            if fault.delay_s:
                await asyncio.sleep(fault.delay_s)
            if fault.status != 200 or fault.body:
                return web.Response(
                    status=fault.status,
                    text=fault.body,
                    content_type=fault.content_type,
                    headers=fault.headers,
                )
        handler = self.routes.get((venue, path))
        if handler is not None:
            status, body = handler(query)
        else:
            route = ROUTES.get(venue, {}).get(path)
            if route is None:
                return web.json_response({"error": f"no fake route {venue} {path}"}, status=404)
            status, body = 200, route(self.scenario, query)
        return web.Response(text=json.dumps(body), status=status, content_type="application/json")

    def _over_limit(self, venue: str, path: str) -> bool:
        over = False
        now = time.monotonic()
        for key in (venue, (venue, path)):
            limit = self.rate_limits.get(key)
            if limit is None:
                continue
            recent = [t for t in self._recent.get(key, []) if now - t < limit[1]]
            over = over or len(recent) >= limit[0]
            self._recent[key] = [*recent, now]
        return over

    # ---- lookups --------------------------------------------------------------------------

    def _asset(self, venue: str, market_id: str) -> tuple[str, LongAsset] | None:
        found = asset_by_id(self.scenario, market_id, venue)
        if found is None or found[0] not in self.assets:
            return None
        return found[0], self.assets[found[0]]

    def _oi_rows(
        self, asset: LongAsset, venue: str, bar_ms: int
    ) -> list[tuple[int, float, float]]:
        """(snapshot ts, coins, close) the venue still serves, ascending."""
        series = asset.venues[venue]
        source = series.oi_1d if bar_ms == DAY_MS else series.oi_1h
        now = self.scenario.now_ms
        floor = now - series.oi_days * DAY_MS if series.oi_days is not None else None
        rows = []
        for ts in sorted(source):
            snapshot = ts + bar_ms
            close = asset.close_at(ts, bar_ms)
            if snapshot > now or close is None or (floor is not None and snapshot < floor):
                continue
            rows.append((snapshot, source[ts], close))
        return rows

    def _funding_rows(self, asset: LongAsset, venue: str) -> list[tuple[int, float]]:
        series = asset.venues[venue]
        now = self.scenario.now_ms
        floor = now - series.funding_days * DAY_MS if series.funding_days is not None else None
        return [
            (ts, r)
            for ts, r in sorted(series.funding.items())
            if ts <= now and (floor is None or ts >= floor)
        ]

    # ---- Binance --------------------------------------------------------------------------

    def binance_klines(self, q: dict[str, str]) -> tuple[int, Any]:
        found = self._asset("binanceusdm", q["symbol"])
        if found is None:
            return 400, {"code": -1121, "msg": "Invalid symbol."}
        _, asset = found
        bar = DAY_MS if q["interval"] == "1d" else HOUR_MS
        rows = asset.daily if bar == DAY_MS else asset.hourly
        limit = min(int(q.get("limit", 500)), 1500)
        start, end = _int(q, "startTime"), _int(q, "endTime")
        chosen = _page(
            _window(rows, lambda r: r[0], start, end), limit, from_start=start is not None
        )
        return 200, [
            [int(r[0]), *(str(x) for x in r[1:6]), int(r[0]) + bar - 1, "0", 10, "0", "0", "0"]
            for r in chosen
        ]

    def binance_funding(self, q: dict[str, str]) -> tuple[int, Any]:
        found = self._asset("binanceusdm", q["symbol"])
        if found is None:
            return 400, {"code": -1121, "msg": "Invalid symbol."}
        base, asset = found
        limit = min(int(q.get("limit", 100)), 1000)
        start, end = _int(q, "startTime"), _int(q, "endTime")
        rows = _window(self._funding_rows(asset, "binanceusdm"), lambda r: r[0], start, end)
        chosen = _page(rows, limit, from_start=start is not None)
        return 200, [
            {
                "symbol": f"{base}USDT",
                "fundingTime": ts,
                "fundingRate": f"{r:.8f}",
                "markPrice": "1",
            }
            for ts, r in chosen
        ]

    def binance_oi(self, q: dict[str, str]) -> tuple[int, Any]:
        found = self._asset("binanceusdm", q["symbol"])
        if found is None:
            return 400, {"code": -1121, "msg": "Invalid symbol."}
        base, asset = found
        bar = DAY_MS if q["period"] == "1d" else HOUR_MS
        start, end = _int(q, "startTime"), _int(q, "endTime")
        days = asset.venues["binanceusdm"].oi_days
        if start is not None and days is not None and start < self.scenario.now_ms - days * DAY_MS:
            return 400, {"code": -1130, "msg": "Data can only be queried for the latest 30 days."}
        limit = min(int(q.get("limit", 30)), 500)
        rows = _window(self._oi_rows(asset, "binanceusdm", bar), lambda r: r[0], start, end)
        chosen = _page(rows, limit, from_start=start is not None)
        return 200, [
            {
                "symbol": f"{base}USDT",
                "sumOpenInterest": f"{coins:.8f}",
                "sumOpenInterestValue": f"{coins * close * BINANCE_OI_MARK:.8f}",
                "timestamp": ts,
            }
            for ts, coins, close in chosen
        ]

    # ---- Bybit ----------------------------------------------------------------------------

    def _bybit(self, result: Any) -> tuple[int, Any]:
        return 200, {
            "retCode": 0,
            "retMsg": "OK",
            "result": result,
            "retExtInfo": {},
            "time": self.scenario.now_ms,
        }

    def _bybit_error(self, code: int, msg: str) -> tuple[int, Any]:
        return 200, {"retCode": code, "retMsg": msg, "result": {}, "retExtInfo": {}, "time": 0}

    def bybit_klines(self, q: dict[str, str]) -> tuple[int, Any]:
        found = self._asset("bybit", q["symbol"])
        if found is None:
            return self._bybit_error(10001, "params error: symbol invalid")
        _, asset = found
        rows = asset.daily if q["interval"] == "D" else asset.hourly
        limit = min(int(q.get("limit", 200)), 1000)
        start, end = _int(q, "start"), _int(q, "end")
        chosen = _page(_window(rows, lambda r: r[0], start, end), limit, from_start=False)
        listed = [[str(int(r[0])), *(str(x) for x in r[1:6]), "0"] for r in reversed(chosen)]
        return self._bybit({"category": "linear", "symbol": q["symbol"], "list": listed})

    def bybit_oi(self, q: dict[str, str]) -> tuple[int, Any]:
        found = self._asset("bybit", q["symbol"])
        if found is None:
            return self._bybit_error(10001, "params error: symbol invalid")
        _, asset = found
        bar = DAY_MS if q["intervalTime"] == "1d" else HOUR_MS
        limit = min(int(q.get("limit", 50)), 200)
        start, end = _int(q, "startTime"), _int(q, "endTime")
        rows = _window(self._oi_rows(asset, "bybit", bar), lambda r: r[0], start, end)
        newest_first = list(reversed(rows))
        offset = int(q.get("cursor") or 0)
        chosen = newest_first[offset : offset + limit]
        more = offset + limit < len(newest_first)
        return self._bybit(
            {
                "symbol": q["symbol"],
                "category": "linear",
                "list": [
                    {"openInterest": f"{c:.8f}", "timestamp": str(ts)} for ts, c, _ in chosen
                ],
                "nextPageCursor": str(offset + limit) if more else "",
            }
        )

    def bybit_funding(self, q: dict[str, str]) -> tuple[int, Any]:
        found = self._asset("bybit", q["symbol"])
        if found is None:
            return self._bybit_error(10001, "params error: symbol invalid")
        base, asset = found
        start, end = _int(q, "startTime"), _int(q, "endTime")
        if start is not None and end is None:
            return self._bybit_error(10001, "params error: endTime is required with startTime")
        limit = min(int(q.get("limit", 200)), 200)
        rows = _window(self._funding_rows(asset, "bybit"), lambda r: r[0], start, end)
        chosen = _page(rows, limit, from_start=False)
        return self._bybit(
            {
                "category": "linear",
                "list": [
                    {
                        "symbol": f"{base}USDT",
                        "fundingRate": f"{r:.8f}",
                        "fundingRateTimestamp": str(ts),
                    }
                    for ts, r in reversed(chosen)
                ],
            }
        )

    # ---- OKX ------------------------------------------------------------------------------

    def okx_candles(self, q: dict[str, str]) -> tuple[int, Any]:
        found = self._asset("okx", q["instId"])
        if found is None:
            return 200, {"code": "51001", "msg": "Instrument ID does not exist", "data": []}
        _, asset = found
        bar_word = q.get("bar", "1m")
        if bar_word not in ("1H", "1Dutc"):
            return 200, {"code": "51000", "msg": f"bar {bar_word} not faked", "data": []}
        rows = asset.hourly if bar_word == "1H" else asset.daily
        after, before = _int(q, "after"), _int(q, "before")
        limit = min(int(q.get("limit", 100)), 100)
        inside = [
            r
            for r in rows
            if (after is None or r[0] < after) and (before is None or r[0] > before)
        ]
        # OKX pages back from `after`: the newest `limit` earlier than it
        chosen = inside[-limit:] if before is None or after is not None else inside[:limit]
        forming = rows[-1][0]
        data = [
            [str(int(r[0])), *(str(x) for x in r[1:6]), "0", "0", "0" if r[0] == forming else "1"]
            for r in reversed(chosen)
        ]
        return 200, {"code": "0", "msg": "", "data": data}

    def okx_oi(self, q: dict[str, str]) -> tuple[int, Any]:
        found = self._asset("okx", q["instId"])
        if found is None:
            return 200, {"code": "51001", "msg": "Instrument ID does not exist", "data": []}
        _, asset = found
        period = q.get("period", "5m")
        if period not in ("1H", "1Dutc"):
            return 200, {"code": "51000", "msg": f"period {period} not faked", "data": []}
        bar = HOUR_MS if period == "1H" else DAY_MS
        begin, end = _int(q, "begin"), _int(q, "end")
        limit = min(int(q.get("limit", 100)), 100)
        rows = [
            r
            for r in self._oi_rows(asset, "okx", bar)
            if (begin is None or r[0] > begin) and (end is None or r[0] < end)
        ]
        chosen = rows[-limit:]
        data = [
            [
                str(ts),
                f"{coins / OKX_CONTRACT_VALUE:.4f}",
                f"{coins:.4f}",
                f"{coins * close * OKX_OI_MARK:.4f}",
            ]
            for ts, coins, close in reversed(chosen)
        ]
        return 200, {"code": "0", "msg": "", "data": data}

    def okx_funding(self, q: dict[str, str]) -> tuple[int, Any]:
        found = self._asset("okx", q["instId"])
        if found is None:
            return 200, {"code": "51001", "msg": "Instrument ID does not exist", "data": []}
        base, asset = found
        after, before = _int(q, "after"), _int(q, "before")
        limit = min(int(q.get("limit", 100)), 100)
        rows = [
            r
            for r in self._funding_rows(asset, "okx")
            if (after is None or r[0] < after) and (before is None or r[0] > before)
        ]
        chosen = rows[-limit:] if before is None or after is not None else rows[:limit]
        data = [
            {
                "instType": "SWAP",
                "instId": f"{base}-USDT-SWAP",
                "fundingRate": f"{r:.8f}",
                "realizedRate": f"{r:.8f}",
                "fundingTime": str(ts),
                "method": "current_period",
            }
            for ts, r in reversed(chosen)
        ]
        return 200, {"code": "0", "msg": "", "data": data}
