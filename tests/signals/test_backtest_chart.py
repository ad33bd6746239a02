"""The track-record chart: a phone-size PNG, one panel per side, the engine's numbers drawn.

Each verdict's points are the max adverse moves the backtest computed (in %), the liquidated
ones in the liquidation colour, and every panel carries the liquidation distance of the
chosen leverage as a horizontal line.
"""

from __future__ import annotations

import struct
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PathCollection
from matplotlib.colors import to_hex

from signals.backtest import BacktestReport, BacktestRequest, run_backtest
from signals.backtest_chart import (
    HEIGHT_PX,
    LIQUIDATION_COLOUR,
    WIDTH_PX,
    chart_figure,
    chart_png,
    write_chart,
)
from signals.thresholds import Thresholds
from tests.helpers.history import history_of
from tests.signals.test_backtest import LEVERAGE, LIQ, LONG_MAE, hand_doc

TH = Thresholds()


@pytest.fixture(scope="module")
def report() -> BacktestReport:
    request = BacktestRequest("ETH", leverage=LEVERAGE, horizon_days=2)
    return run_backtest(history_of(hand_doc()), request, TH)


def png_size(png: bytes) -> tuple[int, int]:
    assert png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return int(width), int(height)


def points(ax: Axes) -> list[tuple[float, float, str]]:
    """Every scatter point of a panel: x, y and colour."""
    out = []
    for coll in ax.collections:
        if isinstance(coll, PathCollection) and len(coll.get_offsets()):
            colour = to_hex(coll.get_facecolor()[0], keep_alpha=False)
            out += [(float(x), float(y), colour) for x, y in coll.get_offsets()]
    return out


def texts(fig: object) -> str:
    found = [t.get_text() for t in fig.findobj(match=lambda o: hasattr(o, "get_text"))]  # type: ignore[attr-defined]
    return "\n".join(found)


def test_chart_is_a_deterministic_phone_size_png(report: BacktestReport) -> None:
    png = chart_png(report)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert png_size(png) == (WIDTH_PX, HEIGHT_PX)
    assert chart_png(report) == png


def test_one_panel_per_side(report: BacktestReport) -> None:
    assert [ax.get_title(loc="left") for ax in chart_figure(report).axes] == ["LONG", "SHORT"]
    one = replace(report, sides={"short": report.sides["short"]})
    assert [ax.get_title(loc="left") for ax in chart_figure(one).axes] == ["SHORT"]


def test_liquidation_distance_is_drawn_across_every_panel(report: BacktestReport) -> None:
    for ax in chart_figure(report).axes:
        flat = [
            line
            for line in ax.get_lines()
            if len(set(np.asarray(line.get_ydata(), dtype=float))) == 1
            and float(np.asarray(line.get_ydata(), dtype=float)[0]) == pytest.approx(LIQ * 100)
        ]
        assert len(flat) == 1
        assert to_hex(flat[0].get_color()) == LIQUIDATION_COLOUR
        low, high = ax.get_ylim()
        assert low <= LIQ * 100 <= high
        assert "liquidation at 10x: 9.50% away" in [t.get_text() for t in ax.texts]


def test_the_liquidation_label_sits_above_the_plot_never_on_its_boxes(
    report: BacktestReport,
) -> None:
    # on the demo the label sat across the wait box's whisker and its points
    fig = chart_figure(report)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    for ax in fig.axes:
        [label] = [t for t in ax.texts if t.get_text().startswith("liquidation at")]
        box = label.get_window_extent(renderer)
        plot = ax.get_window_extent(renderer)
        assert box.y0 >= plot.y1  # on the panel's title row
        assert box.x1 <= plot.x1 + 1
        title = ax.title.get_window_extent(renderer)  # and clear of "LONG"
        assert not box.overlaps(title)


def test_points_are_the_max_adverse_moves_by_verdict(report: BacktestReport) -> None:
    long_ax = chart_figure(report).axes[0]
    drawn = points(long_ax)
    # verdicts sit at x = 0 (proceed), 1 (reduce), 2 (wait); points are spread ± 0.2 around
    verdicts = ("proceed", "reduce", "wait")
    by_verdict = {
        v: sorted(y for x, y, _ in drawn if round(x) == i) for i, v in enumerate(verdicts)
    }
    assert by_verdict["proceed"] == pytest.approx(sorted(LONG_MAE[i] * 100 for i in (0, 2, 3)))
    assert by_verdict["reduce"] == pytest.approx(sorted(LONG_MAE[i] * 100 for i in (1, 4)))
    assert by_verdict["wait"] == []
    liquidated = sorted(y for _, y, c in drawn if c == LIQUIDATION_COLOUR)
    assert liquidated == pytest.approx(sorted(m * 100 for m in LONG_MAE if m >= LIQ))


def test_ticks_count_days_and_liquidations_and_empty_groups_say_so(report: BacktestReport) -> None:
    long_ax = chart_figure(report).axes[0]
    ticks = [t.get_text() for t in long_ax.get_xticklabels()]
    assert ticks == [
        "proceed\nn = 3\nliquidated 2 (67%)",
        "reduce\nn = 2\nliquidated 2 (100%)",
        "wait\nn = 0\n",
    ]
    assert "no days" in [t.get_text() for t in long_ax.texts]


def test_title_says_what_it_shows_and_labels_synthetic_data(report: BacktestReport) -> None:
    plain = texts(chart_figure(report))
    assert "ETH · max adverse move over 2 days, by verdict" in plain
    assert "5 days graded 2026-02-01 → 2026-02-05 at 10x" in plain
    assert "past frequencies, not promises" in plain
    assert "synthetic demo data" not in plain
    labelled = texts(chart_figure(replace(report, label="synthetic demo data")))
    assert "synthetic demo data" in labelled


def test_write_chart_is_atomic_and_reports_os_errors(
    report: BacktestReport, tmp_path: Path
) -> None:
    target = tmp_path / "chart.png"
    write_chart(report, target)
    assert target.read_bytes() == chart_png(report)
    assert [p.name for p in tmp_path.iterdir()] == ["chart.png"]
    with pytest.raises(OSError):
        write_chart(report, tmp_path / "missing-dir" / "chart.png")
