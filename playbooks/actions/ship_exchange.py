"""Ship the exchange before the return arrives: the variants the customer chose, on their way now."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from orders.choices import RETURN_APPROVED_STATES, ReservationState, ReturnResolution
from orders.models import ReturnItem, ReturnRequest
from playbooks.actions.base import Action, ActionError
from playbooks.params import Param, resolve_params
from playbooks.providers import get_provider

if TYPE_CHECKING:
    from playbooks.models import ExceptionCase, Remedy


def exchange_items(case: ExceptionCase) -> list[ReturnItem]:
    return list(
        ReturnItem.objects.filter(
            return_request__order_id=case.order_id,
            return_request__resolution=ReturnResolution.EXCHANGE,
            return_request__state__in=RETURN_APPROVED_STATES,
        ).select_related("line_item", "exchange_for")
    )


class ShipExchangeAction(Action):
    kind = "ship_exchange"
    label = "Ship the exchange now"
    costs_money = True
    params = {"shipping": Param(str, "Standard", "Shipping service for the exchange.")}

    def estimate(self, case: ExceptionCase, params: dict[str, Any]) -> Decimal:
        # What the store risks until the return arrives: the value of the items sent ahead.
        total = sum((i.line_item.unit_price * i.quantity for i in exchange_items(case)), Decimal("0"))
        return total.quantize(Decimal("0.01"))

    def describe(self, case: ExceptionCase, params: dict[str, Any], amount: Decimal) -> str:
        return "Shipped your exchange before your return arrives"

    def execute(self, remedy: Remedy) -> dict[str, Any]:
        items = exchange_items(remedy.case)
        if not items:
            raise ActionError("No open exchange on this order any more.")
        params = resolve_params(self.params, remedy.params)
        lines = [
            {"sku": i.exchange_for.sku if i.exchange_for else i.line_item.sku, "title": i.line_item.title,
             "variant": i.exchange_variant, "quantity": i.quantity}
            for i in items
        ]  # fmt: skip
        reference = get_provider().create_replacement(remedy, line_items=lines, shipping=params["shipping"])
        # The return's page says the exchange is on its way; the held stock has left the shelf.
        returns = ReturnRequest.objects.filter(pk__in={i.return_request_id for i in items}, exchange_shipped_at=None)
        returns.update(exchange_shipped_at=timezone.now(), resolution_reference=reference)
        ReturnItem.objects.filter(pk__in=[i.pk for i in items], reservation=ReservationState.HELD).update(
            reservation=ReservationState.SHIPPED
        )
        return {"reference": reference, "line_items": lines}
