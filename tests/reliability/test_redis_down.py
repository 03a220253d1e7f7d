"""Redis stopped while webhooks arrive: every delivery is answered 2xx and stored; once Redis is back, the
reconciler (as `rqcron cxhub.cron` runs it) processes all of them; counts in equal counts processed. The
same when Redis hangs instead (it accepts connections and answers nothing): answers do not wait on it; and
when it answers but takes no jobs (full, or a replica after a failover): /healthz says so.

The test runs a redis-server of its own and crashes it (the session's Redis serves the other tests). That
Redis keeps nothing on disk, so the jobs queued before the crash are lost with it: the database, not the
queue, is what remembers them.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest
import time_machine

from orders.choices import DeliveryState, ShipmentStatus
from orders.models import InboundDelivery, Order, Shipment, TrackingEvent
from tests import signing
from tests.factories import ShipmentFactory, StoreFactory
from tests.reliability.helpers import (
    CrashableRedis,
    count_by,
    cron_tick,
    easypost_event,
    post_easypost,
    post_shopify,
    queued_jobs,
    shopify_order,
)

pytestmark = pytest.mark.django_db(transaction=True)

SHOP = "acme-outdoor.myshopify.com"
SHOPIFY_SECRET = "shpss_reliability_secret"
EASYPOST_SECRET = "easypost-reliability-secret"
NOW = dt.datetime(2026, 11, 18, 17, 0, tzinfo=dt.UTC)
# Not one answer may wait for Redis (Shopify gives up after 5 s); generous for a loaded CI machine.
ANSWER_WITHIN_SECONDS = 3.0
SCANS = len(signing.load_json("easypost", "02_tracker_updated_in_transit")["result"]["tracking_details"])


@pytest.fixture
def redis(settings) -> Iterator[CrashableRedis]:
    server = CrashableRedis()
    server.start()
    settings.RQ_QUEUES = server.queues()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def store():
    return StoreFactory(
        slug="acme", shopify_domain=SHOP, shopify_webhook_secret=SHOPIFY_SECRET, easypost_webhook_secret=EASYPOST_SECRET
    )


class Provider:
    """Sends one delivery after another, as Shopify and EasyPost would, and times each answer. After each
    answer the web process's hand-off thread makes its pass (cxhub/handoff.py: it queues the drain), here
    unless the hand-off has its own thread."""

    def __init__(self, client, handoff, parcels: list[Shipment]) -> None:
        self.client = client
        self.handoff = handoff
        self.parcels = parcels
        self.answers: list[tuple[int, str]] = []
        self.slowest = 0.0

    def order_created(self, number: int):
        body = shopify_order(number=number)
        return self._timed(
            lambda: post_shopify(
                self.client, body, SHOPIFY_SECRET, topic="orders/create", webhook_id=f"order-{number}", shop=SHOP
            )
        )

    def parcel_scanned(self, index: int):
        code = self.parcels[index].tracking_code
        body = easypost_event(event_id=f"evt_{code}", tracking_code=code, name="02_tracker_updated_in_transit")
        return self._timed(lambda: post_easypost(self.client, body, EASYPOST_SECRET))

    def _timed(self, post):
        started = time.monotonic()
        response = post()
        self.slowest = max(self.slowest, time.monotonic() - started)
        self.answers.append((response.status_code, response.json().get("status", "")))
        if not self.handoff.threaded:
            self.handoff.run_pending()
        return response


def reconcile_a_minute_later(run_jobs, parcels: list[Shipment]) -> tuple[dict[str, int], list[str]]:
    """The next minute's reconciler tick (the only cron job run) and the workers after it: the deliveries by
    state then, and each parcel's status."""
    with time_machine.travel(NOW + dt.timedelta(minutes=1), tick=False):
        cron_tick(only=["inbound_reconcile_job"])
        run_jobs()
    for parcel in parcels:
        parcel.refresh_from_db()
    return count_by(InboundDelivery.objects.values_list("state", flat=True)), [parcel.status for parcel in parcels]


def test_webhooks_arriving_while_redis_is_down_are_answered_stored_and_all_processed_once_it_is_back(
    client, handoff, store, redis, run_jobs
):
    parcels = [
        ShipmentFactory(order__store=store, carrier="usps", status=ShipmentStatus.LABEL_CREATED) for _ in range(5)
    ]
    provider = Provider(client, handoff, parcels)

    with time_machine.travel(NOW, tick=False):
        # Redis is up: two deliveries are stored and one drain job is queued for both, not taken yet...
        provider.order_created(5001)
        provider.parcel_scanned(0)
        assert queued_jobs() == 1
        # ...when Redis dies, and its queue with it. Deliveries keep coming, and one is redelivered.
        redis.crash()
        for number in (5002, 5003, 5004):
            provider.order_created(number)
        for index in (1, 2, 3, 4):
            provider.parcel_scanned(index)
        provider.order_created(5003)  # Shopify retries: it is stored and marked duplicate

    assert provider.answers == [(200, "received")] * 9 + [(200, "duplicate")]
    assert provider.slowest < ANSWER_WITHIN_SECONDS
    stored = count_by(InboundDelivery.objects.values_list("state", flat=True))
    assert stored == {DeliveryState.RECEIVED: 9, DeliveryState.DUPLICATE: 1}
    assert not Order.objects.filter(order_number__startswith="500").exists()
    assert not TrackingEvent.objects.exists()

    redis.restart()
    assert queued_jobs() == 0  # what was queued before the crash is gone

    # The next minute's cron tick: the reconciler hands every stored delivery to the workers.
    with time_machine.travel(NOW + dt.timedelta(minutes=1), tick=False):
        assert "orders.jobs.inbound_reconcile_job" in cron_tick()
        run_jobs()

    processed = count_by(InboundDelivery.objects.values_list("state", flat=True))
    assert processed == {DeliveryState.PROCESSED: 9, DeliveryState.DUPLICATE: 1}  # counts in == counts processed
    assert sorted(Order.objects.filter(order_number__startswith="500").values_list("order_number", flat=True)) == [
        "5001", "5002", "5003", "5004"
    ]  # fmt: skip
    for parcel in parcels:
        parcel.refresh_from_db()
        assert parcel.status == ShipmentStatus.IN_TRANSIT
        assert parcel.events.count() == SCANS  # the tracker's whole history, once

    # Reconciling again finds nothing left and changes nothing.
    with time_machine.travel(NOW + dt.timedelta(minutes=2), tick=False):
        cron_tick()
        run_jobs()
    assert count_by(InboundDelivery.objects.values_list("state", flat=True)) == processed
    assert TrackingEvent.objects.count() == SCANS * len(parcels)


def test_webhooks_arriving_while_redis_hangs_are_answered_without_waiting_on_it_and_processed_once_it_answers(
    client, handoff, store, redis, run_jobs, monkeypatch
):
    from cxhub import jobs, pauses

    monkeypatch.setattr(pauses, "_until", {})
    monkeypatch.setattr(pauses, "PAUSE_SECONDS", 1.0)  # the test waits it out below
    parcels = [
        ShipmentFactory(order__store=store, carrier="usps", status=ShipmentStatus.LABEL_CREATED) for _ in range(4)
    ]
    provider = Provider(client, handoff, parcels)

    redis.freeze()
    started = time.monotonic()
    with time_machine.travel(NOW, tick=False):
        provider.order_created(6001)  # answered; the hand-off then waits for Redis until the timeout, once...
        for index in range(4):
            provider.parcel_scanned(index)  # ...and this process then leaves it alone for a while
    elapsed = time.monotonic() - started
    health = client.get("/healthz")  # is told the truth all the same, in bounded time

    assert provider.answers == [(200, "received")] * 5
    assert provider.slowest < jobs.REDIS_TIMEOUT_SECONDS  # no answer waited for Redis
    assert elapsed < jobs.REDIS_TIMEOUT_SECONDS + 1.0  # one wait in all, not one per delivery
    assert (health.status_code, health.json()["redis"]) == (503, "error: TimeoutError")
    assert count_by(InboundDelivery.objects.values_list("state", flat=True)) == {DeliveryState.RECEIVED: 5}

    redis.thaw()
    time.sleep(pauses.PAUSE_SECONDS)
    reconciled = reconcile_a_minute_later(run_jobs, parcels)

    assert reconciled == ({DeliveryState.PROCESSED: 5}, [ShipmentStatus.IN_TRANSIT] * 4)
    assert Order.objects.filter(order_number="6001").exists()


def test_while_redis_hangs_the_web_process_thread_waits_for_it_and_no_answer_does(
    client, store, redis, handoff_thread, monkeypatch
):
    from cxhub import jobs, pauses

    monkeypatch.setattr(pauses, "_until", {})
    parcels = [
        ShipmentFactory(order__store=store, carrier="usps", status=ShipmentStatus.LABEL_CREATED) for _ in range(3)
    ]
    provider = Provider(client, handoff_thread, parcels)

    redis.freeze()
    with time_machine.travel(NOW, tick=False):
        for index in range(3):
            provider.parcel_scanned(index)
            time.sleep(0.1)  # the hand-off thread's pass is under way, waiting on Redis

    assert provider.answers == [(200, "received")] * 3
    assert provider.slowest < jobs.REDIS_TIMEOUT_SECONDS / 2
    assert count_by(InboundDelivery.objects.values_list("state", flat=True)) == {DeliveryState.RECEIVED: 3}


def test_the_customer_pages_go_on_without_their_cache_when_redis_is_down_or_hangs(
    client, store, redis, settings, monkeypatch
):
    from django.urls import reverse

    from cxhub import pauses
    from portal.links import tracking_token

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis.url,
                                   "OPTIONS": {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}}}  # fmt: skip
    parcel = ShipmentFactory(
        order__store=store, order__order_number="7001", order__ship_postal_code="94107",
        carrier="usps", status=ShipmentStatus.IN_TRANSIT,
    )  # fmt: skip
    page = reverse("portal:tracking", args=[tracking_token(parcel.order)])

    def visit() -> tuple[int, int, int]:
        found = client.post(reverse("portal:lookup"), {"order_number": "7001", "contact": "94107"})
        wrong = client.post(reverse("portal:lookup"), {"order_number": "7001", "contact": "00000"})
        return client.get(page).status_code, found.status_code, wrong.status_code

    monkeypatch.setattr(pauses, "_until", {})
    assert visit() == (200, 302, 200)  # the cache answers
    redis.crash()
    assert visit() == (200, 302, 200)
    redis.restart()
    monkeypatch.setattr(pauses, "_until", {})  # as 10 s later
    redis.freeze()
    started = time.monotonic()
    assert visit() == (200, 302, 200)
    assert time.monotonic() - started < ANSWER_WITHIN_SECONDS


@pytest.mark.parametrize("refusal", ["full", "replica"])
def test_webhooks_arriving_while_redis_takes_no_writes_are_answered_stored_and_processed_once_it_does(
    client, handoff, store, redis, run_jobs, monkeypatch, caplog, refusal
):
    from cxhub import pauses

    monkeypatch.setattr(pauses, "_until", {})
    parcels = [
        ShipmentFactory(order__store=store, carrier="usps", status=ShipmentStatus.LABEL_CREATED) for _ in range(3)
    ]
    provider = Provider(client, handoff, parcels)

    redis.refuse_writes(refusal)  # it still answers PING
    with time_machine.travel(NOW, tick=False):
        provider.order_created(8001)
        for index in range(3):
            provider.parcel_scanned(index)
    health = client.get("/healthz")

    assert provider.answers == [(200, "received")] * 4
    assert count_by(InboundDelivery.objects.values_list("state", flat=True)) == {DeliveryState.RECEIVED: 4}
    refused = [r for r in caplog.records if r.getMessage().startswith("Redis refused the job")]
    assert len(refused) == 1  # then this process leaves it alone for a while, instead of failing each time
    reason = {"full": "OutOfMemoryError", "replica": "ReadOnlyError"}[refusal]
    assert (health.status_code, health.json()["redis"]) == (503, f"error: {reason}")

    redis.accept_writes()  # room again, or the clients are on the new primary
    monkeypatch.setattr(pauses, "_until", {})  # as 10 s later
    assert client.get("/healthz").status_code == 200
    reconciled = reconcile_a_minute_later(run_jobs, parcels)

    assert reconciled == ({DeliveryState.PROCESSED: 4}, [ShipmentStatus.IN_TRANSIT] * 3)
    assert Order.objects.filter(order_number="8001").exists()
