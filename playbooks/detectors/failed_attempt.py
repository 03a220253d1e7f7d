"""Failed delivery attempt: the carrier came to the door and could not deliver.

For the customer this is the moment a parcel can slip away: a missed driver means a second attempt,
a trip to a pickup point or, after a few days, a return to sender. Telling them at once (what happens
next, where to collect it) keeps the parcel from going back. The carrier's event is the whole signal,
so there is no threshold: the case opens on the attempt and clears when the status moves on.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from orders.choices import ShipmentStatus
from orders.models import Shipment
from playbooks.detectors.base import Detector, newest_event


class FailedAttemptDetector(Detector):
    kind = "failed_attempt"
    label = "Failed delivery attempt"
    subject = "shipment"
    facts_prefetch = ("events",)
    time_based = False

    def matching(self, now: datetime, params: dict[str, Any]) -> QuerySet[Shipment]:
        return Shipment.objects.filter(status=ShipmentStatus.ATTEMPTED_DELIVERY, order__cancelled_at__isnull=True)

    def facts(self, subject: Shipment, now: datetime, params: dict[str, Any]) -> dict[str, Any]:
        attempt = newest_event(subject, ShipmentStatus.ATTEMPTED_DELIVERY)
        attempted_at = attempt.occurred_at if attempt else subject.last_event_at
        return {
            "carrier": subject.carrier,
            "tracking_code": subject.tracking_code,
            "attempted_at": attempted_at.isoformat() if attempted_at else None,
            "hours_since_attempt": (round((now - attempted_at).total_seconds() / 3600, 1) if attempted_at else None),
            "message": attempt.message if attempt else "",
            "location": attempt.location if attempt else "",
            "raw_status": attempt.raw_status if attempt else "",
            "raw_detail": attempt.raw_detail if attempt else "",
        }

    def sentence(self, subject: Shipment, now: datetime, params: dict[str, Any], facts: dict[str, Any]) -> str:
        hours = facts["hours_since_attempt"]
        when = f" {hours:g} hours ago" if hours is not None else ""
        said = f' ("{facts["message"]}")' if facts["message"] else ""
        return (
            f"{subject.carrier.upper()} tried to deliver{when} and could not{said}; "
            "the parcel is waiting for a retry or a pickup."
        )
