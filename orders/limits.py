"""Facts that fit the database, checked at the door.

A source may send what no column can hold: a country name where a two-letter code goes, a 90-character
tracking number, a NUL character inside a scan message (PostgreSQL refuses NUL in text), a total of
1e30 where the column holds 12 digits, a quantity of -1 or 10**20. Caught only when the worker applies
the delivery, that is a 200 followed by a failure nobody sees (or, on SQLite, a value stored that can no
longer be read); caught here, it is a 400 naming the field, and nothing is stored as applied.

Identifiers that are too long are refused (cutting one would make it name something else); free text
that is too long is cut, and NUL characters are dropped everywhere. Numbers are checked against their
column: money must be finite, not negative and fit the column's digits (cents beyond its decimal places
are rounded, as PostgreSQL's numeric does); whole numbers must lie within what the column and its
validators allow on every database the hub supports (a quantity is at least 1). A time must be one that
can be expressed in UTC.

A connector names the fields by where they are in its payload (`paths`, e.g. Shopify's `total` is its
`total_price`); a fact field without one is named by its place in the fact, lists by index
(`line_items[0].quantity`).
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.backends.base.operations import BaseDatabaseOperations

from .connectors.base import PayloadError
from .models import Customer, DataRequest, LineItem, Order, Shipment, Ticket, TrackingEvent
from .updates import (
    AddressData,
    CustomerData,
    LineItemData,
    OrderData,
    OrderRef,
    PaymentData,
    PersonalDataRequest,
    ShipmentData,
    TicketData,
    TrackingEventData,
    Update,
)

ADDRESS_FIELDS = ["name", "line1", "line2", "city", "region", "postal_code", "country"]
# Each fact's model, and the names its fields have there when they differ. A payment's amount is not
# stored, but it is held to what an order's total may be.
COLUMNS: dict[type, tuple[type[models.Model], dict[str, str]]] = {
    CustomerData: (Customer, {}),
    AddressData: (Order, {n: f"ship_{n}" for n in ADDRESS_FIELDS}),
    LineItemData: (LineItem, {}),
    OrderData: (Order, {}),
    OrderRef: (Order, {}),
    TrackingEventData: (TrackingEvent, {}),
    ShipmentData: (Shipment, {}),
    PaymentData: (Order, {"external_id": "payment_reference", "amount": "total"}),
    TicketData: (Ticket, {}),
    PersonalDataRequest: (DataRequest, {}),
}
# Free text: cut to fit rather than refused.
FREE_TEXT = {"name", "line1", "line2", "city", "region", "first_name", "last_name", "title", "variant", "message",
             "location", "raw_status", "raw_detail", "subject", "service_level", "failure_message"}  # fmt: skip
# The least a money column may hold unless its validators say otherwise: no amount the hub stores (totals,
# prices, taxes, discounts, lifetime value) can be negative.
MONEY_MIN = Decimal(0)
_INDEX = re.compile(r"\[\d+\]")


def _column(model: type[models.Model], name: str) -> models.Field | None:
    try:
        return model._meta.get_field(name)
    except FieldDoesNotExist:  # a fact field with no column of that name has no limit to check
        return None


@functools.cache
def _columns(kind: type) -> tuple[tuple[str, models.Field | None], ...]:
    """Each field of a fact type, with its column (None: no column of that name)."""
    model, renamed = COLUMNS.get(kind, (None, {}))
    return tuple(
        (field.name, _column(model, renamed.get(field.name, field.name)) if model else None)
        for field in dataclasses.fields(kind)
    )


@functools.cache
def _int_range(column: models.Field) -> tuple[int, int]:
    """What a whole-number column holds on every database the hub supports (PostgreSQL's ranges; SQLite's
    are wider), narrowed by the field's own validators (a quantity is at least 1)."""
    low, high = BaseDatabaseOperations.integer_field_ranges[column.get_internal_type()]
    for validator in column._validators:  # the field's own, not those its database adds
        if isinstance(validator, MinValueValidator) and not callable(validator.limit_value):
            low = max(low, validator.limit_value)
        elif isinstance(validator, MaxValueValidator) and not callable(validator.limit_value):
            high = min(high, validator.limit_value)
    return low, high


def _whole(value: int, column: models.Field, path: str) -> int:
    low, high = _int_range(column)
    if value < low:
        raise PayloadError(path, f"must be at least {low} (is {value})")
    if value > high:
        raise PayloadError(path, f"must be at most {high}")
    return value


def _money(value: Decimal, column: models.DecimalField, path: str) -> Decimal:
    if not value.is_finite():
        raise PayloadError(path, "is not a number")
    low = next((v.limit_value for v in column._validators if isinstance(v, MinValueValidator)), MONEY_MIN)
    if value < low:
        raise PayloadError(path, f"must be at least {low} (is {value})")
    cent = Decimal(1).scaleb(-column.decimal_places)
    largest = Decimal(10) ** (column.max_digits - column.decimal_places) - cent
    if value > largest:  # checked before rounding: rounding 1e30 to cents needs more digits than Decimal keeps
        raise PayloadError(path, f"must be at most {largest} ({column.max_digits} digits)")
    rounded = value.quantize(cent, rounding=ROUND_HALF_UP)
    if rounded > largest:
        raise PayloadError(path, f"must be at most {largest} ({column.max_digits} digits)")
    return value if rounded == value else rounded


def _number(value: Any, column: models.Field | None, path: str) -> Any:
    if isinstance(column, models.DecimalField):
        if isinstance(value, float):
            value = Decimal(repr(value)) if value == value else Decimal("NaN")
        return _money(Decimal(value), column, path)
    if isinstance(column, models.IntegerField) and isinstance(value, int):
        return _whole(value, column, path)
    return value


def _time(value: datetime, path: str) -> datetime:
    if value.tzinfo is not None:
        try:
            value.astimezone(UTC)
        except OverflowError as exc:
            raise PayloadError(path, "is out of range") from exc
    return value


def _fit(value: Any, path: str) -> Any:
    if isinstance(value, list):
        fitted = [_fit(item, f"{path}[{i}]") for i, item in enumerate(value)]
        # The same list when nothing in it changed: its holder is then kept as it is, not copied.
        return value if all(new is old for new, old in zip(fitted, value, strict=True)) else fitted
    if not dataclasses.is_dataclass(value):
        return value
    changes = {}
    for name, column in _columns(type(value)):
        current = getattr(value, name)
        where = f"{path}.{name}" if path else name
        if isinstance(current, str):
            fitted = current.replace("\x00", "")
            limit = getattr(column, "max_length", None)
            if limit and len(fitted) > limit:
                if name not in FREE_TEXT:
                    raise PayloadError(where, f"is longer than {limit} characters")
                fitted = fitted[:limit]
        elif isinstance(current, bool) or current is None:
            continue
        elif isinstance(current, int | float | Decimal):
            fitted = _number(current, column, where)
        elif isinstance(current, datetime):
            fitted = _time(current, where)
        elif isinstance(current, list) or dataclasses.is_dataclass(current):
            fitted = _fit(current, where)
        else:
            continue
        if fitted is not current:
            changes[name] = fitted
    return dataclasses.replace(value, **changes) if changes else value


def _named(exc: PayloadError, paths: Mapping[str, str]) -> PayloadError:
    """The error with its fact path replaced by where the field is in the source's payload."""
    indexes = _INDEX.findall(exc.field)
    where = paths.get(_INDEX.sub("[]", exc.field))
    if where is None:
        return exc
    for index in indexes:
        where = where.replace("[]", index, 1)
    return PayloadError(where, exc.problem)


def updates_fit(updates: list[Update], paths: Mapping[str, str] | None = None) -> list[Update]:
    """The updates with NULs dropped, free text cut to fit and money rounded to the column's places.

    Raises PayloadError naming the first identifier too long for its column, or number out of its column's
    range, by its place in the payload when `paths` maps the fact's field there ("line_items[].unit_price":
    "line_items[].price"; "[]" stands for any index).
    """
    try:
        return [_fit(update, "") for update in updates]
    except PayloadError as exc:
        if paths:
            raise _named(exc, paths) from None
        raise
