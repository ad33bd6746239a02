"""Fake Bybit v5 (`api.bybit.com`) REST answers, in the shapes Bybit sends.

Every answer is wrapped: `{"retCode":0,"retMsg":"OK","result":{…},"retExtInfo":{},"time":…}`.

`GET /v5/market/open-interest?category=linear&symbol=BTCUSDT&intervalTime=1h` — base-coin
amounts, newest first, `timestamp` the snapshot time:

    {"symbol":"BTCUSDT","category":"linear","list":[{"openInterest":"461134384.00000000",
     "timestamp":"1669571400000"}, …],"nextPageCursor":""}

`GET /v5/market/risk-limit?category=linear&symbol=BTCUSDT` — recorded (tests/fixtures/bybit),
NOT sorted by tier:

    {"category":"linear","list":[{"id":2,"symbol":"BTCUSDT","riskLimitValue":"2000000",
     "maintenanceMargin":"0.005","initialMargin":"0.01","isLowestRisk":0,"maxLeverage":"100.00"},
     {"id":1,"symbol":"BTCUSDT","riskLimitValue":"300000","maintenanceMargin":"0.0033",
     "initialMargin":"0.0066","isLowestRisk":1,"maxLeverage":"150.00"}],"nextPageCursor":""}

`GET /v5/market/kline` — `{"list":[["startTime","o","h","l","c","volume","turnover"], …]}`
newest first; `GET /v5/market/tickers?category=option&baseCoin=BTC` — rows with
`"symbol":"BTC-27JUN25-60000-C-USDT"`, `"markIv":"0.5312"` (a fraction),
`"underlyingPrice":"…"`. Errors: `{"retCode":10001,"retMsg":"params error: symbol invalid"}`.
"""

from __future__ import annotations

from typing import Any

from tests.helpers.venues.scenario import (
    DAY_MS,
    HOUR_MS,
    Scenario,
    asset_by_id,
    bar_ms_of,
    candles,
    dmy_name,
    limit_of,
    oi_points,
    settlement_times,
)


def _bybit(sc: Scenario, result: Any) -> Any:
    return {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": sc.now_ms}


def bybit_instruments(sc: Scenario, query: dict[str, str]) -> Any:
    if query.get("category") != "linear" or query.get("status") == "PreLaunch":
        return _bybit(sc, {"category": query.get("category"), "list": [], "nextPageCursor": ""})
    bases = [b for b, a in sc.assets.items() if "bybit" in a.venues]
    rows = []
    for base in [*bases, *sc.extra_bases]:
        asset = sc.assets.get(base)
        interval = asset.funding_for("bybit").interval_hours if asset else 8
        rows.append(
            {
                "symbol": f"{base}USDT",
                "contractType": "LinearPerpetual",
                "status": "Trading",
                "baseCoin": base,
                "quoteCoin": "USDT",
                "settleCoin": "USDT",
                "launchTime": "1585526400000",
                "deliveryTime": "0",
                "deliveryFeeRate": "",
                "priceScale": "2",
                "leverageFilter": {
                    "minLeverage": "1",
                    "maxLeverage": "100.00",
                    "leverageStep": "0.01",
                },
                "priceFilter": {"minPrice": "0.01", "maxPrice": "199999.98", "tickSize": "0.01"},
                "lotSizeFilter": {
                    "maxOrderQty": "1000",
                    "minOrderQty": "0.01",
                    "qtyStep": "0.01",
                    "postOnlyMaxOrderQty": "1000",
                    "minNotionalValue": "5",
                },
                "unifiedMarginTrade": True,
                "fundingInterval": interval * 60,
                "copyTrading": "both",
                "upperFundingRate": "0.005",
                "lowerFundingRate": "-0.005",
            }
        )
    return _bybit(sc, {"category": "linear", "list": rows, "nextPageCursor": ""})


def bybit_klines(sc: Scenario, query: dict[str, str]) -> Any:
    found = asset_by_id(sc, query["symbol"], "bybit")
    if found is None:
        return _bybit_error(10001, "params error: symbol invalid")
    _, asset = found
    bar = DAY_MS if query["interval"] == "D" else HOUR_MS
    closes = asset.hourly_closes if bar == HOUR_MS else asset.daily_closes
    rows = candles(closes, sc.hour_start if bar == HOUR_MS else sc.day_start, bar)
    rows = rows[-limit_of(query, 200) :]
    listed = [
        [str(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[5]), "0"]
        for r in reversed(rows)
    ]
    return _bybit(sc, {"category": "linear", "symbol": query["symbol"], "list": listed})


def bybit_open_interest(sc: Scenario, query: dict[str, str]) -> Any:
    found = asset_by_id(sc, query["symbol"], "bybit")
    if found is None:
        return _bybit_error(10001, "params error: symbol invalid")
    _, asset = found
    bar = bar_ms_of(query["intervalTime"])
    amount = asset.oi_base["bybit"]
    rows = [
        {"openInterest": f"{amount:.8f}", "timestamp": str(ts)}
        for ts in reversed(oi_points(asset, sc, bar, limit_of(query, 50), "bybit"))
    ]
    return _bybit(
        sc, {"symbol": query["symbol"], "category": "linear", "list": rows, "nextPageCursor": ""}
    )


def bybit_tickers(sc: Scenario, query: dict[str, str]) -> Any:
    if query.get("category") == "option":
        return _bybit_option_tickers(sc, query)
    found = asset_by_id(sc, query.get("symbol", ""), "bybit")
    if found is None:
        return _bybit_error(10001, "params error: symbol invalid")
    base, asset = found
    spec = asset.funding_for("bybit")
    step = spec.interval_hours * HOUR_MS
    last = asset.hourly_closes[-1]
    row = {
        "symbol": f"{base}USDT",
        "lastPrice": str(last),
        "markPrice": str(last),
        "indexPrice": str(last),
        "prevPrice24h": str(last),
        "price24hPcnt": "0",
        "highPrice24h": str(last),
        "lowPrice24h": str(last),
        "prevPrice1h": str(last),
        "openInterest": str(asset.oi_base["bybit"]),
        "openInterestValue": "0",
        "turnover24h": "0",
        "volume24h": "0",
        "fundingRate": f"{spec.rate:.8f}",
        "nextFundingTime": str(sc.now_ms - sc.now_ms % step + step),
        "bid1Price": str(last),
        "ask1Price": str(last),
        "bid1Size": "1",
        "ask1Size": "1",
    }
    return _bybit(sc, {"category": "linear", "list": [row]})


def bybit_funding_history(sc: Scenario, query: dict[str, str]) -> Any:
    found = asset_by_id(sc, query["symbol"], "bybit")
    if found is None:
        return _bybit_error(10001, "params error: symbol invalid")
    base, asset = found
    spec = asset.funding_for("bybit")
    times = settlement_times(sc, spec)
    rows = [
        {"symbol": f"{base}USDT", "fundingRate": f"{r:.8f}", "fundingRateTimestamp": str(t)}
        for t, r in zip(times, spec.history, strict=True)
    ]
    rows = rows[-limit_of(query, 200) :]
    return _bybit(sc, {"category": "linear", "list": list(reversed(rows))})


def bybit_risk_limit(sc: Scenario, query: dict[str, str]) -> Any:
    found = asset_by_id(sc, query["symbol"], "bybit")
    if found is None:
        return _bybit_error(10001, "params error: symbol invalid")
    base, asset = found
    if asset.bybit_mmr is None:
        return _bybit(sc, {"category": "linear", "list": []})
    # like the recorded answer: the higher tier is listed first, the lowest one marked
    rows = [
        {
            "id": 2,
            "symbol": f"{base}USDT",
            "riskLimitValue": "4000000",
            "maintenanceMargin": str(asset.bybit_mmr * 2),
            "initialMargin": "0.02",
            "isLowestRisk": 0,
            "maxLeverage": "50.00",
            "mmDeduction": "1000",
        },
        {
            "id": 1,
            "symbol": f"{base}USDT",
            "riskLimitValue": "2000000",
            "maintenanceMargin": str(asset.bybit_mmr),
            "initialMargin": "0.01",
            "isLowestRisk": 1,
            "maxLeverage": "100.00",
            "mmDeduction": "",
        },
    ]
    return _bybit(sc, {"category": "linear", "list": rows})


def _bybit_option_tickers(sc: Scenario, query: dict[str, str]) -> Any:
    asset = sc.assets.get(query.get("baseCoin", ""))
    rows = []
    if asset is not None and "bybit" in asset.option_venues:
        for o in asset.options:
            rows.append(
                {
                    "symbol": dmy_name(query["baseCoin"], o) + "-USDT",
                    "markIv": f"{o.iv / 100:.6f}",
                    "underlyingPrice": str(o.forward),
                    "markPrice": "1",
                    "delta": "0",
                }
            )
    return _bybit(sc, {"category": "option", "list": rows})


def _bybit_error(code: int, msg: str) -> Any:
    return {"retCode": code, "retMsg": msg, "result": {}, "retExtInfo": {}, "time": 0}


ROUTES: dict[str, Any] = {
    "/v5/market/instruments-info": bybit_instruments,
    "/v5/market/kline": bybit_klines,
    "/v5/market/open-interest": bybit_open_interest,
    "/v5/market/tickers": bybit_tickers,
    "/v5/market/funding/history": bybit_funding_history,
    "/v5/market/risk-limit": bybit_risk_limit,
}
