"""Fake Deribit (`www.deribit.com`) REST answers, in the shapes Deribit sends.

`GET /api/v2/public/get_book_summary_by_currency?currency=BTC&kind=option` — every option of
the currency; `mark_iv` in vol points, `underlying_price` the forward of the option's expiry:

    {"jsonrpc":"2.0","result":[{"volume":0.0,"underlying_price":9356.22,
     "underlying_index":"BTC-26JUN20","quote_currency":"BTC","price_change":null,
     "open_interest":983.3,"mid_price":0.13,"mark_price":0.13206676,"mark_iv":83.58,
     "low":null,"last":0.1295,"interest_rate":0.0,"instrument_name":"BTC-26JUN20-9000-C",
     "high":null,"estimated_delivery_price":9347.17,"creation_timestamp":1589434912007,
     "bid_price":0.1295,"base_currency":"BTC","ask_price":0.134}, …],
     "usIn":…,"usOut":…,"usDiff":…,"testnet":false}

(the values of that row are from the recorded chain in tests/fixtures/deribit; the envelope
and field set are Deribit's documented ones). Alt options are USDC-settled:
`currency=USDC` lists `SOL_USDC-27JUN25-150-P`, strikes with a `d` for the decimal point.
"""

from __future__ import annotations

from typing import Any

from tests.helpers.venues.scenario import (
    Scenario,
    dmy_name,
)


def deribit_book_summary(sc: Scenario, query: dict[str, str]) -> Any:
    currency = query.get("currency", "")
    rows: list[dict[str, Any]] = []
    for row in sc.deribit_books.get(currency, []):
        # a recorded chain (tests/fixtures/deribit): its own fields, this endpoint's envelope
        rows.append(
            {
                "instrument_name": row["instrument_name"],
                "mark_iv": row["mark_iv"],
                "underlying_price": row["underlying_price"],
                "creation_timestamp": row["timestamp"],
                "base_currency": currency,
                "quote_currency": currency,
            }
        )
    for base, asset in sc.assets.items():
        if "deribit" not in asset.option_venues:
            continue
        inverse = base in ("BTC", "ETH")
        if (inverse and currency != base) or (not inverse and currency != "USDC"):
            continue
        prefix = base if inverse else f"{base}_USDC"
        for o in asset.options:
            rows.append(
                {
                    "instrument_name": dmy_name(prefix, o, decimal="d"),
                    "mark_iv": round(o.iv, 4),
                    "underlying_price": o.forward,
                    "underlying_index": f"SYN.{base}-X",
                    "mark_price": 0.01,
                    "base_currency": base,
                    "quote_currency": currency,
                    "creation_timestamp": sc.now_ms,
                    "open_interest": 10.0,
                    "volume": 1.0,
                    "interest_rate": 0.0,
                    "bid_price": None,
                    "ask_price": None,
                    "mid_price": None,
                    "estimated_delivery_price": 0,
                }
            )
    return {
        "jsonrpc": "2.0",
        "result": rows,
        "usIn": sc.now_ms * 1000,
        "usOut": sc.now_ms * 1000 + 10,
        "usDiff": 10,
        "testnet": False,
    }


ROUTES: dict[str, Any] = {
    "/api/v2/public/get_book_summary_by_currency": deribit_book_summary,
}
