"""Tell the customer about the problem before they have to ask (a delay, a failed attempt...).

The message goes through the notifications outbox, keyed by the remedy: a retried step never sends
twice. It says what the store already did ({{ action }}) and any offer ({{ offer }}), from the steps
of the same playbook that ran before it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from notifications.choices import MessageKind
from notifications.services import customers_quiet_note, message_compose
from playbooks.choices import RemedyState
from playbooks.params import Param, resolve_params

from .base import Action, ActionError

if TYPE_CHECKING:
    from decimal import Decimal

    from playbooks.models import ExceptionCase, Remedy

CHANNELS = ("auto", "sms", "email")


def send_message(remedy: Remedy, *, template: str, channel: str) -> dict[str, Any]:
    """Queue the message of kind `template` to the order's customer, once for this remedy."""
    if channel not in CHANNELS:
        raise ActionError(f"Unknown channel {channel!r}: use one of {', '.join(CHANNELS)}.", permanent=True)
    if template not in MessageKind.values:
        raise ActionError(f"No message kind {template!r}.", permanent=True)
    case = remedy.case
    message = message_compose(
        order=case.order,
        kind=template,
        key=f"remedy:{remedy.pk}",
        shipment=case.shipment,
        detected_at=case.detected_at,
        extra=_what_we_did(remedy),
        channel=channel,
    )
    return {"message": str(message.public_id), "status": message.status, "channel": message.channel,
            "to": message.to, "note": message.error}  # fmt: skip


def _what_we_did(remedy: Remedy) -> dict[str, str]:
    """{{ action }} and {{ offer }} for the message, from the case's earlier steps that ran."""
    from playbooks.actions import ACTIONS

    # The case's steps as the run loaded them (steps_run), with what each did so far.
    steps = sorted(remedy.case.remedies.all(), key=lambda step: step.position)
    done = [step for step in steps if step.position < remedy.position and step.state == RemedyState.DONE]
    actions, offer = [], ""
    for earlier in done:
        action = ACTIONS[earlier.action]
        if earlier.action in ("coupon", "store_credit"):
            code = earlier.result.get("code") or earlier.result.get("reference", "")
            offer = f"{earlier.amount} {earlier.currency} ({code})"
        elif action.kind not in ("notify", "survey", "helpdesk_note", "escalate"):
            actions.append(action.describe(remedy.case, earlier.params, earlier.amount).lower())
    return {"action": " and ".join(actions), "offer": offer}


class MessageAction(Action):
    """An action that messages the order's customer."""

    def prepare(self, remedies: list[Remedy]) -> None:
        customers_quiet_note(remedy.case.order.customer_id for remedy in remedies)


class NotifyAction(MessageAction):
    kind = "notify"
    label = "Notify the customer"
    params = {
        "template": Param(str, "delay", "The kind of message to send, e.g. delay, failed_attempt, address_fix."),
        "channel": Param(
            str, "auto", "auto (time-sensitive by SMS, the rest by email, or the customer's choice), sms or email."
        ),
    }

    def describe(self, case: ExceptionCase, params: dict[str, Any], amount: Decimal) -> str:
        return f"Sent a {resolve_params(self.params, params)['template']} message"

    def execute(self, remedy: Remedy) -> dict[str, Any]:
        params = resolve_params(self.params, remedy.params)
        return send_message(remedy, template=params["template"], channel=params["channel"])
