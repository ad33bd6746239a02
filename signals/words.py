"""Trade-idea vocabulary and word-level readers (SPEC §8), shared by the idea parser and the
channel-signal reader: text → words, and words → numbers, leverages, durations, symbols."""

from __future__ import annotations

import html
import math
import re
import unicodedata
from decimal import Decimal
from typing import Literal

from signals.errors import ParseError

Side = Literal["long", "short"]
# The words of an example idea; the command in front depends on where it was typed (ParseError).
IDEA_EXAMPLE = "ETH long 5x @ 3000 stop 2800 for 3d"
IDEA_COMMAND = "check"

MAX_WORD_CHARS = 32

SIDES: dict[str, Side] = {"long": "long", "buy": "long", "short": "short", "sell": "short"}
ENTRY_WORDS = frozenset({"@", "at", "entry", "enter", "entries"})
STOP_WORDS = frozenset({"stop", "sl", "stop-loss", "stoploss", "stop_loss"})
LEVERAGE_WORDS = frozenset({"lev", "leverage"})
HORIZON_WORDS = frozenset({"for", "horizon"})
TARGET_WORDS = frozenset(
    {"tp", "tps", "take-profit", "takeprofit", "take_profit", "target", "targets", "profit"}
)
RISK_WORDS = frozenset({"risk", "risking"})
ACCOUNT_WORDS = frozenset({"acct", "account", "balance", "bal", "capital", "equity"})
MARGIN_WORDS: dict[str, Literal["cross", "isolated"]] = {
    "cross": "cross",
    "crossed": "cross",
    "isolated": "isolated",
    "iso": "isolated",
}
# Words that may sit between a keyword and its value: `stop @ 2800`, `sl = 2800`, `stop loss 2800`.
CONNECTORS = frozenset({"@", "at", "=", "price", "of", "is", "level", "zone"})
STOP_CONNECTORS = CONNECTORS | {"loss"}
MARKET_WORDS = frozenset({"market", "mkt", "now", "current"})
# Words that may carry a `word:value` colon, so `sl:2800` splits but `ETH/USDT:USDT` does not.
COLON_KEYWORDS = (
    ENTRY_WORDS
    | STOP_WORDS
    | LEVERAGE_WORDS
    | HORIZON_WORDS
    | TARGET_WORDS
    | RISK_WORDS
    | ACCOUNT_WORDS
    | {"side"}
)
_FILLER_WORDS = """
    i im ive me my we want wanna to go going gonna a an the on in into with position pos trade
    please pls check idea of and is it should would could can open take this that be side
    perp perps perpetual swap futures future contract usdt usdc usd busd leveraged margin
    what do you think about how does look looks am are here now just maybe thanks
"""
FILLER = frozenset(_FILLER_WORDS.split())
# Numbered take-profit words: tp1, tp2, target3 …
NUMBERED_TARGET_RE = re.compile(r"(?:tp|target)[0-9]{1,2}")

# The words a misspelling is matched against for "did you mean …?" (4 letters or more, so
# that short asset symbols such as SOL are never taken for `sl`).
SUGGESTIONS = (
    "long",
    "short",
    "leverage",
    "stop",
    "stoploss",
    "entry",
    "target",
    "targets",
    "risk",
    "account",
    "balance",
    "horizon",
    "cross",
    "isolated",
    "market",
)

# Quote and contract suffixes stripped from an asset: `ETH-USDT-SWAP`, `ETHUSDT`, `ETH-PERP`.
_SUFFIX_PARTS = frozenset({"usdt", "usdc", "usd", "busd", "fdusd", "perp", "swap", "p"})
_CONCAT_CONTRACTS = ("perp",)
# No `busd` here: BUSD is delisted, and `ARBUSD` must read as ARB, not AR.
_CONCAT_QUOTES = ("usdt", "usdc", "usd")
# Days per unit as (numerator, denominator), so `12h` is exactly 0.5 and `36 hours` exactly 1.5.
UNIT_DAYS: dict[str, tuple[int, int]] = {
    **dict.fromkeys(("min", "mins", "minute", "minutes"), (1, 1440)),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), (1, 24)),
    **dict.fromkeys(("d", "day", "days"), (1, 1)),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), (7, 1)),
    **dict.fromkeys(("mo", "month", "months"), (30, 1)),
}

# Every pattern below is anchored or unambiguous, so matching is linear in the input.
_NUM = r"[0-9]+(?:\.[0-9]+)?|\.[0-9]+"
_NUMBER_RE = re.compile(rf"(-?)({_NUM})([km]?)")
PLAIN_NUMBER_RE = re.compile(rf"-?(?:{_NUM})")
_LEVERAGE_RE = re.compile(rf"(-?(?:{_NUM}))x|x(-?(?:{_NUM}))")
_DURATION_RE = re.compile(rf"(-?(?:{_NUM}))([a-z]+)")
_NUMERIC_START_RE = re.compile(r"-?\.?[0-9]")
_TAG_RE = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>")
_THOUSANDS_RE = re.compile(r"(?<![0-9.])[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])")
_COMMAND_RE = re.compile(r"\s*/check(?:@[a-z0-9_]+)?(?=\s|$)", re.IGNORECASE)
# `3000 - 3050` and `$3,000 – $3,050` are one range word, `3000-3050`
_RANGE_GAP_RE = re.compile(r"(?:(?<=[0-9])|(?<=[0-9][kKmM]))[ \t]*-[ \t]*(?=\$?\.?[0-9])")
# `#ETH` is a hashtag of a symbol: read like the cashtag `$ETH`
_HASHTAG_RE = re.compile(r"#(?=[A-Za-z])")

_CROSS_SIGNS = frozenset("×✕✖⨯")
_DASHES = frozenset("‐‑‒–—―−")
_DASH_TABLE = str.maketrans(dict.fromkeys(_DASHES, "-"))
_APOSTROPHES = frozenset("'’`´")
# Kept inside words: decimals, thousands, pairs (`ETH/USDT:USDT`, `ETH-PERP`), `sl=`, `@`, `$`.
_WORD_PUNCTUATION = frozenset(".,/-:=@_%$")
_TRIM = ".-_/:"


def reject(reason: str) -> ParseError:
    """A ParseError for a trade idea, with the idea example shown in the syntax of the place."""
    return ParseError(reason, IDEA_EXAMPLE, command=IDEA_COMMAND)


# --- text → words ------------------------------------------------------------------------------


def _normalise_char(ch: str) -> str:
    if ch in _CROSS_SIGNS:
        return "x"
    if ch.isdecimal() and not ch.isascii():
        return str(unicodedata.decimal(ch))
    if ch.isalnum() or ch in _WORD_PUNCTUATION:
        return ch
    if ch in _APOSTROPHES or unicodedata.category(ch) == "Cf":
        return ""  # `I'm` → `im`; zero-width characters must not split `ETH` into two words
    return " "


def strip_command(text: str) -> str:
    """Drop a leading `/check` (or `/check@Bot`)."""
    return _COMMAND_RE.sub(" ", text, count=1) if _COMMAND_RE.match(text) else text


def normalise(text: str) -> str:
    """Markup, unicode digits, dashes and thousands commas normalised; words space-separated."""
    text = html.unescape(_TAG_RE.sub(" ", text))
    text = unicodedata.normalize("NFKC", text).translate(_DASH_TABLE)
    text = _THOUSANDS_RE.sub(lambda m: m.group().replace(",", ""), text)
    # before brackets turn into spaces: `2900 (-3.5%)` is a price and an offset, not a range
    text = _RANGE_GAP_RE.sub("-", text)
    text = "".join(_normalise_char(ch) for ch in _HASHTAG_RE.sub("$", text))
    text = text.replace(",", " ")
    text = strip_command(text)
    return text.replace("@", " @ ").replace("=", " = ")


def trim(word: str) -> str:
    """Strip punctuation around a word, keeping a number's sign or leading decimal point."""
    word = word.rstrip(_TRIM + "$")
    while word and word[0] in _TRIM:
        if word[0] in "-." and len(word) > 1 and (word[1].isdigit() or word[1] == "."):
            break  # `-5x`, `.5k`: a sign or decimal point belongs to the number
        word = word[1:]
    return word


def _split_colon(word: str) -> list[str]:
    head, colon, tail = word.partition(":")
    if colon and (head.lower() in COLON_KEYWORDS or NUMBERED_TARGET_RE.fullmatch(head.lower())):
        return [head, *([tail] if tail else [])]
    return [word]


def words_of(text: str) -> list[str]:
    """The words of a trade idea, punctuation trimmed; a word over 32 characters is refused."""
    words: list[str] = []
    for chunk in normalise(text).split():
        for part in _split_colon(trim(chunk)):
            word = trim(part)
            if not word:
                continue
            if len(word) > MAX_WORD_CHARS:
                raise reject(f"word too long: '{word[:20]}…'")
            words.append(word)
    return words


# --- values ------------------------------------------------------------------------------------


def number(word: str) -> float | None:
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


def range_values(word: str) -> list[float] | None:
    """`3000-3050` → [3000, 3050]; `3100-3200-3300` → three values; None if not a range."""
    if "-" not in word or word.startswith("-"):
        return None
    values = [number(part) for part in word.split("-")]
    if len(values) < 2 or any(v is None for v in values):
        return None
    return [v for v in values if v is not None]


def leverage_word(word: str) -> float | None:
    """`5x`, `x5`, `2.5x` → the leverage; None otherwise."""
    m = _LEVERAGE_RE.fullmatch(word.lower())
    if not m:
        return None
    return float(m.group(1) or m.group(2))


def duration_word(word: str) -> float | None:
    """`3d`, `24h`, `2w` → days; None otherwise."""
    m = _DURATION_RE.fullmatch(word.lower())
    if not m or m.group(2) not in UNIT_DAYS:
        return None
    return days(float(m.group(1)), m.group(2))


def days(count: float, unit: str) -> float:
    """`count` units in days."""
    numerator, denominator = UNIT_DAYS[unit]
    return count * numerator / denominator


def looks_numeric(word: str) -> bool:
    """The word starts like a number (so it is a badly written one, not an asset)."""
    return bool(_NUMERIC_START_RE.match(word.lstrip("$")))


def asset_symbol(word: str) -> str | None:
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


def pair_shaped(word: str, *, tags: bool = True) -> bool:
    """A word that names a market: `ETH/USDT`, `ETHUSDT`, `ETH-PERP` and (with `tags`) `$ETH`."""
    low = word.lower()
    if low.startswith("$") and low[1:2].isalpha() and tags:
        return True
    if asset_symbol(word) is None:
        return False
    low = low.lstrip("$")
    if "/" in low or "-" in low or "_" in low or low.endswith(".p"):
        return True
    return low.endswith(_CONCAT_QUOTES + _CONCAT_CONTRACTS) and len(low) > 5


def fmt(value: float) -> str:
    """A number as the user might have typed it: 5, 2.5, 0.0001."""
    return f"{value:g}"


# --- did you mean …? ---------------------------------------------------------------------------


def _edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions, swaps."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i]
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            best = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                best = min(best, prev2[j - 2] + 1)
            row.append(best)
        prev2, prev = prev, row
    return prev[-1]


def suggestion(word: str) -> str | None:
    """The keyword or side a word is a likely misspelling of (`lnog` → `long`), or None."""
    low = word.lower().strip("$")
    if len(low) < 4 or not low.isalpha() or low in SUGGESTIONS:
        return None
    allowed = 1 if len(low) <= 5 else 2
    best = min(SUGGESTIONS, key=lambda s: (_edit_distance(low, s), s))
    return best if _edit_distance(low, best) <= allowed else None
