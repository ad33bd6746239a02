"""Trade-idea parser: accepted phrasings, rejected phrasings, and properties on arbitrary text."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signals.errors import ParseError
from signals.idea import USAGE_EXAMPLE, TradeIdea, parse_idea


def idea(
    asset: str = "ETH",
    side: str | None = None,
    leverage: float | None = None,
    entry: float | None = None,
    stop: float | None = None,
    horizon_days: float | None = None,
    **more: Any,
) -> TradeIdea:
    """Build the expected TradeIdea; a leverage given means leverage_given."""
    if "entry_range" in more:
        low, high = more["entry_range"]
        entry = (low + high) / 2
    return TradeIdea(
        asset=asset,
        side=side,  # type: ignore[arg-type]
        leverage=leverage if leverage is not None else 1.0,
        leverage_given=leverage is not None,
        entry=entry,
        stop=stop,
        horizon_days=horizon_days,
        **more,
    )


def signal(text: str) -> str:
    """A pasted signal: the lines as written, indentation removed."""
    return "\n".join(line.strip() for line in text.strip().splitlines())


ACCEPTED: list[tuple[str, TradeIdea]] = [
    # the usage example itself, with and without the command word
    (USAGE_EXAMPLE, idea("ETH", "long", 5, 3000, 2800, 3)),
    ("ETH long 5x @ 3000 stop 2800 for 3d", idea("ETH", "long", 5, 3000, 2800, 3)),
    ("/check@PreflightBot eth long 5x", idea("ETH", "long", 5)),
    ("/CHECK eth short", idea("ETH", "short")),
    # asset forms
    ("ETH", idea("ETH")),
    ("$eth long", idea("ETH", "long")),
    ("ETHUSDT long", idea("ETH", "long")),
    ("ETH/USDT long", idea("ETH", "long")),
    ("ETH/USDT:USDT long", idea("ETH", "long")),
    ("ETH-PERP long", idea("ETH", "long")),
    ("ethperp long", idea("ETH", "long")),
    ("ETH-USDT-SWAP long", idea("ETH", "long")),
    ("ETH-USDT long", idea("ETH", "long")),
    ("BTCUSD short", idea("BTC", "short")),
    ("ARBUSD short", idea("ARB", "short")),
    ("ETHUSDC short", idea("ETH", "short")),
    ("1000PEPE long 3x", idea("1000PEPE", "long", 3)),
    ("1000PEPEUSDT long", idea("1000PEPE", "long")),
    ("OPUSDT long", idea("OP", "long")),
    ("ETHUSDT.P long", idea("ETH", "long")),
    ("eth_usdt long", idea("ETH", "long")),
    ("1inch long", idea("1INCH", "long")),
    ("A/USDT long", idea("A", "long")),
    ("$a short", idea("A", "short")),
    ("SUSD long", idea("SUSD", "long")),
    ("$usdt", idea("USDT")),
    ("ETH ETHUSDT eth/usdt long", idea("ETH", "long")),
    ("sol usdt perp long", idea("SOL", "long")),
    # sides
    ("eth buy", idea("ETH", "long")),
    ("eth SELL", idea("ETH", "short")),
    ("long eth long", idea("ETH", "long")),
    ("eth buy long", idea("ETH", "long")),
    # leverage forms
    ("eth 5X", idea("ETH", leverage=5)),
    ("eth x5", idea("ETH", leverage=5)),
    ("eth 5 x", idea("ETH", leverage=5)),
    ("eth 5×", idea("ETH", leverage=5)),
    ("eth 5 ×", idea("ETH", leverage=5)),
    ("eth lev 5", idea("ETH", leverage=5)),
    ("eth leverage 5", idea("ETH", leverage=5)),
    ("eth leverage: 5x", idea("ETH", leverage=5)),
    ("eth lev=7", idea("ETH", leverage=7)),
    ("eth 2.5x", idea("ETH", leverage=2.5)),
    ("eth x 5", idea("ETH", leverage=5)),
    ("eth 1x", idea("ETH", leverage=1)),
    ("eth 125x", idea("ETH", leverage=125)),
    ("eth 5x lev 5", idea("ETH", leverage=5)),
    # entries
    ("eth @ 3000", idea("ETH", entry=3000)),
    ("eth @3000", idea("ETH", entry=3000)),
    ("eth entry 3000", idea("ETH", entry=3000)),
    ("eth at 3k", idea("ETH", entry=3000)),
    ("eth at $3,000", idea("ETH", entry=3000)),
    ("eth entry: 3000", idea("ETH", entry=3000)),
    ("eth entry:3000", idea("ETH", entry=3000)),
    ("eth entry @ 3.5k", idea("ETH", entry=3500)),
    ("btc @ 1.2m", idea("BTC", entry=1_200_000)),
    ("btc @ 1,234,567.89", idea("BTC", entry=1_234_567.89)),
    ("pepe @ 0.0000123", idea("PEPE", entry=0.0000123)),
    ("eth @ .5k", idea("ETH", entry=500)),
    ("eth @ 3000$", idea("ETH", entry=3000)),
    ("eth long at market", idea("ETH", "long")),
    ("eth long entry @ market 3d", idea("ETH", "long", horizon_days=3)),
    ("eth long @ mkt stop 2800", idea("ETH", "long", stop=2800)),
    # stops
    ("eth long @3000 stop 2800", idea("ETH", "long", entry=3000, stop=2800)),
    ("eth sl 2800", idea("ETH", stop=2800)),
    ("eth stop-loss 2800", idea("ETH", stop=2800)),
    ("eth stoploss 2800", idea("ETH", stop=2800)),
    ("eth sl=2800", idea("ETH", stop=2800)),
    ("eth stop @ 2800", idea("ETH", stop=2800)),
    ("eth sl:2800", idea("ETH", stop=2800)),
    ("eth stop loss at 2.8k", idea("ETH", stop=2800)),
    ("eth short @ 3000 sl 3100", idea("ETH", "short", entry=3000, stop=3100)),
    # a stop and an entry without a side: both sides are graded (SPEC §7); the grade of the
    # side the stop does not fit says so
    ("eth @ 3000 sl 2800", idea("ETH", entry=3000, stop=2800)),
    ("eth @ 3000 sl 3200", idea("ETH", entry=3000, stop=3200)),
    # horizons
    ("eth for 3d", idea("ETH", horizon_days=3)),
    ("eth 24h", idea("ETH", horizon_days=1)),
    ("eth 2w", idea("ETH", horizon_days=14)),
    ("eth 3 days", idea("ETH", horizon_days=3)),
    ("eth for 2 weeks", idea("ETH", horizon_days=14)),
    ("eth 1 week", idea("ETH", horizon_days=7)),
    ("eth 12h", idea("ETH", horizon_days=0.5)),
    ("eth 36 hours", idea("ETH", horizon_days=1.5)),
    ("eth for 1.5d", idea("ETH", horizon_days=1.5)),
    ("eth horizon: 1mo", idea("ETH", horizon_days=30)),
    ("eth for 365d", idea("ETH", horizon_days=365)),
    # order-free, case-free, punctuation, filler and unicode
    ("3d 5x long ETH", idea("ETH", "long", 5, horizon_days=3)),
    ("STOP 2800 @ 3000 5X LONG ETH FOR 3D", idea("ETH", "long", 5, 3000, 2800, 3)),
    ("eth long 5x, @3000; stop 2800.", idea("ETH", "long", 5, 3000, 2800)),
    ("eth,long,5x", idea("ETH", "long", 5)),
    ("I want to go long on ETH with 10x please", idea("ETH", "long", 10)),
    ("should i open a short position on the $BTC perp", idea("BTC", "short")),
    ("I'm going long eth", idea("ETH", "long")),
    ("<b>eth</b> long 5x", idea("ETH", "long", 5)),
    ("eth &amp; long 5x", idea("ETH", "long", 5)),
    ("ｅｔｈ　ｌｏｎｇ　５ｘ", idea("ETH", "long", 5)),
    ("eth\u00a0long\u00a05x", idea("ETH", "long", 5)),
    ("e\u200bth long", idea("ETH", "long")),
    ("eth long ٥x", idea("ETH", "long", 5)),
    ("eth long 5x 🚀🚀", idea("ETH", "long", 5)),
    ("eth long 5x\x00\x07", idea("ETH", "long", 5)),
]

# SPEC v2 §8: the new words — ranges, targets, risk, account, margin mode, pasted signals
R = (3000.0, 3050.0)
ACCEPTED_V2: list[tuple[str, TradeIdea]] = [
    # entry ranges, graded at the midpoint
    ("eth long 3000-3050", idea("ETH", "long", entry_range=R)),
    ("eth long entry 3000 - 3050", idea("ETH", "long", entry_range=R)),
    ("eth long @ 3000–3050", idea("ETH", "long", entry_range=R)),
    ("eth long entry $3,000 - $3,050", idea("ETH", "long", entry_range=R)),
    ("eth long entry zone 3k-3.05k", idea("ETH", "long", entry_range=R)),
    ("eth long @ 3050-3000", idea("ETH", "long", entry_range=R)),
    ("eth long @ 3000-3000", idea("ETH", "long", entry=3000)),
    # targets: the first is graded, all are echoed
    ("eth long tp 3400", idea("ETH", "long", targets=(3400.0,))),
    ("eth long target 3400", idea("ETH", "long", targets=(3400.0,))),
    ("eth long tp 3400 3600 3800", idea("ETH", "long", targets=(3400.0, 3600.0, 3800.0))),
    ("eth long tp1 3400 tp2 3600", idea("ETH", "long", targets=(3400.0, 3600.0))),
    ("eth long tp: 3400, 3600", idea("ETH", "long", targets=(3400.0, 3600.0))),
    ("eth long targets 3.4k-3.6k", idea("ETH", "long", targets=(3400.0, 3600.0))),
    ("eth long take profit 3400", idea("ETH", "long", targets=(3400.0,))),
    ("eth short @ 3000 sl 3100 tp 2800", idea("ETH", "short", entry=3000, stop=3100,
                                             targets=(2800.0,))),
    ("eth long tp 3400 5x", idea("ETH", "long", 5, targets=(3400.0,))),
    # risk and account
    ("eth long risk 1%", idea("ETH", "long", risk_pct=0.01)),
    ("eth long risk 1 %", idea("ETH", "long", risk_pct=0.01)),
    ("eth long risk 0.5%", idea("ETH", "long", risk_pct=0.005)),
    ("eth long risk $200", idea("ETH", "long", risk_usd=200.0)),
    ("eth long risk:$1.5k", idea("ETH", "long", risk_usd=1500.0)),
    ("eth long risk 1% acct 10k", idea("ETH", "long", risk_pct=0.01, account_usd=10_000.0)),
    ("eth long account 10000", idea("ETH", "long", account_usd=10_000.0)),
    ("eth long balance $5k", idea("ETH", "long", account_usd=5000.0)),
    ("eth long risk $200 balance $5,000", idea("ETH", "long", risk_usd=200.0,
                                              account_usd=5000.0)),
    # margin mode: noted, no effect
    ("eth long 5x cross", idea("ETH", "long", 5, margin_mode="cross")),
    ("eth long isolated 5x", idea("ETH", "long", 5, margin_mode="isolated")),
    ("eth long 5x isolated margin", idea("ETH", "long", 5, margin_mode="isolated")),
    # hashtags read like cashtags
    ("#ETH long 5x", idea("ETH", "long", 5)),
    ("#sol short", idea("SOL", "short")),
    # pasted channel-style signals, one field per line
    (
        signal("""
            ETH/USDT LONG
            Leverage: Cross 5x
            Entry: 3000 - 3050
            Targets: 3100, 3200
            Stop Loss: 2900
        """),
        idea("ETH", "long", 5, stop=2900, entry_range=R, targets=(3100.0, 3200.0),
             margin_mode="cross", pasted=True),
    ),
    (
        signal("""
            🚀🚀 #ETH/USDT 🟢 LONG 🚀🚀
            📊 Leverage: Cross 5x
            🎯 Entry: $3,000 – $3,050
            ✅ TP1: 3,100
            ✅ TP2: 3,200
            ⛔️ SL: 2,900 (-3.5%)
        """),
        idea("ETH", "long", 5, stop=2900, entry_range=R, targets=(3100.0, 3200.0),
             margin_mode="cross", pasted=True),
    ),
    (
        signal("""
            #VIP #Futures
            #ETH/USDT
            Signal Type: Regular (Long)
            Leverage: Cross (20.0X)
            Entry Targets:
            1) 3000
            2) 3050
            Take-Profit Targets:
            1) 3100
            2) 3200
            3) 3300
            Stop Targets:
            1) 2900
            Exchange: Binance Futures
        """),
        idea("ETH", "long", 20, stop=2900, entry_range=R,
             targets=(3100.0, 3200.0, 3300.0), margin_mode="cross", pasted=True),
    ),
    (
        signal("""
            $OPEN/USDT
            Buy 0.5677
            Take Profit 0.5987
            Stop Loss 0.5432
            Amount per trade 5%
            Leverage Cross x10
        """),
        idea("OPEN", None, 10, entry=0.5677, stop=0.5432, targets=(0.5987,),
             margin_mode="cross", pasted=True),
    ),
    (
        signal("""
            BTC/USDT SHORT
            Entry: $64,200 - $64,500
            TP1 (+3%): $62,200
            TP2 - 61,000
            Target 3: 60,000
            SL: $66,100 (-3.5%)
            Leverage: 3x Isolated
            Risk: 1%
        """),
        idea("BTC", "short", 3, stop=66100, entry_range=(64200.0, 64500.0),
             targets=(62200.0, 61000.0, 60000.0), margin_mode="isolated", risk_pct=0.01,
             pasted=True),
    ),
    (
        signal("""
            📢 SOL/USDT
            📈 Direction: Long
            ⚡ Leverage: 10x
            🎯 Entry Zone: 150.5 - 152
            Duration: 3 days
        """),
        idea("SOL", "long", 10, horizon_days=3, entry_range=(150.5, 152.0), pasted=True),
    ),
    ("/check\nETH/USDT SHORT\nEntry: 3000\nSL: 3100",
     idea("ETH", "short", entry=3000, stop=3100, pasted=True)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"), ACCEPTED + ACCEPTED_V2, ids=[t[:40] for t, _ in ACCEPTED + ACCEPTED_V2]
)
def test_accepted_phrasings(text: str, expected: TradeIdea) -> None:
    assert parse_idea(text) == expected


def test_accepted_table_is_large_enough() -> None:
    assert len(ACCEPTED) >= 45
    assert len(ACCEPTED_V2) >= 30
    assert sum(1 for t, _ in ACCEPTED_V2 if "\n" in t) >= 5  # pasted signals among them


REJECTED: list[tuple[str, str]] = [
    ("", "empty idea"),
    ("   \n\t ", "empty idea"),
    ("/check", "empty idea"),
    ("long 5x @ 3000", "no asset"),
    ("eth long short", "two sides (long, short)"),
    ("eth buy sell", "two sides (buy, sell)"),
    ("eth btc long", "two assets (ETH, BTC)"),
    ("ETHUSDT BTC/USDT", "two assets (ETH, BTC)"),
    ("eth long 5x 10x", "two leverages (5x, 10x)"),
    ("eth lev 3 5x", "two leverages (3x, 5x)"),
    ("eth 0x", "leverage 0x must be above 0"),
    ("eth -5x", "leverage -5x must be above 0"),
    ("eth 0.5x", "leverage 0.5x is below 1x"),
    ("eth 126x", "leverage 126x is above the 125x maximum"),
    ("eth lev 1k", "leverage 1000x is above the 125x maximum"),
    ("eth @ 0", "entry 0 must be above 0"),
    ("eth @ -3000", "entry -3000 must be above 0"),
    ("eth stop 0", "stop 0 must be above 0"),
    ("eth for 0d", "horizon 0d must be above 0"),
    ("eth for -2 days", "horizon -2 days must be above 0"),
    ("eth for 400d", "horizon 400d is over 365 days"),
    ("eth 53w", "horizon 53w is over 365 days"),
    ("eth long 5", "'5' alone means nothing: write 5x for leverage"),
    ("eth 3000", "'3000' alone means nothing"),
    ("eth long stop", "'stop' needs a price after it"),
    ("eth long @", "'@' needs a price after it"),
    ("eth long lev", "'lev' needs a number after it"),
    ("eth long for", "'for' needs a duration after it"),
    ("eth stop long", "'stop' needs a price after it, not 'long'"),
    ("eth for fun", "'for' needs a duration after it, like 3d, not 'fun'"),
    ("eth for 1m", "'for' needs a duration after it, like 3d, not '1m'"),
    ("eth lev high", "'lev' needs a number after it, like lev 5, not 'high'"),
    ("eth x", "'x' needs a number"),
    ("eth long @3000 stop 3100", "stop 3100 must be below the entry 3000 for a long"),
    ("eth short @3000 stop 2900", "stop 2900 must be above the entry 3000 for a short"),
    ("eth long @3000 stop 3000", "stop 3000 equals the entry 3000"),
    ("eth short @3k stop 3000", "stop 3000 equals the entry 3k"),
    ("eth @ 3000 @ 3100", "two entries (3000, 3100)"),
    ("eth sl 2800 sl 2700", "two stops (2800, 2700)"),
    ("eth 3d 1w", "two horizons (3d, 1w)"),
    ("eth @ 3.0.0", "can't read '3.0.0' as a price"),
    ("eth sl 2,8k", "'8k' alone means nothing: write @ 8k for entry or stop 8k"),
    ("eth @ 3 000", "'000' alone means nothing"),
    ("eth 3.0.0", "can't read '3.0.0' as a number"),
    ("eth stop 5%", "write a price, not a percentage"),
    ("eth long-term", "can't read 'long-term'"),
    # upper-casing `ǰ` gives `J` plus a combining mark, which is no symbol
    ("ǰ long", "can't read 'ǰ'"),
    ("eth " + "a" * 40, "word too long"),
    ("eth long " + "x" * 5000, "idea too long"),
    ("I think ETH will pump", "two assets (ETH, WILL)"),
]

REJECTED_V2: list[tuple[str, str]] = [
    # "did you mean …?" for a misspelt side or keyword
    ("eth lnog 5x", "can't read 'lnog': did you mean long?"),
    ("lnog eth 5x", "can't read 'lnog': did you mean long?"),
    ("eth shrot", "did you mean short?"),
    ("eth long levrage 5", "can't read 'levrage': did you mean leverage?"),
    ("eth long 5x stpo 2800", "can't read 'stpo': did you mean stop?"),
    ("eth long 5x @ 3000 tp 3400 rsik 1%", "did you mean risk?"),
    ("ETH/USDT LNOG\nEntry: 3000", "can't read 'LNOG': did you mean long?"),
    ("ETH/USDT LONG\nLevrage: 5x\nEntry: 3000", "can't read 'Levrage': did you mean leverage?"),
    # ranges, targets, risk and account
    ("eth long 3000-3050-3100", "an entry range has two ends"),
    ("eth long @ 3000-3050 @ 2900", "two entries"),
    ("eth long @ 3000 tp 2900", "target 2900 must be above the entry 3000 for a long"),
    ("eth short @ 3000 tp 3100", "target 3100 must be below the entry 3000 for a short"),
    ("eth long @ 3000 stop 2900 tp 3100 tp 0", "target 0 must be above 0"),
    ("eth long tp", "'tp' needs a price after it"),
    ("eth long tp 5%", "write a price, not a percentage"),
    ("eth long risk 2", "'risk 2': write risk 2% or risk $2"),
    ("eth long risk", "'risk' needs an amount"),
    ("eth long risk lots", "'risk' needs an amount after it, like risk 1% or risk $200"),
    ("eth long risk 0%", "risk 0% must be above 0"),
    ("eth long risk 150%", "risk 150% is more than the whole account"),
    ("eth long risk 1% risk 2%", "two risks (1%, 2%)"),
    ("eth long risk $500 acct 200", "risk $500 is more than the account 200"),
    ("eth long acct", "'acct' needs an amount"),
    ("eth long account big", "'account' needs an amount after it, like acct 10k, not 'big'"),
    ("eth long acct 0", "account 0 must be above 0"),
    ("eth long cross isolated", "cross and isolated: pick one"),
    ("eth long tp " + " ".join(str(3100 + i) for i in range(11)), "more than 10 targets"),
    # a pasted signal with two assets named
    ("#VIP\n#ETH\nEntry: 3000", "two assets (VIP, ETH)"),
    # a channel's leverage range: one leverage is graded, so the reply asks for it
    ("DOGE/USDT LONG\nLeverage: 3-5x\nEntry: 0.2", "'3-5x' is a leverage range: pick one"),
    ("eth long 10x-20x", "'10x-20x' is a leverage range: pick one, like 20x"),
]


ALL_REJECTED = REJECTED + REJECTED_V2


@pytest.mark.parametrize(("text", "reason"), ALL_REJECTED, ids=[t[:40] for t, _ in ALL_REJECTED])
def test_rejected_phrasings(text: str, reason: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_idea(text)
    assert reason in caught.value.reason
    assert caught.value.example == USAGE_EXAMPLE
    # the example carries no command: the place it was typed shows its own syntax
    assert caught.value.command == "check"
    assert not caught.value.example.startswith("/")


@pytest.mark.parametrize(("text", "reason"), ALL_REJECTED, ids=[t[:40] for t, _ in ALL_REJECTED])
def test_reasons_are_one_short_line(text: str, reason: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_idea(text)
    message = caught.value.reason
    assert ("\n" in message, message.endswith("."), len(message) <= 100) == (False, False, True)


def test_rejected_table_is_large_enough() -> None:
    assert len(REJECTED) >= 25
    assert len(REJECTED_V2) >= 15
    assert any("\n" in t for t, _ in REJECTED_V2)  # a pasted signal among them


def test_error_text_carries_the_example() -> None:
    with pytest.raises(ParseError) as caught:
        parse_idea("eth btc")
    assert str(caught.value) == f"two assets (ETH, BTC). Example: {USAGE_EXAMPLE}"


def test_missing_leverage_is_one_x_and_not_given() -> None:
    parsed = parse_idea("eth long")
    assert (parsed.leverage, parsed.leverage_given) == (1.0, False)


def test_no_side_grades_both_sides() -> None:
    assert parse_idea("eth 5x").sides() == ("long", "short")


def test_non_string_input_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        parse_idea(None)  # type: ignore[arg-type]


# --- properties --------------------------------------------------------------------------------

_HTML_BITS = st.sampled_from(
    ["<b>", "</b>", "<i>eth</i>", "&amp;", "&lt;", "&#x110000;", "&#0;", "<a href='x'>", "<", ">"]
)
_IDEA_BITS = st.sampled_from(
    ["eth", "long", "short", "5x", "x", "@", "3,000", "3k", "stop", "sl=", ":", "for", "3d",
     "/check", "$", "-", ".", ",", "×", "٣", "１", "\u200b", "\x00", "\u202e", "ß", "İ", "ﷺ"]
)  # fmt: skip
_MIXED = st.lists(st.one_of(st.text(max_size=20), _HTML_BITS, _IDEA_BITS), max_size=60).map(
    " ".join
)


@settings(deadline=None, max_examples=200)
@given(st.one_of(st.text(max_size=10_000), _MIXED))
def test_any_text_gives_an_idea_or_a_parse_error(text: str) -> None:
    try:
        parsed = parse_idea(text)
    except ParseError as e:
        assert e.reason and "\n" not in e.reason
        return
    assert parsed.asset.isalnum() and parsed.asset == parsed.asset.upper()
    assert 1.0 <= parsed.leverage <= 125.0


_ASSET_FORMS = ["{}", "${}", "{}USDT", "{}/USDT", "{}/USDT:USDT", "{}-PERP", "{}PERP",
                "{}-USDT-SWAP", "{}-USDT", "{}USD", "{}USDT.P"]  # fmt: skip
_BASES = ["ETH", "BTC", "SOL", "OP", "1000PEPE", "DOGE", "ARB", "WIF", "1INCH", "XRP", "AVAX"]
_SIDE_WORDS = {"long": ["long", "buy"], "short": ["short", "sell"]}
_LEVERAGE_FORMS = ["{}x", "x{}", "{} x", "{}×", "{}X", "lev {}", "leverage {}", "x {}", "lev={}"]
_ENTRY_FORMS = ["@ {}", "@{}", "entry {}", "at {}", "entry: {}", "at ${}", "entry @ {}"]
_STOP_FORMS = ["stop {}", "sl {}", "stop-loss {}", "stoploss {}", "sl={}", "stop @ {}", "sl:{}",
               "stop loss {}"]  # fmt: skip
_HORIZON_FORMS = {  # unit → forms, and how many days one unit is
    "h": (["{}h", "for {}h", "{} hours", "for {} hours"], (1, 24)),
    "d": (["{}d", "for {}d", "{} days", "for {} days"], (1, 1)),
    "w": (["{}w", "for {}w", "{} weeks", "for {} weeks", "{} week"], (7, 1)),
}


def _price_text(value: int, style: int) -> str:
    """A whole-number price written plainly, with thousands commas, or in k."""
    if style == 1:
        return f"{value:,}"
    if style == 2 and value % 100 == 0:
        return f"{value // 1000}.{value % 1000 // 100}k"
    return str(value)


@st.composite
def well_formed_ideas(draw: st.DrawFn) -> tuple[str, TradeIdea]:
    """Random parts of a valid idea, written in random forms and a random order."""
    base = draw(st.sampled_from(_BASES))
    parts = [draw(st.sampled_from(_ASSET_FORMS)).format(base)]
    side = draw(st.sampled_from(["long", "short", None]))
    if side:
        parts.append(draw(st.sampled_from(_SIDE_WORDS[side])))
    leverage = None
    if draw(st.booleans()):
        leverage = draw(st.integers(1, 125)) / draw(st.sampled_from([1, 2, 4]))
        leverage = max(leverage, 1.0)
        parts.append(draw(st.sampled_from(_LEVERAGE_FORMS)).format(f"{leverage:g}"))
    entry = stop = None
    if draw(st.booleans()):
        entry = draw(st.integers(1, 2_000_000)) * 100
        price = _price_text(entry, draw(st.integers(0, 2)))
        parts.append(draw(st.sampled_from(_ENTRY_FORMS)).format(price))
    if draw(st.booleans()):
        if entry is None:
            stop = draw(st.integers(1, 2_000_000)) * 100
        else:
            below = side == "long" or (side is None and draw(st.booleans()))
            offset = entry * draw(st.integers(1, 99)) // 100
            stop = entry - offset if below else entry + offset
        price = _price_text(stop, draw(st.integers(0, 2)))
        parts.append(draw(st.sampled_from(_STOP_FORMS)).format(price))
    horizon = None
    if draw(st.booleans()):
        unit = draw(st.sampled_from(sorted(_HORIZON_FORMS)))
        forms, (numerator, denominator) = _HORIZON_FORMS[unit]
        count = draw(st.integers(1, 52 if unit == "w" else 365))
        parts.append(draw(st.sampled_from(forms)).format(count))
        horizon = count * numerator / denominator
    parts = draw(st.permutations(parts))
    separator = draw(st.sampled_from([" ", "  ", ", ", "; ", " \u00a0"]))
    text = separator.join(parts)
    if draw(st.booleans()):
        text = "/check " + text
    if draw(st.booleans()):
        text = text.upper() if draw(st.booleans()) else text.lower()
    expected = idea(base, side, leverage, entry, stop, horizon)
    return text, expected


@settings(deadline=None, max_examples=200)
@given(well_formed_ideas())
def test_well_formed_ideas_parse_back(case: tuple[str, TradeIdea]) -> None:
    text, expected = case
    assert parse_idea(text) == expected


# --- canonical words: what a button carries must read back to the same idea ------------------


@pytest.mark.parametrize(("text", "expected"), ACCEPTED_V2, ids=[t[:40] for t, _ in ACCEPTED_V2])
def test_canonical_words_read_back_to_the_same_idea(text: str, expected: TradeIdea) -> None:
    parsed = parse_idea(text)
    again = parse_idea(parsed.words())
    assert again == replace(parsed, pasted=False)


@settings(deadline=None, max_examples=200)
@given(well_formed_ideas())
def test_canonical_words_round_trip_any_well_formed_idea(case: tuple[str, TradeIdea]) -> None:
    parsed = parse_idea(case[0])
    assert parse_idea(parsed.words()) == parsed


def test_canonical_words_leave_out_values_from_the_defaults() -> None:
    from signals.defaults import UserDefaults, complete_idea

    idea_ = complete_idea(
        parse_idea("eth long stop 2900"),
        UserDefaults(leverage=5, horizon_days=3, risk_pct=0.01, account_usd=1e4),
    )
    assert idea_.words() == "$ETH long stop 2900"
