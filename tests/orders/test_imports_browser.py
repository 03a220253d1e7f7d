"""A CSV import in a real headless Chromium (Playwright) with a real worker process: the upload leads to the
import's page, which waits for a worker, follows its progress and turns into the report by itself.
Screenshots: test-artifacts/screenshots/csv-import-{progress,report}-<viewport>.png."""

from __future__ import annotations

import pytest

from orders.models import Order, OrderImport
from tests.browser import screenshot
from tests.factories import StoreFactory
from tests.reliability.helpers import WorkerProcess, backfill_csv, worker_env

pytestmark = pytest.mark.django_db(transaction=True)

ORDERS = 200


@pytest.fixture
def manager(django_user_model) -> None:
    """Made before Playwright starts: ORM calls inside its greenlet would open connections nothing closes."""
    django_user_model.objects.create_superuser("manager", "manager@example.com", "import-secret-42")
    StoreFactory(name="Northwind Outfitters", slug="northwind")


def test_an_upload_is_followed_from_waiting_to_the_report_without_reloading(live_server, manager, page, tmp_path):
    file = tmp_path / "backfill.csv"
    file.write_bytes(backfill_csv(ORDERS))
    page.goto(f"{live_server.url}/admin/login/?next=/admin/orders/order/import/")
    page.get_by_label("Username").fill("manager")
    page.get_by_label("Password").fill("import-secret-42")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()

    page.get_by_label("CSV file").set_input_files(str(file))
    page.get_by_role("button", name="Import").click()
    page.wait_for_load_state()

    assert "/admin/orders/orderimport/" in page.url
    assert page.locator("#run-progress-text").inner_text() == "Waiting for a worker…"
    assert page.get_by_text("Importing backfill.csv").is_visible()
    screenshot(page, "csv-import-progress")

    WorkerProcess.burst(tmp_path / "worker.log", worker_env())
    page.locator("#import-report").wait_for(timeout=10_000)  # the page polls, then shows the report

    assert page.get_by_text("Every row was imported.").is_visible()
    assert page.locator(".cx-import-counts .figure").all_inner_texts() == [str(2 * ORDERS), str(ORDERS), "0", "0", "0"]
    screenshot(page, "csv-import-report")
    assert Order.objects.count() == ORDERS
    assert OrderImport.objects.get().state == "done"
