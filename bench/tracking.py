"""Tracking page under load: `/track/<signed token>/` on gunicorn, with the full data set.

Customers open their tracking link while they wait, so 80% of the requests are for orders of the last 30
days (parcels in flight, with ETAs computed from history) and 20% for any order. The tokens are the ones
the hub puts in its messages (`portal.links.tracking_token`). The hub runs as in production: the default
FAQ entries seeded (`manage.py seed_faq`) and Django's cache in Redis (`CACHE_URL`).

Two loads:
- saturated: wrk keeps as many connections busy as gunicorn has workers, each sending its next request
  as soon as the last is answered (a closed loop): the throughput, and latency at full load.
- steady: requests at a fixed rate, sent on schedule whether or not the earlier ones were answered (an
  open loop, as customers arrive), at a quarter, half and three quarters of the saturated throughput:
  the latency curve, and the highest of those rates whose p99 is within the target (the capacity to
  plan with). Latency counts from when each request was due, so time spent waiting for a free sender or
  server is in it. The p99 target is judged at half: a service is not run at 100% of its capacity, and
  at saturation the latency is mostly queueing.
Queries per page, their times, CPU and the slowest ones are measured in-process for 30 of the same orders.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from .common import (
    PROXY_HEADERS,
    Gunicorn,
    MemorySampler,
    log,
    percentile,
    run_wrk,
    server_env,
    target,
    write_result,
)
from .context import Context
from .load import Sent, achieved_rate, requests_paced

# The steady runs offer these shares of the throughput the saturated run reached; the target is judged
# at STEADY_SHARE.
STEADY_SHARES = (0.25, 0.5, 0.75)
STEADY_SHARE = 0.5
P99_TARGET_MS = 50
# Senders of the steady run: enough that requests leave on time even when some answers are slow.
STEADY_SENDERS = 32


def sample_orders(ctx: Context, count: int) -> list[int]:
    rng = random.Random(7)
    recent_since = ctx.dataset.ref_now - dt.timedelta(days=30)
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM orders_order WHERE placed_at >= %s", [recent_since])
        recent = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT min(id), max(id) FROM orders_order")
        low, high = cursor.fetchone()
    picked = rng.sample(recent, min(len(recent), int(count * 0.8)))
    picked += [rng.randint(low, high) for _ in range(count - len(picked))]
    return picked


def queries_per_page(paths: list[str]) -> dict[str, Any]:
    """SQL queries and bytes per tracking page, in-process (Django's test client, same settings)."""
    client = Client(headers={"X-Forwarded-Proto": "https"}, HTTP_HOST="127.0.0.1")
    counts, sizes, pages_ms, cpu_ms = [], [], [], []
    by_query: dict[str, list[float]] = {}
    client.get(paths[0])  # the first page pays for imports and template loading
    for path in paths:
        started, cpu_started = time.perf_counter(), time.process_time()
        with CaptureQueriesContext(connection) as queries:
            answer = client.get(path)
        pages_ms.append((time.perf_counter() - started) * 1000)
        cpu_ms.append((time.process_time() - cpu_started) * 1000)
        assert answer.status_code == 200, (path, answer.status_code)
        counts.append(len(queries))
        sizes.append(len(answer.content))
        for query in queries.captured_queries:
            # The statement up to its (outer) WHERE names the query well enough to tell which one is slow.
            shape = query["sql"].rsplit(" WHERE ", 1)[0][-90:]
            by_query.setdefault(shape, []).append(float(query["time"]) * 1000)
    slowest = sorted(by_query.items(), key=lambda item: -sum(item[1]))[:3]
    return {
        "pages": len(paths),
        "page_ms_median": round(statistics.median(pages_ms), 1),
        "page_ms_max": round(max(pages_ms), 1),
        # This process's CPU time per page: what the page costs, less sensitive than the above to other
        # processes on a shared machine (PostgreSQL's own time is not in it).
        "cpu_ms_median": round(statistics.median(cpu_ms), 1),
        "queries_median": statistics.median(counts),
        "queries_max": max(counts),
        "kb_median": round(statistics.median(sizes) / 1024, 1),
        "slowest_queries": [
            {
                "sql_ends": shape,
                "runs": len(times),
                "median_ms": round(statistics.median(times), 2),
                "max_ms": round(max(times), 2),
            }
            for shape, times in slowest
        ],
    }


def get_paced(base_url: str, paths: Sequence[str], rate: float, seconds: float) -> tuple[float, list[Sent]]:
    """GET `paths` in turn at a steady `rate` per second for `seconds`, from STEADY_SENDERS threads, in an
    open loop (see load.requests_paced). Returns the start (time.monotonic()) and each request's Sent."""

    def request(index: int) -> tuple[str, str, None, dict[str, str]]:
        return "GET", paths[index % len(paths)], None, PROXY_HEADERS

    return requests_paced(base_url, max(2, round(rate * seconds)), rate, request, threads=STEADY_SENDERS)


def _ms(values_s: Sequence[float]) -> dict[str, float | None]:
    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 2)

    return {
        "p50": ms(percentile(values_s, 50)),
        "p90": ms(percentile(values_s, 90)),
        "p99": ms(percentile(values_s, 99)),
        "p99_9": ms(percentile(values_s, 99.9)),
        "mean": ms(sum(values_s) / len(values_s) if values_s else None),
        "max": ms(max(values_s) if values_s else None),
    }


def steady_figures(start: float, rate: float, sent: Sequence[Sent]) -> dict[str, Any]:
    due = [start + s.index / rate for s in sent]
    span = max(s.sent_at + s.seconds for s in sent) - start if sent else 0.0
    return {
        "rate_per_s": round(rate, 1),
        "achieved_rate_per_s": achieved_rate(sent),
        "seconds": round(span, 2),
        "senders": STEADY_SENDERS,
        "requests": len(sent),
        "non_2xx_3xx": sum(1 for s in sent if s.status and not 200 <= s.status < 400),
        "socket_errors": sum(1 for s in sent if not s.status),
        # From when each request was due to its whole answer read: the customer's wait.
        "latency_ms": _ms([s.sent_at + s.seconds - d for s, d in zip(sent, due, strict=True)]),
        # From when it left to its answer (what a closed-loop client would report).
        "service_ms": _ms([s.seconds for s in sent]),
        # How late requests left: near zero unless every sender was waiting for an answer.
        "sent_late_ms": _ms([max(0.0, s.sent_at - d) for s, d in zip(sent, due, strict=True)]),
    }


def production_cache_url() -> str:
    """Django's cache in the benchmark's Redis, database 1 (the jobs use 0), as the README runs the hub."""
    redis = urlsplit(os.environ["REDIS_URL"])
    return f"rediscache://{redis.hostname}:{redis.port}/1"


def run(ctx: Context) -> dict[str, Any]:
    from orders.models import Order
    from portal.defaults import faq_seed
    from portal.links import tracking_token

    ctx.grow_to(ctx.scale.shipments)
    faq_seed()  # as `manage.py seed_faq` does in production: every page shows the FAQ entries that apply
    orders = sample_orders(ctx, ctx.scale.tracking_orders)
    paths = [f"/track/{tracking_token(Order(pk=pk))}/" for pk in orders]
    paths_file = ctx.tmp / "tracking-paths.txt"
    paths_file.write_text("\n".join(paths) + "\n")
    per_page = queries_per_page(paths[:30])

    web = Gunicorn(ctx.tmp, ctx.gunicorn_workers, server_env(CACHE_URL=production_cache_url()))
    try:
        web.wait_ready()
        web.warm_up(paths[:20])
        log(f"tracking page: wrk on {len(paths):,} orders for {ctx.scale.wrk_seconds}s (saturated)…")
        with MemorySampler({"gunicorn": [web.process.pid]}) as pages_memory:
            saturated = run_wrk(
                web.base_url,
                "paths.lua",
                seconds=ctx.scale.wrk_seconds,
                connections=ctx.gunicorn_workers,
                args=[str(paths_file)],
            )
            curve = {}
            for share in STEADY_SHARES:
                rate = max(1.0, saturated["ok_per_s"] * share)
                log(f"tracking page: {rate:.1f} req/s steady ({share:.0%}) for {ctx.scale.paced_seconds}s…")
                time.sleep(2)  # let the previous run's backlog clear
                start, sent = get_paced(web.base_url, paths, rate, ctx.scale.paced_seconds)
                curve[share] = steady_figures(start, rate, sent)
    finally:
        web.stop()
    steady = curve[STEADY_SHARE]
    within = [run["rate_per_s"] for run in curve.values() if run["latency_ms"]["p99"] < P99_TARGET_MS]
    figures = {
        "saturated": saturated,
        "steady": steady,
        "latency_curve": [
            {"share": share, "rate_per_s": run["rate_per_s"], **{k: run["latency_ms"][k] for k in ("p50", "p99")}}
            for share, run in curve.items()
        ],
        "highest_steady_rate_with_p99_within_target": max(within, default=None),
        "orders": len(paths),
        "per_page": per_page,
    }
    # By load, then kind of process, as memory.json and its chart read every benchmark's.
    memory = {"saturated_then_steady": pages_memory.as_dict()}
    log(
        f"tracking page saturated: {saturated['requests_per_s']} req/s, p50 {saturated['latency_ms']['p50']} ms, "
        f"p99 {saturated['latency_ms']['p99']} ms, non-2xx {saturated['non_2xx_3xx']}"
    )
    for run in curve.values():
        log(
            f"tracking page steady at {run['rate_per_s']} req/s: p50 {run['latency_ms']['p50']} ms, "
            f"p90 {run['latency_ms']['p90']} ms, p99 {run['latency_ms']['p99']} ms, non-2xx {run['non_2xx_3xx']}"
        )
    failed = saturated["non_2xx_3xx"] + sum(saturated["socket_errors"].values())
    failed += sum(run["non_2xx_3xx"] + run["socket_errors"] for run in curve.values())
    targets = {
        "p99_under_50ms": target(
            f"tracking page p99 under 50 ms at a steady {STEADY_SHARE:.0%} of the saturated throughput",
            steady["latency_ms"]["p99"],
            P99_TARGET_MS,
        ),
        "all_ok": target("every answer 2xx (every run)", failed, 1),
    }
    write_result("tracking", ctx.scale, figures, targets=targets, memory=memory, config=ctx.config())
    return figures
