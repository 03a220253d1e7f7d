"""What the fault tests share: signed carrier events made to order, the cron as rqcron runs it, a Redis
server that can crash and come back, and real `rqworker` processes against the test database."""

from __future__ import annotations

import contextlib
import copy
import csv
import datetime as dt
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import django_rq
import psycopg
import pytest
from django.conf import settings
from django.db import connection
from psycopg import sql
from redis import Redis
from rq.cron import CronJob, CronScheduler
from rq.registry import ScheduledJobRegistry
from rq.scheduler import RQScheduler

from cxhub.jobs import QUEUES
from orders.models import InboundDelivery, Store
from tests import signing
from tests.factories import (
    MessageTemplateFactory,
    NotificationSettingsFactory,
    PlaybookFactory,
    PlaybookStepFactory,
    ShipmentFactory,
    StoreFactory,
)
from tests.services import RedisServer

PROJECT = Path(__file__).resolve().parents[2]


# --- signed deliveries --------------------------------------------------------------------------------------------


def easypost_event(*, event_id: str, tracking_code: str, name: str = "03_tracker_updated_delivery_attempted") -> bytes:
    """A captured EasyPost tracker event, re-addressed to another parcel under another event id."""
    payload = signing.load_json("easypost", name)
    payload["id"] = event_id
    payload["result"]["tracking_code"] = tracking_code
    return json.dumps(payload).encode()


def post_easypost(client, body: bytes, secret: str):
    return client.post(
        "/webhooks/easypost/", body, content_type="application/json", **signing.easypost_headers(body, secret)
    )


class OutageScans:
    """An EasyPost in-transit scan for each of two parcels of `store`, for a database outage test: the first
    is delivered before the outage, the second while it lasts, and the provider then retries both."""

    def __init__(self, store: Store, secret: str) -> None:
        self.secret = secret
        self.before, self.during = (ShipmentFactory(order__store=store, carrier="usps") for _ in range(2))
        self.bodies = {
            parcel.pk: easypost_event(
                event_id=f"evt_{parcel.tracking_code}", tracking_code=parcel.tracking_code,
                name="02_tracker_updated_in_transit",
            )
            for parcel in (self.before, self.during)
        }  # fmt: skip

    def send(self, client, parcel):
        return post_easypost(client, self.bodies[parcel.pk], self.secret)

    def retry_both(self, client) -> list[str]:
        """What the provider is answered when it sends both again, the one it never had a 2xx for first."""
        return [self.send(client, parcel).json()["status"] for parcel in (self.during, self.before)]

    def outcome(self) -> tuple[dict[str, int], list[str]]:
        """The deliveries by state, and each parcel's status."""
        for parcel in (self.before, self.during):
            parcel.refresh_from_db()
        states = count_by(InboundDelivery.objects.values_list("state", flat=True))
        return states, [self.before.status, self.during.status]


def failed_attempt_store(secret: str) -> Store:
    """A store whose playbook texts the customer when the carrier misses them (EasyPost signed with
    `secret`), with no quiet hours: worker processes run on the real clock, whatever the time of day."""
    store = StoreFactory(slug="acme", easypost_webhook_secret=secret)
    NotificationSettingsFactory(store=store, quiet_start=dt.time(0), quiet_end=dt.time(0))
    MessageTemplateFactory(
        store=store, kind="failed_attempt", channel="sms", body_text="Order {{ order_number }}: the carrier missed you."
    )
    playbook = PlaybookFactory(name="Failed attempt", trigger="failed_attempt", holdout_percent=0)
    PlaybookStepFactory(playbook=playbook, position=1, action="notify",
                        params={"template": "failed_attempt", "channel": "sms"})  # fmt: skip
    return store


def announce_attempts(client, handoff, shipments: list, secret: str) -> None:
    """EasyPost reports a failed delivery attempt for each parcel, through the real URL; the web process's
    hand-off then queues their drain."""
    for shipment in shipments:
        body = easypost_event(event_id=f"evt_attempt_{shipment.tracking_code}", tracking_code=shipment.tracking_code)
        response = post_easypost(client, body, secret)
        assert response.status_code == 200, response.content
    handoff.run_pending()


def twilio_env(fake_twilio, **extra: str) -> dict[str, str]:
    """A worker process's environment that sends SMS to the fake Twilio."""
    return worker_env(
        TWILIO_ACCOUNT_SID=fake_twilio.account_sid,
        TWILIO_AUTH_TOKEN=fake_twilio.auth_token,
        TWILIO_FROM_NUMBER=fake_twilio.from_number,
        TWILIO_MESSAGING_SERVICE_SID="",
        TWILIO_API_BASE_URL=fake_twilio.base_url,
        **extra,
    )


def shopify_order(*, number: int) -> bytes:
    """The captured orders/create, as another order (id, number, line item ids)."""
    payload = copy.deepcopy(signing.load_json("shopify", "orders_create"))
    payload["id"] = 820982911946154508 + number
    payload["name"] = f"#{number}"
    payload["order_number"] = number
    for index, line in enumerate(payload.get("line_items", [])):
        line["id"] = number * 100 + index
    return json.dumps(payload).encode()


def backfill_csv(orders: int) -> bytes:
    """A CSV backfill of `orders` two-item orders, each with a parcel; every other one delivered."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["order_number", "placed_at", "customer_email", "title", "sku", "quantity", "unit_price",
                     "carrier", "tracking_code", "label_created_at", "delivered_at"])  # fmt: skip
    for n in range(orders):
        delivered = "2026-10-05T15:00:00Z" if n % 2 else ""
        for item in ("Mug", "Tea"):
            writer.writerow([f"B{n}", "2026-10-01T10:00:00Z", f"c{n}@example.com", item, item.upper(), 1, "9.50",
                             "UPS", f"1ZB{n:08d}", "2026-10-02T09:00:00Z", delivered])  # fmt: skip
    return out.getvalue().encode()


def post_shopify(client, body: bytes, secret: str, *, topic: str, webhook_id: str, shop: str):
    headers = signing.shopify_headers(body, secret, topic=topic, webhook_id=webhook_id, shop=shop)
    return client.post("/webhooks/shopify/", body, content_type="application/json", **headers)


# --- jobs ---------------------------------------------------------------------------------------------------------


def cron_jobs(*, only: Iterable[str] = ()) -> list[CronJob]:
    """The periodic jobs of cxhub/cron.py (or those named in `only`), as RQ's own cron scheduler loads them."""
    scheduler = CronScheduler(connection=django_rq.get_connection("default"))
    scheduler.load_config_from_file("cxhub.cron")
    wanted = set(only)
    return [job for job in scheduler.get_jobs() if not wanted or job.func_name.rpartition(".")[2] in wanted]


def cron_tick(*, only: Iterable[str] = ()) -> list[str]:
    """Enqueue every periodic job of cxhub/cron.py (or those named in `only`), as a freshly started
    `manage.py rqcron cxhub.cron` does (interval jobs fire at once). Returns the jobs' dotted names."""
    jobs = cron_jobs(only=only)
    for job in jobs:
        job.enqueue(django_rq.get_connection("default"))
    return [job.func_name for job in jobs]


def scheduler_tick() -> None:
    """Move the jobs whose time has come from RQ's scheduled registries to their queues: what the
    scheduler of `rqworker --with-scheduler` does every second."""
    scheduler = RQScheduler(QUEUES, connection=django_rq.get_connection("default"))
    scheduler.prepare_registries(QUEUES)
    scheduler.enqueue_scheduled_jobs()


def scheduled_at(queue: str, job_id: str) -> dt.datetime | None:
    """When RQ will enqueue the job `job_id` (None when it is not scheduled)."""
    registry = ScheduledJobRegistry(queue, connection=django_rq.get_connection(queue))
    if job_id not in registry.get_job_ids():
        return None
    return registry.get_scheduled_time(job_id)


def queued_jobs() -> int:
    return sum(django_rq.get_queue(name).count for name in QUEUES)


# --- servers and processes ------------------------------------------------------------------------------------------


class CrashableRedis(RedisServer):
    """A redis-server of the test's own (never the session's), which can crash and restart on its port.
    It keeps nothing on disk, so a crash loses every queued job, as an unpersisted Redis does."""

    def crash(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def restart(self) -> None:
        self.start()

    def freeze(self) -> None:
        """Stop it answering while it keeps its connections open, as a hung host or a stalled failover does."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def refuse_writes(self, how: str) -> None:
        """Go on answering but take no writes: "full" (over its memory limit under `noeviction`, the policy
        Redis ships with and RQ needs) or "replica" (a failover left the clients on a replica whose primary
        is gone)."""
        admin = Redis.from_url(self.url)
        if how == "full":
            admin.config_set("maxmemory-policy", "noeviction")
            admin.config_set("maxmemory", 1)
        else:
            from tests.services import free_port

            admin.replicaof("127.0.0.1", free_port())  # a primary that is not there: nothing is synced over

    def accept_writes(self) -> None:
        admin = Redis.from_url(self.url)
        admin.config_set("maxmemory", 0)
        admin.replicaof("NO", "ONE")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.thaw()  # a frozen server would not act on the stop
        super().stop()

    def queues(self) -> dict[str, dict]:
        return {name: {"URL": self.url, "DEFAULT_TIMEOUT": 300} for name in QUEUES}


def database_session(**options: Any) -> psycopg.Connection:
    """A connection of its own to the suite's PostgreSQL (another worker, an operator), outside Django's;
    to the test's database unless `dbname` says otherwise."""
    db = connection.settings_dict
    params = {"host": db["HOST"], "port": db["PORT"], "user": db["USER"], "password": db["PASSWORD"] or None}
    return psycopg.connect(**{**params, "dbname": db["NAME"], **options})


@contextmanager
def database_down() -> Iterator[None]:
    """The test's database refuses new connections and its open ones are dropped (as by a restart or a
    failover), until the block ends. The other databases on the suite's server are untouched."""
    db = connection.settings_dict
    name = sql.Identifier(db["NAME"])
    with database_session(dbname="postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(name))
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [db["NAME"]])
        try:
            yield
        finally:
            admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(name))


@contextmanager
def database_read_only() -> Iterator[None]:
    """The test's database answers reads and refuses writes (a failover that left the hub on a standby, or
    a primary demoted for maintenance), until the block ends. Open sessions are dropped at each switch so
    that new ones take the database's new default, as clients reconnecting after a failover do."""
    db = connection.settings_dict
    name = sql.Identifier(db["NAME"])
    drop = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
    with database_session(dbname="postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} SET default_transaction_read_only = on").format(name))
        admin.execute(drop, [db["NAME"]])
        try:
            yield
        finally:
            admin.execute(sql.SQL("ALTER DATABASE {} RESET default_transaction_read_only").format(name))
            admin.execute(drop, [db["NAME"]])


def live_database_url() -> str:
    """The database this test's rows are committed to (pytest-django's test_… database)."""
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


class WorkerProcess:
    """`manage.py rqworker high default low` in a process group of its own, as production runs it (the
    settings' SimpleWorker unless `--worker-class` says otherwise), sharing the test's PostgreSQL database
    and Redis."""

    def __init__(self, log: Path, env: dict[str, str], *args: str) -> None:
        self.log = log
        self.env = env
        self.args = args
        self.process: subprocess.Popen | None = None

    def start(self) -> WorkerProcess:
        command = [sys.executable, "manage.py", "rqworker", *QUEUES, *self.args]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=PROJECT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        return self

    @classmethod
    def burst(cls, log: Path, env: dict[str, str], *args: str, timeout: float = 120) -> WorkerProcess:
        """A worker that runs every queued job, and those they queue, then exits (it must exit cleanly)."""
        worker = cls(log, env, "--burst", *args).start()
        assert worker.wait(timeout) == 0, worker.output()
        return worker

    def kill_9(self) -> None:
        """SIGKILL the worker and its work horse if it forks one: a machine or container that dies. (RQ puts
        each work horse in a process group of its own, so killing the worker's group alone would spare it.)"""
        assert self.process is not None
        horses = children_of(self.process.pid)
        os.killpg(self.process.pid, signal.SIGKILL)
        for pid in horses:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(10)

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill_9()
            raise AssertionError(f"the worker did not finish in {timeout}s:\n{self.output()}") from None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill_9()

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-5000:]


def children_of(pid: int) -> list[int]:
    """The processes whose parent is `pid` (from /proc: Linux only, like the rest of the test services)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # "pid (comm) state ppid …": comm may hold spaces, so split after its closing parenthesis.
            if int(stat.read_text().rpartition(")")[2].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


# Each kill -9 test runs under both worker classes: the default SimpleWorker, and the forking worker whose
# work horse dies with it.
WORKER_CLASSES = pytest.mark.parametrize(
    "worker_class",
    [
        pytest.param("cxhub.worker.SimpleWorker", id="the default worker"),
        pytest.param("cxhub.worker.Worker", id="the forking worker and its work horse"),
    ],
)


def worker_env(**extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": live_database_url(),
        "REDIS_URL": settings.RQ_QUEUES["default"]["URL"],
        "CONN_MAX_AGE": "0",
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra)
    return env


def waiting_for_a_lock() -> bool:
    """A session of the test's database is waiting for a lock (a worker, on a row another session holds)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str, poll: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(poll)


def count_by(values: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts
