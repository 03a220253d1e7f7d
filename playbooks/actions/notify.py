"""Tell the customer about the problem before they have to ask (a delay, a failed attempt...).

Until the notifications app sends messages, the action records the message it would send as an
ActionRecord, once per remedy, so agents see exactly what the customer would have received.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from playbooks.models import ActionRecord
from playbooks.params import Param, resolve_params

from .base import Action, ActionError

if TYPE_CHECKING:
    from decimal import Decimal

    from playbooks.models import ExceptionCase, Remedy

CHANNELS = ("auto", "sms", "email")


def record_message(remedy: Remedy, *, template: str, channel: str) -> dict[str, Any]:
    """Record, once for the remedy, the message that would go to the order's customer."""
    if channel not in CHANNELS:
        raise ActionError(f"Unknown channel {channel!r}: use one of {', '.join(CHANNELS)}.", permanent=True)
    order = remedy.case.order
    customer = order.customer
    record, _created = ActionRecord.objects.get_or_create(
        remedy=remedy,
        operation="notify",
        defaults={
            "payload": {
                "template": template,
                "channel": channel,
                "to": {"email": customer.email if customer else "", "phone": customer.phone if customer else ""},
                "order_number": order.order_number,
            },
            "reference": f"NOTE-{remedy.pk}",
        },
    )
    return {"recorded": True, "reference": record.reference}


class NotifyAction(Action):
    kind = "notify"
    label = "Notify the customer"
    params = {
        "template": Param(str, "delay", "The kind of message to send, e.g. delay, failed_attempt, address_problem."),
        "channel": Param(str, "auto", "auto (the customer's preferred channel), sms or email."),
    }

    def describe(self, case: ExceptionCase, params: dict[str, Any], amount: Decimal) -> str:
        return f"Sent a {resolve_params(self.params, params)['template']} message"

    def execute(self, remedy: Remedy) -> dict[str, Any]:
        params = resolve_params(self.params, remedy.params)
        return record_message(remedy, template=params["template"], channel=params["channel"])
