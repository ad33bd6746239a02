"""The four caution flags (SPEC §3) for one side: caution, clear or unknown."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from signals.derived import Market, ge, gt, le, lt
from signals.thresholds import Thresholds

Status = Literal["caution", "clear", "unknown"]
Side = Literal["long", "short"]
FLAG_NAMES = ("open_interest", "funding", "liquidations", "skew")
Value = float | int | bool | None


@dataclass(frozen=True)
class Flag:
    """One flag's status, which clause fired, and the numbers it read."""

    name: str
    status: Status
    # "primary" or "secondary" when caution; None otherwise
    trigger: Literal["primary", "secondary"] | None = None
    values: dict[str, Value] = field(default_factory=dict)
    # primary inputs that were missing (status unknown)
    missing: tuple[str, ...] = ()
    # SPEC §1: the stale series (→ age in ms) that left the flag without its primary inputs
    stale: tuple[tuple[str, int], ...] = ()


# The series each primary input comes from: an unknown flag names the stale ones. Current
# funding rates carry no timestamp; only their history can go stale (a secondary input).
FEEDS: dict[str, tuple[str, ...]] = {
    "oi_change_24h": ("oi_usd_1h", "oi_usd_1d"),
    "price_change_24h": ("ohlcv_1h", "ohlcv_1d"),
    "funding_8h": (),
    "liquidations_1h": ("liquidations_1h",),
    "rr25_30d": ("skew_rr25_30d",),
}


def _unknown(m: Market, name: str, values: dict[str, Value], missing: tuple[str, ...]) -> Flag:
    series = [s for key in missing for s in FEEDS[key]]
    stale = tuple((s, m.stale[s]) for s in series if s in m.stale)
    return Flag(name, "unknown", values=values, missing=missing, stale=stale)


def _status(
    primary: bool, secondary: bool
) -> tuple[Status, Literal["primary", "secondary"] | None]:
    if primary:
        return "caution", "primary"
    if secondary:
        return "caution", "secondary"
    return "clear", None


def _all_present(*values: Value) -> bool:
    return all(v is not None for v in values)


def open_interest_flag(m: Market, side: Side, th: Thresholds) -> Flag:
    """OI rising while price fails to confirm the side, or crowded OI with funding not reset."""
    values: dict[str, Value] = {
        "oi_change_24h": m.oi_change_24h,
        "price_change_24h": m.price_change_24h,
        "oi_percentile_30d": m.oi_percentile_30d,
        "funding_8h": m.funding_8h,
        "return_7d": m.return_7d,
    }
    missing = tuple(k for k in ("oi_change_24h", "price_change_24h") if values[k] is None)
    if missing:
        return _unknown(m, "open_interest", values, missing)
    assert m.oi_change_24h is not None and m.price_change_24h is not None
    oi_up = ge(m.oi_change_24h, th.oi_change_24h_min)
    crowded = m.oi_percentile_30d is not None and ge(m.oi_percentile_30d, th.oi_percentile_high)
    secondary_known = _all_present(m.oi_percentile_30d, m.funding_8h, m.return_7d)
    if side == "long":
        primary = oi_up and le(m.price_change_24h, 0.0)
        secondary = (
            secondary_known
            and crowded
            and gt(m.funding_8h, th.oi_funding_crowded_8h)  # type: ignore[arg-type]
            and lt(m.return_7d, 0.0)  # type: ignore[arg-type]
        )
    else:
        primary = oi_up and ge(m.price_change_24h, 0.0)
        secondary = (
            secondary_known
            and crowded
            and lt(m.funding_8h, 0.0)  # type: ignore[arg-type]
            and gt(m.return_7d, 0.0)  # type: ignore[arg-type]
        )
    status, trigger = _status(primary, bool(secondary))
    return Flag("open_interest", status, trigger, values)


def funding_flag(m: Market, side: Side, th: Thresholds) -> Flag:
    """Punitive funding on the side, or persistent funding into a move against it."""
    values: dict[str, Value] = {
        "funding_8h": m.funding_8h,
        "funding_8h_3d_avg": m.funding_8h_3d_avg,
        "return_7d": m.return_7d,
    }
    if m.funding_8h is None:
        return _unknown(m, "funding", values, ("funding_8h",))
    avg, ret = m.funding_8h_3d_avg, m.return_7d
    if side == "long":
        primary = ge(m.funding_8h, th.funding_8h_caution)
        secondary = (
            avg is not None
            and ret is not None
            and gt(avg, th.funding_3d_avg_crowded)
            and le(ret, -th.funding_return_7d)
        )
    else:
        primary = le(m.funding_8h, -th.funding_8h_caution)
        secondary = (
            avg is not None and ret is not None and lt(avg, 0.0) and ge(ret, th.funding_return_7d)
        )
    status, trigger = _status(primary, secondary)
    return Flag("funding", status, trigger, values)


def liquidations_flag(m: Market, side: Side, th: Thresholds) -> Flag:
    """Clustered liquidations of the side: the forced-selling (or -buying) loop itself."""
    stats = m.liq_long if side == "long" else m.liq_short
    if stats is None:
        values: dict[str, Value] = {
            "liq_24h": None,
            "liq_baseline_daily": None,
            "bursts_24h": None,
            "buckets": m.liq_buckets,
        }
        return _unknown(m, "liquidations", values, ("liquidations_1h",))
    values = {
        "liq_24h": stats.liq_24h,
        "liq_baseline_daily": stats.liq_baseline_daily,
        "bursts_24h": stats.bursts_24h,
        "buckets": m.liq_buckets,
    }
    primary = (
        ge(stats.liq_24h, th.liq_multiple * stats.liq_baseline_daily)
        and stats.bursts_24h >= th.liq_bursts_min
        and stats.liq_24h > 0
    )
    status, trigger = _status(primary, False)
    return Flag("liquidations", status, trigger, values)


def skew_flag(m: Market, side: Side, th: Thresholds) -> Flag:
    """Options paying up for the tail against the side (puts for longs, calls for shorts)."""
    values: dict[str, Value] = {
        "rr25_30d": m.rr25_30d,
        "rr25_30d_7d_change": m.rr25_30d_7d_change,
    }
    if m.rr25_30d is None:
        return _unknown(m, "skew", values, ("rr25_30d",))
    change = m.rr25_30d_7d_change
    if side == "long":
        primary = le(m.rr25_30d, -th.skew_rr_caution)
        secondary = change is not None and le(change, -th.skew_change_caution)
    else:
        primary = ge(m.rr25_30d, th.skew_rr_caution)
        secondary = change is not None and ge(change, th.skew_change_caution)
    status, trigger = _status(primary, secondary)
    return Flag("skew", status, trigger, values)


def all_flags(m: Market, side: Side, th: Thresholds) -> dict[str, Flag]:
    """The four flags for one side, in SPEC order."""
    return {
        "open_interest": open_interest_flag(m, side, th),
        "funding": funding_flag(m, side, th),
        "liquidations": liquidations_flag(m, side, th),
        "skew": skew_flag(m, side, th),
    }
