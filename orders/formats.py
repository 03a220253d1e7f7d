"""How money, phone numbers and clock times read for customers, the same on every page, email and SMS.

Money and phone numbers follow CLDR (Babel) and libphonenumber, never tables of ours: "$189.00" in a US
store, "US$189.00" in a British one, "+1 415-555-0123". Clock times name their zone ("12:20 CET"), so a
customer in another zone can tell what the time means.
"""

from __future__ import annotations

import functools
from datetime import datetime, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo

import phonenumbers
from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency


@functools.cache
def _locale(country: str) -> Locale:
    """English as written in the store's country ("en_GB"), else plain English."""
    try:
        return Locale.parse(f"en_{country.upper()}")
    except (UnknownLocaleError, ValueError):
        return Locale("en")


def format_money(amount: Decimal, currency: str, *, country: str) -> str:
    """ "$189.00": `amount` of `currency` as customers of a store in `country` (ISO code) read it. A currency
    foreign to the country says whose it is ("US$189.00" in a GB store)."""
    return format_currency(amount, currency, locale=_locale(country))


@functools.lru_cache(maxsize=1024)  # a store's support phone, formatted for every message it sends
def format_phone(value: str) -> str:
    """An E.164 number as people read it ("+14155550123" -> "+1 415-555-0123"); anything else (empty, not
    E.164) as it is."""
    try:
        number = phonenumbers.parse(value)
    except phonenumbers.NumberParseException:
        return value
    if not phonenumbers.is_valid_number(number) or value != phonenumbers.format_number(
        number, phonenumbers.PhoneNumberFormat.E164
    ):
        return value
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def customer_zone(*, customer_timezone: str, store_timezone: str) -> ZoneInfo:
    """The zone a customer reads clock times in: their own when we know it, else the store's."""
    return ZoneInfo(customer_timezone or store_timezone or "UTC")


def _zone_label(at: datetime) -> str:
    """The short name of an aware datetime's zone at that moment: "CET", "EST", "UTC"; "UTC+03" where the
    zone has no abbreviation (the time-zone database then gives only the offset, "+03")."""
    name = at.tzname() or ""
    return f"UTC{name}" if name[:1] in ("+", "-") else name


def format_clock_time(at: datetime, zone: tzinfo) -> str:
    """ "Mon 23 Nov, 12:20 CET": a moment on the clock of `zone`, named. English day and month names, like
    the day-level dates (orders.eta.format_day). An f-string: a timeline formats one per scan, and Django's
    `date` filter (a third of the tracking page's rendering time once) or Babel's patterns are slower."""
    local = at.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b}, {local:%H:%M} {_zone_label(local)}"
