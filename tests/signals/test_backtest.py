"""SPEC §9 track record: evaluation times, the state at t, outcomes and every statistic.

The statistics are checked on a hand-made history whose verdicts are designed day by day and
whose outcomes are worked out in the test from the literal candle numbers.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from signals.backtest import (
    BacktestReport,
    BacktestRequest,
    DayResult,
    HistoryCut,
    NotEnoughHistory,
    VerdictStats,
    evaluation_times,
    flag_stats,
    lift,
    lookback_days,
    report_json,
    run_backtest,
    summarise_side,
    verdict_stats,
)
from signals.derived import compute_market
from signals.market import (
    LIQ_COLUMNS,
    OHLCV_COLUMNS,
    AssetData,
    VenueFunding,
    frame_from_rows,
    series_from_rows,
)
from signals.thresholds import Thresholds
from tests.helpers.history import DAY, HOUR, T0, Day, asset_body, day_ts, document, flat
from tests.helpers.history import history_of as load

TH = Thresholds()


def daily_ts(n: int, t0: int = T0) -> np.ndarray:
    return np.array([t0 + i * DAY for i in range(n)], dtype=np.int64)


def indices(times: list[int], t0: int = T0) -> list[int]:
    """Evaluation times as day numbers (day 0 = the first candle)."""
    return [(t - t0) // DAY for t in times]


# ---- evaluation times -------------------------------------------------------------------


def test_first_day_is_31_days_after_the_first_candle_and_last_closes_its_window_by_asof() -> None:
    # 40 candles, the last closing at asof: t needs day t−31 and days t … t+6
    asof = T0 + 40 * DAY
    times = evaluation_times(daily_ts(40), asof, days=365, horizon_days=7)
    assert indices(times) == [31, 32, 33]


def test_one_candle_fewer_before_leaves_the_first_day_out() -> None:
    ts = daily_ts(40)[1:]  # day 0 missing: day 31 has no candle spanning t − 31 days
    times = evaluation_times(ts, T0 + 40 * DAY, days=365, horizon_days=7)
    assert indices(times) == [32, 33]


def test_days_limit_is_exclusive_at_asof_minus_n_days() -> None:
    asof = T0 + 60 * DAY
    times = evaluation_times(daily_ts(60), asof, days=10, horizon_days=7)
    # asof − 10 days is day 50: excluded; day 53 is the last complete 7-day window
    assert indices(times) == [51, 52, 53]


def test_horizon_one_day_reaches_the_last_closed_candle() -> None:
    asof = T0 + 40 * DAY
    times = evaluation_times(daily_ts(40), asof, days=365, horizon_days=1)
    assert indices(times) == list(range(31, 40))


def test_forming_candle_and_midday_asof_do_not_complete_a_window() -> None:
    # asof at 05:00 of day 40: the day-40 candle is forming, so day 34's window (34…40) is
    # incomplete; t must be 00:00 UTC, and t ≤ asof
    asof = T0 + 40 * DAY + 5 * HOUR
    ts = daily_ts(41)
    times = evaluation_times(ts, asof, days=365, horizon_days=7)
    assert indices(times) == [31, 32, 33]
    # the same with --days 8: asof − 8 days is 05:00 of day 32, so day 33 is the first
    assert indices(evaluation_times(ts, asof, days=8, horizon_days=7)) == [33]


def test_a_missing_candle_skips_every_window_it_belongs_to_and_its_warm_up_day() -> None:
    ts = np.delete(daily_ts(60), [5, 45])  # no candles for days 5 and 45
    times = evaluation_times(ts, T0 + 60 * DAY, days=365, horizon_days=3)
    # day 36 has no candle spanning t − 31 days; windows 43-45, 44-46, 45-47 are incomplete
    expected = [i for i in range(31, 58) if i not in (36, 43, 44, 45)]
    assert indices(times) == expected


def test_candles_not_at_midnight_give_no_evaluation_time() -> None:
    ts = daily_ts(60) + 8 * HOUR  # daily candles opening at 08:00 UTC
    assert evaluation_times(ts, T0 + 61 * DAY, days=365, horizon_days=7) == []


def test_no_evaluable_day_is_not_enough_history() -> None:
    doc = document({"ETH": asset_body(flat(37))}, asof=T0 + 37 * DAY)
    with pytest.raises(NotEnoughHistory) as caught:
        run_backtest(load(doc), BacktestRequest("ETH"), TH)
    assert (caught.value.first_ts, caught.value.last_ts) == (T0, T0 + 36 * DAY)
    assert caught.value.horizon_days == 7


def test_no_daily_candles_is_not_enough_history_with_none_to_show() -> None:
    doc = document({"ETH": asset_body([])}, asof=T0)
    with pytest.raises(NotEnoughHistory) as caught:
        run_backtest(load(doc), BacktestRequest("ETH"), TH)
    assert (caught.value.first_ts, caught.value.last_ts) == (None, None)


def test_run_reports_the_window_it_evaluated() -> None:
    doc = document({"ETH": asset_body(flat(45))}, asof=T0 + 45 * DAY)
    report = run_backtest(load(doc), BacktestRequest("ETH", horizon_days=3, days=10), TH)
    # asof − 10 days = day 35 (excluded): days 36 … 42
    assert (report.first_t, report.last_t) == (day_ts(36), day_ts(42))
    assert report.days_evaluated == 7
    assert report.independent_windows == 2  # floor(7 / 3)
    assert len(report.days) == 14  # both sides


def test_lookback_covers_the_warm_up_and_volatility_baseline() -> None:
    assert lookback_days(BacktestRequest("ETH", days=365), TH) == 365 + 91 + 1


# ---- the hand-made history ----------------------------------------------------------------
# 31 quiet days at 100 (funding 0.01% per 8h), then five graded days t1 … t5 (days 31-35)
# and one more candle (day 36) so that t5's 2-day window closes at asof (day 37, 00:00).
# Long flags by design (OI and liquidations have no data: unknown every day):
#   t1 funding 0.01% clear, skew 0 clear     → 0 cautions → proceed
#   t2 funding 0.05% caution, skew −6 caution → 2 → reduce
#   t3 funding 0.04% caution, no skew (unknown) → 1 → proceed
#   t4 funding 0.01% clear, skew −7 caution   → 1 → proceed
#   t5 funding 0.04% caution, skew −5 caution (at the threshold) → 2 → reduce
# Shorts: funding positive and skew negative are never against a short → proceed every day.

GRADED = [
    Day(100, 103, 96, 101, funding_8h=0.0001, skew=0.0),
    Day(101, 104, 90, 97, funding_8h=0.0005, skew=-6.0),
    Day(97, 100, 88, 99, funding_8h=0.0004),
    Day(99, 101, 93, 98, funding_8h=0.0001, skew=-7.0),
    Day(98, 100, 85, 96, funding_8h=0.0004, skew=-5.0),
    Day(96, 99, 84, 99),
]
WARM_UP = [replace(d, funding_8h=0.0001) for d in flat(31)]
HAND_ASOF = day_ts(37)
LEVERAGE = 10.0  # liq_distance = 1/10 − 0.005 = 0.095
LIQ = 1 / LEVERAGE - 0.005

# entry = the close before each graded day; the window = that day's candle and the next one
ENTRY = [100, 101, 97, 99, 98]
LOW = [min(96, 90), min(90, 88), min(88, 93), min(93, 85), min(85, 84)]
HIGH = [max(103, 104), max(104, 100), max(100, 101), max(101, 100), max(100, 99)]
CLOSE = [97, 99, 98, 96, 99]
LONG_MAE = [1 - lo / e for lo, e in zip(LOW, ENTRY, strict=True)]
SHORT_MAE = [h / e - 1 for h, e in zip(HIGH, ENTRY, strict=True)]
LONG_FWD = [c / e - 1 for c, e in zip(CLOSE, ENTRY, strict=True)]
SHORT_FWD = [1 - c / e for c, e in zip(CLOSE, ENTRY, strict=True)]


def hand_doc() -> dict[str, object]:
    return document({"ETH": asset_body(WARM_UP + GRADED)}, asof=HAND_ASOF)


@pytest.fixture(scope="module")
def hand() -> BacktestReport:
    request = BacktestRequest("ETH", leverage=LEVERAGE, horizon_days=2)
    return run_backtest(load(hand_doc()), request, TH)


def test_hand_history_grades_the_designed_days(hand: BacktestReport) -> None:
    report = hand
    assert report.days_evaluated == 5
    longs = [d for d in report.days if d.side == "long"]
    assert [d.t for d in longs] == [day_ts(31 + i) for i in range(5)]
    assert [d.flags_verdict for d in longs] == [
        "proceed",
        "reduce",
        "proceed",
        "proceed",
        "reduce",
    ]
    assert [d.flags["funding"] for d in longs] == [
        "clear",
        "caution",
        "caution",
        "clear",
        "caution",
    ]
    assert [d.flags["skew"] for d in longs] == [
        "clear",
        "caution",
        "unknown",
        "caution",
        "caution",
    ]
    assert {d.flags["open_interest"] for d in longs} == {"unknown"}
    assert {d.flags["liquidations"] for d in longs} == {"unknown"}
    shorts = [d for d in report.days if d.side == "short"]
    assert {d.flags_verdict for d in shorts} == {"proceed"}


def test_hand_history_outcomes_are_the_candles_arithmetic(hand: BacktestReport) -> None:
    longs = [d for d in hand.days if d.side == "long"]
    shorts = [d for d in hand.days if d.side == "short"]
    assert [d.entry for d in longs] == ENTRY
    assert [d.mae for d in longs] == pytest.approx(LONG_MAE, abs=1e-15)
    assert [d.fwd_return for d in longs] == pytest.approx(LONG_FWD, abs=1e-15)
    assert [d.mae for d in shorts] == pytest.approx(SHORT_MAE, abs=1e-15)
    assert [d.fwd_return for d in shorts] == pytest.approx(SHORT_FWD, abs=1e-15)
    # 0.10, 0.1287, 0.0928, 0.1414, 0.1429 against 0.095: only t3 survives
    assert [d.liquidated for d in longs] == [True, True, False, True, True]
    assert not any(d.liquidated for d in shorts)


def test_hand_history_per_verdict_statistics(hand: BacktestReport) -> None:
    long = hand.sides["long"]
    proceed = long.by_verdict["proceed"]
    # proceed: t1, t3, t4 (MAE 0.1000, 0.0928, 0.1414); liquidated t1 and t4
    maes = sorted([LONG_MAE[0], LONG_MAE[2], LONG_MAE[3]])
    assert proceed.n == 3
    assert proceed.liq_rate == pytest.approx(2 / 3)
    assert proceed.mae_median == pytest.approx(maes[1])
    # linear interpolation: rank 0.9 × (3 − 1) = 1.8, 80% of the way from the 2nd to the 3rd
    assert proceed.mae_p90 == pytest.approx(maes[1] + 0.8 * (maes[2] - maes[1]))
    assert proceed.fwd_return_mean == pytest.approx((LONG_FWD[0] + LONG_FWD[2] + LONG_FWD[3]) / 3)
    reduce = long.by_verdict["reduce"]
    lo, hi = sorted([LONG_MAE[1], LONG_MAE[4]])
    assert reduce.n == 2
    assert reduce.liq_rate == 1.0
    assert reduce.mae_median == pytest.approx((lo + hi) / 2)
    assert reduce.mae_p90 == pytest.approx(lo + 0.9 * (hi - lo))
    assert reduce.fwd_return_mean == pytest.approx((LONG_FWD[1] + LONG_FWD[4]) / 2)
    wait = long.by_verdict["wait"]
    assert (wait.n, wait.liq_rate, wait.mae_median, wait.mae_p90, wait.fwd_return_mean) == (
        0,
        None,
        None,
        None,
        None,
    )
    # lift: reduce-or-wait rate 2/2 ÷ proceed rate 2/3
    assert long.lift == pytest.approx(1.0 / (2 / 3))


def test_hand_history_per_flag_statistics_and_days_known(hand: BacktestReport) -> None:
    long = hand.sides["long"]
    funding = long.by_flag["funding"]
    assert funding["caution"].n == 3
    assert funding["caution"].mae_median == pytest.approx(
        sorted([LONG_MAE[1], LONG_MAE[2], LONG_MAE[4]])[1]
    )
    assert funding["clear"].n == 2
    assert funding["clear"].mae_median == pytest.approx((LONG_MAE[0] + LONG_MAE[3]) / 2)
    assert (funding["unknown"].n, funding["unknown"].mae_median) == (0, None)
    skew = long.by_flag["skew"]
    assert (skew["caution"].n, skew["clear"].n, skew["unknown"].n) == (3, 1, 1)
    assert skew["clear"].mae_median == pytest.approx(LONG_MAE[0])
    assert skew["unknown"].mae_median == pytest.approx(LONG_MAE[2])
    oi = long.by_flag["open_interest"]
    assert (oi["caution"].n, oi["clear"].n, oi["unknown"].n) == (0, 0, 5)
    assert oi["caution"].mae_median is None
    assert long.days_known == {"open_interest": 0, "funding": 5, "liquidations": 0, "skew": 4}


def test_hand_history_short_side_has_no_risky_days_so_no_lift(hand: BacktestReport) -> None:
    short = hand.sides["short"]
    proceed = short.by_verdict["proceed"]
    assert proceed.n == 5
    assert proceed.liq_rate == 0.0
    assert proceed.mae_median == pytest.approx(sorted(SHORT_MAE)[2])
    assert proceed.mae_p90 == pytest.approx(
        sorted(SHORT_MAE)[3] + 0.6 * (sorted(SHORT_MAE)[4] - sorted(SHORT_MAE)[3])
    )
    assert proceed.fwd_return_mean == pytest.approx(sum(SHORT_FWD) / 5)
    assert short.by_verdict["reduce"].n == 0
    assert short.lift is None


def test_one_side_asked_reports_only_that_side() -> None:
    request = BacktestRequest("ETH", sides=("short",), leverage=LEVERAGE, horizon_days=2)
    report = run_backtest(load(hand_doc()), request, TH)
    assert list(report.sides) == ["short"]
    assert {d.side for d in report.days} == {"short"}
    assert list(report_json(report)["sides"]) == ["short"]


def test_leverage_moves_only_the_liquidation_line() -> None:
    request = BacktestRequest("ETH", leverage=20, horizon_days=2)  # liq_distance 0.045
    report = run_backtest(load(hand_doc()), request, TH)
    longs = [d for d in report.days if d.side == "long"]
    assert [d.liquidated for d in longs] == [m >= 0.045 for m in LONG_MAE]
    assert report.liq_distance == pytest.approx(0.045)
    # shorts: 0.04, 0.0297, 0.0412, 0.0202, 0.0204 — none reaches 4.5%
    assert report.sides["short"].by_verdict["proceed"].liq_rate == 0.0


def test_liquidated_counts_a_move_landing_exactly_on_the_distance() -> None:
    # at 5x the distance is 19.5%: a low of 80.5 from 100 is exactly that far
    days = [*WARM_UP, Day(100, 100, 80.5, 90), Day(90, 90, 90, 90)]
    doc = document({"ETH": asset_body(days)}, asof=day_ts(33))
    report = run_backtest(load(doc), BacktestRequest("ETH", sides=("long",), horizon_days=1), TH)
    assert report.days[0].mae == pytest.approx(0.195)
    assert report.days[0].liquidated is True


# ---- statistics on hand-made day lists ----------------------------------------------------


def day(verdict: str, mae: float, liquidated: bool = False, fwd: float = 0.0) -> DayResult:
    flags = {
        "open_interest": "clear",
        "funding": "clear",
        "liquidations": "clear",
        "skew": "clear",
    }
    return DayResult(0, "long", 100.0, flags, 0, verdict, mae, liquidated, fwd)  # type: ignore[arg-type]


def test_verdict_stats_by_hand() -> None:
    pairs = [(0.01, 0.02), (0.04, -0.01), (0.02, 0.0), (0.10, -0.05), (0.03, 0.01)]
    days = [day("proceed", m, m >= 0.1, f) for m, f in pairs]
    stats = verdict_stats(days)
    assert stats.n == 5
    assert stats.liquidated == 1
    assert stats.liq_rate == 0.2
    assert stats.mae_median == 0.03
    # sorted 0.01 0.02 0.03 0.04 0.10: rank 0.9 × 4 = 3.6 → 0.04 + 0.6 × 0.06
    assert stats.mae_p90 == pytest.approx(0.04 + 0.6 * 0.06)
    assert stats.fwd_return_mean == pytest.approx(-0.03 / 5)


def test_single_day_statistics() -> None:
    stats = verdict_stats([day("wait", 0.07, False, 0.03)])
    assert (stats.n, stats.liq_rate, stats.mae_median, stats.mae_p90) == (1, 0.0, 0.07, 0.07)
    assert stats.fwd_return_mean == 0.03


def test_empty_group_statistics_are_null() -> None:
    assert verdict_stats([]) == VerdictStats(0, 0, None, None, None, None)
    assert (flag_stats([]).n, flag_stats([]).mae_median) == (0, None)


def test_even_count_median_is_the_middle_mean() -> None:
    assert flag_stats([day("proceed", m) for m in (0.4, 0.1, 0.3, 0.2)]).mae_median == 0.25


def stats_of(n: int, liquidated: int) -> VerdictStats:
    return VerdictStats(n, liquidated, liquidated / n if n else None, None, None, None)


def test_lift_is_the_ratio_of_rates() -> None:
    assert lift(stats_of(10, 3), stats_of(40, 2)) == pytest.approx(0.3 / 0.05)


@pytest.mark.parametrize(
    ("risky", "proceed", "why"),
    [
        (stats_of(0, 0), stats_of(40, 2), "no reduce-or-wait days"),
        (stats_of(10, 3), stats_of(0, 0), "no proceed days"),
        (stats_of(10, 3), stats_of(40, 0), "proceed rate 0"),
        (stats_of(0, 0), stats_of(0, 0), "no days at all"),
    ],
)
def test_lift_is_null_when_undefined(risky: VerdictStats, proceed: VerdictStats, why: str) -> None:
    assert lift(risky, proceed) is None, why


def test_lift_is_zero_when_risky_days_never_liquidated() -> None:
    assert lift(stats_of(10, 0), stats_of(40, 4)) == 0.0


def test_summarise_counts_reduce_and_wait_together_for_lift() -> None:
    days = [
        day("proceed", 0.01),
        day("proceed", 0.2, True),
        day("proceed", 0.02),
        day("proceed", 0.03),
        day("reduce", 0.25, True),
        day("wait", 0.05),
    ]
    side = summarise_side("long", days)
    assert side.reduce_or_wait.n == 2
    assert side.lift == pytest.approx((1 / 2) / (1 / 4))
    assert side.days_known == {"open_interest": 6, "funding": 6, "liquidations": 6, "skew": 6}


# ---- JSON ---------------------------------------------------------------------------------

VERDICT_KEYS = {"n", "liq_rate", "mae_median", "mae_p90", "fwd_return_mean"}


def test_json_is_the_spec_shape_with_nulls_for_empty_groups(hand: BacktestReport) -> None:
    doc = report_json(hand)
    assert list(doc) == [
        "asset",
        "asof",
        "leverage",
        "horizon_days",
        "days_evaluated",
        "independent_windows",
        "sides",
    ]
    assert (doc["asset"], doc["asof"], doc["leverage"], doc["horizon_days"]) == (
        "ETH",
        HAND_ASOF,
        10,
        2,
    )
    assert (doc["days_evaluated"], doc["independent_windows"]) == (5, 2)
    assert list(doc["sides"]) == ["long", "short"]
    for side in doc["sides"].values():
        assert set(side) == {"by_verdict", "by_flag", "lift"}
        assert list(side["by_verdict"]) == ["proceed", "reduce", "wait"]
        for stats in side["by_verdict"].values():
            assert set(stats) == VERDICT_KEYS
        assert list(side["by_flag"]) == ["open_interest", "funding", "liquidations", "skew"]
        for statuses in side["by_flag"].values():
            assert list(statuses) == ["caution", "clear", "unknown"]
            for stats in statuses.values():
                assert set(stats) == {"n", "mae_median"}
    assert doc["sides"]["long"]["by_verdict"]["wait"] == dict.fromkeys(VERDICT_KEYS) | {"n": 0}
    assert doc["sides"]["short"]["lift"] is None
    text = json.dumps(doc, allow_nan=False)  # raises on NaN / Infinity
    assert json.loads(text) == doc


def test_json_leverage_keeps_a_fraction_and_label_only_when_asked(hand: BacktestReport) -> None:
    report = replace(hand, leverage=2.5, label="synthetic demo data")
    assert report_json(report)["leverage"] == 2.5
    assert "label" not in report_json(report)
    assert report_json(report, label=True)["label"] == "synthetic demo data"


def test_json_turns_non_finite_statistics_into_null(hand: BacktestReport) -> None:
    long = hand.sides["long"]
    broken = replace(long, lift=math.inf)
    report = replace(hand, sides={"long": broken})
    assert report_json(report)["sides"]["long"]["lift"] is None


# ---- the state at t -----------------------------------------------------------------------

T = T0 + 100 * DAY


def cut_fixture() -> AssetData:
    hourly = [[T - k * HOUR, 1.0, 1.0, 1.0, 1.0, 1.0] for k in range(40, 0, -1)]
    hourly += [[T, 9.0, 9.0, 9.0, 9.0, 1.0]]  # opens at t: closes after it
    daily = [[T - k * DAY, 1.0, 1.0, 1.0, 1.0, 1.0] for k in range(120, 0, -1)]
    daily += [[T - 12 * HOUR + DAY, 9.0, 9.0, 9.0, 9.0, 1.0]]  # not aligned, closes after t
    liq = [[T - k * HOUR, 1.0, 2.0] for k in range(200, -1, -1)]
    skew = [(T - 30 * HOUR, 1.0), (T, 2.0), (T + 1, 99.0)]
    oi_1h = [(T - k * HOUR, 1e9) for k in range(30, -1, -1)]
    oi_1d = [(T - k * DAY, 1e9) for k in range(40, -1, -1)]
    return AssetData(
        asset="ETH",
        ohlcv_1d=frame_from_rows(daily, OHLCV_COLUMNS),
        ohlcv_1h=frame_from_rows(hourly, OHLCV_COLUMNS),
        oi_usd_1h=series_from_rows([list(r) for r in oi_1h]),
        oi_usd_1d=series_from_rows([list(r) for r in oi_1d]),
        liquidations_1h=frame_from_rows(liq, LIQ_COLUMNS),
        skew_rr25_30d=series_from_rows([list(r) for r in skew]),
    )


def test_cut_keeps_bars_closed_by_t_and_samples_at_or_before_t() -> None:
    state = HistoryCut(cut_fixture(), TH).at(T)
    # bars: the one closing exactly at t is in, the one opening at t (or before, closing
    # after t) is out
    assert int(state.ohlcv_1h.index[-1]) == T - HOUR
    assert int(state.ohlcv_1d.index[-1]) == T - DAY
    assert int(state.liquidations_1h.index[-1]) == T - HOUR
    assert int(state.oi_usd_1h.index[-1]) == T - HOUR
    assert int(state.oi_usd_1d.index[-1]) == T - DAY
    # samples: the one at t is in, the one a millisecond later is out
    assert list(state.skew_rr25_30d.index) == [T - 30 * HOUR, T]
    for frame, bar in (
        (state.ohlcv_1h, HOUR),
        (state.ohlcv_1d, DAY),
        (state.liquidations_1h, HOUR),
        (state.oi_usd_1h, HOUR),
        (state.oi_usd_1d, DAY),
    ):
        assert (frame.index.to_numpy() + bar <= T).all()


def test_cut_keeps_what_the_engine_reads() -> None:
    data = cut_fixture()
    state = HistoryCut(data, TH).at(T)
    assert len(state.liquidations_1h) >= TH.liq_window_buckets
    assert len(state.ohlcv_1d) == 120  # every closed daily candle (fewer than the 182 kept)
    assert len(state.ohlcv_1h) == 40
    full, cut = compute_market(data, T, TH), compute_market(state, T, TH)
    assert cut.rr25_30d == full.rr25_30d == 2.0
    assert cut.liq_long == full.liq_long and cut.liq_short == full.liq_short
    assert cut.oi_percentile_30d == full.oi_percentile_30d


def venue(
    name: str, rows: list[tuple[int, float]], interval: float = 8, oi: float = 1e9
) -> VenueFunding:
    return VenueFunding(name, 0.05, interval, oi, series_from_rows([list(r) for r in rows]))


def test_funding_rate_at_t_is_the_latest_settlement_at_or_before_t() -> None:
    data = AssetData(
        asset="ETH",
        funding=(
            # settled at t − 8h and at t + 1 ms: the rate at t is the former
            venue(
                "binanceusdm",
                [(T - 16 * HOUR, 0.0002), (T - 8 * HOUR, 0.0003), (T + 1, 0.01)],
                oi=3e9,
            ),
            # a 4-hour venue: its rate per interval is normalised to 8 hours (× 2)
            venue("okx", [(T - 4 * HOUR, 0.0001), (T, 0.00005)], interval=4, oi=1e9),
        ),
    )
    state = HistoryCut(data, TH).at(T)
    assert [(v.venue, v.rate) for v in state.funding] == [
        ("binanceusdm", 0.0003),
        ("okx", 0.00005),
    ]
    market = compute_market(state, T, TH)
    # OI-weighted mean of the normalised rates: (0.0003 × 3 + 0.0001 × 1) / 4
    assert market.funding_8h == pytest.approx((0.0003 * 3e9 + 0.00005 * 2 * 1e9) / 4e9)
    assert all(h.index.max() <= T for h in (v.history for v in state.funding))


def test_funding_venue_without_a_settlement_in_3_days_drops_out() -> None:
    data = AssetData(
        asset="ETH",
        funding=(
            venue("binanceusdm", [(T - 8 * HOUR, 0.0004)], oi=1e9),
            venue("bybit", [(T - 3 * DAY - 1, 0.01)], oi=9e9),  # just over 3 days old: out
            venue("okx", [(T - 3 * DAY, -0.0004)], oi=1e9),  # exactly 3 days old: in
            venue("bitget", [(T + HOUR, 0.01)], oi=9e9),  # nothing at or before t: out
        ),
    )
    state = HistoryCut(data, TH).at(T)
    assert [v.venue for v in state.funding] == ["binanceusdm", "okx"]
    assert compute_market(state, T, TH).funding_8h == pytest.approx(0.0)


def test_no_venue_with_a_recent_settlement_makes_funding_unknown() -> None:
    days = [
        *[replace(d, funding_8h=0.0005) for d in flat(31)],
        *flat(10),  # funding stops settling on day 31
    ]
    doc = document({"ETH": asset_body(days)}, asof=day_ts(41))
    report = run_backtest(load(doc), BacktestRequest("ETH", sides=("long",), horizon_days=1), TH)
    statuses = {(d.t - T0) // DAY: d.flags["funding"] for d in report.days}
    # the last settlement is at day 30 00:00: caution at days 31-33, gone after 3 days
    assert statuses == {31: "caution", 32: "caution", 33: "caution"} | dict.fromkeys(
        range(34, 41), "unknown"
    )
