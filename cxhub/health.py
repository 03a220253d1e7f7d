"""GET /healthz: are the database and Redis reachable and taking writes? For load balancers and uptime checks."""

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from cxhub.database import accepts_writes
from cxhub.jobs import get_queue

HEALTH_KEY = "cxhub:healthz"


def _check_database() -> str:
    try:
        writable = accepts_writes()
    except Exception as exc:  # any driver error means "down" here; the detail goes in the answer
        return f"error: {exc.__class__.__name__}"
    # Read-only (a failover to a standby): pages still read, but no webhook can be stored.
    return "ok" if writable else "error: read-only"


def _check_redis() -> str:
    if settings.RQ_SYNC:
        return "not used (jobs run in-process)"
    try:
        # A write, not a PING: a Redis that is full (`noeviction`) or a replica after a failover answers
        # PING but takes no jobs. On the process's client, whose waits are bounded.
        get_queue("default").connection.set(HEALTH_KEY, 1, ex=60)
    except Exception as exc:  # connection refused, timeout, auth, full, read-only: all "down"
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
