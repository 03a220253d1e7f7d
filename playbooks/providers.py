"""Systems that actions change (the store platform, the payment processor, the helpdesk).

An action never pretends: it asks a provider, and the provider either does it for real (a Shopify or
Stripe implementation plugged in through COMMERCE_PROVIDER) or, built in, records exactly what it was
asked to do as an ActionRecord that agents see on the order. The subject (a remedy, or a return being
refunded, credited or exchanged) is the idempotency key: asking twice returns the first answer.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Union

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.module_loading import import_string

from .models import ActionRecord, Remedy

if TYPE_CHECKING:
    from orders.models import ReturnRequest

# What an operation is done for: a playbook's remedy, or a return being resolved.
Subject = Union[Remedy, "ReturnRequest"]


class CommerceProvider:
    """The operations actions need. Each returns the provider's reference for what it did."""

    name = "base"

    def refund(self, subject: Subject, *, amount: Decimal, reason: str) -> str:
        raise NotImplementedError

    def create_discount(self, subject: Subject, *, amount: Decimal, kind: str) -> str:
        """A coupon code (kind "coupon") or store credit (kind "store_credit") worth `amount`."""
        raise NotImplementedError

    def create_replacement(self, subject: Subject, *, line_items: list[dict[str, Any]], shipping: str) -> str:
        raise NotImplementedError

    def upgrade_shipping(self, subject: Subject, *, service_level: str) -> str:
        raise NotImplementedError

    def hold_fulfillment(self, subject: Subject, *, reason: str) -> str:
        raise NotImplementedError

    def add_ticket_note(self, subject: Subject, *, note: str) -> str:
        raise NotImplementedError


class LocalProvider(CommerceProvider):
    """Built in: records each operation, once per remedy, with a reference agents can quote."""

    name = "local"

    def _record(self, subject: Subject, operation: str, payload: dict[str, Any]) -> str:
        owner = {"remedy": subject} if isinstance(subject, Remedy) else {"return_request": subject}
        existing = ActionRecord.objects.filter(**owner, operation=operation).first()
        if existing:
            return existing.reference
        reference = f"{operation.upper()[:4]}-{uuid.uuid4().hex[:10].upper()}"
        try:
            with transaction.atomic():
                ActionRecord.objects.create(
                    **owner, provider=self.name, operation=operation, payload=payload, reference=reference
                )
        except IntegrityError:
            # A concurrent run recorded it first: theirs is the one.
            return ActionRecord.objects.get(**owner, operation=operation).reference
        return reference

    def refund(self, subject: Subject, *, amount: Decimal, reason: str) -> str:
        payload = {"amount": str(amount), "currency": _currency(subject), "reason": reason}
        return self._record(subject, "refund", payload)

    def create_discount(self, subject: Subject, *, amount: Decimal, kind: str) -> str:
        return self._record(subject, kind, {"amount": str(amount), "currency": _currency(subject)})

    def create_replacement(self, subject: Subject, *, line_items: list[dict[str, Any]], shipping: str) -> str:
        return self._record(subject, "replacement", {"line_items": line_items, "shipping": shipping})

    def upgrade_shipping(self, subject: Subject, *, service_level: str) -> str:
        return self._record(subject, "upgrade_shipping", {"service_level": service_level})

    def hold_fulfillment(self, subject: Subject, *, reason: str) -> str:
        return self._record(subject, "hold_fulfillment", {"reason": reason})

    def add_ticket_note(self, subject: Subject, *, note: str) -> str:
        return self._record(subject, "ticket_note", {"note": note})


def _currency(subject: Subject) -> str:
    return subject.currency if isinstance(subject, Remedy) else subject.order.currency


def get_provider() -> CommerceProvider:
    return import_string(settings.COMMERCE_PROVIDER)()
