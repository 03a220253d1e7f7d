"""Raw deliveries are kept INBOUND_RETENTION_DAYS once done with (applied, duplicates, ignored), then deleted
by the hourly purge; those failed or still to do are kept until someone handles them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from orders import ingest
from orders.choices import DeliveryState, EventSource, ShipmentStatus
from orders.ingest import inbound_drain, inbound_purge, inbound_purgeable
from orders.models import InboundDelivery
from tests import signing
from tests.factories import InboundDeliveryFactory, OrderFactory, ShipmentFactory, StoreFactory
from tests.plans import plan_with_only, uses
from tests.reliability.helpers import cron_jobs

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
PAST_RETENTION, WITHIN_RETENTION = NOW - timedelta(days=31), NOW - timedelta(days=29)


def arrived(at: datetime, **fields) -> InboundDelivery:
    with time_machine.travel(at, tick=False):
        return InboundDeliveryFactory(**fields)


def test_deliveries_done_with_are_deleted_after_the_retention_and_the_others_kept(settings):
    settings.INBOUND_RETENTION_DAYS = 30
    for state, source in [
        (DeliveryState.PROCESSED, EventSource.SHOPIFY),
        (DeliveryState.DUPLICATE, EventSource.EASYPOST),
        (DeliveryState.IGNORED, EventSource.STRIPE),
    ]:
        arrived(PAST_RETENTION, state=state, source=source)
    to_handle = [
        arrived(PAST_RETENTION, state=state)
        for state in (DeliveryState.FAILED, DeliveryState.WAITING, DeliveryState.RECEIVED, DeliveryState.PROCESSING)
    ]
    recent = arrived(WITHIN_RETENTION, state=DeliveryState.PROCESSED)

    assert inbound_purge(now=NOW) == 3

    assert set(InboundDelivery.objects.values_list("pk", flat=True)) == {d.pk for d in [*to_handle, recent]}


def test_a_retention_of_zero_keeps_every_delivery(settings):
    settings.INBOUND_RETENTION_DAYS = 0
    arrived(NOW - timedelta(days=3650), state=DeliveryState.PROCESSED)

    assert inbound_purge(now=NOW) == 0
    assert InboundDelivery.objects.count() == 1


def test_a_backlog_larger_than_a_run_goes_in_the_next_runs(settings, monkeypatch):
    settings.INBOUND_RETENTION_DAYS = 30
    monkeypatch.setattr(ingest, "PURGE_BATCH", 2)
    monkeypatch.setattr(ingest, "PURGE_BATCHES_PER_RUN", 2)
    for _ in range(5):
        arrived(PAST_RETENTION, state=DeliveryState.PROCESSED)

    assert [inbound_purge(now=NOW) for _ in range(3)] == [4, 1, 0]


def test_the_purge_reads_only_old_deliveries_done_with_from_an_index():
    plan = plan_with_only(
        inbound_purgeable(EventSource.SHOPIFY, NOW)[:5000], {"orders_inbounddelivery": {"delivery_source_state"}}
    )

    assert uses(plan, "delivery_source_state"), plan


def test_the_purge_runs_every_hour_from_the_cron():
    purge = cron_jobs(only=["inbound_purge_job"])
    assert [(job.func_name, job.queue_name, job.interval) for job in purge] == [
        ("orders.jobs.inbound_purge_job", "low", 3600)
    ]


@pytest.mark.django_db(transaction=True)
def test_a_redelivery_after_the_purge_is_stored_again_and_changes_nothing(client, settings, run_jobs):
    settings.INBOUND_RETENTION_DAYS = 30
    store = StoreFactory(easypost_webhook_secret="retention-secret")
    parcel = ShipmentFactory(order=OrderFactory(store=store), carrier="usps", tracking_code="9400100000000000000001")
    body = signing.load("easypost", "04_tracker_updated_out_for_delivery")

    def post():
        headers = signing.easypost_headers(body, "retention-secret")
        return client.post("/webhooks/easypost/", body, content_type="application/json", **headers).json()

    with time_machine.travel(PAST_RETENTION, tick=False):
        assert post()["status"] == "received"
        inbound_drain()
    parcel.refresh_from_db()
    scans = list(parcel.events.values_list("dedupe_key", flat=True).order_by("dedupe_key"))
    assert inbound_purge(now=NOW) == 1

    assert post()["status"] == "received"  # not a duplicate: its first copy is gone
    run_jobs()

    assert InboundDelivery.objects.get().state == DeliveryState.PROCESSED
    parcel.refresh_from_db()
    assert parcel.status == ShipmentStatus.OUT_FOR_DELIVERY
    assert list(parcel.events.values_list("dedupe_key", flat=True).order_by("dedupe_key")) == scans
