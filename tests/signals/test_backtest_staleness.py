"""SPEC §9 "with the staleness rule of §1": a series whose newest point is older than its limit
at `t` is missing at `t`, so the flags it feeds are unknown on exactly those days — in the
backtest as in a check (compute_market applies the rule; the backtest cuts at each t).

Each test stops one series on a known day and reads the flag day by day: known while the
newest point is within its limit (an age exactly at the limit still counts), unknown after.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from signals.backtest import BacktestRequest, HistoryCut, run_backtest
from signals.derived import compute_market
from signals.thresholds import Thresholds
from tests.helpers.history import DAY, HOUR, T0, asset_body, day_ts, document, flat
from tests.helpers.history import history_of as load

TH = Thresholds()
DAYS = 50
ONE_DAY = BacktestRequest("ETH", sides=("long",), horizon_days=1, days=365)


def body(**series: Any) -> dict[str, Any]:
    """50 quiet days at 100, with the extra series given (SPEC §6 rows)."""
    out = asset_body(flat(DAYS))
    out.update(series)
    return out


def statuses(doc_body: dict[str, Any], flag: str) -> dict[int, str]:
    """The flag's status on each graded day (day number → status)."""
    doc = document({"ETH": doc_body}, asof=day_ts(DAYS))
    report = run_backtest(load(doc), ONE_DAY, TH)
    return {(d.t - T0) // DAY: d.flags[flag] for d in report.days}


def stale_at(doc_body: dict[str, Any], day: int) -> dict[str, int]:
    """SPEC §7 `stale` of the state the backtest grades at 00:00 of `day`."""
    data = load(document({"ETH": doc_body}, asof=day_ts(DAYS))).data
    t = day_ts(day)
    return dict(compute_market(HistoryCut(data, TH).at(t), t, TH).stale)


def test_liquidation_buckets_older_than_3_hours_make_the_flag_unknown() -> None:
    # hourly buckets from day 30 00:00; the last one opens at day 40 01:00 and closes 02:00
    start, last = day_ts(30), day_ts(40) + HOUR
    rows = [[ts, 1000.0, 1000.0] for ts in range(start, last + HOUR, HOUR)]
    seen = statuses(body(liquidations_1h=rows), "liquidations")
    assert all(seen[d] == "unknown" for d in range(31, 32))  # fewer than 48 buckets yet
    assert all(seen[d] == "clear" for d in range(32, 41))
    # at day 41 00:00 the newest bucket closed 22 hours before: stale, unknown
    assert all(seen[d] == "unknown" for d in range(41, DAYS))
    assert stale_at(body(liquidations_1h=rows), 41) == {"liquidations_1h": 22 * HOUR}


def test_a_bucket_closed_exactly_3_hours_before_t_still_counts() -> None:
    start, t = day_ts(30), day_ts(40)
    rows = [[ts, 1000.0, 1000.0] for ts in range(start, t - 3 * HOUR, HOUR)]  # last closes t−3h
    assert statuses(body(liquidations_1h=rows), "liquidations")[40] == "clear"
    rows.pop()  # now the newest closed at t − 4h
    assert statuses(body(liquidations_1h=rows), "liquidations")[40] == "unknown"


def test_skew_older_than_24_hours_makes_the_flag_unknown() -> None:
    # helper days put each day's sample at 23:00 the evening before; none after day 40
    days = [replace(d, skew=-1.0) for d in flat(41)] + flat(DAYS - 41)
    doc_body = asset_body(days)
    seen = statuses(doc_body, "skew")
    assert all(seen[d] == "clear" for d in range(31, 41))
    assert all(seen[d] == "unknown" for d in range(41, DAYS))
    assert stale_at(doc_body, 41) == {"skew_rr25_30d": 25 * HOUR}


def test_a_skew_sample_exactly_24_hours_old_still_counts() -> None:
    t = day_ts(40)
    exact = body(skew_rr25_30d=[[t - 24 * HOUR, -6.0]])
    older = body(skew_rr25_30d=[[t - 24 * HOUR - 1, -6.0]])
    assert statuses(exact, "skew")[40] == "caution"
    assert statuses(older, "skew")[40] == "unknown"


def test_daily_oi_older_than_3_days_makes_the_oi_flag_unknown() -> None:
    # daily OI up to the bar of day 39 (the snapshot at day 40 00:00), rising 5% a day
    rows = [[day_ts(i), 1e9 * 1.05**i] for i in range(0, 40)]
    seen = statuses(body(oi_usd_1d=rows), "open_interest")
    # price flat (24h change 0 ≤ 0) and OI +5%: caution while the daily values are fresh;
    # the newest bar closes at day 40 00:00: 3 days old at day 43 (still in), 4 at day 44
    assert all(seen[d] == "caution" for d in range(31, 44))
    assert all(seen[d] == "unknown" for d in range(44, DAYS))
    assert stale_at(body(oi_usd_1d=rows), 44) == {"oi_usd_1d": 4 * DAY}


def test_stale_hourly_oi_falls_back_to_the_fresh_daily_values() -> None:
    daily = [[day_ts(i), 1e9 * 1.05**i] for i in range(0, DAYS)]
    # hourly OI flat, but it stops at day 35: after that only the daily values speak
    hourly = [[ts, 1e9] for ts in range(day_ts(30), day_ts(35), HOUR)]
    seen = statuses(body(oi_usd_1d=daily, oi_usd_1h=hourly), "open_interest")
    assert seen[33] == "clear"  # hourly: 0% over 24 h
    assert seen[36] == "caution"  # hourly stale: the daily +5% decides
    assert stale_at(body(oi_usd_1d=daily, oi_usd_1h=hourly), 36) == {"oi_usd_1h": DAY}


def graded_days(missing: range) -> set[int]:
    doc_body = body()
    doc_body["ohlcv_1d"] = [r for r in doc_body["ohlcv_1d"] if (r[0] - T0) // DAY not in missing]
    report = run_backtest(load(document({"ETH": doc_body}, asof=day_ts(DAYS))), ONE_DAY, TH)
    return {(d.t - T0) // DAY for d in report.days}


def test_a_day_whose_every_price_series_is_stale_is_not_graded() -> None:
    # daily candles missing for days 36-39: day 40 has its own window's candle, but at its
    # 00:00 the newest closed candle (day 35's) closed 4 days before — no price, not graded
    graded = graded_days(range(36, 40))
    assert 35 in graded and 40 not in graded and 41 in graded
    assert not graded & set(range(36, 40))  # their windows have no candle: not evaluated
    # missing days 36-38 only: at day 39 00:00 the newest closed exactly 3 days before
    assert 39 in graded_days(range(36, 39))
