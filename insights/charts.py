"""Charts drawn on the server as inline SVG: no JavaScript, no external request, readable by screen readers.

Every chart is an `<svg role="img">` named by its `<title>` and summarised by its `<desc>` (the page also
shows the numbers as a table); each bar or point carries its own `<title>`, which browsers show on hover.
Colours come from CSS classes, so the admin's light and dark themes both apply; sizes come from here, since
the layout is worked out from them.

Text is laid out before any browser sees it: each chart reserves room for its longest label, measured with
`text_width`, and a label longer than the room a chart can give is wrapped, then cut short with "…", its
whole text in a `<title>` (shown on hover).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# Widths in SVG units: the page scales each chart to its box, so a width near the box's size in CSS pixels keeps
# the text at its intended size (small multiples are narrower than the full-width comparison).
COLUMN_WIDTH, BAR_LIST_WIDTH, INTERVAL_WIDTH = 440, 640, 720
# Font sizes in SVG units: ticks and notes, labels.
TICK_SIZE, LABEL_SIZE = 12, 13
LINE_HEIGHT = 1.25  # between the lines of a wrapped label, in font sizes
# The most of a chart's width its row labels may take; longer labels wrap (then are cut short).
LABEL_SHARE = 0.4

# How wide characters are drawn, in ems, grouped and rounded up: DejaVu Sans's advance widths (Debian's
# sans-serif, and wider than the admin's other fonts, Segoe UI, Roboto, Helvetica or Arial), so that text laid
# out with them fits whichever of those the browser has. Anything else counts as a whole em.
_EMS = (
    (0.3, "ijlIJ'|"),
    (0.42, " .,:;-/()[]!frt"),
    (0.64, 'abcdeghknopqsuvxyz0123456789?_"#$*<=>^`{}~'),
    (0.8, "ABCDEFGHKLNOPQRSTUVXYZ&"),
)
_WIDTHS = {char: em for em, chars in _EMS for char in chars}


def text_width(text: str, size: float) -> float:
    """How wide `text` is at most when drawn at font size `size`, in the same units."""
    return size * sum(_WIDTHS.get(char, 1.0) for char in text)


def fit_lines(text: str, room: float, size: float, *, most: int = 2) -> list[str]:
    """`text` in at most `most` lines each no wider than `room`: broken between words, and the last line cut
    short with "…" when the rest does not fit (as is a single word wider than the room)."""
    words, lines = text.split(), []
    while words and len(lines) < most:
        line = words.pop(0)
        while words and text_width(f"{line} {words[0]}", size) <= room:
            line += " " + words.pop(0)
        lines.append(line)
    if words:
        lines[-1] += " " + " ".join(words)
    return [line if text_width(line, size) <= room else _cut(line, room, size) for line in lines] or [""]


def _cut(text: str, room: float, size: float) -> str:
    while text and text_width(text.rstrip() + "…", size) > room:
        text = text[:-1]
    return text.rstrip() + "…"


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


def _frame(chart_id: str, title: str, description: str, width: int, height: float, body: list[str]) -> SafeString:
    # Every piece of text in `body` and here is escaped: the SVG is safe to mark so.
    return mark_safe(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="kpi-chart" role="img" viewBox="0 0 {width} {height:g}" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" id="{chart_id}" preserveAspectRatio="xMidYMid meet">'
        f'<title id="{chart_id}-title">{escape(title)}</title><desc id="{chart_id}-desc">{escape(description)}</desc>'
        + "".join(body)
        + "</svg>"
    )


def _text(x: float, y: float, text: str, *, css: str, size: int = TICK_SIZE, anchor: str = "start") -> str:
    """One line of text, `y` its baseline."""
    return (
        f'<text class="{css}" x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}">{escape(text)}</text>'
    )


def _block(x: float, middle: float, text: str, lines: list[str], *, css: str, size: int, anchor: str) -> str:
    """Text of one or more lines (`lines`, laid out by fit_lines) centred on `middle`; the whole `text` in its
    `<title>` when the lines show less of it."""
    step = size * LINE_HEIGHT
    first = middle - step * (len(lines) - 1) / 2 + size * 0.35  # the first baseline: the block centred on middle
    spans = "".join(
        f'<tspan x="{x:.1f}" y="{first + index * step:.1f}">{escape(line)}</tspan>' for index, line in enumerate(lines)
    )
    shortened = " ".join(lines) != " ".join(text.split())
    hover = f"<title>{escape(text)}</title>" if shortened else ""
    return f'<text class="{css}" font-size="{size}" text-anchor="{anchor}">{hover}{spans}</text>'


def _block_height(lines: list[str], size: int) -> float:
    return size * LINE_HEIGHT * len(lines)


def column_chart(*, chart_id: str, title: str, description: str, bars: list[Bar], height: int = 150) -> SafeString:
    """Vertical bars, one per point (a day), scaled to the largest; the first and last labels under the axis."""
    width = COLUMN_WIDTH
    largest = max((bar.value for bar in bars), default=0) or 1
    right, top, bottom = 8, 14, 22
    left = text_width(_number(largest), TICK_SIZE) + 8  # room for the axis's largest value
    plot_width, plot_height = width - left - right, height - top - bottom
    step = plot_width / max(len(bars), 1)
    axis_y = top + plot_height
    body = [
        f'<line class="kpi-axis" x1="{left:.1f}" y1="{axis_y}" x2="{width - right}" y2="{axis_y}"/>',
        _text(left - 4, top + 4, _number(largest), css="kpi-tick", anchor="end"),
        _text(left - 4, axis_y, "0", css="kpi-tick", anchor="end"),
    ]
    for index, bar in enumerate(bars):
        bar_height = plot_height * bar.value / largest
        x = left + index * step + step * 0.1
        body.append(
            f'<rect class="kpi-bar" x="{x:.1f}" y="{axis_y - bar_height:.1f}" width="{step * 0.8:.1f}" '
            f'height="{bar_height:.1f}"><title>{escape(bar.hover)}</title></rect>'
        )
    if bars:
        body.append(_text(left, height - 6, bars[0].label, css="kpi-tick"))
    if len(bars) > 1:
        body.append(_text(width - right, height - 6, bars[-1].label, css="kpi-tick", anchor="end"))
    return _frame(chart_id, title, description, width, height, body)


def bar_list_chart(*, chart_id: str, title: str, description: str, bars: list[Bar]) -> SafeString:
    """Horizontal bars with their label on the left and value on the right (categories, not time)."""
    width, row_height, gap = BAR_LIST_WIDTH, 26, 8
    label_room = min(max((text_width(bar.label, LABEL_SIZE) for bar in bars), default=0), width * LABEL_SHARE)
    value_room = max((text_width(_number(bar.value), LABEL_SIZE) for bar in bars), default=0)
    bar_left, plot_width = 4 + label_room + gap, width - 4 - label_room - value_room - 3 * gap
    height = row_height * max(len(bars), 1) + 8
    largest = max((bar.value for bar in bars), default=0) or 1
    body = []
    for index, bar in enumerate(bars):
        middle = 4 + index * row_height + row_height / 2
        lines = fit_lines(bar.label, label_room, LABEL_SIZE, most=1)
        value = _number(bar.value)
        body += [
            _block(bar_left - gap, middle, bar.label, lines, css="kpi-label", size=LABEL_SIZE, anchor="end"),
            f'<rect class="kpi-bar" x="{bar_left:.1f}" y="{middle - row_height / 2 + 5:.1f}" '
            f'width="{plot_width * bar.value / largest:.1f}" height="{row_height - 10}">'
            f"<title>{escape(bar.hover)}</title></rect>",
            _text(width - 4, middle + LABEL_SIZE * 0.35, value, css="kpi-label", size=LABEL_SIZE, anchor="end"),
        ]
    return _frame(chart_id, title, description, width, height, body)


def interval_chart(*, chart_id: str, title: str, description: str, rows: list[IntervalRow]) -> SafeString:
    """A forest plot: per row, the estimate as a dot and its 95% interval as a line, around a zero line.
    Rows without enough data are listed with their note instead of a line. Values are fractions, drawn
    in percentage points. Labels take the room the longest needs, up to LABEL_SHARE of the width, and wrap
    on two lines beyond; notes wrap in the plot's width."""
    width, row_height, margin, gap, right, axis = INTERVAL_WIDTH, 28, 4, 12, 16, 30
    label_room = min(max((text_width(row.label, LABEL_SIZE) for row in rows), default=0), width * LABEL_SHARE)
    span_left, span_right = margin + label_room + gap, width - right
    laid_out = [
        (
            row,
            fit_lines(row.label, label_room, LABEL_SIZE),
            fit_lines(row.note, span_right - span_left, TICK_SIZE) if not _drawn(row) else [],
        )
        for row in rows
    ]
    heights = [
        max(row_height, _block_height(label, LABEL_SIZE) + 8, _block_height(note, TICK_SIZE) + 8)
        for _, label, note in laid_out
    ]
    height = sum(heights) + axis if rows else row_height + axis
    ends = [v for row in rows if row.measured for v in (row.low, row.high) if v is not None]
    reach = max([abs(v) for v in ends] + [0.01])

    def x_of(value: float) -> float:
        return span_left + (value + reach) / (2 * reach) * (span_right - span_left)

    zero = x_of(0)
    body = [
        f'<line class="kpi-zero" x1="{zero:.1f}" y1="4" x2="{zero:.1f}" y2="{height - axis + 6:.1f}"/>',
        _text(span_left, height - 8, f"{-100 * reach:+.1f} pts", css="kpi-tick"),
        _text(zero, height - 8, "0", css="kpi-tick", anchor="middle"),
        _text(span_right, height - 8, f"{100 * reach:+.1f} pts", css="kpi-tick", anchor="end"),
    ]
    top = 4.0
    for (row, label, note), row_height_here in zip(laid_out, heights, strict=True):
        y = top + row_height_here / 2
        top += row_height_here
        body.append(_block(span_left - gap, y, row.label, label, css="kpi-label", size=LABEL_SIZE, anchor="end"))
        if _drawn(row):
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
            body.append(_block(span_left, y, row.note, note, css="kpi-note", size=TICK_SIZE, anchor="start"))
    return _frame(chart_id, title, description, width, height, body)


def _drawn(row: IntervalRow) -> bool:
    return row.measured and row.estimate is not None


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
