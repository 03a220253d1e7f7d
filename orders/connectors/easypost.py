"""EasyPost webhooks: Tracker events for parcels whose labels (or standalone Trackers) live in EasyPost.

EasyPost POSTs an Event to every webhook URL of the account (docs.easypost.com/docs/events):

    {"id": "evt_…", "object": "Event", "mode": "production", "description": "tracker.updated",
     "previous_attributes": {…}, "created_at": "…", "updated_at": "…", "pending_urls": […],
     "completed_urls": […], "result": {<the whole Tracker, scans in result.tracking_details[]>}}

A retry of the same Event repeats its `id`. Every tracker.updated carries the Tracker's complete
`tracking_details` history, so each scan gets a dedupe key of its own and repeated scans are dropped.

The signature is the `X-Hmac-Signature` header, "hmac-sha256-hex=" + hex(HMAC-SHA256(key=the webhook
secret NFKD-normalised and UTF-8 encoded, msg=raw body)): what `validate_webhook()` in EasyPost's client
libraries (easypost-python, -node, -ruby…) computes. It covers the body only (no timestamp).

EasyPost knows neither the store nor the order, so its updates carry no order reference: they apply to
shipments a store has already announced (matched on tracking code and carrier).
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from orders.carriers import carrier_slug
from orders.choices import ShipmentStatus
from orders.connectors.base import (
    Connector,
    PayloadError,
    SignatureError,
    UnsupportedEvent,
    optional,
    require,
    text,
)
from orders.updates import ShipmentData, TrackingEventData, Update

SIGNATURE_HEADER = "X-Hmac-Signature"
SIGNATURE_PREFIX = "hmac-sha256-hex="
TRACKER_EVENTS = frozenset({"tracker.created", "tracker.updated"})

S = ShipmentStatus

# EasyPost Tracker `status` -> canonical status. The ten values documented for Tracker.status and
# TrackingDetail.status (docs.easypost.com/docs/trackers; easypost-node ITrackerStatus).
_BY_STATUS: dict[str, str] = {
    "unknown": S.UNKNOWN,
    "pre_transit": S.LABEL_CREATED,
    "in_transit": S.IN_TRANSIT,
    "out_for_delivery": S.OUT_FOR_DELIVERY,
    "delivered": S.DELIVERED,
    "available_for_pickup": S.AVAILABLE_FOR_PICKUP,
    "return_to_sender": S.RETURNED_TO_SENDER,
    "failure": S.EXCEPTION,  # the carrier stopped trying to deliver
    "cancelled": S.CANCELLED,
    "error": S.UNKNOWN,  # EasyPost could not fetch tracking data: says nothing about the parcel itself
}

# `status_detail` values that name a problem or an outcome. They refine a parcel that is still on its
# way (status in_transit, out_for_delivery or unknown): for a proactive hub a delay or an address
# problem while "in transit" is the news, not the movement.
_PROBLEM_DETAILS: dict[str, str] = {
    "address_correction": S.EXCEPTION,  # the carrier had to correct the address: a delivery risk
    "arrived_at_pickup_location": S.AVAILABLE_FOR_PICKUP,
    "awaiting_information": S.EXCEPTION,  # e.g. customs paperwork; only pre_transit keeps it routine
    "cancelled": S.CANCELLED,
    "damaged": S.EXCEPTION,
    "delayed": S.EXCEPTION,
    # EasyPost: "A single failed delivery with a retry will still be classified as in_transit" with a
    # message naming the attempt; its detail is delivery_exception. Under `failure` it means the carrier
    # gave up, which stays an exception (see status_map below).
    "delivery_exception": S.ATTEMPTED_DELIVERY,
    "expired": S.EXCEPTION,  # tracking went silent before delivery
    "failure": S.EXCEPTION,
    "held": S.EXCEPTION,
    "lost": S.EXCEPTION,
    "missorted": S.EXCEPTION,
    "refused": S.EXCEPTION,
    "return": S.RETURNED_TO_SENDER,  # heading back to the sender: no longer coming to the customer
    "transit_exception": S.EXCEPTION,
    "weather_delay": S.EXCEPTION,
}

# `status_detail` values that only describe progress. They never override a status (a scan "arrived at
# facility" under out_for_delivery must not move the parcel back), but they give `unknown` a meaning.
_PROGRESS_DETAILS: dict[str, str] = {
    "arrived_at_destination": S.IN_TRANSIT,
    "arrived_at_facility": S.IN_TRANSIT,
    "departed_facility": S.IN_TRANSIT,
    "departed_origin_facility": S.IN_TRANSIT,
    "in_transit": S.IN_TRANSIT,
    "label_created": S.LABEL_CREATED,
    "out_for_delivery": S.OUT_FOR_DELIVERY,
    "received_at_destination_facility": S.IN_TRANSIT,
    "received_at_origin_facility": S.IN_TRANSIT,
    "transferred_to_destination_carrier": S.IN_TRANSIT,
}

# `status_detail` values that add nothing to the status. With the two tables above: all 28 documented values.
_NEUTRAL_DETAILS = frozenset({"status_update", "unknown"})

# Outcomes that outrank `failure`: the carrier gave up, and what it did instead is known.
_FAILURE_OUTCOMES = ("arrived_at_pickup_location", "cancelled", "return")

# The whole table: a `status` string, or a (status, status_detail) pair where the detail changes the
# meaning. normalize_status() looks the pair up first. delivered, available_for_pickup,
# return_to_sender, cancelled and error are never refined; pre_transit only by a cancelled label.
status_map: dict[str | tuple[str, str], str] = {
    **_BY_STATUS,
    **{
        (status, detail): canonical
        for status in ("in_transit", "out_for_delivery", "unknown")
        for detail, canonical in _PROBLEM_DETAILS.items()
    },
    **{("unknown", detail): canonical for detail, canonical in _PROGRESS_DETAILS.items()},
    **{("failure", detail): _PROBLEM_DETAILS[detail] for detail in _FAILURE_OUTCOMES},
    ("pre_transit", "cancelled"): S.CANCELLED,
}


def normalize_status(status: str, status_detail: str = "") -> str:
    """Map an EasyPost status / status_detail pair to a canonical ShipmentStatus value.

    Values EasyPost may add later fall back to the status alone, and an unknown status to "unknown"
    (which never sets a shipment's status; see services.shipment_refresh_status).
    """
    status = (status or "").strip().lower()
    detail = (status_detail or "").strip().lower()
    return status_map.get((status, detail)) or status_map.get(status) or S.UNKNOWN


class EasyPostConnector(Connector):
    source: ClassVar[str] = "easypost"
    label: ClassVar[str] = "EasyPost"
    secret_field: ClassVar[str] = "easypost_webhook_secret"
    secret_setting: ClassVar[str] = "EASYPOST_WEBHOOK_SECRET"
    status_map: ClassVar[Mapping[Any, str]] = status_map
    paths: ClassVar[Mapping[str, str]] = {
        "tracking_code": "result.tracking_code",
        "carrier": "result.carrier",
        "service_level": "result.carrier_detail.service",
        "carrier_estimated_delivery": "result.est_delivery_date",
        "events[].occurred_at": "result.tracking_details[].datetime",
        "events[].raw_status": "result.tracking_details[].status",
        "events[].raw_detail": "result.tracking_details[].status_detail",
        "events[].message": "result.tracking_details[].message",
        "events[].location": "result.tracking_details[].tracking_location",
    }

    def verify(self, body: bytes, headers: Mapping[str, str], secret: str) -> None:
        given = headers.get(SIGNATURE_HEADER)
        if not given:
            raise SignatureError(f"missing {SIGNATURE_HEADER} header")
        if not secret:
            raise SignatureError("no EasyPost webhook secret is configured")
        # Same normalisation as EasyPost's validate_webhook(): a secret typed with composed accents or
        # ligatures must still produce EasyPost's key.
        key = unicodedata.normalize("NFKD", secret).encode("utf-8")
        expected = SIGNATURE_PREFIX + hmac.new(key, body, hashlib.sha256).hexdigest()
        if not self.signatures_match(expected, given):
            raise SignatureError(f"{SIGNATURE_HEADER} does not match the body")

    def store_hint(self, headers: Mapping[str, str], payload: Mapping[str, Any]) -> str:
        return ""

    def event_type(self, headers: Mapping[str, str], payload: Mapping[str, Any]) -> str:
        return text(require(payload, "description"), "description")

    def delivery_id(self, headers: Mapping[str, str], payload: Mapping[str, Any]) -> str:
        return text(require(payload, "id"), "id")

    def parse(self, event_type: str, payload: Mapping[str, Any]) -> list[Update]:
        if event_type not in TRACKER_EVENTS:
            raise UnsupportedEvent(f"EasyPost event {event_type!r} is not handled")
        tracker = require(payload, "result")
        if not isinstance(tracker, Mapping):
            raise PayloadError("result", "must be a Tracker object")
        kind = tracker.get("object")
        if kind not in (None, "Tracker"):
            raise PayloadError("result.object", f'must be "Tracker", not {kind!r}')
        tracking_code = text(require(payload, "result.tracking_code"), "result.tracking_code")
        if not tracking_code:
            raise PayloadError("result.tracking_code")
        estimate = optional(payload, "result.est_delivery_date")
        service = text(optional(payload, "result.carrier_detail.service"), "result.carrier_detail.service")
        return [
            ShipmentData(
                tracking_code=tracking_code,
                carrier=carrier_slug(text(optional(payload, "result.carrier"), "result.carrier")),
                order=None,
                service_level=service or None,
                carrier_estimated_delivery=(
                    _timestamp(estimate, "result.est_delivery_date") if estimate not in (None, "") else None
                ),
                events=_events(tracker),
            )
        ]


def _events(tracker: Mapping[str, Any]) -> list[TrackingEventData]:
    details = tracker.get("tracking_details")
    if details is None:
        details = []
    if not isinstance(details, list):
        raise PayloadError("result.tracking_details", "must be a list")
    events = [_scan(detail, f"result.tracking_details[{index}]") for index, detail in enumerate(details)]
    if events:
        return events
    # A Tracker with no scans yet (e.g. tracker.created for a code the carrier has not seen) still says
    # where it stands; its own timestamps are the best "when".
    name = "updated_at" if tracker.get("updated_at") not in (None, "") else "created_at"
    occurred_at = _timestamp(tracker.get(name), f"result.{name}")
    status, detail = (
        text(tracker.get("status"), "result.status"),
        text(tracker.get("status_detail"), "result.status_detail"),
    )
    return [_event(status, detail, "", "", occurred_at)]


def _scan(detail: Any, field: str) -> TrackingEventData:
    if not isinstance(detail, Mapping):
        raise PayloadError(field, "must be a TrackingDetail object")
    occurred_at = _timestamp(detail.get("datetime"), f"{field}.datetime")
    message = text(detail.get("message"), f"{field}.message") or text(detail.get("description"), f"{field}.description")
    where = detail.get("tracking_location")
    if where is not None and not isinstance(where, Mapping):
        raise PayloadError(f"{field}.tracking_location", "must be a TrackingLocation object")
    location = _location(where, f"{field}.tracking_location") if where else ""
    status, status_detail = (
        text(detail.get("status"), f"{field}.status"),
        text(detail.get("status_detail"), f"{field}.status_detail"),
    )
    return _event(status, status_detail, message, location, occurred_at)


def _event(status: str, detail: str, message: str, location: str, occurred_at: datetime) -> TrackingEventData:
    return TrackingEventData(
        status=normalize_status(status, detail),
        occurred_at=occurred_at,
        dedupe_key=dedupe_key(occurred_at, status, detail, message),
        raw_status=status,
        raw_detail=detail,
        message=message,
        location=location,
    )


def dedupe_key(occurred_at: datetime, status: str, status_detail: str, message: str) -> str:
    """A scan's identity across deliveries: the same scan repeated in a later tracker.updated (or a retry)
    gives the same key.

    The instant is hashed in UTC, so a scan EasyPost later re-stamps with its local offset (EasyPost
    assigns local time zones when it can geocode the scan) is still the same scan.
    """
    basis = "\x1f".join((occurred_at.astimezone(UTC).isoformat(), status, status_detail, message))
    return "easypost:" + hashlib.sha1(basis.encode("utf-8"), usedforsecurity=False).hexdigest()[:32]


def _location(where: Mapping[str, Any], field: str) -> str:
    """Format a TrackingLocation as "City, ST, Country zip", leaving out what the carrier did not say."""
    city, state, country, zip_code = (
        text(where.get(key), f"{field}.{key}") for key in ("city", "state", "country", "zip")
    )
    place = ", ".join(part for part in (city, state, country) if part)
    return " ".join(part for part in (place, zip_code) if part)


def _timestamp(value: Any, field: str) -> datetime:
    """Parse an EasyPost ISO 8601 timestamp; one without an offset is UTC (EasyPost's default)."""
    if value in (None, ""):
        raise PayloadError(field)
    if not isinstance(value, str):
        raise PayloadError(field, f"is not an ISO 8601 timestamp ({value!r})")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise PayloadError(field, f"is not an ISO 8601 timestamp ({value!r})") from exc
    parsed = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    try:
        parsed.astimezone(UTC)  # the scan's dedupe key is its UTC instant
    except OverflowError as exc:
        raise PayloadError(field, f"is out of range ({value!r})") from exc
    return parsed
