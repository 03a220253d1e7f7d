"""EasyPost connector: signature, event naming and Tracker -> ShipmentData, without a database.

Fixtures are in tests/payloads/easypost/ (one USPS parcel from label to delivery; see its README).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from orders.connectors import easypost
from orders.connectors.base import PayloadError, SignatureError, UnsupportedEvent
from orders.connectors.easypost import (
    EasyPostConnector,
    carrier_slug,
    dedupe_key,
    normalize_status,
    status_map,
)
from orders.updates import ShipmentData, TrackingEventData

PAYLOADS = Path(__file__).resolve().parents[2] / "payloads" / "easypost"
FILES = [
    "01_tracker_created.json",
    "02_tracker_updated_in_transit.json",
    "03_tracker_updated_delivery_attempted.json",
    "04_tracker_updated_out_for_delivery.json",
    "05_tracker_updated_delivered.json",
]
# Composed "é" and the "ﬁ" ligature both change under NFKD, so the key really is the normalised secret.
SECRET = "whsec-caf\u00e9-\ufb01ve"
TRACKER_ID = "trk_5f0c3e2a9b7d4c1e8a6f2b3c4d5e6f70"
TRACKING_CODE = "9400100000000000000001"

connector = EasyPostConnector()


def raw(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


def load(name: str) -> dict[str, Any]:
    return json.loads(raw(name))


def easypost_signature(body: bytes, secret: str) -> str:
    """The header value as EasyPost's client libraries check it (easypost-python `validate_webhook`):
    "hmac-sha256-hex=" + hexdigest(HMAC-SHA256(key=NFKD(secret) as UTF-8, msg=raw body))."""
    key = bytes(unicodedata.normalize("NFKD", secret), "utf8")
    return "hmac-sha256-hex=" + hmac.new(key=key, msg=body, digestmod=hashlib.sha256).hexdigest()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def key(when: str, status: str, detail: str, message: str) -> str:
    basis = "\x1f".join((at(when).astimezone(UTC).isoformat(), status, detail, message))
    return "easypost:" + hashlib.sha1(basis.encode("utf-8")).hexdigest()[:32]


def scan(when: str, status: str, detail: str, message: str, canonical: str, where: str) -> TrackingEventData:
    return TrackingEventData(
        status=canonical,
        occurred_at=at(when),
        dedupe_key=key(when, status, detail, message),
        raw_status=status,
        raw_detail=detail,
        message=message,
        location=where,
    )


def keys_of(payload: dict[str, Any]) -> list[str]:
    (data,) = connector.updates(payload["description"], payload)
    assert isinstance(data, ShipmentData)
    return [event.dedupe_key for event in data.events]


HOUSTON = "HOUSTON, TX 77063"
CHARLESTON = "CHARLESTON, SC 29401"
JOURNEY = [
    scan(
        "2025-03-03T15:12:00Z",
        "pre_transit",
        "status_update",
        "Pre-Shipment Info Sent to USPS",
        "label_created",
        "",
    ),
    scan(
        "2025-03-03T15:14:00Z",
        "pre_transit",
        "status_update",
        "Shipping Label Created, USPS Awaiting Item",
        "label_created",
        HOUSTON,
    ),
    scan(
        "2025-03-03T22:47:00Z",
        "in_transit",
        "received_at_origin_facility",
        "Accepted at USPS Origin Facility",
        "in_transit",
        HOUSTON,
    ),
    scan(
        "2025-03-04T03:15:00Z",
        "in_transit",
        "departed_origin_facility",
        "Departed USPS Regional Facility",
        "in_transit",
        "NORTH HOUSTON, TX 77315",
    ),
    scan(
        "2025-03-05T09:40:00Z",
        "in_transit",
        "arrived_at_facility",
        "Arrived at USPS Regional Destination Facility",
        "in_transit",
        "CHARLESTON, SC 29423",
    ),
    scan(
        "2025-03-06T10:02:00Z",
        "in_transit",
        "received_at_destination_facility",
        "Arrived at Post Office",
        "in_transit",
        CHARLESTON,
    ),
    scan(
        "2025-03-06T12:35:00Z",
        "out_for_delivery",
        "out_for_delivery",
        "Out for Delivery",
        "out_for_delivery",
        CHARLESTON,
    ),
    scan(
        "2025-03-06T19:18:00Z",
        "in_transit",
        "delivery_exception",
        "Notice Left (No Authorized Recipient Available)",
        "attempted_delivery",
        CHARLESTON,
    ),
    scan(
        "2025-03-07T12:41:00Z",
        "out_for_delivery",
        "out_for_delivery",
        "Out for Delivery",
        "out_for_delivery",
        CHARLESTON,
    ),
    scan(
        "2025-03-07T17:26:00Z",
        "delivered",
        "arrived_at_destination",
        "Delivered, Left with Individual",
        "delivered",
        CHARLESTON,
    ),
]


def shipment(events: list[TrackingEventData], estimate: str) -> ShipmentData:
    return ShipmentData(
        tracking_code=TRACKING_CODE,
        carrier="usps",
        order=None,
        service_level="Priority Mail",
        carrier_estimated_delivery=at(estimate),
        events=events,
    )


# -- signature -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FILES)
def test_verify_accepts_easypost_signature(name: str) -> None:
    body = raw(name)
    connector.verify(body, {"X-Hmac-Signature": easypost_signature(body, SECRET)}, SECRET)


@pytest.mark.parametrize("form", ["NFC", "NFD", "NFKC", "NFKD"])
def test_verify_normalises_the_secret_nfkd(form: str) -> None:
    body = raw(FILES[1])
    header = {"X-Hmac-Signature": easypost_signature(body, SECRET)}
    connector.verify(body, header, unicodedata.normalize(form, SECRET))


def test_nfkd_changes_this_secret() -> None:
    """Guard for the test above: without normalisation the keys would differ."""
    body = raw(FILES[1])
    plain = "hmac-sha256-hex=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert plain != easypost_signature(body, SECRET)
    with pytest.raises(SignatureError):
        connector.verify(body, {"X-Hmac-Signature": plain}, SECRET)


def _bad_signatures() -> list[tuple[str, bytes, str]]:
    body = raw(FILES[2])
    good = easypost_signature(body, SECRET)
    return [
        ("tampered body", body.replace(b"delivery_exception", b"out_for_delivery"), good),
        ("other secret", body, easypost_signature(body, "another-secret")),
        ("no prefix", body, good.removeprefix("hmac-sha256-hex=")),
        ("other prefix", body, good.replace("hmac-sha256-hex=", "sha256=")),
        ("upper-case hex", body, "hmac-sha256-hex=" + good.removeprefix("hmac-sha256-hex=").upper()),
        ("truncated", body, good[:-2]),
    ]


@pytest.mark.parametrize(
    ("case", "body", "signature"), _bad_signatures(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_verify_rejects_a_wrong_signature(case: str, body: bytes, signature: str) -> None:
    with pytest.raises(SignatureError):
        connector.verify(body, {"X-Hmac-Signature": signature}, SECRET)


MISSING = [{}, {"X-Hmac-Signature": ""}, {"X-Hmac-Signature-V2": "hmac-sha256-hex=00"}]


@pytest.mark.parametrize("headers", MISSING)
def test_verify_rejects_a_missing_signature(headers: dict[str, str]) -> None:
    with pytest.raises(SignatureError, match="X-Hmac-Signature"):
        connector.verify(raw(FILES[0]), headers, SECRET)


def test_verify_rejects_when_no_secret_is_configured() -> None:
    body = raw(FILES[0])
    with pytest.raises(SignatureError):
        connector.verify(body, {"X-Hmac-Signature": easypost_signature(body, "")}, "")


# -- naming the delivery ------------------------------------------------------------------------------------


def test_connector_identity() -> None:
    assert (connector.source, connector.label) == ("easypost", "EasyPost")
    assert connector.secret_field == "easypost_webhook_secret"
    assert connector.secret_setting == "EASYPOST_WEBHOOK_SECRET"
    assert connector.status_map is status_map


@pytest.mark.parametrize(
    ("name", "event_type", "delivery_id"),
    [
        (FILES[0], "tracker.created", "evt_0a1b2c3d4e5f40718293a4b5c6d7e8f9"),
        (FILES[1], "tracker.updated", "evt_1b2c3d4e5f6a41829304b5c6d7e8f9a0"),
        (FILES[2], "tracker.updated", "evt_2c3d4e5f6a7b42930415c6d7e8f9a0b1"),
        (FILES[3], "tracker.updated", "evt_3d4e5f6a7b8c43a41526d7e8f9a0b1c2"),
        (FILES[4], "tracker.updated", "evt_4e5f6a7b8c9d44b52637e8f9a0b1c2d3"),
    ],
)
def test_event_type_delivery_id_and_store_hint(name: str, event_type: str, delivery_id: str) -> None:
    payload = connector.decode(raw(name))
    assert connector.event_type({}, payload) == event_type
    assert connector.delivery_id({}, payload) == delivery_id
    assert connector.store_hint({}, payload) == ""


@pytest.mark.parametrize(("method", "field"), [("event_type", "description"), ("delivery_id", "id")])
@pytest.mark.parametrize("value", [None, ""])
def test_event_type_and_delivery_id_name_the_missing_field(method: str, field: str, value: Any) -> None:
    payload = load(FILES[1])
    if value is None:
        del payload[field]
    else:
        payload[field] = value
    with pytest.raises(PayloadError) as caught:
        getattr(connector, method)({}, payload)
    assert caught.value.field == field


# -- updates -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "scans", "estimate"),
    [
        (FILES[0], 2, "2025-03-06T00:00:00Z"),
        (FILES[1], 5, "2025-03-06T00:00:00Z"),
        (FILES[2], 8, "2025-03-07T00:00:00Z"),
        (FILES[3], 9, "2025-03-07T00:00:00Z"),
        (FILES[4], 10, "2025-03-07T00:00:00Z"),
    ],
)
def test_updates_for_each_event_of_the_journey(name: str, scans: int, estimate: str) -> None:
    payload = load(name)
    expected = [shipment(JOURNEY[:scans], estimate)]
    assert connector.updates(connector.event_type({}, payload), payload) == expected


def test_journey_statuses_end_to_end() -> None:
    payload = load(FILES[4])
    (data,) = connector.updates("tracker.updated", payload)
    assert isinstance(data, ShipmentData)
    assert [e.status for e in data.events] == [
        "label_created",
        "label_created",
        "in_transit",
        "in_transit",
        "in_transit",
        "in_transit",
        "out_for_delivery",
        "attempted_delivery",
        "out_for_delivery",
        "delivered",
    ]
    assert all(e.occurred_at.tzinfo is not None for e in data.events)


def test_repeated_tracking_details_keep_their_dedupe_keys() -> None:
    """tracker.updated repeats the whole history: a scan seen before must dedupe to the same key."""
    keys = [keys_of(load(name)) for name in FILES]
    for earlier, later in itertools.pairwise(keys):
        assert later[: len(earlier)] == earlier
    assert len(set(keys[-1])) == len(keys[-1])  # the two "Out for Delivery" scans differ by their datetime


def test_two_deliveries_of_the_same_history_give_the_same_keys() -> None:
    """A retry of one Event, and a later Event repeating the same tracking_details, give identical keys."""
    first = load(FILES[3])
    second = copy.deepcopy(first)
    second["id"] = "evt_ffffffffffffffffffffffffffffffff"
    second["result"]["updated_at"] = "2025-03-07T13:05:00Z"
    second["result"]["est_delivery_date"] = "2025-03-08T00:00:00Z"
    retry = load(FILES[3])
    keys = [keys_of(first), keys_of(second), keys_of(retry)]
    assert keys[0] == keys[1] == keys[2]
    assert all(k.startswith("easypost:") and len(k) == len("easypost:") + 32 for k in keys[0])


def test_dedupe_key_is_the_same_instant_whatever_the_offset() -> None:
    utc = datetime(2025, 3, 6, 19, 18, tzinfo=UTC)
    local = utc.astimezone(timezone(timedelta(hours=-5)))
    assert dedupe_key(utc, "in_transit", "delivery_exception", "x") == dedupe_key(
        local, "in_transit", "delivery_exception", "x"
    )
    assert dedupe_key(utc, "in_transit", "delivery_exception", "x") != dedupe_key(
        utc, "in_transit", "delivery_exception", "y"
    )


def test_scan_with_a_local_offset_is_parsed_aware() -> None:
    payload = load(FILES[0])
    payload["result"]["tracking_details"][1]["datetime"] = "2025-03-03T09:14:00-06:00"
    (data,) = connector.updates("tracker.created", payload)
    assert data.events[1].occurred_at == at("2025-03-03T15:14:00Z")
    assert data.events[1].dedupe_key == JOURNEY[1].dedupe_key


def test_scan_without_an_offset_is_utc() -> None:
    payload = load(FILES[0])
    payload["result"]["tracking_details"][0]["datetime"] = "2025-03-03T15:12:00"
    (data,) = connector.updates("tracker.created", payload)
    assert data.events[0].occurred_at == at("2025-03-03T15:12:00Z")
    assert data.events[0].occurred_at.tzinfo is not None


def test_tracker_without_scans_reports_its_own_status() -> None:
    payload = load(FILES[0])
    payload["result"]["tracking_details"] = []
    payload["result"]["status"] = "unknown"
    payload["result"]["status_detail"] = "unknown"
    (data,) = connector.updates("tracker.created", payload)
    assert data.events == [
        TrackingEventData(
            status="unknown",
            occurred_at=at("2025-03-03T15:14:26Z"),
            dedupe_key=key("2025-03-03T15:14:26Z", "unknown", "unknown", ""),
            raw_status="unknown",
            raw_detail="unknown",
        )
    ]


def test_tracker_without_scans_or_updated_at_uses_created_at() -> None:
    payload = load(FILES[0])
    payload["result"]["tracking_details"] = None
    payload["result"]["updated_at"] = None
    (data,) = connector.updates("tracker.created", payload)
    assert [(e.status, e.occurred_at) for e in data.events] == [("label_created", at("2025-03-03T15:11:58Z"))]


def test_optional_tracker_fields_may_be_missing() -> None:
    payload = load(FILES[1])
    for field in ("est_delivery_date", "carrier_detail", "carrier", "id"):
        payload["result"][field] = None
    payload["result"]["tracking_details"][2]["tracking_location"] = None
    payload["result"]["tracking_details"][2]["message"] = None
    payload["result"]["tracking_details"][2]["description"] = "Accepted at origin"
    (data,) = connector.updates("tracker.updated", payload)
    assert (data.carrier, data.external_id, data.service_level) == ("", "", None)
    assert data.carrier_estimated_delivery is None
    assert (data.events[2].location, data.events[2].message) == ("", "Accepted at origin")


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({"city": "CHARLESTON", "state": "SC", "country": "US", "zip": "29401"}, "CHARLESTON, SC, US 29401"),
        ({"city": "CHARLESTON", "state": "SC", "country": None, "zip": "29401"}, "CHARLESTON, SC 29401"),
        ({"city": "Toronto", "state": "", "country": "CA", "zip": None}, "Toronto, CA"),
        ({"city": None, "state": None, "country": None, "zip": "29401"}, "29401"),
        ({"city": None, "state": None, "country": None, "zip": None}, ""),
    ],
)
def test_location_leaves_out_what_the_carrier_did_not_say(where: dict[str, Any], expected: str) -> None:
    payload = load(FILES[0])
    payload["result"]["tracking_details"][0]["tracking_location"] = {"object": "TrackingLocation", **where}
    (data,) = connector.updates("tracker.created", payload)
    assert data.events[0].location == expected


@pytest.mark.parametrize(
    ("carrier", "slug"),
    [
        ("USPS", "usps"),
        ("FedEx", "fedex"),
        ("UPSDAP", "ups"),
        ("DHL Express", "dhl"),
        (" CanadaPost ", "canada_post"),
    ],
)
def test_carrier_slug(carrier: str, slug: str) -> None:
    assert carrier_slug(carrier) == slug


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda p: p.pop("result"), "result"),
        (lambda p: p.__setitem__("result", "trk_123"), "result"),
        (lambda p: p["result"].__setitem__("object", "Batch"), "result.object"),
        (lambda p: p["result"].pop("tracking_code"), "result.tracking_code"),
        (lambda p: p["result"].__setitem__("tracking_code", ""), "result.tracking_code"),
        (lambda p: p["result"].__setitem__("tracking_code", "  "), "result.tracking_code"),
        (lambda p: p["result"].__setitem__("tracking_details", {"0": {}}), "result.tracking_details"),
        (lambda p: p["result"]["tracking_details"].__setitem__(1, "scan"), "result.tracking_details[1]"),
        (lambda p: p["result"]["tracking_details"][3].pop("datetime"), "result.tracking_details[3].datetime"),
        (
            lambda p: p["result"]["tracking_details"][4].__setitem__("datetime", "yesterday"),
            "result.tracking_details[4].datetime",
        ),
        (
            lambda p: p["result"]["tracking_details"][0].__setitem__("datetime", 1741014720),
            "result.tracking_details[0].datetime",
        ),
        (lambda p: p["result"].__setitem__("est_delivery_date", "03/06/2025"), "result.est_delivery_date"),
    ],
)
def test_malformed_tracker_names_the_field(mutate: Any, field: str) -> None:
    payload = load(FILES[1])
    mutate(payload)
    with pytest.raises(PayloadError) as caught:
        connector.updates("tracker.updated", payload)
    assert caught.value.field == field


def test_tracker_without_scans_and_bad_timestamps_names_the_field() -> None:
    payload = load(FILES[0])
    payload["result"]["tracking_details"] = []
    payload["result"]["updated_at"] = "not a time"
    with pytest.raises(PayloadError) as caught:
        connector.updates("tracker.created", payload)
    assert caught.value.field == "result.updated_at"


@pytest.mark.parametrize(
    "description",
    [
        "batch.created",
        "batch.updated",
        "shipment.invoice.created",
        "scan_form.updated",
        "insurance.purchased",
        "refund.successful",
    ],
)
def test_other_events_are_unsupported(description: str) -> None:
    payload = {
        "id": "evt_5f6a7b8c9d0e45c63748f9a0b1c2d3e4",
        "object": "Event",
        "mode": "production",
        "description": description,
        "previous_attributes": {"state": "purchasing"},
        "result": {"id": "batch_0123456789abcdef0123456789abcdef", "object": "Batch", "state": "purchased"},
    }
    with pytest.raises(UnsupportedEvent):
        connector.updates(connector.event_type({}, payload), payload)


# -- status table -----------------------------------------------------------------------------------------

# Every documented Tracker.status (docs.easypost.com/docs/trackers; easypost-node TrackerStatus.ts).
STATUSES = {
    "unknown": "unknown",
    "pre_transit": "label_created",
    "in_transit": "in_transit",
    "out_for_delivery": "out_for_delivery",
    "delivered": "delivered",
    "available_for_pickup": "available_for_pickup",
    "return_to_sender": "returned_to_sender",
    "failure": "exception",
    "cancelled": "cancelled",
    "error": "unknown",
}

# Every documented status_detail (easypost-node TrackerStatusDetail.ts, easypost-csharp Tracker.StatusDetail),
# as it lands on a parcel whose status is in_transit, the status it is most often paired with.
DETAILS_IN_TRANSIT = {
    "address_correction": "exception",
    "arrived_at_destination": "in_transit",
    "arrived_at_facility": "in_transit",
    "arrived_at_pickup_location": "available_for_pickup",
    "awaiting_information": "exception",
    "cancelled": "cancelled",
    "damaged": "exception",
    "delayed": "exception",
    "delivery_exception": "attempted_delivery",
    "departed_facility": "in_transit",
    "departed_origin_facility": "in_transit",
    "expired": "exception",
    "failure": "exception",
    "held": "exception",
    "in_transit": "in_transit",
    "label_created": "in_transit",
    "lost": "exception",
    "missorted": "exception",
    "out_for_delivery": "in_transit",
    "received_at_destination_facility": "in_transit",
    "received_at_origin_facility": "in_transit",
    "refused": "exception",
    "return": "returned_to_sender",
    "status_update": "in_transit",
    "transferred_to_destination_carrier": "in_transit",
    "transit_exception": "exception",
    "unknown": "in_transit",
    "weather_delay": "exception",
}

# The same details when EasyPost's status says nothing (unknown): the detail alone decides.
DETAILS_UNKNOWN = {
    **DETAILS_IN_TRANSIT,
    "label_created": "label_created",
    "out_for_delivery": "out_for_delivery",
    "status_update": "unknown",
    "unknown": "unknown",
}


def test_documented_lists_are_complete() -> None:
    assert len(STATUSES) == 10
    assert len(DETAILS_IN_TRANSIT) == 28
    statuses = {k for k in status_map if isinstance(k, str)}
    details = {k[1] for k in status_map if isinstance(k, tuple)}
    assert statuses == set(STATUSES)
    assert details <= set(DETAILS_IN_TRANSIT)
    # Every documented detail is classified exactly once: problem/outcome, progress or neutral.
    classified = [*easypost._PROBLEM_DETAILS, *easypost._PROGRESS_DETAILS, *easypost._NEUTRAL_DETAILS]
    assert sorted(classified) == sorted(DETAILS_IN_TRANSIT)


@pytest.mark.parametrize(("status", "canonical"), STATUSES.items())
def test_every_status(status: str, canonical: str) -> None:
    assert normalize_status(status) == canonical
    assert normalize_status(status, "") == canonical
    assert normalize_status(status, "status_update") == canonical


@pytest.mark.parametrize(("detail", "canonical"), DETAILS_IN_TRANSIT.items())
def test_every_status_detail_in_transit(detail: str, canonical: str) -> None:
    assert normalize_status("in_transit", detail) == canonical


@pytest.mark.parametrize(("detail", "canonical"), DETAILS_UNKNOWN.items())
def test_every_status_detail_under_unknown(detail: str, canonical: str) -> None:
    assert normalize_status("unknown", detail) == canonical


@pytest.mark.parametrize("detail", DETAILS_IN_TRANSIT)
@pytest.mark.parametrize(
    ("status", "canonical"),
    [
        ("delivered", "delivered"),
        ("available_for_pickup", "available_for_pickup"),
        ("return_to_sender", "returned_to_sender"),
        ("cancelled", "cancelled"),
        ("error", "unknown"),
    ],
)
def test_settled_statuses_are_not_refined(status: str, canonical: str, detail: str) -> None:
    assert normalize_status(status, detail) == canonical


@pytest.mark.parametrize(
    ("status", "detail", "canonical"),
    [
        # Out for delivery: progress details never move the parcel back; problems and outcomes still win.
        ("out_for_delivery", "arrived_at_facility", "out_for_delivery"),
        ("out_for_delivery", "out_for_delivery", "out_for_delivery"),
        ("out_for_delivery", "delivery_exception", "attempted_delivery"),
        ("out_for_delivery", "weather_delay", "exception"),
        ("out_for_delivery", "return", "returned_to_sender"),
        # Failure: the carrier gave up; only a known outcome is more precise than "exception".
        ("failure", "delivery_exception", "exception"),
        ("failure", "address_correction", "exception"),
        ("failure", "arrived_at_facility", "exception"),
        ("failure", "refused", "exception"),
        ("failure", "return", "returned_to_sender"),
        ("failure", "arrived_at_pickup_location", "available_for_pickup"),
        ("failure", "cancelled", "cancelled"),
        # Pre-transit: waiting for the parcel is routine; a voided label is not.
        ("pre_transit", "awaiting_information", "label_created"),
        ("pre_transit", "label_created", "label_created"),
        ("pre_transit", "delayed", "label_created"),
        ("pre_transit", "cancelled", "cancelled"),
        # Values EasyPost may add later fall back to the status, then to unknown.
        ("in_transit", "some_new_detail", "in_transit"),
        ("some_new_status", "delayed", "unknown"),
        ("", "", "unknown"),
        # EasyPost sends lower case; stray case or whitespace is not a new value.
        (" In_Transit ", "Weather_Delay", "exception"),
    ],
)
def test_status_detail_pairs(status: str, detail: str, canonical: str) -> None:
    assert normalize_status(status, detail) == canonical


def test_every_table_value_is_canonical() -> None:
    canonical = {
        "label_created",
        "in_transit",
        "out_for_delivery",
        "attempted_delivery",
        "available_for_pickup",
        "delivered",
        "exception",
        "returned_to_sender",
        "cancelled",
        "unknown",
    }
    assert set(status_map.values()) <= canonical
