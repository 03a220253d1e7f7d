"""Typed, documented parameters for detectors and actions, edited by CX managers as JSON in the admin."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError

NUMBER_NAMES = {int: "whole number", float: "number", Decimal: "number", bool: "true or false", str: "text"}


@dataclass(frozen=True)
class Param:
    """One parameter: its type (int, float, bool, str or Decimal), default and a help text; optionally a
    minimum, and the values it may take (`choices`)."""

    type: type
    default: Any
    help: str
    minimum: float | None = None
    choices: Sequence[str] | None = None

    def clean(self, name: str, value: Any) -> Any:
        """The value as its type. Raises ValidationError with a message that names the parameter (one
        message, not keyed by it: a parameter is not a form field)."""
        expected = NUMBER_NAMES.get(self.type, self.type.__name__)
        invalid = ValidationError(f"{name}: {value!r} is not a valid {expected}.")
        # JSON gives bools, numbers, strings, lists and objects: only the matching kind is converted.
        if self.type is bool:
            if not isinstance(value, bool):
                raise invalid
            return value
        if self.type is str:
            if not isinstance(value, str):
                raise invalid
            cleaned: Any = value
        else:
            if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
                raise invalid
            try:
                if self.type is Decimal:
                    cleaned = Decimal(str(value).strip())
                elif self.type is int and isinstance(value, float):
                    if not value.is_integer():
                        raise invalid
                    cleaned = int(value)
                else:
                    cleaned = self.type(value)
                finite = cleaned.is_finite() if isinstance(cleaned, Decimal) else math.isfinite(cleaned)
            except (TypeError, ValueError, InvalidOperation, OverflowError) as exc:
                raise invalid from exc
            if not finite:
                raise invalid
            if self.minimum is not None and cleaned < self.minimum:
                raise ValidationError(f"{name}: must be at least {self.minimum} (not {value!r}).")
        if self.choices is not None and cleaned not in self.choices:
            raise ValidationError(f"{name}: {value!r} is not one of {', '.join(self.choices)}.")
        return cleaned


def resolve_params(schema: dict[str, Param], given: dict[str, Any] | None) -> dict[str, Any]:
    """Defaults overlaid with what was given, each value cleaned. Raises ValidationError (every problem,
    one message each) when `given` is not a JSON object, names unknown parameters or has invalid values."""
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise ValidationError(
            'Parameters must be a JSON object of names and values, e.g. {"name": value}, or {} for the defaults.'
        )
    errors = []
    unknown = sorted(set(given) - set(schema))
    if unknown:
        known = ", ".join(sorted(schema)) or "none"
        errors.append(ValidationError(f"Unknown parameter(s): {', '.join(unknown)}. Known: {known}."))
    resolved = {}
    for name, param in schema.items():
        try:
            resolved[name] = param.clean(name, given.get(name, param.default))
        except ValidationError as exc:
            errors.append(exc)
    if errors:
        raise ValidationError(errors)
    return resolved
