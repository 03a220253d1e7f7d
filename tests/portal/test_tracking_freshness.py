"""The tracking page is fast without going stale: what it reuses across pages, what it never reuses, and
how many queries a page costs.

Every fact about the visitor's own order (scans, parcel status, cases and what the store did, feedback)
is read on every page view, so each write shows on the next view whatever path made it (services,
queryset updates, bulk inserts). Only what is the same for every visitor is reused: the transit-time
statistics of a carrier (for a minute) and the empty forms' fields (CSRF tokens stay per visitor).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from orders.choices import EventSource, ShipmentStatus
from orders.services import shipment_record_events
from orders.updates import TrackingEventData
from playbooks.choices import CaseState, RemedyState
from playbooks.engine import case_resolve
from playbooks.models import Remedy
from portal.defaults import faq_seed
from portal.forms import FeedbackForm
from portal.links import tracking_token
from portal.models import DeliveryFeedback, FaqEntry
from portal.selectors import HISTORY_CACHE_SECONDS
from portal.views import form_fields
from tests.factories import (
    ExceptionCaseFactory,
    LineItemFactory,
    OrderFactory,
    RemedyFactory,
    ShipmentFactory,
    TrackingEventFactory,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
DASH = "\u2013"
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def order():
    order = OrderFactory(order_number="1042")
    LineItemFactory(order=order, title="Linen shirt")
    return order


def url(order, name: str = "tracking") -> str:
    return reverse(f"portal:{name}", args=[tracking_token(order)])


def page(order, client: Client | None = None) -> str:
    response = (client or Client()).get(url(order))
    assert response.status_code == 200
    return response.text


def scan(shipment, status: str, message: str, at: datetime) -> int:
    """A carrier scan recorded the way webhooks record them (bulk insert, then the status re-derived)."""
    event = TrackingEventData(status=status, occurred_at=at, dedupe_key=f"{status}-{at.isoformat()}", message=message)
    return shipment_record_events(shipment=shipment, events=[event], source=EventSource.API)


# --- Nothing about the order is ever stale ------------------------------------------------------------------------


def test_a_new_scan_shows_on_the_very_next_view(order):
    shipment = ShipmentFactory(order=order, status=ShipmentStatus.LABEL_CREATED)
    client = Client()
    assert "No updates from the carrier yet." in page(order, client)

    scan(shipment, ShipmentStatus.IN_TRANSIT, "Departed Oakland hub", NOW - timedelta(hours=2))
    html = page(order, client)
    assert "Departed Oakland hub" in html and "On its way" in html

    scan(shipment, ShipmentStatus.OUT_FOR_DELIVERY, "Out for delivery", NOW - timedelta(minutes=5))
    html = page(order, client)
    assert "Out for delivery</span>" in html  # the status badge follows the newest scan
    assert html.index("Out for delivery</strong>") < html.index("Departed Oakland hub")


def test_a_case_and_what_the_store_did_show_and_go_at_once(order):
    shipment = ShipmentFactory(order=order, status=ShipmentStatus.IN_TRANSIT)
    client = Client()
    assert "taking longer than usual" not in page(order, client)

    case = ExceptionCaseFactory(shipment=shipment, kind="transit_stall", state=CaseState.OPEN)
    assert "taking longer than usual" in page(order, client)
    assert "looking into it" in page(order, client)

    remedy = RemedyFactory(case=case, action="expedite", params={"service_level": "Express"})
    assert "Upgraded the shipping" not in page(order, client)  # planned, not done yet
    Remedy.objects.filter(pk=remedy.pk).update(state=RemedyState.DONE)  # as the engine marks it
    assert "Upgraded the shipping to Express" in page(order, client)

    assert case_resolve(case, reason="Moving again.") == 1  # a queryset update, as the engine does it
    html = page(order, client)
    assert "taking longer than usual" not in html and "Upgraded the shipping" not in html


def test_delivery_feedback_and_the_order_s_own_changes_show_at_once(order):
    ShipmentFactory(order=order, status=ShipmentStatus.DELIVERED, delivered_at=NOW - timedelta(hours=3))
    client = Client()
    assert "Thanks for your rating" not in page(order, client)

    DeliveryFeedback.objects.create(order=order, rating=4)
    assert "Thanks for your rating: <strong>4/5</strong>" in page(order, client)
    DeliveryFeedback.objects.filter(order=order).update(rating=2)
    assert "<strong>2/5</strong>" in page(order, client)

    type(order).objects.filter(pk=order.pk).update(ship_city="Leeds")  # no save(), no updated_at
    order.line_items.update(title="Wool scarf")
    html = page(order, client)
    assert "Leeds" in html and "Wool scarf" in html and "Linen shirt" not in html


def test_faq_edits_show_at_once(order):
    faq_seed()
    ShipmentFactory(order=order, status=ShipmentStatus.OUT_FOR_DELIVERY)
    client = Client()
    entry = FaqEntry.objects.get(key="out-for-delivery-home")
    assert "<summary>Do I need to be home?</summary>" in page(order, client)

    FaqEntry.objects.filter(pk=entry.pk).update(question="Must I stay in?")
    assert "<summary>Must I stay in?</summary>" in page(order, client)
    FaqEntry.objects.filter(pk=entry.pk).update(is_active=False)
    assert "Must I stay in?" not in page(order, client)


# --- What is shared between visitors, and what is not ------------------------------------------------------------


def _delivered(carrier: str, transit_days: list[int]) -> None:
    for n, days in enumerate(transit_days):
        ShipmentFactory(
            order=OrderFactory(),
            carrier=carrier,
            status=ShipmentStatus.DELIVERED,
            first_scan_at=NOW - timedelta(days=10 + n + days),
            delivered_at=NOW - timedelta(days=10 + n),
        )


def test_carrier_transit_times_are_shared_between_pages_for_a_minute(order, clock, django_assert_num_queries):
    _delivered("usps", [2, 3, 3, 4, 6])  # median 3 days, 80th percentile 4 days
    ShipmentFactory(order=order, carrier="usps", status=ShipmentStatus.IN_TRANSIT, first_scan_at=NOW)
    other = OrderFactory()
    ShipmentFactory(order=other, carrier="usps", status=ShipmentStatus.IN_TRANSIT, first_scan_at=NOW - timedelta(1))

    with django_assert_num_queries(6):  # order, items, shipments, events, transit times, FAQ entries
        assert f"Usually arrives Mon 23 {DASH} Tue 24 Nov" in page(order)
    with django_assert_num_queries(5):  # the same carrier: its transit times are reused...
        # ...but from this parcel's own first scan, a day earlier.
        assert f"Usually arrives Sun 22 {DASH} Mon 23 Nov" in page(other)

    _delivered("usps", [9, 9, 9, 9, 9, 9])  # a slow week
    assert f"Usually arrives Mon 23 {DASH} Tue 24 Nov" in page(order)  # within the minute: the statistic as it was
    clock.shift(timedelta(seconds=HISTORY_CACHE_SECONDS + 1))
    with django_assert_num_queries(6):
        assert "Usually arrives Sun 29 Nov" in page(order)  # now the median and 80th percentile are 9 days


def test_each_visitor_gets_their_own_csrf_token_and_it_works(order):
    ShipmentFactory(order=order, status=ShipmentStatus.DELIVERED, delivered_at=NOW - timedelta(hours=3))
    first, second = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    first_tokens = CSRF_INPUT.findall(page(order, first))
    second_tokens = CSRF_INPUT.findall(page(order, second))

    assert len(first_tokens) == len(second_tokens) == 2  # the feedback and "I didn't receive it" forms
    assert first.cookies["csrftoken"].value != second.cookies["csrftoken"].value
    assert not set(first_tokens) & set(second_tokens)
    # The other visitor's token is refused; one's own is accepted.
    refused = first.post(url(order, "feedback"), {"rating": "5", "csrfmiddlewaretoken": second_tokens[0]})
    assert refused.status_code == 403
    accepted = first.post(url(order, "feedback"), {"rating": "5", "csrfmiddlewaretoken": first_tokens[0]})
    assert accepted.status_code == 302
    assert DeliveryFeedback.objects.get().rating == 5


def test_a_refused_rating_shows_its_error_and_the_next_page_is_clean_again(order):
    ShipmentFactory(order=order, status=ShipmentStatus.DELIVERED, delivered_at=NOW - timedelta(hours=3))
    client = Client()
    refused = client.post(url(order, "feedback"), {"rating": "9", "comment": "Late <b>again</b>"})
    assert refused.status_code == 400
    assert 'role="alert"' in refused.text and "Late &lt;b&gt;again&lt;/b&gt;</textarea>" in refused.text

    html = page(order, client)
    assert 'role="alert"' not in html and "Late" not in html
    assert html.count('name="rating"') == 5 and 'name="note"' in html


def test_empty_form_fields_are_rendered_once_and_the_same_as_a_fresh_render(settings):
    settings.DEBUG = False
    once = form_fields("portal/_feedback_fields.html", FeedbackForm)
    assert form_fields("portal/_feedback_fields.html", FeedbackForm) is once  # reused, not rendered again
    settings.DEBUG = True  # template edits show while developing
    assert form_fields("portal/_feedback_fields.html", FeedbackForm) == once
    bound = FeedbackForm({"rating": "7"})
    assert 'role="alert"' in form_fields("portal/_feedback_fields.html", FeedbackForm, bound)
    assert 'role="alert"' not in once and once.count('name="rating"') == 5


def test_a_typical_page_costs_five_queries(order, django_assert_num_queries):
    """A delivered parcel with its scans and a rating, the FAQ seeded: order (with its store, feedback and
    whether a case is live), items, shipments, events, FAQ entries. Live cases add two (cases, remedies)."""
    faq_seed()
    shipment = ShipmentFactory(order=order, status=ShipmentStatus.DELIVERED, delivered_at=NOW - timedelta(hours=3))
    for hours in (50, 30, 3):
        TrackingEventFactory(shipment=shipment, occurred_at=NOW - timedelta(hours=hours))
    DeliveryFeedback.objects.create(order=order, rating=5)

    with django_assert_num_queries(5):
        html = page(order)
    assert "Thanks for your rating: <strong>5/5</strong>" in html and SECTION in html


SECTION = "Questions you may have"
