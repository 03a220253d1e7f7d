"""Typed, documented parameters for detectors and actions, edited by CX managers as JSON in the admin."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError


@dataclass(frozen=True)
class Param:
    """One parameter: its type (int, float, bool, str or Decimal), default and a help text."""

    type: type
    default: Any
    help: str
    minimum: float | None = None

    def clean(self, name: str, value: Any) -> Any:
        try:
            if self.type is bool:
                if not isinstance(value, bool):
                    raise TypeError
                cleaned: Any = value
            elif self.type is Decimal:
                cleaned = Decimal(str(value))
            else:
                cleaned = self.type(value)
        except (TypeError, ValueError, InvalidOperation) as exc:
            raise ValidationError({name: f"{value!r} is not a valid {self.type.__name__}."}) from exc
        if self.minimum is not None and cleaned < self.minimum:
            raise ValidationError({name: f"Must be at least {self.minimum}."})
        return cleaned


def resolve_params(schema: dict[str, Param], given: dict[str, Any] | None) -> dict[str, Any]:
    """Defaults overlaid with what was given, each value cleaned. Unknown names are an error."""
    given = given or {}
    unknown = sorted(set(given) - set(schema))
    if unknown:
        raise ValidationError(f"Unknown parameter(s): {', '.join(unknown)}. Known: {', '.join(sorted(schema))}.")
    return {name: param.clean(name, given.get(name, param.default)) for name, param in schema.items()}
