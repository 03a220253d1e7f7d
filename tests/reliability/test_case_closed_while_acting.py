"""A person closes a case while a worker is acting on it. A step is then either run or withdrawn, never run
for a case already closed: closed after the worker claimed the step but before its batch took hold of it,
the step is withdrawn; closed once the batch holds it (its provider call may be under way), the close waits
for the batch to finish, and the step is done."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.db import connection

from playbooks import engine
from playbooks.actions import ACTIONS
from playbooks.approvals import approval_decide
from playbooks.choices import AuditKind, CaseState, RemedyState
from playbooks.engine import case_resolve, detector_sweep
from playbooks.models import ActionRecord, Approval, AuditEvent, ExceptionCase, Remedy
from tests.factories import (
    AgentProfileFactory,
    CompensationCapFactory,
    LineItemFactory,
    OrderFactory,
    PlaybookFactory,
    PlaybookStepFactory,
    ShipmentFactory,
    StoreFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)
NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def approved_reship(run_jobs):
    """A stalled parcel's case, whose replacement (above the cap) an agent has just approved: the job that
    runs it is queued."""
    store = StoreFactory(timezone="UTC")
    CompensationCapFactory(store=store, action="reship", max_auto_amount=Decimal("60.00"))
    playbook = PlaybookFactory(trigger="transit_stall", holdout_percent=0)
    PlaybookStepFactory(playbook=playbook, position=1, action="reship", params={"shipping": "Express"})
    order = OrderFactory(store=store)
    LineItemFactory(order=order, unit_price=Decimal("350.00"))
    ShipmentFactory(order=order, status="in_transit", first_scan_at=NOW - dt.timedelta(days=8),
                    last_scan_at=NOW - dt.timedelta(days=4))  # fmt: skip
    with time_machine.travel(NOW, tick=False):
        detector_sweep("transit_stall", now=NOW)
        run_jobs()
    agent = UserFactory()
    agent.user_permissions.add(Permission.objects.get(codename="decide_approval"))
    AgentProfileFactory(user=agent, approval_limit=Decimal("1000.00"))
    agent = type(agent).objects.get(pk=agent.pk)  # fresh permission cache
    approval_decide(Approval.objects.get(), user=agent, approve=True)
    assert Remedy.objects.get().state == RemedyState.APPROVED
    return ExceptionCase.objects.get()


def close_in_another_session(case: ExceptionCase, manager) -> threading.Thread:
    """A manager resolving the case from the admin meanwhile: another connection, another transaction."""

    def resolve() -> None:
        try:
            case_resolve(case, reason="Resolved by an agent.", user=manager)
        finally:
            connection.close()

    thread = threading.Thread(target=resolve)
    thread.start()
    return thread


def test_a_case_closed_after_its_step_was_claimed_but_before_it_ran_withdraws_the_step(
    approved_reship, monkeypatch, run_jobs
):
    manager = UserFactory()
    real_claim = engine._remedies_claim

    def claim_then_close(remedies):
        claimed = real_claim(remedies)
        close_in_another_session(approved_reship, manager).join(timeout=10)
        return claimed

    monkeypatch.setattr(engine, "_remedies_claim", claim_then_close)
    run_jobs()

    remedy = Remedy.objects.get()
    assert remedy.state == RemedyState.REJECTED
    assert not ActionRecord.objects.exists()  # nothing shipped
    approved_reship.refresh_from_db()
    assert approved_reship.state == CaseState.RESOLVED
    withdrawn = AuditEvent.objects.get(kind=AuditKind.REJECTED, remedy=remedy)
    assert withdrawn.message == "Ship a replacement (355.00 USD) will not run: the exception was closed before it ran."
    assert withdrawn.parameters["withdrawn"] is True
    assert not AuditEvent.objects.filter(kind=AuditKind.EXECUTED).exists()


def test_a_case_closed_while_its_step_runs_waits_for_the_step_which_is_done(approved_reship, monkeypatch, run_jobs):
    manager = UserFactory()
    reship = ACTIONS["reship"]
    real_execute = reship.execute
    closing: list[threading.Thread] = []

    def execute_while_closed(remedy):
        closing.append(close_in_another_session(approved_reship, manager))
        closing[0].join(timeout=0.5)
        assert closing[0].is_alive()  # the close waits for the batch that holds the case
        return real_execute(remedy)

    monkeypatch.setattr(reship, "execute", execute_while_closed)
    run_jobs()
    closing[0].join(timeout=10)

    remedy = Remedy.objects.get()
    assert remedy.state == RemedyState.DONE
    assert list(ActionRecord.objects.values_list("operation", flat=True)) == ["replacement"]  # shipped once
    approved_reship.refresh_from_db()
    assert approved_reship.state == CaseState.RESOLVED
    assert approved_reship.resolution == "Resolved by an agent."
    assert not AuditEvent.objects.filter(kind=AuditKind.REJECTED).exists()  # nothing left to withdraw
