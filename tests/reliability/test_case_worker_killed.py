"""`kill -9` of an RQ worker while it plans a newly opened case, and while it runs the case's steps (a
message, then a coupon): its claim is handed out again a minute after it was made, not after a long
lease, and the case is planned once and each step done once. A live worker's claim is never handed out,
however long it waits.

A real `manage.py rqworker` process on the test's PostgreSQL database and Redis, and a second database
session that keeps the worker waiting: another worker deciding money for the same store (it holds the
store's coupon cap, which planning locks), or a slow provider (it is recording the same coupon and has not
committed, so the worker's own record waits for it).
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
from playbooks.engine import cases_plan, cases_recover, detector_sweep, remedies_recover
from playbooks.jobs import case_run_steps_job, cases_act_job
from playbooks.models import ActionRecord, CompensationCap, ExceptionCase, Remedy
from tests.factories import (
    CompensationCapFactory,
    PlaybookFactory,
    PlaybookStepFactory,
    ShipmentFactory,
    StoreFactory,
)
from tests.reliability.helpers import (
    WORKER_CLASSES,
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
    django_rq.get_queue("default").empty()  # the sweep's job to act: each test queues its own
    return ExceptionCase.objects.get()


@pytest.fixture
def planned_case(opened_case) -> ExceptionCase:
    """The case planned: its two steps approved, waiting for a worker."""
    cases_plan([opened_case.pk])
    assert set(Remedy.objects.values_list("state", flat=True)) == {RemedyState.APPROVED}
    return opened_case


@WORKER_CLASSES
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


@WORKER_CLASSES
def test_a_worker_killed_while_running_steps_has_its_claim_handed_out_within_a_minute(
    planned_case, run_jobs, tmp_path, worker_class
):
    coupon = Remedy.objects.get(case=planned_case, action="coupon")
    # The provider is slow: another session is recording this very coupon, so the worker's record waits.
    provider = database_session()
    worker = WorkerProcess(tmp_path / "worker.log", worker_env(), "--worker-class", worker_class)
    try:
        provider.execute(
            "INSERT INTO playbooks_actionrecord (remedy_id, provider, operation, payload, reference, created_at) "
            "VALUES (%s, 'local', 'coupon', '{}', 'COUP-SLOW', now())",
            [coupon.pk],
        )
        django_rq.get_queue("default").enqueue(case_run_steps_job, planned_case.pk)
        worker.start()
        wait_until(waiting_for_a_lock, timeout=60, what="the worker's coupon to wait for the provider")
        claimed = list(Remedy.objects.values_list("state", "started_at"))
        assert {state for state, _ in claimed} == {RemedyState.EXECUTING}  # both steps, message done first
        unheld = max(at for _, at in claimed) + CLAIM_UNHELD_AFTER + dt.timedelta(seconds=1)

        # Past the claim's minute, the live worker still holds its steps: nothing is handed out.
        assert remedies_recover(now=unheld) == 0
        assert set(Remedy.objects.values_list("state", flat=True)) == {RemedyState.EXECUTING}

        worker.kill_9()
    finally:
        provider.rollback()  # the provider call never completed
        provider.close()
        worker.stop()

    # Once PostgreSQL has ended the dead worker's transaction (the message it had queued rolled back with
    # it), its claim is nobody's and the next recovery hands it out.
    handed_out: list[int] = []
    wait_until(lambda: handed_out.append(remedies_recover(now=unheld)) or sum(handed_out) > 0, timeout=30,
               what="the dead worker's steps to be handed out", poll=0.1)  # fmt: skip
    assert sum(handed_out) == 1  # one case
    run_jobs()

    steps = Remedy.objects.filter(case=planned_case)
    assert count_by(steps.values_list("state", flat=True)) == {RemedyState.DONE: 2}
    assert set(steps.values_list("abandoned", flat=True)) == {1}
    assert ActionRecord.objects.filter(remedy=coupon).count() == 1  # one coupon
    assert Message.objects.filter(order=planned_case.order).count() == 1  # one message
    planned_case.refresh_from_db()
    assert planned_case.state == CaseState.ACTING  # its steps done; it resolves when the parcel moves
