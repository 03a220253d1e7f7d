"""POST /tickets/: inbound customer contacts from a helpdesk, recorded once."""

from datetime import UTC, datetime

import pytest

from orders.models import Customer, Store, Ticket
from tests.factories import CustomerFactory, OrderFactory, StoreFactory
from tests.orders.api import NAIVE, client_for, db_state

pytestmark = pytest.mark.django_db

TICKETS = "/api/v1/tickets/"


@pytest.fixture
def store() -> Store:
    return StoreFactory(slug="acme")


@pytest.fixture
def api(store):
    return client_for(store)


def ticket_payload(**overrides) -> dict:
    payload = {
        "reason": "wismo",
        "channel": "chat",
        "created_at": "2025-03-04T10:15:00+01:00",
        "external_id": "zd-4711",
        "subject": "Where is my order?",
        "body": "  It was due yesterday.\n",
    }
    return {**payload, **overrides}


def test_it_records_a_ticket_linked_to_the_order_and_its_customer(api, store):
    customer = CustomerFactory(store=store, email="ada@example.com")
    order = OrderFactory(store=store, order_number="1001", customer=customer)

    response = api.post(TICKETS, ticket_payload(order_number="#1001"), format="json")

    assert response.status_code == 201
    ticket = Ticket.objects.get()
    assert response.json() == {
        "id": ticket.pk,
        "external_id": "zd-4711",
        "source": "api",
        "channel": "chat",
        "reason": "wismo",
        "subject": "Where is my order?",
        "body": "  It was due yesterday.\n",
        "created_at": "2025-03-04T09:15:00Z",
        "order_number": "1001",
        "customer_email": "ada@example.com",
    }
    assert (ticket.store, ticket.order, ticket.customer) == (store, order, customer)
    assert ticket.created_at == datetime(2025, 3, 4, 9, 15, tzinfo=UTC)


def test_it_answers_200_with_the_same_ticket_when_the_helpdesk_id_repeats(api):
    first = api.post(TICKETS, ticket_payload(), format="json")

    again = api.post(TICKETS, ticket_payload(subject="Changed"), format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Ticket.objects.count() == 1


def test_it_records_each_ticket_without_a_helpdesk_id(api):
    payload = ticket_payload()
    del payload["external_id"]

    statuses = [api.post(TICKETS, payload, format="json").status_code for _ in range(2)]

    assert statuses == [201, 201]
    assert Ticket.objects.count() == 2


def test_it_finds_or_creates_the_customer_by_email(api, store):
    response = api.post(TICKETS, ticket_payload(customer_email="New@Example.com"), format="json")

    assert response.json()["customer_email"] == "new@example.com"
    assert Customer.objects.get().store == store


@pytest.mark.parametrize("number", ["NOPE", "9999", "#"])
def test_a_ticket_naming_an_unknown_order_is_refused_as_a_shipment_is(api, store, number):
    OrderFactory(store=store, order_number="1001")
    OrderFactory(store=StoreFactory(slug="other"), order_number=number.lstrip("#") or "x")  # another store's
    before = db_state()

    response = api.post(TICKETS, ticket_payload(order_number=number), format="json")

    assert response.status_code == 400
    assert response.json() == {"order_number": ["No such order."]}
    assert db_state() == before


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        pytest.param(
            ticket_payload(reason="angry"), {"reason": ['"angry" is not a valid choice.']}, id="unknown reason"
        ),
        pytest.param(
            ticket_payload(channel="pigeon"), {"channel": ['"pigeon" is not a valid choice.']}, id="unknown channel"
        ),
        pytest.param(
            {k: v for k, v in ticket_payload().items() if k != "reason"},
            {"reason": ["This field is required."]},
            id="no reason",
        ),
        pytest.param(
            {k: v for k, v in ticket_payload().items() if k != "created_at"},
            {"created_at": ["This field is required."]},
            id="no created_at",
        ),
        pytest.param(ticket_payload(created_at="2025-03-04T10:15:00"), {"created_at": [NAIVE]}, id="naive created_at"),
        pytest.param(ticket_payload(created_at="2025-03-04"), {"created_at": [NAIVE]}, id="a date, not a datetime"),
        pytest.param(
            ticket_payload(customer_email="ada"),
            {"customer_email": ["Enter a valid email address."]},
            id="bad customer email",
        ),
        pytest.param(
            ticket_payload(subject="s" * 256),
            {"subject": ["Ensure this field has no more than 255 characters."]},
            id="subject too long",
        ),
        pytest.param(
            ticket_payload(subject={"text": "hi"}), {"subject": ["Not a valid string."]}, id="subject an object"
        ),
    ],
)
def test_it_rejects_a_bad_ticket_naming_the_field_and_changes_nothing(api, payload, errors):
    before = db_state()

    response = api.post(TICKETS, payload, format="json")

    assert response.status_code == 400
    assert response.json() == errors
    assert db_state() == before
