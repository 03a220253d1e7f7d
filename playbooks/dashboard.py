"""The exception dashboard's reads: open problems by type, carrier, store, region and age, the oldest
first, and the approvals waiting with their SLA countdown.

Each breakdown is one aggregate query over open cases (served by the (state, detected_at) index), so
the page costs the same with ten open cases or ten thousand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Min, Q, QuerySet

from .choices import ACTIVE_CASE_STATES, ApprovalDecision
from .detectors import DETECTORS
from .models import Approval, ExceptionCase

OLDEST_SHOWN = 50
# Age buckets: (label, lower bound). Cases are counted in the last bucket they are older than.
AGE_BUCKETS = [
    ("Under 4 hours", timedelta(0)),
    ("4 to 24 hours", timedelta(hours=4)),
    ("1 to 3 days", timedelta(days=1)),
    ("Over 3 days", timedelta(days=3)),
]


def open_problems(store_id: int | None = None) -> QuerySet[ExceptionCase]:
    """Live cases that are problems (milestones and care check-ins are good news, not work)."""
    informational = DETECTORS.informational_kinds()
    cases = ExceptionCase.objects.filter(state__in=ACTIVE_CASE_STATES).exclude(kind__in=informational)
    return cases.filter(store_id=store_id) if store_id else cases


@dataclass(frozen=True)
class Breakdown:
    label: str
    key: str
    count: int
    oldest: datetime | None
    share: int  # percent of the largest row, for the bar


def _breakdown(
    cases: QuerySet, field: str, *, label_field: str | None = None, labels: dict[str, str] | None = None
) -> list[Breakdown]:
    """Open cases grouped by `field` (labelled by `label_field` or `labels`), largest group first."""
    fields = [field, label_field] if label_field else [field]
    rows = list(cases.values(*fields).annotate(n=Count("id"), oldest=Min("detected_at")).order_by("-n", field))
    top = max((r["n"] for r in rows), default=0)
    return [
        Breakdown(
            label=(r[label_field] if label_field else (labels or {}).get(r[field], r[field])) or "—",
            key="" if r[field] is None else str(r[field]),
            count=r["n"],
            oldest=r["oldest"],
            share=round(100 * r["n"] / top) if top else 0,
        )
        for r in rows
    ]


def age_counts(cases: QuerySet, now: datetime) -> list[tuple[str, int]]:
    """How many open cases fall in each age bucket, in one query."""
    bounds = [now - lower for _, lower in AGE_BUCKETS] + [None]
    aggregates = {}
    for i in range(len(AGE_BUCKETS)):
        newer_than_next = Q(detected_at__gt=bounds[i + 1]) if bounds[i + 1] else Q()
        aggregates[f"b{i}"] = Count("id", filter=Q(detected_at__lte=bounds[i]) & newer_than_next)
    counts = cases.aggregate(**aggregates)
    return [(label, counts[f"b{i}"]) for i, (label, _) in enumerate(AGE_BUCKETS)]


@dataclass(frozen=True)
class WaitingApproval:
    approval: Approval
    due_in: timedelta

    @property
    def overdue(self) -> bool:
        return self.due_in < timedelta(0)

    @property
    def countdown(self) -> str:
        minutes = int(abs(self.due_in).total_seconds() // 60)
        text = f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"
        return f"overdue by {text}" if self.overdue else f"{text} left"


@dataclass(frozen=True)
class ExceptionsOverview:
    total: int
    by_type: list[Breakdown]
    by_carrier: list[Breakdown]
    by_store: list[Breakdown]
    by_region: list[Breakdown]
    by_age: list[tuple[str, int]]
    oldest: list[ExceptionCase]
    approvals: list[WaitingApproval]


def exceptions_overview(*, now: datetime, store_id: int | None = None) -> ExceptionsOverview:
    """Everything the dashboard shows, in eight queries whatever the number of open cases."""
    cases = open_problems(store_id)
    labels = {d.kind: d.label for d in DETECTORS.all()}
    by_type = _breakdown(cases, "kind", labels=labels)
    approvals = (
        Approval.objects.filter(decision=ApprovalDecision.PENDING)
        .select_related("remedy__case__order", "remedy__case__store")
        .order_by("due_at")
    )
    if store_id:
        approvals = approvals.filter(remedy__case__store_id=store_id)
    return ExceptionsOverview(
        total=sum(b.count for b in by_type),
        by_type=by_type,
        by_carrier=_breakdown(cases, "shipment__carrier"),
        by_store=_breakdown(cases, "store", label_field="store__name"),
        by_region=_breakdown(cases, "order__ship_region"),
        by_age=age_counts(cases, now),
        oldest=list(cases.select_related("order", "shipment", "store").order_by("detected_at")[:OLDEST_SHOWN]),
        approvals=[WaitingApproval(a, a.due_at - now) for a in approvals[:OLDEST_SHOWN]],
    )
