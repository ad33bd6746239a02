"""The 7-day chart: a valid PNG of the phone-readable size, four panels on one time axis."""

from __future__ import annotations

import struct

import numpy as np
import pandas as pd
from matplotlib.patches import Rectangle

from signals.chart import HEIGHT_PX, PANEL_TITLES, WIDTH_PX, chart_figure, chart_png
from signals.market import DAY_MS, HOUR_MS, AssetData, VenueFunding, frame_from_rows

ASOF = 1_779_235_200_000  # 2026-05-20 00:00 UTC
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


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


def _png_size(png: bytes) -> tuple[int, int]:
    # IHDR is the first chunk: 8-byte signature, 4-byte length, b"IHDR", width, height
    assert png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def test_chart_is_a_png_of_the_phone_size() -> None:
    png = chart_png(synthetic_asset(), ASOF)

    assert png[:8] == PNG_SIGNATURE
    assert _png_size(png) == (WIDTH_PX, HEIGHT_PX)
    assert png.endswith(b"IEND\xaeB`\x82")


def test_chart_has_four_panels_on_a_shared_seven_day_axis() -> None:
    fig = chart_figure(synthetic_asset(), ASOF)

    axes = fig.axes
    assert [ax.get_title(loc="left") for ax in axes] == list(PANEL_TITLES)
    assert len({ax.get_xlim() for ax in axes}) == 1
    lo, hi = axes[0].get_xlim()
    assert (lo * DAY_MS, hi * DAY_MS) == (ASOF - 7 * DAY_MS, ASOF)


def test_liquidations_hang_long_below_and_short_above_the_axis() -> None:
    fig = chart_figure(synthetic_asset(), ASOF)
    liq_ax = fig.axes[3]

    heights = []
    for patch in liq_ax.patches:
        assert isinstance(patch, Rectangle)  # ax.bar draws Rectangles
        heights.append(patch.get_height())
    longs, shorts = heights[: len(heights) // 2], heights[len(heights) // 2 :]
    assert len(longs) == 7 * 24
    assert max(longs) < 0
    assert min(shorts) > 0
    assert min(longs) == -4e7


def test_chart_of_an_asset_without_data_still_renders_four_labelled_panels() -> None:
    empty = AssetData(asset="NEW")

    png = chart_png(empty, ASOF)
    fig = chart_figure(empty, ASOF)

    assert _png_size(png) == (WIDTH_PX, HEIGHT_PX)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert texts == [
        "no price data",
        "no open-interest data",
        "no funding data",
        "no liquidation data",
    ]


def test_chart_is_a_pure_function_of_data_and_asof() -> None:
    data = synthetic_asset()

    assert chart_png(data, ASOF) == chart_png(data, ASOF)
