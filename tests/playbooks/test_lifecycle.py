"""A case's life after a person closes it: nothing it planned happens any more, and the same facts do not
open it again. A case opened again on new facts never sends the customer the same message about the same
parcel twice, and a remedy already given for the parcel waits for a person, who sees the first one."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError

from notifications.models import Message
from orders.choices import EventSource, ShipmentStatus
from orders.services import shipment_record_events
from orders.updates import TrackingEventData
from playbooks.approvals import approval_decide
from playbooks.choices import ApprovalDecision, AuditKind, CaseState, RemedyState
from playbooks.engine import REPEAT, case_dismiss, case_resolve, detector_sweep
from playbooks.models import ActionRecord, Approval, AuditEvent, ExceptionCase, Remedy
from tests.factories import (
    AgentProfileFactory,
    CompensationCapFactory,
    LineItemFactory,
    OrderFactory,
    PlaybookFactory,
    PlaybookStepFactory,
    ShipmentFactory,
    StoreFactory,
    TrackingEventFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def store():
    store = StoreFactory(timezone="UTC")
    CompensationCapFactory(store=store, action="coupon", max_auto_amount=Decimal("10.00"),
                           max_per_customer_30d=Decimal("100.00"), daily_budget=Decimal("500.00"))  # fmt: skip
    CompensationCapFactory(store=store, action="reship", max_auto_amount=Decimal("60.00"),
                           max_per_customer_30d=Decimal("120.00"), daily_budget=Decimal("1000.00"))  # fmt: skip
    return store


@pytest.fixture
def lost_maybe_playbook():
    """The demo's lost-maybe play: tell the customer, a coupon within caps, a replacement above them."""
    playbook = PlaybookFactory(name="Lost-maybe", trigger="transit_stall", holdout_percent=0)
    PlaybookStepFactory(playbook=playbook, position=1, action="notify", params={"template": "lost_maybe"})
    PlaybookStepFactory(playbook=playbook, position=2, action="coupon", params={"amount": "10.00"})
    PlaybookStepFactory(playbook=playbook, position=3, action="reship", params={"shipping": "Express"})
    return playbook


@pytest.fixture
def stalled(store):
    """A domestic parcel 8 days in transit, its last scan 4 days ago: a 379.00 order."""
    order = OrderFactory(store=store, shipping_total=Decimal("29.00"))
    LineItemFactory(order=order, unit_price=Decimal("350.00"))
    shipment = ShipmentFactory(
        order=order,
        status=ShipmentStatus.IN_TRANSIT,
        first_scan_at=NOW - dt.timedelta(days=8),
        last_scan_at=NOW - dt.timedelta(days=4),
    )
    for days in (8, 4):
        with time_machine.travel(NOW - dt.timedelta(days=days), tick=False):
            TrackingEventFactory(shipment=shipment, occurred_at=NOW - dt.timedelta(days=days))
    return shipment


def decider(limit: str = "1000.00"):
    user = UserFactory()
    user.user_permissions.add(Permission.objects.get(codename="decide_approval"))
    AgentProfileFactory(user=user, approval_limit=Decimal(limit))
    return type(user).objects.get(pk=user.pk)  # fresh permission cache


def sweep(run_jobs, at: dt.datetime):
    with time_machine.travel(at, tick=False):
        run = detector_sweep("transit_stall", now=at)
        run_jobs()
    return run


def new_scan(shipment, at: dt.datetime, key: str) -> None:
    """The carrier scans the parcel again, still in transit (8+ days: still late)."""
    with time_machine.travel(at, tick=False):
        shipment_record_events(
            shipment=shipment,
            events=[TrackingEventData(status=ShipmentStatus.IN_TRANSIT, occurred_at=at, dedupe_key=key)],
            source=EventSource.API,
        )


@pytest.fixture
def acted_on(store, lost_maybe_playbook, stalled, run_jobs):
    """The sweep opened the case: the customer was told, got a coupon, and a reship waits for approval."""
    sweep(run_jobs, NOW)
    case = ExceptionCase.objects.get()
    assert case.state == CaseState.ACTING
    assert list(Remedy.objects.order_by("position").values_list("action", "state", "amount")) == [
        ("notify", RemedyState.DONE, Decimal("0.00")),
        ("coupon", RemedyState.DONE, Decimal("10.00")),
        ("reship", RemedyState.NEEDS_APPROVAL, Decimal("379.00")),
    ]
    assert Message.objects.count() == 1
    return case


def close(case, how: str, user) -> int:
    with time_machine.travel(NOW + dt.timedelta(minutes=10), tick=False):
        if how == "dismissed":
            return case_dismiss(case, user=user)
        return case_resolve(case, reason="Resolved by an agent.", user=user)


@pytest.mark.parametrize("how", ["resolved", "dismissed"])
def test_closing_a_case_withdraws_its_pending_approval_and_steps_not_yet_run(acted_on, how, run_jobs):
    manager = UserFactory()
    assert close(acted_on, how, manager) == 1
    run_jobs()

    approval = Approval.objects.get()
    assert approval.decision == ApprovalDecision.REJECTED  # out of the Waiting queue
    assert approval.reason.startswith("Withdrawn: the exception was")
    assert approval.decided_by == manager
    assert Remedy.objects.get(action="reship").state == RemedyState.REJECTED
    # What was done stays done; nothing else is paid or shipped.
    assert list(ActionRecord.objects.values_list("operation", flat=True)) == ["coupon"]
    event = AuditEvent.objects.get(kind=AuditKind.REJECTED)
    assert event.actor_user == manager and event.parameters["withdrawn"] is True
    assert "Ship a replacement (379.00 USD), waiting for approval, will not run" in event.message


@pytest.mark.parametrize("approve", [True, False])
def test_a_decision_on_the_approval_of_a_closed_case_is_refused_and_changes_nothing(acted_on, approve, run_jobs):
    close(acted_on, "resolved", UserFactory())
    approval = Approval.objects.get()
    before = (approval.decision, approval.reason, approval.decided_by_id)
    events = AuditEvent.objects.count()

    with pytest.raises(ValidationError, match=r"This exception was resolved .* nothing to approve or reject"):
        approval_decide(approval, user=decider(), approve=approve, reason="Customer called")
    run_jobs()

    approval.refresh_from_db()
    assert (approval.decision, approval.reason, approval.decided_by_id) == before
    assert Remedy.objects.get(action="reship").state == RemedyState.REJECTED
    assert not ActionRecord.objects.filter(operation="create_replacement").exists()
    assert AuditEvent.objects.count() == events


def test_a_pending_approval_whose_case_closed_meanwhile_is_refused(acted_on):
    """The approval form was opened before the case was closed, and submitted after."""
    approval = Approval.objects.get()  # as the agent's form loaded it
    close(acted_on, "dismissed", UserFactory())

    with pytest.raises(ValidationError, match="dismissed"):
        approval_decide(approval, user=decider(), approve=True)
    assert Approval.objects.get().decision == ApprovalDecision.REJECTED
    assert Remedy.objects.get(action="reship").state == RemedyState.REJECTED


@pytest.mark.parametrize("how", ["resolved", "dismissed"])
def test_the_next_sweep_does_not_open_again_a_case_a_person_closed_on_the_same_facts(acted_on, how, run_jobs):
    close(acted_on, how, UserFactory())

    for minutes in (20, 60 * 24, 60 * 24 * 10):  # the condition still holds: in transit for ever longer
        run = sweep(run_jobs, NOW + dt.timedelta(minutes=minutes))
        assert (run.candidates, run.opened) == (0, 0)

    assert ExceptionCase.objects.count() == 1
    assert Message.objects.count() == 1
    assert Remedy.objects.filter(action="coupon").count() == 1
    assert Approval.objects.count() == 1


def test_a_case_the_condition_cleared_is_opened_again_when_it_holds_again(
    store, lost_maybe_playbook, stalled, run_jobs
):
    """The rule is for cases a person closed: one that resolved itself is detected again as before."""
    sweep(run_jobs, NOW)
    with time_machine.travel(NOW + dt.timedelta(minutes=5), tick=False):
        stalled.refresh_from_db()
        stalled.status = ShipmentStatus.OUT_FOR_DELIVERY
        stalled.save(update_fields=["status"])
    sweep(run_jobs, NOW + dt.timedelta(minutes=5))
    first = ExceptionCase.objects.get()
    assert first.state == CaseState.RESOLVED
    # Withdrawn as well when the condition cleared: nobody approves a replacement for a parcel now moving.
    assert Approval.objects.get().decision == ApprovalDecision.REJECTED
    assert Remedy.objects.get(action="reship").state == RemedyState.REJECTED

    with time_machine.travel(NOW + dt.timedelta(hours=1), tick=False):
        stalled.status = ShipmentStatus.IN_TRANSIT
        stalled.save(update_fields=["status"])
    assert sweep(run_jobs, NOW + dt.timedelta(hours=1)).opened == 1


def test_new_facts_open_it_again_without_messaging_the_customer_twice_and_a_repeat_remedy_waits_for_a_person(
    acted_on, stalled, run_jobs
):
    approval_decide(Approval.objects.get(), user=decider(), approve=True)  # the replacement goes out
    run_jobs()
    first_reship = Remedy.objects.get(action="reship")
    assert first_reship.state == RemedyState.DONE
    close(acted_on, "resolved", UserFactory())

    # Before the resolution: the same facts the person saw.
    assert sweep(run_jobs, NOW + dt.timedelta(minutes=15)).opened == 0
    # A scan after it: new facts. Still 8 days in transit, so the parcel is late again.
    new_scan(stalled, NOW + dt.timedelta(hours=2), "scan-after-resolution")
    sweep(run_jobs, NOW + dt.timedelta(hours=2))

    second = ExceptionCase.objects.exclude(pk=acted_on.pk).get()
    assert second.state == CaseState.ACTING
    assert Message.objects.count() == 1  # no second "parcel may be lost"
    assert not second.remedies.filter(action="notify").exists()
    skipped = AuditEvent.objects.get(case=second, kind=AuditKind.PLANNED, parameters__skipped=True)
    assert f"already got this message about the same parcel (exception #{acted_on.pk})" in skipped.message

    # Money given for the parcel before is never given again automatically, even within the caps.
    coupon = second.remedies.get(action="coupon")
    assert coupon.state == RemedyState.NEEDS_APPROVAL
    assert coupon.approval.exceeded == [REPEAT]
    reship = second.remedies.get(action="reship")
    assert reship.state == RemedyState.NEEDS_APPROVAL
    assert REPEAT in reship.approval.exceeded and "max_per_customer_30d" in reship.approval.exceeded
    (given,) = reship.cap_check[REPEAT]
    assert given == {"exception": acted_on.pk, "amount": "379.00", "state": "done",
                     "executed_at": str(first_reship.executed_at)}  # fmt: skip
    # The caps count the replacement that went out: 379.00 spent for this customer in 30 days.
    assert reship.cap_check["customer_spent_30d"] == "379.00"
    asked = AuditEvent.objects.get(remedy=reship, kind=AuditKind.CAP_EXCEEDED)
    assert f"repeats what was already given for this parcel: 379.00 USD, done, exception #{acted_on.pk}" in (
        asked.message
    )
    assert ActionRecord.objects.filter(operation="coupon").count() == 1


def test_a_late_order_a_person_resolved_is_not_opened_again_until_the_order_changes(store, run_jobs):
    with time_machine.travel(NOW - dt.timedelta(days=4), tick=False):
        order = OrderFactory(store=store, placed_at=NOW - dt.timedelta(days=4),
                             promised_ship_by=NOW - dt.timedelta(days=1))  # fmt: skip
    with time_machine.travel(NOW, tick=False):
        assert detector_sweep("late_to_ship", now=NOW).opened == 1
    with time_machine.travel(NOW + dt.timedelta(minutes=5), tick=False):
        case_resolve(ExceptionCase.objects.get(), reason="Warehouse ships it today.", user=UserFactory())
    with time_machine.travel(NOW + dt.timedelta(hours=1), tick=False):
        assert detector_sweep("late_to_ship", now=NOW + dt.timedelta(hours=1)).opened == 0
        order.promised_ship_by = NOW - dt.timedelta(minutes=30)  # a new promise, broken as well
        order.save(update_fields=["promised_ship_by", "updated_at"])
    with time_machine.travel(NOW + dt.timedelta(hours=2), tick=False):
        assert detector_sweep("late_to_ship", now=NOW + dt.timedelta(hours=2)).opened == 1
