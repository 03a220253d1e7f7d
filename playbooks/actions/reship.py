"""Ship a replacement of the order's items (lost or damaged parcel)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from playbooks.params import Param, resolve_params
from playbooks.providers import get_provider

from .base import Action, ActionError

if TYPE_CHECKING:
    from playbooks.models import ExceptionCase, Remedy

CENT = Decimal("0.01")


class ReshipAction(Action):
    kind = "reship"
    label = "Ship a replacement"
    costs_money = True
    params = {"shipping": Param(str, "Express", "The shipping service for the replacement, e.g. Express.")}

    def estimate(self, case: ExceptionCase, params: dict[str, Any]) -> Decimal:
        order = case.order
        items = sum((item.line_total for item in order.line_items.all()), Decimal("0.00"))
        return (items + order.shipping_total).quantize(CENT, rounding=ROUND_HALF_UP)

    def describe(self, case: ExceptionCase, params: dict[str, Any], amount: Decimal) -> str:
        return "Shipped a replacement"

    def execute(self, remedy: Remedy) -> dict[str, Any]:
        line_items = [
            {"sku": item.sku, "title": item.title, "variant": item.variant, "quantity": item.quantity}
            for item in remedy.case.order.line_items.all()
        ]
        if not line_items:
            raise ActionError("The order has no line items to re-ship.", permanent=True)
        shipping = resolve_params(self.params, remedy.params)["shipping"]
        reference = get_provider().create_replacement(remedy, line_items=line_items, shipping=shipping)
        return {"reference": reference, "shipping": shipping}
