"""`make bench` runs from start to charts: every benchmark, tiny (BENCH_SCALE=smoke), against the real
servers it starts (PostgreSQL, Redis, gunicorn, RQ workers, wrk, the fake Twilio). Nothing here judges a
figure: at this size they mean nothing. What it catches is a benchmark that no longer runs, or results
that the report cannot draw, before someone spends a full run finding out."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bench.__main__ import BENCHMARKS
from bench.common import ROOT

RESULTS = [*BENCHMARKS, "memory"]


def test_every_benchmark_runs_to_its_results_charts_and_verdict(tmp_path):
    env = {name: value for name, value in os.environ.items() if not name.startswith(("BENCH_", "DJANGO_"))}
    env |= {"BENCH_SCALE": "smoke", "BENCH_RESULTS": str(tmp_path)}

    run = subprocess.run(
        [sys.executable, "-m", "bench"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )

    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    for name in RESULTS:
        result = json.loads((tmp_path / f"{name}.json").read_text())
        assert (result["benchmark"], result["scale"]) == (name, "smoke")
        assert (tmp_path / f"{name}.svg").read_text().startswith("<svg")
    assert '<img src="memory.svg"' in (tmp_path / "report.html").read_text()
    assert "targets: " in run.stdout and " met" in run.stdout
