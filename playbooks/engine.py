"""The playbook engine: detect → open a case → match a playbook → plan remedies within caps → act.

One code path serves live runs and the sandbox (`plan_case` never writes), so the sandbox tells the
truth. Every step is idempotent and claimed in the database:
- a case is unique per (subject, type) while live, so detecting again adds nothing;
- a case is planned once (claimed, then open → acting as its plan commits); a remedy is unique per
  (case, step) and runs once (claimed approved → executing); providers dedupe on the remedy;
- a claim whose worker died is handed out again a minute after it was made (cxhub/claims.py).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from itertools import takewhile
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, Model, OuterRef, Prefetch, Q, QuerySet, prefetch_related_objects
from django.utils import timezone

from cxhub.bulk import rows_update
from cxhub.claims import ABANDONED_GIVE_UP, CLAIM_UNHELD_AFTER, claims_unheld, rows_claim
from cxhub.jobs import enqueue, run_here
from cxhub.memo import memo_forget, memo_scope, memoized
from orders.models import Order, Shipment, TrackingEvent

from .actions import ACTIONS
from .actions.base import ActionError
from .actions.notify import MessageAction
from .audit import audit, audit_event, audits_record, jsonable
from .caps import CapCheck, Ledger, cap_check, lock_cap
from .choices import (
    ACTIVE_CASE_STATES,
    ActorType,
    ApprovalDecision,
    AuditKind,
    CaseState,
    Destination,
    PlaybookState,
    RemedyState,
)
from .detectors import DETECTORS
from .detectors.base import Detector
from .models import (
    Approval,
    AuditEvent,
    DetectorConfig,
    ExceptionCase,
    Playbook,
    PlaybookVersion,
    Remedy,
    SweepRun,
)
from .params import resolve_params

logger = logging.getLogger(__name__)


# --- Detection -------------------------------------------------------------------------------------------


def detector_settings(kind: str, configs: dict[str, DetectorConfig] | None = None) -> tuple[bool, dict[str, Any]]:
    """(enabled, params) for a detector: the CX manager's settings over the defaults. `configs`, when
    given, is every DetectorConfig by kind, loaded once by a caller that checks many detectors."""
    config = configs.get(kind) if configs is not None else DetectorConfig.objects.filter(kind=kind).first()
    detector = DETECTORS[kind]
    return (config.enabled if config else True), resolve_params(detector.params, config.params if config else {})


# Live cases a cleared condition resolves; an escalated one waits for a person.
CLEARABLE_CASE_STATES = [CaseState.OPEN, CaseState.ACTING]
# Cleared cases resolved per transaction: a carrier's backlog of scans after an outage clears thousands at once.
RESOLVE_BATCH_SIZE = 500


def _live_cases(kind: str) -> QuerySet:
    return ExceptionCase.objects.filter(kind=kind, state__in=ACTIVE_CASE_STATES)


def sweep_candidates(detector: Detector, now: datetime, params: dict[str, Any]) -> QuerySet:
    """Subjects matching the detector that have no live case of its type: one indexed query.

    Informational cases (post-delivery care, milestones) resolve once acted on while their condition
    still holds, and a condition that never clears by itself (a customer's claim) is closed by a person
    or the playbook while it still holds: for both, any earlier case counts. They happen once per
    subject, ever, so the next sweep does not reopen what someone closed (and pay its remedy twice).
    """
    live = _live_cases(detector.kind) if detector.recurs else ExceptionCase.objects.filter(kind=detector.kind)
    if detector.subject == "shipment":
        live = live.filter(shipment=OuterRef("pk"))
    else:
        live = live.filter(order=OuterRef("pk"), shipment__isnull=True)
    return detector.matching(now, params).exclude(Exists(live))


# How a person closes a case: the audit event of its resolution or dismissal names them.
PERSON_CLOSED = [AuditKind.RESOLVED, AuditKind.DISMISSED]


def closed_by_person_unchanged(detector: Detector, subject_ids: list[int]) -> set[int]:
    """Of `subject_ids`, those whose case of this type a person closed on the facts known now
    (person_closed_unchanged): the sweep does not open it again.

    Asked of a sweep's candidates, not inside the candidates' query: its cost follows the candidates found,
    where a NOT EXISTS in that query made PostgreSQL plan the whole sweep around it (transit_stall 2.5x)."""
    if not subject_ids:
        return set()
    field = "shipment_id" if detector.subject == "shipment" else "order_id"
    closed = person_closed_unchanged(detector).filter(**{f"{field}__in": subject_ids})
    return set(closed.values_list(field, flat=True))


def person_closed_unchanged(detector: Detector, *, as_of: OuterRef | None = None) -> QuerySet:
    """The cases of this type that a person resolved or dismissed with nothing new known about their subject
    since. Such a case stands for its subject: a person looked at these facts and closed it, so the same facts
    do not open it again (and message the customer, or plan its remedies, twice). New facts do: for a parcel, a
    carrier event received after the case was closed; for an order, a change to the order after it was closed
    (a payment, an address, a promise).

    Up to now, or up to `as_of` (the sandbox: a past case's detection time) for cases closed before it and
    carrier events received by then. An order keeps only its latest change, so any change after the close is
    news, even one made after `as_of`."""
    if not detector.recurs:
        return ExceptionCase.objects.none()  # cases of this type happen once per subject, ever (sweep_candidates)
    by_person = AuditEvent.objects.filter(case=OuterRef("pk"), kind__in=PERSON_CLOSED, actor_type=ActorType.USER)
    closed = ExceptionCase.objects.filter(
        Exists(by_person), kind=detector.kind, state__in=[CaseState.RESOLVED, CaseState.DISMISSED],
        resolved_at__isnull=False,
    )  # fmt: skip
    if as_of is not None:
        closed = closed.annotate(as_of=as_of).filter(resolved_at__lt=F("as_of"))
    if detector.subject == "shipment":
        news = TrackingEvent.objects.filter(shipment=OuterRef("shipment"), received_at__gt=OuterRef("resolved_at"))
        if as_of is not None:
            news = news.filter(received_at__lte=OuterRef("as_of"))
        return closed.exclude(Exists(news))
    return closed.filter(shipment__isnull=True, resolved_at__gte=F("order__updated_at"))


def sweep_candidate_ids(detector: Detector, now: datetime, params: dict[str, Any]) -> QuerySet:
    """The candidates' keys: the query a sweep's time depends on. Keys first, rows after: joined to their
    order, customer and store from the start, the query had PostgreSQL (which badly underestimates how
    many live cases a kind has) join every matching subject before dropping those with a case
    (carrier_disruption 150 -> 20 ms at a million shipments). Neither ordered nor capped: a newest-first
    LIMIT made it walk a whole index."""
    return sweep_candidates(detector, now, params).order_by().values_list("pk", flat=True)


def detector_sweep(kind: str, *, now: datetime | None = None, limit: int = 5000) -> SweepRun | None:
    """Open cases for new candidates and resolve cases whose condition cleared. Records a SweepRun."""
    enabled, params = detector_settings(kind)
    if not enabled:
        return None
    detector = DETECTORS[kind]
    now = now or timezone.now()
    started = time.monotonic()
    ids = list(sweep_candidate_ids(detector, now, params))
    ids = sorted(set(ids) - closed_by_person_unchanged(detector, ids))
    if detector.subject == "shipment":
        model, related = Shipment, ["order__store", "order__customer"]
    else:
        model, related = Order, ["store", "customer"]
    candidates = list(model.objects.filter(pk__in=ids).select_related(*related).order_by("pk")[:limit])
    opened = cases_open(detector, candidates, now=now, params=params)
    cases_act_soon([case.pk for case in opened])
    resolved = cases_resolve_cleared(detector, now=now, params=params)
    return SweepRun.objects.create(
        detector=kind,
        started_at=now,
        duration_ms=int((time.monotonic() - started) * 1000),
        candidates=len(candidates),
        opened=len(opened),
        resolved=resolved,
    )


def sweep_last_at() -> datetime | None:
    """When the latest sweep ran (None before the first): the newest row, from the primary key."""
    return SweepRun.objects.order_by("-pk").values_list("started_at", flat=True).first()


def sweeps_run(*, now: datetime | None = None) -> list[SweepRun]:
    """Every enabled detector's sweep, time-based and event-driven alike (the latter as a safety net)."""
    runs = [detector_sweep(detector.kind, now=now) for detector in DETECTORS.all()]
    return [run for run in runs if run]


def subject_check(*, shipment_ids: list[int] = (), order_ids: list[int] = (), now: datetime | None = None) -> int:
    """Event-driven detection: a fact about these shipments/orders just arrived. Opens and resolves
    cases for them only, and runs the playbooks of those it opens (the first batch in this process, see
    cases_act_soon). Returns how many cases it opened."""
    now = now or timezone.now()
    opened = []
    configs = {config.kind: config for config in DetectorConfig.objects.all()}
    resolvable = _resolvable_cases(shipment_ids, order_ids)
    for detector in DETECTORS.all():
        enabled, params = detector_settings(detector.kind, configs)
        if not enabled:
            continue
        ids = shipment_ids if detector.subject == "shipment" else order_ids
        if not ids:
            continue
        found = {subject.pk: subject for subject in sweep_candidates(detector, now, params).filter(pk__in=ids)}
        subjects = [found[pk] for pk in sorted(set(found) - closed_by_person_unchanged(detector, list(found)))]
        opened += [case.pk for case in cases_open(detector, subjects, now=now, params=params)]
        # Only subjects with a case to resolve are checked: most facts have none, and the check is a detector's
        # whole condition (a case opened just now matches it, so it is not one).
        if with_case := resolvable.get((detector.subject, detector.kind)):
            cases_resolve_cleared(detector, now=now, params=params, subject_ids=sorted(with_case))
    cases_act_soon(opened, here=True)
    return len(opened)


def _resolvable_cases(shipment_ids: list[int], order_ids: list[int]) -> dict[tuple[str, str], set[int]]:
    """The subjects among these with a case that may clear by itself, by (subject, case kind): one query instead
    of a condition check per detector."""
    rows = (
        ExceptionCase.objects.filter(state__in=CLEARABLE_CASE_STATES)
        .filter(Q(shipment_id__in=shipment_ids) | Q(order_id__in=order_ids, shipment__isnull=True))
        .values_list("kind", "shipment_id", "order_id")
    )
    found: dict[tuple[str, str], set[int]] = defaultdict(set)
    for kind, shipment_id, order_id in rows:
        subject = "shipment" if shipment_id else "order"
        found[subject, kind].add(shipment_id or order_id)
    return found


def cases_open(
    detector: Detector, subjects: list[Model], *, now: datetime, params: dict[str, Any]
) -> list[ExceptionCase]:
    """Open a case for each subject unless one is live already, in one transaction for the batch, and
    return those opened. The caller has them acted on (cases_act_soon)."""
    prefetch_related_objects(subjects, *detector.facts_prefetch)
    return _cases_insert([_case_new(detector, subject, now=now, params=params) for subject in subjects])


def _case_new(detector: Detector, subject: Model, *, now: datetime, params: dict[str, Any]) -> ExceptionCase:
    shipment = subject if isinstance(subject, Shipment) else None
    found = detector.facts(subject, now, params)
    return ExceptionCase(
        store_id=subject.store_id,  # by id: a parcel's order is not loaded to open its case
        order_id=shipment.order_id if shipment else subject.pk,
        shipment=shipment,
        kind=detector.kind,
        detected_at=now,
        facts=jsonable({**found, "thresholds": params}),
        explanation=detector.explain(subject, now, params, found),
    )


def _cases_insert(cases: list[ExceptionCase]) -> list[ExceptionCase]:
    """Insert the new cases with their "detected" events. A case live already (another worker opened it
    first) rolls the batch back, and its cases are inserted one by one: detecting again never duplicates
    a case, and does not stop the others."""
    if not cases:
        return []
    try:
        with transaction.atomic():
            ExceptionCase.objects.bulk_create(cases)
            audits_record([_detected_event(case) for case in cases])
        return cases
    except IntegrityError:
        if len(cases) == 1:
            return []
    for case in cases:
        case.pk = None  # a rolled-back insert
    return [opened for case in cases for opened in _cases_insert([case])]


def _detected_event(case: ExceptionCase) -> AuditEvent:
    return audit_event(AuditKind.DETECTED, case.explanation, case=case, detector=case.kind, facts=case.facts)


# Newly opened cases are acted on this many to a job: a job per case spent more on the queue than on the case.
ACT_BATCH_SIZE = 25


def cases_act_soon(case_ids: list[int], *, here: bool = False) -> None:
    """Have the playbooks of these cases run once the current transaction commits, ACT_BATCH_SIZE cases
    to a job. With `here` (the caller is a job that just opened them) the first batch runs in this process
    instead: the usual handful an event opens reaches the customer without another hop through the queue,
    while a sweep's thousands are still shared among the workers."""
    from .jobs import cases_act_job

    chunks = [case_ids[start : start + ACT_BATCH_SIZE] for start in range(0, len(case_ids), ACT_BATCH_SIZE)]
    first = chunks.pop(0) if here and chunks else None
    # Queued first, so other workers start on them while this one acts on its own. An event's at the front:
    # finishing what is under way gets customers their message sooner than starting on the next deliveries
    # (a sweep's thousands wait their turn instead, not to hold up what arrives meanwhile).
    for chunk in chunks:
        enqueue("default", cases_act_job, chunk, at_front=here)
    if first:
        run_here(cases_act, first)  # a failure is logged; its cases are left to cases_recover


def cases_act(case_ids: list[int]) -> int:
    """Plan the cases as one batch (cases_plan), then run their approved steps (steps_run), right after the
    plans commit: a hop through the queue would only add latency before the customer hears. A case that
    fails is logged and left to the recovery (cases_recover, remedies_recover); the others go on. Returns
    how many failed."""
    with memo_scope():  # playbooks, versions, templates and settings read once for the batch
        planned, failed = cases_plan(case_ids)
        return failed + steps_run(planned)


def cases_resolve_cleared(
    detector: Detector, *, now: datetime, params: dict[str, Any], subject_ids: list[int] | None = None
) -> int:
    """Resolve live cases whose subject no longer matches (a scan arrived, the payment went through)."""
    if not detector.resolves_when_cleared:
        return 0
    field = "shipment_id" if detector.subject == "shipment" else "order_id"
    live = ExceptionCase.objects.filter(kind=detector.kind, state__in=CLEARABLE_CASE_STATES)
    matching = detector.matching(now, params)
    if subject_ids is not None:
        live = live.filter(**{f"{field}__in": subject_ids})
        # Only these subjects' cases are looked at, so only they need checking: evaluating the condition
        # for every subject took 0.5-2 s per order event at a million shipments (bench/README.md).
        matching = matching.filter(pk__in=subject_ids)
    cleared = list(live.exclude(**{f"{field}__in": matching.values("pk")}).order_by("pk").values_list("pk", flat=True))
    batches = range(0, len(cleared), RESOLVE_BATCH_SIZE)
    return sum(_cases_resolve_cleared_batch(cleared[i : i + RESOLVE_BATCH_SIZE], now=now) for i in batches)


def _cases_resolve_cleared_batch(pks: list[int], *, now: datetime) -> int:
    """Resolve these cleared cases with one locked read, one UPDATE per reason (the parcel's new status) and one
    INSERT for their audit trail, whatever their number."""
    with transaction.atomic():
        # Locked, and still clearable: an agent may have escalated or closed one since the sweep's read.
        cases = list(
            ExceptionCase.objects.filter(pk__in=pks, state__in=CLEARABLE_CASE_STATES)
            .select_related("shipment")
            .select_for_update(of=("self",))
            .order_by("pk")
        )
        by_reason = defaultdict(list)
        for case in cases:
            by_reason["The condition cleared: " + _cleared_reason(case)].append(case)
        for reason, group in by_reason.items():
            ExceptionCase.objects.filter(pk__in=[case.pk for case in group]).update(
                state=CaseState.RESOLVED, resolved_at=now, resolution=reason
            )
        events = [audit_event(AuditKind.RESOLVED, reason, case=case) for reason, group in by_reason.items()
                  for case in group]  # fmt: skip
        events += _cases_withdraw(cases, why="the exception resolved itself (its condition cleared)", now=now)
        audits_record(events)
    return len(cases)


def _cleared_reason(case: ExceptionCase) -> str:
    if case.shipment_id:
        return f"the shipment is now {case.shipment.get_status_display().lower()}."
    return "the order no longer meets it."


def case_resolve(
    case: ExceptionCase,
    *,
    reason: str,
    now: datetime | None = None,
    user: Any = None,
    states: list[str] = ACTIVE_CASE_STATES,
) -> int:
    """Resolve a live case (in one of `states`) once, withdrawing what it still had to do (_cases_withdraw).
    Returns 1 if this call resolved it."""
    now = now or timezone.now()
    with transaction.atomic():
        updated = ExceptionCase.objects.filter(pk=case.pk, state__in=states).update(
            state=CaseState.RESOLVED, resolved_at=now, resolution=reason
        )
        if updated:
            audit(AuditKind.RESOLVED, reason, case=case, user=user)
            who = "an agent" if user else "the system"
            audits_record(_cases_withdraw([case], why=f"the exception was resolved by {who}", user=user, now=now))
    return updated


def case_dismiss(case: ExceptionCase, *, user: Any) -> int:
    """An agent says it was not a real problem, withdrawing what the case still had to do (_cases_withdraw).
    Returns 1 if this call dismissed it."""
    now = timezone.now()
    with transaction.atomic():
        updated = ExceptionCase.objects.filter(pk=case.pk, state__in=ACTIVE_CASE_STATES).update(
            state=CaseState.DISMISSED, resolved_at=now, resolution="Dismissed by an agent."
        )
        if updated:
            audit(AuditKind.DISMISSED, "Dismissed by an agent: not a real problem.", case=case, user=user)
            audits_record(_cases_withdraw([case], why="the exception was dismissed", user=user, now=now))
    return updated


# The steps of a closed case that are withdrawn: not started yet. A step a worker has claimed is withdrawn
# by that worker if the case closed before its batch took hold of it (_remedies_hold); once held, it runs, and
# closing the case waits for the batch (its provider call may be under way).
WITHDRAWN_REMEDY_STATES = [RemedyState.PLANNED, RemedyState.NEEDS_APPROVAL, RemedyState.APPROVED]


def _cases_withdraw(cases: list[ExceptionCase], *, why: str, user: Any = None, now: datetime) -> list[AuditEvent]:
    """A closed case does nothing more: its steps not started yet are rejected and their pending approvals
    decided as withdrawn (out of the Waiting queue, and nobody can approve them any more). Call in the
    closing transaction; returns the audit events to record, one per step withdrawn."""
    if not cases:
        return []
    steps = Remedy.objects.filter(case__in=[case.pk for case in cases], state__in=WITHDRAWN_REMEDY_STATES)
    return _remedies_withdraw(steps, why=why, user=user, now=now)


def _remedies_withdraw(steps: QuerySet, *, why: str, user: Any = None, now: datetime) -> list[AuditEvent]:
    """Reject these steps of closed cases and withdraw their pending approvals; returns the audit events."""
    pending = list(steps.select_for_update(of=("self",)).select_related("case").order_by("pk"))
    if not pending:
        return []
    pks = [remedy.pk for remedy in pending]
    reason = f"Withdrawn: {why}."
    Remedy.objects.filter(pk__in=pks).update(state=RemedyState.REJECTED)
    asked = set(
        Approval.objects.filter(remedy__in=pks, decision=ApprovalDecision.PENDING).values_list("remedy_id", flat=True)
    )
    Approval.objects.filter(remedy__in=asked).update(
        decision=ApprovalDecision.REJECTED, decided_by=user, decided_at=now, reason=reason
    )
    return [
        audit_event(
            AuditKind.REJECTED,
            f"{ACTIONS[remedy.action].label}"
            + (f" ({remedy.amount} {remedy.currency})" if remedy.amount else "")
            + (", waiting for approval," if remedy.pk in asked else "")
            + f" will not run: {why}.",
            remedy=remedy,
            user=user,
            actor_type=ActorType.USER if user else ActorType.SYSTEM,
            withdrawn=True,
            approval_withdrawn=remedy.pk in asked,
        )
        for remedy in pending
    ]


# --- Playbooks -------------------------------------------------------------------------------------------


def playbook_snapshot(playbook: Playbook) -> dict[str, Any]:
    """Everything that decides what a playbook does, as JSON (what a version freezes)."""
    fields = ["name", "trigger", "state", "priority", "vip_only", "min_lifetime_value", "min_order_value",
              "max_order_value", "destination", "carriers", "first_exception_only", "holdout_percent"]  # fmt: skip
    data = {name: getattr(playbook, name) for name in fields}
    data = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in data.items()}
    data["store"] = playbook.store_id
    data["steps"] = [{"position": s.position, "action": s.action, "params": s.params} for s in playbook.steps.all()]
    return data


def playbook_record_version(playbook: Playbook, *, user: Any = None) -> PlaybookVersion:
    """Freeze the playbook as a new version if it changed since the last one; return the current one."""
    with transaction.atomic():
        playbook = Playbook.objects.select_for_update().get(pk=playbook.pk)
        snapshot = playbook_snapshot(playbook)
        latest = playbook.versions.order_by("-number").first()
        if latest and latest.snapshot == snapshot:
            return latest
        number = (latest.number if latest else 0) + 1
        version = PlaybookVersion.objects.create(playbook=playbook, number=number, snapshot=snapshot, created_by=user)
        Playbook.objects.filter(pk=playbook.pk).update(version=number)
        audit(
            AuditKind.PLAYBOOK_CHANGED,
            f"{playbook.name} saved as version {number}.",
            store=playbook.store,
            user=user,
            actor_type=ActorType.USER if user else ActorType.SYSTEM,
            playbook_version=version,
            snapshot=snapshot,
        )
    return version


def playbook_version_current(playbook: Playbook) -> PlaybookVersion:
    """The version a run acts under: the newest one when it still describes the playbook, which is what
    nearly every run finds (two reads, no lock: cases of one playbook no longer queue on its row), else a
    new one, recorded under the playbook's lock."""

    def load() -> PlaybookVersion:
        latest = playbook.versions.order_by("-number").first()
        if latest is not None and latest.snapshot == playbook_snapshot(playbook):
            return latest
        return playbook_record_version(playbook)

    return memoized(("playbook_version", playbook.pk), load)


def playbook_conditions(playbook: Playbook, case: ExceptionCase) -> tuple[bool, list[str]]:
    """Whether the case's order meets the playbook's conditions, with the reasons it does not."""
    order = case.order
    customer = order.customer
    reasons = []
    if playbook.store_id and playbook.store_id != case.store_id:
        reasons.append("another store")
    if playbook.vip_only and not (customer and customer.is_vip):
        reasons.append("not a VIP")
    if playbook.min_lifetime_value is not None and (
        not customer or customer.lifetime_value < playbook.min_lifetime_value
    ):
        reasons.append(f"lifetime value under {playbook.min_lifetime_value}")
    if playbook.min_order_value is not None and order.total < playbook.min_order_value:
        reasons.append(f"order under {playbook.min_order_value}")
    if playbook.max_order_value is not None and order.total > playbook.max_order_value:
        reasons.append(f"order over {playbook.max_order_value}")
    if playbook.destination == Destination.DOMESTIC and order.is_international:
        reasons.append("international order")
    if playbook.destination == Destination.INTERNATIONAL and not order.is_international:
        reasons.append("domestic order")
    if playbook.carrier_list and (not case.shipment or case.shipment.carrier not in playbook.carrier_list):
        reasons.append("another carrier")
    # The order's first problem: its milestones and care check-ins are news every order has, not exceptions.
    earlier_problems = ExceptionCase.objects.filter(order=order, detected_at__lt=case.detected_at).exclude(
        kind__in=DETECTORS.informational_kinds()
    )
    if playbook.first_exception_only and earlier_problems.exists():
        reasons.append("not the order's first exception")
    return not reasons, reasons


def in_holdout(playbook: Playbook, order: Order) -> bool:
    """A stable, random-looking share of orders per playbook: the same order always lands the same way."""
    if playbook.holdout_percent <= 0:
        return False
    digest = hashlib.sha256(f"{playbook.pk}:{order.pk}".encode()).hexdigest()
    return int(digest[:8], 16) % 100 < playbook.holdout_percent


def playbook_for(case: ExceptionCase, *, include_drafts_of: Playbook | None = None) -> Playbook | None:
    """The first active playbook (by priority) for the case's type whose conditions match."""
    if include_drafts_of is not None:
        candidates = [include_drafts_of]
    else:
        # Steps come along (in position order): the plan and the version check both read them.
        candidates = memoized(
            ("playbooks", case.kind, case.store_id),
            lambda: list(
                Playbook.objects.filter(trigger=case.kind, state=PlaybookState.ACTIVE)
                .filter(Q(store__isnull=True) | Q(store_id=case.store_id))
                .order_by("priority", "pk")
                .prefetch_related("steps")
            ),
        )
    return next((p for p in candidates if playbook_conditions(p, case)[0]), None)


@dataclass
class PlannedRemedy:
    position: int
    action: str
    params: dict[str, Any]
    amount: Decimal
    check: CapCheck
    description: str


@dataclass
class CasePlan:
    playbook: Playbook | None
    held_out: bool = False
    remedies: list[PlannedRemedy] = field(default_factory=list)
    # Steps not planned, with why: a message the customer already got about this subject.
    skipped: list[str] = field(default_factory=list)


# Remedies that count as done for a subject: about to run, running or done (as the caps count money).
DONE_OR_UNDER_WAY = [RemedyState.APPROVED, RemedyState.EXECUTING, RemedyState.DONE]
# What a cap check lists when the same remedy was already given for the subject: a person decides.
REPEAT = "already_given_for_this_subject"


def earlier_remedies(cases: list[ExceptionCase], *, before: datetime | None = None) -> dict[int, list[Remedy]]:
    """For each case of a type that can recur, what earlier cases of its type on its subject (the parcel, or the
    order) gave or are giving: one query for the batch. A case opened again must not message the customer
    twice, nor give the same remedy again without a person seeing the first. With `before` (the start of a
    sandbox's period, whose own cases' remedies it simulates), only what cases detected before it gave."""
    recurring = [case for case in cases if case.pk and DETECTORS[case.kind].recurs]
    found: dict[int, list[Remedy]] = {case.pk: [] for case in recurring}
    if not recurring:
        return found
    # One condition per type and kind of subject, not per case: the sandbox asks for 500 cases at a time.
    ids: dict[tuple[str, str], set[int]] = defaultdict(set)
    for case in recurring:
        subject, pk = case_subject(case)
        ids[case.kind, subject].add(pk)
    subjects = Q()
    for (kind, subject), pks in sorted(ids.items()):
        if subject == "shipment":
            subjects |= Q(case__kind=kind, case__shipment_id__in=sorted(pks))
        else:
            subjects |= Q(case__kind=kind, case__order_id__in=sorted(pks), case__shipment__isnull=True)
    remedies = Remedy.objects.filter(subjects, state__in=DONE_OR_UNDER_WAY)
    if before is not None:
        remedies = remedies.filter(case__detected_at__lt=before)
    given: dict[tuple[str, tuple[str, int]], list[Remedy]] = defaultdict(list)
    for remedy in (
        remedies.exclude(case__in=[case.pk for case in recurring])
        .select_related("case")
        .order_by("case__detected_at", "position")
    ):
        given[remedy.case.kind, case_subject(remedy.case)].append(remedy)
    for case in recurring:
        earlier = given.get((case.kind, case_subject(case)), [])
        found[case.pk] = [remedy for remedy in earlier if remedy.case.detected_at < case.detected_at]
    return found


def case_subject(case: ExceptionCase) -> tuple[str, int]:
    """What the case is about: its parcel, or its order."""
    return ("shipment", case.shipment_id) if case.shipment_id else ("order", case.order_id)


def _same_message(remedy: Remedy, action: MessageAction, params: dict[str, Any]) -> bool:
    sent = ACTIONS.get(remedy.action)
    return isinstance(sent, MessageAction) and sent.message_kind(remedy.params) == action.message_kind(params)


def plan_case(
    case: ExceptionCase,
    *,
    ledger: Ledger,
    at: datetime,
    playbook: Playbook | None = None,
    earlier: Sequence[Remedy] = (),
) -> CasePlan:
    """Decide what to do for a case, without doing it (pure but for the ledger's record of what it planned):
    under the first matching active playbook, or under `playbook` (a draft the sandbox tries)."""
    return plan_case_under(playbook_for(case, include_drafts_of=playbook), case, ledger=ledger, at=at, earlier=earlier)


def plan_case_under(
    playbook: Playbook | None,
    case: ExceptionCase,
    *,
    ledger: Ledger,
    at: datetime,
    earlier: Sequence[Remedy] = (),
) -> CasePlan:
    """The plan for a case under `playbook` (None: no playbook matched). Each amount is checked against the
    caps with what the ledger holds, then recorded in it, so the next case of a batch sees it spent.

    A case opened again on the same subject (`earlier`: what earlier cases of its type on it gave, which the
    live batch reads with earlier_remedies) does not send a message the customer already got about it, and a
    remedy already given for it needs a person, whatever the caps, with the earlier one in the arithmetic.
    The sandbox passes what was given before its period and what its own earlier plans gave (plan_given)."""
    if playbook is None:
        return CasePlan(None)
    if in_holdout(playbook, case.order):
        return CasePlan(playbook, held_out=True)
    plan = CasePlan(playbook)
    for step in playbook.steps.all():
        action = ACTIONS[step.action]
        params = resolve_params(action.params, step.params)
        if isinstance(action, MessageAction) and (sent := [r for r in earlier if _same_message(r, action, params)]):
            plan.skipped.append(
                f"Step {step.position} ({action.label}, {action.message_kind(params)}) not planned: the customer "
                f"already got this message about the same {'parcel' if case.shipment_id else 'order'} "
                f"(exception #{sent[0].case_id})."
            )
            continue
        amount = action.estimate(case, params).quantize(Decimal("0.01"))
        check = cap_check(case=case, action=step.action, amount=amount, at=at, ledger=ledger)
        given = [r for r in earlier if r.action == step.action] if action.costs_money else []
        if given:
            check = CapCheck(
                False,
                [*check.exceeded, REPEAT],
                {
                    **check.details,
                    REPEAT: [
                        {"exception": r.case_id, "amount": r.amount, "state": r.state, "executed_at": r.executed_at}
                        for r in given
                    ],
                },
            )
        if check.allowed:
            ledger.commit(case=case, action=step.action, amount=amount, at=at)
        plan.remedies.append(
            PlannedRemedy(step.position, step.action, params, amount, check, action.describe(case, params, amount))
        )
    return plan


def plan_given(case: ExceptionCase, plan: CasePlan) -> list[Remedy]:
    """What the plan gives for the case's subject once it commits, as the unsaved remedies earlier_remedies
    would find for a later case: the steps within every cap (the others wait for a person)."""
    remedies = [_remedy_new(case, planned) for planned in plan.remedies]
    return [remedy for remedy in remedies if remedy.state in DONE_OR_UNDER_WAY]


def case_act(case_id: int) -> None:
    """Run the matching playbook for a newly opened case: plan remedies, ask for approvals, act. A worker
    killed after the plan commits leaves approved remedies that remedies_recover hands out again."""
    cases_act([case_id])


# What planning and the actions read of a case, loaded with it.
CASE_RELATED = ["order__customer", "order__store", "shipment", "store"]


class _ClaimLost(Exception):
    """A case of the batch was claimed by someone else while it was being planned."""


def cases_plan(case_ids: list[int]) -> tuple[list[ExceptionCase], int]:
    """Claim newly opened cases and record their plans, in one transaction for the batch: remedies,
    approvals asked for, or why there are none. Returns the cases a playbook acts on (their steps are
    for steps_run), and how many cases failed to plan (logged; cases_recover hands them out again).

    A batch costs a few statements, not a few per case: a saturated worker spent a fifth of its time planning
    cases one by one (bench/README.md). When one case fails, the batch rolls back and its cases are planned one
    at a time, so that it does not stop the others. The claim is committed first and the plan's transaction
    holds the claimed cases until it commits: a worker killed meanwhile leaves claims nobody holds, which
    cases_recover hands out a minute after they were made (cxhub/claims.py).
    """
    claimed_at = timezone.now()
    claimed = rows_claim(_unplanned().filter(pk__in=case_ids), planning_started_at=claimed_at)
    return _plan_claimed(claimed, claimed_at)


def _unplanned() -> QuerySet:
    return ExceptionCase.objects.filter(state=CaseState.OPEN, playbook_version__isnull=True)


def _plan_claimed(case_ids: list[int], claimed_at: datetime) -> tuple[list[ExceptionCase], int]:
    if not case_ids:
        return [], 0
    try:
        with transaction.atomic():
            return _plan_batch(case_ids), 0
    except _ClaimLost:
        if len(case_ids) == 1:
            return [], 0  # another worker has it
    except Exception:
        memo_forget()  # a rolled-back playbook version must not be used again
        if len(case_ids) == 1:
            logger.exception("planning case %s failed", case_ids[0])
            # Not a dead worker's: left to the slower retry of cases never planned.
            _unplanned().filter(pk=case_ids[0], planning_started_at=claimed_at).update(planning_started_at=None)
            return [], 1
        logger.warning("planning a batch of %s cases failed: planning them one by one", len(case_ids))
    planned, failed = [], 0
    for case_id in case_ids:
        one, one_failed = _plan_claimed([case_id], claimed_at)
        planned += one
        failed += one_failed
    return planned, failed


def _plan_batch(case_ids: list[int]) -> list[ExceptionCase]:
    now = timezone.now()
    unclaimed = _unplanned()
    # Locked until the plans commit (cases another worker is planning are skipped): the claim below cannot
    # be lost, and the recovery leaves them alone however long this takes.
    cases = list(
        unclaimed.filter(pk__in=case_ids)
        .select_related(*CASE_RELATED)
        .select_for_update(skip_locked=True, no_key=True, of=("self",))
        .order_by("pk")
    )
    chosen = {case.pk: playbook_for(case) for case in cases}
    _lock_caps(cases, chosen)
    earlier = earlier_remedies([case for case in cases if chosen[case.pk]])
    ledger, audits, claims, acting, waiting, held_out_news = Ledger(), [], defaultdict(list), [], [], []
    for case in cases:
        plan = plan_case_under(chosen[case.pk], case, ledger=ledger, at=now, earlier=earlier.get(case.pk, []))
        audits += [audit_event(AuditKind.PLANNED, why, case=case, actor_type=ActorType.PLAYBOOK, skipped=True)
                   for why in plan.skipped]  # fmt: skip
        if plan.playbook is None:
            audits.append(audit_event(AuditKind.NO_PLAYBOOK, "No active playbook matches this exception: it waits "
                                      "for an agent.", case=case))  # fmt: skip
            waiting.append(case.pk)
            continue
        case.playbook_version = playbook_version_current(plan.playbook)
        claims[case.playbook_version.pk, plan.held_out].append(case.pk)
        if plan.held_out:
            audits.append(_held_out_event(case, plan.playbook))
            if DETECTORS[case.kind].resolves_when_acted:  # news held out: nothing is left to do, ever
                held_out_news.append(case.pk)
                audits.append(audit_event(AuditKind.RESOLVED, HELD_OUT_NEWS, case=case))
        else:
            acting.append((case, plan))
    for (version_id, held_out), ids in claims.items():
        claim = {"is_holdout": True} if held_out else {"state": CaseState.ACTING}
        planned = unclaimed.filter(pk__in=ids).update(playbook_version_id=version_id, planning_started_at=None, **claim)
        if planned != len(ids):
            raise _ClaimLost
    if waiting:
        ExceptionCase.objects.filter(pk__in=waiting).update(planning_started_at=None)
    if held_out_news:
        ExceptionCase.objects.filter(pk__in=held_out_news).update(
            state=CaseState.RESOLVED, resolved_at=now, resolution=HELD_OUT_NEWS
        )
    new = [(_remedy_new(case, planned), planned) for case, plan in acting for planned in plan.remedies]
    Remedy.objects.bulk_create([remedy for remedy, _ in new])  # sets each one's pk
    approvals = []
    for remedy, planned in new:
        approval, event = _remedy_records(remedy, planned, now=now)
        audits.append(event)
        if approval:
            approvals.append(approval)
    if approvals:
        Approval.objects.bulk_create(approvals)
    audits_record(audits)
    return [case for case, _ in acting]


def _lock_caps(cases: list[ExceptionCase], chosen: dict[int, Playbook | None]) -> None:
    """Lock the caps the chosen playbooks' money steps spend from, in one order for every batch (so two
    cannot deadlock): no other run spends from them until this batch's plans commit."""
    caps = {
        (case.store_id, step.action)
        for case in cases
        if (playbook := chosen[case.pk])
        for step in playbook.steps.all()
        if ACTIONS[step.action].costs_money
    }
    for store_id, action in sorted(caps):
        lock_cap(store_id=store_id, action=action)


# How a held-out informational case (a milestone, a care check-in) ends: it was only ever to tell the customer.
HELD_OUT_NEWS = "In the holdout: the customer is not told, and there is nothing else to do."


def _held_out_event(case: ExceptionCase, playbook: Playbook) -> AuditEvent:
    return audit_event(
        AuditKind.HELD_OUT,
        f"In the {playbook.holdout_percent}% holdout of {playbook.name}: no proactive action, so the hub can "
        "measure what acting changes.",
        case=case,
        actor_type=ActorType.PLAYBOOK,
        holdout_percent=playbook.holdout_percent,
    )


def _remedy_new(case: ExceptionCase, planned: PlannedRemedy) -> Remedy:
    return Remedy(
        case=case,
        position=planned.position,
        action=planned.action,
        params=jsonable(planned.params),
        amount=planned.amount,
        currency=case.order.currency,
        state=RemedyState.APPROVED if planned.check.allowed else RemedyState.NEEDS_APPROVAL,
        cap_check=jsonable(
            {"allowed": planned.check.allowed, "exceeded": planned.check.exceeded, **planned.check.details}
        ),
    )


def _remedy_records(remedy: Remedy, planned: PlannedRemedy, *, now: datetime) -> tuple[Approval | None, AuditEvent]:
    """What a new remedy adds: its audit event and, above a cap, the approval it waits for."""
    if planned.check.allowed:
        return None, audit_event(
            AuditKind.PLANNED,
            f"{planned.description} ({planned.amount} {remedy.currency}): within every cap, runs automatically."
            if planned.amount
            else f"{planned.description}.",
            remedy=remedy,
            actor_type=ActorType.PLAYBOOK,
            step=planned.position,
            cap=planned.check.details,
        )
    approval = Approval(
        remedy=remedy,
        due_at=now + timezone.timedelta(hours=settings.APPROVAL_SLA_HOURS),
        exceeded=planned.check.exceeded,
    )
    caps = [name for name in planned.check.exceeded if name != REPEAT]
    why = [f"is above {', '.join(caps)}"] if caps else []
    if given := planned.check.details.get(REPEAT):
        why.append(
            "repeats what was already given for this "
            + ("parcel" if remedy.case.shipment_id else "order")
            + ": "
            + "; ".join(f"{g['amount']} {remedy.currency}, {g['state']}, exception #{g['exception']}" for g in given)
        )
    return approval, audit_event(
        AuditKind.CAP_EXCEEDED,
        f"{planned.description} ({planned.amount} {remedy.currency}) {' and '.join(why)}: an agent must approve it.",
        remedy=remedy,
        actor_type=ActorType.PLAYBOOK,
        step=planned.position,
        exceeded=planned.check.exceeded,
        cap=planned.check.details,
    )


ENDED_REMEDY_STATES = (RemedyState.DONE, RemedyState.REJECTED, RemedyState.FAILED)


def case_run_steps(case_id: int) -> None:
    """Run the case's approved remedies in step order; stop at a step that waits for approval."""
    steps_run([ExceptionCase.objects.select_related(*CASE_RELATED).get(pk=case_id)])


def steps_run(cases: list[ExceptionCase]) -> int:
    """Run the cases' approved steps, each case's in step order up to one that waits for approval, then
    record what they did. Returns how many cases failed (logged).

    Each step is claimed before it runs (approved -> executing), so it runs once. The batch then runs in
    one transaction that holds its claimed steps' rows until it has recorded their outcomes in a few
    statements (not a transaction per step: a saturated worker spent a third of its time on that
    bookkeeping, bench/README.md). That hold is what tells remedies_recover the worker is alive: a worker
    killed meanwhile leaves steps "executing" that nobody holds, handed out again a minute after their
    claim (cxhub/claims.py). Providers and the outbox are keyed by the remedy, so what was done is not done twice.
    """
    prefetch_related_objects(cases, Prefetch("remedies", queryset=Remedy.objects.order_by("position")))
    runnable = [remedy for case in cases for remedy in _runnable(case)]
    claimed, claimed_at = _remedies_claim(runnable)
    run, failed = _StepsRun(), 0
    with transaction.atomic():
        claimed = _remedies_hold(runnable, claimed, claimed_at, run)
        with memo_scope():
            _actions_prepare([remedy for remedy in runnable if remedy.pk in claimed])
            for case in cases:
                try:
                    run.case(case, claimed)
                except Exception:
                    logger.exception("acting on case %s failed", case.pk)
                    memo_forget()
                    failed += 1
        run.record()
    return failed


def _actions_prepare(remedies: list[Remedy]) -> None:
    by_action = defaultdict(list)
    for remedy in remedies:
        by_action[remedy.action].append(remedy)
    for action, some in by_action.items():
        ACTIONS[action].prepare(some)


def _pending(case: ExceptionCase) -> list[Remedy]:
    """The case's steps that have not ended, in step order (as steps_run loaded them)."""
    return [remedy for remedy in case.remedies.all() if remedy.state not in ENDED_REMEDY_STATES]


def _runnable(case: ExceptionCase) -> list[Remedy]:
    """The case's steps that can run now: the approved ones before the first that waits for a person."""
    return list(takewhile(lambda remedy: remedy.state == RemedyState.APPROVED, _pending(case)))


def _remedies_claim(remedies: list[Remedy]) -> tuple[set[int], datetime]:
    """Claim these approved remedies for this worker (approved -> executing); returns the ones it got
    (those another worker holds are skipped) and the claim's time."""
    now = timezone.now()
    if not remedies:
        return set(), now
    candidates = Remedy.objects.filter(pk__in=[remedy.pk for remedy in remedies], state=RemedyState.APPROVED)
    mine = set(rows_claim(candidates, state=RemedyState.EXECUTING, started_at=now))
    for remedy in remedies:
        if remedy.pk in mine:
            remedy.state = RemedyState.EXECUTING
    return mine, now


def _remedies_hold(remedies: list[Remedy], claimed: set[int], claimed_at: datetime, run: _StepsRun) -> set[int]:
    """Lock this worker's claimed steps, and their cases, for the rest of its transaction; returns the steps
    to run: those still its own (not a claim the recovery handed out meanwhile, had the worker stalled past
    its minute, nor another worker's claim of it since) whose case is still live.

    A person closing a case between the claim and this hold finds its steps running and leaves them
    (_cases_withdraw): they are withdrawn here instead, as the close would have. From here on, closing a
    case waits for the batch to commit (the case's row is held), so a step is either run or withdrawn."""
    if not claimed:
        return claimed
    held = Remedy.objects.filter(pk__in=claimed, state=RemedyState.EXECUTING, started_at=claimed_at)
    claimed = set(held.select_for_update(no_key=True).values_list("pk", flat=True))
    case_ids = {remedy.case_id for remedy in remedies if remedy.pk in claimed}
    live_cases = ExceptionCase.objects.filter(pk__in=case_ids, state__in=ACTIVE_CASE_STATES).order_by("pk")
    live = set(live_cases.select_for_update(no_key=True).values_list("pk", flat=True))
    closed = {remedy.pk for remedy in remedies if remedy.pk in claimed and remedy.case_id not in live}
    if closed:
        run.events += _remedies_withdraw(
            Remedy.objects.filter(pk__in=closed), why="the exception was closed before it ran", now=timezone.now()
        )
    return claimed - closed


class _StepsRun:
    """What a batch's steps did, kept until the batch has run, then written at once (record)."""

    def __init__(self) -> None:
        self.ended: list[Remedy] = []  # done or failed
        self.released: list[int] = []  # claimed, not run: approved again
        self.escalated: list[tuple[ExceptionCase, str]] = []
        self.concluded: list[ExceptionCase] = []  # every step has ended
        self.events: list[AuditEvent] = []

    def case(self, case: ExceptionCase, claimed: set[int]) -> None:
        """Run the case's claimed steps in order. A step another worker holds, or one waiting for a person,
        stops the case there: later steps wait too."""
        pending = _pending(case)
        for index, remedy in enumerate(pending):
            if remedy.pk not in claimed:
                return
            try:
                self.step(remedy)
            except Exception:  # a passing error (a provider time-out): this step and the rest run again later
                self.released += [later.pk for later in pending[index:] if later.pk in claimed]
                raise
        self.concluded.append(case)

    def step(self, remedy: Remedy) -> None:
        action = ACTIONS[remedy.action]
        try:
            with transaction.atomic():  # a step that fails takes back its own writes, not its case's earlier steps'
                result = action.execute(remedy)
        except ActionError as exc:
            if not exc.permanent:
                raise
            remedy.state, remedy.error = RemedyState.FAILED, str(exc)
            self.ended.append(remedy)
            self.events.append(audit_event(AuditKind.FAILED, f"{action.label} failed: {exc}", remedy=remedy,
                                           actor_type=ActorType.PLAYBOOK))  # fmt: skip
            return
        remedy.state, remedy.result, remedy.executed_at = RemedyState.DONE, jsonable(result), timezone.now()
        self.ended.append(remedy)
        self.events.append(
            audit_event(
                AuditKind.EXECUTED,
                f"{action.describe(remedy.case, remedy.params, remedy.amount)}"
                # A sum paid is in its description already ("Refunded $12.00").
                + (f" ({remedy.amount} {remedy.currency})." if remedy.amount and not action.pays_a_sum else "."),
                remedy=remedy,
                actor_type=ActorType.PLAYBOOK,
                result=result,
            )
        )
        if result.get("escalate"):
            self.escalated.append((remedy.case, f"Passed to the {result.get('queue')} queue by the playbook."))

    def record(self) -> None:
        """Write the batch's outcomes: the steps' states, escalations, the cases they conclude, the trail."""
        if not (self.ended or self.released or self.concluded or self.events):
            return
        with transaction.atomic():
            if self.ended:
                rows_update(self.ended, ["state", "result", "error", "executed_at"])
            if self.released:
                Remedy.objects.filter(pk__in=self.released, state=RemedyState.EXECUTING).update(
                    state=RemedyState.APPROVED
                )
            for case, reason in self.escalated:
                self.events += case_escalate(case, reason=reason)
            self.events += _cases_conclude(self.concluded)
            audits_record(self.events)


def case_escalate(case: ExceptionCase, *, reason: str) -> list[AuditEvent]:
    """Pass a live case to people. Returns its audit event to record (none if it was not live)."""
    updated = ExceptionCase.objects.filter(pk=case.pk, state__in=[CaseState.OPEN, CaseState.ACTING]).update(
        state=CaseState.ESCALATED
    )
    return [audit_event(AuditKind.ESCALATED, reason, case=case)] if updated else []


CONCLUDED = "The playbook has done everything it planned."


def _cases_conclude(cases: list[ExceptionCase]) -> list[AuditEvent]:
    """When every step has ended, an informational case still acting resolves (one a step escalated
    stays with its people); others stay "acting" until their condition clears (or a person closes them).
    Returns the audit events of those it resolved."""
    informational = [case for case in cases if DETECTORS[case.kind].resolves_when_acted]
    if not informational:
        return []
    acting = ExceptionCase.objects.filter(pk__in=[case.pk for case in informational], state=CaseState.ACTING)
    resolved = set(acting.select_for_update().order_by("pk").values_list("pk", flat=True))
    ExceptionCase.objects.filter(pk__in=resolved).update(
        state=CaseState.RESOLVED, resolved_at=timezone.now(), resolution=CONCLUDED
    )
    return [audit_event(AuditKind.RESOLVED, CONCLUDED, case=case) for case in informational if case.pk in resolved]


# Work due this long ago and still not done is handed out again: approved steps whose job never ran (lost
# with a worker or Redis) or that a provider's passing error put back, cases whose planning job never
# started or failed.
RETRY_AFTER = timezone.timedelta(minutes=10)
# Recovery looks this far back; older leftovers are for agents (the exception dashboard shows them).
RECOVERY_HORIZON = timezone.timedelta(days=1)


def remedies_recover(*, now: datetime | None = None) -> int:
    """Hand out again the work a dead worker left: steps claimed that no worker holds a minute after their
    claim, and approved steps whose job never ran (a worker killed before the enqueue, a job that failed on
    a provider's passing error). Safe: providers and the outbox are keyed by the remedy, so what was
    already done is not done twice. A step whose worker died three times is failed and its case escalated.
    Remedies older than a day are left to agents. Returns how many cases were handed out."""
    now = now or timezone.now()
    from .jobs import case_run_steps_job

    with transaction.atomic():
        # A step whose row a worker's transaction still holds is running, however long it takes.
        again, given_up = claims_unheld(steps_unheld(now), "case_id")
        Remedy.objects.filter(pk__in=[pk for pk, _ in again]).update(
            state=RemedyState.APPROVED, abandoned=F("abandoned") + 1
        )
        _remedies_give_up([pk for pk, _ in given_up])
        case_ids = {case_id for _, case_id in again} | set(steps_overdue(now).values_list("case_id", flat=True))
        for case_id in sorted(case_ids):
            enqueue("default", case_run_steps_job, case_id, job_id=f"case-steps-{case_id}-r{int(now.timestamp())}")
    return len(case_ids)


def steps_unheld(now: datetime) -> QuerySet:
    """Steps claimed over a minute ago and still running, within the recovery's horizon: their worker's
    or, unless a transaction holds them, a dead one's (from the index of steps in flight)."""
    return Remedy.objects.filter(
        state=RemedyState.EXECUTING,
        created_at__gte=now - RECOVERY_HORIZON,
        started_at__lt=now - CLAIM_UNHELD_AFTER,
    )


def steps_overdue(now: datetime) -> QuerySet:
    """Approved steps of acting cases that should have run RETRY_AFTER ago, within the recovery's horizon.
    Not those after a step waiting for a person: they run once it is approved (handing them out every
    minute until then would queue jobs that do nothing)."""
    due = now - RETRY_AFTER
    waits_before = Remedy.objects.filter(
        case=OuterRef("case"),
        position__lt=OuterRef("position"),
        state__in=[RemedyState.PLANNED, RemedyState.NEEDS_APPROVAL],
    )
    return Remedy.objects.filter(
        Q(started_at__lt=due) | Q(started_at__isnull=True, created_at__lt=due),
        state=RemedyState.APPROVED,
        created_at__gte=now - RECOVERY_HORIZON,
        case__state=CaseState.ACTING,
    ).exclude(Exists(waits_before))


def _remedies_give_up(pks: list[int]) -> None:
    """Fail steps whose worker died running them each time, and pass their cases to people."""
    if not pks:
        return
    error = (
        f"its worker stopped while running it {ABANDONED_GIVE_UP} times (killed, out of memory, or its database "
        "connection lost): find the cause, then do it by hand if it is still owed"
    )
    logger.error("remedies %s failed: their worker died running them each time", pks)
    Remedy.objects.filter(pk__in=pks).update(state=RemedyState.FAILED, abandoned=F("abandoned") + 1, error=error)
    events = []
    for remedy in Remedy.objects.filter(pk__in=pks).select_related("case"):
        label = ACTIONS[remedy.action].label
        events.append(audit_event(AuditKind.FAILED, f"{label} failed: {error}", remedy=remedy,
                                  actor_type=ActorType.SYSTEM))  # fmt: skip
        events += case_escalate(remedy.case, reason=f"A step failed: {label} ({error}).")
    audits_record(events)


def cases_recover(*, now: datetime | None = None) -> int:
    """Plan again the cases a dead worker left: those claimed for planning that no worker holds a minute
    after their claim, and, RETRY_AFTER after their detection, those never claimed or whose planning
    failed (their job lost with Redis, or with a worker before it started). Within a day, and not those a
    plan left waiting for an agent. A case whose worker died planning it three times is passed to agents.
    Returns how many cases were handed out."""
    now = now or timezone.now()
    with transaction.atomic():
        # A case whose row a worker's transaction still holds is being planned, however long it takes.
        again, given_up = claims_unheld(plans_unheld(now))
        again = [pk for (pk,) in again]
        ExceptionCase.objects.filter(pk__in=again).update(planning_started_at=None, abandoned=F("abandoned") + 1)
        _cases_give_up([pk for (pk,) in given_up])
        verdict = AuditEvent.objects.filter(case=OuterRef("pk"), kind=AuditKind.NO_PLAYBOOK)
        never_planned = _unplanned().filter(
            planning_started_at__isnull=True,
            detected_at__lt=now - RETRY_AFTER,
            detected_at__gte=now - RECOVERY_HORIZON,
        )
        overdue = never_planned.exclude(Exists(verdict)).values_list("pk", flat=True)[:1000]
        case_ids = sorted(set(again) | set(overdue))
        cases_act_soon(case_ids)
    return len(case_ids)


def plans_unheld(now: datetime) -> QuerySet:
    """Cases claimed for planning over a minute ago and still unplanned, within the recovery's horizon:
    their worker's or, unless a transaction holds them, a dead one's (from the index of cases in planning)."""
    return _unplanned().filter(
        planning_started_at__lt=now - CLAIM_UNHELD_AFTER,
        detected_at__gte=now - RECOVERY_HORIZON,
    )


def _cases_give_up(pks: list[int]) -> None:
    """Pass to agents the cases whose worker died planning them each time."""
    if not pks:
        return
    logger.error("cases %s were passed to agents: their worker died planning them each time", pks)
    ExceptionCase.objects.filter(pk__in=pks).update(planning_started_at=None, abandoned=F("abandoned") + 1)
    reason = (
        f"Its worker stopped while planning it {ABANDONED_GIVE_UP} times (killed, out of memory, or its database "
        "connection lost): find the cause, then act on it by hand."
    )
    audits_record(
        [event for case in ExceptionCase.objects.filter(pk__in=pks) for event in case_escalate(case, reason=reason)]
    )
