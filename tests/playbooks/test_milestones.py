"""Milestones: each update customers expect is announced while it is recent, never for a cancelled
order, in one query, and once per subject ever (even after its case was resolved)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import time_machine
from django.db.models import Model
from django.utils import timezone

from orders.choices import FinancialStatus, ShipmentStatus
from orders.models import Order, Shipment
from playbooks.choices import CaseState
from playbooks.detectors import DETECTORS
from playbooks.engine import cases_open, detector_sweep
from playbooks.models import ExceptionCase
from tests.factories import OrderFactory, ShipmentFactory
from tests.playbooks.test_detectors import JUST, NOW, matches, params_for, record

pytestmark = pytest.mark.django_db

S = ShipmentStatus
HOUR = timedelta(hours=1)
MILESTONES = ["milestone_confirmed", "milestone_shipped", "milestone_out_for_delivery", "milestone_delivered"]


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    """Factories and services stamp timezone.now(); pin it to NOW, in UTC."""
    with time_machine.travel(NOW, tick=False), timezone.override("UTC"):
        yield


def confirmed(ago: timedelta = 2 * HOUR, **kwargs) -> Order:
    return OrderFactory(placed_at=NOW - ago, **kwargs)


def shipped(ago: timedelta = 3 * HOUR, status: str = S.IN_TRANSIT, **kwargs) -> Shipment:
    return ShipmentFactory(
        status=status,
        label_created_at=NOW - ago - 12 * HOUR,
        first_scan_at=NOW - ago,
        last_scan_at=NOW - ago,
        last_event_at=NOW - ago,
        **kwargs,
    )


def out_for_delivery(ago: timedelta = 2 * HOUR, status: str = S.OUT_FOR_DELIVERY, **kwargs) -> Shipment:
    return ShipmentFactory(
        status=status,
        first_scan_at=NOW - timedelta(days=2),
        last_scan_at=NOW - ago,
        last_event_at=NOW - ago,
        **kwargs,
    )


def delivered(ago: timedelta = 3 * HOUR, **kwargs) -> Shipment:
    return ShipmentFactory(
        status=S.DELIVERED,
        first_scan_at=NOW - timedelta(days=2),
        last_scan_at=NOW - ago,
        last_event_at=NOW - ago,
        delivered_at=NOW - ago,
        **kwargs,
    )


# One subject per milestone that matches at NOW with the default parameters.
BUILDERS: dict[str, Callable[..., Model]] = {
    "milestone_confirmed": confirmed,
    "milestone_shipped": shipped,
    "milestone_out_for_delivery": out_for_delivery,
    "milestone_delivered": delivered,
}


def order_of(subject: Model) -> Order:
    return subject if isinstance(subject, Order) else subject.order


def cases_of(kind: str, subject: Model) -> list[ExceptionCase]:
    field = "order" if isinstance(subject, Order) else "shipment"
    return list(ExceptionCase.objects.filter(kind=kind, **{field: subject}))


# --- the contract ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "subject", "label"),
    [
        ("milestone_confirmed", "order", "Milestone: order confirmed"),
        ("milestone_shipped", "shipment", "Milestone: shipped"),
        ("milestone_out_for_delivery", "shipment", "Milestone: out for delivery"),
        ("milestone_delivered", "shipment", "Milestone: delivered"),
    ],
)
def test_it_registers_each_milestone_as_an_informational_event_driven_detector(kind, subject, label):
    detector = DETECTORS[kind]

    assert (detector.kind, detector.subject, detector.label) == (kind, subject, label)
    assert detector.resolves_when_acted is True
    assert detector.resolves_when_cleared is False
    assert detector.time_based is False


@pytest.mark.parametrize(
    ("kind", "default"),
    [
        ("milestone_confirmed", 24),
        ("milestone_shipped", 24),
        ("milestone_out_for_delivery", 12),
        ("milestone_delivered", 24),
    ],
)
def test_it_gives_every_milestone_a_documented_recent_window(kind, default):
    param = DETECTORS[kind].params["recent_hours"]

    assert set(DETECTORS[kind].params) == {"recent_hours"}
    assert param.default == default
    assert param.help.strip()
    assert params_for(kind) == {"recent_hours": default}


@pytest.mark.parametrize("kind", MILESTONES)
def test_it_finds_every_milestone_in_one_query(kind, django_assert_max_num_queries):
    subjects = [BUILDERS[kind]() for _ in range(3)]
    detector, params = DETECTORS[kind], params_for(kind)

    with django_assert_max_num_queries(1):
        found = list(detector.matching(NOW, params))

    assert {s.pk for s in found} == {s.pk for s in subjects}


@pytest.mark.parametrize("kind", MILESTONES)
def test_it_never_announces_a_milestone_of_a_cancelled_order(kind):
    subject = BUILDERS[kind]()
    assert matches(kind, subject)

    order = order_of(subject)
    order.cancelled_at = NOW - HOUR
    order.save()

    assert not matches(kind, subject)


@pytest.mark.parametrize(
    ("kind", "hours"),
    [
        ("milestone_confirmed", 24),
        ("milestone_shipped", 24),
        ("milestone_out_for_delivery", 12),
        ("milestone_delivered", 24),
    ],
)
@pytest.mark.parametrize(("offset", "expected"), [(-JUST, True), (JUST, False)])
def test_it_announces_a_milestone_only_within_its_recent_window(kind, hours, offset, expected):
    subject = BUILDERS[kind](timedelta(hours=hours) + offset)

    assert matches(kind, subject) is expected


@pytest.mark.parametrize("kind", MILESTONES)
def test_it_uses_the_window_a_manager_configured(kind):
    subject = BUILDERS[kind](5 * HOUR)

    assert matches(kind, subject, recent_hours=6)
    assert not matches(kind, subject, recent_hours=4)


@pytest.mark.parametrize("kind", MILESTONES)
def test_it_lets_a_milestone_age_out_as_time_passes(kind):
    subject = BUILDERS[kind](HOUR)

    assert matches(kind, subject, now=NOW)
    assert not matches(kind, subject, now=NOW + timedelta(days=1))


# --- order confirmed ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("financial_status", "expected"),
    [
        (FinancialStatus.PAID, True),
        (FinancialStatus.PENDING, False),
        (FinancialStatus.FAILED, False),
        (FinancialStatus.REFUNDED, False),
        (FinancialStatus.PARTIALLY_REFUNDED, False),
    ],
)
def test_it_confirms_only_a_paid_order(financial_status, expected):
    order = confirmed(financial_status=financial_status)

    assert matches("milestone_confirmed", order) is expected


def test_it_confirms_a_recent_order_once_its_payment_goes_through():
    order = confirmed(5 * HOUR, financial_status=FinancialStatus.PENDING)
    assert not matches("milestone_confirmed", order)

    order.financial_status = FinancialStatus.PAID
    order.save()

    assert matches("milestone_confirmed", order)


def test_it_explains_a_confirmed_order_with_when_it_was_placed(django_assert_max_num_queries):
    order = confirmed(2 * HOUR, order_number="1001")
    detector, params = DETECTORS["milestone_confirmed"], params_for("milestone_confirmed")

    with django_assert_max_num_queries(0):
        facts = detector.facts(order, NOW, params)

    assert (facts["order_number"], facts["hours_since_placed"], facts["recent_hours"]) == ("1001", 2.0, 24)
    assert detector.explain(order, NOW, params) == "Order 1001 was placed 2 hours ago and is paid."


# --- shipped -----------------------------------------------------------------------------------------------------


def test_it_announces_shipping_at_the_first_carrier_scan():
    shipment = ShipmentFactory(label_created_at=NOW - 10 * HOUR)
    record(shipment, S.LABEL_CREATED, NOW - 10 * HOUR)
    assert not matches("milestone_shipped", shipment)

    record(shipment, S.IN_TRANSIT, NOW - 3 * HOUR, location="Oakland, CA")

    assert matches("milestone_shipped", shipment)


@pytest.mark.parametrize("status", [S.DELIVERED, S.RETURNED_TO_SENDER, S.CANCELLED])
def test_it_does_not_announce_shipping_for_a_parcel_that_is_no_longer_on_its_way(status):
    shipment = shipped(3 * HOUR, status=status)

    assert not matches("milestone_shipped", shipment)


@pytest.mark.parametrize("status", [S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.ATTEMPTED_DELIVERY, S.EXCEPTION])
def test_it_still_announces_shipping_while_the_parcel_moves_on(status):
    shipment = shipped(3 * HOUR, status=status)

    assert matches("milestone_shipped", shipment)


def test_it_announces_a_parcel_delivered_before_its_first_scan_reached_us_as_delivered_only():
    shipment = ShipmentFactory()
    record(shipment, S.IN_TRANSIT, NOW - 5 * HOUR)
    record(shipment, S.DELIVERED, NOW - HOUR)

    assert shipment.first_scan_at == NOW - 5 * HOUR
    assert not matches("milestone_shipped", shipment)
    assert matches("milestone_delivered", shipment)


def test_opening_a_case_finds_its_facts_once_for_the_record_and_the_sentence(django_assert_num_queries):
    shipment = ShipmentFactory(carrier="usps")
    record(shipment, S.IN_TRANSIT, NOW - 3 * HOUR, location="Oakland, CA")
    detector, params = DETECTORS["milestone_shipped"], params_for("milestone_shipped")

    # The first scan (1), then the case and its "detected" audit event in a transaction (4).
    with django_assert_num_queries(5):
        (case,) = cases_open(detector, [shipment], now=NOW, params=params)

    assert case.facts["location"] == "Oakland, CA"
    assert case.explanation == "First carrier scan 3 hours ago in Oakland, CA."


def test_it_explains_shipping_with_the_first_scan_and_where_it_happened(django_assert_max_num_queries):
    shipment = ShipmentFactory(carrier="usps")
    record(shipment, S.IN_TRANSIT, NOW - 3 * HOUR, location="Oakland, CA")
    record(shipment, S.IN_TRANSIT, NOW - HOUR, location="Reno, NV")
    detector, params = DETECTORS["milestone_shipped"], params_for("milestone_shipped")

    with django_assert_max_num_queries(1):
        facts = detector.facts(shipment, NOW, params)

    assert (facts["hours_since_first_scan"], facts["location"], facts["recent_hours"]) == (3.0, "Oakland, CA", 24)
    assert detector.explain(shipment, NOW, params) == "First carrier scan 3 hours ago in Oakland, CA."


# --- out for delivery --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (S.OUT_FOR_DELIVERY, True),
        (S.IN_TRANSIT, False),
        (S.ATTEMPTED_DELIVERY, False),
        (S.DELIVERED, False),
    ],
)
def test_it_announces_out_for_delivery_only_while_the_parcel_is_out(status, expected):
    shipment = out_for_delivery(2 * HOUR, status=status)

    assert matches("milestone_out_for_delivery", shipment) is expected


def test_it_explains_out_for_delivery_with_the_carrier_and_the_depot(django_assert_max_num_queries):
    shipment = ShipmentFactory(carrier="ups")
    record(shipment, S.IN_TRANSIT, NOW - timedelta(days=1), location="Oakland, CA")
    record(shipment, S.OUT_FOR_DELIVERY, NOW - 2 * HOUR, location="San Francisco, CA")
    detector, params = DETECTORS["milestone_out_for_delivery"], params_for("milestone_out_for_delivery")

    with django_assert_max_num_queries(1):
        facts = detector.facts(shipment, NOW, params)

    assert (facts["hours_since_out_for_delivery"], facts["location"]) == (2.0, "San Francisco, CA")
    assert detector.explain(shipment, NOW, params) == (
        "UPS put the parcel out for delivery 2 hours ago in San Francisco, CA."
    )


# --- delivered ---------------------------------------------------------------------------------------------------


def test_it_announces_delivery_only_once_the_parcel_is_delivered():
    shipment = ShipmentFactory()
    record(shipment, S.OUT_FOR_DELIVERY, NOW - 4 * HOUR)
    assert not matches("milestone_delivered", shipment)

    record(shipment, S.DELIVERED, NOW - HOUR)

    assert matches("milestone_delivered", shipment)


def test_it_does_not_announce_delivery_without_a_delivery_time():
    shipment = ShipmentFactory(status=S.DELIVERED, delivered_at=None, last_event_at=NOW - HOUR)

    assert not matches("milestone_delivered", shipment)


def test_it_explains_delivery_with_where_and_the_carriers_words(django_assert_max_num_queries):
    shipment = ShipmentFactory(carrier="usps")
    record(shipment, S.DELIVERED, NOW - 3 * HOUR, location="San Francisco, CA", message="Left at front door")
    detector, params = DETECTORS["milestone_delivered"], params_for("milestone_delivered")

    with django_assert_max_num_queries(1):
        facts = detector.facts(shipment, NOW, params)

    assert (facts["hours_since_delivery"], facts["location"], facts["recent_hours"]) == (3.0, "San Francisco, CA", 24)
    assert detector.explain(shipment, NOW, params) == (
        'Delivered 3 hours ago in San Francisco, CA ("Left at front door").'
    )


@pytest.mark.parametrize("kind", MILESTONES)
def test_it_explains_a_milestone_without_tracking_events_and_records_json_ready_facts(kind):
    subject = BUILDERS[kind]()
    detector, params = DETECTORS[kind], params_for(kind)

    facts = detector.facts(subject, NOW, params)
    sentence = detector.explain(subject, NOW, params)

    assert all(isinstance(value, str | int | float | bool | type(None)) for value in facts.values())
    assert sentence.endswith(".")
    assert "ago" in sentence


# --- through the engine ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", MILESTONES)
def test_it_opens_one_case_per_subject_ever_even_after_it_was_resolved(kind):
    subjects = [BUILDERS[kind]() for _ in range(2)]
    old_news = BUILDERS[kind](timedelta(days=3))

    first = detector_sweep(kind, now=NOW)
    second = detector_sweep(kind, now=NOW)

    assert (first.opened, second.opened) == (2, 0)
    assert [len(cases_of(kind, s)) for s in subjects] == [1, 1]
    assert cases_of(kind, old_news) == []

    ExceptionCase.objects.filter(kind=kind).update(state=CaseState.RESOLVED, resolved_at=NOW)
    third = detector_sweep(kind, now=NOW)

    assert (third.candidates, third.opened) == (0, 0)
    assert ExceptionCase.objects.filter(kind=kind).count() == 2


@pytest.mark.parametrize("kind", MILESTONES)
def test_it_leaves_a_milestone_case_open_for_the_playbook_after_the_window_passes(kind):
    subject = BUILDERS[kind]()
    detector_sweep(kind, now=NOW)

    later = detector_sweep(kind, now=NOW + timedelta(days=3))

    assert later.resolved == 0
    assert [case.state for case in cases_of(kind, subject)] == [CaseState.OPEN]


def test_it_records_the_milestone_and_its_window_on_the_case():
    shipment = ShipmentFactory(carrier="usps")
    record(shipment, S.IN_TRANSIT, NOW - 3 * HOUR, location="Oakland, CA")

    detector_sweep("milestone_shipped", now=NOW)

    case = ExceptionCase.objects.get(kind="milestone_shipped")
    assert (case.shipment, case.order) == (shipment, shipment.order)
    assert case.explanation == "First carrier scan 3 hours ago in Oakland, CA."
    assert case.facts["thresholds"] == {"recent_hours": 24}
