"""`kill -9` of an RQ worker while it plans a newly opened case: its claim is handed out again a minute
after it was made, not ten minutes after the case was detected, and the case is planned and acted on once.
A live worker's claim is never handed out, however long its plan waits.

A real `manage.py rqworker` process on the test's PostgreSQL database and Redis, and a second database
session that stands for another worker deciding money for the same store: it holds the store's coupon cap,
so the worker's plan waits for it while holding the case.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import django_rq
import pytest
from django.utils import timezone

from cxhub.claims import CLAIM_UNHELD_AFTER
from notifications.models import Message
from playbooks.choices import CaseState, RemedyState
from playbooks.engine import cases_recover, detector_sweep
from playbooks.jobs import cases_act_job
from playbooks.models import ActionRecord, CompensationCap, ExceptionCase, Remedy
from tests.factories import (
    CompensationCapFactory,
    PlaybookFactory,
    PlaybookStepFactory,
    ShipmentFactory,
    StoreFactory,
)
from tests.reliability.helpers import (
    WorkerProcess,
    count_by,
    database_session,
    wait_until,
    waiting_for_a_lock,
    worker_env,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def opened_case() -> ExceptionCase:
    """A parcel never scanned two days after its label, under a playbook that tells the customer and sends
    a coupon within the store's cap: the case is open, its job to plan it not run yet."""
    store = StoreFactory(timezone="UTC")
    CompensationCapFactory(store=store, action="coupon", max_auto_amount=Decimal("10.00"))
    playbook = PlaybookFactory(name="Ship-slip", trigger="no_first_scan", holdout_percent=0)
    PlaybookStepFactory(playbook=playbook, position=1, action="notify", params={"template": "delay"})
    PlaybookStepFactory(playbook=playbook, position=2, action="coupon", params={"amount": "10.00"})
    ShipmentFactory(order__store=store, label_created_at=timezone.now() - dt.timedelta(hours=50))
    detector_sweep("no_first_scan")
    django_rq.get_queue("default").empty()  # the sweep's job to act: the test queues its own
    return ExceptionCase.objects.get()


@pytest.mark.parametrize(
    "worker_class",
    [
        pytest.param("cxhub.worker.SimpleWorker", id="the default worker"),
        pytest.param("cxhub.worker.Worker", id="the forking worker and its work horse"),
    ],
)
def test_a_worker_killed_while_planning_a_case_has_its_claim_handed_out_within_a_minute(
    opened_case, run_jobs, tmp_path, worker_class
):
    cap = CompensationCap.objects.get(store=opened_case.store, action="coupon")
    # Another worker is deciding money for this store: it holds the coupon cap, so this plan waits.
    other = database_session()
    worker = WorkerProcess(tmp_path / "worker.log", worker_env(), "--worker-class", worker_class)
    try:
        other.execute("SELECT id FROM playbooks_compensationcap WHERE id = %s FOR UPDATE", [cap.pk])
        django_rq.get_queue("default").enqueue(cases_act_job, [opened_case.pk])
        worker.start()
        wait_until(waiting_for_a_lock, timeout=60, what="the worker's plan to wait for the store's cap")
        opened_case.refresh_from_db()
        assert opened_case.planning_started_at is not None  # claimed, and the claim committed
        unheld = opened_case.planning_started_at + CLAIM_UNHELD_AFTER + dt.timedelta(seconds=1)

        # Past the claim's minute, the live worker still holds the case: nothing is handed out.
        assert cases_recover(now=unheld) == 0
        assert ExceptionCase.objects.filter(pk=opened_case.pk, abandoned=0).exists()

        worker.kill_9()
    finally:
        other.rollback()
        other.close()
        worker.stop()

    # Once PostgreSQL has ended the dead worker's transaction (its plan rolled back with it), its claim is
    # nobody's and the next recovery hands it out, long before the ten minutes a lost job waits.
    handed_out: list[int] = []
    wait_until(lambda: handed_out.append(cases_recover(now=unheld)) or sum(handed_out) > 0, timeout=30,
               what="the dead worker's case to be handed out", poll=0.1)  # fmt: skip
    assert sum(handed_out) == 1
    run_jobs()

    opened_case.refresh_from_db()
    assert (opened_case.state, opened_case.abandoned, opened_case.planning_started_at) == (CaseState.ACTING, 1, None)
    steps = Remedy.objects.filter(case=opened_case)
    assert count_by(steps.values_list("state", flat=True)) == {RemedyState.DONE: 2}  # planned once
    assert ActionRecord.objects.filter(remedy__case=opened_case).count() == 1  # one coupon
    assert Message.objects.filter(order=opened_case.order).count() == 1  # one message
