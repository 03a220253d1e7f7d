"""Ship-slip: a label was printed but the carrier has not scanned the parcel.

For the customer, "shipped" has been true for days while nothing moved: the parcel is still on the
warehouse floor, lost at pickup, or the label was never handed over. It is the earliest sign of a
delay and the cheapest one to fix (expedite, or ship again) before the customer asks where it is.
Carriers normally scan within a day of pickup, so 48 hours without a scan (the playbook's sample
threshold) means something went wrong rather than a slow day.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet

from orders.choices import ShipmentStatus
from orders.models import Shipment
from playbooks.detectors.base import Detector
from playbooks.params import Param


class NoFirstScanDetector(Detector):
    kind = "no_first_scan"
    label = "Ship-slip: no carrier scan after the label"
    subject = "shipment"
    params = {
        "hours": Param(int, 48, "Hours after the label was created without any carrier scan.", minimum=1),
    }

    def matching(self, now: datetime, params: dict[str, Any]) -> QuerySet[Shipment]:
        # Served by the (status, label_created_at) index.
        return Shipment.objects.filter(
            status=ShipmentStatus.LABEL_CREATED,
            first_scan_at__isnull=True,
            label_created_at__lt=now - timedelta(hours=params["hours"]),
            order__cancelled_at__isnull=True,
        )

    def facts(self, subject: Shipment, now: datetime, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "carrier": subject.carrier,
            "tracking_code": subject.tracking_code,
            "label_created_at": subject.label_created_at.isoformat() if subject.label_created_at else None,
            "hours_since_label": _hours_since(subject.label_created_at, now),
            "threshold_hours": params["hours"],
        }

    def sentence(self, subject: Shipment, now: datetime, params: dict[str, Any], facts: dict[str, Any]) -> str:
        hours = _hours_since(subject.label_created_at, now)
        return f"Label created {hours:g} hours ago and no carrier scan yet (threshold: {params['hours']} hours)."


def _hours_since(moment: datetime | None, now: datetime) -> float | None:
    return None if moment is None else round((now - moment).total_seconds() / 3600, 1)
