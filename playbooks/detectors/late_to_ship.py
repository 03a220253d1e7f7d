"""Late to ship: a paid order has passed its promised ship-by date and nothing has shipped.

For the customer the order looks fine ("confirmed, paid") while it is in fact late before it has even
left: usually an oversell or a stock-out. Telling them first, with a new date or a choice to cancel,
is what turns it from a complaint into a kept promise. The promise itself is the threshold; a grace
of 0 hours flags it the moment the promise is broken, and stores whose warehouse scans late in the
day can allow a few hours.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet

from orders.choices import FinancialStatus, FulfillmentStatus, ShipmentStatus
from orders.models import Order, Shipment
from playbooks.detectors.base import Detector
from playbooks.params import Param


class LateToShipDetector(Detector):
    kind = "late_to_ship"
    label = "Late to ship (oversold)"
    subject = "order"
    params = {
        "grace_hours": Param(
            int, 0, "Hours after the promised ship-by date before the order counts as late.", minimum=0
        ),
    }

    def matching(self, now: datetime, params: dict[str, Any]) -> QuerySet[Order]:
        # A voided (cancelled) label does not ship anything: the order is still waiting.
        shipped = Shipment.objects.filter(order=OuterRef("pk")).exclude(status=ShipmentStatus.CANCELLED)
        # Served by the (fulfillment_status, promised_ship_by) index.
        return Order.objects.filter(
            fulfillment_status=FulfillmentStatus.UNFULFILLED,
            promised_ship_by__lt=now - timedelta(hours=params["grace_hours"]),
            financial_status=FinancialStatus.PAID,
            cancelled_at__isnull=True,
        ).filter(~Exists(shipped))

    def facts(self, subject: Order, now: datetime, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "order_number": subject.order_number,
            "placed_at": subject.placed_at.isoformat(),
            "promised_ship_by": subject.promised_ship_by.isoformat() if subject.promised_ship_by else None,
            "hours_late": _hours_late(subject, now),
            "grace_hours": params["grace_hours"],
        }

    def sentence(self, subject: Order, now: datetime, params: dict[str, Any], facts: dict[str, Any]) -> str:
        promised = subject.promised_ship_by
        when = f"{promised.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if promised else "an unknown date"
        return (
            f"Promised to ship by {when}; {_hours_late(subject, now):g} hours late and nothing has shipped "
            f"(grace: {params['grace_hours']} hours)."
        )


def _hours_late(order: Order, now: datetime) -> float:
    if order.promised_ship_by is None:
        return 0.0
    return round((now - order.promised_ship_by).total_seconds() / 3600, 1)
