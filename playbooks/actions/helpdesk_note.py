"""Put what the hub detected on the order's helpdesk ticket, so the agent who picks it up knows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from playbooks.params import Param, resolve_params
from playbooks.providers import get_provider

from .base import Action, ActionError

if TYPE_CHECKING:
    from decimal import Decimal

    from playbooks.models import ExceptionCase, Remedy


class HelpdeskNoteAction(Action):
    kind = "helpdesk_note"
    label = "Note on the helpdesk ticket"
    params = {"note": Param(str, "", "Added after the case's explanation, e.g. what agents should offer.")}

    def describe(self, case: ExceptionCase, params: dict[str, Any], amount: Decimal) -> str:
        return "Noted it on the helpdesk ticket"

    def execute(self, remedy: Remedy) -> dict[str, Any]:
        extra = resolve_params(self.params, remedy.params)["note"]
        note = "\n\n".join(part.strip() for part in [remedy.case.explanation, extra] if part.strip())
        if not note:
            raise ActionError("Nothing to note: the case has no explanation and the step no note.", permanent=True)
        reference = get_provider().add_ticket_note(remedy, note=note)
        return {"reference": reference}
