"""The track record in the bot (signals/track.py): the numbers of the one-line track record at
any leverage, the stored records, what the hourly job archives, and the line in the reply."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from signals.backtest import BacktestRequest, run_backtest
from signals.grade import grade_check
from signals.idea import TradeIdea
from signals.market import DAY_MS, HOUR_MS, OHLCV_COLUMNS, frame_from_rows
from signals.store import Store
from signals.thresholds import Thresholds
from signals.track import (
    TrackBook,
    TrackRecord,
    archive_state,
    from_stored,
    next_hour_s,
    records_of,
    to_stored,
    track_line,
    watched_assets,
)
from signals.track_line import TrackLine
from signals.userdata import UserData
from templates import render_check, utf16_len, visible_length
from tests.helpers.builders import ASOF, asset_data
from tests.helpers.history import T0, asset_body, document, flat
from tests.helpers.history import history_of as load

TH = Thresholds()
# a record: 4 wait days (2 of them followed by a 25% drop), 6 proceed days (one 15% drop),
# 2 reduce days (one 21%)
DAYS = (
    *((T0 + i * DAY_MS, "wait", mae) for i, mae in enumerate([0.25, 0.30, 0.02, 0.05])),
    *((T0 + (4 + i) * DAY_MS, "proceed", mae) for i, mae in enumerate([0.15, 0, 0, 0.01, 0, 0])),
    (T0 + 10 * DAY_MS, "reduce", 0.21),
    (T0 + 11 * DAY_MS, "reduce", 0.03),
)
RECORD = TrackRecord("ETH", "long", ASOF - ASOF % DAY_MS, 365, 7, 0.005, DAYS)


def test_line_compares_the_verdicts_days_with_the_proceed_days_at_the_leverage() -> None:
    line = track_line(RECORD, "wait", 5.0)  # liquidated at ≥ 19.5%
    assert line is not None
    assert (line.n, line.liquidated, line.other, line.other_n, line.other_liquidated) == (
        4,
        2,
        "proceed",
        6,
        0,
    )
    assert line.rate == 0.5 and line.other_rate == 0.0
    # at 10x (9.5%) one proceed day and three wait days were liquidating moves
    ten = track_line(RECORD, "wait", 10.0)
    assert ten is not None and (ten.liquidated, ten.other_liquidated) == (2, 1)
    assert ten.leverage == 10.0


def test_a_proceed_verdict_is_compared_with_the_reduce_or_wait_days() -> None:
    line = track_line(RECORD, "proceed", 5.0)
    assert line is not None
    assert (line.n, line.liquidated) == (6, 0)
    assert (line.other, line.other_n, line.other_liquidated) == ("reduce or wait", 6, 3)


def test_a_move_exactly_on_the_liquidation_distance_counts() -> None:
    exact = TrackRecord("ETH", "long", RECORD.asof, 365, 7, 0.005, ((T0, "wait", 0.195),))
    line = track_line(exact, "wait", 5.0)
    assert line is not None and line.liquidated == 1


def test_no_line_without_room_before_liquidation_or_without_days() -> None:
    assert track_line(RECORD, "wait", 200.0) is None  # 1/200 < mmr
    assert track_line(dataclasses.replace(RECORD, days=()), "wait", 5.0) is None


def test_records_round_trip_through_the_store(tmp_path: Path) -> None:
    doc = document({"ETH": asset_body(flat(60))}, asof=T0 + 60 * DAY_MS)
    report = run_backtest(load(doc, label="synthetic demo data"), BacktestRequest("ETH"), TH)
    records = records_of(report, computed_ms=123)
    assert [r.side for r in records] == ["long", "short"]
    assert len(records[0].days) == report.days_evaluated
    store = Store(tmp_path / "preflight.sqlite")
    for record in records:
        store.save_track_record(to_stored(record))
    back = [from_stored(s) for s in store.track_records()]
    assert back == records
    # saving again replaces, never duplicates
    store.save_track_record(to_stored(records[0]))
    assert len(store.track_records()) == 2
    store.close()


def test_an_unreadable_stored_record_is_skipped() -> None:
    stored = dataclasses.replace(to_stored(RECORD), days_json="{not json")
    assert from_stored(stored) is None


def result_for(leverage: float = 5.0):  # type: ignore[no-untyped-def]
    data = asset_data("ETH", closes_1h=[100.0] * 30, closes_1d=[100.0] * 40)
    idea = TradeIdea("ETH", "long", leverage=leverage, leverage_given=True)
    return grade_check(idea, data, ASOF, TH)


def test_the_book_attaches_a_fresh_record_and_skips_a_stale_one() -> None:
    book = TrackBook()
    result = result_for()
    assert book.attach(result) is result  # nothing computed yet
    book.put(RECORD)
    attached = book.attach(result)
    assert set(attached.track) == {"long"}
    assert attached.track["long"].verdict == result.grades[0].flags_verdict
    book.put(dataclasses.replace(RECORD, asof=ASOF - 4 * DAY_MS))  # the daily job stalled
    assert book.attach(result).track == {}


def test_the_line_sits_under_the_verdict_in_valid_compact_html() -> None:
    book = TrackBook()
    book.put(RECORD)
    result = book.attach(result_for())
    html = render_check(result, "html", TH, now=ASOF)
    lines = html.splitlines()
    assert lines[1] == (
        "📊 On ETH's last 365 days, a liquidating move followed 0% of PROCEED days vs 50% of "
        "REDUCE OR WAIT days at 5x (n = 6 / 6; overlapping 7-day windows)"
    )
    assert utf16_len(html) <= 4096 and visible_length(html) <= 4096
    text = render_check(result, "text", TH, now=ASOF)
    assert "📊 On ETH's last 365 days" in text.splitlines()[1]


def test_the_line_words_every_case() -> None:
    from templates import render

    def words(**kw: object) -> str:
        base: dict[str, object] = dict(
            asset="ETH",
            side="long",
            leverage=5.0,
            days_asked=365,
            horizon_days=7,
            asof=ASOF,
            verdict="wait",
            n=54,
            liquidated=17,
            other="proceed",
            other_n=201,
            other_liquidated=12,
        )
        base.update(kw)
        line = TrackLine(**base)  # type: ignore[arg-type]
        return render("track", "text", what="line", t=line)

    assert words() == (
        "📊 On ETH's last 365 days, a liquidating move followed 31% of WAIT days vs 6% of "
        "PROCEED days at 5x (n = 54 / 201; overlapping 7-day windows)"
    )
    assert words(n=0, liquidated=0) == (
        "📊 On ETH's last 365 days, the rule never said WAIT; a liquidating move followed 6% "
        "of PROCEED days at 5x (n = 201; overlapping 7-day windows)"
    )
    assert words(other_n=0, other_liquidated=0, horizon_days=1) == (
        "📊 On ETH's last 365 days, a liquidating move followed 31% of WAIT days at 5x "
        "(n = 54; no PROCEED day to compare; 1-day windows)"
    )
    assert words(liquidated=1, n=300, label="synthetic demo data").startswith(
        "📊 On ETH's last 365 days (synthetic demo data), a liquidating move followed 0.3% of"
    )


# ---- what the hourly job keeps ---------------------------------------------------------------


def test_archive_state_keeps_the_checks_hourly_candles_and_skew(tmp_path: Path) -> None:
    store = Store(tmp_path / "preflight.sqlite")
    hours = [ASOF - (3 - i) * HOUR_MS for i in range(3)]
    data = dataclasses.replace(
        asset_data("ETH", skew=[(ASOF - HOUR_MS, -4.0)]),
        ohlcv_1h=frame_from_rows([[h, 1, 2, 0.5, 1.5, 9] for h in hours], OHLCV_COLUMNS),
        sources={"price": "bybit"},
    )
    archive_state(store, data)
    archive_state(store, data)  # the next hour's sample overlaps: upserts
    assert store.read_history_bars("ETH", "bybit", "1h", 0, ASOF) == [
        [float(h), 1.0, 2.0, 0.5, 1.5, 9.0] for h in hours
    ]
    assert store.read_history_points("ETH", "*", "skew_rr25_30d", 0, ASOF + 1) == [
        (ASOF - HOUR_MS, -4.0)
    ]
    store.close()


def test_watched_assets_are_the_defaults_the_watchlists_and_the_subscriptions(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "preflight.sqlite")
    users = UserData(store)
    users.set_daily(1, "private", "08:00", "UTC", ("SOL", "ARB"), None)
    users.subscribe(2, "DOGE", {"long": ("calm", ())}, None)
    assert watched_assets(users, ("BTC", "ETH", "SOL")) == ["BTC", "ETH", "SOL", "ARB", "DOGE"]
    store.close()


@pytest.mark.parametrize(("now", "wait"), [(0.0, 3720.0), (3599.0, 121.0), (3600.0, 3720.0)])
def test_the_hourly_job_starts_two_minutes_past_the_next_hour(now: float, wait: float) -> None:
    assert next_hour_s(now) == wait
