"""Trade-idea parser: accepted phrasings, rejected phrasings, and properties on arbitrary text."""

from __future__ import annotations

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
) -> TradeIdea:
    """Build the expected TradeIdea; a leverage given means leverage_given."""
    return TradeIdea(
        asset=asset,
        side=side,  # type: ignore[arg-type]
        leverage=leverage if leverage is not None else 1.0,
        leverage_given=leverage is not None,
        entry=entry,
        stop=stop,
        horizon_days=horizon_days,
    )


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


@pytest.mark.parametrize(("text", "expected"), ACCEPTED, ids=[t for t, _ in ACCEPTED])
def test_accepted_phrasings(text: str, expected: TradeIdea) -> None:
    assert parse_idea(text) == expected


def test_accepted_table_is_large_enough() -> None:
    assert len(ACCEPTED) >= 45


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
    ("eth long tp 3500", "take-profit targets are not graded: leave out 'tp'"),
    ("eth long-term", "can't read 'long-term'"),
    # upper-casing `ǰ` gives `J` plus a combining mark, which is no symbol
    ("ǰ long", "can't read 'ǰ'"),
    ("eth " + "a" * 40, "word too long"),
    ("eth long " + "x" * 5000, "idea too long"),
    ("I think ETH will pump", "two assets (ETH, WILL)"),
]


@pytest.mark.parametrize(("text", "reason"), REJECTED, ids=[t[:40] for t, _ in REJECTED])
def test_rejected_phrasings(text: str, reason: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_idea(text)
    assert reason in caught.value.reason
    assert caught.value.example == USAGE_EXAMPLE


@pytest.mark.parametrize(("text", "reason"), REJECTED, ids=[t[:40] for t, _ in REJECTED])
def test_reasons_are_one_short_line(text: str, reason: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_idea(text)
    message = caught.value.reason
    assert ("\n" in message, message.endswith("."), len(message) <= 100) == (False, False, True)


def test_rejected_table_is_large_enough() -> None:
    assert len(REJECTED) >= 25


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
