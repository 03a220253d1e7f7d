"""A delivery that meets a row another worker holds past PostgreSQL's lock timeout (or a deadlock between two
batches) waits and is retried, like a scan that arrived before its parcel: it is never failed for a person to
reprocess, and the rest of its batch is applied meanwhile."""

from __future__ import annotations

import datetime as dt

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


def test_a_delivery_blocked_by_another_workers_lock_waits_and_applies_once_the_lock_is_gone(client, run_jobs):
    store = StoreFactory(easypost_webhook_secret=SECRET)
    held, free = (ShipmentFactory(order__store=store, carrier="usps") for _ in range(2))
    with time_machine.travel(NOW, tick=False):
        for parcel in (held, free):
            code = parcel.tracking_code
            body = easypost_event(event_id=f"evt_{code}", tracking_code=code, name="02_tracker_updated_in_transit")
            assert post_easypost(client, body, SECRET).json()["status"] == "received"

    other_worker = database_session()
    try:
        other_worker.execute("SELECT 1 FROM orders_shipment WHERE id = %s FOR UPDATE", [held.pk])
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '200ms'")
        with time_machine.travel(NOW, tick=False):
            inbound_drain()
    finally:
        other_worker.rollback()
        other_worker.close()
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")

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
