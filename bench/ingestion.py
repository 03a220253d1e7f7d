"""Ingestion: signed carrier webhooks into gunicorn, against a bare Django JSON view, and the workers after.

1. Throughput. wrk posts pre-signed EasyPost tracker updates (each a new scan of a parcel in transit) as
   fast as gunicorn takes them, first to the bare view (`/bench/bare/`, same bodies, same middleware),
   then to `/webhooks/easypost/`: accepted events/s and latency, and the ratio of the two rates. No RQ
   worker runs meanwhile, so both runs get the same CPU (on a shared 2-core machine workers would take it
   from the web server; in production they run on their own machines).
2. Draining. The RQ workers start and work off what was accepted: deliveries processed per second, and
   the time until every follow-on job (detector checks) is done too.
3. Keeping up. A paced sender posts new deliveries at half the rate the workers drained the burst at,
   while they run, for `paced_seconds`: the processing lag (delivery stored -> processed, from the
   database's own timestamps), the backlog, and the job times.
"""

from __future__ import annotations

import time
from typing import Any

from django.db.models import Count

from .common import (
    CpuMeter,
    Gunicorn,
    MemorySampler,
    RqWorkers,
    job_durations,
    log,
    per_core_rates,
    queued_jobs,
    queues_empty,
    run_wrk,
    server_env,
    summary_ms,
    target,
    write_result,
)
from .context import Context
from .data import add_pool
from .load import (
    BARE_PATH,
    WEBHOOK_PATH,
    WebhookFactory,
    achieved_rate,
    in_transit_scan,
    send_paced,
    write_wrk_data,
)

# wrk's share of deliveries: enough distinct ones for this many accepted per second over the run. wrk
# cycles through them, so a faster webhook would meet its own redeliveries (answered, stored as
# duplicates, not counted as accepted): the run then says the pool ran out.
MAX_EXPECTED_RATE = 2500
WRK_THREADS = 2


def delivery_states(since_id: int) -> dict[str, int]:
    from orders.models import InboundDelivery

    rows = InboundDelivery.objects.filter(pk__gt=since_id).values("state").annotate(n=Count("pk"))
    return {row["state"]: row["n"] for row in rows}


def last_delivery_id() -> int:
    from orders.models import InboundDelivery

    return InboundDelivery.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def lags(since_id: int, until_id: int | None = None) -> list[float]:
    """Seconds from stored to processed, for the deliveries in (since_id, until_id]."""
    from orders.models import InboundDelivery

    rows = InboundDelivery.objects.filter(pk__gt=since_id, processed_at__isnull=False)
    if until_id is not None:
        rows = rows.filter(pk__lte=until_id)
    return [(done - received).total_seconds() for received, done in rows.values_list("received_at", "processed_at")]


def wait_processed(since_id: int, expected: int, timeout: float) -> dict[str, Any]:
    """Poll until `expected` deliveries after since_id are finished (and every queue is empty)."""
    from orders.models import InboundDelivery

    started = time.monotonic()
    finished_at = None
    backlog_max = 0
    pending = InboundDelivery.objects.filter(pk__gt=since_id, state__in=["received", "processing"])
    while time.monotonic() - started < timeout:
        left = pending.count()
        backlog_max = max(backlog_max, left)
        if left == 0 and finished_at is None:
            finished_at = time.monotonic() - started
        if finished_at is not None and queued_jobs() == 0:
            break
        time.sleep(0.5)
    done = InboundDelivery.objects.filter(pk__gt=since_id, processed_at__isnull=False).count()
    return {
        "expected": expected,
        "processed": done,
        "deliveries_done_s": round(finished_at, 1) if finished_at is not None else None,
        "all_jobs_done_s": round(time.monotonic() - started, 1) if queued_jobs() == 0 else None,
        "backlog_max": backlog_max,
        "timed_out": finished_at is None,
    }


def run(ctx: Context) -> dict[str, Any]:
    scale = ctx.scale
    ctx.grow_to(scale.shipments)
    log(f"ingestion: a pool of {scale.ingest_pool:,} parcels in transit…")
    parcels = add_pool(ctx.dataset, scale.ingest_pool, seed=11)
    factory = WebhookFactory({s.store_id: s.easypost for s in ctx.dataset.stores})
    count = scale.wrk_seconds * MAX_EXPECTED_RATE
    webhooks = (factory.build(parcels[i % len(parcels)], in_transit_scan(i)) for i in range(count))
    data_file = write_wrk_data(ctx.tmp / "webhooks.tsv", webhooks)
    queues_empty()

    env = server_env()
    web = Gunicorn(ctx.tmp, ctx.gunicorn_workers, env)
    workers = None
    try:
        web.wait_ready()
        web.warm_up(["/healthz", BARE_PATH])
        args = [str(data_file), BARE_PATH, str(WRK_THREADS)]
        connections = ctx.gunicorn_workers * 2
        web_roles = {"gunicorn": [web.process.pid]}
        log(f"ingestion: wrk on the bare view for {scale.wrk_seconds}s…")
        with MemorySampler(web_roles) as bare_memory, CpuMeter() as bare_cpu:
            bare = run_wrk(web.base_url, "webhooks.lua", seconds=scale.wrk_seconds, connections=connections,
                           args=args)  # fmt: skip
        before = last_delivery_id()
        log(f"ingestion: wrk on the webhook for {scale.wrk_seconds}s…")
        args[1] = WEBHOOK_PATH
        with MemorySampler(web_roles) as hook_memory, CpuMeter() as hook_cpu:
            hook = run_wrk(web.base_url, "webhooks.lua", seconds=scale.wrk_seconds, connections=connections,
                           args=args)  # fmt: skip
        bare["cpu_ms_per_request"] = bare_cpu.per_request_ms(bare["requests"])
        hook["cpu_ms_per_request"] = hook_cpu.per_request_ms(hook["requests"])
        bare["per_core_per_s"] = per_core_rates(bare["cpu_ms_per_request"], ("web",))
        hook["per_core_per_s"] = per_core_rates(hook["cpu_ms_per_request"], ("web", "postgresql"))
        burst_last = last_delivery_id()
        states = delivery_states(before)
        accepted = states.get("received", 0)
        hook["accepted_events"] = accepted
        hook["accepted_events_per_s"] = round(accepted / hook["seconds"], 1)
        hook["delivery_states"] = states
        hook["pool_ran_out"] = states.get("duplicate", 0) > 0
        if hook["pool_ran_out"]:
            log(f"ingestion: wrk sent all {count:,} distinct deliveries; raise MAX_EXPECTED_RATE for a true rate")
        ratio = round(hook["accepted_events_per_s"] / bare["ok_per_s"], 3) if bare["ok_per_s"] else None
        log(f"ingestion: CPU ms per request, bare view {bare['cpu_ms_per_request']}")
        log(f"ingestion: CPU ms per request, webhook {hook['cpu_ms_per_request']}")
        log(f"ingestion: one core's rate, bare view {bare['per_core_per_s']}, webhook {hook['per_core_per_s']}")
        log(
            f"ingestion: bare {bare['ok_per_s']}/s (p99 {bare['latency_ms']['p99']} ms), webhook "
            f"{hook['accepted_events_per_s']} accepted/s (p50 {hook['latency_ms']['p50']} ms, "
            f"p99 {hook['latency_ms']['p99']} ms): ratio {ratio}"
        )

        # 2. The workers start on the burst's backlog.
        workers = RqWorkers(ctx.tmp, ctx.rq_workers, env)
        roles = {"gunicorn": [web.process.pid], "rqworkers": workers.pids}
        with MemorySampler(roles) as drain_memory:
            workers.wait_ready()
            log(f"ingestion: {ctx.rq_workers} RQ workers draining {accepted:,} deliveries…")
            drain = wait_processed(before, accepted, scale.drain_seconds)
        elapsed = drain["deliveries_done_s"] or scale.drain_seconds
        drain["deliveries_per_s"] = round(drain["processed"] / elapsed, 1) if elapsed else None
        drain["lag"] = summary_ms(lags(before, burst_last))
        if drain["timed_out"]:
            # What is left of the burst would only slow the next phase down: the measurement is made.
            from orders.models import InboundDelivery

            queues_empty()
            InboundDelivery.objects.filter(pk__gt=before, state__in=["received", "processing"]).update(
                state="ignored", error="left over by the benchmark's burst"
            )
            time.sleep(2)
        log(f"ingestion: drained {drain['processed']:,} at {drain['deliveries_per_s']}/s")

        # 3. A steady rate under the capacity, workers running: half the rate at which they drained the
        # burst (deliveries are applied in batches, and detection runs per batch in the same queue, so
        # the drain's rate is the workers' capacity for this traffic).
        queues_empty()
        capacity = drain["deliveries_per_s"] or 2.0
        rate = max(1.0, min(100.0, round(capacity * 0.5, 1)))
        paced = [
            factory.build(parcels[(count + i) % len(parcels)], in_transit_scan(count + i))
            for i in range(int(rate * scale.paced_seconds))
        ]
        start_id = last_delivery_id()
        log(f"ingestion: {len(paced):,} deliveries at {rate}/s with the workers running…")
        with MemorySampler(roles) as paced_memory:
            sent = send_paced(web.base_url, paced, rate)
            steady = wait_processed(start_id, len(paced), scale.drain_seconds)
        steady.update(
            {
                "capacity_deliveries_per_s": capacity,
                "job_seconds": job_durations(),
                "offered_rate": rate,
                "achieved_rate": achieved_rate(sent),
                "answers": {str(s): sum(1 for x in sent if x.status == s) for s in sorted({x.status for x in sent})},
                "accept_latency": summary_ms([s.seconds for s in sent]),
                "lag": summary_ms(lags(start_id)),
            }
        )
        log(
            f"ingestion: steady {rate}/s: lag p50 {steady['lag']['p50_ms']} ms, p99 {steady['lag']['p99_ms']} ms, "
            f"max {steady['lag']['max_ms']} ms; backlog max {steady['backlog_max']}"
        )
    finally:
        if workers is not None:
            workers.stop()
        web.stop()

    memory = {
        "bare_view": bare_memory.as_dict(),
        "webhook": hook_memory.as_dict(),
        "draining": drain_memory.as_dict(),
        "steady": paced_memory.as_dict(),
    }
    figures = {"bare_view": bare, "webhook": hook, "ratio": ratio, "draining": drain, "steady": steady}
    lag_p99 = steady["lag"]["p99_ms"]
    targets = {
        "ratio_at_least_half": target("webhook accepted/s at least 50% of the bare view's", ratio, 0.5, at_least=True),
        "workers_keep_up": target(
            f"at a steady {rate}/s the processing lag p99 stays under 5 s and nothing is left behind",
            lag_p99 if not steady["timed_out"] else None,
            5000,
        ),
    }
    write_result("ingestion", scale, figures, targets=targets, memory=memory, config=ctx.config())
    return figures
