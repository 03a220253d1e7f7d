"""Tracking page under load: wrk against `/track/<signed token>/` on gunicorn, with the full data set.

Customers open their tracking link while they wait, so 80% of the requests are for orders of the last 30
days (parcels in flight, with ETAs computed from history) and 20% for any order. The tokens are the ones
the hub puts in its messages (`portal.links.tracking_token`). wrk keeps as many connections open as
gunicorn has workers, so the latency is the page's service time under full load, not queueing behind it.
Queries per page, their times and the slowest ones are measured in-process for 30 of the same orders.
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
import time
from typing import Any

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from .common import MEMORY_RECORDS, Gunicorn, MemorySampler, log, run_wrk, server_env, target, write_result
from .context import Context


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
    counts, sizes, pages_ms = [], [], []
    by_query: dict[str, list[float]] = {}
    client.get(paths[0])  # the first page pays for imports and template loading
    for path in paths:
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            answer = client.get(path)
        pages_ms.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, (path, answer.status_code)
        counts.append(len(queries))
        sizes.append(len(answer.content))
        for query in queries.captured_queries:
            # The statement up to its WHERE names the query well enough to tell which one is slow.
            shape = query["sql"].split(" WHERE ")[0][-90:]
            by_query.setdefault(shape, []).append(float(query["time"]) * 1000)
    slowest = sorted(by_query.items(), key=lambda item: -sum(item[1]))[:3]
    return {
        "pages": len(paths),
        "page_ms_median": round(statistics.median(pages_ms), 1),
        "page_ms_max": round(max(pages_ms), 1),
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


def run(ctx: Context) -> dict[str, Any]:
    from orders.models import Order
    from portal.links import tracking_token

    ctx.grow_to(ctx.scale.shipments)
    orders = sample_orders(ctx, ctx.scale.tracking_orders)
    paths = [f"/track/{tracking_token(Order(pk=pk))}/" for pk in orders]
    paths_file = ctx.tmp / "tracking-paths.txt"
    paths_file.write_text("\n".join(paths) + "\n")
    per_page = queries_per_page(paths[:30])

    web = Gunicorn(ctx.tmp, ctx.gunicorn_workers, server_env())
    try:
        web.wait_ready()
        web.warm_up(paths[:20])
        log(f"tracking page: wrk on {len(paths):,} orders for {ctx.scale.wrk_seconds}s…")
        with MemorySampler({"gunicorn": [web.process.pid]}) as memory:
            figures = run_wrk(
                web.base_url,
                "paths.lua",
                seconds=ctx.scale.wrk_seconds,
                connections=ctx.gunicorn_workers,
                args=[str(paths_file)],
            )
    finally:
        web.stop()
    figures["orders"] = len(paths)
    figures["per_page"] = per_page
    MEMORY_RECORDS["tracking"] = memory.as_dict()
    log(
        f"tracking page: {figures['requests_per_s']} req/s, p50 {figures['latency_ms']['p50']} ms, "
        f"p99 {figures['latency_ms']['p99']} ms, non-2xx {figures['non_2xx_3xx']}"
    )
    targets = {
        "p99_under_50ms": target("tracking page p99 under 50 ms", figures["latency_ms"]["p99"], 50),
        "all_ok": target("every answer 2xx", figures["non_2xx_3xx"] + sum(figures["socket_errors"].values()), 1),
    }
    write_result("tracking", ctx.scale, figures, targets=targets, memory=memory.as_dict(), config=ctx.config())
    return figures
