"""The answer to a form post that failed Django's CSRF check (settings.CSRF_FAILURE_VIEW).

Customers meet it when a page sat open past its session, after a browser restored an old tab, or with
cookies blocked: Django's own page ("CSRF verification failed") is unbranded developer talk. This one
says what to do. It reads nothing from the database, so it works whatever state the request is in.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template import loader
from django.views.decorators.cache import never_cache

from .branding import branding


@never_cache
def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """403, with the page to go back to: a GET of the address the form posted to shows that form again
    (the tracking page's form addresses lead back to the tracking page)."""
    context = {"brand": branding(None), "retry_url": request.get_full_path()}
    return HttpResponse(loader.render_to_string("portal/csrf_failure.html", context), status=403)
