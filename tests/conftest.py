"""Fixtures shared by the whole suite: Redis between tests, a burst RQ worker, factories' clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import django_rq
import pytest
from rq import SimpleWorker

from cxhub.jobs import QUEUES


@pytest.fixture(autouse=True)
def _clean_redis() -> Iterator[None]:
    """Each test starts with empty queues."""
    django_rq.get_connection("default").flushdb()
    yield


@pytest.fixture
def run_jobs(django_capture_on_commit_callbacks) -> Callable[[], int]:
    """Return a function that commits pending on-commit enqueues and drains every queue with a real
    RQ worker (in-process, burst mode). It returns how many jobs ran."""

    def drain() -> int:
        ran = 0
        while True:
            queues = [django_rq.get_queue(name) for name in QUEUES]
            if not any(q.count for q in queues):
                return ran
            worker = SimpleWorker(queues, connection=queues[0].connection)
            worker.work(burst=True)
            ran += worker.successful_job_count + worker.failed_job_count

    return drain
