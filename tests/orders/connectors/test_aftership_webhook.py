"""AfterShip scans with local times, through the real webhook URL with real signatures: what the hub stores,
what a redelivery changes (nothing), and a bad created_at refused naming it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from orders.choices import DeliveryState
from orders.models import InboundDelivery, Shipment, TrackingEvent
from tests import signing
from tests.factories import OrderFactory, StoreFactory

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "aftership-local-times-secret"
FIXTURE = "cross_border_local_times"  # Shenzhen to Berlin, order #1077


@pytest.fixture
def order():
    store = StoreFactory(slug="acme", aftership_webhook_secret=SECRET, country="DE")
    return OrderFactory(store=store, external_id="5843191628777", order_number="1077")


def post(client, payload: dict[str, Any]):
    body = json.dumps(payload).encode()
    headers = signing.aftership_headers(body, SECRET)
    return client.post("/webhooks/aftership/", body, content_type="application/json", **headers)


def scans() -> list[tuple[str, datetime]]:
    return list(TrackingEvent.objects.order_by("occurred_at").values_list("raw_detail", "occurred_at"))


def test_local_times_are_stored_as_the_instants_they_were(client, order, run_jobs):
    assert post(client, signing.load_json("aftership", FIXTURE)).status_code == 200
    run_jobs()

    assert scans() == [
        ("InfoReceived_001", datetime(2026, 11, 16, 2, 5, tzinfo=UTC)),  # 10:05 in Shenzhen
        ("InTransit_002", datetime(2026, 11, 16, 11, 40, tzinfo=UTC)),
        ("InTransit_007", datetime(2026, 11, 17, 17, 15, tzinfo=UTC)),  # 01:15 the next day in Shenzhen
        ("InTransit_004", datetime(2026, 11, 19, 5, 50, tzinfo=UTC)),  # 06:50 in Leipzig
        ("InTransit_005", datetime(2026, 11, 20, 10, 30, tzinfo=UTC)),  # no country: Berlin, the destination
        ("OutForDelivery_001", datetime(2026, 11, 21, 7, 2, tzinfo=UTC)),  # 08:02+01:00, as sent
    ]
    shipment = Shipment.objects.get()
    assert (shipment.order, shipment.carrier) == (order, "china_post")
    assert shipment.last_scan_at == datetime(2026, 11, 21, 7, 2, tzinfo=UTC)


def test_a_redelivery_and_the_next_update_add_no_copy_of_a_scan(client, order, run_jobs):
    payload = signing.load_json("aftership", FIXTURE)
    post(client, payload)
    run_jobs()
    stored = scans()

    assert post(client, payload).json()["status"] == "duplicate"  # the same event_id
    # The next update resends every checkpoint under a new event_id, this time without the destination: the
    # country-less scan would now read as UTC, but it is the scan already stored, by its raw time.
    payload["event_id"] = "0b8e5c7d-2f4a-4e1b-9c3d-6a5f4e3d2c1b"
    payload["msg"].update(destination_country_region=None, courier_destination_country_region=None)
    assert post(client, payload).status_code == 200
    run_jobs()

    assert scans() == stored
    states = list(InboundDelivery.objects.order_by("pk").values_list("state", flat=True))
    assert states == [DeliveryState.PROCESSED, DeliveryState.DUPLICATE, DeliveryState.PROCESSED]


@pytest.mark.parametrize(
    ("checkpoint", "field"),
    [
        ({"created_at": "last tuesday"}, "msg.checkpoints[0].created_at"),
        ({"created_at": "9999-12-31T23:59:59-05:00"}, "msg.checkpoints[0].created_at"),  # past year 9999 in UTC
        # orders.limits still has the last word on the time itself.
        ({"checkpoint_time": "0001-01-01T00:00:00"}, "msg.checkpoints[0].checkpoint_time"),  # year 0 in UTC
    ],
)
def test_a_bad_time_is_refused_naming_it(client, order, run_jobs, checkpoint: dict[str, Any], field: str):
    payload = signing.load_json("aftership", FIXTURE)
    payload["msg"]["checkpoints"][0].update(checkpoint)

    response = post(client, payload)
    run_jobs()

    assert response.status_code == 400, response.content
    assert response.json()["field"] == field
    delivery = InboundDelivery.objects.get()
    assert delivery.state == DeliveryState.FAILED
    assert field in delivery.error
    assert not Shipment.objects.exists()
