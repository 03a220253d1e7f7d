"""Typed facts on their way in.

Every source — webhook connectors, the REST API, CSV backfill and the demo seeder — turns what it
received into these plain dataclasses, and `orders.services` applies them. One way in means one set of
rules (dedupe, status ordering, upserts) whatever the source.

A field left as None means "this source did not say": the stored value is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class CustomerData:
    email: str = ""
    phone: str = ""
    first_name: str | None = None
    last_name: str | None = None
    external_id: str = ""
    timezone: str | None = None
    lifetime_value: Decimal | None = None
    is_vip: bool | None = None


@dataclass(frozen=True)
class AddressData:
    name: str = ""
    line1: str = ""
    line2: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = ""
    verified: bool | None = None


@dataclass(frozen=True)
class LineItemData:
    title: str
    quantity: int = 1
    unit_price: Decimal = Decimal("0.00")
    sku: str = ""
    variant: str = ""
    external_id: str = ""
    returnable: bool = True


@dataclass(frozen=True)
class OrderData:
    """An order as a source knows it. `external_id` or `order_number` identifies it within a store."""

    external_id: str = ""
    order_number: str = ""
    placed_at: datetime | None = None
    # When the source last changed the order: an older version arriving late is not applied.
    updated_at: datetime | None = None
    currency: str | None = None
    subtotal: Decimal | None = None
    shipping_total: Decimal | None = None
    tax_total: Decimal | None = None
    discount_total: Decimal | None = None
    total: Decimal | None = None
    financial_status: str | None = None
    fulfillment_status: str | None = None
    payment_reference: str | None = None
    cancelled_at: datetime | None = None
    customer: CustomerData | None = None
    shipping_address: AddressData | None = None
    line_items: list[LineItemData] | None = None
    promised_ship_by: datetime | None = None
    promised_deliver_by: datetime | None = None


@dataclass(frozen=True)
class OrderRef:
    """How a shipment or payment names its order: any one of these is enough."""

    external_id: str = ""
    order_number: str = ""
    payment_reference: str = ""

    def __bool__(self) -> bool:
        return bool(self.external_id or self.order_number or self.payment_reference)


@dataclass(frozen=True)
class TrackingEventData:
    """One carrier scan. `status` is canonical (orders.choices.ShipmentStatus); raw values are kept."""

    status: str
    occurred_at: datetime
    dedupe_key: str
    raw_status: str = ""
    raw_detail: str = ""
    message: str = ""
    location: str = ""


@dataclass(frozen=True)
class ShipmentData:
    """A shipment as a source knows it, found by its external id or by tracking code (and carrier).

    With no `order` reference the shipment must already exist (a carrier update for a parcel the
    store announced); until it does, the delivery is retried later rather than dropped.
    """

    tracking_code: str = ""
    carrier: str = ""
    order: OrderRef | None = None
    external_id: str = ""
    service_level: str | None = None
    label_created_at: datetime | None = None
    carrier_estimated_delivery: datetime | None = None
    events: list[TrackingEventData] = field(default_factory=list)


@dataclass(frozen=True)
class PaymentData:
    """A payment outcome from a processor."""

    order: OrderRef
    succeeded: bool
    external_id: str = ""
    amount: Decimal | None = None
    currency: str = ""
    failure_code: str = ""
    failure_message: str = ""
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class TicketData:
    reason: str
    created_at: datetime
    channel: str = "email"
    order: OrderRef | None = None
    customer: CustomerData | None = None
    external_id: str = ""
    subject: str = ""
    body: str = ""
    source: str = "api"


@dataclass(frozen=True)
class PersonalDataRequest:
    """A customer's request about their personal data, relayed by the store platform or an integration
    (orders.privacy): `kind` is a DataRequestKind. `whole_store`: an erasure of every customer of the store
    (Shopify's shop/redact), which names no one."""

    kind: str
    customer: CustomerData = field(default_factory=CustomerData)
    order_external_ids: list[str] = field(default_factory=list)
    external_id: str = ""
    whole_store: bool = False


Update = OrderData | ShipmentData | PaymentData | TicketData | PersonalDataRequest
