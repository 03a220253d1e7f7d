"""A delivery that meets a row another worker holds past PostgreSQL's lock timeout (or a deadlock between two
batches) waits and is retried, like a scan that arrived before its parcel: it is never failed for a person to
reprocess, and the rest of its batch is applied meanwhile."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import time_machine
from django.db import connection

from orders.choices import DeliveryState, ShipmentStatus
from orders.ingest import inbound_drain, inbound_reconcile
from orders.models import InboundDelivery
from tests.factories import ShipmentFactory, StoreFactory
from tests.reliability.helpers import database_session, easypost_event, post_easypost

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "easypost-locks-secret"
NOW = dt.datetime(2026, 11, 18, 17, 0, tzinfo=dt.UTC)


def test_a_delivery_blocked_by_another_workers_lock_waits_and_applies_once_the_lock_is_gone(client, run_jobs, settings):
    store = StoreFactory(easypost_webhook_secret=SECRET)
    held, free = (ShipmentFactory(order__store=store, carrier="usps") for _ in range(2))
    with time_machine.travel(NOW, tick=False):
        for parcel in (held, free):
            code = parcel.tracking_code
            body = easypost_event(event_id=f"evt_{code}", tracking_code=code, name="02_tracker_updated_in_transit")
            assert post_easypost(client, body, SECRET).json()["status"] == "received"

    # PostgreSQL's own default waits for ever; the batch sets its own timeout (10 s unless configured).
    settings.INBOUND_LOCK_TIMEOUT_SECONDS = 0.2
    other_worker = database_session()
    try:
        other_worker.execute("SELECT 1 FROM orders_shipment WHERE id = %s FOR UPDATE", [held.pk])
        with time_machine.travel(NOW, tick=False):
            inbound_drain()
    finally:
        other_worker.rollback()
        other_worker.close()

    with connection.cursor() as cursor:
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone()[0] == "0"  # the batch's own timeout ended with its transaction
    blocked = InboundDelivery.objects.get(body__contains=held.tracking_code)
    assert blocked.state == DeliveryState.WAITING
    assert "lock timeout" in blocked.error
    assert blocked.next_attempt_at == NOW + dt.timedelta(seconds=30)
    assert InboundDelivery.objects.get(body__contains=free.tracking_code).state == DeliveryState.PROCESSED

    with time_machine.travel(NOW + dt.timedelta(seconds=30), tick=False):
        assert inbound_reconcile() == 1
        run_jobs()

    blocked.refresh_from_db()
    held.refresh_from_db()
    assert blocked.state == DeliveryState.PROCESSED
    assert held.status == ShipmentStatus.IN_TRANSIT


def test_two_batches_crossing_on_the_same_parcels_lose_no_delivery(client, monkeypatch, run_jobs):
    """Batches are applied in one transaction each, so two drains can lock the same two parcels in opposite
    orders. PostgreSQL breaks the deadlock by stopping one statement: that delivery alone is rolled back and
    waits for its retry, as after a lock timeout, and the rest of both batches is applied."""
    from orders import ingest

    store = StoreFactory(easypost_webhook_secret=SECRET)
    first, second = (ShipmentFactory(order__store=store, carrier="usps") for _ in range(2))
    # Stored in this order, so that one drain of two takes (first, second) and the other (second, first).
    in_transit, out_for_delivery = "02_tracker_updated_in_transit", "04_tracker_updated_out_for_delivery"
    scans = [(first, in_transit), (second, in_transit), (second, out_for_delivery), (first, out_for_delivery)]
    for n, (parcel, name) in enumerate(scans):
        body = easypost_event(event_id=f"evt_cross_{n}", tracking_code=parcel.tracking_code, name=name)
        assert post_easypost(client, body, SECRET).json()["status"] == "received"

    # Each drain holds its first parcel until both do: then each reaches for the other's.
    both_hold_one = threading.Barrier(2, timeout=10)
    one_holds = threading.Event()
    waited = threading.local()
    real_upsert = ingest.shipment_upsert

    def upsert_then_meet(**kwargs):
        change = real_upsert(**kwargs)
        if not getattr(waited, "done", False):
            waited.done = True
            one_holds.set()
            both_hold_one.wait()
        return change

    monkeypatch.setattr(ingest, "shipment_upsert", upsert_then_meet)
    outcomes: list[list[str]] = []

    def drain() -> None:
        try:
            outcomes.append([result.state for result in inbound_drain(limit=2).values()])
        finally:
            connection.close()

    drains = [threading.Thread(target=drain) for _ in range(2)]
    drains[0].start()
    assert one_holds.wait(timeout=10)  # its claim of the first two is committed: the second drain takes the others
    drains[1].start()
    for thread in drains:
        thread.join(timeout=30)

    assert sorted(state for outcome in outcomes for state in outcome) == [DeliveryState.PROCESSED] * 3 + [
        DeliveryState.WAITING
    ]
    stopped = InboundDelivery.objects.get(state=DeliveryState.WAITING)
    assert "deadlock detected" in stopped.error
    monkeypatch.setattr(ingest, "shipment_upsert", real_upsert)
    with time_machine.travel(stopped.next_attempt_at, tick=False):
        assert inbound_reconcile() == 1
        run_jobs()

    assert InboundDelivery.objects.filter(state=DeliveryState.PROCESSED).count() == 4
    for parcel in (first, second):
        parcel.refresh_from_db()
        assert parcel.status == ShipmentStatus.OUT_FOR_DELIVERY
        assert parcel.events.count() == len({e.dedupe_key for e in parcel.events.all()})
