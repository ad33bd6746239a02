"""Per-venue normalisers on recorded-shape payloads: which position, and its USD value."""

from __future__ import annotations

import pytest

from signals.liquidations import (
    ContractSpec,
    LiquidationEvent,
    market_id_of,
    normalise,
    normalise_binance,
    normalise_bybit,
    normalise_htx,
    normalise_okx,
    parse_gate_stat,
)
from tests.helpers.fake_pro import (
    binance_force_order,
    bybit_all_liquidation,
    okx_liquidation_orders,
)

BTC_BINANCE = ContractSpec("binanceusdm", "BTCUSDT", "BTC")
BTC_BYBIT = ContractSpec("bybit", "BTCUSDT", "BTC")
BTC_OKX = ContractSpec("okx", "BTC-USDT-SWAP", "BTC", contract_size=0.01)
T = 1_779_000_000_000


def test_binance_sell_order_means_a_long_was_liquidated() -> None:
    info = binance_force_order("BTCUSDT", "SELL", "0.014", "35000.5", T, price="34900")["o"]
    assert normalise_binance(info, BTC_BINANCE) == [
        LiquidationEvent(
            "binanceusdm", "BTC", "BTCUSDT", T, "long", 0.014 * 35000.5, 35000.5, 0.014
        )
    ]


def test_binance_buy_order_means_a_short_was_liquidated() -> None:
    info = binance_force_order("BTCUSDT", "BUY", "1.437", "34959.70", T)["o"]
    [event] = normalise("binanceusdm", info, BTC_BINANCE)
    assert (event.side, event.usd) == ("short", pytest.approx(1.437 * 34959.70))


def test_binance_coin_margined_size_is_contracts_of_usd() -> None:
    spec = ContractSpec("binancecoinm", "BTCUSD_PERP", "BTC", contract_size=100.0, inverse=True)
    info = {
        "s": "BTCUSD_PERP",
        "ps": "BTCUSD",
        "S": "SELL",
        "q": "7",
        "p": "9425.5",
        "ap": "9496.5",
        "X": "FILLED",
        "l": "7",
        "z": "7",
        "T": T,
    }
    [event] = normalise("binancecoinm", info, spec)
    assert (event.side, event.usd) == ("long", 700.0)


def test_bybit_buy_means_a_long_was_liquidated_and_sell_a_short() -> None:
    message = bybit_all_liquidation(
        "BTCUSDT", [("Buy", "0.5", "60000", T), ("Sell", "0.25", "61000", T + 1)]
    )
    events = [e for info in message["data"] for e in normalise_bybit(info, BTC_BYBIT)]
    assert [(e.side, e.usd, e.ts) for e in events] == [
        ("long", 30000.0, T),
        ("short", 15250.0, T + 1),
    ]


def test_bybit_older_liquidation_topic_shape() -> None:
    info = {
        "price": "0.03803",
        "side": "Buy",
        "size": "1637",
        "symbol": "GALAUSDT",
        "updatedTime": T,
    }
    spec = ContractSpec("bybit", "GALAUSDT", "GALA")
    [event] = normalise_bybit(info, spec)
    assert (event.side, event.usd, event.ts) == ("long", pytest.approx(1637 * 0.03803), T)


def test_bybit_inverse_size_is_usd() -> None:
    spec = ContractSpec("bybit", "BTCUSD", "BTC", contract_size=1.0, inverse=True)
    info = {"T": T, "s": "BTCUSD", "S": "Sell", "v": "25000", "p": "61000"}
    [event] = normalise_bybit(info, spec)
    assert (event.side, event.usd) == ("short", 25000.0)


def test_okx_reads_every_detail_with_its_own_pos_side_and_contract_value() -> None:
    message = okx_liquidation_orders(
        "BTC-USDT-SWAP",
        [
            ("long", "sell", "3", "60000", T),
            ("short", "buy", "2", "60100", T + 5),
            ("long", "sell", "10", "59900", T + 9),
        ],
    )
    events = normalise_okx(message["data"][0], BTC_OKX)
    assert [(e.side, e.usd, e.ts) for e in events] == [
        ("long", pytest.approx(3 * 0.01 * 60000), T),
        ("short", pytest.approx(2 * 0.01 * 60100), T + 5),
        ("long", pytest.approx(10 * 0.01 * 59900), T + 9),
    ]


def test_okx_net_mode_falls_back_to_the_order_side() -> None:
    message = okx_liquidation_orders("BTC-USDT-SWAP", [("net", "buy", "1", "60000", T)])
    [event] = normalise_okx(message["data"][0], BTC_OKX)
    assert event.side == "short"


def test_okx_inverse_contract_value_is_usd() -> None:
    spec = ContractSpec("okx", "BTC-USD-SWAP", "BTC", contract_size=100.0, inverse=True)
    message = okx_liquidation_orders("BTC-USD-SWAP", [("short", "buy", "13", "61000", T)])
    [event] = normalise_okx(message["data"][0], spec)
    assert (event.side, event.usd) == ("short", 1300.0)


def test_unreadable_messages_give_no_event() -> None:
    assert normalise_binance({"s": "BTCUSDT", "S": "SELL", "T": T}, BTC_BINANCE) == []
    assert (
        normalise_bybit({"s": "BTCUSDT", "S": "Hold", "v": "1", "p": "1", "T": T}, BTC_BYBIT) == []
    )
    assert normalise_okx({"instId": "BTC-USDT-SWAP", "details": "x"}, BTC_OKX) == []
    assert (
        normalise_okx(
            {"details": [{"posSide": "long", "sz": "NaN", "bkPx": "1", "ts": str(T)}]}, BTC_OKX
        )
        == []
    )


def test_market_id_per_venue() -> None:
    assert market_id_of("binanceusdm", {"s": "BTCUSDT"}) == "BTCUSDT"
    assert market_id_of("bybit", {"symbol": "ETHUSDT"}) == "ETHUSDT"
    assert market_id_of("okx", {"instId": "SOL-USDT-SWAP"}) == "SOL-USDT-SWAP"
    assert market_id_of("okx", {}) is None


def test_unknown_venue_is_refused() -> None:
    with pytest.raises(ValueError, match="kraken"):
        normalise("kraken", {}, BTC_BINANCE)


def test_htx_linear_order_uses_position_side_and_turnover() -> None:
    spec = ContractSpec("htx", "BTC-USDT", "BTC")
    row = {
        "id": "150153038758",
        "contract_code": "BTC-USDT",
        "liquidation_time": str(T),
        "side": "buy",
        "position_side": "short",
        "volume": "2",
        "amount": "0.002",
        "bankrupt_price": "62978.5",
        "trade_turnover": "125.957",
    }
    [event] = normalise_htx(row, spec)
    assert (event.side, event.usd, event.ts) == ("short", 125.957, T)


def test_htx_older_shape_reads_direction_and_prices_the_base_amount() -> None:
    spec = ContractSpec("htx", "BTC-USDT", "BTC")
    row = {
        "query_id": 452057,
        "contract_code": "BTC-USDT",
        "direction": "sell",
        "offset": "close",
        "volume": 479,
        "price": 51441.7,
        "created_at": T,
        "amount": 0.479,
    }
    [event] = normalise_htx(row, spec)
    assert (event.side, event.usd) == ("long", pytest.approx(0.479 * 51441.7))


def test_gate_stat_bar() -> None:
    row = {
        "time": "1674057000",
        "long_liq_usd": "1234.5",
        "short_liq_usd": "0",
        "long_liq_size": "3",
        "short_liq_size": "0",
        "mark_price": "0.34619",
    }
    assert parse_gate_stat(row) == (1_674_057_000_000, 1234.5, 0.0)
    assert (
        parse_gate_stat({"time": "1674057000", "long_liq_usd": "-1", "short_liq_usd": "0"}) is None
    )
