"""Trade-idea words (SPEC §8) → a typed TradeIdea, or a ParseError with a reason and example."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from signals.signal_layout import is_signal, signal_words
from signals.words import (
    ACCOUNT_WORDS,
    CONNECTORS,
    ENTRY_WORDS,
    FILLER,
    HORIZON_WORDS,
    IDEA_EXAMPLE,
    LEVERAGE_WORDS,
    MARGIN_WORDS,
    MARKET_WORDS,
    NUMBERED_TARGET_RE,
    PLAIN_NUMBER_RE,
    RISK_WORDS,
    SIDES,
    STOP_CONNECTORS,
    STOP_WORDS,
    TARGET_WORDS,
    UNIT_DAYS,
    Side,
    asset_symbol,
    days,
    duration_word,
    fmt,
    leverage_word,
    looks_numeric,
    number,
    range_values,
    reject,
    strip_command,
    suggestion,
    words_of,
)

# The example idea every rejection carries (shown as `/check …` in a chat, `python bot.py
# check …` on the command line).
USAGE_EXAMPLE = IDEA_EXAMPLE

# SPEC §5 bounds the position check: 1 ≤ L ≤ 125; a horizon longer than a year is no trade idea.
MIN_LEVERAGE = 1.0
MAX_LEVERAGE = 125.0
MAX_HORIZON_DAYS = 365.0
MAX_TARGETS = 10
# Telegram messages stop at 4096 characters; longer input is refused before any work is done.
MAX_TEXT_CHARS = 4096
# `3-5x`, `10x-20x`: a range of leverages, as channels post them
_LEVERAGE_RANGE_RE = re.compile(r"(\d+(?:\.\d+)?)x?-(\d+(?:\.\d+)?)x")

MarginMode = Literal["cross", "isolated"]


@dataclass(frozen=True)
class TradeIdea:
    """A parsed trade idea; `side` None means grade both sides (or the side a stop implies)."""

    asset: str
    side: Side | None
    leverage: float = 1.0
    leverage_given: bool = False
    entry: float | None = None
    stop: float | None = None
    horizon_days: float | None = None
    # an entry range is graded at its midpoint (`entry`)
    entry_range: tuple[float, float] | None = None
    # take-profit targets in the order given: the first is graded, all are echoed
    targets: tuple[float, ...] = ()
    # risk as a fraction of the account (`risk 1%`) or in USD (`risk $200`), and the account
    risk_pct: float | None = None
    risk_usd: float | None = None
    account_usd: float | None = None
    # `cross` / `isolated`: noted in the reply, no effect on the maths
    margin_mode: MarginMode | None = None
    # which values came from the user's /settings ("leverage", "horizon", "risk", "account")
    from_defaults: frozenset[str] = field(default_factory=frozenset)
    # read from a pasted channel-style signal
    pasted: bool = False

    @property
    def target(self) -> float | None:
        """The target that is graded: the first one given."""
        return self.targets[0] if self.targets else None

    @property
    def has_risk(self) -> bool:
        """A risk was given (as a fraction or in USD)."""
        return self.risk_pct is not None or self.risk_usd is not None

    def sides(self) -> tuple[Side, ...]:
        """The sides to grade: the one given, or long then short."""
        return (self.side,) if self.side else ("long", "short")

    def words(self) -> str:
        """Canonical idea words that `parse_idea` reads back to this idea (for buttons).

        Values that came from the user's defaults are left out: a button re-grades the idea
        as typed, completed again from the defaults of whoever presses it.
        """
        out = [f"${self.asset}"]  # a cashtag: `OPEN`, `GO` or `SL` would read as other words
        if self.side:
            out.append(self.side)
        if self.leverage_given:
            out.append(f"{_exact(self.leverage)}x")
        if self.margin_mode:
            out.append(self.margin_mode)
        if self.entry_range is not None:
            out.append(f"@ {_exact(self.entry_range[0])}-{_exact(self.entry_range[1])}")
        elif self.entry is not None:
            out.append(f"@ {_exact(self.entry)}")
        if self.stop is not None:
            out.append(f"stop {_exact(self.stop)}")
        if self.targets:
            out.append("tp " + " ".join(_exact(t) for t in self.targets))
        if self.horizon_days is not None and "horizon" not in self.from_defaults:
            out.append(f"for {_exact(self.horizon_days * 24)}h")
        if "risk" not in self.from_defaults:
            if self.risk_pct is not None:
                out.append(f"risk {_exact(self.risk_pct * 100)}%")
            elif self.risk_usd is not None:
                out.append(f"risk ${_exact(self.risk_usd)}")
        if self.account_usd is not None and "account" not in self.from_defaults:
            out.append(f"acct {_exact(self.account_usd)}")
        return " ".join(out)


def _exact(value: float) -> str:
    """The shortest exact decimal, never in exponent form (the idea grammar has none)."""
    return format(Decimal(repr(value)).normalize(), "f")


# --- words → idea ------------------------------------------------------------------------------


@dataclass
class _Draft:
    """The idea as read so far; each setter refuses a second, different value."""

    asset: str | None = None
    asset_word: str = ""
    side: Side | None = None
    side_word: str = ""
    leverage: float | None = None
    entry: float | None = None
    entry_range: tuple[float, float] | None = None
    entry_word: str = ""
    stop: float | None = None
    stop_word: str = ""
    horizon_days: float | None = None
    horizon_word: str = ""
    targets: list[tuple[float, str]] = field(default_factory=list)
    risk_pct: float | None = None
    risk_usd: float | None = None
    risk_word: str = ""
    account_usd: float | None = None
    account_word: str = ""
    margin_mode: MarginMode | None = None

    def set_asset(self, symbol: str, word: str) -> None:
        if self.asset is not None and self.asset != symbol:
            for typed in (word, self.asset_word):
                if (hint := suggestion(typed)) is not None:
                    raise reject(f"can't read '{typed}': did you mean {hint}?")
            raise reject(f"two assets ({self.asset}, {symbol})")
        self.asset, self.asset_word = symbol, word

    def set_side(self, side: Side, word: str) -> None:
        if self.side is not None and self.side != side:
            raise reject(f"two sides ({self.side_word}, {word}): pick long or short")
        self.side, self.side_word = side, word

    def set_leverage(self, value: float) -> None:
        if value <= 0:
            raise reject(f"leverage {fmt(value)}x must be above 0")
        if value < MIN_LEVERAGE:
            raise reject(f"leverage {fmt(value)}x is below 1x")
        if value > MAX_LEVERAGE:
            raise reject(f"leverage {fmt(value)}x is above the {fmt(MAX_LEVERAGE)}x maximum")
        if self.leverage is not None and self.leverage != value:
            raise reject(f"two leverages ({fmt(self.leverage)}x, {fmt(value)}x)")
        self.leverage = value

    def set_entry(self, value: float, word: str) -> None:
        if value <= 0:
            raise reject(f"entry {word} must be above 0")
        if self.entry is not None and (self.entry != value or self.entry_range is not None):
            raise reject(f"two entries ({self.entry_word}, {word})")
        self.entry, self.entry_word = value, word

    def set_entry_range(self, low: float, high: float, word: str) -> None:
        low, high = min(low, high), max(low, high)
        if low <= 0:
            raise reject(f"entry {word} must be above 0")
        if low == high:
            self.set_entry(low, word)
            return
        if self.entry is not None and self.entry_range != (low, high):
            raise reject(f"two entries ({self.entry_word}, {word})")
        self.entry, self.entry_range, self.entry_word = (low + high) / 2, (low, high), word

    def set_stop(self, value: float, word: str) -> None:
        if value <= 0:
            raise reject(f"stop {word} must be above 0")
        if self.stop is not None and self.stop != value:
            raise reject(f"two stops ({self.stop_word}, {word})")
        self.stop, self.stop_word = value, word

    def add_target(self, value: float, word: str) -> None:
        if value <= 0:
            raise reject(f"target {word} must be above 0")
        if value in (t for t, _ in self.targets):
            return  # `tp 3400 … target 3400`: the same target twice is one target
        if len(self.targets) >= MAX_TARGETS:
            raise reject(f"more than {MAX_TARGETS} targets")
        self.targets.append((value, word))

    def set_horizon(self, days_: float, word: str) -> None:
        if days_ <= 0:
            raise reject(f"horizon {word} must be above 0")
        if days_ > MAX_HORIZON_DAYS:
            raise reject(f"horizon {word} is over {fmt(MAX_HORIZON_DAYS)} days")
        if self.horizon_days is not None and self.horizon_days != days_:
            raise reject(f"two horizons ({self.horizon_word}, {word})")
        self.horizon_days, self.horizon_word = days_, word

    def set_risk(self, pct: float | None, usd: float | None, word: str) -> None:
        if (pct is not None and pct <= 0) or (usd is not None and usd <= 0):
            raise reject(f"risk {word} must be above 0")
        if pct is not None and pct > 1:
            raise reject(f"risk {word} is more than the whole account")
        if self.risk_word and (self.risk_pct, self.risk_usd) != (pct, usd):
            raise reject(f"two risks ({self.risk_word}, {word})")
        self.risk_pct, self.risk_usd, self.risk_word = pct, usd, word

    def set_account(self, value: float, word: str) -> None:
        if value <= 0:
            raise reject(f"account {word} must be above 0")
        if self.account_usd is not None and self.account_usd != value:
            raise reject(f"two accounts ({self.account_word}, {word})")
        self.account_usd, self.account_word = value, word

    def set_margin(self, mode: MarginMode, word: str) -> None:
        if self.margin_mode is not None and self.margin_mode != mode:
            raise reject("cross and isolated: pick one")
        self.margin_mode = mode

    def finish(self, pasted: bool = False) -> TradeIdea:
        if self.asset is None:
            raise reject("no asset: name one, like ETH or BTC")
        if self.entry is not None and self.stop is not None and self.stop == self.entry:
            raise reject(f"stop {self.stop_word} equals the entry {self.entry_word}")
        if self.entry is not None and self.side is not None:
            self._check_sides(self.side, self.entry)
        risk, account = self.risk_usd, self.account_usd
        if risk is not None and account is not None and risk > account:
            raise reject(f"risk {self.risk_word} is more than the account {self.account_word}")
        return TradeIdea(
            asset=self.asset,
            side=self.side,
            leverage=self.leverage if self.leverage is not None else 1.0,
            leverage_given=self.leverage is not None,
            entry=self.entry,
            stop=self.stop,
            horizon_days=self.horizon_days,
            entry_range=self.entry_range,
            targets=tuple(t for t, _ in self.targets),
            risk_pct=self.risk_pct,
            risk_usd=self.risk_usd,
            account_usd=self.account_usd,
            margin_mode=self.margin_mode,
            pasted=pasted,
        )

    def _check_sides(self, side: Side, entry: float) -> None:
        """A stop on the loss side, targets on the profit side of an entry typed with `@`."""
        long = side == "long"
        entry_word = self.entry_word
        if self.stop is not None and (self.stop > entry if long else self.stop < entry):
            where = "below" if long else "above"
            stop = self.stop_word
            raise reject(f"stop {stop} must be {where} the entry {entry_word} for a {side}")
        for value, word in self.targets:
            if value <= entry if long else value >= entry:
                where = "above" if long else "below"
                raise reject(f"target {word} must be {where} the entry {entry_word} for a {side}")


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
            raise reject(f"'{keyword}' needs {wants}")
        word = self.words[self.i]
        self.i += 1
        return word

    def price_after(self, keyword: str, connectors: frozenset[str]) -> tuple[float, str]:
        word = self.value_after(keyword, connectors, "a price after it")
        return _price(keyword, word), word

    def free_number_ahead(self) -> bool:
        """The next word is one more price of a list, not a `5 x` leverage or a `3 days`."""
        word = self.peek()
        if word is None or (number(word) is None and range_values(word) is None):
            return False
        return self.peek(1) != "x" and self.peek(1) not in UNIT_DAYS

    def entry_after(self, keyword: str) -> None:
        ahead = 1
        while self.peek(ahead) in CONNECTORS:
            ahead += 1
        if self.peek(ahead) in MARKET_WORDS:
            self.i += ahead + 1  # `@ market` is the default entry: the current price
            return
        word = self.value_after(keyword, CONNECTORS, "a price after it")
        values = _prices(keyword, word)
        if len(values) == 1:
            self.draft.set_entry(values[0], word)
        elif len(values) == 2:
            self.draft.set_entry_range(values[0], values[1], word)
        else:
            raise reject(f"'{word}': an entry range has two ends, like 3000-3050")

    def targets_after(self, keyword: str) -> None:
        word = self.value_after(keyword, CONNECTORS, "a price after it")
        for value in _prices(keyword, word):
            self.draft.add_target(value, word)
        while self.free_number_ahead():  # `tp 3100 3200 3300`
            more = self.words[self.i]
            for value in _prices(keyword, more):
                self.draft.add_target(value, more)
            self.i += 1

    def risk_after(self, keyword: str) -> None:
        word = self.value_after(keyword, CONNECTORS, "an amount after it, like risk 1%")
        if self.peek() == "%" and PLAIN_NUMBER_RE.fullmatch(word):
            word, self.i = word + "%", self.i + 1  # `risk 1 %`
        value = number(word[:-1]) if word.endswith("%") else None
        if value is not None:
            self.draft.set_risk(value / 100, None, word)
            return
        dollars = number(word) if word.startswith("$") else None
        if dollars is not None:
            self.draft.set_risk(None, dollars, word)
            return
        if number(word) is not None:
            raise reject(f"'{keyword} {word}': write {keyword} {word}% or {keyword} ${word}")
        raise reject(f"'{keyword}' needs an amount after it, like risk 1% or risk $200")

    def account_after(self, keyword: str) -> None:
        word = self.value_after(keyword, CONNECTORS, "an amount after it, like acct 10k")
        value = number(word)
        if value is None:
            raise reject(f"'{keyword}' needs an amount after it, like acct 10k, not '{word}'")
        self.draft.set_account(value, word)

    def run(self, pasted: bool = False) -> TradeIdea:
        while self.i < len(self.words):
            self.step()
        return self.draft.finish(pasted)

    def step(self) -> None:
        word = self.words[self.i]
        low = word.lower()
        if low.startswith("$") and low[1:2].isalpha():
            self.asset(word)  # a cashtag is always an asset, even `$A` or `$IT`
        elif low in FILLER or low in ("=", "zone"):
            self.i += 1
        elif low in SIDES:
            self.draft.set_side(SIDES[low], word)
            self.i += 1
        elif low in MARGIN_WORDS:
            self.draft.set_margin(MARGIN_WORDS[low], word)
            self.i += 1
        elif low in ENTRY_WORDS:
            self.entry_after(word)
        elif low in STOP_WORDS:
            self.draft.set_stop(*self.price_after(word, STOP_CONNECTORS))
        elif low in TARGET_WORDS or NUMBERED_TARGET_RE.fullmatch(low):
            self.targets_after(word)
        elif low in RISK_WORDS:
            self.risk_after(word)
        elif low in ACCOUNT_WORDS:
            self.account_after(word)
        elif low in LEVERAGE_WORDS:
            self.leverage_after(word)
        elif low in HORIZON_WORDS:
            self.horizon_after(word)
        elif low == "x":
            self.x_before_number()
        else:
            self.value_word(word, low)

    def value_word(self, word: str, low: str) -> None:
        """A word that is no keyword: a leverage, horizon, entry range, number or asset."""
        if (lev := leverage_word(low)) is not None:
            self.draft.set_leverage(lev)
            self.i += 1
        elif (days_ := duration_word(low)) is not None:
            self.draft.set_horizon(days_, word)
            self.i += 1
        elif (values := range_values(low)) is not None:
            if len(values) != 2:
                raise reject(f"'{word}': an entry range has two ends, like 3000-3050")
            self.draft.set_entry_range(values[0], values[1], word)
            self.i += 1
        elif (num := number(low)) is not None:
            self.bare_number(num, word)
        else:
            self.asset(word)

    def asset(self, word: str) -> None:
        symbol = asset_symbol(word)
        if symbol is None and (span := _LEVERAGE_RANGE_RE.fullmatch(word.lower())):
            # a channel's "Leverage: 3-5x": one leverage is graded, the trader picks it
            top = span.group(2)
            raise reject(f"'{word[:32]}' is a leverage range: pick one, like {top}x")
        if symbol is None and looks_numeric(word):
            raise reject(f"can't read '{word}' as a number")
        if symbol is None:
            raise reject(f"can't read '{word}': not an asset, side, leverage, price or horizon")
        self.draft.set_asset(symbol, word)
        self.i += 1

    def leverage_after(self, keyword: str) -> None:
        word = self.value_after(keyword, CONNECTORS, "a number after it, like lev 5")
        value = leverage_word(word)
        if value is None:
            value = number(word)
        if value is None:
            raise reject(f"'{keyword}' needs a number after it, like lev 5, not '{word}'")
        self.draft.set_leverage(value)

    def horizon_after(self, keyword: str) -> None:
        word = self.value_after(keyword, CONNECTORS, "a duration after it, like 3d")
        days_ = duration_word(word)
        if days_ is not None:
            self.draft.set_horizon(days_, word)
            return
        unit = self.peek()
        if unit in UNIT_DAYS and PLAIN_NUMBER_RE.fullmatch(word):
            self.draft.set_horizon(days(float(word), unit), f"{word} {unit}")
            self.i += 1
            return
        raise reject(f"'{keyword}' needs a duration after it, like 3d, not '{word}'")

    def x_before_number(self) -> None:
        """`x 5` is leverage 5; a lone `x` is a mistake."""
        following = self.peek(1)
        value = number(following) if following is not None else None
        if value is None:
            raise reject("'x' needs a number, like 5x")
        self.draft.set_leverage(value)
        self.i += 2

    def bare_number(self, value: float, word: str) -> None:
        """A number means something only with a unit after it: `5 x`, `3 days`."""
        following = self.peek(1)
        if following == "x":
            self.draft.set_leverage(value)
            self.i += 2
            return
        if following in UNIT_DAYS and PLAIN_NUMBER_RE.fullmatch(word):
            self.draft.set_horizon(days(value, following), f"{word} {following}")
            self.i += 2
            return
        if PLAIN_NUMBER_RE.fullmatch(word):
            raise reject(f"'{word}' alone means nothing: write {word}x for leverage or @ {word}")
        raise reject(f"'{word}' alone means nothing: write @ {word} for entry or stop {word}")


def _price(keyword: str, word: str) -> float:
    """The one price a keyword's value word holds, or the reason it is not one."""
    value = number(word)
    if value is not None:
        return value
    if word.endswith("%"):
        raise reject(f"'{keyword} {word}': write a price, not a percentage")
    if looks_numeric(word):
        raise reject(f"can't read '{word}' as a price")
    raise reject(f"'{keyword}' needs a price after it, not '{word}'")


def _prices(keyword: str, word: str) -> list[float]:
    """A price, or the prices of a range word (`3000-3050`, `3100-3200-3300`)."""
    values = range_values(word)
    return values if values is not None else [_price(keyword, word)]


def parse_idea(text: str) -> TradeIdea:
    """Parse free trade-idea words or a pasted signal; raise ParseError with reason and example."""
    if not isinstance(text, str):
        raise reject("no trade idea given")
    if len(text) > MAX_TEXT_CHARS:
        raise reject(f"idea too long (over {MAX_TEXT_CHARS} characters)")
    lines = [line for line in strip_command(text).splitlines() if line.strip()]
    if is_signal(lines, words_of):
        return _Reader(signal_words(lines, words_of)).run(pasted=True)
    words = words_of(text)
    if not words:
        raise reject("empty idea: name an asset, like ETH long 5x")
    return _Reader(words).run()
