"""What the benchmarks read from the environment and how they judge memory over a load."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import pytest

from bench import common
from bench.common import (
    SCALES,
    cpu_seconds_by_process,
    evenly,
    growth_per_minute,
    per_core_rates,
    scale_from_env,
    write_result,
)


def samples(mb_at: Callable[[float], float], seconds: int = 180) -> list[tuple[float, float]]:
    """Two samples a second, as MemorySampler takes them."""
    return [(t / 2, mb_at(t / 2)) for t in range(2 * seconds)]


def test_memory_still_growing_after_the_warm_up_is_reported_per_minute():
    leaking = samples(lambda t: 300 + 0.05 * t)  # 3 MB a minute

    assert growth_per_minute(leaking) == pytest.approx(3.0)


def test_a_warm_up_in_the_first_half_of_the_load_is_not_growth():
    warming = samples(lambda t: 280 if t < 5 else 296)

    assert growth_per_minute(warming) == 0


def test_a_load_too_short_to_tell_has_no_growth_figure():
    """A megabyte allocated in the last seconds of a short load is not a trend."""
    assert growth_per_minute(samples(lambda t: 300 if t < 14 else 302, seconds=15)) is None
    assert growth_per_minute(samples(lambda t: 300, seconds=119)) is None
    assert growth_per_minute([]) is None


def test_the_chart_keeps_a_long_load_to_evenly_spaced_samples_from_its_first_to_its_last():
    kept = evenly(list(range(601)), 120)

    assert (len(kept), kept[0], kept[-1]) == (120, 0, 600)
    assert {b - a for a, b in pairwise(kept)} <= {5, 6}
    assert evenly([1, 2, 3], 120) == [1, 2, 3]


def test_the_loads_can_be_lengthened_into_soaks(monkeypatch):
    monkeypatch.setenv("BENCH_SCALE", "small")
    monkeypatch.setenv("BENCH_NOTIFY_SECONDS", "300")
    monkeypatch.setenv("BENCH_WRK_SECONDS", "239.5")

    scale = scale_from_env()

    assert (scale.notify_seconds, scale.wrk_seconds) == (300, 240)
    assert scale.notify_rate == SCALES["small"].notify_rate


def test_the_notify_rate_may_be_a_fraction(monkeypatch):
    monkeypatch.setenv("BENCH_NOTIFY_RATE", "12.5")

    assert scale_from_env().notify_rate == 12.5


@pytest.mark.parametrize("name", ["BENCH_NOTIFY_SECONDS", "BENCH_NOTIFY_RATE", "BENCH_WRK_SECONDS"])
@pytest.mark.parametrize("value", ["0", "-5", "soon", "inf"])
def test_a_length_or_rate_that_is_not_a_positive_number_stops_the_run_naming_the_variable(monkeypatch, name, value):
    monkeypatch.setenv(name, value)

    with pytest.raises(SystemExit, match=name):
        scale_from_env()


def test_one_cores_rate_is_what_a_request_costs_that_role_in_cpu():
    """1.25 ms of web CPU a webhook is 800 a second per web core, however many cores the run shared."""
    cpu_ms = {"web": 1.25, "postgresql": 0.5, "redis": 0.01}

    assert per_core_rates(cpu_ms, ("web", "postgresql")) == {"web": 800, "postgresql": 2000}


def test_a_role_that_spent_nothing_measurable_has_no_rate():
    assert per_core_rates({"web": 0.0}, ("web", "postgresql")) == {"web": None, "postgresql": None}


@pytest.mark.django_db  # the results name the machine, PostgreSQL and Redis they came from
def test_a_benchmarks_memory_is_kept_for_memory_json_by_load_and_kind_of_process(monkeypatch, tmp_path):
    monkeypatch.setattr(common, "ROOT", tmp_path)
    monkeypatch.setattr(common, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(common, "MEMORY_RECORDS", {})
    pages = {"saturated_then_steady": {"gunicorn": {"total_rss_max_mb": 383.4, "series": [[0.0, 377.0]]}}}

    write_result("tracking", SCALES["small"], {"saturated": {}}, memory=pages)
    write_result("sweeps", SCALES["small"], {"detectors": {}})

    recorded = common.MEMORY_RECORDS
    assert recorded == {"tracking": pages}


def test_a_process_exited_but_not_reaped_counts_under_its_parents_role():
    """Its time moves into its parent's once reaped: counted as "other" before, it would read as negative there
    and as extra in the parent's role (a closed PostgreSQL backend, a work horse)."""
    # The child is kept referenced: a Popen collected after its process exited reaps it.
    leaves_a_zombie = "import subprocess, time; c = subprocess.Popen('true'); print(c.pid, flush=True); time.sleep(30)"
    parent = subprocess.Popen([sys.executable, "-c", leaves_a_zombie, "rqworker"], stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())
        for _ in range(100):  # until it has exited
            if Path(f"/proc/{child}/stat").read_text().rpartition(")")[2].split()[0] == "Z":
                break
            time.sleep(0.02)

        assert cpu_seconds_by_process()[child][0] == "rq_workers"
    finally:
        parent.kill()
        parent.wait()
