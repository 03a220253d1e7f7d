"""Sending messages once, at the right time: compose (decide + outbox row), send (claim, provider), the
outbox drain that sends what is due, and the dispatcher that releases held messages and flags sends
whose outcome is unknown."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from contextlib import nullcontext
from datetime import datetime, timedelta
from functools import reduce
from operator import or_

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Min, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from cxhub.jobs import coalesced_started, enqueue_coalesced
from cxhub.memo import memoized
from orders.models import Customer, Order, Shipment

from .channels import ChannelError, get_channel
from .choices import TRANSACTIONAL_KINDS, URGENT_KINDS, MessageStatus
from .models import Message, MessageTemplate, NotificationSettings
from .policy import channel_order, message_hold
from .rendering import TemplateRenderError, message_context, render_message

logger = logging.getLogger(__name__)

# Statuses that count toward frequency caps and can absorb a merge.
COUNTED = [MessageStatus.SCHEDULED, MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.SENT,
           MessageStatus.DELIVERED, MessageStatus.REVIEW]  # fmt: skip
WAITING = [MessageStatus.SCHEDULED, MessageStatus.QUEUED]
RETRY_BACKOFF = [timedelta(seconds=10), timedelta(minutes=1), timedelta(minutes=5)]
# A send claimed this long ago with no outcome means its worker died mid-send.
SENDING_LEASE = timedelta(minutes=2)
# An outbox drain sends at most this many messages; when more are due it queues the next drain first.
SEND_BATCH_SIZE = 50
OUTBOX_KEY = "outbox-drain"


def store_settings(store_id: int) -> NotificationSettings:
    return memoized(
        ("notification_settings", store_id),
        lambda: NotificationSettings.objects.get_or_create(store_id=store_id)[0],
    )


def message_compose(
    *,
    order: Order,
    kind: str,
    key: str,
    shipment: Shipment | None = None,
    detected_at: datetime | None = None,
    extra: dict | None = None,
    channel: str = "auto",
    now: datetime | None = None,
) -> Message:
    """Decide how to tell the order's customer about `kind` (concerning `shipment`, when about one
    parcel), and queue it in the caller's transaction.

    `key` names what the message is about (an exception's step, a milestone): a second call with the
    same key returns the first message and sends nothing (the key is unique: a repeat is rare, so it is
    found by the insert that fails rather than by a query before every message). Returns the Message,
    which may be held for quiet hours, merged, or suppressed with the reason in `error`.
    """
    now = now or timezone.now()
    customer = order.customer
    config = store_settings(order.store_id)
    fields = {"store_id": order.store_id, "order": order, "customer": customer, "kind": kind, "idempotency_key": key,
              "detected_at": detected_at or now, "urgent": kind in URGENT_KINDS}  # fmt: skip

    picked = _pick_channel(order, kind, channel) if customer else None
    if picked is None:
        return _create(fields, channel="email" if channel == "auto" else channel, to="", body_text="",
                       status=MessageStatus.SUPPRESSED, error="No channel can reach this customer (no address, "
                       "opted out, channel not configured or no active template).")[0]  # fmt: skip
    channel_kind, address, template = picked
    try:
        rendered = render_message(template, message_context(order=order, shipment=shipment, extra=extra))
    except TemplateRenderError as exc:
        # A template saved around the admin's validation: nothing sensible to send; say why.
        return _create(fields, channel=channel_kind, to=address, body_text="", status=MessageStatus.FAILED,
                       error=f"The {kind} template does not render: {exc}")[0]  # fmt: skip
    fields.update(channel=channel_kind, to=address, subject=rendered.subject, body_text=rendered.text,
                  body_html=rendered.html)  # fmt: skip

    recent = None
    if kind not in TRANSACTIONAL_KINDS:
        recent = NOTHING_RECENT if _is_quiet(customer, config) else _recent_counts(order, channel_kind, config, now)
    if recent and (reason := _frequency_cap_reason(recent, config)):
        return _create(fields, status=MessageStatus.SUPPRESSED, error=reason)[0]

    hold = message_hold(
        kind, now=now, tz=(customer.timezone if customer else "") or order.store.timezone, config=config
    )
    status = MessageStatus.SCHEDULED if hold.quiet else MessageStatus.QUEUED
    message, created = _create(fields, status=status, scheduled_for=hold.until)
    if not created:
        return message
    _quiet_customers().discard(message.customer_id)
    if recent and recent["mergeable"]:
        _merge_earlier(message, config, now)
    if message.status == MessageStatus.QUEUED and message.scheduled_for is None:
        messages_send_soon()
    return message


def _pick_channel(order: Order, kind: str, requested: str):
    customer = order.customer
    for channel_kind in channel_order(kind=kind, requested=requested, preferred=customer.preferred_channel):
        channel = get_channel(channel_kind)
        if not channel.is_configured():
            continue
        address = channel.address_for(customer)
        if not address:
            continue
        template = _active_template(order.store_id, kind, channel_kind)
        if template:
            return channel_kind, address, template
    return None


def _active_template(store_id: int, kind: str, channel: str) -> MessageTemplate | None:
    return memoized(
        ("message_template", store_id, kind, channel),
        lambda: MessageTemplate.objects.filter(store_id=store_id, kind=kind, channel=channel, is_active=True).first(),
    )


# The frequency caps' windows: messages about an order in a day, to a customer in a week.
ORDER_WINDOW, CUSTOMER_WINDOW = timedelta(days=1), timedelta(days=7)
NOTHING_RECENT = {"about_order": 0, "mergeable": 0, "to_customer": 0}


def customers_quiet_note(customer_ids: Iterable[int]) -> None:
    """Before a batch of messages (a job's notify steps): note, in one query, which of these customers
    had no counted message in the last week. Composing to one of them then skips the per-message count
    of _recent_counts: every window it counts (the order's day, the customer's week, a merge window of
    up to a week) is inside that week, so each count is 0. Lasts the memo scope (one batch); a customer
    who is sent something in it is no longer quiet."""
    ids = set(customer_ids) - {None}
    if not ids:
        return
    heard = (
        Message.objects.filter(
            status__in=COUNTED, customer_id__in=ids, created_at__gte=timezone.now() - CUSTOMER_WINDOW
        )
        .exclude(kind__in=TRANSACTIONAL_KINDS)
        .values_list("customer_id", flat=True)
        .distinct()
    )
    _quiet_customers().update(ids - set(heard))


def _quiet_customers() -> set[int]:
    return memoized("quiet_customers", set)  # outside a memo scope: a new empty set, nobody is quiet


def _is_quiet(customer: Customer | None, config: NotificationSettings) -> bool:
    return (
        customer is not None
        and timedelta(minutes=config.merge_window_minutes) <= CUSTOMER_WINDOW
        and customer.pk in _quiet_customers()
    )


def _recent_counts(order: Order, channel: str, config: NotificationSettings, now: datetime) -> dict[str, int]:
    """What a non-transactional message is weighed against, in one query: the messages about this order in
    the last day and to its customer in the last week (the frequency caps), and the unsent ones on this
    channel within the merge window (most messages have none to merge, and then no UPDATE is made)."""
    windows = {
        "about_order": Q(order=order, created_at__gte=now - ORDER_WINDOW),
        "mergeable": _merge_window(order.pk, channel, config, now),
    }
    if order.customer_id:
        windows["to_customer"] = Q(customer_id=order.customer_id, created_at__gte=now - CUSTOMER_WINDOW)
    counted = Message.objects.filter(status__in=COUNTED).exclude(kind__in=TRANSACTIONAL_KINDS)
    # Each window is read from its own index, then counted apart. (The counts' names must not be fields':
    # a later window's filter would read an earlier count instead.)
    return counted.filter(reduce(or_, windows.values())).aggregate(
        **{name: Count("pk", filter=window) for name, window in windows.items()}
    )


def _frequency_cap_reason(counts: dict[str, int], config: NotificationSettings) -> str:
    if counts["about_order"] >= config.max_per_order_per_day:
        return f"Frequency cap: {config.max_per_order_per_day} messages about this order in a day."
    if counts.get("to_customer", 0) >= config.max_per_customer_per_week:
        return f"Frequency cap: {config.max_per_customer_per_week} messages to this customer in a week."
    return ""


def _create(fields: dict, **values: object) -> tuple[Message, bool]:
    """The message with this key: (a new one, True), or (the one composed before, False)."""
    # Inside the caller's transaction a savepoint keeps a repeated key from spoiling it; in autocommit
    # the INSERT stands alone and needs no transaction of its own.
    in_transaction = transaction.get_connection().in_atomic_block
    try:
        with transaction.atomic() if in_transaction else nullcontext():
            return Message.objects.create(**{**fields, **values}), True
    except IntegrityError:
        return Message.objects.get(idempotency_key=fields["idempotency_key"]), False


def _merge_window(order_id: int, channel: str, config: NotificationSettings, now: datetime) -> Q:
    """Unsent messages about the order on the channel, from the last few minutes (non-transactional ones
    among them can be merged into a newer message)."""
    return Q(order_id=order_id, channel=channel, status__in=WAITING,
             created_at__gte=now - timedelta(minutes=config.merge_window_minutes))  # fmt: skip


def _merge_earlier(message: Message, config: NotificationSettings, now: datetime) -> None:
    """Unsent news about the same order on the same channel, from the last few minutes, is replaced by
    this newer message (it says the latest). `message`: just composed, waiting, not transactional."""
    Message.objects.filter(_merge_window(message.order_id, message.channel, config, now)).exclude(
        pk=message.pk
    ).exclude(kind__in=TRANSACTIONAL_KINDS).update(
        status=MessageStatus.MERGED, merged_into=message, error=f"Replaced by the newer {message.kind} message."
    )


def messages_send_soon(*, force: bool = False) -> None:
    """Have a worker send what is due: one job for a burst of messages (see messages_send)."""
    from .jobs import messages_send_job

    enqueue_coalesced("high", messages_send_job, key=OUTBOX_KEY, force=force)


def _due(now: datetime) -> QuerySet[Message]:
    """Queued messages whose time has come (not held for quiet hours, a merge window or a retry's backoff)."""
    return Message.objects.filter(
        Q(scheduled_for__isnull=True) | Q(scheduled_for__lte=now), status=MessageStatus.QUEUED
    )


def messages_due_since(now: datetime) -> datetime | None:
    """Since when the oldest message due to be sent has waited for a worker (None when none is due)."""
    return _due(now).aggregate(at=Min(Coalesce("scheduled_for", "created_at")))["at"]


def messages_send(*, limit: int = SEND_BATCH_SIZE) -> int:
    """The outbox drain: send the due messages, oldest first, up to `limit`. Returns how many it sent or
    settled (suppressed, failed, flagged).

    Composing a message does not queue a job for it: it queues a drain unless one is waiting, so a wave
    of messages is sent by a few jobs instead of one each (a forked work horse per SMS cost more than the
    send, bench/README.md). A full batch queues the next drain before it starts, so a second worker can
    take part of the wave. The batch is read in one query, but each message is claimed on its own just
    before its provider call (message_claim_and_send), so two drains never send one message, and a worker
    killed mid-batch leaves one send whose outcome is unknown (flagged for review by the dispatcher) and
    the rest queued.
    """
    coalesced_started("high", OUTBOX_KEY)
    read_at = time.monotonic()
    due = list(_due(timezone.now()).select_related(*SEND_RELATED).order_by("created_at")[:limit])
    if len(due) == limit:
        messages_send_soon()
    settled = 0
    for message in due:
        # A slow provider: what the batch read may be stale by now (an opt-out since), so read each again.
        stale = time.monotonic() - read_at > BATCH_FRESH_SECONDS
        status = message_send(message.pk) if stale else message_claim_and_send(message)
        settled += status is not None
    return settled


# What a send reads besides the message: the customer's opt-outs, the store and order for the channel.
SEND_RELATED = ["customer", "store", "order"]
# A drain sends its batch as it read it (one query instead of one per message) for this long.
BATCH_FRESH_SECONDS = 2.0


def message_send(message_id: int) -> str | None:
    """Send one queued message, once. Returns its new status (None if it was not ours to send)."""
    message = Message.objects.select_related(*SEND_RELATED).filter(pk=message_id).first()
    return message_claim_and_send(message) if message is not None else None


def message_claim_and_send(message: Message) -> str | None:
    """Claim the message, as read just before, and send it. The claim holds only while the message is
    still due and unclaimed since that read (same attempt count): two drains never both send it."""
    now = timezone.now()
    claimed = (
        _due(now)
        .filter(pk=message.pk, attempts=message.attempts)
        .update(status=MessageStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    )
    if not claimed:
        return None  # Sent already, held for later, merged, or another worker has it.
    message.status, message.claimed_at, message.attempts = MessageStatus.SENDING, now, message.attempts + 1
    channel = get_channel(message.channel)
    if message.customer and not channel.address_for(message.customer):
        return _finish(message, MessageStatus.SUPPRESSED, error="The customer opted out before it was sent.")
    try:
        provider_id = channel.send(message)
    except ChannelError as exc:
        if exc.unknown_outcome:
            return _finish(message, MessageStatus.REVIEW, error=f"Outcome unknown: {exc}")
        if exc.code == "21610":
            # The carrier says this number unsubscribed: keep our opt-out in step with it.
            from .inbound import sms_opt_out

            sms_opt_out(message.to)
        if exc.permanent or message.attempts > len(RETRY_BACKOFF):
            return _finish(message, MessageStatus.FAILED, error=f"{exc.code or 'error'}: {exc}")
        delay = RETRY_BACKOFF[message.attempts - 1]
        Message.objects.filter(pk=message.pk).update(
            status=MessageStatus.QUEUED, scheduled_for=timezone.now() + delay, error=f"Retrying: {exc}"
        )
        _enqueue_later(message.pk, delay, attempt=message.attempts + 1)
        return MessageStatus.QUEUED
    return _finish(message, MessageStatus.SENT, provider_id=provider_id, sent_at=timezone.now(), error="")


def _finish(message: Message, status: str, **values: object) -> str:
    Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(status=status, **values)
    return status


def _enqueue_later(message_id: int, delay: timedelta, *, attempt: int) -> None:
    from .jobs import message_send_job

    if settings.RQ_SYNC:
        return  # the dispatcher picks it up when due
    import django_rq

    django_rq.get_queue("high").enqueue_in(
        delay, message_send_job, message_id, job_id=f"message-{message_id}-{attempt}"
    )


def messages_dispatch(*, now: datetime | None = None) -> int:
    """Release held messages that are due, send what the queue may have lost (a drain is queued whenever
    messages are due), and flag sends whose worker died mid-call for review (never resent blindly).
    Returns how many messages are due."""
    now = now or timezone.now()
    flagged = Message.objects.filter(status=MessageStatus.SENDING, claimed_at__lt=now - SENDING_LEASE).update(
        status=MessageStatus.REVIEW, error="Outcome unknown: the worker stopped during the send."
    )
    if flagged:
        logger.warning("%s messages flagged for review after an interrupted send", flagged)
    Message.objects.filter(status=MessageStatus.SCHEDULED, scheduled_for__lte=now).update(status=MessageStatus.QUEUED)
    due = _due(now).count()
    if due:
        messages_send_soon(force=True)
    return due
