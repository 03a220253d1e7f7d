"""The admin's sandbox: a playbook's Try it page queues a run, a real RQ worker plans the period's exceptions,
and the run's page shows its progress and then what the playbook would have done; nothing is sent, paid or
changed. A failed run runs again, one whose worker died is taken up again, and who may see playbooks may
try them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import Group, User
from django.db import connection
from django.urls import reverse

from cxhub import runs
from cxhub.roles import AGENT, ANALYST, CX_MANAGER, roles_setup
from cxhub.runs import RunState
from notifications.models import Message
from playbooks import sandbox
from playbooks.choices import PlaybookState
from playbooks.models import ActionRecord, AuditEvent, ExceptionCase, Playbook, Remedy, SandboxRun
from playbooks.sandbox import SANDBOX_RUNS, sandbox_run, sandbox_run_start
from tests.factories import (
    CompensationCapFactory,
    ExceptionCaseFactory,
    PlaybookFactory,
    PlaybookStepFactory,
    StoreFactory,
)
from tests.reliability.helpers import cron_tick

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)
SINCE, UNTIL = NOW - dt.timedelta(days=7), NOW + dt.timedelta(days=1)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def store():
    store = StoreFactory(timezone="UTC")
    CompensationCapFactory(store=store, action="coupon", max_auto_amount=Decimal("10.00"),
                           max_per_customer_30d=Decimal("25.00"), daily_budget=Decimal("100.00"))  # fmt: skip
    return store


@pytest.fixture
def draft():
    """A draft: live runs ignore it, so only the sandbox tells what it would do."""
    playbook = PlaybookFactory(name="Ship-slip v2", state=PlaybookState.DRAFT, holdout_percent=0)
    PlaybookStepFactory(playbook=playbook, position=1, action="notify", params={"template": "delay"})
    PlaybookStepFactory(playbook=playbook, position=2, action="coupon", params={"amount": "15.00"})
    return playbook


def stalled_parcels(store, count: int, *, days_ago: float = 2) -> list[ExceptionCase]:
    return [
        ExceptionCaseFactory(shipment__order__store=store, detected_at=NOW - dt.timedelta(days=days_ago))
        for _ in range(count)
    ]


def try_page(playbook: Playbook) -> str:
    return reverse("admin:playbooks_playbook_sandbox", args=[playbook.pk])


def page_of(run: SandboxRun) -> str:
    return reverse("admin:playbooks_sandboxrun_change", args=[run.pk])


def side_effects() -> tuple[int, ...]:
    return Remedy.objects.count(), ActionRecord.objects.count(), AuditEvent.objects.count(), Message.objects.count()


def staff_in(role: str) -> User:
    roles_setup()
    user = User.objects.create_user(f"someone-{role}", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


# --- Trying a playbook -------------------------------------------------------------------------------------------


def test_the_try_it_page_offers_the_last_30_days_and_runs_nothing_by_itself(admin_client, draft):
    response = admin_client.get(try_page(draft))

    form = response.context["form"]
    assert (form["since"].value(), form["until"].value()) == (dt.date(2026, 10, 20), dt.date(2026, 11, 18))
    assert not SandboxRun.objects.exists()
    assert 'method="post"' in response.content.decode()


def test_a_run_is_queued_and_its_page_follows_it_until_a_worker_has_planned_every_exception(
    admin_client, admin_user, store, draft, run_jobs
):
    stalled_parcels(store, 3)
    before = side_effects()

    response = admin_client.post(try_page(draft), {"since": "2026-11-11", "until": "2026-11-18"})  # both included

    run = SandboxRun.objects.get()
    assert response.status_code == 302 and response["Location"] == page_of(run)
    assert (run.state, run.playbook, run.playbook_version, run.requested_by) == ("queued", draft, 0, admin_user)
    assert (run.since, run.until) == (dt.datetime(2026, 11, 11, tzinfo=dt.UTC), UNTIL.replace(hour=0))
    waiting = admin_client.get(page_of(run)).content.decode()
    assert "Waiting for a worker…" in waiting and '<progress id="run-progress"' in waiting

    assert run_jobs() >= 1

    run.refresh_from_db()
    assert (run.state, run.total, run.done, run.attempts) == ("done", 3, 3, 1)
    assert run.report["exceptions"] == 3
    assert run.report["actions"] == {"notify": 3, "coupon": 3}
    assert run.report["compensation_total"] == "0.00"  # 15.00 is above the 10.00 cap: approvals instead
    assert (run.report["approvals_needed"], run.report["approval_amount"]) == (3, "45.00")
    report = admin_client.get(page_of(run)).content.decode()
    assert 'id="sandbox-report"' in report and "run-progress" not in report
    assert "Approvals that would have been needed" in report and "above max_auto_amount: 3" in report
    assert side_effects() == before  # nothing sent, paid or recorded


def test_the_try_it_page_lists_the_playbooks_latest_runs(admin_client, store, draft, run_jobs):
    sandbox_run_start(draft, since=SINCE, until=UNTIL, user=None)
    other = PlaybookFactory(name="Other")
    sandbox_run_start(other, since=SINCE, until=UNTIL, user=None)
    run_jobs()

    runs_listed = admin_client.get(try_page(draft)).context["runs"]

    assert [run.playbook for run in runs_listed] == [draft]
    page = admin_client.get(try_page(draft)).content.decode()
    assert "11 Nov 2026 to 19 Nov 2026" in page
    every_run = reverse("admin:playbooks_sandboxrun_changelist") + f"?playbook__id__exact={draft.pk}"
    assert f'href="{every_run}"' in page
    listed = admin_client.get(every_run)
    assert listed.status_code == 200 and [run.playbook for run in listed.context["cl"].result_list] == [draft]
    assert "11 Nov 2026 to 19 Nov 2026" in listed.content.decode()  # the list's Period column


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"since": "2026-11-19", "until": "2026-11-18"}, "__all__"),
        ({"since": "yesterday", "until": "2026-11-19"}, "since"),
        ({"until": "2026-11-19"}, "since"),
    ],
)
def test_a_bad_period_is_a_form_error_and_nothing_is_queued(admin_client, draft, data, field):
    response = admin_client.post(try_page(draft), data)

    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not SandboxRun.objects.exists()


def test_a_single_day_is_a_period_from_its_start_to_the_next_day(admin_client, draft):
    admin_client.post(try_page(draft), {"since": "2026-11-18", "until": "2026-11-18"})

    run = SandboxRun.objects.get()
    day = dt.datetime(2026, 11, 18, tzinfo=dt.UTC)
    assert (run.since, run.until) == (day, day + dt.timedelta(days=1))
    assert run.period == "18 Nov 2026 to 18 Nov 2026"


def test_an_unknown_playbook_or_run_is_a_404(admin_client):
    assert admin_client.get(reverse("admin:playbooks_playbook_sandbox", args=[999])).status_code == 404
    assert admin_client.get(reverse("admin:playbooks_sandboxrun_change", args=[999])).status_code == 404
    assert admin_client.get(reverse("admin:playbooks_sandboxrun_progress", args=[999])).status_code == 404


def test_the_report_says_which_version_was_tried_and_that_the_playbook_changed_since(
    admin_client, store, draft, run_jobs
):
    stalled_parcels(store, 1)
    run = sandbox_run_start(draft, since=SINCE, until=UNTIL, user=None)
    Playbook.objects.filter(pk=draft.pk).update(version=4)  # saved while the run waited
    run_jobs()
    run.refresh_from_db()
    assert run.playbook_version == 4  # the worker tried the playbook as it was when it ran

    Playbook.objects.filter(pk=draft.pk).update(version=5)
    page = admin_client.get(page_of(run)).content.decode()

    assert "version 4 (edited since: now version 5)" in page


# --- Progress, failure, recovery ----------------------------------------------------------------------------------


def test_progress_counts_the_exceptions_then_the_ones_planned_and_is_polled_as_json(
    admin_client, store, draft, monkeypatch
):
    stalled_parcels(store, 4)
    stalled_parcels(store, 2, days_ago=20)  # before the period
    monkeypatch.setattr(runs, "HEARTBEAT_EVERY", dt.timedelta(0))
    seen = []
    real_add = runs.Progress.add

    def watch(progress, done):
        real_add(progress, done)
        seen.append(SandboxRun.objects.values_list("total", "done").get())

    monkeypatch.setattr(runs.Progress, "add", watch)
    run = sandbox_run_start(draft, since=SINCE, until=UNTIL, user=None)
    connection.run_on_commit.clear()
    running = run_progress(admin_client, run)
    assert (running["state"], running["text"], running["finished"]) == ("queued", "Waiting for a worker…", False)

    assert sandbox_run(run.pk) == "done"

    assert seen == [(4, 1), (4, 2), (4, 3), (4, 4)]
    assert run_progress(admin_client, run) == {
        "state": "done", "state_label": "Done", "done": 4, "total": 4, "percent": 100,
        "text": "4 of 4 exceptions (100%)", "finished": True,
    }  # fmt: skip


def run_progress(client, run: SandboxRun) -> dict:
    return client.get(reverse("admin:playbooks_sandboxrun_progress", args=[run.pk])).json()


def test_a_running_run_shows_how_many_exceptions_it_has_planned(admin_client, draft):
    run = sandbox_run_start(draft, since=SINCE, until=UNTIL, user=None)
    SandboxRun.objects.filter(pk=run.pk).update(state=RunState.RUNNING, total=40, done=10)

    page = admin_client.get(page_of(run)).content.decode()

    assert "10 of 40 exceptions (25%)" in page
    assert '<progress id="run-progress" max="100" value="25">' in page


def test_a_run_that_fails_says_why_and_runs_again(admin_client, store, draft, run_jobs, monkeypatch):
    stalled_parcels(store, 2)

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(sandbox, "playbook_sandbox", broken)
    run = sandbox_run_start(draft, since=SINCE, until=UNTIL, user=None)
    run_jobs()
    run.refresh_from_db()
    assert (run.state, run.failure) == ("failed", "RuntimeError: the database went away")
    page = admin_client.get(page_of(run)).content.decode()
    assert "This sandbox run stopped: RuntimeError: the database went away." in page and "Run it again" in page

    monkeypatch.undo()
    response = admin_client.post(reverse("admin:playbooks_sandboxrun_retry", args=[run.pk]))
    run_jobs()

    assert response["Location"] == page_of(run)
    run.refresh_from_db()
    assert (run.state, run.failure, run.attempts, run.report["exceptions"]) == ("done", "", 2, 2)


def test_a_run_whose_worker_died_is_taken_up_again_by_the_cron(store, draft, run_jobs):
    stalled_parcels(store, 2)
    run = sandbox_run_start(draft, since=SINCE, until=UNTIL, user=None)
    connection.run_on_commit.clear()  # a worker took the job ...
    assert SANDBOX_RUNS.claim(run.pk) == 1  # ... and died
    cron_tick(only=["sandbox_runs_recover_job"])
    assert run_jobs() == 1  # the recovery job alone: the heartbeat is fresh

    with time_machine.travel(NOW + SANDBOX_RUNS.lease + dt.timedelta(seconds=1), tick=False):
        cron_tick(only=["sandbox_runs_recover_job"])
        run_jobs()

    run.refresh_from_db()
    assert (run.state, run.attempts, run.report["exceptions"]) == ("done", 2, 2)


def test_a_second_job_for_a_run_done_changes_nothing(store, draft):
    run = sandbox_run_start(draft, since=SINCE, until=UNTIL, user=None)
    assert sandbox_run(run.pk) == "done"
    finished_at = SandboxRun.objects.values_list("finished_at", flat=True).get()

    assert sandbox_run(run.pk) == "done"
    assert SandboxRun.objects.values_list("finished_at", "attempts").get() == (finished_at, 1)


# --- Who may ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [CX_MANAGER, AGENT, ANALYST])
def test_every_role_that_sees_playbooks_may_try_them_and_see_the_runs(client, store, draft, run_jobs, role):
    client.force_login(staff_in(role))

    response = client.post(try_page(draft), {"since": "2026-11-11", "until": "2026-11-19"})
    run_jobs()

    run = SandboxRun.objects.get()
    assert response["Location"] == page_of(run)
    assert client.get(page_of(run)).status_code == 200
    assert client.get(reverse("admin:playbooks_sandboxrun_changelist")).status_code == 200
    assert client.post(reverse("admin:playbooks_sandboxrun_delete", args=[run.pk])).status_code == 403


def test_staff_who_cannot_see_playbooks_cannot_try_them_or_see_runs(client, draft):
    run = sandbox_run_start(draft, since=SINCE, until=UNTIL, user=None)
    client.force_login(User.objects.create_user("clerk", password="pw", is_staff=True))

    assert client.get(try_page(draft)).status_code == 403
    assert client.post(try_page(draft), {"since": "2026-11-11", "until": "2026-11-19"}).status_code == 403
    assert client.get(page_of(run)).status_code == 403
    assert client.get(reverse("admin:playbooks_sandboxrun_progress", args=[run.pk])).status_code == 403
    assert client.post(reverse("admin:playbooks_sandboxrun_retry", args=[run.pk])).status_code == 403
    assert SandboxRun.objects.count() == 1


def test_runs_are_never_added_or_edited_by_hand(admin_client, draft):
    run = sandbox_run_start(draft, since=SINCE, until=UNTIL, user=None)

    assert admin_client.get(reverse("admin:playbooks_sandboxrun_add")).status_code == 403
    assert admin_client.post(page_of(run), {"state": "done"}).status_code == 200  # the page, not a form
    assert SandboxRun.objects.get().state == "queued"
