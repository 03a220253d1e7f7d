"""Hand the case to a team of people.

The engine owns case state: this action only says where the case goes, and the engine escalates it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from playbooks.params import Param, resolve_params

from .base import Action

if TYPE_CHECKING:
    from decimal import Decimal

    from playbooks.models import ExceptionCase, Remedy


class EscalateAction(Action):
    kind = "escalate"
    label = "Escalate to a person"
    params = {"queue": Param(str, "specialists", "The team that takes the case, e.g. specialists or claims.")}

    def describe(self, case: ExceptionCase, params: dict[str, Any], amount: Decimal) -> str:
        return f"Passed to our {resolve_params(self.params, params)['queue']} team"

    def execute(self, remedy: Remedy) -> dict[str, Any]:
        return {"escalate": True, "queue": resolve_params(self.params, remedy.params)["queue"]}
