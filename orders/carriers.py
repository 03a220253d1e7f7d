"""Carriers: one slug per carrier, whatever a source calls it, and where customers can track a parcel.

Every connector names carriers through `carrier_slug`, so a parcel announced by Shopify ("Canada Post"),
tracked by EasyPost ("CanadaPost") and by AfterShip ("canada-post") is one carrier, "canada_post".
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

# Names and spellings sources use -> our slug. Keys are lower-case with spaces, hyphens and
# underscores removed.
ALIASES: dict[str, str] = {
    "usps": "usps",
    "unitedstatespostalservice": "usps",
    "ups": "ups",
    "upsdap": "ups",  # EasyPost's UPS through its own account
    "unitedparcelservice": "ups",
    "fedex": "fedex",
    "federalexpress": "fedex",
    "fedexdefault": "fedex",
    "dhl": "dhl",
    "dhlexpress": "dhl",
    "canadapost": "canada_post",
    "royalmail": "royal_mail",
    "australiapost": "australia_post",
    "dpd": "dpd",
    "ontrac": "ontrac",
}

# slug -> (display name, tracking URL with {code}).
CARRIERS: dict[str, tuple[str, str]] = {
    "usps": ("USPS", "https://tools.usps.com/go/TrackConfirmAction?tLabels={code}"),
    "ups": ("UPS", "https://www.ups.com/track?tracknum={code}"),
    "fedex": ("FedEx", "https://www.fedex.com/fedextrack/?trknbr={code}"),
    "dhl": ("DHL", "https://www.dhl.com/global-en/home/tracking.html?tracking-id={code}"),
    "canada_post": ("Canada Post", "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor={code}"),
    "royal_mail": ("Royal Mail", "https://www.royalmail.com/track-your-item#/tracking-results/{code}"),
    "australia_post": ("Australia Post", "https://auspost.com.au/mypost/track/#/details/{code}"),
}


def carrier_slug(name: str) -> str:
    """A source's carrier name ("UPS", "FedEx", "Canada Post", "canada-post", "UPSDAP") as our slug."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower().strip()
    key = re.sub(r"[\s_\-]+", "", ascii_name)
    return ALIASES.get(key) or re.sub(r"[^a-z0-9]+", "_", ascii_name).strip("_")


def carrier_name(slug: str) -> str:
    return CARRIERS.get(slug, (slug.replace("_", " ").title(), ""))[0]


def carrier_tracking_url(slug: str, tracking_code: str) -> str:
    """The carrier's public tracking page for a parcel, or "" for carriers we have no address for."""
    template = CARRIERS.get(slug, ("", ""))[1]
    return template.format(code=quote(tracking_code, safe="")) if template else ""
