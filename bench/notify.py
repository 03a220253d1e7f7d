"""Time to notify, end to end: a carrier's "out for delivery" webhook in -> SMS accepted by Twilio.

Each delivery is an EasyPost tracker update putting one parcel in transit out for delivery. The hub
stores it (gunicorn), a worker applies it, the detectors see the milestone, the seeded "Milestone: out for
delivery" playbook notifies by SMS, and a worker sends it with the real twilio SDK to the fake Twilio of
tests/fakes/twilio.py on loopback (TWILIO_API_BASE_URL). A real Redis and `manage.py rqworker` processes
(two, as in the issue) do the work, at a steady rate (100 events/s at full scale) for `notify_seconds`.

Measured from just before the webhook is posted to the moment the fake Twilio receives the SMS, both on
this process's monotonic clock; the database's own timestamps split it into stages.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.twilio import FakeTwilio, RecordedRequest

from .common import (
    MEMORY_RECORDS,
    Gunicorn,
    MemorySampler,
    RqWorkers,
    log,
    queued_jobs,
    queues_empty,
    server_env,
    summary_ms,
    target,
    write_result,
)
from .context import Context
from .data import add_pool
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


def run(ctx: Context) -> dict[str, Any]:
    scale = ctx.scale
    ctx.grow_to(scale.shipments)
    count = int(scale.notify_rate * scale.notify_seconds)
    log(f"time to notify: a pool of {count:,} parcels in transit…")
    parcels = add_pool(ctx.dataset, count, seed=23)
    factory = WebhookFactory({s.store_id: s.easypost for s in ctx.dataset.stores})
    queues_empty()

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
    workers = RqWorkers(ctx.tmp, ctx.rq_workers, env)
    try:
        web.wait_ready()
        web.warm_up(["/healthz"])
        workers.wait_ready()
        webhooks = [factory.build(parcel, out_for_delivery_scan()) for parcel in parcels]
        roles = {"gunicorn": [web.process.pid], "rqworkers": workers.pids}
        log(f"time to notify: {count:,} webhooks at {scale.notify_rate}/s to {WEBHOOK_PATH}…")
        with MemorySampler(roles) as memory, QueueWatch() as queue:
            sent = send_paced(web.base_url, webhooks, scale.notify_rate)
            sending_done = time.monotonic()
            while len(fake.arrivals) < count and time.monotonic() - sending_done < scale.drain_seconds:
                time.sleep(0.25)
            waited = time.monotonic() - sending_done
    finally:
        workers.stop()
        web.stop()
        fake.stop()

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
    arrivals = sorted(a[0] for a in fake.arrivals.values())
    figures = {
        "events": count,
        "offered_rate": scale.notify_rate,
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
        "message_states": message_states([p.phone for p in parcels]),
        "stages": stages(webhooks, sent, fake),
    }
    MEMORY_RECORDS["notify"] = memory.as_dict()
    log(
        f"time to notify: {delivered:,}/{count:,} SMS, p50 {overall['p50_ms']} ms, p99 {overall['p99_ms']} ms, "
        f"max {overall['max_ms']} ms; posted at {figures['achieved_post_rate']}/s, jobs queued max "
        f"{figures['queued_jobs_max']}"
    )
    targets = {"p99_under_2s": target("time to notify p99 under 2 s (all events)", p99_all, 2000)}
    write_result("notify", scale, figures, targets=targets, memory=memory.as_dict(), config=ctx.config())
    return figures
