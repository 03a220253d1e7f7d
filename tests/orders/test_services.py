"""Applying facts: upserts keyed by natural ids, so a second application changes nothing."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.choices import AddressVerification, EventSource, FinancialStatus, FulfillmentStatus, ShipmentStatus
from orders.models import Customer, LineItem, Order, Shipment, Ticket
from orders.services import NotReady, order_upsert, payment_record, shipment_upsert, ticket_create
from orders.updates import (
    AddressData,
    CustomerData,
    LineItemData,
    OrderData,
    OrderRef,
    PaymentData,
    ShipmentData,
    TicketData,
    TrackingEventData,
)
from tests.factories import OrderFactory, ShipmentFactory, StoreFactory

pytestmark = pytest.mark.django_db
NOW = timezone.now()


def order_data(**overrides) -> OrderData:
    values = dict(
        external_id="820982911946154508",
        order_number="#1001",
        placed_at=NOW - timedelta(days=1),
        total=Decimal("59.00"),
        financial_status=FinancialStatus.PENDING,
        customer=CustomerData(email="Bob@Example.com", phone="(415) 555-0123", first_name="Bob", external_id="c1"),
        shipping_address=AddressData(
            name="Bob", line1="1 Main St", city="Toronto", region="ON", postal_code="M5V 2T6", country="ca"
        ),
        line_items=[LineItemData(title="Shirt", sku="S1", quantity=2, unit_price=Decimal("25.00"), external_id="1")],
    )
    return OrderData(**{**values, **overrides})


def test_an_order_is_created_with_its_customer_address_and_items():
    store = StoreFactory(country="US")

    order = order_upsert(store=store, data=order_data())

    assert order.order_number == "1001"
    assert order.is_international is True
    assert order.ship_country == "CA"
    assert order.address_verification == AddressVerification.UNVERIFIED
    assert order.customer.email == "bob@example.com"
    assert order.customer.phone == "+14155550123"
    assert [(i.sku, i.quantity, i.unit_price) for i in order.line_items.all()] == [("S1", 2, Decimal("25.00"))]


def test_applying_the_same_order_twice_changes_nothing():
    store = StoreFactory()
    order_upsert(store=store, data=order_data())

    order_upsert(store=store, data=order_data())

    assert (Order.objects.count(), Customer.objects.count(), LineItem.objects.count()) == (1, 1, 1)


def test_an_update_makes_the_lines_the_sources_list_keeping_each_line_it_still_lists():
    store = StoreFactory()
    shirt = LineItemData(title="Shirt", sku="S1", quantity=2, unit_price=Decimal("25.00"), external_id="1")
    hat, mug = LineItemData(title="Hat", sku="H1"), LineItemData(title="Mug", sku="M1")
    order = order_upsert(store=store, data=order_data(line_items=[shirt, hat, mug]))
    before = {line.title: line.pk for line in order.line_items.all()}

    edited = [
        LineItemData(title="Shirt (blue)", sku="S1", quantity=3, unit_price=Decimal("25.00"), external_id="1"),
        LineItemData(title="Hat", sku="H1", quantity=2),  # no external id: the same line by SKU and title
        LineItemData(title="Scarf", sku="SC1"),
        LineItemData(title="Scarf", sku="SC1", quantity=4),  # a repeat updates the line it repeats
    ]
    order_upsert(store=store, data=order_data(line_items=edited))

    after = [(line.pk, line.title, line.quantity) for line in order.line_items.all()]
    assert after[:2] == [(before["Shirt"], "Shirt (blue)", 3), (before["Hat"], "Hat", 2)]
    assert [(title, quantity) for _, title, quantity in after[2:]] == [("Scarf", 4)]  # the mug is gone


def test_an_order_is_found_by_its_external_id_or_else_its_number_in_one_locked_read():
    store = StoreFactory()
    first = OrderFactory(store=store, external_id="ext-1", order_number="1001")
    second = OrderFactory(store=store, external_id="ext-2", order_number="1002")

    with CaptureQueriesContext(connection) as queries:
        renumbered = order_upsert(store=store, data=OrderData(external_id="ext-1", order_number="#1003"))
    numbered = order_upsert(store=store, data=OrderData(order_number="1002", total=Decimal(7)))

    assert (renumbered, numbered) == (first, second)
    assert len([q for q in queries.captured_queries if "FOR UPDATE" in q["sql"]]) == 1
    assert Order.objects.get(pk=first.pk).order_number == "1003"
    assert Order.objects.get(pk=second.pk).total == Decimal(7)
    with pytest.raises(ValueError, match="needs an external id or an order number"):
        order_upsert(store=store, data=OrderData(order_number="#"))


def test_an_orders_lines_cost_the_same_statements_however_many_there_are():
    store = StoreFactory()
    order_upsert(store=store, data=order_data(external_id="earlier", order_number="#1"))  # the customer is known

    def statements(lines: int) -> int:
        items = [LineItemData(title=f"Item {i}", sku=f"I{i}", external_id=f"{lines}-{i}") for i in range(lines)]
        data = order_data(external_id=f"ext-{lines}", order_number=f"#{lines}", line_items=items)
        with CaptureQueriesContext(connection) as created:
            order_upsert(store=store, data=data)
        with CaptureQueriesContext(connection) as updated:
            order_upsert(store=store, data=data)
        return len(created), len(updated)

    assert statements(2) == statements(5)


def test_an_update_keeps_what_the_source_did_not_say():
    store = StoreFactory()
    order_upsert(store=store, data=order_data())

    order = order_upsert(store=store, data=OrderData(external_id="820982911946154508", financial_status="paid"))

    assert order.financial_status == FinancialStatus.PAID
    assert order.total == Decimal("59.00")
    assert order.customer.first_name == "Bob"


def test_a_phone_number_alone_does_not_merge_two_customers_with_emails():
    store = StoreFactory()
    order_upsert(store=store, data=order_data())
    other = CustomerData(email="alice@example.com", phone="+14155550123", external_id="c2")

    order_upsert(store=store, data=order_data(external_id="2", order_number="1002", customer=other))

    assert sorted(Customer.objects.values_list("email", flat=True)) == ["alice@example.com", "bob@example.com"]


def shipment_data(**overrides) -> ShipmentData:
    values = dict(
        tracking_code="1Z999",
        carrier="ups",
        order=OrderRef(external_id="820982911946154508"),
        external_id="f1",
        label_created_at=NOW - timedelta(hours=5),
        events=[
            TrackingEventData(status=ShipmentStatus.IN_TRANSIT, occurred_at=NOW - timedelta(hours=1), dedupe_key="e1")
        ],
    )
    return ShipmentData(**{**values, **overrides})


def test_a_shipment_is_created_for_its_order_with_a_label_event_and_marks_it_fulfilled():
    store = StoreFactory()
    order_upsert(store=store, data=order_data())

    change = shipment_upsert(store=store, data=shipment_data(), source=EventSource.SHOPIFY)

    shipment = Shipment.objects.get()
    assert change.created and change.status == ShipmentStatus.IN_TRANSIT and change.new_events == 2
    assert list(shipment.events.values_list("status", flat=True)) == ["in_transit", "label_created"]
    assert shipment.order.fulfillment_status == FulfillmentStatus.FULFILLED


def test_a_carrier_update_finds_the_shipment_by_tracking_code_and_is_idempotent():
    store = StoreFactory()
    order_upsert(store=store, data=order_data())
    shipment_upsert(store=store, data=shipment_data(), source=EventSource.SHOPIFY)
    update = ShipmentData(
        tracking_code="1Z999",
        carrier="ups",
        events=[TrackingEventData(status=ShipmentStatus.DELIVERED, occurred_at=NOW, dedupe_key="d1")],
    )

    first = shipment_upsert(store=store, data=update, source=EventSource.EASYPOST)
    second = shipment_upsert(store=store, data=update, source=EventSource.EASYPOST)

    assert (first.previous_status, first.status, first.new_events) == ("in_transit", "delivered", 1)
    assert (second.status_changed, second.new_events) == (False, 0)
    assert Shipment.objects.count() == 1


def test_a_carrier_update_finds_its_parcel_in_one_locked_read_by_id_first_then_code_then_carrier():
    store = StoreFactory()
    order = OrderFactory(store=store)
    fulfillment = ShipmentFactory(order=order, external_id="fulfillment-1", tracking_code="1Z111", carrier="ups")
    tracker = ShipmentFactory(order=order, external_id="trk_2", tracking_code="1Z222", carrier="ups")
    # One tracking code on two orders' parcels (a reused code), carriers spelled apart.
    spelled_apart = ShipmentFactory(order=order, external_id="", tracking_code="1Z333", carrier="united parcel")
    same_carrier = ShipmentFactory(order__store=store, external_id="", tracking_code="1Z333", carrier="usps")

    def found(**identity) -> Shipment:
        update = ShipmentData(**identity, events=[])
        with CaptureQueriesContext(connection) as queries:
            change = shipment_upsert(store=store, data=update, source=EventSource.EASYPOST)
        assert len([q for q in queries.captured_queries if "FOR UPDATE" in q["sql"]]) == 1
        return Shipment.objects.get(pk=change.shipment_id)

    # A tracker's own id the parcel does not carry (it came from a Shopify fulfillment): by tracking code.
    assert found(external_id="trk_9", tracking_code="1Z111", carrier="ups") == fulfillment
    # The id wins over another parcel's tracking code.
    assert found(external_id="trk_2", tracking_code="1Z111", carrier="ups") == tracker
    # Two parcels with one code: the carrier breaks the tie; spelled otherwise, the code alone still finds one.
    assert found(tracking_code="1Z333", carrier="usps") == same_carrier
    assert found(tracking_code="1Z333", carrier="fedex") in {spelled_apart, same_carrier}


def test_a_shipment_for_an_order_not_seen_yet_is_not_ready():
    store = StoreFactory()

    with pytest.raises(NotReady):
        shipment_upsert(store=store, data=shipment_data(), source=EventSource.SHOPIFY)

    assert Shipment.objects.count() == 0


def test_a_carrier_update_for_an_unknown_parcel_is_not_ready():
    store = StoreFactory()

    with pytest.raises(NotReady):
        shipment_upsert(store=store, data=ShipmentData(tracking_code="NOPE"), source=EventSource.EASYPOST)


@pytest.mark.parametrize(
    ("before", "succeeded", "after"),
    [
        ("pending", False, "failed"),
        ("failed", True, "paid"),
        ("pending", True, "paid"),
        ("paid", False, "paid"),
        ("refunded", True, "refunded"),
    ],
)
def test_a_payment_outcome_never_undoes_a_payment_or_refund(before, succeeded, after):
    order = OrderFactory(financial_status=before, payment_reference="pi_1")

    payment_record(store=order.store, data=PaymentData(order=OrderRef(payment_reference="pi_1"), succeeded=succeeded))

    order.refresh_from_db()
    assert order.financial_status == after


def test_a_ticket_with_a_helpdesk_id_is_recorded_once_and_linked_to_the_order_and_its_customer():
    order = OrderFactory(order_number="1001")
    data = TicketData(
        reason="wismo", created_at=NOW, order=OrderRef(order_number="#1001"), external_id="zd-1", source="api"
    )

    first, created = ticket_create(store=order.store, data=data)
    second, created_again = ticket_create(store=order.store, data=data)

    assert (created, created_again, first.pk) == (True, False, second.pk)
    assert (first.order, first.customer) == (order, order.customer)
    assert Ticket.objects.count() == 1
