"""PostgreSQL answering reads but refusing writes (a failover that left the hub on a standby, a primary set
read-only for maintenance): what only reads keeps working, what must write is told to retry (503 with
Retry-After, not 500) and stores nothing, /healthz says so, and once writes are back the retried deliveries
are stored and processed once.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client

from orders.choices import DeliveryState, ShipmentStatus
from orders.models import ApiToken, InboundDelivery
from portal.links import tracking_token
from tests.factories import StoreFactory, UserFactory
from tests.orders.api import client_for
from tests.reliability.helpers import OutageScans, count_by, database_read_only

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "easypost-read-only-secret"
READ_ONLY = "The database is read-only for now; retry later."


def test_while_the_database_is_read_only_reads_work_writes_are_told_to_retry_and_retries_are_stored_once(run_jobs):
    store = StoreFactory(easypost_webhook_secret=SECRET)
    scans = OutageScans(store, SECRET)
    during = scans.during
    manager = UserFactory(username="manager", is_superuser=True)
    manager.set_password("a-long-password")
    manager.save()
    web = Client(raise_request_exception=False)  # answered as in production, not raised into the test
    api = client_for(store)
    api.raise_request_exception = False
    order = during.order
    assert scans.send(web, scans.before).json()["status"] == "received"
    connection.close()  # the test's own session would keep its writable default

    with database_read_only():
        webhook = scans.send(web, during)
        tracking = web.get(f"/track/{tracking_token(order)}/")
        lookup = web.post("/track/", {"order_number": order.order_number, "contact": order.customer.email})
        orders = api.get("/api/v1/orders/")
        event = {"tracking_code": during.tracking_code, "status": "delivered", "occurred_at": "2026-12-01T12:00:00Z"}
        api_write = api.post("/api/v1/tracking-events/", event, format="json")
        login = web.post("/admin/login/", {"username": "manager", "password": "a-long-password"})
        health = web.get("/healthz")
        connection.close()
        outage_jobs = run_jobs()  # the first delivery's drain: its claim is refused, so nothing changes
    connection.close()  # a web process reconnects after a failover; the test client skips that step

    # Providers are told to retry, in the words they get for other errors.
    assert (webhook.status_code, webhook["Retry-After"], webhook.json()) == (503, "30", {"error": READ_ONLY})
    assert (api_write.status_code, api_write["Retry-After"], api_write.json()) == (503, "30", {"detail": READ_ONLY})
    # Customers still see where their parcel is, and an integration still reads (its token's "last used"
    # is bookkeeping, skipped).
    assert tracking.status_code == 200 and during.tracking_code in tracking.content.decode()
    assert (lookup.status_code, lookup["Location"]) == (302, f"/track/{tracking_token(order)}/")
    assert orders.status_code == 200 and orders.json()["count"] == 2
    assert ApiToken.objects.get().last_used_at is None  # its first use: the stamp was due, and skipped
    # A person whose action must write gets the "back in a moment" page, not an error page.
    assert (login.status_code, login["Retry-After"]) == (503, "30")
    assert "Please try again in a minute" in login.content.decode()
    # Operators see why.
    assert health.status_code == 503
    assert (health.json()["database"], health.json()["failing"]) == ("error: read-only", ["database"])
    assert outage_jobs == 1
    assert count_by(InboundDelivery.objects.values_list("state", flat=True)) == {DeliveryState.RECEIVED: 1}

    # Writes are back: the provider retries both (it never had a 2xx for the second).
    assert scans.retry_both(web) == ["received", "duplicate"]
    assert web.get("/healthz").status_code == 200
    run_jobs()

    processed = {DeliveryState.PROCESSED: 2, DeliveryState.DUPLICATE: 1}
    assert scans.outcome() == (processed, [ShipmentStatus.IN_TRANSIT] * 2)
