"""GET /api/v1/carrier-pauses/: the pauses a manager approved, for the store's shipping rules to follow."""

import datetime as dt

import pytest

from playbooks.anomalies import carrier_pauses_lift, incident_approve
from playbooks.models import CarrierPause
from tests.factories import CarrierPauseFactory, IncidentFactory, StoreFactory, UserFactory
from tests.orders.api import client_for

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)
URL = "/api/v1/carrier-pauses/"


@pytest.fixture(autouse=True)
def clock(time_machine):
    time_machine.move_to(NOW, tick=False)


def test_an_approved_incident_pauses_its_carrier_for_its_region_until_a_manager_lifts_it():
    manager = UserFactory(is_superuser=True, is_staff=True)
    incident = IncidentFactory(carrier="ups", region="TX")
    api = client_for(StoreFactory())

    incident_approve(incident=incident, user=manager, notify_kind="", pause_carrier=True)
    paused = api.get(URL)
    carrier_pauses_lift(CarrierPause.objects.all(), user=manager)
    lifted = api.get(URL)

    assert paused.status_code == 200
    assert paused.json() == [
        {"carrier": "ups", "region": "TX", "paused_at": "2026-11-23T15:00:00Z", "reason": incident.explanation}
    ]
    assert (lifted.status_code, lifted.json()) == (200, [])


def test_every_store_sees_the_pauses_in_force_in_carrier_and_region_order_and_no_lifted_one():
    CarrierPauseFactory(carrier="usps", region="NV", incident=None)
    CarrierPauseFactory(carrier="usps", region="CA")
    CarrierPauseFactory(carrier="fedex", region="WA")
    CarrierPauseFactory(carrier="dhl", region="NY", lifted_at=NOW - dt.timedelta(hours=1))

    answers = [client_for(StoreFactory()).get(URL).json() for _ in range(2)]

    assert answers[0] == answers[1]
    assert [(p["carrier"], p["region"], p["reason"][:2]) for p in answers[0]] == [
        ("fedex", "WA", "40"), ("usps", "CA", "40"), ("usps", "NV", "")
    ]  # fmt: skip


def test_pauses_are_read_only_through_the_api():
    api = client_for(StoreFactory())

    answer = api.post(URL, {"carrier": "ups", "region": "TX"}, format="json")

    assert answer.status_code == 405
    assert not CarrierPause.objects.exists()
