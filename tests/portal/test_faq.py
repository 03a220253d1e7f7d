"""FAQ entries on the tracking page: which show in which situation, for which store, and how they read."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from orders.choices import FulfillmentStatus, ShipmentStatus
from playbooks.choices import CaseState
from playbooks.detectors import DETECTORS_PATHS
from playbooks.engine import detector_sweep
from portal.choices import OrderSituation
from portal.defaults import DEFAULT_FAQ, faq_seed
from portal.faq import DELAY_CASE_KINDS, DELIVERY_PROBLEM_CASE_KINDS, SHIPMENT_SITUATIONS, faq_for, order_situations
from portal.links import tracking_token
from portal.models import FaqEntry
from tests.factories import (
    ExceptionCaseFactory,
    FaqEntryFactory,
    LineItemFactory,
    OrderFactory,
    ShipmentFactory,
    StoreFactory,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 6, 11, 12, 0, tzinfo=UTC)  # a Wednesday
S = ShipmentStatus
SECTION = "Questions you may have"


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    """Detectors and factories stamp timezone.now(): pin it, so "six days in transit" means the same every run."""
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def order():
    order = OrderFactory(order_number="1042")
    LineItemFactory(order=order, title="Linen shirt")
    return order


def page(order) -> str:
    response = Client().get(reverse("portal:tracking", args=[tracking_token(order)]))
    assert response.status_code == 200
    return response.text


def situations_of(order) -> set[str]:
    order.refresh_from_db()
    live = order.cases.filter(state__in=[CaseState.OPEN, CaseState.ACTING, CaseState.ESCALATED])
    return order_situations(order, list(order.shipments.all()), list(live))


# --- Situations ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], {"unfulfilled"}),
        ([S.CANCELLED], {"unfulfilled"}),  # the only parcel was cancelled: nothing is on its way
        ([S.LABEL_CREATED], {"preparing"}),
        ([S.IN_TRANSIT], {"in_transit"}),
        ([S.OUT_FOR_DELIVERY], {"out_for_delivery"}),
        ([S.DELIVERED], {"delivered"}),
        ([S.ATTEMPTED_DELIVERY], {"delivery_problem"}),
        ([S.AVAILABLE_FOR_PICKUP], {"delivery_problem"}),
        ([S.EXCEPTION], {"delivery_problem"}),
        ([S.RETURNED_TO_SENDER], {"delivery_problem"}),
        ([S.UNKNOWN], set()),
        ([S.DELIVERED, S.IN_TRANSIT], {"delivered", "in_transit"}),  # two parcels, both situations
    ],
)
def test_each_parcels_status_puts_the_order_in_a_situation(order, statuses, expected):
    for status in statuses:
        ShipmentFactory(order=order, status=status)

    assert situations_of(order) == expected


def test_a_partly_fulfilled_order_is_also_unfulfilled(order):
    order.fulfillment_status = FulfillmentStatus.PARTIAL
    order.save()
    ShipmentFactory(order=order, status=S.IN_TRANSIT)

    assert situations_of(order) == {"in_transit", "unfulfilled"}


def test_a_cancelled_order_is_in_no_situation(order):
    order.cancelled_at = timezone.now()
    order.save()

    assert situations_of(order) == set()


@pytest.mark.parametrize(
    ("kind", "status", "expected"),
    [
        ("transit_stall", S.IN_TRANSIT, {"in_transit", "delayed"}),
        ("no_first_scan", S.LABEL_CREATED, {"preparing", "delayed"}),
        ("carrier_disruption", S.EXCEPTION, {"delivery_problem", "delayed"}),
        ("failed_attempt", S.OUT_FOR_DELIVERY, {"out_for_delivery", "delivery_problem"}),  # trying again
        ("delivered_not_received", S.DELIVERED, {"delivered"}),  # the notice speaks to the claim
        ("address_problem", S.IN_TRANSIT, {"in_transit"}),
        ("milestone_shipped", S.IN_TRANSIT, {"in_transit"}),  # a milestone is no problem
    ],
)
def test_live_cases_add_delayed_or_delivery_problem(order, kind, status, expected):
    ExceptionCaseFactory(shipment=ShipmentFactory(order=order, status=status), kind=kind, state=CaseState.ACTING)

    assert situations_of(order) == expected


def test_a_resolved_case_no_longer_counts(order):
    shipment = ShipmentFactory(order=order, status=S.IN_TRANSIT)
    ExceptionCaseFactory(shipment=shipment, kind="transit_stall", state=CaseState.RESOLVED)

    assert situations_of(order) == {"in_transit"}


def test_the_case_kinds_and_statuses_it_knows_are_real():
    assert set(DETECTORS_PATHS) >= DELAY_CASE_KINDS | DELIVERY_PROBLEM_CASE_KINDS
    assert not DELAY_CASE_KINDS & DELIVERY_PROBLEM_CASE_KINDS
    assert set(SHIPMENT_SITUATIONS) <= set(S.values)
    assert set(SHIPMENT_SITUATIONS.values()) | {"unfulfilled", "delayed"} == set(OrderSituation.values)


# --- Which entries ------------------------------------------------------------------------------------------


def test_it_picks_the_stores_and_the_global_entries_for_the_situations_in_order(order, django_assert_num_queries):
    mine_late = FaqEntryFactory(store=order.store, question="Mine, late", order_states=["delayed"], position=30)
    FaqEntryFactory(store=order.store, question="Mine, other situation", order_states=["delivered"], position=1)
    FaqEntryFactory(store=order.store, question="Mine, hidden", order_states=["in_transit"], is_active=False)
    FaqEntryFactory(store=StoreFactory(), question="Another store's", order_states=["in_transit"], position=1)
    every = FaqEntryFactory(store=None, question="Every store's", order_states=["in_transit", "delayed"], position=20)
    mine_first = FaqEntryFactory(store=order.store, question="Mine, first", order_states=["in_transit"], position=10)

    with django_assert_num_queries(1):
        entries = faq_for(order, {"in_transit", "delayed"})

    assert entries == [mine_first, every, mine_late]


def test_it_asks_the_database_nothing_when_the_order_is_in_no_situation(order, django_assert_num_queries):
    FaqEntryFactory(store=None, order_states=list(OrderSituation.values))

    with django_assert_num_queries(0):
        assert faq_for(order, set()) == []


# --- On the page ----------------------------------------------------------------------------------------------


def test_the_page_shows_the_entries_for_where_the_order_stands_as_disclosures(order):
    FaqEntryFactory(store=None, question="When will my order ship?", answer="Soon.", order_states=["unfulfilled"])
    FaqEntryFactory(store=None, question="Do I need to be home?", order_states=["out_for_delivery"])

    html = page(order)

    assert SECTION in html and '<section class="card faq" aria-labelledby="faq-heading">' in html
    assert "<summary>When will my order ship?</summary>" in html and "<p>Soon.</p>" in html
    assert "Do I need to be home?" not in html

    ShipmentFactory(order=order, status=S.OUT_FOR_DELIVERY)
    html = page(order)
    assert "<summary>Do I need to be home?</summary>" in html
    assert "When will my order ship?" not in html


def test_the_page_has_no_section_when_no_entry_applies(order):
    FaqEntryFactory(store=order.store, order_states=["delivered"])
    FaqEntryFactory(store=order.store, order_states=["unfulfilled"], is_active=False)

    assert SECTION not in page(order)


def test_answers_are_plain_text_escaped_with_paragraphs(order):
    FaqEntryFactory(
        store=order.store,
        question="Is <b>this</b> bold?",
        answer='<script>alert("x")</script>\nSame paragraph\n\nA second paragraph & more',
        order_states=["unfulfilled"],
    )

    html = page(order)

    assert "<script>alert" not in html and "<b>this</b>" not in html
    assert "<summary>Is &lt;b&gt;this&lt;/b&gt; bold?</summary>" in html
    assert "<p>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;<br>Same paragraph</p>" in html
    assert "<p>A second paragraph &amp; more</p>" in html


def test_a_real_transit_stall_brings_up_the_delay_answer(order):
    faq_seed()
    shipment = ShipmentFactory(
        order=order,
        status=S.IN_TRANSIT,
        label_created_at=NOW - timedelta(days=6, hours=12),
        first_scan_at=NOW - timedelta(days=6),
        last_scan_at=NOW - timedelta(hours=6),
    )
    before = page(order)
    assert "Tracking hasn&#x27;t updated for a while" in before and "My order is delayed" not in before

    detector_sweep("transit_stall", now=NOW)

    assert shipment.cases.get().kind == "transit_stall"
    after = page(order)
    assert "Your parcel is taking longer than usual." in after  # the notice...
    assert "<summary>My order is delayed. What are you doing about it?</summary>" in after  # ...and the answer


@pytest.mark.parametrize("shipments", [1, 3])
def test_the_page_stays_at_a_constant_number_of_queries_with_entries(order, shipments, django_assert_num_queries):
    faq_seed()
    FaqEntryFactory(store=order.store, order_states=["in_transit"])
    for carrier in ["usps", "ups", "dhl"][:shipments]:
        ExceptionCaseFactory(shipment=ShipmentFactory(order=order, carrier=carrier, status=S.IN_TRANSIT))

    # order+store, items, shipments, events, cases, remedies, delivery history, FAQ entries
    with django_assert_num_queries(8):
        html = page(order)
    assert html.count("<details>\n    <summary>") == 3  # the store's, "tracking quiet" and "delayed"


# --- The model ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("states", "message"), [([], "Choose at least one"), (["soon"], "Unknown situation")])
def test_an_entry_needs_known_situations(states, message):
    entry = FaqEntryFactory.build(store=None, order_states=states)

    with pytest.raises(ValidationError, match=message):
        entry.full_clean()


def test_situations_are_kept_in_one_order_without_repeats():
    entry = FaqEntryFactory.build(store=None, order_states=["delivered", "unfulfilled", "delivered"])

    entry.full_clean()

    assert entry.order_states == ["unfulfilled", "delivered"]
    assert entry.situation_labels == ["Not shipped yet", "Delivered"]


# --- Defaults -------------------------------------------------------------------------------------------------


def test_seeding_is_idempotent_and_never_overwrites_an_edit():
    assert faq_seed() == len(DEFAULT_FAQ)
    edited = FaqEntry.objects.get(key="when-will-it-ship")
    edited.answer = "Within two working days."
    edited.save()

    assert faq_seed() == 0
    assert FaqEntry.objects.count() == len(DEFAULT_FAQ)
    assert FaqEntry.objects.get(key="when-will-it-ship").answer == "Within two working days."


def test_the_defaults_are_valid_global_and_cover_every_situation():
    faq_seed()
    entries = list(FaqEntry.objects.all())

    for entry in entries:
        entry.full_clean()
    assert all(entry.store is None for entry in entries)
    assert {s for entry in entries for s in entry.order_states} == set(OrderSituation.values)
    assert [e.position for e in entries] == sorted(e.position for e in entries)
    assert 5 <= len(entries) <= 8


def test_the_seed_command_reports_what_it_created(capsys):
    call_command("seed_faq")
    call_command("seed_faq")

    created = f"{len(DEFAULT_FAQ)} FAQ entries created."
    assert capsys.readouterr().out.splitlines() == [created, "0 FAQ entries created."]


# --- Admin ------------------------------------------------------------------------------------------------------


def test_a_manager_adds_an_entry_by_ticking_situations(admin_client):
    store = StoreFactory(name="Acme Linen")
    add_url = reverse("admin:portal_faqentry_add")

    form = admin_client.get(add_url).content.decode()
    assert 'type="checkbox" name="order_states" value="unfulfilled"' in form
    assert "Save to see where it shows" in form

    response = admin_client.post(
        add_url,
        {
            "store": store.pk,
            "question": "Can I change my address?",
            "answer": "Yes, until it ships.",
            "order_states": ["preparing", "unfulfilled"],
            "position": 5,
            "is_active": "on",
        },
    )

    assert response.status_code == 302
    entry = FaqEntry.objects.get()
    assert (entry.store, entry.order_states, entry.position) == (store, ["unfulfilled", "preparing"], 5)


def test_an_entry_without_a_situation_is_refused(admin_client):
    response = admin_client.post(
        reverse("admin:portal_faqentry_add"), {"question": "Q?", "answer": "A.", "position": 1, "is_active": "on"}
    )

    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    assert not FaqEntry.objects.exists()


def test_the_change_page_previews_where_and_how_it_shows(admin_client):
    entry = FaqEntryFactory(store=None, question="Is it <late>?", answer="No.\n\nReally.", order_states=["delayed"])

    html = admin_client.get(reverse("admin:portal_faqentry_change", args=[entry.pk])).content.decode()

    assert 'value="delayed" id="id_order_states_3" checked' in html
    assert "Shown on every store&#x27;s tracking pages" in html
    assert "<li>Delayed (a delay the hub is handling)</li>" in html
    assert "<summary><strong>Is it &lt;late&gt;?</strong></summary><p>No.</p>\n\n<p>Really.</p>" in html

    entry.is_active = False
    entry.save()
    html = admin_client.get(reverse("admin:portal_faqentry_change", args=[entry.pk])).content.decode()
    assert "Hidden: not shown on any tracking page." in html


def test_the_list_filters_by_situation_and_store(admin_client):
    store = StoreFactory(name="Acme Linen")
    FaqEntryFactory(store=store, question="Shipping soon?", order_states=["unfulfilled", "preparing"])
    FaqEntryFactory(store=None, question="Where is it?", order_states=["in_transit"])
    url = reverse("admin:portal_faqentry_changelist")

    html = admin_client.get(url).content.decode()
    assert "Shipping soon?" in html and "Where is it?" in html and "Every store" in html
    assert "Not shipped yet, Label created, not scanned by the carrier yet" in html

    html = admin_client.get(url, {"situation": "in_transit"}).content.decode()
    assert "Where is it?" in html and "Shipping soon?" not in html

    html = admin_client.get(url, {"store__isempty": "1"}).content.decode()
    assert "Where is it?" in html and "Shipping soon?" not in html
