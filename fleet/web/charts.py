"""Server-rendered line charts as inline SVG.

No chart library and no JavaScript: a phone on a slow link gets a few hundred bytes of SVG per chart, and
the chart is there even with scripting off. Long windows are reduced to a fixed number of buckets (the
mean per bucket) so a 30-day chart of 15-minute readings costs as much as a 24-hour one. A gap in the data
(no reading for longer than a few buckets) breaks the line instead of drawing a straight lie across it.
"""

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from html import escape

WIDTH = 320
HEIGHT = 120
_LEFT = 34  # room for the y labels
_RIGHT = 6
_TOP = 8
_BOTTOM = 18  # room for the x labels
MAX_BUCKETS = 96
GAP_FACTOR = 2.5  # silence longer than 2.5 x the node's usual spacing breaks the line
MIN_GAP_BUCKETS = 3


def _usual_spacing(points: Sequence[tuple[datetime, float | None]]) -> float:
    """The median time between readings in seconds (0 with fewer than two readings)."""
    times = sorted(moment for moment, value in points if value is not None)
    steps = sorted((b - a).total_seconds() for a, b in zip(times, times[1:], strict=False))
    return steps[len(steps) // 2] if steps else 0.0


def _bucketed(
    points: Sequence[tuple[datetime, float | None]], start: datetime, end: datetime, buckets: int
) -> list[tuple[float, float] | None]:
    """Mean value per time bucket as (x fraction, value); None where a bucket holds no reading."""
    span = (end - start).total_seconds()
    sums = [0.0] * buckets
    counts = [0] * buckets
    for moment, value in points:
        if value is None:
            continue
        offset = (moment - start).total_seconds()
        if offset < 0 or offset > span:
            continue
        index = min(buckets - 1, int(offset / span * buckets))
        sums[index] += value
        counts[index] += 1
    return [((i + 0.5) / buckets, sums[i] / counts[i]) if counts[i] else None for i in range(buckets)]


def line_chart(
    points: Sequence[tuple[datetime, float | None]],
    *,
    start: datetime,
    end: datetime,
    y_min: float,
    y_max: float,
    title: str,
    y_label: Callable[[float], str],
    x_label: Callable[[datetime], str],
    threshold: float | None = None,
    empty_text: str = "no data",
) -> str:
    """An accessible SVG line chart of `points` between `start` and `end`.

    The y range is given (not taken from the data) so that a fill level chart always runs 0–100 % and a
    crew can compare two nodes at a glance; values outside it are drawn at the edge.
    """
    buckets = MAX_BUCKETS
    plot_w = WIDTH - _LEFT - _RIGHT
    plot_h = HEIGHT - _TOP - _BOTTOM
    if y_max <= y_min:
        y_max = y_min + 1

    def px(fraction: float) -> float:
        return _LEFT + fraction * plot_w

    def py(value: float) -> float:
        clipped = min(max(value, y_min), y_max)
        return _TOP + (1 - (clipped - y_min) / (y_max - y_min)) * plot_h

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
        f'<rect class="plot" x="{_LEFT}" y="{_TOP}" width="{plot_w}" height="{plot_h}"/>',
    ]
    for value in (y_min, (y_min + y_max) / 2, y_max):
        y = py(value)
        parts.append(f'<line class="grid" x1="{_LEFT}" y1="{y:.1f}" x2="{WIDTH - _RIGHT}" y2="{y:.1f}"/>')
        parts.append(f'<text class="yl" x="{_LEFT - 3}" y="{y + 3.5:.1f}">{escape(y_label(value))}</text>')
    for fraction in (0.0, 0.5, 1.0):
        moment = start + timedelta(seconds=(end - start).total_seconds() * fraction)
        anchor = "start" if fraction == 0 else "end" if fraction == 1 else "middle"
        parts.append(
            f'<text class="xl" x="{px(fraction):.1f}" y="{HEIGHT - 4}" '
            f'text-anchor="{anchor}">{escape(x_label(moment))}</text>'
        )
    if threshold is not None and y_min <= threshold <= y_max:
        y = py(threshold)
        parts.append(f'<line class="limit" x1="{_LEFT}" y1="{y:.1f}" x2="{WIDTH - _RIGHT}" y2="{y:.1f}"/>')

    series = _bucketed(points, start, end, buckets)
    bucket_s = (end - start).total_seconds() / buckets
    gap_limit = max(_usual_spacing(points) * GAP_FACTOR, bucket_s * MIN_GAP_BUCKETS)
    runs: list[list[tuple[float, float]]] = []
    current: list[tuple[float, float]] = []
    last_index = None
    for index, cell in enumerate(series):
        if cell is None:
            continue
        if current and (index - last_index) * bucket_s > gap_limit:
            runs.append(current)
            current = []
        last_index = index
        current.append(cell)
    if current:
        runs.append(current)

    if not runs:
        parts.append(
            f'<text class="empty" x="{px(0.5):.1f}" y="{_TOP + plot_h / 2:.1f}" '
            f'text-anchor="middle">{escape(empty_text)}</text>'
        )
    for run in runs:
        if len(run) == 1:
            fraction, value = run[0]
            parts.append(f'<circle class="dot" cx="{px(fraction):.1f}" cy="{py(value):.1f}" r="2.5"/>')
            continue
        coords = " ".join(f"{px(f):.1f},{py(v):.1f}" for f, v in run)
        parts.append(f'<polyline class="line" points="{coords}"/>')
    parts.append("</svg>")
    return "".join(parts)
