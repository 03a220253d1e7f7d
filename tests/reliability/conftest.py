"""The fault tests drain queues many times per test: the same `run_jobs` as the suite's, with a burst worker
that skips RQ's pubsub channel (remote "stop"/"kill horse" commands, which a burst run in-process never
gets). Stopping that channel's thread waits a full second per drain."""

from __future__ import annotations

from collections.abc import Callable

import django_rq
import pytest
from rq import SimpleWorker

from cxhub.jobs import QUEUES
from tests.conftest import _run_pending_on_commit


class BurstWorker(SimpleWorker):
    def subscribe(self) -> None:
        pass

    def unsubscribe(self) -> None:
        pass


@pytest.fixture
def run_jobs() -> Callable[[], int]:
    """Run pending on-commit enqueues and drain every queue with a real RQ worker (in-process, burst
    mode). Returns how many jobs ran."""

    def drain() -> int:
        ran = 0
        while True:
            _run_pending_on_commit()
            queues = [django_rq.get_queue(name) for name in QUEUES]
            if not any(q.count for q in queues):
                return ran
            worker = BurstWorker(queues, connection=queues[0].connection)
            worker.work(burst=True)
            ran += worker.successful_job_count + worker.failed_job_count

    return drain
