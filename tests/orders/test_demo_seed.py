"""seed_demo: every kind of journey, deterministic for a seed, and idempotent."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count, F

from orders.choices import FinancialStatus, ShipmentStatus, TicketReason
from orders.demo import demo_seed
from orders.models import Customer, DataRequest, LineItem, Order, Shipment, Store, Ticket, TrackingEvent

pytestmark = pytest.mark.django_db
ANCHOR = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def snapshot() -> dict:
    return {
        "orders": list(
            Order.objects.order_by("store__slug", "order_number").values_list(
                "store__slug",
                "order_number",
                "total",
                "financial_status",
                "placed_at",
                "customer__email",
                "ship_country",
                "cancelled_at",
            )
        ),
        "shipments": list(
            Shipment.objects.order_by("tracking_code").values_list(
                "tracking_code", "carrier", "status", "label_created_at", "last_scan_at", "delivered_at"
            )
        ),
        "events": TrackingEvent.objects.count(),
        "items": list(LineItem.objects.order_by("external_id").values_list("external_id", "quantity", "unit_price")),
        "tickets": list(Ticket.objects.order_by("external_id").values_list("external_id", "reason", "created_at")),
        "customers": list(Customer.objects.order_by("external_id").values_list("external_id", "is_vip", "phone")),
    }


def test_the_same_seed_builds_the_same_data():
    demo_seed(orders=120, seed=7, anchor=ANCHOR)
    first = snapshot()
    Store.objects.all().delete()

    demo_seed(orders=120, seed=7, anchor=ANCHOR)

    assert snapshot() == first


def test_another_seed_builds_other_data():
    demo_seed(orders=60, seed=1, anchor=ANCHOR)
    first = snapshot()
    Store.objects.all().delete()

    demo_seed(orders=60, seed=2, anchor=ANCHOR)

    assert snapshot() != first


def test_running_it_twice_duplicates_nothing():
    demo_seed(orders=120, seed=7, anchor=ANCHOR)
    first = snapshot()

    demo_seed(orders=120, seed=7, anchor=ANCHOR)

    assert snapshot() == first
    assert Store.objects.count() == 2


def test_it_covers_every_kind_of_journey():
    demo_seed(orders=300, seed=42, anchor=ANCHOR)

    statuses = set(Shipment.objects.values_list("status", flat=True))
    assert {
        ShipmentStatus.LABEL_CREATED,
        ShipmentStatus.IN_TRANSIT,
        ShipmentStatus.ATTEMPTED_DELIVERY,
        ShipmentStatus.DELIVERED,
        ShipmentStatus.EXCEPTION,
        ShipmentStatus.RETURNED_TO_SENDER,
    } <= statuses
    # Label created more than 48 hours ago and never scanned.
    assert Shipment.objects.filter(
        status="label_created", label_created_at__lt=ANCHOR - dt.timedelta(hours=48)
    ).exists()
    # In transit, last heard of more than five days ago.
    assert Shipment.objects.filter(status="in_transit", last_scan_at__lt=ANCHOR - dt.timedelta(days=5)).exists()
    assert Order.objects.filter(is_international=True).exists()
    assert Order.objects.filter(financial_status=FinancialStatus.FAILED).exists()
    assert Order.objects.filter(cancelled_at__isnull=False).exists()
    assert Order.objects.filter(
        shipments__isnull=True, promised_ship_by__lt=ANCHOR, cancelled_at__isnull=True, financial_status="paid"
    ).exists()
    assert Order.objects.filter(address_verification="failed").exists()
    assert Customer.objects.filter(is_vip=True).exists()
    placed = Order.objects.order_by("placed_at").values_list("placed_at", flat=True)
    assert ANCHOR - dt.timedelta(days=31) < placed.first() and placed.last() <= ANCHOR


def test_problems_that_have_passed_are_in_the_facts_and_problems_under_way_are_recent():
    demo_seed(orders=300, seed=42, anchor=ANCHOR)

    delivered = Shipment.objects.filter(status=ShipmentStatus.DELIVERED)
    # Delivered since: scanned more than 48 hours after its label, missed once, shipped after the promised date.
    assert delivered.filter(first_scan_at__gt=F("label_created_at") + dt.timedelta(hours=48)).exists()
    assert delivered.filter(events__status=ShipmentStatus.ATTEMPTED_DELIVERY).exists()
    assert delivered.filter(label_created_at__gt=F("order__promised_ship_by")).exists()
    # A parcel waits at the depot after a missed delivery for days, not weeks; one on its way moved recently.
    attempted = Shipment.objects.filter(status=ShipmentStatus.ATTEMPTED_DELIVERY)
    assert attempted.exists() and not attempted.filter(last_event_at__lt=ANCHOR - dt.timedelta(days=10)).exists()
    moving = Shipment.objects.filter(status=ShipmentStatus.IN_TRANSIT, last_scan_at__gte=ANCHOR - dt.timedelta(days=3))
    assert moving.count() > Shipment.objects.filter(status=ShipmentStatus.IN_TRANSIT).count() / 2


def test_a_realistic_share_of_tickets_are_wismo():
    demo_seed(orders=300, seed=42, anchor=ANCHOR)

    reasons = dict(Ticket.objects.values_list("reason").annotate(n=Count("id")).order_by())
    total = sum(reasons.values())
    assert 0.08 <= total / Order.objects.count() <= 0.30  # contact rate per order
    assert 0.35 <= reasons[TicketReason.WISMO] / total <= 0.75


def test_the_command_shows_progress_and_a_summary():
    out, err = StringIO(), StringIO()

    call_command("seed_demo", "--orders", "10", "--seed", "3", stdout=out, stderr=err)

    assert "2 stores, 10 orders" in out.getvalue()
    assert "10/10" in err.getvalue()
    assert Order.objects.count() == 10


def test_nothing_happens_after_now():
    demo_seed(orders=300, seed=42, anchor=ANCHOR)

    assert not Shipment.objects.filter(label_created_at__gt=ANCHOR).exists()
    assert not TrackingEvent.objects.filter(occurred_at__gt=ANCHOR).exists()


def test_the_demo_stores_take_signed_webhooks_with_their_demo_secrets_and_keep_one_set_since():
    demo_seed(orders=4, seed=7, anchor=ANCHOR)
    Store.objects.filter(slug="lumen").update(stripe_webhook_secret="whsec_set_in_the_admin")

    demo_seed(orders=4, seed=7, anchor=ANCHOR)

    northwind, lumen = Store.objects.get(slug="northwind"), Store.objects.get(slug="lumen")
    assert northwind.shopify_webhook_secret == "demo-northwind-shopify"
    assert northwind.easypost_webhook_secret == "demo-northwind-easypost"
    assert lumen.aftership_webhook_secret == "demo-lumen-aftership"
    assert lumen.stripe_webhook_secret == "whsec_set_in_the_admin"


def test_a_customers_request_for_a_copy_of_their_data_waits_for_the_store_owner_once():
    demo_seed(orders=20, seed=42, anchor=ANCHOR)
    demo_seed(orders=20, seed=42, anchor=ANCHOR)

    request = DataRequest.objects.get()
    assert (request.kind, request.source, request.completed_at) == ("copy", "shopify", None)
    assert request.customer is not None
