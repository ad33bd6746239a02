"""A pasted channel-style signal (SPEC §8) → the words of an ordinary trade idea.

The common layout puts one field per line, behind a label, with emoji and decoration around:

    🚀 #ETH/USDT LONG
    Leverage: Cross 5x
    Entry: 3000 - 3050
    Targets: 3100, 3200
    Stop Loss: 2900

or the Cornix style without colons (`Buy 3000`, `Take Profit 3100`, `Stop Loss 2900`), with lists
under a label line (`Take-Profit Targets:` then `1) 3100`, `2) 3200`). Each labelled line gives
its field; decoration, percentages in brackets and labels that carry nothing to grade
(`Exchange: Binance Futures`) are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

from signals.words import (
    LEVERAGE_WORDS,
    MARGIN_WORDS,
    PLAIN_NUMBER_RE,
    SIDES,
    leverage_word,
    number,
    pair_shaped,
    range_values,
    suggestion,
)

# field → the labels that give it, `|`-separated ("ignore": the line carries nothing to grade)
_LABEL_TABLE = {
    "asset": "pair | coin | symbol | asset | ticker | token | contract",
    "side": "side | direction | position | signal type | type | trade type | signal | trade",
    "leverage": "leverage | lev | leverage type",
    "margin": "margin | margin mode | margin type",
    "entry": """entry | entries | entry zone | entry price | entry prices | entry targets |
        entry range | entry points | entry point | buy zone | buy | buy price | buy range |
        sell zone | enter | open | open price""",
    "targets": """target | targets | take profit | take profits | take profit targets | tp |
        tps | profit targets | profit target | tp targets | sell | goals | goal |
        take profit levels | targets levels | target levels""",
    "stop": """stop | stop loss | stoploss | sl | stop targets | stop target | stop price |
        stop level | invalidation""",
    "risk": "risk | risk management | rm | risk per trade",
    "account": "account | balance | capital | account size | equity",
    "horizon": "horizon | duration | holding period | hold | hold time",
    "ignore": """exchange | exchanges | platform | broker | timeframe | time frame | tf |
        amount | amount per trade | status | note | notes | comment | date | time |
        confidence | risk level | trailing | trailing stop | trailing config | strategy |
        chart | analysis | reason | channel | posted by | by | market | volume | signal id |
        id | leverage range | win rate | profit potential""",
}
# normalised label → the field it gives
LABELS: dict[str, str] = {
    " ".join(label.split()): field
    for field, labels in _LABEL_TABLE.items()
    for label in labels.split("|")
}
_MAX_LABEL_WORDS = 4
# fields whose lines hold prices, possibly a list continued on the following lines
_PRICE_FIELDS = ("entry", "targets", "stop")
# `TP1`, `Target 2`: the digits number the field, they are no part of the label
_LABEL_DIGITS_RE = re.compile(r"[0-9]+")
_ENUMERATOR_RE = re.compile(r"[0-9]{1,2}")
# `TP1 - 3100`, `Target 2: 3200`, `1) 3100`, `2. 3200`: an enumerator before a price, on the
# raw line (before `1 - 3100` could read as a range)
# (one greedy run up to the first digit, so matching stays linear on a long line)
_ENUMERATED_RE = re.compile(
    r"^(?P<label>[^0-9\n]*)[0-9]{1,2}[ \t]*(?:\)|[.:-](?=[ \t]))[ \t]*(?=\$?[0-9])"
)
# words that make a label-less line an inline idea, read whole (`@ 3000 stop 2900`)
_INLINE_KEYWORDS = frozenset({"@", "entry", "stop", "sl", "tp", "lev", "risk", "acct", "for"})


def is_signal(lines: list[str], words_of: Callable[[str], list[str]]) -> bool:
    """Two or more lines, at least one of them behind a known label."""
    if len(lines) < 2:
        return False
    return any(_label(words_of(_unnumber(line)))[0] is not None for line in lines)


def signal_words(lines: list[str], words_of: Callable[[str], list[str]]) -> list[str]:
    """The canonical idea words of a channel-style signal, field by field."""
    fields: list[str] = []
    loose: list[list[str]] = []  # words of the lines without a label
    prices: dict[str, list[float]] = {field: [] for field in _PRICE_FIELDS}
    labelled_asset = False
    current: str | None = None  # the price list a label-less line of numbers continues
    for line in lines:
        words = words_of(_unnumber(line))
        field, rest = _label(words)
        if field is None:
            numbers = _continuation(words)
            if current is not None and numbers:
                prices[current].extend(numbers)
                continue
            current = None
            loose.append(words)
            continue
        current = field if field in _PRICE_FIELDS else None
        if field in _PRICE_FIELDS:
            prices[field].extend(_prices(rest))
            continue
        labelled_asset = labelled_asset or field == "asset"
        fields.extend(_field_words(field, rest))
    loose_words = [w for words in loose for w in words]
    has_asset = labelled_asset or any(pair_shaped(w) for w in loose_words)
    # a pair (`ETH/USDT`) outranks hashtags and cashtags (`#VIP #Futures`) as the asset
    has_pair = labelled_asset or any(pair_shaped(w, tags=False) for w in loose_words)
    out = [w for words in loose for w in _loose_words(words, has_asset, has_pair)]
    return out + fields + _price_words(prices)


def _unnumber(line: str) -> str:
    """`TP1 - 3100` → `TP: 3100`; `1) 3100` → `3100` (the enumerator is no price)."""
    m = _ENUMERATED_RE.match(line)
    if m is None:
        return line
    label = m.group("label").rstrip()
    return (f"{label}: " if label else "") + line[m.end() :]


def _label(words: list[str]) -> tuple[str | None, list[str]]:
    """The field a line's leading words name, and the words after the label."""
    head: list[str] = []
    for word in words[:_MAX_LABEL_WORDS]:
        if not any(c.isalpha() for c in word):
            break  # a label is words; the first number starts the value
        head.append(word)
    for n in range(len(head), 0, -1):
        key = " ".join(_LABEL_DIGITS_RE.sub("", w.lower()).replace("-", " ") for w in head[:n])
        key = " ".join(key.split())
        if key in LABELS and not (n == 1 and _bare_side_line(words)):
            field, rest = LABELS[key], words[n:]
            while field in _PRICE_FIELDS and len(rest) > 1 and _ENUMERATOR_RE.fullmatch(rest[0]):
                rest = rest[1:]  # `Target 1 3100`: the 1 numbers the target
            return field, rest
    return None, words


def _bare_side_line(words: list[str]) -> bool:
    """`Buy ETH` / `Sell` is a side, not a price label: no number follows the word."""
    return words[0].lower() in SIDES and not any(number(w) is not None for w in words[1:])


def _continuation(words: list[str]) -> list[float]:
    """The prices of a line that only lists prices (`3100`, `3200 (+5%)`); else nothing."""
    if not words or not all(_is_price(w) or w.endswith("%") for w in words):
        return []
    return _prices(words)


def _is_price(word: str) -> bool:
    return number(word) is not None or range_values(word) is not None


def _prices(words: list[str]) -> list[float]:
    """The prices on a line: numbers and ranges; no percentages, no negative offsets."""
    out: list[float] = []
    for word in words:
        values = range_values(word)
        if values is None:
            value = number(word)
            values = [value] if value is not None else []
        out.extend(v for v in values if v > 0)
    return out


def _field_words(field: str, rest: list[str]) -> list[str]:
    """The idea words one labelled (non-price) line gives."""
    if field == "ignore":
        return []
    if field == "side":
        sides = [w for w in rest if w.lower() in SIDES]
        return sides or rest[:1]
    if field == "margin":
        return [w for w in rest if w.lower() in MARGIN_WORDS]
    if field == "leverage":
        return _leverage_words(rest)
    if field == "risk":
        # `Risk: 1%`, `Risk management: Risk 1% - 1.5% of your portfolio` (the first amount)
        amount = next((w for w in rest if w.endswith("%") or w.startswith("$")), None)
        return ["risk", amount] if amount is not None else []
    if field == "horizon":
        return ["for", *rest[:2]] if rest else []
    if field == "account":
        return ["acct", *rest[:1]] if rest else []
    return rest[:1]  # asset: the pair named after the label


def _leverage_words(rest: list[str]) -> list[str]:
    """`Cross 5x`, `Isolated (20.0X)`, `10` → margin words and one leverage word."""
    out = [w for w in rest if w.lower() in MARGIN_WORDS]
    for word in rest:
        if leverage_word(word) is not None:
            out.append(word)
        elif PLAIN_NUMBER_RE.fullmatch(word):
            out.extend(["lev", word])
        elif word.lower() not in MARGIN_WORDS and word.lower() not in LEVERAGE_WORDS:
            out.append(word)  # let the parser say what is wrong with it
    return out


def _loose_words(words: list[str], has_asset: bool, has_pair: bool) -> list[str]:
    """Words of a label-less line: the pair, the side, leverage and margin; the rest is décor.

    Once a pair-shaped word (`#ETH/USDT`, `$ETH`) or a label names the market, other bare
    words (`VIP`, `Signal`) are decoration; without one, a bare word may be the asset itself.
    A line with an idea keyword (`@ 3000 stop 2900`) is read whole.
    """
    if any(w.lower() in _INLINE_KEYWORDS for w in words):
        return words
    out: list[str] = []
    for word in words:
        low = word.lower()
        keep = (
            pair_shaped(word, tags=not has_pair)
            or low in SIDES
            or low in MARGIN_WORDS
            or leverage_word(word) is not None
            or (not has_asset and word.isalnum() and not word.isdigit())
            or suggestion(word) is not None  # a misspelt side still gets its "did you mean"
        )
        if keep:
            out.append(word)
    return out


def _price_words(prices: dict[str, list[float]]) -> list[str]:
    """`entry 3000-3050 tp 3100 3200 stop 2900`: an entry list grades as a min–max range."""
    out: list[str] = []
    entries = prices["entry"]
    if entries:
        low, high = min(entries), max(entries)
        out += ["entry", _word(low) if low == high else f"{_word(low)}-{_word(high)}"]
    if prices["targets"]:
        out += ["tp", *(_word(v) for v in prices["targets"])]
    for stop in prices["stop"]:
        out += ["stop", _word(stop)]
    return out


def _word(value: float) -> str:
    """The shortest exact decimal of a price, never in exponent form."""
    return format(Decimal(repr(value)).normalize(), "f")
