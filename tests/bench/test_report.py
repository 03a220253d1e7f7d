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

    assert set(charts) == {"sweeps", "tracking", "ingestion", "notify"}
    for chart in charts.values():
        assert chart.find(f"{SVG}title").text and chart.find(f"{SVG}desc").text
    assert "1,000,000" in charts["sweeps"].find(f"{SVG}desc").text
    assert "ratio 0.253" in charts["ingestion"].find(f"{SVG}desc").text
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
