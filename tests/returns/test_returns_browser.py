"""The returns portal in a real headless Chromium, at phone and desktop sizes: a full return with its
QR code and label, and an exchange that ships before the return arrives."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from notifications.defaults import templates_seed
from orders.choices import ShipmentStatus
from orders.models import ReturnRequest
from playbooks.defaults import caps_seed, playbooks_seed
from portal.links import tracking_token
from returns.services import return_mark_received
from tests.browser import screenshot
from tests.factories import (
    CustomerFactory,
    ExchangeVariantFactory,
    LineItemFactory,
    OrderFactory,
    ReturnPolicyFactory,
    ShipmentFactory,
    StoreFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def order():
    store = StoreFactory(name="Acme Linen", primary_colour="#0f766e", accent_colour="#b45309")
    templates_seed(store)
    ReturnPolicyFactory(store=store, return_shipping_fee=Decimal("5.00"), store_credit_bonus_percent=10,
                        instructions="Pack the items in their original bag. Drop off at any post office.")  # fmt: skip
    order = OrderFactory(
        store=store,
        order_number="1042",
        customer=CustomerFactory(store=store, email="jane@example.com", first_name="Jane"),
        ship_name="Jane Doe",
    )
    LineItemFactory(order=order, title="Linen shirt", variant="M", sku="SHIRT-M", unit_price=Decimal("40.00"))
    LineItemFactory(order=order, title="Gift card", sku="GIFT", unit_price=Decimal("25.00"), returnable=False)
    delivered = timezone.now() - dt.timedelta(days=3)
    ShipmentFactory(order=order, status=ShipmentStatus.DELIVERED, delivered_at=delivered, first_scan_at=delivered)
    ExchangeVariantFactory(store=store, product="Linen shirt", title="L", sku="SHIRT-L", available=3)
    return order


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_customer_returns_an_item_for_a_refund_and_drops_it_off_with_a_qr_code(page, live_server, order, run_jobs):
    page.goto(f"{live_server.url}/returns/")
    assert page.get_by_role("heading", level=1).inner_text() == "Start a return or exchange"
    page.get_by_label("Order number").fill("1042")
    page.get_by_label("Email or postal code").fill("jane@example.com")
    page.get_by_role("button", name="Find my order").click()
    page.wait_for_load_state()

    assert page.get_by_text("Final sale: this item can't be returned.").is_visible()
    page.get_by_label("Linen shirt (M)").check()
    page.get_by_label("Why are you returning it?").select_option("does_not_fit")
    page.get_by_label("Refund to the original payment").check()
    assert fits_the_screen(page)
    screenshot(page, "return-choose")
    page.get_by_role("button", name="Start my return").click()
    page.wait_for_load_state()

    ret = ReturnRequest.objects.get()
    assert page.get_by_role("heading", level=1).inner_text() == f"Return {ret.number}"
    qr = page.get_by_role("img", name=f"QR code for return {ret.number}")
    assert qr.is_visible() and qr.locator("svg").bounding_box()["width"] >= 150
    assert page.get_by_text(ret.return_tracking_code).is_visible()
    assert page.get_by_text("Drop off at any post office.").is_visible()
    assert fits_the_screen(page)
    screenshot(page, "return-qr")

    page.get_by_role("link", name="Print a label instead").click()
    page.wait_for_load_state()
    assert page.get_by_text("1 Warehouse Way").is_visible() and page.get_by_text("Jane D.").is_visible()
    screenshot(page, "return-label")

    return_mark_received(request=ret)
    run_jobs()
    page.go_back()
    page.reload()
    current = page.locator('[aria-current="step"]').inner_text()
    assert "Refunded" in current
    assert page.get_by_text("Refunded: $35.00 to your original payment.").is_visible()
    screenshot(page, "return-refunded")


def test_a_customer_exchanges_a_size_and_the_new_one_ships_before_the_return_arrives(page, live_server, order,
                                                                                     run_jobs):  # fmt: skip
    order.store.return_policy.ship_exchange_early = True
    order.store.return_policy.save()
    caps_seed(order.store)
    playbooks_seed()

    page.goto(f"{live_server.url}/track/{tracking_token(order)}/")
    page.get_by_role("link", name="Return or exchange an item").click()
    page.wait_for_load_state()
    page.get_by_label("Linen shirt (M)").check()
    page.get_by_label("Why are you returning it?").select_option("does_not_fit")
    page.get_by_label("Exchange for (if you choose an exchange)").select_option(label="L")
    page.get_by_label("Exchange for another variant").check()
    page.get_by_role("button", name="Start my return").click()
    page.wait_for_load_state()

    assert page.get_by_text("exchange for L").is_visible()
    run_jobs()  # the exchange playbook ships it now
    page.reload()
    assert page.get_by_role("heading", name="Your exchange is on its way").is_visible()
    assert fits_the_screen(page)
    screenshot(page, "exchange-shipped-early")


def test_a_mistake_in_the_form_is_explained_next_to_the_item(page, live_server, order):
    page.goto(f"{live_server.url}/returns/{tracking_token(order)}/")
    page.get_by_label("Linen shirt (M)").check()
    page.get_by_label("Store credit").check()
    page.get_by_role("button", name="Start my return").click()
    page.wait_for_load_state()

    assert page.get_by_text("Choose a reason for this item.").is_visible()
    assert not ReturnRequest.objects.exists()
    screenshot(page, "return-form-error")


def test_the_return_works_with_javascript_off(browser, live_server, order):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{live_server.url}/returns/")
    page.get_by_label("Order number").fill("1042")
    page.get_by_label("Email or postal code").fill("jane@example.com")
    page.get_by_role("button", name="Find my order").click()
    page.get_by_label("Linen shirt (M)").check()
    page.get_by_label("Why are you returning it?").select_option("changed_mind")
    page.get_by_label("Store credit").check()
    page.get_by_role("button", name="Start my return").click()
    page.wait_for_load_state()

    assert page.get_by_role("img", name="QR code for return R1042-1").is_visible()
    context.close()
