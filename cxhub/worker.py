"""The project's RQ workers: RQ's own, started warm.

`manage.py rqworker` runs `cxhub.worker.SimpleWorker` (settings.RQ["WORKER_CLASS"]): each job runs in the
worker process, and its database and Redis connections serve the next job. The hub's jobs are short and
database-bound, so that is what they cost: `--worker-class cxhub.worker.Worker`, RQ's default worker, forks a
work horse for every job, which pays the fork, new connections and a PostgreSQL backend with cold caches (two
of them did ~85 events a second of work where two SimpleWorkers keep up with 100: README, Performance), in
exchange for isolating each job.

Both start warm. A SimpleWorker loads once what its first jobs would; a horse starts as a copy of the
worker, so whatever a job loads lazily and the worker has not loaded is loaded again by every job, then
thrown away:
the twilio SDK imports ~100 modules of its API on the first `client.messages` (0.5-1 s of every SMS send,
compiled from source where no bytecode cache is written), the URL resolver builds its reverse tables on the
first `reverse()` (every message's tracking link), the detector, action, connector and channel registries
import their classes on first use, Jinja builds its lexer for the first message template.

So before it takes its first job, the worker loads all of that once (`warm_up`, after RQ's bootstrap: not in
__init__, since the admin and `Worker.all()` build worker objects too), and every horse starts with it. Per
job in a forked horse (tests/cxhub/test_worker.py shows the state, the commit message has the figures):
message_send_job ~0.8 s -> ~60 ms, case_run_steps_job ~200 ms -> ~125 ms.

What must not cross a fork stays per job: Django's database connections are closed after the warm-up (as
django-rq closes them before the work loop; a horse must never share its parent's socket) and redis-py's
pool notices the fork and connects afresh in the horse.

A warm-up step that fails is logged and skipped: it only saves time, and the job that needs what it
loads reports the real error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from importlib import import_module
from typing import TYPE_CHECKING

import rq
from django.apps import apps
from django.db import close_old_connections, connections
from django.urls import get_resolver
from django.utils.module_loading import module_has_submodule

if TYPE_CHECKING:
    from rq.job import Job
    from rq.queue import Queue

logger = logging.getLogger(__name__)


def import_jobs() -> None:
    """Every app's `jobs` module: RQ imports a job's function by its dotted name in the horse."""
    for app in apps.get_app_configs():
        if module_has_submodule(app.module, "jobs"):
            import_module(f"{app.name}.jobs")


def load_registries() -> None:
    """The plugin registries import their classes on first use: detectors, actions, connectors, channels
    (each channel also loads what its first send would: the twilio SDK's API, the email layout)."""
    from notifications.channels import channels_warm_up
    from orders.connectors import CONNECTORS, get_connector
    from playbooks.actions import ACTIONS
    from playbooks.detectors import DETECTORS

    DETECTORS.all()
    ACTIONS.all()
    for source in CONNECTORS:
        get_connector(source)
    channels_warm_up()


def build_url_reverse_tables() -> None:
    """The URL resolver's reverse tables (every pattern's regex normalized) are built by the first
    `reverse()`: the tracking and unsubscribe links of every message."""
    get_resolver().reverse_dict  # noqa: B018  (the property builds them)


def build_template_lexer() -> None:
    """Jinja builds its lexer (a dozen regexes) for the first message template it compiles."""
    from notifications.rendering import SAMPLE_CONTEXT, render

    render("{{ first_name }}", SAMPLE_CONTEXT, autoescape=False)


WARM_UP_STEPS: tuple[Callable[[], None], ...] = (
    import_jobs,
    load_registries,
    build_url_reverse_tables,
    build_template_lexer,
)


def warm_up(steps: tuple[Callable[[], None], ...] = WARM_UP_STEPS) -> dict[str, float]:
    """Run the warm-up steps; return each one's time in ms. Closes Django's database connections after
    them, whatever a step did: a forked horse must open its own."""
    timings: dict[str, float] = {}
    try:
        for step in steps:
            started = time.perf_counter()
            try:
                step()
            except Exception:
                logger.exception("Worker warm-up: %s failed (skipped: jobs will load it themselves)", step.__name__)
            timings[step.__name__] = round((time.perf_counter() - started) * 1000, 1)
    finally:
        connections.close_all()
    return timings


class WarmUpMixin:
    """Warms the worker up after it registered and before it takes its first job."""

    def bootstrap(self, *args, **kwargs) -> None:
        super().bootstrap(*args, **kwargs)
        timings = warm_up()
        details = ", ".join(f"{name} {ms:.0f} ms" for name, ms in timings.items())
        self.log.info("Worker %s: warmed up in %.0f ms (%s)", self.name, sum(timings.values()), details)


class Worker(WarmUpMixin, rq.Worker):
    """RQ's default worker (a work horse forked per job), warmed up: `rqworker --worker-class cxhub.worker.Worker`."""


class SimpleWorker(WarmUpMixin, rq.SimpleWorker):
    """RQ's SimpleWorker (jobs run in the worker process itself), warmed up: what `manage.py rqworker` runs.

    Its database connections outlive a job, so each job is treated like a request: before and after it,
    connections past CONN_MAX_AGE or left unusable by an error are closed, and the next query checks the
    connection first (CONN_HEALTH_CHECKS), so a restarted database costs a reconnect, not a failed job."""

    def perform_job(self, job: Job, queue: Queue) -> bool:
        close_old_connections()
        try:
            return super().perform_job(job, queue)
        finally:
            close_old_connections()
