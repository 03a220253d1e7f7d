"""Bad input at the webhook door, through the real URLs with real signatures: numbers no column holds,
wrong JSON types, JSON nested too deeply, times out of range. Each is a 400 naming the field where it is in
the provider's payload; the raw delivery is kept, marked failed, and no fact changes."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from orders.choices import DeliveryState
from orders.models import InboundDelivery, LineItem, Order
from tests import signing
from tests.factories import StoreFactory
from tests.orders.test_webhooks import (
    AFTERSHIP_SECRET,
    EASYPOST_SECRET,
    SHOP,
    SHOPIFY_SECRET,
    STRIPE_SECRET,
    nothing_applied,
    post_shopify,
)

pytestmark = pytest.mark.django_db(transaction=True)
EP = "easypost/02_tracker_updated_in_transit"
PI = "stripe/payment_intent_succeeded"


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


def shopify(client, name: str, payload: dict[str, Any] | bytes):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return post_shopify(client, name, body=body)


def easypost(client, payload: dict[str, Any] | bytes, path: str = "/webhooks/easypost/"):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return client.post(path, body, content_type="application/json", **signing.easypost_headers(body, EASYPOST_SECRET))


def aftership(client, payload: dict[str, Any]):
    body = json.dumps(payload).encode()
    headers = signing.aftership_headers(body, AFTERSHIP_SECRET)
    return client.post("/webhooks/aftership/", body, content_type="application/json", **headers)


def stripe(client, payload: dict[str, Any]):
    body = json.dumps(payload).encode()
    headers = signing.stripe_headers(body, STRIPE_SECRET)
    return client.post("/webhooks/stripe/", body, content_type="application/json", **headers)


def assert_refused(response, field: str) -> None:
    assert response.status_code == 400, response.content
    answer = response.json()
    assert answer["error"] == "invalid payload"
    assert answer["field"] == field, answer
    # The raw delivery is kept, marked failed with the reason, as for any payload refused at the door.
    delivery = InboundDelivery.objects.get()
    assert delivery.state == DeliveryState.FAILED
    assert field in delivery.error


def order_with(**changes: Any) -> dict[str, Any]:
    payload = signing.load_json("shopify", "orders_create")
    payload.update(changes)
    return payload


def order_with_quantity(quantity: Any) -> dict[str, Any]:
    payload = order_with()
    payload["line_items"][0]["quantity"] = quantity
    return payload


# --- Numbers no column holds ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (order_with(total_price="10000000000"), "total_price"),  # 11 digits before the point: the column holds 10
        (order_with(total_price="1e30"), "total_price"),
        (order_with(total_price=1e30), "total_price"),
        (order_with(total_price="-5.00"), "total_price"),
        (order_with(total_price="NaN"), "total_price"),
        (order_with(total_price="-Infinity"), "total_price"),
        (order_with(subtotal_price="99999999999.99"), "subtotal_price"),
        (order_with(total_tax="-0.01"), "total_tax"),
        (order_with(total_discounts="1E+11"), "total_discounts"),
        (order_with_quantity(-1), "line_items[0].quantity"),
        (order_with_quantity(0), "line_items[0].quantity"),
        (order_with_quantity(10**20), "line_items[0].quantity"),
        (order_with_quantity(2**31), "line_items[0].quantity"),  # one more than PostgreSQL's integer holds
        (order_with_quantity("-3"), "line_items[0].quantity"),
    ],
)
def test_a_shopify_order_with_a_number_no_column_holds_is_refused_naming_it(client, store, run_jobs, payload, field):
    response = shopify(client, "orders_create", payload)
    run_jobs()

    assert_refused(response, field)
    assert nothing_applied()


def test_a_line_item_price_out_of_range_is_named_by_its_index_in_the_payload(client, store, run_jobs):
    payload = order_with()
    payload["line_items"].append({**payload["line_items"][0], "id": 1, "sku": "other", "price": "-1.00"})

    response = shopify(client, "orders_create", payload)
    run_jobs()

    assert_refused(response, f"line_items[{len(payload['line_items']) - 1}].price")
    assert nothing_applied()


def test_a_json_nan_literal_is_refused(client, store, run_jobs):
    body = json.dumps(order_with(total_price="@")).encode().replace(b'"@"', b"NaN")

    response = shopify(client, "orders_create", body)
    run_jobs()

    assert_refused(response, "total_price")


def test_an_order_stored_is_left_as_it_was_by_an_update_out_of_range(client, store, run_jobs):
    assert post_shopify(client, "orders_create").status_code == 200
    run_jobs()
    before = Order.objects.values().get(), list(LineItem.objects.values())
    payload = signing.load_json("shopify", "orders_updated")
    payload["total_price"] = "10000000000"

    response = shopify(client, "orders_updated", payload)
    run_jobs()

    assert response.status_code == 400
    assert response.json()["field"] == "total_price"
    assert (Order.objects.values().get(), list(LineItem.objects.values())) == before
    # The order can still be read and later deliveries still apply.
    assert client.get("/healthz").status_code in (200, 503)
    assert post_shopify(client, "orders_paid").status_code == 200
    run_jobs()
    assert Order.objects.get().financial_status == "paid"


def test_money_with_more_places_than_the_column_is_rounded_to_cents(client, store, run_jobs):
    # A three-decimal currency's amounts (or a float's noise) are kept to the column's two places, as
    # PostgreSQL's numeric would; the largest amount the column holds is accepted.
    response = shopify(client, "orders_create", order_with(total_price="10.005", subtotal_price="9999999999.99"))
    run_jobs()

    assert response.status_code == 200, response.content
    order = Order.objects.get()
    assert (order.total, order.subtotal) == (Decimal("10.01"), Decimal("9999999999.99"))


def test_a_stripe_amount_out_of_range_is_refused_naming_it(client, store, run_jobs):
    for amount, stripe_id in ((-100, "evt_negative"), (10**20, "evt_huge")):
        InboundDelivery.objects.all().delete()
        payload = signing.load_json("stripe", "payment_intent_succeeded")
        payload["id"] = stripe_id
        payload["data"]["object"]["amount"] = amount

        assert_refused(stripe(client, payload), "data.object.amount")

    payload = signing.load_json("stripe", "invoice_payment_failed")
    payload["data"]["object"]["amount_due"] = -1
    InboundDelivery.objects.all().delete()
    assert_refused(stripe(client, payload), "data.object.amount_due")
    run_jobs()
    assert nothing_applied()


@pytest.mark.parametrize("created", [10**20, -(10**20), 2**40])
def test_a_stripe_event_created_out_of_range_is_refused(client, store, created):
    payload = signing.load_json("stripe", "payment_intent_succeeded")
    payload["created"] = created

    assert_refused(stripe(client, payload), "created")


def test_a_scan_time_no_clock_can_hold_is_refused_naming_it(client, store, run_jobs):
    payload = signing.load_json("easypost", "02_tracker_updated_in_transit")
    payload["result"]["tracking_details"][1]["datetime"] = "9999-12-31T23:59:59-05:00"
    assert_refused(easypost(client, payload), "result.tracking_details[1].datetime")

    InboundDelivery.objects.all().delete()
    payload = signing.load_json("aftership", "02_in_transit")
    payload["msg"]["checkpoints"][0]["checkpoint_time"] = "0001-01-01T00:00:00+05:00"
    assert_refused(aftership(client, payload), "msg.checkpoints[0].checkpoint_time")
    run_jobs()
    assert nothing_applied()


# --- Wrong JSON types ----------------------------------------------------------------------------------------


def _set(payload: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    *parents, last = path.split(".")
    holder: Any = payload
    for part in parents:
        holder = holder[int(part)] if isinstance(holder, list) else holder[part]
    holder[last] = value
    return payload


@pytest.mark.parametrize(
    ("fixture", "path", "value", "field"),
    [
        (EP, "result.tracking_code", ["a"], "result.tracking_code"),
        (EP, "result.tracking_code", {"a": 1}, "result.tracking_code"),
        (EP, "result.tracking_code", True, "result.tracking_code"),
        (EP, "result.carrier", ["USPS"], "result.carrier"),
        (EP, "result.tracking_details.0.message", {}, "result.tracking_details[0].message"),
        (EP, "result.tracking_details.0.tracking_location", "Chicago", "result.tracking_details[0].tracking_location"),
        (EP, "id", ["evt_1"], "id"),
        ("aftership/02_in_transit", "msg.tracking_number", ["1Z"], "msg.tracking_number"),
        ("aftership/02_in_transit", "msg.slug", {"x": 1}, "msg.slug"),
        ("aftership/02_in_transit", "msg.order_number", [1001], "msg.order_number"),
        ("aftership/02_in_transit", "msg.checkpoints.0.tag", ["InTransit"], "msg.checkpoints[0].tag"),
        ("aftership/02_in_transit", "event_id", {"id": 1}, "event_id"),
        (PI, "data.object.currency", ["usd"], "data.object.currency"),
        (PI, "data.object.metadata.order_number", ["1"], "data.object.metadata.order_number"),
        (PI, "data.object.amount", "8650", "data.object.amount"),
        (PI, "type", ["payment_intent.succeeded"], "type"),
        ("stripe/charge_failed", "data.object.failure_code", {"code": 1}, "data.object.failure_code"),
        ("shopify/orders_create", "line_items.0.sku", ["TDP-22"], "line_items[0].sku"),
        ("shopify/orders_create", "line_items.0.quantity", [1], "line_items[0].quantity"),
        ("shopify/orders_create", "email", {"a": "b"}, "email"),
        ("shopify/orders_create", "customer.first_name", ["Bob"], "customer.first_name"),
        ("shopify/orders_create", "order_number", [1001], "order_number"),
        ("shopify/orders_create", "fulfillment_status", ["partial"], "fulfillment_status"),
        ("shopify/orders_create", "shipping_address.zip", {"zip": 1}, "shipping_address.zip"),
        ("shopify/orders_create", "total_price", ["1.00"], "total_price"),
        ("shopify/fulfillments_create", "tracking_number", ["1Z"], "tracking_number"),
        ("shopify/fulfillments_create", "tracking_numbers", [["1Z"]], "tracking_numbers[0]"),
    ],
)  # fmt: skip
def test_a_value_of_the_wrong_json_type_is_refused_naming_it(client, store, run_jobs, fixture, path, value, field):
    source, name = fixture.split("/")
    payload = _set(signing.load_json(source, name), path, value)
    if source == "shopify" and path == "tracking_numbers":
        payload["tracking_number"] = None

    if source == "shopify":
        response = shopify(client, name, payload)
    else:
        response = {"easypost": easypost, "aftership": aftership, "stripe": stripe}[source](client, payload)
    run_jobs()

    assert_refused(response, field)
    assert nothing_applied()


def test_a_tracking_code_too_long_is_named_by_its_place_in_the_payload(client, store):
    payload = signing.load_json("easypost", "02_tracker_updated_in_transit")
    payload["result"]["tracking_code"] = "9" * 65

    response = easypost(client, payload)

    assert_refused(response, "result.tracking_code")
    assert response.json()["detail"] == "result.tracking_code is longer than 64 characters"


def test_a_numeric_code_is_read_as_text(client, store, run_jobs):
    # Some providers send codes as JSON numbers; a number is text's only safe stand-in.
    payload = signing.load_json("aftership", "02_in_transit")
    payload["msg"]["order_number"] = 1001

    assert aftership(client, payload).status_code == 200


# --- JSON nested too deeply ----------------------------------------------------------------------------------

DEEP = b"[" * 100_000 + b"]" * 100_000


def test_json_nested_too_deeply_is_a_400_naming_the_body(client, store, run_jobs):
    response = easypost(client, DEEP)
    run_jobs()

    assert_refused(response, "body")
    assert nothing_applied()


def test_json_nested_too_deeply_is_a_400_from_the_api(store):
    from tests.orders.api import client_for

    response = client_for(store).post("/api/v1/orders/", DEEP, content_type="application/json")

    assert response.status_code == 400
    assert "detail" in response.json()
    assert not Order.objects.exists()


# --- Payment states ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "stored"), [("voided", "failed"), ("VOIDED", "failed"), ("expired", "failed")])
def test_a_voided_shopify_order_is_stored_as_failed_not_pending(client, store, run_jobs, raw, stored):
    # No money will arrive for a released authorization: "failed" is the hub's only unpaid-for-good state.
    response = shopify(client, "orders_create", order_with(financial_status=raw))
    run_jobs()

    assert response.status_code == 200
    assert Order.objects.get().financial_status == stored
