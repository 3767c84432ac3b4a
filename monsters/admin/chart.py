"""The geometry of a small daily bar chart, drawn as inline SVG by a template.

Pure: counts in, rectangles and labels out (SVG user units), so it is tested without
a browser and served without JavaScript.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from monsters.admin.stats import DayCount

WIDTH = 720
HEIGHT = 200
# Room for the y-axis labels on the left and the dates underneath.
LEFT = 48
RIGHT = 24
BOTTOM = 22
TOP = 8
GAP = 2
GRIDLINES = 4
DATE_LABEL_EVERY = 7


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    count: int
    title: str  # the tooltip: date and count


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    baseline: float
    left: float
    right: float
    bars: list[Bar]
    gridlines: list[Label]  # y of each line, with its value as text
    date_labels: list[Label]
    peak: int
    total: int


def nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten that is at least `value` (>= 1)."""
    if value <= 1:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    raise AssertionError("unreachable: 10 * magnitude > value")


def _short_number(value: int) -> str:
    if value >= 1_000_000 and value % 100_000 == 0:
        return f"{value / 1_000_000:g}M"
    if value >= 1_000 and value % 100 == 0:
        return f"{value / 1_000:g}k"
    return str(value)


def bar_chart(days: Sequence[DayCount], *, width: int = WIDTH, height: int = HEIGHT) -> BarChart:
    """One bar per day, oldest on the left, under round-numbered gridlines."""
    peak = max((day.count for day in days), default=0)
    # Round gridline steps (1, 2 or 5 times a power of ten) with the peak under the top.
    grid_step = nice_ceiling(math.ceil(peak / GRIDLINES))
    scale_top = grid_step * GRIDLINES
    plot_width = width - LEFT - RIGHT
    plot_height = height - TOP - BOTTOM
    baseline = TOP + plot_height
    slot = plot_width / max(len(days), 1)

    bars = []
    date_labels = []
    for index, day in enumerate(days):
        bar_height = plot_height * day.count / scale_top
        x = LEFT + index * slot
        bars.append(
            Bar(
                x=round(x + GAP / 2, 2),
                y=round(baseline - bar_height, 2),
                width=round(max(slot - GAP, 1), 2),
                height=round(bar_height, 2),
                count=day.count,
                title=f"{day.day:%a %d %b}: {day.count:,}",
            )
        )
        # Label the newest day and every 7th before it, so today is always named.
        if (len(days) - 1 - index) % DATE_LABEL_EVERY == 0:
            date_labels.append(
                Label(x=round(x + slot / 2, 2), y=height - 6, text=f"{day.day:%d %b}")
            )

    gridlines = [
        Label(
            x=LEFT - 6,
            y=round(baseline - plot_height * step / GRIDLINES, 2),
            text=_short_number(grid_step * step),
        )
        for step in range(GRIDLINES + 1)
    ]
    return BarChart(
        width=width,
        height=height,
        baseline=baseline,
        left=LEFT,
        right=width - RIGHT,
        bars=bars,
        gridlines=gridlines,
        date_labels=date_labels,
        peak=peak,
        total=sum(day.count for day in days),
    )
