"""The returns portal: find the order (`/returns/`), choose items and a resolution (`/returns/<order
link>/`), then follow the return on its own page with a QR code for drop-off (`/returns/r/<return link>/`).

Thin doors: eligibility and every rule live in `returns.eligibility` and `returns.services`. The order
link is the same signed token as the tracking page's, so a customer who can track an order can return it.
"""

from __future__ import annotations

from datetime import tzinfo
from decimal import Decimal

import segno
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods

from orders.choices import ReturnResolution, ReturnState
from orders.formats import customer_zone, format_clock_time, format_money
from orders.models import Order, ReturnRequest
from portal.branding import branding
from portal.links import order_from_token, tracking_token
from portal.views import lookup_attempt, lookup_form, lookup_page

from .eligibility import order_eligibility, policy_for
from .forms import ReturnStartForm
from .links import return_id_from_token, return_token
from .services import return_request_create


def _page(request: HttpRequest, template: str, store, context: dict, status: int = 200) -> HttpResponse:
    return render(request, template, {"store": store, "brand": branding(store), **context}, status=status)


def _not_found(request: HttpRequest) -> HttpResponse:
    return _page(request, "returns/not_found.html", None, {}, status=404)


def _money(order: Order, amount: Decimal) -> str:
    """ "$5.00": an amount in the order's currency, as the store's customers read it."""
    return format_money(amount, order.currency, country=order.store.country)


@require_http_methods(["GET", "POST"])
def lookup(request: HttpRequest) -> HttpResponse:
    """The tracking page's lookup (same store scoping, same limits), leading to the order's return form."""
    if request.method == "GET":
        return lookup_page(request, lookup_form(request), purpose="return")
    form, order, error, status = lookup_attempt(request)
    if order is None:
        return lookup_page(request, form, purpose="return", error=error, status=status)
    return redirect("returns:start", token=tracking_token(order))


@require_http_methods(["GET", "POST"])
def start(request: HttpRequest, token: str) -> HttpResponse:
    order = order_from_token(token)
    if order is None:
        return _not_found(request)
    with timezone.override(order.store.timezone or "UTC"):  # deadlines are the store's calendar days
        return _start(request, order, token)


def _start(request: HttpRequest, order: Order, token: str) -> HttpResponse:
    eligibility = order_eligibility(order, now=timezone.now())
    if request.method == "POST" and _too_large(request, eligibility):
        context = {"order": order, "token": token, "eligibility": eligibility, "too_large": True,
                   "photo_limit_mb": settings.RETURN_PHOTO_MAX_BYTES // (1024 * 1024)}  # fmt: skip
        return _page(request, "returns/start.html", order.store, context, status=413)
    if request.method == "POST":
        form = ReturnStartForm(eligibility, request.POST, request.FILES)
        if form.is_valid():
            try:
                created = return_request_create(
                    order=order, lines=form.lines(), resolution=form.cleaned_data["resolution"]
                )
            except ValidationError as error:
                form.add_service_errors(error)
            else:
                return redirect("returns:status", token=return_token(created))
        status = 400
    else:
        form, status = ReturnStartForm(eligibility), 200
    context = {
        "order": order,
        "token": token,
        "form": form,
        "eligibility": eligibility,
        "policy": eligibility.policy,
        "return_shipping_fee": _money(order, eligibility.policy.return_shipping_fee),
        "returns": _returns_of(order),
    }
    return _page(request, "returns/start.html", order.store, context, status=status)


def _too_large(request: HttpRequest, eligibility) -> bool:
    """A body larger than one photo per item (plus the form) is refused before it is read."""
    allowed = settings.RETURN_PHOTO_MAX_BYTES * max(1, len(eligibility.items)) + 64 * 1024
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > allowed
    except ValueError:
        return True


def _returns_of(order: Order) -> list[tuple[ReturnRequest, str]]:
    return [(r, return_token(r)) for r in order.returns.order_by("created_at")]


# The steps a customer follows, in order; the last one depends on the resolution chosen.
STEPS = [
    (ReturnState.REQUESTED, "Requested", "created_at"),
    (ReturnState.LABEL_ISSUED, "Label issued", "label_issued_at"),
    (ReturnState.IN_TRANSIT, "On its way back", "in_transit_at"),
    (ReturnState.RECEIVED, "Received", "received_at"),
]
FINAL_STEP = {
    ReturnResolution.REFUND: (ReturnState.REFUNDED, "Refunded"),
    ReturnResolution.STORE_CREDIT: (ReturnState.CREDITED, "Store credit issued"),
    ReturnResolution.EXCHANGE: (ReturnState.EXCHANGED, "Exchanged"),
}


# How the status page says what the customer asked for: "Items from order 1132, for an exchange."
RESOLUTION_PHRASES = {
    ReturnResolution.REFUND: "for a refund to your original payment",
    ReturnResolution.STORE_CREDIT: "for store credit",
    ReturnResolution.EXCHANGE: "for an exchange",
}


def steps(request: ReturnRequest, zone: tzinfo) -> list[dict]:
    """The timeline: each step done (with its time on the clock of `zone`, "Mon 23 Nov, 12:20 CET"), current,
    or still to come."""
    final_state, final_label = FINAL_STEP[request.resolution]
    rows = [(state, label, getattr(request, attr)) for state, label, attr in STEPS]
    rows.append((final_state, final_label, request.resolved_at))
    order = [state for state, _, _ in rows]
    reached = order.index(request.state) if request.state in order else -1
    return [
        {
            "label": label,
            "at": at if i <= reached else None,
            "when": format_clock_time(at, zone) if at and i <= reached else "",
            "done": i <= reached,
            "current": i == reached,
        }
        for i, (state, label, at) in enumerate(rows)
    ]


def sender_name(order: Order) -> str:
    """ "Jane D." — enough for the warehouse to greet the parcel, too little to find the person."""
    parts = order.ship_name.split()
    if not parts:
        return "Customer"
    return f"{parts[0]} {parts[-1][0]}." if len(parts) > 1 else parts[0]


def label_address(store_name: str, return_address: str) -> list[str]:
    """The label's "To" lines: the store's name, then the policy's return address line by line (without
    repeating the name when the address starts with it)."""
    lines = [line.strip() for line in return_address.splitlines() if line.strip()]
    if lines and lines[0].casefold() == store_name.strip().casefold():
        lines = lines[1:]
    return [store_name, *lines]


def _qr_svg(payload: str) -> str:
    # segno escapes nothing it is not given; the payload is our own code (letters, digits, ':' and '-').
    return mark_safe(segno.make(payload, error="m").svg_inline(scale=5, border=2, dark="#111111", omitsize=True))


def _return_for(token: str) -> ReturnRequest | None:
    return_id = return_id_from_token(token)
    if return_id is None:
        return None
    return (
        ReturnRequest.objects.select_related("order__store", "order__customer")
        .prefetch_related("items__line_item", "items__exchange_for")
        .filter(pk=return_id)
        .first()
    )


def _awaiting_drop_off(ret: ReturnRequest) -> bool:
    """The label is issued and the parcel has not been handed over yet: the only time a QR code or a
    printable label makes sense."""
    return bool(ret.drop_off_code) and ret.state == ReturnState.LABEL_ISSUED


def status(request: HttpRequest, token: str) -> HttpResponse:
    ret = _return_for(token)
    if ret is None:
        return _not_found(request)
    order = ret.order
    # The visitor is the order's customer: the steps' clock times read in their zone when we know it.
    zone = customer_zone(
        customer_timezone=order.customer.timezone if order.customer else "", store_timezone=order.store.timezone
    )
    with timezone.override(order.store.timezone or "UTC"):  # days (the exchange shipped) are the store's
        context = {
            "ret": ret,
            "order": order,
            "token": token,
            "steps": steps(ret, zone),
            "refunded": _money(order, ret.refund_amount) if ret.refund_amount is not None else "",
            "credited": _money(order, ret.credit_amount) if ret.credit_amount is not None else "",
            "resolution_phrase": RESOLUTION_PHRASES[ret.resolution],
            "items": list(ret.items.all()),
            "qr": _qr_svg(ret.drop_off_code) if _awaiting_drop_off(ret) else "",
            "policy": policy_for(order.store_id),
            "tracking_token": tracking_token(order),
        }
        return _page(request, "returns/status.html", order.store, context)


def label(request: HttpRequest, token: str) -> HttpResponse:
    """A printable label for those who want one: addresses, tracking number, the same QR code. Only while
    the parcel is still to be dropped off: once it is on its way (or the return is over) a label telling
    the customer to tape it to the parcel is wrong, so the link leads to the return's page instead."""
    ret = _return_for(token)
    if ret is None:
        return _not_found(request)
    if not _awaiting_drop_off(ret):
        return redirect("returns:status", token=token)
    order = ret.order
    context = {
        "ret": ret,
        "order": order,
        "token": token,
        "qr": _qr_svg(ret.drop_off_code),
        "to_lines": label_address(order.store.name, policy_for(order.store_id).return_address),
        # A prepaid return needs no sender address: the return number identifies it, so a forwarded link
        # shows no more than the tracking page does.
        "sender": sender_name(order),
    }
    return _page(request, "returns/label.html", order.store, context)
