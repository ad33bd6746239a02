"""The charts: phone-sized PNGs of 7, 30 or 90 days, read back from the figure they draw."""

from __future__ import annotations

import gc
import struct
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.text import Text

from signals.chart import (
    DAILY_PANEL_TITLES,
    HEIGHT_PX,
    PANEL_TITLES,
    WIDTH_PX,
    WINDOWS,
    ChartCache,
    ChartHeadline,
    chart_figure,
    chart_png,
)
from signals.derived import compute_market
from signals.market import (
    DAY_MS,
    HOUR_MS,
    AssetData,
    LiquidationCoverage,
    VenueFunding,
    frame_from_rows,
)
from signals.snapshot import DEMO_PATH, load_snapshot
from signals.thresholds import Thresholds

ASOF = 1_779_235_200_000  # 2026-05-20 00:00 UTC
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ROOT = Path(__file__).resolve().parents[2]
LONG_REDUCE = ChartHeadline("reduce", ("funding", "liquidations"), side="long")


def _series(ts: list[int], values: np.ndarray) -> pd.Series:
    return pd.Series(values, index=pd.Index(ts, dtype="int64", name="ts"), dtype="float64")


def synthetic_asset(asset: str = "ETH", hours: int = 24 * 10) -> AssetData:
    """Ten days of hourly data with a sell-off and a long-liquidation burst at the end."""
    rng = np.random.default_rng(7)
    ts = [ASOF - (hours - i) * HOUR_MS for i in range(hours)]
    closes = 3000 + np.cumsum(rng.normal(0, 8, hours))
    closes[-12:] -= np.linspace(0, 250, 12)
    ohlcv = [[t, c, c + 5, c - 5, c, 100.0] for t, c in zip(ts, closes, strict=True)]
    longs = rng.uniform(1e5, 5e5, hours)
    longs[-6:] = 4e7
    shorts = rng.uniform(1e5, 4e5, hours)
    liq = [[t, lo, sh] for t, lo, sh in zip(ts, longs, shorts, strict=True)]
    funding_ts = [ASOF - k * 8 * HOUR_MS for k in range(30, 0, -1)]
    return AssetData(
        asset=asset,
        ohlcv_1h=frame_from_rows(ohlcv, ("open", "high", "low", "close", "volume")),
        oi_usd_1h=_series(ts, np.linspace(9e9, 1.1e10, hours)),
        funding=(
            VenueFunding("binanceusdm", 0.0004, 8, 5e9, _series(funding_ts, np.full(30, 1e-4))),
            VenueFunding("bybit", 0.0001, 4, 2e9, _series(funding_ts, np.full(30, 5e-5))),
        ),
        liquidations_1h=frame_from_rows(liq, ("long_usd", "short_usd")),
    )


@pytest.fixture(scope="module")
def demo() -> tuple[int, dict[str, AssetData]]:
    return load_snapshot(DEMO_PATH)


def _png_size(png: bytes) -> tuple[int, int]:
    # IHDR is the first chunk: 8-byte signature, 4-byte length, b"IHDR", width, height
    assert png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def _drawn(fig: Figure) -> Any:
    """Draw the figure as chart_png does and return its renderer (for text extents)."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def _by_gid(fig: Figure, gid: str) -> list[Any]:
    return [a for a in fig.findobj() if a.get_gid() == gid]


def _texts(ax: Any) -> list[str]:
    """The notes a panel shows about its data: no data, coverage, staleness."""
    return [t.get_text() for t in ax.texts if t.get_gid() in ("no-data", "coverage-note")]


# ---- every window --------------------------------------------------------------------------


@pytest.mark.parametrize("window", WINDOWS)
def test_every_window_is_a_png_of_the_phone_size(demo: Any, window: str) -> None:
    asof, assets = demo

    png = chart_png(assets["ETH"], asof, window, headline=LONG_REDUCE)

    assert png[:8] == PNG_SIGNATURE
    assert _png_size(png) == (WIDTH_PX, HEIGHT_PX)
    assert png.endswith(b"IEND\xaeB`\x82")
    assert len(png) < 150_000


@pytest.mark.parametrize(
    ("window", "days", "titles"),
    [("7d", 7, PANEL_TITLES), ("30d", 30, DAILY_PANEL_TITLES), ("90d", 90, DAILY_PANEL_TITLES)],
)
def test_four_panels_share_a_time_axis_from_the_window_start_to_asof(
    demo: Any, window: str, days: int, titles: tuple[str, ...]
) -> None:
    asof, assets = demo

    fig = chart_figure(assets["ETH"], asof, window)

    axes = fig.axes
    assert [ax.get_title(loc="left") for ax in axes] == list(titles)
    assert len({ax.get_xlim() for ax in axes}) == 1
    lo, hi = axes[0].get_xlim()
    assert lo * DAY_MS == asof - days * DAY_MS
    # a little room after asof so the newest points are not cut at the edge
    assert asof < hi * DAY_MS < asof + days * DAY_MS * 0.05
    [title] = _by_gid(fig, "chart-title")
    assert title.get_text() == f"ETH · {days} days"
    [when] = _by_gid(fig, "chart-asof")
    assert when.get_text() == "data to 20 May 2026 00:00 UTC"


def test_the_old_call_is_the_seven_day_chart_without_a_headline(demo: Any) -> None:
    asof, assets = demo

    assert chart_png(assets["ETH"], asof) == chart_png(assets["ETH"], asof, "7d", headline=None)


def test_an_unknown_window_is_refused_naming_the_windows() -> None:
    with pytest.raises(ValueError, match="7d, 30d, 90d"):
        chart_png(synthetic_asset(), ASOF, "1y")


def test_same_input_same_bytes_and_each_window_its_own_picture(demo: Any) -> None:
    asof, assets = demo
    data = assets["BTC"]

    first = chart_png(data, asof, "30d", headline=LONG_REDUCE)

    assert chart_png(data, asof, "30d", headline=LONG_REDUCE) == first
    assert chart_png(data, asof, "90d", headline=LONG_REDUCE) != first
    assert chart_png(data, asof, "30d") != first


# ---- price ---------------------------------------------------------------------------------


@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("asset", ["BTC", "ETH", "DOGE"])
def test_last_price_tag_sits_beside_the_line_never_on_it(
    demo: Any, window: str, asset: str
) -> None:
    asof, assets = demo
    fig = chart_figure(assets[asset], asof, window)
    renderer = _drawn(fig)
    price_ax = fig.axes[0]
    [tag] = _by_gid(fig, "last-price")
    [line] = _by_gid(fig, "price-line")

    box = tag.get_window_extent(renderer)
    patch_box = tag.get_bbox_patch().get_window_extent(renderer)
    path = line.get_transform().transform_path(line.get_path())
    plot = price_ax.get_window_extent(renderer)

    assert not path.intersects_bbox(box, filled=True)
    assert not path.intersects_bbox(patch_box, filled=True)
    assert box.x0 >= plot.x1  # in the right margin, on the price axis
    assert patch_box.x1 <= WIDTH_PX  # and not cut off at the image edge
    # at the height of the line's end
    end_y = path.vertices[-1][1]
    assert box.y0 < end_y < box.y1
    # price ticks it would cover are left out, the others stay
    shown = [t for t in price_ax.get_yticklabels() if t.get_text()]
    assert len(shown) >= 2
    for label in shown:
        assert not label.get_window_extent(renderer).overlaps(patch_box)


def test_last_price_tag_is_the_engines_price(demo: Any) -> None:
    asof, assets = demo
    for asset, text in (("BTC", "$101,850"), ("ETH", "$3,210.00"), ("DOGE", "$0.20520")):
        price = compute_market(assets[asset], asof, Thresholds()).price
        for window in WINDOWS:
            [tag] = _by_gid(chart_figure(assets[asset], asof, window), "last-price")

            assert tag.get_text() == text
            assert float(text.strip("$").replace(",", "")) == pytest.approx(price, rel=1e-6)


def test_a_daily_chart_ends_at_the_newest_hourly_close(demo: Any) -> None:
    asof, assets = demo
    data = assets["ETH"]
    at = asof - 19 * HOUR_MS  # 19 May 05:00: the day's candle has not closed yet

    fig = chart_figure(data, at, "30d")

    [line] = _by_gid(fig, "price-line")
    x, y = line.get_data()
    hourly = data.ohlcv_1h[data.ohlcv_1h.index + HOUR_MS <= at]
    daily = data.ohlcv_1d[data.ohlcv_1d.index + DAY_MS <= at]
    assert x[-1] * DAY_MS == at
    assert y[-1] == hourly["close"].iloc[-1]
    assert y[-1] == compute_market(data, at, Thresholds()).price
    # before it, the daily closes at their close time
    assert x[-2] * DAY_MS == daily.index[-1] + DAY_MS == at - 5 * HOUR_MS
    assert y[-2] == daily["close"].iloc[-1]
    assert len(x) == 30 + 1  # a close at the window start, 29 more days, the hourly close


def test_price_ticks_are_dollars_with_a_suffix_and_enough_decimals(demo: Any) -> None:
    asof, assets = demo
    fig = chart_figure(assets["BTC"], asof)
    _drawn(fig)
    formatter = fig.axes[1].yaxis.get_major_formatter()  # OI: the same money ticks

    assert formatter.format_ticks([3100, 3200, 3300]) == ["$3.1k", "$3.2k", "$3.3k"]
    assert formatter.format_ticks([101_800, 101_900, 102_000]) == [
        "$101.8k",
        "$101.9k",
        "$102.0k",
    ]
    assert formatter.format_ticks([0.2140, 0.2145, 0.2150]) == ["$0.2140", "$0.2145", "$0.2150"]
    assert formatter.format_ticks([8e9, 8.5e9, 9e9]) == ["$8.0B", "$8.5B", "$9.0B"]
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels() if t.get_text()]
    assert labels and all(label.startswith("$") and label.endswith("k") for label in labels)


# ---- funding -------------------------------------------------------------------------------


def test_funding_caution_lines_sit_at_the_threshold_per_8h() -> None:
    fig = chart_figure(synthetic_asset(), ASOF)

    levels = sorted(line.get_ydata()[0] for line in _by_gid(fig, "caution"))

    assert levels == pytest.approx([-0.03, 0.03])
    assert [t.get_text() for t in _by_gid(fig, "caution-label")] == ["caution ±0.03%"]


def test_funding_caution_lines_follow_the_thresholds_passed_in() -> None:
    fig = chart_figure(synthetic_asset(), ASOF, thresholds=Thresholds(funding_8h_caution=0.0005))

    levels = sorted(line.get_ydata()[0] for line in _by_gid(fig, "caution"))

    assert levels == pytest.approx([-0.05, 0.05])
    low, high = fig.axes[2].get_ylim()
    assert low < -0.05 and high > 0.05  # both lines in view


def test_current_funding_dots_are_inside_the_panel_whole() -> None:
    fig = chart_figure(synthetic_asset(), ASOF)
    renderer = _drawn(fig)
    funding_ax = fig.axes[2]
    plot = funding_ax.get_window_extent(renderer)
    dots = _by_gid(fig, "funding-now")

    assert len(dots) == 2
    for dot in dots:
        assert isinstance(dot, Line2D)
        x, y = dot.get_transform().transform((dot.get_xdata()[0], dot.get_ydata()[0]))
        radius = dot.get_markersize() / 2 * fig.dpi / 72
        assert plot.x0 + radius <= x <= plot.x1 - radius
        assert plot.y0 + radius <= y <= plot.y1 - radius
    # the 4-hourly venue's 0.01% is 0.02% per 8 hours
    assert sorted(dot.get_ydata()[0] for dot in dots) == pytest.approx([0.02, 0.04])


# ---- liquidations --------------------------------------------------------------------------


def _bar_heights(fig: Figure, gid: str) -> np.ndarray:
    [bars] = _by_gid(fig, gid)
    assert isinstance(bars, PolyCollection)
    return np.array([path.vertices[1][1] for path in bars.get_paths()])


def test_liquidations_are_mirrored_shorts_above_longs_below() -> None:
    data = synthetic_asset()
    fig = chart_figure(data, ASOF)

    shorts = _bar_heights(fig, "liq-shorts")
    longs = _bar_heights(fig, "liq-longs")

    assert len(shorts) == len(longs) == 7 * 24
    assert shorts.min() > 0
    assert longs.max() < 0
    week = data.liquidations_1h.iloc[-7 * 24 :]
    assert list(shorts) == list(week["short_usd"])
    assert list(longs) == list(-week["long_usd"])
    legend = fig.axes[3].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["shorts ↑", "longs ↓"]


def test_the_smaller_side_stays_visible_next_to_a_long_cascade() -> None:
    # longs: a $40M cascade; shorts never above $0.4M — a hundred times smaller
    fig = chart_figure(synthetic_asset(), ASOF)
    renderer = _drawn(fig)
    liq_ax = fig.axes[3]
    plot = liq_ax.get_window_extent(renderer)
    to_px = liq_ax.transData.transform

    zero_y = to_px((0, 0))[1]
    tallest_short = to_px((0, _bar_heights(fig, "liq-shorts").max()))[1] - zero_y
    deepest_long = zero_y - to_px((0, _bar_heights(fig, "liq-longs").min()))[1]

    assert tallest_short > 0.4 * plot.height
    assert deepest_long > 0.4 * plot.height
    [note] = _by_gid(fig, "scale-note")
    assert note.get_text() == "separate scales: ↑ to $397k, ↓ to $40.0M"


def test_sides_of_similar_size_share_one_scale(demo: Any) -> None:
    asof, assets = demo
    fig = chart_figure(assets["BTC"], asof)
    _drawn(fig)
    to_px = fig.axes[3].transData.transform

    zero_y = to_px((0, 0))[1]
    up = to_px((0, 1e6))[1] - zero_y
    down = zero_y - to_px((0, -1e6))[1]

    assert up == pytest.approx(down)
    assert _by_gid(fig, "scale-note") == []


def test_daily_charts_sum_liquidations_per_24_hours_ending_at_the_last_closed_hour(
    demo: Any,
) -> None:
    asof, assets = demo
    data = assets["ETH"]

    fig = chart_figure(data, asof, "30d")

    shorts = _bar_heights(fig, "liq-shorts")
    longs = _bar_heights(fig, "liq-longs")
    hourly = data.liquidations_1h
    days = []
    for k in range(8):  # the demo records 8 days: no bars before them (absent, not zero)
        lo, hi = asof - (k + 1) * DAY_MS, asof - k * DAY_MS
        days.append(hourly[(hourly.index >= lo) & (hourly.index < hi)].sum())
    days.reverse()
    assert list(shorts) == pytest.approx([d["short_usd"] for d in days])
    assert list(longs) == pytest.approx([-d["long_usd"] for d in days])


# ---- the headline ----------------------------------------------------------------------------


def test_title_carries_the_verdict_and_the_caution_flags() -> None:
    heads = (
        LONG_REDUCE,
        ChartHeadline("proceed", side="short", unknown_flags=("skew",)),
    )

    fig = chart_figure(synthetic_asset(), ASOF, headline=heads)

    lines = _by_gid(fig, "chart-headline")
    assert [t.get_text() for t in lines] == [
        "LONG · REDUCE · caution: funding, liquidations",
        "SHORT · PROCEED · no caution flags · unknown: skew",
    ]
    assert [t.get_color() for t in lines] == ["#d35400", "#1e8e3e"]


def test_a_regime_headline_for_the_daily_summary() -> None:
    head = ChartHeadline("stress", ["open_interest", "funding", "liquidations"])

    fig = chart_figure(synthetic_asset(), ASOF, headline=head)

    [line] = _by_gid(fig, "chart-headline")
    assert line.get_text() == "STRESS · caution: open interest, funding, liquidations"
    assert head.caution_flags == ("open_interest", "funding", "liquidations")  # hashable


def test_without_a_headline_the_title_has_no_verdict_line() -> None:
    fig = chart_figure(synthetic_asset(), ASOF)

    assert _by_gid(fig, "chart-headline") == []


def test_a_headline_with_an_unknown_verdict_is_refused() -> None:
    with pytest.raises(ValueError, match="proceed, reduce, wait"):
        ChartHeadline("buy")


# ---- missing data is never drawn as calm ------------------------------------------------------


@pytest.mark.parametrize("window", WINDOWS)
def test_an_asset_without_data_renders_four_panels_saying_no_data(window: str) -> None:
    empty = AssetData(asset="NEW")

    png = chart_png(empty, ASOF, window)
    fig = chart_figure(empty, ASOF, window)

    assert _png_size(png) == (WIDTH_PX, HEIGHT_PX)
    assert [_texts(ax) for ax in fig.axes] == [
        ["no price data"],
        ["no open-interest data"],
        ["no funding data"],
        ["no liquidation data"],
    ]


def test_panels_that_cover_less_than_the_window_say_how_much(demo: Any) -> None:
    asof, assets = demo

    fig = chart_figure(assets["ETH"], asof, "90d")

    price, oi, funding, liq = (_texts(ax) for ax in fig.axes)
    assert price == []  # 120 daily candles: the whole window
    assert oi == ["data only since 10 Apr · 40 of 90 days"]
    assert "data only since 16 May · 4 of 90 days" in funding
    assert liq == ["data only since 12 May · 8 of 90 days"]
    # the part without data is greyed, not left blank like a quiet market
    shaded = [ax for ax in fig.axes if any(p.get_gid() == "no-data" for p in ax.patches)]
    assert shaded == fig.axes[1:]


@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("asset", ["BTC", "ETH", "SOL", "DOGE"])
def test_a_coverage_note_never_covers_a_line(demo: Any, window: str, asset: str) -> None:
    # BTC 90d: open interest starts at its high, right where "data only since" sits; SOL's
    # funding hugs zero, so its caution line runs along the top edge
    asof, assets = demo
    fig = chart_figure(assets[asset], asof, window)
    renderer = _drawn(fig)

    for ax in fig.axes[:3]:  # price, open interest, funding: lines, not bars
        for note in (t for t in ax.texts if t.get_gid() == "coverage-note"):
            box = note.get_bbox_patch().get_window_extent(renderer)
            for line in ax.lines:
                path = line.get_transform().transform_path(line.get_path())
                assert not path.intersects_bbox(box, filled=True), (note.get_text(), line)


def test_a_series_that_stopped_updating_says_since_when() -> None:
    data = synthetic_asset()
    stopped = data.oi_usd_1h.iloc[:-10]  # the newest OI bar closed 10 h before asof

    fig = chart_figure(replace(data, oi_usd_1h=stopped), ASOF)

    assert _texts(fig.axes[1]) == ["no data since 19 May 14:00 UTC"]
    assert _texts(fig.axes[0]) == []


def test_liquidation_recording_gaps_are_greyed_and_the_record_start_named() -> None:
    data = synthetic_asset()
    since = ASOF - 3 * DAY_MS
    gap = (ASOF - 30 * HOUR_MS, ASOF - 26 * HOUR_MS)
    kept = data.liquidations_1h[data.liquidations_1h.index >= since]
    kept = kept[(kept.index < gap[0]) | (kept.index >= gap[1])]
    coverage = LiquidationCoverage(("bybit",), float(len(kept)), since_ms=since, gaps=(gap,))

    fig = chart_figure(replace(data, liquidations_1h=kept, liq_coverage=coverage), ASOF)

    liq_ax = fig.axes[3]
    assert "data only since 17 May · 3 of 7 days" in _texts(liq_ax)
    [gaps] = [c for c in liq_ax.collections if c.get_gid() == "no-data"]
    [box] = gaps.get_paths()
    assert (box.vertices[0][0] * DAY_MS, box.vertices[2][0] * DAY_MS) == gap


def test_current_funding_without_history_says_so() -> None:
    data = AssetData(asset="NEW", funding=(VenueFunding("bybit", 0.0002, 8, 1e8),))

    fig = chart_figure(data, ASOF, "30d")

    assert _texts(fig.axes[2]) == ["no settled funding history: current rates only"]


# ---- the cache ---------------------------------------------------------------------------------


def test_the_cache_renders_once_for_fifty_callers_at_the_same_moment(demo: Any) -> None:
    asof, assets = demo
    cache = ChartCache(maxsize=4)
    start = threading.Barrier(50)
    head = ChartHeadline("stress", ("funding", "liquidations", "skew"))

    def one_group(_: int) -> bytes:
        start.wait()
        return cache.png(assets["ETH"], asof, "7d", headline=head)

    with ThreadPoolExecutor(max_workers=50) as pool:
        pngs = list(pool.map(one_group, range(50)))

    assert cache.renders == 1
    assert cache.hits == 49
    assert len(set(pngs)) == 1
    assert pngs[0] == chart_png(assets["ETH"], asof, "7d", headline=head)


def test_the_cache_keys_on_asset_window_data_time_headline_and_thresholds(demo: Any) -> None:
    asof, assets = demo
    cache = ChartCache(maxsize=16)
    eth = assets["ETH"]

    cache.png(eth, asof)
    cache.png(eth, asof, "7d", headline=None, thresholds=Thresholds())
    assert cache.renders == 1
    cache.png(eth, asof, "30d")
    cache.png(eth, asof + HOUR_MS)
    cache.png(eth, asof, headline=LONG_REDUCE)
    cache.png(eth, asof, thresholds=Thresholds(funding_8h_caution=0.0005))
    cache.png(assets["BTC"], asof)
    assert cache.renders == 6


def test_the_cache_is_bounded_least_recently_used_first() -> None:
    cache = ChartCache(maxsize=2)
    a, b, c = (AssetData(asset=name) for name in ("AAA", "BBB", "CCC"))

    cache.png(a, ASOF)
    cache.png(b, ASOF)
    cache.png(a, ASOF)  # a is now the most recent
    cache.png(c, ASOF)  # evicts b

    assert len(cache) == 2
    assert cache.renders == 3
    cache.png(a, ASOF)
    assert cache.renders == 3
    cache.png(b, ASOF)
    assert cache.renders == 4


def test_a_failed_render_reaches_every_waiter_and_is_not_cached() -> None:
    calls = 0
    release = threading.Event()

    def flaky(data: AssetData, asof: int, window: str, **kwargs: Any) -> bytes:
        nonlocal calls
        calls += 1
        if calls == 1:
            release.wait(5)
            raise OSError("disk full")
        return chart_png(data, asof, window, **kwargs)

    cache = ChartCache(render=flaky)
    data = AssetData(asset="NEW")
    with ThreadPoolExecutor(max_workers=3) as pool:
        owner = pool.submit(cache.png, data, ASOF)
        while cache.renders == 0:
            pass
        waiters = [pool.submit(cache.png, data, ASOF) for _ in range(2)]
        while cache.hits < 2:
            pass
        release.set()
        with pytest.raises(OSError, match="disk full"):
            owner.result()
        for waiter in waiters:
            with pytest.raises(RuntimeError, match="failed") as caught:
                waiter.result()
            assert isinstance(caught.value.__cause__, OSError)

    assert len(cache) == 0
    assert _png_size(cache.png(data, ASOF)) == (WIDTH_PX, HEIGHT_PX)
    assert calls == 2


# ---- import cost -------------------------------------------------------------------------------


def test_importing_the_chart_module_does_not_import_matplotlib() -> None:
    code = (
        "import sys, signals.chart; print([m for m in ('matplotlib', 'PIL') if m in sys.modules])"
    )

    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )

    assert out.stdout.strip() == "[]"


def test_text_on_the_chart_is_never_read_as_mathtext() -> None:
    # two "$" in one label would turn the text between them into maths
    fig = chart_figure(synthetic_asset(), ASOF)

    for text in fig.findobj(Text):
        if text.get_text().count("$") >= 2:
            assert text.get_parse_math() is False


def test_a_render_leaves_no_figure_for_the_full_garbage_collector(demo: Any) -> None:
    # a figure is ~13,000 objects in cycles: left to age, they set off full collections
    # that hold the event loop; chart_png frees them while they are young
    asof, assets = demo
    chart_png(assets["ETH"], asof)
    gc.collect()

    chart_png(assets["ETH"], asof, "30d")

    assert gc.isenabled()
    assert gc.collect() < 200


def test_bad_numbers_from_a_venue_are_left_out_not_fatal() -> None:
    data = synthetic_asset()
    closes = data.ohlcv_1h.copy()
    closes.iloc[-3, 3] = np.nan
    oi = data.oi_usd_1h.copy()
    oi.iloc[5] = np.inf
    funding = (VenueFunding("bybit", float("nan"), 8, 1e9, data.funding[0].history),)
    bad = replace(data, ohlcv_1h=closes, oi_usd_1h=oi, funding=funding)

    png = chart_png(bad, ASOF, "7d")
    fig = chart_figure(bad, ASOF, "7d")

    assert _png_size(png) == (WIDTH_PX, HEIGHT_PX)
    [line] = _by_gid(fig, "price-line")
    assert np.isfinite(line.get_ydata()).all()
    assert len(line.get_ydata()) == 7 * 24  # the window's 169 closes but the NaN one
    assert _by_gid(fig, "funding-now") == []  # a NaN current rate is not drawn as a rate


def test_buckets_of_zeros_say_zero_liquidations_not_a_blank_panel() -> None:
    data = synthetic_asset()
    zeros = replace(data, liquidations_1h=data.liquidations_1h * 0)

    fig = chart_figure(zeros, ASOF)

    assert _texts(fig.axes[3]) == ["zero liquidations recorded"]
    assert list(fig.axes[3].get_yticks()) == [0.0]
