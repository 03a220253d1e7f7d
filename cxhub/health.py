"""GET /healthz: is the database reachable, is Redis? For load balancers and uptime checks."""

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from cxhub.jobs import get_queue


def _check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means "down" here; the detail goes in the answer
        return f"error: {exc.__class__.__name__}"
    return "ok"


def _check_redis() -> str:
    if settings.RQ_SYNC:
        return "not used (jobs run in-process)"
    try:
        get_queue("default").connection.ping()  # the process's client, whose waits are bounded
    except Exception as exc:  # connection refused, timeout, auth: all "down"
        return f"error: {exc.__class__.__name__}"
    return "ok"


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _check_database(), "redis": _check_redis()}
    failing = [name for name, state in checks.items() if state.startswith("error")]
    body = {"status": "fail" if failing else "ok", **checks}
    if failing:
        body["failing"] = failing
    return JsonResponse(body, status=503 if failing else 200)
