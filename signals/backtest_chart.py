"""The track-record chart: the max adverse move after each verdict, and the liquidation line."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: the bot runs on servers without a display

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from signals.backtest import VERDICTS, BacktestReport, DayResult

# 1080×1350 (4:5), like the 7-day chart: full width on a phone without cropping
WIDTH_PX = 1080
HEIGHT_PX = 1350
DPI = 150
VERDICT_COLOURS = {"proceed": "#2ca02c", "reduce": "#ff7f0e", "wait": "#d62728"}
LIQUIDATION_COLOUR = "#b00020"
_POINT_COLOUR = "#1f4e9c"


def chart_figure(report: BacktestReport) -> Figure:
    """One panel per side: each verdict's max adverse moves, box and points, and the liq line."""
    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    sides = list(report.sides)
    axes = fig.subplots(len(sides), 1, squeeze=False)[:, 0]
    top = _top(report)
    for ax, side in zip(axes, sides, strict=True):
        days = [d for d in report.days if d.side == side]
        _panel(ax, report, side, days, top)
    title = f"{report.asset} · max adverse move over {report.horizon_days} days, by verdict"
    fig.suptitle(title, fontsize=14, fontweight="bold")
    fig.text(0.5, 0.935, _subtitle(report), ha="center", va="center", fontsize=10, color="#444444")
    fig.tight_layout(rect=(0, 0, 1, 0.91))
    return fig


def chart_png(report: BacktestReport) -> bytes:
    """The chart as PNG bytes (WIDTH_PX × HEIGHT_PX); the same report gives the same bytes."""
    fig = chart_figure(report)
    buffer = io.BytesIO()
    FigureCanvasAgg(fig)
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def write_chart(report: BacktestReport, path: str | Path) -> None:
    """Write the chart PNG to `path` atomically (temp file, then rename); OSError on failure."""
    target = Path(path)
    data = chart_png(report)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(target)


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d")


def _subtitle(report: BacktestReport) -> str:
    first = (
        f"{report.days_evaluated} days graded {_day(report.first_t)} → {_day(report.last_t)}"
        f" at {report.leverage:g}x"
    )
    second = (
        f"{report.independent_windows} independent {report.horizon_days}-day windows"
        " · past frequencies, not promises"
    )
    if report.label:
        second = f"{report.label} · {second}"
    return f"{first}\n{second}"


def _top(report: BacktestReport) -> float:
    """A shared y-axis top (in %) that shows every point and the liquidation line."""
    highest = max((d.mae for d in report.days), default=0.0)
    return max(highest, report.liq_distance) * 100 * 1.12


def _panel(ax: Axes, report: BacktestReport, side: str, days: list[DayResult], top: float) -> None:
    liq_pct = report.liq_distance * 100
    groups = [[d for d in days if d.flags_verdict == v] for v in VERDICTS]
    positions = np.arange(len(VERDICTS), dtype=float)
    filled = [(p, g) for p, g in zip(positions, groups, strict=True) if g]
    if filled:
        ax.boxplot(
            [np.array([d.mae for d in g]) * 100 for _, g in filled],
            positions=[p for p, _ in filled],
            widths=0.5,
            whis=(5, 95),
            showfliers=False,
            medianprops={"color": "black", "linewidth": 2},
            boxprops={"linewidth": 1.2},
        )
    for position, group in zip(positions, groups, strict=True):
        if not group:
            ax.text(position, top * 0.5, "no days", ha="center", color="#777777", fontsize=11)
            continue
        mae = np.array([d.mae for d in group]) * 100
        # evenly spread offsets, not random jitter: the same report draws the same picture
        offsets = (np.arange(len(mae)) % 9 - 4) / 4 * 0.18
        hit = np.array([d.liquidated for d in group])
        ax.scatter(
            position + offsets[~hit], mae[~hit], s=9, alpha=0.45, color=_POINT_COLOUR, linewidths=0
        )
        ax.scatter(
            position + offsets[hit],
            mae[hit],
            s=14,
            alpha=0.9,
            color=LIQUIDATION_COLOUR,
            linewidths=0,
        )
    ax.axhline(liq_pct, color=LIQUIDATION_COLOUR, linestyle="--", linewidth=1.6)
    # named on the panel's title row, in the line's colour: inside the plot it sat across
    # the boxes' whiskers and points
    ax.text(
        1.0,
        1.0,
        f"liquidation at {report.leverage:g}x: {liq_pct:.2f}% away",
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        color=LIQUIDATION_COLOUR,
        fontsize=11,
        fontweight="bold",
    )
    ax.set_xticks(positions)
    ax.set_xticklabels([_tick(v, g) for v, g in zip(VERDICTS, groups, strict=True)], fontsize=10)
    for tick, verdict in zip(ax.get_xticklabels(), VERDICTS, strict=True):
        tick.set_color(VERDICT_COLOURS[verdict])
    ax.set_xlim(-0.6, len(VERDICTS) - 0.4)
    bottom = min(0.0, min((d.mae for d in days), default=0.0) * 100 * 1.1)
    ax.set_ylim(bottom, top)
    ax.set_ylabel("max adverse move (%)", fontsize=11)
    ax.set_title(side.upper(), loc="left", fontsize=13, fontweight="bold")
    ax.grid(True, axis="y", alpha=0.3)


def _tick(verdict: str, group: list[DayResult]) -> str:
    if not group:
        return f"{verdict}\nn = 0\n"
    hit = sum(1 for d in group if d.liquidated)
    return f"{verdict}\nn = {len(group)}\nliquidated {hit} ({hit / len(group):.0%})"
