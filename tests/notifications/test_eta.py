"""The estimated delivery day: one day per parcel, the same on the tracking page and in messages, and never
a day that has passed presented as an estimate."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from notifications.defaults import DEFAULT_TEMPLATES
from notifications.rendering import SAMPLE_CONTEXT, message_context, render
from orders.choices import ShipmentStatus
from orders.eta import estimate_day, shipment_eta
from portal.links import tracking_token
from tests.factories import CustomerFactory, OrderFactory, ShipmentFactory, StoreFactory

pytestmark = pytest.mark.django_db

TODAY = datetime(2026, 12, 7, 18, 0, tzinfo=UTC)  # Mon 7 Dec, 10:00 in Los Angeles


@pytest.fixture
def now(time_machine):
    time_machine.move_to(TODAY, tick=False)
    return TODAY


def parcel(estimate, status=ShipmentStatus.IN_TRANSIT, customer_tz="America/New_York"):
    store = StoreFactory(timezone="America/Los_Angeles")
    order = OrderFactory(store=store, customer=CustomerFactory(store=store, timezone=customer_tz))
    ShipmentFactory(order=order, status=status, carrier_estimated_delivery=estimate)
    return order


def page_of(client, order) -> str:
    return client.get(reverse("portal:tracking", args=[tracking_token(order)])).content.decode()


def eta_line(page: str) -> str:
    found = re.search(r'<p class="eta">(.*?)</p>', page, re.S)
    return found.group(1).strip() if found else ""


@pytest.mark.parametrize(
    ("estimate", "day", "_case"),
    [
        (datetime(2026, 12, 10, 0, 0, tzinfo=UTC), "Thu 10 Dec", "a date-only estimate is that calendar day"),
        (datetime(2026, 12, 8, 5, 0, tzinfo=UTC), "Mon 7 Dec", "a moment is the store's day (Mon 21:00 in LA)"),
    ],
)
def test_the_page_and_the_message_give_the_same_day(client, now, estimate, day, _case):
    order = parcel(estimate)

    assert eta_line(page_of(client, order)) == f"Estimated delivery: {day}"
    assert message_context(order=order)["eta"] == day


def test_a_passed_estimate_is_shown_as_running_late_and_left_out_of_messages(client, now):
    order = parcel(datetime(2026, 11, 16, 0, 0, tzinfo=UTC))

    assert eta_line(page_of(client, order)) == "Running late: the carrier expected to deliver it by Mon 16 Nov."
    assert message_context(order=order)["eta"] == ""


def test_an_estimate_for_today_is_still_an_estimate(client, now):
    order = parcel(datetime(2026, 12, 7, 0, 0, tzinfo=UTC))

    assert eta_line(page_of(client, order)) == "Estimated delivery: Mon 7 Dec"
    assert message_context(order=order)["eta"] == "Mon 7 Dec"


@pytest.mark.parametrize(
    "status", [ShipmentStatus.RETURNED_TO_SENDER, ShipmentStatus.CANCELLED, ShipmentStatus.DELIVERED]
)
def test_a_parcel_no_longer_on_its_way_has_no_estimate(client, now, status):
    order = parcel(datetime(2026, 12, 10, 0, 0, tzinfo=UTC), status=status)

    page = page_of(client, order)
    assert "Estimated delivery" not in page and "Running late" not in page
    assert message_context(order=order)["eta"] == ""


def test_the_estimate_day_ignores_an_unknown_zone_name():
    assert estimate_day(datetime(2026, 12, 8, 5, 0, tzinfo=UTC), "Not/AZone") == datetime(2026, 12, 8).date()
    eta = shipment_eta(estimate=datetime(2026, 12, 8, 5, 0, tzinfo=UTC), status="in_transit", tz_name="", now=TODAY)
    assert eta is not None and eta.label == "Tue 8 Dec" and not eta.passed


@pytest.mark.parametrize("kind", sorted(DEFAULT_TEMPLATES))
def test_the_default_templates_read_well_without_an_eta(kind):
    context = {**SAMPLE_CONTEXT, "eta": ""}
    for channel, parts in DEFAULT_TEMPLATES[kind].items():
        for name, source in parts.items():
            text = render(source, context, autoescape=name == "body_html")

            assert not re.search(r"ETA|estimate is|arrive by", text), (kind, channel, name, text)
