"""Carrier exception or returned to sender: the carrier says the parcel will not arrive as planned.

For the customer an "exception" (damaged, held, lost, weather, customs) means an open-ended delay,
and "returned to sender" means the parcel is not coming at all. They usually find out from a
tracking page that explains nothing. The carrier's status is the whole signal, so there is no
threshold: the case opens with the exception and clears when the parcel moves again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from orders.choices import ShipmentStatus
from orders.models import Shipment
from playbooks.detectors.base import Detector, newest_event, order_not_cancelled

DISRUPTED_STATUSES = (ShipmentStatus.EXCEPTION, ShipmentStatus.RETURNED_TO_SENDER)


class CarrierDisruptionDetector(Detector):
    kind = "carrier_disruption"
    label = "Carrier exception or returned to sender"
    subject = "shipment"
    facts_prefetch = ("events",)
    time_based = False

    def matching(self, now: datetime, params: dict[str, Any]) -> QuerySet[Shipment]:
        return Shipment.objects.filter(order_not_cancelled(), status__in=DISRUPTED_STATUSES)

    def facts(self, subject: Shipment, now: datetime, params: dict[str, Any]) -> dict[str, Any]:
        # The event that set the current status, else the newest of all.
        event = newest_event(subject, subject.status) or newest_event(subject)
        since = event.occurred_at if event else subject.last_event_at
        return {
            "carrier": subject.carrier,
            "tracking_code": subject.tracking_code,
            "status": subject.status,
            "since": since.isoformat() if since else None,
            "hours_since": round((now - since).total_seconds() / 3600, 1) if since else None,
            "message": event.message if event else "",
            "location": event.location if event else "",
            "raw_status": event.raw_status if event else "",
            "raw_detail": event.raw_detail if event else "",
        }

    def sentence(self, subject: Shipment, now: datetime, params: dict[str, Any], facts: dict[str, Any]) -> str:
        what = (
            "is returning the parcel to the sender"
            if subject.status == ShipmentStatus.RETURNED_TO_SENDER
            else "reported an exception"
        )
        raw = "/".join(part for part in (facts["raw_status"], facts["raw_detail"]) if part)
        detail = ", ".join(part for part in (f'"{facts["message"]}"' if facts["message"] else "", raw) if part)
        hours = facts["hours_since"]
        when = f" {hours:g} hours ago" if hours is not None else ""
        return f"{subject.carrier.upper()} {what}{when}" + (f" ({detail})." if detail else ".")
