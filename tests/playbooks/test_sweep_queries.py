"""Sweep queries: each detector's condition can be answered from the partial index built for it.

A partial index serves a query only when PostgreSQL can prove the query's conditions imply the index's
own; reword a detector's condition a little and the index silently stops being used, and the sweep goes
back to reading the history (bench/README.md). Each test keeps only the index under test on its table
(dropped inside the test's transaction, so rolled back), forbids sequential scans, and reads the plan.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.db.models import QuerySet

from playbooks.detectors import DETECTORS
from playbooks.params import resolve_params
from tests.plans import plan_with_only, uses

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 6, 11, 12, 0, tzinfo=UTC)


def matching(kind: str, **given: Any) -> QuerySet:
    detector = DETECTORS[kind]
    return detector.matching(NOW, resolve_params(detector.params, given))


@pytest.mark.parametrize(
    ("kind", "table", "index"),
    [
        ("late_to_ship", "orders_order", "order_awaiting_shipment"),
        ("failed_payment", "orders_order", "order_payment_failed_id"),
        ("address_problem", "orders_order", "order_address_failed_open"),
        ("carrier_disruption", "orders_shipment", "shipment_disrupted"),
        ("post_delivery", "orders_shipment", "shipment_delivered_ids"),
    ],
)
def test_it_answers_the_condition_from_the_index_over_the_subjects_in_trouble(kind, table, index):
    plan = plan_with_only(matching(kind), {table: {index}})

    assert uses(plan, index), plan


def test_it_keeps_the_failed_address_index_when_unverified_addresses_are_flagged_too():
    plan = plan_with_only(
        matching("address_problem", flag_unverified_at_fulfillment=True),
        {"orders_order": {"order_address_failed_open"}},
    )

    assert uses(plan, "order_address_failed_open"), plan


def test_it_finds_stalled_parcels_among_those_in_transit_only():
    indexes = {"shipment_transit_first_scan", "shipment_transit_last_scan"}

    plan = plan_with_only(matching("transit_stall"), {"orders_shipment": indexes})

    assert any(uses(plan, index) for index in indexes), plan


@pytest.mark.parametrize("kind", ["carrier_disruption", "post_delivery"])
def test_it_tells_a_cancelled_order_from_the_few_cancelled_ones(kind):
    plan = plan_with_only(matching(kind), {"orders_order": {"order_cancelled"}})

    assert uses(plan, "order_cancelled"), plan


@pytest.mark.parametrize("kind", ["carrier_disruption", "post_delivery"])
def test_it_reads_the_subjects_to_resolve_from_the_index_alone(kind):
    # Resolving cleared cases compares them with the subjects' ids: no shipment or order row is read.
    index = {"carrier_disruption": "shipment_disrupted", "post_delivery": "shipment_delivered_ids"}[kind]

    plan = plan_with_only(
        matching(kind).order_by().values("pk"),
        {"orders_shipment": {index}, "orders_order": {"order_cancelled"}},
        bitmaps=False,
    )

    assert uses(plan, index, "Index Only Scan"), plan
    assert uses(plan, "order_cancelled", "Index Only Scan"), plan
