"""The KPI dashboard in a real headless Chromium (Playwright): it renders its charts with nothing fetched from
elsewhere, every chart keeps its text inside it, and no table makes the page wider than the screen. Screenshots
land in test-artifacts/screenshots/kpi-dashboard*-<viewport>.png for a person to look at."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from orders.models import Store
from playbooks.choices import CaseState, RemedyState
from playbooks.models import Playbook
from tests.browser import screenshot
from tests.factories import (
    DeliveryFeedbackFactory,
    ExceptionCaseFactory,
    KpiSettingsFactory,
    MessageFactory,
    OrderFactory,
    PlaybookFactory,
    PlaybookVersionFactory,
    RemedyFactory,
    StoreFactory,
    TicketFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def month_of_activity(django_user_model) -> None:
    """A manager, and two playbooks over the last 30 days: one measured against its holdout, one too small
    to tell. A fixture, so that it runs before Playwright starts: ORM calls made inside Playwright's
    greenlet would open a database connection of their own that nothing closes."""
    django_user_model.objects.create_superuser("manager", "manager@example.com", "kpi-secret-42")
    now = timezone.now()
    store = StoreFactory(name="Northwind Outfitters", slug="northwind")
    KpiSettingsFactory(store=store, cost_per_ticket=Decimal("6.50"))
    groups = [
        ("Lost-maybe: stalled in transit", 60, 6, False),
        ("Lost-maybe: stalled in transit", 40, 12, True),
        ("Failed delivery attempt", 12, 2, False),
        ("Failed delivery attempt", 2, 1, True),
    ]
    versions = {}
    for index, (name, orders, contacted, holdout) in enumerate(groups):
        if name not in versions:
            versions[name] = PlaybookVersionFactory(playbook=PlaybookFactory(name=name, holdout_percent=10))
        for n in range(orders):
            day = now - timedelta(days=(n * 7 + index) % 28, hours=n % 9)
            order = OrderFactory(store=store, placed_at=day - timedelta(days=1))
            case = ExceptionCaseFactory(
                order=order, store=store, shipment=None, kind="transit_stall", detected_at=day,
                playbook_version=versions[name], is_holdout=holdout,
                state=CaseState.RESOLVED if n % 3 else CaseState.ACTING,
            )  # fmt: skip
            if n < contacted:
                TicketFactory(store=store, order=order, created_at=day + timedelta(hours=5))
            if not holdout:
                MessageFactory(order=order, kind="delay", status="sent", detected_at=day,
                               sent_at=day + timedelta(seconds=20 + n * 7))  # fmt: skip
                if n % 10 == 0:
                    RemedyFactory(case=case, action="coupon", amount=Decimal("10.00"), state=RemedyState.DONE)
            if n % 4 == 0:
                DeliveryFeedbackFactory(order=order, rating=5 - n % 3)


@pytest.fixture
def long_names(month_of_activity) -> None:
    """Names as long as people write them: a playbook's and a store's."""
    Playbook.objects.filter(name="Failed delivery attempt").update(name=LONG_PLAYBOOK)
    Store.objects.filter(slug="northwind").update(name="Northwind Outfitters & Mountain Supply Co. (North America)")


URL = "/admin/insights/kpisettings/dashboard/"
LONG_PLAYBOOK = "Address problem: self-fix link, hold the parcel at the depot and retry on the next working day"
# Each chart's text that the browser draws (in its own fonts) outside the chart's box.
TEXT_OUTSIDE_ITS_CHART = """() => [...document.querySelectorAll("svg.kpi-chart")].flatMap(svg => {
  const box = svg.getBoundingClientRect();
  return [...svg.querySelectorAll("text")].filter(text => {
    const r = text.getBoundingClientRect();
    return r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5;
  }).map(text => `${svg.id}: ${text.textContent}`);
})"""
# Per table: [id, its box lies within the page's content, it fits its box, its box scrolls, its first column stays].
TABLE_BOXES = """() => [...document.querySelectorAll(".kpi-table-wrap")].map(wrap => {
  const table = wrap.querySelector("table"), content = document.getElementById("content").getBoundingClientRect();
  const box = wrap.getBoundingClientRect(), heading = table.querySelector("tbody th");
  return [table.id, box.left >= content.left - 0.5 && box.right <= content.right + 0.5,
          table.offsetWidth <= wrap.clientWidth, getComputedStyle(wrap).overflowX === "auto",
          !heading || getComputedStyle(heading).position === "sticky"];
})"""


def log_in(page, live_server) -> None:
    page.goto(f"{live_server.url}/admin/login/?next={URL}")
    page.get_by_label("Username").fill("manager")
    page.get_by_label("Password").fill("kpi-secret-42")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def test_the_dashboard_renders_its_charts_in_a_real_browser(live_server, month_of_activity, page):
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    log_in(page, live_server)

    assert page.url.endswith(URL)
    assert page.get_by_role("heading", name="Key figures").is_visible()
    assert page.locator("svg.kpi-chart").count() == 7
    orders_chart = page.get_by_role("img", name="Orders placed per day")
    assert orders_chart.is_visible()
    assert orders_chart.bounding_box()["width"] > 200  # drawn at a readable size, not collapsed
    assert page.locator("#chart-holdout circle").count() == 1  # only the measured playbook gets a dot
    assert page.get_by_text("Too few orders to tell.").first.is_visible()
    assert page.locator("#table-holdout tbody tr").count() == 2
    # Charts and page come from the hub alone: no CDN, no chart library from elsewhere.
    assert [url for url in requested if not url.startswith(live_server.url)] == []

    screenshot(page, "kpi-dashboard")


def test_long_names_stay_inside_the_charts_and_wide_tables_scroll_in_their_own_box(live_server, long_names, page):
    log_in(page, live_server)

    assert page.evaluate(TEXT_OUTSIDE_ITS_CHART) == []
    # The page itself is never wider than the screen (a phone's, a laptop's): what does not fit scrolls in its box,
    # the row's name staying in view.
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    for table, inside, fits, scrolls, heading_stays in page.evaluate(TABLE_BOXES):
        assert inside, table
        assert fits or (scrolls and heading_stays), table
    # The full name is a hover away where the comparison had to cut it short.
    assert page.locator("#chart-holdout text title").first.text_content() == LONG_PLAYBOOK
    screenshot(page, "kpi-dashboard-long-names")


def test_on_a_wide_laptop_screen_every_table_fits_without_scrolling(live_server, long_names, browser):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        page = context.new_page()
        log_in(page, live_server)

        assert page.evaluate(TEXT_OUTSIDE_ITS_CHART) == []
        assert [table for table, _, fits, *_ in page.evaluate(TABLE_BOXES) if not fits] == []
    finally:
        context.close()
