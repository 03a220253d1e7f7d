"""Delivered but not received: tracking says delivered and the customer says it never arrived.

For the customer this is the worst moment of the journey: they paid, the carrier says the job is done,
and they have nothing. Resolving it fast (replacement or refund within caps) matters more than who is
at fault. The signal is the customer's own claim: a delivery-problem contact made at or after the
delivery scan, so complaints about the delay before delivery do not count. A claim does not "clear"
by itself, so only a person or the playbook resolves the case.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet

from orders.choices import ShipmentStatus, TicketReason
from orders.models import Shipment, Ticket
from playbooks.detectors.base import Detector


class DeliveredNotReceivedDetector(Detector):
    kind = "delivered_not_received"
    label = "Delivered but not received"
    subject = "shipment"
    time_based = False
    resolves_when_cleared = False
    facts_prefetch = ("order__tickets",)  # its claims are among them: read in Python, two queries a batch

    def matching(self, now: datetime, params: dict[str, Any]) -> QuerySet[Shipment]:
        # From the few claims to their orders' parcels (a partial index on claims), not from every
        # delivered parcel to its claims: delivered parcels are most of the table (0.5 s at 1M shipments).
        claimed_orders = _claims().filter(order__isnull=False).order_by().values("order")
        return Shipment.objects.filter(
            Exists(
                _claims().filter(
                    store=OuterRef("store"), order=OuterRef("order"), created_at__gte=OuterRef("delivered_at")
                )
            ),
            order__in=claimed_orders,
            status=ShipmentStatus.DELIVERED,
            order__cancelled_at__isnull=True,
        )

    def facts(self, subject: Shipment, now: datetime, params: dict[str, Any]) -> dict[str, Any]:
        claim = self._first_claim(subject)
        delivered_at = subject.delivered_at
        return {
            "carrier": subject.carrier,
            "tracking_code": subject.tracking_code,
            "delivered_at": delivered_at.isoformat() if delivered_at else None,
            "claim_ticket_id": claim.pk if claim else None,
            "claim_at": claim.created_at.isoformat() if claim else None,
            "claim_channel": claim.channel if claim else None,
            "hours_from_delivery_to_claim": (
                round((claim.created_at - delivered_at).total_seconds() / 3600, 1) if claim and delivered_at else None
            ),
        }

    def sentence(self, subject: Shipment, now: datetime, params: dict[str, Any], facts: dict[str, Any]) -> str:
        when = f"{subject.delivered_at:%Y-%m-%d}" if subject.delivered_at else "an unknown date"
        if facts["claim_ticket_id"] is None:
            return f"{subject.carrier.upper()} marked the parcel delivered on {when}; no claim is on file any more."
        return (
            f"{subject.carrier.upper()} marked the parcel delivered on {when}, and the customer reported a delivery "
            f"problem {facts['hours_from_delivery_to_claim']:g} hours later (ticket {facts['claim_ticket_id']})."
        )

    @staticmethod
    def _first_claim(subject: Shipment) -> Ticket | None:
        if subject.delivered_at is None or subject.order_id is None:
            return None
        claims = [
            ticket
            for ticket in subject.order.tickets.all()
            if ticket.reason == TicketReason.DELIVERY_PROBLEM
            and ticket.store_id == subject.store_id
            and ticket.created_at >= subject.delivered_at
        ]
        return min(claims, key=lambda ticket: (ticket.created_at, ticket.pk), default=None)


def _claims() -> QuerySet[Ticket]:
    return Ticket.objects.filter(reason=TicketReason.DELIVERY_PROBLEM)
