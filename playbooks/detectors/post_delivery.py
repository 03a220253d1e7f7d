"""Post-delivery care: the parcel arrived a couple of days ago; check in with the customer.

Not a problem but a moment: by day two the customer has opened the box, so it is the time to ask how
it went, offer help with setup or sizing and head off a return or a bad review. The window (7 days
after the first 2, by default) keeps old deliveries out, so turning the detector on, or a sweep that
runs late, never sends a "how was it?" weeks after the fact. The case resolves once the playbook has
acted, not when a condition clears.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet

from orders.choices import ShipmentStatus
from orders.models import Shipment
from playbooks.detectors.base import Detector, order_not_cancelled
from playbooks.params import Param


class PostDeliveryDetector(Detector):
    kind = "post_delivery"
    label = "Post-delivery care"
    subject = "shipment"
    resolves_when_acted = True
    params = {
        "days": Param(int, 2, "Days after delivery before checking in with the customer.", minimum=0),
        "window_days": Param(
            int, 7, "Days after that during which a delivery still qualifies; older ones are skipped.", minimum=1
        ),
    }

    def matching(self, now: datetime, params: dict[str, Any]) -> QuerySet[Shipment]:
        due = now - timedelta(days=params["days"])
        return Shipment.objects.filter(
            order_not_cancelled(),
            status=ShipmentStatus.DELIVERED,
            delivered_at__lt=due,
            delivered_at__gte=due - timedelta(days=params["window_days"]),
        )

    def facts(self, subject: Shipment, now: datetime, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "carrier": subject.carrier,
            "tracking_code": subject.tracking_code,
            "delivered_at": subject.delivered_at.isoformat() if subject.delivered_at else None,
            "days_since_delivery": _days_since(subject.delivered_at, now),
            "days": params["days"],
            "window_days": params["window_days"],
        }

    def sentence(self, subject: Shipment, now: datetime, params: dict[str, Any], facts: dict[str, Any]) -> str:
        days = _days_since(subject.delivered_at, now)
        ago = f"{days:g} days ago" if days is not None else "at an unknown time"
        last = params["days"] + params["window_days"]
        return (
            f"Delivered {ago}: time for a post-delivery check-in (after {params['days']} days, "
            f"up to {last} days after delivery)."
        )


def _days_since(moment: datetime | None, now: datetime) -> float | None:
    return None if moment is None else round((now - moment) / timedelta(days=1), 1)
