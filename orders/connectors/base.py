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
    """The signature is missing or does not match: answered 401, nothing is processed.

    `signed`: the secret checked did sign the body, and something else is wrong (a stale timestamp). Of the
    stores whose secrets were tried, that one's error is the one to report."""

    def __init__(self, message: str, *, signed: bool = False) -> None:
        self.signed = signed
        super().__init__(message)


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
    # Where a fact's field is in this source's payload, for an error naming it (orders.limits.updates_fit):
    # fact path -> payload path, "[]" standing for any index ({"total": "total_price"}).
    paths: ClassVar[Mapping[str, str]] = {}

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

    def parse(self, event_type: str, payload: Mapping[str, Any]) -> list[Update]:
        """Turn one event into facts. Raises UnsupportedEvent or PayloadError(field)."""
        raise NotImplementedError

    def updates(self, event_type: str, payload: Mapping[str, Any]) -> list[Update]:
        """The event's facts, checked against the columns that will hold them (orders.limits): a value no
        column can hold raises PayloadError naming where it is in the payload."""
        from orders.limits import updates_fit  # limits imports this module

        return updates_fit(self.parse(event_type, payload), self.paths_for(event_type))

    def paths_for(self, event_type: str) -> Mapping[str, str]:
        """`paths`, for sources whose events put the same fact field in different places."""
        return self.paths

    # -- helpers shared by every connector ----------------------------------------------------------

    def decode(self, body: bytes) -> dict[str, Any]:
        """Parse a JSON object body, or raise PayloadError("body")."""
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise PayloadError("body", f"is not valid JSON ({exc})") from exc
        except RecursionError as exc:  # e.g. [[[[…]]]] 100,000 deep; no provider nests anywhere near that
            raise PayloadError("body", "is nested too deeply") from exc
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


def text(value: Any, field: str) -> str:
    """A JSON string (or number: some providers send numeric codes) as stripped text; "" for null.

    Raises PayloadError(field) for an object, a list or a boolean: str() of one would store "['a']"."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise PayloadError(field, f"must be a string, not {_json_type(value)}")


def _json_type(value: Any) -> str:
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    return type(value).__name__


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
