"""The sandbox: what a playbook would have done on past exceptions, with no side effects.

It runs the live engine's own planner (`engine.plan_case`) over the exceptions of the playbook's type
detected in a date range, in detection order, with a simulated ledger for the caps — so its report
is what a live run on the same data does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q, prefetch_related_objects

from cxhub.memo import memo_scope
from cxhub.runs import Progress, Runner
from notifications.policy import channel_order

from .actions import ACTIONS
from .actions.notify import MessageAction
from .caps import SimulatedLedger
from .engine import plan_case
from .models import ExceptionCase, Playbook, SandboxRun

# The admin's sandbox runs on a worker, with a progress bar: a long period or a busy store has tens of thousands
# of exceptions, more than a web request should wait for (cxhub/runs.py).
SANDBOX_RUNS = Runner(
    SandboxRun,
    job="playbooks.jobs.sandbox_run_job",
    # A run reports progress every few seconds once it plans cases; counting them first is one query.
    lease=timedelta(minutes=5),
    job_timeout=timedelta(hours=2),
)


@dataclass
class SandboxReport:
    playbook: str
    since: datetime
    until: datetime
    exceptions: int = 0
    matched: int = 0
    held_out: int = 0
    exceptions_by_type: Counter = field(default_factory=Counter)
    messages_by_channel: Counter = field(default_factory=Counter)
    actions: Counter = field(default_factory=Counter)
    compensation_by_action: dict[str, Decimal] = field(default_factory=dict)
    approvals_needed: int = 0
    approvals_by_cap: Counter = field(default_factory=Counter)
    approval_amount: Decimal = Decimal("0.00")

    @property
    def compensation_total(self) -> Decimal:
        return sum(self.compensation_by_action.values(), Decimal("0.00"))

    def as_dict(self) -> dict:
        return {
            "playbook": self.playbook,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "exceptions": self.exceptions,
            "matched": self.matched,
            "held_out": self.held_out,
            "exceptions_by_type": dict(self.exceptions_by_type),
            "messages_by_channel": dict(self.messages_by_channel),
            "actions": dict(self.actions),
            "compensation_by_action": {k: str(v) for k, v in self.compensation_by_action.items()},
            "compensation_total": str(self.compensation_total),
            "approvals_needed": self.approvals_needed,
            "approvals_by_cap": dict(self.approvals_by_cap),
            "approval_amount": str(self.approval_amount),
        }


def sandbox_cases(playbook: Playbook, *, since: datetime, until: datetime):
    cases = ExceptionCase.objects.filter(kind=playbook.trigger, detected_at__gte=since, detected_at__lt=until)
    if playbook.store_id:
        cases = cases.filter(Q(store_id=playbook.store_id))
    return cases.select_related("order__customer", "shipment", "store").order_by("detected_at", "pk")


def playbook_sandbox(
    playbook: Playbook, *, since: datetime, until: datetime, progress: Callable[[int], None] | None = None
) -> SandboxReport:
    """Plan `playbook` (draft or not) on every exception of its type detected in [since, until)."""
    report = SandboxReport(playbook=playbook.name, since=since, until=until)
    ledger = SimulatedLedger(before=since)
    # What every case shares (the playbook's steps, templates and settings; the ledger keeps the caps) is read
    # once for the run.
    prefetch_related_objects([playbook], "steps")
    with memo_scope():
        for case in sandbox_cases(playbook, since=since, until=until).iterator(chunk_size=500):
            _simulate(report, playbook, case, ledger)
            if progress:
                progress(1)
    return report


def _simulate(report: SandboxReport, playbook: Playbook, case: ExceptionCase, ledger: SimulatedLedger) -> None:
    """Plan `playbook` on `case` as the live engine would, and add what it would have done to `report`."""
    report.exceptions += 1
    report.exceptions_by_type[case.kind] += 1
    plan = plan_case(case, ledger=ledger, at=case.detected_at, playbook=playbook)
    if plan.playbook is None:
        return
    report.matched += 1
    if plan.held_out:
        report.held_out += 1
        return
    for remedy in plan.remedies:
        report.actions[remedy.action] += 1
        action = ACTIONS[remedy.action]
        if isinstance(action, MessageAction):
            # The channel the message would go by first ("auto" is not one): as the outbox picks it.
            preferred = case.order.customer.preferred_channel if case.order.customer else ""
            kind = action.message_kind(remedy.params)
            channel = channel_order(kind=kind, requested=remedy.params.get("channel", "auto"), preferred=preferred)[0]
            report.messages_by_channel[channel] += 1
        if not remedy.check.allowed:
            report.approvals_needed += 1
            report.approval_amount += remedy.amount
            report.approvals_by_cap.update(remedy.check.exceeded)
        elif remedy.amount:
            report.compensation_by_action[remedy.action] = (
                report.compensation_by_action.get(remedy.action, Decimal("0.00")) + remedy.amount
            )


def sandbox_run_start(
    playbook: Playbook, *, since: datetime, until: datetime, user: AbstractBaseUser | None
) -> SandboxRun:
    """Queue a sandbox run of `playbook` (draft or not) on the exceptions detected in [since, until)."""
    return SANDBOX_RUNS.start(
        playbook=playbook, playbook_version=playbook.version, since=since, until=until, requested_by=user
    )


def sandbox_run(run_id: int) -> str:
    """Do a queued sandbox run (or one whose worker died). Returns the state it ends in."""
    return SANDBOX_RUNS.execute(run_id, _run)


def _run(run: SandboxRun, progress: Progress) -> dict[str, Any]:
    # The playbook as it is now: the report says which version it tried.
    playbook = Playbook.objects.get(pk=run.playbook_id)
    progress.set_total(sandbox_cases(playbook, since=run.since, until=run.until).count())
    report = playbook_sandbox(playbook, since=run.since, until=run.until, progress=progress.add)
    return {"report": report.as_dict(), "done": report.exceptions, "playbook_version": playbook.version}
