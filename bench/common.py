"""What every benchmark shares: the scale, the servers, load generators, memory sampling and results.

Servers are real and throwaway: PostgreSQL and Redis from `tests/services.py` (the ones the test suite
uses) on free loopback ports, gunicorn and `manage.py rqworker` processes started from this checkout
with `bench.settings`. Only processes started here are ever stopped, each by its own pid.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import math
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# BENCH_RESULTS: elsewhere than bench/results (the suite's smoke run writes to a temporary directory).
RESULTS = Path(os.environ.get("BENCH_RESULTS") or ROOT / "bench" / "results").resolve()
WRK_SCRIPTS = ROOT / "bench" / "wrk"
PYTHON = sys.executable
SETTINGS = "bench.settings"
SECRET_KEY = "bench-secret-key-not-for-production-0123456789abcdef"
# Requests look like they came through the production TLS proxy (see bench/settings.py).
PROXY_HEADERS = {"X-Forwarded-Proto": "https"}


@dataclass(frozen=True)
class Scale:
    """How big and how long. `full` is what the issue asks for; `small` checks that everything works;
    `smoke`, too small to measure anything, is the suite's check that every benchmark runs to its charts."""

    name: str
    sweep_sizes: tuple[int, int]  # shipments at the two sweep measurements (the larger one is kept)
    wrk_seconds: int  # each wrk run (bare view, webhook, tracking page)
    paced_seconds: int  # the paced webhook run that shows the workers keeping up
    notify_seconds: int  # the steady time-to-notify run
    notify_rate: float  # events per second in the time-to-notify run
    drain_seconds: int  # how long to wait for workers to work off a backlog
    ingest_pool: int  # shipments the ingestion webhooks scan
    tracking_orders: int  # distinct orders whose tracking pages wrk requests

    @property
    def shipments(self) -> int:
        return self.sweep_sizes[1]


SCALES = {
    "full": Scale("full", (100_000, 1_000_000), 30, 45, 60, 100.0, 180, 20_000, 5_000),
    "small": Scale("small", (2_000, 20_000), 8, 15, 15, 100.0, 60, 2_000, 1_000),
    "smoke": Scale("smoke", (300, 1_000), 1, 2, 2, 20.0, 30, 200, 50),
}


# What the environment may change in a scale: (variable, field, what its value must be).
SCALE_KNOBS = [
    # Above what the workers manage, the time-to-notify run measures their capacity (its work rate).
    ("BENCH_NOTIFY_RATE", "notify_rate", "a number of events per second"),
    # Longer runs are soaks: whether the long-lived processes' memory keeps growing (memory.json).
    ("BENCH_NOTIFY_SECONDS", "notify_seconds", "a number of seconds"),
    ("BENCH_WRK_SECONDS", "wrk_seconds", "a number of seconds"),
]


def scale_from_env() -> Scale:
    name = os.environ.get("BENCH_SCALE", "full").strip().lower() or "full"
    if name not in SCALES:
        raise SystemExit(f"BENCH_SCALE must be one of {', '.join(SCALES)}, not {name!r}")
    scale = SCALES[name]
    for variable, field_name, what in SCALE_KNOBS:
        text = os.environ.get(variable, "").strip()
        if not text:
            continue
        try:
            value = float(text)
        except ValueError:
            value = 0.0
        if not 0 < value < float("inf"):
            raise SystemExit(f"{variable} must be {what} above 0, not {text!r}")
        kind = type(getattr(scale, field_name))
        scale = dataclasses.replace(scale, **{field_name: kind(math.ceil(value)) if kind is int else value})
    return scale


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- Figures ---------------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile (share in 0..100) of unsorted values; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share / 100 * len(ordered)))
    return ordered[rank - 1]


def summary_ms(values_s: Sequence[float]) -> dict[str, float | int | None]:
    """Count, p50/p90/p99/max and mean of durations given in seconds, in milliseconds."""

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 1)

    return {
        "count": len(values_s),
        "p50_ms": ms(percentile(values_s, 50)),
        "p90_ms": ms(percentile(values_s, 90)),
        "p99_ms": ms(percentile(values_s, 99)),
        "max_ms": ms(max(values_s) if values_s else None),
        "mean_ms": ms(sum(values_s) / len(values_s) if values_s else None),
    }


def target(description: str, value: float | None, limit: float, *, at_least: bool = False) -> dict[str, Any]:
    """A target as reported in the JSON: what it is, the measured value and whether it was met."""
    met = value is not None and (value >= limit if at_least else value < limit)
    return {"target": description, "value": value, "met": met}


# --- Machine ------------------------------------------------------------------------------------------------------


def _first_line(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (done.stdout or done.stderr).strip().splitlines()[0] if (done.stdout or done.stderr).strip() else ""


def machine_info() -> dict[str, Any]:
    """What the figures came from: they mean little without the machine (and its load) next to them."""
    import django
    import gunicorn
    from django.db import connection
    from django_rq import get_connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
        cursor.execute("SHOW shared_buffers")
        shared_buffers = cursor.fetchone()[0]
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    mem_kb = next((int(line.split()[1]) for line in meminfo if line.startswith("MemTotal:")), 0)
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "")
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpu_cores": os.cpu_count(),
        "cpu_model": model or platform.processor(),
        "ram_gb": round(mem_kb / 1024 / 1024, 1),
        # The machine may be shared: the load average as the benchmark ends says how busy it was meanwhile.
        "load_average_1_5_15min_at_end": [round(x, 2) for x in os.getloadavg()],
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "django": django.get_version(),
        "gunicorn": gunicorn.__version__,
        "postgresql": postgres,
        "postgresql_shared_buffers": shared_buffers,
        "redis": get_connection("default").info("server").get("redis_version"),
        "wrk": _first_line(["wrk", "--version"]),
    }


def write_result(name: str, scale: Scale, figures: dict[str, Any], **sections: Any) -> Path:
    """bench/results/<name>.json: figures, targets and config next to the machine they came from."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    document = {"benchmark": name, "scale": scale.name, "scale_config": asdict(scale), **sections}
    document["figures"] = figures
    document["machine"] = machine_info()
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    log(f"wrote {shown(path)}")
    TARGET_RECORDS.extend((f"{name}.{key}", target) for key, target in sections.get("targets", {}).items())
    if "memory" in sections:
        MEMORY_RECORDS[name] = sections["memory"]
    return path


def shown(path: Path) -> Path:
    """A path as the log shows it: within the repository, from its root."""
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


# Every target the run's benchmarks judged, for the summary at the end of the run.
TARGET_RECORDS: list[tuple[str, dict[str, Any]]] = []


def targets_summary() -> list[str]:
    """The run's verdict in a few lines, the targets missed spelled out (so a miss is not left in a JSON file)."""
    missed = [(name, target) for name, target in TARGET_RECORDS if not target.get("met")]
    lines = [f"targets: {len(TARGET_RECORDS) - len(missed)} of {len(TARGET_RECORDS)} met"]
    lines += [f"  NOT MET {name} = {target.get('value')}: {target.get('target')}" for name, target in missed]
    return lines


# --- Processes ----------------------------------------------------------------------------------------------------


def server_env(**extra: str) -> dict[str, str]:
    """The environment of every process started here: the bench settings and the throwaway servers."""
    env = dict(os.environ)
    env.update({"DJANGO_SETTINGS_MODULE": SETTINGS, "SECRET_KEY": SECRET_KEY, "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


class Process:
    """A child process whose output goes to a log file; stopped by its own pid (and waited for)."""

    def __init__(self, name: str, command: list[str], logdir: Path, env: dict[str, str]) -> None:
        self.name = name
        self.logfile = logdir / f"{name}.log"
        with self.logfile.open("ab") as out:
            self.popen = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self, timeout: float = 20.0) -> None:
        if self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)

    def check_running(self) -> None:
        if self.popen.poll() is not None:
            tail = self.logfile.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{tail}")


class Gunicorn:
    """The project's WSGI app under gunicorn on loopback, as production runs it (sync workers)."""

    def __init__(self, logdir: Path, workers: int, env: dict[str, str]) -> None:
        from tests.services import free_port

        self.workers = workers
        self.port = free_port()
        command = [PYTHON, "-m", "gunicorn", "cxhub.wsgi", "--bind", f"127.0.0.1:{self.port}"]
        command += ["--workers", str(workers), "--backlog", "2048", "--timeout", "60"]
        self.process = Process("gunicorn", command, logdir, env)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 60.0) -> None:
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.process.check_running()
            try:
                request = urllib.request.Request(self.base_url + "/healthz", headers=PROXY_HEADERS)
                with urllib.request.urlopen(request, timeout=5) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer /healthz in time")

    def warm_up(self, paths: Iterable[str]) -> None:
        """One request per worker and path, so imports and connections are not in the measurement."""
        import urllib.request

        for path in paths:
            for _ in range(self.workers * 3):
                request = urllib.request.Request(self.base_url + path, headers=PROXY_HEADERS)
                with contextlib.suppress(Exception), urllib.request.urlopen(request, timeout=10):
                    pass

    def stop(self) -> None:
        self.process.stop()


class RqWorkers:
    """`manage.py rqworker high default low` processes, as the README runs them; the first one also runs the
    scheduler (delayed retries)."""

    def __init__(self, logdir: Path, count: int, env: dict[str, str], worker_class: str | None = None) -> None:
        self.processes = []
        # "" is the project's default, settings.RQ["WORKER_CLASS"]: cxhub.worker.SimpleWorker (jobs run in the
        # worker process itself), warmed up before its first job. BENCH_RQ_WORKER_CLASS changes the default,
        # e.g. cxhub.worker.Worker (a work horse forked per job, started warm) or rq.worker.Worker (RQ's own,
        # whose horses load the twilio SDK, the registries... again for every job).
        self.worker_class = os.environ.get("BENCH_RQ_WORKER_CLASS", "") if worker_class is None else worker_class
        suffix = "-" + self.worker_class.rsplit(".", 1)[-1] if self.worker_class else ""
        for index in range(count):
            command = [PYTHON, "manage.py", "rqworker", "high", "default", "low"]
            if self.worker_class:
                command += ["--worker-class", self.worker_class]
            if index == 0:
                command.append("--with-scheduler")
            self.processes.append(Process(f"rqworker-{index + 1}{suffix}", command, logdir, env))

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    @property
    def class_path(self) -> str:
        """The worker class the processes run (the settings' default when none was given)."""
        from django_rq.workers import get_worker_class

        worker_class = get_worker_class(self.worker_class or None)
        return f"{worker_class.__module__}.{worker_class.__qualname__}"

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until every worker has registered with Redis (it then takes jobs at once)."""
        from django_rq import get_connection
        from rq import Worker

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for process in self.processes:
                process.check_running()
            if len(Worker.all(connection=get_connection("default"))) >= len(self.processes):
                return
            time.sleep(0.2)
        raise RuntimeError("the RQ workers did not register in time")

    def stop(self) -> None:
        for process in self.processes:
            process.popen.send_signal(signal.SIGTERM)
        for process in self.processes:
            process.stop()


def queues_empty() -> None:
    """Drop every queued job (left over by a benchmark that ran without workers, or a saturated run)."""
    import django_rq

    from cxhub.jobs import QUEUES

    for name in QUEUES:
        queue = django_rq.get_queue(name)
        queue.empty()
        # Finished jobs are kept for 500 s: forget them, so job_durations() covers the next run only.
        queue.connection.delete(queue.finished_job_registry.key)
        # A coalesced job's key would hold back the next burst's job until it expires (cxhub/jobs.py).
        for key in queue.connection.scan_iter("cxhub:coalesced:*"):
            queue.connection.delete(key)


def work_abandon() -> None:
    """Drop what a saturated run left to do: the queued jobs, and the work the hub keeps in its tables for
    its drain jobs (deliveries not applied yet, cases not acted on, messages not sent), so that the next
    measurement starts with nothing to do."""
    from notifications.models import Message
    from orders.models import InboundDelivery
    from playbooks.models import ExceptionCase

    queues_empty()
    left = "left over by the benchmark"
    InboundDelivery.objects.filter(state__in=["received", "processing", "waiting"]).update(state="ignored", error=left)
    ExceptionCase.objects.filter(state="open", playbook_version__isnull=True).update(state="dismissed", resolution=left)
    Message.objects.filter(status__in=["scheduled", "queued", "sending"]).update(status="failed", error=left)


def queued_jobs() -> int:
    import django_rq

    from cxhub.jobs import QUEUES

    queues = [django_rq.get_queue(name) for name in QUEUES]
    return sum(q.count for q in queues) + sum(q.started_job_registry.count for q in queues)


def job_durations(limit: int = 3000) -> dict[str, dict[str, float | int]]:
    """How long each kind of job ran (started -> ended, inside the worker; RQ keeps finished jobs for 500 s),
    per job function: what a worker spends per event, stage by stage."""
    import django_rq
    from rq.job import Job

    from cxhub.jobs import QUEUES

    durations: dict[str, list[float]] = {}
    for name in QUEUES:
        queue = django_rq.get_queue(name)
        ids = queue.finished_job_registry.get_job_ids(0, limit - 1, desc=True)
        for job in Job.fetch_many(ids, connection=queue.connection):
            if job is None or job.started_at is None or job.ended_at is None:
                continue
            function = job.func_name.rsplit(".", 1)[-1]
            durations.setdefault(function, []).append((job.ended_at - job.started_at).total_seconds())
    return {function: summary_ms(values) for function, values in sorted(durations.items())}


# --- Memory -------------------------------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            found += [int(child) for child in task.read_text().split()]
    return found


def rss_mb(pid: int) -> float | None:
    """Resident memory of one process from /proc (VmRSS), in MB; None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


# --- CPU by role ----------------------------------------------------------------------------------------------------

# Which part of the machine a process is, from its command line (every part shares the same cores here).
CPU_ROLES = [("gunicorn", "web"), ("postgres", "postgresql"), ("wrk", "load_generator"), ("redis-server", "redis"),
             ("rqworker", "rq_workers")]  # fmt: skip
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds_by_process() -> dict[int, tuple[str, float]]:
    """Every process's role and its CPU time so far (user + system, from /proc), with the time of the children
    it has reaped: a PostgreSQL backend closed or a work horse that exited still counts, under its parent's
    role. This process's children are the load generator (CpuMeter)."""
    found, unreaped, own = {}, {}, os.getpid()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int(stat.parent.name)
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = stat.read_text().rpartition(")")[2].split()
            role = next((role for marker, role in CPU_ROLES if marker in cmdline), "other")
            # A process that exited but is not reaped yet has no command line: its time is its parent's
            # role's, where the parent's reaping moves it (a closed backend would read as "other", then
            # PostgreSQL's once reaped).
            if not cmdline:
                unreaped[pid] = int(fields[1])
            found[pid] = (role, sum(int(f) for f in fields[11 : 13 if pid == own else 15]) / CLOCK_TICKS)
    for pid, parent in unreaped.items():
        if parent in found:
            found[pid] = (found[parent][0], found[pid][1])
    return found


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class CpuMeter:
    """CPU time each role spent while the block ran, per request: where a rate's cost goes on shared cores.
    The web and database processes outlive a run and are read from /proc; the load generator has exited by
    the end of the block, so its share is what this process's finished children used meanwhile."""

    def __enter__(self) -> CpuMeter:
        self.before = cpu_seconds_by_process()
        self.children_before = _children_cpu_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        spent = {"load_generator": _children_cpu_seconds() - self.children_before}
        # All processes now less all before: one that exited meanwhile moved its time into its parent's.
        for sign, processes in ((1, cpu_seconds_by_process()), (-1, self.before)):
            for role, seconds in processes.values():
                spent[role] = spent.get(role, 0.0) + sign * seconds
        self.spent = spent

    def per_request_ms(self, requests: int) -> dict[str, float]:
        return {role: round(1000 * seconds / requests, 3) for role, seconds in sorted(self.spent.items()) if requests}


def per_core_rates(cpu_ms_per_request: dict[str, float], roles: tuple[str, ...]) -> dict[str, int | None]:
    """Requests a second one busy core of each role would serve at the CPU a request cost it: the figure to
    size machines by, which unlike a rate on shared cores does not depend on what else ran beside it."""
    return {role: round(1000 / ms) if (ms := cpu_ms_per_request.get(role)) else None for role in roles}


@dataclass
class RoleMemory:
    processes_max: int = 0
    per_process_max_mb: float = 0.0
    total_samples: list[tuple[float, float]] = field(default_factory=list)  # (seconds into the load, MB)

    def as_dict(self) -> dict[str, Any]:
        totals = [mb for _, mb in self.total_samples]
        return {
            "processes": self.processes_max,
            "total_rss_max_mb": round(max(totals, default=0.0), 1),
            "total_rss_mean_mb": round(sum(totals) / len(totals), 1) if totals else None,
            "largest_process_rss_max_mb": round(self.per_process_max_mb, 1),
            "total_rss_first_mb": round(totals[0], 1) if totals else None,
            "total_rss_last_mb": round(totals[-1], 1) if totals else None,
            "growth_mb_per_minute": growth_per_minute(self.total_samples),
            # For the chart (bench/report.py): at most SERIES_POINTS of the samples, evenly spaced.
            "series": [[round(t, 1), round(mb, 1)] for t, mb in evenly(self.total_samples, SERIES_POINTS)],
        }


SERIES_POINTS = 120


def evenly(items: Sequence[Any], most: int) -> list[Any]:
    """At most `most` of the items, evenly spaced, the first and the last always among them."""
    if len(items) <= most:
        return list(items)
    step = (len(items) - 1) / (most - 1)
    return [items[round(i * step)] for i in range(most)]


# Below this, a slope says more about one allocation than about a trend: a megabyte in the last seconds of
# a 15 s load would read as several a minute.
GROWTH_MIN_SECONDS = 60


def growth_per_minute(samples: Sequence[tuple[float, float]]) -> float | None:
    """How fast memory grew over the second half of a load (least squares, MB a minute): the first half
    holds the processes' warm-up (imports, caches filling), what is still growing after it is a leak.
    None for a load whose second half is shorter than GROWTH_MIN_SECONDS (a soak gives the figure)."""
    later = samples[len(samples) // 2 :]
    if len(later) < 2 or later[-1][0] - later[0][0] < GROWTH_MIN_SECONDS:
        return None
    slope = statistics.linear_regression([t for t, _ in later], [mb for _, mb in later]).slope
    return round(60 * slope, 2)


class MemorySampler:
    """Samples the RSS of process trees (gunicorn master + workers; each rqworker + its work horse)
    twice a second while a load runs."""

    def __init__(self, roles: dict[str, list[int]], interval: float = 0.5) -> None:
        self.roles = roles
        self.interval = interval
        self.memory = {role: RoleMemory() for role in roles}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)
        self._started = 0.0

    def _sample(self) -> None:
        for role, roots in self.roles.items():
            pids = list(roots)
            for root in roots:
                pids += _children(root)
            sizes = [size for size in (rss_mb(pid) for pid in pids) if size is not None]
            memory = self.memory[role]
            memory.processes_max = max(memory.processes_max, len(sizes))
            memory.total_samples.append((time.monotonic() - self._started, sum(sizes)))
            memory.per_process_max_mb = max([memory.per_process_max_mb, *sizes])

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> MemorySampler:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sample()

    def as_dict(self) -> dict[str, Any]:
        return {role: memory.as_dict() for role, memory in self.memory.items()}


# Every benchmark's memory figures, by load and kind of process (MemorySampler.as_dict() per load), collected
# by write_result for bench/results/memory.json.
MEMORY_RECORDS: dict[str, dict[str, dict[str, Any]]] = {}


# --- wrk ------------------------------------------------------------------------------------------------------------


def run_wrk(
    url: str,
    script: str,
    *,
    seconds: int,
    connections: int,
    threads: int = 2,
    args: Sequence[str] = (),
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run wrk with one of bench/wrk/*.lua; their done() prints a JSON summary, parsed here."""
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: `make bench` installs it (Debian package wrk)")
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency"]
    for name, value in {**PROXY_HEADERS, **(headers or {})}.items():
        command += ["-H", f"{name}: {value}"]
    command += ["-s", str(WRK_SCRIPTS / script), url]
    if args:
        command += ["--", *args]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 120)
    marker = "BENCH_JSON "
    line = next((line for line in done.stdout.splitlines() if line.startswith(marker)), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{done.stdout}\n{done.stderr}")
    raw = json.loads(line[len(marker) :])
    seconds_run = raw["duration_us"] / 1e6
    errors = raw["errors"]
    failed = errors["status"] + errors["connect"] + errors["read"] + errors["write"] + errors["timeout"]
    return {
        "seconds": round(seconds_run, 2),
        "threads": threads,
        "connections": connections,
        "requests": raw["requests"],
        "requests_per_s": round(raw["requests"] / seconds_run, 1),
        "ok_per_s": round((raw["requests"] - failed) / seconds_run, 1),
        "non_2xx_3xx": errors["status"],
        "socket_errors": {k: v for k, v in errors.items() if k != "status"},
        "latency_ms": {k: round(v / 1000, 2) for k, v in raw["latency_us"].items()},
    }


# --- Temporary files ------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def workdir() -> Iterator[Path]:
    """Logs of the servers and data files for wrk; kept (and named) if a benchmark fails."""
    path = Path(tempfile.mkdtemp(prefix="cxhub-bench-"))
    try:
        yield path
    except BaseException:
        log(f"server logs kept in {path}")
        raise
    if os.environ.get("BENCH_KEEP_LOGS"):
        log(f"server logs kept in {path} (BENCH_KEEP_LOGS)")
        return
    shutil.rmtree(path, ignore_errors=True)
