"""Failed payment: the order's payment was declined or its authorization lapsed.

For the customer the order is placed and they believe it is on its way, but nothing will ship until
they pay again. A quick, friendly nudge with a way to retry saves the sale before they wonder why
nothing arrived. The processor's outcome is the whole signal, so there is no threshold: the case
opens when the payment fails and clears when the order is paid.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from orders.choices import FinancialStatus
from orders.models import Order
from playbooks.detectors.base import Detector


class FailedPaymentDetector(Detector):
    kind = "failed_payment"
    label = "Failed payment"
    subject = "order"
    time_based = False

    def matching(self, now: datetime, params: dict[str, Any]) -> QuerySet[Order]:
        return Order.objects.filter(financial_status=FinancialStatus.FAILED, cancelled_at__isnull=True)

    def facts(self, subject: Order, now: datetime, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "order_number": subject.order_number,
            "financial_status": subject.financial_status,
            "total": str(subject.total),
            "currency": subject.currency,
            "payment_reference": subject.payment_reference,
            "placed_at": subject.placed_at.isoformat(),
            "hours_since_placed": round((now - subject.placed_at).total_seconds() / 3600, 1),
        }

    def sentence(self, subject: Order, now: datetime, params: dict[str, Any], facts: dict[str, Any]) -> str:
        hours = round((now - subject.placed_at).total_seconds() / 3600, 1)
        return (
            f"Payment failed for order {subject.order_number} ({subject.total} {subject.currency}), "
            f"placed {hours:g} hours ago; nothing ships until it is paid."
        )
