"""Systems that actions change (the store platform, the payment processor, the helpdesk).

An action never pretends: it asks a provider, and the provider either does it for real (a Shopify or
Stripe implementation plugged in through COMMERCE_PROVIDER) or, built in, records exactly what it was
asked to do as an ActionRecord that agents see on the order. The remedy is the idempotency key: asking
twice returns the first answer.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.module_loading import import_string

from .models import ActionRecord, Remedy


class CommerceProvider:
    """The operations actions need. Each returns the provider's reference for what it did."""

    name = "base"

    def refund(self, remedy: Remedy, *, amount: Decimal, reason: str) -> str:
        raise NotImplementedError

    def create_discount(self, remedy: Remedy, *, amount: Decimal, kind: str) -> str:
        """A coupon code (kind "coupon") or store credit (kind "store_credit") worth `amount`."""
        raise NotImplementedError

    def create_replacement(self, remedy: Remedy, *, line_items: list[dict[str, Any]], shipping: str) -> str:
        raise NotImplementedError

    def upgrade_shipping(self, remedy: Remedy, *, service_level: str) -> str:
        raise NotImplementedError

    def hold_fulfillment(self, remedy: Remedy, *, reason: str) -> str:
        raise NotImplementedError

    def add_ticket_note(self, remedy: Remedy, *, note: str) -> str:
        raise NotImplementedError


class LocalProvider(CommerceProvider):
    """Built in: records each operation, once per remedy, with a reference agents can quote."""

    name = "local"

    def _record(self, remedy: Remedy, operation: str, payload: dict[str, Any]) -> str:
        existing = ActionRecord.objects.filter(remedy=remedy, operation=operation).first()
        if existing:
            return existing.reference
        reference = f"{operation.upper()[:4]}-{uuid.uuid4().hex[:10].upper()}"
        try:
            with transaction.atomic():
                ActionRecord.objects.create(
                    remedy=remedy, provider=self.name, operation=operation, payload=payload, reference=reference
                )
        except IntegrityError:
            # A concurrent run recorded it first: theirs is the one.
            return ActionRecord.objects.get(remedy=remedy, operation=operation).reference
        return reference

    def refund(self, remedy: Remedy, *, amount: Decimal, reason: str) -> str:
        return self._record(remedy, "refund", {"amount": str(amount), "currency": remedy.currency, "reason": reason})

    def create_discount(self, remedy: Remedy, *, amount: Decimal, kind: str) -> str:
        return self._record(remedy, kind, {"amount": str(amount), "currency": remedy.currency})

    def create_replacement(self, remedy: Remedy, *, line_items: list[dict[str, Any]], shipping: str) -> str:
        return self._record(remedy, "replacement", {"line_items": line_items, "shipping": shipping})

    def upgrade_shipping(self, remedy: Remedy, *, service_level: str) -> str:
        return self._record(remedy, "upgrade_shipping", {"service_level": service_level})

    def hold_fulfillment(self, remedy: Remedy, *, reason: str) -> str:
        return self._record(remedy, "hold_fulfillment", {"reason": reason})

    def add_ticket_note(self, remedy: Remedy, *, note: str) -> str:
        return self._record(remedy, "ticket_note", {"note": note})


def get_provider() -> CommerceProvider:
    return import_string(settings.COMMERCE_PROVIDER)()
