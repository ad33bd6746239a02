"""The liquidation normalisers on frames the venues really sent (tests/fixtures/<venue>/).

Each expected value is worked out here by hand from the frame's own fields, so a change in
how we read a venue shows up as a wrong number, not as a changed snapshot.
"""

from __future__ import annotations

import pytest

from signals.liquidations import ContractSpec, normalise
from tests.helpers.recorded import answer, event_of, frames

BINANCE = frames("binanceusdm", "force_order_frames.jsonl")


def _binance_spec(symbol: str) -> ContractSpec:
    return ContractSpec("binanceusdm", symbol, symbol.removesuffix("USDT"))


@pytest.mark.parametrize(
    ("line", "side", "usd"),
    [
        # BTCUSDT: the order swept levels; 0.190 BTC filled at an average 82,651.90
        (1, "long", 0.190 * 82651.90),
        (2, "long", 3661 * 0.06669),  # IOTXUSDT: l = 962 is 26 % of it
        (3, "long", 1861 * 0.0387407),  # AINUSDT: l = 38 is 2 % of it
        (5, "long", 116.5 * 3.85642),  # ILVUSDT: l = 25.2
        (7, "long", 0.029 * 34738.38),  # BTCUSDT 2021: l = 0.023
        (4, "short", 15.4 * 1.4043),  # XRPUSDT BUY, one fill: l = z
    ],
)
def test_binance_force_order_is_the_filled_quantity_at_the_average_price(
    line: int, side: str, usd: float
) -> None:
    order = event_of(BINANCE[line - 1])["o"]
    [event] = normalise("binanceusdm", order, _binance_spec(order["s"]))
    assert (event.side, event.usd) == (side, pytest.approx(usd))
    assert event.price == float(order["ap"])
    assert event.amount == float(order["z"])
    assert event.ts == order["T"]


def test_binance_last_fill_alone_would_undercount_the_sweeping_orders() -> None:
    # the shares of each multi-fill order that `l` (last fill) covers, as SOURCES.md says
    shares = []
    for line in (1, 2, 3, 5, 7):
        order = event_of(BINANCE[line - 1])["o"]
        shares.append(round(float(order["l"]) / float(order["z"]), 2))
    assert shares == [0.82, 0.26, 0.02, 0.22, 0.79]


def test_bybit_all_liquidation_frame_with_two_entries() -> None:
    frame = frames("bybit", "all_liquidation_frames.jsonl")[0]
    spec = ContractSpec("bybit", "BTCUSDT", "BTC")
    events = [e for info in frame["data"] for e in normalise("bybit", info, spec)]
    # S = Buy names the position: two long liquidations
    assert [(e.side, e.usd, e.ts) for e in events] == [
        ("long", pytest.approx(0.006 * 82396.90), 1791565600992),
        ("long", pytest.approx(0.038 * 82394.30), 1791565601058),
    ]


def test_bybit_sell_is_a_short_position() -> None:
    frame = frames("bybit", "all_liquidation_frames.jsonl")[1]
    spec = ContractSpec("bybit", "MARSCOINUSDT", "MARSCOIN")
    [event] = normalise("bybit", frame["data"][0], spec)
    assert (event.side, event.usd) == ("short", pytest.approx(2380 * 0.12734))


def test_okx_contracts_times_contract_value_at_the_bankruptcy_price() -> None:
    frame = frames("okx", "liquidation_orders_frames.jsonl")[0]
    spec = ContractSpec("okx", "BTC-USDT-SWAP", "BTC", contract_size=0.01)
    [event] = normalise("okx", frame["data"][0], spec)
    assert (event.side, event.usd) == ("long", pytest.approx(8.55 * 0.01 * 82655.7))


def test_okx_every_detail_counts() -> None:
    # no recorded frame with several details was found (SOURCES.md): this one repeats the
    # recorded detail of line 1 with a second, later timestamp
    frame = frames("okx", "liquidation_orders_frames.jsonl")[0]
    entry = frame["data"][0]
    second = {**entry["details"][0], "ts": "1791565600999", "sz": "1.2"}
    entry = {**entry, "details": [entry["details"][0], second]}
    spec = ContractSpec("okx", "BTC-USDT-SWAP", "BTC", contract_size=0.01)
    events = normalise("okx", entry, spec)
    assert [e.usd for e in events] == [
        pytest.approx(8.55 * 0.01 * 82655.7),
        pytest.approx(1.2 * 0.01 * 82655.7),
    ]


def test_htx_v5_row_is_valued_by_its_turnover_not_price_times_contracts() -> None:
    [row] = answer("htx", "liquidation_orders_v5.json")["data"]
    spec = ContractSpec("htx", "BTC-USDT", "BTC")
    [event] = normalise("htx", row, spec)
    assert (event.side, event.usd) == ("short", 125.957)


def test_htx_v5_row_without_turnover_uses_the_contract_size_or_is_skipped() -> None:
    [row] = answer("htx", "liquidation_orders_v5.json")["data"]
    bare = {k: v for k, v in row.items() if k != "trade_turnover"}
    # `amount` counts contracts: 2 contracts of 0.001 BTC at 62,978.5
    sized = ContractSpec("htx", "BTC-USDT", "BTC", contract_size=0.001)
    [event] = normalise("htx", bare, sized)
    assert event.usd == pytest.approx(125.957)
    # without the contract size the row cannot be valued: never guess 1000× too much
    assert normalise("htx", bare, ContractSpec("htx", "BTC-USDT", "BTC", contract_size=0.0)) == []
