"""PostgreSQL unreachable while webhooks and visitors arrive (a restart, a failover): nothing is answered 2xx
that was not stored, providers and people are told to retry (503 with Retry-After, not 500), and once the
database is back the retried deliveries are stored and processed once. A web process's kept connection
that the server dropped between two requests costs the next webhook nothing but a new connection.

The outage is PostgreSQL's own: the test's database stops accepting connections and its open ones are
terminated, as a restart does, on the suite's server (the other databases on it are untouched).
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client

from orders.choices import DeliveryState, ShipmentStatus
from orders.models import InboundDelivery
from portal.links import tracking_token
from tests.factories import StoreFactory
from tests.orders.api import client_for
from tests.reliability.helpers import OutageScans, count_by, database_down, database_session

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "easypost-outage-secret"


def test_while_the_database_is_down_nothing_is_answered_2xx_everyone_is_told_to_retry_and_retries_are_stored_once(
    run_jobs,
):
    store = StoreFactory(easypost_webhook_secret=SECRET)
    scans = OutageScans(store, SECRET)
    web = Client(raise_request_exception=False)  # answered as in production, not raised into the test
    api = client_for(store)
    api.raise_request_exception = False
    page = f"/track/{tracking_token(scans.during.order)}/"
    assert scans.send(web, scans.before).json()["status"] == "received"

    with database_down():
        webhook = scans.send(web, scans.during)
        tracking = web.get(page)
        orders = api.get("/api/v1/orders/")
        health = web.get("/healthz")
    # A web process's next request finds its connection broken and opens a new one (CONN_HEALTH_CHECKS);
    # the test client skips that request-start step, so the test does it.
    connection.close()

    assert (webhook.status_code, webhook["Retry-After"]) == (503, "30")
    assert webhook.json() == {"error": "The database is unavailable; retry later."}
    assert (tracking.status_code, tracking["Retry-After"]) == (503, "30")
    assert "Please try again in a minute" in tracking.content.decode()
    assert (orders.status_code, orders.json()) == (503, {"detail": "The database is unavailable; retry later."})
    assert health.status_code == 503 and health.json()["failing"] == ["database"]
    assert count_by(InboundDelivery.objects.values_list("state", flat=True)) == {DeliveryState.RECEIVED: 1}

    # The provider retries both (it never had a 2xx for the second): one is new, one a duplicate.
    assert scans.retry_both(web) == ["received", "duplicate"]
    assert web.get(page).status_code == 200
    run_jobs()

    processed = {DeliveryState.PROCESSED: 2, DeliveryState.DUPLICATE: 1}
    assert scans.outcome() == (processed, [ShipmentStatus.IN_TRANSIT] * 2)


def test_a_webhook_on_a_kept_connection_the_server_dropped_reconnects_and_is_stored_once(run_jobs):
    store = StoreFactory(easypost_webhook_secret=SECRET)
    scans = OutageScans(store, SECRET)
    web = Client(raise_request_exception=False)
    assert scans.send(web, scans.before).json()["status"] == "received"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    # A restart or a proxy drops the connection this process keeps between requests.
    with database_session(dbname="postgres", autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [backend])
    connection.close_if_unusable_or_obsolete()  # a request's start, which the test client skips

    answer = scans.send(web, scans.during)

    assert (answer.status_code, answer.json()["status"]) == (200, "received")
    run_jobs()
    assert scans.outcome() == ({DeliveryState.PROCESSED: 2}, [ShipmentStatus.IN_TRANSIT] * 2)
