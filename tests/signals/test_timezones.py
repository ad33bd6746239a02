"""Time zones as people type them: IANA names, abbreviations, offsets, cities (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from signals.timezones import (
    ABBREVIATIONS,
    CITY_ALIASES,
    HALF_HOURS,
    SEASONAL_HALF_HOURS,
    ZoneNotFound,
    looks_like_zone,
    read_zone,
    zone_label,
    zone_of,
    zone_problem,
)

WINTER = datetime(2026, 1, 15, 12, tzinfo=UTC)
SUMMER = datetime(2026, 7, 15, 12, tzinfo=UTC)


def offset_hours(zone: str, at: datetime) -> float:
    offset = at.astimezone(ZoneInfo(zone)).utcoffset()
    assert offset is not None
    return offset / timedelta(hours=1)


@pytest.mark.parametrize(
    ("typed", "zone"),
    [
        ("Europe/Berlin", "Europe/Berlin"),
        ("europe/berlin", "Europe/Berlin"),
        ("EUROPE/BERLIN", "Europe/Berlin"),
        ("America/New_York", "America/New_York"),
        ("america/argentina/buenos_aires", "America/Argentina/Buenos_Aires"),
        ("UTC", "UTC"),
        ("utc", "UTC"),
        ("Etc/GMT-2", "Etc/GMT-2"),  # typed as IANA spells it: UTC+2
    ],
)
def test_iana_names_in_any_case(typed: str, zone: str) -> None:
    assert zone_of(typed) == zone


@pytest.mark.parametrize(
    ("typed", "zone"),
    [
        ("CET", "Europe/Berlin"),
        ("cest", "Europe/Berlin"),
        ("EST", "America/New_York"),  # not IANA's fixed "EST": New York keeps summer time
        ("EDT", "America/New_York"),
        ("PST", "America/Los_Angeles"),
        ("pdt", "America/Los_Angeles"),
        ("GMT", "UTC"),
        ("MSK", "Europe/Moscow"),
        ("IST", "Asia/Kolkata"),
        ("JST", "Asia/Tokyo"),
        ("SGT", "Asia/Singapore"),
        ("HKT", "Asia/Hong_Kong"),
        ("AEST", "Australia/Sydney"),
        ("BST", "Europe/London"),
    ],
)
def test_common_abbreviations(typed: str, zone: str) -> None:
    assert zone_of(typed) == zone


@pytest.mark.parametrize("abbreviation", sorted(ABBREVIATIONS))
def test_every_abbreviation_names_a_zone_with_its_clock(abbreviation: str) -> None:
    zone = ABBREVIATIONS[abbreviation]
    ZoneInfo(zone)  # exists in this machine's zone database
    # summer-time names are read as the place, which keeps summer time in its summer
    summer_names = {"cest": 2, "edt": -4, "pdt": -7, "bst": 1, "eest": 3, "west": 1}
    if abbreviation in summer_names:
        assert offset_hours(zone, SUMMER) == summer_names[abbreviation]


@pytest.mark.parametrize(
    ("typed", "zone", "label"),
    [
        ("+02:00", "Etc/GMT-2", "UTC+2"),
        ("+2", "Etc/GMT-2", "UTC+2"),
        ("UTC+2", "Etc/GMT-2", "UTC+2"),
        ("utc +2", "Etc/GMT-2", "UTC+2"),
        ("GMT-5", "Etc/GMT+5", "UTC−5"),
        ("-05:00", "Etc/GMT+5", "UTC−5"),
        ("UTC−3", "Etc/GMT+3", "UTC−3"),  # a typographic minus
        ("+0530", "Asia/Kolkata", "Asia/Kolkata"),
        ("UTC+5:30", "Asia/Kolkata", "Asia/Kolkata"),
        ("+05:45", "Asia/Kathmandu", "Asia/Kathmandu"),
        ("+00:00", "UTC", "UTC"),
        ("UTC+14", "Etc/GMT-14", "UTC+14"),
    ],
)
def test_utc_offsets(typed: str, zone: str, label: str) -> None:
    assert zone_of(typed) == zone
    assert zone_label(zone) == label


@pytest.mark.parametrize(("hours", "minutes"), sorted(HALF_HOURS))
def test_half_hour_offsets_map_to_a_zone_that_keeps_them_all_year(
    hours: int, minutes: int
) -> None:
    zone = HALF_HOURS[(hours, minutes)]
    expected = hours + minutes / 60
    assert offset_hours(zone, WINTER) == offset_hours(zone, SUMMER) == expected


@pytest.mark.parametrize(("hours", "minutes"), sorted(SEASONAL_HALF_HOURS))
def test_seasonal_half_hours_name_the_place_instead(hours: int, minutes: int) -> None:
    zone = SEASONAL_HALF_HOURS[(hours, minutes)]
    offsets = {offset_hours(zone, WINTER), offset_hours(zone, SUMMER)}
    assert hours + minutes / 60 in offsets and len(offsets) == 2
    sign = "+" if hours > 0 else "-"
    with pytest.raises(ZoneNotFound, match=f"name the place, like {zone}"):
        zone_of(f"UTC{sign}{abs(hours)}:{abs(minutes):02d}")


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("+15", "UTC+15:00 is not a time zone (offsets run from UTC−12 to UTC+14)"),
        ("GMT-13", "UTC−13:00 is not a time zone (offsets run from UTC−12 to UTC+14)"),
        ("+05:15", "no time zone uses UTC+05:15"),
    ],
)
def test_offsets_no_zone_keeps_are_refused(typed: str, reason: str) -> None:
    with pytest.raises(ZoneNotFound) as raised:
        zone_of(typed)
    assert raised.value.reason == reason


@pytest.mark.parametrize(
    ("typed", "zone"),
    [
        ("Berlin", "Europe/Berlin"),
        ("berlin", "Europe/Berlin"),
        ("new york", "America/New_York"),
        ("New_York", "America/New_York"),
        ("NEW YORK", "America/New_York"),
        ("tokyo", "Asia/Tokyo"),
        ("Sao_Paulo", "America/Sao_Paulo"),
        ("ho chi minh", "Asia/Ho_Chi_Minh"),
        ("buenos aires", "America/Buenos_Aires"),  # the shorter of two aliases
        ("Frankfurt", "Europe/Berlin"),  # not in the zone database: CITY_ALIASES
        ("san francisco", "America/Los_Angeles"),
        ("Mumbai", "Asia/Kolkata"),
        # capitals and crypto hubs the database files under another name (Doha was read
        # as a typo of DOGE)
        ("Doha", "Asia/Qatar"),
        ("Zug", "Europe/Zurich"),
        ("Lugano", "Europe/Zurich"),
        ("Saint Petersburg", "Europe/Moscow"),
        ("Odessa", "Europe/Kyiv"),
        ("Frankfurt am Main", "Europe/Berlin"),
    ],
)
def test_cities(typed: str, zone: str) -> None:
    assert zone_of(typed) == zone


@pytest.mark.parametrize("city", sorted(CITY_ALIASES))
def test_every_city_alias_names_an_existing_zone(city: str) -> None:
    ZoneInfo(CITY_ALIASES[city])


@pytest.mark.parametrize("word", ["ETH", "BTC", "SOL", "DOGE", "XRP", "1000PEPE", "", "long"])
def test_asset_words_are_no_zone(word: str) -> None:
    assert zone_of(word) is None
    assert not looks_like_zone(word) or word == ""


def test_regions_whose_last_part_is_no_city_are_not_cities() -> None:
    # US/Eastern, Canada/Atlantic: "eastern" and "atlantic" are no places
    assert zone_of("eastern") is None
    assert zone_of("atlantic") is None
    assert zone_of("localtime") is None


def test_read_zone_takes_the_longest_run_of_words() -> None:
    assert read_zone(["new", "york", "BTC"]) == ("America/New_York", 2)
    assert read_zone(["utc", "+", "2", "ETH"]) == ("Etc/GMT-2", 3)
    assert read_zone(["Berlin", "BTC", "ETH"]) == ("Europe/Berlin", 1)
    assert read_zone(["BTC", "ETH"]) is None
    assert read_zone([]) is None


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("Berlim", "unknown timezone 'Berlim': did you mean Europe/Berlin?"),
        ("Europe/Berlim", "unknown timezone 'Europe/Berlim': did you mean Europe/Berlin?"),
        ("newyork", "unknown timezone 'newyork': did you mean America/New_York?"),
        ("Tokio", "unknown timezone 'Tokio': did you mean Asia/Tokyo?"),
        (
            "Mars/Olympus",
            "unknown timezone 'Mars/Olympus': write an IANA name like Europe/Berlin, "
            "a city like Tokyo, or an offset like UTC+2",
        ),
    ],
)
def test_a_zone_that_does_not_exist_gets_the_closest_as_a_suggestion(
    typed: str, reason: str
) -> None:
    assert zone_of(typed) is None
    assert looks_like_zone(typed)
    assert zone_problem(typed).reason == reason
    assert "?." not in zone_problem(typed).reason


def test_labels_show_offsets_the_way_people_write_them() -> None:
    assert zone_label("Etc/GMT-2") == "UTC+2"
    assert zone_label("Etc/GMT+5") == "UTC−5"
    assert zone_label("Europe/Berlin") == "Europe/Berlin"
    assert zone_label("UTC") == "UTC"
