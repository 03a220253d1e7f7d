"""POST /data-requests/: a customer's request about their personal data, from a helpdesk or a store platform
without compliance webhooks. Erasure answers what it erased; a copy answers the copy."""

import pytest
from rest_framework.test import APIClient

from orders.models import Customer, DataRequest, Order
from tests.factories import CustomerFactory, OrderFactory, StoreFactory
from tests.orders.api import client_for, db_state

pytestmark = pytest.mark.django_db

DATA_REQUESTS = "/api/v1/data-requests/"


@pytest.fixture
def store():
    return StoreFactory(slug="acme", country="US")


@pytest.fixture
def api(store):
    return client_for(store)


@pytest.fixture
def ada(store):
    customer = CustomerFactory(store=store, first_name="Ada", email="ada@example.com", phone="+14155550123")
    OrderFactory(store=store, customer=customer, order_number="1001", ship_line1="12 Analytical Row")
    return customer


def test_an_erasure_erases_the_customer_and_answers_what_it_erased(api, ada):
    response = api.post(
        DATA_REQUESTS, {"kind": "erasure", "customer": {"email": "ADA@example.com"}, "reference": "zd-1"}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["kind"], body["reference"], body["customer_found"]) == ("erasure", "zd-1", True)
    assert body["outcome"]["customers"] == 1 and body["outcome"]["orders"] == 1
    assert body["completed_at"] is not None
    assert Customer.objects.get(pk=ada.pk).email == ""
    assert DataRequest.objects.get().source == "api"


def test_a_copy_answers_everything_the_hub_holds_and_is_done(api, ada):
    response = api.post(DATA_REQUESTS, {"kind": "copy", "customer": {"phone": "(415) 555-0123"}}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["copy"]["customer"][0]["email"] == "ada@example.com"
    assert body["copy"]["orders"][0]["shipping_address"][1] == "12 Analytical Row"
    assert DataRequest.objects.get().completed_at is not None
    assert Customer.objects.get(pk=ada.pk).email == "ada@example.com"  # a copy changes nothing


def test_a_guest_checkout_is_erased_by_its_order_id(api, store):
    guest = OrderFactory(store=store, customer=None, external_id="5551", ship_line1="9 Lake Shore Dr")

    response = api.post(DATA_REQUESTS, {"kind": "erasure", "orders": ["5551"]}, format="json")

    assert (response.status_code, response.json()["customer_found"]) == (201, False)
    assert Order.objects.get(pk=guest.pk).ship_line1 == ""


def test_it_never_touches_another_stores_customer(api, ada):
    theirs = CustomerFactory(store=StoreFactory(), email="ada@example.com")

    api.post(DATA_REQUESTS, {"kind": "erasure", "customer": {"email": "ada@example.com"}}, format="json")

    assert Customer.objects.get(pk=theirs.pk).email == "ada@example.com"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"customer": {"email": "ada@example.com"}}, "kind"),
        ({"kind": "forget", "customer": {"email": "ada@example.com"}}, "kind"),
        ({"kind": "erasure"}, "customer"),
        ({"kind": "erasure", "customer": {}}, "customer"),
        ({"kind": "erasure", "customer": {"email": "not-an-email"}}, "customer"),
        ({"kind": "erasure", "orders": "1001"}, "orders"),
        ({"kind": "erasure", "orders": [], "customer": {"phone": ""}}, "customer"),
    ],
)
def test_a_malformed_request_is_refused_naming_the_field_and_changes_nothing(api, ada, payload, field):
    before = db_state()

    response = api.post(DATA_REQUESTS, payload, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert db_state() == before
    assert not DataRequest.objects.exists()


def test_it_needs_a_token(ada):
    payload = {"kind": "erasure", "customer": {"email": "ada@example.com"}}

    response = APIClient().post(DATA_REQUESTS, payload, format="json")

    assert response.status_code in (401, 403)
    assert Customer.objects.get(pk=ada.pk).email == "ada@example.com"
