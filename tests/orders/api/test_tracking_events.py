"""POST /tracking-events/ and /tracking-events/bulk/: carrier scans for shipments the store has."""

import json
from datetime import UTC, datetime

import pytest

from orders.models import Shipment, Store, TrackingEvent
from tests.factories import OrderFactory, ShipmentFactory, StoreFactory
from tests.orders.api import NAIVE, client_for, db_state

pytestmark = pytest.mark.django_db

EVENTS = "/api/v1/tracking-events/"
BULK = "/api/v1/tracking-events/bulk/"


@pytest.fixture
def store() -> Store:
    return StoreFactory(slug="acme")


@pytest.fixture
def api(store):
    return client_for(store)


@pytest.fixture
def shipment(store) -> Shipment:
    order = OrderFactory(store=store, order_number="1001")
    return ShipmentFactory(order=order, carrier="usps", tracking_code="9400100000000000000001")


def event(**overrides) -> dict:
    payload = {
        "tracking_code": "9400100000000000000001",
        "carrier": "USPS",
        "status": "in_transit",
        "occurred_at": "2025-03-02T08:00:00-05:00",
        "message": "Arrived at USPS facility",
        "location": "Oakland, CA",
        "raw_status": "IN_TRANSIT",
        "raw_detail": "arrived_at_facility",
    }
    return {**payload, **overrides}


# --- One event -------------------------------------------------------------------------------------------


def test_it_records_an_event_and_answers_the_shipment_with_its_new_status(api, shipment):
    response = api.post(EVENTS, event(event_id="wms-1"), format="json")

    assert response.status_code == 201
    body = response.json()
    assert (body["order_number"], body["status"], body["last_scan_at"]) == (
        "1001",
        "in_transit",
        "2025-03-02T13:00:00Z",
    )
    assert body["events"] == [
        {
            "status": "in_transit",
            "message": "Arrived at USPS facility",
            "location": "Oakland, CA",
            "occurred_at": "2025-03-02T13:00:00Z",
            "raw_status": "IN_TRANSIT",
            "raw_detail": "arrived_at_facility",
            "source": "api",
        }
    ]
    stored = TrackingEvent.objects.get()
    assert (stored.shipment, stored.dedupe_key, stored.source) == (shipment, "api:wms-1", "api")
    shipment.refresh_from_db()
    assert shipment.status == "in_transit"


def test_it_stores_a_repeated_event_id_once_and_answers_200(api, shipment):
    api.post(EVENTS, event(event_id="wms-1"), format="json")

    response = api.post(EVENTS, event(event_id="wms-1", message="Retried"), format="json")

    assert response.status_code == 200
    assert TrackingEvent.objects.count() == 1


def test_it_stores_a_retried_event_without_an_id_once(api, shipment):
    first = api.post(EVENTS, event(), format="json")
    # The same instant written with another offset is the same scan.
    retry = api.post(EVENTS, event(occurred_at="2025-03-02T13:00:00Z"), format="json")

    assert (first.status_code, retry.status_code) == (201, 200)
    assert TrackingEvent.objects.count() == 1
    assert TrackingEvent.objects.get().dedupe_key.startswith("api:auto:")


def test_it_stores_two_different_events_without_ids(api, shipment):
    api.post(EVENTS, event(), format="json")
    api.post(EVENTS, event(status="delivered", message="Delivered", occurred_at="2025-03-03T12:00:00Z"), format="json")

    shipment.refresh_from_db()
    assert TrackingEvent.objects.count() == 2
    assert (shipment.status, shipment.delivered_at) == ("delivered", datetime(2025, 3, 3, 12, tzinfo=UTC))


def test_it_never_moves_the_status_back_for_a_late_older_event(api, shipment):
    api.post(EVENTS, event(status="delivered", occurred_at="2025-03-03T12:00:00Z"), format="json")

    response = api.post(EVENTS, event(status="in_transit", occurred_at="2025-03-02T12:00:00Z"), format="json")

    assert response.status_code == 201
    assert response.json()["status"] == "delivered"


def test_it_finds_the_shipment_by_tracking_code_whatever_the_carrier_is_called(api, shipment):
    response = api.post(EVENTS, event(carrier="United States Postal Service"), format="json")

    assert response.status_code == 201


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        pytest.param(
            event(tracking_code="UNKNOWN"),
            {"tracking_code": ["No shipment with this tracking code in this store."]},
            id="unknown tracking code",
        ),
        pytest.param(event(status="lost"), {"status": ['"lost" is not a valid choice.']}, id="unknown status"),
        pytest.param(
            event(status="In Transit"),
            {"status": ['"In Transit" is not a valid choice.']},
            id="a status label, not a value",
        ),
        pytest.param(event(status=None), {"status": ["This field may not be null."]}, id="null status"),
        pytest.param(
            {k: v for k, v in event().items() if k != "occurred_at"},
            {"occurred_at": ["This field is required."]},
            id="no occurred_at",
        ),
        pytest.param(event(occurred_at="2025-03-02T08:00:00"), {"occurred_at": [NAIVE]}, id="naive occurred_at"),
        pytest.param(
            event(message="x" * 501),
            {"message": ["Ensure this field has no more than 500 characters."]},
            id="message too long",
        ),
        pytest.param(
            event(event_id="e" * 197),
            {"event_id": ["Ensure this field has no more than 196 characters."]},
            id="event id too long",
        ),
        pytest.param(
            "in_transit",
            {"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]},
            id="a string instead of an object",
        ),
    ],
)
def test_it_rejects_a_bad_event_naming_the_field_and_changes_nothing(api, shipment, payload, errors):
    before = db_state()

    response = api.post(EVENTS, payload, format="json")

    assert response.status_code == 400
    assert response.json() == errors
    assert db_state() == before


# --- Bulk ------------------------------------------------------------------------------------------------


def test_it_records_a_bulk_of_events_and_counts_new_and_duplicates(api, store, shipment):
    other = ShipmentFactory(order=OrderFactory(store=store), carrier="ups", tracking_code="1Z2")
    api.post(EVENTS, event(event_id="seen"), format="json")
    events = [
        event(event_id="seen"),
        event(event_id="a", occurred_at="2025-03-02T09:00:00Z"),
        event(event_id="b", status="delivered", occurred_at="2025-03-03T09:00:00Z"),
        event(event_id="b", status="delivered", occurred_at="2025-03-03T09:00:00Z"),  # repeated in the request
        event(tracking_code="1Z2", carrier="UPS", status="out_for_delivery", occurred_at="2025-03-03T07:00:00Z"),
    ]

    response = api.post(BULK, {"events": events}, format="json")

    assert response.status_code == 200
    assert response.json() == {"received": 5, "new": 3, "duplicates": 2}
    shipment.refresh_from_db()
    other.refresh_from_db()
    assert (shipment.status, other.status) == ("delivered", "out_for_delivery")
    assert sorted(shipment.events.values_list("dedupe_key", flat=True)) == ["api:a", "api:b", "api:seen"]


def test_it_stores_nothing_when_one_item_of_a_bulk_is_invalid(api, shipment):
    before = db_state()
    events = [event(event_id=str(i)) for i in range(5)]
    events[3]["status"] = "teleported"
    events[4]["occurred_at"] = "2025-03-02T08:00:00"

    response = api.post(BULK, {"events": events}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "events": {
            "3": {"status": ['"teleported" is not a valid choice.']},
            "4": {"occurred_at": [NAIVE]},
        }
    }
    assert db_state() == before


def test_it_stores_nothing_when_one_item_of_a_bulk_names_an_unknown_shipment(api, shipment):
    before = db_state()

    response = api.post(BULK, {"events": [event(), event(tracking_code="NOPE")]}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "events": {"1": {"tracking_code": ["No shipment with this tracking code in this store."]}}
    }
    assert db_state() == before


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        pytest.param(
            {"events": [event()] * 1001},
            {"events": ["Ensure this field has no more than 1000 elements."]},
            id="more than 1000 events",
        ),
        pytest.param({"events": []}, {"events": ["This list may not be empty."]}, id="no events"),
        pytest.param(
            {"events": event()}, {"events": ['Expected a list of items but got type "dict".']}, id="events not a list"
        ),
        pytest.param({}, {"events": ["This field is required."]}, id="no events key"),
        pytest.param(
            [event()],
            {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]},
            id="a list instead of an object",
        ),
    ],
)
def test_it_rejects_a_malformed_bulk_and_changes_nothing(api, shipment, payload, errors):
    before = db_state()

    response = api.post(BULK, payload, format="json")

    assert response.status_code == 400
    assert response.json() == errors
    assert db_state() == before


def test_it_rejects_a_body_larger_than_the_upload_limit(api, shipment, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    before = db_state()
    body = json.dumps({"events": [event(event_id=str(i)) for i in range(100)]})

    response = api.post(BULK, body, content_type="application/json")

    assert response.status_code == 413
    assert response.json() == {"detail": "The request body is larger than 10000 bytes."}
    assert db_state() == before


@pytest.mark.parametrize("count", [10, 1000])
def test_it_loads_the_shipments_of_a_bulk_once_whatever_its_size(
    api, store, shipment, count, django_assert_max_num_queries
):
    other = ShipmentFactory(order=OrderFactory(store=store), carrier="ups", tracking_code="1Z2")
    codes = [shipment.tracking_code, other.tracking_code]
    events = [
        event(tracking_code=codes[i % 2], event_id=str(i), occurred_at=f"2025-03-02T08:{i % 60:02d}:{i // 60:02d}Z")
        for i in range(count)
    ]
    api.post(BULK, {"events": events[:1]}, format="json")  # the token's last_used_at is written on first use

    # token, shipments, savepoint, lock, then per shipment: count, insert, count, timeline, update; release
    with django_assert_max_num_queries(15):
        response = api.post(BULK, {"events": events}, format="json")

    assert response.json() == {"received": count, "new": count - 1, "duplicates": 1}
    assert TrackingEvent.objects.count() == count
