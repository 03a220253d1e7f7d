"""Refund what the customer paid for shipping (the parcel is late)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from playbooks.providers import get_provider

from .base import Action, ActionError, case_money

if TYPE_CHECKING:
    from playbooks.models import ExceptionCase, Remedy


class RefundShippingAction(Action):
    kind = "refund_shipping"
    label = "Refund the shipping"
    costs_money = True
    pays_a_sum = True
    params = {}

    def estimate(self, case: ExceptionCase, params: dict[str, Any]) -> Decimal:
        return case.order.shipping_total

    def describe(self, case: ExceptionCase, params: dict[str, Any], amount: Decimal) -> str:
        return f"Refunded {case_money(case, amount)} of shipping"

    def execute(self, remedy: Remedy) -> dict[str, Any]:
        if remedy.amount <= 0:
            raise ActionError("Nothing to refund: the shipping was free.", permanent=True)
        if remedy.amount > remedy.case.order.shipping_total:
            raise ActionError(
                f"{remedy.amount} is more than the {remedy.case.order.shipping_total} paid for shipping.",
                permanent=True,
            )
        reference = get_provider().refund(remedy, amount=remedy.amount, reason="shipping refund")
        return {"reference": reference, "amount": str(remedy.amount)}
