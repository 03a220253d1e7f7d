"""The project's RQ workers: `manage.py rqworker` runs the SimpleWorker, both warm up before their first job,
and the work horses the forking one forks start warm (the twilio SDK's API, the registries, the URL reverse
tables) with no database connection of their parent's."""

from __future__ import annotations

import logging
import os
import sys

import django_rq
import pytest
import rq
from django.db import connection, connections
from django.urls import get_resolver
from django.utils.translation import get_language
from django_rq.workers import get_worker_class

from cxhub import worker as cxworker
from tests.reliability.helpers import WorkerProcess, database_down, worker_env

# Imported lazily by the SDK on the first `client.messages`: ~100 modules of the 2010 API.
TWILIO_MESSAGES = "twilio.rest.api.v2010.account.message"


def horse_state() -> dict:
    """A job: what its work horse holds when the job starts (this module imports none of it)."""
    from notifications.channels import CHANNELS_PATHS
    from playbooks.actions import ACTIONS, ACTIONS_PATHS
    from playbooks.detectors import DETECTORS, DETECTORS_PATHS

    return {
        "pid": os.getpid(),
        "parent_pid": os.getppid(),
        "twilio_messages_imported": TWILIO_MESSAGES in sys.modules,
        "channels_imported": all(path.rpartition(".")[0] in sys.modules for path in CHANNELS_PATHS.values()),
        "detectors_loaded": dict.__len__(DETECTORS) == len(DETECTORS_PATHS),
        "actions_loaded": dict.__len__(ACTIONS) == len(ACTIONS_PATHS),
        "url_reverse_tables_built": get_language() in get_resolver()._reverse_dict,
        "parent_database_connections": [c.alias for c in connections.all() if c.connection is not None],
    }


def database_backend_pid() -> int:
    """A job: the PostgreSQL backend serving its connection (a new connection gets a new one)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def database_restart() -> None:
    """A job that restarts the database, as far as the worker's connections can tell."""
    with database_down():
        pass


class BurstSimpleWorker(cxworker.SimpleWorker):
    """The project's SimpleWorker in-process, without RQ's pubsub thread (a second to stop)."""

    def subscribe(self) -> None:
        pass

    def unsubscribe(self) -> None:
        pass


def test_rqworker_runs_the_projects_simple_worker_and_the_forking_one_is_rqs_own():
    assert get_worker_class() is cxworker.SimpleWorker
    assert issubclass(cxworker.SimpleWorker, rq.SimpleWorker)
    assert issubclass(cxworker.Worker, rq.Worker) and not issubclass(cxworker.Worker, rq.SimpleWorker)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "warm"),
    [
        pytest.param(("--worker-class", "cxhub.worker.Worker"), True, id="the project's forking worker"),
        pytest.param(("--worker-class", "rq.worker.Worker"), False, id="RQ's own worker (the control)"),
    ],
)
def test_work_horses_start_warm_and_without_their_parents_database_connection(tmp_path, args, warm):
    # RQ's own Queue enqueues at once (django-rq's waits for the test's transaction to commit).
    job = rq.Queue("default", connection=django_rq.get_connection("default")).enqueue(horse_state)

    worker = WorkerProcess.burst(tmp_path / "worker.log", worker_env(), *args)

    job.refresh()
    state = job.return_value()
    assert state is not None, worker.output()
    assert state["parent_pid"] == worker.process.pid  # a work horse forked by the worker, not the worker itself
    assert ("warmed up in" in worker.output()) is warm
    assert state["twilio_messages_imported"] is warm
    assert state["channels_imported"] is warm
    assert state["detectors_loaded"] is warm
    assert state["actions_loaded"] is warm
    assert state["url_reverse_tables_built"] is warm
    assert state["parent_database_connections"] == []


@pytest.mark.django_db
def test_rqworker_runs_each_job_in_its_own_process_warm(tmp_path):
    job = rq.Queue("default", connection=django_rq.get_connection("default")).enqueue(horse_state)

    worker = WorkerProcess.burst(tmp_path / "worker.log", worker_env())

    job.refresh()
    state = job.return_value()
    assert state is not None, worker.output()
    assert state["pid"] == worker.process.pid  # no work horse: the worker ran it
    assert "warmed up in" in worker.output()
    assert state["twilio_messages_imported"] and state["detectors_loaded"] and state["url_reverse_tables_built"]


@pytest.mark.django_db(transaction=True)
def test_the_warm_up_closes_the_database_connections_it_may_have_opened():
    def opens_a_connection() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")

    cxworker.warm_up((opens_a_connection,))

    assert connection.connection is None


def test_a_failing_warm_up_step_is_logged_and_skipped(caplog):
    ran = []

    def broken() -> None:
        raise ImportError("no such SDK")

    def fine() -> None:
        ran.append("fine")

    with caplog.at_level(logging.ERROR, logger="cxhub.worker"):
        timings = cxworker.warm_up((broken, fine))

    assert ran == ["fine"] and set(timings) == {"broken", "fine"}
    assert "broken failed" in caplog.text and "no such SDK" in caplog.text


def test_every_warm_up_step_runs_cleanly(caplog):
    with caplog.at_level(logging.ERROR, logger="cxhub.worker"):
        timings = cxworker.warm_up()

    assert set(timings) == {step.__name__ for step in cxworker.WARM_UP_STEPS}
    assert caplog.text == ""


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("max_age", "reconnects"), [(0, True), (None, False)])
def test_the_simple_worker_treats_each_job_like_a_request_for_database_connections(monkeypatch, max_age, reconnects):
    connection.close()
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", max_age)
    queue = rq.Queue("default", connection=django_rq.get_connection("default"))
    first, second = queue.enqueue(database_backend_pid), queue.enqueue(database_backend_pid)

    BurstSimpleWorker([queue], connection=queue.connection).work(burst=True)

    assert None not in (first.return_value(), second.return_value())
    assert (first.return_value() != second.return_value()) is reconnects


@pytest.mark.django_db(transaction=True)
def test_a_database_restart_between_jobs_costs_the_simple_worker_a_reconnect_not_a_failed_job(monkeypatch):
    connection.close()
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", None)  # kept from job to job
    queue = rq.Queue("default", connection=django_rq.get_connection("default"))
    before = queue.enqueue(database_backend_pid)
    queue.enqueue(database_restart)  # every open connection to the database is dropped
    after = queue.enqueue(database_backend_pid)

    BurstSimpleWorker([queue], connection=queue.connection).work(burst=True)

    assert after.get_status() == "finished"
    assert after.return_value() not in (None, before.return_value())
