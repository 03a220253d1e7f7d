"""Refund part or all of the order: a share of its total, or a fixed amount."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from playbooks.params import Param, resolve_params
from playbooks.providers import get_provider

from .base import Action, ActionError, case_money

if TYPE_CHECKING:
    from playbooks.models import ExceptionCase, Remedy

CENT = Decimal("0.01")


class RefundAction(Action):
    kind = "refund"
    label = "Refund (part of) the order"
    costs_money = True
    pays_a_sum = True
    params = {
        "percent": Param(
            Decimal, Decimal("100"), "Share of the order total to refund, 0 to 100 (never more than the total).", 0
        ),
        "fixed_amount": Param(
            Decimal, Decimal("0.00"), "A fixed amount to refund instead of a share; 0 uses the percent.", 0
        ),
    }

    def estimate(self, case: ExceptionCase, params: dict[str, Any]) -> Decimal:
        params = resolve_params(self.params, params)
        total = case.order.total
        fixed = params["fixed_amount"]
        amount = fixed if fixed > 0 else total * params["percent"] / 100
        return min(amount, total).quantize(CENT, rounding=ROUND_HALF_UP)

    def describe(self, case: ExceptionCase, params: dict[str, Any], amount: Decimal) -> str:
        return f"Refunded {case_money(case, amount)}"

    def execute(self, remedy: Remedy) -> dict[str, Any]:
        total = remedy.case.order.total
        if remedy.amount <= 0:
            raise ActionError("Nothing to refund: the amount is 0.", permanent=True)
        if remedy.amount > total:
            raise ActionError(f"{remedy.amount} is more than the order total of {total}.", permanent=True)
        reference = get_provider().refund(remedy, amount=remedy.amount, reason="refund")
        return {"reference": reference, "amount": str(remedy.amount)}
