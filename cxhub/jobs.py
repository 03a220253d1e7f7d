"""Job wiring: the one way the apps put work on a queue.

Queues by latency: `high` (what a customer waits for: notifications), `default` (ingest, decisions),
`low` (sweeps, replays, reports). Work is enqueued only after the current transaction commits, so a
job never starts before the rows it loads exist. With RQ_SYNC the job runs in-process instead (the
demo's fallback where no Redis server can be had).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import django_rq
from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)
QUEUES = ("high", "default", "low")


def enqueue(queue: str, func: Callable[..., Any], *args: Any, job_id: str | None = None, **options: Any) -> None:
    """Run `func(*args)` on `queue` once the current transaction commits.

    Arguments must be ids and primitives (jobs load fresh rows). `job_id` trims duplicate enqueues of
    the same work; correctness never depends on it, since every job is idempotent.
    """
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}")

    def _enqueue() -> None:
        if settings.RQ_SYNC:
            func(*args)
            return
        django_rq.get_queue(queue).enqueue(func, *args, job_id=job_id, **options)

    transaction.on_commit(_enqueue, robust=True)
