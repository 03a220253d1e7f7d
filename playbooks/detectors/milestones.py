"""Milestones: the updates customers expect (order confirmed, shipped, out for delivery, delivered).

Not problems but moments: a playbook with a notify step sends the message and the case resolves once
it has acted, so each milestone is announced once per order or parcel, ever (the engine skips a
subject with any earlier case of the kind). Each has a recent window: a milestone older than
`recent_hours` is never announced, so a backfill, a late sweep or a newly enabled detector does not
message customers about old news. The carrier's or the store's event is the whole signal, so these
are checked when the fact arrives (and by the sweep as a safety net), not on a timer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet

from orders.choices import FINAL_SHIPMENT_STATUSES, NON_SCAN_STATUSES, FinancialStatus, ShipmentStatus
from orders.models import Order, Shipment
from playbooks.detectors.base import Detector, newest_event
from playbooks.params import Param


def _recent_hours(default: int, what: str) -> Param:
    return Param(
        int,
        default,
        f"Hours after {what} during which it is still announced; older ones are never sent.",
        minimum=1,
    )


class _Milestone(Detector):
    """Informational: acted on once, never cleared by itself, announced when the fact arrives."""

    resolves_when_acted = True
    resolves_when_cleared = False
    time_based = False


class OrderConfirmedMilestone(_Milestone):
    kind = "milestone_confirmed"
    label = "Milestone: order confirmed"
    subject = "order"
    params = {"recent_hours": _recent_hours(24, "the order was placed")}

    def matching(self, now: datetime, params: dict[str, Any]) -> QuerySet[Order]:
        return Order.objects.filter(
            financial_status=FinancialStatus.PAID,
            cancelled_at__isnull=True,
            placed_at__gte=now - timedelta(hours=params["recent_hours"]),
        )

    def facts(self, subject: Order, now: datetime, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "order_number": subject.order_number,
            "placed_at": subject.placed_at.isoformat(),
            "hours_since_placed": _hours_since(subject.placed_at, now),
            "financial_status": subject.financial_status,
            "total": str(subject.total),
            "currency": subject.currency,
            "recent_hours": params["recent_hours"],
        }

    def sentence(self, subject: Order, now: datetime, params: dict[str, Any], facts: dict[str, Any]) -> str:
        # No payment time is stored: the window counts from the order, so say when it was placed.
        return f"Order {subject.order_number} was placed {_ago(_hours_since(subject.placed_at, now))} and is paid."


class ShippedMilestone(_Milestone):
    kind = "milestone_shipped"
    label = "Milestone: shipped"
    subject = "shipment"
    facts_prefetch = ("events",)
    params = {"recent_hours": _recent_hours(24, "the first carrier scan")}

    def matching(self, now: datetime, params: dict[str, Any]) -> QuerySet[Shipment]:
        # A parcel already delivered when we first hear of it gets the delivered milestone instead.
        return Shipment.objects.filter(
            first_scan_at__isnull=False,
            first_scan_at__gte=now - timedelta(hours=params["recent_hours"]),
            order__cancelled_at__isnull=True,
        ).exclude(status__in=FINAL_SHIPMENT_STATUSES)

    def facts(self, subject: Shipment, now: datetime, params: dict[str, Any]) -> dict[str, Any]:
        scans = [event for event in subject.events.all() if event.status not in NON_SCAN_STATUSES]
        first = scans[-1] if scans else None  # events are newest first
        return {
            **_parcel(subject),
            "first_scan_at": subject.first_scan_at.isoformat() if subject.first_scan_at else None,
            "hours_since_first_scan": _hours_since(subject.first_scan_at, now),
            "location": first.location if first else "",
            "carrier_estimated_delivery": _iso(subject.carrier_estimated_delivery),
            "recent_hours": params["recent_hours"],
        }

    def sentence(self, subject: Shipment, now: datetime, params: dict[str, Any], facts: dict[str, Any]) -> str:
        return f"First carrier scan {_ago(facts['hours_since_first_scan'])}{_in(facts['location'])}."


class OutForDeliveryMilestone(_Milestone):
    kind = "milestone_out_for_delivery"
    label = "Milestone: out for delivery"
    subject = "shipment"
    facts_prefetch = ("events",)
    params = {"recent_hours": _recent_hours(12, "the parcel went out for delivery")}

    def matching(self, now: datetime, params: dict[str, Any]) -> QuerySet[Shipment]:
        return Shipment.objects.filter(
            status=ShipmentStatus.OUT_FOR_DELIVERY,
            last_event_at__gte=now - timedelta(hours=params["recent_hours"]),
            order__cancelled_at__isnull=True,
        )

    def facts(self, subject: Shipment, now: datetime, params: dict[str, Any]) -> dict[str, Any]:
        event = newest_event(subject, ShipmentStatus.OUT_FOR_DELIVERY)
        return {
            **_parcel(subject),
            "out_for_delivery_at": _iso(subject.last_event_at),
            "hours_since_out_for_delivery": _hours_since(subject.last_event_at, now),
            "location": event.location if event else "",
            "carrier_estimated_delivery": _iso(subject.carrier_estimated_delivery),
            "recent_hours": params["recent_hours"],
        }

    def sentence(self, subject: Shipment, now: datetime, params: dict[str, Any], facts: dict[str, Any]) -> str:
        return (
            f"{subject.carrier.upper()} put the parcel out for delivery "
            f"{_ago(facts['hours_since_out_for_delivery'])}{_in(facts['location'])}."
        )


class DeliveredMilestone(_Milestone):
    kind = "milestone_delivered"
    label = "Milestone: delivered"
    subject = "shipment"
    facts_prefetch = ("events",)
    params = {"recent_hours": _recent_hours(24, "delivery")}

    def matching(self, now: datetime, params: dict[str, Any]) -> QuerySet[Shipment]:
        return Shipment.objects.filter(
            status=ShipmentStatus.DELIVERED,
            delivered_at__gte=now - timedelta(hours=params["recent_hours"]),
            order__cancelled_at__isnull=True,
        )

    def facts(self, subject: Shipment, now: datetime, params: dict[str, Any]) -> dict[str, Any]:
        event = newest_event(subject, ShipmentStatus.DELIVERED)
        return {
            **_parcel(subject),
            "delivered_at": _iso(subject.delivered_at),
            "hours_since_delivery": _hours_since(subject.delivered_at, now),
            "location": event.location if event else "",
            "message": event.message if event else "",
            "recent_hours": params["recent_hours"],
        }

    def sentence(self, subject: Shipment, now: datetime, params: dict[str, Any], facts: dict[str, Any]) -> str:
        said = f' ("{facts["message"]}")' if facts["message"] else ""
        return f"Delivered {_ago(facts['hours_since_delivery'])}{_in(facts['location'])}{said}."


# --- helpers -----------------------------------------------------------------------------------------------------


def _parcel(shipment: Shipment) -> dict[str, Any]:
    return {"carrier": shipment.carrier, "tracking_code": shipment.tracking_code, "status": shipment.status}


def _hours_since(moment: datetime | None, now: datetime) -> float | None:
    return None if moment is None else round((now - moment) / timedelta(hours=1), 1)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _ago(hours: float | None) -> str:
    if hours is None:
        return "at an unknown time"
    return f"{hours:g} hour ago" if hours == 1 else f"{hours:g} hours ago"


def _in(location: str) -> str:
    return f" in {location}" if location else ""
