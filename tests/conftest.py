"""Fixtures shared by the whole suite: Redis between tests, a burst RQ worker, factories' clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import django_rq
import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.db import connection
from rq import SimpleWorker

from cxhub import handoff as handoffs
from cxhub.jobs import QUEUES


@pytest.fixture(autouse=True)
def _clean_redis() -> Iterator[None]:
    """Each test starts with empty queues and an empty cache (so rate limits start afresh)."""
    django_rq.get_connection("default").flushdb()
    cache.clear()
    yield


@pytest.fixture(autouse=True)
def handoff(monkeypatch) -> handoffs.Handoff:
    """The hand-off (cxhub/handoff.py) without its thread: what a webhook leaves it (its drain job) is
    queued when the test runs its jobs (run_jobs) or handoff.run_pending(), not at some moment of this
    test or the next one."""
    unthreaded = handoffs.Handoff(threaded=False)
    monkeypatch.setattr(handoffs, "HANDOFF", unthreaded)
    return unthreaded


@pytest.fixture
def handoff_thread(monkeypatch) -> Iterator[handoffs.Handoff]:
    """The hand-off with its thread, as in a web process; closed (what it holds handed over) at the end."""
    threaded = handoffs.Handoff()
    monkeypatch.setattr(handoffs, "HANDOFF", threaded)
    yield threaded
    threaded.close()


@pytest.fixture(autouse=True)
def _fresh_content_types() -> None:
    """Transactional tests flush the database, which recreates content types under new ids: drop
    Django's in-process cache of them so the admin's log entries point at rows that exist."""
    ContentType.objects.clear_cache()


def _run_pending_on_commit() -> None:
    """Run the on-commit callbacks of the test's transaction, as a real commit would, then what they
    handed off (the hand-off thread's pass).

    Tests wrapped in a transaction never commit, so work enqueued "after commit" would never reach
    Redis; this does what the commit would have done (transactional tests have none pending)."""
    while True:
        while connection.run_on_commit:
            pending = list(connection.run_on_commit)
            connection.run_on_commit.clear()
            for _savepoints, callback, _robust in pending:
                callback()
        # What the hand-off queues goes to Redis once "committed" too (django-rq's on_db_commit): again.
        if not handoffs.HANDOFF.run_pending() and not connection.run_on_commit:
            return


class BurstWorker(SimpleWorker):
    """A real RQ worker without RQ's pubsub channel (remote "stop"/"kill horse" commands, which an
    in-process burst run never gets): stopping that channel's thread costs a second per drain."""

    def subscribe(self) -> None:
        pass

    def unsubscribe(self) -> None:
        pass

    # RQ keeps its job counts in Redis only; run_jobs reports how many jobs ran from this one.
    jobs_performed = 0

    def perform_job(self, job, queue) -> bool:
        self.jobs_performed += 1
        return super().perform_job(job, queue)


@pytest.fixture
def run_jobs() -> Callable[[], int]:
    """Return a function that runs pending on-commit enqueues and drains every queue with a real
    RQ worker (in-process, burst mode). It returns how many jobs ran."""

    def drain() -> int:
        ran = 0
        while True:
            _run_pending_on_commit()
            queues = [django_rq.get_queue(name) for name in QUEUES]
            if not any(q.count for q in queues):
                return ran
            worker = BurstWorker(queues, connection=queues[0].connection)
            worker.work(burst=True)
            ran += worker.jobs_performed

    return drain
