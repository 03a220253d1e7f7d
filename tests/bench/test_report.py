"""The benchmarks' charts, drawn from the results of a full run (`tests/bench/results/`, copied from
`bench/results/` after `make bench`): every chart is a standalone SVG with its title and figures."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from xml.etree import ElementTree

from bench.report import write_report

RESULTS = Path(__file__).parent / "results"
SVG = "{http://www.w3.org/2000/svg}"


def drawn(tmp_path: Path) -> dict[str, ElementTree.Element]:
    written = write_report(tmp_path)
    return {path.stem: ElementTree.parse(path).getroot() for path in written if path.suffix == ".svg"}


def test_a_full_run_gets_a_chart_per_benchmark_and_a_page_with_them_and_their_targets(tmp_path):
    for path in RESULTS.glob("*.json"):
        shutil.copy(path, tmp_path)

    charts = drawn(tmp_path)

    assert set(charts) == {"sweeps", "tracking", "ingestion", "notify", "memory"}
    for chart in charts.values():
        assert chart.find(f"{SVG}title").text and chart.find(f"{SVG}desc").text
    assert "1,000,000" in charts["sweeps"].find(f"{SVG}desc").text
    assert "ratio 0.274" in charts["ingestion"].find(f"{SVG}desc").text
    assert "tracking · saturated then steady · gunicorn" in charts["memory"].find(f"{SVG}desc").text
    page = (tmp_path / "report.html").read_text()
    assert '<img src="notify.svg"' in page and "ratio_at_least_half" in page and "not met" in page


def test_a_run_of_the_configured_workers_alone_is_drawn_too(tmp_path):
    """BENCH_RQ_WORKER_CLASS runs only the configured workers' time to notify."""
    notify = json.loads((RESULTS / "notify.json").read_text())
    notify["figures"] = {"rq_workers": 2, "configured": notify["figures"]["simple"]}
    notify["targets"] = {"configured_p99_under_2s": notify["targets"]["simple_p99_under_2s"]}
    (tmp_path / "notify.json").write_text(json.dumps(notify))

    charts = drawn(tmp_path)

    assert set(charts) == {"notify"}
    assert "End to end p50" in charts["notify"].find(f"{SVG}desc").text


def test_nothing_is_drawn_without_results(tmp_path):
    assert write_report(tmp_path) == []


def memory_figures(series: list[list[float]], growth: float | None) -> dict:
    return {
        "processes": 3,
        "total_rss_first_mb": series[0][1] if series else None,
        "total_rss_last_mb": series[-1][1] if series else None,
        "growth_mb_per_minute": growth,
        "series": series,
    }


def test_memory_gets_a_line_per_load_and_kind_of_process_with_what_it_grew(tmp_path):
    warm_then_flat = [[0.0, 279.0], [20.0, 295.0], [150.0, 296.5], [300.0, 296.7]]
    memory = {
        "benchmark": "memory",
        "scale": "small",
        "machine": {"date": "2026-12-07T14:00:00+00:00"},
        "figures": {
            "notify": {
                "configured_offered": {
                    "gunicorn": memory_figures([[0.0, 368.3], [300.0, 375.4]], 0.68),
                    "rqworkers": memory_figures(warm_then_flat, 0.0),
                }
            },
            # A load too short for a growth figure is drawn without one; results from before the series
            # were kept are left out.
            "ingestion": {
                "steady": {"gunicorn": memory_figures([[0.0, 383.1], [15.0, 383.4]], None)},
                "wrk_runs": {"gunicorn": {"total_rss_max_mb": 380.0}},
            },
        },
    }
    (tmp_path / "memory.json").write_text(json.dumps(memory))

    chart = drawn(tmp_path)["memory"]

    assert len(chart.findall(f"{SVG}polyline")) == 3
    description = chart.find(f"{SVG}desc").text
    assert "notify · configured offered · rqworkers: 279 → 297 MB in 300 s, then +0.0 MB/min" in description
    assert description.endswith("ingestion · steady · gunicorn: 383 → 383 MB in 15 s.")
    assert "wrk runs" not in description
    assert "<h2>memory (small" in (tmp_path / "report.html").read_text()
