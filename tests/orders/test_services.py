"""Applying facts: upserts keyed by natural ids, so a second application changes nothing."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.choices import AddressVerification, EventSource, FinancialStatus, FulfillmentStatus, ShipmentStatus
from orders.connectors import get_connector
from orders.ingest import apply_update
from orders.models import Customer, LineItem, Order, Shipment, Ticket
from orders.services import (
    NotReady,
    ShipmentConflict,
    order_upsert,
    payment_record,
    shipment_upsert,
    ticket_create,
)
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
from tests import signing
from tests.factories import OrderFactory, ShipmentFactory, StoreFactory, TrackingEventFactory

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


# --- A parcel belongs to one order: an update naming another order never moves or changes it -------------------


@pytest.fixture
def parcel_of_1001():
    """Order 1001's UPS parcel, as the Shopify fixtures announce it, with one scan."""
    store = StoreFactory()
    owner = OrderFactory(store=store, order_number="1001", external_id="820982911946154508")
    other = OrderFactory(store=store, order_number="1002", external_id="q-ext-2")
    parcel = ShipmentFactory(
        order=owner, carrier="ups", tracking_code="1Z999AA10123456784", external_id="5304183554374"
    )
    shipment_upsert(store=store, data=ShipmentData(tracking_code=parcel.tracking_code, carrier="ups",
                                                   events=[scan(ShipmentStatus.IN_TRANSIT, "s1")]),
                    source=EventSource.EASYPOST)  # fmt: skip
    return store, owner, other, Shipment.objects.get(pk=parcel.pk)


def scan(status: str, key: str, at=NOW - timedelta(hours=2)) -> TrackingEventData:
    return TrackingEventData(status=status, occurred_at=at, dedupe_key=key)


def parcel_state(shipment: Shipment) -> tuple:
    shipment.refresh_from_db()
    events = sorted(shipment.events.values_list("dedupe_key", "status", "source"))
    return shipment.order_id, shipment.external_id, shipment.status, shipment.delivered_at, events


@pytest.mark.parametrize(
    "identity",
    [
        {"tracking_code": "1Z999AA10123456784"},  # a new parcel for the named order (a CSV row, the API)
        {"tracking_code": "1Z999AA10123456784", "external_id": "f-of-1002"},  # a Shopify fulfillment of 1002
        {"tracking_code": "OTHER", "external_id": "5304183554374"},  # the parcel's own Shopify id, for 1002
        {"tracking_code": "", "external_id": "5304183554374"},  # a Shopify fulfillment event naming 1002
    ],
    ids=["code", "code-and-new-id", "its-id", "its-id-no-code"],
)
@pytest.mark.parametrize("order", [OrderRef(order_number="1002"), OrderRef(external_id="q-ext-2")], ids=["no", "id"])
def test_an_update_naming_another_order_is_a_conflict_and_writes_nothing(parcel_of_1001, identity, order):
    store, owner, other, parcel = parcel_of_1001
    before = parcel_state(parcel)
    delivered = scan(ShipmentStatus.DELIVERED, "csv:delivered", at=NOW - timedelta(minutes=5))
    update = ShipmentData(**identity, carrier="ups", order=order, label_created_at=NOW - timedelta(days=1),
                          events=[delivered])  # fmt: skip

    with pytest.raises(ShipmentConflict, match="belongs to a shipment of order 1001, not of order 1002") as error:
        shipment_upsert(store=store, data=update, source=EventSource.CSV)

    assert (error.value.owner, error.value.named) == (owner, other)
    assert parcel_state(parcel) == before
    assert Shipment.objects.count() == 1
    assert Order.objects.get(pk=other.pk).fulfillment_status == FulfillmentStatus.UNFULFILLED


@pytest.mark.parametrize(
    "order",
    [
        None,  # EasyPost: the tracking code alone
        OrderRef(order_number="1001"),
        OrderRef(external_id="5843191628024", order_number="1001"),  # AfterShip: its own order id, Shopify's number
        OrderRef(external_id="820982911946154508"),  # a Shopify fulfillment event
        OrderRef(external_id="aftership-only", order_number="9999"),  # an order the hub does not know: unchecked
    ],
    ids=["none", "number", "aftership", "shopify", "unknown"],
)
def test_an_update_naming_the_parcels_own_order_or_none_applies(parcel_of_1001, order):
    store, owner, _, parcel = parcel_of_1001
    update = ShipmentData(tracking_code=parcel.tracking_code, carrier="ups", order=order,
                          events=[scan(ShipmentStatus.DELIVERED, "d1", at=NOW - timedelta(minutes=5))])  # fmt: skip

    change = shipment_upsert(store=store, data=update, source=EventSource.AFTERSHIP)

    assert (change.shipment_id, change.created, change.status) == (parcel.pk, False, ShipmentStatus.DELIVERED)
    assert parcel_state(parcel)[0] == owner.pk


def test_a_reused_tracking_code_finds_the_named_orders_own_parcel_whatever_the_carrier():
    store = StoreFactory()
    first, second = OrderFactory(store=store), OrderFactory(store=store)
    ShipmentFactory(order=first, tracking_code="1Z333", carrier="ups")
    theirs = ShipmentFactory(order=second, tracking_code="1Z333", carrier="usps")
    update = ShipmentData(tracking_code="1Z333", carrier="ups", order=OrderRef(order_number=second.order_number),
                          events=[scan(ShipmentStatus.IN_TRANSIT, "t1")])  # fmt: skip

    change = shipment_upsert(store=store, data=update, source=EventSource.API)

    assert change.shipment_id == theirs.pk
    assert Shipment.objects.get(pk=theirs.pk).status == ShipmentStatus.IN_TRANSIT


@pytest.mark.parametrize(
    ("source", "name", "event_type", "edit"),
    [
        ("shopify", "fulfillments_create", "fulfillments/create", {"order_id": 42}),
        ("shopify", "fulfillment_events_create_delivered", "fulfillment_events/create", {"order_id": 42}),
        ("aftership", "06_delivered", "tracking_update", {"msg": {"order_id": "", "order_number": "#1002"}}),
    ],
    ids=["shopify-fulfillment", "shopify-fulfillment-event", "aftership"],
)
def test_a_webhook_naming_another_order_for_a_parcel_is_a_conflict(parcel_of_1001, source, name, event_type, edit):
    store, _, other, parcel = parcel_of_1001
    Order.objects.filter(pk=other.pk).update(external_id="42")
    payload = signing.load_json(source, name)
    for key, value in edit.items():
        payload[key] = {**payload[key], **value} if isinstance(value, dict) else value
    before = parcel_state(parcel)

    with pytest.raises(ShipmentConflict):
        for update in get_connector(source).updates(event_type, payload):
            apply_update(store, update, source=source)

    assert parcel_state(parcel) == before


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


# --- One scan reported by two sources is one event ------------------------------------------------------------------


def copy_of(status: str, at, key: str, **raw) -> TrackingEventData:
    return TrackingEventData(status=status, occurred_at=at, dedupe_key=key, **raw)


AT = NOW.replace(second=0, microsecond=0) - timedelta(hours=3)
SHOPIFY_COPY = copy_of(ShipmentStatus.IN_TRANSIT, AT, "shopify:fulfillment_event:1", raw_status="in_transit")
AFTERSHIP_COPY = copy_of(ShipmentStatus.IN_TRANSIT, AT + timedelta(seconds=37), "aftership:cp:1",
                         raw_status="InTransit", raw_detail="InTransit_002", location="Louisville")  # fmt: skip


def timeline(shipment: Shipment) -> list[tuple]:
    return sorted(shipment.events.values_list("status", "occurred_at", "source", "raw_detail", "location"))


def record(shipment: Shipment, event: TrackingEventData, source: str) -> int:
    update = ShipmentData(tracking_code=shipment.tracking_code, carrier=shipment.carrier, events=[event])
    return shipment_upsert(store=shipment.store, data=update, source=source).new_events


@pytest.mark.parametrize("shopify_first", [True, False], ids=["shopify-first", "aftership-first"])
def test_a_scan_two_sources_report_is_kept_once_as_the_carrier_trackers_copy_in_any_order(shopify_first):
    shipment = ShipmentFactory(carrier="ups")
    copies = [(SHOPIFY_COPY, EventSource.SHOPIFY), (AFTERSHIP_COPY, EventSource.AFTERSHIP)]
    if not shopify_first:
        copies.reverse()

    added = [record(shipment, event, source) for event, source in copies]
    redelivered = [record(shipment, event, source) for event, source in copies]  # either copy, again

    assert (added, redelivered) == ([1, 0], [0, 0])
    assert timeline(shipment) == [
        (ShipmentStatus.IN_TRANSIT, AT + timedelta(seconds=37), EventSource.AFTERSHIP, "InTransit_002", "Louisville")
    ]
    shipment.refresh_from_db()
    assert (shipment.status, shipment.last_event_at) == (ShipmentStatus.IN_TRANSIT, AT + timedelta(seconds=37))


@pytest.mark.parametrize(
    ("other", "source"),
    [
        (copy_of(ShipmentStatus.IN_TRANSIT, AT + timedelta(minutes=1), "a:next-minute"), EventSource.AFTERSHIP),
        (copy_of(ShipmentStatus.OUT_FOR_DELIVERY, AT, "a:other-status"), EventSource.AFTERSHIP),
        (copy_of(ShipmentStatus.IN_TRANSIT, AT + timedelta(seconds=20), "s:same-source"), EventSource.SHOPIFY),
        (copy_of(ShipmentStatus.UNKNOWN, AT, "a:unknown"), EventSource.AFTERSHIP),
    ],
    ids=["next-minute", "other-status", "same-source", "unknown"],
)
def test_events_that_are_not_one_scan_are_all_kept(other, source):
    shipment = ShipmentFactory(carrier="ups")
    first = SHOPIFY_COPY if other.status != ShipmentStatus.UNKNOWN else copy_of(ShipmentStatus.UNKNOWN, AT, "s:u")

    assert [record(shipment, first, EventSource.SHOPIFY), record(shipment, other, source)] == [1, 1]
    assert shipment.events.count() == 2


def test_copies_stored_before_they_were_merged_on_arrival_are_removed_by_the_migration():
    """Timelines written by an earlier version hold both sources' copies of a scan. The migration that
    upgrades them leaves each parcel as if its events had arrived since: the carrier tracker's copy, and
    events that are not copies (another minute, another status, one source's own) untouched."""
    import importlib

    from django.apps import apps

    copies_remove = importlib.import_module("orders.migrations.0015_tracking_event_copies_removed").copies_remove
    shipment, single_source = ShipmentFactory(carrier="ups"), ShipmentFactory(carrier="ups")
    delivered = AT + timedelta(hours=5)
    old = [
        (SHOPIFY_COPY, EventSource.SHOPIFY),
        (AFTERSHIP_COPY, EventSource.AFTERSHIP),
        (copy_of(ShipmentStatus.DELIVERED, delivered, "s:delivered"), EventSource.SHOPIFY),
        (copy_of(ShipmentStatus.DELIVERED, delivered + timedelta(seconds=9), "a:delivered"), EventSource.AFTERSHIP),
        (copy_of(ShipmentStatus.IN_TRANSIT, AT + timedelta(minutes=1), "s:next-minute"), EventSource.SHOPIFY),
    ]
    for event, source in old:
        TrackingEventFactory(shipment=shipment, status=event.status, occurred_at=event.occurred_at, source=source,
                             dedupe_key=event.dedupe_key, raw_detail=event.raw_detail,
                             location=event.location)  # fmt: skip
    for key in ("s:1", "s:2"):  # one source's own two scans in one minute: never merged
        TrackingEventFactory(shipment=single_source, status=ShipmentStatus.IN_TRANSIT, occurred_at=AT,
                             source=EventSource.SHOPIFY, dedupe_key=key)  # fmt: skip
    Shipment.objects.filter(pk=shipment.pk).update(status=ShipmentStatus.DELIVERED, delivered_at=delivered)

    copies_remove(apps, connection.schema_editor())

    assert timeline(shipment) == [
        (ShipmentStatus.DELIVERED, delivered + timedelta(seconds=9), EventSource.AFTERSHIP, "", ""),
        (ShipmentStatus.IN_TRANSIT, AT + timedelta(seconds=37), EventSource.AFTERSHIP, "InTransit_002", "Louisville"),
        (ShipmentStatus.IN_TRANSIT, AT + timedelta(minutes=1), EventSource.SHOPIFY, "", ""),
    ]
    shipment.refresh_from_db()
    assert (shipment.status, shipment.delivered_at) == (ShipmentStatus.DELIVERED, delivered + timedelta(seconds=9))
    assert single_source.events.count() == 2


SHOPIFY_ANNOUNCE = [
    ("shopify", "orders_create", "orders/create"),
    ("shopify", "fulfillments_create", "fulfillments/create"),
]
SHOPIFY_SCANS = [("shopify", "fulfillments_update", "fulfillments/update")] + [
    ("shopify", f"fulfillment_events_create_{status}", "fulfillment_events/create")
    for status in ("in_transit", "delayed", "attempted_delivery", "out_for_delivery", "delivered")
]
AFTERSHIP_SCANS = [
    ("aftership", name, "tracking_update")
    for name in ("01_info_received", "02_in_transit", "03_exception", "04_attempt_fail", "05_out_for_delivery",
                 "06_delivered")
]  # fmt: skip


def replay(deliveries: list[tuple[str, str, str]]) -> tuple:
    """Apply fixtures as the webhooks do (connector, then apply_update) in a store of their own."""
    store = StoreFactory()
    for source, name, event_type in SHOPIFY_ANNOUNCE + deliveries:
        for update in get_connector(source).updates(event_type, signing.load_json(source, name)):
            apply_update(store, update, source=source)
    shipment = Shipment.objects.get(store=store)
    state = (shipment.status, shipment.first_scan_at, shipment.last_scan_at, shipment.delivered_at)
    return state, sorted(shipment.events.values_list("status", "occurred_at", "source", "raw_status"))


def test_shopify_and_aftership_replaying_one_parcel_give_each_scan_once_in_any_order():
    deliveries = SHOPIFY_SCANS + AFTERSHIP_SCANS

    state, events = replay(deliveries)

    moments = [(status, at) for status, at, _, _ in events]
    assert len(moments) == len(set(moments)), "a scan was stored twice"
    relayed = {(status, at) for status, at, source, _ in events if source == EventSource.SHOPIFY}
    assert relayed.isdisjoint((status, at) for status, at, source, _ in events if source == EventSource.AFTERSHIP)
    assert state[0] == ShipmentStatus.DELIVERED
    assert replay(list(reversed(deliveries))) == (state, events)
    assert replay(AFTERSHIP_SCANS + SHOPIFY_SCANS + AFTERSHIP_SCANS) == (state, events)
