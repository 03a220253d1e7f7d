"""Field validators shared by the orders models."""

import re
import zoneinfo

import phonenumbers
from django.core.exceptions import ValidationError

HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


def validate_hex_colour(value: str) -> None:
    if not HEX_COLOUR.match(value):
        raise ValidationError("Use a six-digit hex colour such as #1a73e8.")


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone (e.g. America/New_York).")


def validate_e164(value: str) -> None:
    if value and normalize_phone(value) != value:
        raise ValidationError("Use the international E.164 form, e.g. +14155550123.")


def normalize_phone(value: str, region: str | None = None) -> str:
    """Return `value` in E.164, or "" when it is not a valid phone number.

    `region` (ISO country code) lets national numbers such as "(415) 555-0123" be read.
    """
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, region or None)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_valid_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
