"""Query plans for tests that a query can be answered from the index built for it (PostgreSQL)."""

from __future__ import annotations

import re

from django.db import connection, transaction
from django.db.models import QuerySet


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
