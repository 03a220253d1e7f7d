"""Workers behind PgBouncer in transaction mode, as the README advises for forking workers: PgBouncer lends
a server connection for one transaction at a time, so the next may run on another. Nothing the hub does
may rely on a database session outliving its transaction (a session `SET`, an advisory lock, a prepared
statement, a cursor kept open across transactions; `lock_timeout` is `SET LOCAL`, and
DISABLE_SERVER_SIDE_CURSORS reads a QuerySet.iterator() in one go).

Real `manage.py rqworker` processes of both classes connect to the test's PostgreSQL database through a
real PgBouncer with two server connections: they apply signed EasyPost webhooks, act on the cases they
open, send each SMS once through the fake Twilio, and run a sandbox (a long read in chunks).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import psycopg
import pytest
from django.db import connection
from django.utils import timezone
from psycopg.rows import dict_row

from notifications.choices import MessageStatus
from notifications.models import Message
from orders.choices import DeliveryState, ShipmentStatus
from orders.models import InboundDelivery
from playbooks.choices import PlaybookState
from playbooks.sandbox import sandbox_run_start
from tests.factories import PlaybookFactory, PlaybookStepFactory, ShipmentFactory
from tests.reliability.helpers import (
    WORKER_CLASSES,
    WorkerProcess,
    announce_attempts,
    count_by,
    failed_attempt_store,
    twilio_env,
    wait_until,
)
from tests.services import PgBouncer

pytest_plugins = ["tests.fakes.twilio"]
pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "easypost-pgbouncer-secret"
PARCELS = 6


@pytest.fixture
def pgbouncer() -> Iterator[PgBouncer]:
    db = connection.settings_dict
    bouncer = PgBouncer(host=db["HOST"], port=int(db["PORT"]), user=db["USER"])
    bouncer.start()
    try:
        yield bouncer
    finally:
        bouncer.stop()


def transactions_pooled(bouncer: PgBouncer, database: str) -> int:
    """The transactions PgBouncer has lent a server connection to for `database` (its SHOW STATS, which it
    refreshes every second here)."""
    with psycopg.connect(bouncer.url("pgbouncer"), autocommit=True, row_factory=dict_row) as admin:
        # The admin console speaks only the simple query protocol: a client-side cursor uses it.
        rows = psycopg.ClientCursor(admin, row_factory=dict_row).execute("SHOW STATS").fetchall()
    return sum(row["total_xact_count"] for row in rows if row["database"] == database)


@WORKER_CLASSES
def test_workers_behind_pgbouncer_apply_webhooks_send_each_sms_once_and_run_a_sandbox(
    client, handoff, fake_twilio, pgbouncer, tmp_path, worker_class
):
    database = connection.settings_dict["NAME"]
    store = failed_attempt_store(SECRET)
    parcels = [
        ShipmentFactory(order__store=store, carrier="usps", status=ShipmentStatus.IN_TRANSIT, label_created_at=None)
        for _ in range(PARCELS)
    ]
    env = twilio_env(fake_twilio, DATABASE_URL=pgbouncer.url(database), DISABLE_SERVER_SIDE_CURSORS="true")

    announce_attempts(client, handoff, parcels, SECRET)
    WorkerProcess.burst(tmp_path / "journey.log", env, "--worker-class", worker_class)
    # A manager tries a draft of the playbook on the cases the workers opened.
    draft = PlaybookFactory(name="Failed attempt v2", trigger="failed_attempt", state=PlaybookState.DRAFT,
                            holdout_percent=0)  # fmt: skip
    PlaybookStepFactory(playbook=draft, position=1, action="notify", params={"template": "failed_attempt"})
    now = timezone.now()
    run = sandbox_run_start(draft, since=now - dt.timedelta(days=1), until=now + dt.timedelta(days=1), user=None)
    WorkerProcess.burst(tmp_path / "sandbox.log", env, "--worker-class", worker_class)

    assert count_by(InboundDelivery.objects.values_list("state", flat=True)) == {DeliveryState.PROCESSED: PARCELS}
    messages = Message.objects.filter(kind="failed_attempt")
    assert sorted(messages.values_list("order_id", flat=True)) == sorted(p.order_id for p in parcels)
    assert set(messages.values_list("status", flat=True)) == {MessageStatus.SENT}
    assert len(fake_twilio.requests) == len(fake_twilio.messages) == PARCELS
    run.refresh_from_db()
    assert (run.state, run.report["exceptions"], run.report["actions"]) == ("done", PARCELS, {"notify": PARCELS})
    # All of it went through PgBouncer: the workers' own connections reached PostgreSQL no other way.
    wait_until(lambda: transactions_pooled(pgbouncer, database) > PARCELS, timeout=5, what="PgBouncer's stats")
