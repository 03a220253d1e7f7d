"""What the playbooks app adds to the order-detail API: exceptions, remedies, approvals and the why."""

from __future__ import annotations

from typing import Any

from orders.models import Order

from .choices import ACTIVE_CASE_STATES, ApprovalDecision
from .detectors import DETECTORS
from .models import Approval, AuditEvent, ExceptionCase, Remedy

AUDIT_LIMIT = 50


def order_sections(order: Order) -> dict[str, Any]:
    cases = list(ExceptionCase.objects.filter(order=order).select_related("shipment").order_by("-detected_at"))
    remedies = list(Remedy.objects.filter(case__order=order).order_by("case_id", "position"))
    approvals = Approval.objects.filter(remedy__case__order=order, decision=ApprovalDecision.PENDING)
    audit = AuditEvent.objects.filter(order=order).select_related("actor_user").order_by("-created_at", "-id")
    return {
        "open_exceptions": [_case(c) for c in cases if c.state in ACTIVE_CASE_STATES],
        "exceptions": [_case(c) for c in cases],
        "remedies": [
            {
                "id": r.pk,
                "exception_id": r.case_id,
                "action": r.action,
                "amount": str(r.amount),
                "currency": r.currency,
                "state": r.state,
                "executed_at": r.executed_at,
            }
            for r in remedies
        ],
        "pending_approvals": [
            {
                "id": a.pk,
                "remedy_id": a.remedy_id,
                "amount": str(a.remedy.amount),
                "exceeded": a.exceeded,
                "due_at": a.due_at,
            }
            for a in approvals.select_related("remedy")
        ],
        "audit": [
            {
                "at": e.created_at,
                "kind": e.kind,
                "message": e.message,
                "actor": e.actor_user.get_username() if e.actor_user else e.actor_type,
                "parameters": e.parameters,
            }
            for e in audit[:AUDIT_LIMIT]
        ],
    }


def _case(case: ExceptionCase) -> dict[str, Any]:
    return {
        "id": case.pk,
        "type": case.kind,
        "label": DETECTORS[case.kind].label if case.kind in DETECTORS else case.kind,
        "state": case.state,
        "detected_at": case.detected_at,
        "explanation": case.explanation,
        "tracking_code": case.shipment.tracking_code if case.shipment else None,
        "held_out": case.is_holdout,
    }
