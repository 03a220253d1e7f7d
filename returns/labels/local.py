"""The built-in label provider: the store's own drop-off codes, no carrier account needed.

The tracking number is derived from the return's id and the project's SECRET_KEY, so it is stable (the
same return always gets the same code) and unguessable (codes of other returns cannot be worked out).
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings

from orders.models import ReturnRequest

from . import IssuedLabel, LabelProvider


class LocalLabelProvider(LabelProvider):
    name = "local"
    carrier = "Drop-off"

    def issue(self, request: ReturnRequest) -> IssuedLabel:
        digest = hmac.new(settings.SECRET_KEY.encode(), f"return-label:{request.pk}".encode(), hashlib.sha256)
        code = "RT" + digest.hexdigest()[:14].upper()
        return IssuedLabel(carrier=self.carrier, tracking_code=code, drop_off_code=f"{request.number}:{code}")
