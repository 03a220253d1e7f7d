"""Reads for the customer pages: everything a tracking page shows, in a constant number of queries."""

from __future__ import annotations

import hashlib
import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Exists, F, Model, OuterRef, Prefetch, QuerySet
from django.db.models.query import RawQuerySet
from django.utils import timezone

from cxhub.cache import cache_call
from orders.choices import FINAL_SHIPMENT_STATUSES, ShipmentStatus
from orders.eta import format_day
from orders.models import LineItem, Order, Shipment, Store, TrackingEvent
from playbooks.choices import RemedyState
from playbooks.dashboard import open_problems
from playbooks.models import ExceptionCase, Remedy

HISTORY_DAYS = 90
HISTORY_LIMIT = 500
# Fewer deliveries than this is no history: the page says nothing rather than guess.
HISTORY_MIN_DELIVERIES = 3
# How long the transit-time statistics of a set of carriers are reused before the query runs again.
HISTORY_CACHE_SECONDS = 60
EN_DASH = "\u2013"


class CompiledQuery:
    """A queryset over one key, compiled to SQL once per process and run with `raw()` for each key.

    Django builds and compiles a queryset every time one is evaluated: ~0.5 ms of CPU per query (2 ms for
    one with joins), several times what PostgreSQL takes to answer a lookup by key, and most of what a
    tracking page cost. The SQL is still the ORM's (the models' tables, columns, joins and quoting, for
    the database in use); `raw()` runs it with the fields' converters and builds the instances, and
    extra columns (annotations) become attributes."""

    # Stands for the key while compiling: no row has a negative key, and no other parameter is this number.
    _KEY = -739_104_285

    def __init__(self, build: Callable[[int], QuerySet]) -> None:
        self.build = build
        self.compiled: tuple[type[Model], str, str, tuple[Any, ...]] | None = None

    def __call__(self, key: int) -> RawQuerySet:
        if self.compiled is None:
            queryset = self.build(self._KEY)
            sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
            if sum(1 for p in params if p == self._KEY) != 1:
                raise ValueError(f"{queryset.model.__name__} query: the key must be its one parameter standing for it")
            self.compiled = (queryset.model, queryset.db, sql, tuple(params))
        model, alias, sql, params = self.compiled
        return model.objects.raw(sql, [key if p == self._KEY else p for p in params], using=alias)


@dataclass
class TrackingFacts:
    """Everything the tracking page shows about one order."""

    order: Order  # with its store (the columns the page shows)
    feedback_rating: int | None  # the customer's answer to "Did everything arrive OK?"
    customer_timezone: str  # the customer's own time zone, "" when unknown: the page's clock times read in it
    items: list[LineItem]
    shipments: list[Shipment]  # oldest first
    events: dict[int, list[TrackingEvent]]  # per shipment pk, newest first
    # Live problem cases (not milestones), oldest first, each with its done remedies (`case.remedies.all()`).
    live_cases: list[ExceptionCase]


# The columns the page reads: the rest (payment, customer, webhook secrets, raw carrier words) stay in the database.
# Not the street: the page shows the city, region and country only.
ORDER_FIELDS = ("id", "store", "order_number", "placed_at", "cancelled_at", "fulfillment_status", "is_international",
                "currency", "ship_city", "ship_region", "ship_country")  # fmt: skip
STORE_FIELDS = ("name", "logo_url", "primary_colour", "accent_colour", "support_email", "support_phone", "support_url",
                "timezone", "country")  # fmt: skip
SHIPMENT_FIELDS = ("id", "order", "carrier", "tracking_code", "status", "first_scan_at", "carrier_estimated_delivery",
                   "created_at")  # fmt: skip
EVENT_FIELDS = ("id", "shipment", "status", "message", "location", "occurred_at")
CASE_FIELDS = ("id", "order", "shipment", "kind", "state", "detected_at")
REMEDY_FIELDS = ("id", "case", "position", "action", "params", "amount", "state")


# The order, with its store's columns, its feedback and whether a problem case is live, in one row.
_ORDER = CompiledQuery(
    lambda order_id: (
        Order.objects.only(*ORDER_FIELDS)
        .annotate(
            # Problems only: milestones and care check-ins say nothing is wrong.
            has_live_cases=Exists(open_problems().filter(order=OuterRef("pk"))),
            feedback_rating=F("delivery_feedback__rating"),
            customer_timezone=F("customer__timezone"),  # the customer's zone, not the customer
            **{f"store_{name}": F(f"store__{name}") for name in STORE_FIELDS},
        )
        .filter(pk=order_id)
        .order_by()
    )
)
_ITEMS = CompiledQuery(lambda order_id: LineItem.objects.filter(order_id=order_id).only("title", "variant", "quantity"))
_SHIPMENTS = CompiledQuery(
    lambda order_id: Shipment.objects.filter(order_id=order_id).only(*SHIPMENT_FIELDS).order_by("created_at", "id")
)
_EVENTS = CompiledQuery(
    lambda order_id: (
        TrackingEvent.objects.filter(shipment__order_id=order_id).only(*EVENT_FIELDS).order_by("-occurred_at", "-id")
    )
)


def tracking_facts(order_id: int) -> TrackingFacts | None:
    """The order with everything its tracking page shows, or None when there is no such order.

    One query per kind of row, each by the order's key: the order with its store, its feedback, its
    customer's time zone and whether any case is live; items; shipments; their events (when there are
    shipments); live cases and their done remedies (only when there are some: most orders have none).
    Nothing is cached: every write to any of these rows shows on the next page."""
    order = next(iter(_ORDER(order_id)), None)
    if order is None:
        return None
    store_values = [order.store_id, *(getattr(order, f"store_{name}") for name in STORE_FIELDS)]
    order.store = Store.from_db(order._state.db, ["id", *STORE_FIELDS], store_values)
    items = list(_ITEMS(order_id))
    shipments = list(_SHIPMENTS(order_id))
    events: dict[int, list[TrackingEvent]] = {s.pk: [] for s in shipments}
    if shipments:
        for event in _EVENTS(order_id):
            events[event.shipment_id].append(event)
    live_cases: list[ExceptionCase] = []
    if order.has_live_cases:
        done = Remedy.objects.filter(state=RemedyState.DONE).only(*REMEDY_FIELDS).order_by("position")
        live_cases = list(
            open_problems()
            .filter(order_id=order_id)
            .only(*CASE_FIELDS)
            .prefetch_related(Prefetch("remedies", queryset=done))
            .order_by("detected_at")
        )
        for case in live_cases:
            # What the remedies' descriptions read (the currency, the store's country), without a query each.
            case.order, case.store = order, order.store
    return TrackingFacts(
        order=order,
        feedback_rating=order.feedback_rating,
        customer_timezone=order.customer_timezone or "",
        items=items,
        shipments=shipments,
        events=events,
        live_cases=live_cases,
    )


@dataclass(frozen=True)
class EtaRange:
    earliest: date
    latest: date

    def __str__(self) -> str:
        return format_date_range(self.earliest, self.latest)


def _day(d: date) -> str:
    return f"{d:%a} {d.day}"


def format_date_range(earliest: date, latest: date) -> str:
    """ "Tue 24 to Thu 26 Nov" (with an en dash), "Mon 30 Nov to Wed 2 Dec", or "Tue 24 Nov" for one day."""
    if earliest == latest:
        return format_day(earliest)
    if (earliest.year, earliest.month) == (latest.year, latest.month):
        return f"{_day(earliest)} {EN_DASH} {_day(latest)} {latest:%b}"
    return f"{_day(earliest)} {earliest:%b} {EN_DASH} {_day(latest)} {latest:%b}"


def _percentile(sorted_values: list[timedelta], share: float) -> timedelta:
    """Nearest-rank percentile of a sorted, non-empty list."""
    rank = max(1, math.ceil(share * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass(frozen=True)
class TransitTimes:
    """A carrier's recent transit times (first scan to delivery), as the estimate uses them."""

    deliveries: int
    typical: timedelta  # the median (low)
    late: timedelta  # the 80th percentile


def _history(carriers: Iterable[str], international: bool, now: datetime) -> dict[str, TransitTimes]:
    """Transit times of recent deliveries, per carrier, in one query.

    A statistic over the hub's last deliveries (up to 500 in 90 days), the same for every order of these
    carriers and destination type: kept in the cache for HISTORY_CACHE_SECONDS, so the query runs about
    once a minute per carrier set instead of on every page of a parcel in transit. Nothing about the
    visitor's own order is cached here: its shipments' first scans and today's date are applied per page."""
    wanted = sorted(set(carriers))
    key = f"portal:eta-history:{int(international)}:" + hashlib.sha256("\n".join(wanted).encode()).hexdigest()
    times = cache_call("get", key)
    if times is None:
        times = _history_query(wanted, international, now)
        cache_call("set", key, times, HISTORY_CACHE_SECONDS)
    return times


def _history_query(carriers: list[str], international: bool, now: datetime) -> dict[str, TransitTimes]:
    rows = (
        Shipment.objects.filter(
            carrier__in=carriers,
            order__is_international=international,
            status=ShipmentStatus.DELIVERED,
            delivered_at__gte=now - timedelta(days=HISTORY_DAYS),
            first_scan_at__isnull=False,
        )
        .order_by("-delivered_at")
        .values_list("carrier", "first_scan_at", "delivered_at")[:HISTORY_LIMIT]
    )
    durations: dict[str, list[timedelta]] = defaultdict(list)
    for carrier, first_scan_at, delivered_at in rows:
        if delivered_at >= first_scan_at:
            durations[carrier].append(delivered_at - first_scan_at)
    return {
        carrier: TransitTimes(len(values), statistics.median_low(values), _percentile(sorted(values), 0.8))
        for carrier, values in durations.items()
    }


def _range(shipment: Shipment, times: TransitTimes | None, now: datetime, tz) -> EtaRange | None:
    if times is None or times.deliveries < HISTORY_MIN_DELIVERIES:
        return None
    start = shipment.first_scan_at or now
    earliest = start + times.typical
    latest = start + times.late
    if latest < now:
        return None  # later than the hub's history says: the exception notice speaks, not a guess
    earliest = max(earliest, now)
    return EtaRange(timezone.localtime(earliest, tz).date(), timezone.localtime(latest, tz).date())


def needs_history_eta(shipment: Shipment) -> bool:
    return shipment.carrier_estimated_delivery is None and shipment.status not in FINAL_SHIPMENT_STATUSES


def etas_from_history(order: Order, shipments: list[Shipment]) -> dict[int, EtaRange | None]:
    """History-based ranges for the shipments with no carrier estimate that are still on their way.

    At most one query for the whole order (its shipments share its domestic/international flag), and none
    while the cache holds the transit times of these carriers."""
    pending = [s for s in shipments if needs_history_eta(s)]
    if not pending:
        return {}
    now = timezone.now()
    tz = timezone.get_current_timezone()
    history = _history((s.carrier for s in pending), order.is_international, now)
    return {s.pk: _range(s, history.get(s.carrier), now, tz) for s in pending}


def eta_from_history(shipment: Shipment) -> EtaRange | None:
    """The median to 80th-percentile delivery window for one shipment, from the hub's own deliveries of
    the same carrier and destination type in the last 90 days; None when there is no such history."""
    if not needs_history_eta(shipment):
        return None
    return etas_from_history(shipment.order, [shipment]).get(shipment.pk)
