"""Return labels: one class per label provider, picked by RETURN_LABEL_PROVIDER.

A provider turns an approved return into a carrier, a tracking number and a drop-off code (what the QR
code shown at drop-off encodes, so no printer is needed). The built-in local provider makes them itself;
one for a real carrier API (EasyPost, Shippo) is one more file here.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string

from orders.models import ReturnRequest


@dataclass(frozen=True)
class IssuedLabel:
    carrier: str
    tracking_code: str
    drop_off_code: str


class LabelProvider:
    name = "base"

    def issue(self, request: ReturnRequest) -> IssuedLabel:
        """Issue the label. Called once per return, inside the transaction that records it: a provider
        that calls a network API should pass the return's number as its idempotency key."""
        raise NotImplementedError


def get_label_provider() -> LabelProvider:
    return import_string(settings.RETURN_LABEL_PROVIDER)()
