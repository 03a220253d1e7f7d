"""Signed carrier webhooks and the two ways of sending them: wrk (as fast as possible) and a paced sender.

Bodies are EasyPost `tracker.updated` Events built from the captured payload in tests/payloads/, for the
parcels of a pool (bench/data.py `add_pool`): the tracker's whole scan history, as EasyPost sends it,
plus one new scan. Each is signed with its store's secret by tests/signing.py, exactly as EasyPost signs.
"""

from __future__ import annotations

import copy
import datetime as dt
import http.client
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.signing import easypost_headers, load_json

from .common import PROXY_HEADERS
from .data import Generator, PoolParcel

WEBHOOK_PATH = "/webhooks/easypost/"
BARE_PATH = "/bench/bare/"


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _detail(at: float, status: str, detail: str, message: str) -> dict[str, Any]:
    location = {"object": "TrackingLocation", "city": "HOUSTON", "state": "TX", "country": "US", "zip": "77063"}
    return {"object": "TrackingDetail", "message": message, "description": "", "status": status,
            "status_detail": detail, "datetime": _iso(at), "source": "USPS", "carrier_code": "",
            "tracking_location": location}  # fmt: skip


@dataclass(frozen=True)
class Webhook:
    """One signed delivery, ready to post."""

    body: bytes
    signature: str
    parcel: PoolParcel
    event_id: str  # EasyPost's Event id: the delivery id the hub stores

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Type": "application/json", "X-Hmac-Signature": self.signature, **PROXY_HEADERS}


class WebhookFactory:
    """Signed EasyPost tracker.updated deliveries for pool parcels."""

    def __init__(self, secrets_by_store: dict[int, str]) -> None:
        self.template = load_json("easypost", "02_tracker_updated_in_transit")
        self.secrets = secrets_by_store

    def build(self, parcel: PoolParcel, new_scan: tuple[float, str, str, str]) -> Webhook:
        """A delivery repeating the parcel's history and adding `new_scan` (at, status, detail, message)."""
        at, status, detail, _ = new_scan
        history = [(e.at, *Generator._raw(e)) for e in parcel.history]
        event = copy.deepcopy(self.template)
        event_id = event["id"] = "evt_" + secrets.token_hex(16)
        event["created_at"] = event["updated_at"] = _iso(time.time())
        event["previous_attributes"] = {"status": "in_transit"}
        tracker = event["result"]
        tracker.update(
            id="trk_" + parcel.tracking_code.lower(),
            tracking_code=parcel.tracking_code,
            status=status,
            status_detail=detail,
            carrier="USPS",
            created_at=_iso(parcel.history[0].at),
            updated_at=_iso(at),
            est_delivery_date=_iso(at + 86400),
            tracking_details=[_detail(*scan) for scan in [*history, new_scan]],
        )
        body = json.dumps(event, separators=(",", ":")).encode()
        signature = easypost_headers(body, self.secrets[parcel.store_id])["HTTP_X_HMAC_SIGNATURE"]
        return Webhook(body, signature, parcel, event_id)


def in_transit_scan(index: int) -> tuple[float, str, str, str]:
    """A new mid-transit scan, a few minutes old: distinct per delivery so each one adds an event."""
    return (float(int(time.time()) - 600 + index % 500), "in_transit", "arrived_at_facility",
            f"Arrived at USPS Regional Facility (scan {index})")  # fmt: skip


def out_for_delivery_scan() -> tuple[float, str, str, str]:
    return (float(int(time.time()) - 30), "out_for_delivery", "out_for_delivery", "Out for Delivery")


def write_wrk_data(path: Path, webhooks: Iterable[Webhook]) -> Path:
    """One delivery a line, "signature<TAB>body", for bench/wrk/webhooks.lua (JSON has no raw tabs)."""
    with path.open("wb") as out:
        for webhook in webhooks:
            out.write(webhook.signature.encode() + b"\t" + webhook.body + b"\n")
    return path


# --- Paced sending ----------------------------------------------------------------------------------------------------


@dataclass
class Sent:
    index: int
    sent_at: float  # time.monotonic() just before the request left
    sent_wall: float  # the same moment by the wall clock, to compare with the database's timestamps
    seconds: float  # until the whole answer was read
    status: int


def requests_paced(
    base_url: str,
    count: int,
    rate: float,
    request: Callable[[int], tuple[str, str, bytes | None, Mapping[str, str]]],
    *,
    threads: int = 16,
) -> tuple[float, list[Sent]]:
    """Send `count` requests at a steady `rate` per second: the i-th, `request(i)` (method, path, body,
    headers), is due at start + i/rate and leaves then from one of `threads` connections, answered or not
    the earlier ones (an open loop); a sender that falls behind catches up at once. Returns the start
    (time.monotonic()) and each request's Sent record, in order."""
    address = urlsplit(base_url)
    results: list[Sent] = []
    lock = threading.Lock()
    cursor = iter(range(count))
    start = time.monotonic() + 0.2

    def sender() -> None:
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
        while True:
            with lock:
                index = next(cursor, None)
            if index is None:
                break
            method, path, body, headers = request(index)
            pause = start + index / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            sent_at, sent_wall = time.monotonic(), time.time()
            try:  # gunicorn's sync workers close each connection: http.client opens the next one
                connection.request(method, path, body=body, headers=dict(headers))
                answer = connection.getresponse()
                answer.read()
                status = answer.status
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
                status = 0
            with lock:
                results.append(Sent(index, sent_at, sent_wall, time.monotonic() - sent_at, status))
        connection.close()

    senders = [threading.Thread(target=sender, name=f"sender-{n}", daemon=True) for n in range(threads)]
    for thread in senders:
        thread.start()
    for thread in senders:
        thread.join()
    return start, sorted(results, key=lambda sent: sent.index)


def send_paced(base_url: str, webhooks: Sequence[Webhook], rate: float, *, threads: int = 16) -> list[Sent]:
    """POST the webhooks at a steady `rate` per second (see requests_paced); what was achieved is in the
    send times."""

    def request(index: int) -> tuple[str, str, bytes, Mapping[str, str]]:
        return "POST", WEBHOOK_PATH, webhooks[index].body, webhooks[index].headers

    return requests_paced(base_url, len(webhooks), rate, request, threads=threads)[1]


def achieved_rate(sent: Sequence[Sent]) -> float | None:
    if len(sent) < 2:
        return None
    span = max(s.sent_at for s in sent) - min(s.sent_at for s in sent)
    return round((len(sent) - 1) / span, 1) if span > 0 else None
