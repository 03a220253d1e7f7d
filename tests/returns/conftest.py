import datetime as dt
from decimal import Decimal

import pytest

from notifications.defaults import templates_seed
from orders.choices import ShipmentStatus
from tests.factories import (
    CustomerFactory,
    ExchangeVariantFactory,
    LineItemFactory,
    OrderFactory,
    ReturnPolicyFactory,
    ShipmentFactory,
    StoreFactory,
)

NOW = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)  # a Monday afternoon: no quiet hours


@pytest.fixture
def now(time_machine):
    time_machine.move_to(NOW, tick=False)
    return NOW


@pytest.fixture
def store():
    store = StoreFactory(name="Acme Linen", currency="USD")
    templates_seed(store)
    return store


@pytest.fixture
def policy(store):
    return ReturnPolicyFactory(store=store, window_days=30, return_shipping_fee=Decimal("5.00"))


@pytest.fixture
def order(store, policy, now):
    """Delivered 3 days ago: a shirt (exchangeable), two pairs of socks, and a final-sale gift card."""
    order = OrderFactory(
        store=store,
        order_number="1042",
        customer=CustomerFactory(store=store, email="jane@example.com", first_name="Jane"),
        ship_name="Jane Doe",
        currency="USD",
    )
    LineItemFactory(order=order, title="Linen shirt", variant="M", sku="SHIRT-M", unit_price=Decimal("40.00"))
    LineItemFactory(order=order, title="Socks", variant="", sku="SOCK", quantity=2, unit_price=Decimal("8.00"))
    LineItemFactory(order=order, title="Gift card", sku="GIFT-25", unit_price=Decimal("25.00"), returnable=False)
    ShipmentFactory(order=order, status=ShipmentStatus.DELIVERED, delivered_at=now - dt.timedelta(days=3))
    return order


@pytest.fixture
def size_large(store):
    return ExchangeVariantFactory(store=store, product="Linen shirt", title="L", sku="SHIRT-L", available=2)


def item(order, sku: str):
    return order.line_items.get(sku=sku)
