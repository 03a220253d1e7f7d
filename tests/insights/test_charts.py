"""The KPI charts' layout: every piece of text has room inside the chart, however long the names it shows.

The room each text takes is worked out with `text_width` (the widest fonts the admin may be drawn in); the
browser test (test_dashboard_browser) checks the same in a real browser's fonts."""

from __future__ import annotations

import re
from xml.etree import ElementTree

import pytest

from insights.charts import (
    LABEL_SHARE,
    Bar,
    IntervalRow,
    bar_list_chart,
    column_chart,
    fit_lines,
    interval_chart,
    text_width,
)

SVG = "{http://www.w3.org/2000/svg}"
SLIP = "Ship-slip: no carrier scan 48h after the label"
LONG_NAME = "Address problem: self-fix link, hold the parcel at the depot and retry delivery the next working day"


def texts(svg: str) -> list[tuple[float, float, str, ElementTree.Element]]:
    """(left, right, the text drawn, the element) per line of text, by the charts' own measure."""
    root = ElementTree.fromstring(svg)
    found = []
    for text in root.iter(f"{SVG}text"):
        anchor, size = text.get("text-anchor", "start"), float(text.get("font-size"))
        lines = [(span.get("x"), span.text or "") for span in text.iter(f"{SVG}tspan")] or [(text.get("x"), text.text)]
        for x, line in lines:
            width = text_width(line, size)
            left = float(x) - {"start": 0, "middle": width / 2, "end": width}[anchor]
            found.append((left, left + width, line, text))
    return found


def view_width(svg: str) -> float:
    return float(re.search(r'viewBox="0 0 ([\d.]+) ', svg).group(1))


def assert_inside(svg: str) -> None:
    width = view_width(svg)
    outside = [(line, round(left), round(right)) for left, right, line, _ in texts(svg) if left < 0 or right > width]
    assert outside == []


def test_text_width_counts_wide_letters_wider_than_narrow_ones():
    assert text_width("iiii", 10) < text_width("nnnn", 10) < text_width("MMMM", 10)
    assert text_width("", 13) == 0


@pytest.mark.parametrize(
    ("text", "room", "most", "expected"),
    [
        ("Milestone: shipped", 500, 2, ["Milestone: shipped"]),
        (SLIP, 200, 2, ["Ship-slip: no carrier scan", "48h after the label"]),
        (SLIP, 200, 1, ["Ship-slip: no carrier scan…"]),
        ("Supercalifragilisticexpialidocious", 100, 2, ["Supercalifra…"]),
        ("", 100, 2, [""]),
    ],
)
def test_fit_lines_wraps_between_words_then_cuts_the_last_line_short(text, room, most, expected):
    lines = fit_lines(text, room, 13, most=most)

    assert lines == expected
    assert all(text_width(line, 13) <= room for line in lines)


def test_a_long_playbook_name_wraps_inside_the_comparison_and_the_hover_names_it_whole():
    rows = [
        IntervalRow(LONG_NAME, 0.08, 0.01, 0.15, measured=True),
        IntervalRow("Milestone: shipped", None, None, None, measured=False,
                    note="No holdout group: give the playbook a holdout share to measure it, then wait a month."),
        IntervalRow("Failed delivery attempt", None, None, None, measured=False, note="Too few orders to tell."),
    ]  # fmt: skip

    svg = interval_chart(chart_id="chart-holdout", title="Contacts prevented", description="…", rows=rows)

    assert_inside(svg)
    lines = texts(svg)
    label = next(element for _, _, line, element in lines if line.startswith("Address problem"))
    assert [span.text for span in label.iter(f"{SVG}tspan")][-1].endswith("…")  # two lines, then cut short
    assert label.find(f"{SVG}title").text == LONG_NAME
    # Labels take at most their share of the width; the short ones need no hover.
    assert max(right for _, right, line, _ in lines if line.startswith("Failed")) <= view_width(svg) * LABEL_SHARE + 4
    short = next(element for _, _, line, element in lines if line == "Failed delivery attempt")
    assert short.find(f"{SVG}title") is None
    # A long note wraps inside the plot rather than running past the chart's right edge.
    note = next(element for _, _, line, element in lines if line.startswith("No holdout group"))
    assert len(list(note.iter(f"{SVG}tspan"))) == 2


def test_the_label_column_is_as_wide_as_the_longest_label_needs():
    def plot_start(label: str) -> float:
        row = IntervalRow(label, 0.1, -0.2, 0.2, measured=True)  # the interval spans the whole plot
        svg = interval_chart(chart_id="chart-holdout", title="Contacts prevented", description="…", rows=[row])
        assert_inside(svg)
        return float(re.search(r'<g class="kpi-interval">.*?<line x1="([\d.]+)"', svg).group(1))

    assert plot_start("Failed payment: ask to update the card") > plot_start("Milestone: shipped") + 100


def test_a_column_chart_makes_room_for_its_largest_value_and_its_day_labels():
    bars = [Bar(f"Mar {day}", value, f"2026-03-{day:02d}: {value}") for day, value in [(1, 0), (2, 123_456), (31, 7)]]

    svg = column_chart(chart_id="chart-orders", title="Orders placed per day", description="…", bars=bars)

    assert_inside(svg)
    assert ">123,456</text>" in svg


def test_a_bar_list_cuts_a_long_category_short_and_keeps_its_values_in_view():
    bars = [Bar(LONG_NAME, 12_345, "12,345 answers"), Bar("4 of 5", 3, "3 answers")]

    svg = bar_list_chart(chart_id="chart-csat", title="Delivery ratings", description="…", bars=bars)

    assert_inside(svg)
    assert ">12,345</text>" in svg
    assert f"<title>{LONG_NAME}</title>" in svg
