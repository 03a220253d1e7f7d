"""Hold the parcel (or its fulfillment) while a problem such as a bad address is fixed, then retry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from playbooks.params import Param, resolve_params
from playbooks.providers import get_provider

from .base import Action

if TYPE_CHECKING:
    from decimal import Decimal

    from playbooks.models import ExceptionCase, Remedy


class HoldAndRetryAction(Action):
    kind = "hold_and_retry"
    label = "Hold the parcel and retry"
    params = {"reason": Param(str, "address needs fixing", "Why the fulfillment is held, as the warehouse sees it.")}

    def describe(self, case: ExceptionCase, params: dict[str, Any], amount: Decimal) -> str:
        return "Held the parcel while the address is fixed"

    def execute(self, remedy: Remedy) -> dict[str, Any]:
        reason = resolve_params(self.params, remedy.params)["reason"]
        reference = get_provider().hold_fulfillment(remedy, reason=reason)
        return {"reference": reference, "reason": reason}
