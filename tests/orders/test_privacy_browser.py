"""Erasing a customer's personal data in a real headless Chromium (Playwright), as a CX manager: from the
customer's page, through the confirmation, to the data request that records it.
Screenshots: test-artifacts/screenshots/erase-{confirm,done}-<viewport>.png."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from cxhub.roles import CX_MANAGER, roles_setup
from orders.models import Customer, DataRequest
from tests.browser import screenshot
from tests.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "erase-secret-42"


@pytest.fixture
def customer(django_user_model) -> Customer:
    """Made before Playwright starts: ORM calls inside its greenlet would open connections nothing closes."""
    roles_setup()
    manager = django_user_model.objects.create_user("manager", "manager@example.com", PASSWORD, is_staff=True)
    manager.groups.add(Group.objects.get(name=CX_MANAGER))
    customer = CustomerFactory(first_name="Ada", last_name="Byron", email="ada@example.com")
    OrderFactory(store=customer.store, customer=customer, order_number="1001", ship_line1="12 Analytical Row")
    return customer


def test_a_cx_manager_erases_a_customer_after_reading_what_goes_and_what_stays(live_server, customer, page):
    page.goto(f"{live_server.url}/admin/login/?next=/admin/orders/customer/{customer.pk}/change/")
    page.get_by_label("Username").fill("manager")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()

    page.get_by_role("link", name="Erase personal data").click()
    page.wait_for_load_state()
    assert page.get_by_text("This cannot be undone.").is_visible()
    assert "1 order" in page.locator("#erase-counts").inner_text()
    screenshot(page, "erase-confirm")
    page.get_by_role("button", name="Yes, erase their personal data").click()
    page.wait_for_load_state()

    assert "/admin/orders/datarequest/" in page.url
    assert page.get_by_text("Personal data erased (data request").is_visible()
    screenshot(page, "erase-done")
    customer.refresh_from_db()
    assert (customer.first_name, customer.email) == ("", "")
    assert DataRequest.objects.get().requested_by.username == "manager"
