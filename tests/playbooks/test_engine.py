"""The engine as CX managers and agents rely on it: detect, decide within caps, ask above them, explain."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import django_rq
import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications.defaults import templates_seed
from notifications.models import Message
from orders.choices import EventSource, ShipmentStatus
from orders.models import Shipment
from orders.services import shipment_record_events
from orders.updates import TrackingEventData
from playbooks.approvals import approval_decide, approvals_escalate_overdue
from playbooks.choices import ApprovalDecision, AuditKind, CaseState, PlaybookState, RemedyState
from playbooks.defaults import playbooks_seed
from playbooks.detectors import DETECTORS
from playbooks.engine import (
    HELD_OUT_NEWS,
    case_act,
    case_run_steps,
    detector_sweep,
    in_holdout,
    playbook_conditions,
    playbook_record_version,
    subject_check,
)
from playbooks.models import ActionRecord, Approval, AuditEvent, ExceptionCase, Playbook, Remedy
from playbooks.providers import LocalProvider
from playbooks.sandbox import playbook_sandbox
from tests.factories import (
    AgentProfileFactory,
    CompensationCapFactory,
    CustomerFactory,
    ExceptionCaseFactory,
    OrderFactory,
    PlaybookFactory,
    PlaybookStepFactory,
    RemedyFactory,
    ShipmentFactory,
    StoreFactory,
    UserFactory,
)
from tests.plans import plan_with_only, uses
from tests.reliability.helpers import cron_jobs

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def store():
    store = StoreFactory(timezone="UTC")
    CompensationCapFactory(store=store, action="coupon", max_auto_amount=Decimal("10.00"),
                           max_per_customer_30d=Decimal("25.00"), daily_budget=Decimal("100.00"),
                           vip_multiplier=Decimal("2.00"))  # fmt: skip
    return store


@pytest.fixture
def ship_slip_playbook():
    playbook = PlaybookFactory(name="Ship-slip", trigger="no_first_scan", holdout_percent=0)
    PlaybookStepFactory(playbook=playbook, position=1, action="notify", params={"template": "delay"})
    PlaybookStepFactory(playbook=playbook, position=2, action="coupon", params={"amount": "10.00"})
    return playbook


def slipped_shipment(store, *, hours: float = 50, customer=None, **order):
    order = OrderFactory(store=store, customer=customer or CustomerFactory(store=store), **order)
    return ShipmentFactory(order=order, label_created_at=NOW - dt.timedelta(hours=hours))


def sweep_and_act(run_jobs, kind: str = "no_first_scan"):
    with time_machine.travel(NOW, tick=False):
        run = detector_sweep(kind, now=NOW)
        run_jobs()
    return run


def test_a_slipped_shipment_gets_a_notice_and_a_coupon_within_caps(store, ship_slip_playbook, run_jobs):
    shipment = slipped_shipment(store)

    run = sweep_and_act(run_jobs)

    assert (run.candidates, run.opened) == (1, 1)
    case = ExceptionCase.objects.get()
    assert (case.shipment, case.state, case.playbook_version.number) == (shipment, CaseState.ACTING, 1)
    assert "50 hours ago" in case.explanation and case.facts["threshold_hours"] == 48
    assert list(Remedy.objects.values_list("action", "state", "amount")) == [
        ("notify", RemedyState.DONE, Decimal("0.00")),
        ("coupon", RemedyState.DONE, Decimal("10.00")),
    ]
    assert list(ActionRecord.objects.values_list("operation", flat=True)) == ["coupon"]
    assert Message.objects.get().idempotency_key == f"remedy:{Remedy.objects.get(action='notify').pk}"
    kinds = list(AuditEvent.objects.filter(case=case).order_by("id").values_list("kind", flat=True))
    assert kinds == [AuditKind.DETECTED, AuditKind.PLANNED, AuditKind.PLANNED, AuditKind.EXECUTED, AuditKind.EXECUTED]
    executed = AuditEvent.objects.filter(case=case, kind=AuditKind.EXECUTED).order_by("id")
    assert [event.message for event in executed] == [
        "Sent you a message about the delay.",
        "A $10.00 coupon for your next order.",
    ]


def test_a_second_sweep_finds_nothing_new(store, ship_slip_playbook, run_jobs):
    slipped_shipment(store)
    sweep_and_act(run_jobs)

    run = sweep_and_act(run_jobs)

    assert (run.candidates, run.opened) == (0, 0)
    assert ExceptionCase.objects.count() == 1
    assert (ActionRecord.objects.count(), Message.objects.count()) == (1, 1)


def test_acting_twice_on_a_case_never_pays_twice(store, ship_slip_playbook, run_jobs):
    slipped_shipment(store)
    sweep_and_act(run_jobs)
    case = ExceptionCase.objects.get()
    coupon = Remedy.objects.get(action="coupon")

    case_act(case.pk)
    case_run_steps(case.pk)
    Remedy.objects.filter(pk=coupon.pk).update(state=RemedyState.APPROVED)  # as if a worker died after paying
    case_run_steps(case.pk)

    assert Remedy.objects.filter(action="coupon").count() == 1
    assert ActionRecord.objects.filter(operation="coupon").count() == 1


def test_a_case_claimed_by_another_worker_while_this_one_planned_gets_no_second_plan(
    store, ship_slip_playbook, monkeypatch
):
    from playbooks import engine

    slipped_shipment(store)
    with time_machine.travel(NOW, tick=False):
        detector_sweep("no_first_scan", now=NOW)
    case = ExceptionCase.objects.get()
    real_plan_case = engine.plan_case_under

    def another_worker_claims_meanwhile(*args, **kwargs):
        plan = real_plan_case(*args, **kwargs)
        version = playbook_record_version(ship_slip_playbook)
        ExceptionCase.objects.filter(pk=case.pk).update(state=CaseState.ACTING, playbook_version=version)
        return plan

    monkeypatch.setattr(engine, "plan_case_under", another_worker_claims_meanwhile)

    assert engine.cases_plan([case.pk]) == ([], 0)
    assert not Remedy.objects.exists()
    assert not AuditEvent.objects.filter(kind=AuditKind.PLANNED).exists()


def scanned_after_its_case(store, run_jobs):
    """A slipped parcel whose case the playbook acted on, then its first carrier scan."""
    shipment = slipped_shipment(store)
    sweep_and_act(run_jobs)
    shipment_record_events(
        shipment=shipment,
        events=[TrackingEventData(status=ShipmentStatus.IN_TRANSIT, occurred_at=NOW, dedupe_key="scan-1")],
        source=EventSource.API,
    )
    return shipment


def test_the_case_resolves_itself_when_a_scan_arrives(store, ship_slip_playbook, run_jobs):
    scanned_after_its_case(store, run_jobs)

    with time_machine.travel(NOW + dt.timedelta(minutes=5), tick=False):
        run = detector_sweep("no_first_scan", now=NOW + dt.timedelta(minutes=5))

    case = ExceptionCase.objects.get()
    assert run.resolved == 1
    assert case.state == CaseState.RESOLVED
    assert "in transit" in case.resolution
    assert AuditEvent.objects.filter(case=case, kind=AuditKind.RESOLVED).exists()


def test_a_scan_for_a_stalled_parcel_resolves_its_case_as_the_fact_arrives(store, ship_slip_playbook, run_jobs):
    shipment = scanned_after_its_case(store, run_jobs)

    with time_machine.travel(NOW + dt.timedelta(minutes=5), tick=False):
        subject_check(shipment_ids=[shipment.pk], now=NOW + dt.timedelta(minutes=5))

    case = ExceptionCase.objects.get(kind="no_first_scan")
    assert case.state == CaseState.RESOLVED
    assert "in transit" in case.resolution


def test_the_cases_a_fact_opens_are_acted_on_in_its_job_the_first_batch_here_the_rest_queued_first(
    store, ship_slip_playbook, monkeypatch, django_capture_on_commit_callbacks
):
    from orders.jobs import inbound_drain_job
    from playbooks import engine

    monkeypatch.setattr(engine, "ACT_BATCH_SIZE", 1)
    shipments = [slipped_shipment(store).pk, slipped_shipment(store).pk]

    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        django_rq.get_queue("default").enqueue(inbound_drain_job)  # more deliveries wait meanwhile
        assert subject_check(shipment_ids=shipments, now=NOW) == 2

    acted = ExceptionCase.objects.get(state=CaseState.ACTING)
    assert acted.remedies.filter(state=RemedyState.DONE).count() == 2
    left = ExceptionCase.objects.get(state=CaseState.OPEN)
    jobs = [(job.func_name, job.args) for job in django_rq.get_queue("default").get_jobs()]
    # The rest go ahead of the next deliveries: what is under way is finished first.
    assert jobs == [("playbooks.jobs.cases_act_job", ([left.pk],)), ("orders.jobs.inbound_drain_job", ())]


def sweep_then_scan(store, count: int) -> list:
    """`count` slipped parcels whose cases a sweep opened, then their first carrier scans."""
    parcels = [slipped_shipment(store) for _ in range(count)]
    detector_sweep("no_first_scan", now=NOW)
    for parcel in parcels:
        scan = TrackingEventData(status=ShipmentStatus.IN_TRANSIT, occurred_at=NOW, dedupe_key=f"scan-{parcel.pk}")
        shipment_record_events(shipment=parcel, events=[scan], source=EventSource.API)
    return parcels


def test_cleared_cases_resolve_together_in_the_same_statements_as_one(store, ship_slip_playbook):
    from playbooks.engine import cases_resolve_cleared, detector_settings

    def resolve_counting_queries() -> tuple[int, int]:
        _, params = detector_settings("no_first_scan")
        with CaptureQueriesContext(connection) as queries:
            resolved = cases_resolve_cleared(DETECTORS["no_first_scan"], now=NOW, params=params)
        return len(queries), resolved

    with time_machine.travel(NOW, tick=False):
        sweep_then_scan(store, 1)
        alone, one = resolve_counting_queries()
        parcels = sweep_then_scan(store, 4)
        escalated = ExceptionCase.objects.get(shipment=parcels[0])
        ExceptionCase.objects.filter(pk=escalated.pk).update(state=CaseState.ESCALATED)  # a person has it now
        batch, three = resolve_counting_queries()

    assert (one, three) == (1, 3)
    assert batch == alone
    resolved = ExceptionCase.objects.filter(state=CaseState.RESOLVED)
    assert {case.resolution for case in resolved} == {"The condition cleared: the shipment is now in transit."}
    assert AuditEvent.objects.filter(kind=AuditKind.RESOLVED, case__in=resolved).count() == 4
    escalated.refresh_from_db()
    assert escalated.state == CaseState.ESCALATED


def test_a_backlog_of_cleared_cases_larger_than_a_batch_resolves_entirely(store, ship_slip_playbook, monkeypatch):
    from playbooks import engine

    monkeypatch.setattr(engine, "RESOLVE_BATCH_SIZE", 2)
    with time_machine.travel(NOW, tick=False):
        sweep_then_scan(store, 5)
        run = detector_sweep("no_first_scan", now=NOW)

    assert run.resolved == 5
    assert not ExceptionCase.objects.exclude(state=CaseState.RESOLVED).exists()
    assert AuditEvent.objects.filter(kind=AuditKind.RESOLVED).count() == 5


def test_a_fact_about_a_parcel_without_a_case_checks_each_detector_once(store, django_assert_num_queries):
    shipment = ShipmentFactory(order=OrderFactory(store=store), status=ShipmentStatus.IN_TRANSIT)
    detectors = [d for d in DETECTORS.all() if d.subject == "shipment"]

    # The detectors' settings, the cases that could clear, then one candidate query per detector: no
    # detector's condition is evaluated a second time to resolve cases the parcel does not have.
    with django_assert_num_queries(2 + len(detectors)):
        subject_check(shipment_ids=[shipment.pk], now=NOW)


def parcels_with_events(store, count: int, status: str) -> list:
    from tests.factories import TrackingEventFactory

    parcels = []
    for _ in range(count):
        parcel = ShipmentFactory(order=OrderFactory(store=store), status=status, last_event_at=NOW)
        day, hour = NOW - dt.timedelta(days=1), NOW - dt.timedelta(hours=1)
        TrackingEventFactory(shipment=parcel, status=ShipmentStatus.IN_TRANSIT, occurred_at=day, location="Oakland, CA")
        TrackingEventFactory(shipment=parcel, status=status, occurred_at=hour, location="Reno, NV")
        parcels.append(parcel)
    return parcels


def open_counting_queries(kind: str, subjects: list) -> tuple[int, list]:
    """Open `kind`'s cases for `subjects`: the queries it took, and the cases."""
    from playbooks.engine import cases_open, detector_settings

    detector, (_, params) = DETECTORS[kind], detector_settings(kind)
    with CaptureQueriesContext(connection) as queries:
        opened = cases_open(detector, subjects, now=NOW, params=params)
    return len(queries), opened


@pytest.mark.parametrize(
    ("kind", "status", "location"),
    [
        ("milestone_shipped", ShipmentStatus.IN_TRANSIT, "Oakland, CA"),  # the first scan's
        ("milestone_out_for_delivery", ShipmentStatus.OUT_FOR_DELIVERY, "Reno, NV"),
        ("milestone_delivered", ShipmentStatus.DELIVERED, "Reno, NV"),
        ("failed_attempt", ShipmentStatus.ATTEMPTED_DELIVERY, "Reno, NV"),
        ("carrier_disruption", ShipmentStatus.EXCEPTION, "Reno, NV"),
        ("transit_stall", ShipmentStatus.IN_TRANSIT, None),
    ],
)
def test_opening_a_batch_of_cases_reads_what_their_facts_need_once_for_the_batch(store, kind, status, location):
    one, many = ([Shipment.objects.get(pk=p.pk) for p in parcels_with_events(store, n, status)] for n in (1, 4))

    alone, _ = open_counting_queries(kind, one)
    batch, opened = open_counting_queries(kind, many)

    assert batch == alone
    assert len(opened) == 4
    assert {case.facts.get("location") for case in opened} == {location}


def test_opening_a_batch_of_disputed_deliveries_reads_their_claims_once_for_the_batch(store):
    from tests.factories import TicketFactory

    def disputed(count: int) -> list[Shipment]:
        delivered_at = NOW - dt.timedelta(days=1)
        parcels = [
            ShipmentFactory(order=OrderFactory(store=store), status=ShipmentStatus.DELIVERED, delivered_at=delivered_at)
            for _ in range(count)
        ]
        for parcel in parcels:
            for reason, hours_ago in (("wismo", 20), ("delivery_problem", 2)):
                at = NOW - dt.timedelta(hours=hours_ago)
                TicketFactory(store=store, order=parcel.order, reason=reason, created_at=at)
        return [Shipment.objects.get(pk=p.pk) for p in parcels]

    alone, _ = open_counting_queries("delivered_not_received", disputed(1))
    batch, opened = open_counting_queries("delivered_not_received", disputed(4))

    assert batch == alone
    assert {case.facts["hours_from_delivery_to_claim"] for case in opened} == {22.0}  # the claim, not the WISMO


# --- Caps -----------------------------------------------------------------------------------------------------


def coupon_playbook(amount: str):
    playbook = PlaybookFactory(trigger="no_first_scan", holdout_percent=0)
    PlaybookStepFactory(playbook=playbook, position=1, action="coupon", params={"amount": amount})
    return playbook


def test_an_amount_above_the_automatic_cap_waits_for_approval(store, run_jobs):
    coupon_playbook("15.00")
    slipped_shipment(store)

    sweep_and_act(run_jobs)

    remedy = Remedy.objects.get()
    assert remedy.state == RemedyState.NEEDS_APPROVAL
    assert remedy.approval.exceeded == ["max_auto_amount"]
    assert remedy.cap_check["max_auto_amount"] == "10.00"
    assert not ActionRecord.objects.exists()
    assert AuditEvent.objects.filter(kind=AuditKind.CAP_EXCEEDED, remedy=remedy).exists()


def test_a_vip_multiplier_raises_the_automatic_cap(store, run_jobs):
    coupon_playbook("15.00")
    slipped_shipment(store, customer=CustomerFactory(store=store, is_vip=True))

    sweep_and_act(run_jobs)

    assert Remedy.objects.get().state == RemedyState.DONE


def test_the_per_customer_cap_counts_the_last_30_days(store, run_jobs):
    coupon_playbook("10.00")
    customer = CustomerFactory(store=store)
    for _ in range(3):
        slipped_shipment(store, customer=customer)

    sweep_and_act(run_jobs)

    states = sorted(Remedy.objects.values_list("state", flat=True))
    assert states == [RemedyState.DONE, RemedyState.DONE, RemedyState.NEEDS_APPROVAL]
    assert Approval.objects.get().exceeded == ["max_per_customer_30d"]


def test_the_daily_budget_of_the_store_is_never_overspent(store, run_jobs):
    coupon_playbook("10.00")
    for _ in range(12):
        slipped_shipment(store)

    sweep_and_act(run_jobs)

    assert Remedy.objects.filter(state=RemedyState.DONE).count() == 10  # 10 x 10.00 = the 100.00 budget
    assert [a.exceeded for a in Approval.objects.all()] == [["daily_budget"], ["daily_budget"]]
    assert ActionRecord.objects.filter(operation="coupon").count() == 10


def test_an_action_without_a_cap_is_never_paid_automatically(store, run_jobs):
    playbook = PlaybookFactory(trigger="no_first_scan", holdout_percent=0)
    PlaybookStepFactory(playbook=playbook, position=1, action="store_credit", params={"amount": "1.00"})
    slipped_shipment(store)

    sweep_and_act(run_jobs)

    assert Approval.objects.get().exceeded == ["no_cap"]


# --- Approvals ------------------------------------------------------------------------------------------------------


@pytest.fixture
def pending(store, run_jobs):
    coupon_playbook("40.00")
    slipped_shipment(store)
    sweep_and_act(run_jobs)
    return Approval.objects.get()


def agent(limit: str, *, can_decide: bool = True):
    user = UserFactory()
    if can_decide:
        user.user_permissions.add(Permission.objects.get(codename="decide_approval"))
    AgentProfileFactory(user=user, approval_limit=Decimal(limit))
    return type(user).objects.get(pk=user.pk)  # fresh permission cache


def test_an_agent_approves_within_their_limit_and_the_remedy_runs_through_the_same_path(pending, run_jobs):
    approval_decide(pending, user=agent("50.00"), approve=True, reason="Long-standing customer")
    run_jobs()

    remedy = Remedy.objects.get()
    assert remedy.state == RemedyState.DONE
    assert ActionRecord.objects.get(operation="coupon").payload["amount"] == "40.00"
    event = AuditEvent.objects.get(kind=AuditKind.APPROVED)
    assert event.actor_user is not None and "Long-standing customer" in event.message


def test_an_agent_may_approve_a_lower_amount(pending, run_jobs):
    approval_decide(pending, user=agent("50.00"), approve=True, amount=Decimal("20.00"))
    run_jobs()

    assert ActionRecord.objects.get(operation="coupon").payload["amount"] == "20.00"
    assert "proposed 40.00" in AuditEvent.objects.get(kind=AuditKind.APPROVED).message


def test_an_agent_cannot_approve_above_their_own_limit(pending, run_jobs):
    with pytest.raises(PermissionDenied):
        approval_decide(pending, user=agent("30.00"), approve=True)
    run_jobs()

    pending.refresh_from_db()
    assert pending.decision == ApprovalDecision.PENDING
    assert not ActionRecord.objects.exists()


def test_a_user_without_the_approval_permission_cannot_decide(pending):
    with pytest.raises(PermissionDenied):
        approval_decide(pending, user=agent("1000.00", can_decide=False), approve=True)


def test_a_rejection_needs_a_reason_and_pays_nothing(pending, run_jobs):
    user = agent("0.00")
    with pytest.raises(ValidationError):
        approval_decide(pending, user=user, approve=False)

    approval_decide(pending, user=user, approve=False, reason="Already refunded by phone")
    run_jobs()

    assert Remedy.objects.get().state == RemedyState.REJECTED
    assert not ActionRecord.objects.exists()
    assert "Already refunded by phone" in AuditEvent.objects.get(kind=AuditKind.REJECTED).message


def test_a_decision_is_taken_once(pending):
    approval_decide(pending, user=agent("50.00"), approve=True)

    with pytest.raises(ValidationError):
        approval_decide(pending, user=agent("50.00"), approve=False, reason="too late")


def test_an_approval_left_past_its_sla_escalates_once(pending):
    later = pending.due_at + dt.timedelta(minutes=1)

    assert approvals_escalate_overdue(now=later) == 1
    assert approvals_escalate_overdue(now=later) == 0

    assert ExceptionCase.objects.get().state == CaseState.ESCALATED
    assert AuditEvent.objects.filter(kind=AuditKind.ESCALATED).count() == 1


# --- Holdout, versions, sandbox ----------------------------------------------------------------------------------


def test_the_holdout_is_stable_and_about_its_share(store):
    playbook = PlaybookFactory(holdout_percent=10)
    orders = [OrderFactory(store=store) for _ in range(400)]

    first = [in_holdout(playbook, order) for order in orders]

    assert first == [in_holdout(playbook, order) for order in orders]
    assert 20 <= sum(first) <= 60


def test_a_held_out_order_gets_no_action_and_says_why(store, run_jobs):
    playbook = PlaybookFactory(trigger="no_first_scan", holdout_percent=100)
    PlaybookStepFactory(playbook=playbook, action="notify")
    slipped_shipment(store)

    sweep_and_act(run_jobs)

    case = ExceptionCase.objects.get()
    assert case.is_holdout and case.state == CaseState.OPEN
    assert not Remedy.objects.exists()
    assert AuditEvent.objects.filter(kind=AuditKind.HELD_OUT, case=case).exists()


def test_a_held_out_milestone_is_resolved_at_once_with_nothing_sent(store):
    playbook = PlaybookFactory(trigger="milestone_shipped", holdout_percent=100)
    PlaybookStepFactory(playbook=playbook, action="notify", params={"template": "shipped"})
    shipment = ShipmentFactory(order=OrderFactory(store=store), status=ShipmentStatus.IN_TRANSIT)
    case = ExceptionCase.objects.create(store=store, order=shipment.order, shipment=shipment,
                                        kind="milestone_shipped", detected_at=NOW)  # fmt: skip

    with time_machine.travel(NOW, tick=False):
        case_act(case.pk)

    case.refresh_from_db()
    assert (case.is_holdout, case.state, case.resolved_at) == (True, CaseState.RESOLVED, NOW)
    assert case.resolution == HELD_OUT_NEWS
    assert not Remedy.objects.exists() and not Message.objects.exists()
    assert list(AuditEvent.objects.filter(case=case).values_list("kind", flat=True).order_by("id")) == [
        AuditKind.HELD_OUT,
        AuditKind.RESOLVED,
    ]


@pytest.mark.parametrize(("earlier", "first"), [(None, True), ("milestone_confirmed", True),
                                                 ("milestone_shipped", True), ("no_first_scan", False)])  # fmt: skip
def test_the_first_exception_of_an_order_is_its_first_problem_whatever_news_came_before(store, earlier, first):
    playbook = PlaybookFactory(trigger="transit_stall", first_exception_only=True)
    order = OrderFactory(store=store)
    if earlier:
        ExceptionCaseFactory(store=store, order=order, kind=earlier, detected_at=NOW - dt.timedelta(days=3))
    case = ExceptionCaseFactory(store=store, order=order, kind="transit_stall", detected_at=NOW)

    assert playbook_conditions(playbook, case) == (first, [] if first else ["not the order's first exception"])


def test_a_change_makes_a_new_version_and_cases_record_the_version_that_acted(store, ship_slip_playbook, run_jobs):
    slipped_shipment(store)
    sweep_and_act(run_jobs)
    first = ExceptionCase.objects.get()

    ship_slip_playbook.holdout_percent = 5
    ship_slip_playbook.save()
    version = playbook_record_version(ship_slip_playbook)

    assert (first.playbook_version.number, version.number) == (1, 2)
    assert playbook_record_version(ship_slip_playbook).number == 2  # no change, no new version


def test_a_draft_playbook_does_not_act(store, ship_slip_playbook, run_jobs):
    ship_slip_playbook.state = PlaybookState.DRAFT
    ship_slip_playbook.save()
    slipped_shipment(store)

    sweep_and_act(run_jobs)

    assert not Remedy.objects.exists()
    assert AuditEvent.objects.filter(kind=AuditKind.NO_PLAYBOOK).exists()


def test_the_sandbox_reports_what_a_live_run_on_the_same_data_does(store, run_jobs):
    playbook = PlaybookFactory(trigger="no_first_scan", state=PlaybookState.DRAFT, holdout_percent=20)
    PlaybookStepFactory(playbook=playbook, position=1, action="notify", params={"channel": "sms"})
    PlaybookStepFactory(playbook=playbook, position=2, action="coupon", params={"amount": "10.00"})
    customer = CustomerFactory(store=store)
    for i in range(14):
        slipped_shipment(store, customer=customer if i < 4 else None)
    sweep_and_act(run_jobs)  # cases open; the draft does nothing
    assert not Remedy.objects.exists()

    report = playbook_sandbox(playbook, since=NOW - dt.timedelta(days=1), until=NOW + dt.timedelta(days=1))

    assert not Remedy.objects.exists() and not ActionRecord.objects.exists()
    playbook.state = PlaybookState.ACTIVE
    playbook.save()
    ExceptionCase.objects.update(state=CaseState.OPEN, playbook_version=None)
    with time_machine.travel(NOW, tick=False):
        for case in ExceptionCase.objects.order_by("detected_at", "pk"):
            case_act(case.pk)
        run_jobs()
    live_held_out = ExceptionCase.objects.filter(is_holdout=True).count()
    live_done = Remedy.objects.filter(action="coupon", state=RemedyState.DONE)
    assert report.exceptions == 14 and report.matched == 14
    assert report.held_out == live_held_out
    assert report.messages_by_channel["sms"] == Remedy.objects.filter(action="notify").count()
    assert report.compensation_total == sum(r.amount for r in live_done)
    assert report.approvals_needed == Approval.objects.count()


def test_the_sandbox_counts_messages_by_the_channel_they_would_go_by_never_auto(store, run_jobs):
    playbook = PlaybookFactory(trigger="no_first_scan", state=PlaybookState.DRAFT, holdout_percent=0)
    PlaybookStepFactory(playbook=playbook, position=1, action="notify", params={"template": "delay"})
    PlaybookStepFactory(playbook=playbook, position=2, action="notify", params={"template": "late_to_ship"})
    slipped_shipment(store, customer=CustomerFactory(store=store))
    slipped_shipment(store, customer=CustomerFactory(store=store, preferred_channel="email"))
    sweep_and_act(run_jobs)

    report = playbook_sandbox(playbook, since=NOW - dt.timedelta(days=1), until=NOW + dt.timedelta(days=1))

    # A delay is time-sensitive (SMS first), being late to ship is not; a customer's preference comes first.
    assert report.messages_by_channel == {"sms": 1, "email": 3}


def test_the_sandbox_reads_what_its_cases_share_once_however_many_there_are(store):
    """The playbook, its steps, the caps and the spend before the period: read once, not once per case."""
    playbook = PlaybookFactory(trigger="no_first_scan", state=PlaybookState.DRAFT, holdout_percent=0)
    PlaybookStepFactory(playbook=playbook, position=1, action="notify", params={"channel": "sms"})
    PlaybookStepFactory(playbook=playbook, position=2, action="coupon", params={"amount": "10.00"})  # within caps
    # No cap is set for store credit: each case asks a person.
    PlaybookStepFactory(playbook=playbook, position=3, action="store_credit", params={"amount": "5.00"})

    def statements(cases: int) -> int:
        ExceptionCase.objects.all().delete()
        for _ in range(cases):
            ExceptionCaseFactory(shipment=slipped_shipment(store), kind="no_first_scan", detected_at=NOW)
        with CaptureQueriesContext(connection) as queries:
            report = playbook_sandbox(Playbook.objects.get(pk=playbook.pk), since=NOW, until=NOW + dt.timedelta(1))
        assert (report.exceptions, report.compensation_total, report.approvals_needed) == (cases, 10 * cases, cases)
        return len(queries)

    assert statements(2) == statements(6)


def test_the_sandbox_counts_what_customers_were_given_in_the_month_before_its_period(store):
    """The coupon cap allows 25.00 a customer in 30 days: 20.00 given ten days before the period leaves no room
    for another 10.00 coupon, 20.00 given forty days before does."""
    playbook = PlaybookFactory(trigger="no_first_scan", state=PlaybookState.DRAFT, holdout_percent=0)
    PlaybookStepFactory(playbook=playbook, position=1, action="coupon", params={"amount": "10.00"})
    recent, long_ago, new = (CustomerFactory(store=store) for _ in range(3))
    for customer, days_before in ((recent, 10), (long_ago, 40)):
        earlier = ExceptionCaseFactory(shipment=slipped_shipment(store, customer=customer), kind="transit_stall")
        given = RemedyFactory(case=earlier, action="coupon", amount=Decimal("20.00"), state=RemedyState.DONE)
        Remedy.objects.filter(pk=given.pk).update(created_at=NOW - dt.timedelta(days=days_before))
    for customer in (recent, long_ago, new):
        ExceptionCaseFactory(shipment=slipped_shipment(store, customer=customer), kind="no_first_scan", detected_at=NOW)

    report = playbook_sandbox(playbook, since=NOW, until=NOW + dt.timedelta(days=1))

    assert (report.exceptions, report.approvals_needed, report.compensation_total) == (3, 1, Decimal("20.00"))
    assert report.approvals_by_cap == {"max_per_customer_30d": 1}


def test_the_sandbox_command_prints_a_report_and_changes_nothing(store, ship_slip_playbook, run_jobs, capsys):
    slipped_shipment(store)
    sweep_and_act(run_jobs)
    before = (Remedy.objects.count(), ActionRecord.objects.count())

    call_command("playbook_sandbox", str(ship_slip_playbook.pk), "--since", "2026-11-17", "--until", "2026-11-19")

    out = capsys.readouterr()
    assert "exceptions of its type:   1" in out.out
    assert "1/1" in out.err
    assert (Remedy.objects.count(), ActionRecord.objects.count()) == before


def test_informational_cases_happen_once_per_subject_even_after_they_resolve(store, run_jobs):
    playbook = PlaybookFactory(trigger="post_delivery", holdout_percent=0)
    PlaybookStepFactory(playbook=playbook, action="survey", params={})
    shipment = ShipmentFactory(order=OrderFactory(store=store), status=ShipmentStatus.DELIVERED,
                               delivered_at=NOW - dt.timedelta(days=3))  # fmt: skip

    sweep_and_act(run_jobs, "post_delivery")
    case = ExceptionCase.objects.get(shipment=shipment)
    assert case.state == CaseState.RESOLVED
    run = sweep_and_act(run_jobs, "post_delivery")

    assert (run.candidates, ExceptionCase.objects.count()) == (0, 1)
    assert Message.objects.filter(kind="post_delivery_survey").count() == 1


def test_the_last_step_and_the_case_it_concludes_are_recorded_in_one_transaction(store):
    playbook = PlaybookFactory(trigger="post_delivery", holdout_percent=0)
    PlaybookStepFactory(playbook=playbook, action="survey", params={})
    ShipmentFactory(order=OrderFactory(store=store), status=ShipmentStatus.DELIVERED,
                    delivered_at=NOW - dt.timedelta(days=3))  # fmt: skip
    with time_machine.travel(NOW, tick=False):
        detector_sweep("post_delivery", now=NOW)
    case = ExceptionCase.objects.get()

    with CaptureQueriesContext(connection) as queries:
        case_act(case.pk)

    statements = [q["sql"] for q in queries.captured_queries]
    done = next(
        i for i, sql in enumerate(statements) if sql.startswith('UPDATE "playbooks_remedy"') and "'done'" in sql
    )
    resolved = next(i for i, sql in enumerate(statements) if sql.startswith('UPDATE "playbooks_exceptioncase"')
                    and "'resolved'" in sql)  # fmt: skip
    between = statements[done:resolved]
    assert not [sql for sql in between if "SAVEPOINT" in sql]  # no transaction ends or starts between them
    case.refresh_from_db()
    assert case.state == CaseState.RESOLVED


def test_the_exception_list_shows_problems_by_default_and_milestones_on_request(admin_client, store):
    from django.urls import reverse

    ExceptionCaseFactory(kind="no_first_scan", explanation="A real problem")
    ExceptionCaseFactory(kind="milestone_delivered", explanation="Good news")
    url = reverse("admin:playbooks_exceptioncase_changelist")

    def kinds(query: str = "") -> list[str]:
        return [case.kind for case in admin_client.get(url + query).context["cl"].result_list]

    assert kinds() == ["no_first_scan"]
    assert kinds("?category=milestones") == ["milestone_delivered"]
    assert sorted(kinds("?category=all")) == ["milestone_delivered", "no_first_scan"]


def test_nobody_edits_or_deletes_the_audit_log_from_the_admin(admin_client, store, ship_slip_playbook, run_jobs):
    from django.urls import reverse

    slipped_shipment(store)
    sweep_and_act(run_jobs)
    event = AuditEvent.objects.first()
    change = reverse("admin:playbooks_auditevent_change", args=[event.pk])

    assert b'name="_save"' not in admin_client.get(change).content
    assert admin_client.post(change, {"message": "rewritten"}).status_code == 403
    assert (
        admin_client.post(reverse("admin:playbooks_auditevent_delete", args=[event.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert admin_client.get(reverse("admin:playbooks_auditevent_add")).status_code == 403
    event.refresh_from_db()
    assert event.message != "rewritten"
    with pytest.raises(ValidationError):
        event.save()  # append-only in code too


def test_a_remedy_whose_worker_died_runs_again_a_minute_after_its_claim_without_paying_twice(
    store, ship_slip_playbook, run_jobs
):
    from playbooks.engine import remedies_recover

    slipped_shipment(store)
    sweep_and_act(run_jobs)
    coupon = Remedy.objects.get(action="coupon")
    # As if the worker paid, then died before recording it: the remedy is still "executing", and no
    # worker's transaction holds it (a live worker's does: tests/reliability/test_case_worker_killed.py).
    Remedy.objects.filter(pk=coupon.pk).update(state=RemedyState.EXECUTING, started_at=NOW, executed_at=None)

    assert remedies_recover(now=NOW + dt.timedelta(seconds=30)) == 0  # its worker may be about to take it
    assert remedies_recover(now=NOW + dt.timedelta(seconds=61)) == 1
    run_jobs()

    coupon.refresh_from_db()
    assert (coupon.state, coupon.abandoned) == (RemedyState.DONE, 1)
    assert ActionRecord.objects.filter(operation="coupon").count() == 1


def test_a_worker_that_stalled_past_its_claim_leaves_the_steps_another_worker_claimed_meanwhile(
    store, ship_slip_playbook, monkeypatch
):
    from playbooks import engine

    slipped_shipment(store)
    with time_machine.travel(NOW, tick=False):
        detector_sweep("no_first_scan", now=NOW)
        engine.cases_plan([ExceptionCase.objects.get().pk])
    case = ExceptionCase.objects.get()
    claim, later = engine._remedies_claim, NOW + dt.timedelta(minutes=2)

    def claim_then_stall(remedies):
        claimed = claim(remedies)
        # Frozen for two minutes (a paused VM, say): the recovery hands the steps out and another worker
        # claims them, and is running them when this one wakes up.
        with time_machine.travel(later, tick=False):
            assert engine.remedies_recover() == 1
            claim(list(Remedy.objects.filter(case=case)))
        return claimed

    monkeypatch.setattr(engine, "_remedies_claim", claim_then_stall)
    with time_machine.travel(NOW, tick=False):
        case_run_steps(case.pk)

    assert set(Remedy.objects.values_list("state", "started_at")) == {(RemedyState.EXECUTING, later)}
    assert not ActionRecord.objects.exists()
    assert not Message.objects.exists()


def test_a_step_whose_worker_died_three_times_is_failed_and_its_case_passed_to_people(
    store, ship_slip_playbook, run_jobs
):
    from cxhub.claims import ABANDONED_GIVE_UP
    from playbooks.engine import remedies_recover

    slipped_shipment(store)
    sweep_and_act(run_jobs)
    coupon = Remedy.objects.get(action="coupon")
    Remedy.objects.filter(pk=coupon.pk).update(
        state=RemedyState.EXECUTING, started_at=NOW, executed_at=None, abandoned=ABANDONED_GIVE_UP - 1
    )
    ActionRecord.objects.filter(remedy=coupon).delete()  # it never got as far as the provider

    assert remedies_recover(now=NOW + dt.timedelta(minutes=2)) == 0  # nothing handed out
    run_jobs()

    coupon.refresh_from_db()
    assert (coupon.state, coupon.abandoned) == (RemedyState.FAILED, ABANDONED_GIVE_UP)
    assert coupon.error.startswith("its worker stopped while running it 3 times")
    assert not ActionRecord.objects.filter(operation="coupon").exists()
    case = ExceptionCase.objects.get()
    assert case.state == CaseState.ESCALATED
    trail = list(AuditEvent.objects.filter(case=case).order_by("-id").values_list("kind", "message")[:2])
    assert [kind for kind, _ in trail] == [AuditKind.ESCALATED, AuditKind.FAILED]
    assert trail[1][1].startswith("Coupon for the next order failed: its worker stopped while running it 3 times")
    # A step failed for good is not handed out again.
    assert remedies_recover(now=NOW + dt.timedelta(minutes=20)) == 0


def lose_pending_jobs() -> None:
    """As if the worker died, or Redis restarted without its data: jobs not run yet are gone."""
    from django.db import connection

    connection.run_on_commit.clear()
    for name in ("high", "default", "low"):
        django_rq.get_queue(name).empty()


def test_approved_remedies_whose_job_never_ran_are_handed_out_again(store, ship_slip_playbook, run_jobs):
    from playbooks.engine import cases_plan, remedies_recover

    slipped_shipment(store)
    with time_machine.travel(NOW, tick=False):
        detector_sweep("no_first_scan", now=NOW)
        cases_plan([ExceptionCase.objects.get().pk])  # the worker dies once the plan is committed
    lose_pending_jobs()
    assert set(Remedy.objects.values_list("state", flat=True)) == {RemedyState.APPROVED}

    assert remedies_recover(now=NOW + dt.timedelta(minutes=5)) == 0  # its job might still be on its way
    with time_machine.travel(NOW + dt.timedelta(minutes=11), tick=False):
        assert remedies_recover() == 1
        run_jobs()

    assert set(Remedy.objects.values_list("state", flat=True)) == {RemedyState.DONE}
    assert ActionRecord.objects.filter(operation="coupon").count() == 1


def test_an_approved_step_behind_one_waiting_for_a_person_is_not_handed_out_until_that_one_is_decided(store, run_jobs):
    from playbooks.engine import remedies_recover

    playbook = PlaybookFactory(trigger="no_first_scan", holdout_percent=0)
    PlaybookStepFactory(playbook=playbook, position=1, action="coupon", params={"amount": "15.00"})  # above the cap
    PlaybookStepFactory(playbook=playbook, position=2, action="notify", params={"template": "delay"})
    slipped_shipment(store)
    sweep_and_act(run_jobs)
    assert list(Remedy.objects.order_by("position").values_list("state", flat=True)) == [
        RemedyState.NEEDS_APPROVAL,
        RemedyState.APPROVED,
    ]

    assert remedies_recover(now=NOW + dt.timedelta(minutes=11)) == 0


def case_whose_job_was_lost(store) -> ExceptionCase:
    """A slipped parcel's newly opened case whose job to plan it was lost (Redis restarted): nothing claimed it."""
    slipped_shipment(store)
    with time_machine.travel(NOW, tick=False):
        detector_sweep("no_first_scan", now=NOW)
    lose_pending_jobs()
    return ExceptionCase.objects.get()


def test_a_case_whose_job_was_lost_is_planned_once_ten_minutes_after_its_detection(store, ship_slip_playbook, run_jobs):
    from playbooks.engine import cases_recover

    case = case_whose_job_was_lost(store)
    assert (case.state, case.playbook_version, case.planning_started_at) == (CaseState.OPEN, None, None)

    assert cases_recover(now=NOW + dt.timedelta(minutes=5)) == 0
    with time_machine.travel(NOW + dt.timedelta(minutes=11), tick=False):
        assert cases_recover() == 1
        run_jobs()
        assert cases_recover() == 0  # planned now: nothing more to hand out

    assert Remedy.objects.filter(case=case, state=RemedyState.DONE).count() == 2


def test_a_case_with_no_playbook_is_not_planned_again_and_again(store, run_jobs):
    from playbooks.engine import cases_recover

    slipped_shipment(store)
    sweep_and_act(run_jobs)  # no playbook for it: it waits for an agent

    assert cases_recover(now=NOW + dt.timedelta(minutes=11)) == 0


def claimed_by_a_dead_worker(case: ExceptionCase, *, at: dt.datetime = NOW, times_before: int = 0) -> None:
    """As if a worker claimed the case to plan it, then died: its plan rolled back, its claim did not, and no
    worker's transaction holds the case (a live worker's does: tests/reliability/test_case_worker_killed.py)."""
    ExceptionCase.objects.filter(pk=case.pk).update(planning_started_at=at, abandoned=times_before)


def test_a_case_whose_worker_died_planning_it_is_planned_a_minute_after_its_claim(store, ship_slip_playbook, run_jobs):
    from playbooks.engine import cases_recover

    case = case_whose_job_was_lost(store)
    claimed_by_a_dead_worker(case)

    assert cases_recover(now=NOW + dt.timedelta(seconds=30)) == 0  # its worker may be about to take it
    with time_machine.travel(NOW + dt.timedelta(seconds=61), tick=False):
        assert cases_recover() == 1
        assert cases_recover() == 0  # handed out once: its job is on its way
        run_jobs()

    case.refresh_from_db()
    assert (case.state, case.abandoned, case.planning_started_at) == (CaseState.ACTING, 1, None)
    assert Remedy.objects.filter(case=case, state=RemedyState.DONE).count() == 2


def test_a_case_whose_worker_died_planning_it_three_times_is_passed_to_agents(store, ship_slip_playbook, run_jobs):
    from cxhub.claims import ABANDONED_GIVE_UP
    from playbooks.engine import cases_recover

    case = case_whose_job_was_lost(store)
    claimed_by_a_dead_worker(case, times_before=ABANDONED_GIVE_UP - 1)

    assert cases_recover(now=NOW + dt.timedelta(minutes=2)) == 0  # nothing handed out
    run_jobs()

    case.refresh_from_db()
    assert (case.state, case.abandoned, case.playbook_version) == (CaseState.ESCALATED, ABANDONED_GIVE_UP, None)
    assert not Remedy.objects.exists()
    event = AuditEvent.objects.filter(case=case).latest("id")
    assert event.kind == AuditKind.ESCALATED
    assert event.message.startswith("Its worker stopped while planning it 3 times")
    assert cases_recover(now=NOW + dt.timedelta(minutes=20)) == 0  # with agents now, not planned again


def test_the_recovery_reads_only_the_cases_being_planned_from_an_index():
    from playbooks import engine

    plan = plan_with_only(engine.plans_unheld(NOW), {"playbooks_exceptioncase": {"case_planning"}})

    assert uses(plan, "case_planning"), plan


def test_cases_opened_together_are_acted_on_by_one_job_where_one_failing_does_not_stop_the_others(
    store, ship_slip_playbook, run_jobs, monkeypatch, django_capture_on_commit_callbacks
):
    from playbooks import engine

    first, second = slipped_shipment(store), slipped_shipment(store)
    real_plan = engine.plan_case_under

    def plan_failing_for_the_first(playbook, case, **kwargs):
        if case.shipment_id == first.pk:
            raise RuntimeError("database hiccup")
        return real_plan(playbook, case, **kwargs)

    monkeypatch.setattr(engine, "plan_case_under", plan_failing_for_the_first)
    with time_machine.travel(NOW, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            detector_sweep("no_first_scan", now=NOW)
        (job,) = django_rq.get_queue("default").get_jobs()
        assert (job.func_name, len(job.args[0])) == ("playbooks.jobs.cases_act_job", 2)
        run_jobs()

    failed = ExceptionCase.objects.get(shipment=first)
    # Left to cases_recover's ten minutes: its worker did not die, so its claim is released.
    assert (failed.state, failed.planning_started_at, failed.abandoned) == (CaseState.OPEN, None, 0)
    assert engine.cases_recover(now=NOW + dt.timedelta(minutes=2)) == 0
    assert ExceptionCase.objects.get(shipment=second).state == CaseState.ACTING
    assert Remedy.objects.filter(case__shipment=second, state=RemedyState.DONE).count() == 2


@pytest.mark.parametrize("close", ["dismissed", "resolved"])
def test_a_delivery_claim_a_person_closed_is_not_opened_again_by_the_next_sweep(store, close):
    from orders.choices import TicketReason
    from playbooks.engine import case_dismiss, case_resolve
    from tests.factories import TicketFactory

    shipment = ShipmentFactory(order=OrderFactory(store=store), status=ShipmentStatus.DELIVERED,
                               delivered_at=NOW - dt.timedelta(days=1))  # fmt: skip
    TicketFactory(store=store, order=shipment.order, reason=TicketReason.DELIVERY_PROBLEM,
                  created_at=NOW - dt.timedelta(hours=2))  # fmt: skip
    assert detector_sweep("delivered_not_received", now=NOW).opened == 1
    case, agent = ExceptionCase.objects.get(), UserFactory()
    if close == "dismissed":
        case_dismiss(case, user=agent)
    else:
        case_resolve(case, reason="Replacement sent by phone.", user=agent)

    # The claim still stands (it never clears by itself), but it has been dealt with.
    assert detector_sweep("delivered_not_received", now=NOW + dt.timedelta(minutes=5)).opened == 0
    assert ExceptionCase.objects.count() == 1


def test_a_case_acts_under_the_newest_version_and_records_a_new_one_only_when_the_playbook_changed(
    store, ship_slip_playbook, run_jobs
):
    from playbooks.models import Playbook, PlaybookVersion

    slipped_shipment(store)
    sweep_and_act(run_jobs)
    first = ExceptionCase.objects.get().playbook_version
    Playbook.objects.filter(pk=ship_slip_playbook.pk).update(priority=7)  # changed outside the admin

    second, third = slipped_shipment(store), slipped_shipment(store)
    sweep_and_act(run_jobs)

    versions = {ExceptionCase.objects.get(shipment=s).playbook_version for s in (second, third)}
    assert [v.number for v in versions] == [first.number + 1]  # one new version, shared
    assert PlaybookVersion.objects.filter(playbook=ship_slip_playbook).count() == 2


def test_acting_on_a_milestone_plans_messages_and_resolves_in_a_fixed_number_of_queries(
    store, django_assert_max_num_queries
):
    playbooks_seed()
    Playbook.objects.update(holdout_percent=0)
    templates_seed(store)
    order = OrderFactory(store=store, customer=CustomerFactory(store=store, phone="+13125550147"))
    shipment = ShipmentFactory(order=order, status=ShipmentStatus.OUT_FOR_DELIVERY)
    case = ExceptionCase.objects.create(
        store=store, order=order, shipment=shipment, kind="milestone_out_for_delivery", detected_at=NOW
    )
    case_act(case.pk)  # the first run records the playbook's version
    second = ShipmentFactory(order=OrderFactory(store=store, customer=order.customer), status=shipment.status)
    case = ExceptionCase.objects.create(
        store=store, order=second.order, shipment=second, kind="milestone_out_for_delivery", detected_at=NOW
    )

    # Plan (the claim's transaction, case, playbooks and their steps, version, claim, remedy, audit), the
    # message (outbox row, template, settings, whether the customer heard from us this week and, as they did,
    # the caps' counts, merge), the steps' claim, their hold and their cases', each step's savepoint, and the case's
    # resolution; in a batch, playbooks, version, template and settings are read once
    # (test_a_batch_of_cases_reads_...).
    with django_assert_max_num_queries(37):
        case_act(case.pk)

    case.refresh_from_db()
    assert case.state == CaseState.RESOLVED
    assert Message.objects.get(order=second.order).status == "queued"


def milestone_cases(store, count: int) -> list[ExceptionCase]:
    """Parcels out for delivery, each with its newly opened milestone case, under the seeded playbooks."""
    cases = []
    for n in range(count):
        order = OrderFactory(store=store, customer=CustomerFactory(store=store, phone=f"+1312555{n:04}"))
        shipment = ShipmentFactory(order=order, status=ShipmentStatus.OUT_FOR_DELIVERY)
        cases.append(ExceptionCase.objects.create(store=store, order=order, shipment=shipment,
                                                  kind="milestone_out_for_delivery", detected_at=NOW))  # fmt: skip
    return cases


@pytest.fixture
def seeded(store):
    playbooks_seed()
    Playbook.objects.update(holdout_percent=0)
    templates_seed(store)
    return store


def test_a_batch_of_cases_reads_the_playbook_template_and_settings_once(seeded):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from playbooks.engine import cases_act

    first, *cases = milestone_cases(seeded, 4)
    case_act(first.pk)  # the first run records the playbook's version
    with CaptureQueriesContext(connection) as queries:
        assert cases_act([case.pk for case in cases]) == 0

    def reads(table: str) -> int:
        return sum(1 for q in queries if q["sql"].startswith("SELECT") and f'FROM "{table}"' in q["sql"])

    read_once = ["playbooks_playbook", "playbooks_playbookstep", "playbooks_playbookversion",
                 "notifications_messagetemplate", "notifications_notificationsettings"]  # fmt: skip
    assert [reads(table) for table in read_once] == [1] * len(read_once)
    assert Message.objects.filter(order__in=[case.order for case in cases], status="queued").count() == 3


def test_a_batch_of_cases_is_planned_in_as_many_statements_as_one_case(seeded):
    from cxhub.memo import memo_scope
    from playbooks.engine import cases_plan

    first, *cases = milestone_cases(seeded, 9)
    cases_plan([first.pk])  # the first plan records the playbook's version

    def planning(batch: list[ExceptionCase]) -> int:
        with memo_scope(), CaptureQueriesContext(connection) as queries:
            planned, failed = cases_plan([case.pk for case in batch])
        assert (len(planned), failed) == (len(batch), 0)
        return len(queries)

    assert planning(cases[:1]) == planning(cases[1:])  # 1 case, then 7
    assert set(ExceptionCase.objects.values_list("state", flat=True)) == {CaseState.ACTING}
    assert AuditEvent.objects.filter(kind=AuditKind.PLANNED).count() == 9


def test_a_template_edited_between_two_batches_is_used_by_the_next_batch(seeded):
    from notifications.models import MessageTemplate
    from playbooks.engine import cases_act

    first, second = milestone_cases(seeded, 2)
    cases_act([first.pk])
    MessageTemplate.objects.filter(kind="out_for_delivery").update(
        body_text="Edited: order {{ order_number }} arrives today."
    )
    cases_act([second.pk])

    assert Message.objects.get(order=first.order).body_text != Message.objects.get(order=second.order).body_text
    assert Message.objects.get(order=second.order).body_text.startswith("Edited: order")


def test_a_batch_of_cases_is_acted_on_with_only_its_messages_costing_per_case(seeded):
    from cxhub.memo import memo_scope
    from playbooks.engine import cases_act

    first, *cases = milestone_cases(seeded, 9)
    cases_act([first.pk])  # the first run records the playbook's version

    def acting(batch: list[ExceptionCase]) -> int:
        with memo_scope(), CaptureQueriesContext(connection) as queries:
            assert cases_act([case.pk for case in batch]) == 0
        # Savepoints are the test's transaction's: a worker's message INSERT runs in autocommit.
        return sum(1 for query in queries if not query["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT")))

    # The plan, the claim of its steps and the record of what they did cost the same for 1 case and 7; each
    # message costs its INSERT (its customers heard nothing from us this week: no frequency-cap count).
    assert acting(cases[1:]) - acting(cases[:1]) == 6
    assert set(ExceptionCase.objects.values_list("state", flat=True)) == {CaseState.RESOLVED}
    assert set(Remedy.objects.values_list("state", flat=True)) == {RemedyState.DONE}
    assert Message.objects.filter(status="queued").count() == 9
    assert AuditEvent.objects.filter(kind=AuditKind.EXECUTED).count() == 9


class ProviderDownForOneOrder(LocalProvider):
    """A store platform that times out for one order (the network boundary; everything else is real)."""

    failing_order_id: int | None = None

    def create_discount(self, subject, **kwargs):
        if subject.case.order_id == self.failing_order_id:
            raise ConnectionError("the store platform timed out")
        return super().create_discount(subject, **kwargs)


def test_a_step_that_fails_on_a_passing_error_runs_again_later_and_the_batch_goes_on(
    store, ship_slip_playbook, run_jobs, settings, monkeypatch
):
    from playbooks.engine import remedies_recover

    settings.COMMERCE_PROVIDER = f"{__name__}.ProviderDownForOneOrder"
    down, fine = slipped_shipment(store), slipped_shipment(store)
    monkeypatch.setattr(ProviderDownForOneOrder, "failing_order_id", down.order_id)
    sweep_and_act(run_jobs)

    def states(shipment) -> list[str]:
        return list(Remedy.objects.filter(case__shipment=shipment).order_by("position").values_list("state", flat=True))

    assert states(down) == [RemedyState.DONE, RemedyState.APPROVED]  # the customer heard; the coupon waits
    assert states(fine) == [RemedyState.DONE, RemedyState.DONE]
    monkeypatch.setattr(ProviderDownForOneOrder, "failing_order_id", None)  # the platform is back
    with time_machine.travel(NOW + dt.timedelta(minutes=11), tick=False):
        assert remedies_recover() == 1
        run_jobs()

    assert states(down) == [RemedyState.DONE, RemedyState.DONE]
    assert ActionRecord.objects.filter(operation="coupon").count() == 2
    assert Message.objects.count() == 2


def test_a_step_that_cannot_be_done_is_recorded_as_failed_and_the_next_steps_still_run(store, run_jobs):
    playbook = PlaybookFactory(name="Ship-slip", trigger="no_first_scan", holdout_percent=0)
    PlaybookStepFactory(playbook=playbook, position=1, action="coupon", params={"amount": "0"})
    PlaybookStepFactory(playbook=playbook, position=2, action="notify", params={"template": "delay"})
    slipped_shipment(store)

    sweep_and_act(run_jobs)

    assert list(Remedy.objects.order_by("position").values_list("state", "error")) == [
        (RemedyState.FAILED, "A coupon worth 0 is no coupon."),
        (RemedyState.DONE, ""),
    ]
    kinds = list(AuditEvent.objects.filter(remedy__isnull=False).order_by("id").values_list("kind", flat=True))
    assert kinds == [AuditKind.PLANNED, AuditKind.PLANNED, AuditKind.FAILED, AuditKind.EXECUTED]
    assert Message.objects.count() == 1


def test_a_step_that_escalates_leaves_an_informational_case_with_its_people(store):
    from playbooks.engine import cases_act

    playbook = PlaybookFactory(name="Hand over", trigger="milestone_out_for_delivery", holdout_percent=0)
    PlaybookStepFactory(playbook=playbook, position=1, action="escalate", params={"queue": "claims"})
    (case,) = milestone_cases(store, 1)

    assert cases_act([case.pk]) == 0

    case.refresh_from_db()
    assert case.state == CaseState.ESCALATED  # not resolved as done: a person has it now
    kinds = list(AuditEvent.objects.filter(case=case).order_by("id").values_list("kind", flat=True))
    assert kinds == [AuditKind.PLANNED, AuditKind.EXECUTED, AuditKind.ESCALATED]
    assert "claims queue" in AuditEvent.objects.get(kind=AuditKind.ESCALATED).message


def test_a_case_another_worker_opened_meanwhile_is_not_opened_twice_and_the_others_open(store):
    from playbooks.engine import cases_open, detector_settings

    first, second, third = (slipped_shipment(store) for _ in range(3))
    detector = DETECTORS["no_first_scan"]
    params = detector_settings("no_first_scan")[1]
    with time_machine.travel(NOW, tick=False):
        (theirs,) = cases_open(detector, [second], now=NOW, params=params)  # another worker, a moment earlier
        opened = cases_open(detector, [first, second, third], now=NOW, params=params)

    assert [case.shipment for case in opened] == [first, third]
    assert ExceptionCase.objects.filter(shipment=second).get() == theirs
    assert AuditEvent.objects.filter(kind=AuditKind.DETECTED).count() == 3


@pytest.mark.parametrize("steps", ["steps_unheld", "steps_overdue"])
def test_the_recovery_reads_only_the_steps_in_flight_from_an_index(steps):
    from playbooks import engine

    plan = plan_with_only(getattr(engine, steps)(NOW), {"playbooks_remedy": {"remedy_in_flight"}})

    assert uses(plan, "remedy_in_flight"), plan


def test_the_recovery_runs_every_minute_from_the_cron():
    recover = cron_jobs(only=["remedies_recover_job"])
    assert [(job.func_name, job.queue_name, job.interval) for job in recover] == [
        ("playbooks.jobs.remedies_recover_job", "default", 60)
    ]
