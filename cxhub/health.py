"""Health checks, for load balancers and uptime monitors.

- GET /healthz: are the database and Redis reachable and taking writes?
- GET /healthz/work: that, and is work flowing: carrier events applied, messages sent, sweeps run? A hub
  whose workers or cron have stopped still answers /healthz; this one names what has stopped.
"""

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from cxhub.database import accepts_writes
from cxhub.jobs import get_queue
from notifications.services import messages_due_since
from orders.ingest import deliveries_unapplied_since
from playbooks.engine import sweep_last_at

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


def _utc(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


def _waiting(since: datetime | None, now: datetime, what: str) -> str:
    if since is None or now - since < timedelta(seconds=settings.HEALTH_WORK_STALLED_SECONDS):
        return "ok"
    return f"error: {what} waiting for a worker since {_utc(since)}: are the RQ workers running?"


def _check_sweeps(now: datetime) -> str:
    last = sweep_last_at()
    if last is None:
        return "error: no sweep has run yet: is manage.py rqcron cxhub.cron running?"
    # A sweep missed twice, with a minute's slack for a busy queue.
    if now - last > timedelta(seconds=2 * settings.SWEEP_INTERVAL_SECONDS + 60):
        return f"error: no sweep since {_utc(last)}: is manage.py rqcron cxhub.cron running?"
    return "ok"


def work_checks(now: datetime) -> dict[str, str]:
    """Is work flowing: the oldest delivery and message still waiting for a worker, and the latest sweep."""
    return {
        "deliveries": _waiting(deliveries_unapplied_since(), now, "carrier and store events"),
        "messages": _waiting(messages_due_since(now), now, "messages"),
        "sweeps": _check_sweeps(now),
    }


def failing(checks: dict[str, str]) -> dict[str, str]:
    """The checks that fail, each with what is wrong."""
    return {name: state.removeprefix("error: ") for name, state in checks.items() if state.startswith("error")}


def _answer(checks: dict[str, str]) -> JsonResponse:
    failed = list(failing(checks))
    body = {"status": "fail" if failed else "ok", **checks}
    if failed:
        body["failing"] = failed
    return JsonResponse(body, status=503 if failed else 200)


def _services() -> dict[str, str]:
    return {"database": _check_database(), "redis": _check_redis()}


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return _answer(_services())


@never_cache
@require_GET
def healthz_work(request: HttpRequest) -> JsonResponse:
    checks = _services()
    if checks["database"] == "ok":
        checks.update(work_checks(timezone.now()))
    return _answer(checks)
