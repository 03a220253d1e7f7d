"""Stripe webhooks: payment outcomes (PaymentIntent, Charge, Invoice) for the orders they paid for.

Stripe POSTs an Event to each webhook endpoint (docs.stripe.com/api/events/object):

    {"id": "evt_…", "object": "event", "api_version": "…", "created": <unix>, "livemode": false,
     "type": "payment_intent.payment_failed", "pending_webhooks": 1,
     "request": {"id": "req_…", "idempotency_key": "…"}, "data": {"object": {<the PaymentIntent>}}}

A retry of the same Event repeats its `id`, which is the dedupe key.

The signature is the `Stripe-Signature` header, "t=<unix>,v1=<hex>[,v1=<hex>…][,v0=<hex>]": each v1 is
hex(HMAC-SHA256(key=the endpoint's signing secret "whsec_…" as UTF-8, msg=f"{t}.{raw body}")). Several v1
values appear while a rolled secret and its successor are both live; any one matching is enough. Other
schemes (v0 is a fake test-mode signature) are ignored, as Stripe's docs and stripe-python's
`WebhookSignature.verify_header` do, so a downgrade cannot get through. `t` is signed too, so a delivery
whose timestamp is more than the tolerance (default 300 s, Stripe's own default) away from now is refused
as a replay.

Stripe does not name the merchant's store or order. The order is found from the object's metadata
(`order_id` / `order_number`, set by the merchant's checkout) or, failing that, by the PaymentIntent id
stored as the order's payment reference.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

from django.conf import settings

from orders.connectors.base import (
    Connector,
    PayloadError,
    SignatureError,
    UnsupportedEvent,
    optional,
    require,
    text,
)
from orders.updates import OrderRef, PaymentData, Update

SIGNATURE_HEADER = "Stripe-Signature"
EXPECTED_SCHEME = "v1"
DEFAULT_TOLERANCE_SECONDS = 300  # stripe-python Webhook.DEFAULT_TOLERANCE; Stripe's docs recommend it

PAYMENT_INTENT_FAILED = "payment_intent.payment_failed"
PAYMENT_INTENT_SUCCEEDED = "payment_intent.succeeded"
CHARGE_FAILED = "charge.failed"
INVOICE_PAYMENT_FAILED = "invoice.payment_failed"
HANDLED_EVENTS = (PAYMENT_INTENT_FAILED, PAYMENT_INTENT_SUCCEEDED, CHARGE_FAILED, INVOICE_PAYMENT_FAILED)

# docs.stripe.com/currencies: amounts are integers in the currency's minor unit. These are the
# documented zero-decimal currencies, less UGX: its "special cases" entry says UGX amounts must still
# be sent with two decimals (5 UGX is 500), as ISK, HUF and TWD charge amounts are.
ZERO_DECIMAL_CURRENCIES = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "vnd", "vuv", "xaf", "xof", "xpf"}
)
THREE_DECIMAL_CURRENCIES = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})


class StripeConnector(Connector):
    source: ClassVar[str] = "stripe"
    label: ClassVar[str] = "Stripe"
    secret_field: ClassVar[str] = "stripe_webhook_secret"
    secret_setting: ClassVar[str] = "STRIPE_WEBHOOK_SECRET"
    paths: ClassVar[Mapping[str, str]] = {
        "external_id": "data.object.id",
        "amount": "data.object.amount",
        "currency": "data.object.currency",
        "order.external_id": "data.object.metadata.order_id",
        "order.order_number": "data.object.metadata.order_number",
        "order.payment_reference": "data.object.payment_intent",
        "occurred_at": "created",
    }

    def __init__(self, tolerance_seconds: int | None = None, clock: Callable[[], float] | None = None) -> None:
        self.tolerance_seconds = tolerance_seconds
        self.clock = clock or time.time

    def verify(self, body: bytes, headers: Mapping[str, str], secret: str) -> None:
        header = headers.get(SIGNATURE_HEADER)
        if not header:
            raise SignatureError(f"missing {SIGNATURE_HEADER} header")
        if not secret:
            raise SignatureError("no Stripe webhook signing secret is configured")
        timestamp, signatures = parse_signature_header(header)
        if not signatures:
            raise SignatureError(f"{SIGNATURE_HEADER} carries no {EXPECTED_SCHEME} signature")
        expected = compute_signature(timestamp, body, secret)
        # Compare against every candidate so the time taken does not depend on which one matched.
        matches = [self.signatures_match(expected, given) for given in signatures]
        if not any(matches):
            raise SignatureError(
                f"no {EXPECTED_SCHEME} signature in {SIGNATURE_HEADER} matches the body "
                "(wrong signing secret, or the body was altered)"
            )
        tolerance = self.tolerance()
        skew = abs(self.clock() - timestamp)
        if skew > tolerance:
            raise SignatureError(
                f"{SIGNATURE_HEADER} timestamp {timestamp} is {int(skew)} s from now, outside the "
                f"{tolerance} s tolerance (a replayed delivery, or a wrong server clock)",
                signed=True,
            )

    def tolerance(self) -> int:
        """Seconds a signature's timestamp may be from now. Read from settings at verify time, not import."""
        if self.tolerance_seconds is not None:
            return self.tolerance_seconds
        return int(getattr(settings, "STRIPE_WEBHOOK_TOLERANCE_SECONDS", DEFAULT_TOLERANCE_SECONDS))

    def store_hint(self, headers: Mapping[str, str], payload: Mapping[str, Any]) -> str:
        return ""

    def event_type(self, headers: Mapping[str, str], payload: Mapping[str, Any]) -> str:
        return text(require(payload, "type"), "type")

    def delivery_id(self, headers: Mapping[str, str], payload: Mapping[str, Any]) -> str:
        return text(require(payload, "id"), "id")

    def paths_for(self, event_type: str) -> Mapping[str, str]:
        if event_type == INVOICE_PAYMENT_FAILED:
            return {**self.paths, "amount": "data.object.amount_due"}
        if event_type in (PAYMENT_INTENT_FAILED, PAYMENT_INTENT_SUCCEEDED):
            return {**self.paths, "order.payment_reference": "data.object.id"}
        return self.paths

    def parse(self, event_type: str, payload: Mapping[str, Any]) -> list[Update]:
        if event_type not in HANDLED_EVENTS:
            raise UnsupportedEvent(f"Stripe event {event_type!r} is not handled")
        obj = require(payload, "data.object")
        if not isinstance(obj, Mapping):
            raise PayloadError("data.object", "must be an object")
        object_id = text(require(payload, "data.object.id"), "data.object.id")
        occurred_at = _occurred_at(payload)
        if event_type == CHARGE_FAILED:
            return [_charge_failed(obj, object_id, occurred_at)]
        if event_type == INVOICE_PAYMENT_FAILED:
            return [_invoice_payment_failed(obj, object_id, occurred_at)]
        return [_payment_intent(obj, object_id, occurred_at, succeeded=event_type == PAYMENT_INTENT_SUCCEEDED)]


def parse_signature_header(header: str) -> tuple[int, list[str]]:
    """Split "t=…,v1=…,v1=…,v0=…" into the timestamp and the v1 signatures; other schemes are dropped."""
    timestamps: list[str] = []
    signatures: list[str] = []
    for element in header.split(","):
        prefix, sep, value = element.strip().partition("=")
        if not sep:
            continue
        if prefix == "t":
            timestamps.append(value.strip())
        elif prefix == EXPECTED_SCHEME and value.strip():
            signatures.append(value.strip())
    if len(timestamps) != 1 or not timestamps[0].isdigit():
        raise SignatureError(f"malformed {SIGNATURE_HEADER} header: expected one t=<unix timestamp>")
    return int(timestamps[0]), signatures


def compute_signature(timestamp: int, body: bytes, secret: str) -> str:
    """hex(HMAC-SHA256(secret, "<t>.<raw body>")), the v1 scheme. The raw bytes are signed, never re-encoded."""
    signed_payload = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode("utf-8"), signed_payload, hashlib.sha256).hexdigest()


def minor_to_major(amount: int, currency: str) -> Decimal:
    """A Stripe integer amount in the currency's minor unit as a Decimal in major units (1099 usd -> 10.99)."""
    code = currency.lower()
    if code in ZERO_DECIMAL_CURRENCIES:
        exponent = 0
    elif code in THREE_DECIMAL_CURRENCIES:
        exponent = 3
    else:
        exponent = 2
    return Decimal(amount).scaleb(-exponent)


def _payment_intent(
    intent: Mapping[str, Any], intent_id: str, occurred_at: datetime | None, *, succeeded: bool
) -> PaymentData:
    _expect_object(intent, "payment_intent")
    currency = text(intent.get("currency"), "data.object.currency")
    failure_code = failure_message = ""
    if not succeeded:
        failure_code, failure_message = _error(intent.get("last_payment_error"), "data.object.last_payment_error")
    return PaymentData(
        order=_order_ref([_metadata(intent, "data.object.metadata")], payment_reference=intent_id),
        succeeded=succeeded,
        external_id=intent_id,
        amount=_amount(intent.get("amount"), currency, "data.object.amount"),
        currency=currency.upper(),
        failure_code=failure_code,
        failure_message=failure_message,
        occurred_at=occurred_at,
    )


def _charge_failed(charge: Mapping[str, Any], charge_id: str, occurred_at: datetime | None) -> PaymentData:
    _expect_object(charge, "charge")
    currency = text(charge.get("currency"), "data.object.currency")
    payment_intent = _expandable_id(charge.get("payment_intent"), "data.object.payment_intent")
    return PaymentData(
        order=_order_ref([_metadata(charge, "data.object.metadata")], payment_reference=payment_intent or charge_id),
        succeeded=False,
        external_id=charge_id,
        amount=_amount(charge.get("amount"), currency, "data.object.amount"),
        currency=currency.upper(),
        failure_code=text(charge.get("failure_code"), "data.object.failure_code"),
        failure_message=text(charge.get("failure_message"), "data.object.failure_message"),
        occurred_at=occurred_at,
    )


def _invoice_payment_failed(invoice: Mapping[str, Any], invoice_id: str, occurred_at: datetime | None) -> PaymentData:
    _expect_object(invoice, "invoice")
    currency = text(invoice.get("currency"), "data.object.currency")
    # API 2025-03-31.basil moved subscription_details under `parent` and removed `payment_intent`;
    # endpoints pinned to older versions still get the top-level fields, so read both.
    metadatas = [
        _metadata(invoice, "data.object.metadata"),
        _metadata(optional(invoice, "parent.subscription_details"), "data.object.parent.subscription_details.metadata"),
        _metadata(optional(invoice, "subscription_details"), "data.object.subscription_details.metadata"),
    ]
    payment_intent = _expandable_id(invoice.get("payment_intent"), "data.object.payment_intent")
    failure_code, failure_message = _error(
        invoice.get("last_finalization_error"), "data.object.last_finalization_error"
    )
    return PaymentData(
        order=_order_ref(metadatas, payment_reference=payment_intent or invoice_id),
        succeeded=False,
        external_id=invoice_id,
        amount=_amount(invoice.get("amount_due"), currency, "data.object.amount_due"),
        currency=currency.upper(),
        failure_code=failure_code,
        failure_message=failure_message,
        occurred_at=occurred_at,
    )


def _order_ref(metadatas: Iterable[tuple[Mapping[str, Any], str]], *, payment_reference: str) -> OrderRef:
    """The first `order_id` and `order_number` found in the metadata (each with its path), plus the payment
    reference."""
    metadatas = list(metadatas)
    number = _first(metadatas, "order_number").lstrip("#").strip()
    return OrderRef(external_id=_first(metadatas, "order_id"), order_number=number, payment_reference=payment_reference)


def _first(metadatas: list[tuple[Mapping[str, Any], str]], key: str) -> str:
    for metadata, field in metadatas:
        if value := text(metadata.get(key), f"{field}.{key}"):
            return value
    return ""


def _metadata(obj: Any, field: str) -> tuple[Mapping[str, Any], str]:
    """An object's metadata, with its path for errors."""
    metadata = obj.get("metadata") if isinstance(obj, Mapping) else None
    if metadata is None:
        return {}, field
    if not isinstance(metadata, Mapping):
        raise PayloadError(field, "must be an object")
    return metadata, field


def _error(error: Any, field: str) -> tuple[str, str]:
    """(code, message) of a Stripe error object; the issuer's decline_code is more specific than code."""
    if not isinstance(error, Mapping):
        return "", ""
    code = text(error.get("decline_code"), f"{field}.decline_code") or text(error.get("code"), f"{field}.code")
    return code, text(error.get("message"), f"{field}.message")


def _expect_object(obj: Mapping[str, Any], kind: str) -> None:
    found = obj.get("object")
    if found not in (None, kind):
        raise PayloadError("data.object.object", f'must be "{kind}", not {found!r}')


def _expandable_id(value: Any, field: str) -> str:
    """An expandable field is an id string, or the whole object when the request expanded it."""
    if isinstance(value, Mapping):
        return text(value.get("id"), f"{field}.id")
    return text(value, field)


def _amount(value: Any, currency: str, field: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError(field, f"must be an integer amount in the currency's minor unit ({value!r})")
    if not currency:
        raise PayloadError(field.rpartition(".")[0] + ".currency")
    return minor_to_major(value, currency)


def _occurred_at(payload: Mapping[str, Any]) -> datetime | None:
    created = payload.get("created")
    if created is None:
        return None
    if isinstance(created, bool) or not isinstance(created, int):
        raise PayloadError("created", f"is not a Unix timestamp ({created!r})")
    try:
        return datetime.fromtimestamp(created, tz=UTC)
    except (OverflowError, ValueError, OSError) as exc:
        raise PayloadError("created", f"is out of range ({created!r})") from exc
