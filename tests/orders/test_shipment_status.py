"""A shipment's status follows its newest event by occurred_at, whatever order events arrive in."""

import datetime as dt
import itertools
import random
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.choices import EventSource, ShipmentStatus
from orders.services import shipment_record_events, shipment_upsert
from orders.updates import ShipmentData, TrackingEventData
from tests.factories import ShipmentFactory

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def event(status: str, hours: float, key: str | None = None, **extra) -> TrackingEventData:
    return TrackingEventData(
        status=status, occurred_at=T0 + timedelta(hours=hours), dedupe_key=key or f"{status}@{hours}", **extra
    )


JOURNEY = [
    event(ShipmentStatus.LABEL_CREATED, 0),
    event(ShipmentStatus.IN_TRANSIT, 10, message="Accepted"),
    event(ShipmentStatus.IN_TRANSIT, 30, message="Arrived at hub"),
    event(ShipmentStatus.OUT_FOR_DELIVERY, 50),
    event(ShipmentStatus.DELIVERED, 55),
]


def state(shipment):
    shipment.refresh_from_db()
    return (
        shipment.status,
        shipment.first_scan_at,
        shipment.last_scan_at,
        shipment.delivered_at,
        shipment.events.count(),
    )


def test_it_takes_the_status_of_the_newest_event():
    shipment = ShipmentFactory()

    shipment_record_events(shipment=shipment, events=JOURNEY, source=EventSource.API)

    assert state(shipment) == (
        ShipmentStatus.DELIVERED,
        T0 + timedelta(hours=10),
        T0 + timedelta(hours=55),
        T0 + timedelta(hours=55),
        5,
    )


def test_a_late_older_event_is_stored_but_never_moves_the_status_backwards():
    shipment = ShipmentFactory()
    shipment_record_events(shipment=shipment, events=[JOURNEY[0], JOURNEY[3]], source=EventSource.API)

    added = shipment_record_events(shipment=shipment, events=[JOURNEY[1]], source=EventSource.API)

    shipment.refresh_from_db()
    assert added == 1
    assert shipment.status == ShipmentStatus.OUT_FOR_DELIVERY
    assert shipment.events.count() == 3
    assert shipment.first_scan_at == T0 + timedelta(hours=10)


@pytest.mark.parametrize("seed", range(5))
def test_any_arrival_order_ends_in_the_same_state_as_in_order_delivery(seed):
    in_order, shuffled = ShipmentFactory(), ShipmentFactory()
    for e in JOURNEY:
        shipment_record_events(shipment=in_order, events=[e], source=EventSource.API)
    deliveries = JOURNEY * 3  # each event delivered three times
    random.Random(seed).shuffle(deliveries)

    for e in deliveries:
        shipment_record_events(shipment=shuffled, events=[e], source=EventSource.API)

    assert state(shuffled) == state(in_order)


def test_a_redelivered_event_is_not_stored_twice():
    shipment = ShipmentFactory()
    shipment_record_events(shipment=shipment, events=JOURNEY, source=EventSource.API)

    added = shipment_record_events(shipment=shipment, events=JOURNEY, source=EventSource.API)

    assert added == 0
    assert shipment.events.count() == 5


def test_an_event_sent_twice_in_one_batch_is_stored_once():
    shipment = ShipmentFactory()

    added = shipment_record_events(shipment=shipment, events=[JOURNEY[1], JOURNEY[1]], source=EventSource.API)

    assert added == 1
    assert shipment.events.count() == 1


def test_new_events_cost_one_read_of_the_timeline_one_insert_and_one_update(django_assert_num_queries):
    shipment = ShipmentFactory()
    shipment_record_events(shipment=shipment, events=JOURNEY[:2], source=EventSource.API)

    with django_assert_num_queries(3):
        added = shipment_record_events(shipment=shipment, events=JOURNEY[1:4], source=EventSource.API)

    assert added == 2
    assert state(shipment)[0] == ShipmentStatus.OUT_FOR_DELIVERY


def test_a_carrier_update_with_a_new_estimate_and_a_new_scan_writes_the_parcel_once():
    shipment = ShipmentFactory(tracking_code="9400100000000000000001", carrier="usps")
    shipment_record_events(shipment=shipment, events=JOURNEY[:2], source=EventSource.API)
    estimate = T0 + timedelta(days=4)
    update = ShipmentData(tracking_code=shipment.tracking_code, carrier="usps", service_level="Priority Mail",
                          carrier_estimated_delivery=estimate, events=JOURNEY[:3])  # fmt: skip

    with CaptureQueriesContext(connection) as queries:
        shipment_upsert(store=shipment.store, data=update, source=EventSource.EASYPOST)

    writes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('UPDATE "orders_shipment"')]
    assert len(writes) == 1
    shipment.refresh_from_db()
    assert (shipment.service_level, shipment.carrier_estimated_delivery) == ("Priority Mail", estimate)
    assert shipment.last_scan_at == JOURNEY[2].occurred_at


def test_a_carrier_update_with_no_new_scan_still_saves_its_new_estimate():
    shipment = ShipmentFactory(tracking_code="9400100000000000000001", carrier="usps")
    shipment_record_events(shipment=shipment, events=JOURNEY[:2], source=EventSource.API)
    estimate = T0 + timedelta(days=5)

    shipment_upsert(store=shipment.store, source=EventSource.EASYPOST, data=ShipmentData(
        tracking_code=shipment.tracking_code, carrier="usps", carrier_estimated_delivery=estimate, events=JOURNEY[:2]
    ))  # fmt: skip

    shipment.refresh_from_db()
    assert shipment.carrier_estimated_delivery == estimate


def test_an_event_the_carrier_table_does_not_know_is_kept_but_does_not_set_the_status():
    shipment = ShipmentFactory()
    shipment_record_events(shipment=shipment, events=JOURNEY[:3], source=EventSource.API)

    shipment_record_events(
        shipment=shipment,
        events=[event(ShipmentStatus.UNKNOWN, 40, raw_status="XYZ", message="Carrier code XYZ")],
        source=EventSource.API,
    )

    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.IN_TRANSIT
    assert shipment.events.filter(status=ShipmentStatus.UNKNOWN, raw_status="XYZ").exists()


@pytest.mark.parametrize(
    "pair", list(itertools.permutations([ShipmentStatus.OUT_FOR_DELIVERY, ShipmentStatus.DELIVERED]))
)
def test_simultaneous_events_resolve_to_the_furthest_along_whatever_arrives_last(pair):
    shipment = ShipmentFactory()
    for status in pair:
        shipment_record_events(shipment=shipment, events=[event(status, 50)], source=EventSource.API)

    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.DELIVERED


def test_delivered_at_is_cleared_when_a_newer_event_says_it_was_not_delivered():
    shipment = ShipmentFactory()
    shipment_record_events(shipment=shipment, events=JOURNEY, source=EventSource.API)

    shipment_record_events(
        shipment=shipment, events=[event(ShipmentStatus.RETURNED_TO_SENDER, 80)], source=EventSource.API
    )

    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.RETURNED_TO_SENDER
    assert shipment.delivered_at is None


@time_machine.travel(T0 + timedelta(days=3), tick=False)
def test_label_only_shipments_have_no_scan_times():
    shipment = ShipmentFactory(label_created_at=T0)

    shipment_record_events(shipment=shipment, events=[JOURNEY[0]], source=EventSource.API)

    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.LABEL_CREATED
    assert shipment.first_scan_at is None and shipment.last_scan_at is None
