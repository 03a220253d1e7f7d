"""The order lookup on a hub with several stores: every lookup is within one store (privacy), and so are
its failure limits. Two stores both number their orders from 1001, as in `make demo`."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from orders.models import ReturnRequest
from portal.links import tracking_token
from tests.factories import CustomerFactory, LineItemFactory, OrderFactory, StoreFactory

pytestmark = pytest.mark.django_db

NOT_FOUND = "We couldn&#x27;t find that order"
TOO_MANY = "Too many attempts, try again in a few minutes"
CHOOSE_SHOP = "Choose the shop you ordered from."


@pytest.fixture
def northwind():
    store = StoreFactory(name="Northwind", slug="northwind", primary_colour="#0f766e")
    order = OrderFactory(store=store, customer=CustomerFactory(store=store, email="stranger@example.com"),
                         order_number="1001", ship_postal_code="94105", ship_city="San Francisco")  # fmt: skip
    LineItemFactory(order=order, title="Northwind kettle")
    return order


@pytest.fixture
def lumen():
    store = StoreFactory(name="Lumen", slug="lumen", primary_colour="#7c3aed")
    order = OrderFactory(store=store, customer=CustomerFactory(store=store, email="me@example.com"),
                         order_number="1001", ship_postal_code="10001", ship_city="New York")  # fmt: skip
    LineItemFactory(order=order, title="Lumen lamp")
    return order


def post(path, data, *, store="", ip="203.0.113.1", client=None):
    url = path + (f"?store={store}" if store else "")
    return (client or Client()).post(url, data, REMOTE_ADDR=ip)


@pytest.mark.parametrize("path", ["/track/", "/returns/"])
def test_a_lookup_from_one_stores_page_never_opens_the_other_stores_order(northwind, lumen, path):
    # A Lumen customer types a Northwind stranger's order number and postal code.
    response = post(path, {"order_number": "1001", "contact": "94105"}, store="lumen")

    assert response.status_code == 200
    assert NOT_FOUND in response.text
    assert "Northwind kettle" not in response.text and tracking_token(northwind) not in response.text
    assert not ReturnRequest.objects.exists()
    # The same details on Northwind's page are Northwind's order.
    found = post(path, {"order_number": "1001", "contact": "94105"}, store="northwind")
    assert found.status_code == 302 and tracking_token(northwind) in found["Location"]


@pytest.mark.parametrize("path", ["/track/", "/returns/"])
def test_a_chosen_shop_scopes_the_lookup_too(northwind, lumen, path):
    wrong = post(path, {"store": "lumen", "order_number": "1001", "contact": "94105"})
    right = post(path, {"store": "lumen", "order_number": "1001", "contact": "10001"})

    assert wrong.status_code == 200 and NOT_FOUND in wrong.text
    assert right.status_code == 302 and tracking_token(lumen) in right["Location"]


def test_a_scoped_page_ignores_a_posted_shop(northwind, lumen):
    # The page's own store is the scope: a tampered hidden field cannot widen it.
    response = post("/track/", {"store": "northwind", "order_number": "1001", "contact": "94105"}, store="lumen")

    assert response.status_code == 200 and NOT_FOUND in response.text


def test_several_stores_and_none_given_asks_for_the_shop_and_looks_nothing_up(northwind, lumen):
    page = Client().get("/track/").text
    assert '<label for="id_store">Shop</label>' in page
    assert '<option value="lumen">Lumen</option>' in page and '<option value="northwind">Northwind</option>' in page

    response = post("/track/", {"order_number": "1001", "contact": "94105"})

    assert response.status_code == 200
    assert CHOOSE_SHOP in response.text and NOT_FOUND not in response.text


def test_a_stores_page_is_branded_for_it_and_carries_it_in_the_form(northwind, lumen):
    page = Client().get("/track/?store=lumen").text

    assert '<span class="name">Lumen</span>' in page and "--primary: #7c3aed;" in page
    assert '<input type="hidden" name="store" value="lumen">' in page
    assert 'action="/track/?store=lumen"' in page
    assert "<select" not in page and "Northwind" not in page
    assert 'action="/returns/?store=lumen"' in Client().get("/returns/?store=lumen").text


def test_an_unknown_store_just_shows_the_choice(northwind, lumen):
    response = Client().get("/track/?store=no-such-shop")

    assert response.status_code == 200
    assert '<select name="store"' in response.text and "no-such-shop" not in response.text


def test_a_hub_with_one_store_shows_no_choice(northwind):
    page = Client().get("/track/").text
    assert "<select" not in page and '<span class="name">Northwind</span>' in page

    assert post("/track/", {"order_number": "1001", "contact": "94105"}).status_code == 302


def test_failed_attempts_lock_an_order_number_at_one_store_only(northwind, lumen):
    client = Client()
    for n in range(5):
        response = post("/track/", {"order_number": "1001", "contact": f"guess{n}@example.com"}, store="northwind",
                        ip=f"198.51.100.{n}", client=client)  # fmt: skip
        assert NOT_FOUND in response.text

    locked = post("/track/", {"order_number": "1001", "contact": "94105"}, store="northwind", ip="198.51.100.50")
    lumens = post("/track/", {"order_number": "1001", "contact": "me@example.com"}, store="lumen", ip="198.51.100.51")

    assert locked.status_code == 429 and TOO_MANY in locked.text
    assert lumens.status_code == 302 and tracking_token(lumen) in lumens["Location"]


def test_an_empty_lookup_says_what_to_enter(northwind):
    response = post("/track/", {"order_number": "", "contact": ""})

    assert response.status_code == 200
    assert "Enter your order number." in response.text
    assert "Enter the email address or postal code of the order." in response.text
    assert "This field is required." not in response.text


@pytest.mark.parametrize("path", ["/track/", "/returns/"])
def test_the_lookup_pages_are_never_cached(northwind, path):
    for response in (Client().get(path), post(path, {"order_number": "1001", "contact": "nope@example.com"})):
        cache_control = response["Cache-Control"]
        assert "private" in cache_control and "no-store" in cache_control


def test_the_tracking_page_is_never_cached(northwind):
    response = Client().get(reverse("portal:tracking", args=[tracking_token(northwind)]))

    assert response.status_code == 200
    assert "private" in response["Cache-Control"] and "no-store" in response["Cache-Control"]
