"""The customer pages: order lookup (`/track/`) and the branded tracking page (`/track/<token>/`).

Both are server-rendered and work without JavaScript. Nothing here tells a visitor whether an order
they cannot prove is theirs exists: a failed lookup reads the same whatever went wrong.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

from django import forms
from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from cxhub.cache import cache_call
from orders.carriers import carrier_name, carrier_tracking_url
from orders.choices import FINAL_SHIPMENT_STATUSES, ShipmentStatus
from orders.eta import Eta, shipment_eta
from orders.formats import customer_zone, format_clock_time
from orders.models import Order, Shipment, Store, TrackingEvent
from playbooks.actions import ACTIONS
from playbooks.models import ExceptionCase

from .branding import branding
from .faq import faq_for, order_situations, returning_to_sender
from .forms import FeedbackForm, LookupForm, NotReceivedForm
from .links import order_from_token, order_id_from_token, tracking_token
from .selectors import STORE_FIELDS, EtaRange, TrackingFacts, etas_from_history, tracking_facts
from .services import feedback_record, not_received_claim

LOOKUP_WINDOW_SECONDS = 10 * 60
MAX_LOOKUPS_PER_IP = 10
MAX_FAILURES_PER_ORDER_NUMBER = 5
NOT_FOUND_MESSAGE = "We couldn't find that order. Check the order number and the email or postal code, and try again."
TOO_MANY_MESSAGE = "Too many attempts, try again in a few minutes."

# What happened, in the customer's words, per exception kind.
EXCEPTION_HEADLINES = {
    "no_first_scan": "Your parcel hasn't been picked up by the carrier yet.",
    "transit_stall": "Your parcel is taking longer than usual.",
    "failed_attempt": "The carrier tried to deliver but couldn't.",
    "carrier_disruption": "The carrier reported a delay.",
    "address_problem": "We need to check your delivery address.",
    "late_to_ship": "Your order is taking longer to ship than we promised.",
    "delivered_not_received": "You told us your parcel didn't arrive.",
    "failed_payment": "Your payment didn't go through.",
}
# What the customer reads under a headline when the notice is not only about what the store did.
EXCEPTION_DETAILS = {
    # As the payment_failed message says it (notifications.defaults).
    "failed_payment": "We're holding your order until the payment is sorted. It's often a card that expired or a "
    "bank being careful. Reply to our message or contact us and we'll help you finish it. We'll never ask "
    "for your card number by email.",
}
# A carrier disruption that is a parcel on its way back: not a delay, and not coming as it is.
RETURNING_HEADLINE = "Your parcel is being returned to us."
RETURNING_DETAIL = (
    "The carrier couldn't complete the delivery and is sending the parcel back. Once it reaches us, we'll "
    "be in touch about what happens next."
)
DEFAULT_HEADLINE = "There's a problem with your delivery. We're on it."
# Remedies the customer never sees (internal bookkeeping).
INTERNAL_ACTIONS = frozenset({"helpdesk_note", "survey"})

STATUS_LABELS = {
    ShipmentStatus.LABEL_CREATED: "Preparing to ship",
    ShipmentStatus.IN_TRANSIT: "On its way",
    ShipmentStatus.OUT_FOR_DELIVERY: "Out for delivery",
    ShipmentStatus.ATTEMPTED_DELIVERY: "Delivery attempted",
    ShipmentStatus.AVAILABLE_FOR_PICKUP: "Ready for pickup",
    ShipmentStatus.DELIVERED: "Delivered",
    ShipmentStatus.EXCEPTION: "Delayed",
    ShipmentStatus.RETURNED_TO_SENDER: "Returned to sender",
    ShipmentStatus.CANCELLED: "Cancelled",
    ShipmentStatus.UNKNOWN: "Status unknown",
}


# --- Lookup ----------------------------------------------------------------------------------------------


def _client_ip(request: HttpRequest) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is the client's to forge. Behind a proxy, the proxy sets it.
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def _hit(key: str) -> int:
    """Count one more in a fixed window that starts with the first hit. Without a cache to count in (its
    server is down), nothing is counted: the page stays up, unlimited until the cache is back."""
    cache_call("add", key, 0, LOOKUP_WINDOW_SECONDS)
    try:
        return cache_call("incr", key, default=0)
    except ValueError:  # expired between add and incr
        cache_call("set", key, 1, LOOKUP_WINDOW_SECONDS)
        return 1


def _failures_key(store: Store, order_number: str) -> str:
    # Per store: the same order number in another store is another order (and another customer).
    return f"portal:lookup:fail:{store.pk}:" + hashlib.sha256(order_number.lower().encode()).hexdigest()


def _normalize_postal(value: str) -> str:
    return "".join(value.split()).lower()


def find_order(store: Store, order_number: str, contact: str) -> Order | None:
    """The store's order with this number whose customer email or delivery postal code is `contact`.

    Only `store`'s orders: stores number their orders independently (two stores both have a 1001), so
    a number and a postal code alone do not tell whose order it is."""
    contact_email = contact.strip().lower()
    contact_postal = _normalize_postal(contact)
    candidates = (
        Order.objects.filter(
            Q(order_number__iexact=order_number) | Q(order_number__iexact=f"#{order_number}"), store=store
        )
        .select_related("customer")
        .order_by("-placed_at")[:20]
    )
    for order in candidates:
        email = (order.customer.email if order.customer else "").strip().lower()
        if email and email == contact_email:
            return order
        postal = _normalize_postal(order.ship_postal_code)
        if postal and postal == contact_postal:
            return order
    return None


def lookup_form(request: HttpRequest, data: QueryDict | None = None) -> LookupForm:
    """The lookup form for this request: scoped to `?store=<slug>`, else to the hub's only store, else
    with a choice of shop. An unknown slug just shows the choice: it says nothing about what exists."""
    stores = list(Store.objects.only("slug", *STORE_FIELDS).order_by("name", "pk"))
    slug = request.GET.get("store", "")
    scope = next((s for s in stores if slug and s.slug == slug), None)
    if scope is None and len(stores) == 1:
        scope = stores[0]
    return LookupForm(data, stores=stores, scope=scope)


LOOKUP_URLS = {"track": "portal:lookup", "return": "returns:lookup"}


def lookup_page(
    request: HttpRequest, form: LookupForm, *, purpose: str, error: str = "", status: int = 200
) -> HttpResponse:
    """The lookup page (tracking or returns), branded for the form's store when it has one."""
    store = form.scope
    action = reverse(LOOKUP_URLS[purpose])
    if store is not None and request.GET.get("store") == store.slug:
        action += "?" + urlencode({"store": store.slug})
    context = {"form": form, "error": error, "store": store, "brand": branding(store), "purpose": purpose,
               "action": action}  # fmt: skip
    return render(request, "portal/lookup.html", context, status=status)


def lookup_attempt(request: HttpRequest) -> tuple[LookupForm, Order | None, str, int]:
    """Check a posted lookup under the rate limits: (form, order or None, error for the visitor, status).

    Shared by tracking and returns, so both count against the same limits. The failure limit is per
    store and order number: guesses at one store's order 1001 never lock out another store's."""
    form = lookup_form(request, request.POST)
    if _hit(f"portal:lookup:ip:{_client_ip(request)}") > MAX_LOOKUPS_PER_IP:
        return form, None, TOO_MANY_MESSAGE, 429
    if not form.is_valid():
        return form, None, "", 200
    store, order_number = form.cleaned_data["store"], form.cleaned_data["order_number"]
    failures_key = _failures_key(store, order_number)
    if (cache_call("get", failures_key) or 0) >= MAX_FAILURES_PER_ORDER_NUMBER:
        return form, None, TOO_MANY_MESSAGE, 429
    order = find_order(store, order_number, form.cleaned_data["contact"])
    if order is None:
        _hit(failures_key)
        return form, None, NOT_FOUND_MESSAGE, 200
    return form, order, "", 200


@never_cache
@require_http_methods(["GET", "POST"])
def lookup(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return lookup_page(request, lookup_form(request), purpose="track")
    form, order, error, status = lookup_attempt(request)
    if order is None:
        return lookup_page(request, form, purpose="track", error=error, status=status)
    return redirect("portal:tracking", token=tracking_token(order))


# --- Tracking page ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One scan as the timeline shows it, on the visitor's clock."""

    iso: str  # for <time datetime>
    label: str  # "Mon 23 Nov, 12:20 CET"
    text: str  # the carrier's message, else the status in words
    location: str


def timeline(events: list[TrackingEvent], zone: tzinfo) -> list[TimelineEntry]:
    """The scans' times in `zone`, named (orders.formats.format_clock_time): formatted here rather than with
    the template's `date` filter, which took a third of the page's rendering time."""
    entries = []
    for event in events:
        at = event.occurred_at.astimezone(zone)
        text = event.message or event.get_status_display()
        entries.append(TimelineEntry(at.isoformat(), format_clock_time(at, zone), text, event.location))
    return entries


@dataclass
class ShipmentView:
    shipment: Shipment
    carrier: str
    carrier_url: str
    status: str
    delivered: bool
    events: list[TimelineEntry]
    carrier_eta: Eta | None = None  # the carrier's estimated day (orders.eta), also when it has passed
    history_eta: EtaRange | None = None


@dataclass
class Notice:
    headline: str
    detail: str = ""
    done: list[str] = field(default_factory=list)


def masked_address(order: Order) -> list[str]:
    """Enough for the customer to recognise their address, too little to learn anyone's: the city,
    region and country, nothing of the street."""
    place = ", ".join(p for p in [order.ship_city, order.ship_region, order.ship_country] if p)
    return [place] if place else []


def address_heading(order: Order, shipments: list[Shipment]) -> str:
    moving = [s for s in shipments if s.status != ShipmentStatus.CANCELLED]
    if order.cancelled_at is None and moving and all(s.status == ShipmentStatus.DELIVERED for s in moving):
        return "Delivered to"
    if order.cancelled_at is not None or any(s.status == ShipmentStatus.RETURNED_TO_SENDER for s in moving):
        return "Delivery address"
    return "Delivering to"


def _headline(case: ExceptionCase, shipments: list[Shipment]) -> tuple[str, str]:
    if returning_to_sender(case, shipments):
        return RETURNING_HEADLINE, RETURNING_DETAIL
    return EXCEPTION_HEADLINES.get(case.kind, DEFAULT_HEADLINE), EXCEPTION_DETAILS.get(case.kind, "")


def _notices(live_cases: list[ExceptionCase], shipments: list[Shipment]) -> list[Notice]:
    """One notice per thing that went wrong, with what the store already did about it. `live_cases` are
    problem cases only (the selector leaves milestones out: they are news, not problems)."""
    notices: dict[str, Notice] = {}
    for case in live_cases:
        headline, detail = _headline(case, shipments)
        notice = notices.setdefault(headline, Notice(headline, detail))
        for remedy in case.remedies.all():
            if remedy.action in INTERNAL_ACTIONS or remedy.action not in ACTIONS:
                continue
            line = ACTIONS[remedy.action].describe(case, remedy.params, remedy.amount)
            if line not in notice.done:
                notice.done.append(line)
    return list(notices.values())


def _not_found(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/not_found.html", {"brand": branding(None)}, status=404)


@never_cache
def tracking(request: HttpRequest, token: str) -> HttpResponse:
    order_id = order_id_from_token(token)
    facts = tracking_facts(order_id) if order_id is not None else None
    if facts is None:
        return _not_found(request)
    return _tracking_page(request, facts, token)


def _tracking_page(
    request: HttpRequest,
    facts: TrackingFacts,
    token: str,
    *,
    feedback_form: FeedbackForm | None = None,
    not_received_form: NotReceivedForm | None = None,
    status: int = 200,
) -> HttpResponse:
    order = facts.order
    store = order.store
    # The visitor is the order's customer: clock times read in their zone when we know it. Days (placed,
    # expected) stay the store's calendar days, the same as in its messages (orders.eta).
    zone = customer_zone(customer_timezone=facts.customer_timezone, store_timezone=store.timezone)
    with timezone.override(store.timezone or "UTC"):
        history = etas_from_history(order, facts.shipments)
        views = [
            ShipmentView(
                shipment=s,
                carrier=carrier_name(s.carrier),
                carrier_url=carrier_tracking_url(s.carrier, s.tracking_code),
                status=STATUS_LABELS.get(s.status, s.get_status_display()),
                delivered=s.status == ShipmentStatus.DELIVERED,
                events=timeline(facts.events[s.pk], zone),
                carrier_eta=shipment_eta(
                    estimate=s.carrier_estimated_delivery, status=s.status, tz_name=store.timezone
                ),
                history_eta=history.get(s.pk),
            )
            for s in facts.shipments
        ]
        any_delivered = any(v.delivered for v in views)
        # A split order: one parcel delivered, another still on its way (not cancelled, not coming back).
        still_coming = any(v.shipment.status not in FINAL_SHIPMENT_STATUSES for v in views)
        context = {
            "order": order,
            "store": store,
            "brand": branding(store),
            "token": token,
            "items": facts.items,
            "shipments": views,
            "notices": _notices(facts.live_cases, facts.shipments),
            "payment_failed": any(case.kind == "failed_payment" for case in facts.live_cases),
            "faqs": faq_for(order, order_situations(order, facts.shipments, facts.live_cases)),
            "address": masked_address(order),
            "address_heading": address_heading(order, facts.shipments),
            "any_delivered": any_delivered,
            "still_coming": still_coming,
            "done": request.GET.get("done", ""),
        }
        if any_delivered:
            if feedback_form is None and facts.feedback_rating:
                # "You can change it below": with the earlier answer already chosen.
                feedback_form = FeedbackForm(initial={"rating": facts.feedback_rating})
            context |= {
                "feedback_rating": facts.feedback_rating,
                "feedback_fields": form_fields("portal/_feedback_fields.html", FeedbackForm, feedback_form),
                "not_received_fields": form_fields(
                    "portal/_not_received_fields.html", NotReceivedForm, not_received_form
                ),
                "not_received_errors": bool(not_received_form is not None and not_received_form.errors),
            }
        return render(request, "portal/tracking.html", context, status=status)


@functools.cache
def _empty_form_fields(template_name: str, form_class: type[forms.Form]) -> str:
    return render_to_string(template_name, {"form": form_class()})


def form_fields(template_name: str, form_class: type[forms.Form], bound: forms.Form | None = None) -> str:
    """A form's fields rendered with `template_name`: the `bound` form's (data, errors), or an empty one's.
    An empty form renders the same for every visitor (the CSRF token sits outside its fields), so it is
    rendered once per process (each time with DEBUG on, so that template edits show)."""
    if bound is not None or settings.DEBUG:
        return render_to_string(template_name, {"form": bound or form_class()})
    return _empty_form_fields(template_name, form_class)


# The tracking page's forms post to these. A GET (a reload after an error, a shared or bookmarked address)
# has nothing to do there: it goes to the tracking page rather than a blank "method not allowed".


def _after_delivery_post(
    request: HttpRequest,
    token: str,
    form_class: type[forms.Form],
    act: Callable[[Order, dict[str, Any]], object],
    done: str,
    page_form: str,
) -> HttpResponse:
    """A form of the page's after-delivery section: `act` on the order once something was delivered; a form
    with errors comes back on the page (status 400), with what the visitor typed (the page's `page_form`)."""
    order = order_from_token(token)
    if order is None:
        return _not_found(request)
    if request.method == "GET" or not order.shipments.filter(status=ShipmentStatus.DELIVERED).exists():
        return redirect("portal:tracking", token=token)
    form = form_class(request.POST)
    if not form.is_valid():
        facts = tracking_facts(order.pk)
        if facts is None:
            return _not_found(request)
        return _tracking_page(request, facts, token, status=400, **{page_form: form})
    act(order, form.cleaned_data)
    return redirect(reverse("portal:tracking", args=[token]) + f"?done={done}#after-delivery")


@never_cache
@require_http_methods(["GET", "POST"])
def feedback(request: HttpRequest, token: str) -> HttpResponse:
    """ "Did everything arrive OK?" — only once something was delivered."""

    def record(order: Order, data: dict[str, Any]) -> None:
        feedback_record(order=order, rating=data["rating"], comment=data["comment"])

    return _after_delivery_post(request, token, FeedbackForm, record, "feedback", page_form="feedback_form")


@never_cache
@require_http_methods(["GET", "POST"])
def not_received(request: HttpRequest, token: str) -> HttpResponse:
    """ "I didn't receive it" on a delivered parcel: a claim the playbook takes over."""

    def claim(order: Order, data: dict[str, Any]) -> None:
        not_received_claim(order=order, note=data["note"])

    return _after_delivery_post(request, token, NotReceivedForm, claim, "claim", page_form="not_received_form")
