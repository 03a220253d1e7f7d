"""Stalled in transit: the parcel was scanned, but it is taking too long or has gone quiet.

For the customer this is the classic "where is my order?": tracking says "in transit" day after day.
Two signals catch it before they ask. Transit time: domestic parcels normally arrive within 5 days and
international ones within 10 (the playbook's sample thresholds), so a parcel in transit for longer is
late whatever the carrier says. Silence: a moving parcel is scanned at every hub, so 3 days without
any scan usually means it is stuck or lost even when the total transit time still looks normal.

Carriers mostly move parcels on working days, so `business_days` lets the thresholds count Monday to
Friday only (in the project's TIME_ZONE), which avoids flagging every parcel that sat over a weekend.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from orders.choices import ShipmentStatus
from orders.models import Shipment
from playbooks.detectors.base import Detector
from playbooks.params import Param

SATURDAY = 5
DAY = timedelta(days=1)


def business_days_before(now: datetime, n: int) -> datetime:
    """The moment n business days (Monday to Friday, local time) before `now`.

    Weekend time does not count: from a Saturday or a Sunday the count starts at the beginning of
    that weekend, and each step back skips Saturdays and Sundays, keeping the local time of day.
    """
    moment = timezone.localtime(now)
    if moment.weekday() >= SATURDAY:
        saturday = moment - (moment.weekday() - SATURDAY) * DAY
        moment = saturday.replace(hour=0, minute=0, second=0, microsecond=0)
    remaining = n
    while remaining > 0:
        moment -= DAY
        if moment.weekday() < SATURDAY:
            remaining -= 1
    return moment


def business_days_between(start: datetime, end: datetime) -> float:
    """How much Monday-to-Friday time (local) lies between two moments, in days."""
    start, end = timezone.localtime(start), timezone.localtime(end)
    if end <= start:
        return 0.0
    total = timedelta()
    day_start = start.replace(hour=0, minute=0, second=0, microsecond=0)
    while day_start < end:
        next_day = day_start + DAY
        if day_start.weekday() < SATURDAY:
            total += min(end, next_day) - max(start, day_start)
        day_start = next_day
    return total / DAY


class TransitStallDetector(Detector):
    kind = "transit_stall"
    label = "Stalled in transit"
    subject = "shipment"
    facts_prefetch = ("order",)  # domestic or international
    params = {
        "domestic_days": Param(int, 5, "Days since the first scan after which a domestic parcel is late.", minimum=1),
        "international_days": Param(
            int, 10, "Days since the first scan after which an international parcel is late.", minimum=1
        ),
        "quiet_days": Param(
            int, 3, "Days without any new carrier scan after which a parcel counts as stuck.", minimum=1
        ),
        "business_days": Param(bool, False, "Count the thresholds in business days (Monday to Friday) only."),
    }

    _day_params = ("domestic_days", "international_days", "quiet_days")

    def thresholds(self, now: datetime, params: dict[str, Any]) -> dict[str, datetime]:
        """The three cut-off moments, computed once from `now` so the query compares plain columns."""
        if params["business_days"]:
            return {name: business_days_before(now, params[name]) for name in self._day_params}
        return {name: now - params[name] * DAY for name in self._day_params}

    def matching(self, now: datetime, params: dict[str, Any]) -> QuerySet[Shipment]:
        cutoff = self.thresholds(now, params)
        too_long = Q(order__is_international=False, first_scan_at__lt=cutoff["domestic_days"]) | Q(
            order__is_international=True, first_scan_at__lt=cutoff["international_days"]
        )
        too_quiet = Q(last_scan_at__lt=cutoff["quiet_days"])
        # Implied by the condition, on the shipment's own columns: a first scan before the later of the two
        # transit cut-offs, or a last scan before the quiet one. The partial indexes on in-transit parcels
        # then find the few that qualify, instead of every in-transit parcel being joined to its order to
        # learn whether it travels abroad (bench/README.md).
        either_transit_cutoff = max(cutoff["domestic_days"], cutoff["international_days"])
        may_match = Q(first_scan_at__lt=either_transit_cutoff) | too_quiet
        return (
            Shipment.objects.filter(status=ShipmentStatus.IN_TRANSIT, order__cancelled_at__isnull=True)
            .filter(may_match)
            .filter(too_long | too_quiet)
            .select_related("order")
        )

    def facts(self, subject: Shipment, now: datetime, params: dict[str, Any]) -> dict[str, Any]:
        cutoff = self.thresholds(now, params)
        international = subject.order.is_international
        limit_name = "international_days" if international else "domestic_days"
        rules = []
        if subject.first_scan_at is not None and subject.first_scan_at < cutoff[limit_name]:
            rules.append("transit_time")
        if subject.last_scan_at is not None and subject.last_scan_at < cutoff["quiet_days"]:
            rules.append("no_recent_scan")
        facts: dict[str, Any] = {
            "carrier": subject.carrier,
            "tracking_code": subject.tracking_code,
            "destination": "international" if international else "domestic",
            "first_scan_at": _iso(subject.first_scan_at),
            "last_scan_at": _iso(subject.last_scan_at),
            "days_in_transit": _days(subject.first_scan_at, now),
            "days_since_last_scan": _days(subject.last_scan_at, now),
            "rules": rules,
            "threshold_days": params[limit_name],
            "quiet_days": params["quiet_days"],
            "domestic_days": params["domestic_days"],
            "international_days": params["international_days"],
            "business_days": params["business_days"],
        }
        if params["business_days"]:
            facts["business_days_in_transit"] = _business_days(subject.first_scan_at, now)
            facts["business_days_since_last_scan"] = _business_days(subject.last_scan_at, now)
        return facts

    def sentence(self, subject: Shipment, now: datetime, params: dict[str, Any], facts: dict[str, Any]) -> str:
        unit = "business days" if params["business_days"] else "days"
        prefix = "business_" if params["business_days"] else ""
        in_transit, quiet = facts[f"{prefix}days_in_transit"], facts[f"{prefix}days_since_last_scan"]
        parts = []
        if "transit_time" in facts["rules"]:
            parts.append(
                f"In transit for {in_transit:g} {unit} "
                f"(threshold: {facts['threshold_days']} {unit} for {facts['destination']} parcels)"
            )
        if "no_recent_scan" in facts["rules"]:
            parts.append(f"no carrier scan for {quiet:g} {unit} (threshold: {params['quiet_days']} {unit})")
        if not parts:
            return "The parcel is moving again: no transit threshold is crossed any more."
        sentence = "; ".join(parts)
        return sentence[0].upper() + sentence[1:] + "."


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _days(moment: datetime | None, now: datetime) -> float | None:
    return None if moment is None else round((now - moment) / DAY, 1)


def _business_days(moment: datetime | None, now: datetime) -> float | None:
    return None if moment is None else round(business_days_between(moment, now), 1)
