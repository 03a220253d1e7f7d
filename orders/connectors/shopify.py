"""Shopify webhooks: a store's orders, its fulfillments (tracking numbers) and their carrier events.

Shopify POSTs the REST Admin API resource of the topic as the JSON body (webhook reference,
shopify.dev/docs/api/webhooks) and describes the delivery in headers:

    X-Shopify-Topic          orders/create, fulfillments/update, fulfillment_events/create, ...
    X-Shopify-Hmac-Sha256    base64(HMAC-SHA256(key=app client secret / webhook signing secret, msg=raw body))
    X-Shopify-Shop-Domain    acme-outdoor.myshopify.com
    X-Shopify-Webhook-Id     one per delivery; a retry repeats it
    X-Shopify-Event-Id       shared by every delivery one merchant action caused
    X-Shopify-Triggered-At, X-Shopify-API-Version

Topics turned into facts:

    orders/create, orders/updated, orders/paid, orders/cancelled   -> OrderData
    fulfillments/create, fulfillments/update                        -> ShipmentData (tracking number, carrier)
    fulfillment_events/create                                       -> ShipmentData with one carrier event

Anything else is stored and ignored. Statuses follow the REST spelling (lower-case), which is the GraphQL
FulfillmentEventStatus enum lower-cased; upper-case values are accepted too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from orders.carriers import carrier_slug
from orders.choices import DataRequestKind, FinancialStatus, FulfillmentStatus, ShipmentStatus
from orders.connectors.base import (
    Connector,
    PayloadError,
    SignatureError,
    UnsupportedEvent,
    optional,
    require,
    text,
)
from orders.updates import (
    AddressData,
    CustomerData,
    LineItemData,
    OrderData,
    OrderRef,
    PersonalDataRequest,
    ShipmentData,
    TrackingEventData,
    Update,
)

HMAC_HEADER = "X-Shopify-Hmac-Sha256"
TOPIC_HEADER = "X-Shopify-Topic"
SHOP_DOMAIN_HEADER = "X-Shopify-Shop-Domain"
WEBHOOK_ID_HEADER = "X-Shopify-Webhook-Id"
EVENT_ID_HEADER = "X-Shopify-Event-Id"

ORDERS_CREATE = "orders/create"
ORDERS_UPDATED = "orders/updated"
ORDERS_PAID = "orders/paid"
ORDERS_CANCELLED = "orders/cancelled"
FULFILLMENTS_CREATE = "fulfillments/create"
FULFILLMENTS_UPDATE = "fulfillments/update"
FULFILLMENT_EVENTS_CREATE = "fulfillment_events/create"
ORDER_TOPICS = frozenset({ORDERS_CREATE, ORDERS_UPDATED, ORDERS_PAID, ORDERS_CANCELLED})
# The mandatory compliance topics (privacy law): a customer asks for their data or its erasure, and 48 hours
# after a store removes the app, the store's erasure. What each does: orders.privacy.
CUSTOMERS_DATA_REQUEST = "customers/data_request"
CUSTOMERS_REDACT = "customers/redact"
SHOP_REDACT = "shop/redact"
# Where each compliance topic lists the orders it names.
ORDERS_NAMED = {CUSTOMERS_DATA_REQUEST: "orders_requested", CUSTOMERS_REDACT: "orders_to_redact"}
FULFILLMENT_TOPICS = frozenset({FULFILLMENTS_CREATE, FULFILLMENTS_UPDATE})

S = ShipmentStatus

# FulfillmentEvent `status` and Fulfillment `shipment_status` -> canonical status. Both fields take the
# FulfillmentEventStatus values (Admin GraphQL enum, lower-cased in REST payloads). Sources: Admin API
# FulfillmentEventStatus (2024-10 .. unstable), Customer API FulfillmentEventStatus (unstable), REST
# Fulfillment.shipment_status.
status_map: dict[str, str] = {
    "label_purchased": S.LABEL_CREATED,
    "label_printed": S.LABEL_CREATED,
    # "The fulfillment is confirmed. This is the default value when no other information is available":
    # the carrier knows of the parcel but has not scanned it.
    "confirmed": S.LABEL_CREATED,
    "carrier_picked_up": S.IN_TRANSIT,
    "in_transit": S.IN_TRANSIT,
    "out_for_delivery": S.OUT_FOR_DELIVERY,
    "attempted_delivery": S.ATTEMPTED_DELIVERY,
    "ready_for_pickup": S.AVAILABLE_FOR_PICKUP,
    "delivered": S.DELIVERED,
    # Local pickup: "The fulfillment was successfully picked up" by the customer, so it reached them.
    "picked_up": S.DELIVERED,
    # A carrier-reported delay is the kind of problem the hub exists to catch, as is a failure ("the
    # tracking number was invalid or the shipment was canceled", REST shipment_status docs).
    "delayed": S.EXCEPTION,
    "failure": S.EXCEPTION,
    # Customer API (unstable) only so far; mapped so the hub is ready when the Admin API gains them.
    "buyer_action_required": S.EXCEPTION,
    "ready_for_recipient_pickup": S.AVAILABLE_FOR_PICKUP,
    "returning_to_sender": S.RETURNED_TO_SENDER,
}

# REST Order.financial_status -> FinancialStatus.
financial_status_map: dict[str, str] = {
    "pending": FinancialStatus.PENDING,
    # Authorized (not yet captured) and partially paid orders still wait for money.
    "authorized": FinancialStatus.PENDING,
    "partially_paid": FinancialStatus.PENDING,
    "paid": FinancialStatus.PAID,
    "partially_refunded": FinancialStatus.PARTIALLY_REFUNDED,
    "refunded": FinancialStatus.REFUNDED,
    # The authorization was released (voided) or lapsed (expired, GraphQL's display status) without a
    # capture: no money will arrive, and "failed" is the hub's only unpaid-for-good value. Such orders are
    # usually cancelled too, and cancelled_at says so.
    "voided": FinancialStatus.FAILED,
    "expired": FinancialStatus.FAILED,
}

# REST Order.fulfillment_status -> FulfillmentStatus; null means nothing has shipped.
fulfillment_status_map: dict[str | None, str] = {
    None: FulfillmentStatus.UNFULFILLED,
    "unfulfilled": FulfillmentStatus.UNFULFILLED,
    "partial": FulfillmentStatus.PARTIAL,
    "fulfilled": FulfillmentStatus.FULFILLED,
    "restocked": FulfillmentStatus.RESTOCKED,
}


# Shopify's tracking company names (sent "exactly as written in the list") whose slug is shorter than
# their name; any other name is slugified.
def normalize_status(raw: str) -> str:
    """Map a FulfillmentEvent status / Fulfillment shipment_status to a canonical ShipmentStatus."""
    return status_map.get(raw.strip().lower(), S.UNKNOWN)


class ShopifyConnector(Connector):
    source: ClassVar[str] = "shopify"
    label: ClassVar[str] = "Shopify"
    secret_field: ClassVar[str] = "shopify_webhook_secret"
    secret_setting: ClassVar[str] = "SHOPIFY_WEBHOOK_SECRET"
    status_map: ClassVar[Mapping[Any, str]] = status_map
    paths: ClassVar[Mapping[str, str]] = {
        "external_id": "id",
        "total": "total_price",
        "subtotal": "subtotal_price",
        "tax_total": "total_tax",
        "discount_total": "total_discounts",
        "shipping_total": "total_shipping_price_set.shop_money.amount",
        "customer.external_id": "customer.id",
        "shipping_address.line1": "shipping_address.address1",
        "shipping_address.line2": "shipping_address.address2",
        "shipping_address.region": "shipping_address.province_code",
        "shipping_address.postal_code": "shipping_address.zip",
        "shipping_address.country": "shipping_address.country_code",
        "line_items[].unit_price": "line_items[].price",
        "line_items[].external_id": "line_items[].id",
        "line_items[].variant": "line_items[].variant_title",
        "placed_at": "created_at",
        "tracking_code": "tracking_number",
        "carrier": "tracking_company",
        "order.external_id": "order_id",
        "carrier_estimated_delivery": "estimated_delivery_at",
    }

    normalize_status = staticmethod(normalize_status)

    def verify(self, body: bytes, headers: Mapping[str, str], secret: str) -> None:
        given = headers.get(HMAC_HEADER)
        if not given:
            raise SignatureError(f"missing {HMAC_HEADER} header")
        if not secret:
            raise SignatureError("no Shopify webhook secret is configured")
        digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
        if not self.signatures_match(base64.b64encode(digest), given.strip()):
            raise SignatureError(f"{HMAC_HEADER} does not match the body")

    def store_hint(self, headers: Mapping[str, str], payload: Mapping[str, Any]) -> str:
        return (headers.get(SHOP_DOMAIN_HEADER) or "").strip().lower()

    def event_type(self, headers: Mapping[str, str], payload: Mapping[str, Any]) -> str:
        topic = (headers.get(TOPIC_HEADER) or "").strip()
        if not topic:
            raise PayloadError(TOPIC_HEADER)
        return topic

    def delivery_id(self, headers: Mapping[str, str], payload: Mapping[str, Any]) -> str:
        # Shopify repeats X-Shopify-Webhook-Id on every retry of a delivery, while X-Shopify-Event-Id is
        # shared by all the deliveries one merchant action triggers (fulfilling an order fires
        # fulfillments/create and orders/updated with the same event id). Deduping on the event id alone
        # would drop the second topic, so it only serves, paired with the topic, when the webhook id is
        # missing.
        webhook_id = (headers.get(WEBHOOK_ID_HEADER) or "").strip()
        if webhook_id:
            return webhook_id
        event_id = (headers.get(EVENT_ID_HEADER) or "").strip()
        if event_id:
            return f"{event_id}:{self.event_type(headers, payload)}"
        raise PayloadError(WEBHOOK_ID_HEADER)

    def paths_for(self, event_type: str) -> Mapping[str, str]:
        if event_type == FULFILLMENT_EVENTS_CREATE:
            return {**self.paths, "external_id": "fulfillment_id", "events[].occurred_at": "happened_at"}
        return self.paths

    def parse(self, event_type: str, payload: Mapping[str, Any]) -> list[Update]:
        if event_type in ORDER_TOPICS:
            return [_order(event_type, payload)]
        if event_type in FULFILLMENT_TOPICS:
            return [_fulfillment(payload)]
        if event_type == FULFILLMENT_EVENTS_CREATE:
            return [_fulfillment_event(payload)]
        if event_type == SHOP_REDACT:
            return [PersonalDataRequest(kind=DataRequestKind.ERASURE, whole_store=True)]
        if event_type in ORDERS_NAMED:
            return [_data_request(event_type, payload)]
        raise UnsupportedEvent(event_type)


# -- privacy -----------------------------------------------------------------------------------------


def _data_request(topic: str, payload: Mapping[str, Any]) -> PersonalDataRequest:
    """customers/data_request or customers/redact: the customer by id, email and phone, and the orders named."""
    customer = _object(payload, "customer")
    if customer is None:
        raise PayloadError("customer")
    data = CustomerData(
        external_id=text(optional(customer, "id"), "customer.id"),
        email=text(optional(customer, "email"), "customer.email").lower(),
        phone=text(optional(customer, "phone"), "customer.phone"),
    )
    where = ORDERS_NAMED[topic]
    orders = optional(payload, where, [])
    if not isinstance(orders, list):
        raise PayloadError(where, "must be a list of order ids")
    order_ids = []
    for i, order in enumerate(orders):
        if isinstance(order, bool) or not isinstance(order, int | str) or not str(order).strip():
            raise PayloadError(f"{where}[{i}]", "must be an order id")
        order_ids.append(str(order).strip())
    if not (data.external_id or data.email or data.phone or order_ids):
        raise PayloadError("customer", "names no customer: an id, email or phone is needed")
    request_id = _id(payload, "data_request.id") if topic == CUSTOMERS_DATA_REQUEST else ""
    kind = DataRequestKind.COPY if topic == CUSTOMERS_DATA_REQUEST else DataRequestKind.ERASURE
    return PersonalDataRequest(kind=kind, customer=data, order_external_ids=order_ids, external_id=request_id)


# -- orders -----------------------------------------------------------------------------------------


def _order(topic: str, payload: Mapping[str, Any]) -> OrderData:
    external_id = _id(payload, "id")
    financial_status = _financial_status(payload)
    # orders/paid fires once the order is fully paid; a minimal payload (include_fields) may not repeat
    # financial_status, and a refund made before a retried delivery arrives is later news, so it stays.
    if topic == ORDERS_PAID and financial_status not in (
        FinancialStatus.PAID,
        FinancialStatus.PARTIALLY_REFUNDED,
        FinancialStatus.REFUNDED,
    ):
        financial_status = FinancialStatus.PAID
    cancelled_at = _time(payload, "cancelled_at")
    if topic == ORDERS_CANCELLED and cancelled_at is None:
        raise PayloadError("cancelled_at")
    return OrderData(
        external_id=external_id,
        order_number=_order_number(payload),
        placed_at=_time(payload, "created_at"),
        updated_at=_time(payload, "updated_at"),
        currency=text(optional(payload, "currency"), "currency") or None,
        subtotal=_money(payload, "subtotal_price"),
        shipping_total=_money(payload, "total_shipping_price_set.shop_money.amount"),
        tax_total=_money(payload, "total_tax"),
        discount_total=_money(payload, "total_discounts"),
        total=_money(payload, "total_price"),
        financial_status=financial_status,
        fulfillment_status=_fulfillment_status(payload),
        cancelled_at=cancelled_at,
        customer=_customer(payload),
        shipping_address=_address(payload),
        line_items=_line_items(payload),
    )


def _order_number(payload: Mapping[str, Any]) -> str:
    """order_number (1001), else the name ("#1001") without its "#": the hub stores numbers bare."""
    number = text(optional(payload, "order_number"), "order_number")
    if number:
        return number
    name = text(optional(payload, "name"), "name").removeprefix("#").strip()
    if not name:
        raise PayloadError("order_number", "or name is required")
    return name


def _financial_status(payload: Mapping[str, Any]) -> str | None:
    raw = text(optional(payload, "financial_status"), "financial_status").lower()
    return financial_status_map.get(raw) if raw else None


def _fulfillment_status(payload: Mapping[str, Any]) -> str | None:
    # A full order payload always has the key, null meaning unfulfilled; a payload trimmed with
    # include_fields may leave it out, and then it says nothing.
    if "fulfillment_status" not in payload:
        return None
    raw = payload["fulfillment_status"]
    if raw is not None and not isinstance(raw, str):
        raise PayloadError("fulfillment_status", "must be a string or null")
    return fulfillment_status_map.get(raw.strip().lower() if isinstance(raw, str) else raw)


def _customer(payload: Mapping[str, Any]) -> CustomerData | None:
    customer = _object(payload, "customer") or {}
    # The order's own email/phone are what the customer typed at checkout for this order; the customer
    # record's may be older. The shipping address phone is the one checkout asks for most often.
    email = (
        text(optional(payload, "email"), "email")
        or text(optional(payload, "contact_email"), "contact_email")
        or text(optional(customer, "email"), "customer.email")
    )
    phone = (
        text(optional(payload, "phone"), "phone")
        or text(optional(customer, "phone"), "customer.phone")
        or text(optional(payload, "shipping_address.phone"), "shipping_address.phone")
    )
    external_id = text(optional(customer, "id"), "customer.id")
    if not (email or phone or external_id):
        return None
    return CustomerData(
        email=email.lower(),
        phone=phone,
        first_name=text(optional(customer, "first_name"), "customer.first_name") or None,
        last_name=text(optional(customer, "last_name"), "customer.last_name") or None,
        external_id=external_id,
    )


def _address(payload: Mapping[str, Any]) -> AddressData | None:
    address = _object(payload, "shipping_address")
    if address is None:
        return None
    name = text(optional(address, "name"), "shipping_address.name") or " ".join(
        part
        for part in (
            text(optional(address, "first_name"), "shipping_address.first_name"),
            text(optional(address, "last_name"), "shipping_address.last_name"),
        )
        if part
    )
    return AddressData(
        name=name,
        line1=text(optional(address, "address1"), "shipping_address.address1"),
        line2=text(optional(address, "address2"), "shipping_address.address2"),
        city=text(optional(address, "city"), "shipping_address.city"),
        region=text(optional(address, "province_code"), "shipping_address.province_code")
        or text(optional(address, "province"), "shipping_address.province"),
        postal_code=text(optional(address, "zip"), "shipping_address.zip"),
        country=text(optional(address, "country_code"), "shipping_address.country_code")
        or text(optional(address, "country"), "shipping_address.country"),
    )


def _line_items(payload: Mapping[str, Any]) -> list[LineItemData] | None:
    items = optional(payload, "line_items")
    if items is None:
        return None
    if not isinstance(items, list):
        raise PayloadError("line_items", "must be a list")
    result = []
    for i, item in enumerate(items):
        path = f"line_items[{i}]"
        if not isinstance(item, Mapping):
            raise PayloadError(path, "must be an object")
        title = text(optional(item, "title"), f"{path}.title") or text(optional(item, "name"), f"{path}.name")
        if not title:
            raise PayloadError(f"{path}.title")
        quantity = optional(item, "quantity", 1)
        if isinstance(quantity, bool) or not isinstance(quantity, int | str):
            raise PayloadError(f"{path}.quantity", "must be a whole number")
        try:
            quantity = int(quantity)
        except ValueError as exc:
            raise PayloadError(f"{path}.quantity", "must be a whole number") from exc
        result.append(
            LineItemData(
                title=title,
                quantity=quantity,
                unit_price=_money(item, "price", f"{path}.price") or Decimal("0.00"),
                sku=text(optional(item, "sku"), f"{path}.sku"),
                variant=text(optional(item, "variant_title"), f"{path}.variant_title"),
                external_id=text(optional(item, "id"), f"{path}.id"),
            )
        )
    return result


# -- fulfillments -----------------------------------------------------------------------------------


def _fulfillment(payload: Mapping[str, Any]) -> ShipmentData:
    fulfillment_id = _id(payload, "id")
    tracking_code = _tracking_number(payload)
    if not tracking_code:
        raise UnsupportedEvent("fulfillment without tracking number")
    order_id = _id(payload, "order_id")
    created_at = _time(payload, "created_at")
    if created_at is None:
        raise PayloadError("created_at")
    updated_at = _time(payload, "updated_at") or created_at

    events = [
        TrackingEventData(
            status=S.LABEL_CREATED,
            occurred_at=created_at,
            dedupe_key=f"shopify:fulfillment:{fulfillment_id}:label_created",
            message="Shipping label created",
        )
    ]
    status = text(optional(payload, "status"), "status").lower()
    shipment_status = text(optional(payload, "shipment_status"), "shipment_status")
    if status == "cancelled":
        events.append(
            TrackingEventData(
                status=S.CANCELLED,
                occurred_at=updated_at,
                dedupe_key=f"shopify:fulfillment:{fulfillment_id}:cancelled",
                raw_status=status,
                message="Fulfillment cancelled",
            )
        )
    elif shipment_status:
        # The fulfillment only carries its latest status and when it last changed; Shopify sends the
        # event itself (with its real time and place) as fulfillment_events/create.
        events.append(
            TrackingEventData(
                status=normalize_status(shipment_status),
                occurred_at=updated_at,
                dedupe_key=f"shopify:fulfillment:{fulfillment_id}:{shipment_status}",
                raw_status=shipment_status,
            )
        )
    return ShipmentData(
        tracking_code=tracking_code,
        carrier=carrier_slug(text(optional(payload, "tracking_company"), "tracking_company")),
        order=OrderRef(external_id=order_id),
        external_id=fulfillment_id,
        # Fulfillment.service is the fulfillment service that shipped it ("manual", a 3PL app's
        # handle), not the carrier's service level, so it is not mapped.
        service_level=None,
        label_created_at=created_at,
        events=events,
    )


def _tracking_number(payload: Mapping[str, Any]) -> str:
    number = text(optional(payload, "tracking_number"), "tracking_number")
    if number:
        return number
    numbers = optional(payload, "tracking_numbers", [])
    if not isinstance(numbers, list):
        raise PayloadError("tracking_numbers", "must be a list")
    return next((code for i, n in enumerate(numbers) if (code := text(n, f"tracking_numbers[{i}]"))), "")


def _fulfillment_event(payload: Mapping[str, Any]) -> ShipmentData:
    event_id = _id(payload, "id")
    fulfillment_id = _id(payload, "fulfillment_id")
    raw_status = text(require(payload, "status"), "status")
    occurred_at = _time(payload, "happened_at") or _time(payload, "created_at")
    if occurred_at is None:
        raise PayloadError("happened_at")
    order_id = optional(payload, "order_id")
    return ShipmentData(
        # The event names its fulfillment, not the tracking number: it updates the shipment that
        # fulfillments/create announced.
        tracking_code="",
        order=OrderRef(external_id=_id(payload, "order_id")) if order_id not in (None, "") else None,
        external_id=fulfillment_id,
        carrier_estimated_delivery=_time(payload, "estimated_delivery_at"),
        events=[
            TrackingEventData(
                status=normalize_status(raw_status),
                occurred_at=occurred_at,
                dedupe_key=f"shopify:fulfillment_event:{event_id}",
                raw_status=raw_status,
                message=text(optional(payload, "message"), "message"),
                location=", ".join(
                    part
                    for part in (text(optional(payload, key), key) for key in ("city", "province", "country"))
                    if part
                ),
            )
        ],
    )


# -- field helpers ----------------------------------------------------------------------------------


def _id(payload: Mapping[str, Any], field: str) -> str:
    """A required Shopify id (a JSON integer in REST payloads) as a string."""
    value = require(payload, field)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise PayloadError(field, "must be an id")
    return str(value).strip()


def _object(payload: Mapping[str, Any], field: str) -> Mapping[str, Any] | None:
    value = optional(payload, field)
    if value is not None and not isinstance(value, Mapping):
        raise PayloadError(field, "must be an object")
    return value


def _money(payload: Mapping[str, Any], path: str, field: str | None = None) -> Decimal | None:
    """A decimal amount (Shopify sends "136.84" strings), or None when the payload does not say."""
    value = optional(payload, path)
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise PayloadError(field or path, "is not a decimal amount")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise PayloadError(field or path, "is not a decimal amount") from exc
    if not amount.is_finite():
        raise PayloadError(field or path, "is not a decimal amount")
    return amount


def _time(payload: Mapping[str, Any], field: str) -> datetime | None:
    """An ISO 8601 timestamp as an aware datetime, or None when absent.

    Shopify always sends an offset (the shop's time zone, e.g. "2026-02-16T14:02:05-05:00"); a value
    without one is read as UTC rather than rejected.
    """
    value = optional(payload, field)
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise PayloadError(field, "is not an ISO 8601 timestamp")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise PayloadError(field, "is not an ISO 8601 timestamp") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
