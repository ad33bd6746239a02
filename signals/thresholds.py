"""Every grading threshold in one frozen object, with the SPEC defaults."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Thresholds:
    """Grading thresholds (fractions unless said); overridable from settings."""

    # open interest flag
    oi_change_24h_min: float = 0.03
    oi_percentile_high: float = 0.8
    oi_funding_crowded_8h: float = 0.0001
    # funding flag (rates per 8h)
    funding_8h_caution: float = 0.0003
    funding_3d_avg_crowded: float = 0.0001
    funding_return_7d: float = 0.05
    # liquidations flag
    liq_multiple: float = 2.0
    liq_bursts_min: int = 2
    liq_burst_factor: float = 3.0
    liq_min_buckets: int = 48
    liq_window_buckets: int = 168
    # skew flag (vol points)
    skew_rr_caution: float = 5.0
    skew_change_caution: float = 3.0
    # volatility
    sigma_window_days: int = 30
    vol_baseline_days: int = 60
    vol_expansion_ratio: float = 1.5
    # position check
    survive_move: float = 0.10
    default_horizon_days: float = 7.0
    k_cut_liq_or_vol: float = 0.5
    k_cut_funding: float = 0.75
    # the position's own verdict (SPEC §4): wait when liq_distance < move_1sigma, or below
    # this distance when sigma is unknown
    wait_liq_distance_no_sigma: float = 0.05
    # entry bounds (SPEC §5): an entry this far below / above the price is a typo (bad input)
    entry_below_price_max: float = 0.5
    entry_above_price_max: float = 1.0
    # staleness (SPEC §1): a series whose newest point is older than this counts as missing
    stale_hourly_hours: float = 3.0  # ohlcv_1h, oi_usd_1h, liquidations_1h (from the bar's close)
    stale_daily_hours: float = 72.0  # ohlcv_1d, oi_usd_1d (from the bar's close)
    stale_funding_history_hours: float = 72.0  # a venue's settled funding history
    stale_skew_hours: float = 24.0  # skew_rr25_30d samples
    # the two-and-three-flag rule
    reduce_at_flags: int = 2
    wait_at_flags: int = 3
