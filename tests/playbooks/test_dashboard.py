"""The exception dashboard: open problems by type, carrier, store, region and age, oldest first, and
approvals waiting with their SLA countdown."""

import datetime as dt

import pytest
from django.urls import reverse

from playbooks.dashboard import exceptions_overview
from tests.factories import (
    ApprovalFactory,
    ExceptionCaseFactory,
    OrderFactory,
    ShipmentFactory,
    StoreFactory,
)

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def cases(time_machine):
    time_machine.move_to(NOW, tick=False)
    north, south = StoreFactory(name="North"), StoreFactory(name="South")

    def case(store, kind, carrier, region, hours_ago, **kwargs):
        order = OrderFactory(store=store, ship_region=region)
        shipment = ShipmentFactory(order=order, carrier=carrier)
        return ExceptionCaseFactory(store=store, order=order, shipment=shipment, kind=kind,
                                    detected_at=NOW - dt.timedelta(hours=hours_ago), **kwargs)  # fmt: skip

    return {
        "oldest": case(north, "transit_stall", "ups", "CA", 100),
        "stall": case(north, "transit_stall", "usps", "NY", 30),
        "scan": case(south, "no_first_scan", "usps", "CA", 2, state="acting"),
        "resolved": case(south, "no_first_scan", "usps", "CA", 5, state="resolved"),
        "milestone": case(south, "milestone_shipped", "usps", "CA", 1),
        "stores": (north, south),
    }


def test_it_counts_open_problems_by_type_carrier_store_region_and_age(cases):
    overview = exceptions_overview(now=NOW)

    assert overview.total == 3  # resolved cases and milestones are not work
    assert [(b.key, b.count) for b in overview.by_type] == [("transit_stall", 2), ("no_first_scan", 1)]
    assert overview.by_type[0].label == "Stalled in transit"
    assert [(b.key, b.count) for b in overview.by_carrier] == [("usps", 2), ("ups", 1)]
    assert [(b.label, b.count) for b in overview.by_store] == [("North", 2), ("South", 1)]
    assert [(b.key, b.count) for b in overview.by_region] == [("CA", 2), ("NY", 1)]
    assert overview.by_age == [("Under 4 hours", 1), ("4 to 24 hours", 0), ("1 to 3 days", 1), ("Over 3 days", 1)]
    assert [c.pk for c in overview.oldest] == [cases["oldest"].pk, cases["stall"].pk, cases["scan"].pk]


def test_it_narrows_to_one_store(cases):
    overview = exceptions_overview(now=NOW, store_id=cases["stores"][1].pk)

    assert overview.total == 1 and overview.oldest == [cases["scan"]]


def test_approvals_show_how_long_is_left_or_how_overdue_they_are(cases):
    ApprovalFactory(remedy__case=cases["stall"], due_at=NOW + dt.timedelta(hours=2, minutes=5))
    ApprovalFactory(remedy__case=cases["oldest"], due_at=NOW - dt.timedelta(minutes=30))

    waiting = exceptions_overview(now=NOW).approvals

    assert [w.countdown for w in waiting] == ["overdue by 30 min", "2 h 05 min left"]
    assert waiting[0].overdue and not waiting[1].overdue


def test_it_costs_the_same_queries_with_many_cases(cases, django_assert_max_num_queries):
    for _ in range(20):
        ExceptionCaseFactory(kind="transit_stall", detected_at=NOW - dt.timedelta(hours=3))
    ApprovalFactory(remedy__case=cases["stall"])

    with django_assert_max_num_queries(8):
        exceptions_overview(now=NOW)


def test_the_page_links_each_count_to_the_filtered_list_and_each_case_to_its_order(admin_client, cases):
    response = admin_client.get(reverse("admin:playbooks_exceptions_dashboard"))
    page = response.content.decode()

    assert response.status_code == 200 and "3</span> open problems" in page
    assert "?open=yes&kind=transit_stall" in page and "shipment__carrier__exact=usps" in page
    assert reverse("admin:orders_order_change", args=[cases["oldest"].order_id]) in page
    listed = admin_client.get(reverse("admin:playbooks_exceptioncase_changelist") + "?open=yes&kind=transit_stall")
    assert listed.status_code == 200 and listed.context["cl"].result_count == 2


def test_people_without_access_to_exceptions_cannot_see_it(client, django_user_model, cases):
    client.force_login(django_user_model.objects.create_user("nobody", is_staff=True))

    assert client.get(reverse("admin:playbooks_exceptions_dashboard")).status_code == 403
