"""What a request that failed is answered (DEBUG off): JSON for providers and integrations, a plain page for
people. When the database is unreachable (a restart, a failover) the answer is 503 with Retry-After instead
of 500: nothing was stored, and the same request a little later will work. Webhook providers retry on
either, so no delivery is lost; the status tells them, and the person on the tracking page, to try again.

Nothing here touches the database: the pages are rendered without a request context.
"""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader

# Paths whose callers are programs: they get JSON.
MACHINE_PATHS = ("/webhooks/", "/api/")
RETRY_AFTER_SECONDS = 30


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's handler500, called while the exception is being handled."""
    unavailable = isinstance(sys.exc_info()[1], OperationalError | InterfaceError)
    status = 503 if unavailable else 500
    if request.path.startswith(MACHINE_PATHS):
        error = "the database is unavailable; retry later" if unavailable else "internal error"
        response: HttpResponse = JsonResponse({"error": error}, status=status)
    else:
        response = HttpResponse(loader.get_template(f"{status}.html").render(), status=status)
    if unavailable:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
