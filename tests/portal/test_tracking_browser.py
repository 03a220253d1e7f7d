"""The tracking page in a real headless Chromium (Playwright), at phone and desktop sizes (the `page`
fixture and `screenshot` come from the tests.browser plugin)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from orders.choices import ShipmentStatus
from orders.models import Ticket
from playbooks.choices import CaseState, RemedyState
from playbooks.defaults import caps_seed, playbooks_seed
from playbooks.models import ExceptionCase, Playbook
from portal.defaults import faq_seed
from portal.links import tracking_token
from portal.models import DeliveryFeedback
from tests.browser import VIEWPORTS, screenshot
from tests.factories import (
    CustomerFactory,
    ExceptionCaseFactory,
    LineItemFactory,
    OrderFactory,
    RemedyFactory,
    ShipmentFactory,
    StoreFactory,
    TrackingEventFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)


def shipped_order(**order_fields):
    store = StoreFactory(name="Acme Linen", primary_colour="#0f766e", accent_colour="#b45309")
    order = OrderFactory(
        store=store,
        customer=CustomerFactory(store=store, email="jane@example.com"),
        order_number="1042",
        ship_line1="500 Howard St",
        ship_postal_code="94105",
        **order_fields,
    )
    LineItemFactory(order=order, title="Linen shirt", variant="M / Blue", quantity=2)
    now = timezone.now()
    shipment = ShipmentFactory(
        order=order,
        carrier="ups",
        tracking_code="1Z999AA10123456784",
        status="in_transit",
        first_scan_at=now - timedelta(days=2),
        carrier_estimated_delivery=now + timedelta(days=2),
    )
    TrackingEventFactory(shipment=shipment, message="Picked up", location="Oakland, CA", occurred_at=now - timedelta(2))
    TrackingEventFactory(shipment=shipment, message="Departed facility", location="Reno, NV", occurred_at=now)
    return order, shipment


def test_it_takes_a_customer_from_lookup_to_the_timeline(page, live_server):
    shipped_order()
    page.goto(f"{live_server.url}/track/")
    assert page.get_by_role("heading", level=1).inner_text() == "Track your order"
    page.get_by_label("Order number").fill("#1042")
    page.get_by_label("Email or postal code").fill("JANE@example.com")
    page.get_by_role("button", name="Find my order").click()
    page.wait_for_load_state()
    assert "/track/" in page.url and page.url.rstrip("/") != f"{live_server.url}/track"
    assert page.get_by_role("heading", level=1).inner_text() == "Order 1042"
    steps = page.locator("ol.timeline li").all_inner_texts()
    assert "Departed facility" in steps[0] and "Picked up" in steps[1]
    link = page.get_by_role("link", name="1Z999AA10123456784")
    assert link.get_attribute("href") == "https://www.ups.com/track?tracknum=1Z999AA10123456784"
    assert page.get_by_text("Estimated delivery:").is_visible()
    # Nothing overflows sideways on a phone.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "lookup-to-timeline")


def test_it_tells_a_wrong_guess_nothing_and_keeps_the_form_usable_by_keyboard(page, live_server):
    shipped_order()
    page.goto(f"{live_server.url}/track/")
    page.keyboard.press("Tab")  # skip link
    page.keyboard.press("Tab")
    page.keyboard.type("1042")
    page.keyboard.press("Tab")
    page.keyboard.type("someone@example.com")
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    assert page.get_by_role("alert").inner_text().startswith("We couldn't find that order")
    screenshot(page, "lookup-miss")


def test_it_shows_a_delayed_order_with_what_the_store_did(page, live_server):
    order, shipment = shipped_order()
    case = ExceptionCaseFactory(shipment=shipment, kind="transit_stall", state=CaseState.ACTING)
    RemedyFactory(case=case, state=RemedyState.DONE, action="expedite", params={"service_level": "Express"})
    page.goto(f"{live_server.url}/track/{tracking_token(order)}/")
    notice = page.locator("section.notice")
    assert notice.get_by_role("heading").inner_text() == "Your parcel is taking longer than usual."
    assert "Upgraded the shipping to Express" in notice.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "delayed-order")


def test_it_shows_a_friendly_page_for_a_broken_link(page, live_server):
    response = page.goto(f"{live_server.url}/track/not-a-real-token/")
    assert response.status == 404
    assert page.get_by_role("link", name="Look up your order with its number instead").is_visible()


def delivered_order():
    """The shipped order, delivered just now (after its last scan), with the default FAQ entries in place."""
    order, shipment = shipped_order()
    delivered_at = timezone.now()
    shipment.status = ShipmentStatus.DELIVERED
    shipment.delivered_at = delivered_at
    shipment.carrier_estimated_delivery = None
    shipment.save()
    TrackingEventFactory(
        shipment=shipment,
        status=ShipmentStatus.DELIVERED,
        message="Delivered, front porch",
        location="San Francisco, CA",
        occurred_at=delivered_at,
    )
    faq_seed()
    return order, shipment


def look_up(page, live_server) -> None:
    page.goto(f"{live_server.url}/track/")
    page.get_by_label("Order number").fill("1042")
    page.get_by_label("Email or postal code").fill("jane@example.com")
    page.get_by_role("button", name="Find my order").click()
    page.wait_for_load_state()


def rate_the_delivery(page) -> None:
    """From the tracking page of a delivered order: the timeline, an FAQ answer, then the survey."""
    assert page.get_by_role("heading", level=1).inner_text() == "Order 1042"
    assert "Delivered, front porch" in page.locator("ol.timeline li").first.inner_text()
    faq = page.locator("section.faq")
    assert faq.get_by_role("heading").inner_text() == "Questions you may have"
    question = faq.get_by_text("It says delivered, but I can't find it.")
    answer = faq.get_by_text("Have a look around your door")
    assert question.is_visible() and not answer.is_visible()  # closed until asked
    question.click()
    assert answer.is_visible()
    assert not faq.get_by_text("When will my order ship?").count()  # another situation's answer
    screenshot(page, "faq-after-delivery")

    survey = page.locator("#after-delivery")
    survey.get_by_role("radio", name="4").check()
    survey.get_by_label("Anything to add? (optional)").fill("Box was a little dented, shirt is fine.")
    survey.get_by_role("button", name="Send").click()
    page.wait_for_load_state()
    assert page.get_by_role("status").inner_text() == "Thanks for your rating: 4/5. You can change it below."
    assert page.url.endswith("?done=feedback#after-delivery")
    feedback = DeliveryFeedback.objects.get()
    assert (feedback.rating, feedback.comment) == (4, "Box was a little dented, shirt is fine.")


def test_it_takes_a_customer_from_lookup_through_the_faq_to_rating_the_delivery(page, live_server):
    delivered_order()
    look_up(page, live_server)

    rate_the_delivery(page)

    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "survey-thanks")


def test_it_takes_a_customer_claim_for_a_parcel_that_never_came_to_the_playbook(page, live_server, run_jobs):
    order, _ = delivered_order()
    playbooks_seed()
    Playbook.objects.update(holdout_percent=0)
    caps_seed(order.store)
    page.goto(f"{live_server.url}/track/{tracking_token(order)}/")

    claim = page.locator("#after-delivery details")
    claim.get_by_text("I didn't receive it").click()
    claim.get_by_label("Tell us more (optional)").fill("Nothing on the porch or with the neighbours.")
    screenshot(page, "not-received-claim")
    claim.get_by_role("button", name="Tell Acme Linen it didn't arrive").click()
    page.wait_for_load_state()
    assert page.get_by_role("status").inner_text() == (
        "Thanks for telling us. We're on it and will be in touch shortly."
    )
    run_jobs()

    ticket = Ticket.objects.get()
    assert (ticket.order, ticket.reason, ticket.body) == (
        order,
        "delivery_problem",
        "Nothing on the porch or with the neighbours.",
    )
    case = ExceptionCase.objects.get(kind="delivered_not_received")
    assert case.playbook_version.playbook.name == "Delivered but not received: instant replacement"
    page.goto(f"{live_server.url}/track/{tracking_token(order)}/")
    notice = page.locator("section.notice")
    assert notice.get_by_role("heading").inner_text() == "You told us your parcel didn't arrive."
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "not-received-on-it")


def test_the_lookup_faq_and_survey_work_with_javascript_off(browser, live_server):
    delivered_order()
    context = browser.new_context(viewport=VIEWPORTS["phone"], java_script_enabled=False)
    try:
        page = context.new_page()
        page.viewport_name = "phone-no-js"
        look_up(page, live_server)
        assert page.locator("noscript, script").count() == 0  # nothing on these pages needs scripts
        rate_the_delivery(page)
        screenshot(page, "survey-thanks")
    finally:
        context.close()


NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"


def test_nothing_scrolls_sideways_on_a_320_pixel_phone(browser, live_server):
    order, _ = delivered_order()
    StoreFactory(name="Another shop with a rather long name for a narrow screen")  # the lookup asks for the shop
    context = browser.new_context(viewport={"width": 320, "height": 640})
    try:
        page = context.new_page()
        page.viewport_name = "phone-320"
        page.goto(f"{live_server.url}/track/")
        assert page.get_by_label("Shop").is_visible()
        assert page.evaluate(NO_SIDEWAYS_SCROLL)
        screenshot(page, "lookup-choose-shop")

        page.goto(f"{live_server.url}/track/{tracking_token(order)}/")
        page.locator("#after-delivery details").get_by_text("I didn't receive it").click()
        for label in ("Anything to add? (optional)", "Tell us more (optional)"):
            box = page.get_by_label(label).bounding_box()
            card = page.locator("#after-delivery").bounding_box()
            assert box["x"] >= card["x"] and box["x"] + box["width"] <= card["x"] + card["width"]
        assert page.evaluate(NO_SIDEWAYS_SCROLL)
        screenshot(page, "after-delivery")
    finally:
        context.close()
