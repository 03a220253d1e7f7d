"""Email unsubscribe: a signed link per customer, a confirmation page, and RFC 8058 one-click.

The token is the customer's id signed with SECRET_KEY (salt "cxhub.unsubscribe", no expiry: a link in
an old email must keep working). It cannot be guessed or altered; a bad one gets a friendly 404.

- GET shows a small branded page with a button (a form POST protected by CSRF).
- POST from that form opts the customer out of email.
- POST with the body `List-Unsubscribe=One-Click` (sent by mail providers for the List-Unsubscribe-Post
  header, without cookies or a CSRF token) opts out too: it is exempt from CSRF by design.

The URL is `unsubscribe/<token>/`, named "unsubscribe" (cxhub/urls.py).
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from orders.models import Customer
from portal.branding import branding

SALT = "cxhub.unsubscribe"
TEMPLATE = "notifications/unsubscribe.html"


def _signer() -> signing.Signer:
    return signing.Signer(salt=SALT)


def unsubscribe_token(customer: Customer) -> str:
    """The same token every time for a customer (no timestamp: links never expire)."""
    return _signer().sign_object(customer.pk)


def customer_for_token(token: str) -> Customer | None:
    """The customer a token was made for, or None for a tampered, truncated or stale (deleted) one."""
    try:
        pk = _signer().unsign_object(token)
    except (signing.BadSignature, ValueError):
        return None
    if not isinstance(pk, int):
        return None
    return Customer.objects.select_related("store").filter(pk=pk).first()


def unsubscribe_url(customer: Customer) -> str:
    """The absolute unsubscribe address for a customer (used in emails and the List-Unsubscribe header)."""
    return f"{settings.PUBLIC_BASE_URL}{reverse('unsubscribe', args=[unsubscribe_token(customer)])}"


def opt_out(customer: Customer) -> None:
    """Record the opt-out; an earlier opt-out keeps its date."""
    now = timezone.now()
    if Customer.objects.filter(pk=customer.pk, email_opted_out_at__isnull=True).update(email_opted_out_at=now):
        customer.email_opted_out_at = now


def _page(request: HttpRequest, customer: Customer | None, *, state: str, status: int = 200) -> HttpResponse:
    store = customer.store if customer else None
    context = {
        "customer": customer,
        "store": store,
        "state": state,
        # The tracking page's colours: the store's, adjusted so the button and links stay readable (WCAG AA).
        "brand": branding(store),
    }
    return render(request, TEMPLATE, context, status=status)


@csrf_protect
def _confirmed(request: HttpRequest, customer: Customer) -> HttpResponse:
    """The confirmation form's POST: CSRF-checked like any form."""
    opt_out(customer)
    return _page(request, customer, state="done")


@csrf_exempt
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    customer = customer_for_token(token)
    if customer is None:
        return _page(request, None, state="invalid", status=404)
    if request.method == "POST":
        if request.POST.get("List-Unsubscribe") == "One-Click":
            opt_out(customer)  # RFC 8058: the token in the URL is the authorisation
            return HttpResponse("You are unsubscribed.", content_type="text/plain; charset=utf-8")
        return _confirmed(request, customer)
    if request.method in ("GET", "HEAD"):
        return _page(request, customer, state="done" if customer.email_opted_out_at else "confirm")
    return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
