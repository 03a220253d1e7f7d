"""The control tower in a real headless Chromium: the exception dashboard, and an incident from the
banner to its approval. Screenshots land in test-artifacts/screenshots/ for a person to look at."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.utils import timezone

from notifications.defaults import templates_seed
from notifications.models import Message
from orders.choices import ShipmentStatus
from playbooks.anomalies import incidents_watch
from playbooks.choices import IncidentState
from playbooks.models import Incident
from tests.browser import screenshot
from tests.factories import (
    ApprovalFactory,
    CustomerFactory,
    ExceptionCaseFactory,
    OrderFactory,
    ShipmentFactory,
    StoreFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def control_tower(django_user_model):
    """A CX manager, a spike of stalled USPS parcels to California, and an approval waiting."""
    call_command("setup_roles")
    manager = django_user_model.objects.create_user("manager", "manager@example.com", "tower-secret-42",
                                                    is_staff=True)  # fmt: skip
    manager.groups.add(Group.objects.get(name="CX manager"))
    store = StoreFactory(name="Northwind Outfitters")
    templates_seed(store)
    now = timezone.now()
    cases = []
    for n in range(14):
        order = OrderFactory(store=store, ship_region="CA", customer=CustomerFactory(store=store))
        shipment = ShipmentFactory(order=order, carrier="usps", status=ShipmentStatus.IN_TRANSIT)
        cases.append(ExceptionCaseFactory(store=store, order=order, shipment=shipment, kind="transit_stall",
                                          detected_at=now - dt.timedelta(hours=n % 5)))  # fmt: skip
    for n in range(4):
        order = OrderFactory(store=store, ship_region="NY")
        shipment = ShipmentFactory(order=order, carrier="ups")
        ExceptionCaseFactory(store=store, order=order, shipment=shipment, kind="no_first_scan",
                             detected_at=now - dt.timedelta(days=n + 1))  # fmt: skip
    ApprovalFactory(remedy__case=cases[0], due_at=now + dt.timedelta(hours=1, minutes=20))
    incidents_watch()
    return manager


def log_in(page, live_server, next_url: str) -> None:
    page.goto(f"{live_server.url}/admin/login/?next={next_url}")
    page.get_by_label("Username").fill("manager")
    page.get_by_label("Password").fill("tower-secret-42")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def test_a_manager_sees_open_problems_by_type_carrier_and_age_and_the_approvals_waiting(control_tower, page,
                                                                                          live_server):  # fmt: skip
    log_in(page, live_server, "/admin/playbooks/exceptioncase/dashboard/")

    assert page.get_by_role("heading", name="By type").is_visible()
    assert page.locator(".cx-total").inner_text() == "18"  # open problems
    assert page.get_by_role("link", name="Stalled in transit").is_visible()
    assert page.get_by_text("1 h 19 min left").or_(page.get_by_text("1 h 20 min left")).first.is_visible()
    screenshot(page, "exception-dashboard")

    page.get_by_role("link", name="USPS").click()
    page.wait_for_load_state()
    assert page.locator("#result_list tbody tr").count() == 14


def test_a_manager_follows_the_banner_to_the_incident_and_approves_one_message_wave(control_tower, page,
                                                                                   live_server, run_jobs):  # fmt: skip
    log_in(page, live_server, "/admin/")
    banner = page.get_by_role("alert").filter(has_text="delivery incident")
    assert "1 delivery incident needs a decision" in banner.inner_text()
    banner.get_by_role("link").click()
    page.locator("#result_list tbody th a").first.click()
    page.wait_for_load_state()
    assert page.get_by_text("Customers with a parcel on its way").is_visible()
    screenshot(page, "incident-proposal")

    page.get_by_role("button", name="Approve: send and pause as proposed").click()
    page.wait_for_load_state()
    run_jobs()

    incident = Incident.objects.get()
    assert incident.state == IncidentState.APPROVED
    assert Message.objects.filter(idempotency_key__startswith=f"incident:{incident.pk}:").count() == 14
    assert "delivery incident" not in page.content()
    screenshot(page, "incident-approved")
