"""Respect the customer: which channel, when, and how often. Pure functions, fully unit-tested."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from .choices import NEWS_KINDS, TIME_SENSITIVE_KINDS, URGENT_KINDS

if TYPE_CHECKING:
    from .models import NotificationSettings


def channel_order(*, kind: str, requested: str = "auto", preferred: str = "") -> list[str]:
    """Channels to try, best first: the one asked for, else the customer's preference, else SMS for
    time-sensitive kinds and email for informational ones. The other channel is the fallback."""
    first = (
        requested
        if requested in ("sms", "email")
        else preferred or ("sms" if kind in TIME_SENSITIVE_KINDS else "email")
    )
    return [first, "email" if first == "sms" else "sms"]


def in_quiet_hours(local: time, start: time, end: time) -> bool:
    """Whether a local wall-clock time falls in quiet hours; hours may wrap midnight (21:00 to 08:00)."""
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def quiet_hours_end(now: datetime, *, tz: str, start: time, end: time) -> datetime | None:
    """If `now` is in quiet hours for someone in `tz`, the moment they end (aware, UTC); else None.

    Computed on the local calendar with zoneinfo, so a DST change in the night moves the UTC instant,
    not the local morning hour.
    """
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    if not in_quiet_hours(local.time(), start, end):
        return None
    day = local.date() if local.time() < end else local.date() + timedelta(days=1)
    wake = datetime.combine(day, end, tzinfo=zone)
    return wake.astimezone(ZoneInfo("UTC"))


@dataclass(frozen=True)
class Hold:
    """Until when a message waits before it is sent (None: not at all), and whether for quiet hours."""

    until: datetime | None = None
    quiet: bool = False


def message_hold(kind: str, *, now: datetime, tz: str, config: NotificationSettings) -> Hold:
    """How long a message of `kind` composed `now` for someone in `tz` waits: urgent kinds not at all; others
    until the store's quiet hours end; informational news (NEWS_KINDS) for the merge window."""
    if kind in URGENT_KINDS:
        return Hold()
    if wake := quiet_hours_end(now, tz=tz, start=config.quiet_start, end=config.quiet_end):
        return Hold(wake, quiet=True)
    if kind in NEWS_KINDS:
        return Hold(now + timedelta(minutes=config.merge_window_minutes))
    return Hold()
