"""The run's figures as charts: one SVG per benchmark in `bench/results/`, and `report.html` with them all
and every target's verdict. `python -m bench` writes them at the end of a run; `python -m bench.report`
draws them again from the JSON already there.

Each SVG carries its own style and a `<title>`/`<desc>` (screen readers, and the README, which shows them
as images); every bar and point has a `<title>` with its figure, shown on hover.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any

from .common import RESULTS

WIDTH = 760
STYLE = (
    "text{font:13px system-ui,sans-serif;fill:#333}.quiet{fill:#666;font-size:12px}.head{font-weight:600}"
    ".axis{stroke:#bbb}.target{stroke:#b3261e;stroke-dasharray:5 4}.target-label{fill:#b3261e;font-size:12px}"
    ".a{fill:#9cc3d5}.b{fill:#2f6f8f}.c{fill:#e0a458}.d{fill:#7a9e7e}.e{fill:#b58db6}.f{fill:#c9c9c9}"
    ".on-bar{fill:#fff;font-size:12px}.line-a{stroke:#9cc3d5;fill:none;stroke-width:2}.line-b{stroke:#2f6f8f;fill:none;stroke-width:2}"
)
STAGE_CLASSES = "abcdef"


class Svg:
    """A chart being drawn: its elements in order, then framed with its title, description and style."""

    def __init__(self, height: int) -> None:
        self.height = height
        self.parts: list[str] = []

    def text(self, x: float, y: float, text: str, *, anchor: str = "start", css: str = "") -> None:
        klass = f' class="{css}"' if css else ""
        self.parts.append(f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{klass}>{escape(text)}</text>')

    def rect(self, x: float, y: float, width: float, height: float, css: str, hover: str) -> None:
        self.parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(width, 0.5):.1f}" height="{height:.1f}" class="{css}">'
            f"<title>{escape(hover)}</title></rect>"
        )

    def line(self, x1: float, y1: float, x2: float, y2: float, css: str) -> None:
        self.parts.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" class="{css}"/>')

    def polyline(self, xy: list[tuple[float, float]], css: str) -> None:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
        self.parts.append(f'<polyline points="{path}" class="line-{css}"/>')

    def points(self, xy: list[tuple[float, float, str]], css: str) -> None:
        """A line through the points, each a dot with its own hover text."""
        self.polyline([(x, y) for x, y, _ in xy], css)
        for x, y, hover in xy:
            self.parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" class="{css}"><title>{escape(hover)}</title></circle>'
            )

    def legend(self, x: float, y: float, entries: list[tuple[str, str]]) -> None:
        for css, label in entries:
            self.parts.append(f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="12" height="12" class="{css}"/>')
            self.text(x + 17, y, label, css="quiet")
            x += 30 + 7 * len(label)

    def render(self, title: str, description: str) -> str:
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {self.height}" width="{WIDTH}" '
            f'height="{self.height}" role="img" aria-labelledby="t d"><title id="t">{escape(title)}</title>'
            f'<desc id="d">{escape(description)}</desc><style>{STYLE}</style>'
            f'<rect width="100%" height="100%" fill="#fff"/>' + "".join(self.parts) + "</svg>\n"
        )


def _n(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def sweeps_chart(result: dict[str, Any]) -> str:
    """Each detector's sweep at the two sizes, slowest first: the bars should barely grow."""
    figures = result["figures"]
    small, large = (str(size) for size in figures["sizes"])
    rows = sorted(figures["detectors"].items(), key=lambda item: -item[1]["ms"][large])
    top, row, label_width, right = 44, 30, 190, 200
    svg = Svg(top + row * len(rows) + 34)
    plot = WIDTH - label_width - right
    largest = max(max(d["ms"].values()) for _, d in rows) or 1
    svg.text(8, 18, f"Sweep time per detector at {int(small):,} and {int(large):,} shipments (ms)", css="head")
    svg.legend(8, 36, [("a", f"{int(small):,} shipments"), ("b", f"{int(large):,}")])
    for index, (name, detector) in enumerate(rows):
        y = top + index * row
        svg.text(label_width - 8, y + 19, name, anchor="end")
        for offset, size, css in ((4, small, "a"), (15, large, "b")):
            ms = detector["ms"][size]
            exceptions = detector["at"][size]["exceptions"]
            hover = f"{name} at {int(size):,} shipments: {ms} ms, {exceptions:,} exceptions in flight"
            svg.rect(label_width, y + offset, plot * ms / largest, 10, css, hover)
        at_large = detector["at"][large]
        svg.text(
            label_width + plot * detector["ms"][large] / largest + 6,
            y + 24,
            f"{_n(detector['ms'][large])} ms · {at_large['exceptions']:,} in flight",
            css="quiet",
        )
    target = result["targets"]["sweep_under_1s"]
    svg.text(8, svg.height - 10, f"Target: {target['target']}: {_verdict(target)}", css="quiet")
    return svg.render(
        "Sweep time per detector",
        f"Each detector's sweep in milliseconds at {int(small):,} and {int(large):,} shipments; the slowest "
        f"at {int(large):,} takes {figures['slowest_sweep_at_large']['ms']} ms.",
    )


def tracking_chart(result: dict[str, Any]) -> str:
    """The tracking page's p50 and p99 at a steady share of its saturated rate, against the 50 ms target."""
    figures = result["figures"]
    curve = figures["latency_curve"]
    saturated = figures["saturated"]["requests_per_s"]
    left, top, bottom, right = 60, 40, 50, 30
    svg = Svg(320)
    plot_w, plot_h = WIDTH - left - right, svg.height - top - bottom
    ceiling = math.ceil(max([50.0] + [point["p99"] for point in curve]) * 1.1 / 20) * 20

    def xy(rate: float, ms: float) -> tuple[float, float]:
        return left + plot_w * rate / saturated, top + plot_h * (1 - min(ms, ceiling) / ceiling)

    shipments = result["scale_config"]["sweep_sizes"][-1]
    svg.text(8, 18, f"Tracking page latency at a steady rate, {shipments:,} shipments (ms)", css="head")
    svg.legend(WIDTH - 250, 18, [("a", "p50"), ("b", "p99")])
    svg.line(left, top + plot_h, left + plot_w, top + plot_h, "axis")
    svg.line(left, top, left, top + plot_h, "axis")
    _, target_y = xy(0, 50)
    svg.line(left, target_y, left + plot_w, target_y, "target")
    svg.text(left + plot_w, target_y - 6, "target: p99 under 50 ms at half the saturated rate", anchor="end",
             css="target-label")  # fmt: skip
    for quantile, css in (("p50", "a"), ("p99", "b")):
        svg.points(
            [
                (*xy(p["rate_per_s"], p[quantile]), f"{p['rate_per_s']} req/s: {quantile} {p[quantile]} ms")
                for p in curve
            ],
            css,
        )
    for share in (0.25, 0.5, 0.75, 1.0):
        x, _ = xy(saturated * share, 0)
        svg.text(x, top + plot_h + 18, f"{saturated * share:,.0f}", anchor="middle", css="quiet")
    svg.text(left + plot_w / 2, svg.height - 8, f"requests per second (saturated: {saturated:,.0f})",
             anchor="middle", css="quiet")  # fmt: skip
    for ms in (0, ceiling / 2, ceiling):
        _, y = xy(0, ms)
        svg.text(left - 6, y + 4, f"{ms:,.0f}", anchor="end", css="quiet")
    return svg.render(
        "Tracking page latency under load",
        "p50 and p99 of the tracking page at "
        + ", ".join(f"{p['rate_per_s']} req/s ({p['p50']} / {p['p99']} ms)" for p in curve)
        + f"; saturated at {saturated:,.0f} req/s.",
    )


def ingestion_chart(result: dict[str, Any]) -> str:
    """Webhooks accepted a second next to the bare view's answers, with the 50% target marked."""
    figures = result["figures"]
    bare, webhook = figures["bare_view"]["ok_per_s"], figures["webhook"]["ok_per_s"]
    label_width, right = 190, 80
    svg = Svg(160)
    plot = WIDTH - label_width - right
    svg.text(8, 18, "Requests answered per second, same gunicorn, same run", css="head")
    for index, (label, value, css) in enumerate((("bare Django view", bare, "a"), ("signed webhooks", webhook, "b"))):
        y = 42 + index * 32
        svg.text(label_width - 8, y + 16, label, anchor="end")
        svg.rect(label_width, y, plot * value / bare, 22, css, f"{label}: {value:,.0f}/s")
        svg.text(label_width + plot * value / bare + 6, y + 16, f"{value:,.0f}/s", css="quiet")
    half = label_width + plot / 2
    svg.line(half, 26, half, 110, "target")
    svg.text(half + 4, 34, "half the bare view", css="target-label")
    target = result["targets"]["ratio_at_least_half"]
    svg.text(8, 130, f"Target (dashed): {target['target']}: ratio {figures['ratio']}, {_verdict(target)}",
             css="target-label")  # fmt: skip
    drained, steady = figures["draining"], figures["steady"]
    keeping_up = (
        f"The workers: a burst of {drained['processed']:,} drained at {drained['deliveries_per_s']:,.0f}/s; "
        f"at a steady {steady['offered_rate']:,.0f}/s, lag p50 {_n(steady['lag']['p50_ms'])} ms, "
        f"p99 {_n(steady['lag']['p99_ms'])} ms."
    )
    svg.text(8, 150, keeping_up, css="quiet")
    return svg.render(
        "Webhook ingestion against a bare view",
        f"The bare view answered {bare:,.0f} requests a second, the webhook accepted {webhook:,.0f}: "
        f"ratio {figures['ratio']}. {keeping_up}",
    )


def notify_chart(result: dict[str, Any]) -> str:
    """Where a customer's wait goes, webhook to Twilio: the median of each stage, stacked."""
    # The default workers' run: "simple" in a full run, "configured" when BENCH_RQ_WORKER_CLASS chose them.
    key = next(key for key in ("simple", "configured", "forking") if key in result["figures"])
    run = result["figures"][key]
    offered = run["offered"]
    stages = offered["stages"]
    label_width, right = 20, 20
    svg = Svg(150)
    plot = WIDTH - label_width - right
    total = sum(stage["p50_ms"] for stage in stages.values()) or 1
    svg.text(8, 18, f"Time to notify at {offered['offered_rate']:,.0f} events/s, {run['worker_class']}: "
             "the median of each stage (ms)", css="head")  # fmt: skip
    x = label_width
    for css, (name, stage) in zip(STAGE_CLASSES, stages.items(), strict=False):
        width = plot * stage["p50_ms"] / total
        svg.rect(x, 32, width, 28, css, f"{name.replace('_', ' ')}: p50 {stage['p50_ms']} ms, p99 {stage['p99_ms']} ms")
        if width > 60:
            svg.text(x + width / 2, 51, f"{_n(stage['p50_ms'])} ms", anchor="middle", css="on-bar")
        x += width
    entries = [(css, name.replace("_", " ")) for css, name in zip(STAGE_CLASSES, stages, strict=False)]
    svg.legend(label_width, 82, entries[:3])
    svg.legend(label_width, 102, entries[3:])
    whole = offered["time_to_notify"]
    target = result["targets"].get(f"{key}_p99_under_2s")
    verdict = f"; target {target['target']}: {_verdict(target)}" if target else ""
    svg.text(8, 136, f"End to end: p50 {_n(whole['p50_ms'])} ms, p99 {_n(whole['p99_ms'])} ms{verdict}", css="quiet")
    return svg.render(
        "Time to notify, stage by stage",
        "Median milliseconds of each stage from the carrier's webhook to the SMS accepted by Twilio: "
        + ", ".join(f"{name.replace('_', ' ')} {stage['p50_ms']}" for name, stage in stages.items())
        + f". End to end p50 {whole['p50_ms']} ms, p99 {whole['p99_ms']} ms.",
    )


# A row's vertical scale spans at least this many MB, so that a flat line is drawn flat, not as noise.
MEMORY_MIN_SPAN_MB = 20


def erasure_chart(result: dict[str, Any]) -> str:
    """One customer's erasure (p50, p99) against its 1 s target, and the rate of a whole store's."""
    one, store = result["figures"]["one_customer"], result["figures"]["whole_store"]
    label_width, right, limit = 190, 80, 1000
    scale = max(limit, one["p99_ms"] or 0) * 1.1
    svg = Svg(170)
    plot = WIDTH - label_width - right
    svg.text(8, 18, f"Erasing one customer's personal data ({one['customers']} customers, ms)", css="head")
    for index, (label, key, css) in enumerate((("p50", "p50_ms", "a"), ("p99", "p99_ms", "b"))):
        y, value = 42 + index * 32, one[key] or 0
        svg.text(label_width - 8, y + 16, label, anchor="end")
        svg.rect(label_width, y, plot * value / scale, 22, css, f"{label}: {value:,.1f} ms")
        svg.text(label_width + plot * value / scale + 6, y + 16, f"{_n(value)} ms", css="quiet")
    at = label_width + plot * limit / scale
    svg.line(at, 26, at, 110, "target")
    svg.text(at + 4, 34, "1 s", css="target-label")
    whole = (
        f"A whole store: {store['customers']:,} customers and {store['orders']:,} orders in {store['seconds']} s, "
        f"{_n(store['customers_per_s'] or 0)} customers a second."
    )
    searched = f"{one['store_deliveries']:,} raw webhooks in {_n(one['webhook_search_ms'])} ms"
    svg.text(8, 135, f"{one['queries_p50']:.0f} queries each (median); then a job searches the store's {searched}.",
             css="quiet")  # fmt: skip
    svg.text(8, 155, whole, css="quiet")
    return svg.render(
        "Erasing personal data",
        f"One customer: p50 {one['p50_ms']} ms, p99 {one['p99_ms']} ms. {whole}",
    )


def memory_chart(result: dict[str, Any]) -> str:
    """Each load's resident memory over its run, a row per kind of process: a leak is a line still rising
    at its right end, after the warm-up at its left."""
    rows = [
        (f"{benchmark} · {load.replace('_', ' ')} · {role}", figures)
        for benchmark, loads in result["figures"].items()
        for load, roles in loads.items()
        for role, figures in roles.items()
        if len(figures.get("series") or []) >= 2
    ]
    label_width, spark_width, row, top = 320, 130, 30, 36
    svg = Svg(top + row * len(rows) + 30)
    svg.text(8, 18, "Resident memory during each load (MB, the processes of a kind together)", css="head")
    descriptions = []
    for index, (label, figures) in enumerate(rows):
        y = top + index * row
        series = figures["series"]
        low, high = min(mb for _, mb in series), max(mb for _, mb in series)
        span, seconds = max(high - low, MEMORY_MIN_SPAN_MB), series[-1][0] or 1
        bottom = low - (span - (high - low)) / 2  # a line that moves less than the span sits mid-row
        line = [
            (label_width + spark_width * t / seconds, y + row - 8 - (row - 12) * (mb - bottom) / span)
            for t, mb in series
        ]
        svg.text(label_width - 10, y + 16, label, anchor="end")
        svg.polyline(line, "b")
        growth = figures.get("growth_mb_per_minute")
        said = f"{figures['total_rss_first_mb']:,.0f} → {figures['total_rss_last_mb']:,.0f} MB in {seconds:,.0f} s"
        if growth is not None:
            said += f", then {growth:+.1f} MB/min"
        svg.text(label_width + spark_width + 12, y + 16, said, css="quiet")
        descriptions.append(f"{label}: {said}")
    footer = f"Each line spans its own load, at least {MEMORY_MIN_SPAN_MB} MB high; then: growth over its second half."
    svg.text(8, svg.height - 10, footer, css="quiet")
    return svg.render("Resident memory over each load", "; ".join(descriptions) + ".")


CHARTS: dict[str, Callable[[dict[str, Any]], str]] = {
    "sweeps": sweeps_chart,
    "tracking": tracking_chart,
    "ingestion": ingestion_chart,
    "notify": notify_chart,
    "erasure": erasure_chart,
    "memory": memory_chart,
}


def _verdict(target: dict[str, Any]) -> str:
    return "met" if target.get("met") else "not met"


def write_report(results: Path = RESULTS) -> list[Path]:
    """Draw a chart for each benchmark with results, and report.html with them and their targets."""
    written, sections = [], []
    for name, chart in CHARTS.items():
        path = results / f"{name}.json"
        if not path.exists():
            continue
        result = json.loads(path.read_text())
        svg_path = results / f"{name}.svg"
        svg_path.write_text(chart(result))
        written.append(svg_path)
        rows = "".join(
            f"<tr><td>{escape(key)}</td><td>{escape(str(t.get('target')))}</td><td>{escape(str(t.get('value')))}</td>"
            f"<td>{_verdict(t)}</td></tr>"
            for key, t in result.get("targets", {}).items()
        )
        sections.append(
            f"<section><h2>{escape(name)} ({escape(result['scale'])}, {escape(result['machine']['date'])})</h2>"
            f'<img src="{svg_path.name}" alt="{escape(name)} chart">'
            + (f"<table><tr><th>target</th><th></th><th>value</th><th></th></tr>{rows}</table>" if rows else "")
            + "</section>"
        )
    if sections:
        page = results / "report.html"
        page.write_text(
            '<!doctype html><meta charset="utf-8"><title>CX hub benchmarks</title>'
            "<style>body{font:15px system-ui,sans-serif;max-width:800px;margin:2rem auto;color:#222}"
            "img{max-width:100%}td,th{padding:.2rem .5rem;text-align:left;vertical-align:top}</style>"
            "<h1>CX hub benchmarks</h1>" + "".join(sections) + "\n"
        )
        written.append(page)
    return written


if __name__ == "__main__":
    for written_path in write_report():
        print(written_path)
    sys.exit(0)
