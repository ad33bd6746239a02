"""Fake OKX v5 (`www.okx.com`) REST answers, in the shapes OKX sends.

Every answer is `{"code":"0","msg":"","data":[…]}`.

`GET /api/v5/rubik/stat/contracts/open-interest-history?instId=BTC-USDT-SWAP&period=1H` —
rows `[ts, oi (contracts), oiCcy (coins), oiUsd]`, newest first; `ts` is the snapshot time.
`period=1D` gives Hong-Kong days, stamped 16:00 UTC; `period=1Dutc` gives UTC days:

    {"code":"0","data":[["1701417600000","731377.57500501","111","73137757.50050100"], …]}

`GET /api/v5/public/opt-summary?uly=BTC-USD` — `{"instType":"OPTION",
"instId":"BTC-USD-260327-100000-C","uly":"BTC-USD","markVol":"0.6543" (a fraction),
"fwdPx":"77300.12","deltaBS":"0.512", …,"ts":"1774598400123"}` (shape of a recorded row);
a `uly` without options answers `{"code":"51000","msg":"Parameter uly error","data":[]}`.

`GET /api/v5/market/candles?instId=BTC-USDT-SWAP&bar=1H` — `[[ts, o, h, l, c, vol, volCcy,
volCcyQuote, confirm], …]` newest first, `confirm` "0" on the forming bar.

`GET /api/v5/public/funding-rate` — `{"instId":"BTC-USDT-SWAP","fundingRate":"0.0001",
"fundingTime":"…","nextFundingTime":"…", …}`; `GET /api/v5/public/funding-rate-history` —
`[{"fundingRate":"…","realizedRate":"…","fundingTime":"…", …}]` newest first.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.helpers.venues.scenario import (
    DAY_MS,
    HOUR_MS,
    OKX_CONTRACT_VALUE,
    OKX_OI_MARK,
    Scenario,
    asset_by_id,
    bar_ms_of,
    candles,
    close_at,
    limit_of,
    oi_points,
    settlement_times,
    strike_text,
)


def _okx(data: Any) -> Any:
    return {"code": "0", "msg": "", "data": data}


def okx_instruments(sc: Scenario, query: dict[str, str]) -> Any:
    if query.get("instType") != "SWAP":
        return _okx([])
    bases = [b for b, a in sc.assets.items() if "okx" in a.venues]
    return _okx(
        [
            {
                "instType": "SWAP",
                "instId": f"{b}-USDT-SWAP",
                "uly": f"{b}-USDT",
                "instFamily": f"{b}-USDT",
                "baseCcy": "",
                "quoteCcy": "",
                "settleCcy": "USDT",
                "ctVal": str(OKX_CONTRACT_VALUE),
                "ctMult": "1",
                "ctValCcy": b,
                "ctType": "linear",
                "state": "live",
                "lotSz": "0.01",
                "tickSz": "0.01",
                "minSz": "0.01",
                "lever": "100",
                "listTime": "1611916800000",
                "expTime": "",
                "alias": "",
                "category": "1",
            }
            for b in [*bases, *sc.extra_bases]
        ]
    )


def okx_candles(sc: Scenario, query: dict[str, str]) -> Any:
    found = asset_by_id(sc, query["instId"], "okx")
    if found is None:
        return {"code": "51001", "msg": "Instrument ID does not exist", "data": []}
    _, asset = found
    bar = HOUR_MS if query.get("bar", "1m") == "1H" else DAY_MS
    closes = asset.hourly_closes if bar == HOUR_MS else asset.daily_closes
    rows = candles(closes, sc.hour_start if bar == HOUR_MS else sc.day_start, bar)
    rows = rows[-limit_of(query, 100) :]
    forming = rows[-1][0]
    return _okx(
        [
            [str(int(r[0])), *(str(x) for x in r[1:6]), "0", "0", "0" if r[0] == forming else "1"]
            for r in reversed(rows)
        ]
    )


def okx_oi_history(sc: Scenario, query: dict[str, str]) -> Any:
    found = asset_by_id(sc, query["instId"], "okx")
    if found is None:
        return {"code": "51001", "msg": "Instrument ID does not exist", "data": []}
    _, asset = found
    period = query["period"]
    # "1D" days are Hong-Kong days, stamped 16:00 UTC; "1Dutc" days are UTC days
    bar = DAY_MS if period in ("1D", "1Dutc") else bar_ms_of(period)
    shift = -8 * HOUR_MS if period == "1D" else 0
    amount = asset.oi_base["okx"]
    rows = []
    for ts in reversed(oi_points(asset, sc, bar, limit_of(query, 100), "okx")):
        close = close_at(asset, ts, sc, bar)
        if close is None:
            continue
        rows.append(
            [
                str(ts + shift),
                f"{amount / OKX_CONTRACT_VALUE:.4f}",
                f"{amount:.4f}",
                f"{amount * close * OKX_OI_MARK:.4f}",
            ]
        )
    return _okx(rows)


def okx_funding_rate(sc: Scenario, query: dict[str, str]) -> Any:
    found = asset_by_id(sc, query["instId"], "okx")
    if found is None:
        return {"code": "51001", "msg": "Instrument ID does not exist", "data": []}
    base, asset = found
    spec = asset.funding_for("okx")
    step = spec.interval_hours * HOUR_MS
    nxt = sc.now_ms - sc.now_ms % step + step
    return _okx(
        [
            {
                "instType": "SWAP",
                "instId": f"{base}-USDT-SWAP",
                "fundingRate": f"{spec.rate:.8f}",
                "fundingTime": str(nxt),
                "nextFundingTime": str(nxt + step),
                "nextFundingRate": "",
                "method": "current_period",
                "maxFundingRate": "0.0075",
                "minFundingRate": "-0.0075",
                "premium": "0",
                "settFundingRate": "0",
                "settState": "settled",
                "ts": str(sc.now_ms),
            }
        ]
    )


def okx_funding_history(sc: Scenario, query: dict[str, str]) -> Any:
    found = asset_by_id(sc, query["instId"], "okx")
    if found is None:
        return {"code": "51001", "msg": "Instrument ID does not exist", "data": []}
    base, asset = found
    spec = asset.funding_for("okx")
    times = settlement_times(sc, spec)
    rows = [
        {
            "instType": "SWAP",
            "instId": f"{base}-USDT-SWAP",
            "fundingRate": f"{r:.8f}",
            "realizedRate": f"{r:.8f}",
            "fundingTime": str(t),
            "method": "current_period",
        }
        for t, r in zip(times, spec.history, strict=True)
    ]
    rows = rows[-limit_of(query, 100) :]
    return _okx(list(reversed(rows)))


def okx_opt_summary(sc: Scenario, query: dict[str, str]) -> Any:
    base = query.get("uly", "").split("-")[0]
    asset = sc.assets.get(base)
    if asset is None or "okx" not in asset.option_venues:
        return {"code": "51000", "msg": "Parameter uly error", "data": []}
    rows = []
    for o in asset.options:
        d = datetime.fromtimestamp(o.expiry_ms / 1000, tz=UTC)
        inst = f"{base}-USD-{d:%y%m%d}-{strike_text(o.strike, '.')}-{'C' if o.is_call else 'P'}"
        rows.append(
            {
                "instType": "OPTION",
                "instId": inst,
                "uly": f"{base}-USD",
                "markVol": f"{o.iv / 100:.6f}",
                "fwdPx": str(o.forward),
                "delta": "0",
                "ts": str(sc.now_ms),
            }
        )
    return _okx(rows)


ROUTES: dict[str, Any] = {
    "/api/v5/public/instruments": okx_instruments,
    "/api/v5/market/candles": okx_candles,
    "/api/v5/rubik/stat/contracts/open-interest-history": okx_oi_history,
    "/api/v5/public/funding-rate": okx_funding_rate,
    "/api/v5/public/funding-rate-history": okx_funding_history,
    "/api/v5/public/opt-summary": okx_opt_summary,
}
