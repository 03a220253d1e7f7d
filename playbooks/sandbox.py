"""The sandbox: what a playbook would have done on past exceptions, with no side effects.

It runs the live engine's own planner (`engine.plan_case`) over the exceptions of the playbook's type
detected in a date range, in detection order, with a simulated ledger for the caps — so its report
is what a live run on the same data does. The live no-repeat rule included: an exception a person had closed
is not opened again on the same facts (`engine.person_closed_unchanged`, as of its detection), and one opened
again on a subject does not repeat what the run's earlier plans (or remedies before the period) gave it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import islice
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Exists, OuterRef, Q, QuerySet, prefetch_related_objects

from cxhub.memo import memo_scope
from cxhub.runs import Progress, Runner
from notifications.policy import channel_order

from .actions import ACTIONS
from .actions.notify import MessageAction
from .caps import SimulatedLedger
from .detectors import DETECTORS
from .engine import (
    REPEAT,
    CasePlan,
    case_subject,
    earlier_remedies,
    person_closed_unchanged,
    plan_case,
    plan_given,
    playbook_for,
)
from .models import ExceptionCase, Playbook, Remedy, SandboxRun

# The admin's sandbox runs on a worker, with a progress bar: a long period or a busy store has tens of thousands
# of exceptions, more than a web request should wait for (cxhub/runs.py).
SANDBOX_RUNS = Runner(
    SandboxRun,
    job="playbooks.jobs.sandbox_run_job",
    # A run reports progress every few seconds once it plans cases; counting them first is one query.
    lease=timedelta(minutes=5),
    job_timeout=timedelta(hours=2),
)
# Cases planned per read of what was given before the period (one query a batch, as a live batch reads it).
BATCH_SIZE = 500


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
    # Held back by the no-repeat rule: exceptions the playbook would have acted on but live would not open again,
    # messages not sent again, money steps that repeat what the subject was given and so wait for a person
    # (counted in the approvals as well).
    not_reopened: int = 0
    messages_not_repeated: int = 0
    repeats_to_approval: int = 0
    repeat_amount: Decimal = Decimal("0.00")

    @property
    def compensation_total(self) -> Decimal:
        return sum(self.compensation_by_action.values(), Decimal("0.00"))

    @property
    def repeats_held_back(self) -> int:
        return self.not_reopened + self.messages_not_repeated + self.repeats_to_approval

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
            "repeats_held_back": self.repeats_held_back,
            "not_reopened": self.not_reopened,
            "messages_not_repeated": self.messages_not_repeated,
            "repeats_to_approval": self.repeats_to_approval,
            "repeat_amount": str(self.repeat_amount),
        }


def sandbox_cases(playbook: Playbook, *, since: datetime, until: datetime) -> QuerySet:
    cases = ExceptionCase.objects.filter(kind=playbook.trigger, detected_at__gte=since, detected_at__lt=until)
    if playbook.store_id:
        cases = cases.filter(Q(store_id=playbook.store_id))
    return cases.select_related("order__customer", "shipment", "store").order_by("detected_at", "pk")


def _not_reopened(kind: str) -> Exists:
    """For each past case: whether a live sweep would not have opened it, its subject's earlier case being one a
    person had closed with nothing new known since (the engine's rule, as of the case's detection)."""
    detector = DETECTORS[kind]
    closed = person_closed_unchanged(detector, as_of=OuterRef("detected_at"))
    return Exists(closed.filter(**{detector.subject: OuterRef(detector.subject)}))


class _Given:
    """What each subject had been given when a case of the period opens, as the live planner reads it
    (engine.earlier_remedies): the database's remedies from before the period, then what the run's own plans
    gave. The period's real remedies are not read: the run replaces them with the playbook's."""

    def __init__(self, before: datetime) -> None:
        self.before = before
        self.real: dict[int, list[Remedy]] = {}
        self.planned: dict[tuple[str, int], list[Remedy]] = defaultdict(list)

    def read(self, cases: list[ExceptionCase]) -> None:
        """Read what was given before the period to the subjects of this batch of cases."""
        self.real = earlier_remedies(cases, before=self.before)

    def earlier(self, case: ExceptionCase) -> list[Remedy]:
        if case.pk not in self.real:
            return []  # earlier_remedies reads only the types that recur: the others happen once per subject
        return [*self.real[case.pk], *self.planned.get(case_subject(case), [])]

    def record(self, case: ExceptionCase, plan: CasePlan) -> None:
        if case.pk in self.real:
            self.planned[case_subject(case)] += plan_given(case, plan)


def playbook_sandbox(
    playbook: Playbook, *, since: datetime, until: datetime, progress: Callable[[int], None] | None = None
) -> SandboxReport:
    """Plan `playbook` (draft or not) on every exception of its type detected in [since, until)."""
    report = SandboxReport(playbook=playbook.name, since=since, until=until)
    ledger, given = SimulatedLedger(before=since), _Given(before=since)
    # What every case shares (the playbook's steps, templates and settings; the ledger keeps the caps) is read
    # once for the run.
    prefetch_related_objects([playbook], "steps")
    cases = sandbox_cases(playbook, since=since, until=until).annotate(not_reopened=_not_reopened(playbook.trigger))
    with memo_scope():
        rows = cases.iterator(chunk_size=BATCH_SIZE)
        while batch := list(islice(rows, BATCH_SIZE)):
            given.read(batch)
            for case in batch:
                _simulate(report, playbook, case, ledger, given)
                if progress:
                    progress(1)
    return report


def _simulate(
    report: SandboxReport, playbook: Playbook, case: ExceptionCase, ledger: SimulatedLedger, given: _Given
) -> None:
    """Plan `playbook` on `case` as the live engine would, and add what it would have done to `report`."""
    report.exceptions += 1
    report.exceptions_by_type[case.kind] += 1
    if case.not_reopened:
        # Live would not open it: held back by the rule if the playbook would have acted on it.
        report.not_reopened += playbook_for(case, include_drafts_of=playbook) is not None
        return
    plan = plan_case(case, ledger=ledger, at=case.detected_at, playbook=playbook, earlier=given.earlier(case))
    given.record(case, plan)
    if plan.playbook is None:
        return
    report.matched += 1
    if plan.held_out:
        report.held_out += 1
        return
    report.messages_not_repeated += len(plan.skipped)
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
            if REPEAT in remedy.check.exceeded:
                report.repeats_to_approval += 1
                report.repeat_amount += remedy.amount
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
