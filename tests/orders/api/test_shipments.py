"""POST /shipments/: announce or update a parcel of an existing order."""

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError

from orders.api import views
from orders.models import Shipment, Store, TrackingEvent
from tests.factories import OrderFactory, ShipmentFactory, StoreFactory, TrackingEventFactory
from tests.orders.api import NAIVE, client_for, db_state

pytestmark = pytest.mark.django_db

SHIPMENTS = "/api/v1/shipments/"
LABEL = datetime(2025, 3, 1, 15, 0, tzinfo=UTC)


@pytest.fixture
def store() -> Store:
    return StoreFactory(slug="acme")


@pytest.fixture
def api(store):
    return client_for(store)


@pytest.fixture
def order(store):
    return OrderFactory(store=store, order_number="1001", external_id="shop-1", fulfillment_status="unfulfilled")


def shipment_payload(**overrides) -> dict:
    payload = {
        "order_number": "1001",
        "tracking_code": "1Z999AA10123456784",
        "carrier": "UPS",
        "service_level": "Ground",
        "label_created_at": "2025-03-01T10:00:00-05:00",
        "carrier_estimated_delivery": "2025-03-05T00:00:00Z",
    }
    return {**payload, **overrides}


def test_it_creates_a_shipment_for_an_order_and_records_its_label(api, order):
    response = api.post(SHIPMENTS, shipment_payload(), format="json")

    assert response.status_code == 201
    assert response.json() == {
        "order_number": "1001",
        "tracking_code": "1Z999AA10123456784",
        "carrier": "ups",
        "carrier_name": "UPS",
        "tracking_url": "https://www.ups.com/track?tracknum=1Z999AA10123456784",
        "service_level": "Ground",
        "status": "label_created",
        "label_created_at": "2025-03-01T15:00:00Z",
        "first_scan_at": None,
        "last_scan_at": None,
        "last_event_at": "2025-03-01T15:00:00Z",
        "carrier_estimated_delivery": "2025-03-05T00:00:00Z",
        "delivered_at": None,
        "events": [
            {
                "status": "label_created",
                "message": "Shipping label created",
                "location": "",
                "occurred_at": "2025-03-01T15:00:00Z",
                "raw_status": "",
                "raw_detail": "",
                "source": "api",
            }
        ],
    }
    shipment = Shipment.objects.get()
    assert (shipment.order, shipment.store, shipment.carrier) == (order, order.store, "ups")
    order.refresh_from_db()
    assert order.fulfillment_status == "fulfilled"


def test_it_finds_the_order_by_its_external_id(api, order):
    payload = shipment_payload(order_external_id="shop-1")
    del payload["order_number"]

    response = api.post(SHIPMENTS, payload, format="json")

    assert response.status_code == 201
    assert Shipment.objects.get().order == order


def test_it_updates_a_known_shipment_and_answers_200(api, order):
    api.post(SHIPMENTS, shipment_payload(), format="json")

    response = api.post(SHIPMENTS, shipment_payload(service_level="Next Day Air"), format="json")

    assert response.status_code == 200
    assert response.json()["service_level"] == "Next Day Air"
    assert Shipment.objects.count() == 1
    assert TrackingEvent.objects.count() == 1


def test_it_answers_200_when_a_concurrent_request_created_the_shipment_first(api, order, monkeypatch):
    real_upsert = views.shipment_upsert
    raced = []

    def upsert_losing_a_race(**kwargs):
        if not raced:
            raced.append(True)
            real_upsert(**kwargs)  # the other request commits the same shipment first
            raise IntegrityError("duplicate key value violates unique constraint")
        return real_upsert(**kwargs)

    monkeypatch.setattr(views, "shipment_upsert", upsert_losing_a_race)

    response = api.post(SHIPMENTS, shipment_payload(), format="json")

    assert response.status_code == 200
    assert Shipment.objects.count() == 1


def test_it_records_the_events_sent_with_the_shipment_and_derives_the_status(api, order):
    events = [
        {"status": "in_transit", "occurred_at": "2025-03-02T08:00:00Z", "message": "Departed", "event_id": "e1"},
        {"status": "delivered", "occurred_at": "2025-03-03T17:30:00Z", "message": "Delivered", "event_id": "e2"},
    ]

    response = api.post(SHIPMENTS, shipment_payload(events=events), format="json")

    assert response.status_code == 201
    shipment = Shipment.objects.get()
    assert (shipment.status, shipment.delivered_at) == ("delivered", datetime(2025, 3, 3, 17, 30, tzinfo=UTC))
    assert [e["status"] for e in response.json()["events"]] == ["delivered", "in_transit", "label_created"]
    assert sorted(shipment.events.values_list("dedupe_key", flat=True)) == ["api:e1", "api:e2", "label_created"]


def test_it_keeps_the_status_that_the_newest_event_set(api, order):
    shipment = ShipmentFactory(order=order, tracking_code="1Z999AA10123456784", carrier="ups")
    TrackingEventFactory(shipment=shipment, status="delivered", occurred_at=datetime(2025, 3, 3, tzinfo=UTC))
    shipment.status = "delivered"
    shipment.save()
    late_scan = [{"status": "in_transit", "occurred_at": "2025-03-02T00:00:00Z"}]

    response = api.post(SHIPMENTS, shipment_payload(events=late_scan), format="json")

    assert response.status_code == 200
    assert response.json()["status"] == "delivered"


def test_it_reads_a_numeric_tracking_code_as_a_string(api, order):
    response = api.post(SHIPMENTS, shipment_payload(tracking_code=940010000000), format="json")

    assert response.status_code == 201
    assert Shipment.objects.get().tracking_code == "940010000000"


@pytest.mark.parametrize(("name", "slug"), [("FedEx", "fedex"), ("Canada Post", "canada_post"), ("UPSDAP", "ups")])
def test_it_stores_the_carrier_as_a_slug(api, order, name, slug):
    api.post(SHIPMENTS, shipment_payload(carrier=name), format="json")

    assert Shipment.objects.get().carrier == slug


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        pytest.param(
            shipment_payload(order_number="9999"), {"order_number": ["No such order."]}, id="unknown order number"
        ),
        pytest.param(
            {**shipment_payload(order_external_id="nope"), "order_number": ""},
            {"order_number": ["This field may not be blank."]},
            id="blank order number",
        ),
        pytest.param(
            {k: v for k, v in shipment_payload(order_external_id="nope").items() if k != "order_number"},
            {"order_external_id": ["No such order."]},
            id="unknown order external id",
        ),
        pytest.param(
            {k: v for k, v in shipment_payload().items() if k != "order_number"},
            {"order_number": ["Give an order_number or an order_external_id."]},
            id="no order named",
        ),
        pytest.param(
            {k: v for k, v in shipment_payload().items() if k != "tracking_code"},
            {"tracking_code": ["This field is required."]},
            id="no tracking code",
        ),
        pytest.param(
            {k: v for k, v in shipment_payload().items() if k != "carrier"},
            {"carrier": ["This field is required."]},
            id="no carrier",
        ),
        pytest.param(
            shipment_payload(carrier="!!!"),
            {"carrier": ["Name a carrier, e.g. usps, ups, fedex or dhl."]},
            id="carrier without letters",
        ),
        pytest.param(
            shipment_payload(tracking_code=["1Z"]),
            {"tracking_code": ["Not a valid string."]},
            id="tracking code a list",
        ),
        pytest.param(
            shipment_payload(label_created_at="2025-03-01T10:00:00"),
            {"label_created_at": [NAIVE]},
            id="naive label_created_at",
        ),
        pytest.param(
            shipment_payload(events=[{"status": "lost_in_space", "occurred_at": "2025-03-02T00:00:00Z"}]),
            {"events": {"0": {"status": ['"lost_in_space" is not a valid choice.']}}},
            id="unknown event status",
        ),
        pytest.param(
            shipment_payload(events=[{"status": "in_transit"}] * 1001),
            {"events": ["Ensure this field has no more than 1000 elements."]},
            id="more than 1000 events",
        ),
    ],
)
def test_it_rejects_bad_input_naming_the_field_and_changes_nothing(api, order, payload, errors):
    before = db_state()

    response = api.post(SHIPMENTS, payload, format="json")

    assert response.status_code == 400
    assert response.json() == errors
    assert db_state() == before


def test_it_rejects_a_tracking_code_that_belongs_to_another_order(api, store, order):
    ShipmentFactory(order=OrderFactory(store=store, order_number="1000"), tracking_code="1Z999AA10123456784")
    before = db_state()

    response = api.post(SHIPMENTS, shipment_payload(), format="json")

    assert response.status_code == 400
    assert response.json() == {"tracking_code": ["Belongs to a shipment of order 1000."]}
    assert db_state() == before
