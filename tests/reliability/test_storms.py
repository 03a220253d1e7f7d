"""Duplicate and out-of-order storms: every carrier event delivered three times (the original, the provider's
retry of it, and the same facts under a new delivery id, as a replay from the provider's dashboard sends them),
shuffled by a seeded random, through the real signed webhook URLs. The parcel's final state, its timeline, the
cases, remedies and messages equal those of one delivery of each event in order: a control run, side by side
in a second store with the same default playbooks, templates and caps, at the same frozen instant.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
from dataclasses import dataclass

import pytest
import time_machine

from notifications.choices import MessageStatus
from notifications.defaults import templates_seed
from notifications.models import Message
from orders.choices import DeliveryState
from orders.ingest import inbound_reconcile
from orders.models import InboundDelivery, Order, Shipment, Store
from playbooks.defaults import caps_seed, playbooks_seed
from playbooks.models import ExceptionCase, Playbook, Remedy
from tests import signing
from tests.factories import StoreFactory
from tests.orders.connectors.test_shopify import DELIVERIES as SHOPIFY_DELIVERIES
from tests.reliability.helpers import count_by

pytest_plugins = ["tests.fakes.twilio"]
pytestmark = pytest.mark.django_db(transaction=True)

NOW = dt.datetime(2026, 2, 21, 21, 0, tzinfo=dt.UTC)  # 16:00 in New York, an hour after the delivery
# The order and its parcel, announced first and in order (a storm is about the carrier's news).
ANNOUNCE = ["orders_create", "orders_paid", "fulfillments_create"]
CARRIER_EVENTS = [
    ("shopify", "fulfillments_update"),
    ("aftership", "01_info_received"),
    ("shopify", "fulfillment_events_create_in_transit"),
    ("aftership", "02_in_transit"),
    ("shopify", "fulfillment_events_create_delayed"),
    ("aftership", "03_exception"),
    ("shopify", "fulfillment_events_create_attempted_delivery"),
    ("aftership", "04_attempt_fail"),
    ("shopify", "fulfillment_events_create_out_for_delivery"),
    ("aftership", "05_out_for_delivery"),
    ("shopify", "fulfillment_events_create_delivered"),
    ("aftership", "06_delivered"),
]
ORIGINAL, RETRY, REPLAY = "original", "retry", "replay"


@dataclass
class Shop:
    """One store and the provider accounts that send it webhooks."""

    store: Store
    domain: str
    shopify_secret: str
    aftership_secret: str

    @classmethod
    def create(cls, slug: str) -> Shop:
        domain, shopify_secret, aftership_secret = f"{slug}.myshopify.com", f"shpss_{slug}", f"aftership-{slug}"
        store = StoreFactory(
            slug=slug,
            name="Acme Outdoor",
            shopify_domain=domain,
            shopify_webhook_secret=shopify_secret,
            aftership_webhook_secret=aftership_secret,
        )
        templates_seed(store)
        caps_seed(store)
        return cls(store, domain, shopify_secret, aftership_secret)

    def send(self, client, source: str, name: str, copy: str = ORIGINAL):
        body = signing.load(source, name)
        if source == "shopify":
            topic, webhook_id, event_id = SHOPIFY_DELIVERIES[name]
            webhook_id += "-replay" if copy == REPLAY else ""
            headers = signing.shopify_headers(body, self.shopify_secret, topic=topic, webhook_id=webhook_id,
                                              shop=self.domain, event_id=event_id)  # fmt: skip
        else:
            if copy == REPLAY:
                payload = json.loads(body)
                payload["event_id"] += "-replay"
                body = json.dumps(payload).encode()
            headers = signing.aftership_headers(body, self.aftership_secret)
        response = client.post(f"/webhooks/{source}/", body, content_type="application/json", **headers)
        assert response.status_code in (200, 202), (source, name, copy, response.content)
        return response


def settle(run_jobs) -> None:
    """Run every job, then let the reconciler retry deliveries that waited for an earlier event, until
    nothing waits (the frozen clock stands still, so their backoff is skipped by hand)."""
    run_jobs()
    while InboundDelivery.objects.filter(state=DeliveryState.WAITING).exists():
        InboundDelivery.objects.filter(state=DeliveryState.WAITING).update(state=DeliveryState.RECEIVED)
        with time_machine.travel(NOW + dt.timedelta(minutes=1), tick=False):
            assert inbound_reconcile() > 0
        run_jobs()


URL = re.compile(r"https?://\S+")


def outcome(store: Store, fake_twilio) -> dict:
    """Everything the storm may not change, without the store's own ids and links."""
    order = Order.objects.get(store=store)
    shipment = Shipment.objects.get(store=store)
    messages = Message.objects.filter(store=store)
    for message in messages.filter(status=MessageStatus.SENT, channel="sms"):
        assert sum(str(message.public_id) in r.status_callback for r in fake_twilio.requests) == 1, message
    return {
        "order": (order.financial_status, order.fulfillment_status, order.cancelled_at),
        "shipment": (
            shipment.tracking_code,
            shipment.carrier,
            shipment.status,
            shipment.first_scan_at,
            shipment.last_scan_at,
            shipment.last_event_at,
            shipment.delivered_at,
            shipment.carrier_estimated_delivery,
        ),
        "timeline": sorted(
            shipment.events.values_list("status", "raw_status", "raw_detail", "occurred_at", "message", "location")
        ),
        "cases": sorted(ExceptionCase.objects.filter(store=store).values_list("kind", "state", "resolution")),
        "remedies": sorted(Remedy.objects.filter(case__store=store).values_list("case__kind", "action", "state")),
        "messages": sorted(
            (m.kind, m.channel, m.to, m.status, URL.sub("<link>", m.subject), URL.sub("<link>", m.body_text))
            for m in messages
        ),
    }


def storm(seed: int) -> list[tuple[str, str, str]]:
    deliveries = [(source, name, copy) for source, name in CARRIER_EVENTS for copy in (ORIGINAL, RETRY, REPLAY)]
    random.Random(seed).shuffle(deliveries)
    return deliveries


@pytest.fixture
def shops(run_jobs):
    playbooks_seed()
    Playbook.objects.update(holdout_percent=0)  # which orders a holdout takes depends on their ids
    return Shop.create("calm"), Shop.create("storm")


def test_a_storm_arriving_at_once_ends_exactly_like_one_delivery_in_order(client, shops, fake_twilio, run_jobs):
    calm, stormy = shops
    with time_machine.travel(NOW, tick=False):
        for shop in shops:
            for name in ANNOUNCE:
                shop.send(client, "shopify", name)
            settle(run_jobs)

        for source, name in CARRIER_EVENTS:
            calm.send(client, source, name)
        settle(run_jobs)
        for source, name, copy in storm(seed=7):
            stormy.send(client, source, name, copy)
        settle(run_jobs)

    expected = outcome(calm.store, fake_twilio)
    assert expected["shipment"][2] == "delivered" and expected["messages"]  # the control run did something
    got = outcome(stormy.store, fake_twilio)
    for part in expected:
        assert got[part] == expected[part], part
    deliveries = InboundDelivery.objects.filter(store=stormy.store)
    # Every delivery stored; of each event the first copy and the replay were processed (the second of them
    # changing nothing), and the provider's retry was recognised as a duplicate.
    assert count_by(deliveries.values_list("state", flat=True)) == {
        DeliveryState.PROCESSED: len(ANNOUNCE) + 2 * len(CARRIER_EVENTS),
        DeliveryState.DUPLICATE: len(CARRIER_EVENTS),
    }


def test_a_storm_trickling_in_ends_in_the_same_parcel_state_and_never_sends_twice(client, shops, fake_twilio, run_jobs):
    calm, stormy = shops
    with time_machine.travel(NOW, tick=False):
        for shop in shops:
            for name in ANNOUNCE:
                shop.send(client, "shopify", name)
            settle(run_jobs)
        for source, name in CARRIER_EVENTS:
            calm.send(client, source, name)
            settle(run_jobs)
        for source, name, copy in storm(seed=11):
            stormy.send(client, source, name, copy)
            settle(run_jobs)

    expected, got = outcome(calm.store, fake_twilio), outcome(stormy.store, fake_twilio)
    for part in ("order", "shipment", "timeline"):
        assert got[part] == expected[part], part
    # News arriving in another order may be told differently (a parcel already delivered is not announced as
    # out for delivery), but never twice: one case per kind, one message per case step.
    kinds = [kind for kind, _state, _resolution in got["cases"]]
    assert len(kinds) == len(set(kinds))
    keys = list(Message.objects.filter(store=stormy.store).values_list("kind", "order_id"))
    assert len(keys) == len(set(keys))
