"""Why a remedy waits for a person, in the words an agent reads: the caps it is above and by how much, what
the detector saw, and who the customer is (what they bought, what they were given lately).

The approval page shows this; the engine stored the raw arithmetic on the remedy (`cap_check`) and the
detector's facts on the case, so nothing here recomputes a cap: it reads what was decided on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Count, Sum
from django.utils import timezone

from orders.models import Order

from .actions import action_label
from .choices import RemedyState
from .engine import REPEAT
from .models import Approval, Remedy

# Each cap an amount is checked against: its name in the cap check, what it is, and the amounts it adds up.
CAP_LABELS = {
    "max_auto_amount": "Paid automatically per remedy",
    "max_per_customer_30d": "One customer in 30 days",
    "daily_budget": "The store today",
    "no_cap": "No compensation cap is set for this remedy",
    REPEAT: "Already given for the same problem",
}
SPENT_SO_FAR = {"max_per_customer_30d": "customer_spent_30d", "daily_budget": "store_spent_today"}
GIVEN_STATES = [RemedyState.APPROVED, RemedyState.EXECUTING, RemedyState.DONE]


@dataclass(frozen=True)
class CapLine:
    """One cap: the limit, what was spent against it before, and the total with this remedy."""

    label: str
    limit: Decimal
    before: Decimal | None
    with_this: Decimal
    over: bool


@dataclass(frozen=True)
class CustomerSummary:
    name: str
    is_vip: bool
    orders: int
    spent: Decimal
    given_30d: list[str]  # remedies given in the last 30 days, described


def caps_exceeded(names: list[str]) -> str:
    """The list column: "Paid automatically per remedy, One customer in 30 days"."""
    return ", ".join(CAP_LABELS.get(name, name) for name in names)


def cap_lines(remedy: Remedy) -> list[CapLine]:
    """The caps the amount was checked against, in the order an agent reads them."""
    check = remedy.cap_check or {}
    exceeded = set(check.get("exceeded", []))
    amount = _decimal(check.get("amount", remedy.amount))
    lines = []
    for name in ("max_auto_amount", "max_per_customer_30d", "daily_budget"):
        if name not in check:
            continue
        before = _decimal(check[SPENT_SO_FAR[name]]) if name in SPENT_SO_FAR else None
        with_this = amount + (before or Decimal(0))
        lines.append(CapLine(CAP_LABELS[name], _decimal(check[name]), before, with_this, name in exceeded))
    return lines


def other_reasons(remedy: Remedy) -> list[str]:
    """Why a person decides, beyond a cap: no cap set, or the same remedy given for this problem already."""
    check = remedy.cap_check or {}
    reasons = []
    if "no_cap" in check.get("exceeded", []):
        reasons.append(f"{CAP_LABELS['no_cap']}: every one waits for a person.")
    for given in check.get(REPEAT, []):
        reasons.append(
            f"{CAP_LABELS[REPEAT]} (exception #{given['exception']}): {given['amount']} {remedy.currency}, "
            f"{RemedyState(given['state']).label.lower() if given['state'] in RemedyState.values else given['state']}."
        )
    if check.get("vip"):
        reasons.append(f"A VIP: the per-remedy and 30-day caps are multiplied by {check.get('vip_multiplier')}.")
    return reasons


def fact_rows(case_facts: dict[str, Any]) -> list[tuple[str, str]]:
    """The detector's facts as (label, value): ("Days since last scan", "8.5"), times in the admin's zone."""
    return [(key.replace("_", " ").capitalize(), _readable(value)) for key, value in case_facts.items()]


def customer_summary(approval: Approval, *, now: datetime | None = None) -> CustomerSummary | None:
    """Who the remedy is for: their orders with the store, and what they were given in the last 30 days."""
    order = approval.remedy.case.order
    customer = order.customer
    if customer is None:
        return None
    totals = Order.objects.filter(customer=customer).aggregate(orders=Count("pk"), spent=Sum("total"))
    since = (now or timezone.now()) - timedelta(days=30)
    given = (
        Remedy.objects.filter(case__order__customer=customer, state__in=GIVEN_STATES, amount__gt=0)
        .filter(executed_at__gte=since)
        .exclude(pk=approval.remedy_id)
        .select_related("case__order")
        .order_by("-executed_at")
    )
    return CustomerSummary(
        name=f"{customer.first_name} {customer.last_name}".strip() or customer.email or "—",
        is_vip=customer.is_vip,
        orders=totals["orders"],
        spent=(totals["spent"] or Decimal(0)).quantize(Decimal("0.01")),  # SQLite sums decimals as floats
        given_30d=[
            f"{action_label(r.action)}: {r.amount} {r.currency} "
            f"(order {r.case.order.order_number}, {timezone.localtime(r.executed_at):%a %-d %b})"
            for r in given
        ],
    )


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return Decimal(0)


def _readable(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_readable(item) for item in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{key.replace('_', ' ')} {_readable(item)}" for key, item in value.items())
    if isinstance(value, str):
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            return value
        if at.tzinfo is not None:
            return f"{timezone.localtime(at):%a %-d %b %Y, %H:%M}"
        return value
    return "—" if value is None else str(value)
