"""Store credit on the customer's account, to make up for the trouble."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from playbooks.params import Param, resolve_params
from playbooks.providers import get_provider

from .base import Action, ActionError, case_money

if TYPE_CHECKING:
    from playbooks.models import ExceptionCase, Remedy

CENT = Decimal("0.01")


class StoreCreditAction(Action):
    kind = "store_credit"
    label = "Store credit"
    costs_money = True
    pays_a_sum = True
    params = {"amount": Param(Decimal, Decimal("10.00"), "The credit's value, in the order's currency.", 0)}

    def estimate(self, case: ExceptionCase, params: dict[str, Any]) -> Decimal:
        return resolve_params(self.params, params)["amount"].quantize(CENT, rounding=ROUND_HALF_UP)

    def describe(self, case: ExceptionCase, params: dict[str, Any], amount: Decimal) -> str:
        return f"Added {case_money(case, amount)} of store credit to your account"

    def execute(self, remedy: Remedy) -> dict[str, Any]:
        if remedy.amount <= 0:
            raise ActionError("Store credit worth 0 is no credit.", permanent=True)
        reference = get_provider().create_discount(remedy, amount=remedy.amount, kind="store_credit")
        return {"reference": reference, "amount": str(remedy.amount)}
