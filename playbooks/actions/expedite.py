"""Upgrade a parcel's shipping (e.g. to Express) so a late order catches up."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from playbooks.params import Param, resolve_params
from playbooks.providers import get_provider

from .base import Action, ActionError

if TYPE_CHECKING:
    from playbooks.models import ExceptionCase, Remedy

CENT = Decimal("0.01")


class ExpediteAction(Action):
    kind = "expedite"
    label = "Upgrade the shipping"
    costs_money = True
    params = {
        "service_level": Param(str, "Express", "The carrier service to upgrade to, e.g. Express or Overnight."),
        "cost": Param(Decimal, Decimal("12.00"), "What the upgrade costs the store, in the order's currency.", 0),
    }

    def estimate(self, case: ExceptionCase, params: dict[str, Any]) -> Decimal:
        return resolve_params(self.params, params)["cost"].quantize(CENT, rounding=ROUND_HALF_UP)

    def describe(self, case: ExceptionCase, params: dict[str, Any], amount: Decimal) -> str:
        return f"Upgraded the shipping to {resolve_params(self.params, params)['service_level']}"

    def execute(self, remedy: Remedy) -> dict[str, Any]:
        if remedy.case.shipment_id is None:
            raise ActionError("The case has no shipment to upgrade.", permanent=True)
        service_level = resolve_params(self.params, remedy.params)["service_level"]
        reference = get_provider().upgrade_shipping(remedy, service_level=service_level)
        return {"reference": reference, "service_level": service_level}
