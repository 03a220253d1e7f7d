"""What a request that failed is answered (DEBUG off): JSON for providers and integrations, a page in the
customer pages' neutral style for people. When the database is unreachable (a restart, a failover), or
read-only (a failover to a standby) for a request that had to write, the answer is 503 with Retry-After
instead of 500: nothing was stored, and the same request a little later will work. Webhook providers retry
on either, so no delivery is lost; the status tells them, and the person on the tracking page, to try again.

Nothing here touches the database: the pages are rendered with the default branding and no request context.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader

from cxhub import database
from portal.branding import branding

# Paths whose callers are programs get JSON, under the key their other errors use (DRF's "detail" for the API).
JSON_ERROR_KEYS = {"/webhooks/": "error", "/api/": "detail"}
RETRY_AFTER_SECONDS = 30


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's handler500, called while the exception is being handled."""
    exc = sys.exc_info()[1]
    if database.unreachable(exc):
        reason = "The database is unavailable; retry later."
    elif database.refused_write(exc):
        reason = "The database is read-only for now; retry later."
    else:
        return _json(request, "Internal error.", 500) or _page(500)
    response = _json(request, reason, 503) or _page(503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's handler404 (an address no route matches; views answer their own 404s)."""
    return _json(request, "No such endpoint.", 404) or _page(404)


def _json(request: HttpRequest, error: str, status: int) -> JsonResponse | None:
    """The JSON answer for a program's path, or None for a person's."""
    for prefix, key in JSON_ERROR_KEYS.items():
        if request.path.startswith(prefix):
            return JsonResponse({key: error}, status=status)
    return None


def _page(status: int) -> HttpResponse:
    return HttpResponse(loader.get_template(f"{status}.html").render({"brand": branding(None)}), status=status)


def post_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """For the doors programs POST to (webhooks, callbacks): another method gets a JSON 405 naming what
    to do, with `Allow: POST`, where Django's require_POST answers with an empty HTML body."""

    @functools.wraps(view)
    def only_post(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method != "POST":
            answer = JsonResponse({"error": f"method {request.method} not allowed: POST here"}, status=405)
            answer["Allow"] = "POST"
            return answer
        return view(request, *args, **kwargs)

    return only_post
