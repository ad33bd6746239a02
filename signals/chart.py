"""The 7-day chart: price, open interest, funding and hourly liquidations in four panels."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import matplotlib

matplotlib.use("Agg")  # headless: the bot runs on servers without a display

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from signals.market import DAY_MS, HOUR_MS, AssetData

WINDOW_DAYS = 7
# 1080×1350 (4:5) is what Telegram shows full-width on a phone without cropping or downscaling
WIDTH_PX = 1080
HEIGHT_PX = 1350
DPI = 150

PANEL_TITLES = ("Price", "Open interest", "Funding per 8h", "Liquidations per hour")
_LONG_COLOUR = "#d62728"
_SHORT_COLOUR = "#2ca02c"
_LINE_COLOUR = "#1f4e9c"
_VENUE_COLOURS = ("#1f4e9c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf")


def chart_figure(data: AssetData, asof: int) -> Figure:
    """Build the four-panel figure for the 7 days up to `asof` (UTC ms)."""
    start = asof - WINDOW_DAYS * DAY_MS
    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    axes = fig.subplots(4, 1, sharex=True, gridspec_kw={"height_ratios": (3, 2, 2, 2)})
    price_ax, oi_ax, funding_ax, liq_ax = axes
    asof_text = datetime.fromtimestamp(asof / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
    fig.suptitle(f"{data.asset} · 7 days to {asof_text}", fontsize=16, fontweight="bold")
    _price_panel(price_ax, data, start, asof)
    _oi_panel(oi_ax, data, start, asof)
    _funding_panel(funding_ax, data, start, asof)
    _liquidation_panel(liq_ax, data, start, asof)
    for ax, title in zip(axes, PANEL_TITLES, strict=True):
        ax.set_title(title, loc="left", fontsize=13, fontweight="bold")
        ax.grid(True, alpha=0.3)
        ax.tick_params(labelsize=11)
    liq_ax.set_xlim(_num(start), _num(asof))
    liq_ax.xaxis.set_major_locator(mdates.DayLocator(tz=UTC))
    liq_ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b", tz=UTC))
    fig.align_ylabels(axes)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return fig


def chart_png(data: AssetData, asof: int) -> bytes:
    """Render the 7-day chart of one asset as PNG bytes (WIDTH_PX × HEIGHT_PX)."""
    fig = chart_figure(data, asof)
    buffer = io.BytesIO()
    FigureCanvasAgg(fig)
    # no Software/date metadata: the same inputs give the same bytes
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def _num(ts_ms: int | float) -> float:
    """Matplotlib's date number (days since the epoch) for a UTC millisecond timestamp."""
    return float(ts_ms) / DAY_MS


def _nums(index: pd.Index) -> np.ndarray:
    return index.to_numpy(dtype="float64") / DAY_MS


def _window(frame: pd.DataFrame | pd.Series, lo: int, hi: int) -> pd.DataFrame | pd.Series:
    if len(frame) == 0:
        return frame
    ts = frame.index.to_numpy()
    return frame[(ts >= lo) & (ts <= hi)]


def _no_data(ax: Axes, what: str) -> None:
    ax.text(
        0.5,
        0.5,
        f"no {what} data",
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=12,
        color="#777777",
    )
    ax.set_yticks([])


def _price_panel(ax: Axes, data: AssetData, start: int, asof: int) -> None:
    # a close is known at the end of its bar, so plot it there (and only closed bars)
    hourly = _window(data.ohlcv_1h, start - HOUR_MS, asof - HOUR_MS)
    bar_ms = HOUR_MS
    if len(hourly) == 0:
        hourly = _window(data.ohlcv_1d, start - DAY_MS, asof - DAY_MS)
        bar_ms = DAY_MS
    if len(hourly) == 0:
        _no_data(ax, "price")
        return
    closes = hourly["close"]
    x = (closes.index.to_numpy(dtype="float64") + bar_ms) / DAY_MS
    ax.plot(x, closes.to_numpy(), color=_LINE_COLOUR, linewidth=1.4)
    last = float(closes.iloc[-1])
    ax.annotate(
        _price_text(last),
        xy=(x[-1], last),
        xytext=(-4, 6),
        textcoords="offset points",
        ha="right",
        fontsize=11,
        fontweight="bold",
        color=_LINE_COLOUR,
    )
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _price_text(v)))


def _oi_panel(ax: Axes, data: AssetData, start: int, asof: int) -> None:
    oi = _window(data.oi_usd_1h, start, asof)
    if len(oi) == 0:
        _no_data(ax, "open-interest")
        return
    x = _nums(oi.index)
    ax.plot(x, oi.to_numpy(), color=_LINE_COLOUR, linewidth=1.4)
    ax.fill_between(x, oi.to_numpy(), float(oi.min()), color=_LINE_COLOUR, alpha=0.12)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _usd_text(v)))


def _funding_panel(ax: Axes, data: AssetData, start: int, asof: int) -> None:
    plotted = False
    for i, venue in enumerate(data.funding):
        colour = _VENUE_COLOURS[i % len(_VENUE_COLOURS)]
        # every venue on one scale: the rate per 8 hours, in percent
        per_8h = 8.0 / venue.interval_hours if venue.interval_hours > 0 else 1.0
        history = _window(venue.history, start, asof)
        xs = list(_nums(history.index))
        ys = [float(v) * per_8h * 100 for v in history.to_numpy()]
        if venue.rate is not None:
            xs.append(_num(asof))
            ys.append(venue.rate * per_8h * 100)
        if not xs:
            continue
        ax.step(xs, ys, where="post", color=colour, linewidth=1.4, label=venue.venue)
        # the current (predicted) rate has no width as a step: mark it
        ax.plot(xs[-1:], ys[-1:], marker="o", markersize=4, color=colour, clip_on=False)
        plotted = True
    if not plotted:
        _no_data(ax, "funding")
        return
    ax.axhline(0, color="#333333", linewidth=0.8)
    # four decimals: a tick at 0.0025% must not read as 0.002%
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:.4f}%"))
    _legend(ax)


def _liquidation_panel(ax: Axes, data: AssetData, start: int, asof: int) -> None:
    buckets = _window(data.liquidations_1h, start, asof - HOUR_MS)
    if len(buckets) == 0:
        _no_data(ax, "liquidation")
        return
    x = _nums(buckets.index)
    width = HOUR_MS / DAY_MS * 0.9
    # longs force-closed hang below the axis, shorts stand above it
    ax.bar(
        x,
        -buckets["long_usd"].to_numpy(),
        width=width,
        align="edge",
        color=_LONG_COLOUR,
        label="longs liquidated",
    )
    ax.bar(
        x,
        buckets["short_usd"].to_numpy(),
        width=width,
        align="edge",
        color=_SHORT_COLOUR,
        label="shorts liquidated",
    )
    ax.axhline(0, color="#333333", linewidth=0.8)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _usd_text(abs(v))))
    _legend(ax)


def _legend(ax: Axes) -> None:
    # above the panel, right-aligned, so it never covers the bars or lines
    ax.legend(
        loc="lower right",
        bbox_to_anchor=(1.0, 1.0),
        ncol=3,
        fontsize=10,
        frameon=False,
        borderaxespad=0.1,
        handlelength=1.2,
    )


def _price_text(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:,.2f}"
    return f"{value:.4g}"


def _usd_text(value: float) -> str:
    magnitude = abs(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if magnitude >= limit:
            return f"${value / limit:.1f}{suffix}"
    return f"${value:.0f}"
