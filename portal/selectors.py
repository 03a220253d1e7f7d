"""Reads for the customer pages: everything a tracking page shows, in a constant number of queries."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Prefetch
from django.utils import timezone

from orders.choices import FINAL_SHIPMENT_STATUSES, ShipmentStatus
from orders.models import Order, Shipment, TrackingEvent
from playbooks.choices import ACTIVE_CASE_STATES, RemedyState
from playbooks.models import ExceptionCase, Remedy

HISTORY_DAYS = 90
HISTORY_LIMIT = 500
# Fewer deliveries than this is no history: the page says nothing rather than guess.
HISTORY_MIN_DELIVERIES = 3
EN_DASH = "\u2013"


def order_for_tracking(order_id: int) -> Order | None:
    """The order with its store, items, shipments (with events) and live cases (with done remedies).

    Six queries whatever the number of shipments, events or cases."""
    cases = ExceptionCase.objects.filter(state__in=ACTIVE_CASE_STATES).prefetch_related(
        Prefetch("remedies", queryset=Remedy.objects.filter(state=RemedyState.DONE).order_by("position"))
    )
    return (
        Order.objects.select_related("store")
        .prefetch_related(
            "line_items",
            Prefetch(
                "shipments",
                queryset=Shipment.objects.order_by("created_at", "id").prefetch_related(
                    Prefetch("events", queryset=TrackingEvent.objects.order_by("-occurred_at", "-id"))
                ),
            ),
            Prefetch("cases", queryset=cases.order_by("detected_at"), to_attr="live_cases"),
        )
        .filter(pk=order_id)
        .first()
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
        return f"{_day(earliest)} {earliest:%b}"
    if (earliest.year, earliest.month) == (latest.year, latest.month):
        return f"{_day(earliest)} {EN_DASH} {_day(latest)} {latest:%b}"
    return f"{_day(earliest)} {earliest:%b} {EN_DASH} {_day(latest)} {latest:%b}"


def _percentile(sorted_values: list[timedelta], share: float) -> timedelta:
    """Nearest-rank percentile of a sorted, non-empty list."""
    rank = max(1, math.ceil(share * len(sorted_values)))
    return sorted_values[rank - 1]


def _history(carriers: Iterable[str], international: bool, now: datetime) -> dict[str, list[timedelta]]:
    """Transit times (first scan to delivery) of recent deliveries, per carrier, in one query."""
    rows = (
        Shipment.objects.filter(
            carrier__in=sorted(set(carriers)),
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
    return durations


def _range(shipment: Shipment, durations: list[timedelta], now: datetime, tz) -> EtaRange | None:
    if len(durations) < HISTORY_MIN_DELIVERIES:
        return None
    durations = sorted(durations)
    start = shipment.first_scan_at or now
    earliest = start + statistics.median_low(durations)
    latest = start + _percentile(durations, 0.8)
    if latest < now:
        return None  # later than the hub's history says: the exception notice speaks, not a guess
    earliest = max(earliest, now)
    return EtaRange(timezone.localtime(earliest, tz).date(), timezone.localtime(latest, tz).date())


def needs_history_eta(shipment: Shipment) -> bool:
    return shipment.carrier_estimated_delivery is None and shipment.status not in FINAL_SHIPMENT_STATUSES


def etas_from_history(order: Order, shipments: list[Shipment]) -> dict[int, EtaRange | None]:
    """History-based ranges for the shipments with no carrier estimate that are still on their way.

    At most one query for the whole order: its shipments share its domestic/international flag."""
    pending = [s for s in shipments if needs_history_eta(s)]
    if not pending:
        return {}
    now = timezone.now()
    tz = timezone.get_current_timezone()
    history = _history((s.carrier for s in pending), order.is_international, now)
    return {s.pk: _range(s, history.get(s.carrier, []), now, tz) for s in pending}


def eta_from_history(shipment: Shipment) -> EtaRange | None:
    """The median to 80th-percentile delivery window for one shipment, from the hub's own deliveries of
    the same carrier and destination type in the last 90 days; None when there is no such history."""
    if not needs_history_eta(shipment):
        return None
    return etas_from_history(shipment.order, [shipment]).get(shipment.pk)
