"""Charts of one asset: price, open interest, funding and liquidations on one time axis.

Pure: data in, PNG bytes out; no I/O, no clock, no grading (the caller passes the verdict).

    chart_png(data, asof, window="7d", *, headline=None, thresholds=None) -> bytes
    chart_figure(data, asof, window="7d", *, headline=None, thresholds=None) -> Figure
    ChartHeadline(verdict, caution_flags=(), side=None, unknown_flags=())
    ChartCache(maxsize=32).png(data, asof, window, headline=..., thresholds=...) -> bytes

- `window` is one of WINDOWS: "7d" draws hourly closes, hourly OI, funding and hourly
  liquidation buckets; "30d" and "90d" draw daily closes, daily OI, funding history and
  liquidations summed per 24 hours. A panel whose data covers less than the window says so
  on the panel and greys the part it cannot show; an empty panel says "no … data".
- `headline` (one ChartHeadline, or one per side) puts the verdict or regime and the caution
  flags in the title. Build it from what the engine computed, e.g. from a SideStress:
  `ChartHeadline(s.level, s.caution_flags, side=s.side, unknown_flags=s.unknown_flags)`.
- `thresholds` (signals.thresholds.Thresholds, SPEC defaults when None) places the funding
  caution lines at ±funding_8h_caution.
- `ChartCache` renders once per (asset, window, data time, headline, thresholds) and hands
  the same bytes to every caller, also to threads asking at the same moment.

`chart_png(data, asof)` is still the 7-day chart without a headline. matplotlib is imported
on the first render, not on import, so importing this module costs start-up nothing extra.
Rendering is serialised by one lock: matplotlib is not thread-safe, and under the GIL a
second concurrent render would not finish sooner anyway. The cyclic garbage collector is
paused during a render and the figure freed young afterwards (see _young_garbage_only).
"""

from __future__ import annotations

import gc
import io
import itertools
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from signals.market import DAY_MS, HOUR_MS, AssetData
from signals.thresholds import Thresholds

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# 1080×1350 (4:5) is what Telegram shows full-width on a phone without cropping or downscaling
WIDTH_PX = 1080
HEIGHT_PX = 1350
DPI = 150

WINDOWS: tuple[str, ...] = ("7d", "30d", "90d")
PANEL_TITLES = ("Price", "Open interest", "Funding per 8h", "Liquidations per hour")
DAILY_PANEL_TITLES = ("Price", "Open interest", "Funding per 8h", "Liquidations per day")
VERDICTS: tuple[str, ...] = ("proceed", "reduce", "wait", "calm", "elevated", "stress")

_LONG_COLOUR = "#d62728"
_SHORT_COLOUR = "#2ca02c"
_LINE_COLOUR = "#1f4e9c"
_CAUTION_COLOUR = "#c0392b"
_GREY = "#666666"
_NO_DATA_FILL = "#ececec"
_VENUE_COLOURS = ("#1f4e9c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf")
_VERDICT_COLOURS = {
    "proceed": "#1e8e3e",
    "calm": "#1e8e3e",
    "reduce": "#d35400",
    "elevated": "#d35400",
    "wait": "#c0392b",
    "stress": "#c0392b",
}

# fonts in points at DPI 150 (1 pt ≈ 2.1 px): a phone shows the 1080 px image ~390 pt wide,
# so 13 pt ticks land near 10 pt on screen
_TICK_PT = 13
_PANEL_TITLE_PT = 15
_TITLE_PT = 20
_HEADLINE_PT = 15
_NOTE_PT = 12
_TAG_PT = 12
_LEGEND_PT = 12

# fixed margins in pixels instead of tight_layout (a third of the old render time)
_LEFT_PX = 56  # half a date label: the first one sits on the left edge
_RIGHT_PX = 172  # right-hand y tick labels and the last-price tag
_TOP_PAD_PX = 20
_TITLE_LINE_PX = 50
_HEADLINE_LINE_PX = 38
_PANEL_TITLE_PX = 48
_BOTTOM_PX = 50
_HEIGHT_RATIOS = (3, 2, 2, 2)

# SPEC §1 staleness limits: a series whose newest point is older than this stopped updating
_STALE_MS = {HOUR_MS: 3 * HOUR_MS, DAY_MS: 3 * DAY_MS}
_FUNDING_STALE_MS = 3 * DAY_MS
# one side of the mirrored liquidations gets its own scale when the other is this many times
# taller: below that the two halves share one scale and compare honestly
_LIQ_OWN_SCALE_RATIO = 5.0

_RENDER_LOCK = threading.Lock()


@dataclass(frozen=True)
class _Window:
    name: str
    days: int
    bar_ms: int  # the bar the price, OI and liquidation panels are drawn in
    titles: tuple[str, str, str, str]


_WINDOWS = {
    "7d": _Window("7d", 7, HOUR_MS, PANEL_TITLES),
    "30d": _Window("30d", 30, DAY_MS, DAILY_PANEL_TITLES),
    "90d": _Window("90d", 90, DAY_MS, DAILY_PANEL_TITLES),
}


@dataclass(frozen=True)
class ChartHeadline:
    """What the engine said about the asset, for the chart's title (computed by the caller).

    `verdict` is a verdict (proceed, reduce, wait) or a regime (calm, elevated, stress);
    `side` is "long" or "short" when the verdict is for one side.
    """

    verdict: str
    caution_flags: tuple[str, ...] = ()
    side: str | None = None
    unknown_flags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}: {self.verdict!r}")
        # tuples, so a headline can key a cache even when lists were passed
        object.__setattr__(self, "caution_flags", tuple(self.caution_flags))
        object.__setattr__(self, "unknown_flags", tuple(self.unknown_flags))

    def text(self) -> str:
        """The headline as one title line: 'LONG · REDUCE · caution: funding, liquidations'."""
        parts = [self.side.upper()] if self.side else []
        parts.append(self.verdict.upper())
        if self.caution_flags:
            parts.append("caution: " + ", ".join(_flag_words(f) for f in self.caution_flags))
        else:
            parts.append("no caution flags")
        if self.unknown_flags:
            parts.append("unknown: " + ", ".join(_flag_words(f) for f in self.unknown_flags))
        return " · ".join(parts)

    @property
    def colour(self) -> str:
        """The colour of the verdict: green, orange or red."""
        return _VERDICT_COLOURS[self.verdict]


Headlines = ChartHeadline | Sequence[ChartHeadline] | None


def chart_png(
    data: AssetData,
    asof: int,
    window: str = "7d",
    *,
    headline: Headlines = None,
    thresholds: Thresholds | None = None,
) -> bytes:
    """Render one asset's chart over `window` to `asof` as PNG bytes (WIDTH_PX × HEIGHT_PX)."""
    with _RENDER_LOCK, _young_garbage_only():
        return _png(_build(data, asof, window, headline, thresholds))


def chart_figure(
    data: AssetData,
    asof: int,
    window: str = "7d",
    *,
    headline: Headlines = None,
    thresholds: Thresholds | None = None,
) -> Figure:
    """Build the four-panel figure of one asset over `window` to `asof` (UTC ms)."""
    with _RENDER_LOCK:
        return _build(data, asof, window, headline, thresholds)


class ChartCache:
    """Bounded, thread-safe: one render per (asset, window, data time, headline, thresholds).

    Callers asking for a chart that is being rendered wait for that render and get the same
    bytes; a failed render is not cached (every waiter gets the error, the next call retries).
    """

    def __init__(self, maxsize: int = 32, render: Callable[..., bytes] | None = None) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self.renders = 0
        self.hits = 0
        self._render = render or chart_png
        self._lock = threading.Lock()
        self._done: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self._pending: dict[tuple[Any, ...], _Pending] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._done)

    def png(
        self,
        data: AssetData,
        asof: int,
        window: str = "7d",
        *,
        headline: Headlines = None,
        thresholds: Thresholds | None = None,
    ) -> bytes:
        """The chart's PNG bytes, rendered now or reused from an earlier identical call."""
        th = thresholds or Thresholds()
        key = (data.asset.upper(), _window(window).name, int(asof), _headlines(headline), th)
        with self._lock:
            cached = self._done.get(key)
            if cached is not None:
                self._done.move_to_end(key)
                self.hits += 1
                return cached
            pending = self._pending.get(key)
            owner = pending is None
            if pending is None:
                pending = self._pending[key] = _Pending()
                self.renders += 1
            else:
                self.hits += 1
        if not owner:
            return pending.result()
        try:
            pending.png = self._render(data, asof, window, headline=headline, thresholds=th)
        except Exception as e:
            pending.error = e
            raise
        finally:
            with self._lock:
                del self._pending[key]
                if pending.png is not None:
                    self._done[key] = pending.png
                    while len(self._done) > self.maxsize:
                        self._done.popitem(last=False)
            pending.ready.set()
        return pending.png


class _Pending:
    """A render in flight that other callers wait on."""

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.png: bytes | None = None
        self.error: Exception | None = None

    def result(self) -> bytes:
        self.ready.wait()
        if self.png is None:
            raise RuntimeError("the chart render this call waited for failed") from self.error
        return self.png


@contextmanager
def _young_garbage_only() -> Iterator[None]:
    """Render with the cyclic collector paused, then free the figure in a young-only pass.

    A figure leaves ~13,000 objects in reference cycles. Left to the automatic collector they
    are promoted to older generations while the render runs, and every few charts that sets
    off a full collection over the whole process heap (ccxt markets, pandas), which holds the
    GIL, and so the event loop, for 100 ms and more. Collected young they cost ~5 ms.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        gc.collect(0)


def _png(fig: Figure) -> bytes:
    """Draw the figure and encode it as a 128-colour PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    rgb = np.asarray(canvas.buffer_rgba())[..., :3]
    # a chart has few colours: a palette PNG is a third of the size of an RGBA one and
    # quicker to encode; no metadata chunks, so the same inputs give the same bytes
    image = Image.fromarray(rgb).quantize(colors=128, method=Image.Quantize.FASTOCTREE)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


# ---- the figure ------------------------------------------------------------------------------


def _build(
    data: AssetData,
    asof: int,
    window: str,
    headline: Headlines,
    thresholds: Thresholds | None,
) -> Figure:
    from matplotlib.figure import Figure

    win = _window(window)
    th = thresholds or Thresholds()
    heads = _headlines(headline)
    start = asof - win.days * DAY_MS
    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    axes = _panel_axes(fig, len(heads))
    _header(fig, data.asset, asof, win, heads)
    price_ax, oi_ax, funding_ax, liq_ax = axes
    _price_panel(price_ax, data, start, asof, win)
    _oi_panel(oi_ax, data, start, asof, win)
    _funding_panel(funding_ax, data, start, asof, th)
    _liquidation_panel(liq_ax, data, start, asof, win)
    for ax, title in zip(axes, win.titles, strict=True):
        # an explicit y skips matplotlib's title auto-positioning (~80 ms a chart)
        ax.set_title(title, loc="left", fontsize=_PANEL_TITLE_PT, fontweight="bold", pad=8, y=1.0)
        ax.grid(True, alpha=0.3)
        ax.tick_params(labelsize=_TICK_PT, labelright=True, labelleft=False, right=True)
        ax.tick_params(axis="y", left=False)
        for side in ("top", "left"):
            ax.spines[side].set_visible(False)
    # a little room after asof so the current-funding dots and the line ends are not clipped
    liq_ax.set_xlim(_num(start), _num(asof + win.days * DAY_MS * 0.015))
    _time_axis(liq_ax, win)
    for ax in axes[:-1]:
        ax.tick_params(labelbottom=False)
    return fig


def _panel_axes(fig: Figure, headline_lines: int) -> list[Axes]:
    """Four stacked panels at fixed pixel margins, sharing the time axis."""
    top = _TOP_PAD_PX + _TITLE_LINE_PX + _HEADLINE_LINE_PX * headline_lines
    plot_px = HEIGHT_PX - top - _BOTTOM_PX - _PANEL_TITLE_PX * len(_HEIGHT_RATIOS)
    left = _LEFT_PX / WIDTH_PX
    width = (WIDTH_PX - _LEFT_PX - _RIGHT_PX) / WIDTH_PX
    axes: list[Axes] = []
    y_top = float(HEIGHT_PX - top)
    for ratio in _HEIGHT_RATIOS:
        height = plot_px * ratio / sum(_HEIGHT_RATIOS)
        y_top -= _PANEL_TITLE_PX
        rect = (left, (y_top - height) / HEIGHT_PX, width, height / HEIGHT_PX)
        axes.append(fig.add_axes(rect, sharex=axes[0] if axes else None))
        y_top -= height
    return axes


def _header(
    fig: Figure, asset: str, asof: int, win: _Window, heads: tuple[ChartHeadline, ...]
) -> None:
    x = _LEFT_PX / WIDTH_PX
    y = 1 - _TOP_PAD_PX / HEIGHT_PX
    fig.text(
        x,
        y,
        f"{asset} · {win.days} days",
        fontsize=_TITLE_PT,
        fontweight="bold",
        va="top",
        gid="chart-title",
    )
    # the time of the data, right-aligned on the title line: long names still fit beside it
    fig.text(
        1 - 24 / WIDTH_PX,
        y - 6 / HEIGHT_PX,
        "data to " + _utc(asof).strftime("%d %b %Y %H:%M UTC"),
        fontsize=_HEADLINE_PT,
        color="#333333",
        ha="right",
        va="top",
        gid="chart-asof",
    )
    for i, head in enumerate(heads):
        fig.text(
            x,
            y - (_TITLE_LINE_PX + i * _HEADLINE_LINE_PX) / HEIGHT_PX,
            head.text(),
            fontsize=_HEADLINE_PT,
            fontweight="bold",
            color=head.colour,
            va="top",
            gid="chart-headline",
        )


def _time_axis(ax: Axes, win: _Window) -> None:
    import matplotlib.dates as mdates

    if win.days <= 7:
        locator: Any = mdates.DayLocator(tz=UTC)
    elif win.days <= 30:
        locator = mdates.WeekdayLocator(byweekday=mdates.MO, tz=UTC)
    else:
        locator = mdates.MonthLocator(bymonthday=(1, 15), tz=UTC)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b", tz=UTC))


# ---- panels ----------------------------------------------------------------------------------


def _price_panel(ax: Axes, data: AssetData, start: int, asof: int, win: _Window) -> None:
    x_ms, closes, first_ms, bar_ms = _price_points(data, start, asof, win)
    if len(closes) == 0:
        _no_data(ax, "price")
        return
    x = x_ms / DAY_MS
    lo, hi = float(closes.min()), float(closes.max())
    pad = (hi - lo) * 0.08 or abs(hi) * 0.01 or 1.0
    ax.set_ylim(lo - pad, hi + pad)
    ax.plot(x, closes, color=_LINE_COLOUR, linewidth=2.0, gid="price-line")
    ax.fill_between(x, closes, lo - pad, color=_LINE_COLOUR, alpha=0.08, linewidth=0)
    last = float(closes[-1])
    ax.plot(x[-1:], [last], marker="o", markersize=5, color=_LINE_COLOUR)
    # the tag sits in the right margin on the price axis, never on the line (it is clipped
    # to the plot area); tick labels it would cover are left out
    tag = ax.annotate(
        _price_text(last),
        xy=(1.0, last),
        xycoords=("axes fraction", "data"),
        xytext=(4, 0),
        textcoords="offset points",
        ha="left",
        va="center",
        fontsize=_TAG_PT,
        fontweight="bold",
        color="white",
        bbox={"boxstyle": "round,pad=0.3", "facecolor": _LINE_COLOUR, "edgecolor": "none"},
        annotation_clip=False,
        zorder=10,
        gid="last-price",
        parse_math=False,
    )
    ax.axhline(last, color=_LINE_COLOUR, linewidth=0.9, linestyle=":", alpha=0.8)
    ax.yaxis.set_major_locator(_locator(5))
    ax.yaxis.set_major_formatter(_money_formatter(avoid=(tag, last)))
    _coverage(ax, first_ms, int(x_ms[-1]), start, asof, bar_ms, _STALE_MS[bar_ms])


def _price_points(
    data: AssetData, start: int, asof: int, win: _Window
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(close times, closes, first bar's open, bar length): closed bars only, at their close."""
    hourly = _closed_bars(data.ohlcv_1h["close"], start - HOUR_MS, asof, HOUR_MS)
    daily = _closed_bars(data.ohlcv_1d["close"], start - DAY_MS, asof, DAY_MS)
    primary, other = (hourly, daily) if win.bar_ms == HOUR_MS else (daily, hourly)
    if len(primary) == 0:
        primary, other = other, primary
    if len(primary) == 0:
        return np.array([]), np.array([]), asof, win.bar_ms
    bar_ms = HOUR_MS if primary is hourly else DAY_MS
    x_ms = primary.index.to_numpy(dtype="float64") + bar_ms
    closes = primary.to_numpy(dtype="float64")
    first_ms = int(primary.index[0])
    # on a daily chart the line ends at the engine's price: the newest hourly close
    if bar_ms == DAY_MS and len(hourly):
        newest = float(hourly.index[-1] + HOUR_MS)
        if newest > x_ms[-1]:
            x_ms = np.append(x_ms, newest)
            closes = np.append(closes, float(hourly.iloc[-1]))
            bar_ms = HOUR_MS
    return x_ms, closes, first_ms, bar_ms


def _oi_panel(ax: Axes, data: AssetData, start: int, asof: int, win: _Window) -> None:
    hourly = _closed_bars(data.oi_usd_1h, start, asof, HOUR_MS)
    daily = _closed_bars(data.oi_usd_1d, start, asof, DAY_MS)
    primary = hourly if win.bar_ms == HOUR_MS else daily
    if len(primary) == 0:
        primary = daily if primary is hourly else hourly
    if len(primary) == 0:
        _no_data(ax, "open-interest")
        return
    bar_ms = HOUR_MS if primary is hourly else DAY_MS
    x_ms = primary.index.to_numpy(dtype="float64")
    values = primary.to_numpy(dtype="float64")
    # on a daily chart the line ends at the engine's oi_usd: the newest hourly value
    if bar_ms == DAY_MS and len(hourly) and hourly.index[-1] > x_ms[-1]:
        x_ms = np.append(x_ms, float(hourly.index[-1]))
        values = np.append(values, float(hourly.iloc[-1]))
        bar_ms = HOUR_MS
    lo, hi = float(values.min()), float(values.max())
    pad = (hi - lo) * 0.1 or abs(hi) * 0.02 or 1.0
    ax.set_ylim(lo - pad, hi + pad)
    x = x_ms / DAY_MS
    ax.plot(x, values, color=_LINE_COLOUR, linewidth=2.0)
    ax.fill_between(x, values, lo - pad, color=_LINE_COLOUR, alpha=0.12, linewidth=0)
    ax.yaxis.set_major_locator(_locator(5))
    ax.yaxis.set_major_formatter(_money_formatter())
    last_close = int(x_ms[-1]) + bar_ms
    _coverage(ax, int(primary.index[0]), last_close, start, asof, bar_ms, _STALE_MS[bar_ms])


def _funding_panel(ax: Axes, data: AssetData, start: int, asof: int, th: Thresholds) -> None:
    plotted: list[float] = []
    first_ms: int | None = None
    newest_ms: int | None = None
    for i, venue in enumerate(data.funding):
        colour = _VENUE_COLOURS[i % len(_VENUE_COLOURS)]
        # every venue on one scale: the rate per 8 hours, in percent
        per_8h = 8.0 / venue.interval_hours if venue.interval_hours > 0 else 1.0
        history = _samples(venue.history, start, asof)
        xs = list(history.index.to_numpy(dtype="float64") / DAY_MS)
        ys = [float(v) * per_8h * 100 for v in history.to_numpy()]
        if len(history):
            first_ms = min(first_ms or asof, int(history.index[0]))
            newest_ms = max(newest_ms or 0, int(history.index[-1]))
        rate = venue.rate if venue.rate is not None and math.isfinite(venue.rate) else None
        if rate is not None:
            xs.append(_num(asof))
            ys.append(rate * per_8h * 100)
        if not xs:
            continue
        ax.step(xs, ys, where="post", color=colour, linewidth=1.8, label=venue.venue)
        if rate is not None:
            # the current (predicted) rate has no width as a step: mark it
            ax.plot(xs[-1:], ys[-1:], marker="o", markersize=7, color=colour, gid="funding-now")
        plotted.extend(ys)
    if not plotted:
        _no_data(ax, "funding")
        return
    caution = th.funding_8h_caution * 100
    for level in (caution, -caution):
        ax.axhline(level, color=_CAUTION_COLOUR, linewidth=1.2, linestyle="--", gid="caution")
    ax.text(
        0.01,
        -caution,
        f"caution ±{caution:g}%",
        transform=ax.get_yaxis_transform(),
        fontsize=_NOTE_PT,
        color=_CAUTION_COLOUR,
        va="bottom",
        gid="caution-label",
    )
    ax.axhline(0, color="#333333", linewidth=0.8)
    lo, hi = min(min(plotted), -caution), max(max(plotted), caution)
    pad = (hi - lo) * 0.12
    ax.set_ylim(lo - pad, hi + pad)
    ax.yaxis.set_major_locator(_locator(5))
    ax.yaxis.set_major_formatter(_percent_formatter())
    _legend(ax)
    if first_ms is None or newest_ms is None:
        _note(ax, "no settled funding history: current rates only", "left")
        return
    _coverage(ax, first_ms, newest_ms, start, asof, 8 * HOUR_MS, _FUNDING_STALE_MS)


def _liquidation_panel(ax: Axes, data: AssetData, start: int, asof: int, win: _Window) -> None:
    # daily bars are 24 hours ending at the last closed hour: the first one starts that much
    # before it (up to an hour before the window start)
    lo = start if win.bar_ms == HOUR_MS else asof // HOUR_MS * HOUR_MS - win.days * DAY_MS
    buckets = _closed_bars(data.liquidations_1h, lo, asof, HOUR_MS)
    if len(buckets) == 0:
        _no_data(ax, "liquidation")
        return
    cov = data.liq_coverage
    first_ms = int(buckets.index[0])
    if cov is not None and cov.since_ms is not None:
        first_ms = max(first_ms, int(cov.since_ms))
    left_ms, width_ms, longs, shorts = _liquidation_bars(buckets, start, asof, win, first_ms)
    from matplotlib.collections import PolyCollection

    x = left_ms / DAY_MS
    w = width_ms / DAY_MS * 0.85
    # one collection per side, not one Rectangle per bar: hundreds of patches were slow
    for name, heights, colour, label in (
        ("liq-shorts", shorts, _SHORT_COLOUR, "shorts ↑"),
        ("liq-longs", -longs, _LONG_COLOUR, "longs ↓"),
    ):
        verts = np.stack(
            [
                np.column_stack([x, np.zeros_like(x)]),
                np.column_stack([x, heights]),
                np.column_stack([x + w, heights]),
                np.column_stack([x + w, np.zeros_like(x)]),
            ],
            axis=1,
        )
        bars = PolyCollection(
            list(verts),
            facecolors=colour,
            edgecolors="none",
            label=label,
            gid=name,
            # snapped to whole pixels, 5 px hourly bars lost their 0.75 px gaps in stretches
            snap=False,
        )
        ax.add_collection(bars, autolim=False)
    ax.axhline(0, color="#333333", linewidth=0.8)
    own_scale = _mirrored_scale(ax, float(longs.max(initial=0.0)), float(shorts.max(initial=0.0)))
    if cov is not None:
        _shade_gaps(ax, cov.gaps, start, asof)
    _legend(ax)
    if own_scale:
        _scale_note(ax, left_ms, longs, shorts, (start + asof) / 2)
    last_close = int(buckets.index[-1]) + HOUR_MS
    # mirrored about zero: no headroom (its notes sit over the grey, barless part)
    _coverage(ax, first_ms, last_close, start, asof, HOUR_MS, _STALE_MS[HOUR_MS], room=False)


def _liquidation_bars(
    buckets: pd.DataFrame, start: int, asof: int, win: _Window, first_ms: int
) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """(bar left edges, bar width, long USD, short USD): hourly, or summed per 24 hours."""
    ts = buckets.index.to_numpy(dtype="int64")
    longs = buckets["long_usd"].to_numpy(dtype="float64")
    shorts = buckets["short_usd"].to_numpy(dtype="float64")
    if win.bar_ms == HOUR_MS:
        return ts.astype("float64"), float(HOUR_MS), longs, shorts
    # 24-hour periods that end at the last closed hour, so the newest bar is a whole day
    # that includes the latest hours (a calendar day would end in a partial, short bar)
    end = asof // HOUR_MS * HOUR_MS
    period = (end - 1 - ts) // DAY_MS
    periods = win.days
    keep = period < periods
    long_sum = np.bincount(period[keep], weights=longs[keep], minlength=periods)[:periods]
    short_sum = np.bincount(period[keep], weights=shorts[keep], minlength=periods)[:periods]
    lefts = end - (np.arange(periods) + 1) * DAY_MS
    # periods that end before the record starts are absent, not zero
    recorded = lefts + DAY_MS > first_ms
    order = np.argsort(lefts[recorded])
    return (
        lefts[recorded][order].astype("float64"),
        float(DAY_MS),
        long_sum[recorded][order],
        short_sum[recorded][order],
    )


def _mirrored_scale(ax: Axes, long_max: float, short_max: float) -> bool:
    """Zero in the middle; each half scaled to its side. True when the scales differ."""
    big = max(long_max, short_max)
    if big <= 0:
        # buckets that hold zeros are a record of calm, said in words, not a blank panel
        ax.set_ylim(-1.0, 1.0)
        ax.set_yticks([0.0])
        ax.yaxis.set_major_formatter(_money_formatter(absolute=True))
        _note(ax, "zero liquidations recorded", "left", room=False)
        return False
    own = 0 < min(long_max, short_max) < big / _LIQ_OWN_SCALE_RATIO
    top = short_max if own else big
    bottom = long_max if own else big

    def forward(y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, dtype="float64")
        return np.where(y >= 0, y / top, y / bottom)

    def inverse(u: np.ndarray) -> np.ndarray:
        u = np.asarray(u, dtype="float64")
        return np.where(u >= 0, u * top, u * bottom)

    ax.set_yscale("function", functions=(forward, inverse))
    ax.set_ylim(-bottom * 1.1, top * 1.1)
    ticks = [-t for t in _nice_ticks(bottom)[::-1]] + [0.0] + _nice_ticks(top)
    ax.set_yticks(ticks)
    ax.yaxis.set_major_formatter(_money_formatter(absolute=True))
    ax.yaxis.set_minor_locator(_null_locator())
    return own


def _scale_note(
    ax: Axes, left_ms: np.ndarray, longs: np.ndarray, shorts: np.ndarray, middle_ms: float
) -> None:
    """Say that the halves differ in scale, in the big side's half, away from its peak."""
    big, big_is_longs = (longs, True) if longs.max() >= shorts.max() else (shorts, False)
    right = left_ms[int(np.argmax(big))] < middle_ms
    text = (
        f"separate scales: ↑ to {_usd_text(float(shorts.max()))},"
        f" ↓ to {_usd_text(float(longs.max()))}"
    )
    ax.text(
        0.99 if right else 0.01,
        0.04 if big_is_longs else 0.96,
        text,
        transform=ax.transAxes,
        ha="right" if right else "left",
        va="bottom" if big_is_longs else "top",
        fontsize=_NOTE_PT,
        style="italic",
        color="#444444",
        bbox={"boxstyle": "round,pad=0.25", "facecolor": "white", "alpha": 0.85, "linewidth": 0},
        zorder=11,
        gid="scale-note",
        parse_math=False,  # two "$" would start mathtext
    )


def _nice_ticks(limit: float) -> list[float]:
    from matplotlib.ticker import MaxNLocator

    ticks = MaxNLocator(nbins=2, steps=[1, 2, 2.5, 5, 10]).tick_values(0, limit)
    return [float(t) for t in ticks if 0 < t <= limit * 1.05]


def _shade_gaps(ax: Axes, gaps: tuple[tuple[int, int], ...], start: int, asof: int) -> None:
    from matplotlib.collections import PolyCollection

    spans = [(max(a, start), min(b, asof)) for a, b in gaps if b > start and a < asof]
    if not spans:
        return
    verts = [
        [(a / DAY_MS, 0), (a / DAY_MS, 1), (b / DAY_MS, 1), (b / DAY_MS, 0)] for a, b in spans
    ]
    ax.add_collection(
        PolyCollection(
            verts,
            facecolors=_NO_DATA_FILL,
            edgecolors="none",
            transform=ax.get_xaxis_transform(),
            zorder=0,
            gid="no-data",
        ),
        autolim=False,
    )


# ---- coverage notes --------------------------------------------------------------------------


def _coverage(
    ax: Axes,
    first_ms: int,
    newest_ms: int,
    start: int,
    asof: int,
    bar_ms: int,
    stale_ms: int,
    extra: list[str] | None = None,
    room: bool = True,
) -> None:
    """Grey out and name the parts of the window the data does not cover."""
    notes = list(extra or [])
    if first_ms > start + bar_ms:
        ax.axvspan(_num(start), _num(first_ms), color=_NO_DATA_FILL, zorder=0, gid="no-data")
        notes.insert(
            0,
            f"data only since {_when(first_ms, asof - first_ms)}"
            f" · {_span(asof - first_ms)} of {(asof - start) // DAY_MS} days",
        )
    if notes:
        _note(ax, "\n".join(notes), "left", room)
    if asof - newest_ms > stale_ms:
        ax.axvspan(_num(newest_ms), _num(asof), color=_NO_DATA_FILL, zorder=0, gid="no-data")
        _note(ax, f"no data since {_when(newest_ms, 0)}", "right", room)


def _note(ax: Axes, text: str, side: str, room: bool = True) -> None:
    if room:
        _make_room(ax, text, side)
    ax.text(
        0.01 if side == "left" else 0.99,
        0.96,
        text,
        transform=ax.transAxes,
        ha=side,
        va="top",
        fontsize=_NOTE_PT,
        style="italic",
        color="#444444",
        bbox={"boxstyle": "round,pad=0.25", "facecolor": "white", "alpha": 0.85, "linewidth": 0},
        zorder=11,
        gid="coverage-note",
        parse_math=False,
    )


def _make_room(ax: Axes, text: str, side: str) -> None:
    """Raise the y-axis top so no line runs under a note at the panel's top (BTC's open
    interest starts at its high, right where "data only since" sits)."""
    lines = text.count("\n") + 1
    longest = max(len(line) for line in text.split("\n"))
    plot = ax.get_position()
    # italic DejaVu at _NOTE_PT: ~0.6 em a character, 1.3 em a line, plus the rounded box
    em_px = _NOTE_PT * DPI / 72
    width = (longest * 0.6 * em_px + 10) / (plot.width * WIDTH_PX)
    below = 0.04 + (lines * 1.3 * em_px + 10) / (plot.height * HEIGHT_PX) + 0.02
    x0, x1 = (0.01, 0.01 + width) if side == "left" else (0.99 - width, 0.99)
    top = 0.0  # the highest a line gets under the note, in axes fractions
    for line in ax.lines:
        xy = (line.get_transform() - ax.transAxes).transform(line.get_xydata())
        if len(xy) == 1:
            xy = np.vstack([xy, xy])
        a, b = xy[:-1], xy[1:]
        over = (np.maximum(a[:, 0], b[:, 0]) >= x0) & (np.minimum(a[:, 0], b[:, 0]) <= x1)
        if over.any():
            top = max(top, float(np.nanmax(np.maximum(a[over, 1], b[over, 1]))))
    limit = 1.0 - min(0.5, below)
    if top <= limit:
        return
    lo, hi = ax.get_ylim()
    highest = lo + top * (hi - lo)
    ax.set_ylim(lo, lo + (highest - lo) / limit)


def _no_data(ax: Axes, what: str) -> None:
    ax.text(
        0.5,
        0.5,
        f"no {what} data",
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=_PANEL_TITLE_PT,
        color=_GREY,
        gid="no-data",
    )
    ax.set_facecolor("#f6f6f6")
    ax.set_yticks([])


def _legend(ax: Axes) -> None:
    # on the panel's title row, right-aligned, so it never covers the bars or lines
    ax.legend(
        loc="lower right",
        bbox_to_anchor=(1.0, 1.0),
        ncol=3,
        fontsize=_LEGEND_PT,
        frameon=False,
        borderaxespad=0.1,
        handlelength=1.2,
        columnspacing=1.0,
    )


# ---- numbers ---------------------------------------------------------------------------------


def _money_formatter(absolute: bool = False, avoid: tuple[Any, float] | None = None) -> Any:
    from matplotlib.ticker import Formatter

    class MoneyFormatter(Formatter):  # type: ignore[misc]
        """'$' ticks with a k/M/B suffix and just enough decimals to tell them apart."""

        def __init__(self) -> None:
            self.ticks: list[float] = []

        def set_locs(self, locs: Any) -> None:
            self.ticks = [float(v) for v in locs]

        def __call__(self, x: float, pos: int | None = None) -> str:
            if avoid is not None and self.axis is not None and _near_tag(self.axis, x, *avoid):
                return ""
            if not absolute:
                return _money_tick(x, self.ticks)
            # mirrored axis: each half has its own step ($0.2M above, $20M below)
            same_side = [abs(v) for v in self.ticks if v == 0 or (v > 0) == (x > 0)]
            return _money_tick(abs(x), same_side)

    return MoneyFormatter()


def _near_tag(axis: Any, value: float, tag: Any, tag_value: float) -> bool:
    """True when a tick label at `value` would sit under the last-price tag."""
    to_px = axis.axes.transData.transform
    gap = abs(to_px((0, value))[1] - to_px((0, tag_value))[1])
    return bool(gap < _TAG_PT * DPI / 72 * 1.1)


def _percent_formatter() -> Any:
    from matplotlib.ticker import Formatter

    class PercentFormatter(Formatter):  # type: ignore[misc]
        """Percent ticks with as many decimals as the tick step needs."""

        def __init__(self) -> None:
            self.ticks: list[float] = []

        def set_locs(self, locs: Any) -> None:
            self.ticks = [float(v) for v in locs]

        def __call__(self, x: float, pos: int | None = None) -> str:
            return _pct_text(x, _decimals(_step(self.ticks), 1.0))

    return PercentFormatter()


def _locator(nbins: int) -> Any:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(nbins=nbins, steps=[1, 2, 2.5, 5, 10])


def _null_locator() -> Any:
    from matplotlib.ticker import NullLocator

    return NullLocator()


def _money_tick(value: float, locs: list[float]) -> str:
    """A '$' tick: $3.2k, $101.9k, $0.215, $12B; decimals from the step between ticks."""
    top = max((abs(v) for v in locs), default=abs(value))
    unit, suffix = 1.0, ""
    for size, name in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if top >= size:
            unit, suffix = size, name
            break
    digits = _decimals(_step(locs), unit)
    sign = "−" if value < 0 else ""
    if value == 0:
        return "$0"
    return f"{sign}${abs(value) / unit:,.{digits}f}{suffix}"


def _usd_text(value: float) -> str:
    """A compact USD amount with three significant figures: $392k, $40.0M."""
    for size, name in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"), (1.0, "")):
        if abs(value) >= size:
            scaled = value / size
            digits = max(0, 2 - math.floor(math.log10(abs(scaled))))
            return f"${scaled:,.{digits}f}{name}"
    return "$0"


def _step(locs: list[float]) -> float:
    values = sorted(set(locs))
    diffs = [b - a for a, b in itertools.pairwise(values) if b > a]
    return min(diffs) if diffs else 0.0


def _decimals(step: float, unit: float) -> int:
    """The fewest decimals that show a step of `step` in units of `unit`."""
    if step <= 0:
        return 2
    return max(0, min(8, math.ceil(-math.log10(step / unit) - 1e-9)))


def _pct_text(value: float, decimals: int) -> str:
    if value == 0:
        return "0%"
    sign = "−" if value < 0 else ""
    return f"{sign}{abs(value):.{decimals}f}%"


def _price_text(value: float) -> str:
    """The last price, as precise as the reply's (no cents from $10,000)."""
    v = abs(value)
    if v >= 10_000:
        text = f"{v:,.0f}"
    elif v >= 10:
        text = f"{v:,.2f}"
    elif v >= 1:
        text = f"{v:,.3f}"
    elif v == 0:
        text = "0"
    else:
        text = f"{v:.{min(10, 4 - math.floor(math.log10(v)))}f}"
    return ("−$" if value < 0 else "$") + text


# ---- helpers ---------------------------------------------------------------------------------


def _window(window: str) -> _Window:
    try:
        return _WINDOWS[window]
    except KeyError:
        raise ValueError(f"window must be one of {', '.join(WINDOWS)}: {window!r}") from None


def _headlines(headline: Headlines) -> tuple[ChartHeadline, ...]:
    if headline is None:
        return ()
    if isinstance(headline, ChartHeadline):
        return (headline,)
    return tuple(headline)


def _flag_words(name: str) -> str:
    return name.replace("_", " ")


def _closed_bars(frame: pd.DataFrame | pd.Series, lo: int, asof: int, bar_ms: int) -> Any:
    """Finite bars opened at or after `lo` that had closed by `asof` (SPEC §1)."""
    if len(frame) == 0:
        return frame
    ts = frame.index.to_numpy()
    return _finite(frame[(ts >= lo) & (ts + bar_ms <= asof)])


def _samples(series: pd.Series, lo: int, asof: int) -> pd.Series:
    """Finite samples taken in [lo, asof]."""
    if len(series) == 0:
        return series
    ts = series.index.to_numpy()
    return _finite(series[(ts >= lo) & (ts <= asof)])


def _finite(frame: Any) -> Any:
    # a NaN or infinite value from a venue is a missing point, not a reason to fail the chart
    values = np.isfinite(frame.to_numpy(dtype="float64"))
    return frame[values.all(axis=1) if values.ndim == 2 else values]


def _num(ts_ms: int | float) -> float:
    """Matplotlib's date number (days since the epoch) for a UTC millisecond timestamp."""
    return float(ts_ms) / DAY_MS


def _utc(ts_ms: int | float) -> datetime:
    return datetime.fromtimestamp(ts_ms / 1000, UTC)


def _when(ts_ms: int, span_ms: int) -> str:
    """A date, with the time of day when it is within two days or not midnight."""
    moment = _utc(ts_ms)
    if span_ms >= 2 * DAY_MS and moment.hour == 0 and moment.minute == 0:
        return moment.strftime("%d %b")
    return moment.strftime("%d %b %H:%M UTC")


def _span(ms: int) -> str:
    if ms >= 2 * DAY_MS:
        return f"{round(ms / DAY_MS)}"
    return f"{max(1, round(ms / HOUR_MS))} h"
