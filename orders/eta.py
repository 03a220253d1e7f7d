"""The carrier's estimated delivery day as customers see it, the same on the tracking page and in messages.

Two rules, in one place so the page and the email can never disagree about the day:

- **A date, not a moment.** Carriers mostly send a date ("2026-12-10"), which connectors store as midnight
  UTC. An estimate at exactly 00:00 UTC is that calendar day; converting it would move a US customer's
  delivery to the evening before ("Wed 9 Dec" for "Thu 10 Dec").
- **The store's zone** for a real timestamp (and for "today"). The customer's own zone is only known for
  some customers and the tracking page never reads the customer's row, so the store's zone is the one
  both surfaces always have: the page and the message give the same day for the same parcel.

An estimate whose day is before today (in that zone) has passed: it is no estimate any more, and the
surfaces say so (the page: "expected by …, running late"; messages: `{{ eta }}` is empty). A parcel
that is delivered, returned to the sender or cancelled has no estimate at all.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from django.utils import timezone

from .choices import FINAL_SHIPMENT_STATUSES


@dataclass(frozen=True)
class Eta:
    day: date  # the estimated delivery day, in the delivery's calendar
    passed: bool  # the day is before today: the parcel is running late

    @property
    def label(self) -> str:
        """ "Thu 10 Dec": English names, as the rest of the page and the messages."""
        return format_day(self.day)


def format_day(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b}"


def estimate_day(estimate: datetime, tz_name: str) -> date:
    """The calendar day of a carrier's estimate: the date itself for a date-only estimate (stored as
    midnight UTC), else the moment's day in the zone `tz_name` (UTC when the name is unknown)."""
    utc = estimate.astimezone(UTC)
    if utc.timetz().replace(tzinfo=None) == time(0, 0):
        return utc.date()
    return estimate.astimezone(_zone(tz_name)).date()


def shipment_eta(*, estimate: datetime | None, status: str, tz_name: str, now: datetime | None = None) -> Eta | None:
    """The estimate to show for a parcel in `status`, in the store's zone `tz_name`; None when the carrier
    gave none or the parcel is no longer on its way (delivered, returned to sender, cancelled)."""
    if estimate is None or status in FINAL_SHIPMENT_STATUSES:
        return None
    day = estimate_day(estimate, tz_name)
    today = (now or timezone.now()).astimezone(_zone(tz_name)).date()
    return Eta(day=day, passed=day < today)


def _zone(tz_name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(tz_name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")
