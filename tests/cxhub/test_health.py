"""GET /healthz names the state of the database and Redis; GET /healthz/work also says whether work flows."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test import override_settings

from notifications.choices import MessageStatus
from tests.factories import MessageFactory, ShipmentFactory, StoreFactory, SweepRunFactory
from tests.reliability.helpers import easypost_event, post_easypost

NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)


@pytest.mark.django_db
def test_it_answers_200_when_database_and_redis_are_up(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok"}


@pytest.mark.django_db
def test_it_answers_503_naming_redis_when_redis_is_down(client):
    with override_settings(RQ_QUEUES={"default": {"URL": "redis://127.0.0.1:1/0"}}):
        response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["failing"] == ["redis"]
    assert body["database"] == "ok"
    assert body["redis"].startswith("error: ConnectionError")


@pytest.mark.django_db
def test_it_answers_503_naming_the_database_when_it_is_down(client, monkeypatch):
    refuse_connections(monkeypatch)
    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["failing"] == ["database"]
    assert response.json()["redis"] == "ok"


def refuse_connections(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        from django.db import OperationalError

        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", refuse)


def work(client, *, at: dt.datetime):
    with time_machine.travel(at, tick=False):
        return client.get("/healthz/work")


@pytest.fixture
def swept():
    """The cron's sweeps ran four minutes ago."""
    return SweepRunFactory(started_at=NOW - dt.timedelta(minutes=4))


@pytest.mark.django_db
def test_work_answers_200_while_events_are_applied_messages_sent_and_sweeps_run(client, swept):
    response = work(client, at=NOW)

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "redis": "ok",
        "deliveries": "ok",
        "messages": "ok",
        "sweeps": "ok",
    }


@pytest.mark.django_db
def test_work_answers_503_once_a_carrier_event_has_waited_five_minutes_for_a_worker(client, swept, run_jobs):
    store = StoreFactory(easypost_webhook_secret="easypost-health-secret")
    shipment = ShipmentFactory(order__store=store, tracking_code="EZ1000000001")
    with time_machine.travel(NOW, tick=False):
        body = easypost_event(event_id="evt_health_1", tracking_code=shipment.tracking_code)
        assert post_easypost(client, body, "easypost-health-secret").json()["status"] == "received"

    assert work(client, at=NOW + dt.timedelta(minutes=4)).status_code == 200  # a backlog, not a stall yet
    stalled = work(client, at=NOW + dt.timedelta(minutes=6))

    assert stalled.status_code == 503
    assert stalled.json()["failing"] == ["deliveries"]
    assert stalled.json()["deliveries"] == (
        "error: carrier and store events waiting for a worker since 2026-11-18T15:00:00Z: are the RQ workers running?"
    )
    run_jobs()  # the workers are back
    assert work(client, at=NOW + dt.timedelta(minutes=7)).status_code == 200


@pytest.mark.django_db
def test_work_answers_503_once_a_due_message_has_waited_five_minutes_but_not_for_one_held_for_quiet_hours(
    client, swept
):
    with time_machine.travel(NOW, tick=False):
        held = MessageFactory(status=MessageStatus.SCHEDULED, scheduled_for=NOW + dt.timedelta(hours=9))
    assert work(client, at=NOW + dt.timedelta(minutes=6)).status_code == 200

    with time_machine.travel(NOW, tick=False):
        MessageFactory(status=MessageStatus.QUEUED)
    stalled = work(client, at=NOW + dt.timedelta(minutes=6))

    assert stalled.status_code == 503
    assert stalled.json()["failing"] == ["messages"]
    assert stalled.json()["messages"].startswith("error: messages waiting for a worker since 2026-11-18T15:00:00Z")
    held.refresh_from_db()
    assert held.status == MessageStatus.SCHEDULED


@pytest.mark.django_db
def test_work_answers_503_when_the_sweeps_have_stopped_or_never_ran(client, settings):
    settings.SWEEP_INTERVAL_SECONDS = 300
    never = work(client, at=NOW)
    assert never.status_code == 503
    assert never.json()["sweeps"] == "error: no sweep has run yet: is manage.py rqcron cxhub.cron running?"

    SweepRunFactory(started_at=NOW)
    assert work(client, at=NOW + dt.timedelta(minutes=10)).status_code == 200  # one sweep missed: a busy queue
    stopped = work(client, at=NOW + dt.timedelta(minutes=12))  # two missed and a minute: the cron is down

    assert stopped.status_code == 503
    assert stopped.json()["failing"] == ["sweeps"]
    assert stopped.json()["sweeps"] == (
        "error: no sweep since 2026-11-18T15:00:00Z: is manage.py rqcron cxhub.cron running?"
    )


@pytest.mark.django_db
def test_work_names_only_the_database_when_it_is_down(client, monkeypatch):
    refuse_connections(monkeypatch)
    response = client.get("/healthz/work")

    assert response.status_code == 503
    assert response.json() == {"status": "fail", "database": "error: OperationalError", "redis": "ok",
                                "failing": ["database"]}  # fmt: skip


@pytest.mark.django_db
def test_the_admin_index_says_when_work_has_stopped_and_is_quiet_while_it_flows(admin_client, swept):
    with time_machine.travel(NOW, tick=False):
        flowing = admin_client.get("/admin/").content.decode()
    with time_machine.travel(NOW + dt.timedelta(minutes=20), tick=False):
        stopped = admin_client.get("/admin/").content.decode()

    assert "Work has stopped flowing" not in flowing
    assert "Work has stopped flowing" in stopped
    assert "Sweeps: no sweep since 2026-11-18T14:56:00Z: is manage.py rqcron cxhub.cron running?" in stopped
