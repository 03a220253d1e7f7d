"""Approvals: a person decides on a remedy above a cap, within their own limit."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from cxhub.jobs import enqueue

from .actions import ACTIONS
from .audit import audit
from .choices import ACTIVE_CASE_STATES, ApprovalDecision, AuditKind, CaseState, RemedyState
from .models import AgentProfile, Approval, ExceptionCase

PERMISSION = "playbooks.decide_approval"


def approval_limit(user: AbstractBaseUser) -> Decimal | None:
    """The most `user` may approve; None means no limit (a superuser without an agent profile)."""
    profile = AgentProfile.objects.filter(user=user).first()
    if profile:
        return profile.approval_limit
    return None if user.is_superuser else Decimal("0")


def approval_decide(
    approval: Approval,
    *,
    user: AbstractBaseUser,
    approve: bool,
    amount: Decimal | None = None,
    reason: str = "",
) -> Approval:
    """Approve (for less, where the action pays a sum: Action.pays_a_sum) or reject, while its exception is
    live. Raises PermissionDenied or ValidationError, and then changes nothing."""
    if not user.has_perm(PERMISSION):
        raise PermissionDenied("You may not decide on remedies.")
    remedy = approval.remedy
    proposed = remedy.amount
    amount = remedy.amount if amount is None else Decimal(amount).quantize(Decimal("0.01"))
    if approve:
        if not ACTIONS[remedy.action].pays_a_sum and amount != proposed:
            raise ValidationError(
                f"“{ACTIONS[remedy.action].label}” happens in full or not at all: approve the proposed {proposed} "
                "or reject it. Only a sum of money (a refund, a coupon, store credit) can be approved for less."
            )
        if amount <= 0 or amount > remedy.amount:
            raise ValidationError(f"Approve between 0.01 and the proposed {remedy.amount}.")
        limit = approval_limit(user)
        if limit is not None and amount > limit:
            raise PermissionDenied(f"{amount} is above your approval limit of {limit}.")
    elif not reason.strip():
        raise ValidationError("Say why you reject it: the reason goes in the audit trail.")
    with transaction.atomic():
        # Locked: a case closed meanwhile withdrew its approvals (engine.case_resolve, case_dismiss); one
        # closing now waits for this decision, then withdraws the step if it has not run.
        case = ExceptionCase.objects.select_for_update().only("state", "resolved_at").get(pk=remedy.case_id)
        if case.state not in ACTIVE_CASE_STATES:
            raise ValidationError(
                f"This exception was {case.get_state_display().lower()} on "
                f"{timezone.localtime(case.resolved_at):%Y-%m-%d %H:%M}: its remedies were withdrawn, so there "
                "is nothing to approve or reject."
                if case.resolved_at
                else f"This exception is {case.get_state_display().lower()}: there is nothing to approve or reject."
            )
        claimed = Approval.objects.filter(pk=approval.pk, decision=ApprovalDecision.PENDING).update(
            decision=ApprovalDecision.APPROVED if approve else ApprovalDecision.REJECTED,
            decided_by=user,
            decided_at=timezone.now(),
            approved_amount=amount if approve else None,
            reason=reason,
        )
        if not claimed:
            raise ValidationError("Somebody decided on this already.")
        if approve:
            remedy.amount = amount
            remedy.state = RemedyState.APPROVED
            remedy.save(update_fields=["amount", "state"])
            audit(
                AuditKind.APPROVED,
                f"Approved {amount} {remedy.currency} for {remedy.action}"
                + (f" (proposed {proposed})" if amount != proposed else "")
                + (f": {reason}" if reason else "."),
                remedy=remedy,
                user=user,
                amount=amount,
                limit=approval_limit(user),
                exceeded=approval.exceeded,
            )
        else:
            remedy.state = RemedyState.REJECTED
            remedy.save(update_fields=["state"])
            audit(AuditKind.REJECTED, f"Rejected {remedy.action}: {reason}", remedy=remedy, user=user)
        from .jobs import case_run_steps_job

        enqueue("default", case_run_steps_job, remedy.case_id, job_id=f"case-steps-{remedy.case_id}-a{approval.pk}")
    approval.refresh_from_db()
    return approval


def approvals_escalate_overdue(*, now: datetime | None = None) -> int:
    """Escalate approvals still undecided past their SLA (once each)."""
    now = now or timezone.now()
    overdue = Approval.objects.filter(decision=ApprovalDecision.PENDING, due_at__lt=now, escalated_at__isnull=True)
    count = 0
    for approval in overdue.select_related("remedy__case"):
        with transaction.atomic():
            if not Approval.objects.filter(pk=approval.pk, escalated_at__isnull=True).update(escalated_at=now):
                continue
            case: ExceptionCase = approval.remedy.case
            ExceptionCase.objects.filter(pk=case.pk, state__in=[CaseState.OPEN, CaseState.ACTING]).update(
                state=CaseState.ESCALATED
            )
            audit(
                AuditKind.ESCALATED,
                f"Approval for {approval.remedy.action} ({approval.remedy.amount}) undecided past its SLA.",
                remedy=approval.remedy,
                due_at=approval.due_at,
            )
            count += 1
    return count
