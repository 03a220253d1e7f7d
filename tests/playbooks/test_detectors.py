"""Detectors: each exception type matches just past its threshold, in one query, never on a cancelled
order, and lets go of its subject once the condition clears."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db.models import Model, QuerySet
from django.utils import timezone

from orders.choices import (
    AddressVerification,
    EventSource,
    FinancialStatus,
    FulfillmentStatus,
    ShipmentStatus,
    TicketReason,
)
from orders.connectors import aftership, easypost
from orders.models import Order, Shipment
from orders.services import payment_record, shipment_record_events
from orders.updates import OrderRef, PaymentData, TrackingEventData
from playbooks.detectors import DETECTORS, DETECTORS_PATHS
from playbooks.detectors.address_problem import ADDRESS_DETAILS
from playbooks.detectors.base import Detector
from playbooks.detectors.transit_stall import business_days_before, business_days_between
from playbooks.params import resolve_params
from tests.factories import OrderFactory, ReturnItemFactory, ReturnPolicyFactory, ShipmentFactory, TicketFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 6, 11, 12, 0, tzinfo=UTC)  # a Wednesday
MONDAY = datetime(2025, 6, 16, 12, 0, tzinfo=UTC)
JUST = timedelta(minutes=1)
S = ShipmentStatus


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    """Factories and services stamp timezone.now(); pin it to NOW, in UTC, so weekdays are known."""
    with time_machine.travel(NOW, tick=False), timezone.override("UTC"):
        yield


def params_for(kind: str, **given: Any) -> dict[str, Any]:
    return resolve_params(DETECTORS[kind].params, given)


def matches(kind: str, subject: Model, now: datetime = NOW, **given: Any) -> bool:
    return DETECTORS[kind].matching(now, params_for(kind, **given)).filter(pk=subject.pk).exists()


def record(shipment: Shipment, status: str, at: datetime, **raw: str) -> None:
    """A carrier scan arriving through the same service the connectors use."""
    event = TrackingEventData(status=status, occurred_at=at, dedupe_key=f"{status}@{at.isoformat()}", **raw)
    shipment_record_events(shipment=shipment, events=[event], source=EventSource.API)
    shipment.refresh_from_db()


def in_transit(first_scan: timedelta, last_scan: timedelta | None = None, now: datetime = NOW, **order: Any):
    return ShipmentFactory(
        order=OrderFactory(**order),
        status=S.IN_TRANSIT,
        label_created_at=now - first_scan - timedelta(hours=12),
        first_scan_at=now - first_scan,
        last_scan_at=now - (last_scan if last_scan is not None else timedelta(hours=6)),
    )


def delivered(ago: timedelta, **kwargs: Any) -> Shipment:
    return ShipmentFactory(status=S.DELIVERED, delivered_at=NOW - ago, last_event_at=NOW - ago, **kwargs)


def early_exchange() -> Order:
    """An approved exchange in a store whose policy ships exchanges before the return arrives."""
    order = ReturnItemFactory().return_request.order
    ReturnPolicyFactory(store=order.store, ship_exchange_early=True)
    return order


def claim(shipment: Shipment, at: datetime, reason: str = TicketReason.DELIVERY_PROBLEM, **kwargs: Any):
    return TicketFactory(store=shipment.store, order=shipment.order, reason=reason, created_at=at, **kwargs)


# One subject per detector that matches at NOW with the default parameters.
def _delivered_and_claimed() -> Shipment:
    shipment = delivered(timedelta(days=1))
    claim(shipment, NOW - timedelta(hours=2))
    return shipment


BUILDERS: dict[str, Callable[[], Model]] = {
    "no_first_scan": lambda: ShipmentFactory(label_created_at=NOW - timedelta(hours=50)),
    "transit_stall": lambda: in_transit(timedelta(days=6)),
    "late_to_ship": lambda: OrderFactory(promised_ship_by=NOW - timedelta(hours=1)),
    "failed_attempt": lambda: ShipmentFactory(status=S.ATTEMPTED_DELIVERY),
    "delivered_not_received": _delivered_and_claimed,
    "address_problem": lambda: OrderFactory(address_verification=AddressVerification.FAILED),
    "failed_payment": lambda: OrderFactory(financial_status=FinancialStatus.FAILED),
    "carrier_disruption": lambda: ShipmentFactory(status=S.EXCEPTION),
    "post_delivery": lambda: delivered(timedelta(days=3)),
    "return_exchange": early_exchange,
    "milestone_confirmed": lambda: OrderFactory(placed_at=NOW - timedelta(hours=2)),
    "milestone_shipped": lambda: ShipmentFactory(status=S.IN_TRANSIT, first_scan_at=NOW - timedelta(hours=3)),
    "milestone_out_for_delivery": lambda: ShipmentFactory(
        status=S.OUT_FOR_DELIVERY, last_event_at=NOW - timedelta(hours=2)
    ),
    "milestone_delivered": lambda: delivered(timedelta(hours=3)),
}
SUBJECT_MODELS = {"shipment": Shipment, "order": Order}


# --- the contract ------------------------------------------------------------------------------------------------


def test_it_has_a_matching_subject_builder_for_every_registered_detector():
    assert set(BUILDERS) == set(DETECTORS_PATHS)


@pytest.mark.parametrize("kind", DETECTORS_PATHS)
def test_it_registers_each_detector_under_its_own_kind_with_a_label_and_a_subject(kind):
    detector = DETECTORS[kind]

    assert isinstance(detector, Detector)
    assert detector.kind == kind
    assert detector.label.strip()
    assert detector.subject in SUBJECT_MODELS


def test_it_gives_every_detector_a_unique_kind_and_label():
    detectors = DETECTORS.all()

    assert len({d.kind for d in detectors}) == len(detectors)
    assert len({d.label for d in detectors}) == len(detectors)


@pytest.mark.parametrize("kind", DETECTORS_PATHS)
def test_it_documents_every_param_with_a_help_text_and_a_valid_default(kind):
    for name, param in DETECTORS[kind].params.items():
        assert param.help.strip(), name
        assert param.clean(name, param.default) == param.default


@pytest.mark.parametrize("kind", DETECTORS_PATHS)
def test_it_returns_a_queryset_of_the_subject_model(kind):
    detector = DETECTORS[kind]

    found = detector.matching(NOW, params_for(kind))

    assert isinstance(found, QuerySet)
    assert found.model is SUBJECT_MODELS[detector.subject]


@pytest.mark.parametrize("kind", DETECTORS_PATHS)
def test_it_finds_every_match_in_one_query(kind, django_assert_max_num_queries):
    subjects = [BUILDERS[kind]() for _ in range(3)]
    detector = DETECTORS[kind]
    params = params_for(kind)

    with django_assert_max_num_queries(1):
        found = list(detector.matching(NOW, params))

    assert {s.pk for s in subjects} <= {s.pk for s in found}


@pytest.mark.parametrize("kind", DETECTORS_PATHS)
def test_it_never_matches_a_cancelled_order(kind):
    subject = BUILDERS[kind]()
    order = subject if isinstance(subject, Order) else subject.order
    assert matches(kind, subject)

    order.cancelled_at = NOW - timedelta(hours=1)
    order.save()

    assert not matches(kind, subject)


@pytest.mark.parametrize("kind", DETECTORS_PATHS)
def test_it_explains_and_records_json_ready_facts_for_a_match(kind):
    subject = BUILDERS[kind]()
    detector, params = DETECTORS[kind], params_for(kind)

    facts = detector.facts(subject, NOW, params)
    sentence = detector.explain(subject, NOW, params)

    assert facts
    assert all(isinstance(value, str | int | float | bool | list | type(None)) for value in facts.values())
    assert sentence.endswith(".")


# --- no_first_scan -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("since_label", "expected"),
    [(timedelta(hours=47, minutes=59), False), (timedelta(hours=48, minutes=1), True)],
)
def test_it_flags_a_label_with_no_scan_only_after_48_hours(since_label, expected):
    shipment = ShipmentFactory(label_created_at=NOW - since_label)

    assert matches("no_first_scan", shipment) is expected


def test_it_uses_the_hours_a_manager_configured_for_the_first_scan():
    shipment = ShipmentFactory(label_created_at=NOW - timedelta(hours=25))

    assert not matches("no_first_scan", shipment)
    assert matches("no_first_scan", shipment, hours=24)


def test_it_lets_go_of_a_label_once_the_first_scan_arrives():
    shipment = ShipmentFactory(label_created_at=NOW - timedelta(hours=60))
    assert matches("no_first_scan", shipment)

    record(shipment, S.IN_TRANSIT, NOW - timedelta(hours=1))

    assert shipment.first_scan_at == NOW - timedelta(hours=1)
    assert not matches("no_first_scan", shipment)


def test_it_ignores_a_cancelled_label():
    shipment = ShipmentFactory(label_created_at=NOW - timedelta(hours=60), status=S.CANCELLED)

    assert not matches("no_first_scan", shipment)


def test_it_explains_a_missing_first_scan_with_the_hours_and_the_threshold():
    shipment = ShipmentFactory(label_created_at=NOW - timedelta(hours=50), carrier="ups")
    detector, params = DETECTORS["no_first_scan"], params_for("no_first_scan")

    assert detector.facts(shipment, NOW, params) == {
        "carrier": "ups",
        "tracking_code": shipment.tracking_code,
        "label_created_at": (NOW - timedelta(hours=50)).isoformat(),
        "hours_since_label": 50.0,
        "threshold_hours": 48,
    }
    assert detector.explain(shipment, NOW, params) == (
        "Label created 50 hours ago and no carrier scan yet (threshold: 48 hours)."
    )


# --- transit_stall -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "international", "expected"),
    [(4.9, False, False), (5.1, False, True), (9.9, True, False), (10.1, True, True)],
)
def test_it_flags_a_parcel_in_transit_longer_than_its_destination_allows(days, international, expected):
    shipment = in_transit(timedelta(days=days), is_international=international)

    assert matches("transit_stall", shipment) is expected


@pytest.mark.parametrize(("quiet_for", "expected"), [(2.9, False), (3.1, True)])
def test_it_flags_a_parcel_with_no_scan_for_three_days_even_early_in_its_journey(quiet_for, expected):
    shipment = in_transit(timedelta(days=3.5), last_scan=timedelta(days=quiet_for))

    assert matches("transit_stall", shipment) is expected


@pytest.mark.parametrize(
    ("days", "international", "expected"),
    [(6.9, True, False), (7.1, True, True), (7.1, False, False), (11.9, False, False), (12.1, False, True)],
)
def test_it_applies_each_destinations_limit_when_international_parcels_get_the_shorter_one(
    days, international, expected
):
    # The query first narrows on the later of the two transit cut-offs: whichever destination has it.
    shipment = in_transit(timedelta(days=days), is_international=international)

    assert matches("transit_stall", shipment, domestic_days=12, international_days=7) is expected


def test_it_flags_a_quiet_parcel_well_within_its_transit_time_in_business_days():
    # Last scanned on the Wednesday before: three business days of silence by Monday noon.
    shipment = in_transit(timedelta(days=6.5), last_scan=timedelta(days=5.1), now=MONDAY, is_international=True)

    assert matches("transit_stall", shipment, now=MONDAY, business_days=True)
    assert not matches("transit_stall", shipment, now=MONDAY, business_days=True, quiet_days=4)


@pytest.mark.parametrize("status", [S.OUT_FOR_DELIVERY, S.ATTEMPTED_DELIVERY, S.DELIVERED, S.EXCEPTION])
def test_it_only_watches_parcels_in_transit(status):
    shipment = in_transit(timedelta(days=12))
    Shipment.objects.filter(pk=shipment.pk).update(status=status)

    assert not matches("transit_stall", shipment)


def test_it_lets_go_of_a_quiet_parcel_once_a_new_scan_arrives():
    shipment = ShipmentFactory(label_created_at=NOW - timedelta(days=5))
    record(shipment, S.IN_TRANSIT, NOW - timedelta(days=4))
    assert matches("transit_stall", shipment)

    record(shipment, S.IN_TRANSIT, NOW - timedelta(hours=2))

    assert not matches("transit_stall", shipment)


def test_it_lets_go_of_a_late_parcel_once_it_is_delivered():
    shipment = ShipmentFactory(label_created_at=NOW - timedelta(days=8))
    record(shipment, S.IN_TRANSIT, NOW - timedelta(days=7))
    record(shipment, S.IN_TRANSIT, NOW - timedelta(hours=5))
    assert matches("transit_stall", shipment)

    record(shipment, S.DELIVERED, NOW - timedelta(hours=1))

    assert not matches("transit_stall", shipment)


@pytest.mark.parametrize(
    ("now", "n", "expected"),
    [
        (MONDAY, 1, datetime(2025, 6, 13, 12, tzinfo=UTC)),  # Friday, same time of day
        (MONDAY, 5, datetime(2025, 6, 9, 12, tzinfo=UTC)),  # a full working week back
        (NOW, 2, datetime(2025, 6, 9, 12, tzinfo=UTC)),  # Wednesday -> Monday, no weekend crossed
        (datetime(2025, 6, 14, 15, tzinfo=UTC), 1, datetime(2025, 6, 13, 0, tzinfo=UTC)),  # Saturday
        (datetime(2025, 6, 15, 15, tzinfo=UTC), 1, datetime(2025, 6, 13, 0, tzinfo=UTC)),  # Sunday
    ],
)
def test_it_counts_business_days_back_without_weekend_time(now, n, expected):
    assert business_days_before(now, n) == expected


def test_it_measures_business_days_between_two_moments_without_weekends():
    thursday_11 = datetime(2025, 6, 12, 11, tzinfo=UTC)

    assert business_days_between(thursday_11, MONDAY) == pytest.approx(49 / 24)
    assert business_days_between(MONDAY, thursday_11) == 0


def test_it_does_not_count_a_weekend_towards_transit_time_in_business_days():
    # Scanned last Wednesday: 5.1 calendar days, but only 3.1 business days by Monday noon.
    shipment = in_transit(timedelta(days=5.1), now=MONDAY)

    assert matches("transit_stall", shipment, now=MONDAY)
    assert not matches("transit_stall", shipment, now=MONDAY, business_days=True)


@pytest.mark.parametrize(("before_threshold", "expected"), [(-JUST * 60, False), (JUST * 60, True)])
def test_it_flags_transit_just_past_five_business_days(before_threshold, expected):
    # Five business days before Monday noon is the previous Monday noon.
    shipment = ShipmentFactory(
        status=S.IN_TRANSIT,
        first_scan_at=datetime(2025, 6, 9, 12, tzinfo=UTC) - before_threshold,
        last_scan_at=MONDAY - timedelta(hours=3),
    )

    assert matches("transit_stall", shipment, now=MONDAY, business_days=True) is expected


def test_it_does_not_count_a_weekend_towards_the_quiet_days_in_business_days():
    # Last scan Thursday 11:00: 4 calendar days of silence, 2.04 business days by Monday noon.
    shipment = in_transit(timedelta(days=4.2), last_scan=MONDAY - datetime(2025, 6, 12, 11, tzinfo=UTC), now=MONDAY)

    assert matches("transit_stall", shipment, now=MONDAY)
    assert not matches("transit_stall", shipment, now=MONDAY, business_days=True)


def test_it_records_which_transit_rule_tripped_with_the_thresholds():
    shipment = in_transit(timedelta(days=11), last_scan=timedelta(days=4), is_international=True)
    detector, params = DETECTORS["transit_stall"], params_for("transit_stall")

    facts = detector.facts(shipment, NOW, params)

    assert facts == {
        "carrier": shipment.carrier,
        "tracking_code": shipment.tracking_code,
        "destination": "international",
        "first_scan_at": (NOW - timedelta(days=11)).isoformat(),
        "last_scan_at": (NOW - timedelta(days=4)).isoformat(),
        "days_in_transit": 11.0,
        "days_since_last_scan": 4.0,
        "rules": ["transit_time", "no_recent_scan"],
        "threshold_days": 10,
        "quiet_days": 3,
        "domestic_days": 5,
        "international_days": 10,
        "business_days": False,
    }
    assert detector.explain(shipment, NOW, params) == (
        "In transit for 11 days (threshold: 10 days for international parcels); "
        "no carrier scan for 4 days (threshold: 3 days)."
    )


def test_it_explains_a_stall_in_business_days_when_asked_to():
    shipment = in_transit(timedelta(days=7, hours=1), now=MONDAY)
    detector, params = DETECTORS["transit_stall"], params_for("transit_stall", business_days=True)

    facts = detector.facts(shipment, MONDAY, params)

    assert facts["rules"] == ["transit_time"]
    assert facts["business_days_in_transit"] == 5.0
    assert detector.explain(shipment, MONDAY, params) == (
        "In transit for 5 business days (threshold: 5 business days for domestic parcels)."
    )


# --- late_to_ship ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("late_by", "expected"), [(-JUST, False), (JUST, True)])
def test_it_flags_a_paid_order_just_past_its_ship_by_promise(late_by, expected):
    order = OrderFactory(promised_ship_by=NOW - late_by)

    assert matches("late_to_ship", order) is expected


def test_it_waits_for_the_grace_hours_before_calling_an_order_late():
    order = OrderFactory(promised_ship_by=NOW - timedelta(hours=3))

    assert not matches("late_to_ship", order, grace_hours=4)
    assert matches("late_to_ship", order, grace_hours=2)


@pytest.mark.parametrize(
    "fields",
    [
        {"financial_status": FinancialStatus.PENDING},
        {"financial_status": FinancialStatus.REFUNDED},
        {"fulfillment_status": FulfillmentStatus.FULFILLED},
        {"fulfillment_status": FulfillmentStatus.PARTIAL},
        {"promised_ship_by": None},
    ],
)
def test_it_only_calls_paid_unfulfilled_promised_orders_late(fields):
    order = OrderFactory(**{"promised_ship_by": NOW - timedelta(days=1), **fields})

    assert not matches("late_to_ship", order)


def test_it_lets_go_of_a_late_order_once_a_shipment_exists():
    order = OrderFactory(promised_ship_by=NOW - timedelta(days=1))
    assert matches("late_to_ship", order)

    ShipmentFactory(order=order)

    assert not matches("late_to_ship", order)


def test_it_still_calls_an_order_late_when_its_only_label_was_voided():
    order = OrderFactory(promised_ship_by=NOW - timedelta(days=1))
    ShipmentFactory(order=order, status=S.CANCELLED)

    assert matches("late_to_ship", order)


def test_it_explains_a_late_order_with_the_promise_and_the_hours_late():
    order = OrderFactory(order_number="1042", promised_ship_by=datetime(2025, 6, 10, 17, 30, tzinfo=UTC))
    detector, params = DETECTORS["late_to_ship"], params_for("late_to_ship")

    facts = detector.facts(order, NOW, params)

    assert facts["promised_ship_by"] == "2025-06-10T17:30:00+00:00"
    assert facts["hours_late"] == 18.5
    assert facts["grace_hours"] == 0
    assert detector.explain(order, NOW, params) == (
        "Promised to ship by 2025-06-10 17:30 UTC; 18.5 hours late and nothing has shipped (grace: 0 hours)."
    )


# --- failed_attempt ----------------------------------------------------------------------------------------------


def test_it_flags_a_failed_delivery_attempt_and_lets_go_once_delivered():
    shipment = ShipmentFactory()
    record(shipment, S.IN_TRANSIT, NOW - timedelta(days=2))
    assert not matches("failed_attempt", shipment)

    record(shipment, S.ATTEMPTED_DELIVERY, NOW - timedelta(hours=3))
    assert matches("failed_attempt", shipment)

    record(shipment, S.DELIVERED, NOW - timedelta(hours=1))
    assert not matches("failed_attempt", shipment)


def test_it_treats_a_failed_attempt_as_an_event_not_a_timer():
    assert DETECTORS["failed_attempt"].time_based is False


def test_it_explains_a_failed_attempt_with_the_carriers_words():
    shipment = ShipmentFactory(carrier="ups")
    record(
        shipment,
        S.ATTEMPTED_DELIVERY,
        NOW - timedelta(hours=5),
        raw_status="AttemptFail",
        raw_detail="AttemptFail_002",
        message="Addressee not available",
    )
    detector, params = DETECTORS["failed_attempt"], params_for("failed_attempt")

    facts = detector.facts(shipment, NOW, params)

    assert facts["hours_since_attempt"] == 5.0
    assert (facts["raw_status"], facts["raw_detail"]) == ("AttemptFail", "AttemptFail_002")
    assert detector.explain(shipment, NOW, params) == (
        'UPS tried to deliver 5 hours ago and could not ("Addressee not available"); '
        "the parcel is waiting for a retry or a pickup."
    )


# --- delivered_not_received --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("after_delivery", "expected"), [(-JUST, False), (timedelta(0), True), (JUST, True)])
def test_it_flags_a_delivery_the_customer_disputes_at_or_after_the_delivery_scan(after_delivery, expected):
    shipment = delivered(timedelta(days=1))
    claim(shipment, shipment.delivered_at + after_delivery)

    assert matches("delivered_not_received", shipment) is expected


def test_it_ignores_other_contacts_and_other_orders_claims():
    shipment = delivered(timedelta(days=1))
    claim(shipment, NOW - timedelta(hours=1), reason=TicketReason.WISMO)
    other = delivered(timedelta(days=1), order=OrderFactory(store=shipment.store))
    claim(other, NOW - timedelta(hours=1))

    assert not matches("delivered_not_received", shipment)
    assert matches("delivered_not_received", other)


def test_it_needs_the_parcel_to_be_marked_delivered():
    shipment = ShipmentFactory(status=S.OUT_FOR_DELIVERY)
    claim(shipment, NOW - timedelta(hours=1))

    assert not matches("delivered_not_received", shipment)


def test_it_leaves_a_delivery_claim_to_a_person_to_resolve():
    detector = DETECTORS["delivered_not_received"]

    assert detector.resolves_when_cleared is False
    assert detector.time_based is False


def test_it_explains_a_disputed_delivery_with_the_claim():
    shipment = delivered(timedelta(days=1), carrier="fedex")
    claim(shipment, NOW - timedelta(hours=2), channel="chat")
    ticket = claim(shipment, NOW - timedelta(hours=20))
    detector, params = DETECTORS["delivered_not_received"], params_for("delivered_not_received")

    facts = detector.facts(shipment, NOW, params)

    assert facts["claim_ticket_id"] == ticket.pk  # the first claim
    assert facts["hours_from_delivery_to_claim"] == 4.0
    assert detector.explain(shipment, NOW, params) == (
        "FEDEX marked the parcel delivered on 2025-06-10, and the customer reported a delivery problem "
        f"4 hours later (ticket {ticket.pk})."
    )


# --- address_problem ---------------------------------------------------------------------------------------------


def test_it_counts_only_address_sub_statuses_the_connectors_know_and_call_an_exception():
    for detail in ADDRESS_DETAILS:
        known = {**aftership.status_map, **easypost._PROBLEM_DETAILS}
        assert known.get(detail) == S.EXCEPTION, detail


@pytest.mark.parametrize(
    ("verification", "expected"),
    [
        (AddressVerification.FAILED, True),
        (AddressVerification.VERIFIED, False),
        (AddressVerification.UNVERIFIED, False),
    ],
)
def test_it_flags_an_order_whose_address_failed_verification(verification, expected):
    order = OrderFactory(address_verification=verification)

    assert matches("address_problem", order) is expected


def test_it_flags_an_unverified_address_once_the_order_is_fulfilled_when_turned_on():
    order = OrderFactory(address_verification=AddressVerification.UNVERIFIED)
    ShipmentFactory(order=order, status=S.CANCELLED)
    assert not matches("address_problem", order, flag_unverified_at_fulfillment=True)

    ShipmentFactory(order=order)

    assert matches("address_problem", order, flag_unverified_at_fulfillment=True)
    # Off by default: Shopify and CSV orders never carry a verification result.
    assert not matches("address_problem", order)


def test_it_keeps_flagging_a_failed_address_when_unverified_ones_are_flagged_too():
    failed = OrderFactory(address_verification=AddressVerification.FAILED)
    unverified = OrderFactory(address_verification=AddressVerification.UNVERIFIED)
    ShipmentFactory(order=unverified)
    cancelled = OrderFactory(address_verification=AddressVerification.UNVERIFIED, cancelled_at=NOW)
    ShipmentFactory(order=cancelled)

    found = set(
        DETECTORS["address_problem"].matching(NOW, params_for("address_problem", flag_unverified_at_fulfillment=True))
    )

    assert found == {failed, unverified}


def test_it_leaves_out_an_order_delivered_to_its_doubtful_address_whichever_rule_flagged_it():
    failed = OrderFactory(address_verification=AddressVerification.FAILED)
    unverified = OrderFactory(address_verification=AddressVerification.UNVERIFIED)
    for order in (failed, unverified):
        ShipmentFactory(order=order, status=S.DELIVERED, delivered_at=NOW - timedelta(days=1))
        ShipmentFactory(order=order)  # a second parcel still on its way does not make the address doubtful

    assert not matches("address_problem", failed, flag_unverified_at_fulfillment=True)
    assert not matches("address_problem", unverified, flag_unverified_at_fulfillment=True)


@pytest.mark.parametrize(
    ("raw_status", "raw_detail", "status", "expected"),
    [
        ("in_transit", "address_correction", S.EXCEPTION, True),  # EasyPost
        ("Exception", "Exception_007", S.EXCEPTION, True),  # AfterShip: incorrect address
        ("Exception", "Exception_002", S.EXCEPTION, True),  # AfterShip: customer moved
        ("Exception", "Exception_005", S.EXCEPTION, False),  # AfterShip: delayed
        ("failure", "", S.EXCEPTION, False),  # Shopify
    ],
)
def test_it_flags_an_order_whose_carrier_reported_an_address_issue(raw_status, raw_detail, status, expected):
    order = OrderFactory(address_verification=AddressVerification.VERIFIED)
    shipment = ShipmentFactory(order=order)
    record(shipment, S.IN_TRANSIT, NOW - timedelta(days=2))
    record(shipment, status, NOW - timedelta(hours=2), raw_status=raw_status, raw_detail=raw_detail)

    assert matches("address_problem", order) is expected


def test_it_lets_go_of_a_carrier_address_issue_once_the_parcel_moves_on():
    order = OrderFactory(address_verification=AddressVerification.VERIFIED)
    shipment = ShipmentFactory(order=order)
    record(shipment, S.ATTEMPTED_DELIVERY, NOW - timedelta(hours=5), raw_detail="Exception_007")
    assert matches("address_problem", order)

    record(shipment, S.OUT_FOR_DELIVERY, NOW - timedelta(hours=1))

    assert not matches("address_problem", order)


def test_it_lets_go_of_an_address_once_it_is_verified_or_a_parcel_is_delivered_there():
    order = OrderFactory(address_verification=AddressVerification.FAILED)
    shipment = ShipmentFactory(order=order)
    assert matches("address_problem", order)

    Shipment.objects.filter(pk=shipment.pk).update(status=S.DELIVERED, delivered_at=NOW)
    assert not matches("address_problem", order)

    Shipment.objects.filter(pk=shipment.pk).update(status=S.IN_TRANSIT, delivered_at=None)
    Order.objects.filter(pk=order.pk).update(address_verification=AddressVerification.VERIFIED)
    assert not matches("address_problem", order)


def test_it_watches_a_doubtful_address_for_a_month_after_the_order_and_a_carriers_report_whenever_it_comes():
    recent = OrderFactory(address_verification=AddressVerification.FAILED, placed_at=NOW - timedelta(days=29))
    old = OrderFactory(address_verification=AddressVerification.FAILED, placed_at=NOW - timedelta(days=31))
    reported = OrderFactory(address_verification=AddressVerification.VERIFIED, placed_at=NOW - timedelta(days=90))
    record(ShipmentFactory(order=reported), S.EXCEPTION, NOW - timedelta(hours=2), raw_detail="Exception_007")

    assert matches("address_problem", recent)
    assert not matches("address_problem", old)
    assert matches("address_problem", reported)
    assert matches("address_problem", old, within_days=45)


def test_it_says_why_it_let_go_of_an_address_once_the_order_is_past_the_window():
    order = OrderFactory(address_verification=AddressVerification.FAILED, placed_at=NOW - timedelta(days=31))
    detector, params = DETECTORS["address_problem"], params_for("address_problem")

    assert detector.facts(order, NOW, params)["rules"] == []
    assert detector.explain(order, NOW, params) == (
        "The order is more than 30 days old: its address is no longer watched."
    )


def test_it_explains_an_address_problem_with_the_carriers_report():
    order = OrderFactory(address_verification=AddressVerification.FAILED)
    shipment = ShipmentFactory(order=order, carrier="dhl", tracking_code="JD014600")
    record(
        shipment,
        S.EXCEPTION,
        NOW - timedelta(hours=2),
        raw_status="Exception",
        raw_detail="Exception_007",
        message="Incorrect address",
    )
    detector, params = DETECTORS["address_problem"], params_for("address_problem")

    facts = detector.facts(order, NOW, params)

    assert facts["rules"] == ["verification_failed", "carrier_reported"]
    assert facts["carrier_reports"][0]["raw_detail"] == "Exception_007"
    assert detector.explain(order, NOW, params) == (
        "The shipping address failed verification; the carrier reported an address issue on 1 scan(s), "
        'latest Exception_007 on DHL JD014600: "Incorrect address".'
    )


# --- failed_payment ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [(FinancialStatus.FAILED, True), (FinancialStatus.PENDING, False), (FinancialStatus.PAID, False)],
)
def test_it_flags_an_order_whose_payment_failed(status, expected):
    order = OrderFactory(financial_status=status)

    assert matches("failed_payment", order) is expected


def test_it_lets_go_of_a_failed_payment_once_the_order_is_paid():
    order = OrderFactory(financial_status=FinancialStatus.FAILED, payment_reference="pi_123")
    assert matches("failed_payment", order)

    payment_record(store=order.store, data=PaymentData(order=OrderRef(payment_reference="pi_123"), succeeded=True))

    assert not matches("failed_payment", order)


def test_it_explains_a_failed_payment_with_the_amount():
    order = OrderFactory(
        order_number="1001", financial_status=FinancialStatus.FAILED, placed_at=NOW - timedelta(hours=26)
    )
    detector, params = DETECTORS["failed_payment"], params_for("failed_payment")

    assert detector.facts(order, NOW, params)["total"] == "59.00"
    assert detector.explain(order, NOW, params) == (
        "Payment failed for order 1001 (59.00 USD), placed 26 hours ago; nothing ships until it is paid."
    )


# --- carrier_disruption ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [(S.EXCEPTION, True), (S.RETURNED_TO_SENDER, True), (S.IN_TRANSIT, False), (S.ATTEMPTED_DELIVERY, False)],
)
def test_it_flags_a_carrier_exception_or_a_return_to_sender(status, expected):
    shipment = ShipmentFactory()
    record(shipment, status, NOW - timedelta(hours=1))

    assert matches("carrier_disruption", shipment) is expected


def test_it_lets_go_of_a_carrier_exception_once_the_parcel_moves_again():
    shipment = ShipmentFactory()
    record(shipment, S.EXCEPTION, NOW - timedelta(hours=10))
    assert matches("carrier_disruption", shipment)

    record(shipment, S.IN_TRANSIT, NOW - timedelta(hours=1))

    assert not matches("carrier_disruption", shipment)


def test_it_explains_a_carrier_exception_with_the_newest_event():
    shipment = ShipmentFactory(carrier="usps")
    record(shipment, S.IN_TRANSIT, NOW - timedelta(days=2), message="Departed facility")
    record(
        shipment,
        S.EXCEPTION,
        NOW - timedelta(hours=3),
        raw_status="in_transit",
        raw_detail="weather_delay",
        message="Delayed by weather",
    )
    detector, params = DETECTORS["carrier_disruption"], params_for("carrier_disruption")

    facts = detector.facts(shipment, NOW, params)

    assert (facts["message"], facts["raw_status"], facts["raw_detail"]) == (
        "Delayed by weather",
        "in_transit",
        "weather_delay",
    )
    assert facts["hours_since"] == 3.0
    assert detector.explain(shipment, NOW, params) == (
        'USPS reported an exception 3 hours ago ("Delayed by weather", in_transit/weather_delay).'
    )


# --- post_delivery -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("since_delivery", "expected"),
    [
        (timedelta(hours=47, minutes=59), False),
        (timedelta(hours=48, minutes=1), True),
        (timedelta(days=9) - JUST, True),
        (timedelta(days=9) + JUST, False),  # past the 7-day window: never swept in late
    ],
)
def test_it_checks_in_after_two_days_and_only_within_the_window(since_delivery, expected):
    shipment = delivered(since_delivery)

    assert matches("post_delivery", shipment) is expected


def test_it_resolves_post_delivery_care_once_the_playbook_acted():
    assert DETECTORS["post_delivery"].resolves_when_acted is True


def test_it_explains_post_delivery_care_with_the_days():
    shipment = delivered(timedelta(days=3))
    detector, params = DETECTORS["post_delivery"], params_for("post_delivery")

    assert detector.facts(shipment, NOW, params)["days_since_delivery"] == 3.0
    assert detector.explain(shipment, NOW, params) == (
        "Delivered 3 days ago: time for a post-delivery check-in (after 2 days, up to 9 days after delivery)."
    )
