"""The admin's sandbox: a playbook's Try it page queues a run, a real RQ worker plans the period's exceptions,
and the run's page shows its progress and then what the playbook would have done; nothing is sent, paid or
changed. A failed run runs again, one whose worker died is taken up again, and who may see playbooks may
try them. Exceptions that recur in the period are simulated as live acts on them (the no-repeat rule): what a
person closed is not opened again on the same facts, a message is not sent twice about the same parcel, a
remedy already given for it waits for a person; the report says how many it held back."""

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
from orders.choices import ShipmentStatus
from orders.models import Order
from playbooks import sandbox
from playbooks.choices import ActorType, ApprovalDecision, AuditKind, CaseState, PlaybookState, RemedyState
from playbooks.engine import REPEAT, detector_sweep
from playbooks.models import ActionRecord, Approval, AuditEvent, ExceptionCase, Playbook, Remedy, SandboxRun
from playbooks.sandbox import SANDBOX_RUNS, playbook_sandbox, sandbox_run, sandbox_run_start
from tests.factories import (
    AuditEventFactory,
    CompensationCapFactory,
    ExceptionCaseFactory,
    LineItemFactory,
    OrderFactory,
    PlaybookFactory,
    PlaybookStepFactory,
    RemedyFactory,
    SandboxRunFactory,
    ShipmentFactory,
    StoreFactory,
    TrackingEventFactory,
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


# --- Exceptions that recur: the no-repeat rule, as live applies it ---------------------------------------------


@pytest.fixture
def recurring_draft():
    """Tell the customer, and a 10.00 coupon: within the store's caps, so the first one is paid automatically."""
    playbook = PlaybookFactory(name="Ship-slip v3", state=PlaybookState.DRAFT, holdout_percent=0)
    PlaybookStepFactory(playbook=playbook, position=1, action="notify", params={"template": "delay"})
    PlaybookStepFactory(playbook=playbook, position=2, action="coupon", params={"amount": "10.00"})
    return playbook


def closed(case: ExceptionCase, *, days_ago: float, by: str) -> ExceptionCase:
    """The case resolved `days_ago`: its condition cleared, or a person resolved it."""
    ExceptionCase.objects.filter(pk=case.pk).update(state=CaseState.RESOLVED, resolved_at=NOW - dt.timedelta(days_ago))
    if by == "person":
        AuditEventFactory(case=case, kind=AuditKind.RESOLVED, actor_type=ActorType.USER, message="Resolved.")
    return case


def recurs(store, *, first_closed_by: str) -> ExceptionCase:
    """A parcel's exception detected 6 days ago, closed 5 days ago (its condition cleared, or a person closed
    it) and detected again 2 days ago. Returns the first."""
    first = ExceptionCaseFactory(shipment__order__store=store, detected_at=NOW - dt.timedelta(days=6))
    closed(first, days_ago=5, by=first_closed_by)
    ExceptionCaseFactory(shipment=first.shipment, detected_at=NOW - dt.timedelta(days=2))
    return first


def test_a_parcels_exception_that_recurs_after_it_cleared_gets_one_message_and_its_coupon_again_waits_for_a_person(
    admin_client, store, recurring_draft, run_jobs
):
    recurs(store, first_closed_by="condition")

    run = sandbox_run_start(recurring_draft, since=SINCE, until=UNTIL, user=None)
    run_jobs()

    run.refresh_from_db()
    report = run.report
    assert (report["exceptions"], report["matched"], report["not_reopened"]) == (2, 2, 0)
    assert report["actions"] == {"notify": 1, "coupon": 2}  # the second "delay" is not sent
    assert sum(report["messages_by_channel"].values()) == 1 and report["messages_not_repeated"] == 1
    # The first coupon within the caps; the second repeats it, so a person decides, whatever the caps.
    assert report["compensation_total"] == "10.00"
    assert (report["approvals_needed"], report["approval_amount"]) == (1, "10.00")
    assert report["approvals_by_cap"] == {REPEAT: 1}
    assert (report["repeats_to_approval"], report["repeat_amount"], report["repeats_held_back"]) == (1, "10.00", 2)
    page = admin_client.get(page_of(run)).content.decode()
    assert "already given for the same problem: 1" in page
    assert '<tr id="sandbox-repeats"><th scope="row">Repeats held back</th><td>2:' in page
    for held_back in (
        "0 exceptions a person had closed, not opened again on the same facts",
        "1 message the customer already had about the same parcel or order, not sent again",
        "1 remedy already given for the same problem, sent for approval instead (for 10.00)",
    ):
        assert held_back in page
    listed = admin_client.get(reverse("admin:playbooks_sandboxrun_changelist")).content.decode()
    assert "2 exceptions, 3 actions, 10.00 paid, 1 approvals, 2 repeats held back" in listed


@pytest.mark.parametrize(("news", "planned"), [(False, 1), (True, 2)])
def test_an_exception_a_person_closed_is_not_opened_again_unless_the_carrier_said_something_new(
    store, recurring_draft, news, planned
):
    first = recurs(store, first_closed_by="person")
    if news:  # a scan received after the close, before the second detection
        with time_machine.travel(NOW - dt.timedelta(days=3), tick=False):
            TrackingEventFactory(shipment=first.shipment)
    with time_machine.travel(NOW - dt.timedelta(days=1), tick=False):
        TrackingEventFactory(shipment=first.shipment)  # after the second detection: not known then

    report = playbook_sandbox(recurring_draft, since=SINCE, until=UNTIL)

    assert (report.exceptions, report.matched, report.not_reopened) == (2, planned, 2 - planned)
    assert report.actions == {"notify": 1, "coupon": planned}
    assert (report.messages_not_repeated, report.repeats_to_approval) == (planned - 1, planned - 1)
    assert report.repeats_held_back == (2 if news else 1)
    assert report.compensation_total == Decimal("10.00")


def test_an_exception_the_playbook_would_not_act_on_is_not_counted_as_held_back(store, recurring_draft):
    recurs(store, first_closed_by="person")
    Playbook.objects.filter(pk=recurring_draft.pk).update(vip_only=True)  # the customer is not a VIP

    report = playbook_sandbox(Playbook.objects.get(pk=recurring_draft.pk), since=SINCE, until=UNTIL)

    assert (report.exceptions, report.matched, report.not_reopened, report.repeats_held_back) == (2, 0, 0, 0)


def test_only_what_a_person_had_closed_when_an_exception_was_detected_holds_it_back(store, recurring_draft):
    """Cleared, opened again (and planned: a person closed it only later), then closed by a person and detected
    again on the same facts: that third one is not opened."""
    first = recurs(store, first_closed_by="condition")
    second = closed(ExceptionCase.objects.exclude(pk=first.pk).get(), days_ago=1, by="person")
    ExceptionCaseFactory(shipment=second.shipment, detected_at=NOW - dt.timedelta(hours=12))

    report = playbook_sandbox(recurring_draft, since=SINCE, until=UNTIL)

    assert (report.exceptions, report.matched, report.not_reopened) == (3, 2, 1)
    assert (report.messages_not_repeated, report.repeats_to_approval, report.repeats_held_back) == (1, 1, 3)


def test_an_order_a_person_closed_is_not_opened_again_until_the_order_changed(store):
    playbook = PlaybookFactory(trigger="late_to_ship", state=PlaybookState.DRAFT, holdout_percent=0)
    PlaybookStepFactory(playbook=playbook, position=1, action="notify", params={"template": "late_to_ship"})
    unchanged, changed = (OrderFactory(store=store) for _ in range(2))
    for order in (unchanged, changed):
        first = ExceptionCaseFactory(
            shipment=None,
            order=order,
            kind="late_to_ship",
            state=CaseState.DISMISSED,
            detected_at=NOW - dt.timedelta(days=5),
            resolved_at=NOW - dt.timedelta(days=4),
        )
        AuditEventFactory(case=first, kind=AuditKind.DISMISSED, actor_type=ActorType.USER, message="Dismissed.")
        ExceptionCaseFactory(shipment=None, order=order, kind="late_to_ship", detected_at=NOW - dt.timedelta(days=2))
    Order.objects.filter(pk=unchanged.pk).update(updated_at=NOW - dt.timedelta(days=6))
    Order.objects.filter(pk=changed.pk).update(updated_at=NOW - dt.timedelta(days=3))  # after the dismissal

    report = playbook_sandbox(playbook, since=SINCE, until=UNTIL)

    # Each order's first exception is told; the changed order's second is opened, but not told again.
    assert (report.exceptions, report.not_reopened, report.messages_not_repeated) == (4, 1, 1)
    assert report.actions == {"notify": 2}


def test_what_was_given_before_the_period_counts_and_the_periods_real_remedies_do_not(store, recurring_draft):
    """Before the period: what the database holds, as for the caps' spend. In it: what the playbook would have
    given, not what the period's exceptions were really given."""
    before = ExceptionCaseFactory(shipment__order__store=store, detected_at=SINCE - dt.timedelta(days=3),
                                  state=CaseState.RESOLVED, resolved_at=SINCE - dt.timedelta(days=2))  # fmt: skip
    RemedyFactory(case=before, action="notify", params={"template": "delay"}, amount=0, state=RemedyState.DONE)
    RemedyFactory(case=before, action="coupon", amount=Decimal("10.00"), state=RemedyState.REJECTED)  # not given
    # Another parcel, whose first exception in the period really was told (by another playbook).
    real = ExceptionCaseFactory(shipment__order__store=store, detected_at=NOW - dt.timedelta(days=5),
                                state=CaseState.RESOLVED, resolved_at=NOW - dt.timedelta(days=4))  # fmt: skip
    RemedyFactory(case=real, action="notify", params={"template": "delay"}, amount=0, state=RemedyState.DONE)
    for case in (before, real):
        ExceptionCaseFactory(shipment=case.shipment, detected_at=NOW - dt.timedelta(days=2))

    report = playbook_sandbox(recurring_draft, since=SINCE, until=UNTIL)

    assert report.exceptions == 3
    # The first parcel was told before the period and not given a coupon: a coupon, no message. The second is
    # told and given a coupon by the draft's first plan, and its second exception repeats neither automatically.
    assert report.actions == {"notify": 1, "coupon": 3}
    assert (report.messages_not_repeated, report.repeats_to_approval) == (2, 1)
    assert report.compensation_total == Decimal("20.00")


def test_a_run_from_before_the_rule_was_simulated_shows_no_repeats_row(admin_client):
    run = SandboxRunFactory()  # its report has no repeats held back

    page = admin_client.get(page_of(run)).content.decode()

    assert 'id="sandbox-report"' in page and "sandbox-repeats" not in page
    listed = admin_client.get(reverse("admin:playbooks_sandboxrun_changelist")).content.decode()
    assert "1 exceptions, 2 actions, 10.00 paid, 0 approvals<" in listed


def test_the_sandbox_counts_what_a_live_run_does_when_a_parcels_exception_recurs(store, run_jobs):
    """The same playbook acts live on a parcel stalled in transit, whose exception clears and comes back; the
    sandbox, tried on that period, reports the messages, money and approvals live actually made."""
    playbook = PlaybookFactory(name="Lost-maybe", trigger="transit_stall", holdout_percent=0)
    PlaybookStepFactory(playbook=playbook, position=1, action="notify", params={"template": "lost_maybe"})
    PlaybookStepFactory(playbook=playbook, position=2, action="coupon", params={"amount": "10.00"})
    order = OrderFactory(store=store, shipping_total=Decimal("9.00"))
    LineItemFactory(order=order, unit_price=Decimal("50.00"))
    parcel = ShipmentFactory(order=order, status=ShipmentStatus.IN_TRANSIT, first_scan_at=NOW - dt.timedelta(days=8),
                             last_scan_at=NOW - dt.timedelta(days=4))  # fmt: skip
    for days in (8, 4):
        with time_machine.travel(NOW - dt.timedelta(days=days), tick=False):
            TrackingEventFactory(shipment=parcel, occurred_at=NOW - dt.timedelta(days=days))

    def sweep(at: dt.datetime, status: str) -> None:
        with time_machine.travel(at, tick=False):
            type(parcel).objects.filter(pk=parcel.pk).update(status=status)
            detector_sweep("transit_stall", now=at)
            run_jobs()

    sweep(NOW, ShipmentStatus.IN_TRANSIT)  # opened: told, and a coupon
    sweep(NOW + dt.timedelta(minutes=5), ShipmentStatus.OUT_FOR_DELIVERY)  # cleared
    sweep(NOW + dt.timedelta(hours=1), ShipmentStatus.IN_TRANSIT)  # opened again
    assert ExceptionCase.objects.count() == 2
    live_messages = Message.objects.count()
    live_paid = sum(Remedy.objects.filter(action="coupon", state=RemedyState.DONE).values_list("amount", flat=True))
    live_approvals = Approval.objects.filter(decision=ApprovalDecision.PENDING)
    assert (live_messages, live_paid, live_approvals.count()) == (1, Decimal("10.00"), 1)

    report = playbook_sandbox(playbook, since=NOW - dt.timedelta(days=1), until=NOW + dt.timedelta(days=1))

    assert sum(report.messages_by_channel.values()) == live_messages
    assert report.compensation_total == live_paid
    assert report.approvals_needed == live_approvals.count()
    assert report.approvals_by_cap == {REPEAT: 1} and live_approvals.get().exceeded == [REPEAT]
    assert (report.messages_not_repeated, report.repeats_to_approval) == (1, 1)
