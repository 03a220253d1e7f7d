"""What the playbooks app adds to the REST API: the order detail's exceptions, remedies, approvals and the
why, and GET /api/v1/carrier-pauses/ (the carrier pauses in force, for a store's shipping rules to follow).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers

from orders.api.views import StoreAPIView
from orders.models import Order

from .choices import ACTIVE_CASE_STATES, ApprovalDecision
from .detectors import detector_label
from .models import Approval, AuditEvent, CarrierPause, ExceptionCase, Remedy

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
        "label": detector_label(case.kind),
        "state": case.state,
        "detected_at": case.detected_at,
        "explanation": case.explanation,
        "tracking_code": case.shipment.tracking_code if case.shipment else None,
        "held_out": case.is_holdout,
    }


# --- Carrier pauses -----------------------------------------------------------------------------------------
# A manager who approves an incident can pause its carrier for its destination region (playbooks.anomalies);
# the store's checkout or label software asks before it hands a new parcel to a carrier. Read-only: pauses are
# made and lifted in the admin. A pause is about a carrier and a region, not about any store's customers, so
# every store's token sees the same list.


class CarrierPauseSerializer(serializers.ModelSerializer):
    paused_at = serializers.DateTimeField(source="created_at", help_text="When the manager approved the pause.")
    reason = serializers.CharField(
        source="incident.explanation", default="", help_text="What the anomaly watch saw (blank if none)."
    )

    class Meta:
        model = CarrierPause
        fields = ["carrier", "region", "paused_at", "reason"]
        extra_kwargs = {
            "carrier": {"help_text": "The carrier's code, as on shipments (e.g. `usps`)."},
            "region": {"help_text": "The destination region, as in orders' shipping addresses (e.g. `CA`)."},
        }


@extend_schema(
    summary="Carrier pauses in force",
    description=(
        "Carriers not to hand new shipments to for a destination region, until a manager lifts the pause. "
        "Ordered by carrier and region; a lifted pause is not listed."
    ),
    tags=["carrier pauses"],
)
class CarrierPauseListView(StoreAPIView, generics.ListAPIView):
    serializer_class = CarrierPauseSerializer
    pagination_class = None  # one row per carrier and region at most (a unique constraint)

    def get_queryset(self) -> QuerySet[CarrierPause]:
        active = CarrierPause.objects.filter(lifted_at__isnull=True)
        return active.select_related("incident").order_by("carrier", "region")
