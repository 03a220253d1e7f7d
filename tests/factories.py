"""factory-boy factories for every model. Defaults build a plausible US order with one customer."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from orders.choices import DeliveryState, EventSource, FinancialStatus, ShipmentStatus, TicketReason
from orders.models import (
    ApiToken,
    Customer,
    InboundDelivery,
    LineItem,
    Order,
    Shipment,
    Store,
    Ticket,
    TrackingEvent,
)


class StoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Store
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Store {n}")
    slug = factory.Sequence(lambda n: f"store-{n}")
    support_email = "help@example.com"
    timezone = "America/New_York"
    country = "US"
    currency = "USD"


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    store = factory.SubFactory(StoreFactory)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    phone = factory.Sequence(lambda n: f"+1415555{n % 10000:04d}")
    timezone = "America/Los_Angeles"
    lifetime_value = Decimal("120.00")


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    store = factory.SubFactory(StoreFactory)
    customer = factory.SubFactory(CustomerFactory, store=factory.SelfAttribute("..store"))
    order_number = factory.Sequence(lambda n: f"{1000 + n}")
    external_id = factory.Sequence(lambda n: f"ext-{n}")
    placed_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=3))
    currency = "USD"
    subtotal = Decimal("50.00")
    shipping_total = Decimal("5.00")
    tax_total = Decimal("4.00")
    total = Decimal("59.00")
    financial_status = FinancialStatus.PAID
    ship_name = factory.LazyAttribute(lambda o: str(o.customer) if o.customer else "Sam Doe")
    ship_line1 = "1 Market St"
    ship_city = "San Francisco"
    ship_region = "CA"
    ship_postal_code = "94105"
    ship_country = "US"


class LineItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LineItem

    order = factory.SubFactory(OrderFactory)
    sku = factory.Sequence(lambda n: f"SKU-{n}")
    title = "Linen shirt"
    variant = "M / Blue"
    quantity = 1
    unit_price = Decimal("50.00")


class ShipmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Shipment

    order = factory.SubFactory(OrderFactory)
    store = factory.SelfAttribute("order.store")
    carrier = "usps"
    service_level = "Priority"
    tracking_code = factory.Sequence(lambda n: f"94001000000000000{n:05d}")
    label_created_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=2))
    status = ShipmentStatus.LABEL_CREATED


class TrackingEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TrackingEvent

    shipment = factory.SubFactory(ShipmentFactory)
    status = ShipmentStatus.IN_TRANSIT
    raw_status = "in_transit"
    message = "Arrived at facility"
    location = "Oakland, CA"
    occurred_at = factory.LazyFunction(timezone.now)
    source = EventSource.API
    dedupe_key = factory.Sequence(lambda n: f"event-{n}")


class TicketFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Ticket

    store = factory.SubFactory(StoreFactory)
    reason = TicketReason.WISMO
    subject = "Where is my order?"
    created_at = factory.LazyFunction(timezone.now)


class InboundDeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InboundDelivery

    source = EventSource.SHOPIFY
    store = factory.SubFactory(StoreFactory)
    event_type = "orders/create"
    delivery_id = factory.Sequence(lambda n: f"delivery-{n}")
    headers = factory.LazyFunction(lambda: {"Content-Type": "application/json"})
    body = '{"id": 1}'
    state = DeliveryState.PROCESSED


class ApiTokenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ApiToken

    store = factory.SubFactory(StoreFactory)
    name = "Warehouse WMS"
    key_prefix = factory.Sequence(lambda n: f"cxh_{n:06d}")
    key_hash = factory.Sequence(lambda n: f"{n:064x}")
