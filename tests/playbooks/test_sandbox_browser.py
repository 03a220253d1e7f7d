"""The sandbox in a real headless Chromium (Playwright) with a real worker process: a CX manager tries a draft
playbook from its Try it page; the run's page waits for a worker, then turns into the report by itself.
Screenshots: test-artifacts/screenshots/sandbox-{try,waiting,report}-<viewport>.png."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from cxhub.roles import CX_MANAGER, roles_setup
from playbooks.choices import PlaybookState
from playbooks.models import Remedy, SandboxRun
from tests.browser import screenshot
from tests.factories import (
    CompensationCapFactory,
    ExceptionCaseFactory,
    PlaybookFactory,
    PlaybookStepFactory,
    StoreFactory,
)
from tests.reliability.helpers import WorkerProcess, worker_env

pytestmark = pytest.mark.django_db(transaction=True)

EXCEPTIONS = 60


@pytest.fixture
def draft(django_user_model) -> int:
    """Made before Playwright starts: ORM calls inside its greenlet would open connections nothing closes."""
    roles_setup()
    manager = django_user_model.objects.create_user("manager", "manager@example.com", "sandbox-secret-42",
                                                    is_staff=True)  # fmt: skip
    manager.groups.add(Group.objects.get(name=CX_MANAGER))
    store = StoreFactory(name="Northwind Outfitters", slug="northwind", timezone="UTC")
    CompensationCapFactory(store=store, action="coupon", max_auto_amount=Decimal("10.00"),
                           max_per_customer_30d=Decimal("25.00"), daily_budget=Decimal("1000.00"))  # fmt: skip
    playbook = PlaybookFactory(name="Ship-slip, with a bigger coupon", state=PlaybookState.DRAFT, holdout_percent=0)
    PlaybookStepFactory(playbook=playbook, position=1, action="notify", params={"template": "delay"})
    PlaybookStepFactory(playbook=playbook, position=2, action="coupon", params={"amount": "15.00"})
    detected = timezone.now() - dt.timedelta(days=3)
    for _ in range(EXCEPTIONS):
        ExceptionCaseFactory(shipment__order__store=store, detected_at=detected)
    return playbook.pk


def test_a_manager_tries_a_draft_and_the_report_appears_when_the_worker_is_done(live_server, draft, page, tmp_path):
    page.goto(f"{live_server.url}/admin/login/?next=/admin/playbooks/playbook/{draft}/sandbox/")
    page.get_by_label("Username").fill("manager")
    page.get_by_label("Password").fill("sandbox-secret-42")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    screenshot(page, "sandbox-try")

    page.get_by_role("button", name="Run the sandbox").click()  # the last 30 days, as offered
    page.wait_for_load_state()

    assert "/admin/playbooks/sandboxrun/" in page.url
    assert page.locator("#run-progress-text").inner_text() == "Waiting for a worker…"
    screenshot(page, "sandbox-waiting")

    WorkerProcess.burst(tmp_path / "worker.log", worker_env())
    page.locator("#sandbox-report").wait_for(timeout=10_000)  # the page polls, then shows the report

    report = page.locator("#content-main").inner_text()
    assert f"Exceptions of its type\t{EXCEPTIONS}" in report
    assert f"above max_auto_amount: {EXCEPTIONS}" in report  # 15.00 is above the 10.00 cap
    assert page.get_by_text("Nothing was sent, paid or changed.").is_visible()
    screenshot(page, "sandbox-report")
    assert SandboxRun.objects.get().state == "done"
    assert not Remedy.objects.exists()
