"""Signed deliveries through the real URLs: provider journeys, replays, and every kind of bad input."""

from __future__ import annotations

import json
import random
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import django_rq
import psycopg
import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from orders.choices import DeliveryState, FinancialStatus, FulfillmentStatus, ShipmentStatus
from orders.ingest import inbound_drain, inbound_reconcile
from orders.models import InboundDelivery, Order, Shipment, Store, TrackingEvent
from tests import signing
from tests.factories import OrderFactory, ShipmentFactory, StoreFactory
from tests.orders.connectors.test_shopify import DELIVERIES as SHOPIFY_DELIVERIES

pytestmark = pytest.mark.django_db(transaction=True)

SHOP = "acme-outdoor.myshopify.com"
SHOPIFY_SECRET = "shpss_journey_secret_0123456789"
EASYPOST_SECRET = "easypost-webhook-secret"
AFTERSHIP_SECRET = "aftership-webhook-secret"
STRIPE_SECRET = "whsec_journey_secret"
SHOPIFY_JOURNEY = [
    "orders_create",
    "orders_paid",
    "fulfillments_create",
    "orders_updated",
    "fulfillments_update",
    "fulfillment_events_create_in_transit",
    "fulfillment_events_create_delayed",
    "fulfillment_events_create_attempted_delivery",
    "fulfillment_events_create_out_for_delivery",
    "fulfillment_events_create_delivered",
]


@pytest.fixture
def store():
    return StoreFactory(
        slug="acme",
        shopify_domain=SHOP,
        shopify_webhook_secret=SHOPIFY_SECRET,
        easypost_webhook_secret=EASYPOST_SECRET,
        aftership_webhook_secret=AFTERSHIP_SECRET,
        stripe_webhook_secret=STRIPE_SECRET,
        country="US",
    )


def post_shopify(client, name: str, *, secret: str = SHOPIFY_SECRET, shop: str = SHOP, body: bytes | None = None):
    topic, webhook_id, event_id = SHOPIFY_DELIVERIES[name]
    body = signing.load("shopify", name) if body is None else body
    headers = signing.shopify_headers(body, secret, topic=topic, webhook_id=webhook_id, shop=shop, event_id=event_id)
    return client.post("/webhooks/shopify/", body, content_type="application/json", **headers)


def post_easypost(client, name: str, secret: str = EASYPOST_SECRET):
    body = signing.load("easypost", name)
    return client.post(
        "/webhooks/easypost/", body, content_type="application/json", **signing.easypost_headers(body, secret)
    )


def post_aftership(client, name: str, secret: str = AFTERSHIP_SECRET):
    body = signing.load("aftership", name)
    headers = signing.aftership_headers(body, secret)
    return client.post("/webhooks/aftership/", body, content_type="application/json", **headers)


def post_stripe(client, name: str, secret: str = STRIPE_SECRET, **kwargs):
    body = signing.load("stripe", name)
    headers = signing.stripe_headers(body, secret, **kwargs)
    return client.post("/webhooks/stripe/", body, content_type="application/json", **headers)


def settle(run_jobs) -> None:
    """Run every queued job, then let the reconciler retry what waited for an earlier event."""
    run_jobs()
    while InboundDelivery.objects.filter(state=DeliveryState.WAITING).exists():
        InboundDelivery.objects.filter(state=DeliveryState.WAITING).update(next_attempt_at=None)
        InboundDelivery.objects.filter(state=DeliveryState.WAITING).update(state=DeliveryState.RECEIVED)
        assert inbound_reconcile(now=_far_future()) > 0
        run_jobs()


def _far_future():
    from datetime import timedelta

    from django.utils import timezone

    return timezone.now() + timedelta(minutes=5)


def shipment_state():
    shipment = Shipment.objects.get()
    return (
        shipment.tracking_code,
        shipment.carrier,
        shipment.status,
        shipment.first_scan_at,
        shipment.last_scan_at,
        shipment.delivered_at,
        sorted(shipment.events.values_list("status", "occurred_at", "message")),
    )


def order_state():
    order = Order.objects.get()
    return (order.order_number, order.financial_status, order.fulfillment_status, order.total, order.cancelled_at,
            order.customer.email, sorted(order.line_items.values_list("sku", "quantity")))  # fmt: skip


# --- Journeys ------------------------------------------------------------------------------------------------------


def test_a_shopify_journey_builds_the_order_its_shipment_and_timeline(client, store, run_jobs):
    for name in SHOPIFY_JOURNEY:
        response = post_shopify(client, name)
        assert response.status_code == 200, (name, response.json())
        assert response.json()["status"] == "received"
    settle(run_jobs)

    order = Order.objects.get()
    assert (order.order_number, order.financial_status, order.fulfillment_status) == ("1001", "paid", "fulfilled")
    assert order.customer.email == "jane.doe@example.com"
    assert order.line_items.count() == 2
    shipment = Shipment.objects.get()
    assert (shipment.carrier, shipment.tracking_code, shipment.status) == ("ups", "1Z999AA10123456784", "delivered")
    statuses = list(shipment.events.order_by("occurred_at").values_list("status", flat=True))
    assert statuses[0] == ShipmentStatus.LABEL_CREATED
    assert ShipmentStatus.EXCEPTION in statuses and ShipmentStatus.ATTEMPTED_DELIVERY in statuses
    assert statuses[-1] == ShipmentStatus.DELIVERED
    assert set(InboundDelivery.objects.values_list("state", flat=True)) == {DeliveryState.PROCESSED}


@pytest.mark.parametrize("seed", [1, 2])
def test_a_shopify_journey_delivered_twice_and_shuffled_ends_in_the_same_state(client, store, run_jobs, seed):
    for name in SHOPIFY_JOURNEY:
        post_shopify(client, name)
    settle(run_jobs)
    expected = (order_state(), shipment_state())
    Order.objects.all().delete()
    InboundDelivery.objects.all().delete()

    storm = SHOPIFY_JOURNEY * 2
    random.Random(seed).shuffle(storm)
    for name in storm:
        assert post_shopify(client, name).status_code == 200
    settle(run_jobs)

    assert (order_state(), shipment_state()) == expected
    states = InboundDelivery.objects.values_list("state", flat=True)
    assert sorted(set(states)) == [DeliveryState.DUPLICATE, DeliveryState.PROCESSED]
    assert list(states).count(DeliveryState.PROCESSED) == len(SHOPIFY_JOURNEY)


def test_a_redelivered_shopify_webhook_is_stored_marked_duplicate_and_changes_nothing(client, store, run_jobs):
    post_shopify(client, "orders_create")
    run_jobs()

    response = post_shopify(client, "orders_create")
    run_jobs()

    assert response.json()["status"] == "duplicate"
    assert Order.objects.count() == 1
    assert list(InboundDelivery.objects.order_by("pk").values_list("state", flat=True)) == ["processed", "duplicate"]


def test_topics_sharing_one_event_id_are_not_duplicates(client, store, run_jobs):
    # fulfillments/create and orders/updated come from one merchant action: same Event-Id.
    for name in ["orders_create", "fulfillments_create", "orders_updated"]:
        assert post_shopify(client, name).json()["status"] == "received"


def test_an_easypost_journey_tracks_an_announced_parcel_to_delivery(client, store, run_jobs):
    ShipmentFactory(order=OrderFactory(store=store), tracking_code="9400100000000000000001", carrier="usps",
                    label_created_at=None)  # fmt: skip
    names = ["01_tracker_created", "02_tracker_updated_in_transit", "03_tracker_updated_delivery_attempted",
             "04_tracker_updated_out_for_delivery", "05_tracker_updated_delivered"]  # fmt: skip
    for name in names:
        assert post_easypost(client, name).status_code == 200
    settle(run_jobs)

    shipment = Shipment.objects.get()
    assert shipment.status == ShipmentStatus.DELIVERED
    statuses = set(shipment.events.values_list("status", flat=True))
    assert {ShipmentStatus.LABEL_CREATED, ShipmentStatus.IN_TRANSIT, ShipmentStatus.ATTEMPTED_DELIVERY,
            ShipmentStatus.OUT_FOR_DELIVERY, ShipmentStatus.DELIVERED} <= statuses  # fmt: skip
    # Each tracker.updated repeats the whole history: stored once.
    assert shipment.events.count() == len(signing.load_json("easypost", names[-1])["result"]["tracking_details"])
    assert shipment.events.filter(raw_detail="delivery_exception").exists()


def test_an_aftership_journey_follows_a_shopify_order_through_an_exception_to_delivery(client, store, run_jobs):
    post_shopify(client, "orders_create")
    post_shopify(client, "orders_paid")
    run_jobs()
    names = ["01_info_received", "02_in_transit", "03_exception", "04_attempt_fail", "05_out_for_delivery",
             "06_delivered"]  # fmt: skip
    for name in names:
        assert post_aftership(client, name).status_code == 200
    settle(run_jobs)

    shipment = Shipment.objects.get()
    assert (shipment.order.order_number, shipment.carrier, shipment.status) == ("1001", "ups", "delivered")
    statuses = set(shipment.events.values_list("status", flat=True))
    assert {ShipmentStatus.EXCEPTION, ShipmentStatus.ATTEMPTED_DELIVERY, ShipmentStatus.DELIVERED} <= statuses
    assert shipment.carrier_estimated_delivery is not None


def test_shopify_and_aftership_describe_one_parcel_as_one_shipment(client, store, run_jobs):
    for name in SHOPIFY_JOURNEY[:3]:
        post_shopify(client, name)
    for name in ["02_in_transit", "06_delivered"]:
        post_aftership(client, name)
    settle(run_jobs)

    shipment = Shipment.objects.get()
    assert shipment.external_id == "5304183554374"  # Shopify's fulfillment id, not AfterShip's
    assert shipment.status == ShipmentStatus.DELIVERED


def test_a_stripe_payment_failure_then_success_marks_the_order_paid(client, store, run_jobs):
    post_shopify(client, "orders_create")
    run_jobs()

    assert post_stripe(client, "payment_intent_payment_failed").status_code == 200
    run_jobs()
    order = Order.objects.get()
    assert order.financial_status == FinancialStatus.FAILED
    assert order.payment_reference == "pi_3RYbQ2Fz7kVn4XyT1mJ8dC5e"

    post_stripe(client, "payment_intent_succeeded")
    run_jobs()
    order.refresh_from_db()
    assert order.financial_status == FinancialStatus.PAID


def test_a_shopify_cancellation_records_it(client, store, run_jobs):
    for name in ["orders_create", "orders_paid", "orders_cancelled"]:
        post_shopify(client, name)
    run_jobs()

    order = Order.objects.get()
    assert order.cancelled_at is not None
    assert order.financial_status == FinancialStatus.REFUNDED
    assert order.fulfillment_status == FulfillmentStatus.UNFULFILLED


# --- Single-store install: secrets from the environment ---------------------------------------------------------


@override_settings(SHOPIFY_WEBHOOK_SECRET="env-secret", DEFAULT_STORE_SLUG="solo")
def test_an_env_secret_serves_the_default_store_when_no_store_matches(client, run_jobs):
    StoreFactory(slug="solo")

    response = post_shopify(client, "orders_create", secret="env-secret", shop="unknown.myshopify.com")
    run_jobs()

    assert response.status_code == 200
    assert Order.objects.get().store.slug == "solo"


@override_settings(SHOPIFY_WEBHOOK_SECRET="env-secret")
def test_the_env_secret_stops_serving_the_only_store_once_a_second_store_exists(client):
    StoreFactory(slug="solo")
    assert post_shopify(client, "orders_create", secret="env-secret", shop="unknown.myshopify.com").status_code == 200
    StoreFactory(slug="second")

    response = post_shopify(client, "orders_paid", secret="env-secret", shop="unknown.myshopify.com")

    assert response.status_code == 404


# --- Which store signed it: each process keeps the stores' secrets between deliveries -------------------------


def test_a_delivery_is_checked_for_duplicates_and_stored_in_one_query_once_the_stores_are_known(
    client, store, django_assert_num_queries
):
    post_easypost(client, "01_tracker_created")  # this process reads the stores' secrets once

    with django_assert_num_queries(1):
        first = post_easypost(client, "02_tracker_updated_in_transit")
    with django_assert_num_queries(1):
        again = post_easypost(client, "02_tracker_updated_in_transit")

    assert first.json()["status"] == "received"
    assert again.json()["status"] == "duplicate"


@contextmanager
def statements_sent() -> Iterator[list[str]]:
    """The statements this process's database connection sends while the block runs, read from libpq's
    trace of the wire protocol: Django's query log misses its connection health check, which goes to the
    driver directly."""
    connection.ensure_connection()  # unlike a cursor, without a health check of its own
    pgconn = connection.connection.pgconn
    sent: list[str] = []
    with tempfile.TemporaryFile() as trace:
        pgconn.trace(trace.fileno())
        pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
        try:
            yield sent
        finally:
            pgconn.untrace()
        trace.seek(0)
        lines = trace.read().decode().splitlines()
    sent += [line.split("\t", 3)[3].strip() for line in lines if line.split("\t")[:3:2] == ["F", "Query"]]


def test_a_delivery_is_one_round_trip_even_as_a_requests_first_query(client, store):
    """Django's health check of a kept connection (a `SELECT 1` before a request's first query) is not
    paid by the webhook: a connection found dropped is replaced by the insert itself (tests/reliability/
    test_database_down.py)."""
    post_easypost(client, "01_tracker_created")
    connection.close_if_unusable_or_obsolete()  # a request's start in production, which the test client skips

    with statements_sent() as sent:
        answer = post_easypost(client, "02_tracker_updated_in_transit")

    assert answer.json()["status"] == "received"
    assert len(sent) == 1 and sent[0].startswith('"INSERT INTO'), sent


def test_a_secret_changed_by_another_process_is_refused_at_once(client, store):
    assert post_easypost(client, "01_tracker_created").status_code == 200
    # Another process rotates the secret: nothing tells this one.
    Store.objects.filter(pk=store.pk).update(easypost_webhook_secret="rotated-secret")

    old = post_easypost(client, "02_tracker_updated_in_transit")
    new = post_easypost(client, "02_tracker_updated_in_transit", secret="rotated-secret")

    assert old.status_code == 401
    assert new.status_code == 200
    assert InboundDelivery.objects.count() == 2


def test_a_bad_payload_signed_with_a_revoked_secret_gets_401_and_stores_nothing(client, store):
    assert post_easypost(client, "01_tracker_created").status_code == 200
    Store.objects.filter(pk=store.pk).update(easypost_webhook_secret="")
    body = b'{"description": "tracker.updated"}'

    response = client.post("/webhooks/easypost/", body, content_type="application/json",
                           **signing.easypost_headers(body, EASYPOST_SECRET))  # fmt: skip

    assert response.status_code == 401
    assert InboundDelivery.objects.count() == 1


def test_a_store_added_by_another_process_is_accepted_at_once(client, store):
    assert post_easypost(client, "01_tracker_created").status_code == 200
    Store.objects.bulk_create([Store(name="Second", slug="second", easypost_webhook_secret="second-secret")])

    response = post_easypost(client, "02_tracker_updated_in_transit", secret="second-secret")

    assert response.status_code == 200
    assert InboundDelivery.objects.get(pk=response.json()["id"]).store.slug == "second"


# --- Bad input: a clear answer, never a 500, nothing changed ------------------------------------------------------


def nothing_applied() -> bool:
    return not (Order.objects.exists() or Shipment.objects.exists() or TrackingEvent.objects.exists())


@pytest.mark.parametrize(
    ("case", "post"),
    [
        ("shopify_wrong_secret", lambda c: post_shopify(c, "orders_create", secret="wrong")),
        ("easypost_wrong_secret", lambda c: post_easypost(c, "01_tracker_created", secret="wrong")),
        ("aftership_wrong_secret", lambda c: post_aftership(c, "02_in_transit", secret="wrong")),
        ("stripe_wrong_secret", lambda c: post_stripe(c, "payment_intent_succeeded", secret="whsec_wrong")),
        ("stripe_replayed_old_delivery", lambda c: post_stripe(c, "payment_intent_succeeded", timestamp=1_000_000)),
        ("no_signature", lambda c: c.post("/webhooks/easypost/", b"{}", content_type="application/json")),
    ],
)
def test_a_bad_signature_gets_401_and_stores_nothing(client, store, case, post):
    response = post(client)

    assert response.status_code == 401, case
    assert response.json()["error"] == "invalid signature"
    assert not InboundDelivery.objects.exists()
    assert nothing_applied()


def test_an_unknown_shop_gets_404(client, store):
    response = post_shopify(client, "orders_create", shop="stranger.myshopify.com")

    assert response.status_code == 404
    assert not InboundDelivery.objects.exists()


def test_an_unknown_store_slug_gets_404(client, store):
    body = signing.load("easypost", "01_tracker_created")
    response = client.post("/webhooks/easypost/?store=nope", body, content_type="application/json",
                           **signing.easypost_headers(body, EASYPOST_SECRET))  # fmt: skip

    assert response.status_code == 404


def test_an_unknown_source_gets_404(client, store):
    assert client.post("/webhooks/paypal/", b"{}", content_type="application/json").status_code == 404


def test_malformed_json_gets_400_naming_the_body_and_keeps_only_the_raw_record(client, store, run_jobs):
    response = post_shopify(client, "orders_create", body=b'{"id": 1, "name": ')
    run_jobs()

    assert response.status_code == 400
    assert response.json()["field"] == "body"
    delivery = InboundDelivery.objects.get()
    assert delivery.state == DeliveryState.FAILED and "JSON" in delivery.error
    assert nothing_applied()


def test_a_payload_missing_a_needed_field_gets_400_naming_it(client, store, run_jobs):
    payload = signing.load_json("shopify", "orders_create")
    del payload["id"]

    response = post_shopify(client, "orders_create", body=json.dumps(payload).encode())
    run_jobs()

    assert response.status_code == 400
    assert response.json() == {"error": "invalid payload", "field": "id", "detail": "id is required"}
    assert nothing_applied()


def test_an_easypost_event_without_a_tracking_code_gets_400_naming_it(client, store):
    payload = signing.load_json("easypost", "02_tracker_updated_in_transit")
    del payload["result"]["tracking_code"]
    body = json.dumps(payload).encode()

    response = client.post("/webhooks/easypost/", body, content_type="application/json",
                           **signing.easypost_headers(body, EASYPOST_SECRET))  # fmt: skip

    assert response.status_code == 400
    assert response.json()["field"] == "result.tracking_code"


def test_an_unknown_topic_is_stored_ignored_and_answered_202(client, store, run_jobs):
    body = b'{"id": 1}'
    headers = signing.shopify_headers(body, SHOPIFY_SECRET, topic="products/update", webhook_id="w-1", shop=SHOP)

    response = client.post("/webhooks/shopify/", body, content_type="application/json", **headers)
    run_jobs()

    assert response.status_code == 202
    assert InboundDelivery.objects.get().state == DeliveryState.IGNORED
    assert nothing_applied()


@override_settings(WEBHOOK_MAX_BODY_BYTES=1000)
def test_an_oversized_body_is_refused_with_413(client, store):
    response = post_shopify(client, "orders_create")  # about 6 kB

    assert response.status_code == 413
    assert not InboundDelivery.objects.exists()


@pytest.mark.parametrize("path", ["/webhooks/shopify/", "/webhooks/stripe", "/webhooks/nope/"])
@pytest.mark.parametrize("method", ["get", "put", "delete", "patch"])
def test_only_post_is_accepted_and_any_other_method_is_answered_in_json(client, store, path, method):
    response = getattr(client, method)(path)

    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert response["Allow"] == "POST"
    assert response.json()["error"] == f"method {method.upper()} not allowed: POST here"
    assert not InboundDelivery.objects.exists()


def signed_delivery(source: str) -> tuple[bytes, dict]:
    """A captured delivery of `source` and its signature headers."""
    if source == "shopify":
        body = signing.load("shopify", "orders_create")
        return body, signing.shopify_headers(body, SHOPIFY_SECRET, topic="orders/create", webhook_id="w-1", shop=SHOP)
    name, sign, secret = {
        "easypost": ("01_tracker_created", signing.easypost_headers, EASYPOST_SECRET),
        "aftership": ("02_in_transit", signing.aftership_headers, AFTERSHIP_SECRET),
        "stripe": ("payment_intent_succeeded", signing.stripe_headers, STRIPE_SECRET),
    }[source]
    body = signing.load(source, name)
    return body, sign(body, secret)


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("slash", ["/", ""])
@pytest.mark.parametrize("source", ["shopify", "easypost", "aftership", "stripe"])
def test_a_webhook_url_is_answered_with_or_without_its_trailing_slash(client, store, settings, source, slash, debug):
    # Providers do not POST again after a redirect: APPEND_SLASH's 301 (or its RuntimeError in DEBUG) lost them.
    settings.DEBUG = debug

    body, headers = signed_delivery(source)

    response = client.post(f"/webhooks/{source}{slash}", body, content_type="application/json", **headers)

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "received"
    assert InboundDelivery.objects.get().source == source


def test_twilio_callbacks_are_routed_with_or_without_their_trailing_slash(client):
    from django.urls import resolve

    for name in ("status", "inbound"):
        assert resolve(f"/webhooks/twilio/{name}").func is resolve(f"/webhooks/twilio/{name}/").func


def test_a_stale_stripe_signature_says_so_whichever_of_several_stores_signed_it(client, store):
    StoreFactory(slug="other", stripe_webhook_secret="whsec_other_store")  # tried after `store`
    body = signing.load("stripe", "payment_intent_succeeded")
    stale = int(time.time()) - 1000

    for secret in (STRIPE_SECRET, "whsec_other_store"):
        headers = signing.stripe_headers(body, secret, timestamp=stale)
        response = client.post("/webhooks/stripe/", body, content_type="application/json", **headers)

        assert response.status_code == 401
        assert "outside the 300 s tolerance" in response.json()["detail"], secret
    wrong = signing.stripe_headers(body, "whsec_nobody", timestamp=stale)
    response = client.post("/webhooks/stripe/", body, content_type="application/json", **wrong)
    assert "wrong signing secret" in response.json()["detail"]
    assert not InboundDelivery.objects.exists()


# --- Nothing lost ------------------------------------------------------------------------------------------------


def test_deliveries_arriving_while_redis_is_down_are_stored_then_processed_by_the_reconciler(
    client, store, run_jobs, settings
):
    real_queues = settings.RQ_QUEUES
    settings.RQ_QUEUES = {name: {"URL": "redis://127.0.0.1:1/0"} for name in real_queues}
    for name in SHOPIFY_JOURNEY[:3]:
        assert post_shopify(client, name).status_code == 200
    assert InboundDelivery.objects.filter(state=DeliveryState.RECEIVED).count() == 3
    assert nothing_applied()

    settings.RQ_QUEUES = real_queues  # Redis is back
    assert inbound_reconcile(now=_far_future()) == 3
    settle(run_jobs)

    assert InboundDelivery.objects.filter(state=DeliveryState.PROCESSED).count() == 3
    assert Shipment.objects.get().tracking_code == "1Z999AA10123456784"


def test_a_failed_delivery_keeps_its_error_and_can_be_reprocessed(client, store, run_jobs, monkeypatch):
    from orders import ingest

    def broken(*args, **kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(ingest, "order_upsert", broken)
    post_shopify(client, "orders_create")
    run_jobs()
    delivery = InboundDelivery.objects.get()
    assert (delivery.state, delivery.error) == (DeliveryState.FAILED, "RuntimeError: database hiccup")

    monkeypatch.undo()
    assert ingest.inbound_reprocess(InboundDelivery.objects.all()) == 1
    run_jobs()

    assert InboundDelivery.objects.get().state == DeliveryState.PROCESSED
    assert Order.objects.count() == 1


def stored_copy(delivery: InboundDelivery) -> InboundDelivery:
    """The same delivery stored again, as a second copy arriving at the same instant is (the door's
    duplicate check and insert are one statement, not one transaction)."""
    fields = ["source", "store", "event_type", "delivery_id", "headers", "body"]
    return InboundDelivery.objects.create(**{name: getattr(delivery, name) for name in fields})


def test_two_copies_stored_at_once_are_applied_once_the_second_marked_duplicate(client, store, run_jobs):
    post_shopify(client, "orders_create")
    stored_copy(InboundDelivery.objects.get())

    run_jobs()

    assert list(InboundDelivery.objects.order_by("pk").values_list("state", flat=True)) == ["processed", "duplicate"]
    assert Order.objects.count() == 1


def test_a_copy_processed_later_finds_the_first_and_is_marked_duplicate(client, store, run_jobs):
    post_shopify(client, "orders_create")
    run_jobs()
    copy = stored_copy(InboundDelivery.objects.get())

    inbound_drain()

    copy.refresh_from_db()
    assert (copy.state, copy.processed_at is not None) == (DeliveryState.DUPLICATE, True)
    assert Order.objects.count() == 1


def test_a_carrier_scan_for_a_parcel_not_announced_yet_waits_and_then_applies(client, store, run_jobs):
    post_shopify(client, "fulfillment_events_create_in_transit")
    run_jobs()
    assert InboundDelivery.objects.get().state == DeliveryState.WAITING

    for name in ["orders_create", "fulfillments_create"]:
        post_shopify(client, name)
    settle(run_jobs)

    assert Shipment.objects.get().status == ShipmentStatus.IN_TRANSIT


# --- Batches -----------------------------------------------------------------------------------------------------

EASYPOST_JOURNEY = ["01_tracker_created", "02_tracker_updated_in_transit", "03_tracker_updated_delivery_attempted",
                    "04_tracker_updated_out_for_delivery", "05_tracker_updated_delivered"]  # fmt: skip


@pytest.fixture
def parcel(store):
    return ShipmentFactory(order=OrderFactory(store=store), tracking_code="9400100000000000000001", carrier="usps",
                           label_created_at=None)  # fmt: skip


def _queued(func_name: str) -> int:
    return sum(
        job.func_name.endswith(func_name)
        for name in ("high", "default", "low")
        for job in django_rq.get_queue(name).get_jobs()
    )


heard: list[tuple[list[int], list[int]]] = []


def hear_facts(shipment_ids: list[int], order_ids: list[int]) -> None:
    heard.append((shipment_ids, order_ids))


def test_a_burst_of_deliveries_queues_one_job_that_applies_them_in_order_and_checks_their_facts_once(
    client, handoff, store, parcel, django_capture_on_commit_callbacks, settings
):
    from orders.ingest import inbound_drain

    settings.FACT_LISTENERS = [f"{__name__}.hear_facts"]
    heard.clear()
    with django_capture_on_commit_callbacks(execute=True):
        for name in EASYPOST_JOURNEY:
            assert post_easypost(client, name).status_code == 200
    assert _queued("inbound_drain_job") == 0  # the answers did not wait for Redis...
    assert handoff.run_pending() == 1  # ...the hand-off thread's next pass queues one drain for all of them
    assert _queued("inbound_drain_job") == 1
    pks = list(InboundDelivery.objects.order_by("pk").values_list("pk", flat=True))

    with django_capture_on_commit_callbacks(execute=True):
        results = inbound_drain()

    assert list(results) == pks
    assert {result.state for result in results.values()} == {DeliveryState.PROCESSED}
    assert Shipment.objects.get().status == ShipmentStatus.DELIVERED
    # Checked in the drain's own job, once for the batch: no job of their own to wait for.
    assert heard == [([parcel.pk], [])]
    assert _queued("facts_changed_job") == 0


def refuse_facts(shipment_ids: list[int], order_ids: list[int]) -> None:
    raise RuntimeError("listener down")


def test_a_listener_failing_in_the_announcing_job_is_logged_and_the_others_still_hear(
    settings, django_capture_on_commit_callbacks, caplog
):
    from orders.facts import facts_announce

    settings.FACT_LISTENERS = [f"{__name__}.refuse_facts", f"{__name__}.hear_facts"]
    heard.clear()
    with django_capture_on_commit_callbacks(execute=True):
        facts_announce(shipment_ids=[3, 1, 3], order_ids=[2], here=True)

    assert heard == [([1, 3], [2])]
    assert "listener down" in caplog.text
    assert _queued("facts_changed_job") == 0


def test_a_delivery_stored_once_its_drain_has_started_queues_another(client, store, parcel, run_jobs):
    from orders.ingest import inbound_drain

    post_easypost(client, EASYPOST_JOURNEY[0])
    run_jobs()
    post_easypost(client, EASYPOST_JOURNEY[1])
    run_jobs()

    assert InboundDelivery.objects.filter(state=DeliveryState.PROCESSED).count() == 2
    assert inbound_drain() == {}


def test_a_full_batch_takes_the_oldest_and_queues_the_next_for_another_worker(
    client, store, parcel, settings, django_capture_on_commit_callbacks, run_jobs
):
    from orders.ingest import inbound_drain

    real_queues = settings.RQ_QUEUES
    settings.RQ_QUEUES = {name: {"URL": "redis://127.0.0.1:1/0"} for name in real_queues}  # stored, not queued
    for name in EASYPOST_JOURNEY:
        post_easypost(client, name)
    settings.RQ_QUEUES = real_queues
    pks = list(InboundDelivery.objects.order_by("pk").values_list("pk", flat=True))

    with django_capture_on_commit_callbacks(execute=True):
        assert list(inbound_drain(limit=2)) == pks[:2]
    assert _queued("inbound_drain_job") == 1
    assert InboundDelivery.objects.filter(state=DeliveryState.RECEIVED).count() == 3


def test_a_batch_that_applies_cleanly_is_one_transaction_marked_in_one_statement(client, store, parcel):
    for name in EASYPOST_JOURNEY[:3]:
        post_easypost(client, name)

    with CaptureQueriesContext(connection) as queries:
        states = [result.state for result in inbound_drain().values()]

    assert states == [DeliveryState.PROCESSED] * 3
    sql = [q["sql"] for q in queries]
    marks = [n for n, s in enumerate(sql) if s.startswith('UPDATE "orders_inbounddelivery" SET "state"')]
    assert len(marks) == 2  # the claim, then the batch's outcome
    # Up to the outcome: the claim's transaction, then the batch's (each delivery a savepoint in it).
    transactions = [s.split()[0] for s in sql[: marks[1]] if s.startswith(("BEGIN", "COMMIT"))]
    assert transactions == ["BEGIN", "COMMIT", "BEGIN"]
    parcel.refresh_from_db()
    assert parcel.status == ShipmentStatus.ATTEMPTED_DELIVERY


def test_a_drain_with_nothing_to_do_is_one_query_in_one_transaction(store):
    with CaptureQueriesContext(connection) as queries:
        assert inbound_drain() == {}

    # The claim's transaction finds nothing; no batch's transaction opens.
    assert [q["sql"].split()[0] for q in queries] == ["BEGIN", "SELECT", "COMMIT"]


def test_a_delivery_that_must_wait_in_a_batch_waits_alone_and_the_others_apply(client, store, parcel):
    post_shopify(client, "fulfillment_events_create_in_transit")  # its order is not known yet
    for name in EASYPOST_JOURNEY[:2]:
        post_easypost(client, name)

    states = [result.state for result in inbound_drain().values()]

    assert states == [DeliveryState.WAITING, DeliveryState.PROCESSED, DeliveryState.PROCESSED]
    parcel.refresh_from_db()
    assert parcel.status == ShipmentStatus.IN_TRANSIT


def test_a_delivery_that_fails_in_a_batch_does_not_hold_back_the_others(client, store, parcel, monkeypatch):
    from orders import ingest

    real_upsert = ingest.shipment_upsert
    seen = []

    def flaky(*, store, data, source):
        seen.append(data)
        if len(seen) == 2:
            raise RuntimeError("database hiccup")
        return real_upsert(store=store, data=data, source=source)

    monkeypatch.setattr(ingest, "shipment_upsert", flaky)
    for name in EASYPOST_JOURNEY[:3]:
        post_easypost(client, name)

    states = [result.state for result in ingest.inbound_drain().values()]

    assert states == [DeliveryState.PROCESSED, DeliveryState.FAILED, DeliveryState.PROCESSED]
    assert InboundDelivery.objects.get(state=DeliveryState.FAILED).error == "RuntimeError: database hiccup"


def test_a_batch_leaves_deliveries_another_worker_holds_and_those_waiting_for_their_retry(client, store, parcel):
    from orders.ingest import inbound_drain

    for name in EASYPOST_JOURNEY[:3]:
        post_easypost(client, name)
    held, waiting, free = InboundDelivery.objects.order_by("pk")
    InboundDelivery.objects.filter(pk=held.pk).update(state=DeliveryState.PROCESSING)
    InboundDelivery.objects.filter(pk=waiting.pk).update(state=DeliveryState.WAITING)

    assert list(inbound_drain()) == [free.pk]


class WorkerDied(BaseException):
    """What the claimant sees of a worker killed while applying its batch: nothing after the claim."""


def _die_while_applying(monkeypatch) -> None:
    """Drains from now on claim their batch (committed), then their worker dies before anything is applied."""
    from orders import ingest

    def killed(pks, unheld_at):
        raise WorkerDied

    monkeypatch.setattr(ingest, "_process_batch", killed)


def _past_the_claims_minute():
    from datetime import timedelta

    from django.utils import timezone

    from cxhub.claims import CLAIM_UNHELD_AFTER

    return timezone.now() + CLAIM_UNHELD_AFTER + timedelta(seconds=1)


def test_a_batch_whose_worker_died_is_handed_out_and_each_delivery_then_applied_alone(
    client, store, parcel, monkeypatch
):
    for name in EASYPOST_JOURNEY[:3]:
        post_easypost(client, name)
    _die_while_applying(monkeypatch)
    with pytest.raises(WorkerDied):
        inbound_drain()
    assert set(InboundDelivery.objects.values_list("state", flat=True)) == {DeliveryState.PROCESSING}
    monkeypatch.undo()  # the next workers live

    assert inbound_reconcile(now=_past_the_claims_minute()) == 3
    assert set(InboundDelivery.objects.values_list("state", "abandoned")) == {(DeliveryState.RECEIVED, 1)}

    # If one of them is what killed the worker, it must not take the others with it again.
    pks = list(InboundDelivery.objects.order_by("pk").values_list("pk", flat=True))
    django_rq.get_queue("default").empty()  # the reconciler's drain
    assert list(inbound_drain()) == pks[:1]
    assert _queued("inbound_drain_job") == 1  # the next, for the others
    assert [list(inbound_drain()) for _ in pks[1:]] == [[pk] for pk in pks[1:]]
    assert set(InboundDelivery.objects.values_list("state", flat=True)) == {DeliveryState.PROCESSED}
    parcel.refresh_from_db()
    assert parcel.status == ShipmentStatus.ATTEMPTED_DELIVERY


def test_a_drain_that_stalled_past_its_claim_leaves_the_deliveries_another_drain_took_meanwhile(
    client, store, parcel, monkeypatch
):
    from orders import ingest

    for name in EASYPOST_JOURNEY[:2]:
        post_easypost(client, name)
    process = ingest._process_batch

    def stall_then_process(pks, unheld_at):
        # Frozen past its minute (a paused VM, say): the reconciler hands the batch out and another drain
        # applies it before this one wakes up.
        monkeypatch.setattr(ingest, "_process_batch", process)
        assert inbound_reconcile(now=_past_the_claims_minute()) == len(pks)
        assert sorted(pk for _ in pks for pk in inbound_drain()) == sorted(pks)  # one at a time, as handed out
        return process(pks, unheld_at)

    monkeypatch.setattr(ingest, "_process_batch", stall_then_process)

    assert inbound_drain() == {}  # it applied nothing, and marked nothing (not even as duplicates)
    assert set(InboundDelivery.objects.values_list("state", "attempts")) == {(DeliveryState.PROCESSED, 2)}


def test_a_delivery_whose_worker_dies_each_time_is_failed_for_a_person_after_three(
    client, store, parcel, monkeypatch, run_jobs
):
    from cxhub.claims import ABANDONED_GIVE_UP
    from orders.ingest import inbound_reprocess

    post_easypost(client, EASYPOST_JOURNEY[0])
    _die_while_applying(monkeypatch)
    for abandoned in range(1, ABANDONED_GIVE_UP + 1):
        with pytest.raises(WorkerDied):
            inbound_drain()
        handed_out = inbound_reconcile(now=_past_the_claims_minute())
        delivery = InboundDelivery.objects.get()
        assert delivery.abandoned == abandoned
        if abandoned < ABANDONED_GIVE_UP:
            assert (handed_out, delivery.state) == (1, DeliveryState.RECEIVED)

    assert (handed_out, delivery.state) == (0, DeliveryState.FAILED)
    assert delivery.error.startswith("its worker stopped while applying it 3 times")
    monkeypatch.undo()  # the cause is found and fixed
    assert inbound_drain() == {}  # no worker took it again by itself
    assert inbound_reprocess(InboundDelivery.objects.all()) == 1
    run_jobs()
    assert InboundDelivery.objects.get().state == DeliveryState.PROCESSED


def test_without_redis_the_demo_applies_deliveries_in_process(client, store, parcel, settings):
    settings.RQ_SYNC = True  # the demo's fallback where no Redis server can be had

    for name in EASYPOST_JOURNEY:
        assert post_easypost(client, name).status_code == 200

    assert set(InboundDelivery.objects.values_list("state", flat=True)) == {DeliveryState.PROCESSED}
    assert Shipment.objects.get().status == ShipmentStatus.DELIVERED


def test_a_fulfillment_naming_another_order_for_a_parcel_fails_its_delivery_and_moves_nothing(client, store, run_jobs):
    post_shopify(client, "orders_create")
    post_shopify(client, "fulfillments_create")
    settle(run_jobs)
    other = OrderFactory(store=store, external_id="777", order_number="1002")
    body = json.loads(signing.load("shopify", "fulfillments_create"))
    body |= {"id": 999, "order_id": 777, "name": "#1002.1"}  # the same tracking number as 1001's parcel
    raw = json.dumps(body).encode()
    headers = signing.shopify_headers(raw, SHOPIFY_SECRET, topic="fulfillments/create", webhook_id="w-2", shop=SHOP)

    answer = client.post("/webhooks/shopify/", raw, content_type="application/json", **headers)
    settle(run_jobs)

    assert answer.status_code == 200  # stored: a person decides, in the admin's Inbound deliveries
    delivery = InboundDelivery.objects.get(delivery_id__contains="w-2")
    assert delivery.state == DeliveryState.FAILED
    assert "belongs to a shipment of order 1001, not of order 1002" in delivery.error
    assert Shipment.objects.get().order.order_number == "1001"
    assert not other.shipments.exists()
