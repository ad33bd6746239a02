"""`backtest` words → BacktestRequest: defaults, the accepted spellings, and the limits."""

from __future__ import annotations

import pytest

from signals.backtest import BacktestRequest
from signals.backtest_args import BacktestArgs, check_leverage, parse_backtest_words
from signals.errors import ParseError


def test_defaults_are_spec_9s() -> None:
    assert parse_backtest_words(["ETH"]) == BacktestArgs(
        BacktestRequest("ETH", ("long", "short"), 5.0, 7, 365), None
    )


@pytest.mark.parametrize("word", ["ETH", "eth", "$eth", "ETHUSDT", "ETH/USDT", "eth-perp"])
def test_asset_spellings(word: str) -> None:
    assert parse_backtest_words([word]).request.asset == "ETH"


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["--leverage", "2.5x"], 2.5),
        (["--leverage", "x3"], 3.0),
        (["--leverage=10"], 10.0),
        (["--leverage", "1"], 1.0),
        (["--leverage", "125"], 125.0),
    ],
)
def test_leverage_spellings(words: list[str], expected: float) -> None:
    assert parse_backtest_words(["BTC", *words]).request.leverage == expected


@pytest.mark.parametrize(
    ("word", "sides"),
    [("long", ("long",)), ("SHORT", ("short",)), ("buy", ("long",)), ("sell", ("short",))],
)
def test_side_words(word: str, sides: tuple[str, ...]) -> None:
    assert parse_backtest_words(["ETH", "--side", word]).request.sides == sides


def test_horizon_days_and_chart() -> None:
    parsed = parse_backtest_words(["ETH", "--horizon", "3d", "--days=30", "--chart", "x.png"])
    assert (parsed.request.horizon_days, parsed.request.days, parsed.chart) == (3, 30, "x.png")
    limits = parse_backtest_words(["ETH", "--horizon", "365", "--days", "3650"]).request
    assert (limits.horizon_days, limits.days) == (365, 3650)


@pytest.mark.parametrize(
    "words",
    [
        ["ETH", "--horizon", "366"],
        ["ETH", "--days", "3651"],
        ["ETH", "--leverage", "125.5"],
        ["ETH", "--chart", " "],
        ["ETH", "--horizon", "-1"],
    ],
)
def test_out_of_range_is_a_parse_error_with_the_cli_example(words: list[str]) -> None:
    with pytest.raises(ParseError) as caught:
        parse_backtest_words(words)
    assert caught.value.example.startswith("python bot.py backtest ETH")


def test_leverage_must_leave_room_before_liquidation() -> None:
    check_leverage(BacktestRequest("ETH", leverage=199), 0.005)  # 1/0.005 = 200: room left
    with pytest.raises(ParseError, match="use less than 200x"):
        check_leverage(BacktestRequest("ETH", leverage=200), 0.005)
    check_leverage(BacktestRequest("ETH", leverage=125), 0.0)  # no maintenance margin at all
