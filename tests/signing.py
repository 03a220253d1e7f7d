"""Sign deliveries the way each provider does, to post them through the real webhook URLs.

Written from the providers' documentation independently of the connectors, so a connector that
verifies differently from the provider fails these tests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import unicodedata
from pathlib import Path
from typing import Any

PAYLOADS = Path(__file__).parent / "payloads"


def load(source: str, name: str) -> bytes:
    """A captured payload, as bytes exactly as stored (a provider signs the bytes it sends)."""
    return (PAYLOADS / source / f"{name}.json").read_bytes()


def load_json(source: str, name: str) -> dict[str, Any]:
    return json.loads(load(source, name))


def shopify_headers(body: bytes, secret: str, *, topic: str, webhook_id: str, shop: str, event_id: str = "") -> dict:
    digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return {
        "HTTP_X_SHOPIFY_TOPIC": topic,
        "HTTP_X_SHOPIFY_HMAC_SHA256": digest,
        "HTTP_X_SHOPIFY_SHOP_DOMAIN": shop,
        "HTTP_X_SHOPIFY_WEBHOOK_ID": webhook_id,
        "HTTP_X_SHOPIFY_EVENT_ID": event_id or webhook_id,
        "HTTP_X_SHOPIFY_API_VERSION": "2026-01",
    }


def easypost_headers(body: bytes, secret: str) -> dict:
    key = unicodedata.normalize("NFKD", secret).encode("utf-8")
    return {"HTTP_X_HMAC_SIGNATURE": "hmac-sha256-hex=" + hmac.new(key, body, hashlib.sha256).hexdigest()}


def aftership_headers(body: bytes, secret: str) -> dict:
    digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return {"HTTP_AFTERSHIP_HMAC_SHA256": digest}


def stripe_headers(body: bytes, secret: str, *, timestamp: int | None = None) -> dict:
    t = int(time.time()) if timestamp is None else timestamp
    signature = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return {"HTTP_STRIPE_SIGNATURE": f"t={t},v1={signature}"}
