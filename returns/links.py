"""Signed links to a return's page: the token is the return's pk signed with SECRET_KEY (its own salt,
so a tracking token is never a return token). No expiry, like tracking links."""

from __future__ import annotations

from django.conf import settings
from django.core.signing import BadSignature, Signer
from django.urls import reverse

from orders.models import ReturnRequest

SALT = "cxhub.returns"


def return_token(request: ReturnRequest) -> str:
    return Signer(salt=SALT).sign(str(request.pk))


def return_url(request: ReturnRequest) -> str:
    return settings.PUBLIC_BASE_URL + reverse("returns:status", args=[return_token(request)])


def return_id_from_token(token: str) -> int | None:
    try:
        value = Signer(salt=SALT).unsign(token)
    except BadSignature:
        return None
    return int(value) if value.isdigit() else None
