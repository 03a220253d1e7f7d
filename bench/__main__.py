"""`python -m bench [sweeps tracking ingestion notify erasure]`: run the benchmarks (all by default, in that order).

Starts a throwaway PostgreSQL and Redis (tests/services.py), migrates the database with the project's
migrations, seeds it (bench/data.py) and runs each benchmark against real gunicorn and RQ worker
processes. BENCH_SCALE=small runs a quick version (20k shipments, short loads); BENCH_DATABASE_URL and
BENCH_REDIS_URL use servers you already run instead (their settings are then left alone).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

from .common import (
    MEMORY_RECORDS,
    PYTHON,
    RESULTS,
    ROOT,
    SECRET_KEY,
    SETTINGS,
    log,
    scale_from_env,
    shown,
    targets_summary,
    workdir,
    write_result,
)
from .report import write_report

# The erasure runs last: it erases customers the others read.
BENCHMARKS = ["sweeps", "tracking", "ingestion", "notify", "erasure"]

# PostgreSQL as a production server would be set up on a machine this size: the data set's working set
# in shared buffers, and WAL room for the bulk load. Two planner settings differ from PostgreSQL's
# defaults, as recommended for this workload (bench/README.md): JIT off, because queries whose cost the
# planner overestimates (a detector's OR of EXISTS) pay 0.4-0.6 s of JIT compilation on every run; and
# random_page_cost 1.1, since the data sits in RAM or on SSD (with 4, the late-to-ship sweep hashes every
# shipment instead of probing an index). The sweeps report their queries under the defaults too.
# fsync and synchronous commits (which the test suite's throwaway server turns off) are on whenever
# something is timed, so commit costs are real.
TUNING = {
    "shared_buffers": "1GB",
    "effective_cache_size": "4GB",
    "maintenance_work_mem": "512MB",
    "work_mem": "16MB",
    "max_wal_size": "8GB",
    "jit": "off",
    "random_page_cost": "1.1",
}
DURABLE = ("fsync", "synchronous_commit", "full_page_writes")


class Servers:
    """PostgreSQL and Redis for the run: started here (and stopped after) unless BENCH_*_URL names them."""

    def __init__(self) -> None:
        self.started: list[Any] = []
        self.postgres: Any = None
        self.settings: dict[str, str] = {}

    def __enter__(self) -> Servers:
        from tests.services import PostgresServer, RedisServer

        database_url = os.environ.get("BENCH_DATABASE_URL", "")
        redis_url = os.environ.get("BENCH_REDIS_URL", "")
        if not database_url:
            self.postgres = PostgresServer()
            self.started.append(self.postgres)
            self.postgres.start()
            self._tune()
            self.durable(on=True)
            database_url = self.postgres.url
        if not redis_url:
            redis = RedisServer()
            self.started.append(redis)
            redis.start()
            redis_url = redis.url
        os.environ.update(
            {
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url,
                "DJANGO_SETTINGS_MODULE": SETTINGS,
                "SECRET_KEY": SECRET_KEY,
                "DEBUG": "false",
            }
        )
        log("migrating the benchmark database…")
        subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, check=True)
        return self

    def _psql(self, sql: str) -> None:
        from tests.services import find_binary

        psql = find_binary("psql")
        self.postgres._run(psql, "-h", "127.0.0.1", "-p", str(self.postgres.port), "-U", "postgres", "-c", sql)

    def _tune(self) -> None:
        from tests.services import find_binary

        for name, value in TUNING.items():
            self._psql(f"ALTER SYSTEM SET {name} = '{value}'")
        datadir, logfile = str(self.postgres.datadir), str(self.postgres.workdir / "log")
        # shared_buffers needs a restart; pg_ctl restart keeps the original command line (port, socket dir).
        self.postgres._run(find_binary("pg_ctl"), "-D", datadir, "-l", logfile, "-w", "-m", "fast", "restart")

    def durable(self, *, on: bool) -> None:
        """A production server's durability (on) for everything timed; off only while bulk-loading."""
        if self.postgres is None:
            return
        for name in DURABLE:
            self._psql(f"ALTER SYSTEM SET {name} = '{'on' if on else 'off'}'")
        self._psql("SELECT pg_reload_conf()")
        self.settings = {**TUNING, **{name: "on" if on else "off" for name in DURABLE}}

    @contextlib.contextmanager
    def loading(self) -> Iterator[None]:
        self.durable(on=False)
        try:
            yield
        finally:
            self.durable(on=True)

    def __exit__(self, *exc: object) -> None:
        while self.started:
            self.started.pop().stop()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("benchmarks", nargs="*", metavar="BENCHMARK", help=f"any of {', '.join(BENCHMARKS)}")
    names = parser.parse_args(argv).benchmarks or BENCHMARKS
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}: choose from {', '.join(BENCHMARKS)}")
    scale = scale_from_env()
    sys.path.insert(0, str(ROOT))
    started = time.monotonic()
    log(f"benchmarks {', '.join(names)} at scale {scale.name!r}")
    with workdir() as tmp, Servers() as servers:
        import django

        django.setup()
        from .context import Context
        from .data import Dataset

        ctx = Context(scale=scale, dataset=Dataset(recent_size=scale.sweep_sizes[0]), tmp=tmp, servers=servers)
        for name in names:
            if name != "sweeps":
                ctx.grow_to(scale.shipments)  # every load runs on the full data set
            importlib.import_module(f"bench.{name}").run(ctx)
        if MEMORY_RECORDS:
            write_result("memory", scale, MEMORY_RECORDS, config=ctx.config())
    for line in targets_summary():
        log(line)
    report = write_report()
    if report:
        log(f"charts: {', '.join(str(shown(path)) for path in report)}")
    log(f"done in {time.monotonic() - started:.0f}s; results in {shown(RESULTS)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
