"""The anomaly watch: a carrier spiking in one region opens an incident, alerts the CX managers, and
waits for one manager's approval before one message wave goes out."""

import datetime as dt
import random

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse

from notifications.defaults import templates_seed
from notifications.models import Message
from orders.choices import ShipmentStatus
from playbooks.anomalies import incident_approve, incident_dismiss, incidents_watch
from playbooks.choices import IncidentState
from playbooks.models import AuditEvent, CarrierPause, Incident
from tests.factories import (
    CustomerFactory,
    ExceptionCaseFactory,
    OrderFactory,
    ShipmentFactory,
    StoreFactory,
)

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)  # a Monday afternoon: no quiet hours


@pytest.fixture(autouse=True)
def clock(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def store():
    store = StoreFactory()
    templates_seed(store)
    return store


def problems(store, count: int, *, carrier: str, region: str, hours_ago: float, kind: str = "transit_stall"):
    """`count` problem cases on parcels still on their way, detected `hours_ago`."""
    cases = []
    for _ in range(count):
        order = OrderFactory(store=store, ship_region=region, customer=CustomerFactory(store=store))
        shipment = ShipmentFactory(order=order, carrier=carrier, status=ShipmentStatus.IN_TRANSIT)
        cases.append(ExceptionCaseFactory(store=store, order=order, shipment=shipment, kind=kind,
                                          detected_at=NOW - dt.timedelta(hours=hours_ago)))  # fmt: skip
    return cases


def steady_baseline(store, *, carrier="usps", region="CA", per_day=2, seed=1):
    """Two weeks of normal noise: about `per_day` problems a day, at random hours."""
    rng = random.Random(seed)
    for day in range(1, 14):
        for _ in range(rng.randint(per_day - 1, per_day + 1)):
            problems(store, 1, carrier=carrier, region=region, hours_ago=6 + day * 24 + rng.uniform(0, 23))


@pytest.fixture
def manager(django_user_model):
    call_command("setup_roles")
    user = django_user_model.objects.create_user("manager", email="manager@example.com", is_staff=True)
    user.groups.add(Group.objects.get(name="CX manager"))
    return user


def test_an_injected_spike_opens_one_incident_with_its_why_and_alerts_the_managers(store, manager, mailoutbox):
    steady_baseline(store)
    problems(store, 15, carrier="usps", region="CA", hours_ago=2)

    [incident] = incidents_watch()
    incidents_watch()  # running again opens nothing more

    assert (incident.carrier, incident.region, incident.recent_count) == ("usps", "CA", 15)
    assert incident.ratio >= 5 and "15 problems with USPS to CA in the last 6 hours" in incident.explanation
    assert Incident.objects.count() == 1 and incident.state == IncidentState.OPEN
    [alert] = mailoutbox
    assert alert.to == ["manager@example.com"] and "USPS to CA" in alert.body
    assert AuditEvent.objects.filter(incident=incident, message__startswith="Incident opened").exists()
    assert not Message.objects.exists()  # nothing reaches customers before a manager approves


def test_normal_noise_stays_quiet(store):
    steady_baseline(store, per_day=4, seed=7)
    problems(store, 2, carrier="usps", region="CA", hours_ago=1)  # an ordinary busy afternoon

    assert incidents_watch() == []


def test_small_numbers_never_alarm_even_from_nothing(store):
    problems(store, 9, carrier="dhl", region="NV", hours_ago=1)  # no baseline at all, but under 10

    assert incidents_watch() == []


def test_each_carrier_and_region_is_measured_against_its_own_baseline(store):
    steady_baseline(store, carrier="ups", region="NY", per_day=20)  # a busy lane: 20 a day is normal
    problems(store, 12, carrier="ups", region="NY", hours_ago=3)
    problems(store, 12, carrier="ups", region="OR", hours_ago=3)  # the same count on a quiet lane

    assert [(i.carrier, i.region) for i in incidents_watch()] == [("ups", "OR")]


def test_one_approval_sends_one_message_wave_and_pauses_the_carrier(store, manager, run_jobs):
    spike = problems(store, 12, carrier="usps", region="CA", hours_ago=1)
    ShipmentFactory(order=spike[0].order, carrier="usps", status=ShipmentStatus.DELIVERED)  # same order, twice
    delivered = problems(store, 1, carrier="usps", region="CA", hours_ago=1)[0].shipment
    delivered.status = ShipmentStatus.DELIVERED
    delivered.save()
    [incident] = incidents_watch()

    incident_approve(incident=incident, user=manager, notify_kind="delay")
    run_jobs()
    with pytest.raises(ValidationError, match="already approved"):
        incident_approve(incident=incident, user=manager)
    run_jobs()

    incident.refresh_from_db()
    assert incident.state == IncidentState.APPROVED and incident.messages_queued == 12
    waves = Message.objects.filter(idempotency_key__startswith=f"incident:{incident.pk}:")
    assert waves.count() == 12 and waves.filter(order=delivered.order).count() == 0
    assert CarrierPause.objects.get().incident == incident
    assert AuditEvent.objects.filter(incident=incident, actor_user=manager).count() == 1


def test_a_manager_can_send_nothing_and_only_pause_or_dismiss(store, manager, run_jobs):
    problems(store, 12, carrier="usps", region="CA", hours_ago=1)
    problems(store, 12, carrier="ups", region="TX", hours_ago=1)
    first, second = sorted(incidents_watch(), key=lambda i: i.carrier)

    incident_approve(incident=first, user=manager, notify_kind="", pause_carrier=True)
    incident_dismiss(incident=second, user=manager)
    run_jobs()

    assert not Message.objects.exists() and CarrierPause.objects.count() == 1
    assert Incident.objects.get(pk=second.pk).state == IncidentState.DISMISSED


def test_only_people_allowed_to_decide_incidents_can(store, django_user_model):
    problems(store, 12, carrier="usps", region="CA", hours_ago=1)
    [incident] = incidents_watch()
    agent = django_user_model.objects.create_user("agent", is_staff=True)

    with pytest.raises(ValidationError):
        incident_approve(incident=incident, user=agent)
    assert Incident.objects.get().state == IncidentState.OPEN


def test_the_admin_shows_a_banner_and_approves_from_the_incident_page(client, store, manager, run_jobs):
    problems(store, 12, carrier="usps", region="CA", hours_ago=1)
    [incident] = incidents_watch()
    client.force_login(manager)

    index = client.get("/admin/").content.decode()
    assert "1 delivery incident needs a decision" in index

    url = reverse("admin:playbooks_incident_change", args=[incident.pk])
    page = client.get(url).content.decode()
    assert "Approve: send and pause as proposed" in page and "Customers with a parcel on its way" in page
    client.post(url, {"notify_kind": "lost_maybe", "pause_carrier": "", "_approve": "1",
                      "audit_events-TOTAL_FORMS": "0", "audit_events-INITIAL_FORMS": "0"})  # fmt: skip
    run_jobs()

    incident.refresh_from_db()
    assert incident.state == IncidentState.APPROVED and incident.notify_kind == "lost_maybe"
    assert not CarrierPause.objects.exists()
    assert Message.objects.filter(kind="lost_maybe").count() == 12
    assert "delivery incident" not in client.get("/admin/").content.decode()


def test_a_manager_pauses_a_carrier_for_a_region_ahead_of_trouble_from_the_admin(client, manager):
    client.force_login(manager)
    add = reverse("admin:playbooks_carrierpause_add")

    answer = client.post(add, {"carrier": "USPS", "region": " FL "})
    again = client.post(add, {"carrier": "usps", "region": "FL"})

    assert answer.status_code == 302
    pause = CarrierPause.objects.get()
    assert (pause.carrier, pause.region, pause.created_by, pause.incident) == ("usps", "FL", manager, None)
    assert "USPS is already paused for FL." in again.content.decode()
    trail = AuditEvent.objects.get(actor_user=manager)
    assert trail.message == "USPS paused for FL by a manager."


def test_agents_see_pauses_but_may_not_add_them(client, django_user_model):
    call_command("setup_roles")
    agent = django_user_model.objects.create_user("agent", is_staff=True)
    agent.groups.add(Group.objects.get(name="Agent"))
    client.force_login(agent)

    listed = client.get(reverse("admin:playbooks_carrierpause_changelist"))
    added = client.post(reverse("admin:playbooks_carrierpause_add"), {"carrier": "ups", "region": "TX"})

    assert (listed.status_code, added.status_code) == (200, 403)
    assert not CarrierPause.objects.exists()


def test_a_pause_without_a_carrier_or_region_is_refused_and_nothing_is_stored(client, manager):
    client.force_login(manager)

    answer = client.post(reverse("admin:playbooks_carrierpause_add"), {"carrier": "", "region": ""})

    assert answer.status_code == 200 and "This field is required." in answer.content.decode()
    assert not CarrierPause.objects.exists()
