"""The template editor's SMS length in a real headless Chromium (Playwright): while a CX manager types, the
length shown is the server's, and it is the length the template shows once saved, line breaks posted as
CRLF and characters GSM-7 lacks included. Screenshot: test-artifacts/screenshots/sms-template-<viewport>.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from notifications.defaults import templates_seed
from notifications.models import MessageTemplate
from orders.choices import Channel
from tests.browser import screenshot
from tests.factories import OrderFactory, ShipmentFactory, StoreFactory

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "template-secret-42"


@pytest.fixture
def sms_templates(django_user_model) -> dict[str, int]:
    """The default SMS templates of a store with an order (kind -> pk). Made before Playwright starts: ORM
    calls inside its greenlet would open connections nothing closes."""
    django_user_model.objects.create_superuser("manager", "manager@example.com", PASSWORD)
    store = StoreFactory(name="Northwind Outfitters", support_email="care@northwind.example")
    order = OrderFactory(store=store, order_number="#1042", customer__first_name="Maya")
    ShipmentFactory(order=order, carrier="ups", tracking_code="1Z999AA10123456784")
    templates_seed(store)
    return dict(MessageTemplate.objects.filter(store=store, channel=Channel.SMS).values_list("kind", "pk"))


def log_in(page, live_server, path: str) -> None:
    page.goto(f"{live_server.url}/admin/login/?next={path}")
    page.get_by_label("Username").fill("manager")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def is_preview(request) -> bool:
    """The change form asking the server for a preview of what is typed."""
    return request.url.endswith("/preview/") and request.method == "POST"


def refreshed(page, action) -> None:
    """Do `action` (a click, typing) and wait until the preview it sets off has been shown."""
    with page.expect_response(lambda response: is_preview(response.request)):
        action()
    expect(page.locator("#cx-preview-refresh")).to_be_enabled()  # re-enabled once the answer is shown


def test_every_default_sms_shows_the_same_length_live_as_saved(live_server, sms_templates, page):
    length = page.locator("#cx-sms-length output")
    log_in(page, live_server, "/admin/notifications/messagetemplate/")

    for kind, pk in sms_templates.items():
        page.goto(f"{live_server.url}/admin/notifications/messagetemplate/{pk}/change/")
        saved = length.inner_text()
        refreshed(page, page.get_by_role("button", name="Refresh preview").click)

        assert length.inner_text() == saved, kind
        assert "1 segment (GSM-7)" in saved, kind


def test_a_text_typed_with_line_breaks_and_an_emoji_shows_the_length_it_is_saved_with(live_server, sms_templates, page):
    path = f"/admin/notifications/messagetemplate/{sms_templates['delay']}/change/"
    length = page.locator("#cx-sms-length output")
    log_in(page, live_server, path)
    before = length.inner_text()

    page.get_by_label("Body text").click()
    page.keyboard.press("Control+End")
    with page.expect_request(is_preview) as posted:
        refreshed(page, lambda: page.keyboard.type("\nThanks! We\u2019re here \U0001f4e6"))
    live = length.inner_text()
    # The preview shows the SMS as sent: the curly quote goes out straight.
    expect(page.frame_locator("#cx-preview").get_by_text("Thanks! We're here")).to_be_visible()
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")

    assert b"\r\nThanks!" in posted.value.post_data_buffer  # the browser sends CRLF line breaks
    assert before == "149 characters · 1 segment (GSM-7)"
    assert live == "171 characters · 3 segments (UCS-2)"  # the emoji: one line break, 21 more, 2 for the emoji
    assert length.inner_text() == live
    screenshot(page, "sms-template")
    page.goto(f"{live_server.url}/admin/notifications/messagetemplate/?kind__exact=delay&channel__exact=sms")
    assert page.locator("td.field-sms_length").inner_text() == live
