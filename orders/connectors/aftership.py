"""AfterShip Tracking webhooks: a carrier-neutral feed of checkpoints for parcels a store ships.

AfterShip POSTs one JSON body per event to the URL the merchant registers under Tracking >
Settings > Webhooks:

    {"event": "tracking_update", "event_id": "<uuid4>", "is_tracking_first_tag": true,
     "msg": {<the tracking object, checkpoints nested in msg.checkpoints[]>}, "ts": <unix seconds>}

The body is signed with the `aftership-hmac-sha256` header: base64(HMAC-SHA256(key=webhook secret,
msg=raw body)). Nothing else is signed (no timestamp), so replays are caught by `event_id` alone.

Field names follow the webhook version chosen per URL (echoed in the `as-webhook-version` header).
The fixtures use 2025-07 (`checkpoints[].country_region`, `courier_estimated_delivery_date` as an
object); the legacy v4 names (`country_iso3`, `expected_delivery`) are read too, so a URL left on an
older version still works.

A checkpoint_time without an offset is the local time where the checkpoint was (AfterShip's Checkpoint
model): see `_checkpoint_instant` for how the hub reads it.

Only `tracking_update` is turned into facts. `edd_revise` and `tracking_pending_time` also exist; the
hub ignores them (the estimate rides along on every tracking_update anyway).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.core import get_global

from orders.carriers import carrier_slug
from orders.choices import ShipmentStatus
from orders.connectors.base import Connector, PayloadError, SignatureError, UnsupportedEvent, optional, require, text
from orders.updates import OrderRef, ShipmentData, TrackingEventData, Update

SIGNATURE_HEADER = "aftership-hmac-sha256"
TRACKING_UPDATE = "tracking_update"

S = ShipmentStatus

# AfterShip delivery statuses ("tag") and sub-statuses ("subtag") -> canonical status. Keys are disjoint
# (subtags carry a "_NNN" suffix), so one table serves both; normalize_status() lets a known subtag win.
# Source: aftership.com/docs/tracking/enum/delivery-statuses and .../enum/delivery-sub-statuses.
status_map: dict[str, str] = {
    # Tags (9).
    "Pending": S.UNKNOWN,  # AfterShip has not fetched anything from the carrier yet
    "InfoReceived": S.LABEL_CREATED,
    "InTransit": S.IN_TRANSIT,
    "OutForDelivery": S.OUT_FOR_DELIVERY,
    "AttemptFail": S.ATTEMPTED_DELIVERY,
    "Delivered": S.DELIVERED,
    "AvailableForPickup": S.AVAILABLE_FOR_PICKUP,
    "Exception": S.EXCEPTION,
    "Expired": S.UNKNOWN,  # no tracking information for 30 days: says nothing about the parcel
    # Pending: no carrier data yet (the Pending_002..006 reasons vary; none is a physical event).
    "Pending_001": S.UNKNOWN,
    "Pending_002": S.UNKNOWN,
    "Pending_003": S.UNKNOWN,
    "Pending_004": S.UNKNOWN,
    "Pending_005": S.UNKNOWN,
    "Pending_006": S.UNKNOWN,
    "InfoReceived_001": S.LABEL_CREATED,
    # In transit. InTransit_008 ("Problem resolved") and _009 ("Forwarded to a different delivery
    # address") are documented as movement, not as a problem.
    "InTransit_001": S.IN_TRANSIT,
    "InTransit_002": S.IN_TRANSIT,
    "InTransit_003": S.IN_TRANSIT,
    "InTransit_004": S.IN_TRANSIT,
    "InTransit_005": S.IN_TRANSIT,
    "InTransit_006": S.IN_TRANSIT,
    "InTransit_007": S.IN_TRANSIT,
    "InTransit_008": S.IN_TRANSIT,
    "InTransit_009": S.IN_TRANSIT,
    # Out for delivery. _003 is "Customer contacted" before the final delivery, _004 "Delivery
    # appointment scheduled"; both still on the way to the door.
    "OutForDelivery_001": S.OUT_FOR_DELIVERY,
    "OutForDelivery_003": S.OUT_FOR_DELIVERY,
    "OutForDelivery_004": S.OUT_FOR_DELIVERY,
    # Retired by AfterShip in favour of AvailableForPickup_001 (webhook changelog); old trackings keep it.
    "OutForDelivery_002": S.AVAILABLE_FOR_PICKUP,
    "AttemptFail_001": S.ATTEMPTED_DELIVERY,
    "AttemptFail_002": S.ATTEMPTED_DELIVERY,  # addressee not available
    "AttemptFail_003": S.ATTEMPTED_DELIVERY,  # business closed
    "AvailableForPickup_001": S.AVAILABLE_FOR_PICKUP,
    "Delivered_001": S.DELIVERED,
    "Delivered_002": S.DELIVERED,  # picked up by the customer
    "Delivered_003": S.DELIVERED,  # signed by the customer
    "Delivered_004": S.DELIVERED,  # delivered, cash on delivery collected
    "Delivered_005": S.DELIVERED,  # delivered to a neighbour (docs 2026-07)
    "Exception_001": S.EXCEPTION,
    "Exception_002": S.EXCEPTION,  # customer moved
    "Exception_003": S.EXCEPTION,  # customer refused delivery
    "Exception_004": S.EXCEPTION,  # delayed (customs clearance)
    "Exception_005": S.EXCEPTION,  # delayed (external factors)
    "Exception_006": S.EXCEPTION,  # held for payment
    "Exception_007": S.EXCEPTION,  # incorrect address
    "Exception_008": S.EXCEPTION,  # pick up missed
    "Exception_009": S.EXCEPTION,  # rejected by carrier
    # AfterShip sets tracking.return_to_sender when a checkpoint carries either of these: from
    # "returning" on, the parcel is no longer heading to the customer.
    "Exception_010": S.RETURNED_TO_SENDER,  # returning to sender
    "Exception_011": S.RETURNED_TO_SENDER,  # returned to sender
    "Exception_012": S.EXCEPTION,  # shipment damaged
    "Exception_013": S.EXCEPTION,  # shipment lost
    # Added for shipments tracked from 2026-03-27 (AfterShip help centre, "Learn About Delivery Sub-Status").
    "Exception_016": S.EXCEPTION,  # delayed (processing issue)
    "Exception_017": S.EXCEPTION,  # delayed (extreme weather)
    "Exception_018": S.EXCEPTION,  # incorrect / missing documents
    "Exception_019": S.EXCEPTION,  # delayed (late flight)
    "Exception_020": S.CANCELLED,  # shipment cancelled (voided by sender or carrier)
    "Exception_021": S.EXCEPTION,  # shipment disposed
    "Expired_001": S.UNKNOWN,
}


def normalize_status(tag: str, subtag: str = "") -> str:
    """Map an AfterShip tag/subtag pair to a canonical ShipmentStatus value.

    A known subtag wins; an unknown one falls back to its tag (or to the tag its "<Tag>_NNN" prefix
    names, so sub-statuses AfterShip adds later still land in the right family).
    """
    if subtag in status_map:
        return status_map[subtag]
    if tag in status_map:
        return status_map[tag]
    prefix = subtag.split("_", 1)[0]
    return status_map.get(prefix, S.UNKNOWN)


class AfterShipConnector(Connector):
    source: ClassVar[str] = "aftership"
    label: ClassVar[str] = "AfterShip"
    secret_field: ClassVar[str] = "aftership_webhook_secret"
    secret_setting: ClassVar[str] = "AFTERSHIP_WEBHOOK_SECRET"
    status_map: ClassVar[Mapping[Any, str]] = status_map
    paths: ClassVar[Mapping[str, str]] = {
        "tracking_code": "msg.tracking_number",
        "carrier": "msg.slug",
        "service_level": "msg.shipment_type",
        "order.external_id": "msg.order_id",
        "order.order_number": "msg.order_number",
        "events[].occurred_at": "msg.checkpoints[].checkpoint_time",
        "events[].raw_status": "msg.checkpoints[].tag",
        "events[].raw_detail": "msg.checkpoints[].subtag",
        "events[].message": "msg.checkpoints[].message",
        "events[].location": "msg.checkpoints[].location",
    }

    def verify(self, body: bytes, headers: Mapping[str, str], secret: str) -> None:
        given = headers.get(SIGNATURE_HEADER)
        if not given:
            raise SignatureError(f"missing {SIGNATURE_HEADER} header")
        if not secret:
            raise SignatureError("no AfterShip webhook secret is configured")
        digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
        if not self.signatures_match(base64.b64encode(digest), given.strip()):
            raise SignatureError(f"{SIGNATURE_HEADER} does not match the body")

    def store_hint(self, headers: Mapping[str, str], payload: Mapping[str, Any]) -> str:
        return ""

    def event_type(self, headers: Mapping[str, str], payload: Mapping[str, Any]) -> str:
        return text(require(payload, "event"), "event")

    def delivery_id(self, headers: Mapping[str, str], payload: Mapping[str, Any]) -> str:
        event_id = text(optional(payload, "event_id"), "event_id")
        if event_id:
            return event_id
        tracking_id = text(optional(payload, "msg.id"), "msg.id")
        ts = text(optional(payload, "ts"), "ts")
        if tracking_id and ts != "":
            return f"{tracking_id}:{ts}"
        raise PayloadError("event_id")

    def parse(self, event_type: str, payload: Mapping[str, Any]) -> list[Update]:
        if event_type != TRACKING_UPDATE:
            raise UnsupportedEvent(f"AfterShip event {event_type!r} is not handled")
        msg = require(payload, "msg")
        if not isinstance(msg, Mapping):
            raise PayloadError("msg", "must be an object")
        tracking_code = text(require(payload, "msg.tracking_number"), "msg.tracking_number")
        shipment_type = text(optional(msg, "shipment_type"), "msg.shipment_type")
        return [
            ShipmentData(
                tracking_code=tracking_code,
                carrier=carrier_slug(text(optional(msg, "slug"), "msg.slug")),
                order=_order_ref(msg),
                service_level=shipment_type or None,
                carrier_estimated_delivery=_carrier_estimate(msg),
                events=_events(payload, msg),
            )
        ]


def _order_ref(msg: Mapping[str, Any]) -> OrderRef | None:
    ref = OrderRef(
        external_id=text(optional(msg, "order_id"), "msg.order_id"),
        order_number=text(optional(msg, "order_number"), "msg.order_number").removeprefix("#").strip(),
    )
    return ref if ref else None


def _carrier_estimate(msg: Mapping[str, Any]) -> datetime | None:
    """The carrier's own delivery estimate, by the most specific field the webhook version carries.

    AfterShip's AI and custom estimates are left out on purpose: the hub compares the carrier's
    promise with what the carrier does.
    """
    paths = [
        "courier_estimated_delivery_date.estimated_delivery_date",
        "courier_estimated_delivery_date.estimated_delivery_date_max",
    ]
    if optional(msg, "latest_estimated_delivery.source") == "Carrier EDD":
        paths += ["latest_estimated_delivery.datetime", "latest_estimated_delivery.datetime_max"]
    paths.append("expected_delivery")  # legacy v4 webhooks
    for path in paths:
        value = optional(msg, path)
        if value:
            return _parse_time(value, f"msg.{path}")
    return None


def _events(payload: Mapping[str, Any], msg: Mapping[str, Any]) -> list[TrackingEventData]:
    checkpoints = optional(msg, "checkpoints", [])
    if not isinstance(checkpoints, list):
        raise PayloadError("msg.checkpoints", "must be a list")
    if not checkpoints:
        return [_tracking_level_event(payload, msg)]
    events = []
    for i, checkpoint in enumerate(checkpoints):
        path = f"msg.checkpoints[{i}]"
        if not isinstance(checkpoint, Mapping):
            raise PayloadError(path, "must be an object")
        raw_time = optional(checkpoint, "checkpoint_time")
        if not raw_time:
            raise PayloadError(f"{path}.checkpoint_time")
        tag = text(optional(checkpoint, "tag"), f"{path}.tag")
        subtag = text(optional(checkpoint, "subtag"), f"{path}.subtag")
        message = text(optional(checkpoint, "message"), f"{path}.message")
        events.append(
            TrackingEventData(
                status=normalize_status(tag, subtag),
                occurred_at=_checkpoint_instant(raw_time, checkpoint, msg, path),
                dedupe_key=_dedupe_key(str(raw_time), tag, subtag, message),
                raw_status=tag,
                raw_detail=subtag,
                message=message,
                location=_location(checkpoint, path),
            )
        )
    return events


def _tracking_level_event(payload: Mapping[str, Any], msg: Mapping[str, Any]) -> TrackingEventData:
    """A tracking with no checkpoints yet (Pending, Expired, or a carrier that only reports a status)."""
    tag = text(optional(msg, "tag"), "msg.tag")
    subtag = text(optional(msg, "subtag"), "msg.subtag")
    message = text(optional(msg, "subtag_message"), "msg.subtag_message")
    updated_at = optional(msg, "updated_at")
    if updated_at:
        occurred_at, raw_time = _parse_time(updated_at, "msg.updated_at"), str(updated_at)
    else:
        ts = require(payload, "ts")
        try:
            occurred_at = datetime.fromtimestamp(int(ts), tz=UTC)
        except (TypeError, ValueError, OverflowError, OSError) as exc:
            raise PayloadError("ts", "is not a unix timestamp") from exc
        raw_time = str(ts)
    return TrackingEventData(
        status=normalize_status(tag, subtag),
        occurred_at=occurred_at,
        dedupe_key=_dedupe_key(raw_time, tag, subtag, message),
        raw_status=tag,
        raw_detail=subtag,
        message=message,
    )


def _location(checkpoint: Mapping[str, Any], path: str) -> str:
    def field(key: str) -> str:
        return text(optional(checkpoint, key), f"{path}.{key}")

    if location := field("location"):
        return location
    parts = [field("city"), field("state"), _country(checkpoint, path)]
    return ", ".join(part for part in parts if part)


def _country(data: Mapping[str, Any], path: str, prefix: str = "") -> str:
    """The ISO alpha-3 country `<prefix>country_region` (webhook versions 2025-01 and later) or
    `<prefix>country_iso3` (earlier versions) names, or ""."""
    for key in (f"{prefix}country_region", f"{prefix}country_iso3"):
        if country := text(optional(data, key), f"{path}.{key}"):
            return country
    return ""


def _checkpoint_instant(raw_time: Any, checkpoint: Mapping[str, Any], msg: Mapping[str, Any], path: str) -> datetime:
    """When a checkpoint happened. A checkpoint_time with an offset is that instant.

    One without an offset is the local time where the checkpoint was. It is read in the zone of the
    checkpoint's country when country_zone() finds one; a checkpoint that names no country is taken to
    be in the parcel's destination country. A checkpoint in a country of several offsets (the US) is never
    read in the destination's zone: it is not there. When no zone is found the time is read as UTC.
    Whatever the zone, a checkpoint cannot have happened after AfterShip recorded it (created_at, in UTC),
    so a reading later than created_at is created_at: a zone guessed wrong cannot put a scan after the moment
    AfterShip saw it. created_at is read only here, for a time without an offset.
    """
    local = _parse_time(raw_time, f"{path}.checkpoint_time", naive=True)
    if local.tzinfo is not None:
        return local
    country = (
        _country(checkpoint, path)
        or _country(msg, "msg", "destination_")
        or _country(msg, "msg", "courier_destination_")
    )
    instant = local.replace(tzinfo=country_zone(country, local) or UTC)
    if recorded := optional(checkpoint, "created_at"):
        recorded_at = _parse_time(recorded, f"{path}.created_at")
        try:
            recorded_at.astimezone(UTC)  # what replaces checkpoint_time must be a time the database can hold
        except OverflowError as exc:
            raise PayloadError(f"{path}.created_at", "is out of range") from exc
        instant = min(instant, recorded_at)
    return instant


# China has one legal time, Beijing's; the tz database's Asia/Urumqi is the unofficial Xinjiang time, which
# would otherwise leave every Chinese scan without a zone.
_LEGAL_ZONES = {"CN": "Asia/Shanghai"}


def country_zone(country: str, local: datetime) -> ZoneInfo | None:
    """The zone to read the naive `local` time in for a place in `country` (ISO 3166 alpha-3 or alpha-2,
    as CLDR knows it): one of the country's zones when all of them have the same UTC offset at that time
    (Germany, France, the UK, China, Japan), else None (the US, Canada, Australia, Russia, Brazil; a code
    CLDR does not know). Asked at `local`, so a country whose zones part only in summer is judged by the day.
    """
    code = country.strip().upper()
    aliases = get_global("territory_aliases").get(code, [])
    territory = aliases[0] if len(aliases) == 1 else code
    zones = _zones(territory) if territory in get_global("territory_zones") else ()
    if zones and len({local.replace(tzinfo=zone).utcoffset() for zone in zones}) == 1:
        return zones[0]
    return None


@functools.cache  # only territories CLDR has zones for get here: a few hundred entries at most
def _zones(territory: str) -> tuple[ZoneInfo, ...]:
    names = [_LEGAL_ZONES[territory]] if territory in _LEGAL_ZONES else get_global("territory_zones")[territory]
    try:
        return tuple(ZoneInfo(name) for name in names)
    except (ZoneInfoNotFoundError, ValueError):  # a zone newer than this machine's tz database
        return ()


def _dedupe_key(raw_time: str, tag: str, subtag: str, message: str) -> str:
    # AfterShip resends the whole checkpoint list on every update, so the key must come from the
    # checkpoint itself; the raw time string keeps it stable however we later parse it.
    digest = hashlib.sha1("\x1f".join((raw_time, tag, subtag, message)).encode()).hexdigest()
    return f"aftership:{digest[:32]}"


def _parse_time(value: Any, field: str, *, naive: bool = False) -> datetime:
    """Parse an AfterShip timestamp or date; one without an offset is UTC unless `naive` asks for it as is.

    AfterShip's own times (created_at, updated_at) are UTC. Estimates are dates (YYYY-MM-DD) in the
    recipient's timezone, taken as that date in UTC: close enough for day-level delay checks. A
    checkpoint_time may have no offset: `_checkpoint_instant` finds its zone.
    """
    if not isinstance(value, str):
        raise PayloadError(field, "is not an ISO 8601 timestamp")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise PayloadError(field, "is not an ISO 8601 timestamp") from exc
    return parsed if parsed.tzinfo or naive else parsed.replace(tzinfo=UTC)
