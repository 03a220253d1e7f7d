"""Return started with an exchange chosen: the customer wants another variant.

Waiting for the return to reach the warehouse before shipping the exchange makes the customer wait a
week or more with nothing. Stores that trust their customers (their return policy says "ship exchanges
before the return arrives") ship it as soon as the return is approved; the playbook does that, within
the caps the store sets for it. Otherwise the exchange ships when the return is received.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet

from orders.choices import RETURN_APPROVED_STATES, ReturnResolution
from orders.models import Order, ReturnPolicy, ReturnRequest
from playbooks.detectors.base import Detector


def open_exchanges() -> QuerySet[ReturnRequest]:
    """Approved exchanges not shipped yet, in stores whose return policy ships them early."""
    return ReturnRequest.objects.filter(
        resolution=ReturnResolution.EXCHANGE, state__in=RETURN_APPROVED_STATES, exchange_shipped_at__isnull=True
    ).filter(Exists(ReturnPolicy.objects.filter(store=OuterRef("store"), ship_exchange_early=True)))


class ReturnExchangeDetector(Detector):
    kind = "return_exchange"
    label = "Return started with an exchange chosen"
    subject = "order"
    time_based = False
    # Once the exchange has shipped, the case is done even though the return is still on its way back.
    resolves_when_acted = True
    resolves_when_cleared = False
    params: dict = {}

    def matching(self, now: datetime, params: dict[str, Any]) -> QuerySet[Order]:
        # Served by the (resolution, state) index on returns.
        return Order.objects.filter(cancelled_at__isnull=True).filter(
            Exists(open_exchanges().filter(order=OuterRef("pk")))
        )

    def facts(self, subject: Order, now: datetime, params: dict[str, Any]) -> dict[str, Any]:
        request = open_exchanges().filter(order=subject).prefetch_related("items__line_item").first()
        return {
            "return": request.number,
            "state": request.state,
            "items": [
                {
                    "sku": i.line_item.sku,
                    "title": i.line_item.title,
                    "from": i.line_item.variant,
                    "to": i.exchange_variant,
                    "quantity": i.quantity,
                    "reason": i.reason,
                }
                for i in request.items.all()
            ],
        }

    def sentence(self, subject: Order, now: datetime, params: dict[str, Any], facts: dict[str, Any]) -> str:
        return f"Return {facts['return']} asks for an exchange; the return has not reached the warehouse yet."
