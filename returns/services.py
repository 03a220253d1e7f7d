"""A return's life: requested → label issued → on its way back → received → refunded, credited or
exchanged (or rejected). The portal and the admin are doors into these functions.

Every step is one transaction that moves the state forward only from the states it expects (so a
double click or a replayed job changes nothing), tells the customer once (the message key is the
return and its new state), and appends to the audit log.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from cxhub.jobs import enqueue
from notifications.choices import MessageKind
from notifications.services import message_compose
from orders.choices import RETURN_APPROVED_STATES, ReservationState, ReturnResolution, ReturnState
from orders.facts import facts_announce
from orders.formats import format_money
from orders.models import ExchangeVariant, Order, ReturnItem, ReturnRequest
from playbooks.audit import audit
from playbooks.choices import AuditKind
from playbooks.providers import get_provider

from .eligibility import OrderEligibility, order_eligibility, policy_for
from .labels import get_label_provider
from .links import return_url
from .photos import photo_problem

CENTS = Decimal("0.01")


class ReturnStateError(Exception):
    """The return is not in a state where this step applies (e.g. receiving a rejected return)."""


@dataclass(frozen=True)
class ReturnLine:
    line_item_id: int
    quantity: int
    reason: str
    exchange_for_id: int | None = None
    comment: str = ""
    photo: UploadedFile | None = None


# --- Starting a return -----------------------------------------------------------------------------


@transaction.atomic
def return_request_create(
    *, order: Order, lines: list[ReturnLine], resolution: str, now: datetime | None = None
) -> ReturnRequest:
    """Open a return for some of the order's items, under the store's policy.

    Raises ValidationError with a message per field ("resolution", "items", or "item-<line item id>")
    and changes nothing when any line is not allowed. Exchange stock is reserved here, so two customers
    cannot both be promised the last one."""
    now = now or timezone.now()
    # One return at a time per order: two quick submissions cannot both return the same items.
    order = Order.objects.select_for_update().select_related("store").get(pk=order.pk)
    eligibility = order_eligibility(order, now=now)
    if not lines:
        raise ValidationError({"items": "Choose at least one item to return."})
    if resolution not in dict(eligibility.resolutions):
        if resolution == ReturnResolution.EXCHANGE and eligibility.policy.allow_exchange:
            raise ValidationError({"resolution": "Sorry, nothing is left in stock to exchange into. "
                                                 "Choose a refund or store credit."})  # fmt: skip
        raise ValidationError({"resolution": "Choose how you would like this resolved."})
    errors: dict[str, str] = {}
    for line in lines:
        if problem := _line_problem(eligibility, line, resolution):
            errors[f"item-{line.line_item_id}"] = problem
    if errors:
        raise ValidationError(errors)

    policy, rules = eligibility.policy, eligibility.rules
    approval_reasons = [] if policy.auto_approve else ["The store reviews every return."]
    approval_reasons += [
        f"{rules[line.reason].get_reason_display()} returns are reviewed first."
        for line in lines
        if rules[line.reason].needs_approval
    ]
    # One parcel goes back: if any item's reason ships free (the store's mistake), the whole return does.
    ships_free = resolution != ReturnResolution.REFUND or any(rules[line.reason].free_return_shipping for line in lines)
    count = ReturnRequest.objects.filter(order=order).count()
    request = ReturnRequest.objects.create(
        store_id=order.store_id,
        order=order,
        number=f"R{order.order_number.lstrip('#')}-{count + 1}",
        resolution=resolution,
        awaiting_approval_because=" ".join(dict.fromkeys(approval_reasons)),
        return_shipping_fee=Decimal("0.00") if ships_free else policy.return_shipping_fee,
    )
    exchange = resolution == ReturnResolution.EXCHANGE
    for line in lines:
        variant = _reserve(line, order) if exchange else None
        ReturnItem.objects.create(
            return_request=request,
            line_item_id=line.line_item_id,
            quantity=line.quantity,
            reason=line.reason,
            comment=line.comment,
            photo=line.photo,
            exchange_for=variant,
            exchange_variant=variant.title if variant else "",
            reservation=ReservationState.HELD if variant else ReservationState.NONE,
        )
    audit(AuditKind.RETURN_UPDATED, f"Return {request.number} requested by the customer.", order=order,
          resolution=resolution, items=[[line.line_item_id, line.quantity, line.reason] for line in lines])  # fmt: skip
    if request.awaiting_approval_because:
        _tell(request, "we've got your request and will review it within a day")
    else:
        _issue_label(request, now=now)
    facts_announce(order_ids=[order.pk])
    return request


def _line_problem(eligibility: OrderEligibility, line: ReturnLine, resolution: str) -> str:
    item = eligibility.item(line.line_item_id)
    if item is None:
        return "This item is not part of the order."
    if not item.eligible:
        return item.why_not
    if not 1 <= line.quantity <= item.returnable_quantity:
        return f"Return between 1 and {item.returnable_quantity} of these."
    if line.reason not in item.deadlines:
        return "Choose a reason from the list."
    rule = eligibility.rules[line.reason]
    if rule.photo_required and not line.photo:
        return f"Add a photo: the store asks for one when an item {rule.get_reason_display().lower()}."
    if line.photo and (problem := photo_problem(line.photo)):
        return problem
    if resolution == ReturnResolution.EXCHANGE and line.exchange_for_id not in {v.pk for v in item.exchange_options}:
        return "Choose the variant you would like instead."
    return ""


def _reserve(line: ReturnLine, order: Order) -> ExchangeVariant:
    """Set the exchange stock aside; a conditional UPDATE, so the last unit goes to one customer only."""
    variants = ExchangeVariant.objects.filter(pk=line.exchange_for_id, store_id=order.store_id)
    if not variants.filter(available__gte=line.quantity).update(available=F("available") - line.quantity):
        raise ValidationError({f"item-{line.line_item_id}": "Sorry, that variant has just sold out. Choose another."})
    return variants.get()


# --- Moving it along ------------------------------------------------------------------------------------


def _locked(request: ReturnRequest, allowed: list[str], step: str) -> ReturnRequest:
    request = ReturnRequest.objects.select_for_update().select_related("order", "store").get(pk=request.pk)
    if request.state not in allowed:
        raise ReturnStateError(f"Return {request.number} is {request.get_state_display().lower()}: cannot {step}.")
    return request


def _tell(request: ReturnRequest, action: str) -> None:
    message_compose(
        order=request.order,
        kind=MessageKind.RETURN_UPDATE,
        key=f"return:{request.pk}:{request.state}",
        extra={"action": action, "return_url": return_url(request)},
    )


def _issue_label(request: ReturnRequest, *, now: datetime) -> None:
    provider = get_label_provider()
    label = provider.issue(request)
    request.label_provider = provider.name
    request.return_carrier = label.carrier
    request.return_tracking_code = label.tracking_code
    request.drop_off_code = label.drop_off_code
    request.state = ReturnState.LABEL_ISSUED
    request.label_issued_at = now
    request.awaiting_approval_because = ""
    request.save()
    issued = f"Return label {label.tracking_code} issued ({provider.name})."
    audit(AuditKind.RETURN_UPDATED, issued, order=request.order)
    _tell(request, "it's approved. Show the QR code on your return page at drop-off, or print the label")


@transaction.atomic
def return_approve(*, request: ReturnRequest, by: AbstractBaseUser | None = None) -> ReturnRequest:
    request = _locked(request, [ReturnState.REQUESTED], "approve it")
    audit(AuditKind.APPROVED, f"Return {request.number} approved.", order=request.order, user=by)
    _issue_label(request, now=timezone.now())
    facts_announce(order_ids=[request.order_id])
    return request


@transaction.atomic
def return_reject(*, request: ReturnRequest, reason: str, by: AbstractBaseUser | None = None) -> ReturnRequest:
    """Refuse the return (before or after it arrives); held exchange stock goes back on the shelf."""
    if not reason.strip():
        raise ValidationError({"reason": "Say why: the customer sees it."})
    request = _locked(request, [ReturnState.REQUESTED, *RETURN_APPROVED_STATES, ReturnState.RECEIVED], "reject it")
    _release(request)
    request.state = ReturnState.REJECTED
    request.rejection_reason = reason.strip()
    request.resolved_at = timezone.now()
    request.save()
    audit(AuditKind.REJECTED, f"Return {request.number} rejected.", order=request.order, user=by, reason=reason)
    _tell(request, f"we couldn't accept it: {request.rejection_reason}")
    facts_announce(order_ids=[request.order_id])
    return request


def _release(request: ReturnRequest) -> None:
    for item in request.items.filter(reservation=ReservationState.HELD):
        ExchangeVariant.objects.filter(pk=item.exchange_for_id).update(available=F("available") + item.quantity)
    request.items.filter(reservation=ReservationState.HELD).update(reservation=ReservationState.RELEASED)


@transaction.atomic
def return_mark_in_transit(*, request: ReturnRequest, by: AbstractBaseUser | None = None) -> ReturnRequest:
    """The parcel was dropped off (the carrier's first scan, or an agent saying so)."""
    request = _locked(request, [ReturnState.LABEL_ISSUED], "mark it on its way")
    request.state = ReturnState.IN_TRANSIT
    request.in_transit_at = timezone.now()
    request.save()
    audit(AuditKind.RETURN_UPDATED, f"Return {request.number} is on its way back.", order=request.order, user=by)
    _tell(request, "it's on its way back to us")
    return request


@transaction.atomic
def return_mark_received(*, request: ReturnRequest, by: AbstractBaseUser | None = None) -> ReturnRequest:
    """The parcel reached the warehouse: refund, credit or exchange follow in a job."""
    request = _locked(request, RETURN_APPROVED_STATES, "mark it received")
    request.state = ReturnState.RECEIVED
    request.received_at = timezone.now()
    request.in_transit_at = request.in_transit_at or request.received_at
    request.save()
    audit(AuditKind.RETURN_UPDATED, f"Return {request.number} received.", order=request.order, user=by)
    _tell(request, "it has reached us and we're processing it now")
    from .jobs import return_resolve_job  # jobs import this module

    enqueue("default", return_resolve_job, request.pk, job_id=f"return-resolve-{request.pk}")
    facts_announce(order_ids=[request.order_id])
    return request


# --- Refund, credit or exchange -----------------------------------------------------------------------


def refund_amount(request: ReturnRequest) -> Decimal:
    """The items' price, less the return shipping fee (never below zero)."""
    total = sum((i.line_item.unit_price * i.quantity for i in request.items.all()), Decimal("0"))
    return max(Decimal("0"), total - request.return_shipping_fee).quantize(CENTS)


def credit_amount(request: ReturnRequest, bonus_percent: int) -> Decimal:
    total = sum((i.line_item.unit_price * i.quantity for i in request.items.all()), Decimal("0"))
    return (total * (100 + bonus_percent) / 100).quantize(CENTS)


@transaction.atomic
def return_resolve(*, return_id: int) -> ReturnRequest | None:
    """Pay the refund or credit, or ship the exchange, for a received return. Idempotent: the provider
    keys its operation on the return, and a resolved return is left alone."""
    request = ReturnRequest.objects.select_for_update().select_related("order", "store").filter(pk=return_id).first()
    if request is None or request.state != ReturnState.RECEIVED:
        return request
    provider = get_provider()
    items = list(request.items.select_related("line_item", "exchange_for"))
    money = functools.partial(format_money, currency=request.order.currency, country=request.store.country)
    if request.resolution == ReturnResolution.REFUND:
        request.refund_amount = refund_amount(request)
        request.resolution_reference = provider.refund(request, amount=request.refund_amount, reason="return")
        request.state = ReturnState.REFUNDED
        told = f"we've refunded {money(request.refund_amount)} to your original payment"
    elif request.resolution == ReturnResolution.STORE_CREDIT:
        request.credit_amount = credit_amount(request, policy_for(request.store_id).store_credit_bonus_percent)
        request.resolution_reference = provider.create_discount(
            request, amount=request.credit_amount, kind="store_credit"
        )
        request.state = ReturnState.CREDITED
        told = f"we've added {money(request.credit_amount)} of store credit to your account"
    else:
        if request.exchange_shipped_at:
            told = "all done: your exchange was already on its way"
        else:
            lines = [{"sku": i.exchange_for.sku if i.exchange_for else i.line_item.sku, "title": i.line_item.title,
                      "variant": i.exchange_variant, "quantity": i.quantity} for i in items]  # fmt: skip
            request.resolution_reference = provider.create_replacement(request, line_items=lines, shipping="Standard")
            request.exchange_shipped_at = timezone.now()
            told = "your exchange has shipped"
        request.items.filter(reservation=ReservationState.HELD).update(reservation=ReservationState.SHIPPED)
        request.state = ReturnState.EXCHANGED
    request.resolved_at = timezone.now()
    request.save()
    audit(AuditKind.RETURN_UPDATED, f"Return {request.number} {request.get_state_display().lower()}.",
          order=request.order, reference=request.resolution_reference,
          amount=request.refund_amount or request.credit_amount)  # fmt: skip
    _tell(request, told)
    return request
