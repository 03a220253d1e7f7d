"""Which channel and when: quiet hours in the customer's own time zone, across a DST change."""

import datetime as dt

import pytest

from notifications.models import NotificationSettings
from notifications.policy import Hold, channel_order, in_quiet_hours, message_hold, quiet_hours_end

NIGHT, MORNING = dt.time(21, 0), dt.time(8, 0)
UTC = dt.UTC


@pytest.mark.parametrize(
    ("local", "quiet"),
    [("20:59", False), ("21:00", True), ("23:30", True), ("00:00", True), ("07:59", True), ("08:00", False),
     ("12:00", False)],
)  # fmt: skip
def test_quiet_hours_wrap_midnight(local, quiet):
    assert in_quiet_hours(dt.time.fromisoformat(local), NIGHT, MORNING) is quiet


def test_quiet_hours_that_do_not_wrap_and_none_at_all():
    assert in_quiet_hours(dt.time(13, 0), dt.time(12, 0), dt.time(14, 0))
    assert not in_quiet_hours(dt.time(15, 0), dt.time(12, 0), dt.time(14, 0))
    assert not in_quiet_hours(dt.time(3, 0), dt.time(0, 0), dt.time(0, 0))


def test_a_message_at_night_waits_for_the_customers_morning_not_the_stores():
    now = dt.datetime(2026, 6, 10, 5, 0, tzinfo=UTC)  # 22:00 in Los Angeles, 07:00 in Berlin

    assert quiet_hours_end(now, tz="America/Los_Angeles", start=NIGHT, end=MORNING) == dt.datetime(
        2026, 6, 10, 15, 0, tzinfo=UTC
    )  # 08:00 PDT
    assert quiet_hours_end(now, tz="Europe/Berlin", start=NIGHT, end=MORNING) == dt.datetime(
        2026, 6, 10, 6, 0, tzinfo=UTC
    )  # 08:00 CEST, the same day
    assert quiet_hours_end(dt.datetime(2026, 6, 10, 18, 0, tzinfo=UTC), tz="Europe/Berlin", start=NIGHT,
                           end=MORNING) is None  # 20:00 in Berlin: go now  # fmt: skip


def test_the_morning_after_a_dst_change_is_still_eight_oclock_local():
    # Clocks go back in New York on 1 Nov 2026 at 02:00: the night is an hour longer.
    now = dt.datetime(2026, 11, 1, 2, 30, tzinfo=UTC)  # 22:30 EDT on 31 Oct

    wake = quiet_hours_end(now, tz="America/New_York", start=NIGHT, end=MORNING)

    assert wake == dt.datetime(2026, 11, 1, 13, 0, tzinfo=UTC)  # 08:00 EST, not 12:00 UTC


def test_spring_forward_night():
    now = dt.datetime(2026, 3, 8, 4, 0, tzinfo=UTC)  # 23:00 EST on 7 Mar; clocks go forward at 02:00

    assert quiet_hours_end(now, tz="America/New_York", start=NIGHT, end=MORNING) == dt.datetime(
        2026, 3, 8, 12, 0, tzinfo=UTC
    )  # 08:00 EDT


@pytest.mark.parametrize(
    ("kind", "requested", "preferred", "expected"),
    [
        ("delay", "auto", "", ["sms", "email"]),  # time-sensitive: SMS first
        ("shipped", "auto", "", ["email", "sms"]),  # informational: email first
        ("delay", "auto", "email", ["email", "sms"]),  # the customer's preference wins
        ("shipped", "sms", "email", ["sms", "email"]),  # the playbook's explicit channel wins
    ],
)
def test_channel_order(kind, requested, preferred, expected):
    assert channel_order(kind=kind, requested=requested, preferred=preferred) == expected


@pytest.mark.parametrize(
    ("kind", "at", "held"),
    [
        ("out_for_delivery", "23:00", Hold()),  # urgent: the driver is on the way, whatever the hour
        ("delay", "23:00", Hold(dt.datetime(2026, 6, 11, 8, 0, tzinfo=UTC), quiet=True)),
        ("shipped", "23:00", Hold(dt.datetime(2026, 6, 11, 8, 0, tzinfo=UTC), quiet=True)),
        ("shipped", "12:00", Hold(dt.datetime(2026, 6, 10, 12, 10, tzinfo=UTC))),  # news: the merge window
        ("delay", "12:00", Hold()),
        ("order_confirmed", "12:00", Hold()),
    ],
)
def test_a_message_waits_for_the_morning_or_for_news_right_after_it(kind, at, held):
    config = NotificationSettings(quiet_start=NIGHT, quiet_end=MORNING, merge_window_minutes=10)
    now = dt.datetime.combine(dt.date(2026, 6, 10), dt.time.fromisoformat(at), tzinfo=UTC)

    assert message_hold(kind, now=now, tz="UTC", config=config) == held
