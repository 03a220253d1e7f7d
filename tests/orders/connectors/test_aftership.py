"""AfterShipConnector: signature, event naming, payload -> facts, local scan times, and the tag/subtag table.

Pure unit tests: no database, no Django test client. Payloads are tests/payloads/aftership/*.json:
one UPS parcel (1Z999AA10123456784, order #1001) through six tracking_update deliveries, and a parcel
from Shenzhen to Berlin whose scans carry local times without an offset (cross_border_local_times).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from django.utils.datastructures import CaseInsensitiveMapping

from orders.connectors.aftership import AfterShipConnector, country_zone, normalize_status, status_map
from orders.connectors.base import PayloadError, SignatureError, UnsupportedEvent
from orders.updates import OrderRef, ShipmentData, TrackingEventData

PAYLOADS = Path(__file__).resolve().parents[2] / "payloads" / "aftership"
SECRET = "as_whsec_3f9c2b7e1d0a4c8f"
EST = timezone(timedelta(hours=-5))
CST = timezone(timedelta(hours=-6))

connector = AfterShipConnector()


def raw(name: str) -> bytes:
    return (PAYLOADS / f"{name}.json").read_bytes()


def load(name: str) -> dict[str, Any]:
    return json.loads(raw(name))


def sign(body: bytes, secret: str = SECRET) -> str:
    """AfterShip's documented recipe: base64 of HMAC-SHA256 over the raw body, keyed by the secret."""
    return base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()).decode()


def Headers(**values: str) -> CaseInsensitiveMapping:
    """Case-insensitive lookups, like Django's request.headers."""
    return CaseInsensitiveMapping(values)


# -- the parcel's seven checkpoints, as the hub should record them -----------------------------------

INFO_RECEIVED = TrackingEventData(
    status="label_created",
    # The fixture's first checkpoint_time has no offset and is in the US, a country of several offsets:
    # read as UTC (AfterShip recorded it later, at 19:20:41 UTC, so it stands).
    occurred_at=datetime(2026, 2, 16, 14, 2, 11, tzinfo=UTC),
    dedupe_key="aftership:20e3545256500a832ec3c5af3cfe4ecc",
    raw_status="InfoReceived",
    raw_detail="InfoReceived_001",
    message="Shipper created a label, UPS has not received the package yet.",
    location="USA",
)
ORIGIN_SCAN = TrackingEventData(
    status="in_transit",
    occurred_at=datetime(2026, 2, 16, 19, 47, tzinfo=EST),
    dedupe_key="aftership:e6e177c0b3622fe5ef4fd7b118c8946e",
    raw_status="InTransit",
    raw_detail="InTransit_002",
    message="Origin Scan",
    location="Louisville, KY, United States",
)
DEPARTED = TrackingEventData(
    status="in_transit",
    occurred_at=datetime(2026, 2, 17, 3, 12, tzinfo=EST),
    dedupe_key="aftership:5009911485e56c26b265d6fbf7329320",
    raw_status="InTransit",
    raw_detail="InTransit_007",
    message="Departed from Facility",
    location="Louisville, KY, United States",
)
WEATHER_DELAY = TrackingEventData(
    status="exception",
    occurred_at=datetime(2026, 2, 18, 6, 30, tzinfo=CST),
    dedupe_key="aftership:c80247c436950c0d71479b91cc8fe4c2",
    raw_status="Exception",
    raw_detail="Exception_005",
    message="A severe weather condition has delayed delivery. / Your delivery date has been updated.",
    location="Hodgkins, IL, United States",
)
ATTEMPT_FAILED = TrackingEventData(
    status="attempted_delivery",
    occurred_at=datetime(2026, 2, 20, 17, 26, tzinfo=CST),
    dedupe_key="aftership:db826a532cbe2f45001aa21ee9f94b96",
    raw_status="AttemptFail",
    raw_detail="AttemptFail_002",
    message="The receiver was not available for delivery. We'll make a second attempt the next business day.",
    location="Evanston, IL, United States",
)
OUT_FOR_DELIVERY = TrackingEventData(
    status="out_for_delivery",
    occurred_at=datetime(2026, 2, 21, 8, 2, tzinfo=CST),
    dedupe_key="aftership:9650302ed5752dfb299f695a3b53b205",
    raw_status="OutForDelivery",
    raw_detail="OutForDelivery_001",
    message="Out For Delivery Today",
    location="Evanston, IL, United States",
)
DELIVERED = TrackingEventData(
    status="delivered",
    occurred_at=datetime(2026, 2, 21, 13, 48, tzinfo=CST),
    dedupe_key="aftership:5dd6c01be7b44f156c7815138bbbbf61",
    raw_status="Delivered",
    raw_detail="Delivered_001",
    message="Delivered",
    location="Evanston, IL, United States",
)
JOURNEY = [INFO_RECEIVED, ORIGIN_SCAN, DEPARTED, WEATHER_DELAY, ATTEMPT_FAILED, OUT_FOR_DELIVERY, DELIVERED]


def shipment(events: list[TrackingEventData], estimate: str) -> ShipmentData:
    return ShipmentData(
        tracking_code="1Z999AA10123456784",
        carrier="ups",
        order=OrderRef(external_id="5843191628024", order_number="1001"),
        service_level="UPS Ground",
        # A date-only estimate is that date at 00:00 UTC.
        carrier_estimated_delivery=datetime.fromisoformat(estimate).replace(tzinfo=UTC),
        events=events,
    )


# -- verify ----------------------------------------------------------------------------------------


def test_verify_accepts_the_documented_signature() -> None:
    body = raw("06_delivered")
    connector.verify(body, Headers(**{"Aftership-Hmac-Sha256": sign(body)}), SECRET)


def test_verify_reads_the_header_in_any_case() -> None:
    body = raw("01_info_received")
    connector.verify(body, Headers(**{"aftership-hmac-sha256": sign(body)}), SECRET)


def test_verify_rejects_a_signature_made_with_another_secret() -> None:
    body = raw("06_delivered")
    with pytest.raises(SignatureError):
        connector.verify(body, Headers(**{"aftership-hmac-sha256": sign(body, "someone-else")}), SECRET)


def test_verify_rejects_a_tampered_body() -> None:
    body = raw("06_delivered")
    signature = sign(body)
    tampered = body.replace(b'"Delivered_001"', b'"Exception_013"', 1)
    with pytest.raises(SignatureError):
        connector.verify(tampered, Headers(**{"aftership-hmac-sha256": signature}), SECRET)


def test_verify_rejects_a_hex_digest() -> None:
    body = raw("06_delivered")
    hex_digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    with pytest.raises(SignatureError):
        connector.verify(body, Headers(**{"aftership-hmac-sha256": hex_digest}), SECRET)


@pytest.mark.parametrize("headers", [Headers(), Headers(**{"aftership-hmac-sha256": ""})])
def test_verify_rejects_a_missing_signature(headers: Headers) -> None:
    with pytest.raises(SignatureError):
        connector.verify(raw("06_delivered"), headers, SECRET)


def test_verify_rejects_when_no_secret_is_configured() -> None:
    body = raw("06_delivered")
    with pytest.raises(SignatureError):
        connector.verify(body, Headers(**{"aftership-hmac-sha256": sign(body, "")}), "")


def test_verify_ignores_the_returns_product_header() -> None:
    body = raw("06_delivered")
    with pytest.raises(SignatureError):
        connector.verify(body, Headers(**{"as-signature-hmac-sha256": sign(body)}), SECRET)


# -- naming the delivery ---------------------------------------------------------------------------


def test_class_attributes() -> None:
    assert connector.source == "aftership"
    assert connector.label == "AfterShip"
    assert connector.secret_field == "aftership_webhook_secret"
    assert connector.secret_setting == "AFTERSHIP_WEBHOOK_SECRET"
    assert connector.status_map is status_map


def test_store_hint_is_empty() -> None:
    assert connector.store_hint(Headers(), load("06_delivered")) == ""


def test_event_type() -> None:
    assert connector.event_type(Headers(), load("03_exception")) == "tracking_update"


def test_event_type_missing() -> None:
    payload = load("03_exception")
    del payload["event"]
    with pytest.raises(PayloadError) as excinfo:
        connector.event_type(Headers(), payload)
    assert excinfo.value.field == "event"


def test_delivery_id_is_the_event_id() -> None:
    assert connector.delivery_id(Headers(), load("03_exception")) == "a9c41f02-7e5b-4d18-8b2a-3f6e0c9d4a71"


def test_every_fixture_has_its_own_delivery_id() -> None:
    names = sorted(p.stem for p in PAYLOADS.glob("*.json"))
    assert len(names) == 7
    assert len({connector.delivery_id(Headers(), load(n)) for n in names}) == 7


def test_delivery_id_falls_back_to_tracking_id_and_ts() -> None:
    payload = load("03_exception")
    del payload["event_id"]
    assert connector.delivery_id(Headers(), payload) == "b7c3e1a9f04d4b6e8a2c5d7f9e1b3a5c:1771419750"


@pytest.mark.parametrize("drop", ["ts", "msg.id", "msg"])
def test_delivery_id_missing(drop: str) -> None:
    payload = load("03_exception")
    del payload["event_id"]
    if drop == "msg.id":
        del payload["msg"]["id"]
    else:
        del payload[drop]
    with pytest.raises(PayloadError) as excinfo:
        connector.delivery_id(Headers(), payload)
    assert excinfo.value.field == "event_id"


# -- updates: the parcel's journey -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "checkpoints", "estimate"),
    [
        ("01_info_received", 1, "2026-02-19"),
        ("02_in_transit", 3, "2026-02-19"),
        ("03_exception", 4, "2026-02-20"),
        ("04_attempt_fail", 5, "2026-02-21"),
        ("05_out_for_delivery", 6, "2026-02-21"),
        ("06_delivered", 7, "2026-02-21"),
    ],
)
def test_updates_for_each_delivery(name: str, checkpoints: int, estimate: str) -> None:
    assert connector.updates("tracking_update", load(name)) == [shipment(JOURNEY[:checkpoints], estimate)]


def test_repeated_checkpoints_keep_their_dedupe_keys() -> None:
    early = connector.updates("tracking_update", load("02_in_transit"))[0]
    late = connector.updates("tracking_update", load("06_delivered"))[0]
    assert [e.dedupe_key for e in early.events] == [e.dedupe_key for e in late.events[:3]]
    assert len({e.dedupe_key for e in late.events}) == 7


def test_dedupe_key_is_sha1_of_time_tag_subtag_message() -> None:
    event = connector.updates("tracking_update", load("06_delivered"))[0].events[-1]
    fields = ("2026-02-21T13:48:00-06:00", "Delivered", "Delivered_001", "Delivered")
    assert event.dedupe_key == "aftership:" + hashlib.sha1("\x1f".join(fields).encode()).hexdigest()[:32]


def test_unsupported_events() -> None:
    for event in ("edd_revise", "tracking_pending_time", "return.approved"):
        with pytest.raises(UnsupportedEvent):
            connector.updates(event, load("06_delivered"))


# -- updates: optional and alternative fields ------------------------------------------------------


def delivered(**changes: Any) -> dict[str, Any]:
    payload = copy.deepcopy(load("06_delivered"))
    payload["msg"].update(changes)
    return payload


def one(payload: dict[str, Any]) -> ShipmentData:
    [update] = connector.updates("tracking_update", payload)
    assert isinstance(update, ShipmentData)
    return update


def test_no_order_reference_when_aftership_has_none() -> None:
    assert one(delivered(order_id=None, order_number=None)).order is None
    assert one(delivered(order_id="", order_number="")).order is None


def test_order_number_alone() -> None:
    assert one(delivered(order_id=None, order_number="1001")).order == OrderRef(order_number="1001")


def test_service_level_absent() -> None:
    assert one(delivered(shipment_type=None)).service_level is None


def test_estimate_with_a_time_and_offset() -> None:
    estimate = {"estimated_delivery_date": "2026-02-21T20:00:00-06:00"}
    got = one(delivered(courier_estimated_delivery_date=estimate)).carrier_estimated_delivery
    assert got == datetime(2026, 2, 22, 2, 0, tzinfo=UTC)


def test_estimate_range_uses_its_upper_end() -> None:
    estimate = {
        "estimated_delivery_date": None,
        "estimated_delivery_date_min": "2026-02-20",
        "estimated_delivery_date_max": "2026-02-23",
    }
    got = one(delivered(courier_estimated_delivery_date=estimate)).carrier_estimated_delivery
    assert got == datetime(2026, 2, 23, tzinfo=UTC)


def test_estimate_from_latest_estimated_delivery_only_when_the_carrier_gave_it() -> None:
    carrier = {"type": "specific", "source": "Carrier EDD", "datetime": "2026-02-24"}
    ai = {"type": "specific", "source": "AfterShip EDD", "datetime": "2026-02-25"}
    got = one(delivered(courier_estimated_delivery_date=None, latest_estimated_delivery=carrier))
    assert got.carrier_estimated_delivery == datetime(2026, 2, 24, tzinfo=UTC)
    got = one(delivered(courier_estimated_delivery_date=None, latest_estimated_delivery=ai))
    assert got.carrier_estimated_delivery is None


def test_estimate_from_legacy_expected_delivery() -> None:
    # v4 webhooks carry neither courier_estimated_delivery_date nor latest_estimated_delivery.
    payload = delivered(expected_delivery="2026-02-22")
    del payload["msg"]["courier_estimated_delivery_date"], payload["msg"]["latest_estimated_delivery"]
    got = one(payload)
    assert got.carrier_estimated_delivery == datetime(2026, 2, 22, tzinfo=UTC)


def test_no_estimate() -> None:
    got = one(delivered(courier_estimated_delivery_date=None, latest_estimated_delivery=None))
    assert got.carrier_estimated_delivery is None


def test_location_from_parts_when_location_is_empty() -> None:
    payload = delivered()
    payload["msg"]["checkpoints"][-1]["location"] = None
    assert one(payload).events[-1].location == "Evanston, IL, USA"


def test_location_from_legacy_country_iso3() -> None:
    payload = delivered()
    checkpoint = payload["msg"]["checkpoints"][-1]
    checkpoint.update(location="", city="BOCA RATON", state="FL", country_iso3="USA")
    del checkpoint["country_region"]
    assert one(payload).events[-1].location == "BOCA RATON, FL, USA"


def test_checkpoint_time_in_utc() -> None:
    payload = delivered()
    payload["msg"]["checkpoints"][-1]["checkpoint_time"] = "2026-02-21T19:48:00Z"
    assert one(payload).events[-1].occurred_at == datetime(2026, 2, 21, 19, 48, tzinfo=UTC)


def test_no_checkpoints_uses_the_tracking_status_and_updated_at() -> None:
    payload = delivered(
        checkpoints=[], tag="Pending", subtag="Pending_001", subtag_message="Pending", order_number="#1001"
    )
    [event] = one(payload).events
    fields = ("2026-02-21T20:07:21+00:00", "Pending", "Pending_001", "Pending")
    assert event == TrackingEventData(
        status="unknown",
        occurred_at=datetime(2026, 2, 21, 20, 7, 21, tzinfo=UTC),
        dedupe_key="aftership:" + hashlib.sha1("\x1f".join(fields).encode()).hexdigest()[:32],
        raw_status="Pending",
        raw_detail="Pending_001",
        message="Pending",
    )


def test_no_checkpoints_and_no_updated_at_uses_ts() -> None:
    payload = delivered(checkpoints=[], tag="Expired", subtag="Expired_001", subtag_message="Expired")
    del payload["msg"]["updated_at"]
    [event] = one(payload).events
    assert event.status == "unknown"
    assert event.occurred_at == datetime.fromtimestamp(1771704441, tz=UTC)


# -- updates: checkpoint times without an offset are local times -----------------------------------

BEIJING = timezone(timedelta(hours=8))
BERLIN_WINTER = timezone(timedelta(hours=1))


def key(raw_time: str, tag: str, subtag: str, message: str) -> str:
    return "aftership:" + hashlib.sha1("\x1f".join((raw_time, tag, subtag, message)).encode()).hexdigest()[:32]


def test_a_cross_border_parcel_s_local_times() -> None:
    # Shenzhen to Berlin in November: China is UTC+8, Germany UTC+1.
    [update] = connector.updates("tracking_update", load("cross_border_local_times"))
    assert [(e.occurred_at, e.location) for e in update.events] == [
        (datetime(2026, 11, 16, 10, 5, tzinfo=BEIJING), "Shenzhen, Guangdong, CHN"),
        (datetime(2026, 11, 16, 19, 40, tzinfo=BEIJING), "Shenzhen, Guangdong, CHN"),
        (datetime(2026, 11, 18, 1, 15, tzinfo=BEIJING), "Shenzhen, Guangdong, CHN"),
        (datetime(2026, 11, 19, 6, 50, tzinfo=BERLIN_WINTER), "Leipzig, DEU"),
        # No country on the checkpoint: the parcel's destination's.
        (datetime(2026, 11, 20, 11, 30, tzinfo=BERLIN_WINTER), ""),
        (datetime(2026, 11, 21, 8, 2, tzinfo=BERLIN_WINTER), "Berlin, Germany"),
    ]
    # In scan order, each before AfterShip recorded it.
    times = [e.occurred_at for e in update.events]
    assert times == sorted(times)
    recorded = [datetime.fromisoformat(c["created_at"]) for c in load("cross_border_local_times")["msg"]["checkpoints"]]
    assert all(at < seen for at, seen in zip(times, recorded, strict=True))


def cross_border(**changes: Any) -> dict[str, Any]:
    payload = copy.deepcopy(load("cross_border_local_times"))
    payload["msg"].update(changes)
    return payload


def first_checkpoint(payload: dict[str, Any], **changes: Any) -> datetime:
    payload["msg"]["checkpoints"][0].update(changes)
    return one(payload).events[0].occurred_at


@pytest.mark.parametrize(
    ("country", "local", "expected"),
    [
        ("DEU", "2026-02-16T14:02:11", datetime(2026, 2, 16, 13, 2, 11, tzinfo=UTC)),  # CET, UTC+1
        ("DEU", "2026-07-16T14:02:11", datetime(2026, 7, 16, 12, 2, 11, tzinfo=UTC)),  # CEST, UTC+2
        ("CHN", "2026-02-16T14:02:11", datetime(2026, 2, 16, 6, 2, 11, tzinfo=UTC)),  # one legal time, UTC+8
        ("JPN", "2026-02-16T14:02:11", datetime(2026, 2, 16, 5, 2, 11, tzinfo=UTC)),
        ("GBR", "2026-07-16T14:02:11", datetime(2026, 7, 16, 13, 2, 11, tzinfo=UTC)),  # BST
    ],
)
def test_a_local_time_in_a_country_of_one_offset_is_read_in_its_zone(country, local, expected) -> None:
    # The UPS fixture's first checkpoint, moved: AfterShip recorded it on 2026-02-16 at 19:20:41 UTC.
    payload = delivered()
    payload["msg"]["checkpoints"][0]["created_at"] = "2026-08-01T00:00:00+00:00"
    assert first_checkpoint(payload, country_region=country, checkpoint_time=local) == expected


def test_a_legacy_country_iso3_places_the_checkpoint_too() -> None:
    payload = delivered()
    checkpoint = payload["msg"]["checkpoints"][0]
    del checkpoint["country_region"]
    checkpoint["country_iso3"] = "DEU"
    assert first_checkpoint(payload) == datetime(2026, 2, 16, 13, 2, 11, tzinfo=UTC)


def test_a_checkpoint_without_a_country_is_placed_in_the_destination() -> None:
    payload = delivered(destination_country_region="FRA")
    assert first_checkpoint(payload, country_region=None) == datetime(2026, 2, 16, 13, 2, 11, tzinfo=UTC)


@pytest.mark.parametrize(
    "destination",
    [
        {"destination_country_region": None, "courier_destination_country_region": "FRA"},
        {"destination_country_region": None, "courier_destination_country_region": None,
         "destination_country_iso3": "FRA"},
    ],
    ids=["courier-destination", "legacy-destination"],
)  # fmt: skip
def test_the_destination_by_any_of_its_names(destination: dict[str, Any]) -> None:
    payload = delivered(**destination)
    assert first_checkpoint(payload, country_region=None) == datetime(2026, 2, 16, 13, 2, 11, tzinfo=UTC)


def test_a_destination_of_several_offsets_leaves_the_time_in_utc() -> None:
    # The fixture's parcel goes to the US.
    assert first_checkpoint(delivered(), country_region=None) == datetime(2026, 2, 16, 14, 2, 11, tzinfo=UTC)


def test_a_checkpoint_in_a_country_of_several_offsets_is_not_read_in_the_destination_s_zone() -> None:
    # The scan is in the US, wherever the parcel is going: Berlin's clock says nothing about it.
    payload = delivered(destination_country_region="DEU", courier_destination_country_region="DEU")
    assert first_checkpoint(payload) == datetime(2026, 2, 16, 14, 2, 11, tzinfo=UTC)


def test_no_country_at_all_is_utc() -> None:
    payload = delivered(destination_country_region=None, courier_destination_country_region=None)
    assert first_checkpoint(payload, country_region=None) == datetime(2026, 2, 16, 14, 2, 11, tzinfo=UTC)


def test_a_country_cldr_does_not_know_is_utc() -> None:
    assert first_checkpoint(delivered(), country_region="XKX") == datetime(2026, 2, 16, 14, 2, 11, tzinfo=UTC)


def test_a_local_time_later_than_aftership_recorded_it_is_the_time_it_was_recorded() -> None:
    # A Shenzhen scan with no country, on a parcel bound for the US: read as UTC it would be 8 hours after
    # AfterShip saw it. AfterShip recorded it at 02:31:47 UTC: no later than that.
    payload = cross_border(destination_country_region="USA", courier_destination_country_region="USA")
    assert first_checkpoint(payload, country_region=None) == datetime(2026, 11, 16, 2, 31, 47, tzinfo=UTC)


def test_created_at_with_another_offset_is_the_same_instant() -> None:
    payload = delivered()
    got = first_checkpoint(payload, created_at="2026-02-16T08:30:00-05:00")  # 13:30 UTC, before 14:02:11 UTC
    assert got == datetime(2026, 2, 16, 13, 30, tzinfo=UTC)


def test_a_local_time_before_created_at_is_kept() -> None:
    payload = delivered()
    got = first_checkpoint(payload, created_at="2026-02-16T14:02:11+00:00")
    assert got == datetime(2026, 2, 16, 14, 2, 11, tzinfo=UTC)


def test_without_created_at_nothing_bounds_the_local_time() -> None:
    payload = cross_border(destination_country_region="USA", courier_destination_country_region="USA")
    got = first_checkpoint(payload, country_region=None, created_at=None)
    assert got == datetime(2026, 11, 16, 10, 5, tzinfo=UTC)


def test_a_time_with_an_offset_is_that_instant_whatever_the_country_or_created_at() -> None:
    payload = delivered()
    got = first_checkpoint(
        payload, checkpoint_time="2026-02-16T14:02:11+09:00", country_region="DEU", created_at="2026-02-16T00:00:00Z"
    )
    assert got == datetime(2026, 2, 16, 14, 2, 11, tzinfo=timezone(timedelta(hours=9)))


def test_a_date_alone_is_midnight_local() -> None:
    payload = cross_border()
    assert first_checkpoint(payload, checkpoint_time="2026-11-16") == datetime(2026, 11, 16, tzinfo=BEIJING)


def test_dedupe_keys_come_from_the_raw_time_whatever_zone_it_is_read_in() -> None:
    # A redelivery, or the next update resending the checkpoints, gives each checkpoint its key again, even
    # if it is read in another zone than the first time.
    first = one(cross_border()).events
    again = one(cross_border()).events
    moved = one(cross_border(destination_country_region="USA", courier_destination_country_region="USA")).events
    assert [e.dedupe_key for e in first] == [e.dedupe_key for e in again] == [e.dedupe_key for e in moved]
    assert first[4].occurred_at != moved[4].occurred_at
    fields = ("2026-11-16T10:05:00", "InfoReceived", "InfoReceived_001", "Shipment information received")
    assert first[0].dedupe_key == key(*fields)


@pytest.mark.parametrize("value", ["yesterday", "2026-02-31T10:00:00Z", 1771269641, ["2026-02-16"]])
def test_bad_created_at(value: Any) -> None:
    payload = delivered()
    payload["msg"]["checkpoints"][0]["created_at"] = value
    assert_payload_error(payload, "msg.checkpoints[0].created_at")


def test_a_created_at_no_clock_can_hold_is_refused() -> None:
    payload = delivered()
    payload["msg"]["checkpoints"][0]["created_at"] = "0001-01-01T00:00:00+05:00"
    with pytest.raises(PayloadError) as excinfo:
        connector.updates("tracking_update", payload)
    assert (excinfo.value.field, excinfo.value.problem) == ("msg.checkpoints[0].created_at", "is out of range")


def test_created_at_is_read_only_for_a_time_without_an_offset() -> None:
    payload = delivered()
    payload["msg"]["checkpoints"][1]["created_at"] = "yesterday"  # the Origin Scan has an offset: not read
    assert one(payload).events[1].occurred_at == ORIGIN_SCAN.occurred_at


def test_a_local_time_no_clock_can_hold_is_refused_naming_checkpoint_time() -> None:
    # Year 1 in China is before year 1 in UTC: orders.limits refuses it, by its name in the payload.
    payload = delivered()
    payload["msg"]["checkpoints"][0].update(checkpoint_time="0001-01-01T00:00:00", country_region="CHN")
    assert_payload_error(payload, "msg.checkpoints[0].checkpoint_time")


@pytest.mark.parametrize(
    ("path", "value"), [("destination_country_region", ["DEU"]), ("courier_destination_country_region", {"iso": "DE"})]
)
def test_a_destination_of_the_wrong_type_is_refused_when_it_is_needed(path: str, value: Any) -> None:
    payload = delivered(**{"destination_country_region": None, path: value})
    payload["msg"]["checkpoints"][0]["country_region"] = None
    assert_payload_error(payload, f"msg.{path}")


# -- country_zone: the zone a country's local times are read in ------------------------------------

WINTER = datetime(2026, 1, 15, 12, 0)
SUMMER = datetime(2026, 7, 15, 12, 0)


@pytest.mark.parametrize(
    ("country", "zone"),
    [
        ("DEU", "Europe/Berlin"),  # Europe/Busingen too, the same clock
        ("FRA", "Europe/Paris"),
        ("GBR", "Europe/London"),
        ("CHN", "Asia/Shanghai"),
        ("JPN", "Asia/Tokyo"),
        ("IND", "Asia/Kolkata"),
        ("DE", "Europe/Berlin"),  # alpha-2 as well
        (" deu ", "Europe/Berlin"),
    ],
)
def test_a_country_of_one_offset_has_a_zone(country: str, zone: str) -> None:
    assert str(country_zone(country, WINTER)) == zone


@pytest.mark.parametrize("country", ["USA", "CAN", "AUS", "RUS", "BRA", "MEX", "IDN", "ESP", "XKX", "ZZZ", ""])
def test_a_country_of_several_offsets_or_unknown_has_none(country: str) -> None:
    assert country_zone(country, WINTER) is None


def test_a_country_is_judged_at_the_local_time_asked() -> None:
    # Crimea keeps Moscow time (UTC+3) all year; the rest of Ukraine is UTC+2 in winter, UTC+3 in summer.
    assert country_zone("UKR", WINTER) is None
    assert str(country_zone("UKR", SUMMER)) == "Europe/Kyiv"


# -- updates: malformed payloads name the field ----------------------------------------------------


def assert_payload_error(payload: dict[str, Any], field: str) -> None:
    with pytest.raises(PayloadError) as excinfo:
        connector.updates("tracking_update", payload)
    assert excinfo.value.field == field


def test_missing_msg() -> None:
    payload = load("06_delivered")
    del payload["msg"]
    assert_payload_error(payload, "msg")


def test_msg_not_an_object() -> None:
    payload = load("06_delivered")
    payload["msg"] = ["not", "a", "tracking"]
    assert_payload_error(payload, "msg")


@pytest.mark.parametrize("value", [None, ""])
def test_missing_tracking_number(value: str | None) -> None:
    assert_payload_error(delivered(tracking_number=value), "msg.tracking_number")


def test_missing_checkpoint_time() -> None:
    payload = delivered()
    del payload["msg"]["checkpoints"][3]["checkpoint_time"]
    assert_payload_error(payload, "msg.checkpoints[3].checkpoint_time")


@pytest.mark.parametrize("value", ["yesterday", "2026-02-31T10:00:00", "21/02/2026 13:48", 1771704441])
def test_bad_checkpoint_time(value: Any) -> None:
    payload = delivered()
    payload["msg"]["checkpoints"][6]["checkpoint_time"] = value
    assert_payload_error(payload, "msg.checkpoints[6].checkpoint_time")


def test_bad_estimate() -> None:
    estimate = {"estimated_delivery_date": "soon"}
    assert_payload_error(
        delivered(courier_estimated_delivery_date=estimate),
        "msg.courier_estimated_delivery_date.estimated_delivery_date",
    )


def test_bad_updated_at_without_checkpoints() -> None:
    assert_payload_error(delivered(checkpoints=[], updated_at="not a time"), "msg.updated_at")


def test_no_time_at_all_without_checkpoints() -> None:
    payload = delivered(checkpoints=[])
    del payload["msg"]["updated_at"]
    del payload["ts"]
    assert_payload_error(payload, "ts")


def test_checkpoints_not_a_list() -> None:
    assert_payload_error(delivered(checkpoints={"0": {}}), "msg.checkpoints")


def test_checkpoint_not_an_object() -> None:
    payload = delivered()
    payload["msg"]["checkpoints"][1] = "Origin Scan"
    assert_payload_error(payload, "msg.checkpoints[1]")


# -- the status table: every documented tag and subtag ---------------------------------------------

# AfterShip's delivery statuses (aftership.com/docs/tracking/enum/delivery-statuses).
TAGS = {
    "Pending": "unknown",
    "InfoReceived": "label_created",
    "InTransit": "in_transit",
    "OutForDelivery": "out_for_delivery",
    "AttemptFail": "attempted_delivery",
    "Delivered": "delivered",
    "AvailableForPickup": "available_for_pickup",
    "Exception": "exception",
    "Expired": "unknown",
}

# AfterShip's delivery sub-statuses (aftership.com/docs/tracking/enum/delivery-sub-statuses, plus the
# help centre's 2026 additions), each with its documented subtag message.
SUBTAGS = {
    "Pending_001": ("Pending", "unknown"),
    "Pending_002": ("Pending", "unknown"),
    "Pending_003": ("Pending", "unknown"),
    "Pending_004": ("Pending", "unknown"),
    "Pending_005": ("Pending", "unknown"),
    "Pending_006": ("Pending", "unknown"),
    "InfoReceived_001": ("InfoReceived", "label_created"),  # Info Received
    "InTransit_001": ("InTransit", "in_transit"),  # In Transit
    "InTransit_002": ("InTransit", "in_transit"),  # Acceptance scan
    "InTransit_003": ("InTransit", "in_transit"),  # Arrival scan
    "InTransit_004": ("InTransit", "in_transit"),  # Arrived at destination country
    "InTransit_005": ("InTransit", "in_transit"),  # Customs clearance completed
    "InTransit_006": ("InTransit", "in_transit"),  # Customs clearance started
    "InTransit_007": ("InTransit", "in_transit"),  # Departure Scan
    "InTransit_008": ("InTransit", "in_transit"),  # Problem resolved
    "InTransit_009": ("InTransit", "in_transit"),  # Forwarded to a different delivery address
    "OutForDelivery_001": ("OutForDelivery", "out_for_delivery"),  # Out for Delivery
    "OutForDelivery_002": ("OutForDelivery", "available_for_pickup"),  # retired: now AvailableForPickup_001
    "OutForDelivery_003": ("OutForDelivery", "out_for_delivery"),  # Customer contacted
    "OutForDelivery_004": ("OutForDelivery", "out_for_delivery"),  # Delivery appointment scheduled
    "AttemptFail_001": ("AttemptFail", "attempted_delivery"),  # Failed Attempt
    "AttemptFail_002": ("AttemptFail", "attempted_delivery"),  # Addressee not available
    "AttemptFail_003": ("AttemptFail", "attempted_delivery"),  # Business Closed
    "AvailableForPickup_001": ("AvailableForPickup", "available_for_pickup"),  # Available for pickup
    "Delivered_001": ("Delivered", "delivered"),  # Delivered
    "Delivered_002": ("Delivered", "delivered"),  # Picked up by the customer
    "Delivered_003": ("Delivered", "delivered"),  # Sign by customer
    "Delivered_004": ("Delivered", "delivered"),  # Delivered and received cash on delivery
    "Delivered_005": ("Delivered", "delivered"),  # Delivered to neighbor
    "Exception_001": ("Exception", "exception"),  # Exception
    "Exception_002": ("Exception", "exception"),  # Customer moved
    "Exception_003": ("Exception", "exception"),  # Customer refused delivery
    "Exception_004": ("Exception", "exception"),  # Delayed (Customs clearance)
    "Exception_005": ("Exception", "exception"),  # Delayed (External factors)
    "Exception_006": ("Exception", "exception"),  # Held for payment
    "Exception_007": ("Exception", "exception"),  # Incorrect Address
    "Exception_008": ("Exception", "exception"),  # Pick up missed
    "Exception_009": ("Exception", "exception"),  # Rejected by carrier
    "Exception_010": ("Exception", "returned_to_sender"),  # Returning to sender
    "Exception_011": ("Exception", "returned_to_sender"),  # Returned to sender
    "Exception_012": ("Exception", "exception"),  # Shipment damage
    "Exception_013": ("Exception", "exception"),  # Shipment lost
    "Exception_016": ("Exception", "exception"),  # Delayed (Processing issue)
    "Exception_017": ("Exception", "exception"),  # Delayed (Extreme weather)
    "Exception_018": ("Exception", "exception"),  # Incorrect / missing documents
    "Exception_019": ("Exception", "exception"),  # Delayed (Late flight)
    "Exception_020": ("Exception", "cancelled"),  # Shipment cancelled
    "Exception_021": ("Exception", "exception"),  # Shipment disposed
    "Expired_001": ("Expired", "unknown"),  # Expired
}


@pytest.mark.parametrize(("tag", "expected"), TAGS.items())
def test_every_tag(tag: str, expected: str) -> None:
    assert normalize_status(tag) == expected
    assert status_map[tag] == expected


@pytest.mark.parametrize(("subtag", "tag", "expected"), [(s, t, e) for s, (t, e) in SUBTAGS.items()])
def test_every_subtag(subtag: str, tag: str, expected: str) -> None:
    assert normalize_status(tag, subtag) == expected
    assert status_map[subtag] == expected


def test_table_holds_exactly_the_documented_values() -> None:
    assert set(status_map) == set(TAGS) | set(SUBTAGS)


@pytest.mark.parametrize(
    ("tag", "subtag", "expected"),
    [
        ("Exception", "Exception_014", "exception"),  # undocumented subtag: its tag decides
        ("InTransit", "InTransit_011", "in_transit"),
        ("", "Delivered_009", "delivered"),  # no tag: the subtag's prefix decides
        ("Exception", "Exception_011", "returned_to_sender"),  # a known subtag beats its tag
        ("Exception", "", "exception"),
        ("Teleported", "Teleported_001", "unknown"),
        ("", "", "unknown"),
    ],
)
def test_unknown_values(tag: str, subtag: str, expected: str) -> None:
    assert normalize_status(tag, subtag) == expected
