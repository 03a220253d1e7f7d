"""Authentication and store scoping: a token acts for its own store and sees nothing else."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from orders.models import ApiToken, Order, Shipment, Ticket
from tests.factories import OrderFactory, ShipmentFactory, StoreFactory
from tests.orders.api import client_for, db_state

pytestmark = pytest.mark.django_db

ORDER_URL = "/api/v1/orders/1001/"


@pytest.fixture
def other_order() -> Order:
    """An order of another store, with a number a token of `store` might also use."""
    return OrderFactory(store=StoreFactory(slug="other"), order_number="1001", external_id="ext-1001")


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/api/v1/orders/"),
        ("post", "/api/v1/orders/"),
        ("get", ORDER_URL),
        ("put", ORDER_URL),
        ("patch", ORDER_URL),
        ("post", "/api/v1/shipments/"),
        ("post", "/api/v1/tracking-events/"),
        ("post", "/api/v1/tracking-events/bulk/"),
        ("post", "/api/v1/tickets/"),
        ("get", "/api/v1/carrier-pauses/"),
    ],
)
def test_it_answers_401_without_a_token(method, url, other_order):
    before = db_state()

    response = getattr(APIClient(), method)(url, {}, format="json")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert db_state() == before


def test_it_answers_401_for_a_wrong_token(other_order):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token cxh_not-a-real-key")

    response = client.get(ORDER_URL)

    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid or revoked token."}


def test_it_answers_401_for_a_revoked_token(other_order):
    token, key = ApiToken.issue(store=other_order.store, name="Old WMS")
    token.revoked_at = timezone.now()
    token.save()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    response = client.get(ORDER_URL)

    assert response.status_code == 401


def test_it_records_when_a_token_was_last_used(other_order):
    client = client_for(other_order.store)

    response = client.get(ORDER_URL)

    assert response.status_code == 200
    assert ApiToken.objects.get().last_used_at is not None


def test_it_answers_404_for_another_stores_order(other_order):
    client = client_for(StoreFactory(slug="mine"))

    assert client.get(ORDER_URL).status_code == 404
    assert client.get("/api/v1/orders/").json()["results"] == []


def test_it_answers_404_when_patching_another_stores_order(other_order):
    client = client_for(StoreFactory(slug="mine"))
    before = db_state()

    response = client.patch(ORDER_URL, {"total": "1.00"}, format="json")

    assert response.status_code == 404
    assert db_state() == before


def test_it_writes_an_order_into_the_tokens_own_store(other_order):
    mine = StoreFactory(slug="mine")

    response = client_for(mine).post(
        "/api/v1/orders/", {"order_number": "1001", "external_id": "ext-1001", "total": "5.00"}, format="json"
    )

    assert response.status_code == 201
    assert Order.objects.get(store=mine).total == 5
    other_order.refresh_from_db()
    assert other_order.total == 59


def test_it_does_not_attach_a_shipment_to_another_stores_order(other_order):
    client = client_for(StoreFactory(slug="mine"))
    before = db_state()

    response = client.post(
        "/api/v1/shipments/", {"order_number": "1001", "tracking_code": "1Z1", "carrier": "UPS"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"order_number": ["No such order."]}
    assert db_state() == before


def test_it_does_not_record_events_for_another_stores_shipment(other_order):
    ShipmentFactory(order=other_order, tracking_code="1Z1")
    client = client_for(StoreFactory(slug="mine"))
    before = db_state()
    event = {"tracking_code": "1Z1", "status": "delivered", "occurred_at": "2025-03-01T12:00:00Z"}

    single = client.post("/api/v1/tracking-events/", event, format="json")
    bulk = client.post("/api/v1/tracking-events/bulk/", {"events": [event]}, format="json")

    assert single.status_code == bulk.status_code == 400
    assert single.json() == {"tracking_code": ["No shipment with this tracking code in this store."]}
    assert bulk.json() == {"events": {"0": {"tracking_code": ["No shipment with this tracking code in this store."]}}}
    assert db_state() == before
    assert Shipment.objects.get().status == "label_created"


def test_it_does_not_link_a_ticket_to_another_stores_order(other_order):
    mine = StoreFactory(slug="mine")
    created_at = datetime(2025, 3, 1, 12, tzinfo=UTC) - timedelta(hours=1)

    response = client_for(mine).post(
        "/api/v1/tickets/",
        {"reason": "wismo", "channel": "email", "created_at": created_at.isoformat(), "order_number": "1001"},
        format="json",
    )

    # Another store's order is no order of this one: refused as an unknown order, nothing recorded.
    assert response.status_code == 400
    assert response.json() == {"order_number": ["No such order."]}
    assert not Ticket.objects.exists()
