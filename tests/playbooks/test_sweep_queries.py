"""Sweep queries: each detector's condition can be answered from the partial index built for it.

A partial index serves a query only when PostgreSQL can prove the query's conditions imply the index's
own; reword a detector's condition a little and the index silently stops being used, and the sweep goes
back to reading the history (bench/README.md). Each test keeps only the index under test on its table
(dropped inside the test's transaction, so rolled back), forbids sequential scans, and reads the plan.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models import QuerySet

from playbooks.detectors import DETECTORS
from playbooks.params import resolve_params

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 6, 11, 12, 0, tzinfo=UTC)


def plan_with_only(queryset: QuerySet, keep: dict[str, set[str]], *, bitmaps: bool = True) -> str:
    """The plan of `queryset` when, of each table's indexes, only `keep[table]` exist.

    The primary key and unique indexes go too (their constraints dropped, with the foreign keys that
    need them): on a near-empty test table, whose statistics depend on the tests that ran before, a scan
    of the primary key with a filter can cost the planner the same as the partial index."""
    sql, params = queryset.query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cursor:
        for table, indexes in keep.items():
            cursor.execute(
                """
                SELECT i.relname, c.conname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid
                WHERE x.indrelid = %s::regclass
                """,
                [table],
            )
            found = dict(cursor.fetchall())
            assert indexes <= set(found), f"{table} has no index {indexes - set(found)}"
            for name, constraint in found.items():
                if name in indexes:
                    continue
                if constraint:
                    cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{constraint}" CASCADE')
                else:
                    cursor.execute(f'DROP INDEX "{name}"')
        cursor.execute("SET LOCAL enable_seqscan = off")
        if not bitmaps:  # a bitmap scan reads the rows even when the index holds every column needed
            cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        transaction.set_rollback(True)
    return plan


def uses(plan: str, index: str, how: str = "") -> bool:
    return re.search(rf"{how or 'Scan'}\b.* (using|on) {index}\b", plan) is not None


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
