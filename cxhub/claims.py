"""Claims that live as long as their worker.

A worker claims rows for work that takes more than one transaction (a batch of carrier events, a case's
plan, a case's steps) by committing a state or time that says so (processing, planning_started_at,
executing), so other workers skip them.
It then holds those rows locked (`SELECT … FOR NO KEY UPDATE`, which leaves foreign keys to them free) in
the transaction that does the work and records its outcome. PostgreSQL releases the locks when that
transaction ends, and when the worker dies with it. So a recovery job can tell a dead worker's claim
from a live one's by asking for the claimed rows with `skip_locked`: those it gets nobody holds.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet

# A claim nobody holds this long after it was made is a dead worker's, and is handed out again. The
# margin covers the moment between committing the claim and taking its rows.
CLAIM_UNHELD_AFTER = timedelta(minutes=1)
# Work whose worker died this many times while doing it is failed for a person to look at: it may be what
# kills them (a delivery or a step that runs the worker out of memory, say).
ABANDONED_GIVE_UP = 3


def rows_claim(candidates: QuerySet, **claim: Any) -> list[Any]:
    """Claim for this worker the rows of `candidates` that no other worker holds, by committing `claim` on
    them (a state, the claim's time); returns their pks, in order."""
    with transaction.atomic():
        mine = list(candidates.select_for_update(skip_locked=True).order_by("pk").values_list("pk", flat=True))
        candidates.model.objects.filter(pk__in=mine).update(**claim)
    return mine


def claims_unheld(claimed: QuerySet, *fields: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Of `claimed` (claims made over CLAIM_UNHELD_AFTER ago), those no transaction holds, locked for the
    caller's transaction: (to hand out again, to give up on, their worker having died ABANDONED_GIVE_UP
    times), each a row of (pk, *fields). Their `abandoned` count is the caller's to raise."""
    rows = claimed.select_for_update(skip_locked=True).values_list("pk", *fields, "abandoned")
    again, given_up = [], []
    for *row, abandoned in rows:
        (again if abandoned + 1 < ABANDONED_GIVE_UP else given_up).append(tuple(row))
    return again, given_up


def lock_timeout_set(seconds: float) -> None:
    """How long a statement of this transaction waits for a row lock (PostgreSQL; SQLite has its busy
    timeout). `SET LOCAL` ends with the transaction, so a connection pooler can share the connection."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{round(seconds * 1000)}ms"])
