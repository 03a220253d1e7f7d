"""Tell the customer about the problem before they have to ask (a delay, a failed attempt...).

The message goes through the notifications outbox, keyed by the remedy: a retried step never sends
twice. It says what the store already did ({{ action }}) and any offer ({{ offer }}), from the steps
of the same playbook that ran before it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from notifications.choices import MessageKind
from notifications.services import customers_quiet_note, message_compose
from orders.formats import format_money
from playbooks.choices import RemedyState
from playbooks.params import Param, resolve_params

from .base import Action, ActionError

if TYPE_CHECKING:
    from decimal import Decimal

    from playbooks.models import ExceptionCase, Remedy

CHANNELS = ("auto", "sms", "email")

# What sending each kind of message did, in words a customer and an agent both read well.
MESSAGE_DESCRIPTIONS: dict[str, str] = {
    MessageKind.ORDER_CONFIRMED: "Sent you a confirmation of your order",
    MessageKind.SHIPPED: "Let you know your order has shipped",
    MessageKind.OUT_FOR_DELIVERY: "Let you know your parcel is out for delivery",
    MessageKind.DELIVERED: "Let you know your parcel was delivered",
    MessageKind.DELAY: "Sent you a message about the delay",
    MessageKind.DELAY_REMEDY: "Sent you a message about the delay and what we're doing about it",
    MessageKind.LOST_MAYBE: "Let you know your parcel may be lost and what we're doing about it",
    MessageKind.LATE_TO_SHIP: "Let you know your order is taking longer to ship",
    MessageKind.FAILED_ATTEMPT: "Sent you a message about the missed delivery",
    MessageKind.ADDRESS_FIX: "Asked you to check your delivery address",
    MessageKind.PAYMENT_FAILED: "Let you know your payment didn't go through",
    MessageKind.POST_DELIVERY_SURVEY: "Asked how the delivery went",
    MessageKind.EXCHANGE_ON_THE_WAY: "Let you know your exchange is on its way",
    MessageKind.RETURN_UPDATE: "Sent you an update on your return",
    MessageKind.HELP_REPLY: "Replied to your message",
    MessageKind.TEST: "Sent a test message",
}


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
            offer = f"{format_money(earlier.amount, earlier.currency, country=remedy.case.store.country)} ({code})"
        elif action.kind not in ("notify", "survey", "helpdesk_note", "escalate"):
            line = action.describe(remedy.case, earlier.params, earlier.amount)
            actions.append(line[:1].lower() + line[1:])  # mid-sentence
    return {"action": " and ".join(actions), "offer": offer}


class MessageAction(Action):
    """An action that messages the order's customer."""

    def message_kind(self, params: dict[str, Any]) -> str:
        """The kind of message (notifications.choices.MessageKind) a step with these params sends."""
        raise NotImplementedError

    def prepare(self, remedies: list[Remedy]) -> None:
        customers_quiet_note(remedy.case.order.customer_id for remedy in remedies)


class NotifyAction(MessageAction):
    kind = "notify"
    label = "Notify the customer"
    params = {
        "template": Param(
            str,
            "delay",
            "The kind of message to send, e.g. delay, failed_attempt, address_fix.",
            choices=MessageKind.values,
        ),
        "channel": Param(
            str,
            "auto",
            "auto (time-sensitive by SMS, the rest by email, or the customer's choice), sms or email.",
            choices=CHANNELS,
        ),
    }

    def message_kind(self, params: dict[str, Any]) -> str:
        return params.get("template", self.params["template"].default)

    def describe(self, case: ExceptionCase, params: dict[str, Any], amount: Decimal) -> str:
        # Customers read this on the tracking page ("What we've done so far"), agents in the admin: words
        # for what the message said, never the kind's slug.
        # Described from the template alone, even when another parameter is wrong.
        return MESSAGE_DESCRIPTIONS.get(self.message_kind(params), "Sent you a message")

    def execute(self, remedy: Remedy) -> dict[str, Any]:
        params = resolve_params(self.params, remedy.params)
        return send_message(remedy, template=params["template"], channel=params["channel"])
