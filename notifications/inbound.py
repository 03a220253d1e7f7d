"""What the hub does with what Twilio tells it: delivery receipts for our messages, and customers' replies.

The webhook views (notifications.twilio_webhooks) only check signatures and translate HTTP; the rules
live here:
- a status callback moves a message forwards only (a late "sent" never undoes "delivered");
- STOP-family replies opt the number out for every customer who has it, in every store; START-family
  replies opt it back in; HELP-family replies get the store's support details;
- anything else a customer writes becomes one ticket (a redelivered webhook finds the same ticket).
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from orders.choices import EventSource, TicketChannel, TicketReason
from orders.facts import facts_announce
from orders.formats import format_phone
from orders.models import Customer, Order, Store, Ticket
from orders.services import ticket_create
from orders.updates import CustomerData, OrderRef, TicketData
from orders.validators import normalize_phone

from .choices import MessageStatus
from .models import Message

logger = logging.getLogger(__name__)

# Whole-message keywords (case-insensitive), as Twilio and US carriers treat them on long codes.
STOP_KEYWORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"})
START_KEYWORDS = frozenset({"start", "yes", "unstop"})
HELP_KEYWORDS = frozenset({"help", "info"})

# --- delivery receipts --------------------------------------------------------------------------------------

# Twilio's MessageStatus values onto ours. "accepted"/"scheduled"/"queued"/"sending" mean Twilio has the
# message: for the hub it is sent (accepted by the provider).
TWILIO_STATUSES = {
    "accepted": MessageStatus.SENT,
    "scheduled": MessageStatus.SENT,
    "queued": MessageStatus.SENT,
    "sending": MessageStatus.SENT,
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.UNDELIVERED,
    "failed": MessageStatus.FAILED,
    "canceled": MessageStatus.FAILED,
}
# How far along a message is. A callback applies only when it moves the message forwards. A delivery
# receipt beats an earlier "undelivered" (carriers do retry); nothing moves a delivered message.
PROGRESS = {
    MessageStatus.SCHEDULED: 0,
    MessageStatus.QUEUED: 0,
    MessageStatus.SENDING: 0,
    MessageStatus.REVIEW: 0,  # the outcome was unknown: a callback proves Twilio has it
    MessageStatus.SENT: 1,
    MessageStatus.UNDELIVERED: 2,
    MessageStatus.FAILED: 2,
    MessageStatus.DELIVERED: 3,
}


def _message_for_callback(public_id: str, provider_id: str) -> Message | None:
    """The message a callback is about: by the public id the hub put in the callback URL, else by sid."""
    sms = Message.objects.filter(channel="sms")
    message = None
    if public_id:
        with contextlib.suppress(ValueError):
            message = sms.filter(public_id=uuid.UUID(public_id)).first()
    if message is None and provider_id:
        message = sms.filter(provider_id=provider_id).first()
    return message


def sms_status_update(*, public_id: str, provider_id: str, twilio_status: str, error_code: str = "") -> bool:
    """Apply a Twilio status callback to its message. Returns whether the message changed; an unknown
    message or status, or one that would move the message backwards, changes nothing."""
    status = TWILIO_STATUSES.get(twilio_status.strip().lower())
    found = _message_for_callback(public_id, provider_id)
    if status is None or found is None:
        logger.info("Twilio status %r for unknown message %s/%s ignored", twilio_status, public_id, provider_id)
        return False
    # The row is locked: Twilio sends "sent" and "delivered" close together, and two callbacks racing
    # must not move the message backwards between a read and a write.
    with transaction.atomic():
        message = Message.objects.select_for_update().get(pk=found.pk)
        if message.status not in PROGRESS or PROGRESS[message.status] >= PROGRESS[status]:
            return False  # suppressed/merged rows are not Twilio's; older news changes nothing
        now = timezone.now()
        message.status = status
        changed = ["status"]
        if status == MessageStatus.DELIVERED:
            message.delivered_at, message.error = now, ""
            changed += ["delivered_at", "error"]
        elif status in (MessageStatus.UNDELIVERED, MessageStatus.FAILED):
            message.error = error_code or f"Twilio reported {twilio_status}"
            changed.append("error")
        # What the callback proves: Twilio has the message (its sid, when the send's outcome was unknown)
        # and, unless it failed before leaving Twilio, sent it.
        if provider_id and not message.provider_id:
            message.provider_id = provider_id[:64]
            changed.append("provider_id")
        if message.sent_at is None and status != MessageStatus.FAILED:
            message.sent_at = now
            changed.append("sent_at")
        message.save(update_fields=changed)
    return True


# --- replies ------------------------------------------------------------------------------------------------


def inbound_keyword(body: str, opt_out_type: str = "") -> str | None:
    """Which keyword the whole message is: "stop", "start", "help", or None for anything else.

    `opt_out_type` is Twilio's own verdict (the OptOutType parameter, sent when Advanced Opt-Out matched
    a possibly localised keyword) and wins. Trailing punctuation is forgiven for opting out only: honouring
    "Stop." is safe, reading "Yes!" as a re-subscription is not.
    """
    verdict = opt_out_type.strip().lower()
    if verdict in {"stop", "start", "help"}:
        return verdict
    word = body.strip().lower()
    if word in STOP_KEYWORDS or word.rstrip(".!").strip() in STOP_KEYWORDS:
        return "stop"
    if word in START_KEYWORDS:
        return "start"
    if word in HELP_KEYWORDS:
        return "help"
    return None


def customers_with_phone(phone: str) -> QuerySet[Customer]:
    """Every customer, in every store, with this number (households and repeat buyers share one)."""
    phone = normalize_phone(phone)
    return Customer.objects.filter(phone=phone) if phone else Customer.objects.none()


def sms_opt_out(phone: str) -> int:
    """Opt the number out of SMS for every customer who has it. Returns how many customers changed; the
    first opt-out's time is kept."""
    return customers_with_phone(phone).filter(sms_opted_out_at__isnull=True).update(sms_opted_out_at=timezone.now())


def sms_opt_in(phone: str) -> int:
    """Opt the number back in (the customer sent START). Returns how many customers changed."""
    return customers_with_phone(phone).exclude(sms_opted_out_at=None).update(sms_opted_out_at=None)


@dataclass(frozen=True)
class Sender:
    """Who wrote: the customer and store a reply is about, and their latest order there, if any."""

    store: Store
    customer: Customer
    order: Order | None


def sender_for(phone: str) -> Sender | None:
    """The customer behind a number: the one of the most recent order when several share it, else the
    most recently created. None for a number no customer has."""
    customers = customers_with_phone(phone)
    order = (
        Order.objects.filter(customer__in=customers)
        .select_related("store", "customer")
        .order_by("-placed_at", "-pk")
        .first()
    )
    if order is not None and order.customer is not None:
        return Sender(store=order.store, customer=order.customer, order=order)
    customer = customers.select_related("store").order_by("-created_at", "-pk").first()
    if customer is None:
        return None
    return Sender(store=customer.store, customer=customer, order=None)


def help_text(store: Store) -> str:
    """The answer to HELP: who is writing and how to reach a person (carriers require both)."""
    ways = [w for w in (store.support_email, format_phone(store.support_phone), store.support_url) if w]
    contact = f" Contact us: {', '.join(ways)}." if ways else ""
    return f"{store.name}: order updates by SMS.{contact} Reply STOP to opt out."


def inbound_reply_to_ticket(
    *, phone: str, body: str, message_sid: str, media_urls: list[str] | tuple[str, ...] = ()
) -> Ticket | None:
    """Record what a customer wrote (and links to the pictures they sent) as a ticket on their latest
    order, once per Twilio message sid. Returns None (nothing stored) when no customer has the number or
    the message is empty."""
    sender = sender_for(phone)
    text = "\n".join([body.strip(), *(f"Attachment: {url}" for url in media_urls)]).strip()
    if sender is None or not text:
        return None
    customer = sender.customer
    first_line = text.splitlines()[0]
    data = TicketData(
        reason=TicketReason.OTHER,
        created_at=timezone.now(),
        channel=TicketChannel.SMS,
        source=EventSource.TWILIO,
        external_id=message_sid[:64],
        subject=f"SMS: {first_line[:120]}",
        body=text,
        order=OrderRef(external_id=sender.order.external_id, order_number=sender.order.order_number)
        if sender.order
        else None,
        # With an order the ticket takes the order's customer; without one, name this customer exactly.
        customer=None
        if sender.order
        else CustomerData(external_id=customer.external_id, email=customer.email, phone=customer.phone),
    )
    ticket, created = ticket_create(store=sender.store, data=data)
    if created and ticket.order_id:
        # A contact can be news for detectors (a "not received" claim on a delivered parcel).
        facts_announce(order_ids=[ticket.order_id], shipment_ids=ticket.order.shipments.values_list("pk", flat=True))
    return ticket
