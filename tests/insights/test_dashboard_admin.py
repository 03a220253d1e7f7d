"""The KPI page in the admin: who may see it, what it draws, what its CSV files hold, how many queries it costs."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from insights.tables import MONEY, TABLE_SLUGS, Money, csv_value, display, kpi_tables
from playbooks.choices import CaseState, RemedyState
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
    UserFactory,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
URL = "/admin/insights/kpisettings/dashboard/"


@pytest.fixture(autouse=True)
def frozen_clock(settings):
    settings.TIME_ZONE = "UTC"
    with time_machine.travel(NOW, tick=False):
        yield


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def csv_url(table: str, query: str = "") -> str:
    return reverse("admin:insights_kpis_csv", kwargs={"table": table}) + (f"?{query}" if query else "")


@pytest.fixture
def store():
    return StoreFactory(name="Acme Linen", slug="acme")


def handled(version, store, *, orders: int, contacted: int, holdout: bool) -> None:
    for index, order in enumerate(OrderFactory.create_batch(orders, store=store, placed_at=at(8))):
        case = ExceptionCaseFactory(
            order=order, store=store, shipment=None, kind="late_to_ship", detected_at=at(10),
            playbook_version=version, is_holdout=holdout, state=CaseState.ACTING,
        )  # fmt: skip
        if index < contacted:
            TicketFactory(store=store, order=order, created_at=at(11))
        if not holdout and index == 0:
            RemedyFactory(case=case, action="coupon", amount=Decimal("10.00"), state=RemedyState.DONE)


@pytest.fixture
def kpi_data(store):
    """The measured playbook of test_kpis (40 treated, 4 contacted; 30 held out, 9 contacted), a playbook
    too small to tell, a few sent messages and delivery ratings."""
    measured = PlaybookVersionFactory(playbook=PlaybookFactory(name="Oversold: say sorry first", holdout_percent=10))
    handled(measured, store, orders=40, contacted=4, holdout=False)
    handled(measured, store, orders=30, contacted=9, holdout=True)
    small = PlaybookVersionFactory(playbook=PlaybookFactory(name='=HYPERLINK("x")', holdout_percent=10))
    handled(small, store, orders=5, contacted=1, holdout=False)
    handled(small, store, orders=1, contacted=0, holdout=True)
    for seconds in (30, 90):
        MessageFactory(order__store=store, kind="delay", status="sent", detected_at=at(10),
                       sent_at=at(10) + timedelta(seconds=seconds))  # fmt: skip
    for rating in (5, 4, 2):
        DeliveryFeedbackFactory(order__store=store, rating=rating)
    KpiSettingsFactory(store=store, cost_per_ticket=Decimal("4.00"))
    return store


def staff_with(*codenames: str):
    user = UserFactory(username="staff-" + "-".join(codenames or ("none",)), is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


# --- who may see it ----------------------------------------------------------------------------------------------


def test_anonymous_visitors_and_non_staff_users_are_sent_to_the_admin_login(client):
    assert client.get(URL).status_code == 302
    client.force_login(UserFactory(username="customer", is_staff=False))

    for url in (URL, csv_url("summary")):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


def test_staff_without_the_kpi_permission_are_refused(client):
    client.force_login(staff_with("view_order", "view_kpisettings"))

    assert client.get(URL).status_code == 403
    assert client.get(csv_url("summary")).status_code == 403


def test_an_analyst_with_only_the_kpi_permission_sees_the_page_and_downloads_but_no_settings(client, kpi_data):
    client.force_login(staff_with("view_kpis"))

    response = client.get(URL)

    assert response.status_code == 200
    assert "Set the cost per ticket" not in response.content.decode()
    assert client.get(csv_url("holdout")).status_code == 200
    assert client.get(reverse("admin:insights_kpisettings_changelist")).status_code == 403


def test_the_admin_index_links_to_the_kpis_for_those_who_may_see_them(client, admin_client):
    link = f'href="{URL}"'
    assert link in admin_client.get(reverse("admin:index")).content.decode()
    client.force_login(staff_with("view_order"))
    assert link not in client.get(reverse("admin:index")).content.decode()


# --- what it shows -------------------------------------------------------------------------------------------------


def test_the_page_shows_the_kpis_with_accessible_svg_charts_and_table_fallbacks(admin_client, kpi_data):
    response = admin_client.get(URL)

    page = response.content.decode()
    assert response.status_code == 200
    charts = re.findall(r'<svg [^>]*class="kpi-chart".*?</svg>', page, flags=re.S)
    assert len(charts) == 7  # five daily series, the holdout comparison, the ratings
    assert all(chart.count('role="img"') == 1 and "<title id=" in chart and "<desc id=" in chart for chart in charts)
    # Nothing is fetched from elsewhere: the only address in a chart is the SVG namespace.
    assert {address for chart in charts for address in re.findall(r"https?://[^\s\"']+", chart)} == {
        "http://www.w3.org/2000/svg"
    }
    assert '<title id="chart-orders-title">Orders placed per day</title>' in page
    assert (
        '<desc id="chart-orders-desc">Orders placed per day from 2026-03-02 to 2026-03-31: 81 in total, at most 76 '
        "on 2026-03-08.</desc>"
    ) in page
    assert 'aria-labelledby="chart-holdout-title chart-holdout-desc"' in page
    assert 'id="table-daily"' in page and 'id="table-holdout"' in page
    assert "Fewer contacts when the playbook acts." in page
    assert "Too few orders to tell." in page
    assert "<script" not in page.split('id="content"', 1)[1]
    summary = dict((kpi, value) for kpi, value, _ in response.context["tables"]["summary"].rows)
    # 4 + 9 + 1 tickets about an order; 76 orders with exceptions and 5 more with a message or a rating.
    assert summary["Contact rate per order"] == "17.3%"
    assert summary["Time to notify, median"] == "1 min"  # the median of 30 s and 90 s
    assert summary["Tickets prevented (measured against holdouts)"] == "8.0"
    assert summary["ROI estimate, Acme Linen"] == "12.00 USD"  # 8 x 4.00 - two 10.00 coupons


def test_the_filters_pick_a_store_and_a_period(admin_client, kpi_data):
    StoreFactory(name="Lumen Home", slug="lumen")

    response = admin_client.get(URL, {"store": "lumen", "since": "2026-03-01", "until": "2026-03-09"})

    scope = response.context["report"].scope
    assert (scope.store.slug, scope.since.isoformat(), scope.until.isoformat()) == ("lumen", "2026-03-01", "2026-03-09")
    assert response.context["report"].contacts.orders == 0
    assert f"{csv_url('holdout')}?store=lumen&amp;since=2026-03-01&amp;until=2026-03-09" in response.content.decode()


@pytest.mark.parametrize(
    ("_case", "query", "error"),
    [
        (
            "backwards",
            {"since": "2026-03-10", "until": "2026-03-01"},
            "The period must start on or before its last day.",
        ),
        ("too_long", {"since": "2024-01-01", "until": "2026-03-01"}, "Pick at most 366 days."),
        ("not_a_date", {"since": "yesterday"}, "Enter a valid date."),
        ("unknown_store", {"store": "nope"}, "Select a valid choice."),
    ],
)
def test_bad_filters_are_explained_and_nothing_is_computed(admin_client, _case, query, error):
    response = admin_client.get(URL, query)

    assert response.status_code == 200
    assert response.context["report"] is None
    assert error in response.content.decode()
    assert admin_client.get(csv_url("summary", "&".join(f"{k}={v}" for k, v in query.items()))).status_code == 400


# --- CSV ---------------------------------------------------------------------------------------------------------


def test_every_kpi_table_downloads_as_csv(admin_client, kpi_data):
    for table in TABLE_SLUGS:
        response = admin_client.get(csv_url(table))
        assert response.status_code == 200, table
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert response["Content-Disposition"] == (
            f'attachment; filename="kpis-{table}-all-stores-2026-03-02-2026-03-31.csv"'
        )


def test_the_holdout_csv_holds_the_comparison_with_its_interval(admin_client, kpi_data):
    content = admin_client.get(csv_url("holdout", "store=acme")).content.decode()

    assert content.splitlines() == [
        "Playbook,Treated orders,Treated contacted,Treated contact rate (%),Holdout orders,Holdout contacted,"
        "Holdout contact rate (%),Difference (holdout - treated) (percentage points),"
        "95% interval low (percentage points),95% interval high (percentage points),Tickets prevented,Verdict",
        # A name that would run as a spreadsheet formula is quoted.
        '"\'=HYPERLINK(""x"")",5,1,20.00,1,0,0.00,-20.00,-62.45,61.02,,Too few orders to tell.',
        "Oversold: say sorry first,40,4,10.00,30,9,30.00,20.00,1.34,38.87,8.00,Fewer contacts when the playbook acts.",
    ]


def test_the_daily_and_csat_csv_files_hold_plain_numbers(admin_client, kpi_data):
    daily = admin_client.get(csv_url("daily", "since=2026-03-08&until=2026-03-10")).content.decode()
    csat = admin_client.get(csv_url("csat")).content.decode()
    roi = admin_client.get(csv_url("roi", "store=acme")).content.decode()

    assert daily == (
        "Day,Orders placed,Tickets,WISMO tickets,Proactive messages sent,Exceptions detected\r\n"
        "2026-03-08,76,0,0,0,0\r\n"
        "2026-03-09,0,0,0,0,0\r\n"
        "2026-03-10,0,0,0,2,76\r\n"
    )
    assert csat == "Rating,Answers\r\n5 of 5,1\r\n4 of 5,1\r\n3 of 5,0\r\n2 of 5,1\r\n1 of 5,0\r\n"
    assert roi.splitlines()[1] == "Acme Linen,USD,4.00,8.00,0.54,15.55,32.00,20.00,12.00,-17.86,42.19,"


def test_an_unknown_table_is_not_found(admin_client):
    assert admin_client.get(csv_url("passwords")).status_code == 404


def test_the_page_and_csv_tables_are_the_same_rows(admin_client, kpi_data):
    response = admin_client.get(URL)

    assert list(response.context["tables"]) == list(TABLE_SLUGS)
    assert kpi_tables(response.context["report"]).keys() == response.context["tables"].keys()


# --- cost ----------------------------------------------------------------------------------------------------------


def seed_orders(store, version, count: int) -> None:
    """`count` orders each with everything the KPIs read: a ticket, an exception with a remedy, a sent
    message, a rating; every other one held out."""
    for index in range(count):
        order = OrderFactory(store=store, placed_at=at(8))
        TicketFactory(store=store, order=order, created_at=at(12))
        case = ExceptionCaseFactory(order=order, store=store, shipment=None, kind="late_to_ship", detected_at=at(10),
                                    playbook_version=version, is_holdout=bool(index % 2))  # fmt: skip
        RemedyFactory(case=case, action="coupon", amount=Decimal("5.00"), state=RemedyState.DONE)
        MessageFactory(order=order, kind="delay", status="sent", detected_at=at(10), sent_at=at(10, 13))
        DeliveryFeedbackFactory(order=order, rating=index % 5 + 1)


def queries_for_the_page(admin_client) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert admin_client.get(URL).status_code == 200
    return len(captured.captured_queries)


def test_the_page_costs_the_same_number_of_queries_whatever_the_number_of_orders(admin_client, store):
    version = PlaybookVersionFactory(playbook=PlaybookFactory(holdout_percent=50))
    seed_orders(store, version, 4)
    queries_for_the_page(admin_client)  # warm the session and content types
    few = queries_for_the_page(admin_client)

    seed_orders(store, version, 40)
    many = queries_for_the_page(admin_client)

    assert few == many
    assert many <= 25


def test_money_is_shown_with_two_decimals_and_the_currency(admin_client, kpi_data):
    response = admin_client.get(URL, {"store": "acme"})

    roi = response.context["tables"]["roi"]
    [row] = roi.display_rows()
    shown = dict(zip([column.label for column in roi.columns], row, strict=True))
    assert (shown["Support cost saved"], shown["Compensation paid"], shown["ROI estimate"]) == (
        "32.00 USD", "20.00 USD", "12.00 USD")  # fmt: skip
    assert (shown["ROI low"], shown["ROI high"]) == ("-17.86 USD", "42.19 USD")
    [based_on] = [detail for kpi, _, detail in response.context["tables"]["summary"].rows if kpi.startswith("ROI")]
    assert based_on == "tickets prevented x 4.00 USD - 20.00 USD compensation paid"


def test_a_long_decimal_sum_is_shown_to_the_cent():
    assert display(Money(Decimal("185.950000000000"), "USD"), MONEY) == "185.95 USD"
    assert csv_value(Money(Decimal("185.950000000000"), "USD"), MONEY) == "185.95"
