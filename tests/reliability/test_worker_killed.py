"""`kill -9` of an RQ worker in the middle of a batch of sends: after a new worker starts (and the cron's
recovery jobs run), every message went out exactly once or waits for review; no carrier event is lost.

Real processes throughout: signed EasyPost webhooks through the real URL, `manage.py rqworker` subprocesses
on the test's PostgreSQL database and Redis, the real Twilio SDK against the fake Twilio on loopback.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from notifications.choices import MessageStatus
from notifications.models import Message
from orders.choices import DeliveryState, ShipmentStatus
from orders.models import InboundDelivery, Shipment
from playbooks.choices import RemedyState
from playbooks.models import ExceptionCase, Remedy
from tests.factories import ShipmentFactory
from tests.reliability.helpers import (
    WORKER_CLASSES,
    WorkerProcess,
    announce_attempts,
    count_by,
    cron_tick,
    failed_attempt_store,
    twilio_env,
    wait_until,
)

pytest_plugins = ["tests.fakes.twilio"]
pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "easypost-reliability-secret"
BEFORE_THE_KILL = 5  # failed delivery attempts reported before the worker dies
WHILE_DEAD = 2  # and while no worker runs
KILL_AT_SEND = 3  # the worker dies while Twilio holds the answer to this send
# Past every lease: steps whose job was lost (10 minutes), sends (2 minutes), claims nobody holds (1 minute).
LEASES_EXPIRED = dt.timedelta(minutes=11)


@pytest.fixture
def store():
    return failed_attempt_store(SECRET)


def requests_for(fake_twilio, message: Message) -> list:
    return [r for r in fake_twilio.requests if str(message.public_id) in r.status_callback]


def accepted_for(fake_twilio, message: Message) -> list:
    return [m for m in fake_twilio.messages if m["to"] == message.to]


@WORKER_CLASSES
def test_a_worker_killed_mid_batch_sends_every_message_once_or_flags_it_and_loses_no_event(
    client, handoff, store, fake_twilio, run_jobs, tmp_path, worker_class
):
    parcels = [
        ShipmentFactory(order__store=store, carrier="usps", status=ShipmentStatus.IN_TRANSIT, label_created_at=None)
        for _ in range(BEFORE_THE_KILL + WHILE_DEAD)
    ]
    env = twilio_env(fake_twilio, TWILIO_TIMEOUT_SECONDS="10")
    # Twilio accepts the first sends at once, then holds its answer to one of them: the worker is mid-call.
    for _ in range(KILL_AT_SEND - 1):
        fake_twilio.queue_delay(0)
    fake_twilio.queue_delay(15)  # beyond the 10 s time-out: only the kill ends that call
    announce_attempts(client, handoff, parcels[:BEFORE_THE_KILL], SECRET)

    first = WorkerProcess(tmp_path / "worker-1.log", env, "--worker-class", worker_class).start()
    try:
        wait_until(lambda: len(fake_twilio.requests) >= KILL_AT_SEND, timeout=90, what="the batch of sends to start")
        first.kill_9()
    finally:
        first.stop()
    in_flight = Message.objects.get(public_id=fake_twilio.requests[KILL_AT_SEND - 1].status_callback.split("m=")[1])
    assert in_flight.status == MessageStatus.SENDING  # claimed, the outcome never recorded
    # The rest of the batch waits in the outbox (the drain that held it died with the worker).
    assert Message.objects.filter(status=MessageStatus.QUEUED).exists()

    announce_attempts(client, handoff, parcels[BEFORE_THE_KILL:], SECRET)  # events keep arriving while no worker runs
    WorkerProcess.burst(tmp_path / "worker-2.log", env, "--worker-class", worker_class)

    # The periodic jobs, once every lease has run out: claims of the dead worker are handed out again
    # (deliveries, remedies) or flagged for review (a send whose outcome nobody knows).
    with time_machine.travel(timezone.now() + LEASES_EXPIRED, tick=False):
        for _ in range(2):
            cron_tick()
            run_jobs()

    # No event lost: every delivery processed, every parcel's attempt became one case and one remedy.
    assert count_by(InboundDelivery.objects.values_list("state", flat=True)) == {DeliveryState.PROCESSED: len(parcels)}
    assert all(p.status == ShipmentStatus.ATTEMPTED_DELIVERY for p in Shipment.objects.all())
    cases = ExceptionCase.objects.filter(kind="failed_attempt")
    assert sorted(cases.values_list("shipment_id", flat=True)) == sorted(p.pk for p in parcels)
    assert count_by(Remedy.objects.filter(case__in=cases).values_list("state", flat=True)) == {
        RemedyState.DONE: len(parcels)
    }

    # Every message sent exactly once, but the one the worker died sending: flagged, never resent.
    messages = list(Message.objects.filter(kind="failed_attempt"))
    assert sorted(m.order_id for m in messages) == sorted(p.order_id for p in parcels)
    assert count_by(m.status for m in messages) == {MessageStatus.SENT: len(parcels) - 1, MessageStatus.REVIEW: 1}
    for message in messages:
        requests, accepted = requests_for(fake_twilio, message), accepted_for(fake_twilio, message)
        if message.status == MessageStatus.SENT:
            assert (len(requests), len(accepted)) == (1, 1), message
            assert message.provider_id == accepted[0]["sid"]
        else:
            assert message.pk == in_flight.pk
            assert "worker stopped" in message.error
            assert len(requests) == 1 and len(accepted) == 1  # Twilio did get it: resending would double it
    assert len(fake_twilio.requests) == len(parcels)
