"""The contract every playbook step action (one file per action) fulfils."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from orders.formats import format_money
from playbooks.params import Param

if TYPE_CHECKING:
    from playbooks.models import ExceptionCase, Remedy


class ActionError(Exception):
    """The action could not be done. `permanent` errors are recorded and never retried; transient
    ones (a provider time-out) let the job retry."""

    def __init__(self, message: str, *, permanent: bool = True) -> None:
        super().__init__(message)
        self.permanent = permanent


class Action:
    kind: ClassVar[str]  # stored on steps and remedies; never renamed
    label: ClassVar[str]
    costs_money: ClassVar[bool] = False
    # The remedy pays a sum of money (a refund, a coupon): it may be approved for less than proposed, and its
    # description says how much. Other costs (a replacement, an upgraded shipping) happen in full or not at all.
    pays_a_sum: ClassVar[bool] = False
    params: ClassVar[dict[str, Param]] = {}

    def estimate(self, case: ExceptionCase, params: dict[str, Any]) -> Decimal:
        """What the action will cost the store for this case, in the order's currency (0 if nothing).

        Used for caps, approvals and the sandbox, before anything is done. Pure: no writes.
        """
        return Decimal("0.00")

    def describe(self, case: ExceptionCase, params: dict[str, Any], amount: Decimal) -> str:
        """One line for agents and customers: what the store is doing ("upgraded your shipping")."""
        return self.label

    def prepare(self, remedies: list[Remedy]) -> None:
        """Before a batch of these remedies runs: read in one go what executing each would read, for the
        batch's memo scope (cxhub.memo). Optional; the engine calls it once per action and batch."""

    def execute(self, remedy: Remedy) -> dict[str, Any]:
        """Do it, once. `remedy.pk` is the idempotency key passed to providers; `remedy.amount` is the
        approved amount. Returns a JSON-ready result. Raises ActionError."""
        raise NotImplementedError


def case_money(case: ExceptionCase, amount: Decimal) -> str:
    """ "$12.00": `amount` in the case's order currency, as the store's customers read it (the store read
    from the case, which the engine and the tracking page load with it: no query)."""
    return format_money(amount, case.order.currency, country=case.store.country)
