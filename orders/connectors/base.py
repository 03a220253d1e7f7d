"""The contract every inbound connector (one file per source) fulfils.

A connector is pure: it checks a signature, names an event and its delivery id, and turns a payload
into `orders.updates` dataclasses. It never touches the database; `orders.ingest` stores the raw
delivery, finds the store, and applies the updates through `orders.services`.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from typing import Any, ClassVar

from orders.updates import Update


class SignatureError(Exception):
    """The signature is missing or does not match: answered 401, nothing is processed."""


class PayloadError(Exception):
    """The payload is malformed or lacks a field the hub needs: answered 400 naming the field."""

    def __init__(self, field: str, problem: str = "is required") -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field} {problem}")


class UnsupportedEvent(Exception):
    """A well-formed event the hub does not act on: stored, marked ignored, answered 202."""


class Connector:
    """Base class: subclasses set the class attributes and implement the four methods below."""

    source: ClassVar[str]  # slug stored in the database (orders.choices.EventSource); never renamed
    label: ClassVar[str]
    secret_field: ClassVar[str]  # Store attribute holding this source's webhook secret
    secret_setting: ClassVar[str]  # settings/env name of the single-store fallback secret
    # Canonical-status table: raw carrier value (or (status, detail) pair) -> orders.choices.ShipmentStatus.
    status_map: ClassVar[Mapping[Any, str]] = {}

    def verify(self, body: bytes, headers: Mapping[str, str], secret: str) -> None:
        """Raise SignatureError unless `headers` carry a valid signature of `body` made with `secret`.

        `headers` is case-insensitive (Django's `request.headers`). Must compare in constant time.
        """
        raise NotImplementedError

    def store_hint(self, headers: Mapping[str, str], payload: Mapping[str, Any]) -> str:
        """Return what the delivery says about its store (e.g. Shopify's shop domain), or ""."""
        return ""

    def event_type(self, headers: Mapping[str, str], payload: Mapping[str, Any]) -> str:
        """Return the event's type/topic as the provider names it (e.g. "orders/create").

        Raises PayloadError when the delivery does not say.
        """
        raise NotImplementedError

    def delivery_id(self, headers: Mapping[str, str], payload: Mapping[str, Any]) -> str:
        """Return the id that a redelivery of this same event repeats (the dedupe key).

        Raises PayloadError when the delivery has none.
        """
        raise NotImplementedError

    def updates(self, event_type: str, payload: Mapping[str, Any]) -> list[Update]:
        """Turn one event into facts. Raises UnsupportedEvent or PayloadError(field)."""
        raise NotImplementedError

    # -- helpers shared by every connector ----------------------------------------------------------

    def decode(self, body: bytes) -> dict[str, Any]:
        """Parse a JSON object body, or raise PayloadError("body")."""
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise PayloadError("body", f"is not valid JSON ({exc})") from exc
        if not isinstance(payload, dict):
            raise PayloadError("body", "must be a JSON object")
        return payload

    @staticmethod
    def signatures_match(expected: str | bytes, given: str | bytes | None) -> bool:
        if not given:
            return False
        if isinstance(expected, str):
            expected = expected.encode()
        if isinstance(given, str):
            given = given.encode()
        return hmac.compare_digest(expected, given)


def require(payload: Mapping[str, Any], path: str) -> Any:
    """Return payload[a][b]… for a dotted `path`, or raise PayloadError naming the path."""
    value: Any = payload
    for part in path.split("."):
        if not isinstance(value, Mapping) or value.get(part) in (None, ""):
            raise PayloadError(path)
        value = value[part]
    return value


def optional(payload: Mapping[str, Any], path: str, default: Any = None) -> Any:
    """Return payload[a][b]… for a dotted `path`, or `default` when any part is missing or null."""
    value: Any = payload
    for part in path.split("."):
        if not isinstance(value, Mapping) or value.get(part) is None:
            return default
        value = value[part]
    return value
