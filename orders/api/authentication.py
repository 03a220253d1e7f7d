"""Store-scoped API tokens: `Authorization: Token cxh_…`. Every request then acts for that store only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import DatabaseError, transaction
from django.utils import timezone
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from cxhub.database import refused_write
from orders.models import ApiToken, Store


@dataclass(frozen=True)
class StoreClient:
    """The request's user when a store token authenticated it (not a Django user)."""

    token: ApiToken

    @property
    def store(self) -> Store:
        return self.token.store

    is_authenticated = True
    is_anonymous = False

    def __str__(self) -> str:
        return f"API token {self.token}"


class StoreTokenAuthentication(authentication.TokenAuthentication):
    keyword = "Token"

    def authenticate_credentials(self, key: str) -> tuple[StoreClient, ApiToken]:
        token = (
            ApiToken.objects.select_related("store")
            .filter(key_hash=ApiToken.hash_key(key), revoked_at__isnull=True)
            .first()
        )
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        # One small write per minute at most, so a busy integration does not write on every call.
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            _stamp_used(token, now)
        return StoreClient(token), token


def _stamp_used(token: ApiToken, now: datetime) -> None:
    """Note when the token was last used; bookkeeping that a read-only database (a failover) skips, so that
    reads keep working. In a savepoint, so a refusal leaves any surrounding transaction usable."""
    try:
        with transaction.atomic():
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    except DatabaseError as exc:
        if not refused_write(exc):
            raise


class HasStoreToken(permissions.BasePermission):
    message = "A store API token is required: send 'Authorization: Token <key>'."

    def has_permission(self, request: Request, view: object) -> bool:
        return isinstance(request.user, StoreClient)
