"""Facts that fit the database, checked at the door.

A source may send what no column can hold: a country name where a two-letter code goes, a 90-character
tracking number, a NUL character inside a scan message (PostgreSQL refuses NUL in text). Caught only
when the worker applies the delivery, that is a 200 followed by a failure nobody sees; caught here,
it is a 400 naming the field, and nothing is stored as applied.

Identifiers that are too long are refused (cutting one would make it name something else); free text
that is too long is cut, and NUL characters are dropped everywhere.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import models

from .connectors.base import PayloadError
from .models import Customer, LineItem, Order, Shipment, Ticket, TrackingEvent
from .updates import (
    AddressData,
    CustomerData,
    LineItemData,
    OrderData,
    OrderRef,
    PaymentData,
    ShipmentData,
    TicketData,
    TrackingEventData,
    Update,
)

ADDRESS_FIELDS = ["name", "line1", "line2", "city", "region", "postal_code", "country"]
# Each fact's model, and the names its fields have there when they differ.
COLUMNS: dict[type, tuple[type[models.Model], dict[str, str]]] = {
    CustomerData: (Customer, {}),
    AddressData: (Order, {n: f"ship_{n}" for n in ADDRESS_FIELDS}),
    LineItemData: (LineItem, {}),
    OrderData: (Order, {}),
    OrderRef: (Order, {}),
    TrackingEventData: (TrackingEvent, {}),
    ShipmentData: (Shipment, {}),
    PaymentData: (Order, {"external_id": "payment_reference"}),
    TicketData: (Ticket, {}),
}
# Free text: cut to fit rather than refused.
FREE_TEXT = {"name", "line1", "line2", "city", "region", "first_name", "last_name", "title", "variant", "message",
             "location", "raw_status", "raw_detail", "subject", "service_level", "failure_message"}  # fmt: skip


def _max_length(model: type[models.Model], name: str) -> int | None:
    try:
        column = model._meta.get_field(name)
    except FieldDoesNotExist:  # a fact field with no column of that name has no limit to check
        return None
    return getattr(column, "max_length", None)


@functools.cache
def _limits(kind: type) -> tuple[tuple[str, int | None], ...]:
    """Each field of a fact type, with the length its column allows (None: no limit, or not text)."""
    model, renamed = COLUMNS.get(kind, (None, {}))
    return tuple(
        (field.name, _max_length(model, renamed.get(field.name, field.name)) if model else None)
        for field in dataclasses.fields(kind)
    )


def _fit(value: Any, path: str) -> Any:
    if isinstance(value, list):
        fitted = [_fit(item, f"{path}.{i}") for i, item in enumerate(value)]
        # The same list when nothing in it changed: its holder is then kept as it is, not copied.
        return value if all(new is old for new, old in zip(fitted, value, strict=True)) else fitted
    if not dataclasses.is_dataclass(value):
        return value
    changes = {}
    for name, limit in _limits(type(value)):
        current = getattr(value, name)
        if isinstance(current, str):
            fitted = current.replace("\x00", "")
            if limit and len(fitted) > limit:
                if name not in FREE_TEXT:
                    raise PayloadError(f"{path}.{name}" if path else name, f"is longer than {limit} characters")
                fitted = fitted[:limit]
        elif isinstance(current, list) or dataclasses.is_dataclass(current):
            fitted = _fit(current, f"{path}.{name}" if path else name)
        else:
            continue
        if fitted is not current:
            changes[name] = fitted
    return dataclasses.replace(value, **changes) if changes else value


def updates_fit(updates: list[Update]) -> list[Update]:
    """The updates with NULs dropped and free text cut to fit. Raises PayloadError naming the first
    identifier too long for its column."""
    return [_fit(update, "") for update in updates]
