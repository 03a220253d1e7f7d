"""Money, phone numbers and clock times as customers read them: CLDR's and libphonenumber's rules, and every
clock time with its zone's name."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from orders.formats import customer_zone, format_clock_time, format_money, format_phone

NBSP = "\xa0"


@pytest.mark.parametrize(
    ("amount", "currency", "country", "expected"),
    [
        ("189.00", "USD", "US", "$189.00"),
        ("1189.5", "USD", "US", "$1,189.50"),
        ("42.50", "GBP", "GB", "£42.50"),
        ("42.50", "EUR", "US", "€42.50"),  # another currency's own symbol, when it says whose it is
        ("189.00", "USD", "GB", "US$189.00"),  # in Britain "$" alone could be anyone's dollars
        ("1189.50", "EUR", "DE", f"1.189,50{NBSP}€"),  # English as written in Germany (CLDR en_DE)
        ("1000", "JPY", "US", "¥1,000"),  # no cents in yen
        ("42.50", "EUR", "us", "€42.50"),  # a lower-case country code is still the country
    ],
)
def test_money_reads_as_in_the_stores_country(amount, currency, country, expected):
    assert format_money(Decimal(amount), currency, country=country) == expected


@pytest.mark.parametrize("country", ["XX", "", "U"])
def test_money_in_a_country_without_its_own_english_reads_as_plain_english(country):
    assert format_money(Decimal("42.5"), "EUR", country=country) == "€42.50"
    assert format_money(Decimal("189"), "USD", country=country) == "$189.00"


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("+14155550123", "+1 415-555-0123"),
        ("+442079460018", "+44 20 7946 0018"),
        ("+4930123456", "+49 30 123456"),
    ],
)
def test_an_e164_phone_reads_in_the_international_format(stored, shown):
    assert format_phone(stored) == shown


@pytest.mark.parametrize("value", ["", "4155550123", "+1 415 555 0123", "+1415", "call us"])
def test_a_phone_that_is_not_e164_is_shown_as_it_is(value):
    assert format_phone(value) == value


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("Europe/Paris", "Mon 23 Nov, 12:20 CET"),
        ("America/New_York", "Mon 23 Nov, 06:20 EST"),
        ("Australia/Sydney", "Mon 23 Nov, 22:20 AEDT"),  # summer there: daylight time
        ("UTC", "Mon 23 Nov, 11:20 UTC"),
        ("Asia/Riyadh", "Mon 23 Nov, 14:20 UTC+03"),  # no abbreviation in the tz database: the offset
        ("Asia/Kathmandu", "Mon 23 Nov, 17:05 UTC+0545"),
    ],
)
def test_a_clock_time_names_its_zone(zone, expected):
    at = datetime(2026, 11, 23, 11, 20, tzinfo=UTC)
    assert format_clock_time(at, ZoneInfo(zone)) == expected


def test_a_clock_time_is_on_the_zones_calendar_and_names_the_zone_in_force_that_day():
    late_evening_in_new_york = datetime(2026, 11, 25, 3, 5, tzinfo=UTC)
    assert format_clock_time(late_evening_in_new_york, ZoneInfo("America/New_York")) == "Tue 24 Nov, 22:05 EST"
    summer = datetime(2026, 7, 6, 11, 20, tzinfo=UTC)
    assert format_clock_time(summer, ZoneInfo("Europe/Paris")) == "Mon 6 Jul, 13:20 CEST"


def test_the_customers_own_zone_comes_before_the_stores():
    assert customer_zone(customer_timezone="Europe/Paris", store_timezone="America/New_York") == ZoneInfo(
        "Europe/Paris"
    )
    assert customer_zone(customer_timezone="", store_timezone="America/New_York") == ZoneInfo("America/New_York")
    assert customer_zone(customer_timezone="", store_timezone="") == ZoneInfo("UTC")
