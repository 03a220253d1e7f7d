"""`kill -9` of an RQ worker while it applies a batch of carrier events: its claim is handed out again a
minute after it was made, not after a long lease, and each event is applied once. A live worker's claim
is never handed out, however long its batch takes.

A real `manage.py rqworker` process on the test's PostgreSQL database and Redis, signed EasyPost webhooks
through the real URL, and a second database session holding a parcel's row, as another worker would.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from cxhub.claims import CLAIM_UNHELD_AFTER
from orders.choices import DeliveryState, ShipmentStatus
from orders.ingest import inbound_reconcile
from orders.models import InboundDelivery
from tests import signing
from tests.factories import ShipmentFactory, StoreFactory
from tests.reliability.helpers import (
    WORKER_CLASSES,
    WorkerProcess,
    count_by,
    database_session,
    easypost_event,
    post_easypost,
    wait_until,
    waiting_for_a_lock,
    worker_env,
)

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "easypost-drain-killed-secret"
OUT_FOR_DELIVERY = "04_tracker_updated_out_for_delivery"


@WORKER_CLASSES
def test_a_worker_killed_while_applying_a_batch_has_its_claim_handed_out_within_a_minute(
    client, handoff, run_jobs, tmp_path, worker_class
):
    store = StoreFactory(slug="acme", easypost_webhook_secret=SECRET)
    parcels = [ShipmentFactory(order__store=store, carrier="usps", status=ShipmentStatus.IN_TRANSIT) for _ in range(3)]
    for parcel in parcels:
        code = parcel.tracking_code
        body = easypost_event(event_id=f"evt_{code}", tracking_code=code, name=OUT_FOR_DELIVERY)
        assert post_easypost(client, body, SECRET).json()["status"] == "received"
    handoff.run_pending()  # the drain job

    # Another worker holds the second parcel: the drain applies the first, then waits mid-batch.
    other_worker = database_session()
    env = worker_env(INBOUND_LOCK_TIMEOUT_SECONDS="120")  # it waits
    worker = WorkerProcess(tmp_path / "worker.log", env, "--worker-class", worker_class)
    try:
        other_worker.execute("SELECT 1 FROM orders_shipment WHERE id = %s FOR UPDATE", [parcels[1].pk])
        worker.start()
        wait_until(waiting_for_a_lock, timeout=60, what="the worker's batch to reach the held parcel")
        claimed = list(InboundDelivery.objects.values_list("state", "next_attempt_at"))
        assert {state for state, _ in claimed} == {DeliveryState.PROCESSING}
        unheld = max(at for _, at in claimed) + dt.timedelta(seconds=1)
        assert unheld <= timezone.now() + CLAIM_UNHELD_AFTER + dt.timedelta(seconds=1)

        # Past the claim's minute, the live worker still holds its batch: nothing is handed out.
        assert inbound_reconcile(now=unheld) == 0
        assert set(InboundDelivery.objects.values_list("state", flat=True)) == {DeliveryState.PROCESSING}

        worker.kill_9()
    finally:
        other_worker.rollback()  # the other worker is done; the dead worker's transaction then ends too
        other_worker.close()
        worker.stop()

    # Once PostgreSQL has ended the dead worker's transaction (rolled back: the first parcel's scan with
    # it), its claim is nobody's and the next reconcile hands it out.
    handed_out: list[int] = []
    wait_until(lambda: handed_out.append(inbound_reconcile(now=unheld)) or sum(handed_out) > 0, timeout=30,
               what="the dead worker's claim to be handed out", poll=0.1)  # fmt: skip
    assert sum(handed_out) == len(parcels)
    run_jobs()

    deliveries = InboundDelivery.objects.all()
    assert count_by(d.state for d in deliveries) == {DeliveryState.PROCESSED: len(parcels)}
    assert {(d.attempts, d.abandoned) for d in deliveries} == {(2, 1)}  # the dead claim, then the one that applied them
    scans = len(signing.load_json("easypost", OUT_FOR_DELIVERY)["result"]["tracking_details"])
    for parcel in parcels:
        parcel.refresh_from_db()
        assert parcel.status == ShipmentStatus.OUT_FOR_DELIVERY
        assert parcel.events.count() == scans  # the first parcel's too, which the dead batch had applied
