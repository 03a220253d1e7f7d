"""A realistic hub database at any size, loaded fast with COPY.

The model is a store group shipping a steady flow of parcels. The newest RECENT_DAYS hold the first
sweep size (100k shipments at full scale); older history is added to reach the second (1M). That is how a
hub grows: parcels in flight (and so the problems the detectors look for) follow the daily flow, while
the tables grow with history. Each order gets a life drawn at random — most parcels are delivered in a
few days; some are never scanned, stall, hit an exception, fail a delivery attempt, go back to the
sender or are claimed as not received; some orders are oversold, fail payment or are cancelled — and the
database holds that life as it stands at `ref_now`: shipments with their status and scan times, their
tracking events, orders, customers, line items and tickets.

The hub's own state is seeded the way it would be after running for months: every subject the detectors
matched at the previous sweep (5 minutes earlier) already has its case (found with the engine's own
queries), and delivered parcels of the past carry their resolved milestone cases. A sweep at `ref_now` then
finds what a production sweep finds: the few problems that appeared since the last one.

Rows are written with COPY and `session_replication_role = replica`, which skips the foreign-key triggers
(the generator keeps the keys consistent); ids are assigned here and the sequences moved past them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction

from .common import log

DAY = 86400.0
RECENT_DAYS = 30
STEADY_BEFORE = dt.timedelta(minutes=5)  # the previous sweep: SWEEP_INTERVAL_SECONDS' default
CHUNK = 20_000  # orders generated between two rounds of COPY

CARRIERS = [("usps", 0.35), ("ups", 0.25), ("fedex", 0.2), ("dhl", 0.12), ("canada-post", 0.08)]
FIRST_NAMES = ["Ada", "Ben", "Chloe", "Dev", "Elif", "Farah", "Gus", "Hana", "Ivan", "Jo", "Kai", "Lena", "Mo"]
LAST_NAMES = ["Smith", "Garcia", "Chen", "Okafor", "Novak", "Silva", "Kim", "Müller", "Haddad", "Rossi"]
CITIES = [("Austin", "TX", "78701"), ("Boston", "MA", "02108"), ("Denver", "CO", "80202"), ("Miami", "FL", "33101"),
          ("Seattle", "WA", "98101"), ("Chicago", "IL", "60601"), ("Portland", "OR", "97201")]  # fmt: skip
ABROAD = [("Toronto", "ON", "M5H 2N2", "CA"), ("London", "", "SW1A 1AA", "GB"), ("Berlin", "", "10115", "DE")]
PRODUCTS = [("Linen shirt", "LS", "25.00"), ("Canvas tote", "CT", "18.00"), ("Wool socks", "WS", "12.00"),
            ("Rain jacket", "RJ", "89.00"), ("Desk lamp", "DL", "45.00"), ("Tea sampler", "TS", "22.00")]  # fmt: skip
EASYPOST_RAW = {
    "label_created": ("pre_transit", "status_update", "Shipping Label Created, Awaiting Item"),
    "first_scan": ("in_transit", "received_at_origin_facility", "Accepted at Origin Facility"),
    "mid_scan": ("in_transit", "arrived_at_facility", "Arrived at Regional Destination Facility"),
    "out_for_delivery": ("out_for_delivery", "out_for_delivery", "Out for Delivery"),
    "delivered": ("delivered", "arrived_at_destination", "Delivered, Front Door/Porch"),
    "attempted_delivery": ("in_transit", "delivery_exception", "Delivery Attempted - No Access to Delivery Location"),
    "available_for_pickup": ("available_for_pickup", "arrived_at_pickup_location", "Available for Pickup"),
    "returned_to_sender": ("return_to_sender", "return", "Return to Sender Processed"),
    "cancelled": ("cancelled", "cancelled", "Label Voided"),
}
EXCEPTION_DETAILS = [("delayed", "Delayed: In Transit"), ("weather_delay", "Weather Delay"),
                     ("address_correction", "Address Correction Requested")]  # fmt: skip


# --- Timestamps and COPY ----------------------------------------------------------------------------------------------


NULL = "\\N"
_DATES: dict[int, str] = {}


def ts(epoch: float | None) -> str:
    """A COPY text value for timestamptz, to the second (\\N for NULL). Formatted by hand: millions of
    datetime.isoformat() calls were most of the loading time."""
    if epoch is None:
        return NULL
    day, second = divmod(int(epoch), 86400)
    date = _DATES.get(day)
    if date is None:
        date = _DATES[day] = time.strftime("%Y-%m-%d", time.gmtime(day * 86400))
    hour, rest = divmod(second, 3600)
    return f"{date} {hour:02d}:{rest // 60:02d}:{rest % 60:02d}+00"


def b(value: bool) -> str:
    return "t" if value else "f"


def copy_rows(table: str, columns: list[str], rows: list[str]) -> None:
    """COPY pre-formatted tab-separated lines (values never contain tabs, newlines or backslashes)."""
    if not rows:
        return
    with (
        connection.cursor() as cursor,
        cursor.connection.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for start in range(0, len(rows), 5000):
            copy.write("\n".join(rows[start : start + 5000]) + "\n")


@contextlib.contextmanager
def indexes_dropped(tables: list[str]) -> Iterator[None]:
    """Drop the tables' secondary indexes and unique constraints while loading and build them again
    after, from their own definitions: one build is far faster than a million index insertions."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT t.relname, i.relname, pg_get_indexdef(i.oid), c.conname, pg_get_constraintdef(c.oid)
            FROM pg_index x
            JOIN pg_class i ON i.oid = x.indexrelid
            JOIN pg_class t ON t.oid = x.indrelid
            LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.contype = 'u'
            WHERE t.relname = ANY(%s) AND NOT x.indisprimary
            """,
            [tables],
        )
        found = cursor.fetchall()
        for table, index, _, constraint, _ in found:
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {constraint}" if constraint else f"DROP INDEX {index}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for table, _, index_sql, constraint, constraint_sql in found:
                cursor.execute(
                    f"ALTER TABLE {table} ADD CONSTRAINT {constraint} {constraint_sql}" if constraint else index_sql
                )


def next_id(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}")
        return cursor.fetchone()[0]


def move_sequence(table: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT coalesce(max(id), 1) FROM {table}))"
        )


COLUMNS = {
    "orders_customer": ["id", "external_id", "first_name", "last_name", "email", "phone", "timezone",
                        "lifetime_value", "is_vip", "preferred_channel", "sms_opted_out_at", "email_opted_out_at",
                        "created_at", "store_id"],
    "orders_order": ["id", "external_id", "order_number", "placed_at", "currency", "subtotal", "shipping_total",
                     "tax_total", "discount_total", "total", "financial_status", "fulfillment_status",
                     "payment_reference", "cancelled_at", "ship_name", "ship_line1", "ship_line2", "ship_city",
                     "ship_region", "ship_postal_code", "ship_country", "address_verification", "is_international",
                     "promised_ship_by", "promised_deliver_by", "created_at", "updated_at", "customer_id",
                     "store_id", "source_updated_at"],
    "orders_lineitem": ["id", "external_id", "sku", "title", "variant", "quantity", "unit_price", "returnable",
                        "order_id"],
    "orders_shipment": ["id", "external_id", "carrier", "service_level", "tracking_code", "label_created_at",
                        "first_scan_at", "last_scan_at", "last_event_at", "status", "carrier_estimated_delivery",
                        "delivered_at", "created_at", "updated_at", "order_id", "store_id"],
    "orders_trackingevent": ["id", "status", "raw_status", "raw_detail", "message", "location", "occurred_at",
                             "source", "dedupe_key", "received_at", "shipment_id"],
    "orders_ticket": ["id", "external_id", "source", "channel", "reason", "subject", "body", "created_at",
                      "customer_id", "order_id", "store_id"],
}  # fmt: skip
NON_SCAN = {"label_created", "cancelled", "unknown"}


# --- One parcel's life ------------------------------------------------------------------------------------------------


@dataclass
class Event:
    at: float
    status: str
    raw: str  # key of EASYPOST_RAW, or "exception:<detail>"


def parcel_life(rng: random.Random, label_at: float, international: bool) -> tuple[list[Event], float, str]:
    """Every event of one parcel from its label to its end, the carrier's estimate, and its fate."""
    transit = rng.uniform(4.0, 9.0) if international else rng.uniform(1.5, 4.5)
    first = label_at + rng.uniform(0.05, 0.7) * DAY
    estimate = first + transit * DAY
    events = [Event(label_at, "label_created", "label_created")]
    fate = rng.random()
    if fate < 0.008:  # never handed to the carrier: the label is voided one or two weeks later
        events.append(Event(label_at + rng.uniform(7, 15) * DAY, "cancelled", "cancelled"))
        return events, estimate, "no_scan"
    events.append(Event(first, "in_transit", "first_scan"))
    mid = first + transit * 0.5 * DAY
    events.append(Event(mid, "in_transit", "mid_scan"))
    deliver = first + transit * DAY
    if fate < 0.023:  # stalls: silent for 3 to 12 days after the middle scan, then moves again
        stall = rng.uniform(3, 12) * DAY
        events.append(Event(mid + stall, "in_transit", "mid_scan"))
        deliver += stall
        fate_name = "stall"
    elif fate < 0.033:  # a carrier exception, then either delivered late or sent back
        detail, _ = rng.choice(EXCEPTION_DETAILS)
        events.append(Event(mid + 0.3 * DAY, "exception", f"exception:{detail}"))
        if rng.random() < 0.2:
            events.append(Event(mid + rng.uniform(3, 6) * DAY, "returned_to_sender", "returned_to_sender"))
            return events, estimate, "exception_returned"
        events.append(Event(mid + rng.uniform(2, 5) * DAY, "in_transit", "mid_scan"))
        deliver += 5 * DAY
        fate_name = "exception"
    elif fate < 0.037:  # goes back to the sender
        events.append(Event(mid + rng.uniform(1, 3) * DAY, "returned_to_sender", "returned_to_sender"))
        return events, estimate, "returned"
    elif fate < 0.067:  # a failed delivery attempt, then a second try or a pickup point
        events.append(Event(deliver, "attempted_delivery", "attempted_delivery"))
        if rng.random() < 0.3:
            events.append(Event(deliver + 0.6 * DAY, "available_for_pickup", "available_for_pickup"))
            deliver += rng.uniform(1, 3) * DAY
        else:
            deliver += 1 * DAY
            events.append(Event(deliver - 0.25 * DAY, "out_for_delivery", "out_for_delivery"))
        fate_name = "attempted"
    else:
        fate_name = "claim" if fate < 0.070 else "normal"
    if fate_name != "attempted":
        events.append(Event(deliver - 0.25 * DAY, "out_for_delivery", "out_for_delivery"))
    events.append(Event(deliver, "delivered", "delivered"))
    return events, estimate, fate_name


# --- Generations ------------------------------------------------------------------------------------------------------


@dataclass
class Counters:
    customers: int = 0
    orders: int = 0
    shipments: int = 0
    events: int = 0
    line_items: int = 0
    tickets: int = 0

    def add(self, other: Counters) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Ids:
    customer: int
    order: int
    shipment: int
    event: int
    line_item: int
    ticket: int

    @classmethod
    def next(cls) -> Ids:
        return cls(*(next_id(t) for t in ("orders_customer", "orders_order", "orders_shipment",
                                          "orders_trackingevent", "orders_lineitem", "orders_ticket")))  # fmt: skip


@dataclass(frozen=True)
class Placed:
    store: int
    order: int
    shipment: int | None
    customer: int
    fate: str
    events: list[Event]


@dataclass
class Batch:
    """Rows of one chunk, per table, as COPY lines."""

    rows: dict[str, list[str]] = field(default_factory=lambda: {table: [] for table in COLUMNS})

    def flush(self) -> None:
        for table, lines in self.rows.items():
            copy_rows(table, COLUMNS[table], lines)
            lines.clear()


def _line(*values: object) -> str:
    # Callers pass NULL and b() for None and booleans: str() of everything else is the COPY text.
    return "\t".join(map(str, values))


class Generator:
    """Writes orders (with customers, lines, shipments, events and tickets) placed between two moments."""

    def __init__(
        self, *, ref_now: float, stores: list[int], seed: int, dedupe: Callable[[Event, int], str] | None = None
    ) -> None:
        self.ref_now = ref_now
        # How each event's dedupe key is made: "seed:<n>" unless the webhooks must recognise the scans.
        self.dedupe = dedupe or (lambda event, index: f"seed:{index}")
        self.stores = stores
        self.rng = random.Random(seed)
        self.ids = Ids.next()
        self.count = Counters()
        self.batch = Batch()
        self.customers_by_store: dict[int, list[int]] = {store: [] for store in stores}
        carriers, weights = zip(*CARRIERS, strict=True)
        self.carriers, self.carrier_weights = list(carriers), list(weights)

    # Ids are handed out here; the COPY lines are written as they come.

    def _take(self, name: str) -> int:
        value = getattr(self.ids, name)
        setattr(self.ids, name, value + 1)
        return value

    def customer(self, store: int, created: float, *, phone: bool) -> int:
        rng = self.rng
        cid = self._take("customer")
        values = (cid, f"cus_{cid}", rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES), f"c{cid}@example.test",
                  f"+1555{cid:07d}" if phone else "", "", f"{rng.uniform(20, 900):.2f}", b(rng.random() < 0.02), "",
                  NULL, NULL, ts(created), store)  # fmt: skip
        self.batch.rows["orders_customer"].append(_line(*values))
        self.customers_by_store[store].append(cid)
        self.count.customers += 1
        return cid

    def order(self, placed: float, *, forced: str = "", phone_always: bool = False, carrier: str = "") -> Placed:
        """One order and what happened to it by ref_now."""
        rng = self.rng
        store = self.stores[self.count.orders % len(self.stores)]
        known = self.customers_by_store[store]
        if known and rng.random() < 0.2 and not phone_always:  # a returning customer
            customer = rng.choice(known)
        else:
            customer = self.customer(store, placed, phone=phone_always or rng.random() < 0.85)
        oid = self._take("order")
        self.count.orders += 1
        international = not forced and rng.random() < 0.12
        city, region, postal, country = rng.choice(ABROAD) if international else (*rng.choice(CITIES), "US")
        roll = rng.random()
        financial, cancelled_at, label_delay = "paid", None, rng.uniform(0.1, 1.5) * DAY
        if forced:
            label_delay = 0.0
        elif roll < 0.010:  # cancelled before anything shipped
            cancelled_at, label_delay = placed + rng.uniform(0.05, 1) * DAY, None
        elif roll < 0.013:  # the payment failed: nothing ships, and old ones end up cancelled
            financial, label_delay = "failed", None
            if self.ref_now - placed > 14 * DAY:
                cancelled_at = placed + 14 * DAY
        elif roll < 0.017:  # oversold: the label comes days after the promised ship-by date
            label_delay = rng.uniform(3, 10) * DAY
        verification = "failed" if rng.random() < 0.003 else ("verified" if rng.random() < 0.55 else "unverified")
        if forced:
            verification = "verified"  # a pool parcel must match no detector before its webhook
        label_at = placed + label_delay if label_delay is not None else None
        shipped = label_at is not None and label_at <= self.ref_now
        lines_total = self._line_items(oid)
        values = (oid, f"gid_{oid}", 100000 + oid, ts(placed), "USD", f"{lines_total:.2f}", "5.00", "0.00", "0.00",
                  f"{lines_total + 5:.2f}", financial, "fulfilled" if shipped else "unfulfilled", f"pi_{oid}",
                  ts(cancelled_at), "Pat Doe", "1 Main Street", "", city, region, postal, country, verification,
                  b(international), ts(placed + 2 * DAY), ts(placed + 7 * DAY), ts(placed),
                  ts(label_at if shipped else placed), customer, store, NULL)  # fmt: skip
        self.batch.rows["orders_order"].append(_line(*values))
        if not shipped:
            return Placed(store, oid, None, customer, "unshipped", [])
        assert label_at is not None
        if forced:
            events, estimate, fate = self._forced_life(forced, label_at)
        else:
            events, estimate, fate = parcel_life(rng, label_at, international)
        sid = self._shipment(oid, store, events, estimate, carrier=carrier)
        self._tickets(oid, customer, store, events, fate)
        return Placed(store, oid, sid, customer, fate, [e for e in events if e.at <= self.ref_now])

    def _forced_life(self, forced: str, label_at: float) -> tuple[list[Event], float, str]:
        """In-transit parcels for the webhook benchmarks: scanned a day and a half ago, last seen yesterday,
        so none of them matches a detector before a webhook moves it."""
        assert forced == "in_transit"
        events = [
            Event(label_at, "label_created", "label_created"),
            Event(label_at + 0.1 * DAY, "in_transit", "first_scan"),
            Event(self.ref_now - 1 * DAY, "in_transit", "mid_scan"),
        ]
        return events, self.ref_now + 2 * DAY, "pool"

    def _line_items(self, oid: int) -> float:
        total = 0.0
        for _ in range(1 + (oid % 3 == 0) + (oid % 7 == 0)):
            title, sku, price = self.rng.choice(PRODUCTS)
            self.batch.rows["orders_lineitem"].append(
                _line(self._take("line_item"), "", f"{sku}-{oid % 5}", title, "M", 1, price, "t", oid)
            )
            self.count.line_items += 1
            total += float(price)
        return total

    def _shipment(self, oid: int, store: int, events: list[Event], estimate: float, *, carrier: str = "") -> int:
        now = self.ref_now
        seen = [e for e in events if e.at <= now]
        scans = [e.at for e in seen if e.status not in NON_SCAN]
        last = seen[-1]
        sid = self._take("shipment")
        final = last.status in ("delivered", "returned_to_sender", "cancelled")
        carrier = carrier or self.rng.choices(self.carriers, self.carrier_weights)[0]
        # Half the parcels still on their way carry a carrier estimate; the others get the history ETA.
        estimate_or_none = ts(estimate) if not final and sid % 2 else NULL
        delivered_at = ts(last.at) if last.status == "delivered" else NULL
        values = (sid, "", carrier, "Ground", f"BN{sid:012d}", ts(seen[0].at), ts(min(scans) if scans else None),
                  ts(max(scans) if scans else None), ts(last.at), last.status, estimate_or_none, delivered_at,
                  ts(seen[0].at), ts(last.at), oid, store)  # fmt: skip
        self.batch.rows["orders_shipment"].append(_line(*values))
        self.count.shipments += 1
        rows = self.batch.rows["orders_trackingevent"]
        first_event = self.ids.event
        for index, event in enumerate(seen):
            raw_status, raw_detail, message = self._raw(event)
            at = ts(event.at)
            rows.append(
                f"{first_event + index}\t{event.status}\t{raw_status}\t{raw_detail}\t{message}\tHOUSTON, TX, US 77063"
                f"\t{at}\teasypost\t{self.dedupe(event, index)}\t{at}\t{sid}"
            )
        self.ids.event += len(seen)
        self.count.events += len(seen)
        return sid

    @staticmethod
    def _raw(event: Event) -> tuple[str, str, str]:
        if event.raw.startswith("exception:"):
            detail = event.raw.split(":", 1)[1]
            return "in_transit", detail, dict(EXCEPTION_DETAILS)[detail]
        return EASYPOST_RAW[event.raw]

    def _tickets(self, oid: int, customer: int, store: int, events: list[Event], fate: str) -> None:
        rng = self.rng
        delivered = next((e.at for e in events if e.status == "delivered"), None)
        contacts = []
        if rng.random() < 0.03:  # "where is my order?" while it travels
            contacts.append(("wismo", events[0].at + rng.uniform(1, 4) * DAY, "Where is my order?"))
        if fate == "claim" and delivered is not None:
            contacts.append(("delivery_problem", delivered + rng.uniform(0.2, 3) * DAY, "It never arrived"))
        for reason, at, subject in contacts:
            if at > self.ref_now:
                continue
            self.batch.rows["orders_ticket"].append(
                _line(self._take("ticket"), "", "api", "email", reason, subject, "", ts(at), customer, oid, store)
            )
            self.count.tickets += 1

    def flush(self) -> None:
        self.batch.flush()

    def finish(self) -> None:
        self.flush()
        for table in COLUMNS:
            move_sequence(table)


@contextlib.contextmanager
def bulk_load() -> Iterator[None]:
    """Skip foreign-key triggers while loading (needs a superuser, which the throwaway server gives)."""
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = DEFAULT")


def vacuum_analyze() -> float:
    """What autovacuum does on a live database (statistics, visibility map), done at once after loading."""
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")
    return time.monotonic() - started


# --- The hub's own configuration --------------------------------------------------------------------------------------


@dataclass
class StoreSecrets:
    store_id: int
    slug: str
    easypost: str


def configure_hub(store_count: int = 3) -> list[StoreSecrets]:
    """Stores with webhook secrets, and what `make demo` seeds: default playbooks, caps and templates.

    Playbooks keep their default 10% holdout in production; here it is 0 so that every event of the
    time-to-notify benchmark ends in an SMS (a held-out case sends nothing, by design, and would only
    thin the sample)."""
    from notifications.defaults import templates_seed
    from notifications.services import store_settings
    from orders.models import Store
    from playbooks.defaults import caps_seed, playbooks_seed
    from playbooks.models import Playbook

    stores = []
    for number in range(1, store_count + 1):
        store, _ = Store.objects.get_or_create(
            slug=f"bench-{number}",
            defaults={"name": f"Bench Store {number}", "easypost_webhook_secret": f"whsec_bench_easypost_{number}"},
        )
        templates_seed(store)
        caps_seed(store)
        store_settings(store.pk)
        stores.append(StoreSecrets(store.pk, store.slug, store.easypost_webhook_secret))
    playbooks_seed()
    Playbook.objects.update(holdout_percent=0)
    return stores


# --- Cases ------------------------------------------------------------------------------------------------------------


def seed_history_cases(first_shipment: int, last_shipment: int, before: dt.datetime) -> int:
    """The resolved milestone and post-delivery cases every delivered parcel leaves behind."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO playbooks_exceptioncase (kind, state, detected_at, facts, explanation, is_holdout,
                resolved_at, resolution, order_id, shipment_id, store_id)
            SELECT k.kind, 'resolved', s.delivered_at + k.after, '{}', '', false, s.delivered_at + k.after,
                   'The playbook has done everything it planned.', s.order_id, s.id, s.store_id
            FROM orders_shipment s
            CROSS JOIN (VALUES ('milestone_shipped', interval '-2 days'),
                               ('milestone_out_for_delivery', interval '-6 hours'),
                               ('milestone_delivered', interval '0'),
                               ('post_delivery', interval '2 days')) AS k(kind, after)
            WHERE s.id BETWEEN %s AND %s AND s.status = 'delivered' AND s.delivered_at < %s
            """,
            [first_shipment, last_shipment, before],
        )
        return cursor.rowcount


def seed_steady_cases(ref_now: dt.datetime) -> dict[str, int]:
    """Give every subject the detectors matched at the previous sweep its case, found with the engine's
    own query: resolved for informational kinds (they happen once), acting for the others (the playbook
    ran and the condition still holds)."""
    from playbooks.choices import CaseState
    from playbooks.detectors import DETECTORS
    from playbooks.engine import detector_settings, sweep_candidates
    from playbooks.models import ExceptionCase

    at = ref_now - STEADY_BEFORE
    created = {}
    for detector in DETECTORS.all():
        _, params = detector_settings(detector.kind)
        candidates = sweep_candidates(detector, at, params)
        if detector.subject == "shipment":
            rows = list(candidates.values_list("pk", "order_id", "store_id"))
        else:
            rows = [(None, pk, store) for pk, store in candidates.values_list("pk", "store_id")]
        informational = detector.resolves_when_acted
        cases = [
            ExceptionCase(
                store_id=store,
                order_id=order,
                shipment_id=shipment,
                kind=detector.kind,
                state=CaseState.RESOLVED if informational else CaseState.ACTING,
                detected_at=at,
                resolved_at=at if informational else None,
                resolution="The playbook has done everything it planned." if informational else "",
            )
            for shipment, order, store in rows
        ]
        with transaction.atomic():
            ExceptionCase.objects.bulk_create(cases, batch_size=5000)
        created[detector.kind] = len(cases)
    return created


# --- The dataset ------------------------------------------------------------------------------------------------------


@dataclass
class Dataset:
    """The database's contents as the benchmarks grow it: first the recent window, then history."""

    recent_size: int
    ref_now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC).replace(microsecond=0))
    stores: list[StoreSecrets] = field(default_factory=list)
    counts: Counters = field(default_factory=Counters)
    steps: list[dict[str, Any]] = field(default_factory=list)
    generations: int = 0

    @property
    def shipments(self) -> int:
        return self.counts.shipments

    def configure(self) -> None:
        if not self.stores:
            self.stores = configure_hub()

    def grow_to(self, shipments: int) -> None:
        """Add the recent window (up to recent_size shipments), then history up to `shipments`."""
        self.configure()
        recent_days = RECENT_DAYS * DAY
        now = self.ref_now.timestamp()
        if self.shipments < min(shipments, self.recent_size):
            self._generation("recent", min(shipments, self.recent_size), now - recent_days, now)
        if self.shipments < shipments:
            history = recent_days * (shipments - self.recent_size) / self.recent_size
            start = now - recent_days - history
            self._generation("history", shipments - self.shipments, start, now - recent_days)

    def _generation(self, name: str, shipments: int, start: float, end: float) -> None:
        log(f"seeding {shipments:,} shipments ({name}, {(end - start) / DAY:.0f} days)…")
        self.generations += 1
        started = time.monotonic()
        generator = Generator(ref_now=self.ref_now.timestamp(), stores=[s.store_id for s in self.stores],
                              seed=1000 + self.generations)  # fmt: skip
        first_shipment = generator.ids.shipment
        rng = random.Random(self.generations)
        with bulk_load(), indexes_dropped([*COLUMNS, "playbooks_exceptioncase"]):
            while generator.count.shipments < shipments:
                generator.order(rng.uniform(start, end))
                if generator.count.orders % CHUNK == 0:
                    generator.flush()
            generator.finish()
            loaded = time.monotonic() - started
            history_cases = seed_history_cases(
                first_shipment, generator.ids.shipment, self.ref_now - 10 * dt.timedelta(1)
            )
        indexed = time.monotonic() - started - loaded
        vacuum = vacuum_analyze()
        mark = time.monotonic()
        steady = seed_steady_cases(self.ref_now)
        vacuum += vacuum_analyze()
        self.counts.add(generator.count)
        step = {
            "generation": name,
            "rows": vars(generator.count).copy(),
            "history_cases": history_cases,
            "steady_cases": steady,
            "copy_s": round(loaded, 1),
            "rows_per_s": round(sum(vars(generator.count).values()) / loaded),
            "history_cases_and_indexes_s": round(indexed, 1),
            "steady_cases_s": round(time.monotonic() - mark, 1),
            "vacuum_analyze_s": round(vacuum, 1),
            "total_s": round(time.monotonic() - started, 1),
        }
        self.steps.append(step)
        log(f"seeded {name}: {step['rows']} in {step['total_s']}s (COPY {step['rows_per_s']:,} rows/s)")

    def table_sizes(self) -> dict[str, Any]:
        sizes = {}
        with connection.cursor() as cursor:
            for table in [*COLUMNS, "playbooks_exceptioncase", "orders_inbounddelivery", "notifications_message"]:
                cursor.execute(f"SELECT count(*), pg_total_relation_size('{table}') FROM {table}")
                rows, size = cursor.fetchone()
                sizes[table] = {"rows": rows, "mb_with_indexes": round(size / 1024 / 1024, 1)}
        return sizes


# --- Webhook pools ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolParcel:
    store_id: int
    shipment_id: int
    tracking_code: str
    phone: str
    history: list[Event]


def add_pool(dataset: Dataset, count: int, seed: int) -> list[PoolParcel]:
    """`count` USPS parcels in transit right now (scanned 1.5 days ago, last seen yesterday), one new
    customer with a phone each, whose seeded scans carry the dedupe keys EasyPost's connector computes for
    the same scans — so a webhook repeating that history adds only its new scan, as in production."""
    from orders.connectors.easypost import dedupe_key

    dataset.configure()
    now = float(int(time.time()))

    def easypost_key(event: Event, index: int) -> str:
        raw_status, raw_detail, message = Generator._raw(event)
        return dedupe_key(dt.datetime.fromtimestamp(event.at, dt.UTC), raw_status, raw_detail, message)

    generator = Generator(ref_now=now, stores=[s.store_id for s in dataset.stores], seed=seed, dedupe=easypost_key)
    parcels = []
    with bulk_load():
        for _ in range(count):
            placed = generator.order(float(int(now - 1.7 * DAY)), forced="in_transit", phone_always=True,
                                     carrier="usps")  # fmt: skip
            assert placed.shipment is not None
            parcels.append(
                PoolParcel(
                    placed.store,
                    placed.shipment,
                    f"BN{placed.shipment:012d}",
                    f"+1555{placed.customer:07d}",
                    placed.events,
                )
            )
        generator.finish()
    dataset.counts.add(generator.count)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE orders_shipment, orders_order, orders_customer, orders_trackingevent")
    return parcels
