"""A store's look as the customer pages and emails show it: its colours, readable (WCAG AA, 4.5:1) whatever
the store picked and never anything but a colour inside a style, and its support phone as people read it."""

from __future__ import annotations

import re

from orders.formats import format_phone
from orders.models import Store

DEFAULT_PRIMARY = "#1f2937"
DEFAULT_ACCENT = "#2563eb"


def _colour(value: str, default: str) -> str:
    """ "#rrggbb", else the default: the value goes into CSS, so nothing else may pass."""
    return value if re.fullmatch(r"#[0-9a-fA-F]{6}", value or "") else default


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def branding(store: Store | None) -> dict[str, str]:
    """The store's colours as CSS values, adjusted so text stays readable (WCAG AA, 4.5:1), and its support
    phone formatted ("+1 415-555-0123"; a tel: link keeps the stored E.164)."""
    primary = _colour(getattr(store, "primary_colour", ""), DEFAULT_PRIMARY)
    accent = _colour(getattr(store, "accent_colour", ""), DEFAULT_ACCENT)
    on_primary = "#ffffff" if contrast(primary, "#ffffff") >= contrast(primary, "#111111") else "#111111"
    # Links and buttons sit on white: a pale accent falls back to the primary, then to dark grey.
    link = next(c for c in (accent, primary, DEFAULT_PRIMARY) if contrast(c, "#ffffff") >= 4.5)
    on_link = "#ffffff" if contrast(link, "#ffffff") >= 4.5 else "#111111"
    return {
        "primary": primary,
        "on_primary": on_primary,
        "accent": accent,
        "link": link,
        "on_link": on_link,
        "support_phone": format_phone(getattr(store, "support_phone", "")),
    }
