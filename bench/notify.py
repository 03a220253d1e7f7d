"""Time to notify, end to end: a carrier's "out for delivery" webhook in -> SMS accepted by Twilio.

Each delivery is an EasyPost tracker update putting one parcel in transit out for delivery. The hub
stores it (gunicorn), a worker applies it, the detectors see the milestone, the seeded "Milestone: out for
delivery" playbook notifies by SMS, and a worker sends it with the real twilio SDK to the fake Twilio of
tests/fakes/twilio.py on loopback (TWILIO_API_BASE_URL). A real Redis and two `manage.py rqworker`
processes do the work, at the issue's steady rate (100 events/s at full scale) for `notify_seconds`.

It runs once per way of running RQ workers: RQ's default Worker, which forks a work horse per job, and
SimpleWorker, which runs jobs in the worker process (what the README's `rqworker` command runs). When the
workers cannot keep up, it runs again at half the rate of work they managed, to show the latency of a
pipeline that is not saturated.

Measured from just before the webhook is posted to the moment the fake Twilio receives the SMS, both on
this process's monotonic clock; the database's own timestamps split it into stages.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.twilio import FakeTwilio, RecordedRequest

from .common import (
    CpuMeter,
    Gunicorn,
    MemorySampler,
    RqWorkers,
    job_durations,
    log,
    queued_jobs,
    server_env,
    summary_ms,
    target,
    work_abandon,
    write_result,
)
from .context import Context
from .data import PoolParcel, add_pool
from .load import WEBHOOK_PATH, Sent, Webhook, WebhookFactory, achieved_rate, out_for_delivery_scan, send_paced


@dataclass
class TimedFakeTwilio(FakeTwilio):
    """The tests' fake Twilio, noting when each number's first message arrived (monotonic and wall clock)."""

    arrivals: dict[str, tuple[float, float]] = field(default_factory=dict)

    def _create_message(self, request: RecordedRequest) -> tuple[int, dict]:
        self.arrivals.setdefault(request.to, (time.monotonic(), time.time()))
        return super()._create_message(request)


class QueueWatch:
    """The number of jobs waiting or running, twice a second: how far the workers are behind."""

    def __init__(self) -> None:
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="queue-watch", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(queued_jobs())
            self._stop.wait(0.5)

    def __enter__(self) -> QueueWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def stages(webhooks: list[Webhook], sent: list[Sent], fake: TimedFakeTwilio) -> dict[str, Any]:
    """Where the time went, per event, from the rows each step wrote (wall clock, same machine)."""
    from notifications.models import Message
    from orders.models import InboundDelivery
    from playbooks.models import ExceptionCase

    posted = {webhooks[s.index].event_id: s.sent_wall for s in sent}
    rows = InboundDelivery.objects.filter(delivery_id__in=posted).values_list(
        "delivery_id", "received_at", "processed_at"
    )
    by_event = {event: (received, processed) for event, received, processed in rows}
    shipment_of = {w.event_id: w.parcel.shipment_id for w in webhooks}
    phone_of = {w.event_id: w.parcel.phone for w in webhooks}
    detected = dict(
        ExceptionCase.objects.filter(
            kind="milestone_out_for_delivery", shipment_id__in=list(shipment_of.values())
        ).values_list("shipment_id", "detected_at")
    )
    messages = {
        to: (created, claimed, sent_at)
        for to, created, claimed, sent_at in Message.objects.filter(
            to__in=list(phone_of.values()), kind="out_for_delivery"
        ).values_list("to", "created_at", "claimed_at", "sent_at")
    }
    spans: dict[str, list[float]] = {
        "post_to_stored": [],
        "stored_to_processed": [],
        "processed_to_case": [],
        "case_to_message": [],
        "message_to_send_started": [],
        "send_started_to_twilio": [],
    }
    for event, sent_wall in posted.items():
        received, processed = by_event.get(event, (None, None))
        case = detected.get(shipment_of[event])
        created, claimed, _ = messages.get(phone_of[event], (None, None, None))
        arrival = fake.arrivals.get(phone_of[event])
        if received:
            spans["post_to_stored"].append(received.timestamp() - sent_wall)
        if received and processed:
            spans["stored_to_processed"].append((processed - received).total_seconds())
        if processed and case:
            spans["processed_to_case"].append((case - processed).total_seconds())
        if case and created:
            spans["case_to_message"].append((created - case).total_seconds())
        if created and claimed:
            spans["message_to_send_started"].append((claimed - created).total_seconds())
        if claimed and arrival:
            spans["send_started_to_twilio"].append(arrival[1] - claimed.timestamp())
    return {name: summary_ms(values) for name, values in spans.items()}


def message_states(phones: list[str]) -> dict[str, int]:
    from django.db.models import Count

    from notifications.models import Message

    rows = Message.objects.filter(to__in=phones).values("status").annotate(n=Count("pk"))
    return {row["status"]: row["n"] for row in rows}


def phase(
    ctx: Context,
    web: Gunicorn,
    fake: TimedFakeTwilio,
    roles: dict[str, list[int]],
    rate: float,
    pool: list[PoolParcel],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Post `rate` x notify_seconds out-for-delivery webhooks at `rate`/s (one per parcel of the pool)
    and wait for their SMS. Returns the figures and the memory figures."""
    scale = ctx.scale
    count = min(len(pool), max(10, int(rate * scale.notify_seconds)))
    parcels = pool[:count]
    factory = WebhookFactory({s.store_id: s.easypost for s in ctx.dataset.stores})
    webhooks = [factory.build(parcel, out_for_delivery_scan()) for parcel in parcels]
    phones = {parcel.phone for parcel in parcels}
    work_abandon()  # job_seconds then covers this run only
    log(f"time to notify: {count:,} webhooks at {rate}/s to {WEBHOOK_PATH}…")
    with MemorySampler(roles) as memory, QueueWatch() as queue, CpuMeter() as cpu:
        sent = send_paced(web.base_url, webhooks, rate)
        sending_done = time.monotonic()
        while (
            sum(1 for p in phones if p in fake.arrivals) < count
            and time.monotonic() - sending_done < scale.drain_seconds
        ):
            time.sleep(0.25)
        waited = time.monotonic() - sending_done

    latencies = []
    for s in sent:
        arrival = fake.arrivals.get(webhooks[s.index].parcel.phone)
        if arrival:
            latencies.append(arrival[0] - s.sent_at)
    delivered = len(latencies)
    overall = summary_ms(latencies)
    # Messages that never arrived in time count as slower than any that did: with more than 1% of them
    # missing, the p99 of all events is unknown (reported as None).
    missing = count - delivered
    p99_all = overall["p99_ms"] if missing <= count * 0.01 else None
    first, last = min(s.sent_at for s in sent), max(s.sent_at for s in sent)
    arrivals = sorted(fake.arrivals[phone][0] for phone in phones if phone in fake.arrivals)
    figures = {
        "events": count,
        "offered_rate": rate,
        "achieved_post_rate": achieved_rate(sent),
        "webhook_answers": {str(st): sum(1 for x in sent if x.status == st) for st in sorted({x.status for x in sent})},
        "webhook_latency": summary_ms([s.seconds for s in sent]),
        "sms_received": delivered,
        "sms_missing_after_wait": missing,
        "waited_after_last_post_s": round(waited, 1),
        "sms_per_s_while_posting": round(sum(1 for a in arrivals if a <= last) / (last - first), 1),
        "sms_per_s_overall": round(len(arrivals) / (arrivals[-1] - first), 1) if arrivals else None,
        "time_to_notify": overall,
        "time_to_notify_p99_all_events_ms": p99_all,
        "queued_jobs_max": max(queue.samples, default=0),
        "message_states": message_states(sorted(phones)),
        "stages": stages(webhooks, sent, fake),
        # This process posts the webhooks and plays Twilio ("other"); the workers' share includes the work
        # horses a forking worker ran.
        "cpu_ms_per_event": cpu.per_request_ms(count),
    }
    log(
        f"time to notify at {rate}/s: {delivered:,}/{count:,} SMS, p50 {overall['p50_ms']} ms, "
        f"p99 {overall['p99_ms']} ms, max {overall['max_ms']} ms; posted at {figures['achieved_post_rate']}/s, "
        f"SMS {figures['sms_per_s_overall']}/s, jobs queued max {figures['queued_jobs_max']}"
    )
    figures["work_rate_events_per_s"] = work_rate(webhooks, first, time.monotonic())
    figures["job_seconds"] = job_durations()
    if missing:
        # What is still queued belongs to this phase: the next one starts on empty queues.
        work_abandon()
    return figures, memory.as_dict()


def work_rate(webhooks: list[Webhook], started: float, ended: float) -> float:
    """How many events' worth of work the workers did per second: each event is five steps (apply the
    delivery, check the detectors, act on the case, run its steps, send the SMS), counted from the rows
    each leaves. When the queue is saturated few events finish, but this still says what the workers
    can do, which sets the rate of the unsaturated run."""
    from notifications.models import Message
    from orders.models import InboundDelivery
    from playbooks.models import ExceptionCase

    processed = InboundDelivery.objects.filter(
        delivery_id__in=[w.event_id for w in webhooks], processed_at__isnull=False
    ).count()
    cases = ExceptionCase.objects.filter(
        kind="milestone_out_for_delivery", shipment_id__in=[w.parcel.shipment_id for w in webhooks]
    ).count()
    messages = Message.objects.filter(to__in=[w.parcel.phone for w in webhooks], kind="out_for_delivery")
    jobs = 2 * processed + cases + messages.count() + messages.filter(sent_at__isnull=False).count()
    return round(jobs / 5 / (ended - started), 2)


# The two ways to run RQ workers: cxhub.worker.Worker forks a work horse for every job; "" is the settings'
# class, cxhub.worker.SimpleWorker (what the README's `rqworker` runs), which runs jobs in the worker process.
WORKER_CLASSES = {"forking": "cxhub.worker.Worker", "simple": ""}
CALIBRATION_EVENTS = 8


def run(ctx: Context) -> dict[str, Any]:
    """For each worker class: the issue's steady rate; then, when the workers cannot keep up with it, a
    rate half of what they managed, to show the latency of a pipeline that is not saturated."""
    scale = ctx.scale
    ctx.grow_to(scale.shipments)
    chosen = os.environ.get("BENCH_RQ_WORKER_CLASS")
    classes = {"configured": chosen} if chosen else WORKER_CLASSES
    # Every pool now: ids are handed out by the loader, which must not race the workers' inserts.
    count = int(scale.notify_rate * scale.notify_seconds)
    log(f"time to notify: pools of {count:,} and {count // 2:,} parcels in transit per worker class…")
    pools = {
        name: (add_pool(ctx.dataset, count, seed=23 + n), add_pool(ctx.dataset, max(10, count // 2), seed=53 + n))
        for n, name in enumerate(classes)
    }
    work_abandon()
    fake = TimedFakeTwilio().start()
    env = server_env(
        TWILIO_ACCOUNT_SID=fake.account_sid,
        TWILIO_AUTH_TOKEN=fake.auth_token,
        TWILIO_FROM_NUMBER=fake.from_number,
        TWILIO_MESSAGING_SERVICE_SID="",
        TWILIO_API_BASE_URL=fake.base_url,
        PUBLIC_BASE_URL="https://cx.example.test",
    )
    web = Gunicorn(ctx.tmp, ctx.gunicorn_workers, env)
    figures: dict[str, Any] = {"rq_workers": ctx.rq_workers}
    memory: dict[str, Any] = {}
    targets: dict[str, Any] = {}
    try:
        web.wait_ready()
        web.warm_up(["/healthz"])
        for name, worker_class in classes.items():
            workers = RqWorkers(ctx.tmp, ctx.rq_workers, env, worker_class=worker_class)
            log(f"time to notify with {ctx.rq_workers} {name} RQ workers ({workers.class_path})…")
            runs: dict[str, Any] = {"worker_class": workers.class_path}
            try:
                workers.wait_ready()
                roles = {"gunicorn": [web.process.pid], "rqworkers": workers.pids}
                offered_pool, slow_pool = pools[name]
                runs["offered"], memory[f"{name}_offered"] = phase(
                    ctx, web, fake, roles, scale.notify_rate, offered_pool
                )
                offered = runs["offered"]
                if offered["time_to_notify_p99_all_events_ms"] is None or offered["time_to_notify"]["p99_ms"] > 2000:
                    # A trickle first: a few events far apart, each job timed alone (no batching). The
                    # workers' capacity is the events' worth of work they did per second while saturated
                    # (work_rate: batches grow with the backlog); then half of it, for notify_seconds.
                    runs["calibration"], _ = phase(ctx, web, fake, roles, 0.25, slow_pool[:CALIBRATION_EVENTS])
                    capacity = offered["work_rate_events_per_s"] or 1.0
                    runs["capacity_events_per_s"] = round(capacity, 2)
                    rate = max(0.1, min(scale.notify_rate, round(capacity * 0.5, 2)))
                    runs["not_saturated"], memory[f"{name}_not_saturated"] = phase(
                        ctx, web, fake, roles, rate, slow_pool[CALIBRATION_EVENTS:]
                    )
            finally:
                workers.stop()
                work_abandon()
            figures[name] = runs
            targets[f"{name}_p99_under_2s"] = target(
                f"{name} workers: time to notify p99 under 2 s at {scale.notify_rate}/s (all events)",
                runs["offered"]["time_to_notify_p99_all_events_ms"],
                2000,
            )
            if "not_saturated" in runs:
                targets[f"{name}_p99_under_2s_not_saturated"] = target(
                    f"{name} workers: p99 under 2 s at {runs['not_saturated']['offered_rate']}/s (half of the "
                    "work rate they reached while saturated)",
                    runs["not_saturated"]["time_to_notify_p99_all_events_ms"],
                    2000,
                )
    finally:
        web.stop()
        fake.stop()

    write_result("notify", scale, figures, targets=targets, memory=memory, config=ctx.config())
    return figures
