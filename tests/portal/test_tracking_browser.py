"""The customer pages in a real headless Chromium (Playwright), at phone and desktop sizes.

Screenshots land in test-artifacts/screenshots/<test>-<viewport>.png for a person to look at.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from playbooks.choices import CaseState, RemedyState
from portal.links import tracking_token
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

CHROMIUM = "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the test extra has it)")

# Playwright's sync API runs an event loop in this thread; the ORM calls made here are still synchronous.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"],
        )
        yield browser
        browser.close()


@pytest.fixture(params=list(VIEWPORTS))
def page(request, browser):
    context = browser.new_context(viewport=VIEWPORTS[request.param])
    page = context.new_page()
    page.viewport_name = request.param
    yield page
    context.close()


@pytest.fixture(autouse=True)
def _empty_cache():
    from django.core.cache import cache

    cache.clear()


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{page.viewport_name}.png"), full_page=True)


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
