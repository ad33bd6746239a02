"""Trade-idea words (SPEC §8) → a typed TradeIdea, or a ParseError with a reason and example."""

from __future__ import annotations

import html
import math
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from signals.errors import ParseError

Side = Literal["long", "short"]
USAGE_EXAMPLE = "/check ETH long 5x @ 3000 stop 2800 for 3d"

# SPEC §5 bounds the position check: 1 ≤ L ≤ 125; a horizon longer than a year is no trade idea.
MIN_LEVERAGE = 1.0
MAX_LEVERAGE = 125.0
MAX_HORIZON_DAYS = 365.0
# Telegram messages stop at 4096 characters; longer input is refused before any work is done.
MAX_TEXT_CHARS = 4096
MAX_WORD_CHARS = 32


@dataclass(frozen=True)
class TradeIdea:
    """A parsed trade idea; `side` None means grade both sides."""

    asset: str
    side: Side | None
    leverage: float = 1.0
    leverage_given: bool = False
    entry: float | None = None
    stop: float | None = None
    horizon_days: float | None = None

    def sides(self) -> tuple[Side, ...]:
        """The sides to grade: the one given, or long then short."""
        return (self.side,) if self.side else ("long", "short")


# --- vocabulary --------------------------------------------------------------------------------

_SIDES: dict[str, Side] = {"long": "long", "buy": "long", "short": "short", "sell": "short"}
_ENTRY_WORDS = frozenset({"@", "at", "entry", "enter"})
_STOP_WORDS = frozenset({"stop", "sl", "stop-loss", "stoploss", "stop_loss"})
_LEVERAGE_WORDS = frozenset({"lev", "leverage"})
_HORIZON_WORDS = frozenset({"for", "horizon"})
_TAKE_PROFIT_WORDS = frozenset(
    {"tp", "tp1", "tp2", "tp3", "take-profit", "takeprofit", "take_profit", "target", "profit"}
)
# Words that may sit between a keyword and its value: `stop @ 2800`, `sl = 2800`, `stop loss 2800`.
_CONNECTORS = frozenset({"@", "at", "=", "price", "of", "is", "level"})
_STOP_CONNECTORS = _CONNECTORS | {"loss"}
_MARKET_WORDS = frozenset({"market", "mkt", "now", "current"})
# Words that may carry a `word:value` colon, so `sl:2800` splits but `ETH/USDT:USDT` does not.
_COLON_KEYWORDS = (
    _ENTRY_WORDS | _STOP_WORDS | _LEVERAGE_WORDS | _HORIZON_WORDS | _TAKE_PROFIT_WORDS | {"side"}
)
_FILLER_WORDS = """
    i im ive me my we want wanna to go going gonna a an the on in into with position pos trade
    please pls check idea of and is it should would could can open take this that be side
    perp perps perpetual swap futures future contract usdt usdc usd busd leveraged
    what do you think about how does look looks am are here now just maybe thanks
"""
_FILLER = frozenset(_FILLER_WORDS.split())
# Quote and contract suffixes stripped from an asset: `ETH-USDT-SWAP`, `ETHUSDT`, `ETH-PERP`.
_SUFFIX_PARTS = frozenset({"usdt", "usdc", "usd", "busd", "fdusd", "perp", "swap", "p"})
_CONCAT_CONTRACTS = ("perp",)
# No `busd` here: BUSD is delisted, and `ARBUSD` must read as ARB, not AR.
_CONCAT_QUOTES = ("usdt", "usdc", "usd")
# Days per unit as (numerator, denominator), so `12h` is exactly 0.5 and `36 hours` exactly 1.5.
_UNIT_DAYS: dict[str, tuple[int, int]] = {
    **dict.fromkeys(("min", "mins", "minute", "minutes"), (1, 1440)),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), (1, 24)),
    **dict.fromkeys(("d", "day", "days"), (1, 1)),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), (7, 1)),
    **dict.fromkeys(("mo", "month", "months"), (30, 1)),
}

# Every pattern below is anchored or unambiguous, so matching is linear in the input.
_NUM = r"[0-9]+(?:\.[0-9]+)?|\.[0-9]+"
_NUMBER_RE = re.compile(rf"(-?)({_NUM})([km]?)")
_PLAIN_NUMBER_RE = re.compile(rf"-?(?:{_NUM})")
_LEVERAGE_RE = re.compile(rf"(-?(?:{_NUM}))x|x(-?(?:{_NUM}))")
_DURATION_RE = re.compile(rf"(-?(?:{_NUM}))([a-z]+)")
_NUMERIC_START_RE = re.compile(r"-?\.?[0-9]")
_TAG_RE = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>")
_THOUSANDS_RE = re.compile(r"(?<![0-9.])[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])")
_COMMAND_RE = re.compile(r"\s*/check(?:@[a-z0-9_]+)?(?=\s|$)", re.IGNORECASE)

_CROSS_SIGNS = frozenset("×✕✖⨯")
_DASHES = frozenset("‐‑‒–—―−")
_APOSTROPHES = frozenset("'’`´")
# Kept inside words: decimals, thousands, pairs (`ETH/USDT:USDT`, `ETH-PERP`), `sl=`, `@`, `$`.
_WORD_PUNCTUATION = frozenset(".,/-:=@_%$")
_TRIM = ".-_/:"


def _reject(reason: str) -> ParseError:
    return ParseError(reason, USAGE_EXAMPLE)


# --- text → words ------------------------------------------------------------------------------


def _normalise_char(ch: str) -> str:
    if ch in _CROSS_SIGNS:
        return "x"
    if ch in _DASHES:
        return "-"
    if ch.isdecimal() and not ch.isascii():
        return str(unicodedata.decimal(ch))
    if ch.isalnum() or ch in _WORD_PUNCTUATION:
        return ch
    if ch in _APOSTROPHES or unicodedata.category(ch) == "Cf":
        return ""  # `I'm` → `im`; zero-width characters must not split `ETH` into two words
    return " "


def _normalise(text: str) -> str:
    text = html.unescape(_TAG_RE.sub(" ", text))
    text = "".join(_normalise_char(ch) for ch in unicodedata.normalize("NFKC", text))
    text = _THOUSANDS_RE.sub(lambda m: m.group().replace(",", ""), text)
    text = text.replace(",", " ")
    text = _COMMAND_RE.sub(" ", text, count=1) if _COMMAND_RE.match(text) else text
    return text.replace("@", " @ ").replace("=", " = ")


def _trim(word: str) -> str:
    word = word.rstrip(_TRIM + "$")
    while word and word[0] in _TRIM:
        if word[0] in "-." and len(word) > 1 and (word[1].isdigit() or word[1] == "."):
            break  # `-5x`, `.5k`: a sign or decimal point belongs to the number
        word = word[1:]
    return word


def _split_colon(word: str) -> list[str]:
    head, colon, tail = word.partition(":")
    if colon and head.lower() in _COLON_KEYWORDS:
        return [head, *([tail] if tail else [])]
    return [word]


def _words(text: str) -> list[str]:
    words: list[str] = []
    for chunk in _normalise(text).split():
        for part in _split_colon(_trim(chunk)):
            word = _trim(part)
            if not word:
                continue
            if len(word) > MAX_WORD_CHARS:
                raise _reject(f"word too long: '{word[:20]}…'")
            words.append(word)
    return words


# --- values ------------------------------------------------------------------------------------


def _number(word: str) -> float | None:
    """A price-like number: `3000`, `3k`, `3.5k`, `1.2m`, `-5`, `$3000` (commas already gone)."""
    m = _NUMBER_RE.fullmatch(word.lower().lstrip("$"))
    if not m:
        return None
    sign, digits, scale = m.groups()
    # Decimal keeps `3.3k` exactly 3300 (3.3 * 1000 in floats is 3299.9999999999995).
    value = float(Decimal(digits).scaleb({"": 0, "k": 3, "m": 6}[scale]))
    if not math.isfinite(value):
        return None
    return -value if sign else value


def _leverage_word(word: str) -> float | None:
    m = _LEVERAGE_RE.fullmatch(word.lower())
    if not m:
        return None
    return float(m.group(1) or m.group(2))


def _duration_word(word: str) -> float | None:
    m = _DURATION_RE.fullmatch(word.lower())
    if not m or m.group(2) not in _UNIT_DAYS:
        return None
    return _days(float(m.group(1)), m.group(2))


def _days(count: float, unit: str) -> float:
    numerator, denominator = _UNIT_DAYS[unit]
    return count * numerator / denominator


def _looks_numeric(word: str) -> bool:
    return bool(_NUMERIC_START_RE.match(word.lstrip("$")))


def _asset_symbol(word: str) -> str | None:
    """`ETHUSDT`, `ETH/USDT:USDT`, `ETH-USDT-SWAP`, `ETHUSDT.P` → `ETH`; None if not a symbol."""
    w = word.lower().lstrip("$")
    w = w.split("/", 1)[0].split(":", 1)[0]
    base, *rest = re.split(r"[-_]", w)
    if rest:
        if not all(part in _SUFFIX_PARTS for part in rest):
            return None
        w = base  # an explicit separator names the base, even a one-letter one
    else:
        w = w.removesuffix(".p")
        for suffixes in (_CONCAT_CONTRACTS, _CONCAT_QUOTES):
            # `OPUSDT` → `OP`, but `USDT` and `BUSD` stay whole: at least two characters remain
            w = next((w[: -len(s)] for s in suffixes if w.endswith(s) and len(w) - len(s) >= 2), w)
    # Upper-casing can split a letter into letter + combining mark (`ǰ` → `J̌`): refuse those.
    symbol = unicodedata.normalize("NFC", w.upper())
    if not symbol or not symbol.isalnum():
        return None
    return symbol


def _fmt(value: float) -> str:
    return f"{value:g}"


# --- words → idea ------------------------------------------------------------------------------


@dataclass
class _Draft:
    """The idea as read so far; each setter refuses a second, different value."""

    asset: str | None = None
    side: Side | None = None
    side_word: str = ""
    leverage: float | None = None
    entry: float | None = None
    entry_word: str = ""
    stop: float | None = None
    stop_word: str = ""
    horizon_days: float | None = None
    horizon_word: str = ""

    def set_asset(self, symbol: str) -> None:
        if self.asset is not None and self.asset != symbol:
            raise _reject(f"two assets ({self.asset}, {symbol})")
        self.asset = symbol

    def set_side(self, side: Side, word: str) -> None:
        if self.side is not None and self.side != side:
            raise _reject(f"two sides ({self.side_word}, {word}): pick long or short")
        self.side, self.side_word = side, word

    def set_leverage(self, value: float) -> None:
        if value <= 0:
            raise _reject(f"leverage {_fmt(value)}x must be above 0")
        if value < MIN_LEVERAGE:
            raise _reject(f"leverage {_fmt(value)}x is below 1x")
        if value > MAX_LEVERAGE:
            raise _reject(f"leverage {_fmt(value)}x is above the {_fmt(MAX_LEVERAGE)}x maximum")
        if self.leverage is not None and self.leverage != value:
            raise _reject(f"two leverages ({_fmt(self.leverage)}x, {_fmt(value)}x)")
        self.leverage = value

    def set_entry(self, value: float, word: str) -> None:
        if value <= 0:
            raise _reject(f"entry {word} must be above 0")
        if self.entry is not None and self.entry != value:
            raise _reject(f"two entries ({self.entry_word}, {word})")
        self.entry, self.entry_word = value, word

    def set_stop(self, value: float, word: str) -> None:
        if value <= 0:
            raise _reject(f"stop {word} must be above 0")
        if self.stop is not None and self.stop != value:
            raise _reject(f"two stops ({self.stop_word}, {word})")
        self.stop, self.stop_word = value, word

    def set_horizon(self, days: float, word: str) -> None:
        if days <= 0:
            raise _reject(f"horizon {word} must be above 0")
        if days > MAX_HORIZON_DAYS:
            raise _reject(f"horizon {word} is over {_fmt(MAX_HORIZON_DAYS)} days")
        if self.horizon_days is not None and self.horizon_days != days:
            raise _reject(f"two horizons ({self.horizon_word}, {word})")
        self.horizon_days, self.horizon_word = days, word

    def finish(self) -> TradeIdea:
        if self.asset is None:
            raise _reject("no asset: name one, like ETH or BTC")
        side = self.side
        if self.entry is not None and self.stop is not None:
            side = self._check_stop(side)
        return TradeIdea(
            asset=self.asset,
            side=side,
            leverage=self.leverage if self.leverage is not None else 1.0,
            leverage_given=self.leverage is not None,
            entry=self.entry,
            stop=self.stop,
            horizon_days=self.horizon_days,
        )

    def _check_stop(self, side: Side | None) -> Side | None:
        assert self.entry is not None and self.stop is not None
        stop, entry = self.stop_word, self.entry_word
        if self.stop == self.entry:
            raise _reject(f"stop {stop} equals the entry {entry}")
        if side is None:
            # No side: both sides are graded (SPEC §7); the position check of the side the
            # stop does not fit reports it as on the wrong side.
            return None
        if side == "long" and self.stop > self.entry:
            raise _reject(f"stop {stop} must be below the entry {entry} for a long")
        if side == "short" and self.stop < self.entry:
            raise _reject(f"stop {stop} must be above the entry {entry} for a short")
        return side


class _Reader:
    """Walks the words left to right; each keyword consumes its value."""

    def __init__(self, words: list[str]) -> None:
        self.words = words
        self.i = 0
        self.draft = _Draft()

    def peek(self, offset: int = 0) -> str | None:
        j = self.i + offset
        return self.words[j].lower() if j < len(self.words) else None

    def value_after(self, keyword: str, connectors: frozenset[str], wants: str) -> str:
        """Skip connectors after a keyword and return the raw value word."""
        self.i += 1
        while self.i < len(self.words) and self.words[self.i].lower() in connectors:
            self.i += 1
        if self.i >= len(self.words):
            raise _reject(f"'{keyword}' needs {wants}")
        word = self.words[self.i]
        self.i += 1
        return word

    def price_after(self, keyword: str, connectors: frozenset[str]) -> tuple[float, str]:
        word = self.value_after(keyword, connectors, "a price after it")
        value = _number(word)
        if value is not None:
            return value, word
        if word.endswith("%"):
            raise _reject(f"'{keyword} {word}': write a price, not a percentage")
        if _looks_numeric(word):
            raise _reject(f"can't read '{word}' as a price")
        raise _reject(f"'{keyword}' needs a price after it, not '{word}'")

    def entry_after(self, keyword: str) -> None:
        ahead = 1
        while self.peek(ahead) in _CONNECTORS:
            ahead += 1
        if self.peek(ahead) in _MARKET_WORDS:
            self.i += ahead + 1  # `@ market` is the default entry: the current price
            return
        self.draft.set_entry(*self.price_after(keyword, _CONNECTORS))

    def run(self) -> TradeIdea:
        while self.i < len(self.words):
            self.step()
        return self.draft.finish()

    def step(self) -> None:
        word = self.words[self.i]
        low = word.lower()
        if low.startswith("$") and low[1:2].isalpha():
            self.asset(word)  # a cashtag is always an asset, even `$A` or `$IT`
        elif low in _FILLER or low == "=":
            self.i += 1
        elif low in _SIDES:
            self.draft.set_side(_SIDES[low], word)
            self.i += 1
        elif low in _ENTRY_WORDS:
            self.entry_after(word)
        elif low in _STOP_WORDS:
            self.draft.set_stop(*self.price_after(word, _STOP_CONNECTORS))
        elif low in _LEVERAGE_WORDS:
            self.leverage_after(word)
        elif low in _HORIZON_WORDS:
            self.horizon_after(word)
        elif low in _TAKE_PROFIT_WORDS:
            raise _reject(f"take-profit targets are not graded: leave out '{word}'")
        elif low == "x":
            self.x_before_number()
        elif (lev := _leverage_word(low)) is not None:
            self.draft.set_leverage(lev)
            self.i += 1
        elif (days := _duration_word(low)) is not None:
            self.draft.set_horizon(days, word)
            self.i += 1
        elif (num := _number(low)) is not None:
            self.bare_number(num, word)
        else:
            self.asset(word)

    def asset(self, word: str) -> None:
        symbol = _asset_symbol(word)
        if symbol is None and _looks_numeric(word):
            raise _reject(f"can't read '{word}' as a number")
        if symbol is None:
            raise _reject(f"can't read '{word}': not an asset, side, leverage, price or horizon")
        self.draft.set_asset(symbol)
        self.i += 1

    def leverage_after(self, keyword: str) -> None:
        word = self.value_after(keyword, _CONNECTORS, "a number after it, like lev 5")
        value = _leverage_word(word)
        if value is None:
            value = _number(word)
        if value is None:
            raise _reject(f"'{keyword}' needs a number after it, like lev 5, not '{word}'")
        self.draft.set_leverage(value)

    def horizon_after(self, keyword: str) -> None:
        word = self.value_after(keyword, _CONNECTORS, "a duration after it, like 3d")
        days = _duration_word(word)
        if days is not None:
            self.draft.set_horizon(days, word)
            return
        unit = self.peek()
        if unit in _UNIT_DAYS and _PLAIN_NUMBER_RE.fullmatch(word):
            self.draft.set_horizon(_days(float(word), unit), f"{word} {unit}")
            self.i += 1
            return
        raise _reject(f"'{keyword}' needs a duration after it, like 3d, not '{word}'")

    def x_before_number(self) -> None:
        """`x 5` is leverage 5; a lone `x` is a mistake."""
        following = self.peek(1)
        value = _number(following) if following is not None else None
        if value is None:
            raise _reject("'x' needs a number, like 5x")
        self.draft.set_leverage(value)
        self.i += 2

    def bare_number(self, value: float, word: str) -> None:
        """A number means something only with a unit after it: `5 x`, `3 days`."""
        following = self.peek(1)
        if following == "x":
            self.draft.set_leverage(value)
            self.i += 2
            return
        if following in _UNIT_DAYS and _PLAIN_NUMBER_RE.fullmatch(word):
            self.draft.set_horizon(_days(value, following), f"{word} {following}")
            self.i += 2
            return
        if _PLAIN_NUMBER_RE.fullmatch(word):
            raise _reject(f"'{word}' alone means nothing: write {word}x for leverage or @ {word}")
        raise _reject(f"'{word}' alone means nothing: write @ {word} for entry or stop {word}")


def parse_idea(text: str) -> TradeIdea:
    """Parse free trade-idea words; raise ParseError with a one-line reason and an example."""
    if not isinstance(text, str):
        raise _reject("no trade idea given")
    if len(text) > MAX_TEXT_CHARS:
        raise _reject(f"idea too long (over {MAX_TEXT_CHARS} characters)")
    words = _words(text)
    if not words:
        raise _reject("empty idea: name an asset, like ETH long 5x")
    return _Reader(words).run()
