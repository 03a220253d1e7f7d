"""Signed tracking links: the token is the order's pk signed with the project's SECRET_KEY.

No expiry: a link in a shipping email keeps working as long as the order exists. Rotating SECRET_KEY
(with SECRET_KEY_FALLBACKS for a transition) invalidates every link.
"""

from __future__ import annotations

from django.conf import settings
from django.core.signing import BadSignature, Signer
from django.urls import reverse

from orders.models import Order

SALT = "cxhub.tracking"


def _signer() -> Signer:
    return Signer(salt=SALT)


def tracking_token(order: Order) -> str:
    return _signer().sign(str(order.pk))


def tracking_url(order: Order) -> str:
    return settings.PUBLIC_BASE_URL + reverse("portal:tracking", args=[tracking_token(order)])


def order_id_from_token(token: str) -> int | None:
    """The order pk a token was signed for, or None for a tampered or malformed token (no query)."""
    try:
        value = _signer().unsign(token)
    except BadSignature:
        return None
    return int(value) if value.isdigit() else None


def order_from_token(token: str) -> Order | None:
    order_id = order_id_from_token(token)
    if order_id is None:
        return None
    return Order.objects.filter(pk=order_id).first()
