"""Fake Binance USDⓈ-M (`fapi.binance.com`) REST answers, in the shapes Binance sends.

`GET /futures/data/openInterestHist?symbol=BTCUSDT&period=1h` — Binance's documented example;
its `timestamp` is the SNAPSHOT time (a number on the wire, a string in the docs). The newest
1h row is stamped at the top of the current hour: the OI at the close of the previous bar.

    [{"symbol":"BTCUSDT","sumOpenInterest":"20403.63700000",
      "sumOpenInterestValue":"150570784.07809979","CMCCirculatingSupply":"165880.538",
      "timestamp":"1583127900000"}, …]

A live row recorded 16 minutes after the hour (see tests/fixtures/binanceusdm/SOURCES.md):
`{"symbol":"BTCUSDT","sumOpenInterest":"104882.705","sumOpenInterestValue":"6653666199.09",
"timestamp":1783306800000}`.

`GET /fapi/v1/klines` — `[[openTime, "o", "h", "l", "c", "v", closeTime, "quoteVolume",
trades, "takerBase", "takerQuote", "0"], …]`, oldest first, the forming bar last.

`GET /fapi/v1/premiumIndex` — `{"symbol":"BTCUSDT","markPrice":"…","lastFundingRate":"0.0001",
"nextFundingTime":1597392000000,"time":1597370495002, …}`; `GET /fapi/v1/fundingRate` —
`[{"symbol":"BTCUSDT","fundingRate":"-0.03750000","fundingTime":1570608000000,
"markPrice":"…"}, …]`; `GET /fapi/v1/fundingInfo` lists only symbols whose interval is not 8 h:
`[{"symbol":"BLZUSDT","adjustedFundingRateCap":"0.02500000",
"adjustedFundingRateFloor":"-0.02500000","fundingIntervalHours":8,"disclaimer":false}]`.

Errors: `{"code":-1121,"msg":"Invalid symbol."}` (HTTP 400); rate limits answer HTTP 429 with
`{"code":-1003,"msg":"Too many requests; …"}` and a `Retry-After` header, escalating to 418.
"""

from __future__ import annotations

from typing import Any

from tests.helpers.venues.scenario import (
    BINANCE_OI_MARK,
    HOUR_MS,
    Scenario,
    asset_by_id,
    bar_ms_of,
    candles,
    close_at,
    limit_of,
    oi_points,
    settlement_times,
)


def binance_exchange_info(sc: Scenario, query: dict[str, str]) -> Any:
    bases = [b for b, a in sc.assets.items() if "binanceusdm" in a.venues]
    return {
        "timezone": "UTC",
        "serverTime": sc.now_ms,
        "symbols": [_binance_symbol(b) for b in [*bases, *sc.extra_bases]],
    }


def _binance_symbol(base: str) -> dict[str, Any]:
    return {
        "symbol": f"{base}USDT",
        "pair": f"{base}USDT",
        "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000,
        "onboardDate": 1569398400000,
        "status": "TRADING",
        "baseAsset": base,
        "quoteAsset": "USDT",
        "marginAsset": "USDT",
        "pricePrecision": 2,
        "quantityPrecision": 3,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": [],
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": "0.01",
                "maxPrice": "1000000",
                "tickSize": "0.01",
            },
            {"filterType": "LOT_SIZE", "minQty": "0.001", "maxQty": "10000", "stepSize": "0.001"},
        ],
        "orderTypes": ["LIMIT", "MARKET"],
        "timeInForce": ["GTC"],
    }


def binance_klines(sc: Scenario, query: dict[str, str]) -> Any:
    found = asset_by_id(sc, query["symbol"], "binanceusdm")
    if found is None:
        return _binance_bad_symbol()
    _, asset = found
    bar = bar_ms_of(query["interval"])
    closes = asset.hourly_closes if bar == HOUR_MS else asset.daily_closes
    rows = candles(closes, sc.hour_start if bar == HOUR_MS else sc.day_start, bar)
    rows = rows[-limit_of(query, 500) :]
    return [
        [
            r[0],
            str(r[1]),
            str(r[2]),
            str(r[3]),
            str(r[4]),
            str(r[5]),
            r[0] + bar - 1,
            "0",
            100,
            "0",
            "0",
            "0",
        ]
        for r in rows
    ]


def binance_oi_hist(sc: Scenario, query: dict[str, str]) -> Any:
    found = asset_by_id(sc, query["symbol"], "binanceusdm")
    if found is None:
        return _binance_bad_symbol()
    base, asset = found
    bar = bar_ms_of(query["period"])
    amount = asset.oi_base["binanceusdm"]
    result = []
    for ts in oi_points(asset, sc, bar, limit_of(query, 30), "binanceusdm"):
        close = close_at(asset, ts, sc, bar)
        if close is None:
            continue
        result.append(
            {
                "symbol": f"{base}USDT",
                "sumOpenInterest": f"{amount:.8f}",
                "sumOpenInterestValue": f"{amount * close * BINANCE_OI_MARK:.8f}",
                "timestamp": ts,
            }
        )
    return result


def binance_premium_index(sc: Scenario, query: dict[str, str]) -> Any:
    found = asset_by_id(sc, query["symbol"], "binanceusdm")
    if found is None:
        return _binance_bad_symbol()
    base, asset = found
    spec = asset.funding_for("binanceusdm")
    step = spec.interval_hours * HOUR_MS
    return {
        "symbol": f"{base}USDT",
        "markPrice": str(asset.hourly_closes[-1]),
        "indexPrice": str(asset.hourly_closes[-1]),
        "estimatedSettlePrice": "0",
        "lastFundingRate": f"{spec.rate:.8f}",
        "interestRate": "0.00010000",
        "nextFundingTime": sc.now_ms - sc.now_ms % step + step,
        "time": sc.now_ms,
    }


def binance_funding_rate(sc: Scenario, query: dict[str, str]) -> Any:
    found = asset_by_id(sc, query["symbol"], "binanceusdm")
    if found is None:
        return _binance_bad_symbol()
    base, asset = found
    spec = asset.funding_for("binanceusdm")
    times = settlement_times(sc, spec)
    rows = [
        {"symbol": f"{base}USDT", "fundingRate": f"{r:.8f}", "fundingTime": t, "markPrice": "1"}
        for t, r in zip(times, spec.history, strict=True)
    ]
    return rows[-limit_of(query, 100) :]


def binance_funding_info(sc: Scenario, query: dict[str, str]) -> Any:
    # like Binance: only symbols whose funding was adjusted away from the 8h default
    return [
        {
            "symbol": f"{b}USDT",
            "adjustedFundingRateCap": "0.02000000",
            "adjustedFundingRateFloor": "-0.02000000",
            "fundingIntervalHours": a.funding_for("binanceusdm").interval_hours,
            "disclaimer": False,
        }
        for b, a in sc.assets.items()
        if "binanceusdm" in a.venues and a.funding_for("binanceusdm").interval_hours != 8
    ]


def _binance_bad_symbol() -> Any:
    return {"code": -1121, "msg": "Invalid symbol."}


ROUTES: dict[str, Any] = {
    "/fapi/v1/exchangeInfo": binance_exchange_info,
    "/fapi/v1/klines": binance_klines,
    "/futures/data/openInterestHist": binance_oi_hist,
    "/fapi/v1/premiumIndex": binance_premium_index,
    "/fapi/v1/fundingRate": binance_funding_rate,
    "/fapi/v1/fundingInfo": binance_funding_info,
}
