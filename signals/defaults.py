"""Personal defaults (/settings): what completes an idea that leaves a value out.

Pure: `parse_settings` reads the words after /settings, `apply_settings` folds them into a
user's current UserDefaults (checking what only the whole set reveals), and `complete_idea`
fills the gaps of one idea and records which values came from the defaults, so the reply
can say "(from your /settings)". The store (signals/userdata.py) keeps one row per user.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from dataclasses import dataclass, field
from typing import Literal

from signals.errors import ParseError
from signals.idea import MAX_HORIZON_DAYS, MAX_LEVERAGE, MIN_LEVERAGE, TradeIdea
from signals.timezones import ZoneNotFound, read_zone, zone_of, zone_problem
from signals.words import PLAIN_NUMBER_RE, UNIT_DAYS, duration_word, fmt, leverage_word
from signals.words import number as number_word

# the names an idea records in `from_defaults`
LEVERAGE, HORIZON, RISK, ACCOUNT = "leverage", "horizon", "risk", "account"
TZ = "tz"
# recorded when a /settings risk in % could not be used: no account in the idea or defaults
RISK_NEEDS_ACCOUNT = "risk_needs_account"

SETTINGS_COMMAND = "settings"
# one example per setting, shown after `/settings` (the chat's syntax of a ParseError)
EXAMPLES = {
    ACCOUNT: "account 10000",
    RISK: "risk 1%",
    LEVERAGE: "leverage 5",
    HORIZON: "horizon 3d",
    TZ: "tz Europe/Berlin",
    "reset": "reset",
}
KEY_WORDS = {
    "account": ACCOUNT,
    "acct": ACCOUNT,
    "balance": ACCOUNT,
    "bal": ACCOUNT,
    "capital": ACCOUNT,
    "equity": ACCOUNT,
    "risk": RISK,
    "leverage": LEVERAGE,
    "lev": LEVERAGE,
    "horizon": HORIZON,
    "tz": TZ,
    "timezone": TZ,
    "zone": TZ,
}
RESET_WORDS = frozenset({"reset", "clear"})
# a value that clears one setting: `/settings risk off`
OFF_WORDS = frozenset({"off", "none", "clear", "unset", "-"})
_CURRENCY_WORDS = frozenset({"$", "usd", "usdt", "usdc", "dollars"})
# an account above this is a typo, not an account
MAX_ACCOUNT_USD = 1e12
_THOUSANDS = re.compile(r"\$?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?[km]?", re.IGNORECASE)


@dataclass(frozen=True)
class UserDefaults:
    """One user's /settings; None means "not set" (the SPEC default then applies)."""

    account_usd: float | None = None
    # a risk per trade: a fraction of the account (0.01 for `risk 1%`) or a dollar amount
    risk_pct: float | None = None
    risk_usd: float | None = None
    leverage: float | None = None
    horizon_days: float | None = None
    # IANA time zone for times shown to the user (data times in replies, /daily's default)
    tz: str | None = None

    def __post_init__(self) -> None:
        if self.risk_pct is not None and self.risk_usd is not None:
            raise ValueError("a risk is either a fraction of the account or a dollar amount")

    @property
    def is_empty(self) -> bool:
        """Nothing set."""
        return self == UserDefaults()

    def public(self) -> UserDefaults:
        """What may complete an idea answered in a group: leverage and horizon only.

        The account and the risk would print the user's account size for the whole group
        to read; the time zone stays private too (a group's times are in UTC).
        """
        return UserDefaults(leverage=self.leverage, horizon_days=self.horizon_days)


Clear = Literal["clear"]
CLEAR: Clear = "clear"
RiskValue = tuple[Literal["pct", "usd"], float]


@dataclass(frozen=True)
class SettingsChange:
    """What one `/settings …` asks for: a reset, or new values (CLEAR removes one)."""

    values: dict[str, float | str | RiskValue | Clear] = field(default_factory=dict)
    reset: bool = False


def settings_error(reason: str, key: str = ACCOUNT) -> ParseError:
    """A ParseError shown with a /settings example (never /check's)."""
    return ParseError(reason, EXAMPLES[key], command=SETTINGS_COMMAND)


# ---- /settings words -----------------------------------------------------------------------


def parse_settings(args: list[str]) -> SettingsChange:
    """`account 10k risk 1%`, `tz Europe/Berlin`, `risk off`, `reset` → a SettingsChange.

    Several settings may be given at once; each key takes the word after it (`1 %`,
    `3 days`, `10000 usd` read as one value). ParseError with a /settings example otherwise.
    """
    words = _words(args)
    if not words:
        return SettingsChange()
    if words[0].lower() in RESET_WORDS:
        if len(words) > 1:
            raise settings_error(f"'{words[0]}' takes nothing after it", "reset")
        return SettingsChange(reset=True)
    values: dict[str, float | str | RiskValue | Clear] = {}
    i = 0
    while i < len(words):
        key = _key(words[i])
        if i + 1 >= len(words):
            raise settings_error(f"'{words[i]}' needs a value, like {EXAMPLES[key]}", key)
        value, used = _value(key, words[i + 1], words[i + 2 : i + 3])
        if key in values and values[key] != value:
            raise settings_error(f"{key} given twice: give it once", key)
        values[key] = value
        i += 1 + used
    return SettingsChange(values)


def _words(args: list[str]) -> list[str]:
    """The words after /settings, `risk=1%` and `risk:1%` split at the sign."""
    out: list[str] = []
    for arg in args:
        for chunk in arg.split():
            head, sign, tail = chunk.partition("=") if "=" in chunk else chunk.partition(":")
            if sign and head.lower() in KEY_WORDS:
                out.extend(w for w in (head, tail) if w)
            else:
                out.append(chunk)
    return out


def _key(word: str) -> str:
    low = word.lower()
    key = KEY_WORDS.get(low)
    if key is not None:
        return key
    shown = word[:32]
    guess = _key_for_value(low)
    if guess is not None:
        raise settings_error(f"'{shown}' needs the setting's name: {guess} {shown}", guess)
    if number_word(low) is not None:
        raise settings_error(f"'{shown}' needs the setting's name: account {shown}, perhaps")
    close = difflib.get_close_matches(low, list(KEY_WORDS), n=1, cutoff=0.6)
    names = "account, risk, leverage, horizon, tz or reset"
    if close:
        hint = KEY_WORDS[close[0]]
        raise settings_error(f"can't read '{shown}': did you mean {hint}?", hint)
    raise settings_error(f"can't read '{shown}': the settings are {names}")


def _key_for_value(low: str) -> str | None:
    """The setting a lone value plainly belongs to: `5x` leverage, `1%` risk, `3d` horizon."""
    if leverage_word(low) is not None:
        return LEVERAGE
    if low.endswith("%") or (low.startswith("$") and _amount(low) is not None):
        return RISK
    if duration_word(low) is not None:
        return HORIZON
    if _is_zone(low):
        return TZ
    return None


def _value(
    key: str, word: str, following: list[str]
) -> tuple[float | str | RiskValue | Clear, int]:
    """The value of one setting and how many words it took (1, or 2 with a unit word)."""
    if word.lower() in OFF_WORDS:
        return CLEAR, 1
    after = following[0].lower() if following else None
    if key == ACCOUNT:
        used = 2 if after in _CURRENCY_WORDS else 1
        return parse_account(word), used
    if key == RISK:
        if after == "%" and PLAIN_NUMBER_RE.fullmatch(word):
            return parse_risk(word + "%"), 2
        return parse_risk(word), 1
    if key == LEVERAGE:
        return parse_leverage(word), 1
    if key == HORIZON:
        if after in UNIT_DAYS and PLAIN_NUMBER_RE.fullmatch(word):
            return parse_horizon(f"{word}{after}", shown=f"{word} {after}"), 2
        return parse_horizon(word), 1
    found = _zone_words([word, *following])
    if found is not None:
        return found
    return parse_tz(word), 1


def _zone_words(words: list[str]) -> tuple[str, int] | None:
    """A zone of several words (`new york`, `utc + 2`) and how many it took; None otherwise."""
    try:
        return read_zone(words)
    except ZoneNotFound:
        return None


def _is_zone(word: str) -> bool:
    try:
        return zone_of(word) is not None
    except ZoneNotFound:
        return False


def _amount(word: str) -> float | None:
    """`10000`, `10k`, `$10k`, `$10,000`, `10000$` → dollars; None if not an amount."""
    text = word.strip()
    if _THOUSANDS.fullmatch(text):
        text = text.replace(",", "")
    if text.endswith("$") and not text.startswith("$"):
        text = text[:-1]
    return number_word(text)


def parse_account(word: str) -> float:
    """An account size in dollars (`10000`, `10k`, `$10k`, `$10,000`)."""
    value = _amount(word)
    if value is None:
        raise settings_error(f"can't read '{word[:32]}' as an amount of dollars", ACCOUNT)
    if value <= 0:
        raise settings_error(f"account {word} must be above $0", ACCOUNT)
    if value > MAX_ACCOUNT_USD:
        raise settings_error(f"account {word} is over $1 trillion: a typo?", ACCOUNT)
    return value


def parse_risk(word: str) -> RiskValue:
    """A risk per trade: `1%` (of the account) or `$200`."""
    text = word.strip()
    if text.endswith("%"):
        pct = number_word(text[:-1])
        if pct is None:
            raise settings_error(f"can't read '{word[:32]}' as a percentage", RISK)
        if pct <= 0:
            raise settings_error(f"risk {word} must be above 0%", RISK)
        if pct > 100:
            raise settings_error(f"risk {word} is more than the whole account", RISK)
        return "pct", pct / 100
    if text.startswith("$") or text.endswith("$"):
        dollars = _amount(text)
        if dollars is None:
            raise settings_error(f"can't read '{word[:32]}' as an amount of dollars", RISK)
        if dollars <= 0:
            raise settings_error(f"risk {word} must be above $0", RISK)
        if dollars > MAX_ACCOUNT_USD:
            raise settings_error(f"risk {word} is over $1 trillion: a typo?", RISK)
        return "usd", dollars
    if _amount(text) is not None:
        raise settings_error(f"'risk {word}': write risk {word}% or risk ${word}", RISK)
    raise settings_error(f"can't read '{word[:32]}' as a risk", RISK)


def parse_leverage(word: str) -> float:
    """A leverage: `5`, `5x`, `x5`, `2.5x`, between 1x and 125x."""
    low = word.lower()
    value = leverage_word(low)
    if value is None and PLAIN_NUMBER_RE.fullmatch(low):
        value = float(low)
    if value is None:
        raise settings_error(f"can't read '{word[:32]}' as a leverage", LEVERAGE)
    if value < MIN_LEVERAGE:
        raise settings_error(f"leverage {fmt(value)}x is below 1x", LEVERAGE)
    if value > MAX_LEVERAGE:
        raise settings_error(
            f"leverage {fmt(value)}x is above the {fmt(MAX_LEVERAGE)}x maximum", LEVERAGE
        )
    return value


def parse_horizon(word: str, shown: str | None = None) -> float:
    """A horizon in days: `3d`, `24h`, `2w`, `3 days`."""
    shown = shown or word
    value = duration_word(word.lower())
    if value is None:
        if PLAIN_NUMBER_RE.fullmatch(word):
            raise settings_error(
                f"'{word}' needs a unit: write horizon {word}d or horizon {word}h", HORIZON
            )
        raise settings_error(f"can't read '{shown[:32]}' as a horizon", HORIZON)
    if value <= 0:
        raise settings_error(f"horizon {shown} must be above 0", HORIZON)
    if value > MAX_HORIZON_DAYS:
        raise settings_error(f"horizon {shown} is over {fmt(MAX_HORIZON_DAYS)} days", HORIZON)
    return value


def parse_tz(word: str) -> str:
    """A time zone as /daily reads it (signals.timezones: an IANA name in any case, an
    abbreviation, a UTC offset, a city); ParseError with a /settings example otherwise."""
    try:
        zone = zone_of(word)
    except ZoneNotFound as e:
        raise settings_error(e.reason, TZ) from e
    if zone is None:
        raise settings_error(zone_problem(word).reason, TZ)
    return zone


def apply_settings(current: UserDefaults, change: SettingsChange) -> UserDefaults:
    """The defaults after `change`; ParseError when the set would contradict itself."""
    if change.reset:
        return UserDefaults()
    fields = dataclasses.asdict(current)
    for key, value in change.values.items():
        clear = value == CLEAR
        if key == RISK:
            kind, amount = value if isinstance(value, tuple) else (None, None)
            fields["risk_pct"] = amount if kind == "pct" else None
            fields["risk_usd"] = amount if kind == "usd" else None
        else:
            name = {ACCOUNT: "account_usd", LEVERAGE: "leverage", HORIZON: "horizon_days"}
            fields[name.get(key, key)] = None if clear else value
    new = UserDefaults(**fields)
    risk, account = new.risk_usd, new.account_usd
    if risk is not None and account is not None and risk > account:
        key = RISK if RISK in change.values else ACCOUNT
        raise settings_error(
            f"a risk of ${fmt(risk)} is more than your account of ${fmt(account)}", key
        )
    return new


# ---- completing an idea ------------------------------------------------------------------


def complete_idea(idea: TradeIdea, defaults: UserDefaults | None) -> TradeIdea:
    """The idea with every value it leaves out taken from the defaults, each one noted.

    Values the idea gives always win: `/check ETH 10x` grades 10x whatever the defaults say.
    A risk from the defaults is used only when the idea gives none (neither `risk 1%` nor
    `risk $200`); an account only when the idea gives none. A default risk in % with no
    account anywhere is left out (the check still grades) and noted as RISK_NEEDS_ACCOUNT,
    so the reply can say what to add.
    """
    if defaults is None:
        return idea
    changes: dict[str, object] = {}
    used: set[str] = set()
    if not idea.leverage_given and defaults.leverage is not None:
        # leverage_given stays False: the idea's own words (buttons, refresh) never bake it in
        changes["leverage"] = defaults.leverage
        used.add(LEVERAGE)
    if idea.horizon_days is None and defaults.horizon_days is not None:
        changes["horizon_days"] = defaults.horizon_days
        used.add(HORIZON)
    account = idea.account_usd if idea.account_usd is not None else defaults.account_usd
    if not idea.has_risk and defaults.risk_usd is not None:
        changes["risk_usd"] = defaults.risk_usd
        used.add(RISK)
    elif not idea.has_risk and defaults.risk_pct is not None:
        if account is None:
            used.add(RISK_NEEDS_ACCOUNT)
        else:
            changes["risk_pct"] = defaults.risk_pct
            used.add(RISK)
    if idea.account_usd is None and defaults.account_usd is not None:
        changes["account_usd"] = defaults.account_usd
        used.add(ACCOUNT)
    if not used:
        return idea
    return dataclasses.replace(idea, **changes, from_defaults=idea.from_defaults | used)  # type: ignore[arg-type]
