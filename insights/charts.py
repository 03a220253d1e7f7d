"""Charts drawn on the server as inline SVG: no JavaScript, no external request, readable by screen readers.

Every chart is an `<svg role="img">` named by its `<title>` and summarised by its `<desc>` (the page also
shows the numbers as a table); each bar or point carries its own `<title>`, which browsers show on hover.
Colours come from CSS classes, so the admin's light and dark themes both apply.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# Widths in SVG units: the page scales each chart to its box, so a width near the box's size in CSS pixels keeps
# the text at its intended size (small multiples are narrower than the full-width comparison).
COLUMN_WIDTH, BAR_LIST_WIDTH, INTERVAL_WIDTH = 440, 640, 720


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    hover: str


@dataclass(frozen=True)
class IntervalRow:
    label: str
    estimate: float | None
    low: float | None
    high: float | None
    measured: bool
    note: str = ""


def _frame(chart_id: str, title: str, description: str, width: int, height: int, body: list[str]) -> SafeString:
    # Every piece of text in `body` and here is escaped: the SVG is safe to mark so.
    return mark_safe(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="kpi-chart" role="img" viewBox="0 0 {width} {height}" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" id="{chart_id}" preserveAspectRatio="xMidYMid meet">'
        f'<title id="{chart_id}-title">{escape(title)}</title><desc id="{chart_id}-desc">{escape(description)}</desc>'
        + "".join(body)
        + "</svg>"
    )


def column_chart(*, chart_id: str, title: str, description: str, bars: list[Bar], height: int = 150) -> SafeString:
    """Vertical bars, one per point (a day), scaled to the largest; the first and last labels under the axis."""
    width = COLUMN_WIDTH
    left, right, top, bottom = 36, 8, 12, 22
    plot_width, plot_height = width - left - right, height - top - bottom
    largest = max((bar.value for bar in bars), default=0) or 1
    step = plot_width / max(len(bars), 1)
    body = [
        f'<line class="kpi-axis" x1="{left}" y1="{top + plot_height}" x2="{width - right}" y2="{top + plot_height}"/>',
        f'<text class="kpi-tick" x="{left - 4}" y="{top + 4}" text-anchor="end">{_number(largest)}</text>',
        f'<text class="kpi-tick" x="{left - 4}" y="{top + plot_height}" text-anchor="end">0</text>',
    ]
    for index, bar in enumerate(bars):
        bar_height = plot_height * bar.value / largest
        x = left + index * step + step * 0.1
        body.append(
            f'<rect class="kpi-bar" x="{x:.1f}" y="{top + plot_height - bar_height:.1f}" width="{step * 0.8:.1f}" '
            f'height="{bar_height:.1f}"><title>{escape(bar.hover)}</title></rect>'
        )
    if bars:
        body.append(
            f'<text class="kpi-tick" x="{left}" y="{height - 6}" text-anchor="start">{escape(bars[0].label)}</text>'
        )
        body.append(
            f'<text class="kpi-tick" x="{width - right}" y="{height - 6}" text-anchor="end">'
            f"{escape(bars[-1].label)}</text>"
        )
    return _frame(chart_id, title, description, width, height, body)


def bar_list_chart(*, chart_id: str, title: str, description: str, bars: list[Bar]) -> SafeString:
    """Horizontal bars with their label on the left and value on the right (categories, not time)."""
    width = BAR_LIST_WIDTH
    row_height, label_width, value_width = 26, 150, 70
    height = row_height * max(len(bars), 1) + 8
    plot_width = width - label_width - value_width
    largest = max((bar.value for bar in bars), default=0) or 1
    body = []
    for index, bar in enumerate(bars):
        y = 4 + index * row_height
        body.append(
            f'<text class="kpi-label" x="{label_width - 8}" y="{y + 17}" text-anchor="end">{escape(bar.label)}</text>'
            f'<rect class="kpi-bar" x="{label_width}" y="{y + 5}" width="{plot_width * bar.value / largest:.1f}" '
            f'height="{row_height - 10}"><title>{escape(bar.hover)}</title></rect>'
            f'<text class="kpi-label" x="{width - 4}" y="{y + 17}" text-anchor="end">{_number(bar.value)}</text>'
        )
    return _frame(chart_id, title, description, width, height, body)


def interval_chart(*, chart_id: str, title: str, description: str, rows: list[IntervalRow]) -> SafeString:
    """A forest plot: per row, the estimate as a dot and its 95% interval as a line, around a zero line.
    Rows without enough data are listed with their note instead of a line. Values are fractions, drawn
    in percentage points."""
    width = INTERVAL_WIDTH
    row_height, label_width, note_x = 28, 220, 230
    height = row_height * max(len(rows), 1) + 30
    right = 16
    ends = [v for row in rows if row.measured for v in (row.low, row.high) if v is not None]
    reach = max([abs(v) for v in ends] + [0.01])
    span_left, span_right = label_width + 10, width - right

    def x_of(value: float) -> float:
        return span_left + (value + reach) / (2 * reach) * (span_right - span_left)

    zero = x_of(0)
    body = [
        f'<line class="kpi-zero" x1="{zero:.1f}" y1="4" x2="{zero:.1f}" y2="{height - 24}"/>',
        f'<text class="kpi-tick" x="{span_left}" y="{height - 8}" text-anchor="start">{-100 * reach:+.1f} pts</text>',
        f'<text class="kpi-tick" x="{zero:.1f}" y="{height - 8}" text-anchor="middle">0</text>',
        f'<text class="kpi-tick" x="{span_right}" y="{height - 8}" text-anchor="end">{100 * reach:+.1f} pts</text>',
    ]
    for index, row in enumerate(rows):
        y = 4 + index * row_height + row_height / 2
        body.append(
            f'<text class="kpi-label" x="{label_width}" y="{y + 4:.1f}" text-anchor="end">{escape(row.label)}</text>'
        )
        if row.measured and row.estimate is not None:
            hover = (
                f"{row.label}: {100 * row.estimate:+.1f} points "
                f"(95% interval {100 * row.low:+.1f} to {100 * row.high:+.1f})"
            )
            body.append(
                f'<g class="kpi-interval"><title>{escape(hover)}</title>'
                f'<line x1="{x_of(row.low):.1f}" y1="{y:.1f}" x2="{x_of(row.high):.1f}" y2="{y:.1f}"/>'
                f'<circle cx="{x_of(row.estimate):.1f}" cy="{y:.1f}" r="5"/></g>'
            )
        else:
            body.append(
                f'<text class="kpi-note" x="{note_x}" y="{y + 4:.1f}" text-anchor="start">{escape(row.note)}</text>'
            )
    return _frame(chart_id, title, description, width, height, body)


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
