"""ShopifyConnector: signature, delivery naming, payload -> facts, and the status tables.

Pure unit tests: no database, no Django test client. Payloads are tests/payloads/shopify/*.json, order
#1001 (820982911946154508) from placement to delivery of its one UPS fulfillment; headers as in the
README there.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.utils.datastructures import CaseInsensitiveMapping

from orders.connectors.base import PayloadError, SignatureError, UnsupportedEvent
from orders.connectors.shopify import ShopifyConnector, carrier_slug, normalize_status, status_map
from orders.updates import AddressData, CustomerData, LineItemData, OrderData, OrderRef, ShipmentData, TrackingEventData

PAYLOADS = Path(__file__).resolve().parents[2] / "payloads" / "shopify"
SECRET = "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"
SHOP = "acme-outdoor.myshopify.com"
EST = timezone(timedelta(hours=-5))

connector = ShopifyConnector()

# file -> (X-Shopify-Topic, X-Shopify-Webhook-Id, X-Shopify-Event-Id), as listed in the README.
DELIVERIES: dict[str, tuple[str, str, str]] = {
    "orders_create": (
        "orders/create",
        "f9676965-f302-443b-bc27-56b61ce82f60",
        "7e8ab840-df2f-4b77-94a0-c963ac3afa39",
    ),
    "orders_paid": (
        "orders/paid",
        "df40fa58-08cc-4390-ae48-687e6df247b4",
        "ffa91833-0070-41b4-9ebe-b11f925ecca6",
    ),
    "orders_cancelled": (
        "orders/cancelled",
        "955c7f07-eb55-4974-93b0-4a6f046707d7",
        "c1565af9-7119-4783-9f96-003be8691f01",
    ),
    "fulfillments_create": (
        "fulfillments/create",
        "d853d98f-8e26-4752-a654-f386d1fc2d7b",
        "7b3912c8-7f3f-439d-a8cd-df6fa1bfd316",
    ),
    "orders_updated": (
        "orders/updated",
        "92c37d8d-ac95-4c24-bab2-845c9bbf1295",
        "7b3912c8-7f3f-439d-a8cd-df6fa1bfd316",
    ),
    "fulfillments_update": (
        "fulfillments/update",
        "1919cb3f-ac9e-40cf-a5a0-9506f8c46f29",
        "bf902a8b-97f9-4ea3-b3bb-a3308271e539",
    ),
    "fulfillment_events_create_in_transit": (
        "fulfillment_events/create",
        "1d90bbbd-5a9d-4eb2-9b18-4e2a8ee8a756",
        "8ed28885-a527-47fa-bc1a-005ec92b252f",
    ),
    "fulfillment_events_create_delayed": (
        "fulfillment_events/create",
        "f9387eea-fc69-4b53-8ab8-c6a486483d7b",
        "6b701b66-39ed-4c04-a01c-b231ccc45011",
    ),
    "fulfillment_events_create_attempted_delivery": (
        "fulfillment_events/create",
        "6038efaf-d750-43a1-b555-9d7ba255db69",
        "1587b61b-52a1-40e5-899a-d3dc50bc27d6",
    ),
    "fulfillment_events_create_out_for_delivery": (
        "fulfillment_events/create",
        "fd240069-97d2-4761-bebd-3b65e3fa9bd0",
        "01fcd732-b5ea-4950-8450-ee575ad3aa62",
    ),
    "fulfillment_events_create_delivered": (
        "fulfillment_events/create",
        "e18bdc55-0dba-40a2-85b7-cd70a95f90f9",
        "d3266c7f-570f-4e8f-9712-c251b551e553",
    ),
}


def raw(name: str) -> bytes:
    return (PAYLOADS / f"{name}.json").read_bytes()


def load(name: str) -> dict[str, Any]:
    return json.loads(raw(name))


def sign(body: bytes, secret: str = SECRET) -> str:
    """Shopify's documented recipe: base64 of the HMAC-SHA256 digest of the raw body, keyed by the secret."""
    return base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()).decode()


def Headers(**values: str) -> CaseInsensitiveMapping:
    """Case-insensitive lookups, like Django's request.headers."""
    return CaseInsensitiveMapping(values)


def delivery_headers(name: str, body: bytes | None = None) -> Headers:
    """The headers Shopify sends with fixture `name` (signed over `body`, the file by default)."""
    topic, webhook_id, event_id = DELIVERIES[name]
    return Headers(
        **{
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": sign(raw(name) if body is None else body),
            "X-Shopify-Shop-Domain": SHOP,
            "X-Shopify-API-Version": "2026-01",
            "X-Shopify-Webhook-Id": webhook_id,
            "X-Shopify-Event-Id": event_id,
            "X-Shopify-Triggered-At": "2026-02-15T21:40:14.518274Z",
        }
    )


# -- what the hub should learn from the fixtures ----------------------------------------------------

ORDER_ID = "820982911946154508"
FULFILLMENT_ID = "5304183554374"

CUSTOMER = CustomerData(
    email="jane.doe@example.com",
    phone="+13125550147",
    first_name="Jane",
    last_name="Doe",
    external_id="7795712671814",
)
ADDRESS = AddressData(
    name="Jane Doe",
    line1="1603 Orrington Ave",
    line2="Apt 4B",
    city="Evanston",
    region="IL",
    postal_code="60201",
    country="US",
)
LINE_ITEMS = [
    LineItemData(
        title="Trailhead Daypack 22L",
        quantity=1,
        unit_price=Decimal("89.00"),
        sku="ACM-DP22-SLT",
        variant="Slate",
        external_id="14783592638534",
    ),
    LineItemData(
        title="Merino Hiking Socks",
        quantity=2,
        unit_price=Decimal("18.50"),
        sku="ACM-SOCK-MER-M",
        variant="M",
        external_id="14783592671302",
    ),
]
PLACED = OrderData(
    external_id=ORDER_ID,
    order_number="1001",
    placed_at=datetime(2026, 2, 15, 16, 40, 12, tzinfo=EST),
    updated_at=datetime(2026, 2, 15, 16, 40, 14, tzinfo=EST),
    currency="USD",
    subtotal=Decimal("116.00"),
    shipping_total=Decimal("8.95"),
    tax_total=Decimal("11.89"),
    discount_total=Decimal("10.00"),
    total=Decimal("136.84"),
    financial_status="pending",  # authorized, not captured yet
    fulfillment_status="unfulfilled",
    payment_reference=None,
    cancelled_at=None,
    customer=CUSTOMER,
    shipping_address=ADDRESS,
    line_items=LINE_ITEMS,
)

LABEL_CREATED = TrackingEventData(
    status="label_created",
    occurred_at=datetime(2026, 2, 16, 14, 2, 5, tzinfo=EST),
    dedupe_key=f"shopify:fulfillment:{FULFILLMENT_ID}:label_created",
    message="Shipping label created",
)
ANNOUNCED = ShipmentData(
    tracking_code="1Z999AA10123456784",
    carrier="ups",
    order=OrderRef(external_id=ORDER_ID),
    external_id=FULFILLMENT_ID,
    service_level=None,
    label_created_at=datetime(2026, 2, 16, 14, 2, 5, tzinfo=EST),
    events=[LABEL_CREATED],
)


def carrier_event(
    event_id: str,
    status: str,
    raw_status: str,
    at: datetime,
    message: str,
    location: str,
    estimate: datetime | None,
) -> ShipmentData:
    return ShipmentData(
        tracking_code="",
        carrier="",
        order=OrderRef(external_id=ORDER_ID),
        external_id=FULFILLMENT_ID,
        carrier_estimated_delivery=estimate,
        events=[
            TrackingEventData(
                status=status,
                occurred_at=at,
                dedupe_key=f"shopify:fulfillment_event:{event_id}",
                raw_status=raw_status,
                message=message,
                location=location,
            )
        ],
    )


# -- verify ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(DELIVERIES))
def test_verify_accepts_every_fixture_signed_as_shopify_documents(name: str) -> None:
    connector.verify(raw(name), delivery_headers(name), SECRET)


def test_verify_matches_a_digest_computed_independently() -> None:
    body = b'{"id":820982911946154508,"name":"#1001"}'
    # openssl dgst -sha256 -hmac "$SECRET" -binary | base64, spelled out with hashlib.
    digest = hmac.digest(SECRET.encode(), body, "sha256")
    connector.verify(body, Headers(**{"X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode()}), SECRET)


def test_verify_reads_the_header_in_any_case() -> None:
    body = raw("orders_create")
    connector.verify(body, Headers(**{"x-shopify-hmac-sha256": sign(body)}), SECRET)


def test_verify_rejects_a_signature_made_with_another_secret() -> None:
    body = raw("orders_create")
    with pytest.raises(SignatureError):
        connector.verify(body, Headers(**{"X-Shopify-Hmac-Sha256": sign(body, "shpss_someone_else")}), SECRET)


def test_verify_rejects_a_tampered_body() -> None:
    body = raw("orders_paid")
    signature = sign(body)
    tampered = body.replace(b'"136.84"', b'"1.00"', 1)
    assert tampered != body
    with pytest.raises(SignatureError):
        connector.verify(tampered, Headers(**{"X-Shopify-Hmac-Sha256": signature}), SECRET)


def test_verify_rejects_a_signature_of_the_reserialized_body() -> None:
    # Shopify signs the bytes it sent; parsing and re-dumping the JSON changes them.
    body = raw("orders_create")
    redumped = json.dumps(json.loads(body)).encode()
    with pytest.raises(SignatureError):
        connector.verify(body, Headers(**{"X-Shopify-Hmac-Sha256": sign(redumped)}), SECRET)


def test_verify_rejects_a_hex_digest() -> None:
    body = raw("orders_create")
    hex_digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    with pytest.raises(SignatureError):
        connector.verify(body, Headers(**{"X-Shopify-Hmac-Sha256": hex_digest}), SECRET)


@pytest.mark.parametrize("headers", [Headers(), Headers(**{"X-Shopify-Hmac-Sha256": ""})])
def test_verify_rejects_a_missing_signature(headers: Headers) -> None:
    with pytest.raises(SignatureError):
        connector.verify(raw("orders_create"), headers, SECRET)


def test_verify_rejects_when_no_secret_is_configured() -> None:
    body = raw("orders_create")
    with pytest.raises(SignatureError):
        connector.verify(body, Headers(**{"X-Shopify-Hmac-Sha256": sign(body, "")}), "")


# -- naming the delivery ---------------------------------------------------------------------------


def test_class_attributes() -> None:
    assert connector.source == "shopify"
    assert connector.label == "Shopify"
    assert connector.secret_field == "shopify_webhook_secret"
    assert connector.secret_setting == "SHOPIFY_WEBHOOK_SECRET"
    assert connector.status_map is status_map


def test_store_hint_is_the_shop_domain_lower_cased() -> None:
    payload = load("orders_create")
    assert connector.store_hint(delivery_headers("orders_create"), payload) == SHOP
    headers = Headers(**{"X-Shopify-Shop-Domain": " Acme-Outdoor.MyShopify.com "})
    assert connector.store_hint(headers, payload) == SHOP


def test_store_hint_without_the_header() -> None:
    assert connector.store_hint(Headers(), load("orders_create")) == ""


@pytest.mark.parametrize("name", sorted(DELIVERIES))
def test_event_type_is_the_topic_header(name: str) -> None:
    assert connector.event_type(delivery_headers(name), load(name)) == DELIVERIES[name][0]


@pytest.mark.parametrize("headers", [Headers(), Headers(**{"X-Shopify-Topic": " "})])
def test_event_type_missing(headers: Headers) -> None:
    with pytest.raises(PayloadError) as excinfo:
        connector.event_type(headers, load("orders_create"))
    assert excinfo.value.field == "X-Shopify-Topic"


def test_delivery_id_is_the_webhook_id() -> None:
    headers = delivery_headers("orders_paid")
    assert connector.delivery_id(headers, load("orders_paid")) == "df40fa58-08cc-4390-ae48-687e6df247b4"


def test_a_retry_has_the_same_delivery_id() -> None:
    # A retry repeats the original payload and X-Shopify-Webhook-Id; only Triggered-At may differ.
    first = delivery_headers("orders_paid")
    retry = Headers(**{**first, "x-shopify-triggered-at": "2026-02-16T14:16:05.000000Z"})
    payload = load("orders_paid")
    assert connector.delivery_id(retry, payload) == connector.delivery_id(first, payload)


def test_one_merchant_action_fires_two_topics_with_two_delivery_ids() -> None:
    fulfillment = delivery_headers("fulfillments_create")
    order = delivery_headers("orders_updated")
    assert fulfillment.get("X-Shopify-Event-Id") == order.get("X-Shopify-Event-Id")
    ids = {
        connector.delivery_id(fulfillment, load("fulfillments_create")),
        connector.delivery_id(order, load("orders_updated")),
    }
    assert len(ids) == 2


def test_every_fixture_has_its_own_delivery_id() -> None:
    ids = {connector.delivery_id(delivery_headers(name), load(name)) for name in DELIVERIES}
    assert len(ids) == len(DELIVERIES) == 11


def test_delivery_id_falls_back_to_event_id_and_topic() -> None:
    headers = Headers(
        **{"X-Shopify-Topic": "orders/updated", "X-Shopify-Event-Id": "7b3912c8-7f3f-439d-a8cd-df6fa1bfd316"}
    )
    expected = "7b3912c8-7f3f-439d-a8cd-df6fa1bfd316:orders/updated"
    assert connector.delivery_id(headers, load("orders_updated")) == expected
    other_topic = Headers(**{**headers, "x-shopify-topic": "fulfillments/create"})
    assert connector.delivery_id(other_topic, load("fulfillments_create")) != expected


def test_delivery_id_missing() -> None:
    with pytest.raises(PayloadError) as excinfo:
        connector.delivery_id(Headers(**{"X-Shopify-Topic": "orders/create"}), load("orders_create"))
    assert excinfo.value.field == "X-Shopify-Webhook-Id"


def test_delivery_id_fallback_needs_the_topic() -> None:
    with pytest.raises(PayloadError) as excinfo:
        connector.delivery_id(Headers(**{"X-Shopify-Event-Id": "7b3912c8"}), load("orders_create"))
    assert excinfo.value.field == "X-Shopify-Topic"


# -- updates: the journey ---------------------------------------------------------------------------


def test_orders_create() -> None:
    assert connector.updates("orders/create", load("orders_create")) == [PLACED]


def test_orders_paid() -> None:
    expected = dataclasses.replace(
        PLACED, financial_status="paid", updated_at=datetime(2026, 2, 16, 9, 15, 3, tzinfo=EST)
    )
    assert connector.updates("orders/paid", load("orders_paid")) == [expected]


def test_orders_updated_after_fulfillment() -> None:
    expected = dataclasses.replace(
        PLACED,
        financial_status="paid",
        fulfillment_status="fulfilled",
        updated_at=datetime(2026, 2, 16, 14, 2, 7, tzinfo=EST),
    )
    assert connector.updates("orders/updated", load("orders_updated")) == [expected]


def test_orders_cancelled() -> None:
    expected = dataclasses.replace(
        PLACED,
        financial_status="refunded",
        cancelled_at=datetime(2026, 2, 16, 11, 20, 5, tzinfo=EST),
        updated_at=datetime(2026, 2, 16, 11, 20, 7, tzinfo=EST),
    )
    assert connector.updates("orders/cancelled", load("orders_cancelled")) == [expected]


def test_fulfillments_create() -> None:
    assert connector.updates("fulfillments/create", load("fulfillments_create")) == [ANNOUNCED]


def test_fulfillments_update_adds_the_shipment_status() -> None:
    in_transit = TrackingEventData(
        status="in_transit",
        occurred_at=datetime(2026, 2, 16, 19, 52, 31, tzinfo=EST),
        dedupe_key=f"shopify:fulfillment:{FULFILLMENT_ID}:in_transit",
        raw_status="in_transit",
    )
    expected = dataclasses.replace(ANNOUNCED, events=[LABEL_CREATED, in_transit])
    assert connector.updates("fulfillments/update", load("fulfillments_update")) == [expected]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "fulfillment_events_create_in_transit",
            carrier_event(
                "26918434709574",
                "in_transit",
                "in_transit",
                datetime(2026, 2, 16, 19, 47, tzinfo=EST),
                "Origin Scan",
                "Louisville, KY, US",
                datetime(2026, 2, 19, 20, 0, tzinfo=EST),
            ),
        ),
        (
            "fulfillment_events_create_delayed",
            carrier_event(
                "26918435168326",
                "exception",
                "delayed",
                datetime(2026, 2, 18, 7, 30, tzinfo=EST),
                "A severe weather condition has delayed delivery.",
                "Hodgkins, IL, US",
                datetime(2026, 2, 20, 20, 0, tzinfo=EST),
            ),
        ),
        (
            "fulfillment_events_create_attempted_delivery",
            carrier_event(
                "26918436020294",
                "attempted_delivery",
                "attempted_delivery",
                datetime(2026, 2, 20, 18, 26, tzinfo=EST),
                "The receiver was not available for delivery. We'll make a second attempt the next business day.",
                "Evanston, IL, US",
                datetime(2026, 2, 21, 20, 0, tzinfo=EST),
            ),
        ),
        (
            "fulfillment_events_create_out_for_delivery",
            carrier_event(
                "26918436446278",
                "out_for_delivery",
                "out_for_delivery",
                datetime(2026, 2, 21, 9, 2, tzinfo=EST),
                "Out For Delivery Today",
                "Evanston, IL, US",
                datetime(2026, 2, 21, 20, 0, tzinfo=EST),
            ),
        ),
        (
            "fulfillment_events_create_delivered",
            carrier_event(
                "26918436839494",
                "delivered",
                "delivered",
                datetime(2026, 2, 21, 14, 48, tzinfo=EST),
                "Delivered",
                "Evanston, IL, US",
                None,
            ),
        ),
    ],
)
def test_fulfillment_events_create(name: str, expected: ShipmentData) -> None:
    assert connector.updates("fulfillment_events/create", load(name)) == [expected]


def test_every_fixture_is_the_same_order() -> None:
    for name, (topic, _, _) in DELIVERIES.items():
        [update] = connector.updates(topic, load(name))
        if isinstance(update, OrderData):
            assert (update.external_id, update.order_number) == (ORDER_ID, "1001"), name
        else:
            assert isinstance(update, ShipmentData)
            assert (update.order, update.external_id) == (OrderRef(external_id=ORDER_ID), FULFILLMENT_ID), name


@pytest.mark.parametrize(
    "topic",
    ["orders/delete", "orders/fulfilled", "refunds/create", "fulfillment_events/delete", "products/update", ""],
)
def test_unsupported_topics(topic: str) -> None:
    with pytest.raises(UnsupportedEvent) as excinfo:
        connector.updates(topic, load("orders_create"))
    assert str(excinfo.value) == topic


# -- updates: orders, optional and alternative fields -----------------------------------------------


def order(**changes: Any) -> dict[str, Any]:
    payload = copy.deepcopy(load("orders_create"))
    payload.update(changes)
    return payload


def one_order(payload: dict[str, Any], topic: str = "orders/updated") -> OrderData:
    [update] = connector.updates(topic, payload)
    assert isinstance(update, OrderData)
    return update


def test_orders_paid_with_a_minimal_payload() -> None:
    # A subscription with include_fields may send only a few fields.
    payload = {"id": 820982911946154508, "name": "#1001"}
    assert one_order(payload, "orders/paid") == OrderData(
        external_id=ORDER_ID, order_number="1001", financial_status="paid"
    )


@pytest.mark.parametrize(
    ("raw_status", "expected"), [("refunded", "refunded"), ("partially_refunded", "partially_refunded")]
)
def test_orders_paid_keeps_a_later_refund(raw_status: str, expected: str) -> None:
    assert one_order(order(financial_status=raw_status), "orders/paid").financial_status == expected


@pytest.mark.parametrize(("raw_status"), ["authorized", "pending", None])
def test_orders_paid_is_paid_whatever_the_stale_status(raw_status: str | None) -> None:
    assert one_order(order(financial_status=raw_status), "orders/paid").financial_status == "paid"


def test_order_number_from_the_name_without_hash() -> None:
    payload = order(name="#1001")
    del payload["order_number"]
    assert one_order(payload).order_number == "1001"


def test_order_number_wins_over_a_custom_name() -> None:
    assert one_order(order(name="ACME-1001-US")).order_number == "1001"


@pytest.mark.parametrize(
    ("raw_status", "expected"),
    [
        ("pending", "pending"),
        ("authorized", "pending"),
        ("partially_paid", "pending"),
        ("paid", "paid"),
        ("partially_refunded", "partially_refunded"),
        ("refunded", "refunded"),
        ("voided", "failed"),
        ("expired", "failed"),
        ("PAID", "paid"),
        ("something_new", None),
        (None, None),
    ],
)
def test_financial_status(raw_status: str | None, expected: str | None) -> None:
    assert one_order(order(financial_status=raw_status)).financial_status == expected


@pytest.mark.parametrize(
    ("raw_status", "expected"),
    [
        (None, "unfulfilled"),
        ("partial", "partial"),
        ("fulfilled", "fulfilled"),
        ("restocked", "restocked"),
        ("something_new", None),
    ],
)
def test_fulfillment_status(raw_status: str | None, expected: str | None) -> None:
    assert one_order(order(fulfillment_status=raw_status)).fulfillment_status == expected


def test_fulfillment_status_absent_says_nothing() -> None:
    payload = order()
    del payload["fulfillment_status"]
    assert one_order(payload).fulfillment_status is None


def test_no_shipping_total_without_the_price_set() -> None:
    payload = order()
    del payload["total_shipping_price_set"]
    assert one_order(payload).shipping_total is None


def test_payment_reference_is_never_invented() -> None:
    # confirmation_number, checkout_token and the refund's payment_id are not payment references.
    assert one_order(load("orders_cancelled"), "orders/cancelled").payment_reference is None


def test_customer_from_the_customer_record_when_the_order_has_no_email() -> None:
    payload = order(email=None, contact_email=None, phone=None)
    assert one_order(payload).customer == CUSTOMER


def test_customer_phone_falls_back_to_the_shipping_address() -> None:
    payload = order(phone=None)
    payload["customer"]["phone"] = None
    payload["shipping_address"]["phone"] = "+18475550199"
    assert one_order(payload).customer == dataclasses.replace(CUSTOMER, phone="+18475550199")


def test_guest_checkout_without_a_customer_record() -> None:
    payload = order(customer=None)
    assert one_order(payload).customer == CustomerData(email="jane.doe@example.com", phone="+13125550147")


def test_no_customer_at_all() -> None:
    payload = order(customer=None, email=None, contact_email=None, phone=None, shipping_address=None)
    update = one_order(payload)
    assert (update.customer, update.shipping_address) == (None, None)


def test_address_with_province_name_and_no_full_name() -> None:
    payload = order()
    address = payload["shipping_address"]
    address.update(province_code=None, name=None, address2=None, country_code=None)
    # What the connector reads; a country name no column holds is then refused at the door (orders.limits).
    [update] = connector.parse("orders/updated", payload)
    assert update.shipping_address == dataclasses.replace(ADDRESS, region="Illinois", line2="", country="United States")


def test_line_items_absent_say_nothing() -> None:
    payload = order()
    del payload["line_items"]
    assert one_order(payload).line_items is None


def test_line_item_title_falls_back_to_its_name() -> None:
    payload = order()
    payload["line_items"][0]["title"] = None
    assert one_order(payload).line_items[0].title == "Trailhead Daypack 22L - Slate"


def test_timestamps_are_aware() -> None:
    update = one_order(order(created_at="2026-02-15T21:40:12Z"))
    assert update.placed_at == datetime(2026, 2, 15, 21, 40, 12, tzinfo=UTC)
    assert update.placed_at == PLACED.placed_at
    assert one_order(order(created_at="2026-02-15T21:40:12")).placed_at == datetime(2026, 2, 15, 21, 40, 12, tzinfo=UTC)


# -- updates: fulfillments, optional and alternative fields -----------------------------------------


def fulfillment(**changes: Any) -> dict[str, Any]:
    payload = copy.deepcopy(load("fulfillments_create"))
    payload.update(changes)
    return payload


def one_shipment(payload: dict[str, Any], topic: str = "fulfillments/update") -> ShipmentData:
    [update] = connector.updates(topic, payload)
    assert isinstance(update, ShipmentData)
    return update


def test_tracking_number_from_tracking_numbers() -> None:
    payload = fulfillment(tracking_number=None, tracking_numbers=["", "1Z999AA10123456784", "1Z999AA10123456795"])
    assert one_shipment(payload).tracking_code == "1Z999AA10123456784"


@pytest.mark.parametrize("changes", [{"tracking_number": None, "tracking_numbers": []}, {"tracking_number": ""}])
def test_fulfillment_without_tracking_number(changes: dict[str, Any]) -> None:
    payload = fulfillment(**changes)
    if "tracking_numbers" not in changes:
        payload["tracking_numbers"] = []
    with pytest.raises(UnsupportedEvent, match="fulfillment without tracking number"):
        connector.updates("fulfillments/create", payload)


def test_fulfillment_with_confirmed_shipment_status() -> None:
    update = one_shipment(fulfillment(shipment_status="confirmed"), "fulfillments/create")
    assert update.events == [
        LABEL_CREATED,
        TrackingEventData(
            status="label_created",
            occurred_at=datetime(2026, 2, 16, 14, 2, 5, tzinfo=EST),
            dedupe_key=f"shopify:fulfillment:{FULFILLMENT_ID}:confirmed",
            raw_status="confirmed",
        ),
    ]


def test_cancelled_fulfillment() -> None:
    payload = fulfillment(status="cancelled", shipment_status="in_transit", updated_at="2026-02-16T15:00:00-05:00")
    assert one_shipment(payload).events == [
        LABEL_CREATED,
        TrackingEventData(
            status="cancelled",
            occurred_at=datetime(2026, 2, 16, 15, 0, tzinfo=EST),
            dedupe_key=f"shopify:fulfillment:{FULFILLMENT_ID}:cancelled",
            raw_status="cancelled",
            message="Fulfillment cancelled",
        ),
    ]


def test_fulfillment_service_is_not_a_service_level() -> None:
    assert one_shipment(fulfillment(service="manual")).service_level is None


@pytest.mark.parametrize(
    ("company", "slug"),
    [
        ("UPS", "ups"),
        ("USPS", "usps"),
        ("FedEx", "fedex"),
        ("DHL Express", "dhl"),
        ("Canada Post", "canada_post"),
        ("DHL eCommerce", "dhl_ecommerce"),
        ("Amazon Logistics US", "amazon_logistics_us"),
        ("Correos de España", "correos_de_espana"),
        ("  Royal   Mail ", "royal_mail"),
        ("", ""),
    ],
)
def test_carrier_slug(company: str, slug: str) -> None:
    assert carrier_slug(company) == slug
    assert one_shipment(fulfillment(tracking_company=company or None)).carrier == slug


def test_fulfillment_event_falls_back_to_created_at() -> None:
    payload = load("fulfillment_events_create_delivered")
    payload["happened_at"] = None
    [event] = one_shipment(payload, "fulfillment_events/create").events
    assert event.occurred_at == datetime(2026, 2, 21, 14, 55, 38, tzinfo=EST)


def test_fulfillment_event_location_leaves_out_what_is_missing() -> None:
    payload = load("fulfillment_events_create_delivered")
    payload.update(city=None, province="")
    [event] = one_shipment(payload, "fulfillment_events/create").events
    assert event.location == "US"


def test_fulfillment_event_without_order_id() -> None:
    payload = load("fulfillment_events_create_delivered")
    del payload["order_id"]
    assert one_shipment(payload, "fulfillment_events/create").order is None


# -- updates: malformed payloads name the field -----------------------------------------------------


def assert_payload_error(topic: str, payload: dict[str, Any], field: str) -> None:
    with pytest.raises(PayloadError) as excinfo:
        connector.updates(topic, payload)
    assert excinfo.value.field == field


@pytest.mark.parametrize("topic", ["orders/create", "orders/updated", "orders/paid", "orders/cancelled"])
def test_order_without_id(topic: str) -> None:
    payload = load("orders_cancelled")
    del payload["id"]
    assert_payload_error(topic, payload, "id")


def test_order_without_number_or_name() -> None:
    payload = order(name=None)
    del payload["order_number"]
    assert_payload_error("orders/create", payload, "order_number")


def test_order_with_a_non_scalar_id() -> None:
    assert_payload_error("orders/create", order(id={"gid": "gid://shopify/Order/1"}), "id")


def test_orders_cancelled_without_cancelled_at() -> None:
    payload = load("orders_cancelled")
    payload["cancelled_at"] = None
    assert_payload_error("orders/cancelled", payload, "cancelled_at")


@pytest.mark.parametrize(
    ("field", "value"),
    [("created_at", "15/02/2026 16:40"), ("cancelled_at", 1771191612), ("total_price", "136,84"), ("total_tax", "NaN")],
)
def test_order_with_a_bad_value(field: str, value: Any) -> None:
    assert_payload_error("orders/create", order(**{field: value}), field)


def test_order_with_a_bad_shipping_amount() -> None:
    payload = order()
    payload["total_shipping_price_set"]["shop_money"]["amount"] = "free"
    assert_payload_error("orders/create", payload, "total_shipping_price_set.shop_money.amount")


@pytest.mark.parametrize(
    ("index", "key", "value", "field"),
    [
        (0, "title", None, "line_items[0].title"),
        (1, "price", "eighteen", "line_items[1].price"),
        (1, "quantity", "two", "line_items[1].quantity"),
    ],
)
def test_order_with_a_bad_line_item(index: int, key: str, value: Any, field: str) -> None:
    payload = order()
    payload["line_items"][index][key] = value
    if key == "title":
        payload["line_items"][index]["name"] = None
    assert_payload_error("orders/create", payload, field)


@pytest.mark.parametrize("field", ["shipping_address", "customer"])
def test_order_with_a_non_object(field: str) -> None:
    assert_payload_error("orders/create", order(**{field: "Jane Doe"}), field)


@pytest.mark.parametrize(
    ("field", "value"), [("id", None), ("order_id", None), ("created_at", None), ("updated_at", "soon")]
)
def test_fulfillment_with_a_bad_field(field: str, value: Any) -> None:
    assert_payload_error("fulfillments/create", fulfillment(**{field: value}), field)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", None),
        ("fulfillment_id", None),
        ("status", None),
        ("status", ""),
        ("happened_at", "yesterday"),
        ("estimated_delivery_at", "2026-02-21 sometime"),
    ],
)
def test_fulfillment_event_with_a_bad_field(field: str, value: Any) -> None:
    payload = load("fulfillment_events_create_in_transit")
    payload[field] = value
    assert_payload_error("fulfillment_events/create", payload, field)


def test_fulfillment_event_without_any_time() -> None:
    payload = load("fulfillment_events_create_in_transit")
    payload.update(happened_at=None, created_at=None)
    assert_payload_error("fulfillment_events/create", payload, "happened_at")


# -- the status table -------------------------------------------------------------------------------

# Every documented value, spelled as REST payloads spell them (lower-case), with its canonical status.
# FulfillmentEvent.status: FulfillmentEventStatus in the Admin API (LABEL_PRINTED, LABEL_PURCHASED,
# ATTEMPTED_DELIVERY, READY_FOR_PICKUP, PICKED_UP, CONFIRMED, IN_TRANSIT, OUT_FOR_DELIVERY, DELIVERED,
# FAILURE, CARRIER_PICKED_UP, DELAYED) and, so far only in the Customer API's unstable version,
# BUYER_ACTION_REQUIRED, READY_FOR_RECIPIENT_PICKUP and RETURNING_TO_SENDER.
FULFILLMENT_EVENT_STATUSES = {
    "label_printed": "label_created",
    "label_purchased": "label_created",
    "attempted_delivery": "attempted_delivery",
    "ready_for_pickup": "available_for_pickup",
    "picked_up": "delivered",
    "confirmed": "label_created",
    "in_transit": "in_transit",
    "out_for_delivery": "out_for_delivery",
    "delivered": "delivered",
    "failure": "exception",
    "carrier_picked_up": "in_transit",
    "delayed": "exception",
    "buyer_action_required": "exception",
    "ready_for_recipient_pickup": "available_for_pickup",
    "returning_to_sender": "returned_to_sender",
}
# Fulfillment.shipment_status (REST): a subset of the same vocabulary.
SHIPMENT_STATUSES = {
    "label_printed": "label_created",
    "label_purchased": "label_created",
    "attempted_delivery": "attempted_delivery",
    "ready_for_pickup": "available_for_pickup",
    "confirmed": "label_created",
    "in_transit": "in_transit",
    "out_for_delivery": "out_for_delivery",
    "delivered": "delivered",
    "failure": "exception",
}


def test_the_table_covers_every_documented_value_and_nothing_else() -> None:
    assert set(status_map) == set(FULFILLMENT_EVENT_STATUSES) | set(SHIPMENT_STATUSES)


@pytest.mark.parametrize(("raw_status", "expected"), sorted(FULFILLMENT_EVENT_STATUSES.items()))
def test_fulfillment_event_status(raw_status: str, expected: str) -> None:
    assert normalize_status(raw_status) == expected
    assert connector.normalize_status(raw_status.upper()) == expected  # the GraphQL enum spelling
    payload = load("fulfillment_events_create_in_transit")
    payload["status"] = raw_status
    [event] = one_shipment(payload, "fulfillment_events/create").events
    assert (event.status, event.raw_status) == (expected, raw_status)


@pytest.mark.parametrize(("raw_status", "expected"), sorted(SHIPMENT_STATUSES.items()))
def test_fulfillment_shipment_status(raw_status: str, expected: str) -> None:
    assert connector.normalize_status(raw_status) == expected
    events = one_shipment(fulfillment(shipment_status=raw_status)).events
    assert [(e.status, e.raw_status) for e in events] == [("label_created", ""), (expected, raw_status)]


@pytest.mark.parametrize("raw_status", ["", "lost_in_space", "in transit", "exception"])
def test_unknown_status_is_unknown(raw_status: str) -> None:
    assert connector.normalize_status(raw_status) == "unknown"


def test_unknown_event_status_is_kept_raw() -> None:
    payload = load("fulfillment_events_create_in_transit")
    payload["status"] = "held_at_customs"
    [event] = one_shipment(payload, "fulfillment_events/create").events
    assert (event.status, event.raw_status) == ("unknown", "held_at_customs")
