"""Time zones as people type them: IANA names, abbreviations, UTC offsets and cities.

Pure: words in, an IANA zone name out (no clock; DST is the zone database's business).

- an IANA name in any case: `Europe/Berlin`, `europe/berlin`, `America/New_York`, `UTC`;
- a common abbreviation (ABBREVIATIONS): `CET`, `CEST` → Europe/Berlin, `EST`, `EDT` →
  America/New_York, `IST` → Asia/Kolkata, … — each mapped to the place most traders who
  write it mean, a zone that keeps summer time where that place does;
- a UTC offset: `+02:00`, `+2`, `UTC+2`, `GMT-5`, `+0530`, `UTC+5:30`. A whole-hour offset
  is the fixed zone `Etc/GMT∓h` (IANA's names invert the sign; `zone_label` shows
  "UTC+2"); a half- or quarter-hour one is the place that keeps it all year (HALF_HOURS);
- a city: the last part of an IANA name (`Berlin`, `tokyo`, `new york`, `New_York`) when it
  names one clock, or a well-known city the database files under another
  (CITY_ALIASES: `Frankfurt` → Europe/Berlin, `San Francisco` → America/Los_Angeles).

`zone_of` resolves one form, `read_zone` the longest run of up to three words that forms
one (`new york`, `utc + 2`), and `zone_problem` says why a word is not a zone, with the
closest zone as a suggestion.
"""

from __future__ import annotations

import difflib
import re
from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

# Abbreviation → the zone it is read as. Several are ambiguous worldwide; the pick is the
# reading most traders mean (docs/groups-and-alerts.md has the table and the alternatives).
ABBREVIATIONS: dict[str, str] = {
    "utc": "UTC",
    "gmt": "UTC",
    "z": "UTC",
    "zulu": "UTC",
    "wet": "Europe/Lisbon",
    "west": "Europe/Lisbon",
    "bst": "Europe/London",
    "cet": "Europe/Berlin",
    "cest": "Europe/Berlin",
    "eet": "Europe/Athens",
    "eest": "Europe/Athens",
    "msk": "Europe/Moscow",
    "trt": "Europe/Istanbul",
    "gst": "Asia/Dubai",
    "pkt": "Asia/Karachi",
    "ist": "Asia/Kolkata",
    "ict": "Asia/Bangkok",
    "wib": "Asia/Jakarta",
    "sgt": "Asia/Singapore",
    "hkt": "Asia/Hong_Kong",
    "pht": "Asia/Manila",
    "kst": "Asia/Seoul",
    "jst": "Asia/Tokyo",
    "awst": "Australia/Perth",
    "acst": "Australia/Adelaide",
    "acdt": "Australia/Adelaide",
    "aest": "Australia/Sydney",
    "aedt": "Australia/Sydney",
    "nzst": "Pacific/Auckland",
    "nzdt": "Pacific/Auckland",
    "wat": "Africa/Lagos",
    "cat": "Africa/Johannesburg",
    "sast": "Africa/Johannesburg",
    "eat": "Africa/Nairobi",
    "brt": "America/Sao_Paulo",
    "art": "America/Argentina/Buenos_Aires",
    "et": "America/New_York",
    "est": "America/New_York",
    "edt": "America/New_York",
    "ct": "America/Chicago",
    "cst": "America/Chicago",
    "cdt": "America/Chicago",
    "mt": "America/Denver",
    "mst": "America/Denver",
    "mdt": "America/Denver",
    "pt": "America/Los_Angeles",
    "pst": "America/Los_Angeles",
    "pdt": "America/Los_Angeles",
    "akst": "America/Anchorage",
    "akdt": "America/Anchorage",
    "hst": "Pacific/Honolulu",
}

# Cities people write that the zone database files under another city's name.
CITY_ALIASES: dict[str, str] = {
    "abu_dhabi": "Asia/Dubai",
    "bangalore": "Asia/Kolkata",
    "beijing": "Asia/Shanghai",
    "bengaluru": "Asia/Kolkata",
    "boston": "America/New_York",
    "delhi": "Asia/Kolkata",
    "doha": "Asia/Qatar",
    "frankfurt": "Europe/Berlin",
    "frankfurt_am_main": "Europe/Berlin",
    "geneva": "Europe/Zurich",
    "hamburg": "Europe/Berlin",
    "hanoi": "Asia/Ho_Chi_Minh",
    "lugano": "Europe/Zurich",
    "miami": "America/New_York",
    "milan": "Europe/Rome",
    "mumbai": "Asia/Kolkata",
    "munich": "Europe/Berlin",
    "new_delhi": "Asia/Kolkata",
    "nyc": "America/New_York",
    "odessa": "Europe/Kyiv",
    "osaka": "Asia/Tokyo",
    "saint_petersburg": "Europe/Moscow",
    "san_francisco": "America/Los_Angeles",
    "seattle": "America/Los_Angeles",
    "shenzhen": "Asia/Shanghai",
    "st_petersburg": "Europe/Moscow",
    "tel_aviv": "Asia/Jerusalem",
    "washington": "America/New_York",
    "zug": "Europe/Zurich",
}

# Offsets that are not whole hours → the place that keeps that offset all year.
HALF_HOURS: dict[tuple[int, int], str] = {
    (3, 30): "Asia/Tehran",
    (4, 30): "Asia/Kabul",
    (5, 30): "Asia/Kolkata",
    (5, 45): "Asia/Kathmandu",
    (6, 30): "Asia/Yangon",
    (8, 45): "Australia/Eucla",
    (9, 30): "Australia/Darwin",
    (-9, -30): "Pacific/Marquesas",
}
# ... and those that no zone keeps all year (they change with summer time): name the place
SEASONAL_HALF_HOURS: dict[tuple[int, int], str] = {
    (-3, -30): "America/St_Johns",
    (-2, -30): "America/St_Johns",
    (10, 30): "Australia/Lord_Howe",
    (12, 45): "Pacific/Chatham",
    (13, 45): "Pacific/Chatham",
}

EXAMPLE_FORMS = "an IANA name like Europe/Berlin, a city like Tokyo, or an offset like UTC+2"
MAX_WORDS = 3  # `ho chi minh`, `utc + 2`
_NOT_ZONES = frozenset({"localtime", "factory", "posixrules"})
# backward-compatible regions whose last part is no city (US/Eastern, Canada/Atlantic)
_REGIONS = ("Etc/", "SystemV/", "US/", "Canada/", "Mexico/", "Brazil/", "Chile/")
_CONTINENTS = ("Europe/", "Asia/", "America/", "Africa/", "Australia/", "Pacific/", "Atlantic/")
# every clock a zone keeps, sampled in winter and summer of two years
_SAMPLES = [datetime(year, month, 15, tzinfo=UTC) for year in (2000, 2025) for month in (1, 7)]
_OFFSET = re.compile(
    r"(?:utc|gmt)?\s*(?P<sign>[+\-−])\s*(?P<hours>\d{1,2})(?::?(?P<minutes>\d{2}))?",
)


class ZoneNotFound(ValueError):
    """Words that are no zone this module can name; `reason` is the user's one line."""

    def __init__(self, reason: str, suggestion: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.suggestion = suggestion


@cache
def _zones() -> dict[str, str]:
    """Every IANA name, by its lower case."""
    return {n.lower(): n for n in available_timezones() if n.lower() not in _NOT_ZONES}


@cache
def _cities() -> dict[str, tuple[str, ...]]:
    """Zones by their last part: `berlin` → (`Europe/Berlin`,)."""
    out: dict[str, list[str]] = {}
    for name in _zones().values():
        if "/" in name and not name.startswith(_REGIONS):
            out.setdefault(name.rsplit("/", 1)[1].lower(), []).append(name)
    return {city: tuple(sorted(names)) for city, names in out.items()}


def _same_clock(zones: tuple[str, ...]) -> bool:
    """True when the zones keep the same time (aliases of one place)."""
    clocks = {tuple(t.astimezone(ZoneInfo(z)).utcoffset() for t in _SAMPLES) for z in zones}
    return len(clocks) == 1


def _city_zone(zones: tuple[str, ...]) -> str:
    """The name to keep for a city's zones: aliases of one place keep the same time, so any
    would do; the continent's, shortest, first."""
    return min(zones, key=lambda z: (not z.startswith(_CONTINENTS), len(z), z))


def _key(text: str) -> str:
    """Lower case, spaces between words as IANA's underscores (`new york` → `new_york`)."""
    return re.sub(r"\s+", "_", text.strip().lower())


def _offset(text: str) -> str | None:
    """`+02:00`, `UTC+2`, `GMT-5`, `+0530` → a zone; None when `text` is no offset.

    ZoneNotFound for an offset no zone keeps (over 14 hours, odd minutes, seasonal).
    """
    match = _OFFSET.fullmatch(text.strip().lower())
    if match is None:
        return None
    sign = -1 if match.group("sign") in "-−" else 1
    hours, minutes = int(match.group("hours")), int(match.group("minutes") or 0)
    shown = f"UTC{'+' if sign > 0 else '−'}{hours:02d}:{minutes:02d}"
    if hours > 14 or minutes >= 60 or (hours == 14 and minutes) or (sign < 0 and hours > 12):
        raise ZoneNotFound(f"{shown} is not a time zone (offsets run from UTC−12 to UTC+14)")
    if minutes == 0:
        return "UTC" if hours == 0 else f"Etc/GMT{'-' if sign > 0 else '+'}{hours}"
    key = (sign * hours, sign * minutes)
    if key in HALF_HOURS:
        return HALF_HOURS[key]
    place = SEASONAL_HALF_HOURS.get(key)
    if place is not None:
        raise ZoneNotFound(
            f"no zone keeps {shown} all year (it changes with summer time): "
            f"name the place, like {place}",
            place,
        )
    raise ZoneNotFound(f"no time zone uses {shown}", None)


def zone_of(text: str) -> str | None:
    """The IANA zone `text` names (one form, any case); None when it names none.

    ZoneNotFound when it plainly tries to (an offset no zone keeps, a city in several zones).
    """
    key = _key(text)
    if not key:
        return None
    if key in ABBREVIATIONS:
        return ABBREVIATIONS[key]
    name = _zones().get(key)
    if name is not None:
        return name
    zone = _offset(text)
    if zone is not None:
        return zone
    if key in CITY_ALIASES:
        return CITY_ALIASES[key]
    city = _cities().get(key)
    if city and _same_clock(city):
        return _city_zone(city)
    if city:
        shown = text.strip()[:32]
        raise ZoneNotFound(f"'{shown}' is in several time zones: {', '.join(city[:3])}", city[0])
    return None


def read_zone(words: list[str]) -> tuple[str, int] | None:
    """The zone the first words form and how many it took (the longest run of ≤ 3 words).

    None when the first word starts no zone. ZoneNotFound as `zone_of`.
    """
    for n in range(min(MAX_WORDS, len(words)), 0, -1):
        try:
            zone = zone_of(" ".join(words[:n]))
        except ZoneNotFound:
            if n > 1:
                continue  # a longer run is judged only when it resolves
            raise
        if zone is not None:
            return zone, n
    return None


def suggest_zone(text: str) -> str | None:
    """The zone `text` most likely meant (a typo of a name, city or abbreviation), or None."""
    key = _key(text)
    if len(key) < 3:
        return None
    choices = {k: v for k, v in _zones().items() if "/" in v or v == "UTC"}
    choices.update({c: _city_zone(zs) for c, zs in _cities().items()})
    choices.update(CITY_ALIASES)
    if len(key) >= 4:
        choices.update(ABBREVIATIONS)
    close = difflib.get_close_matches(key, list(choices), n=1, cutoff=0.8)
    return choices[close[0]] if close else None


def looks_like_zone(text: str) -> bool:
    """True when `text` is plainly meant as a time zone (a slash, an offset, a zone typo)."""
    key = _key(text)
    if not key:
        return False
    if "/" in key or key.startswith(("utc", "gmt")) or key[0] in "+-−":
        return True
    return suggest_zone(text) is not None


def zone_problem(text: str) -> ZoneNotFound:
    """Why `text` is not a zone, in one line, with the closest zone as a suggestion."""
    try:
        zone_of(text)
    except ZoneNotFound as e:
        return e
    shown = text.strip()[:32]
    suggestion = suggest_zone(text)
    if suggestion is not None:
        return ZoneNotFound(f"unknown timezone '{shown}': did you mean {suggestion}?", suggestion)
    return ZoneNotFound(f"unknown timezone '{shown}': write {EXAMPLE_FORMS}")


def zone_label(name: str) -> str:
    """How a zone is shown: its IANA name, or `UTC+2` for IANA's sign-inverted `Etc/GMT-2`."""
    match = re.fullmatch(r"Etc/GMT([+-])(\d{1,2})", name)
    if match is None:
        return name
    sign = "−" if match.group(1) == "+" else "+"
    return f"UTC{sign}{match.group(2)}"
