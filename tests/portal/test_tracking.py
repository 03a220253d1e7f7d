"""The customer tracking page and the order lookup, through Django's test client on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db.models import Q
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from orders.choices import ShipmentStatus
from orders.models import Order
from playbooks.choices import CaseState, RemedyState
from portal.links import order_from_token, tracking_token, tracking_url
from portal.selectors import CompiledQuery, eta_from_history, format_date_range, tracking_facts
from tests.factories import (
    CustomerFactory,
    DeliveryFeedbackFactory,
    ExceptionCaseFactory,
    LineItemFactory,
    OrderFactory,
    RemedyFactory,
    ShipmentFactory,
    StoreFactory,
    TrackingEventFactory,
)

pytestmark = pytest.mark.django_db

NOT_FOUND = "We couldn&#x27;t find that order"
TOO_MANY = "Too many attempts, try again in a few minutes"
DASH = "\u2013"


@pytest.fixture
def order():
    store = StoreFactory(name="Acme Linen", primary_colour="#123456", support_phone="+14155550100")
    customer = CustomerFactory(store=store, email="Jane.Doe@Example.com", phone="+14155550199")
    order = OrderFactory(
        store=store,
        customer=customer,
        order_number="1042",
        ship_name="Jane Doe",
        ship_line1="500 Howard St",
        ship_postal_code="SW1A 1AA",
        ship_city="London",
        ship_region="",
        ship_country="GB",
    )
    LineItemFactory(order=order, title="Linen shirt", variant="M / Blue", quantity=2)
    LineItemFactory(order=order, title="Canvas tote", variant="", quantity=1)
    return order


def page(order, client=None):
    return (client or Client()).get(reverse("portal:tracking", args=[tracking_token(order)]))


def lookup(client, order_number, contact, ip="203.0.113.1", store=None):
    """Post the lookup form; with `store`, from that store's page (`/track/?store=<slug>`)."""
    url = reverse("portal:lookup") + (f"?store={store.slug}" if store else "")
    return client.post(url, {"order_number": order_number, "contact": contact}, REMOTE_ADDR=ip)


# --- Links ---------------------------------------------------------------------------------------------


def test_it_signs_a_link_that_opens_the_order(order, settings):
    settings.PUBLIC_BASE_URL = "https://track.example.com"
    url = tracking_url(order)
    assert url.startswith("https://track.example.com/track/")
    assert order_from_token(tracking_token(order)) == order
    response = Client().get(url.removeprefix("https://track.example.com"))
    assert response.status_code == 200
    assert "Order 1042" in response.text


@pytest.mark.parametrize("mangle", [lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"), lambda t: "999999:abc", "x"])
def test_it_answers_a_tampered_or_unknown_token_with_a_friendly_404(order, mangle):
    token = mangle(tracking_token(order)) if callable(mangle) else mangle
    assert order_from_token(token) is None
    response = Client().get(reverse("portal:tracking", args=[token]))
    assert response.status_code == 404
    assert "We couldn't open this tracking link" in response.text
    assert "1042" not in response.text


def test_it_answers_a_validly_signed_link_to_a_deleted_order_with_404(order):
    token = tracking_token(order)
    order.delete()
    assert Client().get(reverse("portal:tracking", args=[token])).status_code == 404


# --- Lookup ----------------------------------------------------------------------------------------------


def test_it_shows_the_lookup_form_with_labels():
    response = Client().get(reverse("portal:lookup"))
    assert response.status_code == 200
    assert '<label for="id_order_number">Order number</label>' in response.text
    assert '<label for="id_contact">Email or postal code</label>' in response.text
    assert "csrfmiddlewaretoken" in response.text


@pytest.mark.parametrize(
    ("number", "contact"),
    [
        ("1042", "jane.doe@example.com"),
        ("#1042", "  JANE.DOE@example.COM "),
        ("1042", "sw1a1aa"),
        (" #1042", "S W 1 A 1 A A"),
    ],
)
def test_it_redirects_a_matching_lookup_to_the_signed_tracking_page(order, number, contact):
    response = lookup(Client(), number, contact)
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:tracking", args=[tracking_token(order)])


def test_it_finds_orders_whose_number_is_stored_with_a_hash(order):
    order.order_number = "#1042"
    order.save()
    assert lookup(Client(), "1042", "SW1A 1AA").status_code == 302


@pytest.mark.parametrize(
    ("number", "contact"), [("1042", "someone.else@example.com"), ("9999", "jane.doe@example.com"), ("1042", "")]
)
def test_it_gives_one_generic_answer_when_nothing_matches(order, number, contact):
    response = lookup(Client(), number, contact)
    assert response.status_code == 200
    if contact:
        assert NOT_FOUND in response.text
    assert "Linen shirt" not in response.text


def test_it_does_not_match_another_stores_order_with_the_same_number(order):
    other = OrderFactory(order_number="1042", ship_postal_code="10001")
    found = lookup(Client(), "1042", "10001", store=other.store)
    assert found["Location"] == reverse("portal:tracking", args=[tracking_token(other)])
    found = lookup(Client(), "1042", "sw1a 1aa", store=order.store)
    assert found["Location"] == reverse("portal:tracking", args=[tracking_token(order)])


def test_it_refuses_the_11th_lookup_from_one_ip_within_10_minutes(order):
    client = Client()
    for n in range(10):
        assert lookup(client, f"50{n}", "nobody@example.com").status_code == 200
    response = lookup(client, "1042", "jane.doe@example.com")
    assert response.status_code == 429
    assert TOO_MANY in response.text
    # Another address is not affected.
    assert lookup(client, "1042", "jane.doe@example.com", ip="203.0.113.2").status_code == 302


def test_it_locks_an_order_number_after_5_failures_even_from_other_ips(order):
    client = Client()
    for n in range(5):
        response = lookup(client, "1042", f"guess{n}@example.com", ip=f"198.51.100.{n}")
        assert response.status_code == 200
        assert NOT_FOUND in response.text
    response = lookup(client, "#1042", "jane.doe@example.com", ip="198.51.100.99")
    assert response.status_code == 429
    assert TOO_MANY in response.text
    # Other order numbers still work.
    OrderFactory(store=order.store, order_number="2000", ship_postal_code="94105")
    assert lookup(client, "2000", "94105", ip="198.51.100.99").status_code == 302


def test_it_lets_the_lookup_window_expire_after_10_minutes(order, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    client = Client()
    for n in range(5):
        lookup(client, "1042", f"guess{n}@example.com", ip=f"198.51.100.{n}")
    assert lookup(client, "1042", "jane.doe@example.com").status_code == 429
    time_machine.shift(timedelta(minutes=9))
    assert lookup(client, "1042", "jane.doe@example.com").status_code == 429
    time_machine.shift(timedelta(minutes=2))
    assert lookup(client, "1042", "jane.doe@example.com").status_code == 302


def test_it_enforces_csrf_on_the_lookup_form(order):
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("portal:lookup"), {"order_number": "1042", "contact": "sw1a1aa"})
    assert response.status_code == 403
    client.get(reverse("portal:lookup"))
    token = client.cookies["csrftoken"].value
    response = client.post(
        reverse("portal:lookup"), {"order_number": "1042", "contact": "sw1a1aa", "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302


# --- Tracking page -------------------------------------------------------------------------------------


def test_it_shows_the_items_the_carrier_link_and_the_timeline_newest_first(order):
    now = timezone.now()
    shipment = ShipmentFactory(order=order, carrier="ups", tracking_code="1Z999AA10123456784", status="in_transit")
    TrackingEventFactory(shipment=shipment, message="Picked up", location="Oakland, CA", occurred_at=now - timedelta(2))
    TrackingEventFactory(shipment=shipment, message="Departed facility", location="Reno, NV", occurred_at=now)
    TrackingEventFactory(
        shipment=shipment, message="Arrived at hub", location="Sparks, NV", occurred_at=now - timedelta(1)
    )
    html = page(order).text
    assert "Linen shirt" in html and "M / Blue" in html and "\u00d7 2" in html and "Canvas tote" in html
    assert "UPS" in html
    assert 'href="https://www.ups.com/track?tracknum=1Z999AA10123456784"' in html
    assert html.index("Departed facility") < html.index("Arrived at hub") < html.index("Picked up")
    assert "Reno, NV" in html
    assert "On its way" in html
    assert "$" not in html  # no prices


def test_the_timeline_reads_in_the_stores_time_zone_named_with_the_status_when_there_is_no_message(order):
    order.customer.timezone = ""  # not known: the store's zone
    order.customer.save()
    shipment = ShipmentFactory(order=order, status="in_transit")
    at = datetime(2026, 11, 25, 3, 5, tzinfo=UTC)  # still Tuesday evening in New York
    TrackingEventFactory(shipment=shipment, message="", status="out_for_delivery", location="", occurred_at=at)
    html = page(order).text
    assert '<time datetime="2026-11-24T22:05:00-05:00">Tue 24 Nov, 22:05 EST</time>' in html
    assert "<strong>Out for delivery</strong>" in html


def test_the_timeline_reads_in_the_customers_own_time_zone_when_known_and_days_stay_the_stores(order, time_machine):
    time_machine.move_to(datetime(2026, 11, 20, 15, 0, tzinfo=UTC), tick=False)
    order.customer.timezone = "Europe/Paris"
    order.customer.save()
    shipment = ShipmentFactory(
        order=order, status="in_transit", carrier_estimated_delivery=datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    )
    scanned_at = datetime(2026, 11, 20, 3, 5, tzinfo=UTC)
    TrackingEventFactory(shipment=shipment, message="Departed facility", occurred_at=scanned_at)

    html = page(order).text

    # 03:05 UTC: 04:05 in Paris, where the visitor is (22:05 the evening before in the store's New York).
    assert '<time datetime="2026-11-20T04:05:00+01:00">Fri 20 Nov, 04:05 CET</time>' in html
    assert "Estimated delivery: Tue 24 Nov" in html  # a day: the store's calendar, as in its messages


def test_it_shows_the_support_phone_as_people_read_it_and_dials_the_e164_number(order):
    html = page(order).text
    assert '<a href="tel:+14155550100">+1 415-555-0100</a>' in html
    assert ">+14155550100<" not in html


def test_it_is_branded_from_the_store(order):
    order.store.logo_url = "https://cdn.example.com/acme.png"
    order.store.accent_colour = "#b91c1c"
    order.store.support_url = "https://help.acme.example"
    order.store.save()
    html = page(order).text
    assert "--primary: #123456;" in html and "--accent: #b91c1c;" in html
    assert '<img src="https://cdn.example.com/acme.png" alt="Acme Linen">' in html
    assert '<link rel="icon" href="https://cdn.example.com/acme.png">' in html
    assert 'href="https://help.acme.example"' in html and "mailto:help@example.com" in html
    assert 'href="tel:+14155550100"' in html


def test_without_a_logo_the_page_asks_for_no_icon_that_would_404(order):
    assert '<link rel="icon" href="data:,">' in page(order).text


def test_it_keeps_link_text_readable_when_the_accent_is_pale(order):
    order.store.accent_colour = "#fde68a"
    order.store.save()
    html = page(order).text
    assert "--link: #123456;" in html


def test_it_shows_the_carriers_estimate_in_the_stores_time_zone(order, time_machine):
    time_machine.move_to(datetime(2026, 11, 20, 15, 0, tzinfo=UTC), tick=False)
    ShipmentFactory(
        order=order,
        status="in_transit",
        carrier_estimated_delivery=datetime(2026, 11, 25, 3, 0, tzinfo=UTC),
    )
    # 03:00 UTC is still Tuesday evening in New York.
    assert "Estimated delivery: Tue 24 Nov" in page(order).text


def _deliveries(carrier, international, days, now):
    for n, d in enumerate(days):
        ShipmentFactory(
            order=OrderFactory(is_international=international),
            carrier=carrier,
            status=ShipmentStatus.DELIVERED,
            first_scan_at=now - timedelta(days=10 + n) - timedelta(days=d),
            delivered_at=now - timedelta(days=10 + n),
        )


def test_it_estimates_delivery_from_the_hubs_own_history(order, time_machine):
    time_machine.move_to(datetime(2026, 11, 20, 15, 0, tzinfo=UTC), tick=False)
    now = timezone.now()
    _deliveries("usps", False, [2, 3, 3, 4, 6], now)
    _deliveries("usps", True, [20, 20, 20], now)  # international: another population
    _deliveries("ups", False, [1, 1, 1], now)  # another carrier
    shipment = ShipmentFactory(order=order, carrier="usps", status="in_transit", first_scan_at=now)
    # median 3 days, 80th percentile 4 days: Monday 23 to Tuesday 24 November.
    assert str(eta_from_history(shipment)) == f"Mon 23 {DASH} Tue 24 Nov"
    assert f"Usually arrives Mon 23 {DASH} Tue 24 Nov" in page(order).text


def test_it_says_nothing_about_delivery_when_there_is_no_history(order):
    shipment = ShipmentFactory(order=order, carrier="dhl", status="in_transit", first_scan_at=timezone.now())
    _deliveries("dhl", False, [3, 3], timezone.now())  # two deliveries are not history
    assert eta_from_history(shipment) is None
    html = page(order).text
    assert "Usually arrives" not in html and "Estimated delivery" not in html


def test_it_ignores_deliveries_older_than_90_days(order):
    now = timezone.now()
    for _ in range(5):
        ShipmentFactory(
            order=OrderFactory(),
            carrier="fedex",
            status=ShipmentStatus.DELIVERED,
            first_scan_at=now - timedelta(days=100),
            delivered_at=now - timedelta(days=97),
        )
    shipment = ShipmentFactory(order=order, carrier="fedex", status="in_transit", first_scan_at=now)
    assert eta_from_history(shipment) is None


def test_it_formats_ranges_across_months():
    assert format_date_range(date(2026, 11, 30), date(2026, 12, 2)) == f"Mon 30 Nov {DASH} Wed 2 Dec"
    assert format_date_range(date(2026, 11, 24), date(2026, 11, 26)) == f"Tue 24 {DASH} Thu 26 Nov"
    assert format_date_range(date(2026, 11, 24), date(2026, 11, 24)) == "Tue 24 Nov"


def test_it_explains_a_live_exception_and_what_the_store_did(order):
    shipment = ShipmentFactory(order=order, status="in_transit")
    case = ExceptionCaseFactory(shipment=shipment, kind="transit_stall", state=CaseState.ACTING)
    RemedyFactory(case=case, state=RemedyState.DONE, action="expedite", params={"service_level": "Express"})
    RemedyFactory(case=case, state=RemedyState.PLANNED, action="coupon")
    RemedyFactory(case=case, state=RemedyState.DONE, action="helpdesk_note", params={})
    html = page(order).text
    assert "Your parcel is taking longer than usual." in html
    assert "Upgraded the shipping to Express" in html
    assert "coupon" not in html  # planned, not done
    assert "helpdesk" not in html  # internal
    assert case.explanation not in html  # the agents' wording stays internal


def test_it_hides_resolved_exceptions(order):
    shipment = ShipmentFactory(order=order, status="delivered", delivered_at=timezone.now())
    ExceptionCaseFactory(shipment=shipment, kind="transit_stall", state=CaseState.RESOLVED)
    assert "taking longer than usual" not in page(order).text


def test_it_masks_the_address_and_shows_no_contact_details(order):
    html = page(order).text
    assert "<p>London, GB</p>" in html
    assert "5…" not in html and "500 Howard" not in html and "SW1A" not in html and "Jane Doe" not in html
    assert "jane.doe" not in html.lower() and "+14155550199" not in html


@pytest.mark.parametrize("shipments", [1, 3])
def test_it_loads_the_page_in_a_constant_number_of_queries(order, shipments, django_assert_max_num_queries):
    for n in range(shipments):
        shipment = ShipmentFactory(order=order, carrier=["usps", "ups", "dhl"][n], status="in_transit")
        for _ in range(3):
            TrackingEventFactory(shipment=shipment)
        case = ExceptionCaseFactory(shipment=shipment, kind="transit_stall")
        RemedyFactory(case=case, state=RemedyState.DONE, action="expedite", params={"service_level": "Express"})
    client = Client()
    with django_assert_max_num_queries(8) as queries:
        response = page(order, client)
    assert len(queries) == 8  # order+store, items, shipments, events, cases, remedies, delivery history, FAQ
    assert response.text.count('class="card shipment"') == shipments


def test_it_loads_everything_for_the_page_in_the_selector(order, django_assert_num_queries):
    shipment = ShipmentFactory(order=order)
    TrackingEventFactory(shipment=shipment)
    ExceptionCaseFactory(shipment=shipment)
    # order+store+feedback+live cases?, items, shipments, events, live cases, done remedies
    with django_assert_num_queries(6):
        facts = tracking_facts(order.pk)
        assert [len(facts.events[s.pk]) for s in facts.shipments] == [1]
        assert facts.items and facts.order.store.name == order.store.name and facts.feedback_rating is None
        assert [list(c.remedies.all()) for c in facts.live_cases] == [[]]


def test_the_selector_skips_the_case_and_event_queries_when_there_are_none(order, django_assert_num_queries):
    with django_assert_num_queries(3):  # order+store+feedback+live cases?, items, shipments
        facts = tracking_facts(order.pk)
    assert (facts.shipments, facts.events, facts.live_cases) == ([], {}, [])
    with django_assert_num_queries(1):
        assert tracking_facts(order.pk + 1000) is None


def test_the_selector_reads_each_orders_own_rows_and_no_more_than_the_page_shows(order):
    other = OrderFactory(order_number="2077", ship_city="Paris")
    LineItemFactory(order=other, title="Beret")
    for o, carrier in ((order, "ups"), (other, "dhl")):
        shipment = ShipmentFactory(order=o, carrier=carrier, status="in_transit")
        TrackingEventFactory(shipment=shipment, message=f"Scanned by {carrier}")
    DeliveryFeedbackFactory(order=other, rating=3)

    mine, theirs = tracking_facts(order.pk), tracking_facts(other.pk)

    assert (mine.order.order_number, theirs.order.order_number) == ("1042", "2077")
    assert [i.title for i in mine.items] == ["Linen shirt", "Canvas tote"]
    assert [i.title for i in theirs.items] == ["Beret"]
    assert [s.carrier for s in mine.shipments] == ["ups"] and [s.carrier for s in theirs.shipments] == ["dhl"]
    assert [e.message for e in theirs.events[theirs.shipments[0].pk]] == ["Scanned by dhl"]
    assert (mine.feedback_rating, theirs.feedback_rating) == (None, 3)
    assert (mine.order.store.name, mine.order.store.primary_colour) == ("Acme Linen", "#123456")
    # Neither the recipient, the full address, the customer nor the store's secrets are even loaded.
    assert {"ship_name", "ship_line2", "ship_postal_code", "customer_id", "total"} <= mine.order.get_deferred_fields()
    assert {"easypost_webhook_secret", "shopify_webhook_secret"} <= mine.order.store.get_deferred_fields()


def test_a_compiled_query_needs_the_key_as_its_one_parameter():
    query = CompiledQuery(lambda key: Order.objects.filter(Q(pk=key) | Q(customer_id=key)))
    with pytest.raises(ValueError, match="the key must be its one parameter"):
        query(1)


def test_it_leaves_a_place_for_after_delivery_content(order):
    ShipmentFactory(order=order, status="delivered", delivered_at=timezone.now())
    html = page(order).text
    assert "Delivered" in html and "Usually arrives" not in html
