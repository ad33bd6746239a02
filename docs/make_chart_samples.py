"""Render the sample charts in docs/ from the bundled demo snapshot.

ETH over 7, 30 and 90 days, with the headline the engine gives a 1x idea on both sides —
the same pictures `/chart ETH 7d|30d|90d` sends for the demo data.

    .venv/bin/python docs/make_chart_samples.py          # writes docs/chart-{7d,30d,90d}.png
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from signals.chart import WINDOWS, ChartHeadline, chart_png  # noqa: E402
from signals.grade import grade_check  # noqa: E402
from signals.idea import TradeIdea  # noqa: E402
from signals.snapshot import DEMO_PATH, load_snapshot  # noqa: E402
from signals.stress import side_stress  # noqa: E402
from signals.thresholds import Thresholds  # noqa: E402

ASSET = "ETH"


def main() -> None:
    """Grade the demo asset, then write one PNG per window next to this script."""
    asof, assets = load_snapshot(DEMO_PATH)
    data = assets[ASSET]
    th = Thresholds()
    result = grade_check(TradeIdea(asset=ASSET, side=None), data, asof, th)
    headline = []
    for grade in result.grades:
        stress = side_stress(grade, th)
        headline.append(
            ChartHeadline(
                grade.verdict,
                stress.caution_flags,
                side=grade.side,
                unknown_flags=stress.unknown_flags,
            )
        )
    for window in WINDOWS:
        png = chart_png(data, asof, window, headline=headline, thresholds=th)
        path = ROOT / "docs" / f"chart-{window}.png"
        path.write_bytes(png)
        print(f"{path.relative_to(ROOT)}: {len(png) // 1024} KB")


if __name__ == "__main__":
    main()
