"""SPEC §3 flags: below, at and above every threshold, long and short, primary and secondary."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from signals.derived import LiqSide, Market, compute_market
from signals.flags import all_flags
from signals.thresholds import Thresholds
from tests.helpers.builders import ASOF, asset_data

TH = Thresholds()

EMPTY = Market(
    price=None,
    price_change_24h=None,
    return_7d=None,
    sigma_daily=None,
    vol_expansion=False,
    oi_usd=None,
    oi_change_24h=None,
    oi_percentile_30d=None,
    funding_8h=None,
    funding_8h_3d_avg=None,
    liq_long_24h_usd=None,
    liq_short_24h_usd=None,
    rr25_30d=None,
    rr25_30d_7d_change=None,
)


def status(flag: str, side: str, **fields: Any) -> str:
    """The status of one flag for one side on a market with only `fields` known."""
    return all_flags(replace(EMPTY, **fields), side, TH)[flag].status  # type: ignore[arg-type]


# ---- open interest --------------------------------------------------------------------------

OI_LONG_PRIMARY = [
    ({"oi_change_24h": 0.0299, "price_change_24h": -0.01}, "clear"),
    ({"oi_change_24h": 0.03, "price_change_24h": -0.01}, "caution"),
    ({"oi_change_24h": 1.03 / 1.0 - 1, "price_change_24h": -0.01}, "caution"),
    ({"oi_change_24h": 0.0301, "price_change_24h": -0.01}, "caution"),
    ({"oi_change_24h": 0.05, "price_change_24h": 0.0}, "caution"),  # price ≤ 0: at
    ({"oi_change_24h": 0.05, "price_change_24h": 0.0001}, "clear"),  # price above 0
    ({"oi_change_24h": 0.05, "price_change_24h": -0.0001}, "caution"),
    ({"oi_change_24h": -0.05, "price_change_24h": -0.05}, "clear"),
]


@pytest.mark.parametrize(("fields", "expected"), OI_LONG_PRIMARY)
def test_open_interest_long_primary(fields: dict[str, float], expected: str) -> None:
    assert status("open_interest", "long", **fields) == expected


OI_SHORT_PRIMARY = [
    ({"oi_change_24h": 0.0299, "price_change_24h": 0.01}, "clear"),
    ({"oi_change_24h": 0.03, "price_change_24h": 0.01}, "caution"),
    ({"oi_change_24h": 0.0301, "price_change_24h": 0.01}, "caution"),
    ({"oi_change_24h": 0.05, "price_change_24h": 0.0}, "caution"),  # price ≥ 0: at
    ({"oi_change_24h": 0.05, "price_change_24h": -0.0001}, "clear"),
    ({"oi_change_24h": 0.05, "price_change_24h": 0.0001}, "caution"),
]


@pytest.mark.parametrize(("fields", "expected"), OI_SHORT_PRIMARY)
def test_open_interest_short_primary(fields: dict[str, float], expected: str) -> None:
    assert status("open_interest", "short", **fields) == expected


# primary present but false (OI flat), so only the secondary clause can fire
OI_QUIET = {"oi_change_24h": 0.0, "price_change_24h": 0.0001}
OI_QUIET_SHORT = {"oi_change_24h": 0.0, "price_change_24h": -0.0001}

OI_LONG_SECONDARY = [
    ({"oi_percentile_30d": 0.8, "funding_8h": 0.00011, "return_7d": -0.01}, "caution"),
    ({"oi_percentile_30d": 0.7999, "funding_8h": 0.00011, "return_7d": -0.01}, "clear"),
    ({"oi_percentile_30d": 0.9, "funding_8h": 0.00011, "return_7d": -0.01}, "caution"),
    ({"oi_percentile_30d": 0.9, "funding_8h": 0.0001, "return_7d": -0.01}, "clear"),  # not >
    ({"oi_percentile_30d": 0.9, "funding_8h": 0.0000999, "return_7d": -0.01}, "clear"),
    ({"oi_percentile_30d": 0.9, "funding_8h": 0.0001001, "return_7d": -0.01}, "caution"),
    ({"oi_percentile_30d": 0.9, "funding_8h": 0.00011, "return_7d": 0.0}, "clear"),  # not <
    ({"oi_percentile_30d": 0.9, "funding_8h": 0.00011, "return_7d": -0.0001}, "caution"),
    ({"oi_percentile_30d": 0.9, "funding_8h": 0.00011, "return_7d": 0.01}, "clear"),
    # secondary inputs missing count as false
    ({"oi_percentile_30d": None, "funding_8h": 0.00011, "return_7d": -0.01}, "clear"),
    ({"oi_percentile_30d": 0.9, "funding_8h": None, "return_7d": -0.01}, "clear"),
    ({"oi_percentile_30d": 0.9, "funding_8h": 0.00011, "return_7d": None}, "clear"),
]


@pytest.mark.parametrize(("fields", "expected"), OI_LONG_SECONDARY)
def test_open_interest_long_secondary(fields: dict[str, Any], expected: str) -> None:
    assert status("open_interest", "long", **OI_QUIET, **fields) == expected


OI_SHORT_SECONDARY = [
    ({"oi_percentile_30d": 0.8, "funding_8h": -0.00001, "return_7d": 0.01}, "caution"),
    ({"oi_percentile_30d": 0.7999, "funding_8h": -0.00001, "return_7d": 0.01}, "clear"),
    ({"oi_percentile_30d": 0.9, "funding_8h": 0.0, "return_7d": 0.01}, "clear"),  # not < 0
    ({"oi_percentile_30d": 0.9, "funding_8h": -0.0000001, "return_7d": 0.01}, "caution"),
    ({"oi_percentile_30d": 0.9, "funding_8h": -0.00001, "return_7d": 0.0}, "clear"),  # not > 0
    ({"oi_percentile_30d": 0.9, "funding_8h": -0.00001, "return_7d": 0.0001}, "caution"),
    ({"oi_percentile_30d": None, "funding_8h": -0.00001, "return_7d": 0.01}, "clear"),
    ({"oi_percentile_30d": 0.9, "funding_8h": -0.00001, "return_7d": None}, "clear"),
]


@pytest.mark.parametrize(("fields", "expected"), OI_SHORT_SECONDARY)
def test_open_interest_short_secondary(fields: dict[str, Any], expected: str) -> None:
    assert status("open_interest", "short", **OI_QUIET_SHORT, **fields) == expected


def test_open_interest_long_secondary_does_not_fire_for_short() -> None:
    crowded_long = {"oi_percentile_30d": 0.95, "funding_8h": 0.0002, "return_7d": -0.03}
    assert status("open_interest", "long", **OI_QUIET, **crowded_long) == "caution"
    assert status("open_interest", "short", **OI_QUIET_SHORT, **crowded_long) == "clear"


@pytest.mark.parametrize("side", ["long", "short"])
@pytest.mark.parametrize(
    "fields",
    [
        {"oi_change_24h": None, "price_change_24h": -0.01},
        {"oi_change_24h": 0.05, "price_change_24h": None},
        {},
    ],
)
def test_open_interest_unknown_when_primary_missing(side: str, fields: dict[str, Any]) -> None:
    assert status("open_interest", side, **fields) == "unknown"


# ---- funding ------------------------------------------------------------------------------

FUNDING_LONG = [
    ({"funding_8h": 0.00029}, "clear"),
    ({"funding_8h": 0.0002999}, "clear"),
    ({"funding_8h": 0.0003}, "caution"),
    ({"funding_8h": 0.00003 * 10}, "caution"),  # computed, a hair off 0.0003
    ({"funding_8h": 0.0003001}, "caution"),
    ({"funding_8h": -0.01}, "clear"),
    # secondary: 3d average > 0.01% and return_7d ≤ −5%
    ({"funding_8h": 0.0, "funding_8h_3d_avg": 0.00011, "return_7d": -0.05}, "caution"),
    ({"funding_8h": 0.0, "funding_8h_3d_avg": 0.00011, "return_7d": 0.95 - 1}, "caution"),
    ({"funding_8h": 0.0, "funding_8h_3d_avg": 0.00011, "return_7d": -0.0499}, "clear"),
    ({"funding_8h": 0.0, "funding_8h_3d_avg": 0.00011, "return_7d": -0.0501}, "caution"),
    ({"funding_8h": 0.0, "funding_8h_3d_avg": 0.0001, "return_7d": -0.08}, "clear"),  # not >
    ({"funding_8h": 0.0, "funding_8h_3d_avg": 0.0000999, "return_7d": -0.08}, "clear"),
    ({"funding_8h": 0.0, "funding_8h_3d_avg": 0.0001001, "return_7d": -0.08}, "caution"),
    ({"funding_8h": 0.0, "funding_8h_3d_avg": None, "return_7d": -0.08}, "clear"),
    ({"funding_8h": 0.0, "funding_8h_3d_avg": 0.0002, "return_7d": None}, "clear"),
]


@pytest.mark.parametrize(("fields", "expected"), FUNDING_LONG)
def test_funding_long(fields: dict[str, Any], expected: str) -> None:
    assert status("funding", "long", **fields) == expected


FUNDING_SHORT = [
    ({"funding_8h": -0.00029}, "clear"),
    ({"funding_8h": -0.0002999}, "clear"),
    ({"funding_8h": -0.0003}, "caution"),
    ({"funding_8h": -0.0003001}, "caution"),
    ({"funding_8h": 0.01}, "clear"),
    # secondary: 3d average < 0 and return_7d ≥ +5%
    ({"funding_8h": 0.0, "funding_8h_3d_avg": -0.00001, "return_7d": 0.05}, "caution"),
    ({"funding_8h": 0.0, "funding_8h_3d_avg": -0.00001, "return_7d": 1.05 - 1}, "caution"),
    ({"funding_8h": 0.0, "funding_8h_3d_avg": -0.00001, "return_7d": 0.0499}, "clear"),
    ({"funding_8h": 0.0, "funding_8h_3d_avg": -0.00001, "return_7d": 0.0501}, "caution"),
    ({"funding_8h": 0.0, "funding_8h_3d_avg": 0.0, "return_7d": 0.08}, "clear"),  # not < 0
    ({"funding_8h": 0.0, "funding_8h_3d_avg": -1e-9, "return_7d": 0.08}, "caution"),
    ({"funding_8h": 0.0, "funding_8h_3d_avg": None, "return_7d": 0.08}, "clear"),
    ({"funding_8h": 0.0, "funding_8h_3d_avg": -0.0002, "return_7d": None}, "clear"),
]


@pytest.mark.parametrize(("fields", "expected"), FUNDING_SHORT)
def test_funding_short(fields: dict[str, Any], expected: str) -> None:
    assert status("funding", "short", **fields) == expected


def test_funding_sides_mirror() -> None:
    assert status("funding", "short", funding_8h=0.0005) == "clear"
    assert status("funding", "long", funding_8h=-0.0005) == "clear"
    crowded_long = {"funding_8h": 0.0, "funding_8h_3d_avg": 0.0002, "return_7d": -0.08}
    assert status("funding", "short", **crowded_long) == "clear"


@pytest.mark.parametrize("side", ["long", "short"])
def test_funding_unknown_when_current_funding_missing(side: str) -> None:
    assert status("funding", side) == "unknown"
    assert status("funding", side, funding_8h_3d_avg=0.0002, return_7d=-0.08) == "unknown"


# ---- liquidations -------------------------------------------------------------------------

CALM = LiqSide(liq_24h=1000.0, liq_baseline_daily=1000.0, bursts_24h=0)

LIQ_CASES = [
    (LiqSide(2000.0, 1000.0, 2), "caution"),  # at 2× with 2 bursts
    (LiqSide(1999.0, 1000.0, 2), "clear"),
    (LiqSide(2001.0, 1000.0, 2), "caution"),
    (LiqSide(3 * 0.1 / 0.15 * 1000.0 / 1, 1000.0, 2), "caution"),  # computed 2.0000000000000004
    (LiqSide(5000.0, 1000.0, 1), "clear"),  # bursts below 2
    (LiqSide(5000.0, 1000.0, 3), "caution"),
    (LiqSide(0.0, 0.0, 2), "clear"),  # liq_24h must be > 0
    (LiqSide(10.0, 0.0, 2), "caution"),  # any liquidations over a zero baseline
    (LiqSide(0.0, 0.0, 0), "clear"),
]


@pytest.mark.parametrize(("active", "expected"), LIQ_CASES)
def test_liquidations_long_reads_long_side(active: LiqSide, expected: str) -> None:
    fields = {"liq_buckets": 168, "liq_long": active, "liq_short": CALM}
    assert status("liquidations", "long", **fields) == expected
    # the other side's buckets never trip the long flag
    mirrored = {"liq_buckets": 168, "liq_long": CALM, "liq_short": active}
    assert status("liquidations", "long", **mirrored) == "clear"


@pytest.mark.parametrize(("active", "expected"), LIQ_CASES)
def test_liquidations_short_reads_short_side(active: LiqSide, expected: str) -> None:
    fields = {"liq_buckets": 48, "liq_long": CALM, "liq_short": active}
    assert status("liquidations", "short", **fields) == expected
    mirrored = {"liq_buckets": 48, "liq_long": active, "liq_short": CALM}
    assert status("liquidations", "short", **mirrored) == "clear"


@pytest.mark.parametrize("side", ["long", "short"])
def test_liquidations_unknown_below_48_buckets(side: str) -> None:
    # 47 buckets, each side's hours clustered: no statistics, so the flag is unknown
    buckets = [(0.0, 0.0)] * 44 + [(1e8, 1e8)] * 3
    m = compute_market(asset_data("ETH", liquidations=buckets), ASOF, TH)
    assert all_flags(m, side, TH)["liquidations"].status == "unknown"  # type: ignore[arg-type]
    assert status("liquidations", side) == "unknown"


@pytest.mark.parametrize("side", ["long", "short"])
def test_liquidations_caution_from_48_clustered_buckets(side: str) -> None:
    # 24 quiet hours of 100 then 24 hours with two bursts: liq_24h ≫ 2 × baseline
    quiet = [(100.0, 100.0)] * 24
    last = [(100.0, 100.0)] * 22 + [(1e5, 1e5)] * 2
    m = compute_market(asset_data("ETH", liquidations=quiet + last), ASOF, TH)
    assert all_flags(m, side, TH)["liquidations"].status == "caution"  # type: ignore[arg-type]


# ---- skew ---------------------------------------------------------------------------------

SKEW_LONG = [
    ({"rr25_30d": -4.99}, "clear"),
    ({"rr25_30d": -5.0}, "caution"),
    ({"rr25_30d": -5.01}, "caution"),
    ({"rr25_30d": 5.0}, "clear"),
    ({"rr25_30d": -1.0, "rr25_30d_7d_change": -2.99}, "clear"),
    ({"rr25_30d": -1.0, "rr25_30d_7d_change": -3.0}, "caution"),
    ({"rr25_30d": -1.0, "rr25_30d_7d_change": -1.0 - 2.0}, "caution"),
    ({"rr25_30d": -1.0, "rr25_30d_7d_change": -3.01}, "caution"),
    ({"rr25_30d": -1.0, "rr25_30d_7d_change": 4.0}, "clear"),
    ({"rr25_30d": -1.0, "rr25_30d_7d_change": None}, "clear"),
]


@pytest.mark.parametrize(("fields", "expected"), SKEW_LONG)
def test_skew_long(fields: dict[str, Any], expected: str) -> None:
    assert status("skew", "long", **fields) == expected


SKEW_SHORT = [
    ({"rr25_30d": 4.99}, "clear"),
    ({"rr25_30d": 5.0}, "caution"),
    ({"rr25_30d": 5.01}, "caution"),
    ({"rr25_30d": -5.0}, "clear"),
    ({"rr25_30d": 1.0, "rr25_30d_7d_change": 2.99}, "clear"),
    ({"rr25_30d": 1.0, "rr25_30d_7d_change": 3.0}, "caution"),
    ({"rr25_30d": 1.0, "rr25_30d_7d_change": 3.01}, "caution"),
    ({"rr25_30d": 1.0, "rr25_30d_7d_change": -4.0}, "clear"),
    ({"rr25_30d": 1.0, "rr25_30d_7d_change": None}, "clear"),
]


@pytest.mark.parametrize(("fields", "expected"), SKEW_SHORT)
def test_skew_short(fields: dict[str, Any], expected: str) -> None:
    assert status("skew", "short", **fields) == expected


@pytest.mark.parametrize("side", ["long", "short"])
def test_skew_unknown_when_rr_missing(side: str) -> None:
    assert status("skew", side) == "unknown"


# ---- the set of flags -----------------------------------------------------------------------


@pytest.mark.parametrize("side", ["long", "short"])
def test_all_four_flags_unknown_on_empty_market(side: str) -> None:
    flags = all_flags(EMPTY, side, TH)  # type: ignore[arg-type]
    assert sorted(flags) == sorted(["open_interest", "funding", "liquidations", "skew"])
    assert {f.status for f in flags.values()} == {"unknown"}


# ---- SPEC v2 §1: a stale series leaves its flag unknown, naming the series and its age ----


def test_stale_series_make_their_flags_unknown_and_name_the_age() -> None:
    data = asset_data(
        "ETH",
        asof=ASOF - 4 * 3_600_000,
        closes_1h=[100.0] * 25,
        oi_1h=[1e9] * 25,
        liquidations=[(1.0, 1.0)] * 48,
        skew=[(ASOF - 30 * 3_600_000, -6.0)],
    )
    flags = all_flags(compute_market(data, ASOF, TH), "long", TH)
    assert {n: f.status for n, f in flags.items()} == dict.fromkeys(flags, "unknown")
    four_h, thirty_h = 4 * 3_600_000, 30 * 3_600_000
    assert flags["open_interest"].stale == (("oi_usd_1h", four_h), ("ohlcv_1h", four_h))
    assert flags["liquidations"].stale == (("liquidations_1h", four_h),)
    assert flags["skew"].stale == (("skew_rr25_30d", thirty_h),)
    assert flags["funding"].stale == ()  # no funding at all: missing, not stale


def test_a_fresh_flag_names_no_stale_series() -> None:
    data = asset_data("ETH", closes_1h=[100.0] * 25, oi_1h=[1e9] * 25)
    flags = all_flags(compute_market(data, ASOF, TH), "long", TH)
    assert flags["open_interest"].status == "clear"
    assert flags["open_interest"].stale == ()
