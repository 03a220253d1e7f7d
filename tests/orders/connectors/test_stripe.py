"""Stripe connector: Stripe-Signature, event naming and Event -> PaymentData, without a database.

Fixtures are in tests/payloads/stripe/ (see its README). Every test passes the tolerance and the clock
explicitly, so no Django settings are needed.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.utils.datastructures import CaseInsensitiveMapping

from orders.connectors import get_connector
from orders.connectors import stripe as stripe_module
from orders.connectors.base import PayloadError, SignatureError, UnsupportedEvent
from orders.connectors.stripe import StripeConnector, minor_to_major, parse_signature_header
from orders.updates import OrderRef, PaymentData

PAYLOADS = Path(__file__).resolve().parents[2] / "payloads" / "stripe"
FILES = {
    "payment_intent.payment_failed": "payment_intent_payment_failed.json",
    "payment_intent.succeeded": "payment_intent_succeeded.json",
    "charge.failed": "charge_failed.json",
    "invoice.payment_failed": "invoice_payment_failed.json",
}
SECRET = "whsec_8b1f4c2e9a7d3f6b0e5c1a9d7f3b2e4c"
OLD_SECRET = "whsec_2d6e0a8c4f1b9e7d3a5c0f8b6d4e2a1c"
NOW = 1749565268  # one second after payment_intent_payment_failed.json was created
TOLERANCE = 300

PI_ID = "pi_3RYbQ2Fz7kVn4XyT1mJ8dC5e"
CHARGE_ID = "ch_3RYbQ2Fz7kVn4XyT1xK2pL7a"
INVOICE_ID = "in_1RaeX9Fz7kVn4XyTdN3qL8vB"
ORDER_1001 = OrderRef(external_id="820982911946154508", order_number="1001", payment_reference=PI_ID)


def connector(now: float = NOW, tolerance: int = TOLERANCE) -> StripeConnector:
    return StripeConnector(tolerance_seconds=tolerance, clock=lambda: now)


def raw(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


def load(name: str) -> dict[str, Any]:
    return json.loads(raw(name))


def v1(body: bytes, secret: str, timestamp: int) -> str:
    """Stripe's documented v1 scheme, written out independently of the connector: hex HMAC-SHA256 keyed
    with the signing secret over "<t>.<raw body>"."""
    signed_payload = str(timestamp).encode("utf-8") + b"." + body
    return hmac.new(secret.encode("utf-8"), signed_payload, hashlib.sha256).hexdigest()


def stripe_header(body: bytes, secret: str = SECRET, timestamp: int = NOW) -> dict[str, str]:
    return {"Stripe-Signature": f"t={timestamp},v1={v1(body, secret, timestamp)}"}


def at(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, tz=UTC)


# -- the connector's identity ------------------------------------------------------------------------------


def test_class_attributes() -> None:
    assert StripeConnector.source == "stripe"
    assert StripeConnector.label == "Stripe"
    assert StripeConnector.secret_field == "stripe_webhook_secret"
    assert StripeConnector.secret_setting == "STRIPE_WEBHOOK_SECRET"


def test_registered_and_constructible_without_arguments() -> None:
    found = get_connector("stripe")
    assert isinstance(found, StripeConnector)
    assert found.tolerance_seconds is None


def test_default_clock_is_wall_time() -> None:
    import time

    assert StripeConnector().clock is time.time


# -- signature ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FILES.values())
def test_verify_accepts_a_valid_signature(name: str) -> None:
    body = raw(name)
    connector().verify(body, stripe_header(body), SECRET)


def test_verify_reads_the_header_case_insensitively() -> None:
    body = raw(FILES["charge.failed"])
    headers = CaseInsensitiveMapping({"stripe-signature": stripe_header(body)["Stripe-Signature"]})
    connector().verify(body, headers, SECRET)


def test_verify_accepts_the_v0_test_mode_element_alongside_v1() -> None:
    body = raw(FILES["payment_intent.succeeded"])
    header = (
        stripe_header(body)["Stripe-Signature"] + ",v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39"
    )
    connector().verify(body, {"Stripe-Signature": header}, SECRET)


def test_verify_rejects_a_signature_made_with_another_secret() -> None:
    body = raw(FILES["payment_intent.payment_failed"])
    with pytest.raises(SignatureError, match="matches the body"):
        connector().verify(body, stripe_header(body, secret=OLD_SECRET), SECRET)


def test_verify_rejects_an_altered_body() -> None:
    body = raw(FILES["payment_intent.payment_failed"])
    headers = stripe_header(body)
    tampered = body.replace(b'"amount": 8650', b'"amount": 1')
    assert tampered != body
    with pytest.raises(SignatureError, match="matches the body"):
        connector().verify(tampered, headers, SECRET)


def test_verify_signs_the_raw_bytes_not_reserialised_json() -> None:
    body = raw(FILES["charge.failed"])
    compact = json.dumps(json.loads(body), separators=(",", ":")).encode()
    with pytest.raises(SignatureError):
        connector().verify(compact, stripe_header(body), SECRET)


def test_verify_rejects_a_signature_over_another_timestamp() -> None:
    body = raw(FILES["charge.failed"])
    forged = f"t={NOW},v1={v1(body, SECRET, NOW - 60)}"
    with pytest.raises(SignatureError, match="matches the body"):
        connector().verify(body, {"Stripe-Signature": forged}, SECRET)


@pytest.mark.parametrize("headers", [{}, {"Stripe-Signature": ""}, {"X-Hmac-Signature": "abc"}])
def test_verify_rejects_a_missing_header(headers: dict[str, str]) -> None:
    with pytest.raises(SignatureError, match="missing Stripe-Signature"):
        connector().verify(raw(FILES["charge.failed"]), headers, SECRET)


def test_verify_refuses_without_a_configured_secret() -> None:
    body = raw(FILES["charge.failed"])
    with pytest.raises(SignatureError, match="no Stripe webhook signing secret"):
        connector().verify(body, stripe_header(body, secret=""), "")


@pytest.mark.parametrize("matching_first", [True, False])
def test_verify_accepts_any_matching_v1_during_secret_rotation(matching_first: bool) -> None:
    body = raw(FILES["invoice.payment_failed"])
    good, stale = v1(body, SECRET, NOW), v1(body, OLD_SECRET, NOW)
    pair = f"v1={good},v1={stale}" if matching_first else f"v1={stale},v1={good}"
    connector().verify(body, {"Stripe-Signature": f"t={NOW},{pair}"}, SECRET)
    # The endpoint still configured with the old secret accepts the same delivery too.
    connector().verify(body, {"Stripe-Signature": f"t={NOW},{pair}"}, OLD_SECRET)


def test_verify_rejects_when_no_v1_of_several_matches() -> None:
    body = raw(FILES["invoice.payment_failed"])
    header = f"t={NOW},v1={v1(body, OLD_SECRET, NOW)},v1={'0' * 64}"
    with pytest.raises(SignatureError, match="matches the body"):
        connector().verify(body, {"Stripe-Signature": header}, SECRET)


def test_verify_ignores_a_valid_signature_under_another_scheme() -> None:
    """Only v1 counts: a correct HMAC labelled v0 (or anything else) must not get through (downgrade)."""
    body = raw(FILES["payment_intent.succeeded"])
    header = f"t={NOW},v0={v1(body, SECRET, NOW)},v2={v1(body, SECRET, NOW)}"
    with pytest.raises(SignatureError, match="no v1 signature"):
        connector().verify(body, {"Stripe-Signature": header}, SECRET)


@pytest.mark.parametrize("age", [TOLERANCE + 1, 3600, 86400 * 30])
def test_verify_rejects_a_stale_timestamp_as_a_replay(age: int) -> None:
    body = raw(FILES["payment_intent.payment_failed"])
    headers = stripe_header(body, timestamp=NOW - age)
    with pytest.raises(SignatureError, match="outside the 300 s tolerance"):
        connector().verify(body, headers, SECRET)


def test_verify_rejects_a_timestamp_too_far_in_the_future() -> None:
    body = raw(FILES["payment_intent.payment_failed"])
    headers = stripe_header(body, timestamp=NOW + TOLERANCE + 1)
    with pytest.raises(SignatureError, match="tolerance"):
        connector().verify(body, headers, SECRET)


@pytest.mark.parametrize("offset", [0, 1, -1, 299, TOLERANCE, -TOLERANCE])
def test_verify_accepts_a_timestamp_inside_the_tolerance(offset: int) -> None:
    body = raw(FILES["payment_intent.payment_failed"])
    connector().verify(body, stripe_header(body, timestamp=NOW + offset), SECRET)


def test_verify_uses_the_configured_tolerance() -> None:
    body = raw(FILES["payment_intent.payment_failed"])
    headers = stripe_header(body, timestamp=NOW - 45)
    connector(tolerance=60).verify(body, headers, SECRET)
    with pytest.raises(SignatureError, match="outside the 30 s tolerance"):
        connector(tolerance=30).verify(body, headers, SECRET)


def test_verify_checks_the_clock_at_each_call() -> None:
    body = raw(FILES["charge.failed"])
    now = [float(NOW)]
    checker = StripeConnector(tolerance_seconds=TOLERANCE, clock=lambda: now[0])
    headers = stripe_header(body)
    checker.verify(body, headers, SECRET)
    now[0] += TOLERANCE + 1  # the same delivery replayed later
    with pytest.raises(SignatureError, match="tolerance"):
        checker.verify(body, headers, SECRET)


def test_tolerance_is_read_from_settings_lazily(monkeypatch: pytest.MonkeyPatch) -> None:
    lazy = StripeConnector(clock=lambda: NOW)
    monkeypatch.setattr(stripe_module, "settings", SimpleNamespace(STRIPE_WEBHOOK_TOLERANCE_SECONDS=10))
    assert lazy.tolerance() == 10
    body = raw(FILES["charge.failed"])
    with pytest.raises(SignatureError, match="outside the 10 s tolerance"):
        lazy.verify(body, stripe_header(body, timestamp=NOW - 11), SECRET)
    monkeypatch.setattr(stripe_module, "settings", SimpleNamespace())
    assert lazy.tolerance() == 300
    assert StripeConnector(tolerance_seconds=5).tolerance() == 5


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        f"v1={'a' * 64}",  # no timestamp
        f"t=,v1={'a' * 64}",
        f"t=abc,v1={'a' * 64}",
        f"t=-5,v1={'a' * 64}",
        f"t=1.5,v1={'a' * 64}",
        f"t={NOW},t={NOW},v1={'a' * 64}",  # two timestamps: which one was signed?
        f"{NOW},{'a' * 64}",
    ],
)
def test_verify_rejects_a_malformed_header(header: str) -> None:
    with pytest.raises(SignatureError, match="malformed Stripe-Signature"):
        connector().verify(raw(FILES["charge.failed"]), {"Stripe-Signature": header}, SECRET)


@pytest.mark.parametrize("header", [f"t={NOW}", f"t={NOW},v0={'a' * 64}", f"t={NOW},v1="])
def test_verify_rejects_a_header_without_a_v1_signature(header: str) -> None:
    with pytest.raises(SignatureError, match="signature"):
        connector().verify(raw(FILES["charge.failed"]), {"Stripe-Signature": header}, SECRET)


def test_parse_signature_header_keeps_every_v1_in_order() -> None:
    header = f"t={NOW},v1=aaa,v0=zzz,v1=bbb"
    assert parse_signature_header(header) == (NOW, ["aaa", "bbb"])
    assert parse_signature_header(f" t={NOW} , v1=aaa ") == (NOW, ["aaa"])


# -- naming ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("event_type", "name"), FILES.items())
def test_event_type_is_the_event_type(event_type: str, name: str) -> None:
    assert connector().event_type({}, load(name)) == event_type


@pytest.mark.parametrize(
    ("name", "event_id"),
    [
        (FILES["payment_intent.payment_failed"], "evt_3RYbQ2Fz7kVn4XyT1g5Lr0Vz"),
        (FILES["payment_intent.succeeded"], "evt_3RYbQ2Fz7kVn4XyT1kD9eW2u"),
        (FILES["charge.failed"], "evt_3RYbQ2Fz7kVn4XyT1cP4hN8s"),
        (FILES["invoice.payment_failed"], "evt_1RaeXCFz7kVn4XyTn6Wd1Jq0"),
    ],
)
def test_delivery_id_is_the_event_id(name: str, event_id: str) -> None:
    assert connector().delivery_id({"Stripe-Signature": "t=1,v1=x"}, load(name)) == event_id


def test_event_type_and_delivery_id_name_the_missing_field() -> None:
    payload = load(FILES["charge.failed"])
    del payload["type"]
    payload["id"] = ""
    with pytest.raises(PayloadError) as excinfo:
        connector().event_type({}, payload)
    assert excinfo.value.field == "type"
    with pytest.raises(PayloadError) as excinfo:
        connector().delivery_id({}, payload)
    assert excinfo.value.field == "id"


@pytest.mark.parametrize("name", FILES.values())
def test_store_hint_is_empty(name: str) -> None:
    headers = {"Stripe-Signature": "t=1,v1=x", "Stripe-Account": "acct_1QwT1aFz7kVn4XyT"}
    assert connector().store_hint(headers, load(name)) == ""


@pytest.mark.parametrize("name", FILES.values())
def test_fixtures_are_stripe_events(name: str) -> None:
    payload = connector().decode(raw(name))
    assert payload["object"] == "event"
    assert payload["id"].startswith("evt_")
    assert payload["livemode"] is False
    assert {"api_version", "created", "data", "pending_webhooks", "request", "type"} <= payload.keys()


# -- updates -----------------------------------------------------------------------------------------------


def test_payment_intent_payment_failed() -> None:
    payload = load(FILES["payment_intent.payment_failed"])
    assert connector().updates("payment_intent.payment_failed", payload) == [
        PaymentData(
            order=ORDER_1001,
            succeeded=False,
            external_id=PI_ID,
            amount=Decimal("86.50"),
            currency="USD",
            failure_code="insufficient_funds",
            failure_message="Your card has insufficient funds.",
            occurred_at=datetime(2025, 6, 10, 14, 21, 7, tzinfo=UTC),
        )
    ]


def test_payment_intent_succeeded() -> None:
    payload = load(FILES["payment_intent.succeeded"])
    assert connector().updates("payment_intent.succeeded", payload) == [
        PaymentData(
            order=ORDER_1001,
            succeeded=True,
            external_id=PI_ID,
            amount=Decimal("86.50"),
            currency="USD",
            failure_code="",
            failure_message="",
            occurred_at=datetime(2025, 6, 10, 14, 26, 41, tzinfo=UTC),
        )
    ]


def test_charge_failed() -> None:
    payload = load(FILES["charge.failed"])
    assert connector().updates("charge.failed", payload) == [
        PaymentData(
            order=ORDER_1001,
            succeeded=False,
            external_id=CHARGE_ID,
            amount=Decimal("86.50"),
            currency="USD",
            failure_code="card_declined",
            failure_message="Your card has insufficient funds.",
            occurred_at=datetime(2025, 6, 10, 14, 21, 7, tzinfo=UTC),
        )
    ]


def test_invoice_payment_failed_basil_shape() -> None:
    payload = load(FILES["invoice.payment_failed"])
    assert "payment_intent" not in payload["data"]["object"]
    assert connector().updates("invoice.payment_failed", payload) == [
        PaymentData(
            order=OrderRef(external_id="820982911946154512", order_number="1002", payment_reference=INVOICE_ID),
            succeeded=False,
            external_id=INVOICE_ID,
            amount=Decimal("24.00"),
            currency="USD",
            failure_code="",
            failure_message="",
            occurred_at=datetime(2025, 6, 16, 9, 2, 13, tzinfo=UTC),
        )
    ]


def test_invoice_payment_failed_pre_basil_shape() -> None:
    """Endpoints pinned to an older API version get `payment_intent` and a top-level
    `subscription_details`; the invoice's own metadata wins over the subscription's."""
    payload = load(FILES["invoice.payment_failed"])
    invoice = payload["data"]["object"]
    payload["api_version"] = "2024-06-20"
    del invoice["parent"]
    invoice["payment_intent"] = "pi_3RaeXBFz7kVn4XyT0aB2cD3e"
    invoice["subscription"] = "sub_1RQ3kZFz7kVn4XyTs9Bv2NcM"
    invoice["subscription_details"] = {"metadata": {"order_id": "820982911946154512", "order_number": "1002"}}
    invoice["metadata"] = {"order_number": "#1003"}
    invoice["last_finalization_error"] = {
        "code": "customer_tax_location_invalid",
        "doc_url": "https://stripe.com/docs/error-codes/customer-tax-location-invalid",
        "message": "The customer's location isn't recognized.",
        "type": "invalid_request_error",
    }
    (data,) = connector().updates("invoice.payment_failed", payload)
    assert data == PaymentData(
        order=OrderRef(
            external_id="820982911946154512", order_number="1003", payment_reference="pi_3RaeXBFz7kVn4XyT0aB2cD3e"
        ),
        succeeded=False,
        external_id=INVOICE_ID,
        amount=Decimal("24.00"),
        currency="USD",
        failure_code="customer_tax_location_invalid",
        failure_message="The customer's location isn't recognized.",
        occurred_at=datetime(2025, 6, 16, 9, 2, 13, tzinfo=UTC),
    )


def test_invoice_without_any_metadata_is_found_by_its_id() -> None:
    payload = load(FILES["invoice.payment_failed"])
    payload["data"]["object"]["parent"] = None
    (data,) = connector().updates("invoice.payment_failed", payload)
    assert data.order == OrderRef(payment_reference=INVOICE_ID)


def test_failure_code_falls_back_to_code_without_a_decline_code() -> None:
    payload = load(FILES["payment_intent.payment_failed"])
    error = payload["data"]["object"]["last_payment_error"]
    error.update(code="expired_card", decline_code=None, message="Your card has expired.")
    (data,) = connector().updates("payment_intent.payment_failed", payload)
    assert (data.failure_code, data.failure_message) == ("expired_card", "Your card has expired.")


def test_payment_failed_without_last_payment_error() -> None:
    payload = load(FILES["payment_intent.payment_failed"])
    payload["data"]["object"]["last_payment_error"] = None
    (data,) = connector().updates("payment_intent.payment_failed", payload)
    assert (data.failure_code, data.failure_message) == ("", "")


def test_order_number_loses_its_hash_and_blanks_are_ignored() -> None:
    payload = load(FILES["payment_intent.succeeded"])
    payload["data"]["object"]["metadata"] = {"order_id": "  ", "order_number": " #1001 "}
    (data,) = connector().updates("payment_intent.succeeded", payload)
    assert data.order == OrderRef(external_id="", order_number="1001", payment_reference=PI_ID)


@pytest.mark.parametrize("metadata", [{}, None, {"cart": "c_91"}])
def test_without_order_metadata_the_payment_intent_id_is_the_reference(metadata: Any) -> None:
    payload = load(FILES["payment_intent.payment_failed"])
    payload["data"]["object"]["metadata"] = metadata
    (data,) = connector().updates("payment_intent.payment_failed", payload)
    assert data.order == OrderRef(payment_reference=PI_ID)
    assert data.order


def test_charge_reference_is_its_payment_intent_even_when_expanded() -> None:
    payload = load(FILES["charge.failed"])
    payload["data"]["object"]["payment_intent"] = {"id": PI_ID, "object": "payment_intent"}
    payload["data"]["object"]["metadata"] = {}
    (data,) = connector().updates("charge.failed", payload)
    assert data.order == OrderRef(payment_reference=PI_ID)


def test_charge_without_payment_intent_is_its_own_reference() -> None:
    payload = load(FILES["charge.failed"])
    payload["data"]["object"]["payment_intent"] = None
    (data,) = connector().updates("charge.failed", payload)
    assert data.order == OrderRef(external_id="820982911946154508", order_number="1001", payment_reference=CHARGE_ID)


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (8650, "usd", "86.50"),
        (8600, "eur", "86.00"),
        (1, "gbp", "0.01"),
        (0, "usd", "0.00"),
        (5000, "jpy", "5000"),
        (12000, "krw", "12000"),
        (990, "vnd", "990"),
        (2500, "clp", "2500"),
        (5120, "kwd", "5.120"),
        (12340, "bhd", "12.340"),
        (500, "isk", "5.00"),  # "special case": ISK is sent with two decimals
        (500, "ugx", "5.00"),  # likewise UGX, although it is listed as zero-decimal
        (104500, "huf", "1045.00"),
        (80045, "twd", "800.45"),
    ],
)
def test_minor_to_major(amount: int, currency: str, expected: str) -> None:
    result = minor_to_major(amount, currency)
    assert result == Decimal(expected)
    assert str(result) == expected


def test_zero_decimal_payment_intent() -> None:
    payload = load(FILES["payment_intent.succeeded"])
    payload["data"]["object"].update(amount=9800, currency="jpy")
    (data,) = connector().updates("payment_intent.succeeded", payload)
    assert (data.amount, data.currency) == (Decimal("9800"), "JPY")


def test_missing_amount_is_unknown_not_zero() -> None:
    payload = load(FILES["charge.failed"])
    del payload["data"]["object"]["amount"]
    (data,) = connector().updates("charge.failed", payload)
    assert data.amount is None


@pytest.mark.parametrize("amount", ["8650", 86.5, True])
def test_a_non_integer_amount_is_rejected(amount: Any) -> None:
    payload = load(FILES["payment_intent.payment_failed"])
    payload["data"]["object"]["amount"] = amount
    with pytest.raises(PayloadError) as excinfo:
        connector().updates("payment_intent.payment_failed", payload)
    assert excinfo.value.field == "data.object.amount"


def test_an_amount_without_currency_is_rejected() -> None:
    payload = load(FILES["invoice.payment_failed"])
    payload["data"]["object"]["currency"] = None
    with pytest.raises(PayloadError) as excinfo:
        connector().updates("invoice.payment_failed", payload)
    assert excinfo.value.field == "data.object.currency"


def test_occurred_at_is_the_event_creation_time() -> None:
    payload = load(FILES["payment_intent.payment_failed"])
    (data,) = connector().updates("payment_intent.payment_failed", payload)
    assert data.occurred_at == at(payload["created"])
    assert data.occurred_at.tzinfo is not None
    del payload["created"]
    (data,) = connector().updates("payment_intent.payment_failed", payload)
    assert data.occurred_at is None


def test_a_non_integer_created_is_rejected() -> None:
    payload = load(FILES["payment_intent.payment_failed"])
    payload["created"] = "2025-06-10T14:21:07Z"
    with pytest.raises(PayloadError) as excinfo:
        connector().updates("payment_intent.payment_failed", payload)
    assert excinfo.value.field == "created"


@pytest.mark.parametrize(("event_type", "name"), FILES.items())
def test_an_object_without_id_names_the_field(event_type: str, name: str) -> None:
    """The only way to have no order reference at all: every other case falls back to the object's id."""
    payload = load(name)
    obj = payload["data"]["object"]
    del obj["id"]
    obj["metadata"] = {}
    obj.pop("payment_intent", None)
    obj.pop("parent", None)
    with pytest.raises(PayloadError) as excinfo:
        connector().updates(event_type, payload)
    assert excinfo.value.field == "data.object.id"
    assert str(excinfo.value) == "data.object.id is required"


@pytest.mark.parametrize("event_type", FILES)
@pytest.mark.parametrize("mutate", ["no data", "no object", "null object"])
def test_a_missing_data_object_names_the_field(event_type: str, mutate: str) -> None:
    payload = load(FILES[event_type])
    if mutate == "no data":
        del payload["data"]
    elif mutate == "no object":
        del payload["data"]["object"]
    else:
        payload["data"]["object"] = None
    with pytest.raises(PayloadError) as excinfo:
        connector().updates(event_type, payload)
    assert excinfo.value.field == "data.object"


def test_a_data_object_that_is_not_an_object_is_rejected() -> None:
    payload = load(FILES["charge.failed"])
    payload["data"]["object"] = [CHARGE_ID]
    with pytest.raises(PayloadError) as excinfo:
        connector().updates("charge.failed", payload)
    assert excinfo.value.field == "data.object"


def test_the_wrong_kind_of_object_is_rejected() -> None:
    payload = load(FILES["invoice.payment_failed"])
    with pytest.raises(PayloadError) as excinfo:
        connector().updates("charge.failed", payload)
    assert excinfo.value.field == "data.object.object"


def test_metadata_that_is_not_an_object_is_rejected() -> None:
    payload = load(FILES["charge.failed"])
    payload["data"]["object"]["metadata"] = "order_id=820982911946154508"
    with pytest.raises(PayloadError) as excinfo:
        connector().updates("charge.failed", payload)
    assert excinfo.value.field == "data.object.metadata"


@pytest.mark.parametrize(
    "event_type",
    ["customer.created", "payment_intent.created", "charge.succeeded", "invoice.paid", "charge.refunded", ""],
)
def test_other_events_are_unsupported(event_type: str) -> None:
    payload = load(FILES["payment_intent.succeeded"])
    payload["type"] = event_type
    with pytest.raises(UnsupportedEvent, match=re.escape(repr(event_type))):
        connector().updates(event_type, payload)


def test_unsupported_is_decided_before_the_payload_is_read() -> None:
    with pytest.raises(UnsupportedEvent, match=re.escape("'customer.created'")):
        connector().updates("customer.created", {"id": "evt_1", "type": "customer.created"})


def test_updates_do_not_mutate_the_payload() -> None:
    payload = load(FILES["invoice.payment_failed"])
    before = copy.deepcopy(payload)
    connector().updates("invoice.payment_failed", payload)
    assert payload == before
